//! Charts drawn to inline SVG at build time: no chart JavaScript, readable without scripts,
//! always paired with a data table for screen readers.

use std::fmt::Write;

use serde::Serialize;

use super::markdown::{escape_html, push_escaped};
use crate::model::portal::{Chart, ChartKind};

/// A chart ready for a template: the SVG markup plus the rows of its table.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedChart {
    pub id: String,
    pub title: String,
    pub unit: String,
    pub svg: String,
    pub rows: Vec<ChartRow>,
    pub target: Option<String>,
    pub target_label: Option<String>,
}

/// One row of the table next to a chart.
#[derive(Debug, Clone, Serialize)]
pub struct ChartRow {
    pub label: String,
    pub value: String,
}

const W: f64 = 400.0;
const H: f64 = 250.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;
/// Characters of a label that fit one line of a horizontal bar chart.
const LINE_CHARS: usize = 18;
const ROW: f64 = 30.0;

/// The drawing's fixed numbers as written into it (`{:.0}` and `{:.1}` of the constants
/// above; a test checks each), rather than formatted again for every chart.
const W_TEXT: &str = "400";
const LEFT_TEXT: &str = "52";
/// `W - RIGHT`
const PLOT_RIGHT_TEXT: &str = "388";
/// `LEFT - 6`: where the axis values end.
const AXIS_X_TEXT: &str = "46";
/// `H - BOTTOM + 24`, to one decimal: the line of the labels under the bars.
const LABEL_Y_TEXT: &str = "234.0";

/// `v` rounded to `decimals` places as the standard library rounds it (the exact binary
/// value, ties to even): (sign, the rounded value times 10^decimals, decimals). `None` where
/// this shortcut does not apply (not finite, or too large).
fn fixed(v: f64, decimals: u32) -> Option<(bool, u64, u32)> {
    if !v.is_finite() {
        return None;
    }
    let a = v.abs();
    let scale = [1.0, 10.0, 100.0, 1000.0][decimals as usize];
    let r = a * scale;
    // Below 2^52, `r - floor(r)` is exact and a multiple of r's last place.
    if r >= 4.0e15 {
        return None;
    }
    // The product's rounding error, exactly: a × scale = r + err.
    let err = a.mul_add(scale, -r);
    // `r` is not negative and below 2^52: truncating is flooring, and exact.
    let floor = r as u64 as f64;
    // Exact (Sterbenz) where it matters, when the fraction is near one half; a nonzero `d` is
    // at least one last place of `r`, more than |err|, so its sign is the exact value's.
    let d = (r - floor) - 0.5;
    let up = if d != 0.0 {
        d > 0.0
    } else if err != 0.0 {
        err > 0.0
    } else {
        floor % 2.0 == 1.0
    };
    Some((v.is_sign_negative(), floor as u64 + u64::from(up), decimals))
}

/// `digits` / 10^`decimals` with exactly `decimals` places, `-` first when `negative`: the
/// text `{:.N}` gives for [`fixed`]'s result, written without the formatting machinery (a
/// chart writes dozens of numbers): the digits written once, the point put between them.
fn write_fixed(out: &mut impl std::fmt::Write, negative: bool, digits: u64, decimals: u32) -> std::fmt::Result {
    if negative {
        out.write_char('-')?;
    }
    let mut text = itoa::Buffer::new();
    if decimals == 1 {
        // Most of a drawing's numbers (`{:.1}`): the whole part, the point, the one digit.
        out.write_str(text.format(digits / 10))?;
        out.write_char('.')?;
        return out.write_char(char::from(b'0' + (digits % 10) as u8));
    }
    let all = text.format(digits);
    let places = decimals as usize;
    if places == 0 {
        return out.write_str(all);
    }
    match all.len().checked_sub(places).filter(|&whole| whole > 0) {
        Some(whole) => {
            out.write_str(&all[..whole])?;
            out.write_char('.')?;
            out.write_str(&all[whole..])
        }
        // Below one: `0.`, then the zeros the digits leave out (0.05 is `5` at two places).
        None => {
            out.write_str("0.")?;
            for _ in all.len()..places {
                out.write_char('0')?;
            }
            out.write_str(all)
        }
    }
}

/// Format a number without trailing zeros (13.21, 100, 0.5).
pub fn number(v: f64) -> String {
    let mut s = String::new();
    let _ = write_number(&mut s, v);
    s
}

/// [`number`] appended to `out` (no HTML-special characters: safe in markup as it is).
pub fn push_number(out: &mut String, v: f64) {
    let _ = write_number(out, v);
}

