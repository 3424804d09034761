//! A Markdown body through the model's text analysis (headings, anchors, links, summary,
//! reading time, nesting) and the renderer with the site's extensions (tables, footnotes,
//! strikethrough, task lists, heading attributes, syntax highlighting), with raw HTML off and
//! on. Nothing may panic, and with `unsafe_html = false` the HTML must contain nothing a
//! browser would run, whatever the input.

#![no_main]

use std::sync::OnceLock;

use kepu::config::{Config, MarkdownConfig};
use kepu::model::text::analyse;
use kepu::model::{self, ModelOptions, Site};
use kepu::render::markdown::to_html;
use libfuzzer_sys::fuzz_target;

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let config = Config::parse("title = \"fuzz\"\nbase_url = \"https://kepu.test/\"\n").expect("valid config");
        model::build(config, Vec::new(), &ModelOptions::default()).expect("empty site")
    })
}

/// Every tag in rendered HTML. The renderer escapes `<` in text and attribute values, so each
/// raw `<` followed by a letter opens a tag; attribute values are always quoted.
fn tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
                j += 1;
            }
            let name = html[i + 1..j].to_ascii_lowercase();
            let mut attrs = Vec::new();
            loop {
                while j < b.len() && (b[j] == b' ' || b[j] == b'\n' || b[j] == b'/') {
                    j += 1;
                }
                if j >= b.len() || b[j] == b'>' {
                    break;
                }
                let start = j;
                while j < b.len() && !matches!(b[j], b'=' | b' ' | b'>' | b'\n') {
                    j += 1;
                }
                let key = html[start..j].to_ascii_lowercase();
                let mut value = String::new();
                if j < b.len() && b[j] == b'=' {
                    j += 1;
                    let quote = b[j];
                    assert!(quote == b'"' || quote == b'\'', "unquoted attribute value in {:?}", &html[i..]);
                    let end = html[j + 1..].find(quote as char).map_or(b.len(), |e| j + 1 + e);
                    value = html[j + 1..end].to_string();
                    j = end + 1;
                }
                attrs.push((key, value));
            }
            out.push((name, attrs));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn decode(value: &str) -> String {
    value.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn assert_inert(markdown: &str, html: &str) {
    for (name, attrs) in tags(html) {
        assert!(
            !["script", "iframe", "object", "embed", "style", "base", "form", "svg", "math"].contains(&name.as_str()),
            "<{name}> in output of {markdown:?}:\n{html}"
        );
        for (key, value) in attrs {
            assert!(!key.starts_with("on"), "event handler {key} in output of {markdown:?}:\n{html}");
            assert!(key != "srcdoc", "srcdoc attribute in output of {markdown:?}");
            // Table alignment is the renderer's only style.
            assert!(
                key != "style" || ["text-align: left", "text-align: center", "text-align: right"].contains(&value.as_str()),
                "style={value:?} in output of {markdown:?}"
            );
            if key == "href" || key == "src" {
                let v: String = decode(&value).chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect();
                let v = v.to_ascii_lowercase();
                assert!(
                    !v.starts_with("javascript:") && !v.starts_with("vbscript:") && !v.starts_with("data:text/html"),
                    "{key}={value:?} in output of {markdown:?}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(markdown) = std::str::from_utf8(data) else { return };
    let text = analyse(markdown);
    let _ = text.summary(120);
    let _ = text.reading_minutes();
    if let Some(at) = text.more_at {
        let _ = analyse(&markdown[..at]).summary(400);
    }
    for unsafe_html in [false, true] {
        let options = MarkdownConfig { highlight_code: true, unsafe_html, ..MarkdownConfig::default() };
        let html = to_html(site(), markdown, &text.headings, &options);
        if !unsafe_html {
            assert_inert(markdown, &html);
        }
    }
});
