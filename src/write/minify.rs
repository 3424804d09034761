//! `--minify`: smaller HTML, CSS and JavaScript, with the same meaning.
//!
//! HTML goes through `minify-html` (which minifies inline `<style>` and `<script>` too);
//! stylesheets through `lightningcss` and scripts through the `oxc` minifier — the same
//! engines `minify-html` uses inside pages. Settings stay on the spec-compliant side: closing
//! tags, `<html>`/`<head>` and quoted attribute values are kept, so every HTML parser (and
//! `kepu check`) reads the result like the original. A file whose CSS or JavaScript does not
//! parse is left as it was and reported, never half-minified.

use lightningcss::stylesheet::{MinifyOptions, ParserOptions, PrinterOptions, StyleSheet};
use oxc_allocator::Allocator;
use oxc_codegen::{Codegen, CodegenOptions};
use oxc_minifier::{CompressOptions, MangleOptions, Minifier, MinifierOptions};
use oxc_parser::Parser;
use oxc_span::SourceType;

/// What kind of text a file holds, by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Html,
    Css,
    /// A classic script (`.js`).
    Script,
    /// An ES module (`.mjs`).
    Module,
}

impl Kind {
    pub fn of(path: &str) -> Option<Kind> {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "html" | "htm" => Some(Kind::Html),
            "css" => Some(Kind::Css),
            "js" => Some(Kind::Script),
            "mjs" => Some(Kind::Module),
            _ => None,
        }
    }
}

/// Why a file was left unminified.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MinifyError {
    #[error("not UTF-8 text")]
    NotUtf8,
    #[error("CSS does not parse: {0}")]
    Css(String),
    #[error("JavaScript does not parse: {0}")]
    Js(String),
}

/// Minify `bytes` as `kind`. The result is never larger than the input.
pub fn minify(kind: Kind, bytes: &[u8]) -> Result<Vec<u8>, MinifyError> {
    let out = match kind {
        Kind::Html => minify_html::minify(bytes, &html_cfg()),
        Kind::Css => css(std::str::from_utf8(bytes).map_err(|_| MinifyError::NotUtf8)?)?.into_bytes(),
        Kind::Script | Kind::Module => {
            js(std::str::from_utf8(bytes).map_err(|_| MinifyError::NotUtf8)?, kind == Kind::Module)?.into_bytes()
        }
    };
    Ok(if out.len() < bytes.len() { out } else { bytes.to_vec() })
}

fn html_cfg() -> minify_html::Cfg {
    minify_html::Cfg {
        minify_css: true,
        minify_js: true,
        keep_closing_tags: true,
        keep_html_and_head_opening_tags: true,
        keep_comments: false,
        minify_doctype: false,
        allow_noncompliant_unquoted_attribute_values: false,
        allow_removing_spaces_between_attributes: false,
        ..minify_html::Cfg::default()
    }
}

fn css(text: &str) -> Result<String, MinifyError> {
    let mut sheet = StyleSheet::parse(text, ParserOptions::default()).map_err(|e| MinifyError::Css(e.to_string()))?;
    sheet.minify(MinifyOptions::default()).map_err(|e| MinifyError::Css(e.to_string()))?;
    let printed = sheet
        .to_css(PrinterOptions { minify: true, ..PrinterOptions::default() })
        .map_err(|e| MinifyError::Css(e.to_string()))?;
    Ok(printed.code)
}

fn js(text: &str, module: bool) -> Result<String, MinifyError> {
    let allocator = Allocator::default();
    let source_type = if module { SourceType::mjs() } else { SourceType::cjs() };
    let parsed = Parser::new(&allocator, text, source_type).parse();
    if let Some(e) = parsed.errors.first() {
        return Err(MinifyError::Js(e.to_string()));
    }
    let mut program = parsed.program;
    // Top-level names stay (a module's exports, a script's globals); locals are shortened.
    let minified =
        Minifier::new(MinifierOptions { mangle: Some(MangleOptions::default()), compress: Some(CompressOptions::safest()) })
            .minify(&allocator, &mut program);
    // The mangled names live in the returned scoping; without it codegen prints the originals.
    Ok(Codegen::new()
        .with_options(CodegenOptions { minify: true, ..CodegenOptions::default() })
        .with_scoping(minified.scoping)
        .with_private_member_mappings(minified.class_private_mappings)
        .build(&program)
        .code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_keeps_meaning_and_compliance() {
        let page = "<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n  <title>科普 · 首页</title>\n  <style>\n  body  { color : #333333 ; }\n  </style>\n</head>\n<body>\n  <!-- a comment -->\n  <p class=\"lead\">河南   科技馆</p>\n  <pre>  keep\n   this</pre>\n  <script>\n    const longName = 1 + 2;\n    console.log(longName);\n  </script>\n</body>\n</html>\n";
        let out = String::from_utf8(minify(Kind::Html, page.as_bytes()).unwrap()).unwrap();
        assert!(out.len() < page.len(), "{out}");
        assert!(out.contains("<html lang=zh-CN>") || out.contains("<html lang=\"zh-CN\">"), "{out}");
        assert!(!out.contains("a comment"), "{out}");
        assert!(out.contains("<pre>  keep\n   this</pre>"), "pre must keep its spaces: {out}");
        assert!(out.contains("color:#333"), "inline CSS minified: {out}");
        assert!(out.contains("</p>") && out.contains("</body>"), "closing tags kept: {out}");
        assert!(out.contains("河南 科技馆"), "{out}");
    }

    #[test]
    fn css_and_js_shrink_and_bad_input_is_refused() {
        let css_in = "/* theme */\n.a  {\n  margin: 0px 0px 0px 0px;\n  color: #ffffff;\n}\n";
        assert_eq!(String::from_utf8(minify(Kind::Css, css_in.as_bytes()).unwrap()).unwrap(), ".a{color:#fff;margin:0}");
        let js_in = "export function add(first, second) {\n  // sum\n  const result = first + second;\n  return result;\n}\n";
        let out = String::from_utf8(minify(Kind::Module, js_in.as_bytes()).unwrap()).unwrap();
        assert!(out.contains("export function add(") && out.len() < js_in.len() / 2, "{out}");
        assert!(matches!(minify(Kind::Script, b"function ( {"), Err(MinifyError::Js(_))));
        assert!(matches!(minify(Kind::Css, b"\xff\xfe"), Err(MinifyError::NotUtf8)));
        assert_eq!(Kind::of("a/b.MJS"), Some(Kind::Module));
        assert_eq!(Kind::of("a/b.json"), None);
    }

    #[test]
    fn minifying_is_deterministic() {
        let page = b"<!doctype html><html lang=\"zh-CN\"><body><script>let aaa=1;function f(bbb){return bbb+aaa}</script></body></html>";
        assert_eq!(minify(Kind::Html, page).unwrap(), minify(Kind::Html, page).unwrap());
    }
}
