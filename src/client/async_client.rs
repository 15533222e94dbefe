//! The async client: one `reqwest::Client` (a connection pool behind an `Arc`) shared by every
//! task of a run, with the same `chat` method and result type as the blocking client.

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use crate::client::{PreparedRequest, SseReader, parse_body, status_error};
use crate::error::{RequestError, RunError};
use crate::metrics::Sample;

/// Installs rustls's ring provider once, for HTTPS targets (we build reqwest without aws-lc so the
/// workspace needs no cmake).
pub(crate) fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client bound to one prepared request. Clone it into tasks: clones share the pool.
#[derive(Debug, Clone)]
pub struct AsyncClient {
    client: reqwest::Client,
    req: Arc<PreparedRequest>,
}

impl AsyncClient {
    /// A client whose per-request timeout covers connect, send, wait and body.
    pub fn new(req: Arc<PreparedRequest>, timeout: Duration) -> Result<Self, RunError> {
        install_tls_provider();
        let mut b = reqwest::Client::builder()
            .timeout(timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX);
        if req.loopback {
            b = b.no_proxy();
        }
        let client = b.build().map_err(|e| RunError::Setup {
            what: "reqwest client",
            why: e.to_string(),
        })?;
        Ok(AsyncClient { client, req })
    }

    /// Sends the request once and reads the whole answer.
    pub async fn chat(&self) -> Result<Sample, RequestError> {
        let started = Instant::now();
        let r = &self.req;
        let builder = if r.post {
            let mut b = self
                .client
                .post(&r.url)
                .header("content-type", "application/json")
                .body(r.body.clone());
            if let Some(a) = &r.auth {
                b = b.header("authorization", a);
            }
            b
        } else {
            self.client.get(&r.url)
        };
        let mut resp = builder.send().await.map_err(map_error)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let err = status_error(status, resp.headers());
            let _ = resp.bytes().await;
            return Err(err);
        }
        if r.stream {
            let mut sse = SseReader::new(started);
            while let Some(chunk) = resp.chunk().await.map_err(map_error)? {
                sse.feed(&chunk, Instant::now())?;
                if sse.is_done() {
                    while let Ok(Some(_)) = resp.chunk().await {}
                    break;
                }
            }
            return sse.finish();
        }
        let body = resp.bytes().await.map_err(map_error)?;
        parse_body(r, &body)
    }
}

fn map_error(e: reqwest::Error) -> RequestError {
    if e.is_timeout() {
        return RequestError::Timeout;
    }
    // The whole source chain: "error sending request" alone does not say reset vs refused.
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    RequestError::Transport(msg)
}
