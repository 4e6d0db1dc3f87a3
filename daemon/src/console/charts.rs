//! Charts drawn on the server as inline SVG: no script, no outside asset, readable without
//! JavaScript. Each chart is an image with a title and a description for screen readers
//! (`role="img"`, `aria-labelledby`), and its numbers follow it in a table, so nothing is
//! told by the picture alone. Colours are SVG attributes, not styles: the
//! Content-Security-Policy allows no inline style.

use maud::{Markup, html};

/// Bar colour of the first series (the stylesheet's accent).
pub const BLUE: &str = "#0b4f9c";
/// Bar colour of the second series (the stylesheet's warning colour).
pub const AMBER: &str = "#7a5200";
/// The colour of free seats.
const GREY: &str = "#c8c8c8";

/// Width of the drawing area of every chart, in SVG units (scaled to the page).
const WIDTH: f64 = 720.0;

/// A vertical bar chart of one value per day, oldest left; `labels` are the x labels
/// shown under some of the bars (the first, every 15th, the last).
pub fn per_day(
    id: &str,
    title: &str,
    desc: &str,
    colour: &str,
    values: &[(String, u64)],
) -> Markup {
    let (height, left, bottom, top) = (180.0, 44.0, 28.0, 10.0);
    let n = values.len().max(1) as f64;
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - left - 8.0;
    let plot_h = height - bottom - top;
    let step = plot_w / n;
    let bar_w = (step * 0.8).max(1.0);
    html! {
        figure {
            svg viewBox={ "0 0 " (WIDTH) " " (height) } width="100%" role="img"
                aria-labelledby={ (id) "-title " (id) "-desc" } {
                title id={ (id) "-title" } { (title) }
                desc id={ (id) "-desc" } { (desc) }
                line x1=(left) y1=(top + plot_h) x2=(WIDTH - 8.0) y2=(top + plot_h) stroke="#767676" {}
                text x=(left - 6.0) y=(top + 10.0) text-anchor="end" { (max) }
                text x=(left - 6.0) y=(top + plot_h) text-anchor="end" { "0" }
                @for (i, (label, v)) in values.iter().enumerate() {
                    @let h = plot_h * (*v as f64) / (max as f64);
                    @let x = left + step * i as f64 + (step - bar_w) / 2.0;
                    rect x=(fmt(x)) y=(fmt(top + plot_h - h)) width=(fmt(bar_w)) height=(fmt(h)) fill=(colour) {
                        title { (label) ": " (v) }
                    }
                    @if i + 1 == values.len() {
                        text x=(fmt(x + bar_w)) y=(height - 8.0) text-anchor="end" { (label) }
                    } @else if i == 0 {
                        text x=(fmt(x)) y=(height - 8.0) { (label) }
                    } @else if i % 15 == 0 && i + 8 < values.len() {
                        text x=(fmt(x + bar_w / 2.0)) y=(height - 8.0) text-anchor="middle" { (label) }
                    }
                }
            }
        }
    }
}

/// A horizontal bar chart, one labelled bar a row.
pub fn rows(id: &str, title: &str, desc: &str, colour: &str, values: &[(String, u64)]) -> Markup {
    let (row_h, label_w) = (26.0, 300.0);
    let height = row_h * values.len().max(1) as f64 + 8.0;
    let max = values.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let plot_w = WIDTH - label_w - 60.0;
    html! {
        figure {
            svg viewBox={ "0 0 " (WIDTH) " " (fmt(height)) } width="100%" role="img"
                aria-labelledby={ (id) "-title " (id) "-desc" } {
                title id={ (id) "-title" } { (title) }
                desc id={ (id) "-desc" } { (desc) }
                @for (i, (label, v)) in values.iter().enumerate() {
                    @let y = 4.0 + row_h * i as f64;
                    @let w = plot_w * (*v as f64) / (max as f64);
                    text x=(label_w - 8.0) y=(fmt(y + 16.0)) text-anchor="end" { (label) }
                    rect x=(label_w) y=(fmt(y + 3.0)) width=(fmt(w.max(1.0))) height=(row_h - 8.0) fill=(colour) {}
                    text x=(fmt(label_w + w + 6.0)) y=(fmt(y + 16.0)) { (v) }
                }
            }
        }
    }
}

/// One bar split into seats in use and free, with the numbers written on it.
pub fn seats(id: &str, used: u64, total: u64) -> Markup {
    let free = total.saturating_sub(used);
    let share = if total == 0 {
        0.0
    } else {
        used as f64 / total as f64
    };
    let (left, bar_w) = (8.0, WIDTH - 16.0);
    let used_w = bar_w * share;
    let percent = (share * 100.0).round() as u64;
    html! {
        figure {
            svg viewBox={ "0 0 " (WIDTH) " 70" } width="100%" role="img"
                aria-labelledby={ (id) "-title " (id) "-desc" } {
                title id={ (id) "-title" } { "Seats in use and free" }
                desc id={ (id) "-desc" } { (used) " of " (total) " seats in use (" (percent) " %), " (free) " free." }
                rect x=(left) y="8" width=(fmt(bar_w)) height="30" fill=(GREY) {}
                rect x=(left) y="8" width=(fmt(used_w)) height="30" fill=(BLUE) {}
                text x=(left) y="58" { "In use: " (used) " (" (percent) " %)" }
                text x=(WIDTH - 8.0) y="58" text-anchor="end" { "Free: " (free) }
            }
        }
    }
}

/// A number for an SVG attribute: one decimal is plenty.
fn fmt(v: f64) -> String {
    format!("{:.1}", v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_image_with_a_title_and_a_description_and_no_style() {
        let svg = per_day(
            "act",
            "Activations per day",
            "90 days",
            BLUE,
            &[("01-01".into(), 3), ("01-02".into(), 0)],
        )
        .into_string();
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"aria-labelledby="act-title act-desc""#));
        assert!(svg.contains("<title id=\"act-title\">Activations per day</title>"));
        assert!(!svg.contains("style="), "the CSP forbids inline style");
        let seats = seats("s", 3, 4).into_string();
        assert!(seats.contains("3 of 4 seats in use (75 %), 1 free."));
    }
}
