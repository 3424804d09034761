//! kepu: a static site generator for public science-popularization portals.
//!
//! The build is one pipeline, one direction, one module per stage:
//! [`load`] → [`model`] → [`render`] → [`index`] → [`write`]. [`build`] runs it;
//! `serve`, `check` and `new` are front ends over the same stages. The library never prints
//! and never exits: it returns values and [`diagnostics::Diagnostics`].

pub mod build;
pub mod check;
pub mod config;
pub mod deploy;
pub mod diagnostics;
pub mod gzip;
pub mod images;
pub mod index;
pub mod load;
pub mod model;
pub mod output;
pub mod render;
pub mod scaffold;
pub mod serve;
pub mod sources;
pub mod write;
