//! Figures with their uncertainty: a figure measured over rounds as its mean with a 95 %
//! confidence interval ([`Estimate`]), the change between two sets of rounds with its interval
//! ([`Change`]), and the rule that reads a change as a difference or as noise ([`Verdict`]).
//!
//! Why Student's t and not a bootstrap: the interval is over rounds, and rounds are few (3 by
//! default). A percentile bootstrap of 3 values gives [min, max], which covers the true mean
//! 75 % of the time, not 95 %; the order-statistic interval of a median cannot reach 95 % below
//! 6 values. The t interval is exact for normal round-to-round noise at any count, and the
//! coverage test (200 simulated cases) checks it. Changes are taken on the log scale (ratios of
//! geometric means), so "−61 %" and "+156 %" are the same difference read from either side.

use serde::{Deserialize, Serialize};

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// The 97.5th percentile of Student's t with `df` degrees of freedom (two-sided 95 %).
pub fn t975(df: f64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    if df.is_nan() || df < 1.0 {
        return f64::INFINITY;
    }
    if df <= 30.0 {
        // Welch's degrees of freedom are fractional: the next smaller whole one is conservative.
        return TABLE[(df.floor() as usize).clamp(1, 30) - 1];
    }
    // Beyond 30 the Cornish-Fisher expansion around the normal quantile is within 0.001.
    let z: f64 = 1.959_964;
    z + (z.powi(3) + z) / (4.0 * df) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * df * df)
}

/// The mean of `xs` (NaN when empty).
pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance (n − 1); 0 for fewer than two values.
fn variance(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() - 1) as f64
}

/// A figure over rounds: their mean and its 95 % confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Mean over the rounds.
    pub mean: f64,
    /// Lower bound of the 95 % interval.
    pub lo: f64,
    /// Upper bound of the 95 % interval.
    pub hi: f64,
    /// Rounds it is over.
    pub n: u32,
}

impl Estimate {
    /// The mean of `xs` with its t interval; `None` below two values (one round has no spread
    /// to measure) or when a value is not finite. The interval of values none of which is
    /// negative (a rate, a latency, CPU) stops at zero: two rounds' t of 12.7 gave a CPU per
    /// request of `606 [-1319, 2530]`.
    pub fn of(xs: &[f64]) -> Option<Estimate> {
        if xs.len() < 2 || xs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let n = xs.len() as f64;
        let m = mean(xs);
        let half = t975(n - 1.0) * (variance(xs) / n).sqrt();
        let floor = if xs.iter().all(|x| *x >= 0.0) {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        Some(Estimate {
            mean: m,
            lo: (m - half).max(floor),
            hi: m + half,
            n: xs.len() as u32,
        })
    }

    /// The interval's half-width as a share of the mean (0.02 = ±2 %).
    pub fn relative_half_width(&self) -> f64 {
        if self.mean == 0.0 {
            0.0
        } else {
            (self.hi - self.lo) / 2.0 / self.mean.abs()
        }
    }
}

/// The change of a figure from a base to a new set of rounds, as a share (+0.05 = 5 % more),
/// with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// new ÷ base − 1, of the geometric means.
    pub point: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Rounds behind it (the fewer of the two sides); below 2 there is no interval.
    pub n: u32,
}

fn logs(xs: &[f64]) -> Option<Vec<f64>> {
    xs.iter()
        .map(|x| (x.is_finite() && *x > 0.0).then(|| x.ln()))
        .collect()
}

fn change_of(d: f64, half: f64, n: usize) -> Change {
    Change {
        point: d.exp() - 1.0,
        lo: (d - half).exp() - 1.0,
        hi: (d + half).exp() - 1.0,
        n: n as u32,
    }
}

