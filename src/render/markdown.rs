//! Markdown → HTML for one body, using what the model already knows: heading anchors (so
//! every stage agrees on them), resolved `@/` links, and the site's HTML policy.

use std::sync::OnceLock;

use pulldown_cmark::{html, CodeBlockKind, CowStr, Event, Parser, Tag, TagEnd};
use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

use crate::config::{InsertAnchor, MarkdownConfig};
use crate::model::text::{is_safe_attribute, is_unsafe_url, markdown_options, Heading, MORE_MARKER};
use crate::model::Site;

/// Class prefix for highlighted code, matching the generated `syntax.css`.
pub const CODE_CLASS_STYLE: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// The processed images of the body being rendered.
#[derive(Clone, Copy)]
pub struct BodyImages<'a> {
    pub set: &'a crate::images::ImageSet,
    /// The document's content path (images are looked up by it and the address written).
    pub rel_path: &'a str,
    /// `sizes` of images in the text.
    pub sizes: &'a str,
    /// Whether the first image may be above the fold (no cover shown before the text).
    pub eager_first: bool,
}

/// Render a body. `headings` are the model's headings of this body, in order.
pub fn to_html(site: &Site, markdown: &str, headings: &[Heading], options: &MarkdownConfig) -> String {
    to_html_with(site, markdown, headings, options, options.insert_anchor_links, None)
}

/// [`to_html`] with links on the headings as `anchors` says (a section's or page's
/// `insert_anchor_links`, else the site's).
pub fn to_html_with_anchors(
    site: &Site,
    markdown: &str,
    headings: &[Heading],
    options: &MarkdownConfig,
    anchors: InsertAnchor,
) -> String {
    to_html_with(site, markdown, headings, options, anchors, None)
}

