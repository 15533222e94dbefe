//! What a run measures: one [`Record`] per logical request, folded into a [`Recorder`] of
//! HdrHistograms and counters. Each worker owns its recorder; they are merged once at the end with
//! `+=`, so nothing is shared or locked per request.
//!
//!
//! Histograms hold microseconds, auto-resizing, 3 significant digits; values are clamped at one
//! hour so a pathological request can never make recording fail (drill's panic).

use crate::model::outcome::{ErrorClass, Outcome};
use crate::model::plan::Slo;
use crate::model::record::{Protocol, Record, Sample, StampedWrite};
use crate::model::rounds::{Second, Steady};
use crate::model::series::{Percentiles, Series, SeriesSet, micros, new_histogram};
use crate::stats::intervals::Intervals;
use crate::stats::log;

use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub(crate) use crate::model::plan::epoch;

/// How often one error class was seen, with the first sample of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorTally {
    /// Failed attempts of this class.
    pub count: u64,
    /// The first one's sample (status and start of the body, or the message), secrets redacted.
    pub sample: String,
}

/// Counters and histograms of one worker, or of a whole strategy after merging.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Logical requests by final outcome, indexed by [`Outcome::index`].
    counts: [u64; Outcome::ALL.len()],
    /// Attempts sent, first ones included.
    pub attempts: u64,
    /// Attempts after the first.
    pub retries: u64,
    /// Time spent backing off, summed over requests.
    pub backoff: Duration,
    /// Completion tokens reported by successful requests.
    pub completion_tokens: u64,
    /// Of them, reasoning tokens.
    pub reasoning_tokens: u64,
    /// The histograms (see [`Series`]).
    pub series: SeriesSet,
    /// Failed attempts by class, each with its first sample.
    pub errors: BTreeMap<ErrorClass, ErrorTally>,
    /// Successful answers by the HTTP version they came in.
    pub protocols: BTreeMap<Protocol, u64>,
    /// First actual start and last end seen.
    pub span: Option<(Instant, Instant)>,
    /// First and last actual start seen (the achieved send rate of an open loop).
    pub starts: Option<(Instant, Instant)>,
    /// Per one-second interval, for `run.hlog`: end-to-end and service time of successes, TTFT
    /// and ITL (the other series are kept for the whole run only).
    pub intervals: Intervals,
    /// The limits a request must meet to count as good.
    pub slo: Slo,
    /// Successful requests that met every SLO limit (all of them when none is set).
    pub good: u64,
    /// Input tokens of successful requests.
    pub input_tokens: u64,
    /// Successful requests whose target counted their input tokens otherwise than the harness.
    pub input_token_mismatches: u64,
    /// Where each request's line goes (`requests.jsonl`), with the strategy's id.
    pub log: Option<(log::RequestLog, &'static str)>,
}

