//! The driver both blocking strategies share: W worker threads, each with its own ureq agent and
//! recorder, taking request indexes from one atomic counter the way executor threads take jobs
//! from a queue. `sequential` is this with one thread, `threadpool` with C threads from a rayon
//! pool.
//!
//! A run has up to two phases, the warm-up and the measured one; the workers keep their agents
//! (and so their connections) from one to the next, and all finish warming up before the
//! measured phase's clock starts.
//!
//! The workers record into a few recorders they share (worker `w` into stripe `w mod S`, S
//! twice the cores): a recorder per worker held histograms and a request-log buffer for every
//! thread, and the thread pool's memory was mostly the harness's (peak RSS at 1 000 workers,
//! 1 s latency: 1 130 MB, 447 with the stripes: results/2026-12-06e-epyc-2c/memory-threadpool/).
//! Each worker keeps the request it has in flight in a slot of its own.
//! The driver waits for the workers to finish; after a stop it waits at most the grace period,
//! then takes what the stripes hold and counts the requests still in flight as `cancelled`,
//! leaving their threads to end on their own deadlines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;

use crate::engine::client::blocking::BlockingClient;
use crate::engine::runner::{Attempts, Phase, RunContext, StrategyRun, WarmupRun, send_blocking};
use crate::model::error::RunError;
use crate::stats::recorder::Recorder;

/// Tells the driver a worker is done, even if the worker panicked.
struct DoneGuard(mpsc::Sender<()>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// What the workers share in one phase: the next request index, the requests issued, the start.
#[derive(Debug, Default)]
struct PhaseState {
    next: AtomicU64,
    issued: AtomicU64,
    t0: OnceLock<Instant>,
}

/// Recorders (warm-up and measured) that some workers share.
struct Stripe {
    warmup: Mutex<Recorder>,
    main: Mutex<Recorder>,
}

/// How many stripes `workers` workers record into: twice the cores (so that few workers on
/// different cores meet at one lock), never more than the workers.
fn stripes(workers: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    workers.min(2 * cores).max(1)
}

fn record_into(slot: &Mutex<Recorder>, record: &crate::model::record::Record) {
    match slot.lock() {
        Ok(mut r) => r.record(record),
        Err(poisoned) => poisoned.into_inner().record(record),
    }
}

fn take(slot: &Mutex<Recorder>) -> Recorder {
    match slot.lock() {
        Ok(mut r) => std::mem::take(&mut *r),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    }
}

/// One worker's loop over one phase: wait for its slot to open (`--ramp`: worker `w` of `of`),
/// then take the next index, wait for its due time (open loop), send it with retries, record
/// it; until the phase, its time limit or a stop ends it.
#[allow(clippy::too_many_arguments)]
fn run_phase(
    ctx: &RunContext,
    client: &BlockingClient,
    rng: &mut SmallRng,
    phase: Phase,
    state: &PhaseState,
    (recorder, current): (&Mutex<Recorder>, &Mutex<Option<Attempts>>),
    (w, of): (usize, usize),
    measured: bool,
) {
    let t0 = *state.t0.get_or_init(Instant::now);
    let retries = ctx.retries(&phase, t0);
    if let Some(at) = ctx.slot_opens(&phase, t0, w as u64, of as u64) {
        let wait = at.saturating_duration_since(Instant::now());
        if !wait.is_zero() && !ctx.stop.sleep_blocking(wait) {
            return;
        }
    }
    while ctx.stop.requested().is_none() {
        let i = state.next.fetch_add(1, Ordering::Relaxed);
        if !phase.may_issue(i, t0) {
            break;
        }
        let intended = match ctx.due(t0, i).filter(|_| phase.scheduled) {
            Some(due) => {
                let now = Instant::now();
                if due > now && !ctx.stop.sleep_blocking(due - now) {
                    break;
                }
                due
            }
            None => Instant::now(),
        };
        state.issued.fetch_add(1, Ordering::Relaxed);
        if measured {
            ctx.live.started();
        }
        let record = send_blocking(
            client,
            &ctx.stop,
            &retries,
            rng,
            intended,
            phase.index(i),
            current,
        );
        ctx.work_blocking(&record);
        if measured {
            ctx.live.finished(&record);
        }
        record_into(recorder, &record);
    }
}

/// Runs `workers` blocking workers through the warm-up (if any) and the measured phase; `spawn`
/// starts one (on a rayon pool or a plain thread). Returns the merged run and whether every
/// worker finished (false: some were left running after a stop's grace period).
pub(crate) fn drive(
    ctx: &RunContext,
    workers: usize,
    spawn: impl Fn(Box<dyn FnOnce() + Send + 'static>) -> Result<(), RunError>,
) -> Result<(StrategyRun, bool), RunError> {
    let (warmup, main) = ctx.phases();
    let states = Arc::new((PhaseState::default(), PhaseState::default()));
    let barrier = Arc::new(Barrier::new(workers));
    let stripes: Arc<Vec<Stripe>> = Arc::new(
        (0..stripes(workers))
            .map(|_| Stripe {
                warmup: Mutex::new(ctx.warmup_recorder()),
                main: Mutex::new(ctx.recorder()),
            })
            .collect(),
    );
    // The request each worker has in flight (so that the driver can write a line for it if
    // the grace period after a stop runs out).
    let current: Arc<Vec<Mutex<Option<Attempts>>>> =
        Arc::new((0..workers).map(|_| Mutex::new(None)).collect());
    let (done_tx, done_rx) = mpsc::channel();
    for w in 0..workers {
        let (ctx, states, barrier) = (ctx.clone(), states.clone(), barrier.clone());
        let (stripes, current) = (stripes.clone(), current.clone());
        let guard = DoneGuard(done_tx.clone());
        spawn(Box::new(move || {
            let _guard = guard;
            let (stripe, current) = (&stripes[w % stripes.len()], &current[w]);
            let client = BlockingClient::new(ctx.req.clone(), ctx.limits());
            let mut rng = ctx.rng(w as u64 + 1);
            if let Some(phase) = warmup {
                run_phase(
                    &ctx,
                    &client,
                    &mut rng,
                    phase,
                    &states.0,
                    (&stripe.warmup, current),
                    (w, workers),
                    false,
                );
                // Every worker is warm before the measured clock starts.
                barrier.wait();
            }
            run_phase(
                &ctx,
                &client,
                &mut rng,
                main,
                &states.1,
                (&stripe.main, current),
                (w, workers),
                true,
            );
        }))?;
    }
    drop(done_tx);
    let all_done = wait_for_workers(ctx, &done_rx, workers);
    let end = Instant::now();
    Ok((
        gather(
            ctx,
            (&stripes, &current),
            &states,
            warmup.is_some(),
            all_done,
            end,
            workers,
        ),
        all_done,
    ))
}

/// Waits for every worker to say it is done, or, after a stop, until the grace period runs out;
/// whether all were.
fn wait_for_workers(ctx: &RunContext, done: &mpsc::Receiver<()>, workers: usize) -> bool {
    let mut finished = 0;
    while finished < workers {
        match done.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if ctx.grace_deadline().is_some_and(|d| Instant::now() >= d) {
                    break;
                }
            }
        }
    }
    finished == workers
}