/// [`to_html_with_anchors`], also writing processed images as `<picture>` (a paragraph
/// holding only an image becomes a `<figure>`, its title the caption).
pub fn to_html_with(
    site: &Site,
    markdown: &str,
    headings: &[Heading],
    options: &MarkdownConfig,
    anchors: InsertAnchor,
    images: Option<BodyImages<'_>>,
) -> String {
    if let Some(html) = plain_paragraph(markdown) {
        return html;
    }
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    let mut heading_index = 0;
    let mut open_heading: Option<String> = None; // the id of the heading being written
    let mut code: Option<(String, String)> = None; // (language, text)
    let events = Parser::new_ext(markdown, markdown_options()).filter_map(|event| match event {
        Event::Start(Tag::Heading { level, classes, mut attrs, .. }) => {
            let heading = headings.get(heading_index);
            let id = heading.map(|h| CowStr::from(h.id.clone()));
            heading_index += 1;
            // The model refuses these; never write one even if a caller skipped the model.
            if !options.unsafe_html {
                attrs.retain(|(k, _)| is_safe_attribute(k));
            }
            match heading.filter(|h| anchors != InsertAnchor::None && !h.id.is_empty()) {
                Some(h) => {
                    open_heading = Some(h.id.clone());
                    Some(Event::Html(heading_with_anchor(level, h, &classes, &attrs, anchors).into()))
                }
                None => Some(Event::Start(Tag::Heading { level, id, classes, attrs })),
            }
        }
        Event::End(TagEnd::Heading(level)) if open_heading.is_some() => {
            let id = open_heading.take().unwrap_or_default();
            let close = match anchors {
                InsertAnchor::Right => format!(" {}</{level}>\n", anchor_link(&id, headings.iter().find(|h| h.id == id))),
                InsertAnchor::Heading => format!("</a></{level}>\n"),
                _ => format!("</{level}>\n"),
            };
            Some(Event::Html(close.into()))
        }
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let dest_url = rewrite_url(site, dest_url);
            Some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        Event::Start(Tag::Image { link_type, dest_url, title, id }) => {
            let dest_url = rewrite_url(site, dest_url);
            Some(Event::Start(Tag::Image { link_type, dest_url, title, id }))
        }
        Event::Start(Tag::CodeBlock(kind)) if options.highlight_code => {
            let lang = match kind {
                CodeBlockKind::Fenced(l) => l.split([' ', ',']).next().unwrap_or("").to_string(),
                CodeBlockKind::Indented => String::new(),
            };
            code = Some((lang, String::new()));
            None
        }
        Event::Text(t) if code.is_some() => {
            code.as_mut().unwrap().1.push_str(&t);
            None
        }
        Event::End(TagEnd::CodeBlock) if code.is_some() => {
            let (lang, text) = code.take().unwrap();
            Some(Event::Html(highlight(&lang, &text).into()))
        }
        Event::Html(h) | Event::InlineHtml(h) if h.trim() == MORE_MARKER => {
            Some(Event::Html(r#"<span id="continue-reading"></span>"#.into()))
        }
        Event::Html(h) | Event::InlineHtml(h) if !options.unsafe_html => Some(Event::Text(h)),
        other => Some(other),
    });
    match images.filter(|_| markdown.contains("![")) {
        Some(images) => html::push_html(&mut out, pictures(site, events.collect(), images).into_iter()),
        None => html::push_html(&mut out, events),
    }
    out
}

/// What the parser writes for a body that is one line of plain text: `<p>` and the text, or
/// `None` where the text could be more than that. A component's body is often one sentence (a
/// notice's), and setting up the parser cost more than the sentence: this saves a pass for
/// them. Plain means: no ASCII byte that Markdown or HTML gives a meaning to (only letters,
/// digits, spaces and `,.;?%/()` pass, and any non-ASCII character), not starting with a digit
/// (`1.` opens a list) or a space (indentation), not ending with a space, no line break inside
/// (only blank lines around it). Such text needs no escaping either.
fn plain_paragraph(markdown: &str) -> Option<String> {
    let text = markdown.trim_matches(|c| c == '\n' || c == '\r');
    let bytes = text.as_bytes();
    let (&first, &last) = (bytes.first()?, bytes.last()?);
    if first == b' ' || last == b' ' || first.is_ascii_digit() {
        return None;
    }
    let plain = |b: &u8| b.is_ascii_alphanumeric() || !b.is_ascii() || matches!(b, b' ' | b',' | b'.' | b';' | b'?' | b'%' | b'/' | b'(' | b')');
    if !bytes.iter().all(plain) {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str("<p>");
    out.push_str(text);
    out.push_str("</p>\n");
    Some(out)
}

/// Replace each processed image's events with its `<picture>` (or `<figure>`).
fn pictures<'e>(site: &Site, events: Vec<Event<'e>>, images: BodyImages<'_>) -> Vec<Event<'e>> {
    let mut out: Vec<Event<'e>> = Vec::with_capacity(events.len());
    let mut first = true;
    let mut i = 0;
    while i < events.len() {
        let Event::Start(Tag::Image { dest_url, title, .. }) = &events[i] else {
            out.push(events[i].clone());
            i += 1;
            continue;
        };
        // The alt text: the text up to the matching end (images may nest in alt text).
        let mut depth = 0;
        let mut end = i;
        let mut alt = String::new();
        for (k, e) in events.iter().enumerate().skip(i) {
            match e {
                Event::Start(Tag::Image { .. }) => depth += 1,
                Event::End(TagEnd::Image) => {
                    depth -= 1;
                    if depth == 0 {
                        end = k;
                        break;
                    }
                }
                Event::Text(t) | Event::Code(t) => alt.push_str(t),
                Event::SoftBreak | Event::HardBreak => alt.push(' '),
                _ => {}
            }
        }
        let Some(r) = images.set.get(images.rel_path, dest_url) else {
            out.extend(events[i..=end].iter().cloned());
            i = end + 1;
            continue;
        };
        let decorative = crate::model::text::is_decorative_alt(&alt);
        let alt = (!decorative).then_some(alt.trim());
        let look = super::picture::Look { sizes: images.sizes, eager: first && images.eager_first, link_full: true };
        first = false;
        let alone = matches!(out.last(), Some(Event::Start(Tag::Paragraph)))
            && matches!(events.get(end + 1), Some(Event::End(TagEnd::Paragraph)));
        if alone {
            out.pop();
            out.push(Event::Html(super::picture::figure(site, r, alt, title, look).into()));
            i = end + 2;
        } else {
            out.push(Event::InlineHtml(super::picture::picture(site, r, alt, title, look).into()));
            i = end + 1;
        }
    }
    out
}

/// The opening tag of a heading with an anchor link: `<h2 id="…">` and, for `left`, the link
/// before the text; for `heading`, the `<a>` that the text goes in.
fn heading_with_anchor(
    level: pulldown_cmark::HeadingLevel,
    heading: &Heading,
    classes: &[CowStr],
    attrs: &[(CowStr, Option<CowStr>)],
    anchors: InsertAnchor,
) -> String {
    let mut tag = format!("<{level} id=\"{}\"", escape_html(&heading.id));
    if !classes.is_empty() {
        let classes: Vec<&str> = classes.iter().map(|c| c.as_ref()).collect();
        tag.push_str(&format!(" class=\"{}\"", escape_html(&classes.join(" "))));
    }
    for (k, v) in attrs {
        match v {
            Some(v) => tag.push_str(&format!(" {}=\"{}\"", escape_html(k), escape_html(v))),
            None => tag.push_str(&format!(" {}", escape_html(k))),
        }
    }
    tag.push('>');
    match anchors {
        InsertAnchor::Left => tag.push_str(&format!("{} ", anchor_link(&heading.id, Some(heading)))),
        InsertAnchor::Heading => tag.push_str(&format!("<a class=\"zola-anchor\" href=\"#{}\">", escape_html(&heading.id))),
        _ => {}
    }
    tag
}

/// The `#` link next to a heading (Zola's `zola-anchor` class, so Zola themes' CSS applies).
/// Its name for screen readers is the heading's text, not "#".
fn anchor_link(id: &str, heading: Option<&Heading>) -> String {
    let name = heading.map_or(id, |h| h.text.as_str());
    format!(
        "<a class=\"zola-anchor\" href=\"#{}\" aria-label=\"链接到本节：{}\">#</a>",
        escape_html(id),
        escape_html(name)
    )
}

fn rewrite_url<'a>(site: &Site, url: CowStr<'a>) -> CowStr<'a> {
    if let Some(rest) = url.strip_prefix("@/") {
        let (target, anchor) = match rest.split_once('#') {
            Some((t, a)) => (t, Some(a)),
            None => (rest, None),
        };
        // The model has checked every internal link, so a miss here cannot happen on a valid
        // site; keep the text visible rather than panic.
        return site.resolve_internal(target, anchor).map(CowStr::from).unwrap_or(url);
    }
    if is_unsafe_url(&url) {
        return CowStr::from("#");
    }
    url
}

/// Highlight a code block with CSS classes (the stylesheet comes from [`syntax_css`]).
fn highlight(lang: &str, code: &str) -> String {
    let set = syntaxes();
    let syntax = (!lang.is_empty())
        .then(|| set.find_syntax_by_token(lang))
        .flatten()
        .unwrap_or_else(|| set.find_syntax_plain_text());
    let mut generator = ClassedHTMLGenerator::new_with_class_style(syntax, set, CODE_CLASS_STYLE);
    for line in LinesWithEndings::from(code) {
        if generator.parse_html_for_line_which_includes_newline(line).is_err() {
            return format!("<pre><code>{}</code></pre>\n", escape_html(code));
        }
    }
    let lang_attr = if lang.is_empty() { String::new() } else { format!(r#" data-lang="{}""#, escape_html(lang)) };
    format!("<pre class=\"code\"{lang_attr}><code>{}</code></pre>\n", generator.finalize())
}

/// The stylesheet for highlighted code.
pub fn syntax_css() -> &'static str {
    // Made once per process: loading syntect's themes decompresses and decodes all of them,
    // which `kepu serve` would otherwise pay on every rebuild.
    static CSS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSS.get_or_init(|| {
        let themes = syntect::highlighting::ThemeSet::load_defaults();
        let theme = &themes.themes["InspiredGitHub"];
        syntect::html::css_for_theme_with_class_style(theme, CODE_CLASS_STYLE).unwrap_or_default()
    })
}

/// Escape text for HTML element content and attribute values. Every `{{ … }}` of a template
/// goes through this, so it copies runs between the five special bytes at once rather than
/// character by character, and skips eight bytes at a time where none is ASCII: Han text (all
/// bytes ≥ 0x80) can hold none of the five, which are ASCII, so every cut is at a character
/// boundary.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// [`escape_html`] into `out`: the escape function of kepu's templates (Tera's own also
/// escapes nothing else, but with its `fast` feature it leaves `'` alone).
pub fn escape_html_to(s: &str, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    escape_pieces(s, |piece| out.write_all(piece.as_bytes()))
}

/// [`escape_html`] appended to `out` (markup written in Rust, byte for byte what a template's
/// `{{ … }}` writes).
pub fn push_escaped(out: &mut String, s: &str) {
    let _ = escape_pieces(s, |piece| {
        out.push_str(piece);
        Ok::<(), std::convert::Infallible>(())
    });
}

/// `s` escaped as a `Display` (written straight into a `write!`, without a `String` of its own).
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        escape_pieces(self.0, |piece| f.write_str(piece))
    }
}

