//! The connection layer and the embeddable server. An accept loop (with a cap on open
//! connections), TLS where asked (ALPN `h2`, `http/1.1`), HTTP/1.1 or HTTP/2 (with prior
//! knowledge on a plain port when asked) by hyper, timeouts for slow request heads and idle
//! connections, and a real TCP reset when the app asks for one. [`MockServer`] runs it all on its
//! own thread with its own runtime, so blocking clients need no runtime of theirs.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::app::{AppState, ResetConnection, router};
use crate::guarded::with_guard;
use crate::profile::Profile;
use crate::stats::{ConnMark, StatsSnapshot};
use crate::tls::{Tls, TlsError, TlsSource};

/// Listen backlog: large, so that thousands of clients connecting at once are queued rather than
/// dropped into SYN retransmits (which would add a whole second to their latency).
const BACKLOG: i32 = 8192;

/// Open files kept free for everything that is not a connection (the listener, logs, timers).
const RESERVED_FILES: u64 = 64;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why (printed once: it is part of this message, not a separate cause).
        reason: io::Error,
    },
    /// The runtime or its thread could not start.
    #[error("cannot start the mock's runtime: {0}")]
    Runtime(io::Error),
    /// The profile is invalid.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// How the mock serves connections (what it answers is the [`Profile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Serve HTTPS with this certificate; `None` is plain HTTP.
    pub tls: Option<TlsSource>,
    /// On a plain port, accept HTTP/2 with prior knowledge as well as HTTP/1.1 (over TLS, ALPN
    /// always offers both).
    pub http2: bool,
    /// How long a connection may take to send a complete request head, counted from when it
    /// connected or its previous answer ended (HTTP/1.1; it also bounds the wait between
    /// keep-alive requests). The TLS handshake gets as long.
    pub header_timeout: Duration,
    /// A connection with no request in flight and no bytes either way for this long is closed
    /// (HTTP/1.1 and HTTP/2).
    pub idle_timeout: Duration,
    /// Connections open at once; more are closed as soon as they are accepted (and counted).
    /// `None`: what the open-file limit allows, less a reserve.
    pub max_connections: Option<u64>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tls: None,
            http2: false,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            max_connections: None,
        }
    }
}

/// Binds a listener with a large backlog and `SO_REUSEADDR`.
pub fn bind(addr: SocketAddr) -> Result<StdListener, ServerError> {
    let err = |reason| ServerError::Bind { addr, reason };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    Ok(socket.into())
}

/// The warning for a bind address that is not loopback: the mock (its `/admin` endpoints and
/// counters included) is then reachable from the network.
pub fn exposure_warning(host: std::net::IpAddr, keyed: bool) -> Option<String> {
    (!host.is_loopback()).then(|| {
        format!(
            "warning: listening on {host} makes the mock (its /admin endpoints and counters included) reachable from the network{}",
            if keyed { "" } else { ", with no --api-key" }
        )
    })
}

/// The connection cap: the given one, or what the open-file limit allows (raised to its hard
/// limit first) less a reserve.
fn connection_cap(asked: Option<u64>) -> u64 {
    if let Some(n) = asked {
        return n;
    }
    let soft = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    soft.saturating_sub(RESERVED_FILES).max(16)
}

/// What the connection layer knows of one connection: requests being answered, and when bytes
/// last moved (for the idle timeout).
#[derive(Debug)]
struct ConnState {
    active: AtomicUsize,
    /// Milliseconds since `born` of the last read or write.
    last_ms: AtomicU64,
    born: Instant,
}

impl ConnState {
    fn touch(&self) {
        self.last_ms
            .store(self.born.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.active.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        Some(self.born.elapsed().saturating_sub(last))
    }
}

/// A request being answered on a connection, until its response body is done.
struct Active(Arc<ConnState>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A TCP stream that notes when bytes move, and is closed with a reset (SO_LINGER 0) when the
/// app asked for one.
struct Stream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
    conn: Arc<ConnState>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            // Linger 0 makes close() send RST instead of FIN.
            let _ = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.conn.touch();
        }
        polled
    }
}

