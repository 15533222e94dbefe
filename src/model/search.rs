//! Capacity search and the knee, pure: the largest value of one setting that meets the limits,
//! found by bracketing (doubling from the start until a value breaks a limit) then bisection
//! between the last value that met them and the first that did not, to a stated resolution;
//! escalation stops early at over-saturation. And, on any sweep, the knee: the point past which
//! goodput stops growing. Tested on synthetic response curves; `commands::sweep` measures.

use serde::{Deserialize, Serialize};

/// Goodput growth per doubling of the setting under which escalation counts as flat: 10 %, the
/// automatic sweep's saturation rule, as an elasticity (ln 1.1 ÷ ln 2).
pub const FLAT_ELASTICITY: f64 = 0.137_503_523_749_934_9;

/// The setting `sweep --find` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindSetting {
    /// Requests in flight (threads for the blocking strategies).
    Concurrency,
    /// Open-loop requests per second.
    Rate,
    /// Requests per batch (batched).
    BatchSize,
}

impl FindSetting {
    /// As `--find` names it.
    pub fn name(self) -> &'static str {
        match self {
            FindSetting::Concurrency => "concurrency",
            FindSetting::Rate => "rate",
            FindSetting::BatchSize => "batch-size",
        }
    }
}

/// `--find SETTING=LO..HI`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Find {
    /// The setting.
    pub setting: FindSetting,
    /// The range's start, measured first.
    pub from: f64,
    /// Its top.
    pub to: f64,
}

/// One strategy's search: how it ended, in words, the knee, and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    /// The strategy.
    pub strategy: crate::model::strategy::Strategy,
    /// How it ended.
    pub end: SearchEnd,
    /// The answer in words: the value, its figures, the first value that broke a limit and
    /// which.
    pub reason: String,
    /// Where escalation stopped early, and why.
    pub stopped_escalating: Option<String>,
    /// Points measured.
    pub points: usize,
    /// Requests sent.
    pub requests: u64,
    /// Points a fixed sweep at the same resolution over the same range needs.
    pub grid_points: usize,
}

impl SearchResult {
    /// What it took, against a fixed sweep as fine, and where escalation stopped, in words.
    pub fn cost(&self) -> String {
        format!(
            "{} points, {} requests (a fixed sweep as fine over the range: {} points){}",
            self.points,
            self.requests,
            self.grid_points,
            self.stopped_escalating
                .as_ref()
                .map_or(String::new(), |w| format!("; {w}"))
        )
    }
}

/// Where a sweep's goodput stops growing, for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knee {
    /// The strategy.
    pub strategy: crate::model::strategy::Strategy,
    /// The setting at the knee.
    pub setting: f64,
    /// The step past it, in numbers.
    pub why: String,
}

/// Where a search is: the values measured and which met the limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    from: f64,
    to: f64,
    /// Relative: stop once the first failing value is within this share above the last pass.
    resolution: f64,
    /// Whole values (concurrency, batch size).
    whole: bool,
    pass: Option<f64>,
    fail: Option<f64>,
    /// Escalation stopped here: over-saturated with no limit broken.
    saturated: Option<f64>,
}

/// How a search ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchEnd {
    /// The largest value that met the limits, and the first above it that did not.
    Found {
        /// Met every limit.
        value: f64,
        /// Broke one, within the resolution above `value`.
        broke_at: f64,
    },
    /// Every value up to the top of the range met the limits.
    AllMet {
        /// The range's top.
        value: f64,
    },
    /// Escalation stopped at over-saturation before any limit broke.
    Saturated {
        /// The largest value measured (it met the limits).
        value: f64,
    },
    /// The range's start already broke a limit.
    NoneMet {
        /// The start.
        broke_at: f64,
    },
    /// The budget ran out first: the answer lies between these.
    Budget {
        /// The largest value that met the limits, if any did.
        value: Option<f64>,
        /// The smallest that broke one, if any did.
        broke_at: Option<f64>,
    },
}

