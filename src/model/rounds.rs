//! Rounds: a strategy's figures round by round ([`Round`], each with its second-by-second
//! timeline and steady window), and over rounds ([`Spread`]: means with 95 % intervals).

use serde::{Deserialize, Serialize};

use crate::model::uncertainty::{Estimate, Metric};

/// One round of a strategy: its own figures, as one run of it would report them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// Which round (1-based).
    pub round: u32,
    /// Its place among the strategies in that round (1-based; rounds alternate the order).
    pub position: u32,
    /// When it started, Unix milliseconds.
    pub started_unix_ms: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Requests issued.
    pub issued: u64,
    /// Successful requests.
    pub ok: u64,
    /// Successful requests per second.
    pub goodput_rps: f64,
    /// Finished requests per second.
    pub throughput_rps: f64,
    /// With `--slo`: good requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_goodput_rps: Option<f64>,
    /// Median end-to-end latency of successful requests, ms.
    pub p50_ms: Option<f64>,
    /// 90th percentile, ms.
    pub p90_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Client CPU, seconds.
    pub cpu_s: f64,
    /// Client CPU per finished request, microseconds.
    pub cpu_us_per_request: Option<f64>,
    /// Attempts answered 429, as a share of attempts.
    pub share_429: f64,
    /// The stretch during which the concurrency was held, and the goodput in it.
    pub steady: Option<Steady>,
    /// Second by second, from the round's first second.
    pub timeline: Vec<Second>,
}

/// The steady-state window of a round: the whole seconds between its first request's start and
/// its last's (before that the concurrency ramps up; after it, requests in flight drain).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Steady {
    /// Its first second, counted as the timeline counts (`t_s`).
    pub from_s: u64,
    /// The second after its last.
    pub to_s: u64,
    /// Successful requests per second in it.
    pub goodput_rps: f64,
}

/// One second of a round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds from the round's first second (0 = the second its first request started in).
    pub t_s: u64,
    /// Requests that succeeded in this second.
    pub ok: u64,
    /// Attempts answered 429, counted in the second their request ended.
    pub rate_limited: u64,
    /// Median end-to-end latency of the successes of this second, ms.
    pub p50_ms: Option<f64>,
    /// Their 99th percentile, ms.
    pub p99_ms: Option<f64>,
}

impl Second {
    /// Second `t_s` with nothing in it.
    pub fn empty(t_s: u64) -> Second {
        Second {
            t_s,
            ok: 0,
            rate_limited: 0,
            p50_ms: None,
            p99_ms: None,
        }
    }
}

/// A strategy's figures over its rounds: mean and 95 % interval of each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Successful requests per second.
    pub goodput_rps: Estimate,
    /// Finished requests per second.
    pub throughput_rps: Estimate,
    /// Median latency, ms (when every round had a success).
    pub p50_ms: Option<Estimate>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<Estimate>,
    /// Client CPU per finished request, µs.
    pub cpu_us_per_request: Option<Estimate>,
}

impl Round {
    /// This round's value of `m` (`None`: nothing succeeded, or nothing finished).
    pub fn value(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::Goodput => Some(self.goodput_rps),
            Metric::P50 => self.p50_ms,
            Metric::P99 => self.p99_ms,
            Metric::CpuPerRequest => self.cpu_us_per_request,
        }
    }
}

/// Every round's value of `m`, or `None` when a round lacks it.
pub fn round_values(rounds: &[Round], m: Metric) -> Option<Vec<f64>> {
    rounds.iter().map(|r| r.value(m)).collect()
}

impl Spread {
    /// The spread of `rounds`; `None` below two rounds.
    pub fn of(rounds: &[Round]) -> Option<Spread> {
        let est = |m: Metric| round_values(rounds, m).and_then(|v| Estimate::of(&v));
        Some(Spread {
            goodput_rps: est(Metric::Goodput)?,
            throughput_rps: Estimate::of(&rounds.iter().map(|r| r.throughput_rps).collect::<Vec<_>>())?,
            p50_ms: est(Metric::P50),
            p99_ms: est(Metric::P99),
            cpu_us_per_request: est(Metric::CpuPerRequest),
        })
    }

