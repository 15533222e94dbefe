//! The printers of a sweep: its table with the recommendations, and its charts (goodput,
//! throughput, p99, 429 share and retries against the swept setting).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::model::error::RunError;
use crate::model::sweep::{PointResult, SweepReport, cap_text, fmt_setting, fmt_value};
use crate::output::chart;
use crate::output::chart::{Line, Mark, MarkKind, XAxis};
use crate::output::table::{wrap, wrap_indented};

/// A sweep chart: file name, title, y-axis label, and the figure it plots (`None`: no point).
type SweepMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&PointResult) -> Option<f64>,
);

/// The sweep's charts: goodput, throughput, p99, 429 share and retries against the setting.
pub(crate) fn sweep_charts(dir: &Path, r: &SweepReport) -> Result<Vec<PathBuf>, RunError> {
    let fail = |why: String| RunError::write(dir.display(), why);
    let strategies: Vec<_> = r.recommendations.iter().map(|x| x.strategy).collect();
    let values: Vec<f64> = r.points.iter().map(|p| p.setting).collect();
    let whole = matches!(r.axis.as_str(), "concurrency" | "batch_size");
    let axis = XAxis::for_values(&values, whole);
    let title_tail = format!("{} per point, {}", r.config.requests_shown(), r.config.target);
    let mut written = Vec::new();
    let metrics: [SweepMetric; 6] = [
        ("sweep-goodput", "Goodput", "successful requests/s", |p| {
            Some(p.goodput_rps)
        }),
        (
            "sweep-throughput",
            "Throughput",
            "requests/s (all outcomes)",
            |p| Some(p.throughput_rps),
        ),
        (
            "sweep-p99",
            "p99 latency of successful requests",
            "p99 latency (ms)",
            |p| p.p99_ms,
        ),
        (
            "sweep-429",
            "Share of attempts answered 429",
            "429 answers (% of attempts)",
            |p| Some(100.0 * p.share_429),
        ),
        (
            "sweep-retries",
            "Retries",
            "retries (attempts beyond the first)",
            |p| Some(p.retries as f64),
        ),
        (
            "sweep-cpu",
            "Client CPU per request",
            "client CPU per request (ms)",
            |p| p.cpu_ms_per_request,
        ),
    ];
    for (name, what, y, f) in metrics {
        let mut lines = metric_lines(r, &strategies, f);
        if name == "sweep-goodput" && r.axis == "cpu_work" {
            lines.extend(cpu_bounds(r));
        }
        written.extend(
            chart::xy(
                dir,
                name,
                &format!("{what} vs {}: {title_tail}", r.axis),
                &r.axis_label,
                y,
                axis,
                &lines,
                &metric_marks(r, f),
            )
            .map_err(fail)?,
        );
    }
    Ok(written)
}

/// The ceilings CPU work sets on goodput: one core can finish at most 1 ÷ D responses a second,
/// the machine's cores at most cores ÷ D (drawn as curves, cut at 1.3 × the highest measured
/// goodput so they do not flatten the chart).
fn cpu_bounds(r: &SweepReport) -> Vec<Line> {
    let top = r
        .points
        .iter()
        .flat_map(|p| &p.results)
        .map(|x| x.goodput_rps)
        .fold(0.0, f64::max)
        * 1.3;
    let cores = r.provenance.machine.cpus.max(1) as f64;
    let work: Vec<f64> = r.points.iter().map(|p| p.setting).filter(|x| *x > 0.0).collect();
    let (lo, hi) = work
        .iter()
        .fold((f64::MAX, 0.0f64), |(a, b), x| (a.min(*x), b.max(*x)));
    // A curve, not segments between the points: 1 ÷ D bends.
    let xs: Vec<f64> = (0..=40).map(|i| lo + (hi - lo) * f64::from(i) / 40.0).collect();
    [
        (1.0, "ceiling: 1 core ÷ work".to_owned()),
        (cores, format!("ceiling: {cores} cores ÷ work")),
    ]
    .into_iter()
    .map(|(k, name)| Line {
        name,
        points: xs
            .iter()
            .filter(|_| !work.is_empty())
            .map(|x| (*x, k * 1e3 / x))
            .filter(|(_, y)| *y <= top)
            .collect(),
    })
    .filter(|l| !l.points.is_empty())
    .collect()
}