/// The workers' recorders merged into the run. When some were left running (`all_done`
/// false), the request each had in flight is counted cancelled, in the phase it belongs to.
fn gather(
    ctx: &RunContext,
    (stripes, current): (&[Stripe], &[Mutex<Option<Attempts>>]),
    states: &(PhaseState, PhaseState),
    warmed: bool,
    all_done: bool,
    end: Instant,
    workers: usize,
) -> StrategyRun {
    let mut recorder = ctx.recorder();
    let mut warm = ctx.warmup_recorder();
    // Which phase the requests still in flight belong to: the measured one once it started.
    let measuring = states.1.t0.get().is_some();
    for stripe in stripes {
        // Taking a recorder leaves a default one: a late record lands there and is ignored.
        recorder += take(&stripe.main);
        warm += take(&stripe.warmup);
    }
    if !all_done {
        for slot in current {
            let in_flight = slot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(mut a) = in_flight {
                let into = if measuring { &mut recorder } else { &mut warm };
                into.record_cancelled(&a.cancel());
            }
        }
    }
    let (w_state, m_state) = (&states.0, &states.1);
    let issued = m_state.issued.load(Ordering::SeqCst);
    if !all_done {
        // A request issued in the microseconds before it was published has no line; it is
        // still counted.
        recorder.add_cancelled(issued.saturating_sub(recorder.total()));
    }
    let main_t0 = m_state.t0.get().copied();
    let warmup = warmed.then(|| {
        let t0 = w_state.t0.get().copied().unwrap_or(end);
        WarmupRun {
            recorder: warm,
            wall: main_t0.unwrap_or(end).saturating_duration_since(t0),
            issued: w_state.issued.load(Ordering::SeqCst),
        }
    });
    StrategyRun {
        warmup,
        recorder,
        wall: main_t0.map_or(Duration::ZERO, |t| end.saturating_duration_since(t)),
        issued,
        threads: workers as u64,
        adaptive: None,
        external: None,
    }
}

#[cfg(test)]
mod tests {
    use super::stripes;

    /// The recorders do not grow with the workers: one for one worker, at most twice the cores
    /// for a thousand.
    #[test]
    fn workers_share_at_most_twice_the_cores_recorders() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(stripes(1), 1);
        assert_eq!(stripes(0), 1);
        assert_eq!(stripes(1000), 2 * cores);
        assert!(stripes(2) <= 2);
    }
}
