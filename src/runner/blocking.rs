//! The driver both blocking strategies share: W worker threads, each with its own ureq agent and
//! recorder, taking request indexes from one atomic counter the way executor threads take jobs
//! from a queue. `sequential` is this with one thread, `threadpool` with C threads from a rayon
//! pool.
//!
//! Each worker keeps its recorder in a slot of its own (a mutex only that worker and, at the end,
//! the driver ever lock: no contention per request). The driver waits for the workers to finish;
//! after a stop it waits at most the grace period, then takes what each slot holds and counts the
//! requests still in flight as `cancelled`, leaving their threads to end on their own deadlines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::blocking::BlockingClient;
use crate::error::RunError;
use crate::metrics::Recorder;
use crate::runner::{RunContext, StrategyRun, execute_blocking};

/// Tells the driver a worker is done, even if the worker panicked.
struct DoneGuard(mpsc::Sender<()>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// The counters the workers share: the next request index and the requests issued.
#[derive(Debug, Default)]
struct Shared {
    next: AtomicU64,
    issued: AtomicU64,
}

/// One worker's loop: take the next index, wait for its due time (open loop), send it with
/// retries, record it; until the workload or a stop ends it.
fn work(ctx: &RunContext, shared: &Shared, slot: &Mutex<Recorder>, t0: Instant, worker: u64) {
    let client = BlockingClient::new(ctx.req.clone(), ctx.limits());
    let mut rng = ctx.rng(worker + 1);
    let n = ctx.requests();
    while crate::stop::requested().is_none() {
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        let intended = match ctx.due(t0, i) {
            Some(due) => {
                let now = Instant::now();
                if due > now && !crate::stop::sleep_blocking(due - now) {
                    break;
                }
                due
            }
            None => Instant::now(),
        };
        shared.issued.fetch_add(1, Ordering::Relaxed);
        let record = execute_blocking(&client, &ctx.cfg.retry, &mut rng, intended, i);
        match slot.lock() {
            Ok(mut r) => r.record(&record),
            Err(poisoned) => poisoned.into_inner().record(&record),
        }
        ctx.progress.inc(1);
    }
}

/// Runs `workers` blocking workers; `spawn` starts one (on a rayon pool or a plain thread).
/// Returns the merged run and whether every worker finished (false: some were left running
/// after a stop's grace period).
pub(crate) fn drive(
    ctx: &RunContext,
    workers: usize,
    spawn: impl Fn(Box<dyn FnOnce() + Send + 'static>) -> Result<(), RunError>,
) -> Result<(StrategyRun, bool), RunError> {
    let shared = Arc::new(Shared::default());
    let slots: Vec<Arc<Mutex<Recorder>>> = (0..workers)
        .map(|_| Arc::new(Mutex::new(ctx.recorder())))
        .collect();
    let (done_tx, done_rx) = mpsc::channel();
    let t0 = Instant::now();
    for (w, slot) in slots.iter().enumerate() {
        let (ctx, shared, slot) = (ctx.clone(), shared.clone(), slot.clone());
        let guard = DoneGuard(done_tx.clone());
        spawn(Box::new(move || {
            let _guard = guard;
            work(&ctx, &shared, &slot, t0, w as u64);
        }))?;
    }
    drop(done_tx);
    let mut finished = 0;
    while finished < workers {
        match done_rx.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if ctx.grace_deadline().is_some_and(|d| Instant::now() >= d) {
                    break;
                }
            }
        }
    }
    let wall = t0.elapsed();
    let mut recorder = ctx.recorder();
    for slot in slots {
        let mut r = match slot.lock() {
            Ok(mut r) => std::mem::take(&mut *r),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        // Taking the recorder leaves a default one: a late record lands there and is ignored.
        recorder += std::mem::take(&mut r);
    }
    let issued = shared.issued.load(Ordering::SeqCst);
    let all_done = finished == workers;
    if !all_done {
        recorder.add_cancelled(issued.saturating_sub(recorder.total()));
    }
    Ok((
        StrategyRun {
            recorder,
            wall,
            issued,
            threads: workers as u64,
        },
        all_done,
    ))
}