/// The escaping itself: `s`'s runs without special characters and the entities for those, in
/// order, each given to `emit`.
fn escape_pieces<E>(s: &str, mut emit: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
    let bytes = s.as_bytes();
    let mut last = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = match bytes.get(i..i + 8) {
            Some(word) if !has_special(u64::from_ne_bytes(word.try_into().expect("eight bytes"))) => {
                i += 8;
                continue;
            }
            Some(_) => i + 8,
            None => bytes.len(),
        };
        for (j, &b) in bytes.iter().enumerate().take(end).skip(i) {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            // `j` is at an ASCII byte, so at a character boundary.
            emit(&s[last..j])?;
            emit(entity)?;
            last = j + 1;
        }
        i = end;
    }
    emit(&s[last..])
}

/// Whether any of the eight bytes of `word` is one [`escape_pieces`] replaces: eight bytes
/// tested at once (text, Chinese or ASCII, rarely has one, and a byte at a time was most of
/// the time of escaping ids, paths and numbers). `&`/`'` (0x26/0x27) and `<`/`>` (0x3C/0x3E)
/// each differ in one bit, so three comparisons test all five.
fn has_special(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `v` is zero (exact as to whether there is one).
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    has_zero(word ^ (b'"' as u64 * ONES)) || has_zero((word | ONES) ^ (b'\'' as u64 * ONES)) || has_zero((word | 2 * ONES) ^ (b'>' as u64 * ONES))
}

