//! `sequential`: one ureq agent on the calling thread, one request after another: the twin of
//! `for url in urls: requests.get(url)`. Its wall time is the sum of its latencies.

use std::time::Instant;

use crate::client::blocking::BlockingClient;
use crate::error::RunError;
use crate::metrics::Recorder;
use crate::runner::{RunContext, StrategyRun, execute_blocking, sleep_until_blocking};

/// Runs the workload one request at a time. In an open loop a request that is due while the
/// previous one is still running simply starts late; its latency counts from when it was due.
pub fn run_sequential(ctx: &RunContext<'_>) -> Result<StrategyRun, RunError> {
    let client = BlockingClient::new(ctx.req.clone(), ctx.cfg.timeout);
    let mut rng = ctx.rng(0);
    let mut recorder = Recorder::new();
    let t0 = Instant::now();
    for i in 0..ctx.requests() {
        let intended = match ctx.due(t0, i) {
            Some(due) => {
                sleep_until_blocking(due);
                due
            }
            None => Instant::now(),
        };
        let record = execute_blocking(&client, &ctx.cfg.retry, &mut rng, intended);
        recorder.record(&record);
        ctx.progress.inc(1);
    }
    Ok(StrategyRun {
        recorder,
        wall: t0.elapsed(),
    })
}
