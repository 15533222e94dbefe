//! The histograms a run keeps, named by a type ([`Series`]) rather than by formatted strings, and
//! [`SeriesSet`], one optional histogram per series in a fixed array: recording costs an index,
//! not a map lookup or an allocation. A name (`e2e.ok`, `ttft`) is made only where it is
//! printed or written.

use serde::{Deserialize, Serialize};

use std::fmt;
use std::ops::AddAssign;
use std::time::Duration;

use hdrhistogram::{Counter, Histogram};

use crate::model::outcome::Outcome;

/// Largest value recorded, in microseconds (one hour).
pub const MAX_RECORDED_US: u64 = 3_600_000_000;
/// Significant digits of every histogram.
pub const SIGFIG: u8 = 3;

/// One histogram series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Series {
    /// End-to-end latency of requests ending with this outcome: intended start → end.
    E2e(Outcome),
    /// Service time of requests ending with this outcome: actual start → end.
    Service(Outcome),
    /// Duration of each attempt ending with this outcome.
    Attempt(Outcome),
    /// Schedule lag: actual − intended start.
    Lag,
    /// Streaming: request sent → first token of any kind.
    Ttft,
    /// Streaming: request sent → first output (content) token.
    Ttfo,
    /// Streaming: gaps between consecutive reasoning chunks.
    ReasoningItl,
    /// Each successful request's reasoning tokens (when it had some), × 1000.
    ReasoningTokens,
    /// Streaming: gaps between consecutive content chunks.
    Itl,
    /// Streaming: (end − TTFT) ÷ (output tokens − 1).
    Tpot,
    /// Each successful request's output tokens ÷ its duration, in milli-tokens per second.
    RequestTokensPerS,
    /// Each successful request's input tokens, × 1000 (so the report's ÷ 1000 gives tokens).
    InputTokens,
    /// Each successful request's output tokens, × 1000.
    OutputTokens,
    /// The mock's stamps: how late it wrote each answer or event (written − intended).
    MockLate,
    /// The mock's stamps: each write's way to the client (read − written): kernel and runtime.
    Transit,
    /// The harness's own lateness: each request's last byte read → its record counted.
    HarnessLate,
    /// The mock's stamps: each answer's request, from its send to the mock's handler.
    RequestPath,
}

const OUTCOMES: usize = Outcome::ALL.len();
/// How many series there are (the length of a [`SeriesSet`]).
pub const SERIES_COUNT: usize = 3 * OUTCOMES + 14;

impl Series {
    /// Every series, in a fixed order (outcome series first).
    pub fn all() -> impl Iterator<Item = Series> {
        (0..SERIES_COUNT).filter_map(Series::from_index)
    }

    /// Position in a [`SeriesSet`].
    pub fn index(self) -> usize {
        match self {
            Series::E2e(o) => o.index(),
            Series::Service(o) => OUTCOMES + o.index(),
            Series::Attempt(o) => 2 * OUTCOMES + o.index(),
            Series::Lag => 3 * OUTCOMES,
            Series::Ttft => 3 * OUTCOMES + 1,
            Series::Itl => 3 * OUTCOMES + 2,
            Series::Tpot => 3 * OUTCOMES + 3,
            Series::RequestTokensPerS => 3 * OUTCOMES + 4,
            Series::InputTokens => 3 * OUTCOMES + 5,
            Series::OutputTokens => 3 * OUTCOMES + 6,
            Series::Ttfo => 3 * OUTCOMES + 7,
            Series::ReasoningItl => 3 * OUTCOMES + 8,
            Series::ReasoningTokens => 3 * OUTCOMES + 9,
            Series::MockLate => 3 * OUTCOMES + 10,
            Series::Transit => 3 * OUTCOMES + 11,
            Series::HarnessLate => 3 * OUTCOMES + 12,
            Series::RequestPath => 3 * OUTCOMES + 13,
        }
    }

    /// The series at a [`SeriesSet`] position.
    pub fn from_index(i: usize) -> Option<Series> {
        let o = |k: usize| Outcome::ALL.get(k).copied();
        Some(match i {
            i if i < OUTCOMES => Series::E2e(o(i)?),
            i if i < 2 * OUTCOMES => Series::Service(o(i - OUTCOMES)?),
            i if i < 3 * OUTCOMES => Series::Attempt(o(i - 2 * OUTCOMES)?),
            i => match i - 3 * OUTCOMES {
                0 => Series::Lag,
                1 => Series::Ttft,
                2 => Series::Itl,
                3 => Series::Tpot,
                4 => Series::RequestTokensPerS,
                5 => Series::InputTokens,
                6 => Series::OutputTokens,
                7 => Series::Ttfo,
                8 => Series::ReasoningItl,
                9 => Series::ReasoningTokens,
                10 => Series::MockLate,
                11 => Series::Transit,
                12 => Series::HarnessLate,
                13 => Series::RequestPath,
                _ => return None,
            },
        })
    }

