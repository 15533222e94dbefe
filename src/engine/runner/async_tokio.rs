//! `async` and `async-single`: one reqwest client, at most C requests in flight (C = 0: all at
//! once), the twin of `asyncio.gather` under a `Semaphore`. `async` runs on a multi-thread
//! runtime, `async-single` on a current-thread one, which is what Python's event loop is.
//!
//! `async-offload` is `async` whose `--cpu-work` goes to a rayon pool of one thread per core
//! (the task awaits it), where `async` and `async-single` do it on the event loop.
//!
//! A closed loop at a fixed C runs C tasks, each sending one request after another and counting
//! each as it ends into a recorder of its runtime thread: on the wire what `gather` under a
//! semaphore does, without a task spawned and a permit handed over per request (1.4–1.8 µs of
//! CPU a request less, `results/2026-12-06b-epyc-2c/ab/`). Under `--ramp` task k starts its
//! loop when its slot opens. An open loop, `--concurrency 0` and `--concurrency auto` spawn a
//! task per request when it may start (its due time and a free slot of the C, at once, or a
//! slot of the [`Controller`], whose limit follows the target's rate limit); each returns its
//! `Record` and the driver counts them as they finish. Either way a long run holds at most C
//! tasks, not one per request.
//!
//! How fast the next request follows the one that ended moves a closed loop's tails against a
//! mock on the same cores: the sooner, the more stay in flight (good/s × mean latency, 919–927
//! → 937 of 1 000) and the more the answers' bursts stay together (p99 125–128 → 152 ms at
//! 1 000 connections opened at once, medians of 5 alternating rounds). Those bursts are the
//! loop's synchronized start, not the harness's lateness: with `--warmup` and `--ramp` the same
//! point's p99 is 101–103 ms (`results/2026-12-06b-epyc-2c/tails/`).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::engine::adaptive::{Controller, Slot};
use crate::engine::client::async_client::AsyncClient;
use crate::engine::runner::{
    CancelSink, Pending, Phase, Retries, RunContext, StrategyRun, send_async, warmup_then_measure, work_async,
};
use crate::model::error::RunError;
use crate::model::record::Record;
use crate::model::strategy::Strategy;
use crate::stats::recorder::Recorder;

/// Runs the workload on a multi-thread runtime (one worker per core).
pub(crate) fn run_async(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let rt = numbered(
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("async-worker"),
    )
    .build();
    drive(ctx, rt, Strategy::Async)
}

/// Runs the workload as `async` does, on a runtime of its own whose workers are named for it,
/// with `--cpu-work` on the offload pool.
pub(crate) fn run_async_offload(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let rt = numbered(
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("offload-worker"),
    )
    .build();
    drive(ctx, rt, Strategy::AsyncOffload)
}

/// Runs the workload on a current-thread runtime: one thread does everything.
pub(crate) fn run_async_single(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let rt = Builder::new_current_thread().enable_all().build();
    drive(ctx, rt, Strategy::AsyncSingle)
}

thread_local! {
    /// This thread's number among its runtime's threads (0 on a thread no runtime started):
    /// which of the recorders of [`run_workers`] its tasks count into.
    static STRIPE: Cell<usize> = const { Cell::new(0) };
}

/// Numbers the threads of the runtime `b` builds, from 0 (its workers are started first).
fn numbered(b: &mut Builder) -> &mut Builder {
    let next = AtomicUsize::new(0);
    b.on_thread_start(move || STRIPE.set(next.fetch_add(1, Ordering::Relaxed)))
}

