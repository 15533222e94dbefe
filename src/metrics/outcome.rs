//! How a logical request (or one attempt of it) ended: [`Outcome`], exactly one per request, and
//! [`ErrorClass`], the finer key of the error breakdown (which status, which transport failure).

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

#[cfg(test)]
mod tests {
    use super::*;

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
