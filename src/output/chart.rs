//! Charts with plotters, each drawn once onto SVG and once onto PNG. The PNG text uses DejaVu Sans
//! compiled into the binary, so charts render on a fresh machine without font packages.
//!
//! Constants first, then one function per figure (data in, drawing area out), as criterion's own
//! plotters backend does.

use std::path::{Path, PathBuf};
use std::sync::Once;

use hdrhistogram::Histogram;
use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::output::hgrm::{TICKS_PER_HALF_DISTANCE, percentile_rows};

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

/// One bar group: a label and its values (one per bar series).
#[derive(Debug, Clone)]
pub struct BarGroup {
    /// Label under the group (a strategy id).
    pub label: String,
    /// One value per series.
    pub values: Vec<f64>,
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
    if v >= 100.0 {
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
fn side_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Swatch)],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let mut y = 60i32;
    for (label, swatch) in entries {
        match swatch {
            Swatch::Box(c) => area.draw(&Rectangle::new([(8, y - 6), (22, y + 6)], c.filled())),
            Swatch::Line(c) => area
                .draw(&PathElement::new(vec![(4, y), (26, y)], c.stroke_width(2)))
                .and_then(|_| area.draw(&Circle::new((15, y), 3, c.filled()))),
            Swatch::Ring => area.draw(&Circle::new((15, y), 7, BLACK.stroke_width(2))),
            Swatch::Cross => area.draw(&Cross::new((15, y), 6, KNEE.stroke_width(2))),
        }
        .map_err(err)?;
        // Wrap long labels (a combined chart's run names) at about 24 characters.
        let mut line = String::new();
        let mut lines = Vec::new();
        for word in label.split_inclusive(['/', ' ', '-']) {
            if line.chars().count() + word.chars().count() > 24 && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            line.push_str(word);
        }
        lines.push(line);
        for (k, l) in lines.iter().enumerate() {
            area.draw(&Text::new(
                l.clone(),
                (32, y - 8 + 18 * k as i32),
                (FONT, LABEL_SIZE).into_font(),
            ))
            .map_err(err)?;
        }
        y += 18 * lines.len() as i32 + 10;
    }
    Ok(())
}

/// Grouped bars, e.g. throughput and goodput per strategy.
pub(crate) fn bars(
    dir: &Path,
    name: &str,
    title: &str,
    y_desc: &str,
    series: &[&str],
    groups: &[BarGroup],
) -> Result<Vec<PathBuf>, String> {
    let files = render!(dir, name, |root| draw_bars(
        root,
        title,
        (y_desc, None),
        series,
        groups
    ))?;
    title_bars(&files, series, groups, y_desc)?;
    Ok(files)
}