impl Search {
    /// A search over `from..=to` (both > 0, `from ≤ to`) to `resolution` (a share, e.g. 0.05).
    pub fn new(from: f64, to: f64, resolution: f64, whole: bool) -> Search {
        Search {
            from,
            to: to.max(from),
            resolution: resolution.max(1e-6),
            whole,
            pass: None,
            fail: None,
            saturated: None,
        }
    }

    /// The next value to measure, or `None` when the search has its answer.
    pub fn next(&self) -> Option<f64> {
        match (self.pass, self.fail) {
            (None, None) => Some(self.from),
            (None, Some(_)) => None,
            (Some(p), None) => {
                if p >= self.to || self.saturated.is_some() {
                    return None;
                }
                let up = (p * 2.0).min(self.to);
                Some(if self.whole { up.round().max(p + 1.0) } else { up })
            }
            (Some(p), Some(f)) => {
                if f - p <= self.resolution * p || (self.whole && f - p <= 1.0) {
                    return None;
                }
                let mid = (p + f) / 2.0;
                // Rates to the hundredth; a midpoint that rounds onto an end is no new value.
                let mid = if self.whole {
                    mid.floor()
                } else {
                    (mid * 100.0).round() / 100.0
                };
                (mid > p && mid < f).then_some(mid)
            }
        }
    }

    /// Records a measured value and whether it met every limit. A value that met them above
    /// one that did not (noise) narrows nothing: the failing value stays the bound.
    pub fn observe(&mut self, value: f64, met: bool) {
        if met {
            if self.fail.is_none_or(|f| value < f) {
                self.pass = Some(self.pass.map_or(value, |p| p.max(value)));
            }
        } else {
            self.fail = Some(self.fail.map_or(value, |f| f.min(value)));
            if self.pass.is_some_and(|p| p >= value) {
                self.pass = None;
            }
        }
    }

    /// Stops escalating: the last value met the limits but the target is over-saturated there.
    pub fn stop_escalating(&mut self, at: f64) {
        if self.fail.is_none() {
            self.saturated = Some(at);
        }
    }

    /// Whether the search is still doubling (no limit broken yet).
    pub fn bracketing(&self) -> bool {
        self.fail.is_none()
    }

    /// The answer so far; `out_of_budget` when the search stopped before `next()` said done.
    pub fn end(&self, out_of_budget: bool) -> SearchEnd {
        if out_of_budget && self.next().is_some() {
            return SearchEnd::Budget {
                value: self.pass,
                broke_at: self.fail,
            };
        }
        match (self.pass, self.fail) {
            (Some(value), Some(broke_at)) => SearchEnd::Found { value, broke_at },
            (Some(value), None) if self.saturated.is_some() && value < self.to => {
                SearchEnd::Saturated { value }
            }
            (Some(value), None) => SearchEnd::AllMet { value },
            (None, _) => SearchEnd::NoneMet {
                broke_at: self.fail.unwrap_or(self.from),
            },
        }
    }
}

/// One measured point of a curve: the setting, goodput, p50 latency (ms) and 429 share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// The setting.
    pub setting: f64,
    /// Goodput (what is ranked: with an SLO, the good requests' rate).
    pub goodput: f64,
    /// p50 latency, ms.
    pub p50_ms: Option<f64>,
    /// Share of attempts answered 429.
    pub share_429: f64,
}

/// Growth of `y` per doubling of the setting, as an elasticity (1: proportional).
fn elasticity(x0: f64, y0: f64, x1: f64, y1: f64) -> Option<f64> {
    (x0 > 0.0 && y0 > 0.0 && y1 > 0.0 && x1 > x0).then(|| (y1 / y0).ln() / (x1 / x0).ln())
}

