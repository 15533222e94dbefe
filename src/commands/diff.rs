//! `diff BASE NEW`: two saved runs (or sweeps) compared figure by figure, each change with its
//! 95 % interval when both have rounds; settings that differ are named and refused (unless
//! allowed), and `--fail-if` thresholds give a CI gate its own exit code (8).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::cli::DiffArgs;
use crate::commands::Finish;
use crate::model::error::RunError;
use crate::model::report::RunReport;
use crate::model::sweep::SweepReport;
use crate::model::uncertainty::Verdict;
use crate::stats::diff::{Row, Side, config_changes, crossed, diff, unmatched};

/// The file to read for `path`: itself, or in a folder its sweep.json (if any) else its
/// report.json.
fn file_of(path: &Path) -> PathBuf {
    if path.is_dir() {
        let sweep = path.join("sweep.json");
        if sweep.exists() {
            sweep
        } else {
            path.join("report.json")
        }
    } else {
        path.to_path_buf()
    }
}

/// Reads one side: a sweep when the JSON has points, else a run.
fn read_side(path: &Path) -> Result<(Side, String), RunError> {
    let file = file_of(path);
    let text = crate::output::files::read_saved(&file)?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| RunError::read(file.display(), e))?;
    if value.get("points").is_some() {
        let r: SweepReport = serde_json::from_value(value).map_err(|e| RunError::read(file.display(), e))?;
        let about = format!("{} ({})", file.display(), about(&r.provenance, r.config.rounds));
        Ok((Side::of_sweep(&r), about))
    } else {
        let r: RunReport = serde_json::from_value(value).map_err(|e| RunError::read(file.display(), e))?;
        let about = format!("{} ({})", file.display(), about(&r.provenance, r.config.rounds));
        Ok((Side::of_run(&r), about))
    }
}

fn about(p: &crate::model::provenance::Provenance, rounds: u32) -> String {
    format!(
        "{} round{}, commit {}, {}",
        rounds,
        if rounds == 1 { "" } else { "s" },
        p.git_commit
            .as_deref()
            .map_or("unknown", |c| &c[..c.len().min(7)]),
        p.machine.summary()
    )
}

/// The table of changes.
pub(crate) fn render(rows: &[Row]) -> String {
    let w = rows.iter().map(|r| r.key.len()).max().unwrap_or(8).max(8);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<w$}  {:<11}  {:>12}  {:>12}  {:<26}  verdict",
        "strategy", "figure", "base", "new", "change [95 %]"
    );
    for r in rows {
        let verdict = match r.verdict {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoDifference => "no difference at 95 %",
            Verdict::Unknown => "no interval (one round)",
        };
        let _ = writeln!(
            t,
            "{:<w$}  {:<11}  {:>12.3}  {:>12.3}  {:<26}  {verdict}",
            r.key,
            r.metric.name(),
            r.base,
            r.new,
            r.change.describe()
        );
    }
    t
}

/// The command.
pub(crate) fn execute(args: &DiffArgs) -> Result<Finish, RunError> {
    let (base, base_about) = read_side(&args.base)?;
    let (new, new_about) = read_side(&args.new)?;
    let rows = diff(&base, &new, args.allow_config_change)?;
    let mut t = format!("base {base_about}\nnew  {new_about}\n");
    for c in config_changes(&base, &new) {
        let _ = writeln!(t, "setting changed: {c}");
    }
    if base.rounds < 2 || new.rounds < 2 {
        t.push_str("one side has one round: changes have no interval (run both with --rounds 3 or more)\n");
    }
    t.push_str(&render(&rows));
    let (only_base, only_new) = unmatched(&base, &new);
    for (side, keys) in [("base", &only_base), ("new", &only_new)] {
        if !keys.is_empty() {
            let _ = writeln!(t, "only in {side} (nothing to compare): {}", keys.join(", "));
        }
    }
    crate::commands::out(&t)?;
    let mut hit = crossed(&rows, &args.fail_if);
    // A gate cannot pass what the new run lacks: a strategy that did not run is no better.
    if !args.fail_if.is_empty() {
        hit.extend(only_base.iter().map(|k| format!("{k} is in base and not in new")));
    }
    for h in &hit {
        eprintln!("asyncbench: threshold crossed: {h}");
    }
    Ok(if hit.is_empty() {
        Finish::Ok
    } else {
        Finish::ThresholdCrossed
    })
}
