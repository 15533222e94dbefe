//! The commands, one file each, each "settings → run core → print and write": `compare`,
//! `sweep`, `reproduce` and `plot`, and how a command's end maps to the process exit code.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the run finished and its books balance |
//! | 1 | anything else (a file could not be written, a runtime could not start, …) |
//! | 2 | bad input: a flag, a profile, an unreachable target, a non-empty `--out` |
//! | 3 | the accounting does not add up (requests missing, or the mock disagrees) |
//! | 4 | the target stopped answering mid-run (what finished is written, incomplete) |
//! | 5 | no request succeeded (the likely cause is printed) |
//! | 6 | a merge of shards that is incomplete (shards missing or cut short; `--allow-partial`) |
//! | 7 | an external client failed: it died, hung, broke the protocol or lost requests |
//! | 8 | `diff --fail-if`: a figure changed past a threshold (and beyond the noise) |
//! | 130, 143 | stopped by SIGINT or SIGTERM (what was measured is written, incomplete) |

pub(crate) mod compare;
pub(crate) mod diff;
pub(crate) mod find;
pub(crate) mod merge;
pub(crate) mod plot;
pub(crate) mod reproduce;
pub(crate) mod sweep;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::engine::run::Incomplete;
use crate::engine::stop::{Signal, StopToken};
use crate::model::error::RunError;
use crate::model::report::RunReport;

/// Runs `cfg`'s strategies on `session` with the live view (the panel on a terminal, progress
/// lines otherwise, nothing with `-q`), `position` saying where a sweep is.
pub(crate) fn run_watched(
    cfg: &crate::plan::config::Plan,
    session: &crate::engine::run::Session,
    provenance: &crate::model::provenance::Provenance,
    position: Option<String>,
) -> Result<crate::engine::run::RunResults, RunError> {
    use crate::engine::run::{round_order, run_strategies, summary};
    use crate::output::live::{Mode, View};
    use crate::stats::live::{Board, Step};
    let mode = Mode::choose(cfg.quiet, cfg.no_tui, cfg.progress_every);
    if mode == Mode::Off {
        return run_strategies(cfg, session, provenance, None);
    }
    let settings = summary(cfg, session, session.planned_isolation(cfg));
    let header = crate::output::table::settings_header(&settings, true)
        .lines()
        .map(str::to_owned)
        .collect();
    let plan = round_order(&cfg.strategies, cfg.rounds)
        .into_iter()
        .map(|(round, _, strategy)| Step { round, strategy })
        .collect();
    let board = Board::new(header, position, plan);
    // The view says what a first signal does, instead of the handler's line over it.
    let stop = session.stop.clone();
    board.watch_stop(move || {
        use crate::engine::stop::{Signal, StopToken};
        match stop.requested()? {
            Signal::TargetLost => {
                Some("the target stopped answering: no new requests; what finished is kept".into())
            }
            s => Some(StopToken::notice(s)),
        }
    });
    session.stop.set_view(Some(board.clone()));
    let view = View::start(board.clone(), mode);
    let results = run_strategies(cfg, session, provenance, Some(&board));
    session.stop.set_view(None);
    view.finish();
    results
}

/// Set once stdout was found closed (`asyncbench … | head`): nothing more is written to it.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes `text` to stdout. A closed pipe is no error: the reader has what it wanted, so stdout
/// is left alone from then on and the command carries on (its files are still written), as
/// ripgrep does. Any other failure (a full disk behind `> file`) is an error naming stdout.
pub(crate) fn out(text: &str) -> Result<(), RunError> {
    use std::io::Write;
    use std::sync::atomic::Ordering;
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            Ok(())
        }
        Err(source) => Err(RunError::Write {
            path: "stdout".into(),
            source,
        }),
    }
}