/// The knee: the smallest setting whose goodput is within 5 % of the most any larger setting
/// reached, once a setting at least 1.3 × larger shows the plateau (so bisection's close points
/// and noise on the plateau do not move it); with what the rest of the range added, in words.
/// `None` while goodput still grows at the last point, or with fewer than three points.
pub fn knee(points: &[CurvePoint]) -> Option<(f64, String)> {
    let mut v: Vec<CurvePoint> = points.to_vec();
    v.sort_by(|a, b| a.setting.total_cmp(&b.setting));
    if v.len() < 3 {
        return None;
    }
    for (i, k) in v.iter().enumerate() {
        let rest = &v[i + 1..];
        let Some(best) = rest.iter().max_by(|a, b| a.goodput.total_cmp(&b.goodput)) else {
            break;
        };
        let far = rest.iter().any(|p| p.setting >= 1.3 * k.setting);
        if k.goodput > 0.0 && far && k.goodput >= 0.95 * best.goodput {
            let last = v[v.len() - 1];
            let latency = match (k.p50_ms, last.p50_ms) {
                (Some(x), Some(y)) if x > 0.0 => format!(", p50 {:+.0} %", 100.0 * (y / x - 1.0)),
                _ => String::new(),
            };
            let grew = 100.0 * (best.goodput / k.goodput - 1.0);
            return Some((
                k.setting,
                format!("up to {}: goodput at most {grew:+.1} %{latency}", last.setting),
            ));
        }
    }
    None
}

/// Every strategy's knee over a sweep's points.
pub fn knees(points: &[crate::model::sweep::SweepPoint]) -> Vec<Knee> {
    let mut strategies: Vec<crate::model::strategy::Strategy> = Vec::new();
    for r in points.iter().flat_map(|p| &p.results) {
        if !strategies.contains(&r.strategy) {
            strategies.push(r.strategy);
        }
    }
    strategies
        .into_iter()
        .filter_map(|s| {
            let curve: Vec<CurvePoint> = points
                .iter()
                .filter(|p| p.complete)
                .filter_map(|p| {
                    p.results
                        .iter()
                        .find(|r| r.strategy == s)
                        .map(|r| CurvePoint::of(p.setting, r))
                })
                .collect();
            knee(&curve).map(|(setting, why)| Knee {
                strategy: s,
                setting,
                why,
            })
        })
        .collect()
}

impl CurvePoint {
    /// A sweep point's figures for one strategy.
    pub fn of(setting: f64, r: &crate::model::sweep::PointResult) -> CurvePoint {
        CurvePoint {
            setting,
            goodput: r.ranked_goodput(),
            p50_ms: r.p50_ms,
            share_429: r.share_429,
        }
    }
}

/// Over-saturated at `b` coming from `a`: goodput grew less than 10 % per doubling while p50
/// grew over 40 % per doubling or the 429 share rose by a point or more. What it saw, if so.
pub fn over_saturated(a: &CurvePoint, b: &CurvePoint) -> Option<String> {
    let flat = elasticity(a.setting, a.goodput, b.setting, b.goodput).is_none_or(|e| e < FLAT_ELASTICITY);
    if !flat || b.setting <= a.setting {
        return None;
    }
    let grew = if a.goodput > 0.0 {
        format!("{:+.1} %", 100.0 * (b.goodput / a.goodput - 1.0))
    } else {
        "none".into()
    };
    let latency = match (a.p50_ms, b.p50_ms) {
        (Some(x), Some(y)) => elasticity(a.setting, x, b.setting, y)
            .filter(|e| *e > 0.5)
            .map(|_| format!("p50 {:+.0} %", 100.0 * (y / x - 1.0))),
        _ => None,
    };
    let rejected = (b.share_429 - a.share_429 >= 0.01)
        .then(|| format!("429s {:.1} % → {:.1} %", 100.0 * a.share_429, 100.0 * b.share_429));
    let why: Vec<String> = latency.into_iter().chain(rejected).collect();
    (!why.is_empty()).then(|| {
        format!(
            "over-saturated at {}: goodput {grew} from {} while {}",
            b.setting,
            a.setting,
            why.join(" and ")
        )
    })
}

