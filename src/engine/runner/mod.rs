//! The strategies, one file each and one shape: a [`RunContext`] in, a [`StrategyRun`] out.
//!
//! What they share lives here: the request loop with retries (its bookkeeping in one I/O-free
//! `Attempts`, driven by a blocking and an async loop that differ only in how they send and
//! wait, around the pure [`RetryPolicy::next_delay`]), the context, and the driver of blocking
//! workers that `sequential` and `threadpool` both use.
//!
//! Every request a runner issues ends in exactly one [`Record`] (or, when a stop's grace period
//! runs out while it is in flight, in the `cancelled` count); the caller checks that the records
//! add up to the requests issued (`accounted N/N`). After a stop (see [`crate::engine::stop`]) no new
//! request is issued and no retry is sent.

mod async_tokio;
mod batched;
mod blocking;
mod external;
mod sequential;
mod threadpool;

use crate::engine::stop::StopToken;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;

use crate::engine::adaptive::Controller;
use crate::engine::client::async_client::AsyncClient;
use crate::engine::client::blocking::BlockingClient;
use crate::model::adaptive::AdaptiveReport;
use crate::model::error::RunError;
use crate::model::outcome::Outcome;
use crate::model::outcome::RequestError;
use crate::model::record::{AttemptRecord, Record, Sample};
use crate::model::retry::RetryPolicy;
use crate::model::strategy::Strategy;
use crate::plan::config::Plan;
use crate::plan::request::{Limits, PreparedRequest};
use crate::stats::log::RequestLog;
use crate::stats::recorder::Recorder;

pub(crate) use async_tokio::{run_async, run_async_offload, run_async_single};
pub(crate) use batched::run_batched;

pub(crate) use external::{ExternalCost, run_external};
pub(crate) use sequential::run_sequential;
pub(crate) use threadpool::run_threadpool;

/// Everything a runner needs: the validated config, the request to send, the open-loop schedule
/// (if any) and the live view's lane to tick. Cheap to clone (shared parts), and `'static`, so
/// blocking workers can own a copy.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The run's configuration.
    pub cfg: Arc<Plan>,
    /// The strategy being run.
    pub strategy: Strategy,
    /// The request every attempt sends.
    pub req: Arc<PreparedRequest>,
    /// Due offsets from the start of the run, one per request (open loop only).
    pub schedule: Option<Arc<crate::model::plan::Schedule>>,
    /// The live view's lane, ticked as each measured request starts and ends.
    pub live: crate::stats::live::Live,
    /// Where each measured request's line goes (`requests.jsonl`), when the run writes one.
    pub log: Option<RequestLog>,
    /// `--cpu-work`: the work each successful response gets, and where it runs.
    pub cpu: Option<Arc<crate::engine::cpu_work::Worker>>,
    /// The run's stop: read once per request, and by every wait.
    pub stop: StopToken,
}

/// Indexes of warm-up requests start here, apart from the measured ones (the mock keys its
/// faults on the index, and a warm-up must not use up the measured requests' draws).
pub(crate) const WARMUP_BASE: u64 = 1 << 62;

/// One stretch of requests a runner sends: the warm-up, or the measured run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phase {
    /// The first request's index.
    pub base: u64,
    /// Requests at most (`None`: no count, the time limit alone ends the phase).
    pub count: Option<u64>,
    /// No request is issued after this long from the phase's start.
    pub limit: Option<Duration>,
    /// Requests start at the open-loop schedule's times (the measured phase of an open loop).
    pub scheduled: bool,
    /// This runner's share of the indexes: the `i`-th request it sends is index
    /// `base + offset + i × stride` (`--shard K/N`: offset K, stride N; else 0 and 1).
    pub offset: u64,
    /// See `offset`.
    pub stride: u64,
}

impl Phase {
    /// The logical index of this phase's `i`-th request.
    pub(crate) fn index(&self, i: u64) -> u64 {
        self.base + self.offset + i * self.stride
    }

    /// Whether the phase may issue its `i`-th request (0-based) now, `t0` being its start.
    pub(crate) fn may_issue(&self, i: u64, t0: Instant) -> bool {
        self.count.is_none_or(|n| i < n) && self.limit.is_none_or(|l| t0.elapsed() < l)
    }
}

