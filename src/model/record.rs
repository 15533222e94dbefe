//! What one logical request leaves behind: a [`Record`] with its intended and actual start, its
//! end, every attempt, the backoff waited, and the successful attempt's [`Sample`].

use std::time::{Duration, Instant};

use crate::model::outcome::{ErrorClass, Outcome};

/// What a successful attempt returned besides its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Completion tokens from `usage` (None when the target sent no usage).
    pub completion_tokens: Option<u64>,
    /// Streaming only: send → the first token of any kind (reasoning or content).
    pub ttft: Option<Duration>,
    /// Streaming only: gaps between consecutive content chunks (first token excluded).
    pub itl: Vec<Duration>,
    /// What a reasoning model's answer adds (boxed: most answers have none, and a request's
    /// record stays small).
    pub reasoning: Option<Box<Reasoning>>,
    /// The HTTP version the answer came in (what was used, not what was asked for).
    pub protocol: Option<Protocol>,
    /// Input tokens: the target's `usage.prompt_tokens`, else the harness's count.
    pub input_tokens: Option<u64>,
    /// The target's `usage.prompt_tokens` differed from the harness's count (`--tokenizer`).
    pub input_tokens_differ: bool,
    /// Bytes of the response body.
    pub bytes: u64,
    /// The answer's `x-ratelimit-*` headers, when it had any (boxed: most answers have none).
    pub ratelimit: Option<Box<crate::model::record::RateLimit>>,
    /// What the mock's stamps said of the answer's writes (`--stamps`, a target on this host;
    /// boxed: other answers have none).
    pub stamps: Option<Box<Stamps>>,
}

/// What a mock's stamps (`x-mock-stamp`, `: stamp` comments) said of one answer: how long the
/// request took to reach the mock's handler, and for each stamped write how late the mock wrote
/// it and how long it then took to be read. Times are `CLOCK_MONOTONIC` nanoseconds, the clock
/// the mock and the harness share on one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stamps {
    /// The attempt's send (before its connection was taken or made) → the mock's handler.
    pub request: Option<Duration>,
    /// A whole answer's one write (kept inline: most answers have no other).
    pub head: Option<StampedWrite>,
    /// A stream's events, in order.
    pub events: Vec<StampedWrite>,
}

/// One stamped write: how late the mock wrote it and how long it took to be read, in whole
/// microseconds (what the series record), up to `u32::MAX` (71 minutes). Eight bytes, where two
/// `Duration`s were 32: a stream keeps one an event until it ends (256 bytes for 32 events,
/// where it was a kilobyte), and at 256 streams in flight the stores into that list were among
/// the cache misses that made most of the stamps' cost to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StampedWrite {
    mock_late_us: u32,
    transit_us: u32,
}

impl StampedWrite {
    /// A write meant for `intended_ns`, written at `written_ns`, read at `read_ns`. One stamped
    /// before it was meant (a clock that is not shared) or read before it was written counts
    /// as 0, not as a wrapped-around huge value.
    pub fn of(intended_ns: u64, written_ns: u64, read_ns: u64) -> StampedWrite {
        let us = |ns: u64| u32::try_from(ns / 1_000).unwrap_or(u32::MAX);
        StampedWrite {
            mock_late_us: us(written_ns.saturating_sub(intended_ns)),
            transit_us: us(read_ns.saturating_sub(written_ns)),
        }
    }

    /// A write `mock_late` late and read `transit` after it was written (whole microseconds).
    pub fn new(mock_late: Duration, transit: Duration) -> StampedWrite {
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        StampedWrite {
            mock_late_us: us(mock_late),
            transit_us: us(transit),
        }
    }

    /// Written − intended (the mock's timer and write path), in microseconds: what the series
    /// record, with no round trip through a `Duration`.
    pub fn mock_late_us(&self) -> u64 {
        u64::from(self.mock_late_us)
    }

    /// Read − written (the kernel, the runtime, the client's reading), in microseconds.
    pub fn transit_us(&self) -> u64 {
        u64::from(self.transit_us)
    }
}

impl Stamps {
    /// Every stamped write: the head's, then the events'.
    pub fn writes(&self) -> impl Iterator<Item = &StampedWrite> {
        self.head.iter().chain(&self.events)
    }
}

/// The reasoning part of an answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reasoning {
    /// Reasoning tokens, inside `completion_tokens` (`usage.completion_tokens_details
    /// .reasoning_tokens`, Anthropic's `thinking_tokens`, or the reasoning text counted).
    pub tokens: Option<u64>,
    /// Streaming only: send → the first output (content) token, after the reasoning.
    pub ttfo: Option<Duration>,
    /// Streaming only: gaps between consecutive reasoning chunks (the first excluded).
    pub itl: Vec<Duration>,
}

