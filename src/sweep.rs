//! `sweep`: one setting (concurrency, batch size, pause or rate) varied over a list, every
//! strategy run at every point, and a recommendation: among the settings whose p99 meets the SLO
//! and whose share of 429 answers is under the cap, the smallest within 5 % of the best goodput.
//!
//! Each (point, strategy) gets a fresh embedded mock, so a rate limiter drained by one run never
//! handicaps the next.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::compare::{Session, check_writable, run_one, summary};
use crate::config::{Arrival, LoadModel, RunConfig};
use crate::error::RunError;
use crate::metrics::Outcome;
use crate::report::chart::{self, Line};
use crate::report::machine::{Machine, git_commit};
use crate::report::output::write_run;
use crate::report::{ConfigSummary, RunReport, StrategyReport, write_file};

/// Goodput within this fraction of the best counts as "as good".
pub const NEAR_BEST: f64 = 0.95;

/// The setting a sweep varies, with its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// `--concurrency` (threads or requests in flight).
    Concurrency(Vec<u64>),
    /// `--batch-size` (batched).
    BatchSize(Vec<u64>),
    /// `--pause` between batches.
    Pause(Vec<Duration>),
    /// `--rate`, open-loop requests per second.
    Rate(Vec<f64>),
}

impl Axis {
    /// The flag's name, used in tables, charts and file names.
    pub fn name(&self) -> &'static str {
        match self {
            Axis::Concurrency(_) => "concurrency",
            Axis::BatchSize(_) => "batch_size",
            Axis::Pause(_) => "pause",
            Axis::Rate(_) => "rate",
        }
    }

    /// The axis label with its unit.
    pub fn label(&self) -> &'static str {
        match self {
            Axis::Concurrency(_) => "concurrency (requests in flight)",
            Axis::BatchSize(_) => "batch size (requests)",
            Axis::Pause(_) => "pause between batches (s)",
            Axis::Rate(_) => "offered rate (requests/s)",
        }
    }

    /// The values as numbers (pauses in seconds).
    pub fn values(&self) -> Vec<f64> {
        match self {
            Axis::Concurrency(v) | Axis::BatchSize(v) => v.iter().map(|x| *x as f64).collect(),
            Axis::Pause(v) => v.iter().map(Duration::as_secs_f64).collect(),
            Axis::Rate(v) => v.clone(),
        }
    }

    /// The config of point `i`.
    pub fn apply(&self, base: &RunConfig, i: usize) -> RunConfig {
        let mut cfg = base.clone();
        match self {
            Axis::Concurrency(v) => cfg.concurrency = v[i],
            Axis::BatchSize(v) => cfg.batch_size = v[i],
            Axis::Pause(v) => cfg.pause = v[i],
            Axis::Rate(v) => {
                let (arrival, seed) = match base.load {
                    LoadModel::Open { arrival, seed, .. } => (arrival, seed),
                    LoadModel::Closed => (Arrival::Constant, base.seed),
                };
                cfg.load = LoadModel::Open {
                    rate: v[i],
                    arrival,
                    seed,
                };
            }
        }
        cfg
    }
}

/// One strategy at one point, in a few numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// Strategy id.
    pub strategy: String,
    /// Successful requests per second.
    pub goodput_rps: f64,
    /// Requests per second, any outcome.
    pub throughput_rps: f64,
    /// p99 of successful requests' end-to-end latency, ms.
    pub p99_ms: f64,
    /// p50 of the same, ms.
    pub p50_ms: f64,
    /// Share of attempts answered 429.
    pub share_429: f64,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Requests that did not end `ok`.
    pub failed: u64,
    /// Every request accounted for and agreed by the mock.
    pub accounted_ok: bool,
    /// Streaming: p50 and p99 time to first token, ms.
    pub ttft_ms: Option<(f64, f64)>,
    /// Streaming: p50 and p99 inter-token latency, ms.
    pub itl_ms: Option<(f64, f64)>,
}

