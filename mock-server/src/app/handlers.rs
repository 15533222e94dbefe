//! The routes: each work handler counts the request in flight, parses it (a bad body is a 4xx),
//! asks admission what happens to it, waits out its latency and answers through `render.rs`
//! or `stream.rs`. The in-flight guard rides on the response body, so a request counts from its
//! arrival to its last byte. `/stats`, `/health(z)` and `/admin/*` are not work requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use rand::rngs::SmallRng;

use crate::tokens::Tokenizer;
use serde::de::DeserializeOwned;

use crate::app::InFlight;
use crate::app::admission::{Admitted, Decision, admit};
use crate::app::render::{self, Api, Dialect, Generation, Meta};
use crate::app::{
    AppState, MAX_BODY_BYTES, MAX_DELAY_SECS, MAX_OUTPUT_TOKENS, MAX_STALL, MAX_TOTAL_TOKENS,
    numbers_from_query, stream,
};
use crate::guarded::with_guard;
use crate::latency::parse_duration;
use crate::profile::Fault;
use crate::profile::MAX_EMBEDDING_DIMENSIONS;
use crate::stats::{ConnMark, Event};
use crate::wire::{ChatRequest, CompletionRequest, EmbeddingsRequest, MessagesRequest};

/// Longest a hung request waits before the mock resets it anyway.
const HANG_LIMIT: Duration = Duration::from_secs(3600);

/// Reads and parses a JSON body (at most [`MAX_BODY_BYTES`]), or the 4xx that says why not.
#[allow(clippy::result_large_err)]
async fn parse<T: DeserializeOwned>(st: &AppState, dialect: Dialect, body: Body) -> Result<T, Response> {
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<LengthLimitError>() => {
            let msg = format!("Request body too large: the limit is {MAX_BODY_BYTES} bytes.");
            return Err(render::invalid(
                st,
                dialect,
                StatusCode::PAYLOAD_TOO_LARGE,
                msg,
                None,
                None,
            ));
        }
        Err(e) => {
            let msg = format!("Could not read the request body: {e}");
            return Err(render::invalid(
                st,
                dialect,
                StatusCode::BAD_REQUEST,
                msg,
                None,
                None,
            ));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| {
        let msg = format!("We could not parse the JSON body of your request: {e}.");
        render::invalid(st, dialect, StatusCode::BAD_REQUEST, msg, None, None)
    })
}

/// What a completion request asks for, whichever API it came through.
struct Ask {
    api: Api,
    model: String,
    n: u32,
    /// The request's own output-token cap, if it set one.
    limit: Option<u32>,
    prompt_tokens: u64,
    stream: bool,
    include_usage: bool,
}

/// Checks what a completion asks for against the mock's caps; the 400 names the limit broken.
#[allow(clippy::result_large_err)]
fn check(st: &AppState, ask: &Ask) -> Result<u32, Response> {
    let bad = |msg: String, param| {
        Err(render::invalid(
            st,
            ask.api.dialect(),
            StatusCode::BAD_REQUEST,
            msg,
            Some(param),
            None,
        ))
    };
    let n = ask.n;
    if !(1..=128).contains(&n) {
        return bad(
            format!("{n} is not a valid value for 'n': expected 1..=128."),
            "n",
        );
    }
    // Anthropic's `max_tokens: 0` is legal (a cache pre-warm: no output); OpenAI's is not.
    if ask.limit == Some(0) && ask.api != Api::Messages {
        return bad("max_tokens must be at least 1.".to_owned(), "max_tokens");
    }
    let tokens = ask.limit.unwrap_or(st.profile.tokens);
    if tokens > MAX_OUTPUT_TOKENS || u64::from(tokens) * u64::from(n) > MAX_TOTAL_TOKENS {
        return bad(
            format!(
                "max_tokens is too large: {tokens} tokens, n = {n}. This mock generates at most {MAX_OUTPUT_TOKENS} completion tokens per choice and {MAX_TOTAL_TOKENS} per request."
            ),
            "max_tokens",
        );
    }
    // Only a stream's size depends on the chunk head, so only a stream needs a probe.
    let bytes = if ask.stream {
        Generation::new(ask.api, 0, &ask.model, n, tokens, "stop", 0).estimated_bytes(true)
    } else {
        Generation::plain_bytes(n, tokens)
    };
    let cap = st.profile.max_response_bytes;
    if bytes > cap {
        return bad(
            format!(
                "The answer would be about {bytes} bytes ({tokens} tokens, n = {n}{}); this mock sends at most {cap} bytes per request (--max-response-bytes).",
                if ask.stream { ", streamed" } else { "" }
            ),
            "max_tokens",
        );
    }
    Ok(tokens)
}