/// A line per strategy of one figure (`f`) over the points where it has one.
fn metric_lines(
    r: &SweepReport,
    strategies: &[crate::model::strategy::Strategy],
    f: fn(&PointResult) -> Option<f64>,
) -> Vec<Line> {
    strategies
        .iter()
        .map(|s| Line {
            name: s.to_string(),
            points: r
                .points
                .iter()
                .filter_map(|p| {
                    let x = p.results.iter().find(|x| x.strategy == *s)?;
                    Some((p.setting, f(x)?))
                })
                .collect(),
        })
        .collect()
}

/// Each strategy's recommended setting (ringed) and knee (crossed), where its line of figure
/// `f` passes.
fn metric_marks(r: &SweepReport, f: fn(&PointResult) -> Option<f64>) -> Vec<Mark> {
    let at = |s: crate::model::strategy::Strategy, setting: f64| {
        r.points
            .iter()
            .find(|p| p.setting == setting)
            .and_then(|p| p.results.iter().find(|x| x.strategy == s))
    };
    let rings = r.recommendations.iter().filter_map(|rec| {
        let setting = rec.setting?;
        Some(Mark {
            x: setting,
            y: f(at(rec.strategy, setting)?)?,
            kind: MarkKind::Recommended,
        })
    });
    let knees = r.knees.iter().filter_map(|k| {
        Some(Mark {
            x: k.setting,
            y: f(at(k.strategy, k.setting)?)?,
            kind: MarkKind::Knee,
        })
    });
    rings.chain(knees).collect()
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".to_owned(), |x| format!("{x:.decimals$}"))
}

/// Where a strategy's wrapped line goes on: under its text, past the strategy's column.
const UNDER: &str = "                ";

/// The sweep table and the recommendations, as printed: within 120 columns.
pub fn render(r: &SweepReport) -> String {
    let mut t = String::new();
    if let Some(why) = &r.incomplete_reason {
        let _ = writeln!(t, "INCOMPLETE SWEEP: {why}; the points below are those that ran");
    }
    let results = || r.points.iter().flat_map(|p| &p.results);
    // With an SLO, the requests that met it per second (what the recommendation ranks) beside
    // every success per second.
    let slo = results().any(|x| x.slo_goodput_rps.is_some());
    t += &points_table(r, slo);
    // Streams' figures in a block of their own, as `compare` has them: the table fits 120
    // columns.
    if results().any(|x| x.ttft_ms.is_some()) {
        t += &streaming_table(r);
    }
    if results().any(|x| x.distortion.is_some()) {
        t += &distortion_table(r);
    }
    if let Some(a) = &r.auto {
        let probes: Vec<String> = a.probes.iter().map(|(s, g)| format!("{s}→{g:.1}")).collect();
        let _ = writeln!(
            t,
            "\nautomatic points: {} (probe ok/s: {})",
            a.note,
            probes.join(", ")
        );
    }
    if let Some(why) = &r.stopped_early {
        let _ = writeln!(t, "\nstopped early: {why}");
    }
    t += &knees_block(r);
    t + &verdicts_block(r, slo)
}