impl Sample {
    /// Streaming only: send → the first output (content) token: after the reasoning when
    /// there was some, TTFT otherwise.
    pub fn ttfo(&self) -> Option<Duration> {
        match &self.reasoning {
            Some(r) => r.ttfo,
            None => self.ttft,
        }
    }

    /// The reasoning tokens, when the answer had some.
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.reasoning.as_ref().and_then(|r| r.tokens).filter(|n| *n > 0)
    }

    /// The input tokens: the target's count (already in `input_tokens`), else the harness's
    /// `counted`; and whether the two differ when both are known.
    pub fn with_counted_input(self, counted: Option<u64>) -> Sample {
        Sample {
            input_tokens_differ: self
                .input_tokens
                .zip(counted)
                .is_some_and(|(theirs, ours)| theirs != ours),
            input_tokens: self.input_tokens.or(counted),
            ..self
        }
    }
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

/// The rate-limit headers of one answer (each may be missing): OpenAI's `x-ratelimit-*`, or
/// Anthropic's `anthropic-ratelimit-requests-*` and `-tokens-*` (input and output together),
/// whose RFC 3339 reset instants become the time until them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RateLimit {
    /// `x-ratelimit-limit-requests`: requests per minute.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-remaining-requests`.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-reset-requests`: until the bucket is full again.
    pub reset_requests: Option<Duration>,
    /// `x-ratelimit-limit-tokens`: tokens per minute.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-tokens`.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-tokens`.
    pub reset_tokens: Option<Duration>,
}

impl RateLimit {
    /// The headers of an answer; `None` when it has none of them. A header sent twice counts by
    /// its first value, as `HeaderMap::get` reads it.
    ///
    /// One pass over the answer's few headers, not six lookups by name: every answer comes
    /// through here, and each lookup parsed and hashed its name (0.3 µs a request in the
    /// profile beside bare reqwest).
    pub fn from_headers(h: &http::HeaderMap) -> Option<RateLimit> {
        let mut r = RateLimit::default();
        let mut last: Option<&http::HeaderName> = None;
        for (name, value) in h {
            // A name's values come together; only its first counts.
            if last == Some(name) {
                continue;
            }
            last = Some(name);
            let name = name.as_str();
            // Read only for the headers it names: most answers carry none.
            let text = || value.to_str().ok().map(str::trim);
            let num = || text().and_then(|v| v.parse::<u64>().ok());
            if let Some(field) = name.strip_prefix("x-ratelimit-") {
                let dur = || text().and_then(parse_go_duration);
                match field {
                    "limit-requests" => r.limit_requests = num(),
                    "remaining-requests" => r.remaining_requests = num(),
                    "reset-requests" => r.reset_requests = dur(),
                    "limit-tokens" => r.limit_tokens = num(),
                    "remaining-tokens" => r.remaining_tokens = num(),
                    "reset-tokens" => r.reset_tokens = dur(),
                    _ => {}
                }
            } else if let Some(field) = name.strip_prefix("anthropic-ratelimit-") {
                let until = || text().and_then(until_rfc3339);
                match field {
                    "requests-limit" => r.limit_requests = num(),
                    "requests-remaining" => r.remaining_requests = num(),
                    "requests-reset" => r.reset_requests = until(),
                    "tokens-limit" => r.limit_tokens = num(),
                    "tokens-remaining" => r.remaining_tokens = num(),
                    "tokens-reset" => r.reset_tokens = until(),
                    _ => {}
                }
            }
        }
        (r != RateLimit::default()).then_some(r)
    }
}

/// The time from now until an RFC 3339 instant (`2026-12-05T13:40:59Z`), as Anthropic's reset
/// headers write them; zero for one already past.
pub fn until_rfc3339(s: &str) -> Option<Duration> {
    let when = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    let ahead = when - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(ahead).unwrap_or(Duration::ZERO))
}