impl Change {
    /// Rounds run side by side (round k of `new` beside round k of `base`, as `compare`
    /// interleaves them): the t interval of the mean per-round log ratio, so drift that hit both
    /// in one round cancels. `None` unless both have the same number (≥ 2) of positive values.
    pub fn paired(base: &[f64], new: &[f64]) -> Option<Change> {
        if base.len() != new.len() || base.len() < 2 {
            return None;
        }
        let (b, n) = (logs(base)?, logs(new)?);
        let d: Vec<f64> = n.iter().zip(&b).map(|(x, y)| x - y).collect();
        let k = d.len() as f64;
        Some(change_of(
            mean(&d),
            t975(k - 1.0) * (variance(&d) / k).sqrt(),
            d.len(),
        ))
    }

    /// Rounds of two separate runs (`diff`): Welch's interval of the difference of the mean
    /// logs. `None` unless each has at least two positive values.
    pub fn unpaired(base: &[f64], new: &[f64]) -> Option<Change> {
        if base.len() < 2 || new.len() < 2 {
            return None;
        }
        let (b, n) = (logs(base)?, logs(new)?);
        let (vb, vn) = (variance(&b) / b.len() as f64, variance(&n) / n.len() as f64);
        let se2 = vb + vn;
        let df = if se2 == 0.0 {
            (b.len() + n.len() - 2) as f64
        } else {
            se2 * se2 / (vb * vb / (b.len() - 1) as f64 + vn * vn / (n.len() - 1) as f64)
        };
        Some(change_of(
            mean(&n) - mean(&b),
            t975(df) * se2.sqrt(),
            b.len().min(n.len()),
        ))
    }

    /// The change between two single figures: no interval (`lo` = `hi` = `point`).
    pub fn single(base: f64, new: f64) -> Option<Change> {
        (base.is_finite() && new.is_finite() && base > 0.0 && new >= 0.0).then(|| {
            let p = new / base - 1.0;
            Change {
                point: p,
                lo: p,
                hi: p,
                n: 1,
            }
        })
    }

    /// Whether the interval excludes no change: the whole interval above 0, or below.
    pub fn is_difference(&self) -> bool {
        self.n >= 2 && (self.lo > 0.0 || self.hi < 0.0)
    }

    /// `+4.3 % [+1.2, +7.5]`, or `+4.3 %` with no interval.
    pub fn describe(&self) -> String {
        let pct = |x: f64| format!("{:+.1}", x * 100.0).replace('-', "−");
        if self.n < 2 {
            format!("{} %", pct(self.point))
        } else {
            format!("{} % [{}, {}]", pct(self.point), pct(self.lo), pct(self.hi))
        }
    }
}

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// More is better (goodput).
    Higher,
    /// Less is better (latency, CPU per request).
    Lower,
}

/// A figure the verdicts compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Successful requests per second.
    Goodput,
    /// Median end-to-end latency of successful requests.
    P50,
    /// 99th percentile end-to-end latency of successful requests.
    P99,
    /// Client CPU per finished request.
    CpuPerRequest,
}

impl Metric {
    /// Every metric, in the order the verdicts print them.
    pub const ALL: [Metric; 4] = [Metric::Goodput, Metric::P50, Metric::P99, Metric::CpuPerRequest];

    /// The name `--fail-if` and the verdicts use.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Goodput => "goodput",
            Metric::P50 => "p50",
            Metric::P99 => "p99",
            Metric::CpuPerRequest => "cpu_per_req",
        }
    }

    /// The metric named `name`.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Which way is better.
    pub fn better(self) -> Better {
        match self {
            Metric::Goodput => Better::Higher,
            Metric::P50 | Metric::P99 | Metric::CpuPerRequest => Better::Lower,
        }
    }

    /// The words for "more" and "less" of this figure.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Metric::Goodput => ("faster", "slower"),
            Metric::P50 | Metric::P99 => ("higher", "lower"),
            Metric::CpuPerRequest => ("costlier", "cheaper"),
        }
    }
}

/// How a change reads at 95 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval excludes no change, on the better side.
    Better,
    /// The interval excludes no change, on the worse side.
    Worse,
    /// The interval includes no change.
    NoDifference,
    /// One round (or one run) each: no interval, so no verdict.
    Unknown,
}

