//! `sweep --find`: for each strategy a [`Search`] over one setting (doubling, then bisection
//! to a resolution), each point run through the run core like a sweep's and kept in the same
//! `sweep.json` shape, each strategy's search and its answer beside.

use std::time::Instant;

use crate::cli::SweepArgs;
use crate::commands::sweep::{best_of, ended_early, keep_failure, open, point_dir, write_sweep};
use crate::commands::{Finish, finish_run, run_watched};
use crate::engine::run::{Incomplete, Session, summary};
use crate::engine::stop::StopToken;
use crate::model::error::RunError;
use crate::model::provenance::Provenance;
use crate::model::recommend::broken_limits;
use crate::model::report::Isolation;
use crate::model::search::{
    CurvePoint, Find, FindSetting, Search, SearchEnd, SearchResult, grid_points, over_saturated,
};
use crate::model::strategy::Strategy;
use crate::model::sweep::{
    Axis, Criteria, PointResult, Recommendation, SweepPoint, SweepReport, fmt_setting, point_folder,
};
use crate::output::files::write_run;
use crate::plan::config::Plan;

/// The base plan of a `--find` search: every other flag a single value, and the setting
/// searched one that the strategies have; and the range searched, its top at most what a point
/// can run (see [`in_effect`]).
pub(super) fn find_plan(args: &SweepArgs, find: Find) -> Result<(Plan, Find), RunError> {
    let refuse = |why: &'static str| {
        RunError::Config(crate::model::error::ConfigError::Invalid {
            name: "--find",
            value: find.setting.name().into(),
            why,
        })
    };
    if args.common.concurrency.len() > 1 || args.common.rate.len() > 1 || args.common.batch_size.len() > 1 {
        return Err(refuse(
            "searches one setting: give the others one value each, not a list",
        ));
    }
    args.no_print_requests()?;
    let axis = axis_at(find.setting, find.from);
    let cfg = args.common.to_config(args.chosen(Some(&axis)))?;
    SweepArgs::all_changed_by(&cfg, &axis)?;
    if cfg.load.adaptive().is_some() {
        return Err(refuse("searches a fixed setting: not with --concurrency auto"));
    }
    let find = in_effect(&cfg, find)?;
    Ok((cfg, find))
}

/// The range cut to what runs: no point has more in flight, or in a batch, than the `-n`
/// requests there are (each strategy's effective concurrency, the runners' rule, on the whole
/// run), so `--find concurrency=4..128 -n 20` probed 32, 64 and 128, each run as 20. The top is
/// lowered to the largest value that runs as itself (a warning says so); a range all above it is
/// refused.
fn in_effect(cfg: &Plan, find: Find) -> Result<Find, RunError> {
    let top = runs_as(cfg, find.setting, find.to);
    if top >= find.to {
        return Ok(find);
    }
    let name = find.setting.name();
    if find.from > top {
        return Err(RunError::Config(crate::model::error::ConfigError::Invalid {
            name: "--find",
            value: format!("{name}={}..{}", find.from, find.to),
            why: "runs every value as the -n requests there are: no point has more in flight, or in a batch; give a larger -n or a lower range",
        }));
    }
    eprintln!(
        "asyncbench: warning: --find {name} searches up to {top}, not {}: no point has more in flight, or in a batch, than the -n {top} requests there are",
        find.to
    );
    Ok(Find { to: top, ..find })
}

/// What a search may spend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Requests sent in all.
    pub requests: Option<u64>,
    /// Time since the search began.
    pub time: Option<std::time::Duration>,
}

