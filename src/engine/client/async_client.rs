//! The async client: one `reqwest::Client` (a connection pool behind an `Arc`) shared by every
//! task of a run, with the same `chat` method, limits and result type as the blocking client.

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::engine::client::{Head, SseReader, ended, parse_body, status_error};
use crate::model::error::RunError;
use crate::model::outcome::{RequestError, TransportKind};
use crate::model::record::{RateLimit, Sample};
use crate::plan::request::{Limits, NumberedUrl, PreparedRequest};
use mock_server::{ATTEMPT_HEADER, REQUEST_INDEX_HEADER};

/// Installs rustls's ring provider once, for HTTPS targets (we build reqwest without aws-lc so the
/// workspace needs no cmake).
pub(crate) fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The reqwest builder every `AsyncClient` starts from, whatever its target: `timeout` cuts an
/// attempt off (connect to last byte), Nagle is off, the idle pool unbounded, the heads read
/// those the blocking client reads, and no hidden
/// attempts: no redirect followed, and none resent (reqwest would resend on an HTTP/2 refusal
/// by default), as every attempt must be counted (and be the mock's count). Public so the
/// bench's bare-reqwest floor (`examples/floor_client.rs`) is built as the strategy's client is.
pub fn base_builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .retry(reqwest::retry::never())
        // A redirect is an answer (a 3xx outcome), as in the blocking client: following it hid
        // a second request in the latency of the async strategies only.
        .redirect(reqwest::redirect::Policy::none())
        // As many headers as the blocking client reads (their size is checked on each answer).
        .http1_max_headers(super::MAX_RESPONSE_HEADERS)
}

/// A reqwest client bound to one prepared request. Clone it into tasks: clones share the pool.
/// The URL and the fixed headers are parsed once here, not per request (parsing the URL was
/// 2 % of the client's CPU at zero latency).
#[derive(Debug, Clone)]
pub(crate) struct AsyncClient {
    client: reqwest::Client,
    req: Arc<PreparedRequest>,
    limits: Limits,
    url: reqwest::Url,
    /// The URL numbered per attempt, when the numbers go in its query.
    numbered: Option<NumberedUrl>,
    auth: Option<HeaderValue>,
}

static INDEX: HeaderName = HeaderName::from_static(REQUEST_INDEX_HEADER);
static ATTEMPT: HeaderName = HeaderName::from_static(ATTEMPT_HEADER);
static JSON: HeaderValue = HeaderValue::from_static("application/json");

