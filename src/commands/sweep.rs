//! `sweep`: every point of the swept setting through the run core (each strategy on a target in
//! a known state), a folder of reports per point, `sweep.json` with the recommendation, and the
//! sweep charts. A signal or a dead target ends the sweep after the point in progress, whose
//! partial results are kept and marked; the sweep's files are written all the same.

use crate::cli::SweepArgs;
use crate::commands::find;
use crate::commands::run_watched;
use crate::commands::{Finish, finish_run};
use crate::engine::run::{Incomplete, Session, summary};
use crate::engine::stop::StopToken;
use crate::model::error::RunError;
use crate::model::provenance::Provenance;
use crate::model::recommend::{Chosen, best_strategy, recommend_for};
use crate::model::report::{Isolation, StrategyReport};
use crate::model::search::{CurvePoint, over_saturated};
use crate::model::strategy::Strategy;
use crate::model::sweep::{
    AutoProbe, Axis, Criteria, PointResult, Recommendation, SweepPlan, SweepPoint, SweepReport,
    concurrency_points, fmt_setting, point_folder, rate_points, saturation,
};
use crate::output::files::write_file;
use crate::output::files::{prepare_out, write_run};
use crate::output::sweep::{render, sweep_charts};
use crate::plan::config::{Plan, RunConfig};

/// Probes for the points of an automatic sweep, on the first strategy: doubling concurrencies
/// until goodput stops growing, or the rates of one request at a time and of the closed loop at
/// `-c`. The probe runs are not kept as points.
fn probe(
    base: &Plan,
    plan: &SweepPlan,
    session: &Session,
    provenance: &Provenance,
) -> Result<(Axis, AutoProbe), RunError> {
    let prober = Prober {
        base,
        session,
        provenance,
    };
    match plan {
        SweepPlan::Fixed(axis) => Ok((
            axis.clone(),
            AutoProbe {
                strategy: base.strategies[0],
                probes: Vec::new(),
                saturation: 0.0,
                note: String::new(),
            },
        )),
        SweepPlan::AutoConcurrency => prober.concurrencies(),
        SweepPlan::AutoRate => prober.rates(),
    }
}

/// What a probe runs on: the sweep's base plan, its session, its provenance.
struct Prober<'a> {
    base: &'a Plan,
    session: &'a Session,
    provenance: &'a Provenance,
}

impl Prober<'_> {
    /// One probe: `s` alone on `cfg`, one round, nothing written; its goodput.
    fn goodput(&self, cfg: &RunConfig, s: Strategy) -> Result<f64, RunError> {
        // A probe finds where to put the points; one round is enough for that.
        let cfg = RunConfig {
            strategies: vec![s],
            out: None,
            rounds: 1,
            ..cfg.clone()
        };
        let position = format!("probe {s}: concurrency {}", cfg.concurrency);
        let r = run_watched(
            &self.base.derived(cfg)?,
            self.session,
            self.provenance,
            Some(position),
        )?;
        Ok(r.report.strategies.first().map_or(0.0, |s| s.goodput_rps))
    }

    /// `--concurrency auto` points: every strategy is probed, as they saturate at different
    /// concurrencies (a thread pool long before tokio), and the points must reach the last of
    /// them.
    fn concurrencies(&self) -> Result<(Axis, AutoProbe), RunError> {
        let (base, stop) = (self.base, &self.session.stop);
        let mut probed: Vec<Probed> = Vec::new();
        for &s in &base.strategies {
            let probes = double_until_flat(base, s, stop, |cfg| self.goodput(cfg, s))?;
            let sat = saturation(&probes);
            probed.push((s, probes, sat));
            if stop.requested().is_some() {
                break;
            }
        }
        let Some((strategy, probes, sat)) = probed.iter().max_by(|a, b| a.2.total_cmp(&b.2)).cloned() else {
            return Err(RunError::Setup {
                what: "automatic sweep",
                source: "no strategy was probed".into(),
            });
        };
        let points = concurrency_points(sat as u64);
        let each: Vec<String> = probed.iter().map(|(s, _, c)| format!("C={c} for {s}")).collect();
        let note = format!(
            "goodput grew less than 10 % past {}; points up to the largest and one doubling past",
            each.join(", ")
        );
        let auto = AutoProbe {
            strategy,
            probes,
            saturation: sat,
            note,
        };
        Ok((Axis::Concurrency(points), auto))
    }

    /// `--rate auto` points: evenly spaced from the first strategy's rate one request at a time
    /// to its closed loop's at `-c`.
    fn rates(&self) -> Result<(Axis, AutoProbe), RunError> {
        let (base, strategy) = (self.base, self.base.strategies[0]);
        let closed = RunConfig {
            load: crate::model::plan::Load::Closed,
            ..base.config().clone()
        };
        let one_at_a_time = RunConfig {
            concurrency: 1,
            batch_size: 1,
            ..closed.clone()
        };
        let lo = self.goodput(&one_at_a_time, strategy)?;
        let hi = self.goodput(&closed, strategy)?;
        if !base.quiet {
            eprintln!(
                "probe {strategy}: {lo:.1} ok/s one at a time, {hi:.1} ok/s at C={}",
                base.concurrency
            );
        }
        let note = format!(
            "{strategy}: {lo:.1} requests/s one at a time to {hi:.1} requests/s at C={} (the closed loop's throughput), evenly spaced",
            base.concurrency
        );
        let auto = AutoProbe {
            strategy,
            probes: vec![(1.0, lo), (base.concurrency as f64, hi)],
            saturation: hi,
            note,
        };
        Ok((Axis::Rate(rate_points(lo, hi, 6)), auto))
    }
}