impl PointResult {
    fn of(s: &StrategyReport) -> PointResult {
        let limited = s
            .attempt_outcomes
            .get(&Outcome::RateLimited)
            .copied()
            .unwrap_or(0);
        PointResult {
            strategy: s.id.clone(),
            goodput_rps: s.goodput_rps,
            throughput_rps: s.throughput_rps,
            p99_ms: s.latency_ms.p99,
            p50_ms: s.latency_ms.p50,
            share_429: if s.attempts == 0 {
                0.0
            } else {
                limited as f64 / s.attempts as f64
            },
            retries: s.retries,
            failed: s.requests - s.count(Outcome::Ok),
            accounted_ok: s.accounted_ok && s.server.as_ref().is_none_or(|c| c.matches),
            ttft_ms: s.ttft_ms.map(|p| (p.p50, p.p99)),
            itl_ms: s.itl_ms.map(|p| (p.p50, p.p99)),
        }
    }
}

/// One setting and every strategy's result there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The setting's value (pauses in seconds).
    pub setting: f64,
    /// One entry per strategy.
    pub results: Vec<PointResult>,
}

/// The recommendation for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Strategy id.
    pub strategy: String,
    /// The recommended setting, when one qualifies.
    pub setting: Option<f64>,
    /// Its goodput.
    pub goodput_rps: Option<f64>,
    /// Why (or why nothing qualifies).
    pub reason: String,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// `asyncbench <version>`.
    pub tool: String,
    /// Unix seconds at the start.
    pub started_unix: u64,
    /// Commit of the working directory.
    pub git_commit: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// The setting varied.
    pub axis: String,
    /// Its label with unit.
    pub axis_label: String,
    /// The SLO on p99, ms.
    pub slo_p99_ms: Option<f64>,
    /// The cap on the share of 429 answers.
    pub max_429_share: f64,
    /// The base configuration (the swept field holds the first value).
    pub config: ConfigSummary,
    /// Every point, in the order given.
    pub points: Vec<SweepPoint>,
    /// One per strategy.
    pub recommendations: Vec<Recommendation>,
    /// The strategy and setting with the best recommended goodput.
    pub best: Option<Recommendation>,
}

/// What qualifies a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criteria {
    /// p99 must be at most this, ms.
    pub slo_p99_ms: Option<f64>,
    /// Share of attempts answered 429 must be below this.
    pub max_429_share: f64,
}

fn fmt_setting(axis: &str, v: f64) -> String {
    match axis {
        "concurrency" => format!("C={v}"),
        "batch_size" => format!("B={v}"),
        "pause" => format!("pause={v}s"),
        _ => format!("rate={v}/s"),
    }
}

