//! Line charts: latency by percentile (HdrHistogram's axis), figures against a setting with
//! the recommended points and knees marked, and panels stacked over time.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::*;
use crate::output::hgrm::{TICKS_PER_HALF_DISTANCE, percentile_rows};

/// A named line of (x, y) points.
#[derive(Debug, Clone)]
pub(crate) struct Line {
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
    let (plot, side) = framed(root, title)?;
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
pub(crate) enum XAxis {
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

    /// The span the axis draws (placed): the outermost points with room either side, except
    /// that a linear axis whose points are none below zero starts at zero (its values are
    /// seconds since a start: a short run's axis read −0.4, −0.2).
    fn span(self, xmin: f64, xmax: f64) -> std::ops::Range<f64> {
        let pad = self.pad(xmin, xmax);
        let lo = xmin - pad;
        let lo = if self == XAxis::Linear && xmin >= 0.0 {
            lo.max(0.0)
        } else {
            lo
        };
        lo..xmax + pad
    }

    /// The label at placed `x`: only whole exponents and whole numbers get one (no 2.5 threads);
    /// a linear axis's to two decimals.
    fn label(self, x: f64) -> String {
        match self {
            XAxis::Log2 if (x - x.round()).abs() < 1e-6 => format!("{}", 2f64.powf(x.round()).round()),
            XAxis::Integer if (x - x.round()).abs() < 1e-6 => format!("{}", x.round()),
            XAxis::Linear => {
                // `+ 0.0` turns a rounded −0 into 0 (it printed "-0").
                let r = (x * 100.0).round() / 100.0 + 0.0;
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
pub(crate) struct Mark {
    /// The setting.
    pub x: f64,
    /// The value there.
    pub y: f64,
    /// Which mark.
    pub kind: MarkKind,
}

/// What a [`Mark`] marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkKind {
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

/// One panel of a stacked chart: its title, axis descriptions and lines.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
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
    let (plot, side) = framed(root, title)?;
    let pts = || lines.iter().flat_map(|l| l.points.iter());
    let (xmin, xmax) = pts().fold((f64::MAX, f64::MIN), |(a, b), p| {
        (a.min(axis.place(p.0)), b.max(axis.place(p.0)))
    });
    let (xmin, xmax) = if xmin > xmax { (0.0, 1.0) } else { (xmin, xmax) };
    let ymax = pts().map(|p| p.1).fold(0.0f64, f64::max);
    let top = y_top(ymax);
    let mut chart = ChartBuilder::on(&plot)
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(axis.span(xmin, xmax), 0f64..top)
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
    use super::{Line, Panel, XAxis, percentile_label, stacked};
    use crate::output::chart::{LEGEND_W, SIZE};

    /// A stacked chart's panel is half the picture's height: a legend of ten entries, two of
    /// them on two lines, still ends inside the picture (it ran past its bottom), and every
    /// entry is drawn.
    #[test]
    fn a_long_legend_in_a_stacked_panel_stays_in_the_picture() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..10)
            .map(|i| match i {
                0 | 1 => format!("strategy {i} ok, steady 1–20 s: 9.9/s"),
                _ => format!("strategy {i} p99"),
            })
            .collect();
        let panel = |title: &str| Panel {
            title: title.to_owned(),
            x_desc: "s".to_owned(),
            y_desc: "ms".to_owned(),
            lines: names
                .iter()
                .map(|n| Line {
                    name: n.clone(),
                    points: vec![(0.0, 1.0), (1.0, 2.0)],
                })
                .collect(),
        };
        let files = stacked(dir.path(), "legend", &[panel("top"), panel("bottom")]).unwrap();
        let svg = std::fs::read_to_string(&files[0]).unwrap();
        let legend_x = f64::from(SIZE.0 - LEGEND_W);
        let mut ys = Vec::new();
        for text in svg.split("<text").skip(1) {
            let attr = |name: &str| -> Option<f64> {
                let at = text.find(&format!(" {name}=\""))? + name.len() + 3;
                text[at..].split('"').next()?.parse().ok()
            };
            if let (Some(x), Some(y)) = (attr("x"), attr("y"))
                && x >= legend_x
            {
                ys.push(y);
            }
        }
        // Ten entries a panel, the first two on two lines each.
        assert_eq!(ys.len(), 2 * 12, "{ys:?}");
        // Each panel's entries end above its own bottom (the top panel's at half the height).
        let bottom = f64::from(SIZE.1);
        let (top, low) = ys.split_at(12);
        assert!(
            top.iter().all(|y| *y < bottom / 2.0),
            "{top:?} past {}",
            bottom / 2.0
        );
        assert!(low.iter().all(|y| *y < bottom), "{low:?} past {bottom}");
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

    /// A time axis whose points start at zero does not run below it, and no label reads "-0";
    /// the other axes keep their room on both sides.
    #[test]
    fn a_time_axis_starts_at_zero_and_never_reads_minus_zero() {
        let linear = XAxis::Linear.span(0.0, 0.75);
        assert_eq!(linear.start, 0.0);
        assert!(linear.end > 0.75);
        assert_eq!(XAxis::Linear.span(0.0, 0.0).start, 0.0);
        // Points below zero keep their room.
        assert!(XAxis::Linear.span(-2.0, 3.0).start < -2.0);
        assert!(XAxis::Integer.span(1.0, 4.0).start < 1.0);
        assert_eq!(XAxis::Linear.label(-0.001), "0");
        assert_eq!(XAxis::Linear.label(0.25), "0.25");
        assert_eq!(XAxis::Linear.label(2.0), "2");
    }
}