/// Reads a Go duration as OpenAI's reset headers write it: `6m0s`, `8.64s`, `12ms`, `1h2m3s`,
/// `250µs` (or `us`), `0s`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    let mut secs = 0.0;
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let (scale, len) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .iter()
        .find(|(u, _)| rest.starts_with(u))
        .map(|(u, k)| (*k, u.len()))?;
        secs += value * scale;
        rest = &rest[len..];
    }
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stamped write keeps whole microseconds, as the series record them: a part of one is
    /// cut, a write stamped before it was meant or read before it was written counts as 0, and
    /// a time past `u32::MAX` µs stays there rather than wrapping around.
    #[test]
    fn a_stamped_write_keeps_whole_microseconds_and_saturates() {
        let w = StampedWrite::of(1_000, 3_999, 10_500);
        assert_eq!((w.mock_late_us(), w.transit_us()), (2, 6));
        let w = StampedWrite::of(5_000, 2_000, 1_000);
        assert_eq!((w.mock_late_us(), w.transit_us()), (0, 0));
        let w = StampedWrite::of(0, u64::MAX - 1, u64::MAX);
        assert_eq!(w.mock_late_us(), u64::from(u32::MAX));
        assert_eq!(w.transit_us(), 0);
        let w = StampedWrite::new(Duration::from_secs(1 << 40), Duration::from_nanos(1_999));
        assert_eq!((w.mock_late_us(), w.transit_us()), (u64::from(u32::MAX), 1));
    }

    #[test]
    fn go_durations_parse_as_openai_sends_them() {
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_go_duration("8.64s"), Some(Duration::from_millis(8640)));
        assert_eq!(parse_go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_go_duration("250µs"), Some(Duration::from_micros(250)));
        assert_eq!(parse_go_duration("0s"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration("5"), None);
    }

    #[test]
    fn headers_are_read_by_their_openai_names() {
        let mut h = http::HeaderMap::new();
        assert_eq!(RateLimit::from_headers(&h), None);
        h.insert("x-ratelimit-limit-requests", "1200".parse().unwrap());
        h.insert("x-ratelimit-remaining-requests", "7".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "650ms".parse().unwrap());
        h.insert("x-ratelimit-remaining-tokens", "90000".parse().unwrap());
        let r = RateLimit::from_headers(&h).unwrap();
        assert_eq!(r.limit_requests, Some(1200));
        assert_eq!(r.remaining_requests, Some(7));
        assert_eq!(r.reset_requests, Some(Duration::from_millis(650)));
        assert_eq!(r.remaining_tokens, Some(90000));
        assert_eq!(r.limit_tokens, None);
        // Names are case-insensitive on the wire; a header sent twice counts by its first
        // value, even when that one does not parse; other headers are passed over.
        h.insert("X-RateLimit-Limit-Tokens", "150000".parse().unwrap());
        h.append("x-ratelimit-reset-tokens", "soon".parse().unwrap());
        h.append("x-ratelimit-reset-tokens", "6m0s".parse().unwrap());
        h.append("x-ratelimit-remaining-requests", "3".parse().unwrap());
        h.insert("x-ratelimit-unknown", "1".parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        let r = RateLimit::from_headers(&h).unwrap();
        assert_eq!(r.limit_tokens, Some(150000));
        assert_eq!(r.reset_tokens, None);
        assert_eq!(r.remaining_requests, Some(7));
        let mut only_other = http::HeaderMap::new();
        only_other.insert("x-ratelimit-unknown", "1".parse().unwrap());
        assert_eq!(RateLimit::from_headers(&only_other), None);
    }

    /// Anthropic's families read into the same fields: the requests and combined tokens
    /// limits, remaining counts, and resets as the time until their RFC 3339 instant (the
    /// input-only and output-only families are passed over).
    #[test]
    fn headers_are_read_by_their_anthropic_names() {
        let in_2s = (time::OffsetDateTime::now_utc() + time::Duration::seconds(2))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("anthropic-ratelimit-requests-limit", "50".parse().unwrap());
        h.insert("anthropic-ratelimit-requests-remaining", "49".parse().unwrap());
        h.insert("anthropic-ratelimit-requests-reset", in_2s.parse().unwrap());
        h.insert("anthropic-ratelimit-tokens-limit", "90000".parse().unwrap());
        h.insert("anthropic-ratelimit-tokens-remaining", "89000".parse().unwrap());
        h.insert(
            "anthropic-ratelimit-tokens-reset",
            "2020-01-01T00:00:00Z".parse().unwrap(),
        );
        h.insert("anthropic-ratelimit-input-tokens-limit", "1".parse().unwrap());
        let r = RateLimit::from_headers(&h).unwrap();
        assert_eq!(r.limit_requests, Some(50));
        assert_eq!(r.remaining_requests, Some(49));
        let reset = r.reset_requests.unwrap();
        assert!(
            reset > Duration::from_millis(500) && reset <= Duration::from_secs(2),
            "{reset:?}"
        );
        assert_eq!(r.limit_tokens, Some(90000));
        assert_eq!(r.remaining_tokens, Some(89000));
        assert_eq!(r.reset_tokens, Some(Duration::ZERO));
        assert_eq!(until_rfc3339("soon"), None);
        let mut only_input = http::HeaderMap::new();
        only_input.insert("anthropic-ratelimit-input-tokens-limit", "1".parse().unwrap());
        assert_eq!(RateLimit::from_headers(&only_input), None);
    }
}
