//! What one logical request leaves behind: a [`Record`] with its intended and actual start, its
//! end, every attempt, the backoff waited, and the successful attempt's [`Sample`].

use std::time::{Duration, Instant};

use crate::metrics::outcome::{ErrorClass, Outcome};

/// What a successful attempt returned besides its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Completion tokens from `usage` (None when the target sent no usage).
    pub completion_tokens: Option<u64>,
    /// Streaming only: send → first non-empty content delta.
    pub ttft: Option<Duration>,
    /// Streaming only: gaps between consecutive content chunks (first token excluded).
    pub itl: Vec<Duration>,
    /// The HTTP version the answer came in (what was used, not what was asked for).
    pub protocol: Option<Protocol>,
    /// Input tokens: the target's `usage.prompt_tokens`, else the harness's estimate.
    pub input_tokens: Option<u64>,
    /// Bytes of the response body.
    pub bytes: u64,
    /// The answer's `x-ratelimit-*` headers, when it had any (boxed: most answers have none).
    pub ratelimit: Option<Box<crate::adaptive::RateLimit>>,
}

/// An HTTP version, as a response reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
    /// HTTP/2.
    Http2,
    /// HTTP/3.
    Http3,
}

impl Protocol {
    /// The version of an `http` response.
    pub fn of(v: http::Version) -> Option<Protocol> {
        Some(match v {
            http::Version::HTTP_10 => Protocol::Http10,
            http::Version::HTTP_11 => Protocol::Http11,
            http::Version::HTTP_2 => Protocol::Http2,
            http::Version::HTTP_3 => Protocol::Http3,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
            Protocol::Http2 => "HTTP/2",
            Protocol::Http3 => "HTTP/3",
        })
    }
}

/// Why a failed attempt failed: its class and a short, secret-free sample of what was seen
/// (the status and the start of the body, or the error message).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The breakdown key.
    pub class: ErrorClass,
    /// At most [`Failure::SAMPLE_BYTES`] bytes of detail, secrets redacted.
    pub sample: String,
}

impl Failure {
    /// How much of a body or message a sample keeps.
    pub const SAMPLE_BYTES: usize = 200;
}

/// One attempt of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// Send → response complete (or failure).
    pub duration: Duration,
    /// How the attempt ended.
    pub outcome: Outcome,
    /// Why it failed, when it did.
    pub failure: Option<Failure>,
}

/// One logical request, from its intended start to its final outcome.
#[derive(Debug, Clone)]
pub struct Record {
    /// The logical request's index (as sent in `x-asyncbench-request`).
    pub index: u64,
    /// When the schedule said it should start (closed loop: when it did start).
    pub intended: Instant,
    /// When its first attempt was sent.
    pub start: Instant,
    /// When its last attempt ended.
    pub end: Instant,
    /// Every attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Time spent sleeping between attempts.
    pub backoff: Duration,
    /// The final outcome (that of the last attempt).
    pub outcome: Outcome,
    /// HTTP status of the last attempt, when there was one.
    pub status: Option<u16>,
    /// The successful attempt's extras.
    pub sample: Option<Sample>,
}

impl Record {
    /// End-to-end latency: intended start → end.
    pub fn latency(&self) -> Duration {
        self.end.saturating_duration_since(self.intended)
    }

    /// Service time: actual start → end.
    pub fn service_time(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }
}

/// A request for unit tests: started now, `attempts` attempts of `ms` each ending `outcome`
/// (failed ones classed as 429), no sample.
#[cfg(test)]
pub(crate) fn test_record(outcome: Outcome, ms: u64, attempts: usize) -> Record {
    let t0 = Instant::now();
    let failure = (outcome != Outcome::Ok).then(|| Failure {
        class: ErrorClass::Status(429),
        sample: "429".into(),
    });
    Record {
        index: 0,
        intended: t0,
        start: t0,
        end: t0 + Duration::from_millis(ms),
        attempts: vec![
            AttemptRecord {
                duration: Duration::from_millis(ms),
                outcome,
                failure,
            };
            attempts
        ],
        backoff: Duration::ZERO,
        outcome,
        status: None,
        sample: None,
    }
}
