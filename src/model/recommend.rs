//! The sweep's recommendation, a pure function of its points: per strategy the setting to run
//! (goodput within 5 % of the best that meets the limits), and per point of a `--cpu-work`
//! sweep the strategy to use.

use crate::model::strategy::Strategy;
use crate::model::sweep::{Criteria, PointResult, Recommendation, SweepPoint, fmt_setting};
use crate::model::uncertainty::Change;

/// Goodput within this fraction of the best counts as "as good".
pub const NEAR_BEST: f64 = 0.95;

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
    let rows = complete_rows(points, strategy);
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
    let g = PointResult::ranked_goodput;
    let ok: Vec<(f64, &PointResult)> = rows.iter().filter(|(_, r)| c.qualifies(r)).copied().collect();
    let Some(best) = ok.iter().map(|(_, r)| g(r)).reduce(f64::max) else {
        let why = rows
            .iter()
            .map(|(s, r)| format!("{} ({})", fmt_setting(axis, *s), broken_limits(r, c)))
            .collect::<Vec<_>>()
            .join("; ");
        return none(format!("no setting meets the limits: {why}"));
    };
    let (setting, r, near) = near_best(&ok, best);
    let slo = match (c.slo_p99_ms, r.p99_ms) {
        (Some(s), Some(p99)) => format!("p99 {p99:.0} ms ≤ {s:.0} ms SLO"),
        _ => "no p99 SLO set".to_owned(),
    };
    let with_slo = rows.iter().any(|(_, r)| r.slo_goodput_rps.is_some());
    let unit = match (rows.iter().any(|(_, r)| r.inputs_per_request.is_some()), with_slo) {
        (true, true) => "inputs/s (of requests that met the SLO)",
        (true, false) => "inputs/s",
        (false, true) => "good/s (met the SLO)",
        (false, false) => "ok/s",
    };
    let beyond = rows
        .iter()
        .filter(|(_, x)| !c.qualifies(x) && g(x) > best)
        .map(|(s, x)| {
            format!(
                "{} gives {:.1} {unit} but breaks a limit",
                fmt_setting(axis, *s),
                g(x)
            )
        });
    let (lo, hi) = (rows[0].0, rows[rows.len() - 1].0);
    let best_at = ok
        .iter()
        .filter(|(_, x)| g(x) == best)
        .map(|(s, _)| *s)
        .next_back();
    let edges = range_edges(axis, rows.len(), (lo, hi), best_at == Some(hi), setting, chosen);
    let extra: Vec<String> = beyond.chain(edges).collect();
    Recommendation {
        strategy,
        setting: Some(setting),
        goodput_rps: Some(g(r)),
        reason: format!(
            "{}: {:.1} {unit}, {near}; {slo}; {:.1} % of attempts got 429 ({}){}",
            fmt_setting(axis, setting),
            g(r),
            100.0 * r.share_429,
            crate::model::sweep::cap_bound(c.max_429_share).unwrap_or_else(|| "none allowed".into()),
            if extra.is_empty() {
                String::new()
            } else {
                format!("; {}", extra.join("; "))
            }
        ),
    }
}

/// The strategy's results at the complete points, by setting. A point a signal or a dying
/// target cut short measured part of its requests: no verdict rests on it.
fn complete_rows(points: &[SweepPoint], strategy: Strategy) -> Vec<(f64, &PointResult)> {
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
    rows
}

/// The smallest qualifying setting as good as the `best` goodput among `ok` (not empty): within
/// 5 % of it, or within its noise when both have rounds (their goodputs differ by nothing at
/// 95 %); with the words saying which.
fn near_best<'a>(ok: &[(f64, &'a PointResult)], best: f64) -> (f64, &'a PointResult, String) {
    let g = PointResult::ranked_goodput;
    let best_r = ok.iter().find(|(_, r)| g(r) == best).map(|(_, r)| *r);
    let noise = |r: &PointResult| {
        let (Some(b), Some(x)) = (best_r.and_then(PointResult::ranked_rounds), r.ranked_rounds()) else {
            return None;
        };
        Change::unpaired(&b, &x).filter(|c| !c.is_difference())
    };
    let (setting, r) = ok
        .iter()
        .find(|(_, r)| g(r) >= NEAR_BEST * best || noise(r).is_some())
        .copied()
        .unwrap_or(ok[0]);
    let near = match noise(r) {
        Some(c) if g(r) < NEAR_BEST * best => format!(
            "within the noise of the best {best:.1} that meets the limits ({} over rounds, no difference at 95 %)",
            c.describe()
        ),
        _ => format!("within 5 % of the best {best:.1} that meets the limits"),
    };
    (setting, r, near)
}

/// Why a point does not qualify, in a few words: no success (or none within the SLO), the p99
/// over its limit, too many 429s, failed accounting.
pub(crate) fn broken_limits(r: &PointResult, c: Criteria) -> String {
    let mut w = Vec::new();
    if r.ranked_goodput() <= 0.0 {
        w.push(if r.slo_goodput_rps.is_some() && r.goodput_rps > 0.0 {
            "no request met the SLO".to_owned()
        } else {
            "no successful request".to_owned()
        });
    }
    if let (false, Some(p99)) = (c.meets_slo(r), r.p99_ms) {
        w.push(format!("p99 {p99:.0} ms"));
    }
    if !c.under_cap(r) {
        w.push(format!("{:.1} % 429s", 100.0 * r.share_429));
    }
    if let (false, Some(m)) = (c.good_enough(r), c.min_good_share) {
        w.push(format!(
            "{:.1} % good < {:.1} %",
            100.0 * r.good_share(),
            100.0 * m
        ));
    }
    if !r.accounted_ok {
        w.push("accounting failed".into());
    }
    if w.is_empty() {
        w.push("breaks a limit".into());
    }
    w.join(", ")
}

