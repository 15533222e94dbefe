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
#[derive(Debug, Clone)]
pub struct SeriesSet([Option<Histogram<u64>>; SERIES_COUNT]);

impl Default for SeriesSet {
    fn default() -> Self {
        SeriesSet(std::array::from_fn(|_| None))
    }
}

impl SeriesSet {
    /// Records `d` in the series.
    pub fn record(&mut self, s: Series, d: Duration) {
        self.record_value(s, micros(d));
    }

    /// Records a raw value (not a duration), clamped like durations.
    pub fn record_value(&mut self, s: Series, v: u64) {
        let h = self.0[s.index()].get_or_insert_with(new_histogram);
        record_clamped(h, v);
    }

    /// The series' histogram, if anything was recorded in it.
    pub fn get(&self, s: Series) -> Option<&Histogram<u64>> {
        self.0[s.index()].as_ref()
    }

    /// Every series with data, in [`Series::all`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Series, &Histogram<u64>)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, h)| Some((Series::from_index(i)?, h.as_ref()?)))
    }

    /// Adds a histogram into a series.
    pub fn add(&mut self, s: Series, h: &Histogram<u64>) {
        match &mut self.0[s.index()] {
            // Both are auto-resizing, so adding cannot fail on range.
            Some(mine) => {
                let _ = mine.add(h);
            }
            slot @ None => *slot = Some(h.clone()),
        }
    }
}

impl AddAssign<&SeriesSet> for SeriesSet {
    fn add_assign(&mut self, other: &SeriesSet) {
        for (s, h) in other.iter() {
            self.add(s, h);
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
