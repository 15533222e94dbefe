//! The standalone mock server: parse flags, bind, print `listening on http(s)://HOST:PORT` (and,
//! with `--tls`, the certificate to trust on the second line), serve until Ctrl-C. Bad flags or
//! profile values print one line naming the value and exit 2.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mock_server::args::{parse_duration_arg, parse_positive};
use mock_server::{ProfileArgs, ServerError, ServerOptions, Tls, TlsSource, bind, run};
use tokio_util::sync::CancellationToken;

/// jemalloc, as oha uses: glibc's malloc was about a tenth of the client's CPU and a share of
/// the mock's (results/2026-11-30-epyc-2c/profile/).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Parses `--host`: an IP address, or `localhost` (127.0.0.1).
fn parse_host(s: &str) -> Result<IpAddr, String> {
    if s.trim().eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::from([127, 0, 0, 1]));
    }
    s.trim().parse().map_err(|_| {
        format!("'{s}' is not an IP address (or localhost): the mock binds an address, not a name")
    })
}

/// An OpenAI-compatible chat-completions mock with configurable latency, token streaming,
/// injected 429s and faults, and a real requests/min + tokens/min limiter.
#[derive(Debug, clap::Parser)]
#[command(name = "mock-server", version)]
struct Cli {
    /// Address to bind. Anything but loopback exposes the mock to your network (a warning says so).
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    host: IpAddr,
    /// Port to bind; 0 picks a free one (read it from the first line printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Require `Authorization: Bearer KEY` (or `x-api-key: KEY`) on work requests and /admin/* (401 otherwise)
    /// [default: none].
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Runtime worker threads [default: one per core].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    workers: Option<u64>,
    /// Serve HTTPS. Without --tls-cert/--tls-key a CA and a certificate for localhost and
    /// 127.0.0.1 are made at start; the CA's PEM is written where the second line says.
    #[arg(long)]
    tls: bool,
    /// Your certificate chain (PEM) for --tls [default: generated].
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Your private key (PEM) for --tls [default: generated].
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where to write the certificate clients should trust (--ca-cert of asyncbench)
    /// [default: a file in the temporary directory, named on the second line].
    #[arg(long, value_name = "FILE")]
    tls_cert_out: Option<PathBuf>,
    /// On a plain port, accept HTTP/2 with prior knowledge as well as HTTP/1.1 (over TLS, ALPN
    /// offers both anyway).
    #[arg(long)]
    http2: bool,
    /// Time a connection has to send a complete request head, from connecting or from its
    /// previous answer (HTTP/1.1), and to finish a TLS handshake.
    #[arg(allow_hyphen_values = true, long, default_value = "30s", value_parser = parse_duration_arg, value_name = "DURATION")]
    header_timeout: Duration,
    /// A connection with no request in flight and no bytes moving for this long is closed.
    #[arg(allow_hyphen_values = true, long, default_value = "90s", value_parser = parse_duration_arg, value_name = "DURATION")]
    idle_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted [default: the
    /// open-file limit, less 64].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    max_connections: Option<u64>,
    /// Stamp each answer (header x-mock-stamp) with the CLOCK_MONOTONIC nanoseconds it was
    /// meant to be written at and was, and each streamed event (an SSE comment, `: stamp DUE
    /// LATE`) with when it was meant to be written after the header's time and how late it was:
    /// asyncbench on the same host splits its latency into the mock's lateness and the transit
    /// [default: off].
    #[arg(long)]
    stamps: bool,
    #[command(flatten)]
    profile: ProfileArgs,
}

fn main() -> ExitCode {
    let cli: Cli = mock_server::args::parse_or_exit("mock-server");
    match serve(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mock-server: {e}");
            // A bad flag, profile, certificate or address (a port in use) is bad input.
            let bad_input = e.downcast_ref::<ServerError>().is_some_and(|e| {
                matches!(
                    e,
                    ServerError::Profile(_) | ServerError::Tls(_) | ServerError::Bind { .. }
                )
            }) || e.downcast_ref::<mock_server::ProfileError>().is_some();
            ExitCode::from(if bad_input { 2 } else { 1 })
        }
    }
}

fn serve(cli: Cli) -> anyhow::Result<()> {
    let mut profile = cli.profile.to_profile()?;
    profile.stamps |= cli.stamps;
    if cli.api_key.is_some() {
        profile.api_key = cli.api_key;
    }
    if let Some(w) = cli.workers {
        profile.workers = Some(usize::try_from(w)?);
    }
    let source = match (cli.tls, cli.tls_cert, cli.tls_key) {
        (false, None, None) => None,
        (_, Some(cert), Some(key)) => Some(TlsSource::Files { cert, key }),
        _ => Some(TlsSource::Generated),
    };
    let options = ServerOptions {
        tls: source.clone(),
        http2: cli.http2,
        header_timeout: cli.header_timeout,
        idle_timeout: cli.idle_timeout,
        max_connections: cli.max_connections,
    };
    let tls = source
        .as_ref()
        .map(Tls::new)
        .transpose()
        .map_err(ServerError::from)?;
    let listener = bind(SocketAddr::new(cli.host, cli.port))?;
    let addr = listener.local_addr()?;
    if let Some(w) = mock_server::server_exposure_warning(cli.host, profile.api_key.is_some()) {
        eprintln!("mock-server: {w}");
    }
    let cert_path = match &tls {
        Some(t) => {
            let path = cli
                .tls_cert_out
                .unwrap_or_else(|| std::env::temp_dir().join(format!("mock-server-{}-ca.pem", addr.port())));
            std::fs::write(&path, &t.ca_pem)?;
            Some(path)
        }
        None => None,
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(w) = profile.workers {
        rt.worker_threads(w);
    }
    let rt = rt.enable_all().build()?;
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    rt.block_on(async move {
        // Scripts read the address from this first line (and the certificate from the second),
        // so print and flush them before anything.
        let mut out = std::io::stdout().lock();
        let scheme = if tls.is_some() { "https" } else { "http" };
        writeln!(out, "listening on {scheme}://{addr}")?;
        if let Some(p) = &cert_path {
            writeln!(out, "certificate to trust: {}", p.display())?;
        }
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
        run(listener, profile, options, tls, shutdown).await
    })?;
    Ok(())
}
