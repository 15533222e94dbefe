//! Charts with plotters, each drawn once onto SVG and once onto PNG. The PNG text uses DejaVu Sans
//! compiled into the binary, so charts render on a fresh machine without font packages.
//!
//! Constants and what every chart shares (the font, the files, the legend, SVG titles) here;
//! the figures in [`bars`] and [`lines`], one function per figure (data in, drawing area out), as
//! criterion's own plotters backend does.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
/// Size of every chart, pixels.
pub(crate) const SIZE: (u32, u32) = (960, 560);
const FONT: &str = "sans-serif";
/// The knee's cross: a dark red that none of the lines' colours is.
const KNEE: RGBColor = RGBColor(170, 20, 40);
const TITLE_SIZE: u32 = 20;
const LABEL_SIZE: u32 = 16;
/// One colour per series, in legend order (colour-blind-safe Okabe–Ito palette).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(213, 94, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (once per process). plotters is
/// built with `ab_glyph`, which knows no system fonts, so anything in the process that lays out
/// text with plotters (our charts, criterion's HTML report) needs this first.
pub fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws `name` into `dir` as `<name>.svg` and `<name>.png` with the same drawing function. Each
/// file is drawn under a temporary name and renamed into place, so a failure never leaves a
/// truncated chart under the final name.
macro_rules! render {
    ($dir:expr, $name:expr, |$root:ident| $draw:expr) => {{
        register_font();
        let svg: PathBuf = $dir.join(format!("{}.svg", $name));
        let png: PathBuf = $dir.join(format!("{}.png", $name));
        // The PNG backend picks its encoder from the extension, so the temporary name keeps it.
        let svg_tmp: PathBuf = $dir.join(format!(".{}.tmp.svg", $name));
        let png_tmp: PathBuf = $dir.join(format!(".{}.tmp.png", $name));
        // Whatever ends the drawing (a full disk, a second signal), no temporary file stays.
        crate::stats::temp::remove_on_abort(&svg_tmp);
        crate::stats::temp::remove_on_abort(&png_tmp);
        let _cleanup = RemoveOnDrop([svg_tmp.clone(), png_tmp.clone()]);
        // Every failure names the chart's file (a full disk fails on a file, not a folder).
        {
            let area = SVGBackend::new(&svg_tmp, SIZE).into_drawing_area();
            let $root = &area;
            let drawn: Result<(), String> = (|| {
                $draw?;
                area.present().map_err(err)
            })();
            drawn.map_err(named(&svg))?;
        }
        {
            let area = BitMapBackend::new(&png_tmp, SIZE).into_drawing_area();
            let $root = &area;
            let drawn: Result<(), String> = (|| {
                $draw?;
                area.present().map_err(err)
            })();
            drawn.map_err(named(&png))?;
        }
        std::fs::rename(&svg_tmp, &svg)
            .map_err(err)
            .map_err(named(&svg))?;
        std::fs::rename(&png_tmp, &png)
            .map_err(err)
            .map_err(named(&png))?;
        Ok::<Vec<PathBuf>, String>(vec![svg, png])
    }};
}