/// [`number`], written to `out` (no HTML-special characters: safe in markup as it is).
fn write_number(out: &mut impl std::fmt::Write, v: f64) -> std::fmt::Result {
    let Some((negative, digits, _)) = fixed(v, 2) else {
        return out.write_str(&number_by_format(v));
    };
    // What `number_by_format` makes of `{:.2}`: no trailing zeros, no `.` alone, no `-0`.
    match digits % 100 {
        0 => write_fixed(out, negative && digits != 0, digits / 100, 0),
        h if h % 10 == 0 => write_fixed(out, negative, digits / 10, 1),
        _ => write_fixed(out, negative, digits, 2),
    }
}

/// [`number`] through `{:.2}`, trimmed: for what [`fixed`] does not take (and the tests).
fn number_by_format(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" { "0".into() } else { s.to_string() }
}

/// A number the Chinese way, short enough for an axis: 11000 → `1.1万`, 125000000 → `1.25亿`.
pub fn compact(n: f64) -> String {
    Compact(n).to_string()
}

/// [`compact`] as a `Display`, to write it straight into markup (it has no HTML-special
/// characters).
struct Compact(f64);

impl std::fmt::Display for Compact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_compact(f, self.0)
    }
}

fn write_compact(out: &mut impl std::fmt::Write, n: f64) -> std::fmt::Result {
    let (v, unit) = if n.abs() >= 1e8 { (n / 1e8, "亿") } else if n.abs() >= 1e4 { (n / 1e4, "万") } else { (n, "") };
    write_number(out, v)?;
    out.write_str(unit)
}

/// Draw `chart` (the `index`-th on its page, for unique ids). Bar charts whose labels would
/// not fit under the bars are drawn horizontally, one labelled row per bar, so nothing
/// overlaps and text stays readable on a phone.
pub fn render(chart: &Chart, index: usize) -> RenderedChart {
    render_with_id(chart, format!("chart-{}", index + 1))
}

/// [`render`] with the given element `id` (the `chart` template function's, which names the
/// chart itself), written into the SVG's ids as it is drawn.
pub fn render_with_id(chart: &Chart, id: String) -> RenderedChart {
    let mut svg = String::new();
    push_svg(&mut svg, chart, &id);
    RenderedChart {
        id,
        title: chart.title.clone(),
        unit: chart.unit.clone(),
        svg,
        rows: chart.points.iter().map(|p| ChartRow { label: p.label.clone(), value: number(p.value) }).collect(),
        target: chart.target.map(number),
        target_label: chart.target_label.clone(),
    }
}