/// Two bar series on two y axes: the first against the left axis, the second against the right
/// (goodput and 429 answers per second, whose scales differ by orders of magnitude).
pub(crate) fn bars_dual(
    dir: &Path,
    name: &str,
    title: &str,
    y_descs: (&str, &str),
    series: [&str; 2],
    groups: &[BarGroup],
) -> Result<Vec<PathBuf>, String> {
    let files = render!(dir, name, |root| draw_bars(
        root,
        title,
        (y_descs.0, Some(y_descs.1)),
        &series,
        groups
    ))?;
    title_bars(&files, &series, groups, "")?;
    Ok(files)
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_descs: (&str, Option<&str>),
    series: &[&str],
    groups: &[BarGroup],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    // The title spans the whole width; below it, the plot and the legend's own panel.
    let body = root.titled(title, (FONT, TITLE_SIZE)).map_err(err)?;
    let (plot, side) = body.split_horizontally(SIZE.0 - LEGEND_W);
    let dual = y_descs.1.is_some();
    // With two axes, series 1 has its own scale.
    let left_max = if dual {
        group_max(groups, Some(0))
    } else {
        group_max(groups, None)
    };
    let right_max = group_max(groups, Some(1));
    let n = groups.len().max(1) as f64;
    let layout = label_layout(groups);
    let mut builder = ChartBuilder::on(&plot);
    builder
        .margin(20)
        .x_label_area_size(layout.x_area)
        .y_label_area_size(80);
    if dual {
        builder.right_y_label_area_size(80);
    }
    let mut chart = builder
        .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..y_top(left_max))
        .map_err(err)?
        .set_secondary_coord(-0.5f64..n - 0.5, 0f64..y_top(right_max));
    let tops = (y_top(left_max), y_top(right_max));
    bar_axes(&mut chart, groups, y_descs, tops, layout.rotate)?;
    if layout.rotate {
        let anchors: Vec<(i32, i32)> = (0..groups.len())
            .map(|gi| chart.backend_coord(&(gi as f64, 0.0)))
            .collect();
        draw_turned_labels(&plot, groups, &layout.widths, &anchors)?;
    }
    let width = 0.8 / series.len().max(1) as f64;
    // Values above the bars only when each fits over its bar; else they would run into their
    // neighbours' (the bars' titles still give them on hover).
    let slot_px = f64::from(chart.plotting_area().dim_in_pixel().0) / n * width;
    let fit = values_fit(groups, slot_px);
    let mut entries = Vec::new();
    for (si, s) in series.iter().enumerate() {
        let c = color(si);
        let (rects, mut labels) = series_bars(groups, si, width, c);
        if !fit {
            labels.clear();
        }
        if dual && si == 1 {
            chart.draw_secondary_series(rects).map_err(err)?;
            chart.draw_secondary_series(labels).map_err(err)?;
        } else {
            chart.draw_series(rects).map_err(err)?;
            chart.draw_series(labels).map_err(err)?;
        }
        let suffix = match (dual, si) {
            (true, 0) => " (left axis)",
            (true, _) => " (right axis)",
            _ => "",
        };
        entries.push((format!("{s}{suffix}"), Swatch::Box(c)));
    }
    side_legend(&side, &entries)
}

/// A bar chart: groups along x, a left and (maybe) a right value axis.
type BarChart<'a, DB> = DualCoordChartContext<
    'a,
    DB,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
    Cartesian2d<RangedCoordf64, RangedCoordf64>,
>;

/// The largest value of series `k` (or of every series) over the groups.
fn group_max(groups: &[BarGroup], k: Option<usize>) -> f64 {
    groups
        .iter()
        .flat_map(|g| g.values.iter().enumerate())
        .filter(|(i, _)| k.is_none_or(|k| *i == k))
        .map(|(_, v)| *v)
        .fold(0.0f64, f64::max)
}

/// The mesh and axes of a bar chart (`tops`: the left and right axes' ends): group labels under whole x positions (none when `rotate`:
/// they are drawn turned, by hand), the left axis and, with a second description, the right.
fn bar_axes<DB: DrawingBackend>(
    chart: &mut BarChart<'_, DB>,
    groups: &[BarGroup],
    y_descs: (&str, Option<&str>),
    tops: (f64, f64),
    rotate: bool,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let (dl, dr) = (decimals(tops.0), decimals(tops.1));
    let group_label = |x: &f64| {
        let i = x.round();
        match (x - i).abs() < 1e-6 && i >= 0.0 {
            true => groups
                .get(i as usize)
                .map(|g| g.label.clone())
                .unwrap_or_default(),
            false => String::new(),
        }
    };
    let no_label = |_: &f64| String::new();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups.len().max(1))
        .x_label_formatter(if rotate { &no_label } else { &group_label })
        .y_label_formatter(&|v| format!("{v:.dl$}"))
        .y_desc(y_descs.0)
        .label_style((FONT, LABEL_SIZE))
        // After `label_style`, which would reset it.
        .x_label_style(TextStyle::from((FONT, LABEL_SIZE)))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(err)?;
    if let Some(right) = y_descs.1 {
        chart
            .configure_secondary_axes()
            .y_desc(right)
            .y_label_formatter(&|v| format!("{v:.dr$}"))
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, LABEL_SIZE))
            .draw()
            .map_err(err)?;
    }
    Ok(())
}

/// Group labels too long to sit side by side, turned to run downwards below their groups
/// (`anchors`: each group's x at the axis, in pixels).
fn draw_turned_labels<DB: DrawingBackend>(
    plot: &DrawingArea<DB, Shift>,
    groups: &[BarGroup],
    widths: &[u32],
    anchors: &[(i32, i32)],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    for ((g, w), (px, py)) in groups.iter().zip(widths).zip(anchors) {
        // plotters centres turned text on its anchor: put the anchor half a label below.
        let style = TextStyle::from((FONT, LABEL_SIZE))
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Center, VPos::Center));
        plot.draw(&Text::new(g.label.clone(), (*px, py + 8 + *w as i32 / 2), style))
            .map_err(err)?;
    }
    Ok(())
}

