//! Components in content, as Zola 0.23 has them: a page's Markdown may call a template
//! component, self-closing (`{{ <video src="a.mp4" title="…" /> }}`) or with a Markdown body
//! (`{% <notice kind="注意"> %}…{% </notice> %}`). `{% raw %}…{% endraw %}` keeps its inside
//! as written, and code spans and code blocks are never looked at.
//!
//! A body without `{{` or `{%` costs one `memchr` scan ([`has_calls`]). Otherwise each call is
//! found ([`scan`]), checked against the component's definition (name, arguments, literal
//! types; every mistake reported at its Markdown line and column, all at once), rendered by
//! Tera with the page as `page`, and replaced in the Markdown by a placeholder that Markdown
//! leaves alone; after Markdown the placeholders become the components' HTML. A body is
//! rendered as Markdown (its own components included) and given to the component as `body`.
//!
//! Most calls pass literals only (`kind="注意"`, `data={[…]}`): those are read here
//! ([`Literal`]) and the component rendered straight from them, as Tera renders it from a
//! template; a call with an expression is compiled as a one-off template, and so is any call
//! that fails, so that every error is reported the one way.
//!
//! Components whose name has a dot (`common.footer`, `cards.card`) are the theme's own
//! building blocks, not for content.

use std::borrow::Cow;
use std::ops::Range;

use tera::{Context, Tera, Value};

/// A component call found in a body (borrowing the body's text).
#[derive(Debug, Clone, PartialEq)]
pub struct Call<'t> {
    pub name: &'t str,
    /// The whole call, from `{{`/`{%` of the opening tag to the end of the closing tag.
    pub range: Range<usize>,
    /// The opening tag alone (for self-closing calls, the whole call).
    pub tag: Range<usize>,
    /// The arguments as written, with where each starts.
    pub args: Vec<Arg<'t>>,
    /// The Markdown between the tags, for calls with a body.
    pub body: Option<Range<usize>>,
    /// Every argument is a literal with its [`Arg::value`] read, none twice, and no `{...}`
    /// spread: the call can be rendered straight from its arguments, without compiling it as a
    /// template (the usual case in content, and most of a component's cost when compiled).
    pub literal: bool,
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Arg<'t> {
    pub name: &'t str,
    pub offset: usize,
    pub kind: ArgKind,
    /// The value, when it is a literal read here exactly as Tera reads it (see [`Literal`]);
    /// `None` for anything else, which Tera evaluates.
    pub value: Option<Literal<'t>>,
}

/// What an argument's value is, as far as can be told without evaluating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    String,
    Integer,
    Float,
    Bool,
    Array,
    Map,
    /// `name` alone (the variable of that name) or an expression: checked by Tera.
    Expression,
}

impl ArgKind {
    fn name(self) -> &'static str {
        match self {
            ArgKind::String => "a string",
            ArgKind::Integer => "a whole number",
            ArgKind::Float => "a number",
            ArgKind::Bool => "true or false",
            ArgKind::Array => "a list",
            ArgKind::Map => "a map",
            ArgKind::Expression => "an expression",
        }
    }
}

/// Where a call went wrong, as a byte offset in the body and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        Problem { offset, message: message.into(), hint: None }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// What [`scan`] found: the calls (outermost first, nested calls after their parent) and the
/// `{% raw %}` tags to drop.
#[derive(Debug, Default)]
pub struct Scan<'t> {
    pub calls: Vec<Call<'t>>,
    /// (whole `{% raw %}…{% endraw %}`, its inside).
    pub raws: Vec<(Range<usize>, Range<usize>)>,
}

/// Whether `body` may call components at all: the fast path for the many pages that do not.
pub fn has_calls(body: &str) -> bool {
    let bytes = body.as_bytes();
    memchr::memchr_iter(b'{', bytes).any(|i| matches!(bytes.get(i + 1), Some(b'{' | b'%')))
}