fn widen(a: Option<(Instant, Instant)>, b: Option<(Instant, Instant)>) -> Option<(Instant, Instant)> {
    match (a, b) {
        (None, s) | (s, None) => s,
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Recorder::default()
    }

    /// An empty recorder whose interval log keeps at most `n` sealed intervals in memory.
    #[cfg(test)]
    pub(crate) fn with_interval_limit(n: usize) -> Self {
        Recorder {
            intervals: Intervals::with_limit(n),
            ..Recorder::default()
        }
    }

    /// An empty recorder with these interval-memory limit, SLO and request log.
    pub(crate) fn for_run(n: usize, slo: Slo, log: Option<(log::RequestLog, &'static str)>) -> Self {
        Recorder {
            intervals: Intervals::with_limit(n),
            slo,
            log,
            ..Recorder::default()
        }
    }

    /// Folds one finished request in.
    pub fn record(&mut self, r: &Record) {
        self.record_read_at(r, r.end);
    }

    /// Folds one finished request in whose end reached the harness at `read`: its own last
    /// byte read for a built-in strategy (`r.end`), the moment the harness read the line an
    /// external client wrote for it (the client timed the request on its own clock; how long
    /// its line took to come is not in any latency, and is not the harness's part).
    pub fn record_read_at(&mut self, r: &Record, read: Instant) {
        self.counts[r.outcome.index()] += 1;
        let n = r.attempts.len() as u64;
        self.attempts += n;
        self.retries += n.saturating_sub(1);
        self.backoff += r.backoff;
        self.record_times(r);
        self.series
            .record(Series::Lag, r.start.saturating_duration_since(r.intended));
        // The harness's own part: from the last byte read to this count.
        self.series.record(
            Series::HarnessLate,
            Instant::now().saturating_duration_since(read),
        );
        let sec = r.end.saturating_duration_since(epoch().0).as_secs();
        for a in &r.attempts {
            // 429 answers per second, for the timeline (at their request's end: with no
            // retries, exactly when they came).
            if a.outcome == Outcome::RateLimited {
                self.intervals
                    .record(sec, Series::Attempt(Outcome::RateLimited), micros(a.duration));
            }
        }
        self.tally_failures(r);
        let mut good = None;
        if let Some(s) = &r.sample {
            let tpot = self.record_sample(r, s);
            let met = self.slo.met(r.latency(), s.ttft, s.ttfo(), tpot);
            if met {
                self.good += 1;
            }
            good = self.slo.is_set().then_some(met);
        } else if self.slo.is_set() {
            good = Some(false);
        }
        if let Some((log, strategy)) = &mut self.log {
            log.write(strategy, r, good);
        }
        self.span = widen(self.span, Some((r.start, r.end)));
        self.starts = widen(self.starts, Some((r.start, r.start)));
        if r.outcome == Outcome::Ok {
            self.intervals
                .record_latency(sec, micros(r.latency()), micros(r.service_time()));
        }
        if let Some(s) = &r.sample {
            if let Some(t) = s.ttft {
                self.intervals.record(sec, Series::Ttft, micros(t));
            }
            for gap in &s.itl {
                self.intervals.record(sec, Series::Itl, micros(*gap));
            }
        }
    }

    /// The request's end-to-end latency, service time and attempts' durations, each value once
    /// where series share it (see [`SeriesSet`]): a closed loop's latency is its service time,
    /// and a request's one attempt of its outcome lasts its service time.
    fn record_times(&mut self, r: &Record) {
        let o = r.outcome;
        let (e2e, service) = (micros(r.latency()), micros(r.service_time()));
        let one = matches!(r.attempts.as_slice(), [a] if a.outcome == o && micros(a.duration) == service);
        let series = &mut self.series;
        // The series that share the service time: its one attempt's too, when `one`.
        let times = [Series::E2e(o), Series::Service(o), Series::Attempt(o)];
        let shared = if one { &times[..] } else { &times[..2] };
        if e2e == service {
            series.record_shared(shared, e2e);
        } else {
            series.record_value(Series::E2e(o), e2e);
            series.record_shared(&shared[1..], service);
        }
        if !one {
            for a in &r.attempts {
                series.record_value(Series::Attempt(a.outcome), micros(a.duration));
            }
        }
    }

    /// The streaming and token figures of a successful request; returns its TPOT.
    fn record_sample(&mut self, r: &Record, s: &Sample) -> Option<Duration> {
        // A target's counts are its word: one that says 2⁶⁴ − 1 tokens must not wrap the sums.
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(s.completion_tokens.unwrap_or(0));
        if let Some(p) = s.protocol {
            *self.protocols.entry(p).or_default() += 1;
        }
        self.input_token_mismatches += u64::from(s.input_tokens_differ);
        if let Some(n) = s.input_tokens {
            self.input_tokens = self.input_tokens.saturating_add(n);
            self.series
                .record_value(Series::InputTokens, n.saturating_mul(1000));
        }
        if let Some(n) = s.completion_tokens {
            self.series
                .record_value(Series::OutputTokens, n.saturating_mul(1000));
        }
        if let Some(n) = s.reasoning_tokens() {
            self.reasoning_tokens = self.reasoning_tokens.saturating_add(n);
            self.series
                .record_value(Series::ReasoningTokens, n.saturating_mul(1000));
        }
        // TTFO only where it can differ from TTFT: an answer that reasoned.
        if let Some(r) = &s.reasoning {
            if let Some(t) = r.ttfo {
                self.series.record(Series::Ttfo, t);
            }
            for gap in &r.itl {
                self.series.record(Series::ReasoningItl, *gap);
            }
        }
        let last = r.attempts.last().map(|a| a.duration);
        let mut tpot = None;
        if let Some(ttft) = s.ttft {
            self.series.record(Series::Ttft, ttft);
            // Time per output token after the first: (end − TTFT) ÷ (tokens − 1), over the
            // successful attempt only (vLLM's definition).
            if let (Some(tokens), Some(last)) = (s.completion_tokens, last)
                && tokens > 1
            {
                let generation = last.saturating_sub(ttft);
                let t = generation.div_f64((tokens - 1) as f64);
                self.series.record(Series::Tpot, t);
                tpot = Some(t);
            }
        }
        // Per-request output rate over the successful attempt, in milli-tokens per second (so
        // the report's ÷1000 gives tokens/s with three decimals).
        if let (Some(tokens), Some(last)) = (s.completion_tokens, last)
            && tokens > 0
            && !last.is_zero()
        {
            let rate = tokens as f64 / last.as_secs_f64();
            self.series
                .record_value(Series::RequestTokensPerS, (rate * 1000.0) as u64);
        }
        for gap in &s.itl {
            self.series.record(Series::Itl, *gap);
        }
        if let Some(st) = &s.stamps {
            if let Some(d) = st.request {
                self.series.record(Series::RequestPath, d);
            }
            self.series
                .record_each(Series::MockLate, st.writes().map(StampedWrite::mock_late_us));
            self.series
                .record_each(Series::Transit, st.writes().map(StampedWrite::transit_us));
        }
        tpot
    }

    /// Folds in a request cancelled in flight after a stop's grace period: counted `cancelled`,
    /// its attempts counted as sent (the one in flight too) with the failures of those before it,
    /// its line written; no latency, and no part in the run's span or rates.
    pub(crate) fn record_cancelled(&mut self, r: &Record) {
        self.counts[Outcome::Cancelled.index()] += 1;
        let n = r.attempts.len() as u64;
        self.attempts += n;
        self.retries += n.saturating_sub(1);
        self.backoff += r.backoff;
        self.tally_failures(r);
        if let Some((log, strategy)) = &mut self.log {
            log.write(strategy, r, self.slo.is_set().then_some(false));
        }
    }

    /// Counts each failed attempt of `r` under its class (the first one's sample kept).
    fn tally_failures(&mut self, r: &Record) {
        for f in r.attempts.iter().filter_map(|a| a.failure.as_ref()) {
            self.errors
                .entry(f.class)
                .or_insert_with(|| ErrorTally {
                    count: 0,
                    sample: f.sample.clone(),
                })
                .count += 1;
        }
    }

    /// Counts `n` requests that were in flight when the run was cut off after its grace period
    /// and left no record: they have an outcome (`cancelled`) but no latency and no line.
    pub(crate) fn add_cancelled(&mut self, n: u64) {
        self.counts[Outcome::Cancelled.index()] += n;
    }

    /// Requests started per second, first start to last (`None` for fewer than two requests).
    pub fn achieved_rate(&self) -> Option<f64> {
        let (a, b) = self.starts?;
        let span = b.saturating_duration_since(a).as_secs_f64();
        let n = self.total() - self.count(Outcome::Cancelled);
        (n > 1 && span > 0.0).then(|| (n - 1) as f64 / span)
    }

    /// The run second by second (successes, 429 answers, p50 and p99 of the successes), from
    /// the second its first request started in, and the steady window: the whole seconds
    /// between the first request's start and the last's, while the concurrency was held.
    pub fn timeline(&self) -> (Vec<Second>, Option<Steady>) {
        let Some((first, last)) = self.starts else {
            return (Vec::new(), None);
        };
        let at = |t: Instant| t.saturating_duration_since(epoch().0).as_secs_f64();
        let (first, last) = (at(first), at(last));
        let origin = first.floor() as u64;
        let mut rows: BTreeMap<u64, Second> = BTreeMap::new();
        self.intervals.for_each(|sec, series, h| {
            let Some(t_s) = sec.checked_sub(origin) else {
                return;
            };
            let row = rows.entry(t_s).or_insert(Second::empty(t_s));
            match series {
                Series::E2e(Outcome::Ok) => {
                    let p = Percentiles::of(&h);
                    row.ok = h.len();
                    row.p50_ms = p.map(|p| p.p50);
                    row.p99_ms = p.map(|p| p.p99);
                }
                Series::Attempt(Outcome::RateLimited) => row.rate_limited = h.len(),
                _ => {}
            }
        });
        // Seconds with nothing in them are zeros, not gaps.
        let end = rows.keys().next_back().map_or(0, |k| k + 1);
        let timeline: Vec<Second> = (0..end)
            .map(|t_s| rows.get(&t_s).copied().unwrap_or(Second::empty(t_s)))
            .collect();
        let (from, to) = (
            first.ceil() as u64 - origin,
            (last.floor() as u64).saturating_sub(origin),
        );
        let steady = (to > from).then(|| {
            let ok: u64 = timeline
                .iter()
                .filter(|s| (from..to).contains(&s.t_s))
                .map(|s| s.ok)
                .sum();
            Steady {
                from_s: from,
                to_s: to,
                goodput_rps: ok as f64 / (to - from) as f64,
            }
        });
        (timeline, steady)
    }

    /// Requests recorded.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Requests with this outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.counts[o.index()]
    }

    /// End-to-end latency of every request, whatever its outcome.
    pub(crate) fn e2e_all(&self) -> Histogram<u64> {
        let mut all = new_histogram();
        for o in Outcome::ALL {
            if let Some(h) = self.series.get(Series::E2e(o)) {
                let _ = all.add(h);
            }
        }
        all
    }
}

