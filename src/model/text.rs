//! What the model needs to know about a Markdown body without producing HTML: its headings
//! (with the anchors every later stage uses), its plain text (for summaries, reading time and
//! the search index), and its internal `@/` links (checked here, resolved by render).

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde::Serialize;

use super::slug::{anchor_id, is_han};

/// The Markdown extensions kepu enables everywhere (model and render must agree).
pub fn markdown_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Deepest nesting of lists and block quotes a body may use. Real pages stay below ten;
/// browsers stop nesting elements at a few hundred levels, so deeper input is a mistake (or
/// an attack) that would render wrongly anyway.
pub const MAX_NESTING: usize = 100;

/// The marker that ends a hand-picked summary.
pub const MORE_MARKER: &str = "<!-- more -->";

/// A heading of the body, with its final anchor id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    pub id: String,
}

/// An `@/path.md#anchor` link found in a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InternalLink {
    /// Path relative to `content/`.
    pub target: String,
    pub anchor: Option<String>,
    /// Byte offset of the link in the body.
    pub offset: usize,
}

/// An image written in a body (`![alt](src "title")`), for the image stage to process and the
/// model to check (alt text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The address as written (`hall.jpg`, `/images/x.png`, `https://…`).
    pub src: String,
    /// The alt text as plain text (inline markup dropped).
    pub alt: String,
    /// The title, shown as the figure's caption.
    pub title: String,
    /// Byte offset of the image in the body.
    pub offset: usize,
}

impl ImageRef {
    /// Whether the editor marked the image decorative on purpose: alt text written as `""`
    /// (two straight or typographic quotes), which becomes `alt=""` in the page.
    pub fn is_decorative(&self) -> bool {
        is_decorative_alt(&self.alt)
    }
}

/// The explicit "no alt text" marker: `![""](divider.png)`.
pub fn is_decorative_alt(alt: &str) -> bool {
    matches!(alt.trim(), "\"\"" | "\u{201C}\u{201D}" | "\u{201D}\u{201D}")
}

/// What is wrong with `alt` as the text of image `src`, as (message, hint); `None` when it is
/// fine. Empty alt text is refused unless marked decorative (see [`is_decorative_alt`]); so is
/// alt text that only repeats the file name (`hall.jpg`, `hall`, `IMG_1234`), which screen
/// readers would read out instead of a description.
pub fn alt_text_problem(alt: &str, src: &str) -> Option<(String, String)> {
    let alt = alt.trim();
    if is_decorative_alt(alt) {
        return None;
    }
    let name = src.rsplit('/').next().unwrap_or(src);
    let name = name.split(['?', '#']).next().unwrap_or(name);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    if alt.is_empty() {
        return Some((
            format!("image `{src}` has no alt text"),
            format!("describe what the picture shows for visitors who cannot see it: ![河南省科技馆新馆主展厅]({src}); a purely decorative image is written ![\"\"]({src})"),
        ));
    }
    let lower = alt.to_lowercase();
    if !name.is_empty() && (lower == name.to_lowercase() || lower == stem.to_lowercase()) {
        return Some((
            format!("the alt text of image `{src}` is only its file name"),
            "a screen reader would read the file name out: describe what the picture shows instead".into(),
        ));
    }
    None
}

/// A link that must not be published (`javascript:` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeLink {
    pub url: String,
    pub offset: usize,
}

/// `@/` link text that Markdown did not read as a link, so the page would show it as it is:
/// `[文字]（@/…）` with full-width parentheses, `[文字] (@/…)` with a space before the `(`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrayLink {
    /// `@/venues/x.md#anchor`, as written.
    pub target: String,
    /// The text in brackets before it, if there is one.
    pub text: Option<String>,
    /// Byte offset in the body where the attempted link starts (its `[`, else the `@/`).
    pub offset: usize,
}

impl StrayLink {
    pub fn message(&self) -> String {
        format!("`{}` is not written as a Markdown link, so the page would show it as plain text", self.target)
    }