    /// The series whose values this one has, value for value, in the common case (a closed
    /// loop's service time is its latency; a request's one attempt lasts its service time):
    /// a [`SeriesSet`] keeps it as that series until a value differs.
    pub fn source(self) -> Option<Series> {
        match self {
            Series::Service(o) => Some(Series::E2e(o)),
            Series::Attempt(o) => Some(Series::Service(o)),
            _ => None,
        }
    }

    /// The series whose [`Series::source`] this one is.
    fn echo(self) -> Option<Series> {
        match self {
            Series::E2e(o) => Some(Series::Service(o)),
            Series::Service(o) => Some(Series::Attempt(o)),
            _ => None,
        }
    }

    /// The series named `name` (the inverse of its `Display`).
    pub fn from_name(name: &str) -> Option<Series> {
        Series::all().find(|s| s.to_string() == name)
    }

    /// Whether the values are durations in microseconds (all but the token series).
    pub fn is_duration(self) -> bool {
        !matches!(
            self,
            Series::RequestTokensPerS | Series::InputTokens | Series::OutputTokens | Series::ReasoningTokens
        )
    }
}

impl fmt::Display for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Series::E2e(o) => write!(f, "e2e.{o}"),
            Series::Service(o) => write!(f, "service.{o}"),
            Series::Attempt(o) => write!(f, "attempt.{o}"),
            Series::Lag => f.write_str("lag"),
            Series::Ttft => f.write_str("ttft"),
            Series::Itl => f.write_str("itl"),
            Series::Tpot => f.write_str("tpot"),
            Series::RequestTokensPerS => f.write_str("request_tokens_per_s"),
            Series::InputTokens => f.write_str("input_tokens"),
            Series::OutputTokens => f.write_str("output_tokens"),
            Series::Ttfo => f.write_str("ttfo"),
            Series::ReasoningItl => f.write_str("reasoning_itl"),
            Series::ReasoningTokens => f.write_str("reasoning_tokens"),
            Series::MockLate => f.write_str("mock_late"),
            Series::Transit => f.write_str("transit"),
            Series::HarnessLate => f.write_str("harness_late"),
            Series::RequestPath => f.write_str("request_path"),
        }
    }
}

/// Microseconds of a duration, clamped to `1..=MAX_RECORDED_US`.
pub fn micros(d: Duration) -> u64 {
    (d.as_micros().min(u128::from(MAX_RECORDED_US)) as u64).max(1)
}

/// An empty auto-resizing histogram of [`SIGFIG`] digits.
pub fn new_histogram() -> Histogram<u64> {
    // Auto-resizing: starts small and grows to the largest value seen, so a thousand workers'
    // recorders stay small.
    Histogram::new(SIGFIG).expect("3 significant digits is a valid histogram configuration")
}

