//! The blocking client: one `ureq` agent, one request at a time on the calling thread. No tokio
//! anywhere in this file: a blocking arm built on `block_on` would measure tokio, not blocking I/O.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{PreparedRequest, SseReader, parse_body, status_error};
use crate::error::RequestError;
use crate::metrics::Sample;

/// Largest non-streaming body read (bigger is a decode error, not an out-of-memory).
const MAX_BODY: u64 = 64 << 20;

/// A ureq agent bound to one prepared request. Cheap to create; one per worker thread.
#[derive(Debug, Clone)]
pub struct BlockingClient {
    agent: ureq::Agent,
    req: Arc<PreparedRequest>,
}

impl BlockingClient {
    /// An agent with the per-request timeout covering connect, send, wait and body.
    pub fn new(req: Arc<PreparedRequest>, timeout: Duration) -> Self {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections(4)
            .max_idle_connections_per_host(4);
        if req.loopback {
            config = config.proxy(None);
        }
        BlockingClient {
            agent: config.build().into(),
            req,
        }
    }

    /// Sends the request once and reads the whole answer.
    pub fn chat(&self) -> Result<Sample, RequestError> {
        let started = Instant::now();
        let r = &self.req;
        let sent = if r.post {
            let mut b = self.agent.post(&r.url).header("content-type", "application/json");
            if let Some(a) = &r.auth {
                b = b.header("authorization", a);
            }
            b.send(&r.body[..])
        } else {
            self.agent.get(&r.url).call()
        };
        let mut resp = sent.map_err(map_error)?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let err = status_error(status, resp.headers());
            // Drain the error body so the connection can be reused.
            let _ = resp.body_mut().with_config().limit(MAX_BODY).read_to_vec();
            return Err(err);
        }
        if r.stream {
            let mut reader = resp.into_body().into_reader();
            let mut sse = SseReader::new(started);
            let mut buf = [0u8; 16 * 1024];
            loop {
                let n = reader.read(&mut buf).map_err(map_io)?;
                if n == 0 {
                    break;
                }
                sse.feed(&buf[..n], Instant::now())?;
                if sse.is_done() {
                    // Read to the end so the connection goes back to the pool clean.
                    let _ = std::io::copy(&mut reader, &mut std::io::sink());
                    break;
                }
            }
            return sse.finish();
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(map_error)?;
        parse_body(r, &body)
    }
}

fn map_error(e: ureq::Error) -> RequestError {
    match e {
        ureq::Error::Timeout(_) => RequestError::Timeout,
        ureq::Error::Io(io) => map_io(io),
        other => RequestError::Transport(other.to_string()),
    }
}

fn map_io(e: std::io::Error) -> RequestError {
    // ureq reports its own timeouts while reading a body as io errors wrapping ureq::Error.
    let timed_out = e.kind() == std::io::ErrorKind::TimedOut
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
    if timed_out {
        RequestError::Timeout
    } else {
        RequestError::Transport(e.to_string())
    }
}
