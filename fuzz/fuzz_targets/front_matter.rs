//! A content file's bytes through the loader and the model: decoding (BOM, CRLF, invalid
//! UTF-8, NUL), splitting the front matter, parsing it (TOML or YAML) into the page or section
//! fields, every model check (paths, slugs, aliases, typed tables, taxonomies, links) and the
//! rendering of every diagnostic. Nothing may panic.
//!
//! The file joins a small site with one section per page type; it goes into the section whose
//! typed table it mentions (so the typed checks run), and is a section itself when it sets
//! `page_type`.

#![no_main]

use std::sync::OnceLock;

use kepu::config::Config;
use kepu::diagnostics::{Diagnostic, Diagnostics};
use kepu::load::{decode_text, split_front_matter, Document, DocumentKind};
use kepu::model::{self, ModelOptions};
use libfuzzer_sys::fuzz_target;

const SECTIONS: &[(&str, &str)] = &[
    ("_index.md", "+++\ntitle = \"首页\"\n+++\n"),
    ("news/_index.md", "+++\ntitle = \"新闻\"\nsort_by = \"date\"\n+++\n"),
    ("venues/_index.md", "+++\ntitle = \"场馆\"\npage_type = \"venue\"\n+++\n"),
    ("bases/_index.md", "+++\ntitle = \"基地\"\npage_type = \"base\"\n+++\n"),
    ("experts/_index.md", "+++\ntitle = \"专家\"\npage_type = \"expert\"\n+++\n"),
    ("campaigns/_index.md", "+++\ntitle = \"活动\"\npage_type = \"campaign\"\n+++\n"),
    ("cities/_index.md", "+++\ntitle = \"城市\"\npage_type = \"city\"\n+++\n"),
    ("overview/_index.md", "+++\ntitle = \"总览\"\npage_type = \"overview\"\n+++\n"),
];

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        Config::parse("title = \"fuzz\"\nbase_url = \"https://kepu.test/\"\n[[taxonomies]]\nname = \"tags\"\n")
            .expect("valid config")
    })
}

fn document(rel_path: &str, source: String) -> Result<Document, Diagnostic> {
    let display_path = format!("content/{rel_path}");
    let split = split_front_matter(&source)
        .map_err(|e| Diagnostic::error(e.message).file(&display_path).hint(e.hint).at_offset(&source, e.offset))?;
    let kind = if rel_path.ends_with("_index.md") { DocumentKind::Section } else { DocumentKind::Page };
    Ok(Document {
        rel_path: rel_path.to_string(),
        display_path: display_path.into(),
        kind,
        format: split.format,
        front_matter: split.front_matter,
        body_start: split.body_start,
        source,
        assets: Vec::new(),
    })
}

fn show(diags: &Diagnostics) {
    for d in diags.iter() {
        let _ = d.render(false);
        let _ = d.render(true);
        let _ = d.location();
    }
    let _ = serde_json::to_string(diags);
}

fuzz_target!(|data: &[u8]| {
    let source = match decode_text(data) {
        Ok(s) => s,
        Err((offset, message)) => {
            let valid = String::from_utf8_lossy(&data[..offset.min(data.len())]).into_owned();
            show(&Diagnostic::error(message).file("content/x.md").at_offset(&valid, valid.len()).into());
            return;
        }
    };
    let fm_end = source.len().min(4096);
    let head = &source[..source.floor_char_boundary(fm_end)];
    let rel_path = if head.contains("page_type") {
        "fuzzed/_index.md"
    } else {
        ["venue", "base", "expert", "campaign", "city", "overview"]
            .iter()
            .zip(["venues", "bases", "experts", "campaigns", "cities", "overview"])
            .find(|(t, _)| head.contains(&format!("[{t}]")) || head.contains(&format!("{t}:")))
            .map_or("news/fuzzed.md", |(_, dir)| match dir {
                "venues" => "venues/fuzzed.md",
                "bases" => "bases/fuzzed.md",
                "experts" => "experts/fuzzed.md",
                "campaigns" => "campaigns/fuzzed.md",
                "cities" => "cities/fuzzed.md",
                _ => "overview/fuzzed.md",
            })
    };
    let doc = match document(rel_path, source) {
        Ok(d) => d,
        Err(d) => return show(&d.into()),
    };
    let mut docs: Vec<Document> =
        SECTIONS.iter().map(|(p, s)| document(p, s.to_string()).expect("valid section")).collect();
    docs.push(doc);
    for include_drafts in [false, true] {
        match model::build(config().clone(), docs.clone(), &ModelOptions { include_drafts }) {
            Ok(site) => {
                for p in &site.pages {
                    let _ = kepu::model::slug::slugify(&p.title);
                    let _ = p.text.reading_minutes();
                }
            }
            Err(diags) => show(&diags),
        }
    }
});