/// A line per strategy per point: goodput (and with an SLO the good requests' rate), rate,
/// latency, 429s, retries, failures, CPU per request.
fn points_table(r: &SweepReport, slo: bool) -> String {
    let mut t = String::new();
    let _ = write!(t, "{:>12} {:<13} {:>9}", r.axis, "strategy", "ok/s");
    if slo {
        let _ = write!(t, " {:>9}", "good/s");
    }
    let _ = writeln!(
        t,
        " {:>9} {:>9} {:>9} {:>7} {:>8} {:>7} {:>10}",
        "req/s", "p50_ms", "p99_ms", "429%", "retries", "failed", "cpu_ms/req"
    );
    for p in &r.points {
        for x in &p.results {
            let _ = write!(
                t,
                "{:>12} {:<13} {:>9.1}",
                fmt_value(&r.axis, p.setting),
                x.strategy.to_string(),
                x.goodput_rps
            );
            if slo {
                let _ = write!(t, " {:>9}", opt(x.slo_goodput_rps, 1));
            }
            let _ = write!(
                t,
                " {:>9.1} {:>9} {:>9} {:>7.1} {:>8} {:>7} {:>10}",
                x.throughput_rps,
                opt(x.p50_ms, 1),
                opt(x.p99_ms, 1),
                100.0 * x.share_429,
                x.retries,
                x.failed,
                opt(x.cpu_ms_per_request, 3),
            );
            if !x.accounted_ok {
                t.push_str("  (accounting failed)");
            }
            if !p.complete {
                t.push_str("  (incomplete)");
            }
            t.push('\n');
        }
    }
    t
}

/// Streams' TTFT and ITL per strategy per point.
fn streaming_table(r: &SweepReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "\n{:>12} {:<13} {:>9} {:>9} {:>9} {:>9}",
        r.axis, "streaming", "ttft_p50", "ttft_p99", "itl_p50", "itl_p99"
    );
    for p in &r.points {
        for x in &p.results {
            let _ = writeln!(
                t,
                "{:>12} {:<13} {:>9} {:>9} {:>9} {:>9}",
                fmt_value(&r.axis, p.setting),
                x.strategy.to_string(),
                opt(x.ttft_ms.map(|v| v.0), 1),
                opt(x.ttft_ms.map(|v| v.1), 1),
                opt(x.itl_ms.map(|v| v.0), 2),
                opt(x.itl_ms.map(|v| v.1), 2)
            );
        }
    }
    t
}

/// The measurement's own error per strategy per point: each side's p99 (`-`: not measured).
fn distortion_table(r: &SweepReport) -> String {
    use crate::model::distortion::Side;
    let mut t = format!("\n{:>12} {:<13}", r.axis, "distortion");
    for side in Side::ALL {
        let _ = write!(t, " {:>11}", side.head());
    }
    t += "  (p99, ms)\n";
    for p in &r.points {
        for x in &p.results {
            let _ = write!(
                t,
                "{:>12} {:<13}",
                fmt_value(&r.axis, p.setting),
                x.strategy.to_string()
            );
            for side in Side::ALL {
                let p99 = x.distortion.and_then(|d| d.side(side)).map(|p| p.p99);
                let _ = write!(t, " {:>11}", opt(p99, 3));
            }
            t.push('\n');
        }
    }
    for w in budget_warnings(r) {
        t += &wrap(&format!("warning: {w}"));
    }
    t
}

/// A point's sides past its budget (from its latency p50).
pub(crate) fn over_budget(x: &PointResult) -> Vec<crate::model::distortion::OverBudget> {
    x.distortion.map(|d| d.over_budget(x.p50_ms)).unwrap_or_default()
}

/// A warning for each strategy at each point with a side past its budget, worded as
/// `compare`'s: under the sweep's table and on its page.
pub(crate) fn budget_warnings(r: &SweepReport) -> Vec<String> {
    r.points
        .iter()
        .flat_map(|p| p.results.iter().map(move |x| (p, x)))
        .filter_map(|(p, x)| {
            let who = format!("{} at {}", x.strategy, fmt_setting(&r.axis, p.setting));
            crate::output::table::budget_warning(&who, &over_budget(x))
        })
        .collect()
}

