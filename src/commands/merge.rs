//! `merge`: the reports of a sharded run (or any runs of one workload) combined into one, exactly,
//! and written out as a single run's files are.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use crate::cli::MergeArgs;
use crate::commands::{Finish, finish_run};
use crate::model::error::RunError;
use crate::model::report::RunReport;
use crate::output::files::{prepare_out, write_run};
use crate::output::table;
use crate::stats::merge::merge;

/// A report from a folder written by `--out`, or a `report.json` (or any file holding one: a
/// pod's log of `--format json-line`, the report on one line among others; or of `--json`, the
/// JSON object from its first `{` line to its last `}`). Read up to 1 GiB.
pub(crate) fn read_report(path: &Path) -> Result<RunReport, RunError> {
    let file = if path.is_dir() {
        path.join("report.json")
    } else {
        path.to_path_buf()
    };
    let text = crate::output::files::read_saved(&file)?;
    if let Ok(r) = serde_json::from_str(&text) {
        return Ok(r);
    }
    // `--format json-line` in a log: the last line that is a whole report, whatever other
    // lines (stderr's) sit around it.
    if let Some(r) = text
        .lines()
        .rev()
        .filter(|l| l.starts_with('{'))
        .find_map(|l| serde_json::from_str(l).ok())
    {
        return Ok(r);
    }
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with('{'));
    let end = lines.iter().rposition(|l| l.starts_with('}'));
    match (start, end) {
        (Some(a), Some(b)) if a <= b => {
            serde_json::from_str(&lines[a..=b].join("\n")).map_err(|e| RunError::read(file.display(), e))
        }
        _ => Err(RunError::read(file.display(), "holds no report")),
    }
}

