//! What the live view reads while a run goes: per strategy run (a [`Lane`]), counters and coarse
//! latency histograms that the runners bump as each measured request starts and ends (relaxed
//! atomics: no lock, no allocation, nothing the run waits on), and the run's header and sweep
//! position ([`Board`]). Written by the run, read by `output::live`'s thread at ≤ 10 Hz.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::model::outcome::Outcome;
use crate::model::record::Record;
use crate::model::strategy::Strategy;

/// Sub-buckets per power of two: a value is kept within 1/256 (0.4 %) of itself (the bucket's
/// middle is at most half a bucket, 1/128 of its low end ÷ 2, away).
const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS;
/// Values (µs) are clamped below 2³⁸ µs (3 days): 31 octaves above the linear first one.
const MAX_SHIFT: u32 = 30;
const BUCKETS: usize = (MAX_SHIFT as usize + 2) * SUB;

/// A lock-free log-linear histogram of microseconds: one relaxed `fetch_add` to record, a walk
/// over its 4 096 buckets (32 KiB) to read a percentile. Coarser than the report's
/// HdrHistograms (0.4 % against 0.1 %) and only for the screen; the report never reads it.
pub struct AtomicHistogram {
    buckets: Box<[AtomicU64]>,
}

impl std::fmt::Debug for AtomicHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicHistogram")
            .field("count", &self.count())
            .finish()
    }
}

impl Default for AtomicHistogram {
    fn default() -> Self {
        AtomicHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// The bucket of `v`: linear below [`SUB`], then [`SUB`] buckets per power of two.
fn index(v: u64) -> usize {
    let v = v.min((1u64 << (MAX_SHIFT + SUB_BITS + 1)) - 1);
    if v < SUB as u64 {
        return v as usize;
    }
    let shift = 63 - v.leading_zeros() - SUB_BITS;
    let sub = (v >> shift) as usize & (SUB - 1);
    ((shift as usize + 1) << SUB_BITS) + sub
}

/// The middle of bucket `i`'s range.
fn middle(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let shift = (i >> SUB_BITS) - 1;
    let low = ((SUB + (i & (SUB - 1))) as u64) << shift;
    low + ((1u64 << shift) >> 1)
}

impl AtomicHistogram {
    /// Counts one value.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[index(us)].fetch_add(1, Ordering::Relaxed);
    }

    /// Values counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The values at quantiles `qs` (each in 0..=1, rising), `None` when nothing was counted:
    /// each the middle of the bucket holding the ⌈q·n⌉-th value, as a [`Duration`]. One pass to
    /// count and one to walk, without a copy; values counted meanwhile may be missed, never
    /// read past (the last bucket seen stands in).
    pub fn quantiles<const N: usize>(&self, qs: [f64; N]) -> Option<[Duration; N]> {
        walk(|| self.buckets.iter().map(|b| b.load(Ordering::Relaxed)), qs)
    }

    /// The counts now, to read later what came after them ([`AtomicHistogram::quantiles_since`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect())
    }

    /// As [`AtomicHistogram::quantiles`], of the values counted since `earlier` (a snapshot of
    /// this histogram): the live view's recent window. `None` when none came since.
    pub fn quantiles_since<const N: usize>(&self, earlier: &Snapshot, qs: [f64; N]) -> Option<[Duration; N]> {
        walk(
            || {
                self.buckets
                    .iter()
                    .zip(earlier.0.iter())
                    .map(|(b, e)| b.load(Ordering::Relaxed).saturating_sub(*e))
            },
            qs,
        )
    }
}

/// An [`AtomicHistogram`]'s counts at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot(Box<[u64]>);

/// The quantiles `qs` of the bucket counts `counts` gives (twice: once to count, once to walk).
fn walk<const N: usize, I: Iterator<Item = u64>>(
    counts: impl Fn() -> I,
    qs: [f64; N],
) -> Option<[Duration; N]> {
    let n: u64 = counts().sum();
    if n == 0 {
        return None;
    }
    let ranks = qs.map(|q| ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1));
    let mut out = [None; N];
    let (mut seen, mut last) = (0, 0);
    let mut k = 0;
    for (i, c) in counts().enumerate() {
        if c == 0 {
            continue;
        }
        seen += c;
        last = i;
        while k < N && seen >= ranks[k] {
            out[k] = Some(Duration::from_micros(middle(i)));
            k += 1;
        }
        if k == N {
            break;
        }
    }
    Some(out.map(|d| d.unwrap_or(Duration::from_micros(middle(last)))))
}

