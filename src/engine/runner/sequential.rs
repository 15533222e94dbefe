//! `sequential`: one ureq agent on one thread, one request after another: the twin of
//! `for url in urls: requests.get(url)`. Its wall time is the sum of its latencies.
//!
//! The thread is a worker of the blocking driver (`blocking.rs`), so an interrupted run can stop
//! waiting for a request stuck in flight; it does the same work the calling thread would.

use crate::engine::runner::{RunContext, StrategyRun, blocking};
use crate::model::error::RunError;

/// Runs the workload one request at a time. In an open loop a request that is due while the
/// previous one is still running simply starts late; its latency counts from when it was due.
pub(crate) fn run_sequential(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let (run, _) = blocking::drive(ctx, 1, |job| {
        std::thread::Builder::new()
            .name("sequential".into())
            .spawn(job)
            .map(drop)
            .map_err(|e| RunError::Setup {
                what: "sequential thread",
                source: e.into(),
            })
    })?;
    Ok(run)
}
