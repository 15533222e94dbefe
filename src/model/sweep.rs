//! The sweep model: one setting (concurrency, batch size, pause or rate) varied over a list, a
//! [`PointResult`] per strategy and point, and the recommendation: among the settings whose p99
//! meets the SLO and whose share of 429 answers is under the cap, the smallest within 5 % of the
//! best goodput. Pure, so the rule is tested without running anything; `commands::sweep` runs the
//! points and `report::sweep` prints and draws them.

use std::time::Duration;

use mock_server::latency::format_duration;
use serde::{Deserialize, Serialize};

use crate::model::outcome::Outcome;
use crate::model::report::{ConfigSummary, Provenance, StrategyReport};
use crate::model::strategy::Strategy;

/// Goodput within this fraction of the best counts as "as good".
pub const NEAR_BEST: f64 = 0.95;

/// What a sweep varies: a given list, or points it finds itself after probing.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The list given.
    Fixed(Axis),
    /// `--concurrency auto`: double the concurrency until goodput stops growing (the
    /// saturation point), then sweep powers of two up to it and one past it.
    AutoConcurrency,
    /// `--rate auto`: measure the rate of one request at a time and the closed-loop throughput at
    /// `-c`, then sweep evenly spaced rates between them (GuideLLM's sweep).
    AutoRate,
}

impl Plan {
    /// The setting's name.
    pub fn name(&self) -> &'static str {
        match self {
            Plan::Fixed(a) => a.name(),
            Plan::AutoConcurrency => "concurrency",
            Plan::AutoRate => "rate",
        }
    }
}

/// How an automatic sweep chose its points: what it measured while probing, and the saturation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoProbe {
    /// The strategy whose probes set the points: for concurrency, the one that saturated last
    /// (every strategy is probed); for rates, the first of `--strategies`.
    pub strategy: Strategy,
    /// Each probe: (setting, goodput ok/s). For rates: concurrency 1, then `-c`.
    pub probes: Vec<(f64, f64)>,
    /// The saturation point: the concurrency past which goodput grew less than 10 %, or the
    /// closed-loop throughput (requests/s).
    pub saturation: f64,
    /// In words.
    pub note: String,
}

/// Rates for an automatic rate sweep: `k` evenly spaced from `lo` to `hi`, both included.
pub fn rate_points(lo: f64, hi: f64, k: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) || k < 2 {
        return vec![(lo.max(hi) * 100.0).round() / 100.0];
    }
    (0..k)
        .map(|i| lo + (hi - lo) * i as f64 / (k - 1) as f64)
        .map(|r| (r * 100.0).round() / 100.0)
        .collect()
}

/// Concurrencies for an automatic concurrency sweep: powers of two up to the saturation point,
/// the point itself, and one doubling past it (to show the plateau).
pub fn concurrency_points(saturation: u64) -> Vec<u64> {
    let sat = saturation.max(1);
    let mut v: Vec<u64> = std::iter::successors(Some(1u64), |c| c.checked_mul(2))
        .take_while(|c| *c < sat)
        .collect();
    v.push(sat);
    v.push(sat.saturating_mul(2));
    v.dedup();
    v
}

/// The saturation point of a doubling probe: the last concurrency whose goodput was at least
/// 10 % above the one before (the first, if none was).
pub fn saturation(probes: &[(f64, f64)]) -> f64 {
    let mut sat = probes.first().map_or(1.0, |p| p.0);
    for w in probes.windows(2) {
        if w[1].1 >= 1.10 * w[0].1 {
            sat = w[1].0;
        } else {
            break;
        }
    }
    sat
}

/// The setting a sweep varies, with its values.
#[derive(Debug, Clone, PartialEq)]
pub enum Axis {
    /// `--concurrency` (threads or requests in flight).
    Concurrency(Vec<u64>),
    /// `--batch-size` (batched).
    BatchSize(Vec<u64>),
    /// `--pause` between batches.
    Pause(Vec<Duration>),
    /// `--rate`, open-loop requests per second.
    Rate(Vec<f64>),
    /// `--cpu-work` per successful response (0 = none): a property of the workload, not a
    /// setting to choose, so its verdict is per point (which strategy to use at that much work).
    CpuWork(Vec<Duration>),
}