#[cfg(test)]
mod tests {
    use super::{escape_html, escape_html_to, has_special, plain_paragraph, Escaped};

    /// What the parser itself writes for `markdown` (none of `to_html_with`'s changes to the
    /// events apply to a plain paragraph: no heading, link, image, code or HTML in it).
    fn parsed(markdown: &str) -> String {
        let mut out = String::new();
        pulldown_cmark::html::push_html(&mut out, pulldown_cmark::Parser::new_ext(markdown, crate::model::text::markdown_options()));
        out
    }

    #[test]
    fn a_plain_paragraph_is_written_as_the_parser_writes_it() {
        let plain = [
            "开展“履行植树义务共建生态文明”春季义务植树志愿服务活动，为践行生态文明理念贡献科协力量。",
            "\n开展活动。\n",
            "\r\n\n请带好身份证 (ID) 与 50% 的材料, 谢谢.\n\n",
            "See a/b; ok? yes",
            "\u{3000}全角空格开头",
            "结尾全角空格\u{3000}",
            "\u{a0}不换行空格\u{a0}",
            "a.  two spaces inside",
            "x",
        ];
        for text in plain {
            assert_eq!(plain_paragraph(text).as_deref(), Some(parsed(text).as_str()), "{text:?}");
        }
    }

    #[test]
    fn anything_markdown_or_html_could_read_is_left_to_the_parser() {
        let not_plain = [
            "", "\n\n", "1. 列表", "2024) 年", "    缩进的代码", " 一个空格开头", "结尾两个空格  ", "第一行\n第二行",
            "**粗体**", "_斜体_", "`代码`", "[链接](x)", "<b>标签</b>", "A & B", "# 标题", "- 列表", "+ 列表", "> 引用",
            "~~删除~~", "a | b", "a\\b", "注释[^1]", "!图", "说“a\"b”", "it's", "a\tb", "a:b", "x = y", "{#id}", "$x$",
            "a\u{0}b",
        ];
        for text in not_plain {
            assert_eq!(plain_paragraph(text), None, "{text:?}");
        }
    }