/// One strategy's doubling probe: the strategy, each probe's (concurrency, goodput), and where
/// it saturated.
type Probed = (Strategy, Vec<(f64, f64)>, f64);

/// Doubles `s`'s concurrency from 1 until goodput grows less than 10 %, every request of the run
/// is in flight at once (more cannot help), 4096 are, or a stop is asked for; each probe's
/// (concurrency, goodput).
fn double_until_flat(
    base: &RunConfig,
    s: Strategy,
    stop: &StopToken,
    run: impl Fn(&RunConfig) -> Result<f64, RunError>,
) -> Result<Vec<(f64, f64)>, RunError> {
    let mut probes = Vec::new();
    let mut c = 1u64;
    loop {
        let g = run(&RunConfig {
            concurrency: c,
            batch_size: c,
            ..base.clone()
        })?;
        if !base.quiet {
            eprintln!("probe C={c} {s:<12} {g:>9.1} ok/s");
        }
        probes.push((c as f64, g));
        let n = probes.len();
        let flat = n >= 2 && probes[n - 1].1 < 1.10 * probes[n - 2].1;
        let all_in_flight = base.stop.count().is_some_and(|n| c >= n);
        if flat || all_in_flight || c >= 4096 || stop.requested().is_some() {
            return Ok(probes);
        }
        c *= 2;
    }
}

/// Runs the sweep; with `out`, writes `sweep.json`, the sweep charts and one folder per point.
/// Returns the report and why it ended early, if it did.
pub fn sweep(
    base: &RunConfig,
    plan: &SweepPlan,
    criteria: Criteria,
) -> Result<(SweepReport, Finish), RunError> {
    let base = Plan::new(base.clone())?;
    let (report, finish, write_error) = sweep_measuring_on(&base, plan, criteria, false, &StopToken::new())?;
    match write_error {
        Some(e) => Err(e),
        None => Ok((report, finish)),
    }
}

