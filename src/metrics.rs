//! What a run measures: one [`Record`] per logical request, folded into a [`Recorder`] of
//! HdrHistograms and counters. Each worker owns its recorder; they are merged once at the end with
//! `+=`, so nothing is shared or locked per request.
//!
//! Histograms hold microseconds, auto-resizing, 3 significant digits; values are clamped at one
//! hour so a pathological request can never make recording fail (drill's panic).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::AddAssign;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::RequestError;

/// Largest value recorded, in microseconds (one hour).
pub const MAX_RECORDED_US: u64 = 3_600_000_000;
/// Significant digits of every histogram.
pub const SIGFIG: u8 = 3;

/// How a logical request (or one attempt of it) ended. Exactly one per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx with a complete, well-formed body.
    Ok,
    /// HTTP 429 (rate limit or quota).
    RateLimited,
    /// HTTP 5xx, a mid-stream error event, or a 200 whose body is not a completion.
    ServerError,
    /// Any other non-2xx status (4xx but 429).
    ClientError,
    /// The per-request timeout fired.
    Timeout,
    /// Connection refused, reset or cut before the response completed.
    Transport,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::RateLimited,
        Outcome::ServerError,
        Outcome::ClientError,
        Outcome::Timeout,
        Outcome::Transport,
    ];

    /// The snake_case id used in reports.
    pub fn id(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RateLimited => "rate_limited",
            Outcome::ServerError => "server_error",
            Outcome::ClientError => "client_error",
            Outcome::Timeout => "timeout",
            Outcome::Transport => "transport",
        }
    }

    /// The outcome of an HTTP status.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            429 => Outcome::RateLimited,
            500..=599 => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }

    /// The outcome of one attempt's result.
    pub fn of<T>(r: &Result<T, RequestError>) -> Outcome {
        match r {
            Ok(_) => Outcome::Ok,
            Err(e) => e.outcome(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What a successful attempt returned besides its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Completion tokens from `usage` (None when the target sent no usage).
    pub completion_tokens: Option<u64>,
    /// Streaming only: send → first non-empty content delta.
    pub ttft: Option<Duration>,
    /// Streaming only: gaps between consecutive content chunks (first token excluded).
    pub itl: Vec<Duration>,
}

/// One attempt of a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttemptRecord {
    /// Send → response complete (or failure).
    pub duration: Duration,
    /// How the attempt ended.
    pub outcome: Outcome,
}

/// One logical request, from its intended start to its final outcome.
#[derive(Debug, Clone)]
pub struct Record {
    /// When the schedule said it should start (closed loop: when it did start).
    pub intended: Instant,
    /// When its first attempt was sent.
    pub start: Instant,
    /// When its last attempt ended.
    pub end: Instant,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Time spent sleeping between attempts.
    pub backoff: Duration,
    /// The final outcome (that of the last attempt).
    pub outcome: Outcome,
    /// HTTP status of the last attempt, when there was one.
    pub status: Option<u16>,
    /// The successful attempt's extras.
    pub sample: Option<Sample>,
}

impl Record {
    /// End-to-end latency: intended start → end.
    pub fn latency(&self) -> Duration {
        self.end.saturating_duration_since(self.intended)
    }

    /// Service time: actual start → end.
    pub fn service_time(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// Microseconds of a duration, clamped to `1..=MAX_RECORDED_US`.
pub fn micros(d: Duration) -> u64 {
    (d.as_micros().min(u128::from(MAX_RECORDED_US)) as u64).max(1)
}

fn new_histogram() -> Histogram<u64> {
    // Auto-resizing: starts small and grows to the largest value seen, so a thousand workers'
    // recorders stay small.
    Histogram::new(SIGFIG).expect("3 significant digits is a valid histogram configuration")
}

/// The process's time origin: interval logs number whole seconds from it, so recorders on
/// different threads agree on interval boundaries without talking to each other.
pub fn epoch() -> (Instant, SystemTime) {
    static EPOCH: OnceLock<(Instant, SystemTime)> = OnceLock::new();
    *EPOCH.get_or_init(|| (Instant::now(), SystemTime::now()))
}

/// The series of per-request output rates (milli-tokens per second, not a duration).
pub const TOKENS_PER_S: &str = "request_tokens_per_s";

/// Series kept per one-second interval for the `.hlog` (the others are kept for the whole run).
pub const INTERVAL_SERIES: [&str; 4] = ["e2e.ok", "service.ok", "ttft", "itl"];

/// Per-second histograms: (seconds since [`epoch`], series) → histogram of requests that ended
/// in that second. Seconds more than two behind the newest are sealed (V2 + DEFLATE encoded, a
/// kilobyte or two each), and once more than [`SEALED_IN_MEMORY`] are sealed the oldest go to a
/// temporary file: a run's memory stays flat however long it lasts (the soak test's demand).
#[derive(Debug, Default)]
pub struct Intervals {
    live: BTreeMap<(u64, &'static str), Histogram<u64>>,
    sealed: BTreeMap<(u64, &'static str), Vec<u8>>,
    spill: Option<Spill>,
    newest: u64,
}

/// Sealed intervals kept in memory before the oldest spill to disk.
pub const SEALED_IN_MEMORY: usize = 64;

/// Sealed intervals on disk: records of (second u64 LE, series index u8, length u32 LE, bytes).
/// The file is anonymous (unlinked as soon as it is created), so it disappears with the process
/// however that ends, killed included.
#[derive(Debug)]
struct Spill {
    file: std::io::BufWriter<std::fs::File>,
    records: usize,
}

impl Spill {
    fn create() -> Option<Spill> {
        let file = tempfile::tempfile().ok()?;
        Some(Spill {
            file: std::io::BufWriter::new(file),
            records: 0,
        })
    }

    fn append(&mut self, sec: u64, series: &'static str, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let idx = INTERVAL_SERIES.iter().position(|s| *s == series).unwrap_or(0) as u8;
        self.file.write_all(&sec.to_le_bytes())?;
        self.file.write_all(&[idx])?;
        self.file.write_all(&(bytes.len() as u32).to_le_bytes())?;
        self.file.write_all(bytes)?;
        // A couple of records a second: flushing each keeps the file readable at any time.
        self.file.flush()?;
        self.records += 1;
        Ok(())
    }

    /// Reads back every record (the write position is left at the end).
    fn read_all(&self) -> std::io::Result<Vec<SealedRecord>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = self.file.get_ref().try_clone()?;
        f.seek(SeekFrom::Start(0))?;
        let mut data = Vec::new();
        let read = f.read_to_end(&mut data);
        f.seek(SeekFrom::End(0))?;
        read?;
        Ok(parse_spill(&data))
    }
}

/// One sealed interval: (second, series) and its V2 + DEFLATE encoding.
type SealedRecord = ((u64, &'static str), Vec<u8>);

/// Splits a spill file's bytes into its records.
fn parse_spill(data: &[u8]) -> Vec<SealedRecord> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 13 <= data.len() {
        let sec = u64::from_le_bytes(data[at..at + 8].try_into().unwrap_or_default());
        let series = INTERVAL_SERIES
            .get(usize::from(data[at + 8]))
            .copied()
            .unwrap_or("e2e.ok");
        let len = u32::from_le_bytes(data[at + 9..at + 13].try_into().unwrap_or_default()) as usize;
        at += 13;
        if at + len > data.len() {
            break;
        }
        out.push(((sec, series), data[at..at + len].to_vec()));
        at += len;
    }
    out
}

impl Clone for Intervals {
    /// A clone holds everything in memory (live), the spilled part read back.
    fn clone(&self) -> Self {
        let mut c = Intervals {
            newest: self.newest,
            ..Intervals::default()
        };
        for (k, h) in self.histograms() {
            c.live.insert(k, h);
        }
        c
    }
}

impl Intervals {
    fn record(&mut self, sec: u64, series: &'static str, v: u64) {
        let h = self.live.entry((sec, series)).or_insert_with(new_histogram);
        if h.record(v).is_err() {
            h.saturating_record(v);
        }
        if sec > self.newest {
            self.newest = sec;
            self.seal_before(sec.saturating_sub(2));
        }
    }

    fn seal_before(&mut self, sec: u64) {
        let keep = self.live.split_off(&(sec, ""));
        let old = std::mem::replace(&mut self.live, keep);
        for (k, h) in old {
            let mut buf = Vec::new();
            match hdrhistogram::serialization::Serializer::serialize(
                &mut hdrhistogram::serialization::V2DeflateSerializer::new(),
                &h,
                &mut buf,
            ) {
                Ok(_) => {
                    self.sealed.insert(k, buf);
                }
                // Cannot happen writing to a Vec; keep the histogram live rather than lose it.
                Err(_) => {
                    self.live.insert(k, h);
                }
            }
        }
        if self.sealed.len() > SEALED_IN_MEMORY {
            self.spill_oldest(self.sealed.len() - SEALED_IN_MEMORY / 2);
        }
    }

    /// Moves the `n` oldest sealed intervals to the spill file (kept in memory if it cannot be
    /// written: memory is the lesser loss).
    fn spill_oldest(&mut self, n: usize) {
        if self.spill.is_none() {
            self.spill = Spill::create();
        }
        let Some(spill) = self.spill.as_mut() else { return };
        let keys: Vec<(u64, &'static str)> = self.sealed.keys().take(n).copied().collect();
        for k in keys {
            if let Some(bytes) = self.sealed.get(&k)
                && spill.append(k.0, k.1, bytes).is_ok()
            {
                self.sealed.remove(&k);
            }
        }
    }

    /// Every interval histogram, sealed and spilled ones decoded, in (second, series) order.
    pub fn histograms(&self) -> Vec<((u64, &'static str), Histogram<u64>)> {
        let mut out: BTreeMap<(u64, &'static str), Histogram<u64>> = self.live.clone();
        let spilled = self.spill.as_ref().and_then(|sp| sp.read_all().ok());
        let in_memory = self.sealed.iter().map(|(k, b)| (*k, b.clone()));
        for (k, bytes) in spilled.unwrap_or_default().into_iter().chain(in_memory) {
            if let Ok(h) =
                hdrhistogram::serialization::Deserializer::new().deserialize::<u64, _>(&mut &bytes[..])
            {
                match out.get_mut(&k) {
                    Some(mine) => {
                        let _ = mine.add(&h);
                    }
                    None => {
                        out.insert(k, h);
                    }
                }
            }
        }
        out.into_iter().collect()
    }

    /// The earliest second with data.
    pub fn first_second(&self) -> Option<u64> {
        let a = self.live.keys().next().map(|k| k.0);
        let b = self.sealed.keys().next().map(|k| k.0);
        a.into_iter().chain(b).min()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.sealed.is_empty()
    }
}

impl AddAssign<&Intervals> for Intervals {
    fn add_assign(&mut self, other: &Intervals) {
        for (k, h) in other.histograms() {
            match self.live.get_mut(&k) {
                Some(mine) => {
                    let _ = mine.add(&h);
                }
                None => {
                    self.live.insert(k, h);
                }
            }
        }
        self.newest = self.newest.max(other.newest);
    }
}

/// A set of histograms keyed by series name (`ok`, `attempt.rate_limited`, `ttft`, …), created
/// on first use.
#[derive(Debug, Clone, Default)]
pub struct Series(BTreeMap<String, Histogram<u64>>);

impl Series {
    /// Records `d` in the named histogram.
    pub fn record(&mut self, name: &str, d: Duration) {
        self.record_value(name, micros(d));
    }

    /// Records a raw value (not a duration) in the named histogram, clamped like durations.
    pub fn record_value(&mut self, name: &str, v: u64) {
        let h = match self.0.get_mut(name) {
            Some(h) => h,
            None => self.0.entry(name.to_owned()).or_insert_with(new_histogram),
        };
        let v = v.clamp(1, MAX_RECORDED_US);
        // Values are clamped and the histogram auto-resizes, so `record` only fails if memory
        // for the resize cannot be had; then the value is kept at the current top.
        if h.record(v).is_err() {
            h.saturating_record(v);
        }
    }

    /// The named histogram, if anything was recorded in it.
    pub fn get(&self, name: &str) -> Option<&Histogram<u64>> {
        self.0.get(name)
    }

    /// All histograms by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Histogram<u64>)> {
        self.0.iter()
    }

    /// Adds one histogram under a name.
    pub fn add(&mut self, name: &str, h: &Histogram<u64>) {
        match self.0.get_mut(name) {
            // Both are auto-resizing, so adding cannot fail on range.
            Some(mine) => {
                let _ = mine.add(h);
            }
            None => {
                self.0.insert(name.to_owned(), h.clone());
            }
        }
    }
}

impl AddAssign<&Series> for Series {
    fn add_assign(&mut self, other: &Series) {
        for (name, h) in &other.0 {
            self.add(name, h);
        }
    }
}

/// Counters and histograms of one worker, or of a whole strategy after merging.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    /// Logical requests by final outcome.
    pub counts: BTreeMap<Outcome, u64>,
    /// Attempts sent, first ones included.
    pub attempts: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Time spent backing off, summed over requests.
    pub backoff: Duration,
    /// Completion tokens reported by successful requests.
    pub completion_tokens: u64,
    /// Histograms: `e2e.<outcome>` (intended start → end), `attempt.<outcome>` (each attempt),
    /// `service.<outcome>` (actual start → end), `lag` (actual − intended start),
    /// `ttft`, `itl`, `tpot` (streaming).
    pub series: Series,
    /// First actual start and last end seen.
    pub span: Option<(Instant, Instant)>,
    /// First and last actual start seen (the achieved send rate of an open loop).
    pub starts: Option<(Instant, Instant)>,
    /// The [`INTERVAL_SERIES`] per one-second interval, for `run.hlog`.
    pub intervals: Intervals,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// Folds one finished request in.
    pub fn record(&mut self, r: &Record) {
        *self.counts.entry(r.outcome).or_default() += 1;
        let n = r.attempts.len() as u64;
        self.attempts += n;
        self.retries += n.saturating_sub(1);
        self.backoff += r.backoff;
        let o = r.outcome.id();
        self.series.record(&format!("e2e.{o}"), r.latency());
        self.series.record(&format!("service.{o}"), r.service_time());
        self.series
            .record("lag", r.start.saturating_duration_since(r.intended));
        for a in &r.attempts {
            self.series
                .record(&format!("attempt.{}", a.outcome.id()), a.duration);
        }
        if let Some(s) = &r.sample {
            self.completion_tokens += s.completion_tokens.unwrap_or(0);
            if let Some(ttft) = s.ttft {
                self.series.record("ttft", ttft);
                // Time per output token after the first: (end − TTFT) ÷ (tokens − 1), over the
                // successful attempt only.
                if let (Some(tokens), Some(last)) = (s.completion_tokens, r.attempts.last())
                    && tokens > 1
                {
                    let generation = last.duration.saturating_sub(ttft);
                    self.series.record("tpot", generation / (tokens - 1) as u32);
                }
            }
            // Per-request output rate over the successful attempt, in milli-tokens per second
            // (so the report's ÷1000 gives tokens/s with three decimals).
            if let (Some(tokens), Some(last)) = (s.completion_tokens, r.attempts.last())
                && tokens > 0
                && !last.duration.is_zero()
            {
                let rate = tokens as f64 / last.duration.as_secs_f64();
                self.series.record_value(TOKENS_PER_S, (rate * 1000.0) as u64);
            }
            for gap in &s.itl {
                self.series.record("itl", *gap);
            }
        }
        self.span = Some(match self.span {
            None => (r.start, r.end),
            Some((a, b)) => (a.min(r.start), b.max(r.end)),
        });
        self.starts = Some(match self.starts {
            None => (r.start, r.start),
            Some((a, b)) => (a.min(r.start), b.max(r.start)),
        });
        let sec = r.end.saturating_duration_since(epoch().0).as_secs();
        if r.outcome == Outcome::Ok {
            self.interval(sec, "e2e.ok", r.latency());
            self.interval(sec, "service.ok", r.service_time());
        }
        if let Some(s) = &r.sample {
            if let Some(t) = s.ttft {
                self.interval(sec, "ttft", t);
            }
            for gap in &s.itl {
                self.interval(sec, "itl", *gap);
            }
        }
    }

    fn interval(&mut self, sec: u64, series: &'static str, d: Duration) {
        self.intervals.record(sec, series, micros(d));
    }

    /// Requests started per second, first start to last (`None` for fewer than two requests).
    pub fn achieved_rate(&self) -> Option<f64> {
        let (a, b) = self.starts?;
        let span = b.saturating_duration_since(a).as_secs_f64();
        let n = self.total();
        (n > 1 && span > 0.0).then(|| (n - 1) as f64 / span)
    }

    /// Requests recorded.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Requests with this outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.counts.get(&o).copied().unwrap_or(0)
    }

    /// End-to-end latency of every request, whatever its outcome.
    pub fn e2e_all(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for o in Outcome::ALL {
            if let Some(h) = self.series.get(&format!("e2e.{}", o.id())) {
                let _ = all.add(h);
            }
        }
        all
    }
}

impl AddAssign<&Recorder> for Recorder {
    fn add_assign(&mut self, other: &Recorder) {
        for (o, n) in &other.counts {
            *self.counts.entry(*o).or_default() += n;
        }
        self.attempts += other.attempts;
        self.retries += other.retries;
        self.backoff += other.backoff;
        self.completion_tokens += other.completion_tokens;
        self.series += &other.series;
        self.span = match (self.span, other.span) {
            (None, s) | (s, None) => s,
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        };
        self.starts = match (self.starts, other.starts) {
            (None, s) | (s, None) => s,
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        };
        self.intervals += &other.intervals;
    }
}

/// The percentiles every report prints, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Values in the histogram.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// 99.99th percentile.
    pub p9999: f64,
    /// Largest value.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Percentiles {
    /// Reads the percentiles of a microsecond histogram, in milliseconds.
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Percentiles {
            count: h.len(),
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            p9999: ms(0.9999),
            max: h.max() as f64 / 1000.0,
            mean: h.mean() / 1000.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome, ms: u64, attempts: usize) -> Record {
        let t0 = Instant::now();
        Record {
            intended: t0,
            start: t0,
            end: t0 + Duration::from_millis(ms),
            attempts: vec![
                AttemptRecord {
                    duration: Duration::from_millis(ms),
                    outcome
                };
                attempts
            ],
            backoff: Duration::ZERO,
            outcome,
            status: None,
            sample: None,
        }
    }

    #[test]
    fn merged_recorders_count_every_request_once() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for _ in 0..3 {
            a.record(&record(Outcome::Ok, 100, 1));
        }
        b.record(&record(Outcome::RateLimited, 5, 3));
        a += &b;
        assert_eq!(a.total(), 4);
        assert_eq!(a.count(Outcome::RateLimited), 1);
        assert_eq!(a.attempts, 6);
        assert_eq!(a.retries, 2);
        assert_eq!(a.series.get("e2e.ok").unwrap().len(), 3);
        assert_eq!(a.series.get("attempt.rate_limited").unwrap().len(), 3);
        assert_eq!(a.e2e_all().len(), 4);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut r = Recorder::new();
        for ms in 1..=100 {
            r.record(&record(Outcome::Ok, ms, 1));
        }
        let p = Percentiles::of(r.series.get("e2e.ok").unwrap());
        assert_eq!(p.count, 100);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn old_intervals_are_sealed_and_still_read_back() {
        let mut iv = Intervals::default();
        for sec in 0..10u64 {
            for v in 1..=100 {
                iv.record(sec, "e2e.ok", v * 1000);
            }
        }
        // A late arrival for a sealed second still counts.
        iv.record(1, "e2e.ok", 5);
        assert!(
            iv.live.len() <= 4,
            "{} live: the last three seconds and the late one",
            iv.live.len()
        );
        assert_eq!(iv.sealed.len(), 7);
        let all = iv.histograms();
        assert_eq!(all.len(), 10);
        assert_eq!(all.iter().map(|(_, h)| h.len()).sum::<u64>(), 1001);
        assert_eq!(all[1].1.len(), 101);
        let mut merged = Intervals::default();
        merged += &iv;
        merged += &iv;
        assert_eq!(
            merged.histograms().iter().map(|(_, h)| h.len()).sum::<u64>(),
            2002
        );
    }

    #[test]
    fn long_runs_spill_old_intervals_to_disk_and_read_them_back() {
        let mut iv = Intervals::default();
        for sec in 0..300u64 {
            iv.record(sec, "e2e.ok", 1000 + sec);
            iv.record(sec, "ttft", 10);
        }
        assert!(
            iv.sealed.len() <= SEALED_IN_MEMORY,
            "{} sealed in memory",
            iv.sealed.len()
        );
        let spilled = iv.spill.as_ref().map(|s| s.records).expect("spilled");
        assert!(spilled >= 600 - SEALED_IN_MEMORY - 6, "{spilled} records on disk");
        let all = iv.histograms();
        assert_eq!(all.len(), 600);
        assert_eq!(all.iter().map(|(_, h)| h.len()).sum::<u64>(), 600);
        // Reading twice gives the same (the read leaves the file whole), and a clone is complete.
        assert_eq!(iv.histograms().len(), 600);
        assert_eq!(iv.clone().histograms().len(), 600);
    }

    #[test]
    fn huge_values_are_clamped_not_fatal() {
        let mut s = Series::default();
        s.record("x", Duration::from_secs(100_000));
        assert!(s.get("x").unwrap().max() <= MAX_RECORDED_US + MAX_RECORDED_US / 1000);
    }
}
