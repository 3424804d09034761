//! Charts drawn to inline SVG at build time: no chart JavaScript, readable without scripts,
//! always paired with a data table for screen readers.

use std::fmt::Write;

use serde::Serialize;

use super::markdown::escape_html;
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

/// An `f64` that `{:.N}` (N ≤ 3) writes without the standard library's general
/// exact-formatting path, which was most of the time of drawing a chart; byte for byte what
/// the standard library writes (the tests compare them). Other formats are `f64`'s own.
#[derive(Clone, Copy)]
struct Fx(f64);

impl std::fmt::Display for Fx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fast = match f.precision() {
            Some(p) if p <= 3 && f.width().is_none() && !f.sign_plus() => fixed(self.0, p as u32),
            _ => None,
        };
        match fast {
            Some((negative, digits, decimals)) => write_fixed(f, negative, digits, decimals),
            None => std::fmt::Display::fmt(&self.0, f),
        }
    }
}

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
    let floor = r.floor();
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

fn write_fixed(out: &mut impl std::fmt::Write, negative: bool, digits: u64, decimals: u32) -> std::fmt::Result {
    let scale = 10u64.pow(decimals);
    if negative {
        out.write_char('-')?;
    }
    write!(out, "{}", digits / scale)?;
    if decimals > 0 {
        write!(out, ".{:0width$}", digits % scale, width = decimals as usize)?;
    }
    Ok(())
}

/// Format a number without trailing zeros (13.21, 100, 0.5).
pub fn number(v: f64) -> String {
    let mut s = String::new();
    let _ = write_number(&mut s, v);
    s
}

