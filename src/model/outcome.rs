//! How a logical request (or one attempt of it) ended: [`Outcome`], exactly one per request, and
//! [`ErrorClass`], the finer key of the error breakdown (which status, which transport failure).

use std::time::Duration;

use crate::model::record::Failure;

use std::fmt;

use serde::{Deserialize, Serialize};

/// How a logical request (or one attempt of it) ended. Exactly one per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A 2xx with a complete, well-formed body.
    Ok,
    /// HTTP 429 (rate limit or quota).
    RateLimited,
    /// HTTP 5xx, a mid-stream error event, or a 2xx whose body is not a completion.
    ServerError,
    /// Any other non-2xx status (4xx but 429).
    ClientError,
    /// The per-attempt deadline (`--timeout`) passed before the last byte.
    Timeout,
    /// Connection refused, reset or cut before the response completed.
    Transport,
    /// The response body grew past `--max-body`.
    TooLarge,
    /// The run stopped (a signal, after its grace period) while the request was in flight.
    Cancelled,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 8] = [
        Outcome::Ok,
        Outcome::RateLimited,
        Outcome::ServerError,
        Outcome::ClientError,
        Outcome::Timeout,
        Outcome::Transport,
        Outcome::TooLarge,
        Outcome::Cancelled,
    ];

    /// The snake_case id used in reports.
    pub fn id(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::RateLimited => "rate_limited",
            Outcome::ServerError => "server_error",
            Outcome::ClientError => "client_error",
            Outcome::Timeout => "timeout",
            Outcome::Transport => "transport",
            Outcome::TooLarge => "too_large",
            Outcome::Cancelled => "cancelled",
        }
    }

    /// The outcome's id parsed back (the inverse of [`Outcome::id`]).
    pub fn from_id(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.id() == s)
    }

    /// Position in [`Outcome::ALL`], for arrays indexed by outcome.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The outcome of an HTTP status.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Ok,
            429 => Outcome::RateLimited,
            500..=599 => Outcome::ServerError,
            _ => Outcome::ClientError,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Why an attempt failed, finer than its [`Outcome`]: the key of the error breakdown. The set is
/// small and closed (statuses aside) so that a breakdown never grows one row per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// A non-2xx status.
    Status(u16),
    /// The attempt's deadline passed.
    Timeout,
    /// Nothing listens at the address (connection refused).
    Refused,
    /// The peer reset the connection.
    Reset,
    /// The connection closed before the response (or stream) was complete.
    Closed,
    /// Any other connection-level failure (DNS, TLS, …).
    Transport,
    /// A 2xx whose body is not what was asked for (not a completion, malformed SSE).
    Decode,
    /// A streamed `data: {"error": …}` event.
    StreamError,
    /// The body grew past `--max-body`.
    TooLarge,
}

impl ErrorClass {
    /// The outcome an attempt failing this way counts as.
    pub fn outcome(self) -> Outcome {
        match self {
            ErrorClass::Status(s) => Outcome::of_status(s),
            ErrorClass::Timeout => Outcome::Timeout,
            ErrorClass::Refused | ErrorClass::Reset | ErrorClass::Closed | ErrorClass::Transport => {
                Outcome::Transport
            }
            ErrorClass::Decode | ErrorClass::StreamError => Outcome::ServerError,
            ErrorClass::TooLarge => Outcome::TooLarge,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorClass::Status(s) => write!(f, "http_{s}"),
            ErrorClass::Timeout => f.write_str("timeout"),
            ErrorClass::Refused => f.write_str("connection_refused"),
            ErrorClass::Reset => f.write_str("connection_reset"),
            ErrorClass::Closed => f.write_str("connection_closed"),
            ErrorClass::Transport => f.write_str("transport"),
            ErrorClass::Decode => f.write_str("invalid_response"),
            ErrorClass::StreamError => f.write_str("stream_error_event"),
            ErrorClass::TooLarge => f.write_str("body_too_large"),
        }
    }
}

