//! Diagnostics: what went wrong, where, and how to fix it.
//!
//! Every stage reports problems as [`Diagnostic`] values instead of printing them, so that a
//! build can collect *all* errors in one run and the front end (CLI, `kepu serve`'s browser
//! overlay, `--format json`) decides how to show them — once.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use serde::Serialize;

/// How bad a diagnostic is: errors fail the build, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A few lines of the offending file, kept so the report can show them without re-reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excerpt {
    /// The source lines shown, joined with `\n`.
    pub text: String,
    /// 1-based number of the first line in `text`.
    pub first_line: usize,
    /// Byte range inside `text` that the diagnostic points at.
    pub span: Range<usize>,
}

/// One problem found in the input, located as precisely as the stage can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file, relative to the site root when possible (that is what editors recognise).
    pub file: Option<PathBuf>,
    /// 1-based line and column.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The front-matter field, template or link involved, if any.
    pub field: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<Excerpt>,
}

impl Diagnostic {
    /// An error with only a message; locate it with the builder methods.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: None,
            line: None,
            column: None,
            field: None,
            message: message.into(),
            hint: None,
            excerpt: None,
        }
    }

    /// A warning: reported, but the build still succeeds.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    pub fn file(mut self, file: impl Into<PathBuf>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Point at a 1-based line and column without source text.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Point at a byte offset of `source` (the whole file's text): sets line, column and an
    /// excerpt of the surrounding lines.
    pub fn at_offset(mut self, source: &str, offset: usize) -> Self {
        let offset = floor_char_boundary(source, offset.min(source.len()));
        let (line, column) = line_col(source, offset);
        self.line = Some(line);
        self.column = Some(column);
        self.excerpt = Some(excerpt_around(source, offset, line));
        self
    }

    /// Underline `len` bytes from where the diagnostic points (after [`Self::at_offset`]),
    /// not the whole word there: one wrong character in a line of them.
    pub fn underline(mut self, len: usize) -> Self {
        if let Some(ex) = &mut self.excerpt {
            let end = (ex.span.start + len).min(ex.text.len());
            if ex.text.is_char_boundary(end) {
                ex.span.end = end;
            }
        }
        self
    }

    /// Point at a 1-based line of `source`.
    pub fn at_line(self, source: &str, line: usize) -> Self {
        let offset = line_start_offset(source, line);
        self.at_offset(source, offset)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col`, as much of it as is known.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?.display().to_string();
        Some(match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file,
        })
    }

    /// Render for a terminal (with colour when `styled`) using annotate-snippets.
    pub fn render(&self, styled: bool) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = match &self.field {
            Some(field) => format!("{} [{}]", self.message, field),
            None => self.message.clone(),
        };
        let path = self.location();
        let mut group = Group::with_title(level.primary_title(title.as_str()));
        match (&self.excerpt, &path) {
            (Some(ex), Some(_)) => {
                let file = self.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default();
                let label = self.field.clone().unwrap_or_default();
                let span = if ex.span.is_empty() && ex.span.start < ex.text.len() {
                    let end = ex.span.start
                        + ex.text[ex.span.start..].chars().next().map_or(0, char::len_utf8);
                    ex.span.start..end
                } else {
                    ex.span.clone()
                };
                let snippet = Snippet::source(ex.text.clone())
                    .line_start(ex.first_line)
                    .path(file)
                    .annotation(AnnotationKind::Primary.span(span).label(label));
                group = group.element(snippet);
            }
            (None, Some(loc)) => {
                group = group.element(Level::NOTE.message(format!("in {loc}")));
            }
            _ => {}
        }
        if let Some(hint) = &self.hint {
            group = group.element(Level::HELP.message(hint.as_str()));
        }
        let renderer = if styled { Renderer::styled() } else { Renderer::plain() };
        renderer.render(&[group]).to_string()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// All diagnostics of a run, in a stable order (by file, then line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    /// Sort by file and position and drop exact duplicates, so nothing is printed twice.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
        });
        self.0.dedup();
        self
    }
    /// Only the warnings (for a successful build's report).
    pub fn warnings(&self) -> Diagnostics {
        Diagnostics(self.0.iter().filter(|d| !d.is_error()).cloned().collect())
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl FromIterator<Diagnostic> for Diagnostics {
    fn from_iter<T: IntoIterator<Item = Diagnostic>>(iter: T) -> Self {
        Diagnostics(iter.into_iter().collect())
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// 1-based (line, column in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Byte offset where 1-based `line` starts (end of text if past the end).
pub fn line_start_offset(source: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    source
        .match_indices('\n')
        .nth(line - 2)
        .map_or(source.len(), |(i, _)| i + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Up to one line of context before the offending line, plus the line itself.
fn excerpt_around(source: &str, offset: usize, line: usize) -> Excerpt {
    let first_line = line.saturating_sub(1).max(1);
    let start = line_start_offset(source, first_line);
    let end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
    let text = source[start..end].to_string();
    let span_start = offset - start;
    let word_end = text[span_start..]
        .find(|c: char| c.is_whitespace() || c == '=' || c == ':')
        .map_or(text.len(), |i| span_start + i);
    Excerpt { text, first_line, span: span_start..word_end.max(span_start) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_not_bytes() {
        let src = "第一行\n城市 = \"焦作\"\n";
        let off = src.find('"').unwrap();
        assert_eq!(line_col(src, off), (2, 6));
    }

    #[test]
    fn rendering_names_file_line_field_and_hint() {
        let src = "+++\ntitle = \"x\"\ncity = \"北京\"\n+++\n";
        let d = Diagnostic::error("unknown city `北京`")
            .file("content/venues/x.md")
            .field("venue.city")
            .hint("use one of the 18 short names")
            .at_offset(src, src.find("city").unwrap());
        let out = d.render(false);
        assert!(out.contains("content/venues/x.md:3:1"), "{out}");
        assert!(out.contains("venue.city"), "{out}");
        assert!(out.contains("use one of the 18"), "{out}");
        assert!(out.contains("city = \"北京\""), "{out}");
    }

    #[test]
    fn underline_narrows_the_span_to_a_character() {
        let src = "sources = [\"a\"，\"b\"]\n";
        let at = src.find('，').unwrap();
        let d = Diagnostic::error("x").at_offset(src, at);
        assert_eq!(d.excerpt.as_ref().unwrap().span, at..src.len() - 1, "the word, up to the line's end");
        let d = d.underline('，'.len_utf8());
        assert_eq!(d.excerpt.unwrap().span, at..at + 3);
    }

    #[test]
    fn sorted_drops_duplicates() {
        let d = Diagnostic::error("x").file("a.md").at(1, 1);
        let all = Diagnostics(vec![d.clone(), d]).sorted();
        assert_eq!(all.0.len(), 1);
    }
}