impl AsyncClient {
    /// A client whose own timeout cuts an attempt off at the deadline (connect to last byte);
    /// `chat` checks the deadline again at the end, as the blocking client does.
    pub(crate) fn new(req: Arc<PreparedRequest>, limits: Limits) -> Result<Self, RunError> {
        // The run's proxy or none: reqwest's own reading of the environment is never used.
        let mut b = base_builder(limits.timeout).no_proxy();
        if let Some(p) = &req.proxy {
            let proxy = reqwest::Proxy::all(&p.url).map_err(|e| RunError::Setup {
                what: "proxy",
                source: e.into(),
            })?;
            b = b.proxy(proxy);
        }
        // HTTP/1.1 unless asked: with HTTP/2 on, reqwest would pick it by ALPN on any https
        // target, and the comparison with ureq (HTTP/1.1 only) would change under the user.
        b = match (req.http2, req.url.starts_with("https:")) {
            (false, _) => b.http1_only(),
            (true, false) => b.http2_prior_knowledge(),
            (true, true) => b,
        };
        if let Some(pem) = &req.trust.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| RunError::Setup {
                what: "CA certificate",
                source: e.into(),
            })?;
            b = b.tls_certs_merge(certs);
        }
        if req.trust.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let client = b.build().map_err(|e| RunError::Setup {
            what: "reqwest client",
            source: e.into(),
        })?;
        let url = reqwest::Url::parse(&req.url).map_err(|e| RunError::Setup {
            what: "target URL",
            source: e.into(),
        })?;
        let auth = match &req.auth {
            Some(a) => {
                let mut v = HeaderValue::from_str(a).map_err(|e| RunError::Setup {
                    what: "authorization header",
                    source: e.into(),
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let numbered = (!req.numbering.in_headers()).then(|| NumberedUrl::new(&url));
        Ok(AsyncClient {
            client,
            req,
            limits,
            url,
            numbered,
            auth,
        })
    }

    /// Sends attempt `attempt` (1-based) of logical request `index`, started at `started`, once
    /// and reads the whole answer; returns it with when it ended (the one clock reading the
    /// attempt's end, its deadline and its record share). An answer whose last byte comes after
    /// the deadline is a timeout.
    ///
    /// Not an `async fn` of its own around the attempt's: that would hold the arguments twice in
    /// the future of every request in flight.
    pub(crate) fn chat(
        &self,
        index: u64,
        attempt: u32,
        started: Instant,
    ) -> impl Future<Output = (Result<Sample, RequestError>, Instant)> + '_ {
        let timeout = self.limits.timeout;
        self.attempt(started, index, attempt)
            .map(move |result| ended(result, started, timeout))
    }

    /// Attempt `attempt` of request `index`, built (outside the attempt's future).
    fn request(&self, index: u64, attempt: u32) -> reqwest::RequestBuilder {
        let r = &self.req;
        let url = match &self.numbered {
            Some(n) => n.url(index, attempt),
            None => self.url.clone(),
        };
        let builder = if r.call.completes() {
            let mut b = self
                .client
                .post(url)
                .header(CONTENT_TYPE, JSON.clone())
                .body(r.body(index).bytes.clone());
            if let Some(a) = &self.auth {
                b = b.header(AUTHORIZATION, a.clone());
            }
            b
        } else {
            self.client.get(url)
        };
        let mut builder = builder;
        if r.numbering.in_headers() {
            builder = builder.header(INDEX.clone(), HeaderValue::from(index));
            // A first attempt goes without its number (the mock takes 1): reqwest and hyper
            // copy a request's headers three times, and two of the copies are held until its
            // answer.
            if attempt > 1 {
                builder = builder.header(ATTEMPT.clone(), HeaderValue::from(attempt));
            }
        }
        for (k, v) in &r.headers {
            builder = builder.header(k, v);
        }
        builder
    }

    async fn attempt(&self, started: Instant, index: u64, attempt: u32) -> Result<Sample, RequestError> {
        let r = &self.req;
        let body = r.body(index);
        let max = self.limits.max_body;
        let sending = self.request(index, attempt).send();
        let mut resp = sending.await.map_err(|e| self.map_error(e))?;
        if let Some(e) = super::head_too_large(resp.status(), resp.headers()) {
            return Err(e);
        }
        let status = resp.status().as_u16();
        // A failed answer and a stream are read by futures of their own, boxed, so the state of
        // a whole answer's read (every request in flight holds it) does not reserve their room.
        if !(200..300).contains(&status) {
            return Err(Box::pin(self.failed(resp, status)).await);
        }
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(RequestError::TooLarge { limit: max });
        }
        if r.stream {
            return Box::pin(self.stream(resp, started, index)).await;
        }
        let head = Head::of(r, resp.version(), resp.headers());
        let ratelimit = RateLimit::from_headers(resp.headers()).map(Box::new);
        // Read chunk by chunk, not by `Response::bytes`, whose future (568 bytes) every request
        // in flight would hold: the first chunk is kept without a copy (a whole answer mostly
        // comes in one); a second one starts a buffer of the announced length, up to 1 MiB (a
        // length announced is no promise: room is not taken for bytes that may never come).
        let hint = resp.content_length().unwrap_or(0).min(max).min(1 << 20) as usize;
        let (mut first, mut rest) = (Bytes::new(), Vec::new());
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.map_error(e).in_body(status))?
        {
            let total = first.len() + rest.len() + chunk.len();
            if total as u64 > max {
                return Err(RequestError::TooLarge { limit: max });
            }
            if first.is_empty() && rest.is_empty() {
                first = chunk;
                continue;
            }
            if rest.is_empty() {
                rest.reserve(hint.max(total));
                rest.extend_from_slice(&std::mem::take(&mut first));
            }
            rest.extend_from_slice(&chunk);
        }
        let bytes = if rest.is_empty() { first } else { Bytes::from(rest) };
        let read = head.read_now();
        parse_body(r, &bytes).map(|s| Sample {
            ratelimit,
            ..head.sample(s, body, bytes.len() as u64, started, read)
        })
    }

    /// A failed answer's error: its status and headers, and the start of its body for the
    /// sample; the rest is drained (bounded) so the connection can be reused.
    async fn failed(&self, mut resp: reqwest::Response, status: u16) -> RequestError {
        let headers = resp.headers().clone();
        let mut head = Vec::new();
        let mut total = 0u64;
        while let Ok(Some(chunk)) = resp.chunk().await {
            total += chunk.len() as u64;
            if head.len() < crate::model::record::Failure::SAMPLE_BYTES {
                head.extend_from_slice(&chunk);
            }
            if total > self.limits.max_body {
                break;
            }
        }
        status_error(&self.req, status, &headers, &head)
    }

    /// A streamed answer, event by event, until `[DONE]` or its end.
    async fn stream(
        &self,
        mut resp: reqwest::Response,
        started: Instant,
        index: u64,
    ) -> Result<Sample, RequestError> {
        let r = &self.req;
        let max = self.limits.max_body;
        let head = Head::of(r, resp.version(), resp.headers());
        let ratelimit = RateLimit::from_headers(resp.headers()).map(Box::new);
        let deadline = started + self.limits.timeout;
        let mut sse = SseReader::new(started, r.tokenizer).reading_stamps(head.stamp_base());
        let mut total = 0u64;
        let status = resp.status().as_u16();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.map_error(e).in_body(status))?
        {
            total += chunk.len() as u64;
            if total > max {
                return Err(RequestError::TooLarge { limit: max });
            }
            let now = Instant::now();
            if now > deadline {
                return Err(RequestError::Timeout);
            }
            sse.feed(&chunk, now)?;
            if sse.is_done() {
                while let Ok(Some(_)) = resp.chunk().await {}
                break;
            }
        }
        sse.finish().map(|s| Sample {
            ratelimit,
            ..head.sample(s, r.body(index), total, started, None)
        })
    }

    fn map_error(&self, e: reqwest::Error) -> RequestError {
        if e.is_timeout() {
            return RequestError::Timeout;
        }
        // The URL (it may hold userinfo) stays out of the message; the whole source chain goes
        // in, since "error sending request" alone does not say reset vs refused.
        let e = e.without_url();
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(": ");
            msg.push_str(&s.to_string());
            src = s.source();
        }
        // The kind from the chain's io::Error, or hyper's "connection closed before message
        // completed" (an incomplete message has no io::Error beneath it).
        let kind = TransportKind::of_chain(&e, |err| {
            err.downcast_ref::<hyper::Error>()
                .is_some_and(|h| h.is_incomplete_message())
        });
        RequestError::transport(kind, self.req.redact(&msg))
    }
}