    /// The link written as Markdown reads it, in the editor's language.
    pub fn hint(&self) -> String {
        format!(
            "链接要写成 [{}]({})：方括号和圆括号都用半角，中间不留空格",
            self.text.as_deref().unwrap_or("文字"),
            self.target
        )
    }
}

/// A `{key=value}` heading attribute (`## 标题 {data-x=1}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadingAttribute {
    pub name: String,
    /// Byte offset of the heading in the body.
    pub offset: usize,
}

/// Heading attributes editors may set without `markdown.unsafe_html`: data, language and
/// accessibility attributes. Everything else is refused — `onclick` and friends run code, and
/// `style` can disguise a page.
pub fn is_safe_attribute(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "lang" | "dir" | "title" | "role")
        || ["data-", "aria-"].iter().any(|p| {
            name.strip_prefix(p).is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        })
}

/// The text-only view of a body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodyText {
    pub headings: Vec<Heading>,
    /// Byte offset of each of `headings` in the body, in the same order: components in content
    /// tell the page's own headings from those of a component's body by them.
    pub heading_offsets: Vec<usize>,
    /// Byte ranges of the code spans and code blocks, in order: never templated. Collected in
    /// this pass so that rendering components does not parse the Markdown a second time.
    pub code: Vec<std::ops::Range<usize>>,
    /// Paragraph text, one block per line, no markup.
    pub plain: String,
    pub internal_links: Vec<InternalLink>,
    /// Every image, in order.
    pub images: Vec<ImageRef>,
    pub unsafe_links: Vec<UnsafeLink>,
    /// `@/` paths left in the text, outside any link (see [`StrayLink`]).
    pub stray_links: Vec<StrayLink>,
    /// Every custom heading attribute (checked against [`is_safe_attribute`] by the model).
    pub heading_attributes: Vec<HeadingAttribute>,
    /// Han characters plus Latin words, the basis of reading time.
    pub han_chars: usize,
    pub latin_words: usize,
    /// Markdown before `<!-- more -->`, if the editor marked one.
    pub more_at: Option<usize>,
    /// Byte offset where lists and block quotes first nest deeper than [`MAX_NESTING`].
    pub too_deep: Option<usize>,
}

impl BodyText {
    /// Minutes to read: 300 Han characters or 200 Latin words a minute, at least one.
    pub fn reading_minutes(&self) -> usize {
        let minutes = self.han_chars as f64 / 300.0 + self.latin_words as f64 / 200.0;
        (minutes.ceil() as usize).max(1)
    }

    /// A plain-text summary: the text before `<!-- more -->`, else the first sentences up to
    /// about `max_chars` characters, cut at a sentence end (。！？.!?) when there is one.
    pub fn summary(&self, max_chars: usize) -> String {
        // Only the first `max_chars` characters are read (a body is thousands): line breaks
        // become spaces, one character for one, so cutting before replacing cuts the same.
        let text = self.plain.trim();
        let Some((end, _)) = text.char_indices().nth(max_chars) else {
            return text.replace('\n', " ");
        };
        let cut = text[..end].replace('\n', " ");
        let end = cut
            .char_indices()
            .filter(|(_, c)| matches!(c, '。' | '！' | '？' | '!' | '?' | '；'))
            .map(|(i, c)| i + c.len_utf8())
            .next_back();
        match end {
            Some(e) if e >= cut.len() / 3 => cut[..e].to_string(),
            _ => format!("{}…", cut.trim_end()),
        }
    }
}