impl AsyncWrite for Stream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = polled {
            self.conn.touch();
        }
        polled
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(_)) = polled {
            self.conn.touch();
        }
        polled
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The error a connection's service returns to make hyper drop the connection (HTTP/1.1) or
/// reset the stream (HTTP/2).
#[derive(Debug, thiserror::Error)]
#[error("connection reset by the mock")]
struct ResetRequested;

/// Everything a connection task needs.
#[derive(Clone)]
struct Shared {
    app: Router,
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    options: ServerOptions,
}

/// Serves one accepted connection until it ends, the mock stops, or it idles out.
async fn connection(stream: TcpStream, sh: Shared, token: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let conn = Arc::new(ConnState {
        active: AtomicUsize::new(0),
        last_ms: AtomicU64::new(0),
        born: Instant::now(),
    });
    let reset = Arc::new(AtomicBool::new(false));
    let io = Stream {
        inner: stream,
        reset: reset.clone(),
        conn: conn.clone(),
    };
    let (app, state) = (sh.app.clone(), sh.state.clone());
    let svc_conn = conn.clone();
    let mark = ConnMark {
        worked: Arc::new(AtomicBool::new(false)),
        tls: sh.tls.is_some(),
    };
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let (app, state, reset, conn) = (app.clone(), state.clone(), reset.clone(), svc_conn.clone());
        req.extensions_mut().insert(mark.clone());
        async move {
            let h2 = req.version() == axum::http::Version::HTTP_2;
            if h2 {
                state.stats.http2_request();
            }
            conn.active.fetch_add(1, Ordering::Relaxed);
            let active = Active(conn);
            let Ok(resp) = app.oneshot(req.map(Body::new)).await;
            if resp.extensions().get::<ResetConnection>().is_some() {
                // HTTP/1.1: the whole connection goes with RST. HTTP/2: only this stream.
                if !h2 {
                    reset.store(true, Ordering::Relaxed);
                }
                return Err(ResetRequested);
            }
            Ok(with_guard(resp, active))
        }
    });
    let o = &sh.options;
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(o.header_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let idle = o.idle_timeout;
    let watchdog = async {
        let tick = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        loop {
            tokio::time::sleep(tick).await;
            if conn.idle_for().is_some_and(|d| d >= idle) {
                return;
            }
        }
    };
    match &sh.tls {
        Some(acceptor) => {
            let Ok(Ok(tls)) = tokio::time::timeout(o.header_timeout, acceptor.accept(io)).await else {
                return;
            };
            sh.state.stats.tls_handshake();
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            let builder = if h2 {
                builder.http2_only()
            } else {
                builder.http1_only()
            };
            drive(builder.serve_connection(TokioIo::new(tls), svc), watchdog, token).await;
        }
        None => {
            let builder = if o.http2 { builder } else { builder.http1_only() };
            drive(builder.serve_connection(TokioIo::new(io), svc), watchdog, token).await;
        }
    }
}