impl RunContext {
    /// Requests in the workload (`None`: no count, the duration ends it).
    pub fn requests(&self) -> Option<u64> {
        self.cfg.stop.count()
    }

    /// When request `i` is due, for a run started at `t0` (`None` in a closed loop).
    pub fn due(&self, t0: Instant, i: u64) -> Option<Instant> {
        self.schedule.as_ref().and_then(|s| s.get(i)).map(|d| t0 + d)
    }

    /// `--ramp` in `phase`: a closed loop's (an open loop starts requests on its schedule).
    pub(crate) fn ramp(&self, phase: &Phase) -> Option<Duration> {
        self.cfg.ramp.filter(|_| !phase.scheduled)
    }

    /// When slot `k` of `slots` opens under `--ramp` in `phase`, started at `t0`: `k × ramp ÷
    /// slots` after it (slot 0 at once), and no later than a duration-bounded phase's end;
    /// `None` without a ramp. An open slot stays open: the loop re-sends in it as soon as its
    /// request ends, so during the ramp at most the open slots are in flight.
    pub(crate) fn slot_opens(&self, phase: &Phase, t0: Instant, k: u64, slots: u64) -> Option<Instant> {
        let ramp = self.ramp(phase)?;
        let after = ramp.as_nanos() * u128::from(k) / u128::from(slots.max(1));
        let at = t0 + Duration::from_nanos(u64::try_from(after).unwrap_or(u64::MAX));
        Some(phase.limit.map_or(at, |l| at.min(t0 + l)))
    }

