//! `diff` as a pure function: two saved runs (or sweeps) as figures per strategy (and point),
//! each figure's change with its 95 % interval when both sides have rounds, the thresholds of
//! `--fail-if`, and the configuration differences that make two runs incomparable.

use std::fmt;
use std::str::FromStr;

pub(crate) use crate::model::error::DiffError;
use crate::model::report::{RunReport, StrategyReport};
use crate::model::rounds::{Round, round_values};
use crate::model::sweep::{PointResult, SweepReport, fmt_setting};
use crate::model::uncertainty::{Change, Metric, Verdict, mean};

/// One side of a diff: its figures under a key (`async`, or `C=50 async` in a sweep).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Side {
    /// `run` or `sweep`.
    pub kind: &'static str,
    /// The configuration that must agree, as JSON (the rounds and shard left out).
    pub config: serde_json::Value,
    /// Rounds per strategy.
    pub rounds: u32,
    /// Per key, per metric (in [`Metric::ALL`] order): each round's value, or the one value.
    pub rows: Vec<(String, [Option<Vec<f64>>; 4])>,
}

fn values_of(rounds: &[Round], whole: impl Fn(Metric) -> Option<f64>) -> [Option<Vec<f64>>; 4] {
    Metric::ALL.map(|m| match round_values(rounds, m) {
        Some(v) if !v.is_empty() => Some(v),
        _ => whole(m).map(|x| vec![x]),
    })
}

fn strategy_values(s: &StrategyReport) -> [Option<Vec<f64>>; 4] {
    values_of(&s.rounds, |m| match m {
        Metric::Goodput => Some(s.goodput_rps),
        Metric::P50 => s.latency_ms.map(|p| p.p50),
        Metric::P99 => s.latency_ms.map(|p| p.p99),
        Metric::CpuPerRequest => s.cpu_us_per_request(),
    })
}

fn point_values(p: &PointResult) -> [Option<Vec<f64>>; 4] {
    values_of(&p.rounds, |m| match m {
        Metric::Goodput => Some(p.goodput_rps),
        Metric::P50 => p.p50_ms,
        Metric::P99 => p.p99_ms,
        Metric::CpuPerRequest => p.cpu_ms_per_request.map(|c| c * 1000.0),
    })
}

/// The settings that must agree, with what may differ between two runs of one benchmark left
/// out: the rounds (intervals handle them), the shard, the start time.
fn comparable(config: &crate::model::report::ConfigSummary) -> serde_json::Value {
    crate::stats::merge::config_without(config, &["rounds", "shard", "start_at_unix"])
}

impl Side {
    /// A run's figures.
    pub(crate) fn of_run(r: &RunReport) -> Side {
        Side {
            kind: "run",
            config: comparable(&r.config),
            rounds: r.config.rounds,
            rows: r
                .strategies
                .iter()
                .map(|s| (s.id.to_string(), strategy_values(s)))
                .collect(),
        }
    }

    /// A sweep's figures, point by point (points cut short left out).
    pub(crate) fn of_sweep(r: &SweepReport) -> Side {
        let mut config = comparable(&r.config);
        if let Some(m) = config.as_object_mut() {
            // The swept setting differs from point to point; the axis must agree.
            m.insert("axis".into(), r.axis.clone().into());
        }
        Side {
            kind: "sweep",
            config,
            rounds: r.config.rounds,
            rows: r
                .points
                .iter()
                .filter(|p| p.complete)
                .flat_map(|p| {
                    p.results.iter().map(move |x| {
                        (
                            format!("{} {}", fmt_setting(&r.axis, p.setting), x.strategy),
                            point_values(x),
                        )
                    })
                })
                .collect(),
        }
    }
}

/// One figure's change from base to new.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `async`, or `C=50 async`.
    pub key: String,
    /// The figure.
    pub metric: Metric,
    /// Base: mean over rounds.
    pub base: f64,
    /// New: mean over rounds.
    pub new: f64,
    /// The change, with its interval when both sides have two rounds or more.
    pub change: Change,
    /// How it reads.
    pub verdict: Verdict,
}

/// Every setting that differs, as `path: base → new`.
pub(crate) fn config_changes(base: &Side, new: &Side) -> Vec<String> {
    let mut out = Vec::new();
    crate::stats::merge::differences("config", &base.config, &new.config, &mut out);
    out.into_iter()
        .map(|(p, a, b)| format!("{p}: {a} → {b}"))
        .collect()
}