impl Axis {
    /// The flag's name, used in tables, charts and file names.
    pub fn name(&self) -> &'static str {
        match self {
            Axis::Concurrency(_) => "concurrency",
            Axis::BatchSize(_) => "batch_size",
            Axis::Pause(_) => "pause",
            Axis::Rate(_) => "rate",
            Axis::CpuWork(_) => "cpu_work",
        }
    }

    /// The axis label with its unit.
    pub fn label(&self) -> &'static str {
        match self {
            Axis::Concurrency(_) => "concurrency (requests in flight)",
            Axis::BatchSize(_) => "batch size (requests)",
            Axis::Pause(_) => "pause between batches (s)",
            Axis::Rate(_) => "offered rate (requests/s)",
            Axis::CpuWork(_) => "CPU work per response (ms)",
        }
    }

    /// The values as numbers (pauses in seconds, CPU work in milliseconds).
    pub fn values(&self) -> Vec<f64> {
        match self {
            Axis::Concurrency(v) | Axis::BatchSize(v) => v.iter().map(|x| *x as f64).collect(),
            Axis::Pause(v) => v.iter().map(Duration::as_secs_f64).collect(),
            Axis::Rate(v) => v.clone(),
            Axis::CpuWork(v) => v.iter().map(|d| d.as_secs_f64() * 1e3).collect(),
        }
    }
}

/// A setting as people write it: `C=8`, `B=20`, `pause=10ms`, `rate=20/s`.
pub fn fmt_setting(axis: &str, v: f64) -> String {
    match axis {
        "concurrency" => format!("C={v}"),
        "batch_size" => format!("B={v}"),
        "pause" => format!("pause={}", fmt_value(axis, v)),
        "cpu_work" => format!("cpu={}", fmt_value(axis, v)),
        _ => format!("rate={v}/s"),
    }
}

/// A setting's value alone, pauses as durations (`10ms`, not `0.01`).
pub fn fmt_value(axis: &str, v: f64) -> String {
    match axis {
        "pause" => Duration::try_from_secs_f64(v).map_or(v.to_string(), format_duration),
        "cpu_work" => Duration::try_from_secs_f64(v / 1e3).map_or(v.to_string(), format_duration),
        _ => v.to_string(),
    }
}

/// One strategy at one point, in a few numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The strategy.
    pub strategy: Strategy,
    /// Successful requests per second.
    pub goodput_rps: f64,
    /// With `--slo`: requests per second that met every limit (what the recommendation uses).
    pub slo_goodput_rps: Option<f64>,
    /// Requests per second, any outcome.
    pub throughput_rps: f64,
    /// p99 of successful requests' end-to-end latency, ms (`null`: none succeeded).
    pub p99_ms: Option<f64>,
    /// p50 of the same, ms.
    pub p50_ms: Option<f64>,
    /// Share of attempts answered 429.
    pub share_429: f64,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Requests issued that did not end `ok`.
    pub failed: u64,
    /// Every request accounted for and agreed by the mock.
    pub accounted_ok: bool,
    /// Streaming: p50 and p99 time to first token, ms.
    pub ttft_ms: Option<(f64, f64)>,
    /// Streaming: p50 and p99 inter-token latency, ms.
    pub itl_ms: Option<(f64, f64)>,
    /// Client CPU time per request finished, ms.
    #[serde(default)]
    pub cpu_ms_per_request: Option<f64>,
}

impl PointResult {
    /// What recommendations rank by: with `--slo` the rate of requests that met it, without
    /// every success.
    pub fn ranked_goodput(&self) -> f64 {
        self.slo_goodput_rps.unwrap_or(self.goodput_rps)
    }

    /// The few numbers of a strategy's report.
    pub fn of(s: &StrategyReport) -> PointResult {
        PointResult {
            strategy: s.id,
            goodput_rps: s.goodput_rps,
            slo_goodput_rps: s.slo_goodput_rps,
            throughput_rps: s.throughput_rps,
            p99_ms: s.latency_ms.map(|p| p.p99),
            p50_ms: s.latency_ms.map(|p| p.p50),
            share_429: s.share_429(),
            retries: s.retries,
            failed: s.issued - s.count(Outcome::Ok),
            accounted_ok: s.accounted_ok && s.server.as_ref().is_none_or(|c| c.matches),
            ttft_ms: s.ttft_ms.map(|p| (p.p50, p.p99)),
            itl_ms: s.itl_ms.map(|p| (p.p50, p.p99)),
            cpu_ms_per_request: {
                let finished = s.issued - s.count(Outcome::Cancelled);
                (finished > 0).then(|| s.cpu_s * 1e3 / finished as f64)
            },
        }
    }
}

/// One setting and every strategy's result there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The setting's value (pauses in seconds).
    pub setting: f64,
    /// One entry per strategy that ran.
    pub results: Vec<PointResult>,
    /// False when the point was cut short (a signal, or the target died).
    pub complete: bool,
}

/// The recommendation for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The strategy.
    pub strategy: Strategy,
    /// The recommended setting, when one qualifies.
    pub setting: Option<f64>,
    /// Its goodput.
    pub goodput_rps: Option<f64>,
    /// Why (or why nothing qualifies).
    pub reason: String,
}

