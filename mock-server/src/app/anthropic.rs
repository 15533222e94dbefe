//! Anthropic's Messages API in the mock's answers (`shared/reference/apis-and-python-clients.md`
//! §1): the error body (`{"type":"error","error":{type,message},"request_id"}`, its type named
//! by the status, as the SDK classifies by status), the headers (`request-id`,
//! `anthropic-ratelimit-*` with RFC 3339 resets, `retry-after` in whole seconds), the `message`
//! JSON and the named SSE events of a streamed message. `render.rs` calls these for requests
//! that came through `/v1/messages`.

use std::fmt::Write;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::app::render::{Meta, hex_id, push_token, push_words};
use crate::limiter::BucketState;

/// The error type Anthropic names for an HTTP status (its documented pairs; other 5xx are
/// `api_error`, other 4xx `invalid_request_error`).
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        503 | 529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The error body of a failed Messages request.
pub(crate) fn error_body(status: u16, message: &str, request_id: Option<u64>) -> Vec<u8> {
    let mut body = serde_json::json!({
        "type": "error",
        "error": {"type": error_type(status), "message": message},
    });
    if let Some(id) = request_id {
        body["request_id"] = request_id_value(id).into();
    }
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The message of an overloaded or failing server, as Anthropic words them.
pub(crate) fn server_message(status: u16) -> &'static str {
    match error_type(status) {
        "overloaded_error" => "Overloaded",
        "timeout_error" => "Request timed out",
        _ => "Internal server error",
    }
}

fn request_id_value(id: u64) -> String {
    hex_id("req_mock", id, 16)
}

