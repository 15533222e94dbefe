//! `reproduce`: the article's sync-vs-async comparison as it stands, on the embedded mock:
//! 10 GET requests to `/delay/1` (its httpbin call), sequential vs thread pool vs async, then its
//! `process_batch` example (batch_size = 5, 1 s pause).
//!
//! The article prints no measured figures; what its code implies is shown beside ours.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::compare::{Session, check_writable, run_one, summary};
use crate::config::{LoadModel, RunConfig, Strategy, Workload};
use crate::error::RunError;
use crate::report::RunReport;
use crate::report::machine::{Machine, git_commit};
use crate::retry::{RetryPolicy, RetryPreset};

/// Requests in the article's benchmark.
pub const ARTICLE_REQUESTS: u64 = 10;
/// The article's endpoint delay (`httpbin.org/delay/1`).
pub const ARTICLE_DELAY: Duration = Duration::from_secs(1);

/// The configuration of the article's comparison.
pub fn article_config(out: Option<&Path>, quiet: bool) -> RunConfig {
    RunConfig {
        workload: Workload {
            requests: ARTICLE_REQUESTS,
            model: "mock-model".into(),
            prompt: String::new(),
            max_tokens: 1,
            stream: false,
            delay_endpoint: Some(ARTICLE_DELAY),
        },
        strategies: vec![
            Strategy::Sequential,
            Strategy::Threadpool,
            Strategy::Async,
            Strategy::Batched,
        ],
        // One thread per URL for the pool; async is `gather` with no semaphore (set below).
        concurrency: ARTICLE_REQUESTS,
        batch_size: 5,
        pause: Duration::from_secs(1),
        retry: RetryPolicy::preset(RetryPreset::None),
        timeout: Duration::from_secs(30),
        load: LoadModel::Closed,
        seed: 1,
        mock: Some(mock_server::Profile::default()),
        target: None,
        out: out.map(Path::to_path_buf),
        quiet,
    }
}

/// Runs the comparison, prints it, and returns the report.
pub fn reproduce(out: Option<&Path>, quiet: bool) -> Result<RunReport, RunError> {
    let cfg = article_config(out, quiet);
    cfg.validate()?;
    if let Some(dir) = out {
        check_writable(dir)?;
    }
    let started_unix = crate::report::machine::unix_now();
    let session = Session::open(&cfg)?;
    let unbounded = RunConfig {
        concurrency: 0,
        ..cfg.clone()
    };
    let mut strategies = Vec::new();
    let mut intervals = Vec::new();
    for s in &cfg.strategies {
        let c = if *s == Strategy::Async { &unbounded } else { &cfg };
        let (report, iv) = run_one(c, &session, *s)?;
        strategies.push(report);
        intervals.push((s.id().to_owned(), iv));
    }
    let report = RunReport {
        tool: format!("asyncbench {}", env!("CARGO_PKG_VERSION")),
        started_unix,
        git_commit: git_commit(),
        machine: Machine::detect(),
        config: summary(&cfg, &session),
        strategies,
        complete: true,
    };
    print!("{}", render(&report));
    if let Some(dir) = out {
        crate::report::output::write_run(dir, &report, &intervals)?;
        println!("wrote {}", dir.display());
    }
    Ok(report)
}

/// The article's implied time for a strategy, with the reason.
fn article_expectation(id: &str) -> &'static str {
    match id {
        "sequential" => "≈10 s: ten 1 s calls one after another",
        "threadpool" => "(not in the article; the ThreadPoolExecutor twin)",
        "async" => "≈1 s: asyncio.gather overlaps all ten",
        "batched" => "≈3 s: two batches of 1 s plus one 1 s pause",
        _ => "",
    }
}

/// The printed comparison.
pub fn render(report: &RunReport) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "The article's comparison: {ARTICLE_REQUESTS} × GET /delay/1 on the embedded mock (closed loop, no retries)\n"
    );
    let _ = writeln!(
        t,
        "{:<12} {:>9} {:>8} {:>9}   article",
        "strategy", "time_s", "speedup", "ok"
    );
    let base = report
        .strategies
        .iter()
        .find(|s| s.id == "sequential")
        .map(|s| s.wall_s);
    for s in &report.strategies {
        if s.id == "batched" {
            let _ = writeln!(
                t,
                "\nThe article's batch example: process_batch(batch_size=5), asyncio.sleep(1) between batches"
            );
        }
        let speedup = base.map_or("-".into(), |b| format!("{:.2}×", b / s.wall_s.max(1e-9)));
        let _ = writeln!(
            t,
            "{:<12} {:>9.3} {:>8} {:>9}   {}",
            s.id,
            s.wall_s,
            speedup,
            s.accounted,
            article_expectation(&s.id)
        );
    }
    let _ = writeln!(
        t,
        "\nThe article prints no measured figures; its column is what its code implies.\nmachine: {}",
        report.machine.summary()
    );
    t
}