impl Verdict {
    /// The verdict on `change` of `metric`: a difference only when the interval excludes zero.
    pub fn of(metric: Metric, change: &Change) -> Verdict {
        if change.n < 2 {
            return Verdict::Unknown;
        }
        if !change.is_difference() {
            return Verdict::NoDifference;
        }
        let up = change.lo > 0.0;
        match (metric.better(), up) {
            (Better::Higher, true) | (Better::Lower, false) => Verdict::Better,
            _ => Verdict::Worse,
        }
    }
}

/// `goodput +4.3 % [+1.2, +7.5] — async faster`, `p99 −0.2 % [−1.0, +0.6] — no difference at
/// 95 %`, or `cpu_per_req −61.0 %` (no interval) for `who` against its base.
pub fn describe_change(metric: Metric, change: &Change, who: &str) -> String {
    let (more, less) = metric.words();
    let name = match metric {
        Metric::CpuPerRequest => "CPU per request",
        m => m.name(),
    };
    let tail = match Verdict::of(metric, change) {
        Verdict::NoDifference => " — no difference at 95 %".to_owned(),
        Verdict::Unknown => " (one round: no interval)".to_owned(),
        _ => format!(" — {who} {}", if change.lo > 0.0 { more } else { less }),
    };
    format!("{name} {}{tail}", change.describe())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn t_quantiles_match_the_tables() {
        assert_eq!(t975(1.0), 12.706);
        assert_eq!(t975(2.0), 4.303);
        assert_eq!(t975(4.7), 2.776, "fractional df round down");
        assert!((t975(60.0) - 2.000).abs() < 0.002);
        assert!((t975(120.0) - 1.980).abs() < 0.002);
        assert!(t975(0.5).is_infinite());
    }

    #[test]
    fn an_estimate_needs_two_rounds_and_is_centred_on_the_mean() {
        assert_eq!(Estimate::of(&[5.0]), None);
        assert_eq!(Estimate::of(&[5.0, f64::NAN]), None);
        let e = Estimate::of(&[9.0, 10.0, 11.0]).unwrap();
        assert_eq!((e.mean, e.n), (10.0, 3));
        // sd 1, n 3: half-width 4.303 / √3.
        assert!((e.hi - 10.0 - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert!((e.mean - e.lo - (e.hi - e.mean)).abs() < 1e-9);
        let same = Estimate::of(&[7.0, 7.0]).unwrap();
        assert_eq!((same.lo, same.hi), (7.0, 7.0));
        // Values that cannot be negative: the interval stops at zero, its top as it was.
        let wide = Estimate::of(&[100.0, 1100.0]).unwrap();
        assert_eq!(wide.lo, 0.0);
        assert!((wide.hi - 600.0 - 12.706 * 500.0).abs() < 1e-6, "{wide:?}");
        // Values that can: it goes below zero as far as the t interval reaches.
        let signed = Estimate::of(&[-1.0, 1.0]).unwrap();
        assert!((signed.lo + 12.706).abs() < 1e-9, "{signed:?}");
    }

    /// Of 200 simulated runs of 3 rounds each (normal noise of known spread), the 95 %
    /// interval covers the true mean in 90–99 % of them; the same check on the paired and the
    /// unpaired change, whose true value is known too.
    #[test]
    fn intervals_cover_the_true_value_about_95_percent_of_the_time() {
        let mut rng = SmallRng::seed_from_u64(2026);
        let noise = Normal::new(0.0, 1.0).unwrap();
        let mut draw = |mean: f64, sd: f64, k: usize| -> Vec<f64> {
            (0..k).map(|_| mean + sd * noise.sample(&mut rng)).collect()
        };
        let (mut est, mut paired, mut unpaired) = (0, 0, 0);
        for _ in 0..200 {
            let e = Estimate::of(&draw(100.0, 5.0, 3)).unwrap();
            est += usize::from(e.lo <= 100.0 && 100.0 <= e.hi);
            // new is 10 % above base; each round's drift (sd 0.05) hits both alike.
            let drift = draw(0.0, 0.05, 3);
            let (e1, e2) = (draw(0.0, 0.03, 3), draw(0.0, 0.03, 3));
            let base: Vec<f64> = (0..3).map(|i| (4.0 + drift[i] + e1[i]).exp()).collect();
            let new: Vec<f64> = (0..3)
                .map(|i| (4.0 + 1.1f64.ln() + drift[i] + e2[i]).exp())
                .collect();
            let p = Change::paired(&base, &new).unwrap();
            paired += usize::from(p.lo <= 0.1 + 1e-12 && 0.1 - 1e-12 <= p.hi);
            let a: Vec<f64> = draw(0.0, 0.04, 4).iter().map(|x| (5.0 + x).exp()).collect();
            let b: Vec<f64> = draw(0.0, 0.04, 5)
                .iter()
                .map(|x| (5.0 + 0.9f64.ln() + x).exp())
                .collect();
            let u = Change::unpaired(&a, &b).unwrap();
            unpaired += usize::from(u.lo <= -0.1 + 1e-12 && -0.1 - 1e-12 <= u.hi);
        }
        for (what, covered) in [("estimate", est), ("paired", paired), ("unpaired", unpaired)] {
            assert!(
                (180..=198).contains(&covered),
                "{what}: {covered} of 200 intervals cover the true value"
            );
        }
    }

    #[test]
    fn a_paired_change_cancels_drift_shared_by_a_round() {
        // The machine slowed both strategies alike in round 2: the ratio is 2 in every round.
        let base = [100.0, 50.0, 100.0];
        let new = [200.0, 100.0, 200.0];
        let c = Change::paired(&base, &new).unwrap();
        assert!((c.point - 1.0).abs() < 1e-12 && (c.lo - 1.0).abs() < 1e-12);
        assert!(c.is_difference());
        // Unpaired, the same values cannot tell.
        assert!(!Change::unpaired(&base, &new).unwrap().is_difference());
        assert_eq!(Change::paired(&base, &new[..2]), None, "counts differ");
        assert_eq!(Change::paired(&[1.0, 0.0], &[1.0, 1.0]), None, "no log of 0");
    }

    /// The verdict's rule at its bounds: an interval touching zero is no difference; only one
    /// wholly on a side is, and which side is better depends on the figure.
    #[test]
    fn verdicts_at_their_bounds() {
        let c = |lo: f64, hi: f64| Change {
            point: (lo + hi) / 2.0,
            lo,
            hi,
            n: if lo == hi { 1 } else { 3 },
        };
        assert_eq!(Verdict::of(Metric::Goodput, &c(0.0, 0.1)), Verdict::NoDifference);
        assert_eq!(Verdict::of(Metric::Goodput, &c(1e-9, 0.1)), Verdict::Better);
        assert_eq!(Verdict::of(Metric::Goodput, &c(-0.1, -1e-9)), Verdict::Worse);
        assert_eq!(Verdict::of(Metric::Goodput, &c(-0.1, 0.0)), Verdict::NoDifference);
        assert_eq!(Verdict::of(Metric::P99, &c(1e-9, 0.1)), Verdict::Worse);
        assert_eq!(
            Verdict::of(Metric::CpuPerRequest, &c(-0.64, -0.58)),
            Verdict::Better
        );
        assert_eq!(Verdict::of(Metric::P50, &c(0.2, 0.2)), Verdict::Unknown);
        assert_eq!(
            describe_change(Metric::CpuPerRequest, &c(-0.64, -0.58), "async"),
            "CPU per request −61.0 % [−64.0, −58.0] — async cheaper"
        );
        assert_eq!(
            describe_change(Metric::Goodput, &c(-0.021, 0.027), "async"),
            "goodput +0.3 % [−2.1, +2.7] — no difference at 95 %"
        );
        assert_eq!(
            describe_change(Metric::P99, &c(0.05, 0.05), "async"),
            "p99 +5.0 % (one round: no interval)"
        );
        assert_eq!(Metric::from_name("cpu_per_req"), Some(Metric::CpuPerRequest));
        assert_eq!(Metric::from_name("p95"), None);
    }
}
