//! Everything a run writes beside `report.json`: `summary.csv`, one `.hgrm` per strategy and
//! series, `run.hlog`, and the charts. `asyncbench plot DIR` redraws the charts from a saved
//! `report.json` alone, since every histogram travels inside it.

use std::path::{Path, PathBuf};

use crate::error::RunError;
use crate::metrics::Intervals;
use crate::report::chart::{self, BarGroup, Line};
use crate::report::hlog::{TaggedIntervals, interval_log};
use crate::report::{RunReport, hgrm, hist, write_file};

/// The `.hgrm` files written per strategy: histogram series → file suffix.
pub const HGRM_SERIES: [(&str, &str); 5] = [
    ("e2e.ok", ""),
    ("service.ok", ".service"),
    ("ttft", ".ttft"),
    ("itl", ".itl"),
    ("tpot", ".tpot"),
];

/// Writes report.json, summary.csv, the `.hgrm` files, run.hlog and the charts into `dir`.
pub fn write_run(
    dir: &Path,
    report: &RunReport,
    intervals: &[(String, Intervals)],
) -> Result<Vec<PathBuf>, RunError> {
    report.write(dir)?;
    let mut written = vec![dir.join("report.json"), dir.join("summary.csv")];
    for s in &report.strategies {
        for (series, suffix) in HGRM_SERIES {
            let Some(encoded) = s.histograms.get(series) else {
                continue;
            };
            let h = hist::decode(encoded).map_err(|why| RunError::Write {
                path: series.into(),
                why,
            })?;
            let path = dir.join(format!("{}{suffix}.hgrm", s.id));
            write_file(&path, hgrm::percentile_distribution(&h, 1000.0, 3).as_bytes())?;
            written.push(path);
        }
    }
    let tagged: Vec<TaggedIntervals<'_>> = intervals
        .iter()
        .map(|(id, iv)| TaggedIntervals {
            strategy: id,
            intervals: iv,
        })
        .collect();
    let log = interval_log(&tagged).map_err(|why| RunError::Write {
        path: "run.hlog".into(),
        why,
    })?;
    let path = dir.join("run.hlog");
    write_file(&path, log.as_bytes())?;
    written.push(path);
    written.extend(charts(dir, report)?);
    Ok(written)
}

/// The workload in a few words, for chart titles.
pub fn workload_title(report: &RunReport) -> String {
    let c = &report.config;
    let what = match c.workload.delay_endpoint {
        Some(_) => "GET /delay".to_owned(),
        None if c.workload.stream => "streamed chat".to_owned(),
        None => "chat".to_owned(),
    };
    let delay = c
        .mock_mean_delay_s
        .map(|d| format!(", mean delay {:.0} ms", d * 1000.0))
        .unwrap_or_default();
    format!("{} × {what}{delay}, {}", c.requests, c.target)
}

/// Draws the charts of a run: throughput/goodput bars and the latency spectra.
pub fn charts(dir: &Path, report: &RunReport) -> Result<Vec<PathBuf>, RunError> {
    let fail = |why: String| RunError::Write {
        path: dir.display().to_string(),
        why,
    };
    let title = workload_title(report);
    let mut written = Vec::new();
    let groups: Vec<BarGroup> = report
        .strategies
        .iter()
        .map(|s| BarGroup {
            label: format!("{} (C={})", s.id, s.concurrency),
            values: vec![s.throughput_rps, s.goodput_rps],
        })
        .collect();
    written.extend(
        chart::bars(
            dir,
            "throughput",
            &format!("Throughput and goodput: {title}"),
            "requests per second",
            &["throughput (all outcomes)", "goodput (ok only)"],
            &groups,
        )
        .map_err(fail)?,
    );
    for (series, name, what) in [
        ("e2e.ok", "latency", "End-to-end latency of successful requests"),
        ("ttft", "ttft", "Time to first token"),
        ("itl", "itl", "Inter-token latency"),
    ] {
        let lines: Vec<Line> = report
            .strategies
            .iter()
            .filter_map(|s| {
                let h = hist::decode(s.histograms.get(series)?).ok()?;
                Some(Line {
                    name: s.id.clone(),
                    points: chart::spectrum_points(&h, 1000.0),
                })
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        written.extend(chart::spectrum(dir, name, &format!("{what}: {title}"), &lines).map_err(fail)?);
    }
    Ok(written)
}

/// `asyncbench plot DIR`: redraws the charts of the run saved in `dir`.
pub fn plot_dir(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let path = dir.join("report.json");
    let sweep = dir.join("sweep.json");
    if sweep.exists() {
        let text = std::fs::read_to_string(&sweep).map_err(|e| RunError::Write {
            path: sweep.display().to_string(),
            why: e.to_string(),
        })?;
        let r: crate::sweep::SweepReport = serde_json::from_str(&text).map_err(|e| RunError::Write {
            path: sweep.display().to_string(),
            why: e.to_string(),
        })?;
        let mut written = crate::sweep::sweep_charts(dir, &r)?;
        if path.exists() {
            written.extend(charts(dir, &RunReport::read(&path)?)?);
        }
        return Ok(written);
    }
    if !path.exists() {
        return Err(RunError::Config(crate::error::ConfigError::Invalid {
            name: "DIR",
            value: dir.display().to_string(),
            why: "holds no report.json (write one with --out)",
        }));
    }
    let report = RunReport::read(&path)?;
    charts(dir, &report)
}

/// `asyncbench plot --combine RUN… DIR`: every strategy of several saved runs side by side, each
/// labelled `<folder>/<strategy>`: goodput against 429 answers per second, and p50/p99 latency.
pub fn combine(runs: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    crate::compare::check_writable(dir)?;
    let fail = |why: String| RunError::Write {
        path: dir.display().to_string(),
        why,
    };
    let mut rate_groups = Vec::new();
    let mut latency_groups = Vec::new();
    for run in runs {
        let report = RunReport::read(&run.join("report.json"))?;
        let name = run
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for s in &report.strategies {
            let label = if report.strategies.len() == 1 {
                name.clone()
            } else {
                format!("{name}/{}", s.id)
            };
            let limited = s
                .attempt_outcomes
                .get(&crate::metrics::Outcome::RateLimited)
                .copied()
                .unwrap_or(0);
            let per_s = limited as f64 / s.wall_s.max(1e-9);
            rate_groups.push(BarGroup {
                label: label.clone(),
                values: vec![s.goodput_rps, per_s],
            });
            latency_groups.push(BarGroup {
                label,
                values: vec![s.latency_ms.p50, s.latency_ms.p99],
            });
        }
    }
    let mut written = chart::bars(
        dir,
        "combined-goodput",
        "Goodput and 429 answers per second, run by run",
        "per second",
        &["goodput (ok/s)", "429 answers/s"],
        &rate_groups,
    )
    .map_err(fail)?;
    written.extend(
        chart::bars(
            dir,
            "combined-latency",
            "End-to-end latency of successful requests (retries included), run by run",
            "latency (ms)",
            &["p50", "p99"],
            &latency_groups,
        )
        .map_err(fail)?,
    );
    Ok(written)
}