/// Why one attempt did not produce a completion. Recorded, never propagated: a run goes on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// A non-2xx status.
    #[error("HTTP {status}")]
    Status {
        /// The status code.
        status: u16,
        /// The server's requested wait (`retry-after-ms`, else `Retry-After`).
        retry_after: Option<Duration>,
        /// The `x-should-retry` header, when present.
        should_retry: Option<bool>,
        /// The start of the body (at most 200 bytes), secrets redacted.
        body: String,
        /// The answer's `x-ratelimit-*` headers, when it had any (boxed: most errors have none).
        ratelimit: Option<Box<crate::model::record::RateLimit>>,
    },
    /// The attempt's deadline (`--timeout`, connect to last byte) passed.
    #[error("timed out")]
    Timeout,
    /// Connection refused, reset, or closed before the response was complete.
    #[error("transport error: {message}")]
    Transport {
        /// What happened, from the client error's kind (never from its message).
        kind: TransportKind,
        /// The client's message with its causes, secrets redacted.
        message: String,
    },
    /// A 2xx whose body is not a chat completion, or a stream that broke the protocol.
    #[error("invalid response: {0}")]
    Decode(String),
    /// A streamed `data: {"error": …}` event.
    #[error("error event in stream: {0}")]
    StreamError(String),
    /// The body grew past the cap (`--max-body`).
    #[error("response body larger than {limit} bytes")]
    TooLarge {
        /// The cap, bytes.
        limit: u64,
    },
}

/// What kind of transport failure an attempt met, read from the client's error kinds (an
/// `io::ErrorKind` in its cause chain, hyper's incomplete message), as ripgrep and hyper classify
/// errors, not by searching their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Nothing listened: the connection was refused.
    Refused,
    /// The peer reset (or aborted) the connection.
    Reset,
    /// The connection closed before the response was complete.
    Closed,
    /// Anything else: DNS, TLS, a protocol error.
    Other,
}

impl TransportKind {
    /// The kind an I/O error of this kind stands for, when it stands for one.
    pub fn of_io(kind: std::io::ErrorKind) -> Option<TransportKind> {
        use std::io::ErrorKind as K;
        match kind {
            K::ConnectionRefused => Some(TransportKind::Refused),
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Some(TransportKind::Reset),
            K::UnexpectedEof => Some(TransportKind::Closed),
            _ => None,
        }
    }

