//! The sweep model: one setting (concurrency, batch size, pause or rate) varied over a list, a
//! [`PointResult`] per strategy and point, and the recommendation: among the settings whose p99
//! meets the SLO and whose share of 429 answers is under the cap, the smallest within 5 % of the
//! best goodput. Pure, so the rule is tested without running anything; `commands::sweep` runs the
//! points and `report::sweep` prints and draws them.

use std::time::Duration;

use mock_server::latency::format_duration;
use serde::{Deserialize, Serialize};

use crate::model::outcome::Outcome;
use crate::model::provenance::Provenance;
use crate::model::report::{ConfigSummary, StrategyReport};
use crate::model::rounds::Round;
use crate::model::strategy::Strategy;

/// What a sweep varies: a given list, or points it finds itself after probing.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepPlan {
    /// The list given.
    Fixed(Axis),
    /// `--concurrency auto`: double the concurrency until goodput stops growing (the
    /// saturation point), then sweep powers of two up to it and one past it.
    AutoConcurrency,
    /// `--rate auto`: measure the rate of one request at a time and the closed-loop throughput at
    /// `-c`, then sweep evenly spaced rates between them (GuideLLM's sweep).
    AutoRate,
}

impl SweepPlan {
    /// The setting's name.
    pub fn name(&self) -> &'static str {
        match self {
            SweepPlan::Fixed(a) => a.name(),
            SweepPlan::AutoConcurrency => "concurrency",
            SweepPlan::AutoRate => "rate",
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

    /// The flag that lists the values.
    pub fn flag(&self) -> &'static str {
        match self {
            Axis::Concurrency(_) => "--concurrency",
            Axis::BatchSize(_) => "--batch-size",
            Axis::Pause(_) => "--pause",
            Axis::Rate(_) => "--rate",
            Axis::CpuWork(_) => "--cpu-work",
        }
    }

    /// The first value listed again (`10ms` and `0.01s` are one value), as the flag takes it:
    /// two points of one setting would share a folder under `points/` and a place on the charts.
    pub fn repeated(&self) -> Option<String> {
        let values = self.values();
        let i = super::first_repeat(&values)?;
        Some(match self {
            Axis::Concurrency(v) | Axis::BatchSize(v) => v[i].to_string(),
            Axis::Pause(v) | Axis::CpuWork(v) => format_duration(v[i]),
            Axis::Rate(v) => v[i].to_string(),
        })
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

/// The folder, under a sweep's `points/`, of one point's report: `concurrency-16`, or for a
/// search (whose strategies measure different values) `async-concurrency-16`.
pub fn point_folder(axis: &str, v: f64, strategy: Option<Strategy>) -> String {
    match strategy {
        Some(s) => format!("{s}-{axis}-{v}"),
        None => format!("{axis}-{v}"),
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
    /// `--api embeddings`: inputs in each request; the recommendation then ranks by inputs/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_per_request: Option<u64>,
    /// With `--rounds` ≥ 2: each round's figures (without their timelines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Round>,
    /// The measurement's own error at this point, as `compare`'s report has it (absent in
    /// sweeps from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distortion: Option<crate::model::distortion::Distortion>,
}

impl PointResult {
    /// What recommendations rank by: with `--slo` the rate of requests that met it, without
    /// every success.
    pub fn ranked_goodput(&self) -> f64 {
        // Embeddings are worth their inputs: a batch of 64 at 10 ok/s beats one of 1 at 100.
        let per_request = self.inputs_per_request.unwrap_or(1) as f64;
        self.slo_goodput_rps.unwrap_or(self.goodput_rps) * per_request
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
            failed: s.count_except(&[Outcome::Ok]),
            accounted_ok: s.accounted_ok && s.server.as_ref().is_none_or(|c| c.matches),
            ttft_ms: s.ttft_ms.map(|p| (p.p50, p.p99)),
            itl_ms: s.itl_ms.map(|p| (p.p50, p.p99)),
            inputs_per_request: s.inputs_per_request,
            distortion: s.distortion,
            cpu_ms_per_request: s.cpu_us_per_request().map(|us| us / 1e3),
            rounds: if s.rounds.len() < 2 {
                Vec::new()
            } else {
                s.rounds
                    .iter()
                    .map(|r| Round {
                        timeline: Vec::new(),
                        ..r.clone()
                    })
                    .collect()
            },
        }
    }

    /// Good requests (ranked goodput) as a share of every request finished per second.
    pub fn good_share(&self) -> f64 {
        if self.throughput_rps > 0.0 {
            (self.ranked_goodput() / self.throughput_rps).min(1.0)
        } else {
            0.0
        }
    }

    /// Each round's ranked goodput (see [`PointResult::ranked_goodput`]), when it has rounds.
    pub fn ranked_rounds(&self) -> Option<Vec<f64>> {
        (self.rounds.len() >= 2).then(|| {
            self.rounds
                .iter()
                .map(|r| r.slo_goodput_rps.unwrap_or(r.goodput_rps))
                .collect()
        })
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
    /// `--min-good`: the good share a setting must reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_good_share: Option<f64>,
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
    /// Per strategy, where goodput stopped growing (none while it still grew).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub knees: Vec<crate::model::search::Knee>,
    /// `--find`: each strategy's search.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<crate::model::search::SearchResult>,
    /// A rising list stopped before its end: every strategy over-saturated twice in a row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    /// `--find`: the setting searched and its range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<crate::model::search::Find>,
    /// False when the sweep was cut short; the points that ran are kept.
    pub complete: bool,
    /// Why it was cut short.
    pub incomplete_reason: Option<String>,
}

/// The 429 cap as a bound on the share: `< 1.0 %`, or `None` for a cap of 0 (no 429 at all).
pub fn cap_bound(max_429_share: f64) -> Option<String> {
    (max_429_share != 0.0).then(|| format!("< {:.1} %", 100.0 * max_429_share))
}

/// The 429 cap in words: `429 share < 1.0 %`, or `no 429s` for a cap of 0.
pub fn cap_text(max_429_share: f64) -> String {
    cap_bound(max_429_share).map_or_else(|| "no 429s".into(), |b| format!("429 share {b}"))
}

/// What qualifies a point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criteria {
    /// p99 must be at most this, ms.
    pub slo_p99_ms: Option<f64>,
    /// Share of attempts answered 429 must be below this.
    pub max_429_share: f64,
    /// Good requests (with `--slo`, those that met it; else every success) as a share of all
    /// finished must be at least this (`--min-good`).
    pub min_good_share: Option<f64>,
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

    /// 429 share under the cap; with a cap of 0, no 429 at all (no share is below 0, so
    /// `--max-429 0` qualified nothing and said "429 share < 0.0 %").
    pub fn under_cap(&self, r: &PointResult) -> bool {
        if self.max_429_share == 0.0 {
            r.share_429 == 0.0
        } else {
            r.share_429 < self.max_429_share
        }
    }

    /// Whether a result may be recommended: within the SLO and the cap, its books balanced,
    /// and some goodput to rank.
    pub fn qualifies(&self, r: &PointResult) -> bool {
        self.meets_slo(r)
            && self.under_cap(r)
            && self.good_enough(r)
            && r.accounted_ok
            && r.ranked_goodput() > 0.0
    }

    /// The good share at or above `--min-good` (always, without it).
    pub fn good_enough(&self, r: &PointResult) -> bool {
        self.min_good_share.is_none_or(|m| r.good_share() >= m)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const S: Strategy = Strategy::Async;

    pub(crate) fn point(setting: f64, goodput: f64, p99: f64, share: f64) -> SweepPoint {
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
                inputs_per_request: None,
                rounds: Vec::new(),
                distortion: None,
            }],
        }
    }

