//! The standalone mock server: parse flags, bind, print `listening on http://HOST:PORT`, serve
//! until Ctrl-C. Bad flags or profile values print one line naming the value and exit 2.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use mock_server::{ProfileArgs, ServerError, bind, run};
use tokio_util::sync::CancellationToken;

/// An OpenAI-compatible chat-completions mock with configurable latency, token streaming,
/// injected 429s and faults, and a real requests/min + tokens/min limiter.
#[derive(Debug, clap::Parser)]
#[command(name = "mock-server", version)]
struct Cli {
    /// Address to bind. Anything but loopback exposes the mock to your network.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind; 0 picks a free one (read it from the first line printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Require `Authorization: Bearer KEY` on chat requests (401 otherwise).
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Runtime worker threads [default: one per core].
    #[arg(long, value_name = "N", value_parser = mock_server::profile::parse_positive)]
    workers: Option<u64>,
    #[command(flatten)]
    profile: ProfileArgs,
}

fn main() -> ExitCode {
    let cli: Cli = mock_server::profile::parse_or_exit("mock-server");
    match serve(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-server: {e:#}");
            let bad_input = e
                .downcast_ref::<ServerError>()
                .is_some_and(|e| matches!(e, ServerError::Profile(_)))
                || e.downcast_ref::<mock_server::ProfileError>().is_some();
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

fn serve(cli: Cli) -> anyhow::Result<()> {
    let mut profile = cli.profile.to_profile()?;
    if cli.api_key.is_some() {
        profile.api_key = cli.api_key;
    }
    if let Some(w) = cli.workers {
        profile.workers = Some(usize::try_from(w)?);
    }
    let listener = bind(SocketAddr::new(cli.host, cli.port))?;
    let addr = listener.local_addr()?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = profile.workers {
        rt.worker_threads(w);
    }
    let rt = rt.enable_all().build()?;
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    rt.block_on(async move {
        // Scripts read the address from this first line, so print and flush it before anything.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
        drop(out);
        eprintln!(
            "mock-server: latency {} ttft {} itl {}",
            profile.latency, profile.ttft, profile.itl
        );
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            token.cancel();
        });
        run(listener, profile, shutdown).await
    })?;
    Ok(())
}