/// Read a Markdown body into its text view. `@/` links and headings are collected; anchors are
/// de-duplicated in document order (`id`, `id-1`, `id-2`).
pub fn analyse(markdown: &str) -> BodyText {
    // The plain text is nearly as long as the Markdown (97% on a generated 10,000-page site):
    // sized once, it does not grow by doubling to a third more than it holds.
    let plain = String::with_capacity(markdown.len());
    let mut out = BodyText { more_at: markdown.find(MORE_MARKER), plain, ..Default::default() };
    let mut heading: Option<(u8, Option<String>, String)> = None;
    let mut in_code = false;
    let mut used = std::collections::HashMap::<String, usize>::new();
    let parser = Parser::new_ext(markdown, markdown_options()).into_offset_iter();
    let mut block = String::new();
    let mut depth = 0usize;
    let mut in_link = 0usize;
    // The image being read: its alt text is the text events up to its end.
    let mut image: Option<ImageRef> = None;
    let mut code_block_start = 0;
    for (event, range) in parser {
        if let Some(img) = &mut image {
            match &event {
                Event::Text(t) | Event::Code(t) => img.alt.push_str(t),
                Event::SoftBreak | Event::HardBreak => img.alt.push(' '),
                Event::End(TagEnd::Image) => out.images.extend(image.take()),
                _ => {}
            }
        }
        if let Event::Start(Tag::Image { dest_url, title, .. }) = &event {
            // (An image inside another's alt text is only text to browsers: not collected.)
            if image.is_none() {
                image = Some(ImageRef {
                    src: dest_url.to_string(),
                    alt: String::new(),
                    title: title.to_string(),
                    offset: range.start,
                });
            }
        }
        match &event {
            Event::Text(_) if !in_code && in_link == 0 => find_stray_links(markdown, range.clone(), &mut out.stray_links),
            Event::Start(Tag::Link { .. }) => in_link += 1,
            Event::End(TagEnd::Link) => in_link = in_link.saturating_sub(1),
            Event::Code(_) => out.code.push(range.clone()),
            _ => {}
        }
        match event {
            Event::Start(Tag::List(_) | Tag::BlockQuote(_)) => {
                depth += 1;
                if depth > MAX_NESTING && out.too_deep.is_none() {
                    out.too_deep = Some(range.start);
                }
            }
            Event::End(TagEnd::List(_)) => depth = depth.saturating_sub(1),
            _ => {}
        }
        match event {
            Event::Start(Tag::Heading { level, id, ref attrs, .. }) => {
                out.heading_attributes.extend(
                    attrs.iter().map(|(k, _)| HeadingAttribute { name: k.to_string(), offset: range.start }),
                );
                heading = Some((heading_level(level), id.map(|s| s.to_string()), String::new()));
                out.heading_offsets.push(range.start);
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, explicit, text)) = heading.take() {
                    let base = explicit.unwrap_or_else(|| anchor_id(&text));
                    let id = unique_id(&mut used, base);
                    push_block(&mut out.plain, &text);
                    out.headings.push(Heading { level, text: text.trim().to_string(), id });
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_code = true;
                code_block_start = range.start;
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                out.code.push(code_block_start..range.end);
                push_block(&mut out.plain, &block);
                block.clear();
            }
            Event::Start(Tag::Link { dest_url, .. }) | Event::Start(Tag::Image { dest_url, .. }) => {
                check_link(&dest_url, range.start, &mut out);
            }
            Event::Text(t) | Event::Code(t) => {
                count_words(&t, &mut out);
                match &mut heading {
                    Some((_, _, h)) => h.push_str(&t),
                    None => block.push_str(&t),
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if heading.is_none() {
                    block.push(' ');
                }
            }
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::TableCell | TagEnd::BlockQuote(_)) => {
                if matches!(event, Event::End(TagEnd::BlockQuote(_))) {
                    depth = depth.saturating_sub(1);
                }
                if !in_code {
                    push_block(&mut out.plain, &block);
                    block.clear();
                }
            }
            _ => {}
        }
    }
    push_block(&mut out.plain, &block);
    if out.plain.contains("{{") || out.plain.contains("{%") {
        out.plain = without_component_tags(&out.plain);
    }
    out
}

