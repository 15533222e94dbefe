//! The connection layer and the embeddable server: a hyper HTTP/1.1 accept loop around the axum
//! app (so a handler can ask for a real TCP reset), and [`MockServer`], which runs it on its own
//! thread with its own runtime so blocking clients need no runtime of theirs.

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::app::{AppState, ResetConnection, router};
use crate::profile::Profile;
use crate::stats::StatsSnapshot;

/// Listen backlog: large, so that thousands of clients connecting at once are queued rather than
/// dropped into SYN retransmits (which would add a whole second to their latency).
const BACKLOG: i32 = 8192;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The runtime or its thread could not start.
    #[error("cannot start the mock's runtime: {0}")]
    Runtime(io::Error),
    /// The profile is invalid.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
}

/// Binds a listener with a large backlog and `SO_REUSEADDR`.
pub fn bind(addr: SocketAddr) -> Result<StdListener, ServerError> {
    let err = |source| ServerError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    Ok(socket.into())
}

/// A TCP stream that is closed with a reset (SO_LINGER 0) when the app asked for one.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Relaxed) {
            // Linger 0 makes close() send RST instead of FIN.
            let _ = socket2::SockRef::from(&self.inner).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
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
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The error a connection's service returns to make hyper drop the connection.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by the mock")]
struct ResetRequested;

/// Serves `app` on `listener` until `shutdown` is cancelled, then gives open connections a second
/// to finish before returning.
pub(crate) async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.keep_alive(true);
    let tracker = tokio_util::task::TaskTracker::new();
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
        let _ = stream.set_nodelay(true);
        let reset = Arc::new(AtomicBool::new(false));
        let io = TokioIo::new(ResettableStream {
            inner: stream,
            reset: reset.clone(),
        });
        let app = app.clone();
        let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let app = app.clone();
            let reset = reset.clone();
            async move {
                let Ok(resp) = app.oneshot(req.map(Body::new)).await;
                if resp.extensions().get::<ResetConnection>().is_some() {
                    reset.store(true, Ordering::Relaxed);
                    return Err(ResetRequested);
                }
                Ok(resp)
            }
        });
        let conn = http.serve_connection(io, svc);
        let token = shutdown.clone();
        tracker.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = token.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
                }
            }
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
}

/// Runs `profile` on a bound listener until `shutdown` is cancelled (for the binary, which owns
/// its runtime). Returns the state so callers can read the counters.
pub async fn run(listener: StdListener, profile: Profile, shutdown: CancellationToken) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let state = AppState::new(profile, shutdown.clone());
    serve(listener, router(state), shutdown).await;
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
}

impl MockServer {
    /// Validates `profile`, binds 127.0.0.1:0 and starts serving. The listener is bound before
    /// this returns, so the server accepts connections as soon as it has returned.
    pub fn start(profile: Profile) -> Result<MockServer, ServerError> {
        MockServer::start_on(profile, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Like [`MockServer::start`] on a given address.
    pub fn start_on(profile: Profile, addr: SocketAddr) -> Result<MockServer, ServerError> {
        profile.validate()?;
        let listener = bind(addr)?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
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
        let app = router(state.clone());
        let token = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("mock-server-main".into())
            .spawn(move || {
                rt.block_on(serve(listener, app, token));
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(ServerError::Runtime)?;
        Ok(MockServer {
            addr,
            state,
            shutdown,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, the base URL to give clients (append `/v1`, `/delay/1`, …).
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