/// `now + d` rounded up to the whole second, in RFC 3339 UTC (`2026-12-05T13:40:59Z`), as
/// Anthropic writes its resets.
pub(crate) fn rfc3339_after(d: Duration) -> String {
    let t = OffsetDateTime::now_utc() + d;
    let secs = t.unix_timestamp() + i64::from(t.nanosecond() > 0);
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Writes the headers of a Messages answer: `request-id`; with `with_limits`, the requests and
/// tokens families of `anthropic-ratelimit-*` (the mock's one token bucket counts input and
/// output together, so the `input-tokens` and `output-tokens` families are not sent);
/// `retry-after` in whole seconds, at least 1 (Anthropic sends no `retry-after-ms`);
/// `x-should-retry`.
pub(crate) fn apply_headers(meta: &Meta, h: &mut HeaderMap, with_limits: bool) {
    fn put(h: &mut HeaderMap, name: &'static str, v: String) {
        if let Ok(v) = HeaderValue::try_from(v) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    fn family(h: &mut HeaderMap, names: [&'static str; 3], b: BucketState) {
        h.insert(HeaderName::from_static(names[0]), HeaderValue::from(b.limit));
        h.insert(HeaderName::from_static(names[1]), HeaderValue::from(b.remaining));
        put(h, names[2], rfc3339_after(b.reset));
    }
    if let Some(id) = meta.request_id {
        put(h, "request-id", request_id_value(id));
    }
    if let Some(l) = meta.limits.as_ref().filter(|_| with_limits) {
        let families = [
            (
                l.requests,
                [
                    "anthropic-ratelimit-requests-limit",
                    "anthropic-ratelimit-requests-remaining",
                    "anthropic-ratelimit-requests-reset",
                ],
            ),
            (
                l.tokens,
                [
                    "anthropic-ratelimit-tokens-limit",
                    "anthropic-ratelimit-tokens-remaining",
                    "anthropic-ratelimit-tokens-reset",
                ],
            ),
        ];
        for (bucket, names) in families {
            if let Some(b) = bucket {
                family(h, names, b);
            }
        }
    }
    if let Some(d) = meta.retry_after {
        let secs = d.as_nanos().div_ceil(1_000_000_000).max(1);
        put(h, "retry-after", secs.to_string());
    }
    if let Some(b) = meta.should_retry {
        put(h, "x-should-retry", b.to_string());
    }
}

/// `stop_reason` for the mock's finish reasons: a capped answer ends at `max_tokens`.
fn stop_reason(finish: &str) -> &'static str {
    if finish == "length" {
        "max_tokens"
    } else {
        "end_turn"
    }
}

/// What a Messages answer is made of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageParts<'a> {
    pub(crate) id: &'a str,
    /// The model's name as a JSON string.
    pub(crate) model_json: &'a str,
    /// Output tokens, thinking included.
    pub(crate) tokens: u32,
    /// Of them, the thinking block's (first).
    pub(crate) reasoning: u32,
    pub(crate) input_tokens: u64,
    pub(crate) finish: &'a str,
}

/// The signature of a thinking block (the real one is an opaque token the API checks when the
/// block is sent back; the mock checks nothing).
const SIGNATURE: &str = "bW9jay1zaWduYXR1cmU=";

impl MessageParts<'_> {
    /// Tokens of text (after the thinking).
    fn output(&self) -> u32 {
        self.tokens - self.reasoning
    }

    /// The index of the text block: 1 after a thinking block, else 0.
    fn text_index(&self) -> u32 {
        u32::from(self.reasoning > 0)
    }

    /// `,"output_tokens_details":{"thinking_tokens":N}` when there was thinking.
    fn details(&self) -> String {
        if self.reasoning > 0 {
            format!(
                r#","output_tokens_details":{{"thinking_tokens":{}}}"#,
                self.reasoning
            )
        } else {
            String::new()
        }
    }

    /// The non-streamed `message`: a thinking block of the reasoning tokens (when there are
    /// some), then one text block of the rest (none when there is none: `max_tokens: 0`).
    pub(crate) fn message_json(&self) -> Vec<u8> {
        let mut s = String::with_capacity(320 + self.tokens as usize * 7);
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            r#"{{"id":"{}","type":"message","role":"assistant","model":{},"content":["#,
            self.id, self.model_json
        );
        if self.reasoning > 0 {
            s.push_str(r#"{"type":"thinking","thinking":"#);
            push_words(&mut s, self.reasoning);
            let _ = write!(s, r#","signature":"{SIGNATURE}"}}"#);
            if self.output() > 0 {
                s.push(',');
            }
        }
        if self.output() > 0 {
            s.push_str(r#"{"type":"text","text":"#);
            push_words(&mut s, self.output());
            s.push('}');
        }
        let _ = write!(
            s,
            r#"],"stop_reason":"{}","stop_sequence":null,"usage":{{"input_tokens":{},"output_tokens":{},"cache_creation_input_tokens":0,"cache_read_input_tokens":0{}}}}}"#,
            stop_reason(self.finish),
            self.input_tokens,
            self.tokens,
            self.details()
        );
        s.into_bytes()
    }

    /// `content_block_start` of block `index`: `thinking` or `text`, empty.
    fn block_start(s: &mut String, index: u32, thinking: bool) {
        let block = if thinking {
            r#"{"type":"thinking","thinking":"","signature":""}"#
        } else {
            r#"{"type":"text","text":""}"#
        };
        let _ = write!(
            s,
            "event: content_block_start\ndata: {{\"type\":\"content_block_start\",\"index\":{index},\"content_block\":{block}}}\n\n"
        );
    }

    /// The end of block `index`; a thinking block's signature comes just before it.
    fn block_stop(s: &mut String, index: u32, thinking: bool) {
        if thinking {
            let _ = write!(
                s,
                "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"signature_delta\",\"signature\":\"{SIGNATURE}\"}}}}\n\n"
            );
        }
        let _ = write!(
            s,
            "event: content_block_stop\ndata: {{\"type\":\"content_block_stop\",\"index\":{index}}}\n\n"
        );
    }

    /// `message_start` (content empty, usage with the input), a `ping`, and the first block's
    /// `content_block_start` (thinking, or text; none for `max_tokens: 0`).
    pub(crate) fn opening(&self) -> Bytes {
        let mut s = String::with_capacity(512);
        let _ = write!(
            s,
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"{}\",\"type\":\"message\",\"role\":\"assistant\",\"model\":{},\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"output_tokens\":1,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}}}}}\n\n",
            self.id, self.model_json, self.input_tokens
        );
        s.push_str("event: ping\ndata: {\"type\": \"ping\"}\n\n");
        if self.tokens > 0 {
            Self::block_start(&mut s, 0, self.reasoning > 0);
        }
        Bytes::from(s)
    }

    /// Token `t`: a `thinking_delta` of block 0 while thinking, then a `text_delta` of the text
    /// block (the first one closes the thinking block and opens the text block).
    pub(crate) fn token_event(&self, t: u32) -> Bytes {
        let mut s = String::with_capacity(128);
        let (index, kind, field, word) = if t < self.reasoning {
            (0, "thinking_delta", "thinking", t)
        } else {
            if t == self.reasoning && self.reasoning > 0 {
                Self::block_stop(&mut s, 0, true);
                Self::block_start(&mut s, 1, false);
            }
            (self.text_index(), "text_delta", "text", t - self.reasoning)
        };
        let _ = write!(
            s,
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\"delta\":{{\"type\":\"{kind}\",\"{field}\":\""
        );
        push_token(&mut s, word);
        s.push_str("\"}}\n\n");
        Bytes::from(s)
    }

    /// The open block's `content_block_stop`, `message_delta` (stop reason, the output tokens as
    /// a cumulative total, thinking included) and `message_stop`; the body ends right after it.
    pub(crate) fn closing(&self) -> Bytes {
        let mut s = String::with_capacity(384);
        if self.output() > 0 {
            Self::block_stop(&mut s, self.text_index(), false);
        } else if self.reasoning > 0 {
            Self::block_stop(&mut s, 0, true);
        }
        let _ = write!(
            s,
            "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"{}\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}{}}}}}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n",
            stop_reason(self.finish),
            self.tokens,
            self.details()
        );
        Bytes::from(s)
    }

    /// A mid-stream `error` event (the SDK raises it at once and does not retry it).
    pub(crate) fn error_event() -> Bytes {
        Bytes::from_static(
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_has_anthropics_error_type() {
        let want = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (529, "overloaded_error"),
        ];
        for (status, kind) in want {
            assert_eq!(error_type(status), kind, "{status}");
            let v: serde_json::Value = serde_json::from_slice(&error_body(status, "m", Some(7))).unwrap();
            assert_eq!(v["type"], "error");
            assert_eq!(v["error"]["type"], kind);
            assert_eq!(v["error"]["message"], "m");
            assert_eq!(v["request_id"], "req_mock0000000000000007");
        }
    }

    #[test]
    fn resets_are_rfc3339_whole_seconds_in_the_future() {
        let s = rfc3339_after(Duration::from_millis(1500));
        let t = OffsetDateTime::parse(&s, &Rfc3339).unwrap();
        assert!(s.ends_with('Z') && !s.contains('.'), "{s}");
        let ahead = t - OffsetDateTime::now_utc();
        assert!(ahead > time::Duration::milliseconds(400), "{s}");
        assert!(ahead <= time::Duration::milliseconds(2600), "{s}");
    }

    /// Every frame of a whole streamed answer, as JSON, each checked to carry an `event:` line
    /// equal to its JSON type.
    fn frames(parts: &MessageParts<'_>) -> Vec<serde_json::Value> {
        let mut all = parts.opening().to_vec();
        for t in 0..parts.tokens {
            all.extend_from_slice(&parts.token_event(t));
        }
        all.extend_from_slice(&parts.closing());
        let text = String::from_utf8(all).unwrap();
        text.split("\n\n")
            .filter(|f| !f.is_empty())
            .map(|frame| {
                let (event, data) = frame.split_once('\n').unwrap();
                let v: serde_json::Value =
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(event.strip_prefix("event: ").unwrap(), v["type"], "{frame}");
                v
            })
            .collect()
    }

    /// The events of a streamed message, in the order the SDK's `stream()` helper needs: each
    /// frame's `event:` equal to its JSON type, `message_start` with empty content and usage,
    /// block 0 opened before its deltas, the output as a total in `message_delta`.
    #[test]
    fn a_streamed_message_is_anthropics_event_sequence() {
        let parts = MessageParts {
            id: "msg_1",
            model_json: "\"m\"",
            tokens: 3,
            reasoning: 0,
            input_tokens: 11,
            finish: "length",
        };
        let mut types = Vec::new();
        let mut deltas = String::new();
        for v in frames(&parts) {
            if let Some(t) = v["delta"]["text"].as_str() {
                deltas.push_str(t);
            }
            if v["type"] == "message_start" {
                assert_eq!(v["message"]["content"], serde_json::json!([]));
                assert_eq!(v["message"]["usage"]["input_tokens"], 11);
            }
            if v["type"] == "message_delta" {
                assert_eq!(v["usage"]["output_tokens"], 3);
                assert_eq!(v["delta"]["stop_reason"], "max_tokens");
            }
            types.push(v["type"].as_str().unwrap().to_owned());
        }
        let want = [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ];
        assert_eq!(types, want);
        assert_eq!(deltas, "The quick brown");
        let v: serde_json::Value = serde_json::from_slice(&parts.message_json()).unwrap();
        assert_eq!(v["content"][0]["text"], "The quick brown");
        assert_eq!(v["usage"]["output_tokens"], 3);
        assert_eq!(v["type"], "message");
    }

    /// With thinking: block 0 a `thinking` block of the reasoning tokens, signed and closed
    /// before block 1, the text, opens; the output total counts both and names the thinking
    /// part; the plain message has both blocks in order.
    #[test]
    fn a_thinking_message_streams_its_thinking_block_first() {
        let parts = MessageParts {
            id: "msg_1",
            model_json: "\"m\"",
            tokens: 5,
            reasoning: 2,
            input_tokens: 11,
            finish: "length",
        };
        let mut seen = Vec::new();
        for v in frames(&parts) {
            let what = match v["type"].as_str().unwrap() {
                "content_block_start" => format!("start {} {}", v["index"], v["content_block"]["type"]),
                "content_block_delta" => format!("{} {}", v["index"], v["delta"]["type"]),
                "content_block_stop" => format!("stop {}", v["index"]),
                "message_delta" => format!("delta {}", v["usage"]),
                other => other.to_owned(),
            };
            seen.push(what.replace('"', ""));
        }
        let want = [
            "message_start",
            "ping",
            "start 0 thinking",
            "0 thinking_delta",
            "0 thinking_delta",
            "0 signature_delta",
            "stop 0",
            "start 1 text",
            "1 text_delta",
            "1 text_delta",
            "1 text_delta",
            "stop 1",
            "delta {output_tokens:5,output_tokens_details:{thinking_tokens:2}}",
            "message_stop",
        ];
        assert_eq!(seen, want);
        let v: serde_json::Value = serde_json::from_slice(&parts.message_json()).unwrap();
        assert_eq!(v["content"][0]["type"], "thinking");
        assert_eq!(v["content"][0]["thinking"], "The quick");
        assert_eq!(v["content"][1]["text"], "The quick brown");
        assert_eq!(v["usage"]["output_tokens_details"]["thinking_tokens"], 2);
        // All of it thinking: the thinking block is the one closed.
        let all_thinking = MessageParts {
            reasoning: 5,
            ..parts
        };
        let closing = String::from_utf8(all_thinking.closing().to_vec()).unwrap();
        assert!(
            closing.contains("signature_delta") && closing.contains("\"index\":0"),
            "{closing}"
        );
    }
}
