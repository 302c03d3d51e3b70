//! Bar charts as inline SVG, drawn on the server from the same published numbers as the table
//! beside them: no chart library and no script in the browser, so the strict CSP holds (colours
//! are SVG attributes, not style). A hidden count is never drawn as zero: its place is a
//! hatched gap marked with why it is hidden, and a real zero is a labelled "0" on the axis.

use crate::domain::disclosure::{Shown, Suppression};
use std::fmt::Write;

/// Colours that stay apart for common colour blindness (Okabe–Ito, darkened for contrast).
const PALETTE: [&str; 9] = [
    "#0b5c58", "#c75000", "#3a6fb0", "#8a5a00", "#a2286b", "#2f7d32", "#5a4fa3", "#6b6b6b",
    "#b22222",
];

const W: f64 = 640.0;
const H: f64 = 280.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 36.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The short mark on a hidden bar, and its reason in words.
pub fn hidden_mark(why: Suppression) -> (&'static str, &'static str) {
    match why {
        Suppression::SmallCount => ("<10", "minder dan 10, niet getoond (privacy)"),
        Suppression::Secondary => ("×", "verborgen om een klein getal te beschermen"),
    }
}

/// A step for the value axis that gives three to five lines.
fn nice_max(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = max as f64 / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0) as u64;
    let top = max.div_ceil(step) * step;
    (top, step)
}

/// Grouped bars: one group per entry of `groups` (half-years), one bar per series within it.
/// `values[g][s]` is the published value of series `s` in group `g`.
pub fn grouped_bars(
    id: &str,
    title: &str,
    desc: &str,
    groups: &[String],
    series: &[String],
    values: &[Vec<Shown>],
) -> String {
    let max = values
        .iter()
        .flatten()
        .filter_map(|v| v.value)
        .max()
        .unwrap_or(0);
    let (top, step) = nice_max(max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y = |v: u64| TOP + plot_h - (v as f64 / top as f64) * plot_h;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="kb-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-titel {id}-uitleg" focusable="false"><title id="{id}-titel">{}</title><desc id="{id}-uitleg">{}</desc>"#,
        esc(title),
        esc(desc)
    );
    let _ = write!(
        s,
        r##"<defs><pattern id="{id}-arcering" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a8a8a" stroke-width="2"/></pattern></defs>"##
    );
    // value axis with its lines
    let mut v = 0;
    while v <= top {
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#d5dddc" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#333">{v}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0
        );
        v += step;
    }
    let n_groups = groups.len().max(1) as f64;
    let group_w = plot_w / n_groups;
    let n_series = series.len().max(1) as f64;
    let bar_w = (group_w * 0.8 / n_series).max(2.0);
    for (g, label) in groups.iter().enumerate() {
        let gx = LEFT + g as f64 * group_w + group_w * 0.1;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#333">{}</text>"##,
            LEFT + g as f64 * group_w + group_w / 2.0,
            H - BOTTOM + 18.0,
            esc(label)
        );
        for (k, name) in series.iter().enumerate() {
            let x = gx + k as f64 * bar_w;
            let cell = values
                .get(g)
                .and_then(|row| row.get(k))
                .copied()
                .unwrap_or(Shown {
                    value: None,
                    suppressed: Some(Suppression::Secondary),
                });
            let colour = PALETTE[k % PALETTE.len()];
            match (cell.value, cell.suppressed) {
                (Some(0), _) => {
                    let _ = write!(
                        s,
                        r##"<g><title>{}, {}: 0</title><line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#333">0</text></g>"##,
                        esc(label),
                        esc(name),
                        TOP + plot_h,
                        x + bar_w - 1.0,
                        TOP + plot_h,
                        x + bar_w / 2.0,
                        TOP + plot_h - 4.0
                    );
                }
                (Some(value), _) => {
                    let yy = y(value);
                    let _ = write!(
                        s,
                        r##"<rect x="{x:.1}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}, {}: {value} (afgerond)</title></rect>"##,
                        (bar_w - 1.0).max(1.0),
                        TOP + plot_h - yy,
                        esc(label),
                        esc(name)
                    );
                }
                (None, why) => {
                    let (mark, reason) = hidden_mark(why.unwrap_or(Suppression::Secondary));
                    let _ = write!(
                        s,
                        r##"<g class="kb-chart__gap"><title>{}, {}: {reason}</title><rect x="{x:.1}" y="{TOP}" width="{:.1}" height="{plot_h:.1}" fill="url(#{id}-arcering)" stroke="#8a8a8a" stroke-dasharray="3 2"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="#1d1d1b">{}</text></g>"##,
                        esc(label),
                        esc(name),
                        (bar_w - 1.0).max(1.0),
                        x + bar_w / 2.0,
                        TOP - 6.0,
                        esc(mark)
                    );
                }
            }
        }
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333" stroke-width="1"/></svg>"##,
        TOP + plot_h,
        W - RIGHT,
        TOP + plot_h
    );
    s
}

/// The colour of series `k` (for the legend beside the chart).
pub fn colour(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(v: Option<u64>, why: Option<Suppression>) -> Shown {
        Shown {
            value: v,
            suppressed: why,
        }
    }

    #[test]
    fn a_hidden_count_is_a_marked_gap_never_a_zero() {
        let svg = grouped_bars(
            "c",
            "Aanvragen",
            "per halfjaar",
            &["1e helft 2026".into(), "2e helft 2026".into()],
            &["gewoon".into(), "met spoed".into()],
            &[
                vec![
                    shown(Some(20), None),
                    shown(None, Some(Suppression::SmallCount)),
                ],
                vec![
                    shown(Some(0), None),
                    shown(None, Some(Suppression::Secondary)),
                ],
            ],
        );
        assert!(svg.contains("<title id=\"c-titel\">Aanvragen</title>"));
        assert!(svg.contains("met spoed: minder dan 10, niet getoond (privacy)"));
        assert!(svg.contains("met spoed: verborgen om een klein getal te beschermen"));
        assert!(svg.contains("&lt;10"));
        assert!(svg.contains("gewoon: 20 (afgerond)"));
        assert!(svg.contains("gewoon: 0</title>"));
        // the hidden cells carry no number at all
        assert!(!svg.contains("met spoed: 0"));
        assert_eq!(svg.matches("kb-chart__gap").count(), 2);
    }

    #[test]
    fn the_axis_has_a_few_round_steps() {
        assert_eq!(nice_max(0), (1, 1));
        assert_eq!(nice_max(20), (20, 5));
        assert_eq!(nice_max(95), (100, 25));
        assert_eq!(nice_max(1234), (1500, 500));
    }
}