/// `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Tool, build commit, machine, start and end.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// The setting varied.
    pub axis: String,
    /// Its label with unit.
    pub axis_label: String,
    /// The SLO on p99, ms.
    pub slo_p99_ms: Option<f64>,
    /// The cap on the share of 429 answers.
    pub max_429_share: f64,
    /// The base configuration (the swept field holds the first value).
    pub config: ConfigSummary,
    /// Every point that ran, in the order given.
    pub points: Vec<SweepPoint>,
    /// One per strategy.
    pub recommendations: Vec<Recommendation>,
    /// How an automatic sweep chose its points (`--concurrency auto`, `--rate auto`).
    pub auto: Option<AutoProbe>,
    /// The strategy and setting with the best recommended goodput.
    pub best: Option<Recommendation>,
    /// A `--cpu-work` sweep: at each point, the strategy to use (`setting` is the point).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_point: Vec<Recommendation>,
    /// False when the sweep was cut short; the points that ran are kept.
    pub complete: bool,
    /// Why it was cut short.
    pub incomplete_reason: Option<String>,
}

/// What qualifies a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criteria {
    /// p99 must be at most this, ms.
    pub slo_p99_ms: Option<f64>,
    /// Share of attempts answered 429 must be below this.
    pub max_429_share: f64,
}

impl Criteria {
    /// p99 within the SLO (always, without one; never, with one and no p99).
    pub fn meets_slo(&self, r: &PointResult) -> bool {
        match (self.slo_p99_ms, r.p99_ms) {
            (None, _) => true,
            (Some(slo), Some(p99)) => p99 <= slo,
            (Some(_), None) => false,
        }
    }

    /// 429 share under the cap.
    pub fn under_cap(&self, r: &PointResult) -> bool {
        r.share_429 < self.max_429_share
    }

    /// Whether a result may be recommended: within the SLO and the cap, its books balanced,
    /// and some goodput to rank.
    pub fn qualifies(&self, r: &PointResult) -> bool {
        self.meets_slo(r) && self.under_cap(r) && r.accounted_ok && r.ranked_goodput() > 0.0
    }
}

/// The recommendation for one strategy over the points: pure, so it is tested without running.
///
/// Points that break a limit (p99 over the SLO, 429 share at or over the cap, or failed
/// accounting) are out; among the rest, the best goodput sets the bar, and the smallest setting
/// within 5 % of it wins. Goodput bought by breaking the 429 cap is not a goal. When the best
/// goodput sits at the largest value tried, or the choice at the smallest, the reason says the
/// list may be too short.
pub fn recommend(axis: &str, strategy: Strategy, points: &[SweepPoint], c: Criteria) -> Recommendation {
    recommend_for(axis, strategy, points, c, Chosen::Listed)
}

/// Who chose a sweep's points, which decides what a reason may suggest at their edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The user's list, which they can extend.
    Listed,
    /// The sweep's own (`--concurrency auto`, `--rate auto`).
    Automatic,
}

/// [`recommend`] over points chosen as `chosen` says.
pub fn recommend_for(
    axis: &str,
    strategy: Strategy,
    points: &[SweepPoint],
    c: Criteria,
    chosen: Chosen,
) -> Recommendation {
    let mut r = recommend_complete(axis, strategy, points, c, chosen);
    if let Some(p) = points.iter().find(|p| !p.complete)
        && !r.reason.starts_with("no complete point")
    {
        r.reason.push_str(&format!(
            " ({} was cut short and is left out)",
            fmt_setting(axis, p.setting)
        ));
    }
    r
}

