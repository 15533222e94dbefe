//! The bench groups, and the helper that runs N requests of one strategy against a mock started
//! once per group (outside the timed loop).

pub mod article;
pub mod batch_size;
pub mod concurrency;
pub mod live;
pub mod overhead;
pub mod scaling;

use std::sync::Arc;
use std::time::Duration;

use asyncbench::Target;
use asyncbench::internals::CpuTimes;
use asyncbench::internals::{Board, Live};
use asyncbench::internals::{RunContext, run_strategy};
use asyncbench::model::plan::{Load, Stop, Workload};
use asyncbench::model::retry::{RetryPolicy, RetryPreset};
use asyncbench::model::strategy::Strategy;
use asyncbench::{Plan, RunConfig};
use criterion::Criterion;
use mock_server::{MockServer, Profile};

/// Criterion settings for slow, I/O-bound iterations: few samples, flat sampling, short warm-up,
/// so the whole suite stays within ten minutes on two cores. Plots stay on for the HTML report
/// (`target/criterion/report/index.html`).
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// A mock with a fixed latency, started outside every timed loop.
pub fn mock(latency: Duration) -> MockServer {
    MockServer::start(Profile::fixed(latency)).expect("the mock starts on 127.0.0.1:0")
}

/// One strategy's settings for a bench point.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    pub strategy: Strategy,
    pub requests: u64,
    pub concurrency: u64,
    pub batch_size: u64,
    pub pause: Duration,
    /// Tick the live view's counters (a lane on a board) as a run with the view on does.
    pub live: bool,
}

impl Point {
    pub fn new(strategy: Strategy, requests: u64, concurrency: u64) -> Self {
        Point {
            strategy,
            requests,
            concurrency,
            batch_size: concurrency.max(1),
            pause: Duration::ZERO,
            live: false,
        }
    }

    /// The same point with the live view's counters ticked.
    pub fn watched(self) -> Self {
        Point { live: true, ..self }
    }
}

/// Runs one point `iters` times and returns the time spent in requests only: each run's clock
/// starts after its runtime, pool and client exist (`StrategyRun::wall`).
pub fn time_point(server: &MockServer, p: Point, iters: u64) -> Duration {
    run_point(server, p, iters).0
}

/// Runs one point `iters` times; returns the wall time spent in requests and the client's CPU
/// time over the same runs (the process's CPU minus the embedded mock's threads, as a run's
/// `cpu_s` is measured; runtime and pool start-up included, a few µs per run).
pub fn run_point(server: &MockServer, p: Point, iters: u64) -> (Duration, Duration) {
    let cfg = RunConfig {
        workload: Workload {
            model: "mock-model".into(),
            prompt: "bench".into(),
            max_tokens: 8,
            ..Workload::default()
        },
        strategies: vec![p.strategy],
        concurrency: p.concurrency,
        batch_size: p.batch_size,
        pause: p.pause,
        retry: RetryPolicy::preset(RetryPreset::None),
        timeout: Duration::from_secs(30),
        stop: Stop::Count(p.requests),
        load: Load::Closed,
        seed: 1,
        quiet: true,
        ..RunConfig::default()
    };
    let target = Target {
        embedded: true,
        ..Target::external(format!("{}/v1", server.uri()))
    };
    let mut ctx = RunContext {
        req: Arc::new(target.prepare(&cfg)),
        strategy: p.strategy,
        cfg: Arc::new(Plan::new(cfg).expect("the bench's configuration is valid")),
        schedule: None,
        live: Live::default(),
        log: None,
        cpu: None,
        stop: asyncbench::StopToken::new(),
    };
    let mut total = Duration::ZERO;
    let mut cpu = 0.0;
    for _ in 0..iters {
        if p.live {
            let board = Board::new(Vec::new(), None, Vec::new());
            ctx.live = Live::to(board.lane(p.strategy, 1, Some(p.requests), None));
        }
        let before = CpuTimes::now();
        let run = run_strategy(p.strategy, &ctx).expect("the strategy runs");
        cpu += before.client_seconds(&CpuTimes::now());
        assert_eq!(run.issued, p.requests, "every request issued");
        assert_eq!(run.recorder.total(), p.requests, "every request accounted for");
        total += run.wall;
    }
    (total, Duration::from_secs_f64(cpu))
}