    /// A seeded RNG for retry jitter, distinct per worker or request.
    pub(crate) fn rng(&self, stream: u64) -> SmallRng {
        use rand::SeedableRng;
        SmallRng::seed_from_u64(self.cfg.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The per-attempt limits every client enforces.
    pub fn limits(&self) -> Limits {
        self.cfg.limits()
    }

    /// An empty recorder for the measured phase: the run's interval-memory limit, SLO and log.
    pub fn recorder(&self) -> Recorder {
        Recorder::for_run(
            self.cfg.intervals_in_memory,
            self.cfg.slo,
            self.log.clone().map(|l| (l, self.strategy.id())),
        )
    }

    /// An empty recorder for the warm-up (no log: it is not part of the figures).
    pub(crate) fn warmup_recorder(&self) -> Recorder {
        Recorder::for_run(self.cfg.intervals_in_memory, self.cfg.slo, None)
    }

    /// The warm-up phase (if any) and the measured one.
    pub(crate) fn phases(&self) -> (Option<Phase>, Phase) {
        use crate::model::plan::Warmup;
        let (offset, stride) = self.cfg.shard.map_or((0, 1), |s| (s.k, s.n));
        let warmup = self.cfg.warmup.map(|w| match w {
            Warmup::Requests(n) => Phase {
                base: WARMUP_BASE,
                count: Some(n),
                limit: None,
                scheduled: false,
                offset,
                stride,
            },
            Warmup::Time(d) => Phase {
                base: WARMUP_BASE,
                count: None,
                limit: Some(d),
                scheduled: false,
                offset,
                stride,
            },
        });
        let count = match &self.schedule {
            Some(s) => Some(s.len()),
            // Without a count only the duration bounds the phase.
            None => self.requests().map(|n| self.cfg.shard.map_or(n, |s| s.share(n))),
        };
        let main = Phase {
            base: 0,
            count,
            limit: self.cfg.stop.duration(),
            scheduled: self.schedule.is_some(),
            offset,
            stride,
        };
        (warmup, main)
    }

    /// When in-flight requests stop being waited for, once a stop was asked for.
    pub(crate) fn grace_deadline(&self) -> Option<Instant> {
        self.stop.grace_deadline(self.cfg.timeout)
    }

    /// `--cpu-work` for a finished request, on this thread (blocking strategies).
    pub(crate) fn work_blocking(&self, record: &Record) {
        if let Some(w) = &self.cpu
            && record.outcome == Outcome::Ok
        {
            w.run_here(record.index);
        }
    }
}

/// `--cpu-work` for a finished request, where the strategy does it: on this task's thread, or on
/// the offload pool while the task waits; the record back. It takes the record (`work_async(cpu,
/// send_async(…).await).await`) so that no record is held across the send's wait: a future
/// would keep its room beside the send's, in every request in flight.
pub(crate) async fn work_async(cpu: Option<&Arc<crate::engine::cpu_work::Worker>>, record: Record) -> Record {
    if let Some(w) = cpu
        && record.outcome == Outcome::Ok
    {
        w.run(record.index).await;
    }
    record
}

/// What a warm-up produced (left out of every figure; reported apart).
#[derive(Debug)]
pub struct WarmupRun {
    /// Its requests.
    pub recorder: Recorder,
    /// How long it took.
    pub wall: Duration,
    /// Requests it issued.
    pub issued: u64,
}

/// The warm-up phase (when there is one), then the measured phase, each timed and recorded
/// apart: the frame the async runners share. `run` sends one phase into the recorder it is
/// given and returns it with the number of requests it issued (its flag: measured or not).
pub(crate) async fn warmup_then_measure<F, Fut>(ctx: &RunContext, threads: u64, mut run: F) -> StrategyRun
where
    F: FnMut(Phase, Recorder, bool) -> Fut,
    Fut: std::future::Future<Output = (Recorder, u64, Option<AdaptiveReport>)>,
{
    let (warmup, main) = ctx.phases();
    let warmup = match warmup {
        Some(phase) => {
            let t0 = Instant::now();
            let (recorder, issued, _) = run(phase, ctx.warmup_recorder(), false).await;
            Some(WarmupRun {
                recorder,
                wall: t0.elapsed(),
                issued,
            })
        }
        None => None,
    };
    let t0 = Instant::now();
    let (recorder, issued, adaptive) = run(main, ctx.recorder(), true).await;
    StrategyRun {
        warmup,
        recorder,
        wall: t0.elapsed(),
        issued,
        threads,
        adaptive,
        external: None,
    }
}

/// What one strategy's run produced.
#[derive(Debug)]
pub struct StrategyRun {
    /// The warm-up, when there was one.
    pub warmup: Option<WarmupRun>,
    /// All requests, merged.
    pub recorder: Recorder,
    /// First start to last end of the run as a whole (setup excluded).
    pub wall: Duration,
    /// Requests issued (all of the workload, unless the run was stopped).
    pub issued: u64,
    /// Threads the runner started and ran the work on, the calling thread included when it
    /// drives the work (`block_on`); helpers a library starts on its own are not known here.
    pub threads: u64,
    /// `--concurrency auto`: what the controller did in the measured phase.
    pub adaptive: Option<AdaptiveReport>,
    /// An external client: what it cost, measured from outside, and how it ended.
    pub external: Option<ExternalCost>,
}

/// Runs one strategy.
pub fn run_strategy(s: Strategy, ctx: &RunContext) -> Result<StrategyRun, RunError> {
    match s {
        Strategy::Sequential => run_sequential(ctx),
        Strategy::Threadpool => run_threadpool(ctx),
        Strategy::Async => run_async(ctx),
        Strategy::AsyncSingle => run_async_single(ctx),
        Strategy::AsyncOffload => run_async_offload(ctx),
        Strategy::Batched => run_batched(ctx),
        Strategy::Python(_) | Strategy::Custom(_) => run_external(ctx),
    }
}

/// Logical request `index` on a blocking client: attempts, and `std::thread::sleep` between them.
/// Its state is published in `watch` before each attempt and each wait, so the driver can write
/// a line for it if a stop's grace period ends while it is still in flight.
pub(crate) fn send_blocking(
    client: &BlockingClient,
    stop: &StopToken,
    retries: &Retries,
    rng: &mut SmallRng,
    intended: Instant,
    index: u64,
    watch: &std::sync::Mutex<Option<Attempts>>,
) -> Record {
    let publish = |a: Option<&Attempts>| {
        let mut w = watch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *w = a.cloned();
    };
    let mut request = Attempts::new(intended, Instant::now(), index);
    let record = loop {
        let t = request.send_time();
        request.sending = Some(t);
        publish(Some(&request));
        let (result, ended) = client.chat(index, request.next_attempt(), t);
        match request.after(t, ended, result, retries, rng, stop.requested().is_some()) {
            Next::Retry(wait) => {
                retries.note_wait(wait, request.last.as_deref());
                publish(Some(&request));
                if !stop.sleep_blocking(wait) {
                    break request.abandon();
                }
            }
            Next::Done(record) => break record,
        }
    };
    publish(None);
    record
}

/// Where the tasks of an async phase leave the requests they were running when they were
/// cancelled (a stop's grace period ran out), so each still gets its record and its line.
pub(crate) type CancelSink = Arc<std::sync::Mutex<Vec<Record>>>;

/// A logical request handed to an async task. If the task is dropped before the request ends
/// (cancelled after a stop's grace period, even before it first ran), its drop leaves a
/// `cancelled` record with the attempts sent so far in the sink: its own handle on the sink
/// in a task of its own, a borrowed one in a task that outlives it (a looping task).
pub(crate) struct Pending<'s> {
    index: u64,
    /// When it was due (open loop) or issued (closed loop), for a request never started
    /// (`None`: one that starts as it is made, in the same poll).
    planned: Option<Instant>,
    request: Option<Attempts>,
    done: bool,
    sink: std::borrow::Cow<'s, CancelSink>,
}

impl Pending<'static> {
    /// Request `index`, planned for `planned`: its due time in an open loop, when it was
    /// issued in a closed one, or `None` for a request that starts in the poll that makes it
    /// (so it cannot be cancelled before it started); a handle on `sink` of its own.
    pub(crate) fn new(index: u64, planned: Option<Instant>, sink: &CancelSink) -> Pending<'static> {
        Pending::with(index, planned, std::borrow::Cow::Owned(sink.clone()))
    }
}

