//! Every file a run writes: `report.json`, `summary.csv`, one `.hgrm` per strategy and series,
//! `run.hlog`, and the charts; each written atomically (a temporary file renamed into place).
//! `asyncbench plot DIR` redraws the charts from a saved `report.json` alone, since every
//! histogram travels inside it.

use std::path::{Path, PathBuf};

use crate::model::error::{ConfigError, RunError};
use crate::model::hist;
use crate::model::outcome::Outcome;
use crate::model::report::RunReport;
use crate::model::series::Series;
use crate::model::strategy::Strategy;
use crate::output::chart;
use crate::output::chart::{BarGroup, Line};
use crate::output::hgrm;
use crate::output::hlog::write_interval_log;
use crate::output::table;
use crate::stats::intervals::Intervals;
use crate::stats::temp::temp_builder;

/// The `.hgrm` files written per strategy: histogram series → file suffix.
pub(crate) const HGRM_SERIES: [(Series, &str); 7] = [
    (Series::E2e(Outcome::Ok), ""),
    (Series::Service(Outcome::Ok), ".service"),
    (Series::Ttft, ".ttft"),
    (Series::Itl, ".itl"),
    (Series::Tpot, ".tpot"),
    (Series::Ttfo, ".ttfo"),
    (Series::ReasoningItl, ".reasoning_itl"),
];

/// Whether a directory entry is one a run writes (and `--force` may replace).
fn is_ours(name: &str) -> bool {
    matches!(
        name,
        "report.json"
            | "summary.csv"
            | "sweep.json"
            | "run.hlog"
            | "points"
            | "requests.jsonl"
            | "report.html"
    ) || name.starts_with(".asyncbench-")
        || [".hgrm", ".svg", ".png"].iter().any(|ext| name.ends_with(ext))
}