/// An error message prefixed with the file it is about.
fn named(path: &Path) -> impl Fn(String) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Removes its files when dropped, if they are still there (a chart's temporary files, once it
/// was renamed into place or failed).
struct RemoveOnDrop([PathBuf; 2]);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Width of the legend panel beside the plot, pixels: the legend never covers data.
const LEGEND_W: u32 = 230;

/// The decimals a y axis needs for values up to `max`.
fn decimals(max: f64) -> usize {
    if max >= 50.0 {
        0
    } else if max >= 5.0 {
        1
    } else {
        2
    }
}

/// The top of a y axis for values up to `max`: a little headroom, and 1 when everything is zero
/// (so the axis reads 0 … 1, not eleven ticks of 0.0).
fn y_top(max: f64) -> f64 {
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

/// A value as printed above a bar.
fn format_value(v: f64) -> String {
    if !v.is_finite() {
        // Not measured (a run with no success has no latency): said, never drawn as 0.
        "none".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// What one legend entry shows.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A filled box (bars).
    Box(RGBColor),
    /// A line with a dot (lines).
    Line(RGBColor),
    /// A ring (the recommended points).
    Ring,
    /// A cross (the knees).
    Cross,
}

/// Draws the legend in its own panel, one entry a row, labels wrapped to the panel's width.
/// A chart's frame: the area filled white, the title across the whole width, and below it the
/// plot and the legend's own panel.
#[allow(clippy::type_complexity)]
fn framed<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(DrawingArea<DB, Shift>, DrawingArea<DB, Shift>), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let body = root.titled(title, (FONT, TITLE_SIZE)).map_err(err)?;
    Ok(body.split_horizontally(SIZE.0 - LEGEND_W))
}

/// A legend's layouts, roomiest first: (first row, line pitch, gap between entries, font
/// size), in pixels. The last serves when none fits.
const LEGEND_LAYOUTS: [(i32, i32, i32, u32); 3] = [
    (60, 18, 10, LABEL_SIZE),
    (20, 18, 4, LABEL_SIZE),
    (16, 14, 2, LABEL_SIZE - 3),
];

fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Swatch)],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    // Wrap long labels (a combined chart's run names) at about 24 characters.
    let wrapped: Vec<Vec<String>> = entries
        .iter()
        .map(|(label, _)| {
            let mut line = String::new();
            let mut lines = Vec::new();
            for word in label.split_inclusive(['/', ' ', '-']) {
                if line.chars().count() + word.chars().count() > 24 && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line.push_str(word);
            }
            lines.push(line);
            lines
        })
        .collect();
    // The roomiest layout that fits the panel (a panel of a stacked chart is half as high).
    let height = i32::try_from(area.dim_in_pixel().1).unwrap_or(i32::MAX);
    let lines: i32 = wrapped.iter().map(|l| l.len() as i32).sum();
    let n = wrapped.len() as i32;
    let (first, pitch, gap, size) = LEGEND_LAYOUTS
        .into_iter()
        .find(|(first, pitch, gap, _)| first + pitch * lines + gap * n <= height)
        .unwrap_or(LEGEND_LAYOUTS[LEGEND_LAYOUTS.len() - 1]);
    let mut y = first;
    for ((_, swatch), lines) in entries.iter().zip(&wrapped) {
        match swatch {
            Swatch::Box(c) => area.draw(&Rectangle::new([(8, y - 6), (22, y + 6)], c.filled())),
            Swatch::Line(c) => area
                .draw(&PathElement::new(vec![(4, y), (26, y)], c.stroke_width(2)))
                .and_then(|_| area.draw(&Circle::new((15, y), 3, c.filled()))),
            Swatch::Ring => area.draw(&Circle::new((15, y), 7, BLACK.stroke_width(2))),
            Swatch::Cross => area.draw(&Cross::new((15, y), 6, KNEE.stroke_width(2))),
        }
        .map_err(err)?;
        for (k, l) in lines.iter().enumerate() {
            area.draw(&Text::new(
                l.clone(),
                (32, y - pitch / 2 + 1 + pitch * k as i32),
                (FONT, size).into_font(),
            ))
            .map_err(err)?;
        }
        y += pitch * lines.len() as i32 + gap;
    }
    Ok(())
}

/// Rewrites the SVG of a chart just drawn (`files[0]`, as `render!` lists them) through `edit`.
fn rewrite_svg(files: &[PathBuf], edit: impl FnOnce(&str) -> String) -> Result<(), String> {
    let svg = &files[0];
    let text = std::fs::read_to_string(svg).map_err(err).map_err(named(svg))?;
    std::fs::write(svg, edit(&text)).map_err(err).map_err(named(svg))
}