/// Find the component calls and raw blocks of `body`, outside `code` (the byte ranges of its
/// code spans and blocks, in order: the model's [`crate::model::text::BodyText::code`]).
pub fn scan<'t>(body: &'t str, code: &[Range<usize>]) -> Result<Scan<'t>, Vec<Problem>> {
    let bytes = body.as_bytes();
    let in_code = |i: usize| {
        let k = code.partition_point(|r| r.start <= i);
        k > 0 && code[k - 1].contains(&i)
    };
    let mut scan = Scan::default();
    let mut problems = Vec::new();
    // Open calls with a body: (index in scan.calls).
    let mut open: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(pos) = memchr::memchr(b'{', &bytes[i..]) {
        let start = i + pos;
        i = start + 1;
        if in_code(start) {
            continue;
        }
        let Some(&second) = bytes.get(start + 1) else { break };
        if second != b'{' && second != b'%' {
            continue;
        }
        let closer = if second == b'{' { "}}" } else { "%}" };
        let inner_start = start + 2;
        let trimmed_start = inner_start + body[inner_start..].len() - body[inner_start..].trim_start_matches(['-', ' ', '\t']).len();
        let rest = &body[trimmed_start..];
        if second == b'%' && (rest.starts_with("raw ") || rest.starts_with("raw%") || rest.starts_with("raw-")) {
            let Some(tag_end) = find_tag_end(body, trimmed_start, "%}") else {
                problems.push(Problem::new(start, "`{% raw %}` is not closed with `%}`"));
                break;
            };
            match find_endraw(body, tag_end) {
                Some((inner_end, end)) => {
                    scan.raws.push((start..end, tag_end..inner_end));
                    i = end;
                }
                None => {
                    problems.push(Problem::new(start, "`{% raw %}` has no `{% endraw %}`").hint("end the raw text with {% endraw %}"));
                    break;
                }
            }
            continue;
        }
        if !rest.starts_with('<') {
            // Other Tera syntax is left as text: content is not a template.
            continue;
        }
        let Some(end) = find_tag_end(body, trimmed_start, closer) else {
            problems.push(Problem::new(start, format!("component tag not closed with `{closer}`")));
            break;
        };
        let inside = body[trimmed_start + 1..end - 2].trim_end_matches(['-', ' ', '\t', '\n']);
        if let Some(name) = inside.strip_prefix('/') {
            // A closing tag `{% </name> %}`.
            let name = name.trim_end_matches('>').trim();
            match open.pop() {
                Some(k) if scan.calls[k].name == name => {
                    let call = &mut scan.calls[k];
                    call.body = Some(call.tag.end..start);
                    call.range = call.range.start..end;
                }
                Some(k) => {
                    let other = scan.calls[k].name;
                    problems.push(
                        Problem::new(start, format!("`{{% </{name}> %}}` closes `{other}`, which is still open"))
                            .hint(format!("close `{other}` first with {{% </{other}> %}}")),
                    );
                    open.push(k);
                }
                None => problems.push(Problem::new(start, format!("`{{% </{name}> %}}` closes a component that was not opened"))),
            }
            i = end;
            continue;
        }
        let self_closing = inside.ends_with("/>");
        let head = trim_closers(inside);
        let name_len = head.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')).unwrap_or(head.len());
        let name = &head[..name_len];
        if name.is_empty() {
            problems.push(Problem::new(start, "a component call needs a name: {{ <name … /> }}"));
            i = end;
            continue;
        }
        let args_start = trimmed_start + 1 + name_len;
        let args = match parse_args(&body[args_start..trimmed_start + 1 + head.len()], args_start) {
            Ok(a) => a,
            Err(p) => {
                problems.push(p);
                i = end;
                continue;
            }
        };
        let (args, spread) = args;
        let literal = !spread
            && args.iter().all(|a| a.value.is_some())
            && args.iter().enumerate().all(|(k, a)| args[..k].iter().all(|b| b.name != a.name));
        match (second, self_closing) {
            (b'{', true) => scan.calls.push(Call { name, range: start..end, tag: start..end, args, body: None, literal }),
            (b'%', false) => {
                open.push(scan.calls.len());
                scan.calls.push(Call { name, range: start..end, tag: start..end, args, body: None, literal });
            }
            (b'{', false) => problems.push(
                Problem::new(start, format!("`{{{{ <{name} … }}}}` must end with `/>`"))
                    .hint(format!("write {{{{ <{name} … /> }}}}, or {{% <{name} …> %}}…{{% </{name}> %}} for a component with a body")),
            ),
            _ => problems.push(
                Problem::new(start, format!("`{{% <{name} … /> %}}` has no body"))
                    .hint(format!("write {{{{ <{name} … /> }}}} for a component without a body")),
            ),
        }
        i = end;
    }
    for k in open {
        let c = &scan.calls[k];
        problems.push(
            Problem::new(c.range.start, format!("`{{% <{}> %}}` is not closed", c.name))
                .hint(format!("end its body with {{% </{}> %}}", c.name)),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(scan)
}

/// A tag's inside without the `/>` and `>` that end it (what `trim_end_matches("/>")` and then
/// `trim_end_matches('>')` leave, without setting up a substring search for every call).
fn trim_closers(inside: &str) -> &str {
    let mut head = inside;
    while let Some(h) = head.strip_suffix("/>") {
        head = h;
    }
    head.trim_end_matches('>')
}

/// The bytes [`find_tag_end`] looks at: quotes, braces, and the first byte of every closer
/// (`}}`, `%}`, `}`). The rest (most of a call, Chinese text above all) is passed over.
static TAG_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut k = 0;
    while k < 6 {
        t[b"\"'`{}%"[k] as usize] = true;
        k += 1;
    }
    t
};

/// The offset after `closer` (`}}`, `%}` or `}`), skipping quoted strings and `{…}` values.
fn find_tag_end(text: &str, from: usize, closer: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    debug_assert!(closer.bytes().next().is_some_and(|b| TAG_BYTES[usize::from(b)]), "{closer}");
    let mut depth = 0usize;
    let mut i = from;
    loop {
        i += bytes.get(i..)?.iter().position(|&b| TAG_BYTES[usize::from(b)])?;
        match bytes[i] {
            // A backslash takes the byte after it, as in Tera's strings.
            b'"' | b'\'' | b'`' => i = closing_quote(bytes, i)?,
            b'{' => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            _ if depth == 0 && bytes[i..].starts_with(closer.as_bytes()) => return Some(i + closer.len()),
            _ => {}
        }
        i += 1;
    }
}

/// (start of `{% endraw %}`, offset after it).
fn find_endraw(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(pos) = text[i..].find("{%") {
        let start = i + pos;
        let end = find_tag_end(text, start + 2, "%}")?;
        if text[start + 2..end - 2].trim_matches(['-', ' ', '\t']) == "endraw" {
            return Some((start, end));
        }
        i = end;
    }
    None
}

