//! `threadpool`: a rayon pool of C threads, each blocking on its own ureq agent: the twin of
//! `concurrent.futures.ThreadPoolExecutor(max_workers=C)`.
//!
//! Each worker thread owns its agent (and so its keep-alive connection) and its recorder:
//! a shared agent would put every thread behind one connection-pool lock, which measures lock
//! contention rather than blocking I/O. Workers take the next request index from one atomic
//! counter, the way executor threads take the next job from its queue, and their recorders are
//! merged once at the end.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::blocking::BlockingClient;
use crate::error::RunError;
use crate::metrics::Recorder;
use crate::runner::{RunContext, StrategyRun, execute_blocking, sleep_until_blocking};

/// Runs the workload on `concurrency` blocking threads. The pool is built before the clock
/// starts (Python's executor also exists before `submit`).
pub fn run_threadpool(ctx: &RunContext<'_>) -> Result<StrategyRun, RunError> {
    let threads = ctx.cfg.effective_concurrency(crate::config::Strategy::Threadpool) as usize;
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
        // Blocking HTTP needs little stack; 256 KiB lets thousands of threads start.
        .stack_size(256 * 1024)
        .build()
        .map_err(|e| RunError::Setup {
            what: "thread pool",
            why: e.to_string(),
        })?;
    let next = AtomicU64::new(0);
    let merged = Mutex::new(Recorder::new());
    let n = ctx.requests();
    let t0 = Instant::now();
    pool.scope(|s| {
        for worker in 0..threads {
            let (next, merged) = (&next, &merged);
            s.spawn(move |_| {
                let client = BlockingClient::new(ctx.req.clone(), ctx.cfg.timeout);
                let mut rng = ctx.rng(worker as u64 + 1);
                let mut recorder = Recorder::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let intended = match ctx.due(t0, i) {
                        Some(due) => {
                            sleep_until_blocking(due);
                            due
                        }
                        None => Instant::now(),
                    };
                    recorder.record(&execute_blocking(&client, &ctx.cfg.retry, &mut rng, intended));
                    ctx.progress.inc(1);
                }
                // Once per worker, not per request.
                match merged.lock() {
                    Ok(mut m) => *m += &recorder,
                    Err(poisoned) => *poisoned.into_inner() += &recorder,
                }
            });
        }
    });
    let wall = t0.elapsed();
    drop(pool);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let recorder = merged.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(StrategyRun { recorder, wall })
}