/// The SVG of [`render_with_id`], appended to `out`: the theme's `chart` component, written in
/// Rust (`render::builtin`), puts it straight into its figure, without a [`RenderedChart`]
/// and its copies of the chart's text.
pub fn push_svg(out: &mut String, chart: &Chart, id: &str) {
    let html_id = escape_html(id);
    let n = chart.points.len().max(1);
    let longest = chart.points.iter().map(|p| p.label.chars().count()).max().unwrap_or(0);
    let horizontal = chart.kind == ChartKind::Bar && (longest * 14 > (W - LEFT - RIGHT) as usize / n || n > 6);
    let max_data = chart.points.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    let max = nice_max(max_data.max(chart.target.unwrap_or(0.0)));
    // A horizontal chart's height is known once its rows are drawn: they are drawn first, into
    // a buffer of their own. A vertical one's is fixed: drawn straight into `out`.
    let mut rows = String::new();
    let height = if horizontal {
        rows.reserve(1024 + 320 * chart.points.len());
        horizontal_bars(&mut Markup(&mut rows), chart, max)
    } else {
        H
    };
    // (The axis and grid alone take about 900 bytes, a point about 320.)
    out.reserve(1400 + 320 * chart.points.len() + 2 * (chart.title.len() + 2 * html_id.len()));
    let mut svg = Markup(out);
    svg.s(r#"<svg class="chart"#).s(if horizontal { " chart-h" } else { "" });
    svg.s(r#"" viewBox="0 0 "#).s(W_TEXT).s(" ").d0(height);
    svg.s(r#"" role="img" aria-labelledby=""#).s(&html_id).s("-title ").s(&html_id).s(r#"-desc" xmlns="http://www.w3.org/2000/svg">"#);
    svg.s(r#"<title id=""#).s(&html_id).s(r#"-title">"#).esc(&chart.title).s("</title>");
    // The text alternative: each point's label, value and unit.
    svg.s(r#"<desc id=""#).s(&html_id).s(r#"-desc">"#);
    for (i, p) in chart.points.iter().enumerate() {
        if i > 0 {
            svg.s("；");
        }
        svg.esc(&p.label).s("：").number(p.value).esc(&chart.unit);
    }
    svg.s("</desc>");
    if horizontal {
        svg.s(&rows);
    } else {
        vertical(&mut svg, chart, max);
    }
    svg.s("</svg>");
}

/// Markup written piece by piece: a chart writes dozens of numbers into its markup, and
/// `write!`'s formatting machinery was most of the time of drawing one. Numbers are written
/// byte for byte as `{:.0}` and `{:.1}` write them (the tests compare them).
struct Markup<'o>(&'o mut String);

impl Markup<'_> {
    /// Markup as it is.
    fn s(&mut self, markup: &str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Text, escaped.
    fn esc(&mut self, text: &str) -> &mut Self {
        push_escaped(&mut self.0, text);
        self
    }

    /// `v` as `{:.0}` writes it (for a whole number, as `{}` does).
    fn d0(&mut self, v: f64) -> &mut Self {
        push_fixed(&mut self.0, v, 0);
        self
    }

    /// `v` as `{:.1}` writes it.
    fn d1(&mut self, v: f64) -> &mut Self {
        push_fixed(&mut self.0, v, 1);
        self
    }

    /// `v` as [`compact`] writes it.
    fn compact(&mut self, v: f64) -> &mut Self {
        let _ = write_compact(&mut self.0, v);
        self
    }

    /// `v` as [`number`] writes it.
    fn number(&mut self, v: f64) -> &mut Self {
        let _ = write_number(&mut self.0, v);
        self
    }
}

/// `v` as `{:.N}` writes it (`decimals` = N ≤ 3), appended to `out`.
fn push_fixed(out: &mut String, v: f64, decimals: u32) {
    match fixed(v, decimals) {
        Some((negative, digits, decimals)) => {
            let _ = write_fixed(out, negative, digits, decimals);
        }
        None => {
            let _ = write!(out, "{v:.*}", decimals as usize);
        }
    }
}

/// Split a label into lines of at most [`LINE_CHARS`] characters.
fn wrap(label: &str) -> Vec<String> {
    let chars: Vec<char> = label.chars().collect();
    chars.chunks(LINE_CHARS).map(|c| c.iter().collect()).collect()
}

/// One row per point: the label on its own line(s), the bar below with its value. Writes
/// the markup and returns the drawing's height.
fn horizontal_bars(svg: &mut Markup<'_>, chart: &Chart, max: f64) -> f64 {
    let bar_max = W - 8.0 - 96.0;
    let mut y = 8.0;
    for p in &chart.points {
        for line in wrap(&p.label) {
            y += 22.0;
            svg.s(r#"<text class="label" x="0" y=""#).d1(y).s(r#"">"#).esc(&line).s("</text>");
        }
        y += 8.0;
        let w = (p.value / max * bar_max).max(2.0);
        svg.s(r#"<rect class="bar" x="0" y=""#).d1(y).s(r#"" width=""#).d1(w).s(r#"" height=""#).d1(ROW - 8.0).s(r#""/>"#);
        svg.s(r#"<text class="value" x=""#).d1(w + 8.0).s(r#"" y=""#).d1(y + ROW - 14.0).s(r#"">"#);
        svg.compact(p.value).esc(&chart.unit).s("</text>");
        y += ROW + 6.0;
    }
    if let Some(t) = chart.target {
        let x = t / max * bar_max;
        let label = chart.target_label.as_deref().unwrap_or("目标");
        svg.s(r#"<line class="target" x1=""#).d1(x).s(r#"" x2=""#).d1(x).s(r#"" y1="8" y2=""#).d1(y).s(r#""/>"#);
        svg.s(r#"<text class="target-label" x=""#).d1(x).s(r#"" y=""#).d1(y + 20.0).s(r#"" text-anchor="middle">"#);
        svg.esc(label).s(" ").number(t).esc(&chart.unit).s("</text>");
        y += 28.0;
    }
    y + 4.0
}

/// Bars or a line over short labels (years), with a value axis and an optional target line,
/// [`H`] high. Writes the markup.
fn vertical(svg: &mut Markup<'_>, chart: &Chart, max: f64) {
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h - (v / max) * plot_h;
    let n = chart.points.len().max(1) as f64;
    let slot = plot_w / n;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    for step in 0..=4 {
        let v = max * step as f64 / 4.0;
        let yy = y(v);
        svg.s(r#"<line class="grid" x1=""#).s(LEFT_TEXT).s(r#"" x2=""#).s(PLOT_RIGHT_TEXT).s(r#"" y1=""#).d1(yy).s(r#"" y2=""#).d1(yy).s(r#""/>"#);
        svg.s(r#"<text class="axis" x=""#).s(AXIS_X_TEXT).s(r#"" y=""#).d1(yy + 5.0).s(r#"" text-anchor="end">"#).compact(v).s("</text>");
    }
    match chart.kind {
        ChartKind::Bar => {
            let bw = (slot * 0.6).min(56.0);
            for (i, p) in chart.points.iter().enumerate() {
                let top = y(p.value);
                svg.s(r#"<rect class="bar" x=""#).d1(x(i) - bw / 2.0).s(r#"" y=""#).d1(top).s(r#"" width=""#).d1(bw);
                svg.s(r#"" height=""#).d1((TOP + plot_h - top).max(0.0)).s(r#""/>"#);
                svg.s(r#"<text class="value" x=""#).d1(x(i)).s(r#"" y=""#).d1(top - 6.0).s(r#"" text-anchor="middle">"#);
                svg.compact(p.value).s("</text>");
            }
        }
        ChartKind::Line => {
            svg.s(r#"<polyline class="line" fill="none" points=""#);
            for (i, p) in chart.points.iter().enumerate() {
                if i > 0 {
                    svg.s(" ");
                }
                svg.d1(x(i)).s(",").d1(y(p.value));
            }
            svg.s(r#""/>"#);
            for (i, p) in chart.points.iter().enumerate() {
                svg.s(r#"<circle class="dot" cx=""#).d1(x(i)).s(r#"" cy=""#).d1(y(p.value)).s(r#"" r="5"/>"#);
                svg.s(r#"<text class="value" x=""#).d1(x(i)).s(r#"" y=""#).d1(y(p.value) + 26.0).s(r#"" text-anchor="middle">"#);
                svg.compact(p.value).s("</text>");
            }
        }
    }
    if let Some(t) = chart.target {
        let yy = y(t);
        let label = chart.target_label.as_deref().unwrap_or("目标");
        // The target's label sits above the plot, left-aligned, clear of the values.
        svg.s(r#"<line class="target" x1=""#).s(LEFT_TEXT).s(r#"" x2=""#).s(PLOT_RIGHT_TEXT).s(r#"" y1=""#).d1(yy).s(r#"" y2=""#).d1(yy).s(r#""/>"#);
        svg.s(r#"<text class="target-label" x=""#).s(LEFT_TEXT).s(r#"" y=""#).d1((yy - 8.0).max(16.0)).s(r#"">"#);
        svg.esc(label).s(" ").number(t).esc(&chart.unit).s("</text>");
    }
    for (i, p) in chart.points.iter().enumerate() {
        svg.s(r#"<text class="label" x=""#).d1(x(i)).s(r#"" y=""#).s(LABEL_Y_TEXT).s(r#"" text-anchor="middle">"#);
        svg.esc(&p.label).s("</text>");
    }
}

/// A round upper bound for the axis (1, 2, 2.5, 5 × 10^n).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let exp = v.log10().floor();
    let base = 10f64.powf(exp);
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * base {
            return m * base;
        }
    }
    10.0 * base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::portal::ChartPoint;

    #[test]
    fn chart_has_title_desc_and_escaped_labels() {
        let c = Chart {
            title: "素质<比例>".into(),
            kind: ChartKind::Line,
            unit: "%".into(),
            target: Some(15.0),
            target_label: None,
            points: vec![ChartPoint { label: "2022".into(), value: 12.0 }, ChartPoint { label: "2023".into(), value: 13.21 }],
        };
        let r = render(&c, 0);
        assert!(r.svg.contains("<title id=\"chart-1-title\">素质&lt;比例&gt;</title>"));
        assert!(!r.svg.contains("chart-h"));
        assert!(r.svg.contains("13.21"));
        assert_eq!(r.rows.len(), 2);
        assert_eq!(nice_max(13.21), 20.0);
        assert_eq!(number(15.0), "15");
    }

    #[test]
    fn the_fixed_numbers_are_the_constants_written_out() {
        let text = |v: f64, decimals: u32| {
            let mut s = String::new();
            push_fixed(&mut s, v, decimals);
            s
        };
        assert_eq!(W_TEXT, text(W, 0));
        assert_eq!(LEFT_TEXT, text(LEFT, 0));
        assert_eq!(PLOT_RIGHT_TEXT, text(W - RIGHT, 0));
        assert_eq!(AXIS_X_TEXT, text(LEFT - 6.0, 0));
        assert_eq!(LABEL_Y_TEXT, text(H - BOTTOM + 24.0, 1));
    }

    #[test]
    fn fixed_decimals_are_the_standard_librarys() {
        let check = |v: f64| {
            for p in 0..=3 {
                let std = match p {
                    0 => format!("{v:.0}"),
                    1 => format!("{v:.1}"),
                    2 => format!("{v:.2}"),
                    _ => format!("{v:.3}"),
                };
                let mut ours = String::from("x");
                push_fixed(&mut ours, v, p);
                assert_eq!(ours, format!("x{std}"), "{v:e} to {p} places");
            }
            assert_eq!(number(v), number_by_format(v), "{v:e}");
            assert_eq!(number(-v), number_by_format(-v), "{v:e}");
        };
        // Ties and near-ties (k/2000 and its neighbours), signs, zeros, large and odd values.
        for k in -200_000i64..200_000 {
            let v = k as f64 / 2000.0;
            check(v);
            check(f64::from_bits(v.to_bits() + 1));
            check(f64::from_bits(v.to_bits().wrapping_sub(1)));
        }
        for v in [0.0, -0.0, 0.05, 0.15, 0.25, 0.35, 2.5, 1e15, 4.5e15, 1e300, 5e-324, f64::NAN, f64::INFINITY, -f64::INFINITY] {
            check(v);
        }
        // The values charts compute, over many maxima and values.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (x >> 11) as f64 / (1u64 << 53) as f64 * 10f64.powi((x % 12) as i32 - 3);
            check(v);
            check(28.0 + 182.0 - v / nice_max(v * 1.3) * 182.0);
        }
    }

    /// Every kind of drawing, byte for byte: the markup is written piece by piece for speed,
    /// and this keeps it what it was.
    #[test]
    fn every_kind_of_drawing_stays_byte_for_byte_the_same() {
        let point = |label: &str, value: f64| ChartPoint { label: label.into(), value };
        let chart = |kind, unit: &str, target: Option<f64>, target_label: Option<&str>, points: Vec<ChartPoint>| Chart {
            title: "标题 <&\"'>".into(),
            kind,
            unit: unit.into(),
            target,
            target_label: target_label.map(str::to_string),
            points,
        };
        let charts = [
            chart(ChartKind::Bar, "个", None, None, vec![point("信阳", 76.0), point("郑州", 32.0), point("安阳", 86.0)]),
            chart(ChartKind::Bar, "%", Some(15.5), None, vec![point("2021", 10.56), point("2022", 12.0), point("2023", 0.0), point("2024", 13.215)]),
            chart(ChartKind::Line, "万人", Some(3.0), Some("目标<值>"), vec![point("一", 0.5), point("二", 1.25), point("三", 2.999)]),
            chart(ChartKind::Bar, "元&", Some(250000000.0), Some("计划"), vec![point("加入掌上科技馆矩阵的科技馆加入掌上科技馆矩阵", 125000000.0), point("农村中学科技馆", 11000.0), point("<乡镇>", 3.0)]),
            chart(ChartKind::Bar, "", None, None, (1..=8).map(|k| point(&format!("第{k}"), k as f64 * 1234.5)).collect()),
            chart(ChartKind::Line, "", None, None, vec![point("甲", 0.0), point("乙", 0.0)]),
            chart(ChartKind::Bar, "", None, None, vec![point("负", -2.5), point("正", 7.0)]),
        ];
        let drawn: Vec<String> = charts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let r = render(c, i);
                let rows: Vec<String> = r.rows.iter().map(|row| format!("{}={}", row.label, row.value)).collect();
                format!("{}\n{} | {} | {:?} {:?}\n{}", r.svg, r.title, rows.join(" "), r.target, r.target_label, r.id)
            })
            .collect();
        insta::assert_snapshot!(drawn.join("\n\n"));
    }

    #[test]
    fn long_labels_make_a_horizontal_chart_with_wrapped_lines() {
        let c = Chart {
            title: "场馆".into(),
            kind: ChartKind::Bar,
            unit: "座".into(),
            target: None,
            target_label: None,
            points: vec![
                ChartPoint { label: "加入掌上科技馆矩阵的科技馆加入掌上科技馆矩阵".into(), value: 40.0 },
                ChartPoint { label: "农村中学科技馆".into(), value: 93.0 },
            ],
        };
        let r = render(&c, 1);
        assert!(r.svg.contains("chart-h") && r.svg.contains("chart-2-title"));
        assert_eq!(r.svg.matches("class=\"label\"").count(), 3, "the long label wraps onto two lines");
    }
}
