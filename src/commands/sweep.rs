//! `sweep`: every point of the swept setting through the run core (each strategy on a target in
//! a known state), a folder of reports per point, `sweep.json` with the recommendation, and the
//! sweep charts. A signal or a dead target ends the sweep after the point in progress, whose
//! partial results are kept and marked; the sweep's files are written all the same.

use crate::cli::SweepArgs;
use crate::commands::{Finish, finish_run};
use crate::config::RunConfig;
use crate::error::RunError;
use crate::report::output::{prepare_out, write_run};
use crate::report::sweep::{render, sweep_charts};
use crate::report::{Isolation, Provenance, write_file};
use crate::run::{Incomplete, Session, run_strategies, summary};
use crate::sweep::{
    Axis, Criteria, PointResult, Recommendation, SweepPoint, SweepReport, fmt_setting, recommend,
};

/// Runs the sweep; with `out`, writes `sweep.json`, the sweep charts and one folder per point.
/// Returns the report and why it ended early, if it did.
pub fn sweep(base: &RunConfig, axis: &Axis, criteria: Criteria) -> Result<(SweepReport, Finish), RunError> {
    base.validate()?;
    // Reachability first (an external target), then the output folder.
    let session = Session::open(base)?;
    if let Some(out) = &base.out {
        prepare_out(out, base.force)?;
    }
    let provenance = Provenance::capture();
    let mut points = Vec::new();
    let mut finish = Finish::Ok;
    let mut incomplete = None;
    let mut isolation = Isolation::FreshMock;
    for (i, v) in axis.values().into_iter().enumerate() {
        let cfg = axis.apply(base, i);
        cfg.validate()?;
        let results = run_strategies(&cfg, &session, &provenance)?;
        isolation = results.report.config.isolation;
        if !cfg.quiet {
            for r in &results.report.strategies {
                let p = PointResult::of(r);
                eprintln!(
                    "{} {:<12} {:>9.1} ok/s  p99 {:>8} ms  429s {:>5.1} %  {}",
                    fmt_setting(axis.name(), v),
                    r.id.to_string(),
                    r.goodput_rps,
                    p.p99_ms.map_or("-".to_owned(), |x| format!("{x:.1}")),
                    100.0 * p.share_429,
                    r.accounted
                );
            }
        }
        if let Some(out) = &base.out {
            let dir = out.join("points").join(format!("{}-{v}", axis.name()));
            std::fs::create_dir_all(&dir).map_err(|source| RunError::Write {
                path: dir.display().to_string(),
                source,
            })?;
            write_run(&dir, &results.report, &results.intervals)?;
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
    let recommendations: Vec<Recommendation> = base
        .strategies
        .iter()
        .map(|s| recommend(axis.name(), *s, &points, criteria))
        .collect();
    let best = recommendations
        .iter()
        .filter(|r| r.setting.is_some())
        .max_by(|a, b| {
            a.goodput_rps
                .unwrap_or(0.0)
                .total_cmp(&b.goodput_rps.unwrap_or(0.0))
        })
        .cloned();
    let incomplete_reason = incomplete.map(|(why, v)| {
        let at = fmt_setting(axis.name(), v);
        match why {
            Incomplete::Signal(s) => format!("interrupted by {} at {at}; later points did not run", s.name()),
            Incomplete::TargetDied(s) => {
                format!("the target stopped answering at {at} ({s}); later points did not run")
            }
        }
    });
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
        complete: incomplete_reason.is_none(),
        incomplete_reason,
    };
    if let Some(out) = &base.out {
        let json = serde_json::to_string_pretty(&report).map_err(|e| RunError::write("sweep.json", e))?;
        write_file(&out.join("sweep.json"), json.as_bytes())?;
        sweep_charts(out, &report)?;
    }
    Ok((report, finish))
}

/// The command: sweep, print the table and the recommendation, and say how it ended.
pub fn execute(args: &SweepArgs) -> Result<Finish, RunError> {
    let (cfg, axis) = args.to_sweep()?;
    for w in crate::commands::compare::settings_warnings(&cfg) {
        eprintln!("asyncbench: warning: {w}");
    }
    let criteria = Criteria {
        slo_p99_ms: args.slo_p99.map(|d| d.as_secs_f64() * 1000.0),
        max_429_share: args.max_429,
    };
    let (report, finish) = sweep(&cfg, &axis, criteria)?;
    print!("{}", render(&report));
    println!("machine: {}", report.provenance.machine.summary());
    if let Some(out) = &cfg.out {
        println!("wrote {}", out.display());
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