/// Admits, waits and answers a completion request (chat or legacy).
async fn complete(st: Arc<AppState>, headers: &HeaderMap, ask: Ask, arrived: Instant) -> Response {
    let tokens = match check(&st, &ask) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let cost = ask.prompt_tokens + u64::from(tokens) * u64::from(ask.n);
    let mut meta = Meta {
        dialect: ask.api.dialect(),
        started: Some(arrived),
        ..Meta::default()
    };
    let Served {
        index,
        fault,
        mut rng,
        slot,
        begun,
    } = match serve(&st, headers, cost, &ask.model, &mut meta, arrived).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let finish = if ask.limit.is_some() { "length" } else { "stop" };
    let generation = Generation::new(
        ask.api,
        index,
        &ask.model,
        ask.n,
        tokens,
        finish,
        ask.prompt_tokens,
    )
    .with_reasoning(st.profile.reasoning_tokens);
    if st.profile.stamps {
        meta.due = Some(begun);
    }
    if ask.stream {
        return stream::response(
            st.clone(),
            generation,
            ask.include_usage,
            fault,
            rng,
            &meta,
            stream::Begun { at: begun, slot },
        );
    }
    // Not streamed: one answer after the whole generation time.
    let wait = generation_time(&st, tokens, &mut rng);
    st.sleep_until(begun + wait).await;
    if st.profile.stamps {
        meta.due = Some(begun + wait);
    }
    drop(slot);
    st.stats.tokens(u64::from(tokens) * u64::from(ask.n));
    render::json(&st, StatusCode::OK, generation.completion_json(), &meta)
}

/// A work request let through: its arrival number, the fault it meets later (a stream's), its
/// RNG, and the `capacity` slot it holds from when it was free (`begun`) to its end.
struct Served {
    index: u64,
    fault: Option<Fault>,
    rng: SmallRng,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
    begun: Instant,
}

/// What every generating endpoint does before it generates: admission charged `cost` tokens,
/// a refusal's or a fault's answer in place of the request's (`Err`), the limiter's state and
/// the request id into `meta`, then a `capacity` slot.
async fn serve(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    cost: u64,
    model: &str,
    meta: &mut Meta,
    arrived: Instant,
) -> Result<Served, Response> {
    let decision = admit(st, headers, cost);
    if let Some(resp) = render::refusal(st, &decision, model, meta) {
        return Err(resp);
    }
    let Decision::Admitted(Admitted {
        index,
        fault,
        rng,
        limits,
    }) = decision
    else {
        return Err(render::reset(st));
    };
    meta.request_id = Some(index);
    meta.limits = limits;
    if let Some(resp) = act_on_fault(st, fault, model, meta).await {
        return Err(resp);
    }
    // With a capacity, the generation starts when a slot is free and holds it to the end.
    let (slot, begun) = match &st.slots {
        Some(slots) => (slots.clone().acquire_owned().await.ok(), Instant::now()),
        None => (None, arrived),
    };
    Ok(Served {
        index,
        fault,
        rng,
        slot,
        begun,
    })
}

/// latency + ttft + itl × (tokens − 1), drawn from the request's own RNG.
fn generation_time(st: &AppState, tokens: u32, rng: &mut SmallRng) -> Duration {
    let p = &st.profile;
    let mut total = p.latency.sample(rng) + p.ttft.sample(rng);
    if !p.itl.is_zero() {
        for _ in 1..tokens {
            total += p.itl.sample(rng);
        }
    }
    total
}

/// The answer a fault puts in place of the normal one, after any wait it imposes (a hang waits
/// until the mock stops, then resets). `None`: answer normally (the streaming faults act later).
async fn act_on_fault(st: &AppState, fault: Option<Fault>, model: &str, meta: &mut Meta) -> Option<Response> {
    match fault? {
        Fault::Hang => {
            st.stats.event(Event::Hang);
            tokio::select! {
                _ = st.shutdown.cancelled() => {}
                _ = tokio::time::sleep(HANG_LIMIT) => {}
            }
            Some(render::reset(st))
        }
        Fault::Reset => Some(render::reset(st)),
        f => render::fault(st, f, model, meta),
    }
}