/// Each strategy's knee, when one was found.
fn knees_block(r: &SweepReport) -> String {
    if r.knees.is_empty() {
        return String::new();
    }
    let mut t =
        "\nknee (the smallest setting within 5 % of the most goodput any larger one reached):\n".to_owned();
    for k in &r.knees {
        t += &wrap_indented(
            &format!(
                "  {:<13} {} ({})",
                k.strategy.to_string(),
                fmt_setting(&r.axis, k.setting),
                k.why
            ),
            UNDER,
        );
    }
    t
}

/// The verdicts under the limits: a search's answers, a CPU-work sweep's strategy per point, or
/// the recommendation per strategy; then the best, when one qualified.
fn verdicts_block(r: &SweepReport, slo: bool) -> String {
    let mut limits = match r.slo_p99_ms {
        Some(s) => format!("p99 ≤ {s:.0} ms and {}", cap_text(r.max_429_share)),
        None => format!("{} (no p99 SLO)", cap_text(r.max_429_share)),
    };
    if let Some(m) = r.min_good_share {
        limits += &format!(" and good share ≥ {:.1} %", 100.0 * m);
    }
    let mut t = String::new();
    if !r.search.is_empty() {
        let _ = writeln!(t, "\nsearch (the largest value with {limits}):");
        for x in &r.search {
            t += &wrap_indented(&format!("  {:<13} {}", x.strategy.to_string(), x.reason), UNDER);
            t += &wrap_indented(&format!("  {:<13} {}", "", x.cost()), UNDER);
        }
        return t + &best_line(r, slo);
    }
    if !r.per_point.is_empty() {
        t += &wrap(&format!(
            "\nstrategy to use at each amount of CPU work (of those with {limits} within 5 % of the best goodput, the lowest p99):"
        ));
        for rec in &r.per_point {
            t += &wrap_indented(&format!("  {}", rec.reason), "    ");
        }
        return t;
    }
    t += &wrap(&format!(
        "\nrecommendation (among settings with {limits}, the smallest within 5 % of the best goodput):"
    ));
    for rec in &r.recommendations {
        t += &wrap_indented(
            &format!("  {:<13} {}", rec.strategy.to_string(), rec.reason),
            UNDER,
        );
    }
    t + &best_line(r, slo)
}

/// Whether the sweep's requests were embeddings, ranked by inputs/s.
fn embeddings(r: &SweepReport) -> bool {
    r.points
        .iter()
        .flat_map(|p| &p.results)
        .any(|x| x.inputs_per_request.is_some())
}

/// `best: STRATEGY at SETTING (GOODPUT)`, when a setting qualified.
fn best_line(r: &SweepReport, slo: bool) -> String {
    r.best.as_ref().map_or(String::new(), |b| {
        format!(
            "best: {} at {} ({:.1} {})\n",
            b.strategy,
            fmt_setting(&r.axis, b.setting.unwrap_or_default()),
            b.goodput_rps.unwrap_or_default(),
            match (embeddings(r), slo) {
                (true, true) => "inputs/s, of requests that met the SLO",
                (true, false) => "inputs/s",
                (false, true) => "good/s, met the SLO",
                (false, false) => "ok/s",
            }
        )
    })
}

/// The sweep as CSV: one row per point and strategy.
pub(crate) fn csv(r: &SweepReport) -> String {
    let mut out = format!(
        "{},strategy,goodput_rps,slo_goodput_rps,throughput_rps,p50_ms,p99_ms,share_429,retries,failed,accounted_ok,complete,cpu_ms_per_request\n",
        r.axis
    );
    let opt = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.4}"));
    for p in &r.points {
        for x in &p.results {
            let _ = writeln!(
                out,
                "{},{},{:.4},{},{:.4},{},{},{:.6},{},{},{},{},{}",
                p.setting,
                x.strategy,
                x.goodput_rps,
                opt(x.slo_goodput_rps),
                x.throughput_rps,
                opt(x.p50_ms),
                opt(x.p99_ms),
                x.share_429,
                x.retries,
                x.failed,
                x.accounted_ok,
                p.complete,
                opt(x.cpu_ms_per_request)
            );
        }
    }
    out
}