/// Something the view asks of the run as it draws (the controller's limit, whether a stop came).
type Probe<T> = Box<dyn Fn() -> T + Send + Sync>;

/// Final outcomes as the live view groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// A success.
    Ok,
    /// HTTP 429.
    RateLimited,
    /// HTTP 5xx (and a 2xx that is not a completion).
    ServerError,
    /// Everything else: 4xx, timeouts, transport, too large, cancelled.
    Other,
}

impl Group {
    /// The group of an outcome.
    pub fn of(o: Outcome) -> Group {
        match o {
            Outcome::Ok => Group::Ok,
            Outcome::RateLimited => Group::RateLimited,
            Outcome::ServerError => Group::ServerError,
            _ => Group::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One strategy's run (one round of it) as it goes.
pub struct Lane {
    /// Which strategy.
    pub strategy: Strategy,
    /// Which round (1-based).
    pub round: u32,
    /// Requests it will finish at most (`None`: time alone ends it).
    pub total: Option<u64>,
    /// Its time limit (`--duration`).
    pub duration: Option<Duration>,
    /// When its measured phase started (set by the first measured request).
    started_at: Mutex<Option<Instant>>,
    started: AtomicU64,
    /// Ended requests by group: their sum is the requests finished.
    outcomes: [AtomicU64; 4],
    answers_429: AtomicU64,
    /// End-to-end latency of successes.
    pub e2e: AtomicHistogram,
    /// Time to first token of successful streams.
    pub ttft: AtomicHistogram,
    /// Inter-token gaps of successful streams.
    pub itl: AtomicHistogram,
    /// `--concurrency auto`: the controller's limit now.
    limit: Mutex<Option<Probe<f64>>>,
    /// p50 and p99 of its successes, kept once it has ended (they no longer change).
    summary: std::sync::OnceLock<Option<[Duration; 2]>>,
    /// When the lane's run ended.
    ended: Mutex<Option<Instant>>,
    /// Whether `started` counts real starts: an external client reports ends only (each counted
    /// as started when it ends), so the view shows no in-flight figure for it.
    pub counts_starts: bool,
    /// A line about its run the view shows while it runs (a long wait before a retry): the
    /// first said.
    notice: std::sync::OnceLock<String>,
    /// Why its client failed (an external client that exited, hung or broke the protocol).
    failure: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("strategy", &self.strategy)
            .field("round", &self.round)
            .field("counts", &self.counts())
            .finish()
    }
}

/// What a lane has counted, read at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Measured requests started.
    pub started: u64,
    /// Measured requests ended (each in one of `outcomes`).
    pub finished: u64,
    /// Final outcomes: ok, 429, 5xx, other.
    pub outcomes: [u64; 4],
    /// 429 answers, retried ones included.
    pub answers_429: u64,
}

impl Counts {
    /// Requests of one group.
    pub fn of(&self, g: Group) -> u64 {
        self.outcomes[g.index()]
    }
}

impl Lane {
    fn new(strategy: Strategy, round: u32, total: Option<u64>, duration: Option<Duration>) -> Lane {
        Lane {
            strategy,
            round,
            total,
            duration,
            started_at: Mutex::new(None),
            started: AtomicU64::new(0),
            outcomes: Default::default(),
            answers_429: AtomicU64::new(0),
            e2e: AtomicHistogram::default(),
            ttft: AtomicHistogram::default(),
            itl: AtomicHistogram::default(),
            limit: Mutex::new(None),
            summary: std::sync::OnceLock::new(),
            ended: Mutex::new(None),
            counts_starts: !strategy.is_external(),
            notice: std::sync::OnceLock::new(),
            failure: std::sync::OnceLock::new(),
        }
    }

    /// Its client failed, for this reason (the view marks the lane failed).
    pub fn fail(&self, why: &str) {
        let _ = self.failure.set(why.to_owned());
    }

    /// Why its client failed, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// The line said about its run, if one was (see [`Live::say`]).
    pub fn notice(&self) -> Option<&str> {
        self.notice.get().map(String::as_str)
    }

    /// A measured request starts (the first one starts the lane's clock).
    pub fn started(&self) {
        if self.started.fetch_add(1, Ordering::Relaxed) == 0 {
            self.mark_start();
        }
    }

    fn mark_start(&self) {
        let mut at = self.started_at.lock().unwrap_or_else(PoisonError::into_inner);
        at.get_or_insert_with(Instant::now);
    }

