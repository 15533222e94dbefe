//! The mock's HTTP application: routes, handlers and the per-request pipeline
//! (count → parse → fault decision → limiter → latency → response).
//!
//! Every delay is a `tokio::time::sleep_until` on an absolute deadline, so thousands of delayed
//! requests overlap on a few threads and timer error does not accumulate over a stream. Nothing in
//! a handler can panic on input: every parse failure becomes an OpenAI-style 4xx body.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

use crate::latency::parse_duration;
use crate::limiter::{Admission, LimitKind, Limiter, LimiterState, go_duration};
use crate::profile::{Fault, Profile};
use crate::stats::{Event, Stats, StatsSnapshot};
use crate::timer::PreciseTimer;
use crate::wire::{ChatRequest, ErrorBody};

/// Largest request body accepted; larger gets 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most completion tokens per choice (larger is a 400, as models have a cap too).
pub const MAX_OUTPUT_TOKENS: u32 = 131_072;
/// Most completion tokens per request, all choices together.
pub const MAX_TOTAL_TOKENS: u64 = 1 << 20;
/// Longest `/delay/{seconds}` allowed (httpbin's cap).
pub const MAX_DELAY_SECS: f64 = 10.0;
/// Longest a hung request waits before the mock resets it anyway.
const HANG_LIMIT: Duration = Duration::from_secs(3600);
/// Words the mock "generates", one per token.
const WORDS: [&str; 8] = [
    "The", " quick", " brown", " fox", " jumps", " over", " lazy", " dogs.",
];

/// Marks a response whose connection must be reset instead of answered; the connection layer in
/// `server.rs` sees it and drops the socket with SO_LINGER 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

/// Shared state of one mock server.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) profile: Profile,
    pub(crate) stats: Stats,
    limiter: Option<Mutex<Limiter>>,
    seed: u64,
    next_index: AtomicU64,
    pub(crate) shutdown: CancellationToken,
    epoch: Instant,
    /// End of the current stall, as nanoseconds since `epoch`; 0 when not stalled.
    stall_until_ns: AtomicU64,
    /// Sub-millisecond delays (tokio's own timer rounds up to whole milliseconds).
    timer: PreciseTimer,
}

impl AppState {
    pub(crate) fn new(profile: Profile, shutdown: CancellationToken) -> Arc<Self> {
        let now = Instant::now();
        let seed = profile.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        Arc::new(AppState {
            limiter: Limiter::new(profile.rpm, profile.tpm, profile.limit_window, now).map(Mutex::new),
            profile,
            stats: Stats::new(),
            seed,
            next_index: AtomicU64::new(0),
            shutdown,
            epoch: now,
            stall_until_ns: AtomicU64::new(0),
            timer: PreciseTimer::start(),
        })
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Freezes every answer (new and in progress) for `d` from now, like a server paused with
    /// ^Z; a later call replaces the end, so `d = 0` ends a stall.
    pub(crate) fn stall(&self, d: Duration) {
        let end = if d.is_zero() {
            0
        } else {
            (self.epoch.elapsed() + d).as_nanos() as u64
        };
        self.stall_until_ns.store(end, Relaxed);
    }

    /// Waits while a stall is in force.
    async fn wait_stall(&self) {
        loop {
            let end = self.stall_until_ns.load(Relaxed);
            if end == 0 {
                return;
            }
            let end = self.epoch + Duration::from_nanos(end);
            if Instant::now() >= end {
                return;
            }
            sleep_until(end.into()).await;
        }
    }

    /// Sleeps until `deadline`, then through any stall.
    async fn sleep_until(&self, deadline: Instant) {
        self.timer.sleep_until(deadline).await;
        self.wait_stall().await;
    }

    /// A per-request RNG derived from the seed and the request's arrival number, so the fault
    /// and latency drawn for request k do not depend on how other requests interleave.
    fn rng_for(&self, index: u64) -> SmallRng {
        SmallRng::seed_from_u64(splitmix64(self.seed ^ splitmix64(index)))
    }

    /// The RNG of attempt `attempt` of the client's logical request `request`: the same for that
    /// attempt whatever order, concurrency or strategy brought it here.
    fn rng_for_key(&self, key: RequestKey) -> SmallRng {
        let mixed =
            splitmix64(key.request) ^ splitmix64(u64::from(key.attempt).rotate_left(32) ^ 0x5bd1_e995);
        SmallRng::seed_from_u64(splitmix64(self.seed ^ mixed))
    }

    /// Puts the mock back in its starting state for a new run: the limiter's buckets full, the
    /// arrival count (and so `--schedule`) back at zero, no stall. The counters of `/stats` keep
    /// counting (clients compare differences).
    pub(crate) fn reset(&self) {
        if let Some(l) = &self.limiter {
            let fresh = Limiter::new(
                self.profile.rpm,
                self.profile.tpm,
                self.profile.limit_window,
                Instant::now(),
            );
            if let Some(fresh) = fresh {
                match l.lock() {
                    Ok(mut g) => *g = fresh,
                    Err(p) => *p.into_inner() = fresh,
                }
            }
        }
        self.next_index.store(0, Relaxed);
        self.stall_until_ns.store(0, Relaxed);
    }

    /// Whether a request carries the key the mock requires (always true when none is set).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(key) = &self.profile.api_key else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|k| k == key)
    }
}