fn drive(ctx: &RunContext, rt: std::io::Result<Runtime>, s: Strategy) -> Result<StrategyRun, RunError> {
    let rt = rt.map_err(|e| RunError::Setup {
        what: "tokio runtime",
        source: e.into(),
    })?;
    // Shared by the tasks behind one `Arc`: a clone per request copied its URL.
    let client = Arc::new(AsyncClient::new(ctx.req.clone(), ctx.limits())?);
    // The runtime's workers, the calling thread that drives them from `block_on`, and the
    // offload pool.
    let pool = ctx
        .cpu
        .as_ref()
        .filter(|w| w.offloads())
        .map_or(0, |w| w.threads());
    let threads = rt.metrics().num_workers() as u64 + u64::from(s != Strategy::AsyncSingle) + pool;
    let ctx = ctx.clone();
    let run = async move {
        let (ctx, client) = (&ctx, &client);
        warmup_then_measure(ctx, threads, |phase, mut recorder, measured| async move {
            let ctl = ctx.cfg.load.adaptive().map(|a| {
                Controller::new(
                    a,
                    ctx.req.mean_input_tokens() + u64::from(ctx.cfg.workload.max_tokens),
                )
            });
            if measured && let (Some(c), Some(lane)) = (&ctl, ctx.live.lane()) {
                let c = Arc::downgrade(c);
                lane.watch_limit(move || c.upgrade().map_or(0.0, |c| c.limit()));
            }
            let issued = run_phase(ctx, client, s, phase, &mut recorder, measured, ctl.as_ref()).await;
            (recorder, issued, ctl.map(|c| c.report()))
        })
        .await
    };
    if s == Strategy::AsyncSingle {
        return Ok(rt.block_on(run));
    }
    // On a multi-thread runtime the driver runs as a task on a worker, not on the thread that
    // called `block_on`: the tasks it spawns then go to that worker's own queue, and the ones
    // that finish wake a task, not a parked thread (two futex wake-ups per request fewer).
    match rt.block_on(rt.spawn(run)) {
        Ok(done) => Ok(done),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => Err(RunError::Setup {
                what: "tokio runtime",
                source: e.into(),
            }),
        },
    }
}

/// Sends one phase's requests, at most C in flight, and waits for them; returns how many it
/// issued.
async fn run_phase(
    ctx: &RunContext,
    client: &Arc<AsyncClient>,
    s: Strategy,
    phase: Phase,
    recorder: &mut Recorder,
    measured: bool,
    ctl: Option<&Arc<Controller>>,
) -> u64 {
    // Slots for a set concurrency; none for `-c 0` (every request at once, the count its only
    // limit) or under the controller, which keeps its own.
    let limit = ctx.cfg.slots(s).filter(|_| ctl.is_none()).map(|l| l as usize);
    if let Some(limit) = limit.filter(|_| !phase.scheduled) {
        return run_workers(ctx, client, phase, recorder, measured, limit).await;
    }
    let permits = limit.map(|l| Arc::new(Semaphore::new(l)));
    let mut tasks = JoinSet::new();
    let sink = CancelSink::default();
    let mut issued = 0;
    let t0 = Instant::now();
    // Shared by every request the phase spawns: one count a request, not one for each part.
    let retries = Arc::new(ctx.retries(&phase, t0));
    // The end of a duration-bounded phase, which also ends a wait for a permit.
    let ends = retries.until();
    let mut i = 0;
    while phase.may_issue(i, t0) {
        let due = ctx.due(t0, i).filter(|_| phase.scheduled);
        // While it waits for its turn, every request that finishes is counted as it finishes:
        // folded only when a turn came, a request done just after the last turn of a burst
        // waited for the next burst (up to a whole latency, seen as the harness's lateness).
        let wait = wait_turn(ctx, due, permits.as_ref(), ctl, ends);
        tokio::pin!(wait);
        let turn = loop {
            tokio::select! {
                turn = &mut wait => break turn,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    fold(recorder, done, ctx, measured);
                }
            }
        };
        let Some((permit, slot)) = turn else {
            break;
        };
        if ctx.stop.requested().is_some() || !phase.may_issue(i, t0) {
            break;
        }
        let (client, retries) = (client.clone(), retries.clone());
        let (ctl, cpu, stop) = (ctl.cloned(), ctx.cpu.clone(), ctx.stop.clone());
        let index = phase.index(i);
        let mut rng = ctx.rng(index + 1);
        // Made before the task, so even a task cancelled before it first ran leaves its record.
        let mut pending = Pending::new(index, Some(due.unwrap_or_else(Instant::now)), &sink);
        issued += 1;
        if measured {
            ctx.live.started();
        }
        tasks.spawn(async move {
            let observer = ctl.as_deref().zip(slot.as_ref().map(|s| s.seq));
            let sent = send_async(&client, &stop, &retries, &mut rng, due, &mut pending, observer);
            let record = work_async(cpu.as_ref(), sent.await).await;
            drop((permit, slot));
            record
        });
        // Fold in what has finished, so records do not pile up in the set.
        while let Some(done) = tasks.try_join_next() {
            fold(recorder, done, ctx, measured);
        }
        i += 1;
    }
    drain(&mut tasks, recorder, ctx, measured, &sink).await;
    issued
}