/// Makes `dir` ready for a run, before anything runs: created if missing, refused if it already
/// holds files (old `.hgrm` files and charts would sit beside the new report), unless `force`,
/// which removes what an earlier run wrote there (and only that). Then proves it is writable.
pub(crate) fn prepare_out(dir: &Path, force: bool) -> Result<(), ConfigError> {
    let unwritable = |source: std::io::Error| ConfigError::Unwritable {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(unwritable)?;
    let names: Vec<String> = std::fs::read_dir(dir)
        .map_err(unwritable)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !names.is_empty() && !force {
        let mut shown: Vec<&str> = names.iter().map(String::as_str).take(3).collect();
        if names.len() > 3 {
            shown.push("…");
        }
        return Err(ConfigError::OutNotEmpty {
            path: dir.display().to_string(),
            entries: shown.join(", "),
        });
    }
    for name in names.iter().filter(|n| is_ours(n)) {
        let path = dir.join(name);
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(unwritable)?;
    }
    let probe = tempfile::Builder::new()
        .prefix(".asyncbench-")
        .tempfile_in(dir)
        .map_err(unwritable)?;
    drop(probe);
    Ok(())
}

/// Writes report.json, summary.csv, requests.jsonl (when the run logged its requests), the
/// `.hgrm` files, run.hlog and the charts into `dir`. A log the run could not write (`Err`:
/// a full disk) fails it, naming requests.jsonl, once every other file is written.
pub(crate) fn write_run(
    dir: &Path,
    report: &RunReport,
    intervals: &[(Strategy, Intervals)],
    requests_log: Result<Option<tempfile::NamedTempFile>, std::io::Error>,
) -> Result<Vec<PathBuf>, RunError> {
    let log_path = dir.join("requests.jsonl");
    let lost = |source| RunError::Write {
        path: log_path.display().to_string(),
        source,
    };
    report.write(dir)?;
    let mut written = vec![dir.join("report.json"), dir.join("summary.csv")];
    let log_lost = match requests_log {
        Ok(Some(log)) => {
            log.persist(&log_path).map_err(|e| lost(e.error))?;
            written.push(log_path.clone());
            None
        }
        Ok(None) => None,
        Err(source) => Some(lost(source)),
    };
    for s in &report.strategies {
        for (series, suffix) in HGRM_SERIES {
            let Some(encoded) = s.histograms.get(&series.to_string()) else {
                continue;
            };
            let h = hist::decode(encoded).map_err(|why| RunError::write(series, why))?;
            let path = dir.join(format!("{}{suffix}.hgrm", s.id));
            write_file(&path, hgrm::percentile_distribution(&h, 1000.0, 3).as_bytes())?;
            written.push(path);
        }
    }
    // A merged report has no intervals of its own (each shard's run.hlog has them).
    if !intervals.is_empty() {
        let path = dir.join("run.hlog");
        write_streamed(&path, |f| write_interval_log(f, intervals))?;
        written.push(path);
    }
    written.extend(charts(dir, report)?);
    // Last: the page inlines the charts just drawn.
    let path = dir.join("report.html");
    write_file(&path, crate::output::html::run_page(report, dir).as_bytes())?;
    written.push(path);
    match log_lost {
        Some(e) => Err(e),
        None => Ok(written),
    }
}

/// Writes a file through `fill` into a temporary file beside it, renamed into place when done.
fn write_streamed(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> Result<(), String>,
) -> Result<(), RunError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |source: std::io::Error| RunError::Write {
        path: path.display().to_string(),
        source,
    };
    let tmp = crate::stats::temp::temp_builder()
        .tempfile_in(dir)
        .map_err(fail)?;
    crate::stats::temp::remove_on_abort(tmp.path());
    {
        let mut w = std::io::BufWriter::new(tmp.as_file());
        fill(&mut w).map_err(|why| RunError::write(path.display(), why))?;
    }
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// The workload in a few words, for chart titles.
pub(crate) fn workload_title(report: &RunReport) -> String {
    let c = &report.config;
    let call = match c.workload.api {
        crate::model::plan::Api::Openai => "chat",
        crate::model::plan::Api::Anthropic => "Messages",
        crate::model::plan::Api::Embeddings => "embeddings",
    };
    let what = match c.workload.delay_endpoint {
        Some(_) => "GET /delay".to_owned(),
        None if c.workload.stream => format!("streamed {call}"),
        None => call.to_owned(),
    };
    let delay = c
        .mock_mean_delay_s
        .map(|d| format!(", mean delay {:.0} ms", d * 1000.0))
        .unwrap_or_default();
    format!("{}, {what}{delay}, {}", c.requests_shown(), c.target)
}

/// Draws the charts of a run: throughput/goodput bars and the latency spectra.
pub(crate) fn charts(dir: &Path, report: &RunReport) -> Result<Vec<PathBuf>, RunError> {
    let fail = |why: String| RunError::write(dir.display(), why);
    let title = workload_title(report);
    let mut written = Vec::new();
    let groups: Vec<BarGroup> = report
        .strategies
        .iter()
        .map(|s| BarGroup {
            label: match &s.adaptive {
                Some(a) => format!("{} (C=auto, ~{:.1})", s.id, a.converged),
                None => format!("{} (C={})", s.id, s.concurrency_text()),
            },
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
        (
            Series::E2e(Outcome::Ok),
            "latency",
            "End-to-end latency of successful requests",
        ),
        (Series::Ttft, "ttft", "Time to first token"),
        (Series::Itl, "itl", "Inter-token latency"),
        (Series::Ttfo, "ttfo", "Time to first output token"),
    ] {
        let lines: Vec<Line> = report
            .strategies
            .iter()
            .filter_map(|s| {
                let h = hist::decode(s.histograms.get(&series.to_string())?).ok()?;
                Some(Line {
                    name: s.id.to_string(),
                    points: chart::spectrum_points(&h, 1000.0),
                })
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        written.extend(chart::spectrum(dir, name, &format!("{what}: {title}"), &lines).map_err(fail)?);
    }
    if report.strategies.iter().any(|s| s.adaptive.is_some()) {
        written.extend(chart::stacked(dir, "concurrency", &concurrency_panels(report)).map_err(fail)?);
    }
    if report
        .strategies
        .iter()
        .any(|s| s.rounds.first().is_some_and(|r| !r.timeline.is_empty()))
    {
        written.extend(chart::stacked(dir, "timeline", &timeline_panels(report)).map_err(fail)?);
    }
    Ok(written)
}

/// Each strategy's first round second by second: successes, 429 answers and p50/p99 latency;
/// a strategy's legend names its steady window (whole seconds while the concurrency was held)
/// and the goodput in it. The title counts the rounds that ran, not the configured count (a
/// run stopped between rounds has fewer), as the concurrency chart does.
fn timeline_panels(report: &RunReport) -> Vec<chart::Panel> {
    let first = |s: &crate::model::report::StrategyReport| s.rounds.first().cloned();
    let rounds = report
        .strategies
        .iter()
        .map(|s| s.rounds.len())
        .max()
        .unwrap_or(0);
    let of = if rounds > 1 {
        format!("round 1 of {rounds}")
    } else {
        "the run".to_owned()
    };
    let name = |s: &crate::model::report::StrategyReport| match first(s).and_then(|r| r.steady) {
        Some(w) => format!(
            "{} ok, steady {}–{} s: {:.1}/s",
            s.id, w.from_s, w.to_s, w.goodput_rps
        ),
        None => format!("{} ok (no steady second)", s.id),
    };
    let line = |f: &dyn Fn(&crate::model::rounds::Second) -> Option<f64>,
                label: &dyn Fn(&crate::model::report::StrategyReport) -> String|
     -> Vec<Line> {
        report
            .strategies
            .iter()
            .filter_map(|s| {
                let r = first(s)?;
                Some(Line {
                    name: label(s),
                    points: r
                        .timeline
                        .iter()
                        .filter_map(|x| f(x).map(|y| (x.t_s as f64, y)))
                        .collect(),
                })
            })
            .collect()
    };
    let x_desc = "seconds since the strategy's first request".to_owned();
    let mut answers = line(&|x| Some(x.ok as f64), &name);
    if report.strategies.iter().any(|s| {
        s.rounds
            .first()
            .is_some_and(|r| r.timeline.iter().any(|x| x.rate_limited > 0))
    }) {
        answers.extend(line(&|x| Some(x.rate_limited as f64), &|s| {
            format!("{} 429", s.id)
        }));
    }
    let mut latency = line(&|x| x.p50_ms, &|s| format!("{} p50", s.id));
    latency.extend(line(&|x| x.p99_ms, &|s| format!("{} p99", s.id)));
    vec![
        chart::Panel {
            title: format!(
                "Per second, {of}: successes (and 429s) · {}",
                workload_title(report)
            ),
            x_desc: x_desc.clone(),
            y_desc: "per second".into(),
            lines: answers,
        },
        chart::Panel {
            title: "Latency of each second's successes".into(),
            x_desc,
            y_desc: "ms".into(),
            lines: latency,
        },
    ]
}

/// `--concurrency auto`: the limit of each strategy's controller over time, and above it the
/// answers it got per second (successes and 429s, in one-second bins).
fn concurrency_panels(report: &RunReport) -> Vec<chart::Panel> {
    // Each round has a controller of its own; the report keeps the last one's. The rounds that
    // ran, not those asked for: a run stopped between rounds keeps an earlier one's.
    let mut ran: Vec<usize> = report
        .strategies
        .iter()
        .filter(|s| s.adaptive.is_some())
        .map(|s| s.rounds.len().max(1))
        .collect();
    ran.dedup();
    let x_desc = match ran[..] {
        [] | [1] => "seconds since the start".into(),
        [n] => format!("seconds since the start of the last of {n} rounds"),
        _ => "seconds since the start of each strategy's last round".into(),
    };
    let per_s = chart::Panel {
        title: "Answers per second: ok and 429".into(),
        x_desc: x_desc.clone(),
        y_desc: "answers per second".into(),
        lines: report
            .strategies
            .iter()
            .filter_map(|s| s.adaptive.as_ref().map(|a| (s.id, a)))
            .flat_map(|(id, a)| {
                let bins = |f: fn(&crate::model::adaptive::Tick) -> u64| -> Vec<(f64, f64)> {
                    let per = (1.0 / crate::model::adaptive::TICK.as_secs_f64())
                        .round()
                        .max(1.0) as usize;
                    a.timeline
                        .chunks(per)
                        .enumerate()
                        .map(|(i, c)| (i as f64, c.iter().map(f).sum::<u64>() as f64))
                        .collect()
                };
                [
                    Line {
                        name: format!("{id} ok"),
                        points: bins(|t| t.ok),
                    },
                    Line {
                        name: format!("{id} 429"),
                        points: bins(|t| t.rate_limited),
                    },
                ]
            })
            .collect(),
    };
    let limit = chart::Panel {
        title: format!(
            "Concurrency limit set by --concurrency auto: {}",
            workload_title(report)
        ),
        x_desc,
        y_desc: "requests in flight (limit)".into(),
        lines: report
            .strategies
            .iter()
            .filter_map(|s| {
                let a = s.adaptive.as_ref()?;
                // From where it started; each step's limit is the one at its end.
                let step = crate::model::adaptive::TICK.as_secs_f64();
                let start = (0.0, a.initial as f64);
                Some(Line {
                    name: format!("{} (settled {:.1})", s.id, a.converged),
                    points: std::iter::once(start)
                        .chain(a.timeline.iter().map(|t| (t.t_s + step, t.limit)))
                        .collect(),
                })
            })
            .collect(),
    };
    vec![limit, per_s]
}

/// `asyncbench plot DIR`: redraws the charts of the run (or sweep) saved in `dir`.
pub fn plot_dir(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let path = dir.join("report.json");
    let sweep = dir.join("sweep.json");
    if sweep.exists() {
        let text = read_saved(&sweep)?;
        let r: crate::model::sweep::SweepReport =
            serde_json::from_str(&text).map_err(|e| RunError::read(sweep.display(), e))?;
        let mut written = crate::output::sweep::sweep_charts(dir, &r)?;
        if path.exists() {
            written.extend(charts(dir, &RunReport::read(&path)?)?);
        }
        return Ok(written);
    }
    if !path.exists() {
        return Err(RunError::Config(ConfigError::Invalid {
            name: "DIR",
            value: dir.display().to_string(),
            why: "holds no report.json or sweep.json (write one with --out)",
        }));
    }
    let report = RunReport::read(&path)?;
    charts(dir, &report)
}

/// `asyncbench plot --combine RUN… DIR`: every strategy of several saved runs side by side, each
/// labelled `<folder>/<strategy>`: goodput against 429 answers per second, and p50/p99 latency.
pub(crate) fn combine(runs: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let fail = |why: String| RunError::write(dir.display(), why);
    let refuse = |value: String, why: &'static str| {
        RunError::Config(crate::model::error::ConfigError::Invalid {
            name: "--combine",
            value,
            why,
        })
    };
    // A run given twice (one folder by two spellings) would be drawn twice, as two runs.
    let folders: Vec<PathBuf> = runs
        .iter()
        .map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.clone()))
        .collect();
    if let Some(i) = crate::model::first_repeat(&folders) {
        return Err(refuse(
            runs[i].display().to_string(),
            "is a run given before: each run is drawn once",
        ));
    }
    let mut reports = Vec::new();
    for run in runs {
        reports.push((run, RunReport::read(&run.join("report.json"))?));
    }
    let names = distinct_names(&folders);
    // The combined charts usually go beside the runs they combine: an existing folder is fine.
    std::fs::create_dir_all(dir).map_err(|source| RunError::Write {
        path: dir.display().to_string(),
        source,
    })?;
    let mut rate_groups = Vec::new();
    let mut latency_groups = Vec::new();
    for ((_, report), name) in reports.iter().zip(names) {
        for s in &report.strategies {
            let label = if report.strategies.len() == 1 {
                name.clone()
            } else {
                format!("{name}/{}", s.id)
            };
            let limited = s
                .attempt_outcomes
                .get(&Outcome::RateLimited)
                .copied()
                .unwrap_or(0);
            let per_s = limited as f64 / s.wall_s.max(1e-9);
            rate_groups.push(BarGroup {
                label: label.clone(),
                values: vec![s.goodput_rps, per_s],
            });
            // No success, no latency: no bar, never a 0.
            let (p50, p99) = s.latency_ms.map_or((f64::NAN, f64::NAN), |p| (p.p50, p.p99));
            latency_groups.push(BarGroup {
                label,
                values: vec![p50, p99],
            });
        }
    }
    let mut written = chart::bars_dual(
        dir,
        "combined-goodput",
        "Goodput and 429 answers per second, run by run",
        ("goodput (ok/s)", "429 answers per second"),
        ["goodput (ok/s)", "429 answers/s"],
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

/// Each folder's label: its name, or as many of its last parts as tell it from the others
/// (`x/run` and `y/run`), so no two runs read as one.
fn distinct_names(folders: &[PathBuf]) -> Vec<String> {
    let parts: Vec<Vec<String>> = folders
        .iter()
        .map(|f| f.iter().map(|p| p.to_string_lossy().into_owned()).collect())
        .collect();
    let last = |p: &[String], k: usize| p[p.len().saturating_sub(k)..].join("/").replace("//", "/");
    parts
        .iter()
        .enumerate()
        .map(|(i, mine)| {
            let told = |k: &usize| {
                parts
                    .iter()
                    .enumerate()
                    .all(|(j, other)| j == i || last(other, *k) != last(mine, *k))
            };
            let k = (1..=mine.len()).find(told).unwrap_or(mine.len());
            last(mine, k)
        })
        .collect()
}

/// Writes a file atomically: into a temporary file beside it, then renamed over it, so a full
/// disk or a killed process never leaves a truncated file under the final name.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use std::io::Write;
    let fail = |source: std::io::Error| RunError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = temp_builder().tempfile_in(dir).map_err(fail)?;
    crate::stats::temp::remove_on_abort(tmp.path());
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

impl RunReport {
    /// Writes `report.json` and `summary.csv` into `dir` (each atomically).
    pub fn write(&self, dir: &Path) -> Result<(), RunError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| RunError::write("report.json", e))?;
        write_file(&dir.join("report.json"), json.as_bytes())?;
        write_file(&dir.join("summary.csv"), table::csv(self).as_bytes())?;
        Ok(())
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> Result<RunReport, RunError> {
        let text = read_saved(path)?;
        serde_json::from_str(&text).map_err(|e| RunError::read(path.display(), e))
    }
}

/// Most bytes a saved report is read to (`report.json`, `sweep.json`, a log holding one).
pub(crate) const SAVED_CAP: u64 = 1 << 30;

/// A saved report's text, read up to [`SAVED_CAP`]: a `report.json` linked to `/dev/zero` (or
/// any endless file) was read until memory ran out.
pub(crate) fn read_saved(path: &Path) -> Result<String, RunError> {
    mock_server::files::read_capped_text(path, SAVED_CAP).map_err(|source| RunError::Read {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::ErrorClass;
    use crate::model::report::StrategyReport;
    use crate::model::report::tests::{run_of, strategy};

    /// `report.json` reads back as the report written; `summary.csv` is the table's CSV.
    #[test]
    fn a_written_report_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_of(vec![strategy(Strategy::Async, 1, 1, ErrorClass::Timeout)]);
        r.write(dir.path()).unwrap();
        assert_eq!(RunReport::read(&dir.path().join("report.json")).unwrap(), r);
        // Readable as a file written directly would be (the temporary file starts private).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(dir.path().join("plain"), b"x").unwrap();
            let mode = |name: &str| {
                let m = std::fs::metadata(dir.path().join(name)).unwrap();
                m.permissions().mode() & 0o777
            };
            assert_eq!(mode("report.json"), mode("plain"));
            assert_eq!(mode("summary.csv"), mode("plain"));
        }
        let csv = std::fs::read_to_string(dir.path().join("summary.csv")).unwrap();
        assert_eq!(csv, table::csv(&r));
        assert_eq!(csv.lines().count(), 2, "{csv}");
    }

    /// The limit's line starts where the controller started (at 0 s), and each step's limit is
    /// drawn at the step's end, where the report says it held.
    #[test]
    fn the_limit_line_starts_at_the_initial_limit() {
        use crate::model::adaptive::{AdaptiveReport, TICK, Tick};
        let mut s = strategy(Strategy::Async, 1, 1, ErrorClass::Timeout);
        let tick = |t_s: f64, limit: f64| Tick {
            t_s,
            limit,
            attempts: 1,
            ok: 1,
            rate_limited: 0,
        };
        s.adaptive = Some(AdaptiveReport {
            initial: 1,
            timeline: vec![tick(0.0, 8.3), tick(TICK.as_secs_f64(), 12.0)],
            algorithm: "aimd".into(),
            max: 256,
            converged: 12.0,
            last: 12.0,
            cuts: 0,
            share_429: 0.0,
        });
        let panels = concurrency_panels(&run_of(vec![s]));
        let step = TICK.as_secs_f64();
        assert_eq!(
            panels[0].lines[0].points,
            [(0.0, 1.0), (step, 8.3), (2.0 * step, 12.0)]
        );
    }

    /// A strategy of one request that ran `n` rounds.
    fn ran_rounds(id: Strategy, n: usize) -> StrategyReport {
        let mut s = strategy(id, 1, 0, ErrorClass::Timeout);
        s.rounds = (0..n).map(|_| s.as_round(Vec::new(), None)).collect();
        s
    }

    /// The time axis names the round the kept controller ran in from the rounds that ran, not
    /// the configured count (a run stopped between rounds has fewer).
    #[test]
    fn the_time_axis_counts_the_rounds_that_ran() {
        use crate::model::adaptive::AdaptiveReport;
        let adaptive = AdaptiveReport {
            initial: 1,
            timeline: Vec::new(),
            algorithm: "aimd".into(),
            max: 256,
            converged: 1.0,
            last: 1.0,
            cuts: 0,
            share_429: 0.0,
        };
        let with_rounds = |id, n: usize| StrategyReport {
            adaptive: Some(adaptive.clone()),
            ..ran_rounds(id, n)
        };
        let axis = |strategies| {
            let mut run = run_of(strategies);
            run.config.rounds = 3;
            concurrency_panels(&run)[0].x_desc.clone()
        };
        assert_eq!(
            axis(vec![with_rounds(Strategy::Async, 2)]),
            "seconds since the start of the last of 2 rounds"
        );
        assert_eq!(
            axis(vec![with_rounds(Strategy::Async, 1)]),
            "seconds since the start"
        );
        assert_eq!(
            axis(vec![
                with_rounds(Strategy::Async, 3),
                with_rounds(Strategy::AsyncSingle, 2)
            ]),
            "seconds since the start of each strategy's last round"
        );
    }

    /// The timeline's title counts the rounds that ran: "round 1 of 2" when the most any
    /// strategy ran is 2 of the 3 configured, "the run" when one ran.
    #[test]
    fn the_timeline_title_counts_the_rounds_that_ran() {
        let title = |strategies| {
            let mut run = run_of(strategies);
            run.config.rounds = 3;
            timeline_panels(&run)[0].title.clone()
        };
        let two = title(vec![
            ran_rounds(Strategy::Async, 2),
            ran_rounds(Strategy::Sequential, 1),
        ]);
        assert!(two.contains("round 1 of 2"), "{two}");
        let one = title(vec![ran_rounds(Strategy::Async, 1)]);
        assert!(one.contains("the run") && !one.contains("round"), "{one}");
    }
}