/// Whether every value, written above its bar, fits in a bar's slot of `slot_px` pixels.
fn values_fit(groups: &[BarGroup], slot_px: f64) -> bool {
    let value_font = (FONT, 13).into_font();
    groups.iter().flat_map(|g| &g.values).all(|v| {
        value_font
            .box_size(&format_value(*v))
            .is_ok_and(|(w, _)| f64::from(w) <= slot_px)
    })
}

/// Where the group labels of a bar chart go: their widths, whether they are turned to run
/// downwards (labels that would run into each other side by side), and the room below the axis.
struct LabelLayout {
    widths: Vec<u32>,
    rotate: bool,
    x_area: u32,
}

/// The [`LabelLayout`] of these groups.
fn label_layout(groups: &[BarGroup]) -> LabelLayout {
    let label_font = (FONT, LABEL_SIZE).into_font();
    let widths: Vec<u32> = groups
        .iter()
        .map(|g| label_font.box_size(&g.label).map_or(0, |(w, _)| w))
        .collect();
    let slot = (SIZE.0 - LEGEND_W - 140) as f64 / groups.len().max(1) as f64;
    let rotate = widths.iter().any(|w| f64::from(*w) > slot * 0.95);
    let x_area = if rotate {
        widths.iter().copied().max().unwrap_or(0) + 34
    } else {
        40
    };
    LabelLayout {
        widths,
        rotate,
        x_area,
    }
}

/// Series `si`'s bars (each `width` wide, beside the other series' in its group) and the value
/// above each bar, so the chart reads without the table.
#[allow(clippy::type_complexity)]
fn series_bars(
    groups: &[BarGroup],
    si: usize,
    width: f64,
    c: RGBColor,
) -> (Vec<Rectangle<(f64, f64)>>, Vec<Text<'static, (f64, f64), String>>) {
    let rects = groups
        .iter()
        .enumerate()
        .filter_map(|(gi, g)| {
            let v = *g.values.get(si)?;
            let x0 = gi as f64 - 0.4 + si as f64 * width;
            Some(Rectangle::new([(x0, 0.0), (x0 + width * 0.92, v)], c.filled()))
        })
        .collect();
    let labels = groups
        .iter()
        .enumerate()
        .filter_map(|(gi, g)| {
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
        })
        .collect();
    (rects, labels)
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
pub(crate) fn spectrum_points(h: &Histogram<u64>, unit_ratio: f64) -> Vec<(f64, f64)> {
    // The same rows as the `.hgrm`, so the chart and the file agree point for point.
    percentile_rows(h, TICKS_PER_HALF_DISTANCE)
        .into_iter()
        .filter(|r| r.percentile < 100.0)
        .map(|r| (1.0 / (1.0 - r.percentile / 100.0), r.value as f64 / unit_ratio))
        .collect()
}

/// Latency against percentile on HdrHistogram's log axis (50 %, 90 %, 99 %, 99.9 %, 99.99 %).
pub(crate) fn spectrum(dir: &Path, name: &str, title: &str, lines: &[Line]) -> Result<Vec<PathBuf>, String> {
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
    // The title spans the whole width; below it, the plot and the legend's own panel.
    let body = root.titled(title, (FONT, TITLE_SIZE)).map_err(err)?;
    let (plot, side) = body.split_horizontally(SIZE.0 - LEGEND_W);
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
    let top = y_top(ymax);
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d((1f64..xmax).log_scale(), 0f64..top)
        .map_err(err)?;
    let d = decimals(top);
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|v| format!("{v:.d$}"))
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE))
        .draw()
        .map_err(err)?;
    let mut entries = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let c = color(i);
        chart
            .draw_series(LineSeries::new(l.points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(l.points.iter().map(|p| Circle::new(*p, 3, c.filled())))
            .map_err(err)?;
        entries.push((l.name.clone(), Swatch::Line(c)));
    }
    side_legend(&side, &entries)
}