/// A parsed request refused: a 400 with this message, naming the parameter.
struct Refusal {
    message: String,
    param: &'static str,
}

/// The frame every generating endpoint shares: in flight from arrival, the body parsed as `T`,
/// the key checked, then `answer` given the state, the headers, the body and the arrival. It
/// takes the request whole, so its headers are read in place (axum's `HeaderMap` extractor
/// copies them).
async fn work_endpoint<T: DeserializeOwned>(
    st: Arc<AppState>,
    req: Request,
    dialect: Dialect,
    answer: impl AsyncFnOnce(Arc<AppState>, &HeaderMap, T, Instant) -> Response,
) -> Response {
    let arrived = Instant::now();
    let (mut parts, body) = req.into_parts();
    numbers_from_query(&mut parts.headers, parts.uri.query());
    let headers = &parts.headers;
    let guard = InFlight::begin(&st, parts.extensions.get::<ConnMark>());
    let resp = async {
        let req: T = match parse(&st, dialect, body).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        if !st.authorized(headers) {
            return render::unauthorized(&st, dialect);
        }
        answer(st.clone(), headers, req, arrived).await
    }
    .await;
    with_guard(resp, guard)
}

/// The completion endpoints' frame: `ask` makes the parsed request an [`Ask`] (or refuses it
/// with a 400) and it is answered.
async fn completion_endpoint<T: DeserializeOwned>(
    st: Arc<AppState>,
    req: Request,
    dialect: Dialect,
    ask: impl FnOnce(T, Tokenizer) -> Result<Ask, Refusal>,
) -> Response {
    work_endpoint(st, req, dialect, async |st, headers, req: T, arrived| {
        match ask(req, st.profile.tokenizer) {
            Ok(ask) => complete(st, headers, ask, arrived).await,
            Err(r) => render::invalid(
                &st,
                dialect,
                StatusCode::BAD_REQUEST,
                r.message,
                Some(r.param),
                None,
            ),
        }
    })
    .await
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat(State(st): State<Arc<AppState>>, req: Request) -> Response {
    completion_endpoint(st, req, Dialect::OpenAi, |req: ChatRequest, tokenizer| {
        if req.messages.is_empty() {
            return Err(Refusal {
                message: "[] is too short - 'messages'".to_owned(),
                param: "messages",
            });
        }
        Ok(Ask {
            api: Api::Chat,
            n: req.n.unwrap_or(1),
            limit: req.token_limit(),
            prompt_tokens: req.prompt_tokens(tokenizer),
            stream: req.is_stream(),
            include_usage: req.stream_options.is_some_and(|o| o.include_usage),
            model: req.model,
        })
    })
    .await
}

/// `POST /v1/completions`, the legacy text completions API many benchmark tools still use.
pub(crate) async fn completions(State(st): State<Arc<AppState>>, req: Request) -> Response {
    completion_endpoint(st, req, Dialect::OpenAi, |req: CompletionRequest, tokenizer| {
        Ok(Ask {
            api: Api::Text,
            n: req.n.unwrap_or(1),
            limit: req.max_tokens,
            prompt_tokens: req.prompt_tokens(tokenizer),
            stream: req.stream.unwrap_or(false),
            include_usage: req.stream_options.is_some_and(|o| o.include_usage),
            model: req.model,
        })
    })
    .await
}

/// `POST /v1/messages`, Anthropic's Messages API: one text block of `max_tokens` tokens, named
/// SSE events when streamed, Anthropic's error bodies and headers.
pub(crate) async fn messages(State(st): State<Arc<AppState>>, req: Request) -> Response {
    completion_endpoint(st, req, Dialect::Anthropic, |req: MessagesRequest, tokenizer| {
        if req.messages.is_empty() {
            return Err(Refusal {
                message: "messages: at least one message is required".to_owned(),
                param: "messages",
            });
        }
        Ok(Ask {
            api: Api::Messages,
            n: 1,
            limit: Some(req.max_tokens),
            prompt_tokens: req.prompt_tokens(tokenizer),
            stream: req.is_stream(),
            include_usage: false,
            model: req.model,
        })
    })
    .await
}

/// `POST /v1/embeddings`: a vector per input after `latency` plus `--embedding-token-time` per
/// input token, the tokens/min bucket charged with the inputs' tokens (there is no output).
pub(crate) async fn embeddings(State(st): State<Arc<AppState>>, req: Request) -> Response {
    work_endpoint(st, req, Dialect::OpenAi, embed).await
}

/// An embeddings request parsed and its key checked: its inputs checked, admitted, waited for
/// and answered.
async fn embed(st: Arc<AppState>, headers: &HeaderMap, req: EmbeddingsRequest, arrived: Instant) -> Response {
    let bad = |msg: String, param| {
        render::invalid(
            &st,
            Dialect::OpenAi,
            StatusCode::BAD_REQUEST,
            msg,
            Some(param),
            None,
        )
    };
    let inputs = match req.inputs(st.profile.tokenizer) {
        Ok(i) => i,
        Err(msg) => return bad(msg, "input"),
    };
    let dims = req.dimensions.unwrap_or(st.profile.embedding_dimensions);
    if !(1..=MAX_EMBEDDING_DIMENSIONS).contains(&dims) {
        return bad(
            format!("{dims} is not a valid value for 'dimensions': expected 1..={MAX_EMBEDDING_DIMENSIONS}."),
            "dimensions",
        );
    }
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return bad(
                format!("'{other}' is not a valid value for 'encoding_format': expected float or base64."),
                "encoding_format",
            );
        }
    };
    let bytes = super::embeddings::estimated_bytes(inputs.len(), dims, base64);
    if bytes > st.profile.max_response_bytes {
        let cap = st.profile.max_response_bytes;
        return bad(
            format!(
                "The answer would be about {bytes} bytes ({} inputs × {dims} dimensions); this mock sends at most {cap} bytes per request (--max-response-bytes).",
                inputs.len()
            ),
            "input",
        );
    }
    let tokens: u64 = inputs.iter().map(|(_, n)| n).sum();
    let mut meta = Meta {
        started: Some(arrived),
        ..Meta::default()
    };
    let Served {
        mut rng, slot, begun, ..
    } = match serve(&st, headers, tokens, &req.model, &mut meta, arrived).await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let per_token = st.profile.embedding_token_time;
    let reading = per_token.saturating_mul(u32::try_from(tokens).unwrap_or(u32::MAX));
    let due = begun + st.profile.latency.sample(&mut rng) + reading;
    st.sleep_until(due).await;
    drop(slot);
    if st.profile.stamps {
        meta.due = Some(due);
    }
    render::json(
        &st,
        StatusCode::OK,
        super::embeddings::body(&req.model, &inputs, dims, base64),
        &meta,
    )
}