/// [`sweep`], but a file that cannot be written (a full disk) does not end it: the first such
/// error is said at once and returned beside the report, no more files are written, and every
/// point is still measured so the table can be printed.
pub(crate) fn sweep_measuring_on(
    base: &Plan,
    plan: &SweepPlan,
    criteria: Criteria,
    all_points: bool,
    stop: &StopToken,
) -> Result<(SweepReport, Finish, Option<RunError>), RunError> {
    // Reachability first (an external target), then the output folder.
    let session = open(base, stop)?;
    let provenance = Provenance::capture();
    let (axis, auto) = probe(base, plan, &session, &provenance)?;
    let auto = (!matches!(plan, SweepPlan::Fixed(_))).then_some(auto);
    let mut swept = Swept::new();
    swept.run(base, &axis, &session, &provenance, all_points)?;
    let chosen = if auto.is_some() {
        Chosen::Automatic
    } else {
        Chosen::Listed
    };
    let (recommendations, per_point, best) =
        verdicts(&axis, &base.strategies, &swept.points, criteria, chosen);
    let incomplete_reason = swept.incomplete.map(|(why, v)| ended_early(axis.name(), why, v));
    let report = SweepReport {
        provenance: provenance.ended(),
        axis: axis.name().into(),
        axis_label: axis.label().into(),
        slo_p99_ms: criteria.slo_p99_ms,
        max_429_share: criteria.max_429_share,
        min_good_share: criteria.min_good_share,
        config: summary(&axis.apply(base, 0), &session, swept.isolation),
        knees: crate::model::search::knees(&swept.points),
        points: swept.points,
        recommendations,
        best,
        per_point,
        auto,
        search: Vec::new(),
        find: None,
        stopped_early: swept.stopped_early,
        complete: incomplete_reason.is_none(),
        incomplete_reason,
    };
    let mut write_error = swept.write_error;
    if let Some(out) = base.out.as_ref().filter(|_| write_error.is_none())
        && let Err(e) = write_sweep(out, &report)
    {
        keep_failure(e, "sweep", &mut write_error);
    }
    Ok((report, swept.finish, write_error))
}

/// A sweep's points as they are run, and how the run went.
struct Swept {
    points: Vec<SweepPoint>,
    finish: Finish,
    /// Why and at which setting it ended before its last point.
    incomplete: Option<(Incomplete, f64)>,
    isolation: Isolation,
    /// The first file that could not be written.
    write_error: Option<RunError>,
    /// Why the escalation stopped before the last point.
    stopped_early: Option<String>,
}

impl Swept {
    fn new() -> Swept {
        Swept {
            points: Vec::new(),
            finish: Finish::Ok,
            incomplete: None,
            isolation: Isolation::FreshMock,
            write_error: None,
            stopped_early: None,
        }
    }

    /// Every point of `axis` in turn, until the last, an interruption, or (a rising list of
    /// concurrencies, rates or batch sizes, without `--all-points`) the second over-saturated
    /// step in a row.
    fn run(
        &mut self,
        base: &Plan,
        axis: &Axis,
        session: &Session,
        provenance: &Provenance,
        all_points: bool,
    ) -> Result<(), RunError> {
        let values = axis.values();
        let escalates = !all_points
            && matches!(axis, Axis::Concurrency(_) | Axis::Rate(_) | Axis::BatchSize(_))
            && values.windows(2).all(|w| w[1] > w[0]);
        let mut saturated_steps = 0;
        for (i, v) in values.iter().copied().enumerate() {
            let position = format!(
                "point {} of {}: {} ({i} done)",
                i + 1,
                values.len(),
                fmt_setting(axis.name(), v)
            );
            if !self.point(base, axis, i, session, provenance, position)? {
                break;
            }
            if !escalates {
                continue;
            }
            let Some(why) = saturated_step(&self.points) else {
                saturated_steps = 0;
                continue;
            };
            saturated_steps += 1;
            if saturated_steps >= 2 && i + 1 < values.len() {
                let note = format!(
                    "{why}, the second step in a row: the points past {} were not run (--all-points runs them)",
                    fmt_setting(axis.name(), v)
                );
                if !base.quiet {
                    eprintln!("asyncbench: {note}");
                }
                self.stopped_early = Some(note);
                break;
            }
        }
        Ok(())
    }

