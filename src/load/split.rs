//! Splitting `+++ TOML +++` or `--- YAML ---` front matter from the Markdown body.

use std::ops::Range;

/// Which language the front matter is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontMatterFormat {
    Toml,
    Yaml,
}

/// Where the parts of a content file are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub format: FrontMatterFormat,
    pub front_matter: Range<usize>,
    pub body_start: usize,
}

/// Why a file could not be split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub message: String,
    pub hint: String,
    pub offset: usize,
}

/// Find the front matter. The opening delimiter must be the file's first line that is not
/// blank (Zola allows blank lines before it, and files written for Zola have them); the
/// closing one a line of its own.
pub fn split_front_matter(source: &str) -> Result<Split, SplitError> {
    let opening = leading_blank_lines(source);
    let first_line_end = source[opening..].find('\n').map_or(source.len(), |i| opening + i);
    let first = source[opening..first_line_end].trim_end();
    let (delim, format) = match first {
        "+++" => ("+++", FrontMatterFormat::Toml),
        "---" => ("---", FrontMatterFormat::Yaml),
        _ => {
            return Err(SplitError {
                message: if source.trim().is_empty() {
                    "file is empty: a page needs front matter with at least a title".into()
                } else {
                    "file does not start with front matter (`+++` or `---`)".into()
                },
                hint: "start the file with a line `+++`, then `title = \"…\"`, then `+++`".into(),
                offset: opening.min(source.len()),
            });
        }
    };
    let fm_start = (first_line_end + 1).min(source.len());
    let mut pos = fm_start;
    while pos < source.len() {
        let end = source[pos..].find('\n').map_or(source.len(), |i| pos + i);
        if source[pos..end].trim_end() == delim {
            let body_start = (end + 1).min(source.len());
            return Ok(Split { format, front_matter: fm_start..pos, body_start });
        }
        pos = end + 1;
    }
    Err(SplitError {
        message: format!("front matter is not closed: no line `{delim}` after the opening one"),
        hint: format!("add a line `{delim}` after the last front-matter field"),
        offset: opening,
    })
}

/// The length of the blank lines (spaces and tabs only) at the start of `source`.
fn leading_blank_lines(source: &str) -> usize {
    let mut at = 0;
    while let Some(end) = source[at..].find('\n').map(|i| at + i) {
        if !source[at..end].trim_matches([' ', '\t']).is_empty() {
            break;
        }
        at = end + 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_toml_and_yaml() {
        let s = "+++\ntitle = \"a\"\n+++\n# body\n";
        let sp = split_front_matter(s).unwrap();
        assert_eq!(&s[sp.front_matter.clone()], "title = \"a\"\n");
        assert_eq!(&s[sp.body_start..], "# body\n");
        let y = "---\ntitle: a\n---\nbody";
        let sp = split_front_matter(y).unwrap();
        assert_eq!(sp.format, FrontMatterFormat::Yaml);
        assert_eq!(&y[sp.body_start..], "body");
    }

    #[test]
    fn blank_lines_before_the_opening_delimiter_are_skipped_as_zola_does() {
        for s in ["\n+++\ntitle = \"a\"\n+++\nbody", "\n \n\t\n+++\ntitle = \"a\"\n+++\nbody", "  \n---\ntitle: a\n---\nbody"] {
            let sp = split_front_matter(s).unwrap();
            assert!(s[sp.front_matter.clone()].starts_with("title"), "{s:?}");
            assert_eq!(&s[sp.body_start..], "body");
        }
        // Text before the delimiter is still not front matter, and says where it stands.
        let err = split_front_matter("\n\nhello\n+++\ntitle = 1\n+++\n").unwrap_err();
        assert!(err.message.contains("does not start"));
        assert_eq!(err.offset, 2);
        assert!(split_front_matter("\n\n").unwrap_err().message.contains("empty"));
        assert!(split_front_matter("\n+++\ntitle = 1\n").unwrap_err().message.contains("not closed"));
    }

    #[test]
    fn empty_front_matter_and_no_body_are_fine() {
        let sp = split_front_matter("+++\n+++").unwrap();
        assert!(sp.front_matter.is_empty());
    }

    #[test]
    fn unterminated_and_missing_are_errors() {
        assert!(split_front_matter("+++\ntitle = 1\n").unwrap_err().message.contains("not closed"));
        assert!(split_front_matter("").unwrap_err().message.contains("empty"));
        assert!(split_front_matter("# hi").unwrap_err().message.contains("does not start"));
    }
}
