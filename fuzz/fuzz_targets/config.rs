//! `config.toml` text through the strict config parser and its diagnostics.

#![no_main]

use kepu::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::parse(text) {
        Ok(c) => {
            let _ = c.path_prefix();
            let _ = c.base_url_trimmed();
        }
        Err(diags) => {
            for d in diags.iter() {
                let _ = d.render(false);
            }
        }
    }
});