    /// The `i`th point: run, said, written in its own folder (while files can be written), and
    /// kept. False when it was cut short.
    fn point(
        &mut self,
        base: &Plan,
        axis: &Axis,
        i: usize,
        session: &Session,
        provenance: &Provenance,
        position: String,
    ) -> Result<bool, RunError> {
        let v = axis.values()[i];
        let mut cfg = axis.apply(base, i);
        let dir = point_dir(
            base,
            &point_folder(axis.name(), v, None),
            "sweep",
            &mut self.write_error,
        );
        cfg.out = dir.clone();
        let cfg = base.derived(cfg)?;
        let results = run_watched(&cfg, session, provenance, Some(position))?;
        self.isolation = results.report.config.isolation;
        if !cfg.quiet {
            say_point(axis.name(), v, &results.report.strategies);
        }
        if let Some(dir) = &dir
            && let Err(e) = write_run(dir, &results.report, &results.intervals, results.requests_log)
        {
            keep_failure(e, "sweep", &mut self.write_error);
        }
        if let Some(w) = results.report.log_warning() {
            eprintln!("asyncbench: warning: {w}");
        }
        self.finish = self.finish.worst(finish_run(&results.report, results.incomplete));
        self.points.push(SweepPoint {
            setting: v,
            results: results.report.strategies.iter().map(PointResult::of).collect(),
            complete: results.incomplete.is_none(),
        });
        self.incomplete = results.incomplete.map(|why| (why, v));
        Ok(results.incomplete.is_none())
    }
}

/// The session (an unreachable target fails here), then the output folder, prepared.
pub(super) fn open(base: &Plan, stop: &StopToken) -> Result<Session, RunError> {
    let session = Session::open(base, stop)?;
    if let Some(out) = &base.out {
        prepare_out(out, base.force)?;
    }
    Ok(session)
}

/// A point's folder under `--out`'s `points/`, created; `None` without `--out` or once a file
/// could not be written (the first failure kept in `slot`, and said).
pub(super) fn point_dir(
    base: &Plan,
    name: &str,
    what: &str,
    slot: &mut Option<RunError>,
) -> Option<std::path::PathBuf> {
    let dir = base
        .out
        .as_ref()
        .filter(|_| slot.is_none())?
        .join("points")
        .join(name);
    match std::fs::create_dir_all(&dir) {
        Ok(()) => Some(dir),
        Err(source) => {
            let path = dir.display().to_string();
            keep_failure(RunError::Write { path, source }, what, slot);
            None
        }
    }
}

/// A file that could not be written: said at once, the first kept for the command's end, and
/// the `what` (sweep or search) goes on measuring without writing more.
pub(super) fn keep_failure(e: RunError, what: &str, slot: &mut Option<RunError>) {
    eprintln!("asyncbench: warning: {e}; the {what} goes on measuring and writes no more files");
    slot.get_or_insert(e);
}

/// The strategy and setting with the best recommended goodput.
pub(super) fn best_of(recommendations: &[Recommendation]) -> Option<Recommendation> {
    recommendations
        .iter()
        .filter(|r| r.setting.is_some())
        .max_by(|a, b| {
            a.goodput_rps
                .unwrap_or(0.0)
                .total_cmp(&b.goodput_rps.unwrap_or(0.0))
        })
        .cloned()
}

/// One line per strategy on stderr as each point ends.
fn say_point(axis: &str, v: f64, strategies: &[StrategyReport]) {
    for r in strategies {
        let p = PointResult::of(r);
        eprintln!(
            "{} {:<12} {:>9.1} ok/s  p99 {:>8} ms  429s {:>5.1} %  {}",
            fmt_setting(axis, v),
            r.id.to_string(),
            r.goodput_rps,
            p.p99_ms.map_or("-".to_owned(), |x| format!("{x:.1}")),
            100.0 * p.share_429,
            r.accounted
        );
    }
}

/// The sweep's verdicts: a recommendation per strategy, the best of them, and for a
/// `--cpu-work` sweep the strategy to use at each point instead (CPU work is the workload's,
/// not a setting to pick).
fn verdicts(
    axis: &Axis,
    strategies: &[Strategy],
    points: &[SweepPoint],
    criteria: Criteria,
    chosen: Chosen,
) -> (Vec<Recommendation>, Vec<Recommendation>, Option<Recommendation>) {
    let per_work = matches!(axis, Axis::CpuWork(_));
    let recommendations: Vec<Recommendation> = strategies
        .iter()
        .map(|s| match per_work {
            false => recommend_for(axis.name(), *s, points, criteria, chosen),
            true => Recommendation {
                strategy: *s,
                setting: None,
                goodput_rps: None,
                reason: "CPU work is a property of the workload, not a setting: see the strategy to use at each point".into(),
            },
        })
        .collect();
    let per_point: Vec<Recommendation> = if per_work {
        points
            .iter()
            .map(|p| best_strategy(axis.name(), p, criteria))
            .collect()
    } else {
        Vec::new()
    };
    let best = best_of(&recommendations);
    (recommendations, per_point, best)
}

