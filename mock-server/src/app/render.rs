//! Rendering: the bytes of every answer. OpenAI's error bodies, the headers every work answer
//! carries (request id, processing time, the six rate-limit headers, Retry-After), the answers to
//! admission decisions and faults, and the completions themselves (`chat.completion`,
//! `text_completion` and their SSE chunks); for `/v1/messages` the same in Anthropic's dialect
//! (`anthropic.rs`). Nothing here waits or decides.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::app::admission::Decision;
use crate::app::anthropic::{self, MessageParts};
use crate::app::{AppState, ResetConnection};
use crate::limiter::{LimitKind, LimiterState, go_duration};
use crate::profile::Fault;
use crate::stats::Event;
use crate::wire::ErrorBody;

/// Words the mock "generates", one per token. Every token after the first carries its leading
/// space, so the joined text splits on whitespace into exactly the usage count, and each word
/// is one token in `o200k_base` and `cl100k_base` too (a test checks).
pub(crate) const WORDS: [&str; 8] = ["The", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs"];

/// The text of token `i` of a completion.
#[cfg(test)]
pub(crate) fn token(i: u32) -> String {
    let mut s = String::new();
    push_token(&mut s, i);
    s
}

/// Appends `n` tokens' words as a JSON string (the words need no escaping).
pub(crate) fn push_words(out: &mut String, n: u32) {
    out.push('"');
    for i in 0..n {
        push_token(out, i);
    }
    out.push('"');
}

/// Appends the text of token `i`: its word, after a space unless it is the first.
pub(crate) fn push_token(out: &mut String, i: u32) {
    if i > 0 {
        out.push(' ');
    }
    out.push_str(WORDS[i as usize % WORDS.len()]);
}

/// Whose wire format an answer speaks: OpenAI's (chat, legacy completions, every other route)
/// or Anthropic's (`/v1/messages`): error bodies and headers differ.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `{"error":{message,type,param,code}}`, `x-request-id`, `x-ratelimit-*`.
    #[default]
    OpenAi,
    /// `{"type":"error","error":{type,message}}`, `request-id`, `anthropic-ratelimit-*`.
    Anthropic,
}

/// Headers that go on every work answer.
#[derive(Debug, Default, Clone)]
pub(crate) struct Meta {
    /// Whose headers and error bodies.
    pub(crate) dialect: Dialect,
    /// Arrival number, for `x-request-id`.
    pub(crate) request_id: Option<u64>,
    /// When the request arrived, for `openai-processing-ms`.
    pub(crate) started: Option<Instant>,
    /// The limiter's state, for the six `x-ratelimit-*` headers.
    pub(crate) limits: Option<LimiterState>,
    /// `Retry-After` (whole seconds) and `retry-after-ms`.
    pub(crate) retry_after: Option<Duration>,
    /// `x-should-retry`.
    pub(crate) should_retry: Option<bool>,
    /// With `--stamps`: when the answer's head was due, for `x-mock-stamp`.
    pub(crate) due: Option<Instant>,
}

