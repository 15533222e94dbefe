//! `compare`: the same workload through each chosen strategy, one after the other, each against
//! a target in a known state; the table on stdout and, with `--out`, every report file.

use crate::cli::{CompareArgs, Format};
use crate::commands::{Finish, finish_run};
use crate::engine::run::{RunResults, Session};
use crate::engine::stop::StopToken;
use crate::model::error::RunError;
use crate::model::provenance::Provenance;
use crate::model::report::RunReport;
use crate::output::files::{prepare_out, write_run};
use crate::output::table;
use crate::plan::config::{Plan, RunConfig};

/// `compare`'s rounds when neither `--rounds` nor `$ASYNCBENCH_ROUNDS` says: three, the
/// fewest whose 95 % intervals are finite enough to separate strategies that differ by more
/// than the machine's run-to-run noise (see the README).
pub(crate) const DEFAULT_ROUNDS: u32 = 3;

/// Opens the session (an unreachable target fails here, before anything is written), prepares
/// `--out`, and runs every strategy until they end or `stop` is asked for.
pub(crate) fn run(cfg: &Plan, stop: &StopToken) -> Result<RunResults, RunError> {
    let session = Session::open(cfg, stop)?;
    if let Some(out) = &cfg.out {
        prepare_out(out, cfg.force)?;
    }
    crate::commands::run_watched(cfg, &session, &Provenance::capture(), None)
}

/// Runs and writes the files (for library callers): the report, also written to `--out`.
pub fn compare(cfg: &RunConfig) -> Result<RunReport, RunError> {
    compare_until(cfg, &StopToken::new())
}

/// [`compare`], ending early (the report marked incomplete) once `stop` is asked for: a library
/// caller's way to stop one run in-process, as Ctrl-C stops the binary's.
pub fn compare_until(cfg: &RunConfig, stop: &StopToken) -> Result<RunReport, RunError> {
    let results = run(&Plan::new(cfg.clone())?, stop)?;
    if let Some(out) = &cfg.out {
        write_run(out, &results.report, &results.intervals, results.requests_log)?;
    }
    Ok(results.report)
}

/// Warnings about the settings, before anything runs.
pub(crate) fn settings_warnings(cfg: &RunConfig) -> Vec<String> {
    let mut w = Vec::new();
    // A credential header of another name (Azure's api-key, Anthropic's x-api-key) is a key too.
    let other_credential = cfg.inputs.headers.iter().any(|h| h.is_secret());
    if let (Some(t), Some(var)) = (cfg.endpoint.target(), &cfg.api_key_env) {
        match &t.api_key {
            None if !other_credential => w.push(format!(
                "${var} is unset or empty: requests to {} go without an Authorization header",
                t.display_url()
            )),
            Some(k) if k.is_from_header() && std::env::var(var).is_ok_and(|v| !v.is_empty()) => w.push(
                format!("-H Authorization is sent; ${var} is set too and is not used"),
            ),
            _ => {}
        }
    }
    w.extend(input_warnings(cfg));
    if let Some(p) = cfg.endpoint.target().and_then(|t| t.proxy.as_ref()) {
        w.push(format!(
            "every strategy's requests go through the proxy {} (from ${}): its hop is in every latency; set NO_PROXY to the target's host to measure it alone",
            p.display(),
            p.var
        ));
    }
    if cfg.endpoint.target().is_some_and(|t| t.trust.insecure) {
        w.push("--insecure: any certificate is accepted; the target may not be who it says".into());
    }
    if cfg.http2 && cfg.strategies.iter().any(|s| s.is_blocking()) {
        w.push(
            "--http2 applies to the async strategies; ureq (sequential, threadpool) speaks HTTP/1.1 only"
                .into(),
        );
    }
    w
}

/// What wins when inputs overlap: the body file's fields over the flags, a dataset's rows over
/// `--prompt`, a row's own `max_tokens` over `--max-tokens`.
fn input_warnings(cfg: &RunConfig) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(t) = &cfg.inputs.body_template {
        let ours = [
            "model",
            "messages",
            "max_tokens",
            "max_completion_tokens",
            "stream",
        ];
        let set: Vec<&str> = ours.into_iter().filter(|k| t.contains_key(*k)).collect();
        if !set.is_empty() {
            w.push(format!(
                "--body-file sets {}: its values are sent, not the flags' (the report shows what was sent)",
                set.join(", ")
            ));
        }
    }
    let rows = &cfg.inputs.dataset;
    if !rows.is_empty() {
        if cfg.workload.prompt != crate::plan::config::RunConfig::default().workload.prompt {
            w.push("--prompt is not sent: each request sends a --dataset row".into());
        }
        let own = rows.iter().filter(|r| r.max_tokens.is_some()).count();
        if own > 0 {
            w.push(format!(
                "{own} of {} --dataset rows set max_tokens: theirs is sent for them, --max-tokens for the rest",
                rows.len()
            ));
        }
    }
    w
}