/// `a="x" n={3} flag={true} items={[1, 2]} shorthand`, and whether there was a `{...}` spread.
fn parse_args(text: &str, base: usize) -> Result<(Vec<Arg<'_>>, bool), Problem> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut spread = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'{' {
            // `{...spread}`: anything goes, Tera checks it.
            let end = find_tag_end(text, i + 1, "}").ok_or_else(|| Problem::new(base + i, "`{` without `}`"))?;
            i = end;
            spread = true;
            continue;
        }
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        if i == start {
            let c = text[i..].chars().next().unwrap_or(' ');
            return Err(Problem::new(base + i, format!("unexpected `{c}` in the arguments"))
                .hint("write arguments as name=\"text\" or name={value}"));
        }
        let name = &text[start..i];
        if bytes.get(i) != Some(&b'=') {
            out.push(Arg { name, offset: base + start, kind: ArgKind::Expression, value: None });
            continue;
        }
        i += 1;
        let (kind, value) = match bytes.get(i) {
            Some(b'"') | Some(b'\'') => {
                let end = closing_quote(bytes, i).ok_or_else(|| Problem::new(base + i, "text without its closing quote"))?;
                // (What `Literal::parse` makes of the quoted text, without finding its end again.)
                let value = unescape(&text[i + 1..end]).map(Literal::Text);
                i = end + 1;
                (ArgKind::String, value)
            }
            Some(b'{') => {
                // A literal is read in the pass that finds its end; anything else is Tera's.
                let (end, literal) = match Literal::parse_prefix(text, i + 1) {
                    Some((literal, after)) if bytes.get(after) == Some(&b'}') => (after + 1, Some(literal)),
                    _ => (find_tag_end(text, i + 1, "}").ok_or_else(|| Problem::new(base + i, "`{` without `}`"))?, None),
                };
                let value = text[i + 1..end - 1].trim();
                i = end;
                (literal_kind(value), literal)
            }
            _ => {
                return Err(Problem::new(base + i, format!("the value of `{name}` must be \"text\" or {{value}}"))
                    .hint(format!("write {name}=\"…\" for text, {name}={{3}} or {name}={{true}} for other values")));
            }
        };
        out.push(Arg { name, offset: base + start, kind, value });
    }
    Ok((out, spread))
}

/// A literal argument as Tera reads it: text in `"…"`, `'…'` or `` `…` `` (with Tera's
/// escapes, see [`unescape`]), whole numbers (`3`, `-2`, as `i64`), decimals (`1.5`, as
/// `f64`), `true`/`false`, and lists and maps of those (maps with text keys, each once).
///
/// Read without building a template value: the theme's own components
/// (`render::builtin`) read the literal itself, and only a call that Tera renders needs
/// [`Literal::to_value`] (building the values of a chart's data list, maps with hashed keys,
/// was a tenth of what a page's components cost).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal<'t> {
    Text(Cow<'t, str>),
    Integer(i64),
    Float(f64),
    Bool(bool),
    List(Vec<Literal<'t>>),
    /// Entries in the order written, keys distinct.
    Map(Vec<(Cow<'t, str>, Literal<'t>)>),
}

impl<'t> Literal<'t> {
    /// The literal `text` is, or `None` for anything else — a name, an expression, a trailing
    /// comma, an unknown escape — which then goes to Tera as written, so nothing here decides
    /// what is valid.
    pub fn parse(text: &'t str) -> Option<Self> {
        Self::parse_prefix(text, 0).and_then(|(v, end)| (end == text.len()).then_some(v))
    }

    /// The literal at `from` in `text` and the offset after it and the spaces after it.
    fn parse_prefix(text: &'t str, from: usize) -> Option<(Self, usize)> {
        let mut p = LiteralParser { bytes: text.as_bytes(), text, i: from, depth: 0 };
        let v = p.value()?;
        p.skip_space();
        Some((v, p.i))
    }

    /// The text, when the literal is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Literal::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Entry `key`, when the literal is a map that has one.
    pub fn get(&self, key: &str) -> Option<&Literal<'t>> {
        match self {
            Literal::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value Tera would have made of the literal.
    pub fn to_value(&self) -> Value {
        match self {
            Literal::Text(t) => Value::from(&**t),
            Literal::Integer(n) => Value::from(*n),
            Literal::Float(f) => Value::from(*f),
            Literal::Bool(b) => Value::from(*b),
            Literal::List(items) => Value::from(items.iter().map(Literal::to_value).collect::<Vec<_>>()),
            Literal::Map(entries) => {
                let mut map = tera::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(tera::value::Key::String(std::sync::Arc::from(&**k)), v.to_value());
                }
                Value::from(map)
            }
        }
    }
}

/// [`Literal::parse`] as Tera's value.
pub fn literal_value(text: &str) -> Option<Value> {
    Literal::parse(text).as_ref().map(Literal::to_value)
}

/// The offset of the quote that closes the string literal opening at `bytes[open]`, as Tera 2's
/// lexer finds it: a backslash takes the byte after it, so `"a\"b"` is one string.
fn closing_quote(bytes: &[u8], open: usize) -> Option<usize> {
    let q = *bytes.get(open)?;
    let mut i = open + 1;
    loop {
        i += memchr::memchr2(q, b'\\', bytes.get(i..)?)?;
        if bytes[i] == q {
            return Some(i);
        }
        i += 2;
    }
}

/// The inside of a string literal as Tera 2 reads it: `\"`, `\'`, `\/`, `\\`, `\n`, `\t`,
/// `\r` stand for their characters; `None` for any other escape (Tera's syntax error, which
/// Tera then reports).
fn unescape(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains('\\') {
        return Some(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next()? {
            c @ ('"' | '\'' | '/' | '\\') => c,
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            _ => return None,
        });
    }
    Some(Cow::Owned(out))
}

/// Recursive descent over [`literal_value`]'s grammar.
struct LiteralParser<'t> {
    bytes: &'t [u8],
    text: &'t str,
    i: usize,
    depth: usize,
}

