//! The lines under the table that carry the uncertainty: each strategy's figures as the mean
//! over its rounds with a 95 % interval, the steady-state goodput, and the verdict of each
//! strategy against the anchor (`async`, or the first strategy), paired by round.

use std::fmt::Write as _;

use crate::model::report::{RunReport, StrategyReport};
use crate::model::rounds::round_values;
use crate::model::strategy::Strategy;
use crate::model::uncertainty::{Change, Estimate, Metric, describe_change};

/// The metrics a verdict line gives, in order.
const VERDICT_METRICS: [Metric; 3] = [Metric::Goodput, Metric::P99, Metric::CpuPerRequest];

fn est(e: Option<Estimate>, digits: usize) -> String {
    match e {
        Some(e) => format!("{:.d$} [{:.d$}, {:.d$}]", e.mean, e.lo, e.hi, d = digits),
        None => "-".into(),
    }
}

/// The strategy the others are compared with: `async` when it ran, else the first.
pub(crate) fn anchor(r: &RunReport) -> Option<&StrategyReport> {
    r.strategies
        .iter()
        .find(|s| s.id == Strategy::Async)
        .or(r.strategies.first())
}

/// `subject`'s change against `base` on `m`, paired by round (rounds of one run ran side by
/// side); `None` when either lacks the figure in a round.
pub(crate) fn pair_change(subject: &StrategyReport, base: &StrategyReport, m: Metric) -> Option<Change> {
    let (a, b) = (round_values(&subject.rounds, m)?, round_values(&base.rounds, m)?);
    Change::paired(&b, &a)
}

/// The block: empty for a run of one round (then the footnote says how to get intervals).
pub(crate) fn rounds_block(r: &RunReport) -> String {
    let mut t = String::new();
    let steady: Vec<String> = r
        .strategies
        .iter()
        .filter_map(|s| s.steady_goodput_rps.map(|g| format!("{} {g:.1}", s.id)))
        .collect();
    let with_rounds = r.strategies.iter().any(|s| s.spread.is_some());
    if !with_rounds {
        if !steady.is_empty() {
            let _ = writeln!(
                t,
                "\nsteady good/s (whole seconds while the concurrency was held): {}",
                steady.join(" · ")
            );
        }
        return t;
    }
    let w = r
        .strategies
        .iter()
        .map(|s| s.id.to_string().len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        t,
        "\nover {} rounds (odd rounds in the order above, even ones reversed): mean [95 % interval]",
        r.config.rounds
    );
    let _ = writeln!(
        t,
        "{:<w$}  {:>23}  {:>22}  {:>22}  {:>18}  {:>9}",
        "strategy", "good/s", "p50_ms", "p99_ms", "cpu_us/req", "steady/s"
    );
    for s in &r.strategies {
        let sp = s.spread;
        let _ = writeln!(
            t,
            "{:<w$}  {:>23}  {:>22}  {:>22}  {:>18}  {:>9}",
            s.id.to_string(),
            est(sp.map(|x| x.goodput_rps), 1),
            est(sp.and_then(|x| x.p50_ms), 1),
            est(sp.and_then(|x| x.p99_ms), 1),
            est(sp.and_then(|x| x.cpu_us_per_request), 0),
            s.steady_goodput_rps.map_or("-".into(), |g| format!("{g:.1}")),
        );
    }
    // The verdicts of the others against the anchor: none to give when it ran alone.
    if let Some(a) = anchor(r).filter(|_| r.strategies.len() > 1) {
        let _ = writeln!(t, "verdicts at 95 %, paired by round:");
        for s in r.strategies.iter().filter(|s| s.id != a.id) {
            let parts: Vec<String> = VERDICT_METRICS
                .iter()
                .filter_map(|m| pair_change(a, s, *m).map(|c| describe_change(*m, &c, &a.id.to_string())))
                .collect();
            let body = if parts.is_empty() {
                "no figure in every round of both".to_owned()
            } else {
                parts.join(" · ")
            };
            t.push_str(&crate::output::table::wrap_indented(
                &format!("  {} vs {}: {body}", a.id, s.id),
                "    ",
            ));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rounds::Round;

    fn round(k: u32, goodput: f64, p99: f64, cpu: f64) -> Round {
        Round {
            round: k,
            position: 1,
            started_unix_ms: 0.0,
            wall_s: 1.0,
            issued: 100,
            ok: 100,
            goodput_rps: goodput,
            throughput_rps: goodput,
            slo_goodput_rps: None,
            p50_ms: Some(p99 / 2.0),
            p90_ms: Some(p99),
            p99_ms: Some(p99),
            cpu_s: 0.1,
            cpu_us_per_request: Some(cpu),
            share_429: 0.0,
            steady: None,
            timeline: Vec::new(),
        }
    }

    #[test]
    fn a_pair_is_compared_round_by_round() {
        let base = [
            round(1, 100.0, 200.0, 300.0),
            round(2, 90.0, 210.0, 320.0),
            round(3, 95.0, 205.0, 310.0),
        ];
        // Twice the goodput in every round, the same p99, a third of the CPU.
        let subject: Vec<Round> = base
            .iter()
            .map(|r| Round {
                goodput_rps: r.goodput_rps * 2.0,
                cpu_us_per_request: r.cpu_us_per_request.map(|c| c / 3.0),
                ..r.clone()
            })
            .collect();
        let g = Change::paired(
            &round_values(&base, Metric::Goodput).unwrap(),
            &round_values(&subject, Metric::Goodput).unwrap(),
        )
        .unwrap();
        assert!((g.point - 1.0).abs() < 1e-9 && g.is_difference());
        // Rounds that agree exactly have a zero-width interval: a difference when not zero,
        // none when zero.
        let same = round_values(&base, Metric::P99).unwrap();
        let flat = Change::paired(&same, &same).unwrap();
        assert_eq!(
            describe_change(Metric::P99, &flat, "async"),
            "p99 +0.0 % [+0.0, +0.0] — no difference at 95 %"
        );
        let third = Change::paired(
            &round_values(&base, Metric::CpuPerRequest).unwrap(),
            &round_values(&subject, Metric::CpuPerRequest).unwrap(),
        )
        .unwrap();
        assert_eq!(
            describe_change(Metric::CpuPerRequest, &third, "async"),
            "CPU per request −66.7 % [−66.7, −66.7] — async cheaper"
        );
    }
}