/// How an x axis spaces and labels its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Linear, labels as they come (rates, seconds).
    Linear,
    /// Linear, whole numbers only (batch sizes, concurrency in a short range).
    Integer,
    /// Powers of two evenly spaced, labelled 1, 2, 4, … (concurrency over a wide range).
    Log2,
}

impl XAxis {
    /// Where `x` goes on the chart: on a log₂ axis the chart works in log₂ of the setting (the
    /// labels turn it back).
    fn place(self, x: f64) -> f64 {
        if self == XAxis::Log2 {
            x.max(1e-9).log2()
        } else {
            x
        }
    }

    /// The room left and right of the outermost points (placed).
    fn pad(self, xmin: f64, xmax: f64) -> f64 {
        match self {
            XAxis::Log2 => 0.4,
            XAxis::Integer => 0.5,
            XAxis::Linear => ((xmax - xmin) * 0.05).max(0.5),
        }
    }

    /// The label at placed `x`: only whole exponents and whole numbers get one (no 2.5 threads);
    /// a linear axis's to two decimals.
    fn label(self, x: f64) -> String {
        match self {
            XAxis::Log2 if (x - x.round()).abs() < 1e-6 => format!("{}", 2f64.powf(x.round()).round()),
            XAxis::Integer if (x - x.round()).abs() < 1e-6 => format!("{}", x.round()),
            XAxis::Linear => {
                let r = (x * 100.0).round() / 100.0;
                if (r - r.round()).abs() < 1e-9 {
                    format!("{r:.0}")
                } else {
                    format!("{r}")
                }
            }
            _ => String::new(),
        }
    }

    /// The axis that suits settings: `whole` ones over a range of 8× or more go on a log₂ axis.
    pub(crate) fn for_values(values: &[f64], whole: bool) -> XAxis {
        let (lo, hi) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        match (whole, lo > 0.0 && hi / lo >= 8.0) {
            (true, true) => XAxis::Log2,
            (true, false) => XAxis::Integer,
            (false, _) => XAxis::Linear,
        }
    }
}

/// A marked point of a line: its recommended setting (a ring) or its knee (a cross).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// The setting.
    pub x: f64,
    /// The value there.
    pub y: f64,
    /// Which mark.
    pub kind: MarkKind,
}

/// What a [`Mark`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// The recommended setting (or the search's answer): a ring.
    Recommended,
    /// Where goodput stops growing: a cross.
    Knee,
}

/// A y-against-x line chart (goodput or p99 against concurrency, batch size, rate…), with the
/// recommended points ringed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn xy(
    dir: &Path,
    name: &str,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    axis: XAxis,
    lines: &[Line],
    marks: &[Mark],
) -> Result<Vec<PathBuf>, String> {
    let files = render!(dir, name, |root| draw_xy(
        root, title, x_desc, y_desc, axis, lines, marks
    ))?;
    // Each point's value on hover, with no script: an SVG <title> in every data point's dot.
    let titles: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            l.points
                .iter()
                .map(move |(x, y)| format!("{}: {x} → {y:.2} {y_desc}", l.name))
        })
        .collect();
    rewrite_svg(&files, |text| titled(text, &titles))?;
    Ok(files)
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

/// Each bar's value on hover, as [`xy`]'s points have it: a title in every bar, in the order
/// they are drawn (series by series, group by group), found by the series' fill colours.
fn title_bars(files: &[PathBuf], series: &[&str], groups: &[BarGroup], unit: &str) -> Result<(), String> {
    let titles: Vec<String> = series
        .iter()
        .enumerate()
        .flat_map(|(si, s)| {
            groups.iter().filter_map(move |g| {
                let v = g.values.get(si)?;
                let v = format!("{v:.2}");
                let v = v.trim_end_matches('0').trim_end_matches('.');
                Some(format!("{} · {s}: {v} {unit}", g.label))
            })
        })
        .collect();
    let fills: Vec<String> = (0..series.len())
        .map(|i| {
            let c = color(i);
            format!(r##"fill="#{:02X}{:02X}{:02X}""##, c.0, c.1, c.2)
        })
        .collect();
    rewrite_svg(files, |text| {
        titled_elements(text, &titles, "rect", |e| fills.iter().any(|f| e.contains(f)))
    })
}

/// One panel of a stacked chart: its title, axis descriptions and lines.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// The x axis's description.
    pub x_desc: String,
    /// The y axis's description.
    pub y_desc: String,
    /// The lines.
    pub lines: Vec<Line>,
}