/// Warnings when the choice sits at an edge of the range tried: the best goodput at the largest
/// value (it may grow further), or the chosen value the smallest tried when smaller ones exist
/// (one in flight, one per batch and no pause are floors).
fn range_edges(
    axis: &str,
    points: usize,
    (lo, hi): (f64, f64),
    best_at_top: bool,
    setting: f64,
    chosen: Chosen,
) -> Vec<String> {
    let further = match chosen {
        Chosen::Listed => "extend the list",
        Chosen::Automatic => "past the automatic points: sweep a list that goes further",
    };
    let mut edges = Vec::new();
    if points > 1 && best_at_top {
        edges.push(format!(
            "the best goodput is at the largest value tried ({}): it may grow further ({further})",
            fmt_setting(axis, hi)
        ));
    }
    let floor = match axis {
        "concurrency" | "batch_size" => lo <= 1.0,
        "pause" => lo <= 0.0,
        _ => false,
    };
    if points > 1 && setting == lo && !floor {
        edges.push(format!(
            "{} is the smallest value tried: a smaller one may do as well ({further})",
            fmt_setting(axis, lo)
        ));
    }
    edges
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
    use crate::model::sweep::tests::{S, loose, point, with_slo};

    /// The note that a smaller value may do as well is left out at the floor of each setting
    /// (one in flight, one per batch, no pause) and given above it.
    #[test]
    fn the_smallest_value_note_stops_at_each_settings_floor() {
        let note = |axis: &str, lo: f64| {
            range_edges(axis, 3, (lo, lo * 4.0 + 1.0), false, lo, Chosen::Listed)
                .iter()
                .any(|e| e.contains("is the smallest value tried"))
        };
        for axis in ["concurrency", "batch_size"] {
            assert!(!note(axis, 1.0), "{axis} 1 is its floor");
            assert!(note(axis, 2.0), "{axis} 2 is not");
        }
        assert!(!note("pause", 0.0), "no pause is the floor");
        assert!(note("pause", 0.01), "10 ms is not");
        assert!(note("rate", 1.0), "a rate has no floor here");
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

    /// With rounds, a point more than 5 % below the best is as good when the two cannot be told
    /// apart at 95 % (their rounds overlap), and not when they can.
    #[test]
    fn with_rounds_a_point_within_the_noise_of_the_best_is_as_good() {
        let with_rounds = |mut p: SweepPoint, goodputs: &[f64]| {
            let r = &mut p.results[0];
            r.rounds = goodputs
                .iter()
                .enumerate()
                .map(|(i, g)| crate::model::rounds::Round {
                    round: i as u32 + 1,
                    position: 1,
                    started_unix_ms: 0.0,
                    wall_s: 1.0,
                    issued: 10,
                    ok: 10,
                    goodput_rps: *g,
                    throughput_rps: *g,
                    slo_goodput_rps: None,
                    p50_ms: Some(50.0),
                    p90_ms: Some(90.0),
                    p99_ms: Some(99.0),
                    cpu_s: 0.0,
                    cpu_us_per_request: None,
                    share_429: 0.0,
                    steady: None,
                    timeline: Vec::new(),
                })
                .collect();
            r.goodput_rps = goodputs.iter().sum::<f64>() / goodputs.len() as f64;
            p
        };
        // 90 vs 100 on average, but the rounds spread wide: no difference at 95 %.
        let noisy = [
            with_rounds(point(8.0, 0.0, 110.0, 0.0), &[70.0, 110.0, 90.0]),
            with_rounds(point(64.0, 0.0, 300.0, 0.0), &[80.0, 120.0, 100.0]),
        ];
        let r = recommend("concurrency", S, &noisy, loose());
        assert_eq!(r.setting, Some(8.0), "{}", r.reason);
        assert!(
            r.reason.contains("within the noise of the best 100.0"),
            "{}",
            r.reason
        );
        // Within 5 % of the best (95 of 100, at the bound) and within its noise: said as within
        // 5 %, the rule that holds without rounds.
        let near = [
            with_rounds(point(8.0, 0.0, 110.0, 0.0), &[75.0, 115.0, 95.0]),
            with_rounds(point(64.0, 0.0, 300.0, 0.0), &[80.0, 120.0, 100.0]),
        ];
        let r = recommend("concurrency", S, &near, loose());
        assert_eq!(r.setting, Some(8.0), "{}", r.reason);
        assert!(
            r.reason.contains("within 5 % of the best 100.0") && !r.reason.contains("noise"),
            "{}",
            r.reason
        );
        // The same means from tight rounds: a real difference, so the best wins.
        let tight = [
            with_rounds(point(8.0, 0.0, 110.0, 0.0), &[89.0, 90.0, 91.0]),
            with_rounds(point(64.0, 0.0, 300.0, 0.0), &[99.0, 100.0, 101.0]),
        ];
        let r = recommend("concurrency", S, &tight, loose());
        assert_eq!(r.setting, Some(64.0), "{}", r.reason);
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
}
