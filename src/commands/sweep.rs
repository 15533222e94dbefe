//! `sweep`: every point of the swept setting through the run core (each strategy on a target in
//! a known state), a folder of reports per point, `sweep.json` with the recommendation, and the
//! sweep charts. A signal or a dead target ends the sweep after the point in progress, whose
//! partial results are kept and marked; the sweep's files are written all the same.

use crate::cli::SweepArgs;
use crate::commands::{Finish, finish_run};
use crate::engine::run::{Incomplete, Session, run_strategies, summary};
use crate::engine::stop::StopToken;
use crate::model::error::RunError;
use crate::model::provenance::Provenance;
use crate::model::recommend::{Chosen, best_strategy, recommend_for};
use crate::model::report::{Isolation, StrategyReport};
use crate::model::strategy::Strategy;
use crate::model::sweep::{
    AutoProbe, Axis, Criteria, PointResult, Recommendation, SweepPlan, SweepPoint, SweepReport,
    concurrency_points, fmt_setting, rate_points, saturation,
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
        let r = run_strategies(&base.derived(cfg)?, session, provenance)?;
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
    let (report, finish, write_error) = sweep_measuring_on(&base, plan, criteria, &StopToken::new())?;
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
    stop: &StopToken,
) -> Result<(SweepReport, Finish, Option<RunError>), RunError> {
    // Reachability first (an external target), then the output folder.
    let session = Session::open(base, stop)?;
    if let Some(out) = &base.out {
        prepare_out(out, base.force)?;
    }
    let provenance = Provenance::capture();
    let (axis, auto) = probe(base, plan, &session, &provenance)?;
    let auto = (!matches!(plan, SweepPlan::Fixed(_))).then_some(auto);
    let axis = &axis;
    let mut points = Vec::new();
    let mut finish = Finish::Ok;
    let mut incomplete = None;
    let mut isolation = Isolation::FreshMock;
    let mut write_error: Option<RunError> = None;
    let failed = |e: RunError, slot: &mut Option<RunError>| {
        eprintln!("asyncbench: warning: {e}; the sweep goes on measuring and writes no more files");
        slot.get_or_insert(e);
    };
    for (i, v) in axis.values().into_iter().enumerate() {
        let mut cfg = axis.apply(base, i);
        // Each point writes its own report (and request log) in its own folder, while files
        // can be written.
        let mut dir = base
            .out
            .as_ref()
            .filter(|_| write_error.is_none())
            .map(|out| out.join("points").join(format!("{}-{v}", axis.name())));
        if let Some(d) = &dir
            && let Err(source) = std::fs::create_dir_all(d)
        {
            let path = d.display().to_string();
            failed(RunError::Write { path, source }, &mut write_error);
            dir = None;
        }
        cfg.out = dir.clone();
        let cfg = base.derived(cfg)?;
        let results = run_strategies(&cfg, &session, &provenance)?;
        isolation = results.report.config.isolation;
        if !cfg.quiet {
            say_point(axis.name(), v, &results.report.strategies);
        }
        if let Some(dir) = &dir
            && let Err(e) = write_run(dir, &results.report, &results.intervals, results.requests_log)
        {
            failed(e, &mut write_error);
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
    }
    let chosen = if auto.is_some() {
        Chosen::Automatic
    } else {
        Chosen::Listed
    };
    let (recommendations, per_point, best) = verdicts(axis, &base.strategies, &points, criteria, chosen);
    let incomplete_reason = incomplete.map(|(why, v)| ended_early(axis.name(), why, v));
    let report = SweepReport {
        provenance: provenance.ended(),
        axis: axis.name().into(),
        axis_label: axis.label().into(),
        slo_p99_ms: criteria.slo_p99_ms,
        max_429_share: criteria.max_429_share,
        config: summary(&axis.apply(base, 0), &session, isolation),
        points,
        recommendations,
        best,
        per_point,
        auto,
        complete: incomplete_reason.is_none(),
        incomplete_reason,
    };
    if let Some(out) = base.out.as_ref().filter(|_| write_error.is_none())
        && let Err(e) = write_sweep(out, &report)
    {
        failed(e, &mut write_error);
    }
    Ok((report, finish, write_error))
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
    let best = recommendations
        .iter()
        .filter(|r| r.setting.is_some())
        .max_by(|a, b| {
            a.goodput_rps
                .unwrap_or(0.0)
                .total_cmp(&b.goodput_rps.unwrap_or(0.0))
        })
        .cloned();
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

/// The command: sweep, print the table and the recommendation, and say how it ended.
pub(crate) fn execute(args: &SweepArgs, stop: &StopToken) -> Result<Finish, RunError> {
    let (cfg, plan) = args.to_sweep()?;
    for w in crate::commands::compare::settings_warnings(&cfg) {
        eprintln!("asyncbench: warning: {w}");
    }
    let criteria = Criteria {
        slo_p99_ms: args.slo_p99.map(|d| d.as_secs_f64() * 1000.0),
        max_429_share: args.max_429,
    };
    let (report, finish, write_error) = sweep_measuring_on(&cfg, &plan, criteria, stop)?;
    let format = args.common.format();
    let table = format!(
        "{}machine: {}\n",
        render(&report),
        report.provenance.machine.summary()
    );
    let data = crate::commands::compare::data(format, &report, || crate::output::sweep::csv(&report))?;
    crate::commands::compare::emit(&table, data)?;
    // The table is out; now the files' failure, if one came, is the command's.
    if let Some(e) = write_error {
        return Err(e);
    }
    if let Some(out) = &cfg.out {
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
