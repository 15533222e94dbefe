//! Charts with plotters, each drawn once onto SVG and once onto PNG. The PNG text uses DejaVu Sans
//! compiled into the binary, so charts render on a fresh machine without font packages.
//!
//! Constants first, then one function per figure (data in, drawing area out), as criterion's own
//! plotters backend does.

use std::path::{Path, PathBuf};
use std::sync::Once;

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::hgrm::{TICKS_PER_HALF_DISTANCE, percentile_rows};

/// Size of every chart, pixels.
pub const SIZE: (u32, u32) = (960, 560);
const FONT: &str = "sans-serif";
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
        {
            let area = SVGBackend::new(&svg_tmp, SIZE).into_drawing_area();
            let $root = &area;
            $draw?;
            area.present().map_err(err)?;
        }
        {
            let area = BitMapBackend::new(&png_tmp, SIZE).into_drawing_area();
            let $root = &area;
            $draw?;
            area.present().map_err(err)?;
        }
        std::fs::rename(&svg_tmp, &svg).map_err(err)?;
        std::fs::rename(&png_tmp, &png).map_err(err)?;
        Ok::<Vec<PathBuf>, String>(vec![svg, png])
    }};
}

/// One bar group: a label and its values (one per bar series).
#[derive(Debug, Clone)]
pub struct BarGroup {
    /// Label under the group (a strategy id).
    pub label: String,
    /// One value per series.
    pub values: Vec<f64>,
}

/// Grouped bars, e.g. throughput and goodput per strategy.
pub fn bars(
    dir: &Path,
    name: &str,
    title: &str,
    y_desc: &str,
    series: &[&str],
    groups: &[BarGroup],
) -> Result<Vec<PathBuf>, String> {
    render!(dir, name, |root| draw_bars(root, title, y_desc, series, groups))
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    series: &[&str],
    groups: &[BarGroup],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let max = groups
        .iter()
        .flat_map(|g| g.values.iter().copied())
        .fold(0.0f64, f64::max);
    let n = groups.len().max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(20)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..(max * 1.15).max(1e-9))
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len().max(1))
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                groups
                    .get(i as usize)
                    .map(|g| g.label.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(err)?;
    let k = series.len().max(1) as f64;
    let width = 0.8 / k;
    for (si, s) in series.iter().enumerate() {
        let c = color(si);
        let rects = groups.iter().enumerate().filter_map(|(gi, g)| {
            let v = *g.values.get(si)?;
            let x0 = gi as f64 - 0.4 + si as f64 * width;
            Some(Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], c.filled()))
        });
        chart
            .draw_series(rects)
            .map_err(err)?
            .label(*s)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
        // The value above each bar, so the chart reads without the table.
        let labels = groups.iter().enumerate().filter_map(|(gi, g)| {
            let v = *g.values.get(si)?;
            let x = gi as f64 - 0.4 + (si as f64 + 0.46) * width;
            Some(Text::new(
                format_value(v),
                (x, v),
                (FONT, 13)
                    .into_font()
                    .color(&BLACK)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Bottom,
                    )),
            ))
        });
        chart.draw_series(labels).map_err(err)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// The legend box every chart uses.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, LABEL_SIZE))
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(err)
}

fn format_value(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A named line of (x, y) points.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend entry.
    pub name: String,
    /// Points, in x order.
    pub points: Vec<(f64, f64)>,
}

/// The points of a latency percentile spectrum: x = 1/(1−p) (log axis), y = milliseconds.
pub fn spectrum_points(h: &Histogram<u64>, unit_ratio: f64) -> Vec<(f64, f64)> {
    // The same rows as the `.hgrm`, so the chart and the file agree point for point.
    percentile_rows(h, TICKS_PER_HALF_DISTANCE)
        .into_iter()
        .filter(|r| r.percentile < 100.0)
        .map(|r| (1.0 / (1.0 - r.percentile / 100.0), r.value as f64 / unit_ratio))
        .collect()
}

/// Latency against percentile on HdrHistogram's log axis (50 %, 90 %, 99 %, 99.9 %, 99.99 %).
pub fn spectrum(dir: &Path, name: &str, title: &str, lines: &[Line]) -> Result<Vec<PathBuf>, String> {
    render!(dir, name, |root| draw_spectrum(root, title, lines))
}

fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 1.0 / x);
    if p < 0.5 {
        return "0%".into();
    }
    // 90, 99, 99.9, 99.99 …: four decimals, trailing zeros trimmed.
    let s = format!("{p:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

fn draw_spectrum<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    lines: &[Line],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let ymax = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    // Up to the next power of ten past the data: 99 % for 100 samples, 99.99 % for 10 000.
    let xmax_data = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .fold(10.0f64, f64::max);
    let xmax = 10f64.powf(xmax_data.log10().ceil()).max(100.0);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_SIZE))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d((1f64..xmax).log_scale(), 0f64..(ymax * 1.1).max(1e-6))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|x| percentile_label(*x))
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(err)?;
    draw_lines(&mut chart, lines)?;
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn draw_lines<DB: DrawingBackend, X: plotters::coord::ranged1d::Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    lines: &[Line],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    for (i, l) in lines.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(l.points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(l.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(l.points.iter().map(|p| Circle::new(*p, 3, c.filled())))
            .map_err(err)?;
    }
    Ok(())
}

/// A y-against-x line chart (throughput or p99 against concurrency, batch size, rate…).
pub fn xy(
    dir: &Path,
    name: &str,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    log_x: bool,
    lines: &[Line],
) -> Result<Vec<PathBuf>, String> {
    render!(dir, name, |root| draw_xy(
        root, title, x_desc, y_desc, log_x, lines
    ))
}

fn draw_xy<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    log_x: bool,
    lines: &[Line],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let pts = || lines.iter().flat_map(|l| l.points.iter());
    let (xmin, xmax) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let ymax = pts().map(|p| p.1).fold(0.0f64, f64::max);
    let (xmin, xmax) = if xmin > xmax { (1.0, 10.0) } else { (xmin, xmax) };
    let y_range = 0f64..(ymax * 1.15).max(1e-6);
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FONT, TITLE_SIZE))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80);
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .label_style((FONT, LABEL_SIZE))
                .axis_desc_style((FONT, LABEL_SIZE))
                .draw()
                .map_err(err)?;
            draw_lines(&mut chart, lines)?;
            legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        }};
    }
    if log_x && xmin > 0.0 {
        finish!(
            builder
                .build_cartesian_2d((xmin * 0.8..xmax * 1.25).log_scale(), y_range)
                .map_err(err)?
        );
    } else {
        let pad = ((xmax - xmin) * 0.05).max(0.5);
        finish!(
            builder
                .build_cartesian_2d(xmin - pad..xmax + pad, y_range)
                .map_err(err)?
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// criterion's report lays out `FontFamily::SansSerif` text; with the font registered it can.
    #[test]
    fn the_registered_font_serves_plain_sans_serif_text() {
        register_font();
        let font =
            plotters::style::FontDesc::new(plotters::style::FontFamily::SansSerif, 20.0, FontStyle::Normal);
        let (w, h) = font.box_size("article/async/10").expect("font available");
        assert!(w > 50 && h > 5, "{w}×{h}");
    }

    #[test]
    fn percentile_labels_read_like_hdrhistogram_plots() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(10_000.0), "99.99%");
    }
}