/// `--find`: for each strategy in turn, [`Search`] over the setting: each point run once, and
/// again with three rounds when its verdict is within the noise of a limit; escalation stopped
/// at over-saturation. Every point is kept (`sweep.json` shape), each strategy's search beside.
pub(crate) fn find_measuring_on(
    base: &Plan,
    find: Find,
    resolution: f64,
    budget: Budget,
    criteria: Criteria,
    stop: &StopToken,
) -> Result<(SweepReport, Finish, Option<RunError>), RunError> {
    let mut run = Searching {
        session: open(base, stop)?,
        provenance: Provenance::capture(),
        started: Instant::now(),
        base,
        find,
        budget,
        criteria,
        axis_name: axis_at(find.setting, find.from).name(),
        measured: Vec::new(),
        finish: Finish::Ok,
        incomplete: None,
        isolation: Isolation::FreshMock,
        write_error: None,
        spent: 0,
    };
    let mut searches = Vec::new();
    for &s in &base.strategies {
        let (result, interrupted) = run.search(s, resolution, stop)?;
        searches.push(result);
        // A signal, a dead target or a failed client ends the search where it is, and the run.
        if interrupted {
            break;
        }
    }
    let points = by_setting(std::mem::take(&mut run.measured));
    let recommendations = recommendations(&searches, &points);
    let best = best_of(&recommendations);
    let incomplete_reason = run.incomplete.map(|(why, v)| ended_early(run.axis_name, why, v));
    let first = axis_at(find.setting, find.from);
    let report = SweepReport {
        provenance: run.provenance.ended(),
        axis: run.axis_name.into(),
        axis_label: first.label().into(),
        slo_p99_ms: criteria.slo_p99_ms,
        max_429_share: criteria.max_429_share,
        min_good_share: criteria.min_good_share,
        config: summary(&first.apply(base, 0), &run.session, run.isolation),
        knees: crate::model::search::knees(&points),
        points,
        recommendations,
        best,
        per_point: Vec::new(),
        auto: None,
        search: searches,
        find: Some(find),
        stopped_early: None,
        complete: incomplete_reason.is_none(),
        incomplete_reason,
    };
    let mut write_error = run.write_error;
    if let Some(out) = base.out.as_ref().filter(|_| write_error.is_none())
        && let Err(e) = write_sweep(out, &report)
    {
        write_error.get_or_insert(e);
    }
    Ok((report, run.finish, write_error))
}

/// The value a point of the setting at `v` runs: at most the requests there are for a
/// concurrency or a batch (the most any strategy runs), `v` itself for a rate or inputs a request.
fn runs_as(cfg: &Plan, setting: FindSetting, v: f64) -> f64 {
    axis_at(setting, v)
        .runs_at(cfg.config(), 0)
        .and_then(|ran| ran.into_iter().flatten().max())
        .map_or(v, |c| c as f64)
}

/// The one-value axis of the setting searched, at `v`.
fn axis_at(setting: FindSetting, v: f64) -> Axis {
    match setting {
        FindSetting::Concurrency => Axis::Concurrency(vec![v as u64]),
        FindSetting::BatchSize => Axis::BatchSize(vec![v as u64]),
        FindSetting::Rate => Axis::Rate(vec![v]),
    }
}

/// A search in progress over every strategy: the session and what was measured and spent.
struct Searching<'a> {
    base: &'a Plan,
    find: Find,
    budget: Budget,
    criteria: Criteria,
    session: Session,
    provenance: Provenance,
    started: Instant,
    axis_name: &'static str,
    /// Every point measured: setting, figures, whether it ran whole.
    measured: Vec<(f64, PointResult, bool)>,
    finish: Finish,
    incomplete: Option<(Incomplete, f64)>,
    isolation: Isolation,
    write_error: Option<RunError>,
    /// Requests sent by every search so far (the budget's count).
    spent: u64,
}

/// One point of a search, measured.
enum Measured {
    /// Its figures, the run whole.
    Point(Box<PointResult>),
    /// Cut short by a signal, a dead target or a failed client (what it had is kept).
    Interrupted,
    /// No figures at all (the run reported no strategy).
    Nothing,
}