impl Meta {
    /// Writes the headers; the `x-ratelimit-*` ones only `with_limits` (a profile with
    /// `--no-ratelimit-headers` sends none).
    pub(crate) fn apply(&self, h: &mut HeaderMap, with_limits: bool) {
        if let Some(due) = self.due
            && let Ok(v) = HeaderValue::from_bytes(crate::stamp::text(
                &mut [0; crate::stamp::MAX_TEXT],
                due,
                self.started,
            ))
        {
            h.insert(crate::stamp::STAMP_HEADER_NAME, v);
        }
        if self.dialect == Dialect::Anthropic {
            return anthropic::apply_headers(self, h, with_limits);
        }
        fn put(h: &mut HeaderMap, name: &'static str, v: String) {
            if let Ok(v) = HeaderValue::try_from(v) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        // Numbers go straight into a header value (no String on the way).
        fn num(h: &mut HeaderMap, name: &'static str, v: u64) {
            h.insert(HeaderName::from_static(name), HeaderValue::from(v));
        }
        if let Some(id) = self.request_id {
            put(h, "x-request-id", hex_id("req_", id, 16));
            h.insert("openai-version", HeaderValue::from_static("2020-10-01"));
        }
        if let Some(t) = self.started {
            let ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
            num(h, "openai-processing-ms", ms);
        }
        if let Some(l) = self.limits.as_ref().filter(|_| with_limits) {
            if let Some(r) = l.requests {
                num(h, "x-ratelimit-limit-requests", r.limit);
                num(h, "x-ratelimit-remaining-requests", r.remaining);
                put(h, "x-ratelimit-reset-requests", go_duration(r.reset));
            }
            if let Some(t) = l.tokens {
                num(h, "x-ratelimit-limit-tokens", t.limit);
                num(h, "x-ratelimit-remaining-tokens", t.remaining);
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

/// `prefix` then `v` in lower-case hex, zero-padded to `width` digits: `format!("{prefix}{v:0w$x}")`
/// without the formatter, which pads digit by digit (1 % of the mock's CPU at zero delay).
pub(crate) fn hex_id(prefix: &str, v: u64, width: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let used = (64 - v.leading_zeros() as usize).div_ceil(4).max(1);
    let digits = used.max(width);
    let mut s = String::with_capacity(prefix.len() + digits);
    s.push_str(prefix);
    for i in (0..digits).rev() {
        let shift = u32::try_from(4 * i).unwrap_or(u32::MAX);
        s.push(char::from(
            DIGITS[(v.checked_shr(shift).unwrap_or(0) & 0xf) as usize],
        ));
    }
    s
}

/// A JSON answer, its status counted.
pub(crate) fn json(st: &AppState, status: StatusCode, body: impl Into<Body>, meta: &Meta) -> Response {
    st.stats.status(status.as_u16());
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    meta.apply(h, !st.profile.no_ratelimit_headers);
    resp
}

/// An error body, its status counted: OpenAI's as it is, or Anthropic's with the same message
/// and the type its status names.
pub(crate) fn error(st: &AppState, status: StatusCode, err: ErrorBody, meta: &Meta) -> Response {
    let body = match meta.dialect {
        Dialect::OpenAi => serde_json::to_vec(&err).unwrap_or_default(),
        Dialect::Anthropic => anthropic::error_body(status.as_u16(), &err.error.message, meta.request_id),
    };
    json(st, status, body, meta)
}

/// An `invalid_request_error`, its status counted.
pub(crate) fn invalid(
    st: &AppState,
    dialect: Dialect,
    status: StatusCode,
    message: String,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    error(
        st,
        status,
        ErrorBody::new(message, "invalid_request_error", param, code),
        &Meta {
            dialect,
            ..Meta::default()
        },
    )
}

const BAD_KEY: &str =
    "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.";

/// 401 `invalid_api_key`, as OpenAI answers a missing or wrong key (Anthropic's
/// `authentication_error`), counted, as every answer to a work request is.
pub(crate) fn unauthorized(st: &AppState, dialect: Dialect) -> Response {
    let message = match dialect {
        Dialect::OpenAi => BAD_KEY,
        Dialect::Anthropic => "invalid x-api-key",
    };
    invalid(
        st,
        dialect,
        StatusCode::UNAUTHORIZED,
        message.into(),
        None,
        Some("invalid_api_key"),
    )
}

/// An error answer to an `/admin/*` request: OpenAI's body, but not counted in `/stats`, so a
/// client's cross-check of work requests is not disturbed by its own admin calls.
pub(crate) fn admin_error(
    status: StatusCode,
    message: String,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    let body = ErrorBody::new(message, "invalid_request_error", param, code);
    let mut resp = Response::new(Body::from(serde_json::to_vec(&body).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// `/admin/*` without the key.
pub(crate) fn admin_unauthorized() -> Response {
    admin_error(
        StatusCode::UNAUTHORIZED,
        BAD_KEY.into(),
        None,
        Some("invalid_api_key"),
    )
}

/// The answer to a refusal by admission (`None` for an admitted request).
pub(crate) fn refusal(st: &AppState, d: &Decision, model: &str, meta: &mut Meta) -> Option<Response> {
    match d {
        Decision::Admitted(_) => None,
        Decision::BadFaultHeader(v) => Some(invalid(
            st,
            meta.dialect,
            StatusCode::BAD_REQUEST,
            format!("Invalid x-mock-fault header '{v}'."),
            None,
            None,
        )),
        Decision::Limited {
            kind,
            limit,
            remaining,
            requested,
            retry_after,
            limits,
        } => {
            let (what, unit) = match kind {
                LimitKind::Requests => ("requests", "requests per min (RPM)"),
                LimitKind::Tokens => ("tokens", "tokens per min (TPM)"),
            };
            let message = match meta.dialect {
                Dialect::OpenAi => format!(
                    "Rate limit reached for {model} in organization org-mock on {unit}: Limit {limit}, Used {}, Requested {requested}. Please try again in {}. Visit https://platform.openai.com/account/rate-limits to learn more.",
                    limit.saturating_sub(*remaining),
                    go_duration(*retry_after),
                ),
                Dialect::Anthropic => format!(
                    "This request would exceed your organization's rate limit of {limit} {unit} (org-mock). For details, refer to: https://docs.claude.com/en/api/rate-limits."
                ),
            };
            meta.limits = Some(*limits);
            meta.retry_after = Some(*retry_after);
            let body = ErrorBody::new(message, what, None, Some("rate_limit_exceeded"));
            Some(error(st, StatusCode::TOO_MANY_REQUESTS, body, meta))
        }
        Decision::TooLarge {
            limit,
            requested,
            limits,
        } => {
            let message = format!(
                "Request too large for {model} in organization org-mock on tokens per min (TPM): Limit {limit}, Requested {requested}. The input or output tokens must be reduced in order to run successfully."
            );
            meta.limits = Some(*limits);
            meta.should_retry = Some(false);
            let body = ErrorBody::new(message, "tokens", None, Some("rate_limit_exceeded"));
            Some(error(st, StatusCode::TOO_MANY_REQUESTS, body, meta))
        }
    }
}

/// The answer a fault puts in place of the completion; `None` for the faults that act later
/// (hang, reset, and the streaming ones).
pub(crate) fn fault(st: &AppState, fault: Fault, model: &str, meta: &mut Meta) -> Option<Response> {
    let status = |c: u16| StatusCode::from_u16(c).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Some(match fault {
        Fault::RateLimited => {
            let d = st.profile.retry_after;
            meta.retry_after = Some(d);
            let message = format!(
                "Rate limit reached for {model} in organization org-mock on requests per min (RPM) (injected by mock-server). Please try again in {}. Visit https://platform.openai.com/account/rate-limits to learn more.",
                go_duration(d)
            );
            let body = ErrorBody::new(message, "requests", None, Some("rate_limit_exceeded"));
            error(st, StatusCode::TOO_MANY_REQUESTS, body, meta)
        }
        Fault::Quota => {
            meta.should_retry = Some(false);
            let body = ErrorBody::new(
                "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "insufficient_quota",
                None,
                Some("insufficient_quota"),
            );
            error(st, StatusCode::TOO_MANY_REQUESTS, body, meta)
        }
        Fault::Status(code) if code >= 500 && meta.dialect == Dialect::Anthropic => {
            let message = anthropic::server_message(code);
            error(
                st,
                status(code),
                ErrorBody::new(message, "server_error", None, None),
                meta,
            )
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
            error(
                st,
                status(code),
                ErrorBody::new(message, "server_error", None, None),
                meta,
            )
        }
        Fault::Status(code) => {
            let body = ErrorBody::new(
                format!("Injected error {code}."),
                "invalid_request_error",
                None,
                None,
            );
            error(st, status(code), body, meta)
        }
        Fault::Hang | Fault::Reset | Fault::StreamError | Fault::StreamCut => return None,
    })
}

/// An answer that makes the connection layer reset the connection (or the HTTP/2 stream).
pub(crate) fn reset(st: &AppState) -> Response {
    st.stats.event(Event::Reset);
    let mut resp = Response::new(Body::empty());
    resp.extensions_mut().insert(ResetConnection);
    resp
}

/// Which API a completion answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/v1/chat/completions`: `chat.completion`, deltas with `content`.
    Chat,
    /// `/v1/completions` (legacy): `text_completion`, choices with `text`.
    Text,
    /// `/v1/messages` (Anthropic): a `message` with one text block, named SSE events.
    Messages,
}

impl Api {
    /// Whose headers and error bodies this API's answers carry.
    pub(crate) fn dialect(self) -> Dialect {
        match self {
            Api::Chat | Api::Text => Dialect::OpenAi,
            Api::Messages => Dialect::Anthropic,
        }
    }
}

/// Everything needed to write one completion, with the parts every chunk repeats rendered once.
#[derive(Debug)]
pub(crate) struct Generation {
    pub(crate) api: Api,
    pub(crate) id: String,
    pub(crate) n: u32,
    /// Generated tokens per choice, reasoning included.
    pub(crate) tokens: u32,
    /// Of them, the reasoning streamed first (chat and Messages only).
    pub(crate) reasoning: u32,
    pub(crate) finish_reason: &'static str,
    pub(crate) prompt_tokens: u64,
    /// `data: {"id":…,"object":…,"created":…,"model":…,` up to `"choices":[`, rendered on first
    /// use (a streamed answer's; a plain completion never needs it).
    chunk_head: std::sync::OnceLock<String>,
    /// `{"id":…,"object":…,"created":…,"model":…` for the whole completion.
    model_json: String,
    created: u64,
}

impl Generation {
    pub(crate) fn new(
        api: Api,
        index: u64,
        model: &str,
        n: u32,
        tokens: u32,
        finish_reason: &'static str,
        prompt_tokens: u64,
    ) -> Generation {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let model_json = serde_json::to_string(model).unwrap_or_default();
        let id = match api {
            Api::Chat => hex_id("chatcmpl-mock", index, 12),
            Api::Text => hex_id("cmpl-mock", index, 12),
            Api::Messages => hex_id("msg_mock", index, 16),
        };
        Generation {
            api,
            id,
            n,
            tokens,
            reasoning: 0,
            finish_reason,
            prompt_tokens,
            chunk_head: std::sync::OnceLock::new(),
            model_json,
            created,
        }
    }

    /// The first `reasoning` of its tokens (at most all of them) are reasoning, streamed before
    /// the text; the legacy completions API has none.
    pub(crate) fn with_reasoning(mut self, reasoning: u32) -> Generation {
        if self.api != Api::Text {
            self.reasoning = reasoning.min(self.tokens);
        }
        self
    }

    /// Tokens of text per choice (after the reasoning).
    fn output(&self) -> u32 {
        self.tokens - self.reasoning
    }

    /// `data: {"id":…,…,"choices":[`, the start of every chunk.
    fn chunk_head(&self) -> &str {
        self.chunk_head.get_or_init(|| {
            let (object, fingerprint) = match self.api {
                Api::Chat => ("chat.completion.chunk", r#""system_fingerprint":"fp_mock","#),
                Api::Text | Api::Messages => ("text_completion", ""),
            };
            format!(
                r#"data: {{"id":"{}","object":"{object}","created":{},"model":{},{fingerprint}"choices":["#,
                self.id, self.created, self.model_json
            )
        })
    }

    /// Appends the whole text of one choice as a JSON string (the words need no escaping).
    fn push_text(&self, out: &mut String) {
        push_words(out, self.output());
    }

    /// Bytes the answer will take, about (the cap on one request's output is checked against it).
    pub(crate) fn estimated_bytes(&self, stream: bool) -> u64 {
        if stream && self.api == Api::Messages {
            // `event: content_block_delta` and its JSON are about 120 bytes a token.
            Self::bytes(self.n, self.tokens, 128)
        } else if stream {
            Self::bytes(self.n, self.tokens, self.chunk_head().len() as u64 + 90)
        } else {
            Self::plain_bytes(self.n, self.tokens)
        }
    }

    /// [`Generation::estimated_bytes`] of an answer not streamed, which needs no generation.
    pub(crate) fn plain_bytes(n: u32, tokens: u32) -> u64 {
        Self::bytes(n, tokens, 8)
    }

    fn bytes(n: u32, tokens: u32, per_token: u64) -> u64 {
        u64::from(n) * u64::from(tokens) * per_token + 1024
    }

    pub(crate) fn usage_json(&self) -> String {
        let mut s = String::with_capacity(320);
        self.push_usage(&mut s);
        s
    }

    /// The `usage` object, written at the end of `out` (a `format!` of it grew its own buffer
    /// twice: 1 % of the mock's CPU at zero delay).
    fn push_usage(&self, out: &mut String) {
        use std::fmt::Write;
        let completion = u64::from(self.tokens) * u64::from(self.n);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            r#"{{"prompt_tokens":{},"completion_tokens":{completion},"total_tokens":{}"#,
            self.prompt_tokens,
            self.prompt_tokens + completion
        );
        if self.api == Api::Chat {
            // Reasoning tokens are inside completion_tokens, as OpenAI counts them.
            let _ = write!(
                out,
                r#","prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},"completion_tokens_details":{{"reasoning_tokens":{},"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}"#,
                u64::from(self.reasoning) * u64::from(self.n)
            );
        }
        out.push('}');
    }

    /// The non-streaming answer, written into one buffer (it was a dozen `format!`s and a
    /// `String` per token: 5 % of the mock's CPU at zero delay).
    pub(crate) fn completion_json(&self) -> Vec<u8> {
        use std::fmt::Write;
        if self.api == Api::Messages {
            return self.message_parts().message_json();
        }
        let (object, extra) = match self.api {
            Api::Chat => (
                "chat.completion",
                r#","service_tier":"default","system_fingerprint":"fp_mock""#,
            ),
            Api::Text | Api::Messages => ("text_completion", ""),
        };
        let text_len = self.tokens as usize * 7 + 2;
        let mut s = String::with_capacity(512 + self.n as usize * (text_len + 160));
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            r#"{{"id":"{}","object":"{object}","created":{},"model":{},"choices":["#,
            self.id, self.created, self.model_json
        );
        for i in 0..self.n {
            if i > 0 {
                s.push(',');
            }
            match self.api {
                Api::Chat => {
                    let _ = write!(s, r#"{{"index":{i},"message":{{"role":"assistant","content":"#);
                    self.push_text(&mut s);
                    if self.reasoning > 0 {
                        // DeepSeek's name and vLLM's newer one, both.
                        for key in [r#","reasoning_content":"#, r#","reasoning":"#] {
                            s.push_str(key);
                            push_words(&mut s, self.reasoning);
                        }
                    }
                    s.push_str(r#","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":""#);
                }
                Api::Text | Api::Messages => {
                    s.push_str(r#"{"text":"#);
                    self.push_text(&mut s);
                    let _ = write!(s, r#","index":{i},"logprobs":null,"finish_reason":""#);
                }
            }
            s.push_str(self.finish_reason);
            s.push_str(r#""}"#);
        }
        s.push_str(r#"],"usage":"#);
        self.push_usage(&mut s);
        s.push_str(extra);
        s.push('}');
        s.into_bytes()
    }

    /// `data: {chunk}\n\n` with the given choices and usage (`null` or a usage object).
    fn chunk(&self, choices: &str, usage: &str) -> Bytes {
        let head = self.chunk_head();
        let mut s = String::with_capacity(head.len() + choices.len() + usage.len() + 16);
        s.push_str(head);
        s.push_str(choices);
        s.push_str("],\"usage\":");
        s.push_str(usage);
        s.push_str("}\n\n");
        Bytes::from(s)
    }

    /// The parts of a Messages answer.
    fn message_parts(&self) -> MessageParts<'_> {
        MessageParts {
            id: &self.id,
            model_json: &self.model_json,
            tokens: self.tokens,
            reasoning: self.reasoning,
            input_tokens: self.prompt_tokens,
            finish: self.finish_reason,
        }
    }

    /// What a stream opens with once its latency is over: chat's role chunk of every choice,
    /// Anthropic's `message_start`, `ping` and `content_block_start`; the legacy API has none.
    pub(crate) fn opening(&self) -> Option<Bytes> {
        match self.api {
            Api::Chat => {
                let roles: Vec<Bytes> = (0..self.n)
                    .map(|i| {
                        self.chunk(
                            &format!(r#"{{"index":{i},"delta":{{"role":"assistant","content":""}},"logprobs":null,"finish_reason":null}}"#),
                            "null",
                        )
                    })
                    .collect();
                Some(Bytes::from(roles.concat()))
            }
            Api::Text => None,
            Api::Messages => Some(self.message_parts().opening()),
        }
    }

    /// Token `t` of every choice (the reasoning's first, then the text's).
    pub(crate) fn token_event(&self, t: u32) -> Bytes {
        if self.api == Api::Messages {
            return self.message_parts().token_event(t);
        }
        Bytes::from(self.token_event_after(t, 0))
    }

    /// Whether every token's frame is one event, which one stamp line opens: one choice of
    /// chat or the legacy API (Anthropic's first text token also closes and opens a block).
    pub(crate) fn one_event_per_token(&self) -> bool {
        self.n == 1 && self.api != Api::Messages
    }

    /// [`Generation::token_event`] of chat or the legacy API (Anthropic's are
    /// [`MessageParts::token_event`]) after `room` bytes left free at the front (for a stamp
    /// line written once the event is made), in one allocation: with reasoning, every delta
    /// carries `content`, `reasoning_content` and `reasoning`, the unused ones `null` (clients
    /// that read one on every chunk need the key there). A stream writes one a token: written
    /// in place, not through `format!`, a `String` per piece and a join.
    pub(crate) fn token_event_after(&self, t: u32, room: usize) -> Vec<u8> {
        debug_assert!(self.api != Api::Messages, "Anthropic's events are MessageParts'");
        let head = self.chunk_head().as_bytes();
        let mut out = Vec::with_capacity(room + self.n as usize * (head.len() + 144));
        out.resize(room, 0);
        let reasoning = t < self.reasoning;
        let word = if reasoning { t } else { t - self.reasoning };
        // The word as a JSON string (the words need no escaping).
        let push_word = |out: &mut Vec<u8>| {
            out.push(b'"');
            if word > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(WORDS[word as usize % WORDS.len()].as_bytes());
            out.push(b'"');
        };
        let mut digits = itoa::Buffer::new();
        for i in 0..self.n {
            let index = digits.format(i).as_bytes();
            out.extend_from_slice(head);
            if self.api == Api::Chat {
                out.extend_from_slice(b"{\"index\":");
                out.extend_from_slice(index);
                if reasoning {
                    out.extend_from_slice(b",\"delta\":{\"content\":null,\"reasoning_content\":");
                    push_word(&mut out);
                    out.extend_from_slice(b",\"reasoning\":");
                    push_word(&mut out);
                } else {
                    out.extend_from_slice(b",\"delta\":{\"content\":");
                    push_word(&mut out);
                    if self.reasoning > 0 {
                        out.extend_from_slice(b",\"reasoning_content\":null,\"reasoning\":null");
                    }
                }
                out.extend_from_slice(b"}");
            } else {
                out.extend_from_slice(b"{\"text\":");
                push_word(&mut out);
                out.extend_from_slice(b",\"index\":");
                out.extend_from_slice(index);
            }
            out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
        }
        out
    }

    /// The end of the stream: every choice's finishing chunk, the usage chunk when
    /// `include_usage`, `[DONE]`; Anthropic's `content_block_stop`, `message_delta` and
    /// `message_stop`.
    pub(crate) fn closing(&self, include_usage: bool) -> Bytes {
        if self.api == Api::Messages {
            return self.message_parts().closing();
        }
        let f = self.finish_reason;
        let mut out: Vec<Bytes> = (0..self.n)
            .map(|i| {
                let choice = match self.api {
                    Api::Chat => {
                        format!(r#"{{"index":{i},"delta":{{}},"logprobs":null,"finish_reason":"{f}"}}"#)
                    }
                    Api::Text | Api::Messages => {
                        format!(r#"{{"text":"","index":{i},"logprobs":null,"finish_reason":"{f}"}}"#)
                    }
                };
                self.chunk(&choice, "null")
            })
            .collect();
        if include_usage {
            out.push(self.chunk("", &self.usage_json()));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        Bytes::from(out.concat())
    }

    /// A mid-stream error: OpenAI's `data: {"error": …}`, Anthropic's `event: error`.
    pub(crate) fn error_event(&self) -> Bytes {
        if self.api == Api::Messages {
            return MessageParts::error_event();
        }
        let err = ErrorBody::new(
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
            None,
        );
        let json = serde_json::to_string(&err).unwrap_or_default();
        Bytes::from(format!("data: {json}\n\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each generated word is one token in every tokenizer, so a completion's text counts as
    /// its usage says, whichever the client counts with.
    #[test]
    fn each_generated_word_is_one_token() {
        use crate::tokens::Tokenizer;
        for t in [Tokenizer::Words, Tokenizer::O200kBase, Tokenizer::Cl100kBase] {
            for i in 0..WORDS.len() as u32 * 2 {
                assert_eq!(t.count(&token(i)), 1, "{t}: {:?}", token(i));
            }
            let text: String = (0..40).map(token).collect();
            assert_eq!(t.count(&text), 40, "{t}: {text}");
        }
    }

    /// Every header the mock writes about limits and retries, by name and exact value, as the
    /// OpenAI rate-limit guide shows them (reference/openai-api.md §2.1) and openai-python reads
    /// them: the live dump's figures (5000/min with one request charged, 4999 left, full again
    /// in 12 ms; 160 000 tokens/min with 24 charged, full in 9 ms), `Retry-After` in whole
    /// seconds rounded up and at least 1, `retry-after-ms` exact.
    #[test]
    fn the_rate_limit_headers_are_pinned() {
        use crate::limiter::Limiter;
        let t0 = Instant::now();
        let mut l = Limiter::new(Some(5000), Some(160_000), Duration::from_secs(60), t0).unwrap();
        let (_, state) = l.admit(24, t0);
        let meta = Meta {
            dialect: Dialect::OpenAi,
            request_id: Some(0xab),
            started: None,
            limits: Some(state),
            retry_after: Some(Duration::from_micros(1_500_200)),
            should_retry: Some(true),
            due: None,
        };
        let mut h = HeaderMap::new();
        meta.apply(&mut h, true);
        let got = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned());
        let want = [
            ("x-ratelimit-limit-requests", "5000"),
            ("x-ratelimit-remaining-requests", "4999"),
            ("x-ratelimit-reset-requests", "12ms"),
            ("x-ratelimit-limit-tokens", "160000"),
            ("x-ratelimit-remaining-tokens", "159976"),
            ("x-ratelimit-reset-tokens", "9ms"),
            ("retry-after", "2"),
            ("retry-after-ms", "1501"),
            ("x-should-retry", "true"),
            ("openai-version", "2020-10-01"),
            ("x-request-id", "req_00000000000000ab"),
        ];
        for (name, value) in want {
            assert_eq!(got(name).as_deref(), Some(value), "{name}");
        }
        assert_eq!(h.len(), want.len(), "no other header: {h:?}");
        // A wait under a millisecond is still at least 1 ms and 1 s.
        let mut h = HeaderMap::new();
        Meta {
            retry_after: Some(Duration::from_micros(200)),
            ..Meta::default()
        }
        .apply(&mut h, true);
        assert_eq!(
            (got_in(&h, "retry-after"), got_in(&h, "retry-after-ms")),
            ("1".into(), "1".into())
        );
    }

    fn got_in(h: &HeaderMap, name: &str) -> String {
        h.get(name).unwrap().to_str().unwrap().to_owned()
    }

    /// `hex_id` writes what `format!` with zero-padded lower-case hex writes, at every length.
    #[test]
    fn hex_id_matches_zero_padded_hex_formatting() {
        for v in [0, 1, 0xf, 0x10, 0xabc, 1 << 47, (1 << 48) - 1, 1 << 48, u64::MAX] {
            assert_eq!(hex_id("chatcmpl-mock", v, 12), format!("chatcmpl-mock{v:012x}"));
            assert_eq!(hex_id("req_", v, 16), format!("req_{v:016x}"));
            assert_eq!(hex_id("", v, 0), format!("{v:x}"));
        }
    }

    /// The completion written into one buffer is OpenAI's shape: valid JSON, `n` choices in
    /// order, each text exactly `tokens` words (the same words a stream sends), the finish
    /// reason, and usage adding up; for chat and for the legacy API.
    #[test]
    fn a_completion_is_json_with_every_choice_and_its_words() {
        for api in [Api::Chat, Api::Text] {
            for (n, tokens) in [(1u32, 1u32), (3, 9), (2, 40)] {
                let g = Generation::new(api, 7, "m\"odel", n, tokens, "length", 5);
                let v: serde_json::Value = serde_json::from_slice(&g.completion_json()).unwrap();
                assert_eq!(v["model"], "m\"odel");
                let choices = v["choices"].as_array().unwrap();
                assert_eq!(choices.len(), n as usize, "{api:?}");
                let streamed: String = (0..tokens).map(token).collect();
                for (i, c) in choices.iter().enumerate() {
                    assert_eq!(c["index"], i as u64);
                    assert_eq!(c["finish_reason"], "length");
                    let text = match api {
                        Api::Chat => &c["message"]["content"],
                        Api::Text | Api::Messages => &c["text"],
                    };
                    assert_eq!(text.as_str().unwrap(), streamed, "{api:?} n={n} tokens={tokens}");
                }
                assert_eq!(v["usage"]["completion_tokens"], u64::from(n * tokens));
                assert_eq!(v["usage"]["total_tokens"], u64::from(n * tokens) + 5);
                let object = if api == Api::Chat {
                    "chat.completion"
                } else {
                    "text_completion"
                };
                assert_eq!(v["object"], object);
            }
        }
    }

    /// A token's event, written in place, is byte for byte the chunk the templates below give
    /// (OpenAI's): chat with and without reasoning, the legacy API, one and two choices, and
    /// after room left for a stamp.
    #[test]
    fn a_tokens_event_is_the_chunk_byte_for_byte() {
        for (api, reasoning) in [(Api::Chat, 0), (Api::Chat, 2), (Api::Text, 0)] {
            for n in [1, 2] {
                let g = Generation::new(api, 7, "m", n, 5, "length", 3).with_reasoning(reasoning);
                for t in 0..5 {
                    let thinking = t < reasoning;
                    let word = token(if thinking { t } else { t - reasoning });
                    let word = serde_json::to_string(&word).unwrap();
                    let want: String = (0..n)
                        .map(|i| {
                            let choice = match api {
                                Api::Chat if thinking => format!(
                                    r#"{{"index":{i},"delta":{{"content":null,"reasoning_content":{word},"reasoning":{word}}},"logprobs":null,"finish_reason":null}}"#
                                ),
                                Api::Chat if reasoning > 0 => format!(
                                    r#"{{"index":{i},"delta":{{"content":{word},"reasoning_content":null,"reasoning":null}},"logprobs":null,"finish_reason":null}}"#
                                ),
                                Api::Chat => format!(
                                    r#"{{"index":{i},"delta":{{"content":{word}}},"logprobs":null,"finish_reason":null}}"#
                                ),
                                _ => format!(
                                    r#"{{"text":{word},"index":{i},"logprobs":null,"finish_reason":null}}"#
                                ),
                            };
                            format!("{}{choice}],\"usage\":null}}\n\n", g.chunk_head())
                        })
                        .collect();
                    assert_eq!(std::str::from_utf8(&g.token_event(t)).unwrap(), want);
                    let roomy = g.token_event_after(t, 9);
                    assert_eq!(std::str::from_utf8(&roomy[9..]).unwrap(), want);
                }
            }
        }
    }

    /// Chat with reasoning: the first tokens stream as `reasoning_content` and `reasoning`
    /// (content null), the rest as content (the reasoning keys null), every delta carrying all
    /// three; usage counts the reasoning inside the completion; the plain message carries both
    /// names. The legacy API has none.
    #[test]
    fn chat_streams_reasoning_before_content_and_counts_it() {
        let g = Generation::new(Api::Chat, 1, "m", 2, 5, "length", 3).with_reasoning(2);
        let mut reasoning = String::new();
        let mut content = String::new();
        for t in 0..5 {
            let bytes = g.token_event(t);
            let text = std::str::from_utf8(&bytes).unwrap();
            let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
            assert_eq!(events.len(), 2, "one chunk per choice");
            let v: serde_json::Value =
                serde_json::from_str(events[0].strip_prefix("data: ").unwrap()).unwrap();
            let d = &v["choices"][0]["delta"];
            for key in ["content", "reasoning_content", "reasoning"] {
                assert!(d.get(key).is_some(), "{key} missing in {d}");
            }
            assert_eq!(d["reasoning_content"], d["reasoning"]);
            reasoning.push_str(d["reasoning"].as_str().unwrap_or(""));
            content.push_str(d["content"].as_str().unwrap_or(""));
        }
        assert_eq!(
            (reasoning.as_str(), content.as_str()),
            ("The quick", "The quick brown")
        );
        let usage: serde_json::Value = serde_json::from_str(&g.usage_json()).unwrap();
        assert_eq!(usage["completion_tokens"], 10);
        assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 4);
        let v: serde_json::Value = serde_json::from_slice(&g.completion_json()).unwrap();
        let m = &v["choices"][1]["message"];
        assert_eq!(
            (m["content"].as_str(), m["reasoning_content"].as_str()),
            (Some("The quick brown"), Some("The quick"))
        );
        assert_eq!(m["reasoning"], "The quick");
        // More reasoning than tokens: all of it reasoning. The legacy API: none.
        assert_eq!(
            Generation::new(Api::Chat, 1, "m", 1, 3, "length", 3)
                .with_reasoning(9)
                .reasoning,
            3
        );
        assert_eq!(
            Generation::new(Api::Text, 1, "m", 1, 3, "length", 3)
                .with_reasoning(2)
                .reasoning,
            0
        );
    }

    #[test]
    fn joined_tokens_split_back_into_the_token_count() {
        for n in [1u32, 2, 7, 8, 9, 64, 1000] {
            let text: String = (0..n).map(token).collect();
            assert_eq!(text.split_whitespace().count(), n as usize, "{n}: {text}");
        }
    }
}