/// Records `v` (clamped) into `h`. Values are clamped and the histogram auto-resizes, so
/// `record` fails only when memory for a resize cannot be had; then the value is kept at the top.
pub(crate) fn record_clamped<T: Counter>(h: &mut Histogram<T>, v: u64) {
    let v = v.clamp(1, MAX_RECORDED_US);
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// One optional histogram per [`Series`], created on first use.
///
/// A series that has had, value for value, the values of its [`Series::source`] is not stored:
/// it reads as its source until a value of either differs, and then gets a histogram of its
/// own, a copy of the source's as it was. A closed loop's worker then keeps one latency
/// histogram where it kept three (end-to-end, service, attempt; 90 KB each at 1 s in
/// microseconds) and records each request once where it recorded it three times.
#[derive(Debug, Clone)]
pub struct SeriesSet {
    hists: [Option<Histogram<u64>>; SERIES_COUNT],
    /// Whether each series reads as its source (never for one without a source).
    echo: [bool; SERIES_COUNT],
}

impl Default for SeriesSet {
    fn default() -> Self {
        SeriesSet {
            hists: std::array::from_fn(|_| None),
            echo: std::array::from_fn(|i| Series::from_index(i).and_then(Series::source).is_some()),
        }
    }
}

impl SeriesSet {
    /// Records `d` in the series.
    pub fn record(&mut self, s: Series, d: Duration) {
        self.record_value(s, micros(d));
    }

    /// Records each of `values` (microseconds, or raw values) in `s`: what
    /// [`SeriesSet::record_value`] does for one, with the series looked up once (a stamped
    /// stream's events give two values each, kept in microseconds).
    pub fn record_each(&mut self, s: Series, values: impl IntoIterator<Item = u64>) {
        self.part_from(&[s]);
        // After `part_from`, a series that read as another has its own histogram.
        debug_assert!(!self.echo[s.index()]);
        let h = self.hists[s.index()].get_or_insert_with(new_histogram);
        for v in values {
            record_clamped(h, v);
        }
    }

    /// Records a raw value (not a duration), clamped like durations.
    pub fn record_value(&mut self, s: Series, v: u64) {
        self.record_shared(&[s], v);
    }

    /// Records `v` in every series of `to` (one value they share: a request's latency that is
    /// also its service time). A series of `to` that reads as another of `to` stays so, and the
    /// value is recorded once, in the one they read as.
    pub fn record_shared(&mut self, to: &[Series], v: u64) {
        self.part_from(to);
        for s in to {
            if !self.echo[s.index()] {
                record_clamped(self.hists[s.index()].get_or_insert_with(new_histogram), v);
            }
        }
    }

    /// Before values that go to the series of `to` only: a series that reads as another and
    /// gets a value it does not (one is in `to`, the other not) gets its own copy first.
    fn part_from(&mut self, to: &[Series]) {
        for s in to {
            if self.echo[s.index()] && s.source().is_some_and(|src| !to.contains(&src)) {
                self.own(*s);
            }
            if let Some(e) = s.echo()
                && self.echo[e.index()]
                && !to.contains(&e)
            {
                self.own(e);
            }
        }
    }

    /// Gives `s` a histogram of its own: a copy of the one it reads as.
    fn own(&mut self, s: Series) {
        self.hists[s.index()] = self.get(s).cloned();
        self.echo[s.index()] = false;
    }

    /// The series' histogram, if anything was recorded in it.
    pub fn get(&self, mut s: Series) -> Option<&Histogram<u64>> {
        while self.echo[s.index()] {
            s = s.source()?;
        }
        self.hists[s.index()].as_ref()
    }

    /// Every series with data, in [`Series::all`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Series, &Histogram<u64>)> {
        Series::all().filter_map(|s| Some((s, self.get(s)?)))
    }

    /// Adds `h` into the histogram `s` has of its own.
    fn add_own(&mut self, s: Series, h: &Histogram<u64>) {
        match &mut self.hists[s.index()] {
            // Both are auto-resizing, so adding cannot fail on range.
            Some(mine) => {
                let _ = mine.add(h);
            }
            slot @ None => *slot = Some(h.clone()),
        }
    }
}

impl AddAssign<&SeriesSet> for SeriesSet {
    /// A series that reads as its source in both sets stays so (its source gets the other's
    /// source: the same values); one that does in this set only gets its own copy first,
    /// before anything is added.
    fn add_assign(&mut self, other: &SeriesSet) {
        for s in Series::all() {
            if self.echo[s.index()] && !other.echo[s.index()] {
                self.own(s);
            }
        }
        for s in Series::all() {
            if !self.echo[s.index()]
                && let Some(h) = other.get(s)
            {
                self.add_own(s, h);
            }
        }
    }
}

