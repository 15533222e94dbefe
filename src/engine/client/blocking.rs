//! The blocking client: one `ureq` agent, one request at a time on the calling thread. No tokio
//! anywhere in this file: a blocking arm built on `block_on` would measure tokio, not blocking I/O.

use std::borrow::Cow;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::engine::client::{Head, SseReader, ended, parse_body, status_error};
use crate::model::outcome::{RequestError, TransportKind};
use crate::model::record::Sample;
use crate::plan::endpoint::TlsTrust;
use crate::plan::proxy::Proxy;
use crate::plan::request::{Limits, NumberedUrl, PreparedRequest};
use mock_server::{ATTEMPT_HEADER, REQUEST_INDEX_HEADER};

/// ureq's resolver, but an IP address in the URL is used as it is. ureq's own resolver, when a
/// timeout is set, starts a thread for every lookup so it can give up on slow DNS, even for
/// `127.0.0.1`: a thread per new connection that no blocking client of the pattern we model
/// (`requests`) pays, and that would count among the strategy's threads.
#[derive(Debug, Default)]
struct LiteralFirst(DefaultResolver);

impl Resolver for LiteralFirst {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let literal = uri.host().and_then(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .ok()
        });
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        match (literal, port) {
            (Some(ip), Some(port)) => {
                let mut out = self.0.empty();
                out.push(std::net::SocketAddr::new(ip, port));
                Ok(out)
            }
            _ => self.0.resolve(uri, config, timeout),
        }
    }
}

/// A ureq agent bound to one prepared request. Cheap to create; one per worker thread.
#[derive(Debug, Clone)]
pub(crate) struct BlockingClient {
    agent: ureq::Agent,
    req: Arc<PreparedRequest>,
    limits: Limits,
    /// The URL, parsed once, when each attempt's numbers go in its query (one that does not
    /// parse is sent as it is: ureq then refuses it on every attempt, as without numbers).
    query_url: Option<NumberedUrl>,
}