/// `GET|POST /delay/{seconds}`: httpbin's answer after that long (the article's endpoint).
pub(crate) async fn delay(
    State(st): State<Arc<AppState>>,
    conn: Option<Extension<ConnMark>>,
    Path(seconds): Path<String>,
    method: Method,
    uri: Uri,
    mut headers: HeaderMap,
) -> Response {
    let arrived = Instant::now();
    numbers_from_query(&mut headers, uri.query());
    let guard = InFlight::begin(&st, conn.as_deref());
    let resp = async {
        let secs = match seconds.parse::<f64>() {
            Ok(s) if (0.0..=MAX_DELAY_SECS).contains(&s) => s,
            _ => {
                let msg =
                    format!("Invalid delay '{seconds}': expected seconds between 0 and {MAX_DELAY_SECS}.");
                return render::invalid(
                    &st,
                    Dialect::OpenAi,
                    StatusCode::BAD_REQUEST,
                    msg,
                    Some("seconds"),
                    None,
                );
            }
        };
        let decision = admit(&st, &headers, 0);
        let mut meta = Meta {
            started: Some(arrived),
            ..Meta::default()
        };
        if let Some(resp) = render::refusal(&st, &decision, "delay", &mut meta) {
            return resp;
        }
        if let Decision::Admitted(a) = &decision {
            meta.request_id = Some(a.index);
            meta.limits = a.limits;
            if let Some(resp) = act_on_fault(&st, a.fault, "delay", &mut meta).await {
                return resp;
            }
        }
        let due = arrived + Duration::from_secs_f64(secs);
        st.sleep_until(due).await;
        if st.profile.stamps {
            meta.due = Some(due);
        }
        let hdrs: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.into())))
            .collect();
        let body = serde_json::json!({
            "args": {}, "data": "", "files": {}, "form": {}, "headers": hdrs,
            "method": method.as_str(), "origin": "127.0.0.1", "url": uri.to_string(),
        });
        render::json(
            &st,
            StatusCode::OK,
            serde_json::to_vec(&body).unwrap_or_default(),
            &meta,
        )
    }
    .await;
    with_guard(resp, guard)
}