    /// A measured request ended with this record.
    pub fn finished(&self, r: &Record) {
        let limited = r
            .attempts
            .iter()
            .filter(|a| a.outcome == Outcome::RateLimited)
            .count() as u64;
        if limited > 0 {
            self.answers_429.fetch_add(limited, Ordering::Relaxed);
        }
        if r.outcome == Outcome::Ok {
            self.e2e.record(r.latency());
            if let Some(s) = &r.sample {
                if let Some(t) = s.ttft {
                    self.ttft.record(t);
                }
                for gap in &s.itl {
                    self.itl.record(*gap);
                }
            }
        }
        // Last, so a reader that sees the count move sees the latency too.
        self.outcomes[Group::of(r.outcome).index()].fetch_add(1, Ordering::Release);
    }

    /// `--concurrency auto`: where the view reads the controller's limit.
    pub fn watch_limit(&self, limit: impl Fn() -> f64 + Send + Sync + 'static) {
        *self.limit.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(limit));
    }

    /// The controller's limit now, when there is one.
    pub fn limit(&self) -> Option<f64> {
        self.limit
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|f| f())
    }

    /// p50 and p99 of the successes' latency (computed once the lane has ended).
    pub fn summary(&self) -> Option<[Duration; 2]> {
        let now = || self.e2e.quantiles([0.5, 0.99]);
        if self.is_ended() {
            *self.summary.get_or_init(now)
        } else {
            now()
        }
    }

    /// The counters now.
    pub fn counts(&self) -> Counts {
        let outcomes: [u64; 4] = std::array::from_fn(|i| self.outcomes[i].load(Ordering::Acquire));
        Counts {
            started: self.started.load(Ordering::Relaxed),
            finished: outcomes.iter().sum(),
            outcomes,
            answers_429: self.answers_429.load(Ordering::Relaxed),
        }
    }

    /// Time from its first measured request to its end, or to now while it runs (zero before
    /// it).
    pub fn elapsed(&self) -> Duration {
        let start = *self.started_at.lock().unwrap_or_else(PoisonError::into_inner);
        let end = self
            .ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or_else(Instant::now);
        start.map_or(Duration::ZERO, |t| end.saturating_duration_since(t))
    }

    /// Whether its run has ended.
    pub fn is_ended(&self) -> bool {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Its run has ended (its clock stops).
    pub fn end(&self) {
        self.ended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(Instant::now);
    }

    /// Time left, from the time limit, or from the count at the rate finished so far; `None`
    /// before anything has finished or when nothing bounds it.
    pub fn eta(&self) -> Option<Duration> {
        let elapsed = self.elapsed();
        let by_time = self.duration.map(|d| d.saturating_sub(elapsed));
        let done = self.counts().finished;
        let by_count = self.total.and_then(|total| {
            let rate = done as f64 / elapsed.as_secs_f64();
            (done > 0 && rate.is_finite() && rate > 0.0)
                .then(|| Duration::from_secs_f64(total.saturating_sub(done) as f64 / rate))
        });
        match (by_time, by_count) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One step of the plan: a strategy in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The round (1-based).
    pub round: u32,
    /// The strategy.
    pub strategy: Strategy,
}

/// The run as the live view shows it: its settings, where a sweep is, the plan of strategies
/// and rounds, and each step's lane once it starts.
pub struct Board {
    /// The settings, one line each, as the report's table heads them.
    pub header: Vec<String>,
    /// In a sweep: the point running and the points done.
    pub position: Option<String>,
    /// Every step, in the order they run.
    pub plan: Vec<Step>,
    lanes: Mutex<Vec<Arc<Lane>>>,
    /// Set when the run has ended.
    done: AtomicBool,
    /// Set when the view has stopped drawing.
    gone: AtomicBool,
    /// Set when the process leaves without its run's end: the panel's last frame is kept.
    kept: AtomicBool,
    /// CPU time the view's thread has used so far, in ns: a strategy's client CPU leaves it out,
    /// as it leaves out the sampler's.
    view_cpu_ns: AtomicU64,
    /// Says whether the run was asked to stop, and what that does (the view shows it).
    stopping: Mutex<Option<Probe<Option<String>>>>,
    /// Lines for stderr said while the view runs (a client that failed, the end of its
    /// stderr): the progress lines print them as they come, the panel once it is cleared
    /// (printed under it, they would break it).
    said: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("header", &self.header)
            .field("position", &self.position)
            .field("plan", &self.plan)
            .field("done", &self.is_done())
            .finish()
    }
}