/// Reads, merges, prints and writes.
pub(crate) fn execute(args: &MergeArgs) -> Result<Finish, RunError> {
    let reports = args
        .reports
        .iter()
        .map(|p| read_report(p))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge(&reports, args.allow_partial)?;
    for w in shared_hosts(&reports) {
        eprintln!("asyncbench: warning: {w}");
    }
    prepare_out(&args.out, args.force)?;
    let mut text = table::table(&merged, args.wide);
    text += &format!(
        "merged {} reports: {}\n",
        merged.merged_from.len(),
        merged
            .merged_from
            .iter()
            .map(|s| format!("{} ({})", s.shard, s.machine))
            .collect::<Vec<_>>()
            .join("; ")
    );
    for (i, s) in merged.strategies.iter().enumerate() {
        let spread = s.start_spread_s.unwrap_or(0.0);
        // Shards that started apart stretch the merged wall time and lower its rates.
        if spread > 0.05 * s.wall_s.max(1e-9) && spread > 0.1 {
            let fix = if i == 0 {
                "start the shards together with --start-at"
            } else {
                "each shard starts it when its strategy before ends; run one strategy per sharded run to line them up"
            };
            eprintln!(
                "asyncbench: warning: the shards of {} started {spread:.2} s apart in a {:.2} s run: its rates are low by up to that share ({fix})",
                s.id, s.wall_s
            );
        }
    }
    text += &format!(
        "start spread: {}\n",
        merged
            .strategies
            .iter()
            .map(|s| format!("{} {:.3} s", s.id, s.start_spread_s.unwrap_or(0.0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (requests, short) = gather_requests(&args.reports, &reports, &args.out)?;
    // The shards' own warnings, over the whole (as compare says them of a run).
    for w in short.iter().chain(&merged.warnings()) {
        eprintln!("asyncbench: warning: {w}");
    }
    let shown = crate::commands::out(&text);
    write_run(&args.out, &merged, &[], Ok(requests))?;
    crate::commands::out(&format!("wrote {}\n", args.out.display()))?;
    shown?;
    // An incomplete merge is not a whole run, whatever its books say; nor is one whose
    // requests.jsonl lacks lines.
    Ok(match finish_run(&merged, None) {
        Finish::Ok | Finish::NoSuccess if !merged.complete || !short.is_empty() => Finish::Partial,
        f => f,
    })
}

/// Shards that ran on one host: they shared its cores and network, so the merged run is not the
/// many machines it looks like.
fn shared_hosts(reports: &[RunReport]) -> Vec<String> {
    let mut by_host: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
    for r in reports {
        if let Some(h) = &r.provenance.machine.hostname {
            let shard = r.config.shard.map_or("whole".into(), |s| s.to_string());
            by_host.entry(h).or_default().push(shard);
        }
    }
    by_host
        .into_iter()
        .filter(|(_, shards)| shards.len() > 1)
        .map(|(h, shards)| {
            format!(
                "shards {} ran on one host ({h}): they shared its CPU and network",
                shards.join(", ")
            )
        })
        .collect()
}

/// The shards' request lines in one `requests.jsonl` (a temporary file in `out`, renamed into
/// place with the report), each line given its shard (`"shard": "K/N"`, or the input's position
/// for an unsharded report): from a folder's `requests.jsonl`, or from the lines
/// `--print-requests` put in a log. `None` when no input holds any. Beside it, a warning for
/// each input whose lines do not number its requests issued (a log the kubelet rotated, a
/// folder without the file), which makes the merge incomplete.
fn gather_requests(
    inputs: &[PathBuf],
    reports: &[RunReport],
    out: &Path,
) -> Result<(Option<tempfile::NamedTempFile>, Vec<String>), RunError> {
    let sources: Vec<Option<PathBuf>> = inputs
        .iter()
        .map(|p| {
            if p.is_dir() {
                Some(p.join("requests.jsonl")).filter(|f| f.is_file())
            } else {
                Some(p.clone())
            }
        })
        .collect();
    let path = out.join("requests.jsonl");
    let wrap = |e: std::io::Error| RunError::Write {
        path: path.display().to_string(),
        source: e,
    };
    let temp = crate::stats::log::temp_in(out).map_err(wrap)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, temp.as_file());
    let mut counts = Vec::with_capacity(inputs.len());
    for (i, (source, report)) in sources.iter().zip(reports).enumerate() {
        let label = report
            .config
            .shard
            .map_or(format!("report {i}"), |s| s.to_string());
        let Some(source) = source else {
            counts.push((label, 0));
            continue;
        };
        // The label as a JSON string, once for every line of this input.
        let shard = serde_json::to_string(&label).map_err(|e| RunError::write("requests.jsonl", e))?;
        let n = copy_request_lines(source, &shard, &mut w).map_err(|e| match e {
            Copy::Read(e) => RunError::read(source.display(), e),
            Copy::Write(e) => wrap(e),
        })?;
        counts.push((label, n));
    }
    w.flush().map_err(wrap)?;
    drop(w);
    if counts.iter().all(|(_, n)| *n == 0) {
        return Ok((None, Vec::new()));
    }
    let short = counts
        .iter()
        .zip(reports)
        .filter_map(|((label, n), r)| {
            let issued: u64 = r.strategies.iter().map(|s| s.issued).sum();
            (*n != issued).then(|| {
                format!(
                    "requests.jsonl: {label} gave {n} of its {issued} request lines (a log without \
                     --print-requests, or cut short: a kubelet keeps 10 MiB of a container's log by default)"
                )
            })
        })
        .collect();
    Ok((Some(temp), short))
}

/// Which side of a copy failed.
enum Copy {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies the request lines of `source` to `w`, each given its `shard` (a JSON string); how
/// many. Other lines (a report, stderr) are skipped, and a request line split by others (a
/// runtime reading stdout and stderr in pieces can put stderr's lines between two pieces of a
/// stdout line) is joined again: its first piece waits for the rest.
fn copy_request_lines(source: &Path, shard: &str, w: &mut impl Write) -> Result<u64, Copy> {
    let file = std::fs::File::open(source).map_err(Copy::Read)?;
    let mut n = 0u64;
    let mut piece: Option<String> = None;
    for line in std::io::BufReader::new(file.take(1 << 30)).lines() {
        let mut line = line.map_err(Copy::Read)?;
        if !is_request_line(&line) {
            match piece.take() {
                Some(p) if !line.starts_with('{') && is_request_line(&format!("{p}{line}")) => {
                    line = p + &line;
                }
                Some(p) if !line.starts_with('{') => {
                    piece = Some(p);
                    continue;
                }
                _ => {
                    piece = line.starts_with("{\"strategy\":").then_some(line);
                    continue;
                }
            }
        }
        writeln!(w, "{{\"shard\":{shard},{}", &line[1..]).map_err(Copy::Write)?;
        n += 1;
    }
    Ok(n)
}

/// A `requests.jsonl` line (not a report, not a stderr line): a JSON object naming a strategy,
/// an index and an outcome.
fn is_request_line(line: &str) -> bool {
    line.starts_with('{')
        && serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(line).is_ok_and(|m| {
            ["strategy", "index", "outcome"]
                .iter()
                .all(|k| m.contains_key(*k))
                && !m.contains_key("shard")
        })
}