impl<'t> LiteralParser<'t> {
    fn skip_space(&mut self) {
        while self.bytes.get(self.i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.skip_space();
        if self.bytes.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Option<Cow<'t, str>> {
        self.skip_space();
        let q = *self.bytes.get(self.i)?;
        if !matches!(q, b'"' | b'\'' | b'`') {
            return None;
        }
        let end = closing_quote(self.bytes, self.i)?;
        let s = unescape(&self.text[self.i + 1..end])?;
        self.i = end + 1;
        Some(s)
    }

    fn value(&mut self) -> Option<Literal<'t>> {
        self.skip_space();
        match *self.bytes.get(self.i)? {
            b'"' | b'\'' | b'`' => self.string().map(Literal::Text),
            b'[' => {
                self.depth += 1;
                if self.depth > 16 {
                    return None;
                }
                self.i += 1;
                let mut items = Vec::new();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value()?);
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                self.depth -= 1;
                Some(Literal::List(items))
            }
            b'{' => {
                self.depth += 1;
                if self.depth > 16 {
                    return None;
                }
                self.i += 1;
                let mut entries = Vec::new();
                if !self.eat(b'}') {
                    loop {
                        let key = self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        entries.push((key, self.value()?));
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return None;
                        }
                    }
                }
                self.depth -= 1;
                distinct_keys(&entries).then_some(Literal::Map(entries))
            }
            b't' | b'f' => {
                let word_len = self.bytes[self.i..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
                let word = &self.text[self.i..self.i + word_len];
                self.i += word_len;
                match word {
                    "true" => Some(Literal::Bool(true)),
                    "false" => Some(Literal::Bool(false)),
                    _ => None,
                }
            }
            b'-' => {
                self.i += 1;
                if !self.bytes.get(self.i).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
                match self.number()? {
                    Literal::Integer(n) => Some(Literal::Integer(-n)),
                    Literal::Float(f) => Some(Literal::Float(-f)),
                    _ => None,
                }
            }
            b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Digits, with at most one `.` followed by digits: an integer or a float.
    fn number(&mut self) -> Option<Literal<'t>> {
        let start = self.i;
        let digits = |bytes: &[u8], from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        self.i += digits(self.bytes, self.i);
        let is_float = self.bytes.get(self.i) == Some(&b'.');
        if is_float {
            let after = digits(self.bytes, self.i + 1);
            if after == 0 {
                return None;
            }
            self.i += 1 + after;
        }
        // A name or another dot straight after the number is not a literal.
        if self.bytes.get(self.i).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.')) {
            return None;
        }
        let text = &self.text[start..self.i];
        if is_float { text.parse().ok().map(Literal::Float) } else { text.parse().ok().map(Literal::Integer) }
    }
}

/// Whether no key of a map literal is there twice (Tera refuses such a map). Maps in content
/// are small; a long one is sorted rather than compared pair by pair.
fn distinct_keys(entries: &[(Cow<'_, str>, Literal<'_>)]) -> bool {
    if entries.len() <= 16 {
        return entries.iter().enumerate().all(|(k, (a, _))| entries[..k].iter().all(|(b, _)| a != b));
    }
    let mut keys: Vec<&str> = entries.iter().map(|(k, _)| &**k).collect();
    keys.sort_unstable();
    keys.windows(2).all(|w| w[0] != w[1])
}

fn literal_kind(value: &str) -> ArgKind {
    if value == "true" || value == "false" {
        ArgKind::Bool
    } else if value.starts_with('"') || value.starts_with('\'') {
        if closing_quote(value.as_bytes(), 0) == Some(value.len() - 1) { ArgKind::String } else { ArgKind::Expression }
    } else if value.starts_with('[') {
        ArgKind::Array
    } else if value.parse::<i64>().is_ok() {
        ArgKind::Integer
    } else if value.parse::<f64>().is_ok() {
        ArgKind::Float
    } else {
        ArgKind::Expression
    }
}

/// The definitions of the components content may call (the theme's and the site's, without
/// the dotted building blocks), read from the templates once: Tera gives a copy of a
/// definition each time it is asked, which every call of every page would pay for.
pub struct Definitions(std::collections::HashMap<String, tera::ComponentInfo>);

impl Definitions {
    pub fn new(tera: &Tera) -> Self {
        let names = tera.get_component_names().filter(|n| !n.contains('.'));
        Definitions(names.filter_map(|n| Some((n.to_string(), tera.get_component_definition(n)?))).collect())
    }

    fn get(&self, name: &str) -> Option<&tera::ComponentInfo> {
        self.0.get(name)
    }

    fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Check the calls against the components' definitions: unknown components (with the close
/// names), unknown or missing arguments, literal values of the wrong type.
pub fn check(defs: &Definitions, calls: &[Call]) -> Vec<Problem> {
    let mut out = Vec::new();
    for call in calls {
        let Some(def) = defs.get(call.name) else {
            let names = defs.names();
            let close: Vec<String> = close_names(call.name, names.iter().copied());
            let mut p = Problem::new(call.tag.start + 3, format!("unknown component `{}`", call.name));
            p = match close.first() {
                Some(c) => p.hint(format!("did you mean `{c}`? (components: {})", sorted(&names))),
                None => p.hint(format!("components: {}", sorted(&names))),
            };
            out.push(p);
            continue;
        };
        let args = def.args();
        for a in &call.args {
            let Some(d) = args.iter().find(|d| d.name() == a.name) else {
                let possible: Vec<&str> = args.iter().filter(|d| !d.is_implicit()).map(|d| d.name()).collect();
                let close = close_names(a.name, possible.iter().copied());
                let mut p = Problem::new(a.offset, format!("`{}` has no argument `{}`", call.name, a.name));
                p = match close.first() {
                    Some(c) => p.hint(format!("did you mean `{c}`? ({} takes: {})", call.name, possible.join(", "))),
                    None => p.hint(format!("{} takes: {}", call.name, possible.join(", "))),
                };
                if def.rest_param().is_none() {
                    out.push(p);
                }
                continue;
            };
            if let Some(t) = d.arg_type() {
                use tera::ComponentArgType as T;
                let fits = match (t, a.kind) {
                    (_, ArgKind::Expression) => true,
                    (T::String, k) => k == ArgKind::String,
                    (T::Bool, k) => k == ArgKind::Bool,
                    (T::Integer, k) => k == ArgKind::Integer,
                    (T::Float | T::Number, k) => matches!(k, ArgKind::Integer | ArgKind::Float),
                    (T::Array, k) => k == ArgKind::Array,
                    (T::Map, k) => k == ArgKind::Map,
                    _ => true,
                };
                if !fits {
                    let how = match t {
                        T::String => format!("{}=\"…\"", a.name),
                        T::Bool => format!("{}={{true}} or {}={{false}}", a.name, a.name),
                        T::Integer => format!("{}={{3}}", a.name),
                        T::Float | T::Number => format!("{}={{1.5}}", a.name),
                        T::Array => format!("{}={{[…]}}", a.name),
                        _ => format!("{}={{…}}", a.name),
                    };
                    out.push(
                        Problem::new(a.offset, format!("`{}` of `{}` must be {}, not {}", a.name, call.name, type_name(t), a.kind.name()))
                            .hint(format!("write {how}")),
                    );
                }
            }
        }
        for d in args.iter().filter(|d| d.is_required() && !d.is_implicit()) {
            if !call.args.iter().any(|a| a.name == d.name()) {
                out.push(
                    Problem::new(call.tag.start + 3, format!("`{}` needs the argument `{}`", call.name, d.name()))
                        .hint(format!("add {}=\"…\"", d.name())),
                );
            }
        }
    }
    out
}

/// What is allowed but worth a word to the editor: a `video` without captions (deaf and
/// hard-of-hearing visitors, and anyone watching without sound, get nothing of its words).
/// Only where the `video` component takes `captions` (a site's own may not), and not when
/// `require_captions` is on: then the component itself fails the build.
pub fn warnings(defs: &Definitions, calls: &[Call], require_captions: bool) -> Vec<Problem> {
    if require_captions {
        return Vec::new();
    }
    let takes_captions =
        |name: &str| defs.get(name).is_some_and(|def| def.args().iter().any(|a| a.name() == "captions"));
    calls
        .iter()
        .filter(|c| c.name == "video" && !c.args.iter().any(|a| a.name == "captions") && takes_captions(c.name))
        .map(|c| {
            Problem::new(c.tag.start + 3, "`video` has no captions".to_string()).hint(
                "add captions=\"….vtt\" (a WebVTT file of what is said); `[extra.components] require_captions = true` in config.toml makes this an error",
            )
        })
        .collect()
}

/// The built-in components whose arguments name media files this build can check: the
/// theme's `video` (`src`, `poster`, `captions`) and `figure` (`src`; a JPEG or PNG goes
/// through the image pipeline, which checks it itself).
const MEDIA_ARGS: [(&str, &[&str]); 2] = [("video", &["src", "poster", "captions"]), ("figure", &["src"])];

/// Whether calls of component `name` may name media files ([`missing_media`] looks at them).
pub fn names_media(name: &str) -> bool {
    MEDIA_ARGS.iter().any(|(n, _)| *n == name)
}

/// The files a body's media arguments may name.
pub struct MediaFiles<'a> {
    /// The page's bundle files (beside its `index.md`); `None` for a body that has no folder
    /// (a page `x.md`, a section).
    pub bundle: Option<&'a [std::path::PathBuf]>,
    /// The bundle's folder as shown to editors (`content/venues/x/`).
    pub bundle_dir: String,
    /// How to give a body without a folder one (for the hint).
    pub no_folder_hint: String,
    /// Whether `static/` (the site's or the theme's) has the file at this path (no leading `/`).
    pub in_static: &'a dyn Fn(&str) -> bool,
    /// Components a site defines itself, whose arguments mean what that site says: not checked.
    pub site_own: &'a [String],
}

/// Local media files the calls name that are not there (a broken `<video>` or `<img>` on the
/// built page otherwise): one problem per argument, at the argument. Full URLs
/// (`https://…`) are not checked; neither are values Tera computes.
pub fn missing_media(calls: &[Call], files: &MediaFiles<'_>) -> Vec<Problem> {
    let mut out = Vec::new();
    for call in calls {
        let Some((_, names)) = MEDIA_ARGS.iter().find(|(n, _)| *n == call.name) else { continue };
        if files.site_own.iter().any(|n| *n == call.name) {
            continue;
        }
        for a in call.args.iter().filter(|a| names.contains(&a.name)) {
            let Some(src) = a.value.as_ref().and_then(Literal::as_str) else { continue };
            let path = src.split(['?', '#']).next().unwrap_or("");
            if path.is_empty() || src.contains("://") || src.starts_with("//") || src.starts_with("data:") {
                continue;
            }
            if call.name == "figure" {
                let ext = path.rsplit('.').next().unwrap_or("").to_lowercase();
                if ["jpg", "jpeg", "png", "heic", "heif", "tif", "tiff", "bmp"].contains(&ext.as_str()) {
                    continue;
                }
            }
            let what = format!("`{}` {}=\"{src}\"", call.name, a.name);
            // As the browser asks for it: `%E5%9B%BE.svg` is `图.svg`.
            let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok().filter(|d| d != path);
            if let Some(in_static) = path.strip_prefix('/') {
                let found = (files.in_static)(in_static)
                    || decoded.as_deref().and_then(|d| d.strip_prefix('/')).is_some_and(|d| (files.in_static)(d));
                if !found {
                    out.push(Problem::new(a.offset, format!("{what}: no such file in static/")).hint(format!(
                        "put the file at static/{in_static}, or fix the path (a path starting with / is a file of static/)"
                    )));
                }
                continue;
            }
            let name = path.strip_prefix("./").unwrap_or(path);
            match files.bundle {
                Some(bundle) => {
                    let beside = |name: &str| {
                        !name.contains(['/', '\\']) && bundle.iter().any(|f| f.file_name().is_some_and(|n| n.to_string_lossy() == name))
                    };
                    let found = beside(name) || decoded.as_deref().is_some_and(|d| beside(d.strip_prefix("./").unwrap_or(d)));
                    if !found {
                        out.push(Problem::new(a.offset, format!("{what}: no such file beside the page")).hint(format!(
                            "put `{name}` in {} (beside index.md, not in a subfolder), fix the name, or write a path of static/ starting with /",
                            files.bundle_dir
                        )));
                    }
                }
                None => out.push(
                    Problem::new(a.offset, format!("{what}: this page is not a folder, so no file can be beside it"))
                        .hint(files.no_folder_hint.clone()),
                ),
            }
        }
    }
    out
}