/// `GET /v1/models`.
pub(crate) async fn models() -> Response {
    let body = serde_json::json!({
        "object": "list",
        "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "asyncbench"}],
    });
    axum::Json(body).into_response()
}

/// `GET /stats`.
pub(crate) async fn stats(State(st): State<Arc<AppState>>) -> Response {
    axum::Json(st.snapshot()).into_response()
}

/// `GET /health` and `GET /healthz`.
pub(crate) async fn health() -> Response {
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Why an `/admin/*` call is refused, if it is: a browser's request (it carries `Origin`, which
/// browsers send with every cross-origin POST, or `Sec-Fetch-Site`), so that a web page open on
/// the same machine cannot stall or reset the mock, keyed or not; then a missing key.
fn admin_refusal(st: &AppState, headers: &HeaderMap) -> Option<Response> {
    let from_browser = headers.contains_key(axum::http::header::ORIGIN)
        || headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() != b"none");
    if from_browser {
        let msg = "Admin calls are refused from web pages (the request has an Origin header); use curl or a client of your own.".to_owned();
        return Some(render::admin_error(
            StatusCode::FORBIDDEN,
            msg,
            None,
            Some("cross_origin"),
        ));
    }
    (!st.authorized(headers)).then(render::admin_unauthorized)
}

/// `POST /admin/stall?for=2s`: every answer frozen that long from now (0s ends a stall).
pub(crate) async fn stall(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = admin_refusal(&st, &headers) {
        return refused;
    }
    let Some(spec) = q.get("for") else {
        let msg = "Missing query parameter 'for' (a duration such as 2s).".to_owned();
        return render::admin_error(StatusCode::BAD_REQUEST, msg, Some("for"), None);
    };
    match parse_duration(spec) {
        Ok(d) if d > MAX_STALL => {
            let msg = format!(
                "Invalid 'for' '{spec}': a stall lasts at most {} s (0s ends one).",
                MAX_STALL.as_secs()
            );
            render::admin_error(StatusCode::BAD_REQUEST, msg, Some("for"), None)
        }
        Ok(d) => {
            st.stall(d);
            axum::Json(serde_json::json!({"stalled_for_ms": d.as_millis() as u64})).into_response()
        }
        Err(e) => render::admin_error(StatusCode::BAD_REQUEST, e.to_string(), Some("for"), None),
    }
}

/// `POST /admin/reset`: the limiter's buckets full, the arrival count back at zero, no stall;
/// a client starting a new run (asyncbench, before each strategy) asks for it.
pub(crate) async fn reset(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = admin_refusal(&st, &headers) {
        return refused;
    }
    st.reset();
    axum::Json(serde_json::json!({"reset": true})).into_response()
}

/// Any other path: 404 `unknown_url`, counted as a work request (a client that sends its
/// requests to the wrong path must see them counted).
pub(crate) async fn not_found(
    State(st): State<Arc<AppState>>,
    conn: Option<Extension<ConnMark>>,
    method: Method,
    uri: Uri,
) -> Response {
    let guard = InFlight::begin(&st, conn.as_deref());
    let msg = format!("Invalid URL ({method} {}).", uri.path());
    let resp = render::invalid(
        &st,
        Dialect::OpenAi,
        StatusCode::NOT_FOUND,
        msg,
        None,
        Some("unknown_url"),
    );
    with_guard(resp, guard)
}

/// A known path with the wrong method: 405.
pub(crate) async fn method_not_allowed(
    State(st): State<Arc<AppState>>,
    conn: Option<Extension<ConnMark>>,
    method: Method,
    uri: Uri,
) -> Response {
    let guard = InFlight::begin(&st, conn.as_deref());
    let msg = format!("Method {method} is not allowed for {}.", uri.path());
    let resp = render::invalid(
        &st,
        Dialect::OpenAi,
        StatusCode::METHOD_NOT_ALLOWED,
        msg,
        None,
        Some("method_not_allowed"),
    );
    with_guard(resp, guard)
}