/// Copies a file to stdout in whole lines (`--print-requests`), as [`out`] writes text: a closed
/// pipe ends the copy quietly.
pub(crate) fn out_lines_of(path: &std::path::Path) -> Result<(), RunError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| RunError::read(path.display(), e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut chunk = String::with_capacity(1 << 16);
    loop {
        let n = reader
            .read_line(&mut chunk)
            .map_err(|e| RunError::read(path.display(), e))?;
        if n == 0 || chunk.len() >= 1 << 16 {
            out(&chunk)?;
            chunk.clear();
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Everything ran and added up.
    Ok,
    /// The run finished but no request succeeded (exit 5).
    NoSuccess,
    /// The run finished but its accounting does not add up (exit 3).
    AccountingFailed,
    /// The target stopped answering mid-run; the report holds what finished (exit 4).
    TargetDied,
    /// A signal stopped the run; the report holds what was measured (exit 130 or 143).
    Stopped(Signal),
    /// `merge` wrote a run missing shards or parts of them (`--allow-partial`; exit 6).
    Partial,
    /// An external client failed: it died, hung, broke the protocol or lost requests; the
    /// report holds what it did report (exit 7).
    ClientFailed,
    /// `diff --fail-if`: a figure changed past a threshold (exit 8).
    ThresholdCrossed,
}

impl Finish {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Finish::Ok => 0,
            Finish::AccountingFailed => 3,
            Finish::TargetDied => 4,
            Finish::NoSuccess => 5,
            Finish::Partial => 6,
            Finish::ClientFailed => 7,
            Finish::ThresholdCrossed => 8,
            Finish::Stopped(s) => s.exit_code(),
        }
    }

    /// The process exit code, as `main` returns it.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(self.code())
    }

    /// The more severe of two endings (a signal, then a dead target, then the books, then no
    /// success), for commands made of several runs; between equals, `self` (the earlier run).
    pub fn worst(self, other: Finish) -> Finish {
        let rank = |f: Finish| match f {
            Finish::Ok => 0,
            Finish::NoSuccess => 1,
            Finish::AccountingFailed => 2,
            Finish::ClientFailed | Finish::ThresholdCrossed => 3,
            Finish::Partial => 4,
            Finish::TargetDied => 5,
            Finish::Stopped(_) => 6,
        };
        if rank(other) > rank(self) { other } else { self }
    }
}

/// The exit code of an error: 2 for bad input, 1 otherwise.
pub fn error_exit_code(e: &RunError) -> ExitCode {
    match e {
        // A saved report that cannot be read is bad input too (merge, plot).
        RunError::Config(_) | RunError::Merge(_) | RunError::Diff(_) | RunError::Read { .. } => {
            ExitCode::from(2)
        }
        _ => ExitCode::from(1),
    }
}

/// How a run ended, with its lines on stderr: why it is incomplete, which books do not balance,
/// or why nothing succeeded.
pub(crate) fn finish_run(report: &RunReport, incomplete: Option<Incomplete>) -> Finish {
    if let Some(why) = &report.incomplete_reason {
        eprintln!("asyncbench: incomplete: {why}");
    }
    let failures = report.accounting_failures();
    for f in &failures {
        eprintln!("asyncbench: accounting mismatch: {f}");
    }
    let diagnosis = report.diagnosis();
    if let Some(d) = &diagnosis {
        eprintln!("asyncbench: {d}");
    }
    match incomplete {
        Some(Incomplete::Signal(s)) => Finish::Stopped(s),
        Some(Incomplete::TargetDied(_)) => Finish::TargetDied,
        Some(Incomplete::ClientFailed(_)) => Finish::ClientFailed,
        None if !failures.is_empty() => Finish::AccountingFailed,
        None if diagnosis.is_some() => Finish::NoSuccess,
        None => Finish::Ok,
    }
}

