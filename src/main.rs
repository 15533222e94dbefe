//! The `asyncbench` binary: parse flags, install the signal handlers, run, print; the exit codes
//! are in `commands/mod.rs` (0 ok, 1 failure, 2 bad input, 3 accounting, 4 target died, 5 no
//! success, 130/143 stopped by a signal).

use std::process::ExitCode;

/// jemalloc, as oha uses: glibc's malloc was about a tenth of the client's CPU
/// (results/2026-11-30-epyc-2c/profile/).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli: asyncbench::Cli = mock_server::args::parse_or_exit("asyncbench");
    let stop = asyncbench::StopToken::new();
    if let Err(e) = asyncbench::install_handlers(&stop) {
        eprintln!(
            "asyncbench: warning: cannot catch SIGINT/SIGTERM ({e}): an interrupted run writes nothing"
        );
    }
    match asyncbench::dispatch(cli, &stop) {
        Ok(finish) => finish.exit_code(),
        Err(e) => {
            // The whole cause chain on one line: "cannot write x: No space left on device".
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let text = s.to_string();
                if !msg.contains(&text) {
                    msg.push_str(": ");
                    msg.push_str(&text);
                }
                src = s.source();
            }
            eprintln!("asyncbench: {msg}");
            asyncbench::error_exit_code(&e)
        }
    }
}
