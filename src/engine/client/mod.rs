//! The two HTTP clients, blocking ([`blocking::BlockingClient`], ureq) and async
//! ([`async_client::AsyncClient`], reqwest), with the same method (`chat`) and the same result
//! type, plus what they share: the prepared request, status → [`RequestError`] mapping, and the
//! server-sent-events reader that times each streamed chunk on arrival.

use crate::plan::request::{Call, PreparedRequest};

pub(crate) mod async_client;
pub(crate) mod blocking;
pub(crate) mod sse;

pub(crate) use sse::SseReader;

use serde::Deserialize;

use crate::model::outcome::RequestError;
use crate::model::record::{Protocol, Reasoning, Sample};
use crate::model::retry::parse_retry_after;
use crate::plan::inputs::PreparedBody;

/// The largest response head (status line and headers) either client reads: ureq's own limit,
/// given to it explicitly and checked on the reqwest strategies' answers by [`head_too_large`]
/// (hyper's own limit is its read buffer's, about 408 KiB and not exact, and reqwest does not
/// set it): a head of 100 KB was an answer for them and a failure for the blocking ones. The
/// limit of Python's `requests` on one header line is the same.
pub(crate) const MAX_RESPONSE_HEAD: usize = 64 << 10;
/// The most response headers either client reads: ureq's (fixed in `ureq-proto` at 128), given
/// to hyper too, whose 100 failed an answer the ureq strategies took.
pub(crate) const MAX_RESPONSE_HEADERS: usize = 128;

/// The error ureq gives a head past [`MAX_RESPONSE_HEAD`], for an answer read by reqwest: its
/// size as it came over HTTP/1.1 (the status line, each header's line, the blank line).
pub(crate) fn head_too_large(status: http::StatusCode, headers: &http::HeaderMap) -> Option<RequestError> {
    const STATUS_LINE: usize = "HTTP/1.1 200 \r\n".len();
    let reason = status.canonical_reason().map_or(0, str::len);
    let size = headers.iter().fold(STATUS_LINE + reason + 2, |n, (name, value)| {
        n + name.as_str().len() + value.len() + 4
    });
    (size > MAX_RESPONSE_HEAD).then(|| {
        RequestError::transport(
            crate::model::outcome::TransportKind::Other,
            format!("response header is too big: {size} > {MAX_RESPONSE_HEAD}"),
        )
    })
}

/// How much of an error body is masked before the sample is cut from it.
const MASK_WINDOW: usize = 16 << 10;