    /// The estimate of `m`.
    pub fn get(&self, m: Metric) -> Option<Estimate> {
        match m {
            Metric::Goodput => Some(self.goodput_rps),
            Metric::P50 => self.p50_ms,
            Metric::P99 => self.p99_ms,
            Metric::CpuPerRequest => self.cpu_us_per_request,
        }
    }
}

/// The steady goodput over rounds: the successes in every round's window over their seconds.
pub fn steady_goodput(rounds: &[Round]) -> Option<f64> {
    let (mut ok, mut secs) = (0.0, 0u64);
    for s in rounds.iter().filter_map(|r| r.steady) {
        let n = s.to_s - s.from_s;
        ok += s.goodput_rps * n as f64;
        secs += n;
    }
    (secs > 0).then(|| ok / secs as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(goodput: f64, p50: Option<f64>, steady: Option<(u64, u64, f64)>) -> Round {
        Round {
            round: 1,
            position: 1,
            started_unix_ms: 0.0,
            wall_s: 1.0,
            issued: 10,
            ok: 10,
            goodput_rps: goodput,
            throughput_rps: goodput + 1.0,
            slo_goodput_rps: None,
            p50_ms: p50,
            p90_ms: None,
            p99_ms: p50.map(|p| 2.0 * p),
            cpu_s: 0.1,
            cpu_us_per_request: Some(5.0),
            share_429: 0.0,
            steady: steady.map(|(from_s, to_s, goodput_rps)| Steady {
                from_s,
                to_s,
                goodput_rps,
            }),
            timeline: Vec::new(),
        }
    }

    /// The steady goodput weighs each round's window by its seconds; none without windows.
    #[test]
    fn steady_goodput_weighs_each_window_by_its_seconds() {
        let rounds = [
            round(1.0, None, Some((1, 5, 100.0))),
            round(1.0, None, None),
            round(1.0, None, Some((2, 4, 50.0))),
        ];
        let g = steady_goodput(&rounds).unwrap();
        assert!((g - 500.0 / 6.0).abs() < 1e-9, "{g}");
        assert_eq!(steady_goodput(&rounds[1..2]), None);
        assert_eq!(steady_goodput(&[round(1.0, None, Some((3, 3, 9.0)))]), None);
    }

    /// Two rounds or more have a spread: each figure's mean over them, and a figure some round
    /// lacks has none; `get` reads each figure.
    #[test]
    fn the_spread_of_rounds_is_their_means() {
        assert_eq!(Spread::of(&[round(100.0, Some(10.0), None)]), None);
        let rounds = [
            round(100.0, Some(10.0), None),
            round(110.0, Some(20.0), None),
            round(90.0, None, None),
        ];
        let s = Spread::of(&rounds).unwrap();
        assert!((s.goodput_rps.mean - 100.0).abs() < 1e-9);
        assert!(s.goodput_rps.lo < 100.0 && s.goodput_rps.hi > 100.0);
        assert!((s.throughput_rps.mean - 101.0).abs() < 1e-9);
        assert_eq!(s.p50_ms, None, "a round with no p50");
        assert_eq!(s.get(Metric::Goodput), Some(s.goodput_rps));
        assert_eq!(s.get(Metric::P50), None);
        let both = Spread::of(&rounds[..2]).unwrap();
        assert!((both.get(Metric::P50).unwrap().mean - 15.0).abs() < 1e-9);
        assert!((both.get(Metric::P99).unwrap().mean - 30.0).abs() < 1e-9);
        assert!((both.get(Metric::CpuPerRequest).unwrap().mean - 5.0).abs() < 1e-9);
        assert_eq!(round_values(&rounds, Metric::P50), None);
        assert_eq!(
            round_values(&rounds, Metric::Goodput),
            Some(vec![100.0, 110.0, 90.0])
        );
    }
}