/// The change of every figure both sides have, key by key in the base's order. Refused when
/// the kinds differ, when nothing is in common, and (unless `allow_config_change`) when the
/// settings differ.
pub(crate) fn diff(base: &Side, new: &Side, allow_config_change: bool) -> Result<Vec<Row>, DiffError> {
    if base.kind != new.kind {
        return Err(DiffError::Kinds {
            base: base.kind,
            new: new.kind,
        });
    }
    let changes = config_changes(base, new);
    if !changes.is_empty() && !allow_config_change {
        return Err(DiffError::Config(changes));
    }
    let mut rows = Vec::new();
    for (key, figures) in &base.rows {
        let Some((_, theirs)) = new.rows.iter().find(|(k, _)| k == key) else {
            continue;
        };
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            let (Some(a), Some(b)) = (&figures[i], &theirs[i]) else {
                continue;
            };
            let change = Change::unpaired(a, b).or_else(|| Change::single(mean(a), mean(b)));
            if let Some(change) = change {
                rows.push(Row {
                    key: key.clone(),
                    metric: m,
                    base: mean(a),
                    new: mean(b),
                    change,
                    verdict: Verdict::of(m, &change),
                });
            }
        }
    }
    if rows.is_empty() {
        return Err(DiffError::Disjoint);
    }
    Ok(rows)
}

/// The keys (strategies, or a sweep's strategy at a point) of one side the other lacks: (only
/// in `base`, only in `new`), each in its side's order. `diff` compares the keys both have; these
/// have no figures to compare.
pub(crate) fn unmatched(base: &Side, new: &Side) -> (Vec<String>, Vec<String>) {
    let missing = |a: &Side, b: &Side| {
        a.rows
            .iter()
            .filter(|(k, _)| !b.rows.iter().any(|(theirs, _)| theirs == k))
            .map(|(k, _)| k.clone())
            .collect()
    };
    (missing(base, new), missing(new, base))
}

/// Which way a threshold looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Fails when the change is above the bound (`p99>+10%`).
    Above,
    /// Fails when it is below (`goodput<-5%`).
    Below,
}

/// One `--fail-if` term: `p99>+10%`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// The figure.
    pub metric: Metric,
    /// Above or below.
    pub direction: Direction,
    /// The bound, as a share (+0.10).
    pub bound: f64,
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Threshold, String> {
        let s = s.trim();
        let (name, direction, rest) = match (s.find('>'), s.find('<')) {
            (Some(i), None) => (&s[..i], Direction::Above, &s[i + 1..]),
            (None, Some(i)) => (&s[..i], Direction::Below, &s[i + 1..]),
            _ => return Err(format!("'{s}': expected FIGURE>+N% or FIGURE<-N%, e.g. p99>+10%")),
        };
        let metric = Metric::from_name(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            format!(
                "'{s}': unknown figure '{}' (one of {})",
                name.trim(),
                names.join(", ")
            )
        })?;
        let pct = rest
            .trim()
            .strip_suffix('%')
            .ok_or_else(|| format!("'{s}': the bound is a percentage, e.g. +10%"))?;
        let bound: f64 = pct
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| format!("'{s}': '{pct}' is not a number"))?;
        Ok(Threshold {
            metric,
            direction,
            bound: bound / 100.0,
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.direction {
            Direction::Above => '>',
            Direction::Below => '<',
        };
        write!(f, "{}{op}{:+}%", self.metric.name(), self.bound * 100.0)
    }
}

impl Threshold {
    /// Whether `row` crosses it: its change passes the bound and, when the change has an
    /// interval, differs from no change at 95 % (noise does not fail a gate).
    pub fn crossed_by(&self, row: &Row) -> bool {
        if row.metric != self.metric || row.verdict == Verdict::NoDifference {
            return false;
        }
        match self.direction {
            Direction::Above => row.change.point > self.bound,
            Direction::Below => row.change.point < self.bound,
        }
    }
}