/// A closed loop at a fixed C: C tasks, each sending one request after another and counting it
/// as it ends. On the wire this is `gather` under a semaphore (at most C in flight, the next
/// request sent as soon as one ends), without a task spawned and a permit passed per request
/// (their cost: `results/2026-12-06b-epyc-2c/ab/`). The tasks share the next index (one
/// atomic) and count the requests they send and the records of those that end into a stripe
/// per runtime thread (the one they run on; a lock taken only to count, and uncontended, so the
/// harness's part still ends when the record is counted), merged at the end: one recorder
/// shared by two threads had its histograms' memory move between the cores on every request.
async fn run_workers(
    ctx: &RunContext,
    client: &Arc<AsyncClient>,
    phase: Phase,
    recorder: &mut Recorder,
    measured: bool,
    limit: usize,
) -> u64 {
    let threads = tokio::runtime::Handle::current().metrics().num_workers().max(1);
    let fresh = || {
        if measured {
            ctx.recorder()
        } else {
            ctx.warmup_recorder()
        }
    };
    let stripes = std::iter::once(std::mem::take(recorder))
        .chain((1..threads).map(|_| fresh()))
        .map(|r| Stripe {
            recorder: Mutex::new(r),
            issued: AtomicU64::new(0),
        })
        .collect();
    let t0 = Instant::now();
    let shared = Arc::new(Workers {
        phase,
        measured,
        next: AtomicU64::new(0),
        stripes,
        sink: CancelSink::default(),
        t0,
        retries: ctx.retries(&phase, t0),
        ctx: ctx.clone(),
        client: client.clone(),
    });
    // Each task holds only the shared part and its request in flight: its future is what a
    // request in flight costs in memory beyond the client's own. Their handles in a list, not
    // a `JoinSet` (whose entry for a task was 56 bytes beside the handle's 8).
    let slots = phase.count.map_or(limit as u64, |n| n.min(limit as u64));
    let tasks = (0..slots)
        .map(|k| tokio::spawn(shared.clone().work(k, slots)))
        .collect();
    wait_workers(tasks, ctx).await;
    let take = |s: &Stripe| std::mem::take(&mut *s.recorder.lock().unwrap_or_else(PoisonError::into_inner));
    let mut stripes = shared.stripes.iter();
    *recorder = stripes.next().map(take).unwrap_or_default();
    for s in stripes {
        *recorder += take(s);
    }
    let cancelled = std::mem::take(&mut *shared.sink.lock().unwrap_or_else(PoisonError::into_inner));
    for r in &cancelled {
        recorder.record_cancelled(r);
    }
    shared
        .stripes
        .iter()
        .map(|s| s.issued.load(Ordering::Relaxed))
        .sum()
}

/// What the tasks of [`run_workers`] share (here rather than in each task's future, which every
/// request in flight holds).
struct Workers {
    phase: Phase,
    /// The measured phase, not the warm-up.
    measured: bool,
    /// The next request's number in the phase (0-based).
    next: AtomicU64,
    /// A recorder and a count per runtime thread, by [`STRIPE`].
    stripes: Vec<Stripe>,
    sink: CancelSink,
    t0: Instant,
    retries: Retries,
    ctx: RunContext,
    client: Arc<AsyncClient>,
}

/// One runtime thread's share of [`Workers`]: what its tasks count into, on a cache line of
/// its own (one count of the requests sent, shared by both cores, moved between them twice a
/// request).
#[repr(align(128))]
struct Stripe {
    recorder: Mutex<Recorder>,
    /// Requests sent (a number taken past the phase's end is not).
    issued: AtomicU64,
}