impl<'s> Pending<'s> {
    /// As [`Pending::new`], borrowing `sink`: a looping task's requests, one after another,
    /// each took a handle of its own, a count that both cores changed twice a request.
    pub(crate) fn borrowing(index: u64, planned: Option<Instant>, sink: &'s CancelSink) -> Pending<'s> {
        Pending::with(index, planned, std::borrow::Cow::Borrowed(sink))
    }

    fn with(index: u64, planned: Option<Instant>, sink: std::borrow::Cow<'s, CancelSink>) -> Pending<'s> {
        Pending {
            index,
            planned,
            request: None,
            done: false,
            sink,
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut request = self.request.take().unwrap_or_else(|| {
            let planned = self.planned.unwrap_or_else(Instant::now);
            Attempts::new(planned, planned, self.index)
        });
        let record = request.cancel();
        self.sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(record);
    }
}

/// Logical request `index` on the async client: attempts, and `tokio::time::sleep` between them.
/// Under `--concurrency auto` each attempt's answer goes to the controller (`ctl`, with the
/// first attempt's send number). Its state lives in `pending`, so a task cancelled mid-request
/// still leaves its record.
pub(crate) async fn send_async(
    client: &AsyncClient,
    stop: &StopToken,
    retries: &Retries,
    rng: &mut SmallRng,
    intended: Option<Instant>,
    pending: &mut Pending<'_>,
    ctl: Option<(&Controller, u64)>,
) -> Record {
    let index = pending.index;
    let start = Instant::now();
    let request = pending
        .request
        .insert(Attempts::new(intended.unwrap_or(start), start, index));
    let record = loop {
        let attempt = request.next_attempt();
        let seq = match ctl {
            Some((_, first)) if attempt == 1 => Some(first),
            Some((c, _)) => match c.before_retry(stop).await {
                Some(seq) => Some(seq),
                None => break request.abandon(),
            },
            None => None,
        };
        let t = request.send_time();
        request.sending = Some(t);
        let (result, ended) = client.chat(index, attempt, t).await;
        if let (Some((c, _)), Some(seq)) = (ctl, seq) {
            c.observe(seq, t, &result);
        }
        // The wait out of the match: a wait in its guard would hold the `Next` (a whole
        // record's room) in the future of every request in flight.
        let wait = match request.after(t, ended, result, retries, rng, stop.requested().is_some()) {
            Next::Retry(wait) => wait,
            Next::Done(record) => break record,
        };
        retries.note_wait(wait, request.last.as_deref());
        if !stop.sleep_until(Instant::now() + wait).await {
            break request.abandon();
        }
    };
    pending.done = true;
    record
}

/// The retry policy of a phase, and its end: no attempt is sent after a duration-bounded
/// phase ends, so a request whose next attempt would fall later ends with its last attempt's
/// outcome. A retry was sent whenever its wait ended: `--duration 2s` with `--retry anthropic`
/// against a Retry-After of 40 s ran eight minutes.
#[derive(Debug, Clone)]
pub(crate) struct Retries {
    policy: Arc<RetryPolicy>,
    until: Option<Instant>,
    /// Where a long wait is said.
    live: crate::stats::live::Live,
}

/// A wait before a retry this long or longer is said as it begins: a server's Retry-After of
/// 200 s, which the `anthropic` policy obeys, left a run silent for minutes, as if it hung.
pub(crate) const LONG_WAIT: Duration = Duration::from_secs(30);

impl Retries {
    /// When the phase ends, if time ends it: no attempt is sent after it.
    pub(crate) fn until(&self) -> Option<Instant> {
        self.until
    }

    /// The wait before the next attempt, if one is sent: by the policy, and within the phase.
    fn next_delay(&self, attempt: u32, e: &RequestError, rng: &mut SmallRng) -> Option<Duration> {
        let wait = self.policy.next_delay(attempt, e, rng)?;
        self.until
            .is_none_or(|end| Instant::now() + wait < end)
            .then_some(wait)
    }

    /// Says a wait before a retry of [`LONG_WAIT`] or more: how long and why (`last`, the
    /// attempt's error), in the live view or on stderr (see [`crate::stats::live::Live::say`]).
    /// The send loops call it, not [`Attempts::after`], which stays free of I/O.
    fn note_wait(&self, wait: Duration, last: Option<&RequestError>) {
        if wait < LONG_WAIT {
            return;
        }
        let retry_after = matches!(
            last,
            Some(RequestError::Status {
                retry_after: Some(_),
                ..
            })
        ) && self.policy.retry_after_cap.is_some();
        self.live.say(long_wait(wait, retry_after, &self.policy.name));
    }
}

impl RunContext {
    /// The retries of `phase`, begun at `t0`.
    pub(crate) fn retries(&self, phase: &Phase, t0: Instant) -> Retries {
        Retries {
            policy: Arc::new(self.cfg.retry.clone()),
            until: phase.limit.map(|l| t0 + l),
            live: self.live.clone(),
        }
    }
}

/// The line that says a long wait before a retry (a built-in strategy's, or one an external
/// client said): how long, and whether a server's Retry-After or the backoff set it.
pub(crate) fn long_wait(wait: Duration, retry_after: bool, policy: &str) -> String {
    let why = if retry_after {
        "the server's Retry-After asks it"
    } else {
        "its backoff says so"
    };
    format!(
        "a request waits {:.0} s to retry: {why} and the {policy} policy obeys (a signal ends the run with what it has)",
        wait.as_secs_f64()
    )
}

/// What to do after an attempt.
enum Next {
    /// Wait this long, then send again.
    Retry(Duration),
    /// The request is over.
    Done(Record),
}

/// The bookkeeping of one logical request, free of I/O so the blocking and the async loop share
/// it: they differ only in how they send and how they wait.
#[derive(Debug, Clone)]
pub(crate) struct Attempts {
    index: u64,
    intended: Instant,
    start: Instant,
    attempts: Vec<AttemptRecord>,
    backoff: Duration,
    /// The last attempt's error, kept while a retry is pending (boxed: every request in
    /// flight holds its `Attempts`, few hold an error).
    last: Option<Box<RequestError>>,
    /// The pending backoff and when it began (to count only what was slept if a stop cuts it).
    pending: Option<(Instant, Duration)>,
    /// When the attempt now in flight was sent (none between attempts).
    sending: Option<Instant>,
}

impl Attempts {
    /// Request `index`, due at `intended`, its first attempt sent at `start`.
    fn new(intended: Instant, start: Instant, index: u64) -> Attempts {
        Attempts {
            index,
            intended,
            start,
            // No room until an attempt ends (see `Attempts::push`).
            attempts: Vec::new(),
            backoff: Duration::ZERO,
            last: None,
            pending: None,
            sending: None,
        }
    }

    /// The number of the attempt about to be sent (1-based).
    fn next_attempt(&self) -> u32 {
        self.attempts.len() as u32 + 1
    }

    /// When the attempt about to be sent goes: the request's start for the first (one clock
    /// reading for both), now for a retry.
    fn send_time(&self) -> Instant {
        if self.attempts.is_empty() {
            self.start
        } else {
            Instant::now()
        }
    }

    /// Keeps an attempt that ended, in room for exactly it: the list is empty while the first
    /// attempt is in flight, so a request in flight holds no room for it (room taken at its
    /// start was 56 bytes a request in flight).
    fn push(&mut self, a: AttemptRecord) {
        self.attempts.reserve_exact(1);
        self.attempts.push(a);
    }

    /// Records the attempt sent at `sent` and ended at `ended`, and decides, by `policy`,
    /// whether another follows. No retry follows once a stop was asked for.
    fn after(
        &mut self,
        sent: Instant,
        ended: Instant,
        result: Result<Sample, RequestError>,
        retries: &Retries,
        rng: &mut SmallRng,
        stopped: bool,
    ) -> Next {
        self.sending = None;
        let (outcome, failure) = match &result {
            Ok(_) => (Outcome::Ok, None),
            Err(e) => (e.outcome(), Some(e.failure())),
        };
        self.push(AttemptRecord {
            duration: ended.saturating_duration_since(sent),
            outcome,
            failure,
        });
        if let Err(e) = &result
            && !stopped
            && let Some(wait) = retries.next_delay(self.attempts.len() as u32, e, rng)
        {
            self.backoff += wait;
            self.last = result.err().map(Box::new);
            self.pending = Some((Instant::now(), wait));
            return Next::Retry(wait);
        }
        Next::Done(self.finish(result, ended))
    }

    /// Ends the request with its last attempt's outcome (a stop came during the backoff).
    fn abandon(&mut self) -> Record {
        self.cut_backoff();
        let last = self.last.take().map_or(RequestError::Timeout, |e| *e);
        self.finish(Err(last), Instant::now())
    }

    /// Counts only what was slept of a backoff a stop cut short.
    fn cut_backoff(&mut self) {
        if let Some((since, wait)) = self.pending.take() {
            self.backoff = self.backoff - wait + since.elapsed().min(wait);
        }
    }

    /// Ends the request as `cancelled`: a stop's grace period ran out while it was in flight.
    /// The attempt then in flight (if one was) is counted as sent, `cancelled`, lasting until
    /// now; the attempts before it keep their outcomes.
    pub(crate) fn cancel(&mut self) -> Record {
        let end = Instant::now();
        self.cut_backoff();
        if let Some(t) = self.sending.take() {
            self.push(AttemptRecord {
                duration: end.saturating_duration_since(t),
                outcome: Outcome::Cancelled,
                failure: None,
            });
        }
        self.record(end, Outcome::Cancelled, None, None)
    }

    fn finish(&mut self, result: Result<Sample, RequestError>, end: Instant) -> Record {
        let (outcome, status, sample) = match result {
            Ok(s) => (Outcome::Ok, Some(200), Some(s)),
            Err(e) => (e.outcome(), e.status(), None),
        };
        self.record(end, outcome, status, sample)
    }

    /// The request's record, ending at `end` so; its attempts move into it.
    fn record(
        &mut self,
        end: Instant,
        outcome: Outcome,
        status: Option<u16>,
        sample: Option<Sample>,
    ) -> Record {
        Record {
            index: self.index,
            intended: self.intended.min(self.start),
            start: self.start,
            end,
            attempts: std::mem::take(&mut self.attempts),
            backoff: self.backoff,
            outcome,
            status,
            sample,
        }
    }
}
