//! The `asyncbench` binary: parse flags, run, print; exit 2 on bad input, 3 when the accounting
//! does not add up, 1 on any other failure.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli: asyncbench::cli::Cli = mock_server::profile::parse_or_exit("asyncbench");
    match asyncbench::cli::execute(cli) {
        Ok(finish) => finish.exit_code(),
        Err(e) => {
            eprintln!("asyncbench: {e}");
            asyncbench::cli::error_exit_code(&e)
        }
    }
}