/// `svg` with `titles[k]` inside its k-th data-point dot (a `<circle … r="3"/>`, drawn line by
/// line, point by point, before the legend's), so that hovering a point shows its value.
fn titled(svg: &str, titles: &[String]) -> String {
    titled_elements(svg, titles, "circle", |e| e.contains(r#" r="3""#))
}

/// `svg` with `titles[k]` inside the k-th self-closed `<tag …/>` element that `is_data` accepts,
/// in drawing order; elements past the titles (a legend's swatches) are left alone.
fn titled_elements(svg: &str, titles: &[String], tag: &str, is_data: impl Fn(&str) -> bool) -> String {
    let open = format!("<{tag} ");
    let mut out = String::with_capacity(svg.len() + titles.iter().map(|t| t.len() + 24).sum::<usize>());
    let mut rest = svg;
    let mut k = 0;
    while let Some(i) = rest.find(&open) {
        let Some(e) = rest[i..].find("/>").map(|e| i + e) else {
            break;
        };
        let element = &rest[i..e];
        match titles.get(k) {
            Some(t) if is_data(element) => {
                out.push_str(&rest[..e]);
                out.push_str("><title>");
                out.push_str(&crate::output::html::escape(t));
                out.push_str("</title></");
                out.push_str(tag);
                out.push('>');
                k += 1;
            }
            _ => out.push_str(&rest[..e + 2]),
        }
        rest = &rest[e + 2..];
    }
    out.push_str(rest);
    out
}

mod bars;
mod lines;

pub(crate) use bars::*;
pub(crate) use lines::*;

#[cfg(test)]
mod tests {
    use super::*;

    /// A value not measured (NaN) is said as "none" over its missing bar, never as a number.
    #[test]
    fn a_value_not_measured_reads_none() {
        assert_eq!(format_value(f64::NAN), "none");
        assert_eq!(format_value(0.0), "0.00");
        assert_eq!(format_value(123.4), "123");
    }

    /// Each data-point dot gets its title in order; larger rings and the legend's dots past the
    /// titles are left alone; text is escaped.
    #[test]
    fn each_point_gets_its_title() {
        let svg = r#"<svg><circle cx="1" r="3"/><circle cx="2" r="9"/><circle cx="3" r="3"/><circle cx="4" r="3"/></svg>"#;
        let out = titled(svg, &["a: 1 → 2".to_owned(), "b<c".to_owned()]);
        assert_eq!(
            out,
            r#"<svg><circle cx="1" r="3"><title>a: 1 → 2</title></circle><circle cx="2" r="9"/><circle cx="3" r="3"><title>b&lt;c</title></circle><circle cx="4" r="3"/></svg>"#
        );
    }

    /// criterion's report lays out `FontFamily::SansSerif` text; with the font registered it can.
    #[test]
    fn the_registered_font_serves_plain_sans_serif_text() {
        register_font();
        let font =
            plotters::style::FontDesc::new(plotters::style::FontFamily::SansSerif, 20.0, FontStyle::Normal);
        let (w, h) = font.box_size("article/async/10").expect("font available");
        assert!(w > 50 && h > 5, "{w}×{h}");
    }

    /// Every bar carries its group, series and value as a title (the legend's swatches none);
    /// values sit above the bars when they fit, and are left off when they would run together.
    #[test]
    fn bars_get_titles_and_values_only_where_they_fit() {
        let dir = tempfile::tempdir().unwrap();
        let group = |label: &str, a: f64, b: f64| BarGroup {
            label: label.into(),
            values: vec![a, b],
        };
        let few = [group("async", 101.5, 120.25), group("threadpool", 102.0, 131.0)];
        let files = bars(dir.path(), "few", "t", "latency (ms)", &["p50", "p99"], &few).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(svg.matches("<title>").count(), 4, "{svg}");
        for t in [
            "async · p50: 101.5 latency (ms)",
            "threadpool · p99: 131 latency (ms)",
        ] {
            assert!(svg.contains(&format!("<title>{t}</title></rect>")), "{t}: {svg}");
        }
        assert!(svg.contains(">\n131\n</text>"), "values not drawn: {svg}");
        // Thirty runs side by side: 60 bars too narrow for their values.
        let many: Vec<BarGroup> = (0..30)
            .map(|i| group(&format!("run{i}"), 1234.4, 2345.6))
            .collect();
        let files = bars(dir.path(), "many", "t", "latency (ms)", &["p50", "p99"], &many).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        assert_eq!(svg.matches("<title>").count(), 60);
        assert!(
            !svg.contains("\n1234\n") && !svg.contains("\n2346\n"),
            "values drawn: {svg}"
        );
    }
}