/// Panels stacked top to bottom, sharing the chart's height, each a linear y-against-x chart
/// (the controller's limit over time above the answers per second it got).
pub(crate) fn stacked(dir: &Path, name: &str, panels: &[Panel]) -> Result<Vec<PathBuf>, String> {
    render!(dir, name, |root| {
        root.fill(&WHITE).map_err(err)?;
        let areas = root.split_evenly((panels.len().max(1), 1));
        panels
            .iter()
            .zip(&areas)
            .try_for_each(|(p, a)| draw_xy(a, &p.title, &p.x_desc, &p.y_desc, XAxis::Linear, &p.lines, &[]))
    })
}

#[allow(clippy::too_many_arguments)]
fn draw_xy<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    axis: XAxis,
    lines: &[Line],
    marks: &[Mark],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    // The title spans the whole width; below it, the plot and the legend's own panel.
    let body = root.titled(title, (FONT, TITLE_SIZE)).map_err(err)?;
    let (plot, side) = body.split_horizontally(SIZE.0 - LEGEND_W);
    let pts = || lines.iter().flat_map(|l| l.points.iter());
    let (xmin, xmax) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| {
        (a.min(axis.place(p.0)), b.max(axis.place(p.0)))
    });
    let (xmin, xmax) = if xmin > xmax { (0.0, 1.0) } else { (xmin, xmax) };
    let ymax = pts().map(|p| p.1).fold(0.0f64, f64::max);
    let top = y_top(ymax);
    let pad = axis.pad(xmin, xmax);
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(xmin - pad..xmax + pad, 0f64..top)
        .map_err(err)?;
    let d = decimals(top);
    // Every value 0 (no 429 at any point): the axis says 0 and nothing else, not 0–1.00.
    let y_label = |v: &f64| {
        if ymax > 0.0 {
            format!("{v:.d$}")
        } else if v.abs() < 1e-12 {
            "0".to_owned()
        } else {
            String::new()
        }
    };
    let x_label = |x: &f64| axis.label(*x);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, LABEL_SIZE));
    if axis != XAxis::Linear {
        mesh.x_labels(((xmax - xmin).round() as usize + 1).clamp(2, 16));
    }
    mesh.draw().map_err(err)?;
    let mut entries = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let c = color(i);
        let p: Vec<(f64, f64)> = l.points.iter().map(|(x, y)| (axis.place(*x), *y)).collect();
        chart
            .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))
            .map_err(err)?;
        chart
            .draw_series(p.iter().map(|q| Circle::new(*q, 3, c.filled())))
            .map_err(err)?;
        entries.push((l.name.clone(), Swatch::Line(c)));
    }
    draw_marks(&mut chart, axis, marks, &mut entries)?;
    if ymax == 0.0 {
        plot.draw(&Text::new(
            "every value is 0".to_owned(),
            (120, 80),
            (FONT, LABEL_SIZE).into_font().color(&RGBColor(120, 120, 120)),
        ))
        .map_err(err)?;
    }
    side_legend(&side, &entries)
}

/// A chart over plain numbers on both axes.
type XyChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The recommended points' rings and the knees' crosses, each kind with its legend entry.
fn draw_marks<DB: DrawingBackend>(
    chart: &mut XyChart<'_, DB>,
    axis: XAxis,
    marks: &[Mark],
    entries: &mut Vec<(String, Swatch)>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let at = |m: &Mark| (axis.place(m.x), m.y);
    let rings: Vec<&Mark> = marks.iter().filter(|m| m.kind == MarkKind::Recommended).collect();
    if !rings.is_empty() {
        chart
            .draw_series(rings.iter().map(|m| Circle::new(at(m), 9, BLACK.stroke_width(2))))
            .map_err(err)?;
        entries.push(("recommended".to_owned(), Swatch::Ring));
    }
    let knees: Vec<&Mark> = marks.iter().filter(|m| m.kind == MarkKind::Knee).collect();
    if !knees.is_empty() {
        chart
            .draw_series(knees.iter().map(|m| Cross::new(at(m), 6, KNEE.stroke_width(2))))
            .map_err(err)?;
        entries.push(("knee".to_owned(), Swatch::Cross));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::titled;

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