/// Values on a grid from `from` to `to` at `resolution` steps (each `1 + resolution` × the one
/// before, at least one apart for whole values): what a fixed sweep needs to answer as finely.
pub fn grid_points(from: f64, to: f64, resolution: f64, whole: bool) -> usize {
    let mut n = 1;
    let mut v = from;
    while v < to {
        let next = v * (1.0 + resolution);
        v = if whole { next.max(v + 1.0).floor() } else { next };
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search on a curve that meets the limits up to `capacity`.
    fn run(from: f64, to: f64, res: f64, whole: bool, capacity: f64) -> (SearchEnd, Vec<f64>) {
        let mut s = Search::new(from, to, res, whole);
        let mut seen = Vec::new();
        while let Some(v) = s.next() {
            assert!(seen.len() < 100, "the search does not end: {seen:?}");
            seen.push(v);
            s.observe(v, v <= capacity);
        }
        (s.end(false), seen)
    }

    /// On a step curve, the search lands within one resolution step below the true capacity,
    /// for whole and continuous settings, capacities at and between powers of two.
    #[test]
    fn lands_within_one_resolution_step_of_the_capacity() {
        for capacity in [1.0, 2.0, 3.0, 20.0, 64.0, 100.0, 181.0, 1000.0] {
            let (end, seen) = run(1.0, 4096.0, 0.05, true, capacity);
            let SearchEnd::Found { value, broke_at } = end else {
                panic!("capacity {capacity}: {end:?} after {seen:?}");
            };
            assert!(
                value <= capacity && broke_at > capacity,
                "{capacity}: {value}..{broke_at}"
            );
            assert!(
                broke_at - value <= (0.05 * value).max(1.0),
                "{capacity}: bracket {value}..{broke_at} wider than the resolution"
            );
            assert!(value >= capacity / 1.05 - 1.0, "{capacity}: landed at {value}");
        }
        let (end, _) = run(1.0, 1000.0, 0.02, false, 123.4);
        let SearchEnd::Found { value, broke_at } = end else {
            panic!("{end:?}")
        };
        assert!(value <= 123.4 && broke_at > 123.4 && broke_at - value <= 0.02 * value);
    }

    /// It measures far fewer points than a grid at the same resolution: at most half, and no
    /// value twice.
    #[test]
    fn needs_at_most_half_the_points_of_a_grid() {
        for capacity in [5.0, 20.0, 48.0, 180.0] {
            let (_, seen) = run(1.0, 512.0, 0.05, true, capacity);
            let grid = grid_points(1.0, 512.0, 0.05, true);
            assert!(
                2 * seen.len() <= grid,
                "{capacity}: {} points, grid {grid}",
                seen.len()
            );
            let mut d = seen.clone();
            d.sort_by(f64::total_cmp);
            d.dedup();
            assert_eq!(d.len(), seen.len(), "a value measured twice: {seen:?}");
        }
    }

    /// The ends: every value meets the limits (up to the range's top, which is measured), the
    /// start already breaks one, escalation stopped at over-saturation, and a budget cut.
    #[test]
    fn says_how_it_ended() {
        let (end, seen) = run(1.0, 100.0, 0.05, true, 1e9);
        assert_eq!(end, SearchEnd::AllMet { value: 100.0 });
        assert_eq!(seen.last(), Some(&100.0));
        let (end, seen) = run(4.0, 100.0, 0.05, true, 2.0);
        assert_eq!(end, SearchEnd::NoneMet { broke_at: 4.0 });
        assert_eq!(seen, [4.0]);
        let mut s = Search::new(1.0, 100.0, 0.05, true);
        s.observe(1.0, true);
        s.observe(2.0, true);
        s.stop_escalating(2.0);
        assert_eq!(s.next(), None);
        assert_eq!(s.end(false), SearchEnd::Saturated { value: 2.0 });
        let mut s = Search::new(1.0, 100.0, 0.05, true);
        s.observe(1.0, true);
        s.observe(2.0, false);
        assert_eq!(
            s.end(false),
            SearchEnd::Found {
                value: 1.0,
                broke_at: 2.0
            }
        );
        let mut s = Search::new(1.0, 100.0, 0.05, true);
        s.observe(8.0, true);
        s.observe(16.0, false);
        assert_eq!(
            s.end(true),
            SearchEnd::Budget {
                value: Some(8.0),
                broke_at: Some(16.0)
            }
        );
    }

    /// A noisy pass above a failure does not move the answer above the failure; a failure at
    /// or below the last pass makes the search start over below it.
    #[test]
    fn noise_never_puts_the_answer_above_a_failure() {
        let mut s = Search::new(1.0, 100.0, 0.05, true);
        s.observe(8.0, true);
        s.observe(16.0, false);
        s.observe(20.0, true);
        assert_eq!(
            s.end(false),
            SearchEnd::Found {
                value: 8.0,
                broke_at: 16.0
            }
        );
        s.observe(6.0, false);
        assert_eq!(s.next(), None);
        assert_eq!(s.end(false), SearchEnd::NoneMet { broke_at: 6.0 });
    }

    fn curve(f: impl Fn(f64) -> (f64, f64, f64)) -> Vec<CurvePoint> {
        [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
            .into_iter()
            .map(|c| {
                let (goodput, p50, share) = f(c);
                CurvePoint {
                    setting: c,
                    goodput,
                    p50_ms: Some(p50),
                    share_429: share,
                }
            })
            .collect()
    }

    /// The knee on three shapes, where a reader of the chart would put it: a rate limit of
    /// 200/s at 100 ms (32, the first point at the limit), a client that runs out of CPU
    /// at 500/s (the first point on the plateau: 64), and a server of 32 slots whose latency
    /// climbs past them (32). None while goodput still grows.
    #[test]
    fn the_knee_is_where_a_reader_puts_it() {
        let rate_limit = curve(|c| {
            (
                (c * 10.0).min(200.0),
                100.0,
                if c > 20.0 { 1.0 - 20.0 / c } else { 0.0 },
            )
        });
        assert_eq!(knee(&rate_limit).map(|k| k.0), Some(32.0));
        // A client that runs out of CPU at 500/s: flat past 50 in flight, latency climbing.
        let cpu = curve(|c| ((c * 10.0).min(500.0), 100.0 * (c * 10.0 / 500.0).max(1.0), 0.0));
        assert_eq!(knee(&cpu).map(|k| k.0), Some(64.0));
        let slots = curve(|c| (c.min(32.0) * 10.0, 100.0 * (c / 32.0).max(1.0), 0.0));
        assert_eq!(knee(&slots).map(|k| k.0), Some(32.0));
        // A search's points: dense near the limit, noisy on the plateau (measured: 20 in flight
        // at 200/s, 21 a dip from its 429s).
        let dense: Vec<CurvePoint> = [
            (16.0, 156.4),
            (20.0, 197.9),
            (21.0, 177.7),
            (22.0, 196.2),
            (24.0, 197.1),
            (32.0, 194.1),
        ]
        .into_iter()
        .map(|(setting, goodput)| CurvePoint {
            setting,
            goodput,
            p50_ms: Some(100.0),
            share_429: 0.0,
        })
        .collect();
        assert_eq!(knee(&dense).map(|k| k.0), Some(20.0));
        let growing = curve(|c| (c * 10.0, 100.0, 0.0));
        assert_eq!(knee(&growing), None);
    }

    /// Over-saturation needs flat goodput and a cost: latency climbing or 429s rising.
    #[test]
    fn over_saturation_needs_flat_goodput_and_a_cost() {
        let p = |setting, goodput, p50, share_429| CurvePoint {
            setting,
            goodput,
            p50_ms: Some(p50),
            share_429,
        };
        assert!(over_saturated(&p(32.0, 320.0, 100.0, 0.0), &p(64.0, 325.0, 200.0, 0.0)).is_some());
        assert!(over_saturated(&p(32.0, 320.0, 100.0, 0.0), &p(64.0, 325.0, 101.0, 0.05)).is_some());
        assert!(over_saturated(&p(32.0, 320.0, 100.0, 0.0), &p(64.0, 325.0, 101.0, 0.0)).is_none());
        assert!(over_saturated(&p(32.0, 320.0, 100.0, 0.0), &p(64.0, 600.0, 200.0, 0.0)).is_none());
    }

    /// A grid at 5 % from 1 to 512 in whole values: every value up to 20, then 5 % steps.
    #[test]
    fn a_grid_counts_its_points() {
        assert_eq!(grid_points(1.0, 4.0, 0.05, true), 4);
        assert_eq!(grid_points(100.0, 110.25, 0.05, false), 3);
    }
}