/// Every (row, threshold) crossed, as lines: `async p99 +12.3 % [+8.1, +16.7] crossed p99>+10%`.
pub(crate) fn crossed(rows: &[Row], thresholds: &[Threshold]) -> Vec<String> {
    rows.iter()
        .flat_map(|r| {
            thresholds.iter().filter(|t| t.crossed_by(r)).map(move |t| {
                format!(
                    "{} {} {} crossed {t}",
                    r.key,
                    r.metric.name(),
                    r.change.describe()
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(rounds: u32, goodput: Vec<f64>, p99: Vec<f64>) -> Side {
        Side {
            kind: "run",
            config: serde_json::json!({"concurrency": 50}),
            rounds,
            rows: vec![("async".into(), [Some(goodput), None, Some(p99), None])],
        }
    }

    #[test]
    fn thresholds_parse_and_refuse_what_they_cannot_read() {
        let t: Threshold = "p99>+10%".parse().unwrap();
        assert_eq!(
            (t.metric, t.direction, t.bound),
            (Metric::P99, Direction::Above, 0.1)
        );
        let t: Threshold = " goodput < -5% ".parse().unwrap();
        assert_eq!(
            (t.metric, t.direction, t.bound),
            (Metric::Goodput, Direction::Below, -0.05)
        );
        assert_eq!(t.to_string(), "goodput<-5%");
        for bad in ["p99=+10%", "p95>+10%", "p99>+10", "p99>ten%", "p99>+10%<"] {
            assert!(bad.parse::<Threshold>().is_err(), "{bad}");
        }
    }

    /// A threshold fails on a change past its bound that is a difference at 95 %; a change
    /// past the bound but within the noise does not, and one without an interval does.
    #[test]
    fn thresholds_cross_only_past_their_bound_and_outside_the_noise() {
        let base = side(3, vec![100.0, 101.0, 99.0], vec![200.0, 202.0, 198.0]);
        let slower = side(3, vec![90.0, 91.0, 89.0], vec![230.0, 232.0, 228.0]);
        let rows = diff(&base, &slower, false).unwrap();
        let gates: Vec<Threshold> = ["p99>+10%", "goodput<-5%", "cpu_per_req>+10%"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let hit = crossed(&rows, &gates);
        assert_eq!(hit.len(), 2, "{hit:?}");
        assert!(hit[0].starts_with("async goodput −10.0 % [") && hit[0].ends_with("crossed goodput<-5%"));
        assert!(hit[1].contains("p99 +15.0 %") && hit[1].ends_with("crossed p99>+10%"));
        // At the bound is not past it.
        let at: Threshold = "goodput<-10%".parse().unwrap();
        let g = rows.iter().find(|r| r.metric == Metric::Goodput).unwrap();
        assert!((g.change.point + 0.1).abs() < 1e-3);
        assert_eq!(at.crossed_by(g), g.change.point < -0.1);
        // Past the bound in the mean, but the rounds are too noisy to tell: no failure.
        let noisy = side(3, vec![60.0, 120.0, 90.0], vec![200.0, 202.0, 198.0]);
        let rows = diff(&base, &noisy, false).unwrap();
        let g = rows.iter().find(|r| r.metric == Metric::Goodput).unwrap();
        assert!(g.change.point < -0.05 && g.verdict == Verdict::NoDifference);
        assert!(crossed(&rows, &gates).is_empty());
        // One round each: the point alone decides.
        let rows = diff(
            &side(1, vec![100.0], vec![200.0]),
            &side(1, vec![94.0], vec![200.0]),
            false,
        )
        .unwrap();
        assert_eq!(crossed(&rows, &gates).len(), 1);
    }

    #[test]
    fn incompatible_runs_are_refused_and_named() {
        let base = side(3, vec![100.0, 101.0], vec![200.0, 201.0]);
        let mut other = base.clone();
        other.config = serde_json::json!({"concurrency": 100});
        let err = diff(&base, &other, false).unwrap_err();
        assert_eq!(
            err,
            DiffError::Config(vec!["config.concurrency: 50 → 100".into()])
        );
        assert!(diff(&base, &other, true).is_ok(), "allowed, it compares");
        let mut sweep = base.clone();
        sweep.kind = "sweep";
        assert_eq!(
            diff(&base, &sweep, true).unwrap_err(),
            DiffError::Kinds {
                base: "run",
                new: "sweep"
            }
        );
        let mut elsewhere = base.clone();
        elsewhere.rows[0].0 = "threadpool".into();
        assert_eq!(diff(&base, &elsewhere, false).unwrap_err(), DiffError::Disjoint);
    }

    /// What one side has and the other lacks is named, each side's in its own order; what
    /// both have is compared as before.
    #[test]
    fn keys_on_one_side_only_are_named() {
        let base = side(3, vec![100.0, 101.0], vec![200.0, 201.0]);
        let mut wider = base.clone();
        for k in ["threadpool", "batched"] {
            wider.rows.push((k.into(), base.rows[0].1.clone()));
        }
        assert_eq!(
            unmatched(&wider, &base),
            (vec!["threadpool".into(), "batched".into()], vec![])
        );
        assert_eq!(
            unmatched(&base, &wider),
            (vec![], vec!["threadpool".into(), "batched".into()])
        );
        assert_eq!(unmatched(&base, &base), (vec![], vec![]));
        assert_eq!(
            diff(&wider, &base, false).unwrap().len(),
            2,
            "async's two figures"
        );
    }
}