/// The text without component tags (`{{ <video … /> }}`, `{% <notice …> %}`, `{% </notice> %}`)
/// and `{% raw %}` tags: what a reader sees of a component in the search index and summaries is
/// its body's words, not its call.
pub fn without_component_tags(text: &str) -> String {
    static TAGS: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = TAGS.get_or_init(|| {
        regex::Regex::new(r#"\{\{-?\s*<[\w.]+(?:[^"'}]|"[^"]*"|'[^']*'|\}[^}])*?/>\s*-?\}\}|\{%-?\s*</?[\w.]+(?:[^"'%]|"[^"]*"|'[^']*'|%[^}])*?>\s*-?%\}|\{%-?\s*(?:raw|endraw)\s*-?%\}"#)
            .expect("valid regex")
    });
    let stripped = re.replace_all(text, "");
    stripped.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n") + if text.ends_with('\n') { "\n" } else { "" }
}

fn push_block(plain: &mut String, block: &str) {
    let block = block.trim();
    if !block.is_empty() {
        if !plain.is_empty() {
            plain.push('\n');
        }
        plain.push_str(block);
    }
}

fn unique_id(used: &mut std::collections::HashMap<String, usize>, base: String) -> String {
    let n = used.entry(base.clone()).or_insert(0);
    let id = if *n == 0 { base.clone() } else { format!("{base}-{n}") };
    *n += 1;
    id
}

fn heading_level(level: HeadingLevel) -> u8 {
    level as u8
}

fn check_link(url: &str, offset: usize, out: &mut BodyText) {
    if let Some(rest) = url.strip_prefix("@/") {
        let (target, anchor) = match rest.split_once('#') {
            Some((t, a)) => (t, Some(a.to_string())),
            None => (rest, None),
        };
        out.internal_links.push(InternalLink { target: target.to_string(), anchor, offset });
    } else if is_unsafe_url(url) {
        out.unsafe_links.push(UnsafeLink { url: url.to_string(), offset });
    }
}

/// The `@/` paths in the text at `range` of `markdown` (text, never a link's destination),
/// with the bracketed text before each when there is one: `[郑州科技馆]（@/…）`.
fn find_stray_links(markdown: &str, range: std::ops::Range<usize>, out: &mut Vec<StrayLink>) {
    let text = &markdown[range.clone()];
    for (i, _) in text.match_indices("@/") {
        let at = range.start + i;
        if markdown[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // part of a word or an address, not a link path
        }
        let end = markdown[at..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, ')' | '）' | '(' | '（' | '，' | '。' | '、' | '；' | '！' | '？' | '"' | '“' | '”' | '<' | '>' | ']' | '】' | '》')
            })
            .map_or(markdown.len(), |e| at + e);
        if end - at <= 2 {
            continue;
        }
        let target = markdown[at..end].to_string();
        // Back over `(` or `（` and spaces to a `]` or `】`, then to its opening bracket.
        let line_start = markdown[..at].rfind('\n').map_or(0, |n| n + 1);
        let before = markdown[line_start..at].trim_end_matches(['(', '（']).trim_end();
        let (text, offset) = match before.strip_suffix([']', '】']) {
            Some(inner) => match inner.rfind(['[', '【']) {
                Some(open) => {
                    let bracket = inner[open..].chars().next().map_or(1, char::len_utf8);
                    (Some(inner[open + bracket..].to_string()), line_start + open)
                }
                None => (None, at),
            },
            None => (None, at),
        };
        out.push(StrayLink { target, text, offset });
    }
}

/// URLs whose scheme runs code or smuggles content when clicked.
pub fn is_unsafe_url(url: &str) -> bool {
    let cleaned: String =
        url.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>().to_ascii_lowercase();
    cleaned.starts_with("javascript:") || cleaned.starts_with("vbscript:") || cleaned.starts_with("data:text/html")
}

/// Punctuation (none of it alphanumeric) that makes up most of Chinese text's non-Han characters.
fn is_common_cjk_punctuation(c: char) -> bool {
    matches!(
        c,
        '，' | '。' | '、' | '；' | '：' | '！' | '？' | '（' | '）' | '《' | '》' | '“' | '”' | '‘' | '’' | '—' | '…' | '·' | '「' | '」' | '【' | '】'
    )
}