impl AddAssign<Recorder> for Recorder {
    fn add_assign(&mut self, other: Recorder) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.attempts += other.attempts;
        self.retries += other.retries;
        self.backoff += other.backoff;
        self.completion_tokens = self.completion_tokens.saturating_add(other.completion_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
        self.good += other.good;
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.input_token_mismatches += other.input_token_mismatches;
        self.series += &other.series;
        for (class, t) in other.errors {
            // Keep the sample seen first (ours), add the counts.
            self.errors
                .entry(class)
                .or_insert(ErrorTally {
                    count: 0,
                    sample: t.sample,
                })
                .count += t.count;
        }
        for (p, n) in other.protocols {
            *self.protocols.entry(p).or_default() += n;
        }
        self.span = widen(self.span, other.span);
        self.starts = widen(self.starts, other.starts);
        self.intervals += other.intervals;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::test_record as record;
    use crate::model::series::Percentiles;

    #[test]
    fn percentiles_are_in_milliseconds_and_absent_when_empty() {
        let mut r = Recorder::new();
        for ms in 1..=100 {
            r.record(&record(Outcome::Ok, ms, 1));
        }
        let p = Percentiles::of(r.series.get(Series::E2e(Outcome::Ok)).unwrap()).unwrap();
        assert_eq!(p.count, 100);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
        assert!((p.mean - 50.5).abs() < 0.1, "{p:?}");
        assert_eq!(Percentiles::of(&new_histogram()), None);
    }

    /// Any one limit makes an SLO; a value exactly at its limit meets it; an SLO reads back from
    /// JSON (seconds) and writes itself as the flag takes it.
    #[test]
    fn an_slo_is_any_limit_met_at_the_limit() {
        let ms = Duration::from_millis;
        assert!(!Slo::default().is_set());
        for slo in [
            Slo {
                ttft: Some(ms(1)),
                ..Slo::default()
            },
            Slo {
                tpot: Some(ms(1)),
                ..Slo::default()
            },
            Slo {
                e2e: Some(ms(1)),
                ..Slo::default()
            },
        ] {
            assert!(slo.is_set(), "{slo:?}");
        }
        let slo = Slo {
            ttft: Some(ms(500)),
            ttfo: None,
            tpot: None,
            e2e: Some(ms(2000)),
        };
        assert_eq!(slo.describe(), "ttft=500ms,e2e=2s");
        assert!(
            slo.met(ms(2000), Some(ms(500)), None, None),
            "exactly at both limits"
        );
        assert!(!slo.met(ms(2001), Some(ms(500)), None, None));
        assert!(!slo.met(ms(2000), Some(ms(501)), None, None));
        assert!(
            !slo.met(ms(10), None, None, None),
            "a limit on TTFT with none measured"
        );
        let json = serde_json::to_string(&slo).unwrap();
        assert_eq!(json, r#"{"ttft":0.5,"ttfo":null,"tpot":null,"e2e":2.0}"#);
        // TTFO, the first output token after any reasoning: its own limit.
        let after_reasoning = Slo {
            ttfo: Some(ms(900)),
            ..Slo::default()
        };
        assert!(after_reasoning.is_set());
        assert_eq!(after_reasoning.describe(), "ttfo=900ms");
        assert!(after_reasoning.met(ms(5000), Some(ms(100)), Some(ms(900)), None));
        assert!(!after_reasoning.met(ms(5000), Some(ms(100)), Some(ms(901)), None));
        assert!(!after_reasoning.met(ms(5000), Some(ms(100)), None, None));
        assert_eq!(serde_json::from_str::<Slo>(&json).unwrap(), slo);
    }

    /// `with_interval_limit` and `for_run` give the recorder its interval-memory limit (a limit
    /// of 2 spills where the default keeps everything), and `for_run` its request log.
    #[test]
    fn the_interval_limit_and_the_log_reach_the_recorder() {
        let (t0, _) = epoch();
        let at = |sec: u64| {
            let end = t0 + Duration::from_secs(sec);
            let mut r = record(Outcome::Ok, 0, 1);
            (r.intended, r.start, r.end) = (end, end, end);
            r
        };
        let mut small = Recorder::with_interval_limit(2);
        let mut default = Recorder::new();
        for sec in 0..12 {
            small.record(&at(sec));
            default.record(&at(sec));
        }
        assert!(small.intervals.spilled() > 0, "a limit of 2 spills");
        assert_eq!(default.intervals.spilled(), 0);
        let mut run = Recorder::for_run(2, Slo::default(), None);
        for sec in 0..12 {
            run.record(&at(sec));
        }
        assert!(run.intervals.spilled() > 0, "for_run's limit");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        let (log, writer) = log::RequestLog::start(std::fs::File::create(&path).unwrap(), t0, false).unwrap();
        let mut run = Recorder::for_run(8, Slo::default(), Some((log, "async")));
        run.record(&at(0));
        drop(run);
        writer.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains(r#""strategy":"async""#), "{text}");
    }

    /// The recorder's sums and its edges: backoff and input tokens add up; the interval log
    /// holds successes only; TPOT needs two tokens and a per-request rate one; the achieved rate
    /// needs two starts apart in time.
    /// A successful answer's protocol and reasoning tokens are counted, and the distortion
    /// series get what the stamps say (the request's way in, each write's lateness and transit)
    /// and, for every request, the time from its last byte to its count.
    #[test]
    fn samples_count_protocols_reasoning_and_the_distortion() {
        use crate::model::record::{Reasoning, StampedWrite, Stamps};
        let ms = Duration::from_millis;
        let answer = |reasoning: u64| {
            let mut r = record(Outcome::Ok, 10, 1);
            r.sample = Some(Sample {
                completion_tokens: Some(9),
                protocol: Some(Protocol::Http11),
                reasoning: Some(Box::new(Reasoning {
                    tokens: Some(reasoning),
                    ..Reasoning::default()
                })),
                stamps: Some(Box::new(Stamps {
                    request: Some(ms(3)),
                    head: Some(StampedWrite::new(ms(2), ms(5))),
                    events: vec![StampedWrite::new(ms(7), ms(11))],
                })),
                ..Sample::default()
            });
            r
        };
        let mut rec = Recorder::new();
        rec.record(&answer(4));
        rec.record(&answer(3));
        assert_eq!(rec.protocols.get(&Protocol::Http11), Some(&2));
        assert_eq!(rec.reasoning_tokens, 7);
        let values = |s: Series| {
            let h = rec.series.get(s).unwrap();
            (h.len(), h.min(), h.lowest_equivalent(h.max()))
        };
        assert_eq!(values(Series::RequestPath), (2, 3000, 3000));
        assert_eq!(values(Series::MockLate), (4, 2000, 7000));
        assert_eq!(values(Series::Transit), (4, 5000, 11_000));
        // A request whose last byte came 50 ms before it was counted.
        let mut late = record(Outcome::ServerError, 10, 1);
        late.end = Instant::now().checked_sub(ms(50)).unwrap();
        let mut rec = Recorder::new();
        rec.record(&late);
        let h = rec.series.get(Series::HarnessLate).unwrap();
        // (A histogram keeps 3 digits: 50 ms is any value equivalent to 50 000 µs or more.)
        assert!(
            h.len() == 1 && h.min() >= h.lowest_equivalent(50_000),
            "{} µs",
            h.min()
        );
        assert!(rec.series.get(Series::Transit).is_none(), "no stamps, no transit");
    }

    #[test]
    fn the_recorder_sums_and_skips_what_it_should() {
        let ms = Duration::from_millis;
        let sampled = |tokens: u64, ttft: Option<Duration>| {
            let mut r = record(Outcome::Ok, 100, 1);
            r.backoff = ms(30);
            r.sample = Some(Sample {
                completion_tokens: Some(tokens),
                input_tokens: Some(5),
                ttft,
                ..Sample::default()
            });
            r
        };
        let mut rec = Recorder::new();
        rec.record(&sampled(1, Some(ms(40))));
        rec.record(&sampled(0, None));
        assert_eq!(rec.backoff, ms(60));
        assert_eq!(rec.input_tokens, 10);
        assert!(rec.series.get(Series::Tpot).is_none(), "one token has no TPOT");
        let rates = rec.series.get(Series::RequestTokensPerS).unwrap();
        assert_eq!(rates.len(), 1, "zero tokens have no per-request rate");
        assert!(
            rates.max().abs_diff(10_000) < 20,
            "1 token in 0.1 s, in milli-tokens/s"
        );
        let mut failed = Recorder::new();
        failed.record(&record(Outcome::ServerError, 10, 1));
        assert!(failed.intervals.is_empty(), "failures stay out of run.hlog");
        // 429 answers go in, per second, for the timeline.
        let mut limited = Recorder::new();
        limited.record(&record(Outcome::RateLimited, 10, 1));
        let (timeline, _) = limited.timeline();
        let ok: u64 = timeline.iter().map(|s| s.ok).sum();
        let limited: u64 = timeline.iter().map(|s| s.rate_limited).sum();
        assert_eq!((ok, limited), (0, 1));
        assert!(!rec.intervals.is_empty());
        // Achieved rate: (starts − 1) ÷ first-to-last start.
        let mut one = Recorder::new();
        one.record(&record(Outcome::Ok, 10, 1));
        assert_eq!(one.achieved_rate(), None, "one start");
        let (a, mut b) = (record(Outcome::Ok, 10, 1), record(Outcome::Ok, 10, 1));
        b.start = a.start;
        let mut same = Recorder::new();
        same.record(&a);
        same.record(&b);
        assert_eq!(same.achieved_rate(), None, "two starts at one instant");
        b.start = a.start + Duration::from_millis(500);
        let mut apart = Recorder::new();
        apart.record(&a);
        apart.record(&b);
        assert!((apart.achieved_rate().unwrap() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn merged_recorders_count_every_request_once() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for _ in 0..3 {
            a.record(&record(Outcome::Ok, 100, 1));
        }
        b.record(&record(Outcome::RateLimited, 5, 3));
        b.add_cancelled(2);
        a += b;
        assert_eq!(a.total(), 6);
        assert_eq!(a.count(Outcome::RateLimited), 1);
        assert_eq!(a.count(Outcome::Cancelled), 2);
        assert_eq!(a.attempts, 6);
        assert_eq!(a.retries, 2);
        assert_eq!(a.series.get(Series::E2e(Outcome::Ok)).unwrap().len(), 3);
        assert_eq!(
            a.series.get(Series::Attempt(Outcome::RateLimited)).unwrap().len(),
            3
        );
        assert_eq!(a.e2e_all().len(), 4, "cancelled requests have no latency");
        assert_eq!(a.errors[&ErrorClass::Status(429)].count, 3);
        // The sums of successful requests add up too (each side has some).
        let streamed = |tokens: u64| {
            let mut r = record(Outcome::Ok, 100, 1);
            r.backoff = Duration::from_millis(20);
            r.sample = Some(Sample {
                completion_tokens: Some(tokens),
                input_tokens: Some(7),
                protocol: Some(Protocol::Http11),
                ..Sample::default()
            });
            r
        };
        let (mut c, mut d) = (Recorder::new(), Recorder::new());
        c.record(&streamed(3));
        d.record(&streamed(4));
        d.record(&streamed(5));
        c += d;
        assert_eq!(c.backoff, Duration::from_millis(60));
        assert_eq!(c.completion_tokens, 12);
        assert_eq!(c.input_tokens, 21);
        assert_eq!(c.good, 3, "no SLO: every success is good");
        assert_eq!(c.protocols[&Protocol::Http11], 3);
    }

    #[test]
    fn tpot_is_generation_time_over_tokens_after_the_first() {
        let mut rec = record(Outcome::Ok, 1000, 1);
        rec.sample = Some(Sample {
            completion_tokens: Some(11),
            ttft: Some(Duration::from_millis(200)),
            itl: vec![],
            protocol: Some(Protocol::Http2),
            ..Sample::default()
        });
        let mut r = Recorder::new();
        r.record(&rec);
        // (1000 − 200) ms ÷ (11 − 1) = 80 ms, not 1000 ÷ 11.
        let tpot = Percentiles::of(r.series.get(Series::Tpot).unwrap()).unwrap();
        assert!((tpot.p50 - 80.0).abs() < 0.1, "{tpot:?}");
        assert_eq!(r.protocols[&Protocol::Http2], 1);
        // 11 tokens over the 1 s attempt.
        let rate = r.series.get(Series::RequestTokensPerS).unwrap();
        assert_eq!(rate.value_at_quantile(0.5) / 1000, 11);
    }
}
