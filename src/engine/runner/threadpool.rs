//! `threadpool`: a rayon pool of C threads, each blocking on its own ureq agent: the twin of
//! `concurrent.futures.ThreadPoolExecutor(max_workers=C)`.
//!
//! Each worker thread owns its agent (and so its keep-alive connection) and its recorder:
//! a shared agent would put every thread behind one connection-pool lock, which measures lock
//! contention rather than blocking I/O. The workers are the blocking driver's (`blocking.rs`):
//! they take the next request index from one atomic counter, the way executor threads take the
//! next job from its queue, and their recorders are merged once at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::engine::runner::{RunContext, StrategyRun, blocking};
use crate::model::error::RunError;
use crate::model::strategy::Strategy;

/// Runs the workload on `concurrency` blocking threads. The pool is built before the clock
/// starts (Python's executor also exists before `submit`).
pub(crate) fn run_threadpool(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    // Always a number: a thread pool's concurrency is at least 1 (`-c 0` is refused for it).
    let threads = ctx.cfg.effective_concurrency(Strategy::Threadpool).unwrap_or(1) as usize;
    // Counts live pool threads, so we can wait for them to exit after the run: rayon does not
    // join its threads on drop, and stragglers would be charged to the next strategy.
    let alive = Arc::new(AtomicUsize::new(threads));
    let exited = alive.clone();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .exit_handler(move |_| {
            exited.fetch_sub(1, Ordering::SeqCst);
        })
        .thread_name(|i| format!("threadpool-{i}"))
        // Blocking HTTP needs little stack; 512 KiB lets thousands of threads start, and holds
        // the DEFLATE of a sealed interval in a debug build (256 KiB overflowed there).
        .stack_size(512 * 1024)
        .build()
        .map_err(|e| RunError::Setup {
            what: "thread pool",
            source: e.into(),
        })?;
    let (run, all_done) = blocking::drive(ctx, threads, |job| {
        pool.spawn(job);
        Ok(())
    })?;
    drop(pool);
    // After a stop's grace period some threads may still be in a request: do not wait for them.
    if all_done {
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(run)
}