impl Board {
    /// A board for a run of these steps.
    pub fn new(header: Vec<String>, position: Option<String>, plan: Vec<Step>) -> Arc<Board> {
        Arc::new(Board {
            header,
            position,
            plan,
            lanes: Mutex::new(Vec::new()),
            done: AtomicBool::new(false),
            gone: AtomicBool::new(false),
            kept: AtomicBool::new(false),
            view_cpu_ns: AtomicU64::new(0),
            stopping: Mutex::new(None),
            said: Mutex::new(Vec::new()),
        })
    }

    /// A line for stderr, printed by the view (see [`Board::take_said`]).
    pub fn say(&self, line: String) {
        self.said
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    /// The lines said and not yet printed, oldest first.
    pub fn take_said(&self) -> Vec<String> {
        std::mem::take(&mut *self.said.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The lane of the next step, started now.
    pub fn lane(
        &self,
        strategy: Strategy,
        round: u32,
        total: Option<u64>,
        duration: Option<Duration>,
    ) -> Arc<Lane> {
        let lane = Arc::new(Lane::new(strategy, round, total, duration));
        self.lanes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(lane.clone());
        lane
    }

    /// Every lane so far, in the order they started.
    pub fn lanes(&self) -> Vec<Arc<Lane>> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The run has ended: the view draws its last frame and stops.
    pub fn finish(&self) {
        self.done.store(true, Ordering::Release);
    }

    /// The view has stopped drawing.
    pub fn gone(&self) {
        self.gone.store(true, Ordering::Release);
    }

    /// For a process about to leave without its run's end (a second signal): the view draws
    /// its last frame and leaves it, the cursor under it (waited for up to `wait`: a terminal
    /// that will not take it is not), then the lines it held back.
    pub fn close(&self, wait: Duration) -> Vec<String> {
        self.kept.store(true, Ordering::Release);
        self.finish();
        let until = Instant::now() + wait;
        while !self.gone.load(Ordering::Acquire) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.take_said()
    }

    /// Whether the panel's last frame stays (see [`Board::close`]).
    pub fn is_kept(&self) -> bool {
        self.kept.load(Ordering::Acquire)
    }

    /// Whether the run has ended.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Where the view learns that the run was asked to stop: `f` gives the line to show then.
    pub fn watch_stop(&self, f: impl Fn() -> Option<String> + Send + Sync + 'static) {
        *self.stopping.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(f));
    }

    /// The stop's line, once the run was asked to stop.
    pub fn stopping(&self) -> Option<String> {
        self.stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|f| f())
    }

    /// The view's thread has used `cpu` of CPU time so far.
    pub fn set_view_cpu(&self, cpu: Duration) {
        let ns = u64::try_from(cpu.as_nanos()).unwrap_or(u64::MAX);
        self.view_cpu_ns.store(ns, Ordering::Relaxed);
    }

    /// CPU time the view's thread has used so far.
    pub fn view_cpu(&self) -> Duration {
        Duration::from_nanos(self.view_cpu_ns.load(Ordering::Relaxed))
    }
}

/// What a runner ticks: a lane, or nothing when no view watches (`-q`).
#[derive(Debug, Clone, Default)]
pub struct Live(Option<Arc<Lane>>);

impl Live {
    /// Ticks `lane`.
    pub fn to(lane: Arc<Lane>) -> Live {
        Live(Some(lane))
    }

    /// Says `text` about the run: the view shows it (the first said of each lane) in its panel,
    /// or on stderr between its progress lines; with no view (`-q`), stderr at once, the first
    /// said in the process only.
    pub fn say(&self, text: String) {
        static SAID: AtomicBool = AtomicBool::new(false);
        match &self.0 {
            Some(lane) => {
                let _ = lane.notice.set(text);
            }
            None if !SAID.swap(true, Ordering::Relaxed) => eprintln!("asyncbench: {text}"),
            None => {}
        }
    }

    /// The measured phase begins: the lane's clock starts if no request started it yet (an
    /// external client reports requests as they end, so its first would start it late: a lane
    /// waiting 80 s on its first request's retries read 0.0 s throughout).
    pub fn begin(&self) {
        if let Some(l) = &self.0 {
            l.mark_start();
        }
    }

    /// A measured request starts.
    #[inline]
    pub fn started(&self) {
        if let Some(l) = &self.0 {
            l.started();
        }
    }

    /// A measured request ended.
    #[inline]
    pub fn finished(&self, r: &Record) {
        if let Some(l) = &self.0 {
            l.finished(r);
        }
    }