/// The names of the components a template's text defines (`{% component name(…) %}`).
pub fn defined_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("{%") {
        let rest = text[i + 2..].trim_start_matches('-').trim_start();
        if let Some(def) = rest.strip_prefix("component") {
            let name: String = def.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.').collect();
            if !name.is_empty() && def.starts_with(char::is_whitespace) {
                out.push(name);
            }
        }
    }
    out
}

/// The names among `candidates` an editor may have meant by `wanted`, closest first.
pub fn close_names<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = candidates
        .map(|c| (strsim::damerau_levenshtein(wanted, c), c))
        .filter(|(d, c)| *d <= 2.max(c.chars().count() / 3) && *d < c.chars().count())
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, c)| c.to_string()).collect()
}

fn sorted(names: &[&str]) -> String {
    let mut v: Vec<&str> = names.to_vec();
    v.sort_unstable();
    v.join(", ")
}

fn type_name(t: tera::ComponentArgType) -> &'static str {
    use tera::ComponentArgType as T;
    match t {
        T::String => "text in quotes",
        T::Bool => "true or false",
        T::Integer => "a whole number",
        T::Float | T::Number => "a number",
        T::Array => "a list",
        T::Map => "a map",
        _ => "a value",
    }
}

/// Where one body's calls go in its Markdown until their HTML takes their place: a private-use
/// character, a mark, the call's number, another private-use character — all of which
/// Markdown keeps as text.
///
/// Text in the body must not be taken for a placeholder. A body that cannot put U+E000 into
/// its HTML at all (it has none, and no `&#` that could write one as a character reference)
/// cannot write a placeholder either, and gets a fixed mark: nearly every body. Any other body
/// gets a mark made from a hash of its whole text, so that writing a placeholder changes the
/// text and so the mark (the same body always gets the same mark, so the output stays the
/// same from build to build). Hashing every body instead was a tenth of what components cost.
/// (Besides the body's text, the HTML has only the addresses its `@/` links and processed
/// images resolve to: paths of the site's own files, which no editor writes a placeholder
/// into by accident.)
pub struct Placeholders {
    mark: Cow<'static, str>,
}

/// The mark of a body that cannot write U+E000: the character alone (the shorter a
/// placeholder, the less Markdown has to read).
const FIXED_MARK: &str = "\u{E000}";

impl Placeholders {
    pub fn for_body(text: &str) -> Self {
        if !may_write_mark_start(text) {
            return Placeholders { mark: Cow::Borrowed(FIXED_MARK) };
        }
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        let first = h.finish();
        "kepu placeholder".hash(&mut h);
        Placeholders { mark: Cow::Owned(format!("\u{E000}{first:016x}{:016x}:", h.finish())) }
    }

    /// Placeholder for call `k`.
    pub fn placeholder(&self, k: usize) -> String {
        let mut out = String::new();
        self.push_placeholder(&mut out, k);
        out
    }

    /// [`Placeholders::placeholder`], appended to `out`.
    pub fn push_placeholder(&self, out: &mut String, k: usize) {
        out.push_str(&self.mark);
        out.push_str(itoa::Buffer::new().format(k));
        out.push('\u{E001}');
    }