/// [`recommend`] over the complete points.
fn recommend_complete(
    axis: &str,
    strategy: Strategy,
    points: &[SweepPoint],
    c: Criteria,
    chosen: Chosen,
) -> Recommendation {
    // A point a signal or a dying target cut short measured part of its requests: no verdict
    // rests on it.
    let mut rows: Vec<(f64, &PointResult)> = points
        .iter()
        .filter(|p| p.complete)
        .filter_map(|p| {
            p.results
                .iter()
                .find(|r| r.strategy == strategy)
                .map(|r| (p.setting, r))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let none = |reason: String| Recommendation {
        strategy,
        setting: None,
        goodput_rps: None,
        reason,
    };
    if rows.is_empty() {
        return none(match points.iter().find(|p| !p.complete) {
            Some(p) => format!(
                "no complete point: the sweep ended early at {}",
                fmt_setting(axis, p.setting)
            ),
            None => "no point measured this strategy".to_owned(),
        });
    }
    let meets_slo = |r: &PointResult| c.meets_slo(r);
    let under_cap = |r: &PointResult| c.under_cap(r);
    let g = PointResult::ranked_goodput;
    let unit = if rows.iter().any(|(_, r)| r.slo_goodput_rps.is_some()) {
        "good/s (met the SLO)"
    } else {
        "ok/s"
    };
    let qualifies = |r: &PointResult| c.qualifies(r);
    let ok: Vec<&(f64, &PointResult)> = rows.iter().filter(|(_, r)| qualifies(r)).collect();
    let Some(best) = ok.iter().map(|(_, r)| g(r)).reduce(f64::max) else {
        let why = rows
            .iter()
            .map(|(s, r)| {
                let mut w = Vec::new();
                if g(r) <= 0.0 {
                    w.push(if r.slo_goodput_rps.is_some() && r.goodput_rps > 0.0 {
                        "no request met the SLO".to_owned()
                    } else {
                        "no successful request".to_owned()
                    });
                }
                if let (false, Some(p99)) = (meets_slo(r), r.p99_ms) {
                    w.push(format!("p99 {p99:.0} ms"));
                }
                if !under_cap(r) {
                    w.push(format!("{:.1} % 429s", 100.0 * r.share_429));
                }
                if !r.accounted_ok {
                    w.push("accounting failed".into());
                }
                if w.is_empty() {
                    w.push("breaks a limit".into());
                }
                format!("{} ({})", fmt_setting(axis, *s), w.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return none(format!("no setting meets the limits: {why}"));
    };
    let (setting, r) = ok
        .iter()
        .find(|(_, r)| g(r) >= NEAR_BEST * best)
        .copied()
        .copied()
        .unwrap_or((ok[0].0, ok[0].1));
    let slo = match (c.slo_p99_ms, r.p99_ms) {
        (Some(s), Some(p99)) => format!("p99 {p99:.0} ms ≤ {s:.0} ms SLO"),
        _ => "no p99 SLO set".to_owned(),
    };
    let beyond = rows
        .iter()
        .filter(|(_, x)| !qualifies(x) && g(x) > best)
        .map(|(s, x)| {
            format!(
                "{} gives {:.1} {unit} but breaks a limit",
                fmt_setting(axis, *s),
                g(x)
            )
        })
        .collect::<Vec<_>>();
    let (lo, hi) = (rows[0].0, rows[rows.len() - 1].0);
    let best_at = ok
        .iter()
        .filter(|(_, x)| g(x) == best)
        .map(|(s, _)| *s)
        .next_back();
    let further = match chosen {
        Chosen::Listed => "extend the list",
        Chosen::Automatic => "past the automatic points: sweep a list that goes further",
    };
    let mut edges = Vec::new();
    if rows.len() > 1 && best_at == Some(hi) {
        edges.push(format!(
            "the best goodput is at the largest value tried ({}): it may grow further ({further})",
            fmt_setting(axis, hi)
        ));
    }
    // Nothing is smaller than one in flight, one per batch, or no pause.
    let floor = match axis {
        "concurrency" | "batch_size" => lo <= 1.0,
        "pause" => lo <= 0.0,
        _ => false,
    };
    if rows.len() > 1 && setting == lo && !floor {
        edges.push(format!(
            "{} is the smallest value tried: a smaller one may do as well ({further})",
            fmt_setting(axis, lo)
        ));
    }
    let extra: Vec<String> = beyond.into_iter().chain(edges).collect();
    Recommendation {
        strategy,
        setting: Some(setting),
        goodput_rps: Some(g(r)),
        reason: format!(
            "{}: {:.1} {unit}, within 5 % of the best {:.1} that meets the limits; {slo}; {:.1} % of attempts got 429 (< {:.1} %){}",
            fmt_setting(axis, setting),
            g(r),
            best,
            100.0 * r.share_429,
            100.0 * c.max_429_share,
            if extra.is_empty() {
                String::new()
            } else {
                format!("; {}", extra.join("; "))
            }
        ),
    }
}

/// A `--cpu-work` sweep's verdict at one point: among the strategies that meet the limits and
/// come within 5 % of the best goodput, the one with the lowest p99; every other strategy's
/// goodput as a share of the best.
pub fn best_strategy(axis: &str, point: &SweepPoint, c: Criteria) -> Recommendation {
    let qualifies = |r: &PointResult| c.qualifies(r);
    let g = PointResult::ranked_goodput;
    let at = fmt_setting(axis, point.setting);
    let Some(top) = point
        .results
        .iter()
        .filter(|r| qualifies(r))
        .map(g)
        .reduce(f64::max)
    else {
        return Recommendation {
            strategy: point.results.first().map_or(Strategy::Async, |r| r.strategy),
            setting: Some(point.setting),
            goodput_rps: None,
            reason: format!("at {at}: no strategy meets the limits"),
        };
    };
    let p99 = |r: &PointResult| r.p99_ms.unwrap_or(f64::INFINITY);
    let best = point
        .results
        .iter()
        .filter(|r| qualifies(r) && g(r) >= NEAR_BEST * top)
        .min_by(|a, b| p99(a).total_cmp(&p99(b)).then(g(b).total_cmp(&g(a))))
        .unwrap_or(&point.results[0]);
    let others: Vec<String> = point
        .results
        .iter()
        .filter(|r| r.strategy != best.strategy)
        .map(|r| {
            let share = g(r) / top;
            let tag = if !qualifies(r) {
                " (breaks a limit)"
            } else if share >= NEAR_BEST {
                " (as good)"
            } else {
                ""
            };
            format!("{} {:.0} %{tag}", r.strategy, 100.0 * share)
        })
        .collect();
    Recommendation {
        strategy: best.strategy,
        setting: Some(point.setting),
        goodput_rps: Some(g(best)),
        reason: format!(
            "at {at}: {} {:.1} ok/s, p99 {}{}; others (goodput as a share of the best, {:.1}): {}",
            best.strategy,
            g(best),
            best.p99_ms.map_or("-".to_owned(), |p| format!("{p:.0} ms")),
            best.cpu_ms_per_request
                .map_or(String::new(), |c| format!(", {c:.2} ms client CPU per request")),
            top,
            if others.is_empty() {
                "none".to_owned()
            } else {
                others.join(", ")
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Strategy = Strategy::Async;

    fn point(setting: f64, goodput: f64, p99: f64, share: f64) -> SweepPoint {
        SweepPoint {
            setting,
            complete: true,
            results: vec![PointResult {
                strategy: S,
                goodput_rps: goodput,
                slo_goodput_rps: None,
                throughput_rps: goodput,
                p99_ms: Some(p99),
                p50_ms: Some(p99 / 2.0),
                share_429: share,
                retries: 0,
                failed: 0,
                accounted_ok: true,
                ttft_ms: None,
                itl_ms: None,
                cpu_ms_per_request: None,
            }],
        }
    }

    /// The names sweep.json, the CSV header, the point folders and the errors use.
    #[test]
    fn axes_and_plans_have_their_documented_names() {
        let axes = [
            (Axis::Concurrency(vec![1]), "concurrency"),
            (Axis::BatchSize(vec![1]), "batch_size"),
            (Axis::Pause(vec![Duration::ZERO]), "pause"),
            (Axis::Rate(vec![1.0]), "rate"),
            (Axis::CpuWork(vec![Duration::ZERO]), "cpu_work"),
        ];
        for (axis, name) in axes {
            assert_eq!(axis.name(), name);
            assert_eq!(Plan::Fixed(axis).name(), name);
        }
        assert_eq!(Plan::AutoConcurrency.name(), "concurrency");
        assert_eq!(Plan::AutoRate.name(), "rate");
    }

    /// A 429 share exactly at the cap breaks it (the cap is "under"), one just below does not;
    /// the same for near-best: exactly 95 % of the best is as good.
    #[test]
    fn the_limits_hold_at_their_boundaries() {
        let at_cap = recommend("concurrency", S, &[point(4.0, 100.0, 10.0, 0.01)], loose());
        assert_eq!(at_cap.setting, None, "{}", at_cap.reason);
        let under = recommend("concurrency", S, &[point(4.0, 100.0, 10.0, 0.0099)], loose());
        assert_eq!(under.setting, Some(4.0));
        let pts = [point(2.0, 95.0, 10.0, 0.0), point(4.0, 100.0, 10.0, 0.0)];
        assert_eq!(recommend("concurrency", S, &pts, loose()).setting, Some(2.0));
        let pts = [point(2.0, 94.9, 10.0, 0.0), point(4.0, 100.0, 10.0, 0.0)];
        assert_eq!(recommend("concurrency", S, &pts, loose()).setting, Some(4.0));
        // No success at all is never a recommendation.
        let none = recommend("concurrency", S, &[point(4.0, 0.0, 10.0, 0.0)], loose());
        assert_eq!(none.setting, None);
        assert!(none.reason.contains("no successful request"), "{}", none.reason);
    }

    /// Two rates are the two ends; one is the higher end alone.
    #[test]
    fn rate_points_include_both_ends() {
        assert_eq!(rate_points(1.0, 5.0, 2), [1.0, 5.0]);
        assert_eq!(rate_points(1.0, 5.0, 3), [1.0, 3.0, 5.0]);
        assert_eq!(rate_points(1.0, 5.0, 1), [5.0]);
        assert_eq!(rate_points(5.0, 5.0, 4), [5.0]);
    }

    #[test]
    fn at_each_amount_of_work_the_best_strategy_that_meets_the_limits_is_named() {
        let mut p = point(5.0, 300.0, 110.0, 0.0);
        let other = |s, goodput, share| {
            let mut r = p.results[0].clone();
            r.strategy = s;
            r.goodput_rps = goodput;
            r.share_429 = share;
            r
        };
        let single = other(Strategy::AsyncSingle, 150.0, 0.0);
        let mut offload = other(Strategy::AsyncOffload, 290.0, 0.0);
        // Higher goodput, but over the 429 cap: not the answer.
        let threads = other(Strategy::Threadpool, 400.0, 0.02);
        p.results.extend([single.clone(), offload.clone(), threads]);
        // Within 5 % of the best and the same p99: the higher goodput.
        let r = best_strategy("cpu_work", &p, loose());
        assert_eq!(r.strategy, S);
        assert_eq!(r.setting, Some(5.0));
        assert_eq!(r.goodput_rps, Some(300.0));
        assert!(
            r.reason.starts_with("at cpu=5ms: async 300.0 ok/s, p99 110 ms"),
            "{}",
            r.reason
        );
        assert!(r.reason.contains("async-single 50 %"), "{}", r.reason);
        assert!(r.reason.contains("async-offload 97 % (as good)"), "{}", r.reason);
        assert!(
            r.reason.contains("threadpool 133 % (breaks a limit)"),
            "{}",
            r.reason
        );
        // Within 5 % and a lower p99: that one. Not so for one outside the 5 %.
        offload.p99_ms = Some(100.0);
        let mut single = single;
        single.p99_ms = Some(50.0);
        p.results[1] = single;
        p.results[2] = offload;
        let r = best_strategy("cpu_work", &p, loose());
        assert_eq!(r.strategy, Strategy::AsyncOffload);
        assert_eq!(r.goodput_rps, Some(290.0));
        assert!(r.reason.contains("async 100 %"), "{}", r.reason);
    }

    fn loose() -> Criteria {
        Criteria {
            slo_p99_ms: None,
            max_429_share: 0.01,
        }
    }

    /// A p99 SLO of `ms` and the 1 % 429 cap.
    fn with_slo(ms: f64) -> Criteria {
        Criteria {
            slo_p99_ms: Some(ms),
            ..loose()
        }
    }

    /// A point cut short by a signal or a dying target is left out of the verdict, and said
    /// to be; with no complete point at all, the reason says why instead of an empty list.
    #[test]
    fn incomplete_points_are_left_out_of_the_recommendation() {
        let mut cut = point(64.0, 200.0, 90.0, 0.0);
        cut.complete = false;
        let pts = [point(8.0, 96.0, 110.0, 0.0), cut.clone()];
        let r = recommend("concurrency", S, &pts, loose());
        assert_eq!(r.setting, Some(8.0), "{}", r.reason);
        assert!(
            r.reason.ends_with("(C=64 was cut short and is left out)"),
            "{}",
            r.reason
        );
        let r = recommend("concurrency", S, &[cut], loose());
        assert_eq!(r.setting, None);
        assert_eq!(r.reason, "no complete point: the sweep ended early at C=64");
        let r = recommend("concurrency", Strategy::Batched, &pts[..1], loose());
        assert_eq!(r.reason, "no point measured this strategy");
    }

    #[test]
    fn recommends_the_smallest_setting_near_the_best_goodput() {
        let pts = [
            point(1.0, 10.0, 100.0, 0.0),
            point(8.0, 96.0, 110.0, 0.0),
            point(64.0, 100.0, 300.0, 0.0),
        ];
        let r = recommend("concurrency", S, &pts, loose());
        assert_eq!(r.setting, Some(8.0));
        assert!(r.reason.starts_with("C=8"), "{}", r.reason);
        // The best is at the top of the list: goodput may still be growing.
        assert!(r.reason.contains("largest value tried (C=64)"), "{}", r.reason);
        assert!(r.reason.ends_with("(extend the list)"), "{}", r.reason);
        // Points the sweep chose itself are no list to extend.
        let r = recommend_for("concurrency", S, &pts, loose(), Chosen::Automatic);
        assert!(
            r.reason
                .ends_with("(past the automatic points: sweep a list that goes further)"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn the_near_best_threshold_is_five_percent_exactly() {
        // 95.0 is within 5 % of 100; 94.9 is not.
        let at = [
            point(4.0, 95.0, 1.0, 0.0),
            point(8.0, 100.0, 1.0, 0.0),
            point(16.0, 99.0, 1.0, 0.0),
        ];
        assert_eq!(recommend("concurrency", S, &at, loose()).setting, Some(4.0));
        let under = [
            point(4.0, 94.9, 1.0, 0.0),
            point(8.0, 100.0, 1.0, 0.0),
            point(16.0, 99.0, 1.0, 0.0),
        ];
        assert_eq!(recommend("concurrency", S, &under, loose()).setting, Some(8.0));
    }

    #[test]
    fn an_edge_choice_says_to_extend_the_list() {
        let pts = [
            point(2.0, 50.0, 1.0, 0.0),
            point(4.0, 51.0, 1.0, 0.0),
            point(8.0, 40.0, 1.0, 0.0),
        ];
        let r = recommend("concurrency", S, &pts, loose());
        assert_eq!(r.setting, Some(2.0));
        assert!(
            r.reason.contains("C=2 is the smallest value tried"),
            "{}",
            r.reason
        );
        assert!(!r.reason.contains("largest value"), "{}", r.reason);
        let mid = [
            point(2.0, 10.0, 1.0, 0.0),
            point(4.0, 51.0, 1.0, 0.0),
            point(8.0, 40.0, 1.0, 0.0),
        ];
        assert!(
            !recommend("concurrency", S, &mid, loose())
                .reason
                .contains("extend")
        );
    }

    #[test]
    fn slo_and_429_cap_rule_points_out() {
        let pts = [
            point(8.0, 96.0, 700.0, 0.0),
            point(16.0, 98.0, 400.0, 0.2),
            point(32.0, 100.0, 450.0, 0.0),
        ];
        let c = with_slo(500.0);
        assert_eq!(recommend("concurrency", S, &pts, c).setting, Some(32.0));
        let strict = with_slo(100.0);
        let r = recommend("concurrency", S, &pts, strict);
        assert_eq!(r.setting, None);
        assert!(
            r.reason.contains("p99 700 ms") && r.reason.contains("20.0 % 429s"),
            "{}",
            r.reason
        );
    }

    #[test]
    fn goodput_bought_with_429s_does_not_set_the_bar() {
        // Past the limit, more goodput comes with 429s: the bar is the best clean point.
        let pts = [
            point(10.0, 9.6, 1600.0, 0.0),
            point(20.0, 18.4, 1600.0, 0.0),
            point(25.0, 20.6, 1600.0, 0.237),
        ];
        let c = with_slo(3000.0);
        let r = recommend("rate", S, &pts, c);
        assert_eq!(r.setting, Some(20.0));
        assert!(
            r.reason.contains("rate=25/s gives 20.6 ok/s but breaks a limit"),
            "{}",
            r.reason
        );
    }

    /// The reason states the choice, its goodput, the bar, the SLO and the 429 share, then each
    /// point that beats the bar only by breaking a limit (not one that merely equals it, nor
    /// one within the limits).
    #[test]
    fn the_reason_states_every_figure_and_what_broke_a_limit() {
        let mut pts = vec![
            point(2.0, 50.0, 100.0, 0.0),
            point(4.0, 100.0, 200.0, 0.005),
            point(8.0, 120.0, 900.0, 0.0),
            point(16.0, 100.0, 1000.0, 0.0),
            point(32.0, 10.0, 100.0, 0.0),
        ];
        pts[4].results[0].accounted_ok = false;
        let c = with_slo(500.0);
        let r = recommend("concurrency", S, &pts, c);
        assert_eq!((r.setting, r.goodput_rps), (Some(4.0), Some(100.0)));
        assert_eq!(
            r.reason,
            "C=4: 100.0 ok/s, within 5 % of the best 100.0 that meets the limits; p99 200 ms ≤ 500 ms SLO; 0.5 % of attempts got 429 (< 1.0 %); C=8 gives 120.0 ok/s but breaks a limit"
        );
        // Without an SLO the reason says so; one point alone is no edge of a list.
        let r = recommend("concurrency", S, &pts[1..2], loose());
        assert_eq!(
            r.reason,
            "C=4: 100.0 ok/s, within 5 % of the best 100.0 that meets the limits; no p99 SLO set; 0.5 % of attempts got 429 (< 1.0 %)"
        );
    }

    /// When nothing qualifies, each point says what it broke: no success, successes none of which
    /// met the SLO, the p99, the 429 share, the books.
    #[test]
    fn without_a_choice_each_point_says_what_it_broke() {
        let mut pts = vec![
            point(1.0, 5.0, 100.0, 0.0),
            point(2.0, 0.0, 100.0, 0.0),
            point(4.0, 50.0, 100.0, 0.0),
            point(8.0, 50.0, 700.0, 0.25),
        ];
        pts[0].results[0].slo_goodput_rps = Some(0.0);
        pts[1].results[0].slo_goodput_rps = Some(0.0);
        pts[2].results[0].accounted_ok = false;
        pts[3].results[0].slo_goodput_rps = Some(50.0);
        let c = with_slo(500.0);
        let r = recommend("concurrency", S, &pts, c);
        assert_eq!((r.setting, r.goodput_rps), (None, None));
        assert_eq!(
            r.reason,
            "no setting meets the limits: C=1 (no request met the SLO); C=2 (no successful request); C=4 (accounting failed); C=8 (p99 700 ms, 25.0 % 429s)"
        );
    }

    /// A point's few numbers come from its strategy's report: failures are every issued request
    /// that did not succeed, the books need the client's count and the mock's agreement, and
    /// client CPU is per request finished (cancelled ones left out).
    #[test]
    fn a_point_reads_its_numbers_from_the_report() {
        use crate::model::outcome::ErrorClass;
        use crate::model::report::tests::strategy;
        let mut s = strategy(Strategy::Threadpool, 3, 3, ErrorClass::Timeout);
        s.attempts = 5;
        s.attempt_outcomes = [(Outcome::Ok, 3), (Outcome::RateLimited, 2)].into();
        s.retries = 1;
        let p = PointResult::of(&s);
        // Failed: 6 issued, 3 ok.
        assert_eq!((p.strategy, p.failed, p.retries), (Strategy::Threadpool, 3, 1));
        assert_eq!(
            (p.goodput_rps, p.throughput_rps),
            (s.goodput_rps, s.throughput_rps)
        );
        assert_eq!(p.share_429, 0.4);
        let lat = s.latency_ms.unwrap();
        assert_eq!((p.p50_ms, p.p99_ms), (Some(lat.p50), Some(lat.p99)));
        assert!(p.accounted_ok);
        // cpu_s 0.25 over 6 finished requests.
        let cpu = p.cpu_ms_per_request.unwrap();
        assert!((cpu - 250.0 / 6.0).abs() < 1e-9, "{cpu}");
        // Cancelled requests did not finish: 0.25 s over 4.
        s.outcomes.insert(Outcome::Cancelled, 2);
        assert_eq!(PointResult::of(&s).cpu_ms_per_request, Some(62.5));
        // None finished: no figure rather than a division by zero.
        s.outcomes.insert(Outcome::Cancelled, 6);
        assert_eq!(PointResult::of(&s).cpu_ms_per_request, None);
        // The books: the client's count, then the mock's agreement.
        s.server = Some(crate::model::report::ServerCheck {
            matches: false,
            ..Default::default()
        });
        assert!(!PointResult::of(&s).accounted_ok);
        s.server = None;
        s.accounted_ok = false;
        assert!(!PointResult::of(&s).accounted_ok);
    }

    #[test]
    fn no_goodput_means_no_recommendation() {
        let mut p = point(1.0, 0.0, 0.0, 1.0);
        p.results[0].p99_ms = None;
        let r = recommend("rate", S, &[p], loose());
        assert_eq!(r.setting, None);
        assert!(r.reason.contains("no successful request"), "{}", r.reason);
    }

    #[test]
    fn with_an_slo_the_recommendation_follows_the_good_rate() {
        // C=16 has more successes, but fewer of them meet the SLO than at C=8.
        let mut pts = vec![point(8.0, 90.0, 100.0, 0.0), point(16.0, 100.0, 100.0, 0.0)];
        pts[0].results[0].slo_goodput_rps = Some(85.0);
        pts[1].results[0].slo_goodput_rps = Some(40.0);
        let r = recommend("concurrency", S, &pts, loose());
        assert_eq!(r.setting, Some(8.0));
        assert!(r.reason.contains("good/s (met the SLO)"), "{}", r.reason);
    }

    #[test]
    fn automatic_points_come_from_the_probe() {
        assert_eq!(
            saturation(&[(1.0, 10.0), (2.0, 19.0), (4.0, 36.0), (8.0, 38.0), (16.0, 39.0)]),
            4.0
        );
        assert_eq!(saturation(&[(1.0, 10.0), (2.0, 10.5)]), 1.0);
        assert_eq!(concurrency_points(4), [1, 2, 4, 8]);
        assert_eq!(concurrency_points(6), [1, 2, 4, 6, 12]);
        assert_eq!(rate_points(2.0, 10.0, 5), [2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(rate_points(5.0, 5.0, 5), [5.0]);
    }

    #[test]
    fn pauses_print_as_durations() {
        assert_eq!(fmt_setting("pause", 0.01), "pause=10ms");
        assert_eq!(fmt_value("pause", 1.5), "1500ms");
        assert_eq!(fmt_setting("concurrency", 8.0), "C=8");
    }
}