impl BlockingClient {
    /// An agent whose own global timeout cuts an attempt off at the deadline; `chat` checks the
    /// deadline again at the end, so the rule is the async client's exactly.
    pub(crate) fn new(req: Arc<PreparedRequest>, limits: Limits) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // A redirect is an answer, as in the async client: never followed.
            .max_redirects(0)
            .max_response_header_size(super::MAX_RESPONSE_HEAD)
            .timeout_global(Some(limits.timeout))
            .max_idle_connections(4)
            .max_idle_connections_per_host(4);
        let config = connecting(config, &req.trust, req.proxy.as_ref());
        BlockingClient {
            agent: ureq::Agent::with_parts(
                config.build(),
                DefaultConnector::default(),
                LiteralFirst::default(),
            ),
            query_url: (!req.numbering.in_headers())
                .then(|| url::Url::parse(&req.url).ok())
                .flatten()
                .map(|u| NumberedUrl::new(&u)),
            req,
            limits,
        }
    }

    /// Sends attempt `attempt` (1-based) of logical request `index` once and reads the whole
    /// answer. An answer whose last byte comes after the deadline is a timeout, as in the async
    /// client, however the bytes arrived.
    pub(crate) fn chat(
        &self,
        index: u64,
        attempt: u32,
        started: Instant,
    ) -> (Result<Sample, RequestError>, Instant) {
        ended(
            self.attempt(started, index, attempt),
            started,
            self.limits.timeout,
        )
    }

    fn attempt(&self, started: Instant, index: u64, attempt: u32) -> Result<Sample, RequestError> {
        let r = &self.req;
        let body = r.body(index);
        let deadline = started + self.limits.timeout;
        let max = self.limits.max_body;
        let url = match &self.query_url {
            Some(u) => Cow::Owned(String::from(u.url(index, attempt))),
            None => Cow::Borrowed(r.url.as_str()),
        };
        let sent = if r.call.completes() {
            let mut b = self.agent.post(&*url).header("content-type", "application/json");
            if let Some(a) = &r.auth {
                b = b.header("authorization", a);
            }
            numbered(b, r, index, attempt).send(&body.bytes[..])
        } else {
            numbered(self.agent.get(&*url), r, index, attempt).call()
        };
        let mut resp = sent.map_err(|e| self.map_error(e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            // Read the error body (bounded) for its sample and so the connection can be reused.
            let error_body = resp
                .body_mut()
                .with_config()
                .limit(max)
                .read_to_vec()
                .unwrap_or_default();
            return Err(status_error(r, status, resp.headers(), &error_body));
        }
        let head = Head::of(r, resp.version(), resp.headers());
        if r.stream {
            let mut reader = resp.into_body().into_with_config().limit(max).reader();
            let mut sse = SseReader::new(started, r.tokenizer).reading_stamps(head.stamp_base());
            let mut buf = [0u8; 16 * 1024];
            let mut total = 0u64;
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| self.map_io(e).in_body(status))?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                if total > max {
                    return Err(RequestError::TooLarge { limit: max });
                }
                let now = Instant::now();
                if now > deadline {
                    return Err(RequestError::Timeout);
                }
                sse.feed(&buf[..n], now)?;
                if sse.is_done() {
                    // Read to the end so the connection goes back to the pool clean.
                    let _ = std::io::copy(&mut reader, &mut std::io::sink());
                    break;
                }
            }
            return sse.finish().map(|s| head.sample(s, body, total, started, None));
        }
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(max)
            .read_to_vec()
            .map_err(|e| self.map_error(e).in_body(status))?;
        let read = head.read_now();
        parse_body(r, &bytes).map(|s| head.sample(s, body, bytes.len() as u64, started, read))
    }

    fn map_error(&self, e: ureq::Error) -> RequestError {
        match e {
            ureq::Error::Timeout(_) => RequestError::Timeout,
            ureq::Error::BodyExceedsLimit(_) => RequestError::TooLarge {
                limit: self.limits.max_body,
            },
            ureq::Error::Io(io) => self.map_io(io),
            other => {
                let kind = TransportKind::of_chain(&other, |_| false);
                RequestError::transport(kind, self.req.redact(&other.to_string()))
            }
        }
    }

    fn map_io(&self, e: std::io::Error) -> RequestError {
        // ureq reports its own timeouts and limits while reading a body as io errors wrapping
        // ureq::Error.
        let inner = e.get_ref().and_then(|inner| inner.downcast_ref::<ureq::Error>());
        match inner {
            Some(ureq::Error::Timeout(_)) => RequestError::Timeout,
            Some(ureq::Error::BodyExceedsLimit(_)) => RequestError::TooLarge {
                limit: self.limits.max_body,
            },
            _ if e.kind() == std::io::ErrorKind::TimedOut => RequestError::Timeout,
            _ => {
                let kind = TransportKind::of_io(e.kind()).unwrap_or(TransportKind::Other);
                RequestError::transport(kind, self.req.redact(&e.to_string()))
            }
        }
    }
}

/// `config` trusting what the run trusts and going through the run's proxy (or none: ureq's own
/// reading of the environment is never used). Shared with the harness's own agents (the
/// target's check, the watchdog's probes, a mock's counters), which must reach the target as
/// the clients do.
pub(crate) fn connecting(
    mut config: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    trust: &TlsTrust,
    proxy: Option<&Proxy>,
) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    // Checked to be an HTTP(S) proxy URL when the run was planned: ureq takes those.
    config = config.proxy(proxy.and_then(|p| ureq::Proxy::new(&p.url).ok()));
    // The system's roots, as reqwest trusts them: ureq's own default is Mozilla's list, and a
    // target whose CA the system trusts (a company's) failed the ureq strategies alone.
    let mut tls = ureq::tls::TlsConfig::builder()
        .disable_verification(trust.insecure)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier);
    if let Some(pem) = &trust.ca_pem {
        // Certificates the run was told to trust (checked readable when the run was set up);
        // ureq then trusts these only, not the system's roots.
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    config.tls_config(tls.build())
}

/// `b` with the request's number, the attempt's when it is not the first (the mock takes 1, as
/// the async client sends it), and the `-H` headers.
fn numbered<B>(
    mut b: ureq::RequestBuilder<B>,
    r: &PreparedRequest,
    index: u64,
    attempt: u32,
) -> ureq::RequestBuilder<B> {
    if r.numbering.in_headers() {
        b = b.header(REQUEST_INDEX_HEADER, index);
        if attempt > 1 {
            b = b.header(ATTEMPT_HEADER, u64::from(attempt));
        }
    }
    for (k, v) in &r.headers {
        b = b.header(k, v);
    }
    b
}
