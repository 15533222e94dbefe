//! Latency models and their spec strings (`100ms`, `uniform:50ms..150ms`, `normal:MEAN,SD`,
//! `lognormal:MEDIAN,P99`, `exp:MEAN`), plus the duration syntax shared by every flag.
//!
//! Sampling is a pure function of an RNG, so a seeded mock produces the same delays in the same
//! order; the server turns a sample into a non-blocking `tokio::time::sleep`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a duration or latency spec could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// Not a number followed by a unit.
    #[error("invalid duration '{0}': expected a number and a unit, e.g. 100ms, 1.5s, 250us")]
    Duration(String),
    /// A negative or non-finite duration.
    #[error("invalid duration '{0}': must be finite and not negative")]
    Negative(String),
    /// An unknown model name or wrong parameter count.
    #[error(
        "invalid latency spec '{0}': expected DURATION, uniform:MIN..MAX, normal:MEAN,SD, lognormal:MEDIAN,P99 or exp:MEAN"
    )]
    Latency(String),
    /// Parameters that make no distribution (min > max, p99 < median, …).
    #[error("invalid latency spec '{spec}': {why}")]
    Parameters {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Parses `100ms`, `1.5s`, `250us`, `2m`, `0` (a bare zero), `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, SpecError> {
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .ok_or_else(|| SpecError::Duration(s.to_owned()))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| SpecError::Duration(s.to_owned()))?;
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(SpecError::Duration(s.to_owned())),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs < 0.0 {
        return Err(SpecError::Negative(s.to_owned()));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| SpecError::Negative(s.to_owned()))
}

/// Formats a duration the way [`parse_duration`] reads it back (`100ms`, `1.5s`, `250us`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0ms".to_owned()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else if ns.is_multiple_of(1_000) {
        format!("{}us", ns / 1_000)
    } else {
        format!("{}ns", ns)
    }
}

/// A latency distribution. Every sample is clamped at zero.
#[derive(Debug, Clone, PartialEq)]
pub enum LatencySpec {
    /// Always the same delay.
    Fixed(Duration),
    /// Uniform between the two bounds (inclusive).
    Uniform(Duration, Duration),
    /// Normal with this mean and standard deviation, clamped at 0.
    Normal(Duration, Duration),
    /// Log-normal given by its median and its 99th percentile.
    LogNormal(Duration, Duration),
    /// Exponential with this mean.
    Exp(Duration),
}

/// The z-score of the 99th percentile of a standard normal distribution.
const Z_P99: f64 = 2.326_347_874_040_841;

impl LatencySpec {
    /// No delay at all.
    pub const ZERO: LatencySpec = LatencySpec::Fixed(Duration::ZERO);

    /// Draws one delay.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> Duration {
        let secs = match self {
            LatencySpec::Fixed(d) => return *d,
            LatencySpec::Uniform(a, b) => {
                if a == b {
                    return *a;
                }
                rng.random_range(a.as_secs_f64()..=b.as_secs_f64())
            }
            LatencySpec::Normal(mean, sd) => Normal::new(mean.as_secs_f64(), sd.as_secs_f64())
                .map(|n| n.sample(rng))
                .unwrap_or(mean.as_secs_f64()),
            LatencySpec::LogNormal(median, p99) => {
                let (mu, sigma) = lognormal_params(*median, *p99);
                LogNormal::new(mu, sigma)
                    .map(|n| n.sample(rng))
                    .unwrap_or(median.as_secs_f64())
            }
            LatencySpec::Exp(mean) => {
                let m = mean.as_secs_f64();
                if m == 0.0 {
                    return Duration::ZERO;
                }
                Exp::new(1.0 / m).map(|e| e.sample(rng)).unwrap_or(m)
            }
        };
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::ZERO)
    }

    /// The distribution's mean (for ideal-time estimates).
    pub fn mean(&self) -> Duration {
        match self {
            LatencySpec::Fixed(d) | LatencySpec::Exp(d) => *d,
            LatencySpec::Uniform(a, b) => (*a + *b) / 2,
            // Clamping at zero raises the mean a little when SD is large; ignore that here.
            LatencySpec::Normal(m, _) => *m,
            LatencySpec::LogNormal(median, p99) => {
                let (mu, sigma) = lognormal_params(*median, *p99);
                Duration::try_from_secs_f64((mu + sigma * sigma / 2.0).exp()).unwrap_or(*median)
            }
        }
    }

    /// True when the model can only ever produce zero.
    pub fn is_zero(&self) -> bool {
        matches!(self, LatencySpec::Fixed(d) if d.is_zero())
    }
}

fn lognormal_params(median: Duration, p99: Duration) -> (f64, f64) {
    let mu = median.as_secs_f64().max(1e-9).ln();
    let sigma = ((p99.as_secs_f64().max(1e-9).ln() - mu) / Z_P99).max(0.0);
    (mu, sigma)
}

impl FromStr for LatencySpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || SpecError::Latency(s.to_owned());
        let Some((kind, args)) = t.split_once(':') else {
            return parse_duration(t).map(LatencySpec::Fixed).map_err(|e| match e {
                SpecError::Negative(_) => e,
                _ => bad(),
            });
        };
        let two = |sep: &str| -> Result<(Duration, Duration), SpecError> {
            let (a, b) = args.split_once(sep).ok_or_else(bad)?;
            Ok((parse_duration(a)?, parse_duration(b)?))
        };
        let spec = match kind.trim() {
            "fixed" => LatencySpec::Fixed(parse_duration(args)?),
            "uniform" => {
                let (a, b) = two("..")?;
                if a > b {
                    return Err(SpecError::Parameters {
                        spec: s.to_owned(),
                        why: "MIN is above MAX",
                    });
                }
                LatencySpec::Uniform(a, b)
            }
            "normal" => {
                let (m, sd) = two(",")?;
                LatencySpec::Normal(m, sd)
            }
            "lognormal" => {
                let (median, p99) = two(",")?;
                if p99 < median {
                    return Err(SpecError::Parameters {
                        spec: s.to_owned(),
                        why: "P99 is below MEDIAN",
                    });
                }
                if median.is_zero() {
                    return Err(SpecError::Parameters {
                        spec: s.to_owned(),
                        why: "MEDIAN must be above zero",
                    });
                }
                LatencySpec::LogNormal(median, p99)
            }
            "exp" => LatencySpec::Exp(parse_duration(args)?),
            _ => return Err(bad()),
        };
        Ok(spec)
    }
}

impl fmt::Display for LatencySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: &Duration| format_duration(*d);
        match self {
            LatencySpec::Fixed(x) => write!(f, "{}", d(x)),
            LatencySpec::Uniform(a, b) => write!(f, "uniform:{}..{}", d(a), d(b)),
            LatencySpec::Normal(m, sd) => write!(f, "normal:{},{}", d(m), d(sd)),
            LatencySpec::LogNormal(m, p) => write!(f, "lognormal:{},{}", d(m), d(p)),
            LatencySpec::Exp(m) => write!(f, "exp:{}", d(m)),
        }
    }
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec::ZERO
    }
}

impl Serialize for LatencySpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LatencySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serde helpers for a `Duration` written as a string such as `"250ms"`.
pub mod duration_str {
    use super::*;

    /// Writes `Duration` as `"250ms"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_duration(*d))
    }

    /// Reads `"250ms"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(matches!(parse_duration("-5ms"), Err(SpecError::Negative(_))));
        assert!(parse_duration("100").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn specs_round_trip_through_display() {
        for s in [
            "100ms",
            "uniform:50ms..150ms",
            "normal:100ms,20ms",
            "lognormal:100ms,400ms",
            "exp:80ms",
        ] {
            let spec: LatencySpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
    }

    #[test]
    fn bad_specs_are_rejected() {
        for s in [
            "uniform:150ms..50ms",
            "lognormal:100ms,50ms",
            "gamma:1s",
            "normal:1s",
            "uniform:1s",
            "-1s",
        ] {
            assert!(s.parse::<LatencySpec>().is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn samples_respect_bounds_and_clamp_at_zero() {
        let mut rng = SmallRng::seed_from_u64(7);
        let u: LatencySpec = "uniform:50ms..150ms".parse().unwrap();
        let n: LatencySpec = "normal:1ms,50ms".parse().unwrap();
        for _ in 0..1000 {
            let x = u.sample(&mut rng);
            assert!(x >= Duration::from_millis(50) && x <= Duration::from_millis(150));
            // A normal centred near zero with a big SD would go negative 49% of the time.
            let _ = n.sample(&mut rng);
        }
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let mut rng = SmallRng::seed_from_u64(1);
        let spec: LatencySpec = "lognormal:100ms,400ms".parse().unwrap();
        let mut v: Vec<f64> = (0..20_000).map(|_| spec.sample(&mut rng).as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        let median = v[v.len() / 2];
        let p99 = v[v.len() * 99 / 100];
        assert!((median - 0.100).abs() < 0.005, "median {median}");
        assert!((p99 - 0.400).abs() < 0.04, "p99 {p99}");
    }
}