impl Workers {
    /// The stripe of the thread this runs on (a task may move between a request's send and its
    /// end: each count goes to the thread it is made on).
    fn stripe(&self) -> &Stripe {
        &self.stripes[STRIPE.get() % self.stripes.len()]
    }

    /// One task: requests one after another until the phase ends or a stop, each counted as
    /// it ends.
    /// Task `k` of `slots` under `--ramp` first waits for its slot to open
    /// ([`RunContext::slot_opens`]).
    async fn work(self: Arc<Self>, k: u64, slots: u64) {
        let (ctx, phase, measured) = (&self.ctx, &self.phase, self.measured);
        if let Some(at) = ctx.slot_opens(phase, self.t0, k, slots).filter(|_| k > 0)
            && !ctx.stop.sleep_until(at).await
        {
            return;
        }
        while ctx.stop.requested().is_none() {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if !phase.may_issue(i, self.t0) {
                break;
            }
            self.stripe().issued.fetch_add(1, Ordering::Relaxed);
            let index = phase.index(i);
            let mut rng = ctx.rng(index + 1);
            let mut pending = Pending::borrowing(index, None, &self.sink);
            if measured {
                ctx.live.started();
            }
            let sent = send_async(
                &self.client,
                &ctx.stop,
                &self.retries,
                &mut rng,
                None,
                &mut pending,
                None,
            );
            let record = work_async(ctx.cpu.as_ref(), sent.await).await;
            self.stripe()
                .recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(&record);
            if measured {
                ctx.live.finished(&record);
            }
        }
    }
}

/// Resolves once a stop was asked for and its grace period for the requests in flight ran out.
async fn grace_over(ctx: &RunContext) {
    ctx.stop.stopped().await;
    if let Some(d) = ctx.grace_deadline() {
        tokio::time::sleep_until(d.into()).await;
    }
}

/// Waits for the workers; after a stop, only until the grace period ends, then cancels them
/// (the requests they were running leave their records in the sink) and waits for them to
/// be dropped.
async fn wait_workers(tasks: Vec<JoinHandle<()>>, ctx: &RunContext) {
    let grace = grace_over(ctx);
    tokio::pin!(grace);
    let mut waiting = tasks.into_iter();
    while let Some(mut task) = waiting.next() {
        tokio::select! {
            biased;
            _ = &mut task => {}
            _ = &mut grace => {
                task.abort();
                waiting.as_slice().iter().for_each(JoinHandle::abort);
                let _ = task.await;
                for t in waiting {
                    let _ = t.await;
                }
                return;
            }
        }
    }
}

/// What a request waits for before it is spawned. Open loop: its due time, then a permit when
/// C is set, so only requests that are due and have their slot exist as tasks (its latency
/// still counts from its due time); the schedule's backlog is its index, as the blocking
/// strategies keep it. Tasks spawned when due and left to wait for a permit piled up (1 KB each,
/// 4 900 a second at 5 000/s asked of 10 slots) and were all sent after a duration's end, the
/// run going on for minutes where `threadpool` stopped on time. Closed loop: a permit (or the
/// controller's slot), so at most C tasks exist (`gather` under a semaphore, without a million
/// parked coroutines for a long run). `None` when a stop or the phase's end came first.
async fn wait_turn(
    ctx: &RunContext,
    due: Option<Instant>,
    permits: Option<&Arc<Semaphore>>,
    ctl: Option<&Arc<Controller>>,
    ends: Option<Instant>,
) -> Option<(Option<OwnedSemaphorePermit>, Option<Slot>)> {
    match (due, permits) {
        (None, _) if let Some(c) = ctl => tokio::select! {
            s = c.acquire() => Some((None, Some(s))),
            _ = ctx.stop.stopped() => None,
            _ = phase_end(ends) => None,
        },
        (Some(due), p) => {
            if !ctx.stop.sleep_until(due).await {
                return None;
            }
            match p {
                Some(p) => permit(ctx, p, ends).await,
                None => Some((None, None)),
            }
        }
        (None, Some(p)) => permit(ctx, p, ends).await,
        (None, None) => Some((None, None)),
    }
}