impl Searching<'_> {
    /// One strategy's search: its result, and whether it was interrupted.
    fn search(
        &mut self,
        s: Strategy,
        resolution: f64,
        stop: &StopToken,
    ) -> Result<(SearchResult, bool), RunError> {
        let whole = self.find.setting != FindSetting::Rate;
        let mut search = Search::new(self.find.from, self.find.to, resolution, whole);
        let (mut interrupted, mut out_of_budget) = (false, false);
        let (mut points, requests_before) = (0usize, self.spent);
        let mut last: Option<CurvePoint> = None;
        let mut stopped = None;
        while let Some(v) = search.next() {
            if self.over_budget() {
                out_of_budget = true;
                break;
            }
            let r = match self.measure(s, v, points)? {
                Measured::Point(r) => *r,
                Measured::Interrupted => {
                    interrupted = true;
                    break;
                }
                Measured::Nothing => break,
            };
            points += 1;
            let met = self.criteria.qualifies(&r);
            self.say_step(s, v, &r, met);
            let here = CurvePoint::of(v, &r);
            search.observe(v, met);
            if met && search.bracketing() {
                if let Some(why) = last.as_ref().and_then(|a| over_saturated(a, &here)) {
                    if !self.base.quiet {
                        eprintln!("{s}: {why}; escalation stops");
                    }
                    search.stop_escalating(v);
                    stopped = Some(why);
                }
                last = Some(here);
            }
            self.measured.push((v, r, true));
            if stop.requested().is_some() {
                interrupted = true;
                break;
            }
        }
        let end = search.end(out_of_budget || interrupted);
        // The top is where the count caps the setting: a larger -n, not range, goes further.
        let capped = runs_as(self.base, self.find.setting, self.find.to + 1.0) <= self.find.to;
        let reason = search_reason(
            self.axis_name,
            s,
            &end,
            (interrupted, capped),
            &self.measured,
            self.criteria,
        );
        let result = SearchResult {
            strategy: s,
            end,
            reason,
            stopped_escalating: stopped,
            points,
            requests: self.spent - requests_before,
            grid_points: grid_points(self.find.from, self.find.to, resolution, whole),
        };
        Ok((result, interrupted))
    }

    /// Whether the budget (requests sent, time since the search began) is spent.
    fn over_budget(&self) -> bool {
        self.budget.requests.is_some_and(|n| self.spent >= n)
            || self.budget.time.is_some_and(|t| self.started.elapsed() >= t)
    }

    /// Strategy `s` at `v`: the rounds asked for (one by default), then three when the verdict
    /// sits within the noise of a limit. `points` is how many this search measured before.
    fn measure(&mut self, s: Strategy, v: f64, points: usize) -> Result<Measured, RunError> {
        let base = self.base;
        let mut point = Measured::Nothing;
        for rounds in [base.rounds, 3] {
            let mut cfg = axis_at(self.find.setting, v).apply(base, 0);
            cfg.strategies = vec![s];
            cfg.rounds = rounds;
            let folder = point_folder(self.axis_name, v, Some(s));
            cfg.out = point_dir(base, &folder, "search", &mut self.write_error);
            let cfg = base.derived(cfg)?;
            let position = format!(
                "search {s}: {} (point {}, {} requests spent)",
                fmt_setting(self.axis_name, v),
                points + 1,
                self.spent
            );
            let results = run_watched(&cfg, &self.session, &self.provenance, Some(position))?;
            self.isolation = results.report.config.isolation;
            if let Some(dir) = &cfg.out
                && let Err(e) = write_run(dir, &results.report, &results.intervals, results.requests_log)
            {
                keep_failure(e, "search", &mut self.write_error);
            }
            if let Some(w) = results.report.log_warning() {
                eprintln!("asyncbench: warning: {w}");
            }
            self.finish = self.finish.worst(finish_run(&results.report, results.incomplete));
            self.spent += results.report.strategies.iter().map(|x| x.issued).sum::<u64>();
            let Some(r) = results.report.strategies.first().map(PointResult::of) else {
                return Ok(point);
            };
            if results.incomplete.is_some() {
                self.incomplete = results.incomplete.map(|why| (why, v));
                self.measured.push((v, r, false));
                return Ok(Measured::Interrupted);
            }
            let again = rounds == base.rounds && base.rounds < 3 && near_a_limit(&r, self.criteria);
            point = Measured::Point(Box::new(r));
            if !again {
                break;
            }
            if !base.quiet {
                eprintln!(
                    "{} {s:<12} within the noise of a limit: measuring again, 3 rounds",
                    fmt_setting(self.axis_name, v)
                );
            }
        }
        Ok(point)
    }

    /// One line on stderr for a point measured: its figures and whether it met the limits.
    fn say_step(&self, s: Strategy, v: f64, r: &PointResult, met: bool) {
        if self.base.quiet {
            return;
        }
        eprintln!(
            "{} {s:<12} {:>9.1} ok/s  p99 {:>8} ms  429s {:>5.1} %  {}",
            fmt_setting(self.axis_name, v),
            r.ranked_goodput(),
            r.p99_ms.map_or("-".to_owned(), |x| format!("{x:.1}")),
            100.0 * r.share_429,
            if met {
                "meets the limits".to_owned()
            } else {
                format!("breaks: {}", broken_limits(r, self.criteria))
            }
        );
    }
}

