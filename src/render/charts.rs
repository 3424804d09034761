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

const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 56.0;

/// Format a number without trailing zeros (13.21, 100, 0.5).
pub fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" { "0".into() } else { s.to_string() }
}

/// Draw `chart` (the `index`-th on its page, for unique ids).
pub fn render(chart: &Chart, index: usize) -> RenderedChart {
    let id = format!("chart-{}", index + 1);
    let max_data = chart.points.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    let max = nice_max(max_data.max(chart.target.unwrap_or(0.0)));
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y = |v: f64| TOP + plot_h - (v / max) * plot_h;
    let n = chart.points.len().max(1) as f64;
    let slot = plot_w / n;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);

    let mut svg = String::new();
    let desc: Vec<String> =
        chart.points.iter().map(|p| format!("{}：{}{}", p.label, number(p.value), chart.unit)).collect();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape_html(&chart.title),
        escape_html(&desc.join("；"))
    );
    // Grid lines and axis labels: 4 steps.
    for step in 0..=4 {
        let v = max * step as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            LEFT - 8.0,
            yy + 5.0,
            escape_html(&number(v))
        );
    }
    match chart.kind {
        ChartKind::Bar => {
            let bw = (slot * 0.6).min(72.0);
            for (i, p) in chart.points.iter().enumerate() {
                let top = y(p.value);
                let _ = write!(
                    svg,
                    r#"<rect class="bar" x="{:.1}" y="{top:.1}" width="{bw:.1}" height="{:.1}"/><text class="value" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    x(i) - bw / 2.0,
                    (TOP + plot_h - top).max(0.0),
                    x(i),
                    top - 6.0,
                    escape_html(&number(p.value))
                );
            }
        }
        ChartKind::Line => {
            let pts: Vec<String> =
                chart.points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.value))).collect();
            let _ = write!(svg, r#"<polyline class="line" fill="none" points="{}"/>"#, pts.join(" "));
            for (i, p) in chart.points.iter().enumerate() {
                let _ = write!(
                    svg,
                    r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="5"/><text class="value" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    x(i),
                    y(p.value),
                    x(i),
                    y(p.value) - 10.0,
                    escape_html(&number(p.value))
                );
            }
        }
    }
    if let Some(t) = chart.target {
        let yy = y(t);
        let label = chart.target_label.clone().unwrap_or_else(|| "目标".into());
        let _ = write!(
            svg,
            r#"<line class="target" x1="{LEFT}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="target-label" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - RIGHT,
            W - RIGHT,
            yy - 6.0,
            escape_html(&format!("{label} {}{}", number(t), chart.unit))
        );
    }
    for (i, p) in chart.points.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text class="label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(i),
            H - BOTTOM + 24.0,
            escape_html(&p.label)
        );
    }
    svg.push_str("</svg>");
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
        assert!(r.svg.contains("13.21"));
        assert_eq!(r.rows.len(), 2);
        assert_eq!(nice_max(13.21), 20.0);
        assert_eq!(number(15.0), "15");
    }
}