/// [`number`], written to `out` (no HTML-special characters: safe in markup as it is).
fn write_number(out: &mut impl std::fmt::Write, v: f64) -> std::fmt::Result {
    let Some((negative, digits, _)) = fixed(v, 2) else {
        return out.write_str(&number_by_format(v));
    };
    // What `number_by_format` makes of `{:.2}`: no trailing zeros, no `.` alone, no `-0`.
    if negative && digits != 0 {
        out.write_char('-')?;
    }
    let (whole, hundredths) = (digits / 100, digits % 100);
    match hundredths {
        0 => write!(out, "{whole}"),
        h if h % 10 == 0 => write!(out, "{whole}.{}", h / 10),
        h => write!(out, "{whole}.{h:02}"),
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
        let n = self.0;
        let (v, unit) = if n.abs() >= 1e8 { (n / 1e8, "亿") } else if n.abs() >= 1e4 { (n / 1e4, "万") } else { (n, "") };
        write_number(f, v)?;
        f.write_str(unit)
    }
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
    let html_id = escape_html(&id);
    let n = chart.points.len().max(1);
    let longest = chart.points.iter().map(|p| p.label.chars().count()).max().unwrap_or(0);
    let horizontal = chart.kind == ChartKind::Bar && (longest * 14 > (W - LEFT - RIGHT) as usize / n || n > 6);
    let mut desc = String::new();
    for (i, p) in chart.points.iter().enumerate() {
        if i > 0 {
            desc.push('；');
        }
        desc.push_str(&p.label);
        desc.push('：');
        let _ = write_number(&mut desc, p.value);
        desc.push_str(&chart.unit);
    }
    let max_data = chart.points.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    let max = nice_max(max_data.max(chart.target.unwrap_or(0.0)));
    let body = if horizontal { horizontal_bars(chart, max) } else { vertical(chart, max) };
    let svg = format!(
        r#"<svg class="chart{}" viewBox="0 0 {W} {:.0}" role="img" aria-labelledby="{html_id}-title {html_id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{html_id}-title">{}</title><desc id="{html_id}-desc">{}</desc>{}</svg>"#,
        if horizontal { " chart-h" } else { "" },
        Fx(body.1),
        escape_html(&chart.title),
        escape_html(&desc),
        body.0
    );
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

/// Split a label into lines of at most [`LINE_CHARS`] characters.
fn wrap(label: &str) -> Vec<String> {
    let chars: Vec<char> = label.chars().collect();
    chars.chunks(LINE_CHARS).map(|c| c.iter().collect()).collect()
}

/// One row per point: the label on its own line(s), the bar below with its value. Returns
/// the markup and the drawing's height.
fn horizontal_bars(chart: &Chart, max: f64) -> (String, f64) {
    let mut svg = String::new();
    let bar_max = W - 8.0 - 96.0;
    let mut y = 8.0;
    for p in &chart.points {
        for line in wrap(&p.label) {
            y += 22.0;
            let _ = write!(svg, r#"<text class="label" x="0" y="{y:.1}">{}</text>"#, escape_html(&line), y = Fx(y));
        }
        y += 8.0;
        let w = (p.value / max * bar_max).max(2.0);
        let _ = write!(
            svg,
            r#"<rect class="bar" x="0" y="{y:.1}" width="{w:.1}" height="{:.1}"/><text class="value" x="{:.1}" y="{:.1}">{}</text>"#,
            Fx(ROW - 8.0),
            Fx(w + 8.0),
            Fx(y + ROW - 14.0),
            escape_html(&format!("{}{}", compact(p.value), chart.unit)),
            y = Fx(y),
            w = Fx(w),
        );
        y += ROW + 6.0;
    }
    if let Some(t) = chart.target {
        let x = t / max * bar_max;
        let label = chart.target_label.clone().unwrap_or_else(|| "目标".into());
        let _ = write!(
            svg,
            r#"<line class="target" x1="{x:.1}" x2="{x:.1}" y1="8" y2="{y:.1}"/><text class="target-label" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            Fx(y + 20.0),
            escape_html(&format!("{label} {}{}", number(t), chart.unit)),
            x = Fx(x),
            y = Fx(y),
        );
        y += 28.0;
    }
    (svg, y + 4.0)
}

/// Bars or a line over short labels (years), with a value axis and an optional target line.
fn vertical(chart: &Chart, max: f64) -> (String, f64) {
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h - (v / max) * plot_h;
    let n = chart.points.len().max(1) as f64;
    let slot = plot_w / n;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let mut svg = String::new();
    for step in 0..=4 {
        let v = max * step as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 6.0,
            Fx(yy + 5.0),
            Compact(v),
            yy = Fx(yy),
        );
    }
    match chart.kind {
        ChartKind::Bar => {
            let bw = (slot * 0.6).min(56.0);
            for (i, p) in chart.points.iter().enumerate() {
                let top = y(p.value);
                let _ = write!(
                    svg,
                    r#"<rect class="bar" x="{:.1}" y="{top:.1}" width="{bw:.1}" height="{:.1}"/><text class="value" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    Fx(x(i) - bw / 2.0),
                    Fx((TOP + plot_h - top).max(0.0)),
                    Fx(x(i)),
                    Fx(top - 6.0),
                    Compact(p.value),
                    top = Fx(top),
                    bw = Fx(bw),
                );
            }
        }
        ChartKind::Line => {
            let pts: Vec<String> =
                chart.points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", Fx(x(i)), Fx(y(p.value)))).collect();
            let _ = write!(svg, r#"<polyline class="line" fill="none" points="{}"/>"#, pts.join(" "));
            for (i, p) in chart.points.iter().enumerate() {
                let _ = write!(
                    svg,
                    r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="5"/><text class="value" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    Fx(x(i)),
                    Fx(y(p.value)),
                    Fx(x(i)),
                    Fx(y(p.value) + 26.0),
                    Compact(p.value)
                );
            }
        }
    }
    if let Some(t) = chart.target {
        let yy = y(t);
        let label = chart.target_label.clone().unwrap_or_else(|| "目标".into());
        // The target's label sits above the plot, left-aligned, clear of the values.
        let _ = write!(
            svg,
            r#"<line class="target" x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="target-label" x="{LEFT}" y="{:.1}">{}</text>"#,
            W - RIGHT,
            Fx((yy - 8.0).max(16.0)),
            escape_html(&format!("{label} {}{}", number(t), chart.unit)),
            yy = Fx(yy),
        );
    }
    for (i, p) in chart.points.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            Fx(x(i)),
            Fx(H - BOTTOM + 24.0),
            escape_html(&p.label)
        );
    }
    (svg, H)
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
    fn fixed_decimals_are_the_standard_librarys() {
        let check = |v: f64| {
            for p in 0..=3 {
                let ours = match p {
                    0 => format!("{:.0}", Fx(v)),
                    1 => format!("{:.1}", Fx(v)),
                    2 => format!("{:.2}", Fx(v)),
                    _ => format!("{:.3}", Fx(v)),
                };
                let std = match p {
                    0 => format!("{v:.0}"),
                    1 => format!("{v:.1}"),
                    2 => format!("{v:.2}"),
                    _ => format!("{v:.3}"),
                };
                assert_eq!(ours, std, "{v:e} to {p} places");
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
