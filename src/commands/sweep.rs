//! `sweep`: every point of the swept setting through the run core (each strategy on a target in
//! a known state), a folder of reports per point, `sweep.json` with the recommendation, and the
//! sweep charts. A signal or a dead target ends the sweep after the point in progress, whose
//! partial results are kept and marked; the sweep's files are written all the same.

use crate::cli::SweepArgs;
use crate::commands::run_watched;
use crate::commands::{Finish, finish_run};
use crate::engine::run::{Incomplete, Session, summary};
use crate::engine::stop::StopToken;
use crate::model::error::RunError;
use crate::model::provenance::Provenance;
use crate::model::recommend::{Chosen, best_strategy, broken_limits, recommend_for};
use crate::model::report::{Isolation, StrategyReport};
use crate::model::search::{
    CurvePoint, Find, FindSetting, Search, SearchEnd, SearchResult, grid_points, over_saturated,
};
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
    let strategy = base.strategies[0];
    let stop = &session.stop;
    let run_one = |cfg: &RunConfig, s: Strategy| -> Result<f64, RunError> {
        // A probe finds where to put the points; one round is enough for that.
        let cfg = RunConfig {
            strategies: vec![s],
            out: None,
            rounds: 1,
            ..cfg.clone()
        };
        let position = format!("probe {s}: concurrency {}", cfg.concurrency);
        let r = run_watched(&base.derived(cfg)?, session, provenance, Some(position))?;
        Ok(r.report.strategies.first().map_or(0.0, |s| s.goodput_rps))
    };
    let run = |cfg: &RunConfig| run_one(cfg, strategy);
    match plan {
        SweepPlan::Fixed(axis) => Ok((
            axis.clone(),
            AutoProbe {
                strategy,
                probes: Vec::new(),
                saturation: 0.0,
                note: String::new(),
            },
        )),
        SweepPlan::AutoConcurrency => {
            // Every strategy is probed: they saturate at different concurrencies (a thread pool
            // long before tokio), and the points must reach the last of them.
            let mut probed: Vec<Probed> = Vec::new();
            for &s in &base.strategies {
                let probes = double_until_flat(base, s, stop, |cfg| run_one(cfg, s))?;
                let sat = saturation(&probes);
                probed.push((s, probes, sat));
                if stop.requested().is_some() {
                    break;
                }
            }
            let Some((strategy, probes, sat)) = probed.iter().max_by(|a, b| a.2.total_cmp(&b.2)).cloned()
            else {
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
            Ok((
                Axis::Concurrency(points),
                AutoProbe {
                    strategy,
                    probes,
                    saturation: sat,
                    note,
                },
            ))
        }
        SweepPlan::AutoRate => {
            let lo = run(&RunConfig {
                concurrency: 1,
                batch_size: 1,
                load: crate::model::plan::LoadModel::Closed,
                ..base.config().clone()
            })?;
            let hi = run(&RunConfig {
                load: crate::model::plan::LoadModel::Closed,
                ..base.config().clone()
            })?;
            if !base.quiet {
                eprintln!(
                    "probe {strategy}: {lo:.1} ok/s one at a time, {hi:.1} ok/s at C={}",
                    base.concurrency
                );
            }
            let points = rate_points(lo, hi, 6);
            let note = format!(
                "{strategy}: {lo:.1} requests/s one at a time to {hi:.1} requests/s at C={} (the closed loop's throughput), evenly spaced",
                base.concurrency
            );
            Ok((
                Axis::Rate(points),
                AutoProbe {
                    strategy,
                    probes: vec![(1.0, lo), (base.concurrency as f64, hi)],
                    saturation: hi,
                    note,
                },
            ))
        }
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
        let all_in_flight = base.workload.requests.is_some_and(|n| c >= n);
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
    let axis = &axis;
    let mut points = Vec::new();
    let mut finish = Finish::Ok;
    let mut incomplete = None;
    let mut isolation = Isolation::FreshMock;
    let mut write_error: Option<RunError> = None;
    // A rising list of concurrencies, rates or batch sizes stops once every strategy was
    // over-saturated twice in a row (unless --all-points).
    let values = axis.values();
    let escalates = !all_points
        && matches!(axis, Axis::Concurrency(_) | Axis::Rate(_) | Axis::BatchSize(_))
        && values.windows(2).all(|w| w[1] > w[0]);
    let mut saturated_steps = 0;
    let mut stopped_early = None;
    for (i, v) in values.iter().copied().enumerate() {
        let mut cfg = axis.apply(base, i);
        // Each point writes its own report (and request log) in its own folder, while files
        // can be written.
        let dir = point_dir(
            base,
            &point_folder(axis.name(), v, None),
            "sweep",
            &mut write_error,
        );
        cfg.out = dir.clone();
        let cfg = base.derived(cfg)?;
        let position = format!(
            "point {} of {}: {} ({i} done)",
            i + 1,
            values.len(),
            fmt_setting(axis.name(), v)
        );
        let results = run_watched(&cfg, &session, &provenance, Some(position))?;
        isolation = results.report.config.isolation;
        if !cfg.quiet {
            say_point(axis.name(), v, &results.report.strategies);
        }
        if let Some(dir) = &dir
            && let Err(e) = write_run(dir, &results.report, &results.intervals, results.requests_log)
        {
            keep_failure(e, "sweep", &mut write_error);
        }
        finish = finish.worst(finish_run(&results.report, results.incomplete));
        points.push(SweepPoint {
            setting: v,
            results: results.report.strategies.iter().map(PointResult::of).collect(),
            complete: results.incomplete.is_none(),
        });
        if results.incomplete.is_some() {
            incomplete = results.incomplete.map(|why| (why, v));
            break;
        }
        if escalates {
            match saturated_step(&points) {
                Some(why) => {
                    saturated_steps += 1;
                    if saturated_steps >= 2 && i + 1 < values.len() {
                        let note = format!(
                            "{why}, the second step in a row: the points past {} were not run (--all-points runs them)",
                            fmt_setting(axis.name(), v)
                        );
                        if !base.quiet {
                            eprintln!("asyncbench: {note}");
                        }
                        stopped_early = Some(note);
                        break;
                    }
                }
                None => saturated_steps = 0,
            }
        }
    }
    let chosen = if auto.is_some() {
        Chosen::Automatic
    } else {
        Chosen::Listed
    };
    let (recommendations, per_point, best) = verdicts(axis, &base.strategies, &points, criteria, chosen);
    let knees = crate::model::search::knees(&points);
    let incomplete_reason = incomplete.map(|(why, v)| ended_early(axis.name(), why, v));
    let report = SweepReport {
        provenance: provenance.ended(),
        axis: axis.name().into(),
        axis_label: axis.label().into(),
        slo_p99_ms: criteria.slo_p99_ms,
        max_429_share: criteria.max_429_share,
        min_good_share: criteria.min_good_share,
        config: summary(&axis.apply(base, 0), &session, isolation),
        points,
        recommendations,
        best,
        per_point,
        auto,
        knees,
        search: Vec::new(),
        find: None,
        stopped_early,
        complete: incomplete_reason.is_none(),
        incomplete_reason,
    };
    if let Some(out) = base.out.as_ref().filter(|_| write_error.is_none())
        && let Err(e) = write_sweep(out, &report)
    {
        keep_failure(e, "sweep", &mut write_error);
    }
    Ok((report, finish, write_error))
}

/// The session (an unreachable target fails here), then the output folder, prepared.
fn open(base: &Plan, stop: &StopToken) -> Result<Session, RunError> {
    let session = Session::open(base, stop)?;
    if let Some(out) = &base.out {
        prepare_out(out, base.force)?;
    }
    Ok(session)
}

/// A point's folder under `--out`'s `points/`, created; `None` without `--out` or once a file
/// could not be written (the first failure kept in `slot`, and said).
fn point_dir(base: &Plan, name: &str, what: &str, slot: &mut Option<RunError>) -> Option<std::path::PathBuf> {
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
fn keep_failure(e: RunError, what: &str, slot: &mut Option<RunError>) {
    eprintln!("asyncbench: warning: {e}; the {what} goes on measuring and writes no more files");
    slot.get_or_insert(e);
}

/// The strategy and setting with the best recommended goodput.
fn best_of(recommendations: &[Recommendation]) -> Option<Recommendation> {
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
fn ended_early(axis: &str, why: Incomplete, v: f64) -> String {
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
fn write_sweep(out: &std::path::Path, report: &SweepReport) -> Result<(), RunError> {
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
            let cfg = find_plan(args, find)?;
            for w in crate::commands::compare::settings_warnings(&cfg) {
                eprintln!("asyncbench: warning: {w}");
            }
            let budget = Budget {
                requests: args.budget_requests,
                time: args.budget_time,
            };
            let (r, f, e) = find_measuring_on(&cfg, find, args.resolution, budget, criteria, stop)?;
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

/// The base plan of a `--find` search: every other flag a single value, and the setting
/// searched one that the strategies have.
fn find_plan(args: &SweepArgs, find: Find) -> Result<Plan, RunError> {
    let refuse = |why: &'static str| {
        RunError::Config(crate::model::error::ConfigError::Invalid {
            name: "--find",
            value: format!("{:?}", find.setting).to_lowercase(),
            why,
        })
    };
    if args.common.concurrency.len() > 1 || args.common.rate.len() > 1 || args.common.batch_size.len() > 1 {
        return Err(refuse(
            "searches one setting: give the others one value each, not a list",
        ));
    }
    args.no_print_requests()?;
    if find.setting == FindSetting::BatchSize && !args.strategies.contains(&Strategy::Batched) {
        return Err(refuse(
            "batch-size is batched's setting: add batched to --strategies",
        ));
    }
    let cfg = args.common.to_config(args.strategies.clone())?;
    if cfg.adaptive.is_some() {
        return Err(refuse("searches a fixed setting: not with --concurrency auto"));
    }
    Ok(cfg)
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
    let session = open(base, stop)?;
    let provenance = Provenance::capture();
    let started = std::time::Instant::now();
    let axis_of = |v: f64| match find.setting {
        FindSetting::Concurrency => Axis::Concurrency(vec![v as u64]),
        FindSetting::BatchSize => Axis::BatchSize(vec![v as u64]),
        FindSetting::Rate => Axis::Rate(vec![v]),
    };
    let axis_name = axis_of(find.from).name();
    let whole = find.setting != FindSetting::Rate;
    let mut measured: Vec<(f64, PointResult, bool)> = Vec::new();
    let mut searches = Vec::new();
    let mut finish = Finish::Ok;
    let mut incomplete = None;
    let mut isolation = Isolation::FreshMock;
    let mut write_error: Option<RunError> = None;
    let mut spent = 0u64;
    for &s in &base.strategies {
        let mut search = Search::new(find.from, find.to, resolution, whole);
        // A signal, a dead target or a failed client: this search ends where it is, and so
        // does the run.
        let mut interrupted = false;
        let (mut points, mut requests) = (0usize, 0u64);
        let mut last: Option<CurvePoint> = None;
        let mut stopped = None;
        let mut out_of_budget = false;
        while let Some(v) = search.next() {
            let over_budget = budget.requests.is_some_and(|n| spent >= n)
                || budget.time.is_some_and(|t| started.elapsed() >= t);
            if over_budget {
                out_of_budget = true;
                break;
            }
            let mut point = None;
            // The rounds asked for (one by default); three when the verdict sits within the
            // noise of a limit.
            for rounds in [base.rounds, 3] {
                let mut cfg = axis_of(v).apply(base, 0);
                cfg.strategies = vec![s];
                cfg.rounds = rounds;
                cfg.out = point_dir(
                    base,
                    &point_folder(axis_name, v, Some(s)),
                    "search",
                    &mut write_error,
                );
                let cfg = base.derived(cfg)?;
                let position = format!(
                    "search {s}: {} (point {}, {spent} requests spent)",
                    fmt_setting(axis_name, v),
                    points + 1
                );
                let results = run_watched(&cfg, &session, &provenance, Some(position))?;
                isolation = results.report.config.isolation;
                if let Some(dir) = &cfg.out
                    && let Err(e) = write_run(dir, &results.report, &results.intervals, results.requests_log)
                {
                    keep_failure(e, "search", &mut write_error);
                }
                finish = finish.worst(finish_run(&results.report, results.incomplete));
                let issued: u64 = results.report.strategies.iter().map(|x| x.issued).sum();
                spent += issued;
                requests += issued;
                let Some(r) = results.report.strategies.first().map(PointResult::of) else {
                    break;
                };
                if results.incomplete.is_some() {
                    incomplete = results.incomplete.map(|why| (why, v));
                    measured.push((v, r, false));
                    interrupted = true;
                    break;
                }
                let close = near_a_limit(&r, criteria);
                point = Some(r);
                if rounds == base.rounds && close && base.rounds < 3 {
                    if !base.quiet {
                        eprintln!(
                            "{} {s:<12} within the noise of a limit: measuring again, 3 rounds",
                            fmt_setting(axis_name, v)
                        );
                    }
                    continue;
                }
                break;
            }
            if interrupted {
                break;
            }
            let Some(r) = point else { break };
            points += 1;
            let met = criteria.qualifies(&r);
            if !base.quiet {
                eprintln!(
                    "{} {s:<12} {:>9.1} ok/s  p99 {:>8} ms  429s {:>5.1} %  {}",
                    fmt_setting(axis_name, v),
                    r.ranked_goodput(),
                    r.p99_ms.map_or("-".to_owned(), |x| format!("{x:.1}")),
                    100.0 * r.share_429,
                    if met {
                        "meets the limits".to_owned()
                    } else {
                        format!("breaks: {}", broken_limits(&r, criteria))
                    }
                );
            }
            let here = CurvePoint::of(v, &r);
            search.observe(v, met);
            if met && search.bracketing() {
                if let Some(why) = last.as_ref().and_then(|a| over_saturated(a, &here)) {
                    if !base.quiet {
                        eprintln!("{s}: {why}; escalation stops");
                    }
                    search.stop_escalating(v);
                    stopped = Some(why);
                }
                last = Some(here);
            }
            measured.push((v, r, true));
            if stop.requested().is_some() {
                interrupted = true;
                break;
            }
        }
        let end = search.end(out_of_budget || interrupted);
        let reason = search_reason(axis_name, s, &end, interrupted, &measured, criteria);
        searches.push(SearchResult {
            strategy: s,
            end,
            reason,
            stopped_escalating: stopped,
            points,
            requests,
            grid_points: grid_points(find.from, find.to, resolution, whole),
        });
        if interrupted {
            break;
        }
    }
    // Points by setting, each with every strategy measured there.
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
    let recommendations: Vec<Recommendation> = searches
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
        .collect();
    let best = best_of(&recommendations);
    let incomplete_reason = incomplete.map(|(why, v)| ended_early(axis_name, why, v));
    let report = SweepReport {
        provenance: provenance.ended(),
        axis: axis_name.into(),
        axis_label: axis_of(find.from).label().into(),
        slo_p99_ms: criteria.slo_p99_ms,
        max_429_share: criteria.max_429_share,
        min_good_share: criteria.min_good_share,
        config: summary(&axis_of(find.from).apply(base, 0), &session, isolation),
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
    if let Some(out) = base.out.as_ref().filter(|_| write_error.is_none())
        && let Err(e) = write_sweep(out, &report)
    {
        write_error.get_or_insert(e);
    }
    Ok((report, finish, write_error))
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
/// budget).
fn search_reason(
    axis: &str,
    s: Strategy,
    end: &SearchEnd,
    cut_short: bool,
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
            "{}{}: the top of the range, and every value up to it met the limits (extend the range)",
            fmt_setting(axis, value),
            figures(value)
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
