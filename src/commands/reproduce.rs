//! `reproduce`: the article's sync-vs-async comparison as it stands, on the embedded mock:
//! 10 GET requests to `/delay/1` (its httpbin call), sequential vs thread pool vs async, then its
//! `process_batch` example (batch_size = 5, 1 s pause).
//!
//! The article prints no measured figures; what its code implies is shown beside ours.

use crate::engine::stop::StopToken;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::cli::ReproduceArgs;
use crate::commands::{Finish, finish_run};
use crate::model::error::RunError;
use crate::model::plan::{Load, Stop, Workload};
use crate::model::report::RunReport;
use crate::model::retry::{RetryPolicy, RetryPreset};
use crate::model::strategy::Strategy;
use crate::output::files::write_run;
use crate::plan::config::{Plan, RunConfig};
use crate::plan::endpoint::Endpoint;

/// Requests in the article's benchmark.
pub(crate) const ARTICLE_REQUESTS: u64 = 10;
/// The article's endpoint delay (`httpbin.org/delay/1`).
pub(crate) const ARTICLE_DELAY: Duration = Duration::from_secs(1);

/// The configuration of the article's comparison.
pub(crate) fn article_config(out: Option<&Path>, force: bool, quiet: bool) -> RunConfig {
    RunConfig {
        workload: Workload {
            model: "mock-model".into(),
            max_tokens: 1,
            delay_endpoint: Some(ARTICLE_DELAY),
            ..Workload::default()
        },
        strategies: vec![
            Strategy::Sequential,
            Strategy::Threadpool,
            Strategy::Async,
            Strategy::Batched,
        ],
        // One thread per URL for the pool; for async, ten permits for ten requests is
        // `gather` with no semaphore: all ten start at once.
        concurrency: ARTICLE_REQUESTS,
        batch_size: 5,
        pause: Duration::from_secs(1),
        retry: RetryPolicy::preset(RetryPreset::None),
        timeout: Duration::from_secs(30),
        stop: Stop::Count(ARTICLE_REQUESTS),
        load: Load::Closed,
        seed: 1,
        endpoint: Endpoint::embedded(mock_server::Profile {
            seed: Some(1),
            ..mock_server::Profile::default()
        }),
        out: out.map(Path::to_path_buf),
        force,
        quiet,
        ..RunConfig::default()
    }
}

/// The command: run the comparison, print it, write it.
pub(crate) fn execute(args: &ReproduceArgs, stop: &StopToken) -> Result<Finish, RunError> {
    let mut cfg = article_config(args.out.as_deref(), args.force, args.quiet);
    cfg.no_tui = args.no_tui;
    cfg.rounds = args.rounds.unwrap_or(1);
    if args.python {
        use crate::model::strategy::PyClient;
        let originals = [PyClient::Sequential, PyClient::Threadpool, PyClient::Aiohttp];
        crate::plan::python::check(&crate::plan::python::interpreter(None), &originals)?;
        // Each original after its twin.
        cfg.strategies = vec![
            Strategy::Sequential,
            Strategy::Python(PyClient::Sequential),
            Strategy::Threadpool,
            Strategy::Python(PyClient::Threadpool),
            Strategy::Async,
            Strategy::Python(PyClient::Aiohttp),
            Strategy::Batched,
        ];
    }
    let cfg = Plan::new(cfg)?;
    let results = crate::commands::compare::run(&cfg, stop)?;
    let shown = crate::commands::out(&render(&results.report));
    for w in results.report.warnings() {
        eprintln!("asyncbench: warning: {w}");
    }
    if let Some(dir) = &cfg.out {
        write_run(dir, &results.report, &results.intervals, results.requests_log)?;
        crate::commands::out(&format!("wrote {}\n", dir.display()))?;
    }
    shown?;
    Ok(finish_run(&results.report, results.incomplete))
}

/// The article's implied time for a strategy, with the reason.
fn article_expectation(s: Strategy) -> &'static str {
    match s {
        Strategy::Sequential => "≈10 s: ten 1 s calls one after another",
        Strategy::Threadpool => "(not in the article; the ThreadPoolExecutor twin)",
        Strategy::Async => "≈1 s: asyncio.gather overlaps all ten",
        Strategy::Batched => "≈3 s: two batches of 1 s plus one 1 s pause",
        Strategy::AsyncSingle | Strategy::AsyncOffload | Strategy::Custom(_) => "",
        Strategy::Python(p) => match p {
            crate::model::strategy::PyClient::Sequential => "≈10 s: the article's own requests loop",
            crate::model::strategy::PyClient::Threadpool => {
                "(not in the article; ThreadPoolExecutor + requests)"
            }
            crate::model::strategy::PyClient::Aiohttp => "≈1 s: the article's own aiohttp + gather",
            _ => "",
        },
    }
}

/// A strategy's time: its one run's wall time, or over rounds the mean round's, with the
/// interval as a note.
fn round_time(s: &crate::model::report::StrategyReport) -> (f64, String) {
    let walls: Vec<f64> = s.rounds.iter().map(|r| r.wall_s).collect();
    match crate::model::uncertainty::Estimate::of(&walls) {
        Some(e) => (
            e.mean,
            format!(" (mean of {} rounds, 95 % [{:.3}, {:.3}] s)", e.n, e.lo, e.hi),
        ),
        None => (s.wall_s, String::new()),
    }
}

/// The printed comparison.
pub(crate) fn render(report: &RunReport) -> String {
    let mut t = String::new();
    if let Some(why) = &report.incomplete_reason {
        let _ = writeln!(t, "INCOMPLETE RUN: {why}\n");
    }
    let _ = writeln!(
        t,
        "The article's comparison: {ARTICLE_REQUESTS} × GET /delay/1 on the embedded mock (closed loop, no retries)\n"
    );
    let _ = writeln!(
        t,
        "{:<14} {:>9} {:>8} {:>9}   article",
        "strategy", "time_s", "speedup", "ok"
    );
    let base = report
        .strategies
        .iter()
        .find(|s| s.id == Strategy::Sequential)
        .map(|s| round_time(s).0);
    for s in &report.strategies {
        if s.id == Strategy::Batched {
            let _ = writeln!(
                t,
                "\nThe article's batch example: process_batch(batch_size=5), asyncio.sleep(1) between batches"
            );
        }
        let (time, interval) = round_time(s);
        let speedup = base.map_or("-".into(), |b| format!("{:.2}×", b / time.max(1e-9)));
        let ok = format!("{}/{}", s.count(crate::model::outcome::Outcome::Ok), s.requests);
        let _ = writeln!(
            t,
            "{:<14} {:>9.3} {:>8} {:>9}   {}{interval}",
            s.id.to_string(),
            time,
            speedup,
            ok,
            article_expectation(s.id)
        );
    }
    let _ = writeln!(
        t,
        "\nThe article prints no measured figures; its column is what its code implies.\nmachine: {}",
        report.provenance.machine.summary()
    );
    t
}