    /// The lane, if any.
    pub fn lane(&self) -> Option<&Arc<Lane>> {
        self.0.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value lands in a bucket whose middle is within 1/256 of it, and buckets rise with
    /// the value (so quantiles are ordered).
    #[test]
    fn buckets_keep_a_value_within_three_percent_and_in_order() {
        let mut last = 0;
        for v in 0..200_000u64 {
            assert!(index(v) >= last, "{v}");
            last = index(v);
        }
        for v in (0..200_000u64)
            .chain((0..40).map(|k| 1u64 << k))
            .chain([u64::MAX])
        {
            let i = index(v);
            assert!(i < BUCKETS, "{v} → {i}");
            if v < 1 << 38 {
                let m = middle(i) as f64;
                assert!((m - v as f64).abs() <= v as f64 / 256.0 + 0.5, "{v} → {m}");
            }
        }
    }

    /// Quantiles agree with an HdrHistogram of the same values to within 0.5 %.
    #[test]
    fn quantiles_agree_with_hdrhistogram() {
        let h = AtomicHistogram::default();
        let mut hdr = hdrhistogram::Histogram::<u64>::new(3).unwrap();
        assert!(h.quantiles([0.5]).is_none());
        // A skewed spread: most near 100 ms, a tail to 2 s.
        for i in 0..10_000u64 {
            let us = 100_000 + (i * i) % 1_900_000 * (i % 10 / 9);
            h.record(Duration::from_micros(us));
            hdr.record(us).unwrap();
        }
        assert_eq!(h.count(), 10_000);
        let qs = [0.5, 0.9, 0.99, 1.0];
        let got = h.quantiles(qs).unwrap();
        for (q, d) in qs.iter().zip(got) {
            let want = hdr.value_at_quantile(*q) as f64;
            let us = d.as_micros() as f64;
            assert!((us - want).abs() <= want * 0.005, "q{q}: {us} vs {want}");
        }
    }

    /// The quantiles since a snapshot are those of what came after it alone: a slow start
    /// (1 000 values at 1 s) then 100 fast (10 ms) gives 10 ms since the snapshot where the
    /// whole run says 1 s; none since it gives `None`.
    #[test]
    fn quantiles_since_a_snapshot_read_only_what_came_after() {
        let h = AtomicHistogram::default();
        for _ in 0..1_000 {
            h.record(Duration::from_secs(1));
        }
        let before = h.snapshot();
        assert!(h.quantiles_since(&before, [0.5]).is_none());
        for _ in 0..100 {
            h.record(Duration::from_millis(10));
        }
        let [p50, p99] = h.quantiles_since(&before, [0.5, 0.99]).unwrap();
        let near = |d: Duration, ms: f64| (d.as_secs_f64() * 1e3 - ms).abs() <= ms * 0.005;
        assert!(near(p50, 10.0) && near(p99, 10.0), "{p50:?} {p99:?}");
        let [all] = h.quantiles([0.5]).unwrap();
        assert!(near(all, 1000.0), "{all:?}");
    }

    fn record(outcome: Outcome, ms: u64) -> Record {
        let t = Instant::now();
        Record {
            index: 0,
            intended: t,
            start: t,
            end: t + Duration::from_millis(ms),
            attempts: Vec::new(),
            backoff: Duration::ZERO,
            outcome,
            status: None,
            sample: None,
        }
    }

    /// A lane counts starts, ends by group, successes' latency only, and its ETA from the rate.
    #[test]
    fn a_lane_counts_each_request_once_in_its_group() {
        let board = Board::new(vec!["h".into()], None, Vec::new());
        let lane = board.lane(Strategy::Async, 1, Some(10), None);
        assert_eq!(lane.eta(), None);
        for o in [
            Outcome::Ok,
            Outcome::Ok,
            Outcome::RateLimited,
            Outcome::ServerError,
            Outcome::Timeout,
        ] {
            lane.started();
            lane.finished(&record(o, 100));
        }
        lane.started();
        let c = lane.counts();
        assert_eq!((c.started, c.finished), (6, 5));
        assert_eq!(c.outcomes, [2, 1, 1, 1]);
        assert_eq!(lane.e2e.count(), 2);
        let p = lane.e2e.quantiles([0.5]).unwrap()[0];
        assert!((97..=103).contains(&p.as_millis()), "{p:?}");
        // Half done: the ETA is about as long as it has run (5 more at the same rate).
        std::thread::sleep(Duration::from_millis(50));
        let eta = lane.eta().unwrap();
        assert!(eta >= lane.elapsed().mul_f64(0.9), "{eta:?}");
        assert_eq!(board.lanes().len(), 1);
        assert!(!lane.is_ended());
        lane.end();
        assert!(lane.is_ended());
        // Its clock stopped with it.
        let at_end = lane.elapsed();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(lane.elapsed(), at_end);
    }
}