/// Builds the error for a non-2xx status from its headers (ureq and reqwest share `http`'s map)
/// and the start of its body, secrets masked.
pub(crate) fn status_error(
    req: &PreparedRequest,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> RequestError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = parse_retry_after(header("retry-after-ms"), header("retry-after"));
    let should_retry = header("x-should-retry").and_then(|v| match v.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    // Mask first, then cut: a secret straddling the sample's end must not leave its start
    // behind, so the masking reads well past the cut.
    let start = &body[..body.len().min(MASK_WINDOW)];
    let mut text = String::from_utf8_lossy(start).into_owned();
    // No client follows a redirect (a hidden hop in every latency, taken by some clients and
    // not others): where it pointed goes first in the sample.
    if (300..400).contains(&status)
        && let Some(to) = header("location")
    {
        text = format!("redirected to {to} (no redirect is followed) {text}");
    }
    RequestError::Status {
        status,
        retry_after,
        should_retry,
        body: crate::model::outcome::truncate(
            &req.redact(text.trim()),
            crate::model::record::Failure::SAMPLE_BYTES,
        ),
        ratelimit: crate::model::record::RateLimit::from_headers(headers).map(Box::new),
    }
}

/// Reads a non-streaming 2xx body: usage from a chat completion or an Anthropic `message`,
/// nothing from a plain JSON body.
pub(crate) fn parse_body(req: &PreparedRequest, body: &[u8]) -> Result<Sample, RequestError> {
    // The choices are checked to be there, not read: `IgnoredAny` walks them without building
    // a value, so a long completion costs no allocation here.
    #[derive(Deserialize)]
    struct CompletionView {
        #[serde(default)]
        choices: Option<Vec<serde::de::IgnoredAny>>,
        /// `message` for an Anthropic answer.
        #[serde(default, rename = "type")]
        kind: Option<String>,
        /// The vectors of an embeddings answer.
        #[serde(default)]
        data: Option<Vec<serde::de::IgnoredAny>>,
        #[serde(default)]
        usage: Option<UsageView>,
    }
    if !req.call.completes() {
        return Ok(Sample::default());
    }
    let c: CompletionView = serde_json::from_slice(body).map_err(|e| RequestError::Decode(e.to_string()))?;
    match req.call {
        Call::Messages if c.kind.as_deref() != Some("message") => {
            return Err(RequestError::Decode("the answer is not a message".into()));
        }
        Call::Chat if c.choices.is_none_or(|c| c.is_empty()) => {
            return Err(RequestError::Decode("completion has no choices".into()));
        }
        Call::Embeddings if c.data.as_ref().map(Vec::len) != usize::try_from(req.inputs).ok() => {
            return Err(RequestError::Decode(format!(
                "{} vectors for {} inputs",
                c.data.map_or(0, |d| d.len()),
                req.inputs
            )));
        }
        _ => {}
    }
    Ok(Sample {
        completion_tokens: c.usage.and_then(|u| u.completion_tokens),
        input_tokens: c.usage.and_then(|u| u.prompt_tokens),
        reasoning: c.usage.and_then(UsageView::reasoning).map(|tokens| {
            Box::new(Reasoning {
                tokens: Some(tokens),
                ..Reasoning::default()
            })
        }),
        ..Sample::default()
    })
}

/// `usage`, as lenient as the servers that send it (any field may be missing): OpenAI's names,
/// or Anthropic's `input_tokens` and `output_tokens`.
#[derive(Debug, Clone, Copy, Deserialize)]
struct UsageView {
    #[serde(default, alias = "input_tokens")]
    prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    completion_tokens: Option<u64>,
    /// OpenAI's `completion_tokens_details` (`reasoning_tokens`), or Anthropic's
    /// `output_tokens_details` (`thinking_tokens`).
    #[serde(default, alias = "output_tokens_details")]
    completion_tokens_details: Option<DetailsView>,
}

/// The reasoning part of the output, by either API's name.
#[derive(Debug, Clone, Copy, Deserialize)]
struct DetailsView {
    #[serde(default, alias = "thinking_tokens")]
    reasoning_tokens: Option<u64>,
}

impl UsageView {
    /// The reasoning tokens, when the usage names some (OpenAI's usage says 0 for a model that
    /// does not reason: no reasoning part then, and no allocation).
    fn reasoning(self) -> Option<u64> {
        self.completion_tokens_details?
            .reasoning_tokens
            .filter(|n| *n > 0)
    }
}

/// An attempt's result as it ends now, with its end (the one clock reading the attempt's end, its
/// deadline and its record share): a timeout if its last byte came after `started + timeout`,
/// however the bytes arrived (an answer too large stays too large).
pub(crate) fn ended(
    result: Result<Sample, RequestError>,
    started: std::time::Instant,
    timeout: std::time::Duration,
) -> (Result<Sample, RequestError>, std::time::Instant) {
    let end = std::time::Instant::now();
    if end > started + timeout && !matches!(result, Err(RequestError::TooLarge { .. })) {
        return (Err(RequestError::Timeout), end);
    }
    (result, end)
}

/// What a successful answer's head says, read before its body: the protocol, and the mock's
/// stamp (`x-mock-stamp`: when the head was meant to be written and was, and when the request
/// reached the handler), read only from a target on this host, whose clock is ours.
pub(crate) struct Head {
    protocol: Option<Protocol>,
    stamp: Option<mock_server::stamp::Stamp>,
}

impl Head {
    /// The head of an answer of `version` with `headers`, to `req`.
    pub(crate) fn of(req: &PreparedRequest, version: http::Version, headers: &http::HeaderMap) -> Head {
        let stamp = req
            .loopback
            .then(|| headers.get(mock_server::stamp::STAMP_HEADER_NAME))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(mock_server::stamp::parse);
        Head {
            protocol: Protocol::of(version),
            stamp,
        }
    }

    /// The head's stamp's intended time, which a stream's event stamps count from.
    pub(crate) fn stamp_base(&self) -> Option<u64> {
        self.stamp.map(|s| s.intended)
    }

    /// When a whole answer's last byte was read, for the head's stamp: read only when there is
    /// one.
    pub(crate) fn read_now(&self) -> Option<std::time::Instant> {
        self.stamp.is_some().then(std::time::Instant::now)
    }

    /// The sample `s` its body gave, completed with what the client saw: the protocol, the
    /// `bytes`, the input tokens (the target's count, else the body's estimate), and what the
    /// head's stamp says: the request's way in (from `sent`), and for a whole answer (`read`:
    /// when its last byte was read) the head's write.
    pub(crate) fn sample(
        self,
        s: Sample,
        body: &PreparedBody,
        bytes: u64,
        sent: std::time::Instant,
        read: Option<std::time::Instant>,
    ) -> Sample {
        let mut s = Sample {
            protocol: self.protocol,
            bytes,
            ..s
        }
        .with_counted_input((body.input_tokens > 0).then_some(body.input_tokens));
        let Some(stamp) = self.stamp else {
            return s;
        };
        let stamps = s.stamps.get_or_insert_default();
        stamps.request = stamp
            .arrived
            .map(|a| std::time::Duration::from_nanos(a.saturating_sub(mock_server::stamp::ns(sent))));
        if let Some(read) = read {
            let read = mock_server::stamp::ns(read);
            stamps.head = Some(crate::model::record::StampedWrite::of(
                stamp.intended,
                stamp.written,
                read,
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole answer's reasoning tokens, by OpenAI's name and by Anthropic's.
    #[test]
    fn a_whole_answer_names_its_reasoning_tokens() {
        let mut req = PreparedRequest::chat(
            "http://127.0.0.1:9/v1/chat/completions".into(),
            Vec::new(),
            None,
            false,
        );
        let chat = br#"{"choices":[{"index":0}],"usage":{"prompt_tokens":2,"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":4}}}"#;
        let s = parse_body(&req, chat).unwrap();
        assert_eq!((s.completion_tokens, s.reasoning_tokens()), (Some(9), Some(4)));
        // OpenAI's usage names 0 for a model that does not reason: no reasoning part.
        let plain = br#"{"choices":[{"index":0}],"usage":{"completion_tokens":9,"completion_tokens_details":{"reasoning_tokens":0}}}"#;
        assert!(parse_body(&req, plain).unwrap().reasoning.is_none());
        req.call = Call::Messages;
        let message = br#"{"type":"message","content":[],"usage":{"input_tokens":2,"output_tokens":7,"output_tokens_details":{"thinking_tokens":5}}}"#;
        let s = parse_body(&req, message).unwrap();
        assert_eq!(
            (s.input_tokens, s.completion_tokens, s.reasoning_tokens()),
            (Some(2), Some(7), Some(5))
        );
        assert!(
            parse_body(&req, chat).is_err(),
            "a chat completion is not a message"
        );
    }
}