/// Points by setting, each with every strategy measured there.
fn by_setting(mut measured: Vec<(f64, PointResult, bool)>) -> Vec<SweepPoint> {
    measured.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut points: Vec<SweepPoint> = Vec::new();
    for (v, r, complete) in measured {
        match points.last_mut() {
            Some(p) if p.setting == v => {
                p.complete &= complete;
                p.results.push(r);
            }
            _ => points.push(SweepPoint {
                setting: v,
                results: vec![r],
                complete,
            }),
        }
    }
    points
}

/// Each search's answer as a recommendation, with the goodput measured at its value.
fn recommendations(searches: &[SearchResult], points: &[SweepPoint]) -> Vec<Recommendation> {
    searches
        .iter()
        .map(|x| {
            let value = match x.end {
                SearchEnd::Found { value, .. }
                | SearchEnd::AllMet { value }
                | SearchEnd::Saturated { value } => Some(value),
                SearchEnd::Budget { value, .. } => value,
                SearchEnd::NoneMet { .. } => None,
            };
            let goodput = value.and_then(|v| {
                points
                    .iter()
                    .find(|p| p.setting == v)
                    .and_then(|p| p.results.iter().find(|r| r.strategy == x.strategy))
                    .map(PointResult::ranked_goodput)
            });
            Recommendation {
                strategy: x.strategy,
                setting: value,
                goodput_rps: goodput,
                reason: x.reason.clone(),
            }
        })
        .collect()
}

/// Whether a point's verdict is within the noise of a limit: p99 within 10 % of the SLO, the
/// 429 share within half to twice its cap, the good share within a point of its floor.
fn near_a_limit(r: &PointResult, c: Criteria) -> bool {
    let p99 = matches!((c.slo_p99_ms, r.p99_ms), (Some(slo), Some(p)) if (p / slo - 1.0).abs() <= 0.10);
    let rejected =
        r.share_429 > 0.0 && r.share_429 >= 0.5 * c.max_429_share && r.share_429 <= 2.0 * c.max_429_share;
    let good = c
        .min_good_share
        .is_some_and(|m| (r.good_share() - m).abs() <= 0.01);
    p99 || rejected || good
}

/// A search's answer in words: the value and its figures, and the first value that broke a
/// limit with the limit it broke (`cut_short`: a signal or a dead target ended it, not the
/// budget; `capped`: the range's top is the most the -n requests can run).
fn search_reason(
    axis: &str,
    s: Strategy,
    end: &SearchEnd,
    (cut_short, capped): (bool, bool),
    measured: &[(f64, PointResult, bool)],
    c: Criteria,
) -> String {
    let at = |v: f64| {
        measured
            .iter()
            .rev()
            .find(|(x, r, _)| *x == v && r.strategy == s)
            .map(|(_, r, _)| r)
    };
    let figures = |v: f64| {
        at(v).map_or(String::new(), |r| {
            format!(
                " ({:.1} ok/s, p99 {}, 429s {:.1} %)",
                r.ranked_goodput(),
                r.p99_ms.map_or("-".into(), |p| format!("{p:.0} ms")),
                100.0 * r.share_429
            )
        })
    };
    let broke = |v: f64| at(v).map_or("a limit".into(), |r| broken_limits(r, c));
    match *end {
        SearchEnd::Found { value, broke_at } => format!(
            "{}{}: the largest meeting the limits; {} broke them ({})",
            fmt_setting(axis, value),
            figures(value),
            fmt_setting(axis, broke_at),
            broke(broke_at)
        ),
        SearchEnd::AllMet { value } => format!(
            "{}{}: the top of the range, and every value up to it met the limits ({})",
            fmt_setting(axis, value),
            figures(value),
            if capped {
                "the most the -n requests can run: give a larger -n"
            } else {
                "extend the range"
            }
        ),
        SearchEnd::Saturated { value } => format!(
            "{}{}: escalation stopped here, over-saturated; no limit was broken",
            fmt_setting(axis, value),
            figures(value)
        ),
        SearchEnd::NoneMet { broke_at } => format!(
            "none: the range's start {} already broke the limits ({})",
            fmt_setting(axis, broke_at),
            broke(broke_at)
        ),
        SearchEnd::Budget { value, broke_at } => format!(
            "{}: between {} and {}",
            if cut_short {
                "the search was cut short"
            } else {
                "the budget ran out"
            },
            value.map_or("nothing".into(), |v| format!(
                "{}{}",
                fmt_setting(axis, v),
                figures(v)
            )),
            broke_at.map_or("the range's top".into(), |v| fmt_setting(axis, v))
        ),
    }
}