/// Runs a connection to its end; on shutdown or idle timeout, shuts it down gracefully (a second
/// at most for answers in progress).
async fn drive<C, E>(conn: C, watchdog: impl std::future::Future<Output = ()>, token: CancellationToken)
where
    C: std::future::Future<Output = Result<(), E>> + GracefulConnection,
{
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = token.cancelled() => {
            conn.as_mut().shutdown_gracefully();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
        _ = watchdog => {
            conn.as_mut().shutdown_gracefully();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
    }
}

/// hyper-util's connections, whatever their IO type, can be shut down gracefully.
trait GracefulConnection {
    fn shutdown_gracefully(self: Pin<&mut Self>);
}

impl<I, S, E> GracefulConnection for hyper_util::server::conn::auto::Connection<'_, I, S, E>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    E: hyper_util::server::conn::auto::HttpServerConnExec<S::Future, S::ResBody>,
{
    fn shutdown_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then gives open connections a second
/// to finish before returning.
async fn serve(listener: TcpListener, sh: Shared, shutdown: CancellationToken) {
    let tracker = tokio_util::task::TaskTracker::new();
    let cap = connection_cap(sh.options.max_connections);
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                // Out of file descriptors or a connection aborted before accept: back off a little
                // and keep serving rather than stop.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            },
        };
        if sh.state.stats.open_connections() >= cap {
            // Over the cap: closed at once, so the mock keeps its files for the connections it
            // serves (and for /health).
            sh.state.stats.connection_refused();
            drop(stream);
            continue;
        }
        sh.state.stats.connection_opened();
        let (sh2, token, state) = (sh.clone(), shutdown.clone(), sh.state.clone());
        tracker.spawn(async move {
            connection(stream, sh2, token).await;
            state.stats.connection_closed();
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

fn shared(state: Arc<AppState>, options: &ServerOptions, tls: Option<&Tls>) -> Shared {
    Shared {
        app: router(state.clone()),
        state,
        tls: tls.map(|t| tokio_rustls::TlsAcceptor::from(t.config.clone())),
        options: options.clone(),
    }
}

/// Runs `profile` on a bound listener until `shutdown` is cancelled (for the binary, which owns
/// its runtime).
pub async fn run(
    listener: StdListener,
    profile: Profile,
    options: ServerOptions,
    tls: Option<Tls>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let state = AppState::new(profile, shutdown.clone());
    serve(listener, shared(state, &options, tls.as_ref()), shutdown).await;
    Ok(())
}

/// A mock server on 127.0.0.1 and a free port, on its own thread and runtime; stopped when dropped.
///
/// ```
/// use mock_server::{MockServer, Profile};
/// let server = MockServer::start(Profile::default()).unwrap();
/// let url = format!("{}/healthz", server.uri());
/// assert!(url.starts_with("http://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: CancellationToken,
    thread: Option<JoinHandle<()>>,
    ca_pem: Option<String>,
}

impl MockServer {
    /// Validates `profile`, binds 127.0.0.1:0 and starts serving plain HTTP/1.1. The listener is
    /// bound before this returns, so the server accepts connections as soon as it has returned.
    pub fn start(profile: Profile) -> Result<MockServer, ServerError> {
        MockServer::start_with(profile, ServerOptions::default())
    }

    /// Like [`MockServer::start`], with TLS, HTTP/2 or other connection settings.
    pub fn start_with(profile: Profile, options: ServerOptions) -> Result<MockServer, ServerError> {
        MockServer::start_on(profile, options, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Like [`MockServer::start_with`] on a given address.
    pub fn start_on(
        profile: Profile,
        options: ServerOptions,
        addr: SocketAddr,
    ) -> Result<MockServer, ServerError> {
        profile.validate()?;
        let tls = options.tls.as_ref().map(Tls::new).transpose()?;
        let listener = bind(addr)?;
        let addr = listener
            .local_addr()
            .map_err(|reason| ServerError::Bind { addr, reason })?;
        let workers = profile
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("mock-server")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let shutdown = CancellationToken::new();
        let state = AppState::new(profile, shutdown.clone());
        let listener = {
            let _enter = rt.enter();
            TcpListener::from_std(listener).map_err(ServerError::Runtime)?
        };
        let sh = shared(state.clone(), &options, tls.as_ref());
        let token = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("mock-server-main".into())
            .spawn(move || {
                rt.block_on(serve(listener, sh, token));
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(ServerError::Runtime)?;
        Ok(MockServer {
            addr,
            state,
            shutdown,
            thread: Some(thread),
            ca_pem: tls.map(|t| t.ca_pem),
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS), the base URL to give clients (append
    /// `/v1`, `/delay/1`, …).
    pub fn uri(&self) -> String {
        let scheme = if self.ca_pem.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// With TLS: the PEM certificate clients should trust (the generated CA, or the given chain).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The server's counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.snapshot()
    }

    /// Freezes every answer for `d`, as `POST /admin/stall?for=…` does (0 ends a stall).
    pub fn stall(&self, d: Duration) {
        self.state.stall(d);
    }

    /// Puts the limiter, the arrival count and any stall back to their start, as
    /// `POST /admin/reset` does.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// The profile the server runs with.
    pub fn profile(&self) -> &Profile {
        &self.state.profile
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_non_loopback_address_is_warned_about() {
        let w = |h: &str, keyed| exposure_warning(h.parse().unwrap(), keyed);
        assert_eq!(w("127.0.0.1", false), None);
        assert_eq!(w("::1", false), None);
        let open = w("0.0.0.0", false).unwrap();
        assert!(
            open.contains("0.0.0.0") && open.contains("no --api-key"),
            "{open}"
        );
        assert!(!w("192.0.2.7", true).unwrap().contains("--api-key"));
    }
}