/// The command: run, print the table (even if writing the files then fails), write, and say
/// how it ended.
pub(crate) fn execute(args: &CompareArgs, stop: &StopToken) -> Result<Finish, RunError> {
    let mut common = args.common.clone();
    // A shard of a run runs once: shards start together for one round only.
    let sharded = common.shard.is_some_and(|s| s.n > 1);
    common
        .rounds
        .get_or_insert(if sharded { 1 } else { DEFAULT_ROUNDS });
    let cfg = common.to_config(args.chosen())?;
    for w in settings_warnings(&cfg) {
        eprintln!("asyncbench: warning: {w}");
    }
    let results = run(&cfg, stop)?;
    if cfg.print_requests {
        return print_with_requests(&cfg, results, args.common.wide);
    }
    let report = &results.report;
    // A stdout that cannot be written (a full disk) fails the command, after the files are.
    let shown = show(report, args.common.format(), args.common.wide);
    for w in report.warnings() {
        eprintln!("asyncbench: warning: {w}");
    }
    if let Some(out) = &cfg.out {
        write_run(out, report, &results.intervals, results.requests_log)?;
        // The table's stream says where the files went (stdout holds JSON or CSV otherwise).
        say(args.common.format(), &format!("wrote {}", out.display()))?;
    }
    shown?;
    Ok(finish_run(report, results.incomplete))
}

/// A line that belongs with the table: on stdout with the table, on stderr when stdout holds
/// JSON or CSV for a script.
pub(crate) fn say(format: Format, line: &str) -> Result<(), RunError> {
    match format {
        Format::Table => crate::commands::out(&format!("{line}\n")),
        Format::Json | Format::Csv | Format::JsonLine => {
            eprintln!("{line}");
            Ok(())
        }
    }
}

/// Prints a run's report in the format asked for: the table on stdout, or the JSON or CSV on
/// stdout with the table on stderr.
pub(crate) fn show(report: &RunReport, format: Format, wide: bool) -> Result<(), RunError> {
    emit(
        &table_text(report, wide),
        data(format, report, || table::csv(report))?,
    )
}

/// The table with the machine's line under it.
fn table_text(report: &RunReport, wide: bool) -> String {
    table::table(report, wide) + &table::wrap(&format!("machine: {}", report.provenance.machine.summary()))
}

/// `--print-requests`: everything for stderr first (the table, the warnings, where the files
/// went), then stdout alone: the request lines, and the report line last. A log that merges the
/// two pipes (a pod's, read by its runtime in pieces) can put a stderr line written meanwhile
/// inside a long stdout line; with nothing on stderr after stdout starts, nothing can.
fn print_with_requests(cfg: &Plan, results: RunResults, wide: bool) -> Result<Finish, RunError> {
    let report = &results.report;
    eprint!("{}", table_text(report, wide));
    for w in report.warnings() {
        eprintln!("asyncbench: warning: {w}");
    }
    let line = data(Format::JsonLine, report, String::new)?.unwrap_or_default();
    let finish = finish_run(report, results.incomplete);
    // The lines are read back from where they are: the run's folder, or the temporary file.
    let (lines, _temp) = match &cfg.out {
        Some(out) => {
            write_run(out, report, &results.intervals, results.requests_log)?;
            eprintln!("wrote {}", out.display());
            (Some(out.join("requests.jsonl")), None)
        }
        None => match results.requests_log {
            Ok(log) => (log.as_ref().map(|t| t.path().to_path_buf()), log),
            // A temporary log the run could not write: the lines are lost, and the command
            // fails (exit 1) after the report line.
            Err(source) => {
                crate::commands::out(&line)?;
                return Err(RunError::Write {
                    path: "requests.jsonl (temporary)".into(),
                    source,
                });
            }
        },
    };
    if let Some(path) = lines {
        crate::commands::out_lines_of(&path)?;
    }
    crate::commands::out(&line)?;
    Ok(finish)
}

/// What goes on stdout in place of the table for `format`: nothing for the table itself, else
/// the report as JSON (pretty, or on one line) or as CSV (`csv` makes it).
pub(crate) fn data<T: serde::Serialize>(
    format: Format,
    report: &T,
    csv: impl FnOnce() -> String,
) -> Result<Option<String>, RunError> {
    let json =
        |text: serde_json::Result<String>| text.map(|t| t + "\n").map_err(|e| RunError::write("stdout", e));
    Ok(match format {
        Format::Table => None,
        Format::Json => Some(json(serde_json::to_string_pretty(report))?),
        Format::JsonLine => Some(json(serde_json::to_string(report))?),
        Format::Csv => Some(csv()),
    })
}

/// The table on stdout; or, when `data` (JSON or CSV for a script) is given, the table on stderr
/// and the data on stdout.
pub(crate) fn emit(table: &str, data: Option<String>) -> Result<(), RunError> {
    match data {
        None => crate::commands::out(table),
        Some(d) => {
            eprint!("{table}");
            crate::commands::out(&d)
        }
    }
}