    /// An embeddings point is worth its inputs: ranked by goodput × inputs, with or without an
    /// SLO; any other by its goodput.
    #[test]
    fn an_embeddings_point_ranks_by_inputs_per_second() {
        let mut p = point(4.0, 100.0, 10.0, 0.0).results.remove(0);
        assert_eq!(p.ranked_goodput(), 100.0);
        p.inputs_per_request = Some(16);
        assert_eq!(p.ranked_goodput(), 1600.0);
        p.slo_goodput_rps = Some(50.0);
        assert_eq!(p.ranked_goodput(), 800.0);
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
            assert_eq!(SweepPlan::Fixed(axis).name(), name);
        }
        assert_eq!(SweepPlan::AutoConcurrency.name(), "concurrency");
        assert_eq!(SweepPlan::AutoRate.name(), "rate");
    }

    /// Two rates are the two ends; one is the higher end alone.
    #[test]
    fn rate_points_include_both_ends() {
        assert_eq!(rate_points(1.0, 5.0, 2), [1.0, 5.0]);
        assert_eq!(rate_points(1.0, 5.0, 3), [1.0, 3.0, 5.0]);
        assert_eq!(rate_points(1.0, 5.0, 1), [5.0]);
        assert_eq!(rate_points(5.0, 5.0, 4), [5.0]);
    }

    /// The 429 cap is a strict bound, except a cap of 0: no 429 at all, said so (no share is
    /// below 0, so `--max-429 0` qualified nothing, under "429 share < 0.0 %").
    #[test]
    fn a_cap_of_zero_allows_no_429_and_says_so() {
        use crate::model::outcome::ErrorClass;
        use crate::model::report::tests::strategy;
        let mut p = PointResult::of(&strategy(Strategy::Async, 3, 0, ErrorClass::Timeout));
        let zero = Criteria {
            max_429_share: 0.0,
            ..loose()
        };
        p.share_429 = 0.0;
        assert!(zero.under_cap(&p) && loose().under_cap(&p));
        p.share_429 = 0.001;
        assert!(!zero.under_cap(&p) && loose().under_cap(&p));
        p.share_429 = 0.01;
        assert!(!loose().under_cap(&p));
        assert_eq!(cap_text(0.0), "no 429s");
        assert_eq!(cap_text(0.01), "429 share < 1.0 %");
    }

    pub(crate) fn loose() -> Criteria {
        Criteria {
            slo_p99_ms: None,
            max_429_share: 0.01,
            min_good_share: None,
        }
    }

    /// A p99 SLO of `ms` and the 1 % 429 cap.
    pub(crate) fn with_slo(ms: f64) -> Criteria {
        Criteria {
            slo_p99_ms: Some(ms),
            ..loose()
        }
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