/// The percentiles every report prints, in milliseconds (tokens/s for the token-rate series).
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
    /// The percentiles of a microsecond histogram, in milliseconds; `None` when it is empty (an
    /// empty series has no median, and printing 0 would claim one).
    pub fn of(h: &Histogram<u64>) -> Option<Percentiles> {
        if h.is_empty() {
            return None;
        }
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Some(Percentiles {
            count: h.len(),
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            p9999: ms(0.9999),
            max: h.max() as f64 / 1000.0,
            mean: h.mean() / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;

    /// A set that stores every series apart: what a [`SeriesSet`] must read as.
    type Plain = BTreeMap<Series, Histogram<u64>>;

    /// `n` random writes of a value shared by a few series, as the recorder makes them.
    fn writes(rng: &mut SmallRng, n: usize) -> Vec<(Vec<Series>, u64)> {
        (0..n)
            .map(|_| {
                let o = [Outcome::Ok, Outcome::RateLimited][rng.random_range(0..2)];
                let (e, s, a) = (Series::E2e(o), Series::Service(o), Series::Attempt(o));
                let to = match rng.random_range(0..7) {
                    0 => vec![e],
                    1 => vec![s],
                    2 => vec![a],
                    3 => vec![e, s],
                    4 => vec![s, a],
                    5 => vec![e, s, a],
                    _ => vec![Series::Lag],
                };
                (to, [1, 2, 3, 500][rng.random_range(0..4)])
            })
            .collect()
    }

    /// Applies `writes`; with `each`, a value for one series through [`SeriesSet::record_each`].
    fn apply(set: &mut SeriesSet, plain: &mut Plain, writes: &[(Vec<Series>, u64)], each: bool) {
        for (to, v) in writes {
            match to[..] {
                [s] if each => set.record_each(s, [*v]),
                _ => set.record_shared(to, *v),
            }
            for s in to {
                plain.entry(*s).or_insert_with(new_histogram).record(*v).unwrap();
            }
        }
    }

    fn assert_reads_as(set: &SeriesSet, plain: &Plain, case: usize) {
        for s in Series::all() {
            assert_eq!(set.get(s), plain.get(&s), "case {case}: {s}");
        }
        assert_eq!(set.iter().count(), plain.len(), "case {case}");
    }

    /// Whatever the order of shared and lone values, every series reads as if each were kept
    /// apart, and so does the sum of two sets: a series kept as its source parts from it at the
    /// first value that differs, from the values before it (half the cases record the lone
    /// values as a stream's stamps are, a series' values at once).
    #[test]
    fn a_set_reads_as_if_every_series_were_kept_apart() {
        let mut rng = SmallRng::seed_from_u64(29);
        for case in 0..500 {
            // Arrange
            let (n, m) = (rng.random_range(0..12), rng.random_range(0..12));
            let (first, second) = (writes(&mut rng, n), writes(&mut rng, m));
            let (mut a, mut b) = (SeriesSet::default(), SeriesSet::default());
            let (mut plain_a, mut plain_b) = (Plain::new(), Plain::new());
            // Act
            let each = case % 2 == 1;
            apply(&mut a, &mut plain_a, &first, each);
            apply(&mut b, &mut plain_b, &second, each);
            // Assert
            assert_reads_as(&a, &plain_a, case);
            a += &b;
            for (s, h) in plain_b {
                let _ = plain_a.entry(s).or_insert_with(new_histogram).add(&h);
            }
            assert_reads_as(&a, &plain_a, case);
        }
    }

    /// A closed loop's request (latency = service time = its one attempt) is one histogram.
    #[test]
    fn a_value_shared_by_three_series_is_kept_once() {
        let mut set = SeriesSet::default();
        let ok = [
            Series::E2e(Outcome::Ok),
            Series::Service(Outcome::Ok),
            Series::Attempt(Outcome::Ok),
        ];
        set.record_shared(&ok, 1000);
        set.record_shared(&ok, 2000);
        assert_eq!(set.hists.iter().flatten().count(), 1);
        set.record_value(Series::Attempt(Outcome::Ok), 5);
        assert_eq!(set.hists.iter().flatten().count(), 2);
        assert_eq!(set.get(Series::Attempt(Outcome::Ok)).unwrap().len(), 3);
        assert_eq!(set.get(Series::Service(Outcome::Ok)).unwrap().len(), 2);
    }

    #[test]
    fn every_series_has_a_distinct_index_and_name_that_round_trip() {
        let all: Vec<Series> = Series::all().collect();
        assert_eq!(all.len(), SERIES_COUNT);
        for (i, s) in all.iter().enumerate() {
            assert_eq!(s.index(), i);
            assert_eq!(Series::from_name(&s.to_string()), Some(*s));
        }
        assert_eq!(Series::E2e(Outcome::Ok).to_string(), "e2e.ok");
        assert_eq!(
            Series::Attempt(Outcome::RateLimited).to_string(),
            "attempt.rate_limited"
        );
        assert_eq!(Series::from_index(SERIES_COUNT), None);
    }

    #[test]
    fn huge_values_are_clamped_not_fatal() {
        let mut s = SeriesSet::default();
        s.record(Series::Lag, Duration::from_secs(100_000));
        assert!(s.get(Series::Lag).unwrap().max() <= MAX_RECORDED_US + MAX_RECORDED_US / 1000);
    }
}