/// Runs a parsed command line, printing its results on stdout; `stop` (the signal handlers')
/// ends a run early.
pub fn dispatch(cli: Cli, stop: &StopToken) -> Result<Finish, RunError> {
    if matches!(
        cli.command,
        Command::Plot(_) | Command::Merge(_) | Command::Diff(_)
    ) {
        stop.set_files_only();
    }
    match cli.command {
        Command::Compare(args) => compare::execute(&args, stop),
        Command::Reproduce(args) => reproduce::execute(&args, stop),
        Command::Sweep(args) => sweep::execute(&args, stop),
        Command::Plot(args) => plot::execute(&args),
        Command::Merge(args) => merge::execute(&args),
        Command::Diff(args) => diff::execute(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "asyncbench", &mut script);
            out(&String::from_utf8_lossy(&script))?;
            Ok(Finish::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::ConfigError;

    /// Each ending has the exit code the README's table gives.
    #[test]
    fn each_ending_has_its_documented_exit_code() {
        let codes = [
            (Finish::Ok, 0),
            (Finish::AccountingFailed, 3),
            (Finish::TargetDied, 4),
            (Finish::NoSuccess, 5),
            (Finish::Partial, 6),
            (Finish::ClientFailed, 7),
            (Finish::ThresholdCrossed, 8),
            (Finish::Stopped(Signal::Interrupt), 130),
            (Finish::Stopped(Signal::Terminate), 143),
        ];
        for (f, code) in codes {
            assert_eq!(f.code(), code, "{f:?}");
            assert_eq!(f.exit_code(), ExitCode::from(code), "{f:?}");
        }
        let bad = RunError::Config(ConfigError::Invalid {
            name: "x",
            value: "y".into(),
            why: "z",
        });
        assert_eq!(error_exit_code(&bad), ExitCode::from(2));
        let other = RunError::Setup {
            what: "runtime",
            source: "no".into(),
        };
        assert_eq!(error_exit_code(&other), ExitCode::from(1));
    }

    /// A run's ending follows what happened in it: a signal or a dead target first, then books
    /// that do not balance, then no success anywhere.
    #[test]
    fn a_run_ends_by_what_happened_in_it() {
        use crate::model::outcome::ErrorClass;
        use crate::model::report::tests::{run_of, strategy};
        use crate::model::strategy::Strategy;
        let fine = || strategy(Strategy::Async, 2, 1, ErrorClass::Timeout);
        let failed = || strategy(Strategy::Async, 0, 2, ErrorClass::Timeout);
        let unbalanced = |mut s: crate::model::report::StrategyReport| {
            s.accounted_ok = false;
            s
        };
        assert_eq!(finish_run(&run_of(vec![fine()]), None), Finish::Ok);
        assert_eq!(finish_run(&run_of(vec![failed()]), None), Finish::NoSuccess);
        assert_eq!(
            finish_run(&run_of(vec![failed(), unbalanced(fine())]), None),
            Finish::AccountingFailed
        );
        assert_eq!(
            finish_run(&run_of(vec![unbalanced(failed())]), None),
            Finish::AccountingFailed
        );
        let died = Some(Incomplete::TargetDied(Strategy::Async));
        assert_eq!(
            finish_run(&run_of(vec![unbalanced(failed())]), died),
            Finish::TargetDied
        );
        let signal = Some(Incomplete::Signal(Signal::Terminate));
        assert_eq!(
            finish_run(&run_of(vec![unbalanced(failed())]), signal),
            Finish::Stopped(Signal::Terminate)
        );
    }

    /// Of several runs' endings the most severe wins, in either order: a signal, then a dead
    /// target, then the books, then no success, then ok; between equals, the first.
    #[test]
    fn the_most_severe_ending_wins() {
        let order = [
            Finish::Ok,
            Finish::NoSuccess,
            Finish::AccountingFailed,
            Finish::Partial,
            Finish::TargetDied,
            Finish::Stopped(Signal::Interrupt),
        ];
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                let expected = order[i.max(j)];
                assert_eq!(a.worst(*b), expected, "{a:?} vs {b:?}");
            }
        }
        // Of two signals, the first (the one that stopped the run) gives the exit code.
        let (int, term) = (
            Finish::Stopped(Signal::Interrupt),
            Finish::Stopped(Signal::Terminate),
        );
        assert_eq!(int.worst(term), int);
        assert_eq!(term.worst(int), term);
    }
}