fn count_words(text: &str, out: &mut BodyText) {
    let mut in_word = false;
    for c in text.chars() {
        if is_han(c) {
            out.han_chars += 1;
            in_word = false;
        } else if is_common_cjk_punctuation(c) {
            // The usual marks of Chinese text, answered without the Unicode tables that
            // `is_alphanumeric` consults for every non-ASCII character.
            in_word = false;
        } else if c.is_alphanumeric() {
            if !in_word {
                out.latin_words += 1;
            }
            in_word = true;
        } else {
            in_word = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_unique_readable_ids() {
        let t = analyse("## 开放时间\n\ntext\n\n## 开放时间\n\n### Hours {#hours}\n");
        let ids: Vec<_> = t.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["开放时间", "开放时间-1", "hours"]);
    }

    #[test]
    fn headings_and_code_are_located_in_the_text() {
        let md = "# 标题\n\n正文 `代码` 文字\n\n```\n块\n```\n\n    缩进\n\n小标题\n---\n";
        let t = analyse(md);
        let at = |s: &str| md.find(s).unwrap();
        assert_eq!(t.heading_offsets, [0, at("小标题")]);
        assert_eq!(t.heading_offsets.len(), t.headings.len());
        let code: Vec<&str> = t.code.iter().map(|r| &md[r.clone()]).collect();
        // (An indented block's range starts after the indentation of its first line.)
        assert_eq!(code, ["`代码`", "```\n块\n```", "缩进\n"]);
    }

    #[test]
    fn collects_images_with_alt_title_and_offset() {
        let md = "前文\n\n![河南省科技馆 *主展厅*](hall.jpg \"图注\")\n\n![\"\"](line.png) ![](x.png)";
        let t = analyse(md);
        assert_eq!(t.images.len(), 3);
        assert_eq!(t.images[0].src, "hall.jpg");
        assert_eq!(t.images[0].alt, "河南省科技馆 主展厅");
        assert_eq!(t.images[0].title, "图注");
        assert_eq!(&md[t.images[0].offset..t.images[0].offset + 2], "![");
        assert!(t.images[1].is_decorative());
        assert!(!t.images[2].is_decorative() && t.images[2].alt.is_empty());
    }

    #[test]
    fn alt_text_must_describe() {
        assert!(alt_text_problem("", "hall.jpg").is_some());
        assert!(alt_text_problem("  ", "hall.jpg").is_some());
        assert!(alt_text_problem("hall.jpg", "hall.jpg").is_some());
        assert!(alt_text_problem("HALL", "images/hall.JPG").is_some());
        assert!(alt_text_problem("\"\"", "line.png").is_none());
        assert!(alt_text_problem("河南省科技馆新馆主展厅", "hall.jpg").is_none());
    }

    #[test]
    fn collects_internal_and_unsafe_links() {
        let t = analyse("[a](@/venues/x.md#开放) [b](javascript:alert(1)) [c](https://x.org)");
        assert_eq!(t.internal_links.len(), 1);
        assert_eq!(t.internal_links[0].target, "venues/x.md");
        assert_eq!(t.internal_links[0].anchor.as_deref(), Some("开放"));
        assert_eq!(t.unsafe_links.len(), 1);
    }

    #[test]
    fn internal_link_paths_left_as_text_are_found() {
        let body = "详见[郑州科技馆]（@/venues/zheng-zhou-ke-ji-guan.md）。\n\n\
                    又见[郑州科技馆] (@/venues/zheng-zhou-ke-ji-guan.md#开放时间)\n\n\
                    【焦作】（@/venues/jiao-zuo.md），还有 @/cities/jiao-zuo.md 和 [x](@/venues/x.md）\n";
        let t = analyse(body);
        let found: Vec<_> =
            t.stray_links.iter().map(|s| (s.target.as_str(), s.text.as_deref(), body[s.offset..].chars().next())).collect();
        assert_eq!(
            found,
            [
                ("@/venues/zheng-zhou-ke-ji-guan.md", Some("郑州科技馆"), Some('[')),
                ("@/venues/zheng-zhou-ke-ji-guan.md#开放时间", Some("郑州科技馆"), Some('[')),
                ("@/venues/jiao-zuo.md", Some("焦作"), Some('【')),
                ("@/cities/jiao-zuo.md", None, Some('@')),
                ("@/venues/x.md", Some("x"), Some('[')),
            ]
        );
        assert!(t.internal_links.is_empty(), "none of them is a link");
        assert_eq!(
            t.stray_links[0].hint(),
            "链接要写成 [郑州科技馆](@/venues/zheng-zhou-ke-ji-guan.md)：方括号和圆括号都用半角，中间不留空格"
        );
        assert_eq!(
            t.stray_links[3].message(),
            "`@/cities/jiao-zuo.md` is not written as a Markdown link, so the page would show it as plain text"
        );
    }

    #[test]
    fn internal_link_paths_in_links_and_code_are_not_stray() {
        let body = "[郑州科技馆](@/venues/x.md) [@/venues/x.md](@/venues/x.md) `@/venues/x.md` a@/b\n\n```\n[a]（@/venues/x.md）\n```\n";
        assert_eq!(analyse(body).stray_links, []);
    }

    #[test]
    fn heading_attributes_are_collected_and_judged() {
        let t = analyse("text\n\n## 标题 {#id .cls data-x=1 onclick=alert(1)}\n");
        let names: Vec<_> = t.heading_attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["data-x", "onclick"]);
        assert_eq!(t.heading_attributes[1].offset, 6);
        for ok in ["data-x", "aria-label", "lang", "dir", "title", "role"] {
            assert!(is_safe_attribute(ok), "{ok}");
        }
        for bad in ["onclick", "ONLOAD", "style", "href", "data-", "data-x\"y", "formaction", "srcdoc"] {
            assert!(!is_safe_attribute(bad), "{bad}");
        }
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_located() {
        let ok = format!("{}x", "> ".repeat(MAX_NESTING));
        assert_eq!(analyse(&ok).too_deep, None);
        let body = format!("text\n\n{}x", "- > ".repeat(MAX_NESTING));
        let at = analyse(&body).too_deep.expect("too deep");
        assert_eq!(at, 6 + 2 * MAX_NESTING, "the (MAX_NESTING + 1)th container starts here");
        // Siblings do not add up: many lists one after another are fine.
        let flat = "- a\n\n> b\n\n".repeat(3 * MAX_NESTING);
        assert_eq!(analyse(&flat).too_deep, None);
    }

    #[test]
    fn summary_cuts_at_a_chinese_sentence_end() {
        let t = analyse("河南省科技馆新馆开放面积11万平方米。展厅有人工智能、智慧人类等。每天12000张门票。");
        let s = t.summary(30);
        assert!(s.ends_with('。'), "{s}");
        assert!(s.chars().count() <= 30);
    }

    #[test]
    fn summary_joins_lines_and_keeps_a_short_text_whole() {
        let t = BodyText { plain: "  第一段。\n第二段\n".into(), ..Default::default() };
        assert_eq!(t.summary(120), "第一段。 第二段");
        // Exactly at the limit the text is kept whole; one character more and it is cut.
        assert_eq!(t.summary(8), "第一段。 第二段");
        assert_eq!(t.summary(7), "第一段。");
        let t = BodyText { plain: "没有句号的一段很长的文字\n还有下一行".into(), ..Default::default() };
        assert_eq!(t.summary(10), "没有句号的一段很长的…");
    }

    #[test]
    fn common_cjk_punctuation_is_not_alphanumeric() {
        for c in "，。、；：！？（）《》“”‘’—…·「」【】".chars() {
            assert!(is_common_cjk_punctuation(c) && !c.is_alphanumeric(), "{c}");
        }
    }

    #[test]
    fn reading_time_counts_han_characters() {
        let body = "科".repeat(900);
        assert_eq!(analyse(&body).reading_minutes(), 3);
        assert_eq!(analyse("short").reading_minutes(), 1);
    }
}
