//! Bar charts: groups along x, a bar per series, one or two value axes, every bar titled.

use std::path::{Path, PathBuf};

use plotters::chart::DualCoordChartContext;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::*;

/// One bar group: a label and its values (one per bar series).
#[derive(Debug, Clone)]
pub(crate) struct BarGroup {
    /// Label under the group (a strategy id).
    pub label: String,
    /// One value per series; NaN for one not measured (no bar; "none" at the axis).
    pub values: Vec<f64>,
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
    let (plot, side) = framed(root, title)?;
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
            let v = *g.values.get(si).filter(|v| v.is_finite())?;
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
                (x, if v.is_finite() { v } else { 0.0 }),
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

/// Each bar's value on hover, as [`xy`]'s points have it: a title in every bar, in the order
/// they are drawn (series by series, group by group), found by the series' fill colours.
fn title_bars(files: &[PathBuf], series: &[&str], groups: &[BarGroup], unit: &str) -> Result<(), String> {
    let titles: Vec<String> = series
        .iter()
        .enumerate()
        .flat_map(|(si, s)| {
            // A title for each bar drawn: none for a value not measured.
            groups.iter().filter_map(move |g| {
                let v = g.values.get(si).filter(|v| v.is_finite())?;
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