/// Why a sweep ended before its last point, naming the point.
pub(super) fn ended_early(axis: &str, why: Incomplete, v: f64) -> String {
    let at = fmt_setting(axis, v);
    match why {
        Incomplete::Signal(s) => format!("interrupted by {} at {at}; later points did not run", s.name()),
        Incomplete::TargetDied(s) => {
            format!("the target stopped answering at {at} ({s}); later points did not run")
        }
        Incomplete::ClientFailed(s) => format!("the client {s} failed at {at}; its points are left out"),
    }
}

/// `sweep.json`, the sweep's charts and its page.
pub(super) fn write_sweep(out: &std::path::Path, report: &SweepReport) -> Result<(), RunError> {
    let json = serde_json::to_string_pretty(report).map_err(|e| RunError::write("sweep.json", e))?;
    write_file(&out.join("sweep.json"), json.as_bytes())?;
    sweep_charts(out, report)?;
    write_file(
        &out.join("report.html"),
        crate::output::html::sweep_page(report, out).as_bytes(),
    )
}

/// The command: sweep (or, with `--find`, search), print the table and the recommendation,
/// and say how it ended.
pub(crate) fn execute(args: &SweepArgs, stop: &StopToken) -> Result<Finish, RunError> {
    let criteria = Criteria {
        slo_p99_ms: args.slo_p99.map(|d| d.as_secs_f64() * 1000.0),
        max_429_share: args.max_429,
        min_good_share: args.min_good,
    };
    let (report, finish, write_error, out) = match args.find {
        Some(find) => {
            let (cfg, find) = find::find_plan(args, find)?;
            for w in crate::commands::compare::settings_warnings(&cfg) {
                eprintln!("asyncbench: warning: {w}");
            }
            let budget = find::Budget {
                requests: args.budget_requests,
                time: args.budget_time,
            };
            let (r, f, e) = find::find_measuring_on(&cfg, find, args.resolution, budget, criteria, stop)?;
            (r, f, e, cfg.out.clone())
        }
        None => {
            let (cfg, plan) = args.to_sweep()?;
            for w in crate::commands::compare::settings_warnings(&cfg) {
                eprintln!("asyncbench: warning: {w}");
            }
            let (r, f, e) = sweep_measuring_on(&cfg, &plan, criteria, args.all_points, stop)?;
            (r, f, e, cfg.out.clone())
        }
    };
    let format = args.common.format();
    let table = render(&report)
        + &crate::output::table::wrap(&format!("machine: {}", report.provenance.machine.summary()));
    let data = crate::commands::compare::data(format, &report, || crate::output::sweep::csv(&report))?;
    crate::commands::compare::emit(&table, data)?;
    // The table is out; now the files' failure, if one came, is the command's.
    if let Some(e) = write_error {
        return Err(e);
    }
    if let Some(out) = &out {
        crate::commands::compare::say(format, &format!("wrote {}", out.display()))?;
    }
    // No success anywhere in the sweep is one failure; a point with none is only a data point.
    let any_ok = report
        .points
        .iter()
        .flat_map(|p| &p.results)
        .any(|r| r.goodput_rps > 0.0);
    Ok(match finish {
        Finish::NoSuccess if any_ok => Finish::Ok,
        f => f,
    })
}

/// The last step of a sweep, when every strategy measured on both sides of it was
/// over-saturated there: what each showed.
fn saturated_step(points: &[SweepPoint]) -> Option<String> {
    let [.., a, b] = points else { return None };
    let whys: Vec<String> = b
        .results
        .iter()
        .map(|r| {
            let before = a.results.iter().find(|x| x.strategy == r.strategy)?;
            over_saturated(&CurvePoint::of(a.setting, before), &CurvePoint::of(b.setting, r))
                .map(|w| format!("{}: {w}", r.strategy))
        })
        .collect::<Option<Vec<_>>>()?;
    (!whys.is_empty()).then(|| whys.join("; "))
}