/// A permit of `permits`, or `None` when a stop or the phase's end comes first.
async fn permit(
    ctx: &RunContext,
    permits: &Arc<Semaphore>,
    ends: Option<Instant>,
) -> Option<(Option<OwnedSemaphorePermit>, Option<Slot>)> {
    tokio::select! {
        p = permits.clone().acquire_owned() => Some((p.ok(), None)),
        _ = ctx.stop.stopped() => None,
        _ = phase_end(ends) => None,
    }
}

/// Resolves at the end of a duration-bounded phase; never for one bounded by its count.
async fn phase_end(ends: Option<Instant>) {
    match ends {
        Some(e) => tokio::time::sleep_until(e.into()).await,
        None => std::future::pending().await,
    }
}

/// Counts one finished task's record. A cancelled task left its record in the sink (taken by
/// [`drain`]); a task that panicked leaves its request unaccounted, and the caller's N/N check
/// fails loudly on it rather than this inventing an outcome.
fn fold(
    recorder: &mut Recorder,
    done: Result<Record, tokio::task::JoinError>,
    ctx: &RunContext,
    measured: bool,
) {
    if let Ok(record) = done {
        recorder.record(&record);
        if measured {
            ctx.live.finished(&record);
        }
    }
}

/// Waits for every task; after a stop, only until the grace period ends, then cancels the rest,
/// whose records (`cancelled`, with the attempts they had sent) come from `sink`.
pub(super) async fn drain(
    tasks: &mut JoinSet<Record>,
    recorder: &mut Recorder,
    ctx: &RunContext,
    measured: bool,
    sink: &CancelSink,
) {
    drain_tasks(tasks, recorder, ctx, measured).await;
    let cancelled = std::mem::take(&mut *sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for r in &cancelled {
        recorder.record_cancelled(r);
    }
}

async fn drain_tasks(tasks: &mut JoinSet<Record>, recorder: &mut Recorder, ctx: &RunContext, measured: bool) {
    loop {
        tokio::select! {
            biased;
            done = tasks.join_next() => match done {
                Some(done) => fold(recorder, done, ctx, measured),
                None => return,
            },
            _ = grace_over(ctx) => tasks.abort_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::request::PreparedRequest;
    use crate::{Plan, RunConfig};

    /// What a request in flight costs in memory beyond the client's own is its task: the
    /// closed loop's task future, here measured, stays at most 896 bytes (880 now; 1 744 when
    /// it held the whole answer's `Response::bytes` future, a copy of the moved response, the
    /// record beside the send, and the phase). At 896 and under, tokio's task cell (aligned to
    /// 128 bytes) is 1 024 bytes, bare reqwest's (`examples/floor_client.rs`) size.
    #[test]
    fn a_request_in_flight_holds_a_task_no_larger_than_bare_reqwests() {
        // Arrange
        let ctx = RunContext {
            cfg: Arc::new(Plan::new(RunConfig::default()).unwrap()),
            strategy: Strategy::Async,
            req: Arc::new(PreparedRequest::chat(
                "http://127.0.0.1:9/v1/chat/completions".into(),
                Vec::new(),
                None,
                false,
            )),
            schedule: None,
            live: Default::default(),
            log: None,
            cpu: None,
            stop: crate::StopToken::new(),
        };
        let client = Arc::new(AsyncClient::new(ctx.req.clone(), ctx.limits()).unwrap());
        let phase = Phase {
            base: 0,
            count: Some(1),
            limit: None,
            scheduled: false,
            offset: 0,
            stride: 1,
        };
        let workers = Arc::new(Workers {
            phase,
            measured: true,
            next: AtomicU64::new(0),
            stripes: Vec::new(),
            sink: CancelSink::default(),
            t0: Instant::now(),
            retries: ctx.retries(&phase, Instant::now()),
            ctx,
            client,
        });
        // Act
        let task = workers.work(0, 1);
        // Assert
        let size = std::mem::size_of_val(&task);
        assert!(size <= 896, "a closed loop's task future is {size} bytes");
    }
}