    /// The first kind found along an error's cause chain (the error itself first): an
    /// `io::Error`'s kind, or `Closed` for an error `closed` says is an incomplete message;
    /// `Other` when none is found.
    pub fn of_chain(
        e: &(dyn std::error::Error + 'static),
        closed: impl Fn(&(dyn std::error::Error + 'static)) -> bool,
    ) -> TransportKind {
        let mut next = Some(e);
        while let Some(err) = next {
            if let Some(kind) = err
                .downcast_ref::<std::io::Error>()
                .and_then(|io| TransportKind::of_io(io.kind()))
            {
                return kind;
            }
            if closed(err) {
                return TransportKind::Closed;
            }
            next = err.source();
        }
        TransportKind::Other
    }
}

/// How a transport failure in an answer's body begins its message (see
/// [`RequestError::in_body`]).
pub const CUT_IN_BODY: &str = "the answer was cut before its body's end";

impl RequestError {
    /// A transport failure of this kind, with its message.
    pub fn transport(kind: TransportKind, message: impl Into<String>) -> RequestError {
        RequestError::Transport {
            kind,
            message: message.into(),
        }
    }

    /// This error, met while reading the body of an answer whose head came with `status`: a
    /// transport failure says the answer was cut short, as a failure before any answer reads
    /// the same in its class (the target was reached and began answering; the run's diagnosis
    /// must not ask whether it is up).
    pub fn in_body(self, status: u16) -> RequestError {
        match self {
            RequestError::Transport { kind, message } => RequestError::Transport {
                kind,
                message: format!("{CUT_IN_BODY} (HTTP {status}): {message}"),
            },
            other => other,
        }
    }

    /// The error breakdown's class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            RequestError::Status { status, .. } => ErrorClass::Status(*status),
            RequestError::Timeout => ErrorClass::Timeout,
            RequestError::Transport { kind, .. } => match kind {
                TransportKind::Refused => ErrorClass::Refused,
                TransportKind::Reset => ErrorClass::Reset,
                TransportKind::Closed => ErrorClass::Closed,
                TransportKind::Other => ErrorClass::Transport,
            },
            RequestError::Decode(_) => ErrorClass::Decode,
            RequestError::StreamError(_) => ErrorClass::StreamError,
            RequestError::TooLarge { .. } => ErrorClass::TooLarge,
        }
    }

    /// The outcome this error counts as.
    pub fn outcome(&self) -> Outcome {
        self.class().outcome()
    }

    /// The HTTP status, when the attempt got one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The class and a short sample for the error breakdown (the text was redacted where it was
    /// made, by the client that knows the secrets).
    pub fn failure(&self) -> Failure {
        let text = match self {
            RequestError::Status { status, body, .. } if body.is_empty() => format!("HTTP {status}"),
            RequestError::Status { status, body, .. } => format!("HTTP {status}: {body}"),
            other => other.to_string(),
        };
        Failure {
            class: self.class(),
            sample: truncate(&text, Failure::SAMPLE_BYTES),
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_sample_holds_the_status_and_at_most_200_bytes() {
        let e = RequestError::Status {
            status: 404,
            retry_after: None,
            should_retry: None,
            body: "é".repeat(300),
            ratelimit: None,
        };
        let f = e.failure();
        assert_eq!(f.class, ErrorClass::Status(404));
        assert!(f.sample.starts_with("HTTP 404: é"));
        assert!(f.sample.len() <= Failure::SAMPLE_BYTES);
    }

    /// Transport failures are classed by the kind in their cause chain, whatever their text
    /// says: a message that names "refused" is not a refusal unless its kind is.
    #[test]
    fn transport_failures_are_classed_by_their_kind_not_their_text() {
        use std::io::{Error, ErrorKind};
        #[derive(Debug, thiserror::Error)]
        #[error("error sending request")]
        struct Outer(#[source] Error);
        let chain = |k: ErrorKind| TransportKind::of_chain(&Outer(Error::new(k, "x")), |_| false);
        assert_eq!(chain(ErrorKind::ConnectionRefused), TransportKind::Refused);
        assert_eq!(chain(ErrorKind::ConnectionReset), TransportKind::Reset);
        assert_eq!(chain(ErrorKind::UnexpectedEof), TransportKind::Closed);
        assert_eq!(chain(ErrorKind::NotFound), TransportKind::Other);
        let incomplete = TransportKind::of_chain(&Outer(Error::other("y")), |e| e.to_string() == "y");
        assert_eq!(incomplete, TransportKind::Closed);
        let t = |k: TransportKind, m: &str| RequestError::transport(k, m).class();
        assert_eq!(
            t(TransportKind::Refused, "tcp connect error"),
            ErrorClass::Refused
        );
        assert_eq!(t(TransportKind::Reset, "x"), ErrorClass::Reset);
        assert_eq!(t(TransportKind::Closed, "x"), ErrorClass::Closed);
        assert_eq!(
            t(TransportKind::Other, "Connection refused, says the text"),
            ErrorClass::Transport
        );
    }

    #[test]
    fn ids_round_trip_and_index_matches_the_order() {
        for (i, o) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(Outcome::from_id(o.id()), Some(o));
            assert_eq!(o.index(), i);
        }
        assert_eq!(Outcome::from_id("nope"), None);
    }

    #[test]
    fn classes_map_to_their_outcomes() {
        assert_eq!(ErrorClass::Status(404).outcome(), Outcome::ClientError);
        assert_eq!(ErrorClass::Status(429).outcome(), Outcome::RateLimited);
        assert_eq!(ErrorClass::Status(503).outcome(), Outcome::ServerError);
        assert_eq!(ErrorClass::Reset.outcome(), Outcome::Transport);
        assert_eq!(ErrorClass::StreamError.outcome(), Outcome::ServerError);
        assert_eq!(ErrorClass::TooLarge.outcome(), Outcome::TooLarge);
        assert_eq!(ErrorClass::Status(401).to_string(), "http_401");
    }
}