/// The recommendation for one strategy over the points: pure, so it is tested without running.
///
/// Points that break a limit (p99 over the SLO, 429 share at or over the cap, or failed
/// accounting) are out; among the rest, the best goodput sets the bar, and the smallest setting
/// within 5 % of it wins. Goodput bought by breaking the 429 cap is not a goal.
pub fn recommend(axis: &str, strategy: &str, points: &[SweepPoint], c: Criteria) -> Recommendation {
    let mut rows: Vec<(f64, &PointResult)> = points
        .iter()
        .filter_map(|p| {
            p.results
                .iter()
                .find(|r| r.strategy == strategy)
                .map(|r| (p.setting, r))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let none = |reason: String| Recommendation {
        strategy: strategy.into(),
        setting: None,
        goodput_rps: None,
        reason,
    };
    let meets_slo = |r: &PointResult| c.slo_p99_ms.is_none_or(|slo| r.p99_ms <= slo);
    let under_cap = |r: &PointResult| r.share_429 < c.max_429_share;
    let qualifies = |r: &PointResult| meets_slo(r) && under_cap(r) && r.accounted_ok && r.goodput_rps > 0.0;
    let ok: Vec<&(f64, &PointResult)> = rows.iter().filter(|(_, r)| qualifies(r)).collect();
    let Some(best) = ok.iter().map(|(_, r)| r.goodput_rps).reduce(f64::max) else {
        let why = rows
            .iter()
            .map(|(s, r)| {
                let mut w = Vec::new();
                if r.goodput_rps <= 0.0 {
                    w.push("no successful request".to_owned());
                }
                if !meets_slo(r) {
                    w.push(format!("p99 {:.0} ms", r.p99_ms));
                }
                if !under_cap(r) {
                    w.push(format!("{:.1} % 429s", 100.0 * r.share_429));
                }
                if !r.accounted_ok {
                    w.push("accounting failed".into());
                }
                format!("{} ({})", fmt_setting(axis, *s), w.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return none(format!("no setting meets the limits: {why}"));
    };
    let (setting, r) = ok
        .iter()
        .find(|(_, r)| r.goodput_rps >= NEAR_BEST * best)
        .copied()
        .copied()
        .unwrap_or((ok[0].0, ok[0].1));
    let slo = c.slo_p99_ms.map_or("no p99 SLO set".to_owned(), |s| {
        format!("p99 {:.0} ms ≤ {s:.0} ms SLO", r.p99_ms)
    });
    let beyond = rows
        .iter()
        .filter(|(_, x)| !qualifies(x) && x.goodput_rps > best)
        .map(|(s, x)| {
            format!(
                "{} gives {:.1} ok/s but breaks a limit",
                fmt_setting(axis, *s),
                x.goodput_rps
            )
        })
        .collect::<Vec<_>>();
    Recommendation {
        strategy: strategy.into(),
        setting: Some(setting),
        goodput_rps: Some(r.goodput_rps),
        reason: format!(
            "{}: {:.1} ok/s, within 5 % of the best {:.1} ok/s that meets the limits; {slo}; {:.1} % of attempts got 429 (< {:.1} %){}",
            fmt_setting(axis, setting),
            r.goodput_rps,
            best,
            100.0 * r.share_429,
            100.0 * c.max_429_share,
            if beyond.is_empty() {
                String::new()
            } else {
                format!("; {}", beyond.join("; "))
            }
        ),
    }
}

/// Runs the sweep; writes `sweep.json`, the sweep charts and one folder per point under `out`.
pub fn sweep(base: &RunConfig, axis: &Axis, criteria: Criteria) -> Result<SweepReport, RunError> {
    base.validate()?;
    let values = axis.values();
    // Reachability first (an external target), then the output folder.
    drop(Session::open(base)?);
    if let Some(out) = &base.out {
        check_writable(out)?;
    }
    let started_unix = crate::report::machine::unix_now();
    // Once for the sweep and all its points (git_commit runs git twice).
    let (commit, machine) = (git_commit(), Machine::detect());
    let mut points = Vec::new();
    let mut last_summary = None;
    for (i, v) in values.iter().enumerate() {
        let cfg = axis.apply(base, i);
        cfg.validate()?;
        let mut reports = Vec::new();
        let mut intervals = Vec::new();
        for s in &cfg.strategies {
            // A fresh mock per run: a limiter drained by one run must not handicap the next.
            let session = Session::open(&cfg)?;
            let (r, iv) = run_one(&cfg, &session, *s)?;
            if !cfg.quiet {
                eprintln!(
                    "{} {:<12} {:>9.1} ok/s  p99 {:>8.1} ms  429s {:>5.1} %  {}",
                    fmt_setting(axis.name(), *v),
                    s.id(),
                    r.goodput_rps,
                    r.latency_ms.p99,
                    100.0 * PointResult::of(&r).share_429,
                    r.accounted
                );
            }
            intervals.push((s.id().to_owned(), iv));
            reports.push(r);
            last_summary = Some(summary(&cfg, &session));
        }
        let results = reports.iter().map(PointResult::of).collect();
        if let (Some(out), Some(config)) = (&base.out, &last_summary) {
            let dir = out.join("points").join(format!("{}-{v}", axis.name()));
            std::fs::create_dir_all(&dir).map_err(|e| RunError::Write {
                path: dir.display().to_string(),
                why: e.to_string(),
            })?;
            let report = RunReport {
                tool: format!("asyncbench {}", env!("CARGO_PKG_VERSION")),
                started_unix,
                git_commit: commit.clone(),
                machine: machine.clone(),
                config: config.clone(),
                strategies: reports,
                complete: true,
            };
            write_run(&dir, &report, &intervals)?;
        }
        points.push(SweepPoint { setting: *v, results });
    }
    let recommendations: Vec<Recommendation> = base
        .strategies
        .iter()
        .map(|s| recommend(axis.name(), s.id(), &points, criteria))
        .collect();
    let best = recommendations
        .iter()
        .filter(|r| r.setting.is_some())
        .max_by(|a, b| {
            a.goodput_rps
                .unwrap_or(0.0)
                .total_cmp(&b.goodput_rps.unwrap_or(0.0))
        })
        .cloned();
    let first = axis.apply(base, 0);
    let config = match last_summary {
        Some(mut c) => {
            c.concurrency = first.concurrency;
            c.batch_size = first.batch_size;
            c.pause_s = first.pause.as_secs_f64();
            c.load = first.load;
            c
        }
        None => {
            return Err(RunError::Setup {
                what: "sweep",
                why: "no points".into(),
            });
        }
    };
    let report = SweepReport {
        tool: format!("asyncbench {}", env!("CARGO_PKG_VERSION")),
        started_unix,
        git_commit: commit,
        machine,
        axis: axis.name().into(),
        axis_label: axis.label().into(),
        slo_p99_ms: criteria.slo_p99_ms,
        max_429_share: criteria.max_429_share,
        config,
        points,
        recommendations,
        best,
    };
    if let Some(out) = &base.out {
        let json = serde_json::to_string_pretty(&report).map_err(|e| RunError::Write {
            path: "sweep.json".into(),
            why: e.to_string(),
        })?;
        write_file(&out.join("sweep.json"), json.as_bytes())?;
        sweep_charts(out, &report)?;
    }
    Ok(report)
}

/// A sweep chart: file name, title, y-axis label, and the figure it plots.
type SweepMetric = (&'static str, &'static str, &'static str, fn(&PointResult) -> f64);

/// The sweep's charts: goodput, throughput, p99, 429 share and retries against the setting.
pub fn sweep_charts(dir: &Path, r: &SweepReport) -> Result<Vec<PathBuf>, RunError> {
    let fail = |why: String| RunError::Write {
        path: dir.display().to_string(),
        why,
    };
    let strategies: Vec<String> = r.recommendations.iter().map(|x| x.strategy.clone()).collect();
    let values: Vec<f64> = r.points.iter().map(|p| p.setting).collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let log_x = lo > 0.0 && hi / lo >= 16.0;
    let title_tail = format!("{} requests per point, {}", r.config.requests, r.config.target);
    let mut written = Vec::new();
    let metrics: [SweepMetric; 5] = [
        ("sweep-goodput", "Goodput", "successful requests/s", |p| {
            p.goodput_rps
        }),
        (
            "sweep-throughput",
            "Throughput",
            "requests/s (all outcomes)",
            |p| p.throughput_rps,
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
            |p| 100.0 * p.share_429,
        ),
        (
            "sweep-retries",
            "Retries",
            "retries (attempts beyond the first)",
            |p| p.retries as f64,
        ),
    ];
    for (name, what, y, f) in metrics {
        let lines: Vec<Line> = strategies
            .iter()
            .map(|s| Line {
                name: s.clone(),
                points: r
                    .points
                    .iter()
                    .filter_map(|p| {
                        p.results
                            .iter()
                            .find(|x| &x.strategy == s)
                            .map(|x| (p.setting, f(x)))
                    })
                    .collect(),
            })
            .collect();
        written.extend(
            chart::xy(
                dir,
                name,
                &format!("{what} vs {}: {title_tail}", r.axis),
                &r.axis_label,
                y,
                log_x,
                &lines,
            )
            .map_err(fail)?,
        );
    }
    Ok(written)
}

/// The sweep table and the recommendations, as printed.
pub fn render(r: &SweepReport) -> String {
    let mut t = String::new();
    let streaming = r
        .points
        .iter()
        .flat_map(|p| &p.results)
        .any(|x| x.ttft_ms.is_some());
    let _ = write!(
        t,
        "{:>12} {:<13} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>7}",
        r.axis, "strategy", "ok/s", "req/s", "p50_ms", "p99_ms", "429%", "retries", "failed"
    );
    if streaming {
        let _ = write!(
            t,
            " {:>9} {:>9} {:>9} {:>9}",
            "ttft_p50", "ttft_p99", "itl_p50", "itl_p99"
        );
    }
    t.push('\n');
    for p in &r.points {
        for x in &p.results {
            let _ = writeln!(
                t,
                "{:>12} {:<13} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>7.1} {:>8} {:>7}{}",
                p.setting,
                x.strategy,
                x.goodput_rps,
                x.throughput_rps,
                x.p50_ms,
                x.p99_ms,
                100.0 * x.share_429,
                x.retries,
                x.failed,
                if x.accounted_ok {
                    ""
                } else {
                    "  (accounting failed)"
                }
            );
            if streaming {
                // The row was written with its newline; put the streaming columns before it.
                t.pop();
                let ((a, b), (c, d)) = (x.ttft_ms.unwrap_or_default(), x.itl_ms.unwrap_or_default());
                let _ = writeln!(t, " {a:>9.1} {b:>9.1} {c:>9.2} {d:>9.2}");
            }
        }
    }
    let slo = r.slo_p99_ms.map_or("none".to_owned(), |s| format!("{s:.0} ms"));
    let _ = writeln!(
        t,
        "\nrecommendation (among settings with p99 ≤ SLO {slo} and 429 share < {:.1} %, the smallest within 5 % of the best goodput):",
        100.0 * r.max_429_share
    );
    for rec in &r.recommendations {
        let _ = writeln!(t, "  {:<13} {}", rec.strategy, rec.reason);
    }
    if let Some(b) = &r.best {
        let _ = writeln!(
            t,
            "best: {} at {} ({:.1} ok/s)",
            b.strategy,
            fmt_setting(&r.axis, b.setting.unwrap_or_default()),
            b.goodput_rps.unwrap_or_default()
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(setting: f64, goodput: f64, p99: f64, share: f64) -> SweepPoint {
        SweepPoint {
            setting,
            results: vec![PointResult {
                strategy: "async".into(),
                goodput_rps: goodput,
                throughput_rps: goodput,
                p99_ms: p99,
                p50_ms: p99 / 2.0,
                share_429: share,
                retries: 0,
                failed: 0,
                accounted_ok: true,
                ttft_ms: None,
                itl_ms: None,
            }],
        }
    }

    #[test]
    fn recommends_the_smallest_setting_near_the_best_goodput() {
        let pts = [
            point(1.0, 10.0, 100.0, 0.0),
            point(8.0, 96.0, 110.0, 0.0),
            point(64.0, 100.0, 300.0, 0.0),
        ];
        let c = Criteria {
            slo_p99_ms: None,
            max_429_share: 0.01,
        };
        let r = recommend("concurrency", "async", &pts, c);
        assert_eq!(r.setting, Some(8.0));
        assert!(r.reason.starts_with("C=8"), "{}", r.reason);
    }

    #[test]
    fn slo_and_429_cap_rule_points_out() {
        let pts = [
            point(8.0, 96.0, 700.0, 0.0),
            point(16.0, 98.0, 400.0, 0.2),
            point(32.0, 100.0, 450.0, 0.0),
        ];
        let c = Criteria {
            slo_p99_ms: Some(500.0),
            max_429_share: 0.01,
        };
        assert_eq!(recommend("concurrency", "async", &pts, c).setting, Some(32.0));
        let strict = Criteria {
            slo_p99_ms: Some(100.0),
            max_429_share: 0.01,
        };
        let r = recommend("concurrency", "async", &pts, strict);
        assert_eq!(r.setting, None);
        assert!(
            r.reason.contains("p99 700 ms") && r.reason.contains("20.0 % 429s"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn goodput_bought_with_429s_does_not_set_the_bar() {
        // Past the limit, more goodput comes with 429s: the bar is the best clean point.
        let pts = [
            point(10.0, 9.6, 1600.0, 0.0),
            point(20.0, 18.4, 1600.0, 0.0),
            point(25.0, 20.6, 1600.0, 0.237),
        ];
        let r = recommend(
            "rate",
            "async",
            &pts,
            Criteria {
                slo_p99_ms: Some(3000.0),
                max_429_share: 0.01,
            },
        );
        assert_eq!(r.setting, Some(20.0));
        assert!(
            r.reason.contains("rate=25/s gives 20.6 ok/s but breaks a limit"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn no_goodput_means_no_recommendation() {
        let pts = [point(1.0, 0.0, 0.0, 1.0)];
        let r = recommend(
            "rate",
            "async",
            &pts,
            Criteria {
                slo_p99_ms: None,
                max_429_share: 0.01,
            },
        );
        assert_eq!(r.setting, None);
    }
}