    /// Put each call's HTML where its placeholder is: a placeholder alone in a paragraph takes
    /// the paragraph's place (a component is a block), one inside text stays inline. Anything
    /// else (private-use characters of the text) stays as it is.
    pub fn substitute(&self, html: &str, rendered: &[String]) -> String {
        let mark = self.mark.as_bytes();
        // (Each placeholder is looked for once: the text before the first is most of a page.)
        let mut found = find_mark(html.as_bytes(), mark);
        if found.is_none() {
            return html.to_string();
        }
        let mut out = String::with_capacity(html.len() + rendered.iter().map(String::len).sum::<usize>());
        let mut rest = html;
        while let Some(pos) = found {
            let after = &rest[pos + mark.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            match (after[..digits].parse::<usize>(), after[digits..].strip_prefix('\u{E001}')) {
                (Ok(k), Some(tail)) => {
                    let before = &rest[..pos];
                    let html_k = rendered.get(k).map_or("", String::as_str);
                    if before.ends_with("<p>") && tail.starts_with("</p>") {
                        out.push_str(&before[..before.len() - 3]);
                        out.push_str(html_k.trim_end());
                        rest = &tail[4..];
                    } else {
                        out.push_str(before);
                        out.push_str(html_k.trim());
                        rest = tail;
                    }
                }
                _ => {
                    out.push_str(&rest[..pos + mark.len()]);
                    rest = after;
                }
            }
            found = find_mark(rest.as_bytes(), mark);
        }
        out.push_str(rest);
        out
    }
}

/// Whether Markdown of `text` may write U+E000, the first character of a mark: written as it
/// is, or as a numeric character reference (`&#57344;`, `&#xE000;`; no named one stands for
/// it).
fn may_write_mark_start(text: &str) -> bool {
    let bytes = text.as_bytes();
    let e000 = "\u{E000}".as_bytes();
    memchr::memchr2_iter(b'&', e000[0], bytes).any(|i| bytes[i..].starts_with(b"&#") || bytes[i..].starts_with(e000))
}

/// Where `mark` first is in `hay`. A mark starts with U+E000, a private-use character text
/// hardly has, so looking for its first byte and comparing there is quicker than a general
/// substring search, which would have to be prepared for every body.
fn find_mark(hay: &[u8], mark: &[u8]) -> Option<usize> {
    let first = *mark.first()?;
    let mut from = 0;
    while let Some(p) = memchr::memchr(first, &hay[from..]) {
        let at = from + p;
        if hay[at..].starts_with(mark) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The context a content component renders in: `page` (the page's listing value).
pub fn context(page: &Value) -> Context {
    let mut ctx = Context::new();
    ctx.insert_value("page", page.clone());
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`scan`] with the code the model finds in `text`.
    fn scan(text: &str) -> Result<Scan<'_>, Vec<Problem>> {
        super::scan(text, &crate::model::text::analyse(text).code)
    }

    #[test]
    fn a_tags_closers_are_trimmed_as_the_searches_trimmed_them() {
        for inside in ["<chart a=\"1\" /", "<chart a=\"1\" />", "<x/>/>", "<x>>", "<x/>>", "<x>/>", "<x", "", "/>", ">/>", "<a href=\"/>\" />"] {
            assert_eq!(trim_closers(inside), inside.trim_end_matches("/>").trim_end_matches('>'), "{inside:?}");
        }
        assert_eq!(trim_closers("<x />"), "<x ");
    }

    /// Editors type Chinese everywhere, typos included: no text, however cut, makes the
    /// scanner slice inside a character (it once did after `{{ ` with a Chinese name).
    #[test]
    fn chinese_anywhere_in_a_call_is_an_error_or_text_never_a_panic() {
        let samples = [
            "{{ ‹小贴士 /> }}",
            "{{ <小贴士 /> }}",
            "{{ <notice 类型=\"注意\" /> }}",
            "{{ <x {...甲} /> }}",
            "{% <notice kind=\"注意\"> %}正文{% </notice> %}",
            "{% raw %}{% 中 %}{{ 文 }}{% endraw %}",
            "{{ <ref title=\"河南省科技馆\" 说明 /> }}{% <notice kind='温馨提示'> %}甲{% </通知> %}",
        ];
        for sample in samples {
            let mut cuts: Vec<usize> = sample.char_indices().map(|(i, _)| i).collect();
            cuts.push(sample.len());
            for &end in &cuts {
                for &start in cuts.iter().filter(|&&s| s <= end) {
                    let text = &sample[start..end];
                    let _ = std::panic::catch_unwind(|| scan(text))
                        .unwrap_or_else(|_| panic!("scan panicked on {text:?}"));
                }
            }
        }
    }

    #[test]
    fn finds_calls_skips_code_and_raw() {
        let body = "前\n\n{{ <video src=\"a.mp4\" title=\"演示\" n={3} /> }}\n\n`{{ <x /> }}`\n\n```\n{% <notice> %}\n```\n\n{% raw %}{{ <y /> }}{% endraw %}\n\n{% <notice kind=\"注意\"> %}\n正文 **粗**\n{% </notice> %}\n";
        let s = scan(body).unwrap();
        let names: Vec<&str> = s.calls.iter().map(|c| c.name).collect();
        assert_eq!(names, ["video", "notice"]);
        assert_eq!(s.calls[0].args.iter().map(|a| (a.name, a.kind)).collect::<Vec<_>>(), [
            ("src", ArgKind::String),
            ("title", ArgKind::String),
            ("n", ArgKind::Integer)
        ]);
        let b = s.calls[1].body.clone().unwrap();
        assert_eq!(body[b].trim(), "正文 **粗**");
        assert_eq!(s.raws.len(), 1);
        assert_eq!(&body[s.raws[0].1.clone()], "{{ <y /> }}");
    }

    #[test]
    fn unclosed_and_mismatched_bodies_are_problems() {
        let e = scan("{% <notice> %}\n没有结束\n").unwrap_err();
        assert!(e[0].message.contains("is not closed"), "{e:?}");
        let e = scan("{% <a> %}{% <b> %}{% </a> %}{% </b> %}").unwrap_err();
        assert!(e[0].message.contains("closes `b`"), "{e:?}");
        let e = scan("{{ <video src=\"a\" }}").unwrap_err();
        assert!(e[0].message.contains("must end with `/>`"), "{e:?}");
        assert!(!has_calls("纯文本，没有模板语法 { 单个括号 }"));
        assert!(has_calls("a {{ <x /> }}"));
    }

    #[test]
    fn code_spans_and_blocks_of_every_kind_are_never_templated() {
        let code = "# 标题\n\n`{{ <x /> }}` {{ <ref title=\"甲\" /> }}\n";
        assert_eq!(scan(code).unwrap().calls.len(), 1);
        let indented = "正文\n\n    {{ <x /> }}\n\n{{ <ref title=\"甲\" /> }}\n";
        assert_eq!(scan(indented).unwrap().calls.len(), 1);
        let fenced = "~~~\n{% <notice> %}\n~~~\n\n- 列表\n\n  ```\n  {{ <x /> }}\n  ```\n\n{{ <ref title=\"甲\" /> }}\n";
        let s = scan(fenced).unwrap();
        assert_eq!(s.calls.iter().map(|c| c.name).collect::<Vec<_>>(), ["ref"]);
        // Without the model's code ranges, the same text is all calls.
        assert_eq!(super::scan("`{{ <x /> }}`", &[]).unwrap().calls.len(), 1);
    }

    #[test]
    fn private_use_characters_in_the_text_stay_as_they_are() {
        let marks = Placeholders::for_body("正文");
        let html = format!("<p>\u{E000}甲\u{E001} \u{E000}x\u{E001} {}</p>\n", marks.placeholder(0));
        assert_eq!(marks.substitute(&html, &["<b>乙</b>".into()]), "<p>\u{E000}甲\u{E001} \u{E000}x\u{E001} <b>乙</b></p>\n");
        assert_eq!(marks.placeholder(3), Placeholders::for_body("正文").placeholder(3), "the same text, the same marks");
    }

    #[test]
    fn a_body_that_can_write_a_placeholder_gets_a_mark_of_its_own() {
        let plain = Placeholders::for_body("正文").placeholder(0);
        // Written as it is, or as a character reference that Markdown turns into it.
        for text in [format!("伪造{plain}"), "伪造&#xE000;0&#xE001;".to_string(), "伪造&#57344;0&#57345;".to_string()] {
            let marks = Placeholders::for_body(&text);
            let own = marks.placeholder(0);
            assert_ne!(own, plain, "{text}");
            let html = format!("<p>{plain}{own}</p>\n");
            assert_eq!(marks.substitute(&html, &["<b>乙</b>".into()]), format!("<p>{plain}<b>乙</b></p>\n"), "{text}");
            assert_eq!(own, Placeholders::for_body(&text).placeholder(0), "the same text, the same marks");
        }
        // Another `&` is no reason to hash.
        assert_eq!(Placeholders::for_body("甲 & 乙 &amp; 丙").placeholder(0), plain);
    }

    #[test]
    fn literals_are_read_as_tera_reads_them_or_left_to_tera() {
        let v = literal_value(r#"[{"label": "郑州", "value": 12}, {'label': `洛阳`, "value": -1.5}]"#).unwrap();
        assert_eq!(v.to_string(), r#"[{"label": "郑州", "value": 12}, {"label": "洛阳", "value": -1.5}]"#);
        assert_eq!(literal_value("\"温馨提示\""), Some(Value::from("温馨提示")));
        assert_eq!(literal_value(" true "), Some(Value::from(true)));
        assert_eq!(literal_value("3"), Some(Value::from(3i64)));
        assert_eq!(literal_value("[]"), Some(Value::from(Vec::<Value>::new())));
        for expression in ["page", "page.title", "1 + 2", "[1, 2,]", "{\"a\": 1, \"a\": 2}", "\"a\\qb\"", "\"a\\\"", "1.", "1e5", "True", "none", "[1 2]", "\"x\" ~ \"y\""] {
            assert_eq!(literal_value(expression), None, "{expression}");
        }
        let s = scan("{{ <chart title=\"甲\" data={[{\"label\": \"a\", \"value\": 1}]} /> }} {{ <ref title={page.title} /> }} {{ <x a=\"1\" a=\"2\" /> }} {{ <y {...rest} /> }}").unwrap();
        assert_eq!(s.calls.iter().map(|c| c.literal).collect::<Vec<_>>(), [true, false, false, false]);
    }

    /// A literal map's keys are checked for repeats by sorting once it is long: a map of tens
    /// of thousands of entries (hostile or generated) is not compared pair by pair.
    #[test]
    fn a_long_map_with_a_repeated_key_is_left_to_tera_like_a_short_one() {
        let entries: Vec<String> = (0..20_000).map(|k| format!("\"k{k}\": {k}")).collect();
        let map = format!("{{{}}}", entries.join(", "));
        assert!(matches!(Literal::parse(&map), Some(Literal::Map(e)) if e.len() == 20_000));
        let repeated = format!("{{{}, \"k7\": 0}}", entries.join(", "));
        assert_eq!(Literal::parse(&repeated), None);
        assert_eq!(Literal::parse("{\"a\": 1, \"b\": 2, \"a\": 3}"), None);
    }

    #[test]
    fn a_quote_after_a_backslash_does_not_close_the_text() {
        let s = scan(r#"{{ <notice kind="a\"b" title='it\'s }} here' /> }} after"#).unwrap();
        assert_eq!(s.calls.len(), 1);
        let c = &s.calls[0];
        assert_eq!(c.range.end, s.calls[0].range.start + r#"{{ <notice kind="a\"b" title='it\'s }} here' /> }}"#.len());
        let values: Vec<_> = c.args.iter().map(|a| (a.name, a.kind, a.value.as_ref().map(Literal::to_value))).collect();
        assert_eq!(
            values,
            [("kind", ArgKind::String, Some(Value::from("a\"b"))), ("title", ArgKind::String, Some(Value::from("it's }} here")))]
        );
        assert!(c.literal);
        assert_eq!(literal_kind(r#""a\"b""#), ArgKind::String);
        assert_eq!(literal_kind(r#""a\""#), ArgKind::Expression);
    }

    #[test]
    fn the_literal_fast_path_reads_strings_exactly_as_tera_does() {
        let tera = Tera::default();
        for literal in [r#""a\"b""#, r#"'it\'s'"#, r#"`x\"y`"#, r#""a\\b""#, r#""1\/2""#, r#""line\nnext\ttab\rcr""#, r#""中\"文""#, r#""plain""#] {
            let by_tera = tera.render_str(&format!("{{{{ {literal} }}}}"), &Context::new(), false).unwrap();
            assert_eq!(literal_value(literal), Some(Value::from(by_tera.as_str())), "{literal}");
        }
        // What Tera refuses is not read here either (Tera reports it).
        for literal in [r#""a\qb""#, r#""\u00e9""#, r#"`x\`y`"#] {
            assert!(tera.render_str(&format!("{{{{ {literal} }}}}"), &Context::new(), false).is_err(), "{literal}");
            assert_eq!(literal_value(literal), None, "{literal}");
        }
    }

    #[test]
    fn placeholders_take_the_place_of_their_paragraph() {
        let marks = Placeholders::for_body("");
        let html = format!("<p>{}</p>\n<p>文字{}文字</p>\n", marks.placeholder(0), marks.placeholder(1));
        let out = marks.substitute(&html, &["<aside>甲</aside>\n".into(), "<b>乙</b>".into()]);
        assert_eq!(out, "<aside>甲</aside>\n<p>文字<b>乙</b>文字</p>\n");
    }
}