/// The headers with which asyncbench numbers its requests (0-based logical index, 1-based
/// attempt). A mock that sees them draws each fault and delay from (seed, request, attempt).
pub const REQUEST_INDEX_HEADER: &str = "x-asyncbench-request";
/// See [`REQUEST_INDEX_HEADER`].
pub const ATTEMPT_HEADER: &str = "x-asyncbench-attempt";

/// A client's own number for a request and its attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RequestKey {
    request: u64,
    attempt: u32,
}

impl RequestKey {
    /// The key in a request's headers, when both are there and are numbers.
    fn from_headers(h: &HeaderMap) -> Option<RequestKey> {
        let num = |name: &str| h.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
        Some(RequestKey {
            request: num(REQUEST_INDEX_HEADER)?,
            attempt: u32::try_from(num(ATTEMPT_HEADER)?).ok()?.max(1),
        })
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The mock as an axum `Router`, for in-process tests with `oneshot` (no socket). Resets and
/// hangs need the connection layer of [`crate::MockServer`].
pub fn app(profile: Profile) -> Router {
    router(AppState::new(profile, CancellationToken::new()))
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/delay/{seconds}", get(delay).post(delay))
        .route("/stats", get(stats))
        .route("/healthz", get(healthz))
        .route("/admin/stall", post(stall))
        .route("/admin/reset", post(reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

// ---------------------------------------------------------------------------------------------
// Responses

/// Builds a JSON response and counts its status.
fn json_response(st: &AppState, status: StatusCode, body: Vec<u8>, extra: &ExtraHeaders) -> Response {
    st.stats.status(status.as_u16());
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    extra.apply(h);
    resp
}

fn error_response(st: &AppState, status: StatusCode, err: ErrorBody, extra: &ExtraHeaders) -> Response {
    let body = serde_json::to_vec(&err).unwrap_or_default();
    json_response(st, status, body, extra)
}

fn invalid(
    st: &AppState,
    status: StatusCode,
    message: String,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    error_response(
        st,
        status,
        ErrorBody::new(message, "invalid_request_error", param, code),
        &ExtraHeaders::default(),
    )
}

/// Headers that go on every work response: request id, processing time, rate-limit state.
#[derive(Debug, Default)]
struct ExtraHeaders {
    request_id: Option<u64>,
    started: Option<Instant>,
    limits: Option<LimiterState>,
    retry_after: Option<Duration>,
    should_retry: Option<bool>,
}

impl ExtraHeaders {
    fn apply(&self, h: &mut HeaderMap) {
        fn put(h: &mut HeaderMap, name: &'static str, v: String) {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        if let Some(id) = self.request_id {
            put(h, "x-request-id", format!("req_{id:016x}"));
            h.insert("openai-version", HeaderValue::from_static("2020-10-01"));
        }
        if let Some(t) = self.started {
            put(h, "openai-processing-ms", t.elapsed().as_millis().to_string());
        }
        if let Some(l) = &self.limits {
            if let Some(r) = l.requests {
                put(h, "x-ratelimit-limit-requests", r.limit.to_string());
                put(h, "x-ratelimit-remaining-requests", r.remaining.to_string());
                put(h, "x-ratelimit-reset-requests", go_duration(r.reset));
            }
            if let Some(t) = l.tokens {
                put(h, "x-ratelimit-limit-tokens", t.limit.to_string());
                put(h, "x-ratelimit-remaining-tokens", t.remaining.to_string());
                put(h, "x-ratelimit-reset-tokens", go_duration(t.reset));
            }
        }
        if let Some(d) = self.retry_after {
            // Retry-After is whole seconds, at least 1 (OpenAPI `TooManyRequests`); the exact
            // figure goes in retry-after-ms, which openai-python reads first.
            let ms = d.as_nanos().div_ceil(1_000_000).max(1);
            put(h, "retry-after", ms.div_ceil(1000).max(1).to_string());
            put(h, "retry-after-ms", ms.to_string());
        }
        if let Some(b) = self.should_retry {
            put(h, "x-should-retry", b.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The common admission pipeline of chat and delay requests

/// What a work request was granted.
struct Granted {
    index: u64,
    fault: Option<Fault>,
    rng: SmallRng,
    extra: ExtraHeaders,
}

/// Decides a work request's fate: the `x-mock-fault` header, then the limiter, then the
/// schedule and the probabilities. Returns the finished response when it is refused.
#[allow(clippy::result_large_err)]
fn admit(st: &AppState, headers: &HeaderMap, token_cost: u64, model: &str) -> Result<Granted, Response> {
    let started = Instant::now();
    let index = st.next_index.fetch_add(1, Relaxed) + 1;
    // A numbered request draws from its own (request, attempt) and is scheduled by its request
    // number; anything else by arrival order, as before.
    let key = RequestKey::from_headers(headers);
    let mut rng = match key {
        Some(k) => st.rng_for_key(k),
        None => st.rng_for(index),
    };
    let scheduled = match key {
        Some(k) if k.attempt == 1 => Some(k.request + 1),
        Some(_) => None,
        None => Some(index),
    };
    // Always draw the fault number first so the draw sequence does not depend on the outcome.
    let u: f64 = rng.random();
    let mut extra = ExtraHeaders {
        request_id: Some(index),
        started: Some(started),
        ..Default::default()
    };

    if let Some(v) = headers.get("x-mock-fault") {
        let parsed = v.to_str().ok().and_then(|s| s.parse::<Fault>().ok());
        return match parsed {
            Some(f) => Ok(Granted {
                index,
                fault: Some(f),
                rng,
                extra,
            }),
            None => Err(invalid(
                st,
                StatusCode::BAD_REQUEST,
                format!(
                    "Invalid x-mock-fault header '{}'.",
                    String::from_utf8_lossy(v.as_bytes())
                ),
                None,
                None,
            )),
        };
    }

    if let Some(limiter) = &st.limiter {
        let (decision, state) = match limiter.lock() {
            Ok(mut l) => l.admit(token_cost, Instant::now()),
            // A poisoned lock means a panic elsewhere; keep serving rather than fail every request.
            Err(poisoned) => poisoned.into_inner().admit(token_cost, Instant::now()),
        };
        extra.limits = Some(state);
        match decision {
            Admission::Admitted => {}
            Admission::Limited {
                kind,
                limit,
                remaining,
                requested,
                retry_after,
            } => {
                st.stats.event(Event::Limited);
                let (what, unit) = match kind {
                    LimitKind::Requests => ("requests", "requests per min (RPM)"),
                    LimitKind::Tokens => ("tokens", "tokens per min (TPM)"),
                };
                let message = format!(
                    "Rate limit reached for {model} in organization org-mock on {unit}: Limit {limit}, Used {}, Requested {requested}. Please try again in {}. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    limit.saturating_sub(remaining),
                    go_duration(retry_after),
                );
                extra.retry_after = Some(retry_after);
                let body = ErrorBody::new(message, what, None, Some("rate_limit_exceeded"));
                return Err(error_response(st, StatusCode::TOO_MANY_REQUESTS, body, &extra));
            }
            Admission::TooLarge { limit, requested } => {
                st.stats.event(Event::Limited);
                let message = format!(
                    "Request too large for {model} in organization org-mock on tokens per min (TPM): Limit {limit}, Requested {requested}. The input or output tokens must be reduced in order to run successfully."
                );
                extra.should_retry = Some(false);
                let body = ErrorBody::new(message, "tokens", None, Some("rate_limit_exceeded"));
                return Err(error_response(st, StatusCode::TOO_MANY_REQUESTS, body, &extra));
            }
        }
    }

    let p = &st.profile;
    let fault = scheduled
        .and_then(|n| p.schedule.iter().find_map(|r| r.applies(n)))
        .or_else(|| {
            let mut acc = 0.0;
            p.fault_probabilities().into_iter().find_map(|(_, prob, f)| {
                acc += prob;
                (prob > 0.0 && u < acc).then_some(f)
            })
        });
    Ok(Granted {
        index,
        fault,
        rng,
        extra,
    })
}

/// Answers a fault that replaces the response; `None` for no fault or a streaming-only fault.
async fn fault_response(
    st: &AppState,
    fault: Fault,
    model: &str,
    extra: &mut ExtraHeaders,
) -> Option<Response> {
    let status = |c: u16| StatusCode::from_u16(c).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let resp = match fault {
        Fault::RateLimited => {
            let d = st.profile.retry_after;
            extra.retry_after = Some(d);
            let message = format!(
                "Rate limit reached for {model} in organization org-mock on requests per min (RPM) (injected by mock-server). Please try again in {}. Visit https://platform.openai.com/account/rate-limits to learn more.",
                go_duration(d)
            );
            let body = ErrorBody::new(message, "requests", None, Some("rate_limit_exceeded"));
            error_response(st, StatusCode::TOO_MANY_REQUESTS, body, extra)
        }
        Fault::Quota => {
            extra.should_retry = Some(false);
            let body = ErrorBody::new(
                "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "insufficient_quota",
                None,
                Some("insufficient_quota"),
            );
            error_response(st, StatusCode::TOO_MANY_REQUESTS, body, extra)
        }
        Fault::Status(code) if code >= 500 => {
            let message = match code {
                503 => {
                    "That model is currently overloaded with other requests. You can retry your request, or contact us through our help center at help.openai.com if the error persists."
                }
                _ => {
                    "The server experienced an error while processing your request. Sorry about that! You can retry your request, or contact us through our help center at help.openai.com if the error persists."
                }
            };
            error_response(
                st,
                status(code),
                ErrorBody::new(message, "server_error", None, None),
                extra,
            )
        }
        Fault::Status(code) => {
            let body = ErrorBody::new(
                format!("Injected error {code}."),
                "invalid_request_error",
                None,
                None,
            );
            error_response(st, status(code), body, extra)
        }
        Fault::Hang => {
            st.stats.event(Event::Hang);
            tokio::select! {
                _ = st.shutdown.cancelled() => {}
                _ = tokio::time::sleep(HANG_LIMIT) => {}
            }
            reset_response(st)
        }
        Fault::Reset => reset_response(st),
        Fault::StreamError | Fault::StreamCut => return None,
    };
    Some(resp)
}

fn reset_response(st: &AppState) -> Response {
    st.stats.event(Event::Reset);
    let mut resp = Response::new(Body::empty());
    resp.extensions_mut().insert(ResetConnection);
    resp
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn chat(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let guard = st.stats.begin();
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let msg = format!("Request body too large: the limit is {MAX_BODY_BYTES} bytes.");
            return invalid(&st, StatusCode::PAYLOAD_TOO_LARGE, msg, None, None);
        }
        Err(e) => {
            return invalid(
                &st,
                StatusCode::BAD_REQUEST,
                format!("Could not read the request body: {e}"),
                None,
                None,
            );
        }
    };
    let req: ChatRequest = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("We could not parse the JSON body of your request: {e}.");
            return invalid(&st, StatusCode::BAD_REQUEST, msg, None, None);
        }
    };
    if !st.authorized(&headers) {
        return unauthorized(&st);
    }
    if req.messages.is_empty() {
        let msg = "[] is too short - 'messages'".to_owned();
        return invalid(&st, StatusCode::BAD_REQUEST, msg, Some("messages"), None);
    }
    let n = req.n.unwrap_or(1);
    if !(1..=128).contains(&n) {
        let msg = format!("{n} is not a valid value for 'n': expected 1..=128.");
        return invalid(&st, StatusCode::BAD_REQUEST, msg, Some("n"), None);
    }
    if req.token_limit() == Some(0) {
        let msg = "max_tokens must be at least 1.".to_owned();
        return invalid(&st, StatusCode::BAD_REQUEST, msg, Some("max_tokens"), None);
    }
    let tokens = req.token_limit().unwrap_or(st.profile.tokens);
    if tokens > MAX_OUTPUT_TOKENS || u64::from(tokens) * u64::from(n) > MAX_TOTAL_TOKENS {
        let msg = format!(
            "max_tokens is too large: {tokens} × n = {n}. This mock generates at most {MAX_OUTPUT_TOKENS} completion tokens per choice and {MAX_TOTAL_TOKENS} per request."
        );
        return invalid(&st, StatusCode::BAD_REQUEST, msg, Some("max_tokens"), None);
    }
    let prompt_tokens = req.estimated_prompt_tokens();
    let cost = prompt_tokens + u64::from(tokens) * u64::from(n);

    let Granted {
        index,
        fault,
        mut rng,
        mut extra,
    } = match admit(&st, &headers, cost, &req.model) {
        Ok(g) => g,
        Err(resp) => return resp,
    };
    if let Some(f) = fault
        && let Some(resp) = fault_response(&st, f, &req.model, &mut extra).await
    {
        return resp;
    }
    let generation = Generation {
        id: format!("chatcmpl-mock{index:012x}"),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        model: req.model.clone(),
        n,
        tokens,
        finish_reason: if req.token_limit().is_some() {
            "length"
        } else {
            "stop"
        },
        prompt_tokens,
    };
    let start = Instant::now();
    let p = &st.profile;
    if req.is_stream() {
        let include_usage = req.stream_options.is_some_and(|o| o.include_usage);
        let stream_fault = fault.filter(|f| matches!(f, Fault::StreamError | Fault::StreamCut));
        return stream_response(
            st.clone(),
            generation,
            include_usage,
            stream_fault,
            rng,
            extra,
            start,
        );
    }
    // Non-streaming: one answer after the whole generation time.
    let mut total = p.latency.sample(&mut rng) + p.ttft.sample(&mut rng);
    if !p.itl.is_zero() {
        for _ in 1..tokens {
            total += p.itl.sample(&mut rng);
        }
    }
    st.sleep_until(start + total).await;
    st.stats.tokens(u64::from(tokens) * u64::from(n));
    let body = generation.completion_json();
    drop(guard);
    json_response(&st, StatusCode::OK, body, &extra)
}

/// Everything needed to write one completion.
struct Generation {
    id: String,
    created: u64,
    model: String,
    n: u32,
    tokens: u32,
    finish_reason: &'static str,
    prompt_tokens: u64,
}

impl Generation {
    fn text(&self) -> String {
        (0..self.tokens as usize)
            .map(|i| WORDS[i % WORDS.len()])
            .collect()
    }

    fn usage_json(&self) -> String {
        let completion = u64::from(self.tokens) * u64::from(self.n);
        format!(
            r#"{{"prompt_tokens":{},"completion_tokens":{completion},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}}"#,
            self.prompt_tokens,
            self.prompt_tokens + completion
        )
    }

    fn completion_json(&self) -> Vec<u8> {
        let content = serde_json::to_string(&self.text()).unwrap_or_default();
        let model = serde_json::to_string(&self.model).unwrap_or_default();
        let choices: Vec<String> = (0..self.n)
            .map(|i| {
                format!(
                    r#"{{"index":{i},"message":{{"role":"assistant","content":{content},"refusal":null,"annotations":[]}},"logprobs":null,"finish_reason":"{}"}}"#,
                    self.finish_reason
                )
            })
            .collect();
        format!(
            r#"{{"id":"{}","object":"chat.completion","created":{},"model":{model},"choices":[{}],"usage":{},"service_tier":"default","system_fingerprint":"fp_mock"}}"#,
            self.id,
            self.created,
            choices.join(","),
            self.usage_json()
        )
        .into_bytes()
    }

    /// `data: {chunk}\n\n` with the given choices array and usage.
    fn chunk(&self, choices: &str, usage: &str) -> Bytes {
        let model = serde_json::to_string(&self.model).unwrap_or_default();
        Bytes::from(format!(
            "data: {{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{model},\"system_fingerprint\":\"fp_mock\",\"choices\":[{choices}],\"usage\":{usage}}}\n\n",
            self.id, self.created
        ))
    }

    fn delta_chunk(&self, index: u32, delta: &str, finish: Option<&str>) -> Bytes {
        let finish = finish.map_or("null".to_owned(), |f| format!("\"{f}\""));
        self.chunk(
            &format!(r#"{{"index":{index},"delta":{delta},"logprobs":null,"finish_reason":{finish}}}"#),
            "null",
        )
    }
}

type Frame = Result<Bytes, std::io::Error>;

/// Streams the completion as server-sent events, each token chunk written and flushed when its
/// time comes. The in-flight guard lives in the producing task, so a stream counts as in flight
/// until its last byte.
fn stream_response(
    st: Arc<AppState>,
    generation: Generation,
    include_usage: bool,
    fault: Option<Fault>,
    mut rng: SmallRng,
    extra: ExtraHeaders,
    start: Instant,
) -> Response {
    let (tx, mut rx) = mpsc::channel::<Frame>(8);
    st.stats.status(200);
    // The handler's guard ends when it returns the headers; this one lasts until the last byte.
    let guard = StreamGuard::new(st.clone());
    tokio::spawn(async move {
        let _guard = guard;
        let st = &_guard.0;
        let p = &st.profile;
        let send = |b: Frame| tx.send(b);
        let mut deadline = start + p.latency.sample(&mut rng);
        st.sleep_until(deadline).await;
        for i in 0..generation.n {
            if send(Ok(generation.delta_chunk(
                i,
                r#"{"role":"assistant","content":""}"#,
                None,
            )))
            .await
            .is_err()
            {
                return;
            }
        }
        let half = generation.tokens / 2;
        for t in 0..generation.tokens {
            deadline += if t == 0 {
                p.ttft.sample(&mut rng)
            } else {
                p.itl.sample(&mut rng)
            };
            st.sleep_until(deadline).await;
            if t == half {
                match fault {
                    Some(Fault::StreamError) => {
                        st.stats.event(Event::StreamError);
                        let err = ErrorBody::new(
                            "The server had an error while processing your request. Sorry about that!",
                            "server_error",
                            None,
                            None,
                        );
                        let json = serde_json::to_string(&err).unwrap_or_default();
                        let _ = send(Ok(Bytes::from(format!("data: {json}\n\n")))).await;
                        return;
                    }
                    Some(Fault::StreamCut) => {
                        st.stats.event(Event::StreamCut);
                        let _ = send(Err(std::io::Error::other("stream cut by the mock"))).await;
                        return;
                    }
                    _ => {}
                }
            }
            let word = serde_json::to_string(WORDS[t as usize % WORDS.len()]).unwrap_or_default();
            for i in 0..generation.n {
                if send(Ok(generation.delta_chunk(
                    i,
                    &format!(r#"{{"content":{word}}}"#),
                    None,
                )))
                .await
                .is_err()
                {
                    return;
                }
            }
            st.stats.tokens(u64::from(generation.n));
        }
        for i in 0..generation.n {
            if send(Ok(generation.delta_chunk(
                i,
                "{}",
                Some(generation.finish_reason),
            )))
            .await
            .is_err()
            {
                return;
            }
        }
        if include_usage
            && send(Ok(generation.chunk("", &generation.usage_json())))
                .await
                .is_err()
        {
            return;
        }
        let _ = send(Ok(Bytes::from_static(b"data: [DONE]\n\n"))).await;
    });
    let body = Body::from_stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    extra.apply(h);
    resp
}

/// Keeps a stream counted in flight (the handler's own guard ends when it returns the headers).
struct StreamGuard(Arc<AppState>);

impl StreamGuard {
    fn new(st: Arc<AppState>) -> Self {
        st.stats.hold();
        StreamGuard(st)
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.stats.release();
    }
}

async fn delay(
    State(st): State<Arc<AppState>>,
    Path(seconds): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let _guard = st.stats.begin();
    let secs = match seconds.parse::<f64>() {
        Ok(s) if (0.0..=MAX_DELAY_SECS).contains(&s) => s,
        _ => {
            let msg = format!("Invalid delay '{seconds}': expected seconds between 0 and {MAX_DELAY_SECS}.");
            return invalid(&st, StatusCode::BAD_REQUEST, msg, Some("seconds"), None);
        }
    };
    let Granted { fault, mut extra, .. } = match admit(&st, &headers, 0, "delay") {
        Ok(g) => g,
        Err(resp) => return resp,
    };
    if let Some(f) = fault
        && let Some(resp) = fault_response(&st, f, "delay", &mut extra).await
    {
        return resp;
    }
    st.sleep_until(Instant::now() + Duration::from_secs_f64(secs))
        .await;
    let hdrs: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.into())))
        .collect();
    let body = serde_json::json!({
        "args": {}, "data": "", "files": {}, "form": {}, "headers": hdrs,
        "method": method.as_str(), "origin": "127.0.0.1", "url": uri.to_string(),
    });
    json_response(
        &st,
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
        &extra,
    )
}

async fn models() -> Response {
    let body = serde_json::json!({
        "object": "list",
        "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "asyncbench"}],
    });
    axum::Json(body).into_response()
}

async fn stats(State(st): State<Arc<AppState>>) -> Response {
    axum::Json(st.snapshot()).into_response()
}

async fn healthz() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

const BAD_KEY: &str =
    "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.";

/// 401 `invalid_api_key`, as OpenAI answers a missing or wrong key (counted, as every answer to
/// a work request is).
fn unauthorized(st: &AppState) -> Response {
    invalid(
        st,
        StatusCode::UNAUTHORIZED,
        BAD_KEY.into(),
        None,
        Some("invalid_api_key"),
    )
}

/// An error answer to an `/admin/*` request: OpenAI's body, but not counted in `/stats`, so a
/// client's cross-check of work requests is not disturbed by its own admin calls.
fn admin_error(status: StatusCode, message: String, param: Option<&str>, code: Option<&str>) -> Response {
    let body = ErrorBody::new(message, "invalid_request_error", param, code);
    let mut resp = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn admin_unauthorized() -> Response {
    admin_error(
        StatusCode::UNAUTHORIZED,
        BAD_KEY.into(),
        None,
        Some("invalid_api_key"),
    )
}

/// Longest stall `/admin/stall` accepts.
pub const MAX_STALL: Duration = Duration::from_secs(600);

async fn stall(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !st.authorized(&headers) {
        return admin_unauthorized();
    }
    let Some(spec) = q.get("for") else {
        let msg = "Missing query parameter 'for' (a duration such as 2s).".to_owned();
        return admin_error(StatusCode::BAD_REQUEST, msg, Some("for"), None);
    };
    match parse_duration(spec) {
        Ok(d) if d > MAX_STALL => {
            let msg = format!(
                "Invalid 'for' '{spec}': a stall lasts at most {} s (0s ends one).",
                MAX_STALL.as_secs()
            );
            admin_error(StatusCode::BAD_REQUEST, msg, Some("for"), None)
        }
        Ok(d) => {
            st.stall(d);
            axum::Json(serde_json::json!({"stalled_for_ms": d.as_millis() as u64})).into_response()
        }
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string(), Some("for"), None),
    }
}

/// `POST /admin/reset`: the limiter's buckets full, the arrival count back at zero, no stall;
/// a client starting a new run (asyncbench, before each strategy) asks for it. Requires the
/// key when the mock has one.
async fn reset(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !st.authorized(&headers) {
        return admin_unauthorized();
    }
    st.reset();
    axum::Json(serde_json::json!({"reset": true})).into_response()
}

async fn not_found(State(st): State<Arc<AppState>>, method: Method, uri: Uri) -> Response {
    let _guard = st.stats.begin();
    let msg = format!("Invalid URL ({method} {}).", uri.path());
    invalid(&st, StatusCode::NOT_FOUND, msg, None, Some("unknown_url"))
}

async fn method_not_allowed(State(st): State<Arc<AppState>>, method: Method, uri: Uri) -> Response {
    let _guard = st.stats.begin();
    let msg = format!("Method {method} is not allowed for {}.", uri.path());
    invalid(
        &st,
        StatusCode::METHOD_NOT_ALLOWED,
        msg,
        None,
        Some("method_not_allowed"),
    )
}