    #[test]
    fn whatever_the_shortcut_takes_the_parser_writes_the_same() {
        // Every text of up to four pieces from these, taken or not: the shortcut may decline
        // anything, but what it writes must be the parser's.
        let pieces = ["a", "7", " ", ".", ")", "(", ",", "科", "\n", "\r", "\u{3000}", "%", "/", ";", "?", "*", "\t", "&"];
        let mut taken = 0;
        let n = pieces.len();
        for i in 0..n.pow(4) {
            let text: String = (0..4).map(|k| pieces[i / n.pow(k) % n]).collect();
            if let Some(html) = plain_paragraph(&text) {
                taken += 1;
                assert_eq!(html, parsed(&text), "{text:?}");
            }
        }
        assert!(taken > 1000, "the shortcut took only {taken} texts");
    }

    #[test]
    fn a_word_has_a_special_byte_exactly_when_one_of_its_bytes_is_one() {
        for b in 0..=255u8 {
            let special = matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'');
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = b;
                assert_eq!(has_special(u64::from_ne_bytes(word)), special, "{b:#x} at {at}");
                let mut high = [0xE4u8; 8];
                high[at] = b;
                assert_eq!(has_special(u64::from_ne_bytes(high)), special, "{b:#x} at {at} among high bytes");
            }
        }
    }

    #[test]
    fn escapes_the_five_special_characters_and_keeps_the_rest() {
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("郑州科技馆"), "郑州科技馆");
        assert_eq!(
            escape_html(r#"<a href="x">'科普' & 馆</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;科普&#39; &amp; 馆&lt;/a&gt;"
        );
        assert_eq!(escape_html("&&"), "&amp;&amp;");
        assert_eq!(escape_html("末尾<"), "末尾&lt;");
    }

    #[test]
    fn escapes_like_a_character_by_character_escape_at_every_offset() {
        fn naive(s: &str) -> String {
            s.chars()
                .map(|c| match c {
                    '&' => "&amp;".to_string(),
                    '<' => "&lt;".to_string(),
                    '>' => "&gt;".to_string(),
                    '"' => "&quot;".to_string(),
                    '\'' => "&#39;".to_string(),
                    c => c.to_string(),
                })
                .collect()
        }
        // Specials before, inside and after runs of Han text, at every alignment of the
        // eight-byte steps, and a special as the last byte of a step.
        let pieces = ["科技馆", "a", "<", "&", "\"", "'", ">", "é", "郑州市科普教育基地", "1234567"];
        for start in 0..pieces.len() {
            for len in 1..=12 {
                let s: String = (0..len).map(|k| pieces[(start + k * 7) % pieces.len()]).collect();
                for cut in 0..s.len() {
                    if let Some(tail) = s.get(cut..) {
                        assert_eq!(escape_html(tail), naive(tail), "{tail:?}");
                        // The templates' escape function and the `Display` one write the same.
                        let mut bytes = Vec::new();
                        escape_html_to(tail, &mut bytes).unwrap();
                        assert_eq!(String::from_utf8(bytes).unwrap(), naive(tail), "{tail:?}");
                        assert_eq!(Escaped(tail).to_string(), naive(tail), "{tail:?}");
                    }
                }
            }
        }
    }
}
