//! The external-client protocol, version 1 (`docs/client-protocol.md`): the workload message the
//! harness writes on the client's stdin, and the lines the client writes back, checked and turned
//! into the [`Record`]s every strategy produces. Pure (no I/O), so every rule is unit-tested.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::model::outcome::{ErrorClass, Outcome};
use crate::model::record::{AttemptRecord, Failure, Protocol, Record, Sample};
use crate::model::retry::{Jitter, RetryPolicy};
use crate::plan::request::{Call, PreparedRequest};

/// The protocol's version; a client checks it and refuses another.
pub(crate) const VERSION: u32 = 1;

/// The longest line a client may write (a streamed answer of 100 000 tokens with its gaps fits
/// in well under a megabyte); a longer one is a protocol error, not a reason to grow without end.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// Most attempts one request line may list (more than any retry policy sends).
pub(crate) const MAX_ATTEMPTS: usize = 1000;

/// What the client is asked to do, written as one JSON line on its stdin (then stdin closes).
#[derive(Debug, Serialize)]
pub(crate) struct Workload<'a> {
    /// Always `"asyncbench-client"`.
    pub protocol: &'static str,
    /// [`VERSION`].
    pub version: u32,
    /// The strategy id it runs as (`py-aiohttp`, or the `--client-name`).
    pub strategy: &'a str,
    /// The full URL every attempt goes to.
    pub url: &'a str,
    /// The URL without its final `/chat/completions` or `/messages` (what SDKs take as
    /// `base_url`).
    pub base_url: &'a str,
    /// `POST` (chat) or `GET` (the article's `/delay/N`).
    pub method: &'static str,
    /// Headers for every attempt besides the two numbering ones: the key's `Authorization`,
    /// `-H` headers, `content-type`.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The API key alone, for SDKs that take one (`None` without a key).
    pub api_key: Option<&'a str>,
    /// The answer is a completion (parse usage), not a plain JSON answer.
    pub chat: bool,
    /// Whose answer: `openai` (a chat completion, `data:` chunks and `[DONE]`), `anthropic` (a
    /// `message`, named events ending with `message_stop`) or `embeddings` (a list of vectors,
    /// `data`, one per input).
    pub api: &'static str,
    /// The body asks for server-sent events.
    pub stream: bool,
    /// The request bodies, as exact JSON text: request `index` sends `bodies[index % len]`
    /// (empty for GET).
    pub bodies: Vec<&'a str>,
    /// Most requests in flight at once; 0 means every request at once (no semaphore).
    pub concurrency: u64,
    /// The per-attempt deadline, connect to last byte, seconds.
    pub timeout_s: f64,
    /// The retry policy to follow (or to map to the client's own retries).
    pub retry: Retry,
    /// The phases to run, in order, each finished before the next starts.
    pub phases: &'a [Phase],
    /// The clock every `*_ns` field the client writes is read from.
    pub clock: &'static str,
    /// HTTPS: certificates (PEM) to trust besides the system's (`--ca-cert`, the mock's own).
    pub ca_pem: Option<&'a str>,
    /// HTTPS: the same certificates in a file the harness wrote (and removes), for libraries
    /// that take a path (`requests`' `verify=`).
    pub ca_file: Option<&'a str>,
    /// HTTPS: accept any certificate (`--insecure`).
    pub insecure: bool,
}

/// One phase of the workload: requests `first`, `first + stride`, … (`count` of them).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Phase {
    /// In the figures (`false`: the warm-up).
    pub measured: bool,
    /// The first request's index.
    pub first: u64,
    /// The step between indexes.
    pub stride: u64,
    /// How many requests.
    pub count: u64,
    /// Issue no request after this many seconds from the phase's start.
    pub limit_s: Option<f64>,
    /// Open loop: when each request is due, seconds from the phase's start (entry `i` is
    /// request `i`'s); `None` in a closed loop.
    pub schedule_s: Option<Vec<f64>>,
    /// Closed loop under `--ramp`: the client opens its C slots evenly over this many seconds
    /// from the phase's start (slot k's first request waits k × ramp_s ÷ C); absent without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramp_s: Option<f64>,
}

/// The retry policy in plain numbers (`crate::model::retry::RetryPolicy`, in seconds).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Retry {
    /// Preset name (`none`, `aiohttp`, `openai`, `custom`).
    pub name: String,
    /// Total attempts including the first.
    pub attempts: u32,
    /// Base delay, seconds.
    pub initial_s: f64,
    /// Growth per retry.
    pub factor: f64,
    /// Cap on a delay, seconds.
    pub max_delay_s: f64,
    /// Exponent of the first retry's delay (aiohttp_retry: 1).
    pub first_exponent: u32,
    /// `none`, `full`, or `reduce` (multiply by `1 − jitter_f·U[0,1)`).
    pub jitter: &'static str,
    /// The factor of `reduce` jitter.
    pub jitter_f: f64,
    /// Statuses retried.
    pub statuses: Vec<u16>,
    /// Retry every 5xx.
    pub retry_server_errors: bool,
    /// Retry timeouts and connection errors.
    pub retry_transport: bool,
    /// Honour `retry-after-ms`/`Retry-After` up to this many seconds (give up above).
    pub retry_after_cap_s: Option<f64>,
    /// Obey `x-should-retry`.
    pub obey_should_retry: bool,
    /// A Retry-After above the cap waits the cap instead of giving up.
    pub retry_after_clamp: bool,
}

impl Retry {
    /// The policy as the protocol writes it.
    pub(crate) fn of(p: &RetryPolicy) -> Retry {
        let (jitter, jitter_f) = match p.jitter {
            Jitter::None => ("none", 0.0),
            Jitter::Full => ("full", 1.0),
            Jitter::Reduce(f) => ("reduce", f),
        };
        Retry {
            name: p.name.clone(),
            attempts: p.attempts,
            initial_s: p.initial.as_secs_f64(),
            factor: p.factor,
            max_delay_s: p.max_delay.as_secs_f64(),
            first_exponent: p.first_exponent,
            jitter,
            jitter_f,
            statuses: p.statuses.clone(),
            retry_server_errors: p.retry_server_errors,
            retry_transport: p.retry_transport,
            retry_after_cap_s: p.retry_after_cap.map(|d| d.as_secs_f64()),
            obey_should_retry: p.obey_should_retry,
            retry_after_clamp: p.retry_after_clamp,
        }
    }
}

/// The workload message of a prepared request.
pub(crate) fn workload<'a>(
    strategy: &'a str,
    req: &'a PreparedRequest,
    concurrency: u64,
    timeout: Duration,
    retry: &RetryPolicy,
    phases: &'a [Phase],
) -> Workload<'a> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(auth) = &req.auth {
        headers.push(("authorization", auth.as_str()));
    }
    if req.call.completes() {
        headers.push(("content-type", "application/json"));
    }
    for (name, value) in &req.headers {
        if let Ok(v) = value.to_str() {
            headers.push((name.as_str(), v));
        }
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str().ok())
    };
    let api_key = req
        .auth
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        // A key given as `-H 'Authorization: Bearer …'`.
        .or_else(|| header("authorization").and_then(|v| v.split_once(' ').map(|(_, k)| k.trim())))
        // Anthropic's.
        .or_else(|| header("x-api-key"));
    let base_url = ["/chat/completions", "/messages"]
        .iter()
        .find_map(|suffix| req.url.strip_suffix(suffix))
        .unwrap_or(req.url.as_str());
    Workload {
        protocol: "asyncbench-client",
        version: VERSION,
        strategy,
        url: &req.url,
        base_url,
        method: if req.call.completes() { "POST" } else { "GET" },
        headers,
        api_key,
        chat: req.call.completes(),
        api: match req.call {
            Call::Messages => "anthropic",
            Call::Embeddings => "embeddings",
            Call::Chat | Call::Delay => "openai",
        },
        stream: req.stream,
        bodies: if req.call.completes() {
            req.bodies
                .iter()
                .map(|b| std::str::from_utf8(&b.bytes).unwrap_or("{}"))
                .collect()
        } else {
            Vec::new()
        },
        concurrency,
        timeout_s: timeout.as_secs_f64(),
        retry: Retry::of(retry),
        phases,
        clock: "CLOCK_MONOTONIC",
        ca_pem: req
            .trust
            .ca_pem
            .as_deref()
            .and_then(|pem| std::str::from_utf8(pem).ok()),
        ca_file: None,
        insecure: req.trust.insecure,
    }
}

/// One line from the client.
#[derive(Debug)]
pub(crate) enum Line {
    /// Set up (imports done, client built): the workload starts now.
    Ready,
    /// One logical request, finished.
    Request(RequestLine),
    /// A phase ended.
    Phase(PhaseLine),
    /// The client cannot run this workload (an option it does not support): it then exits.
    Error {
        /// Why, in one sentence.
        message: String,
    },
    /// A request's next attempt waits this long (a client says the long waits, so a wait of
    /// minutes is said as it begins and is not taken for a hang).
    Wait {
        /// The request.
        index: u64,
        /// The wait, seconds.
        seconds: f64,
        /// Whether a server's Retry-After set it (else the policy's backoff).
        retry_after: bool,
    },
}

/// The kinds of line (`"type"`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Ready,
    Request,
    Phase,
    Error,
    Wait,
}

/// Every field any line may have, read in one pass: an internally tagged enum would first copy
/// each line into a tree of values to find its tag, doubling the cost of the commonest line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(rename = "type")]
    kind: Kind,
    // request
    index: Option<u64>,
    intended_ns: Option<u64>,
    start_ns: Option<u64>,
    end_ns: Option<u64>,
    attempts: Option<Vec<AttemptLine>>,
    ttft_ns: Option<u64>,
    #[serde(default)]
    itl_ns: Vec<u64>,
    ttfo_ns: Option<u64>,
    #[serde(default)]
    reasoning_itl_ns: Vec<u64>,
    reasoning_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    bytes: Option<u64>,
    http_version: Option<String>,
    // phase
    phase: Option<usize>,
    issued: Option<u64>,
    // error (and the one attempt of a short request line)
    message: Option<String>,
    // the one attempt of a short request line
    status: Option<u16>,
    error: Option<String>,
    // wait
    seconds: Option<f64>,
    retry_after: Option<bool>,
}

impl Raw {
    /// The line, or the name of the field it lacks.
    fn line(self) -> Result<Line, &'static str> {
        Ok(match self.kind {
            Kind::Ready => Line::Ready,
            Kind::Error => Line::Error {
                message: self.message.ok_or("message")?,
            },
            Kind::Wait => Line::Wait {
                index: self.index.ok_or("index")?,
                seconds: self
                    .seconds
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .ok_or("seconds")?,
                retry_after: self.retry_after.unwrap_or(false),
            },
            Kind::Phase => Line::Phase(PhaseLine {
                phase: self.phase.ok_or("phase")?,
                issued: self.issued.ok_or("issued")?,
                start_ns: self.start_ns.ok_or("start_ns")?,
                end_ns: self.end_ns.ok_or("end_ns")?,
            }),
            Kind::Request => {
                let start_ns = self.start_ns.ok_or("start_ns")?;
                let end_ns = self.end_ns.ok_or("end_ns")?;
                // The short form: no `attempts`, one attempt over the whole request with the
                // line's own status or error.
                let attempts = match self.attempts {
                    Some(a) => a,
                    None if self.status.is_some() || self.error.is_some() => vec![AttemptLine {
                        start_ns,
                        end_ns,
                        status: self.status,
                        error: self.error,
                        message: self.message,
                    }],
                    None => return Err("attempts"),
                };
                Line::Request(RequestLine {
                    index: self.index.ok_or("index")?,
                    intended_ns: self.intended_ns,
                    start_ns,
                    end_ns,
                    attempts,
                    ttft_ns: self.ttft_ns,
                    itl_ns: self.itl_ns,
                    ttfo_ns: self.ttfo_ns,
                    reasoning_itl_ns: self.reasoning_itl_ns,
                    reasoning_tokens: self.reasoning_tokens,
                    completion_tokens: self.completion_tokens,
                    prompt_tokens: self.prompt_tokens,
                    bytes: self.bytes,
                    http_version: self.http_version,
                })
            }
        })
    }
}

/// A phase's end.
#[derive(Debug)]
pub(crate) struct PhaseLine {
    /// Its position in the workload's `phases`.
    pub phase: usize,
    /// Requests it issued.
    pub issued: u64,
    /// When it started and ended.
    pub start_ns: u64,
    /// See `start_ns`.
    pub end_ns: u64,
}

/// One logical request as the client reports it.
#[derive(Debug)]
pub(crate) struct RequestLine {
    /// Its index (as sent in `x-asyncbench-request`).
    pub index: u64,
    /// When it was due (open loop) or issued; defaults to `start_ns`.
    pub intended_ns: Option<u64>,
    /// When its first attempt was sent.
    pub start_ns: u64,
    /// When its last attempt ended.
    pub end_ns: u64,
    /// Every attempt, in order (at least one).
    pub attempts: Vec<AttemptLine>,
    /// Streaming: first token of any kind, ns after the successful attempt's start.
    pub ttft_ns: Option<u64>,
    /// Streaming: gaps between content chunks after the first, ns.
    pub itl_ns: Vec<u64>,
    /// Streaming: first output (content) token, ns after the attempt's start; `ttft_ns` when
    /// absent.
    pub ttfo_ns: Option<u64>,
    /// Streaming: gaps between reasoning chunks after the first, ns.
    pub reasoning_itl_ns: Vec<u64>,
    /// The answer's reasoning tokens (inside `completion_tokens`).
    pub reasoning_tokens: Option<u64>,
    /// `usage.completion_tokens` of the answer.
    pub completion_tokens: Option<u64>,
    /// `usage.prompt_tokens` of the answer.
    pub prompt_tokens: Option<u64>,
    /// Bytes of the answer's body.
    pub bytes: Option<u64>,
    /// The HTTP version of the answer (`HTTP/1.1`, `HTTP/2`).
    pub http_version: Option<String>,
}

/// One attempt.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttemptLine {
    /// When it was sent.
    pub start_ns: u64,
    /// When it ended.
    pub end_ns: u64,
    /// The HTTP status, when one came.
    pub status: Option<u16>,
    /// Why it failed without a usable answer: `timeout`, `refused`, `reset`, `closed`,
    /// `transport`, `decode`, `stream_error`, `too_large`.
    pub error: Option<String>,
    /// A short description of the failure (masked and cut by the harness).
    pub message: Option<String>,
}

/// A line that breaks the protocol.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum ProtocolError {
    /// Not JSON, or not a line of the protocol.
    #[error("line {line}: not a protocol line ({why}): {start}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// The parser's message.
        why: String,
        /// The start of the line.
        start: String,
    },
    /// Longer than [`MAX_LINE`].
    #[error("line {line}: longer than {MAX_LINE} bytes")]
    TooLong {
        /// 1-based line number.
        line: u64,
    },
    /// A request line that cannot be right.
    #[error("line {line}: request {index}: {why}")]
    BadRequest {
        /// 1-based line number.
        line: u64,
        /// The request's index.
        index: u64,
        /// What is wrong.
        why: String,
    },
}

/// Parses one line.
pub(crate) fn parse(line_no: u64, text: &[u8]) -> Result<Line, ProtocolError> {
    let malformed = |why: String| ProtocolError::Malformed {
        line: line_no,
        why,
        start: crate::model::outcome::truncate(String::from_utf8_lossy(text).trim_end(), 120),
    };
    serde_json::from_slice::<Raw>(text)
        .map_err(|e| malformed(e.to_string()))?
        .line()
        .map_err(|field| malformed(format!("missing field `{field}`")))
}

/// Turns the client's monotonic nanoseconds into `Instant`s. `Instant` is `CLOCK_MONOTONIC` on
/// Linux, the clock of Python's `time.monotonic_ns()` and Node's `process.hrtime.bigint()`, so
/// a time read in the client is a time on the harness's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    at: Instant,
    ns: u64,
    /// Times before this are not of this run (the client started after it).
    earliest: Instant,
}

impl Clock {
    /// The clock now; times before `earliest` are refused.
    pub(crate) fn new(earliest: Instant) -> Clock {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        Clock {
            at: Instant::now(),
            ns: t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64,
            earliest,
        }
    }

    /// `ns` as an `Instant`, if it lies between the client's start and a second from now.
    pub(crate) fn instant(&self, ns: u64) -> Option<Instant> {
        let t = if ns >= self.ns {
            self.at.checked_add(Duration::from_nanos(ns - self.ns))?
        } else {
            self.at.checked_sub(Duration::from_nanos(self.ns - ns))?
        };
        let now = Instant::now();
        (t + Duration::from_millis(50) >= self.earliest && t <= now + Duration::from_secs(1)).then_some(t)
    }
}

/// The class of a failed attempt: its `error` kind, else its status.
fn class_of(a: &AttemptLine) -> Result<Option<ErrorClass>, String> {
    Ok(Some(match (a.error.as_deref(), a.status) {
        (None, Some(s)) if (200..300).contains(&s) => return Ok(None),
        (None, Some(s)) => ErrorClass::Status(s),
        (None, None) => return Err("an attempt has neither status nor error".into()),
        (Some("timeout"), _) => ErrorClass::Timeout,
        (Some("refused"), _) => ErrorClass::Refused,
        (Some("reset"), _) => ErrorClass::Reset,
        (Some("closed"), _) => ErrorClass::Closed,
        (Some("transport"), _) => ErrorClass::Transport,
        (Some("decode"), _) => ErrorClass::Decode,
        (Some("stream_error"), _) => ErrorClass::StreamError,
        (Some("too_large"), _) => ErrorClass::TooLarge,
        (Some(other), _) => return Err(format!("unknown error kind '{other}'")),
    }))
}

/// A request line as a [`Record`]: times checked against the clock, attempts in order, the
/// outcome that of the last attempt, samples masked with the request's secrets and cut.
pub(crate) fn record(
    line_no: u64,
    r: &RequestLine,
    clock: &Clock,
    req: &PreparedRequest,
) -> Result<Record, ProtocolError> {
    let bad = |why: String| ProtocolError::BadRequest {
        line: line_no,
        index: r.index,
        why,
    };
    let at = |ns: u64, what: &str| {
        clock.instant(ns).ok_or_else(|| {
            bad(format!(
                "{what} {ns} is not a time of this run on CLOCK_MONOTONIC (time.monotonic_ns(), process.hrtime.bigint())"
            ))
        })
    };
    if r.attempts.is_empty() {
        return Err(bad("lists no attempt".into()));
    }
    if r.attempts.len() > MAX_ATTEMPTS {
        return Err(bad(format!("lists more than {MAX_ATTEMPTS} attempts")));
    }
    let start = at(r.start_ns, "start_ns")?;
    let end = at(r.end_ns, "end_ns")?;
    let intended = match r.intended_ns {
        Some(ns) => at(ns, "intended_ns")?,
        None => start,
    };
    if end < start {
        return Err(bad("ends before it starts".into()));
    }
    let (attempts, busy, last_class) = attempt_records(r, req).map_err(bad)?;
    let outcome = last_class.map_or(Outcome::Ok, ErrorClass::outcome);
    let status = r.attempts.last().and_then(|a| a.status);
    let sample = (outcome == Outcome::Ok).then(|| sample_of(r, req));
    Ok(Record {
        index: r.index,
        intended: intended.min(start),
        start,
        end,
        backoff: (end - start).saturating_sub(busy),
        attempts,
        outcome,
        status,
        sample,
    })
}

/// A request line's attempts as records, checked to lie in order inside the request; with the
/// time they took together and the class of the last one's failure.
fn attempt_records(
    r: &RequestLine,
    req: &PreparedRequest,
) -> Result<(Vec<AttemptRecord>, Duration, Option<ErrorClass>), String> {
    let mut attempts = Vec::with_capacity(r.attempts.len());
    let mut busy = Duration::ZERO;
    let mut last_class = None;
    let mut prev_end = r.start_ns;
    for a in &r.attempts {
        if a.end_ns < a.start_ns || a.start_ns < prev_end || a.end_ns > r.end_ns {
            return Err("attempts must lie in order between the request's start_ns and end_ns".into());
        }
        prev_end = a.end_ns;
        let duration = Duration::from_nanos(a.end_ns - a.start_ns);
        busy += duration;
        let class = class_of(a)?;
        let failure = class.map(|class| {
            let text = match (&a.message, a.status) {
                (Some(m), Some(s)) => format!("HTTP {s}: {m}"),
                (Some(m), None) => m.clone(),
                (None, Some(s)) => format!("HTTP {s}"),
                (None, None) => class.to_string(),
            };
            Failure {
                class,
                sample: crate::model::outcome::truncate(&req.redact(&text), Failure::SAMPLE_BYTES),
            }
        });
        attempts.push(AttemptRecord {
            duration,
            outcome: class.map_or(Outcome::Ok, ErrorClass::outcome),
            failure,
        });
        last_class = class;
    }
    Ok((attempts, busy, last_class))
}

/// What a successful request line measured: tokens, TTFT and ITL, the protocol, the prompt's
/// tokens (the client's count, else the harness's for the body it handed out), bytes.
fn sample_of(r: &RequestLine, req: &PreparedRequest) -> Sample {
    let counted = req
        .call
        .completes()
        .then(|| req.body(r.index).input_tokens)
        .filter(|n| *n > 0);
    Sample {
        completion_tokens: r.completion_tokens,
        ttft: r.ttft_ns.map(Duration::from_nanos),
        itl: r.itl_ns.iter().copied().map(Duration::from_nanos).collect(),
        // Only a line that names reasoning carries the reasoning part.
        reasoning: (r.reasoning_tokens.is_some_and(|n| n > 0) || !r.reasoning_itl_ns.is_empty()).then(|| {
            Box::new(crate::model::record::Reasoning {
                tokens: r.reasoning_tokens,
                ttfo: r.ttfo_ns.or(r.ttft_ns).map(Duration::from_nanos),
                itl: r
                    .reasoning_itl_ns
                    .iter()
                    .copied()
                    .map(Duration::from_nanos)
                    .collect(),
            })
        }),
        protocol: r.http_version.as_deref().and_then(|v| match v {
            "HTTP/1.0" => Some(Protocol::Http10),
            "HTTP/1.1" => Some(Protocol::Http11),
            "HTTP/2" | "HTTP/2.0" => Some(Protocol::Http2),
            "HTTP/3" => Some(Protocol::Http3),
            _ => None,
        }),
        input_tokens: r.prompt_tokens,
        input_tokens_differ: false,
        bytes: r.bytes.unwrap_or(0),
        ratelimit: None,
        // An external client does not read the mock's stamps.
        stamps: None,
    }
    .with_counted_input(counted)
}

#[cfg(test)]
mod speed {
    use super::*;

    #[test]
    #[ignore]
    fn parse_and_record_speed() {
        let r = tests_req();
        let clock = Clock::new(Instant::now() - Duration::from_secs(1));
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let t0 = t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64 - 100_000_000;
        let lines: Vec<String> = (0..20000u64).map(|i| format!(
            r#"{{"type":"request","index":{i},"start_ns":{t0},"end_ns":{},"status":200,"bytes":400,"completion_tokens":16,"prompt_tokens":12}}"#, t0 + 5_000_000)).collect();
        let mut rec = crate::stats::recorder::Recorder::for_run(
            crate::stats::intervals::SEALED_IN_MEMORY,
            Default::default(),
            None,
        );
        let c0 = crate::engine::resources::this_thread_cpu_s();
        let mut parsed = Vec::new();
        for (n, l) in lines.iter().enumerate() {
            if let Ok(Line::Request(x)) = parse(n as u64, l.as_bytes()) {
                parsed.push(x);
            }
        }
        let c1 = crate::engine::resources::this_thread_cpu_s();
        let mut records = Vec::new();
        for (n, x) in parsed.iter().enumerate() {
            records.push(record(n as u64, x, &clock, &r).unwrap());
        }
        let c2 = crate::engine::resources::this_thread_cpu_s();
        for x in &records {
            rec.record(x);
        }
        let c3 = crate::engine::resources::this_thread_cpu_s();
        eprintln!(
            "parse {:.2} µs, to record {:.2} µs, record {:.2} µs",
            (c1 - c0) * 1e6 / 20000.0,
            (c2 - c1) * 1e6 / 20000.0,
            (c3 - c2) * 1e6 / 20000.0
        );
    }

    fn tests_req() -> PreparedRequest {
        PreparedRequest::chat(
            "http://127.0.0.1:9/v1/chat/completions".into(),
            vec![],
            None,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> PreparedRequest {
        let key = crate::plan::request::ApiKey::new("sk-secret-0123456789".into());
        PreparedRequest::chat(
            "http://127.0.0.1:9/v1/chat/completions".into(),
            vec![crate::plan::inputs::PreparedBody {
                bytes: bytes::Bytes::from_static(b"{\"model\":\"m\"}"),
                input_tokens: 7,
            }],
            Some(&key),
            false,
        )
    }

    fn now_ns() -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    fn line(text: &str) -> RequestLine {
        match parse(1, text.as_bytes()) {
            Ok(Line::Request(r)) => r,
            other => panic!("not a request line: {other:?}"),
        }
    }

    #[test]
    fn the_workload_names_url_base_key_and_bodies() {
        let r = req();
        let w = workload(
            "py-openai",
            &r,
            8,
            Duration::from_secs(3),
            &RetryPolicy::preset(crate::model::retry::RetryPreset::None),
            &[],
        );
        let v = serde_json::to_value(&w).expect("serializes");
        assert_eq!(v["base_url"], "http://127.0.0.1:9/v1");
        assert_eq!(v["api_key"], "sk-secret-0123456789");
        assert_eq!(v["bodies"][0], "{\"model\":\"m\"}");
        assert_eq!(v["version"], VERSION);
        assert_eq!(v["headers"][0][0], "authorization");
        assert_eq!(v["clock"], "CLOCK_MONOTONIC");
    }

    #[test]
    fn a_retried_request_becomes_one_record_with_its_attempts_and_backoff() {
        let t0 = now_ns() - 50_000_000;
        let clock = Clock::new(Instant::now() - Duration::from_secs(1));
        let text = format!(
            r#"{{"type":"request","index":4,"start_ns":{},"end_ns":{},"attempts":[
            {{"start_ns":{},"end_ns":{},"status":429,"message":"slow down sk-secret-0123456789"}},
            {{"start_ns":{},"end_ns":{},"status":200}}],"completion_tokens":16,"ttft_ns":1000}}"#,
            t0,
            t0 + 40_000_000,
            t0,
            t0 + 10_000_000,
            t0 + 30_000_000,
            t0 + 40_000_000
        )
        .replace('\n', "");
        let rec = record(1, &line(&text), &clock, &req()).expect("valid");
        assert_eq!(rec.outcome, Outcome::Ok);
        assert_eq!(rec.attempts.len(), 2);
        assert_eq!(rec.attempts[0].outcome, Outcome::RateLimited);
        let sample = &rec.attempts[0].failure.as_ref().expect("failed").sample;
        assert!(
            sample.starts_with("HTTP 429: slow down") && !sample.contains("sk-secret"),
            "{sample}"
        );
        assert_eq!(rec.backoff, Duration::from_millis(20));
        assert_eq!(rec.service_time(), Duration::from_millis(40));
        let s = rec.sample.expect("ok");
        assert_eq!((s.completion_tokens, s.input_tokens), (Some(16), Some(7)));
        assert_eq!(s.ttft, Some(Duration::from_micros(1)));
    }

    #[test]
    fn the_last_attempt_decides_and_errors_are_classed() {
        let t0 = now_ns() - 10_000_000;
        let clock = Clock::new(Instant::now() - Duration::from_secs(1));
        let one = |attempt: &str| {
            let text = format!(
                r#"{{"type":"request","index":0,"start_ns":{t0},"end_ns":{},"attempts":[{{"start_ns":{t0},"end_ns":{},{attempt}}}]}}"#,
                t0 + 5,
                t0 + 5
            );
            record(3, &line(&text), &clock, &req())
        };
        let outcome = |a: &str| one(a).map(|r| r.outcome);
        assert_eq!(outcome(r#""status":503"#), Ok(Outcome::ServerError));
        assert_eq!(outcome(r#""status":404"#), Ok(Outcome::ClientError));
        assert_eq!(outcome(r#""error":"timeout""#), Ok(Outcome::Timeout));
        assert_eq!(outcome(r#""error":"reset""#), Ok(Outcome::Transport));
        assert_eq!(
            outcome(r#""status":200,"error":"decode""#),
            Ok(Outcome::ServerError)
        );
        assert!(matches!(
            one(r#""error":"gremlins""#),
            Err(ProtocolError::BadRequest { line: 3, .. })
        ));
        assert!(one(r#""message":"no status""#).is_err());
    }

    #[test]
    fn times_off_the_monotonic_clock_or_out_of_order_are_refused() {
        let clock = Clock::new(Instant::now() - Duration::from_secs(1));
        let t0 = now_ns() - 10_000_000;
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as u64;
        let at = |start: u64, end: u64, a0: u64, a1: u64| {
            format!(
                r#"{{"type":"request","index":1,"start_ns":{start},"end_ns":{end},"attempts":[{{"start_ns":{a0},"end_ns":{a1},"status":200}}]}}"#
            )
        };
        let ok = at(t0, t0 + 10, t0, t0 + 10);
        assert!(record(1, &line(&ok), &clock, &req()).is_ok());
        for bad in [
            at(wall, wall + 10, wall, wall + 10),
            at(t0 + 10, t0, t0, t0),
            at(t0, t0 + 10, t0, t0 + 11),
            at(t0, t0 + 10, t0 - 1, t0 + 10),
            // Before the client started.
            at(t0 - 5_000_000_000, t0, t0 - 5_000_000_000, t0),
        ] {
            assert!(record(1, &line(&bad), &clock, &req()).is_err(), "{bad}");
        }
        let none = format!(r#"{{"type":"request","index":1,"start_ns":{t0},"end_ns":{t0},"attempts":[]}}"#);
        assert!(record(1, &line(&none), &clock, &req()).is_err());
    }

    #[test]
    fn lines_that_are_not_the_protocol_are_named() {
        let parse = |n, text: &str| parse(n, text.as_bytes());
        assert!(matches!(parse(1, r#"{"type":"ready"}"#), Ok(Line::Ready)));
        assert!(matches!(
            parse(
                2,
                r#"{"type":"phase","phase":1,"issued":3,"start_ns":1,"end_ns":2}"#
            ),
            Ok(Line::Phase(PhaseLine {
                phase: 1,
                issued: 3,
                ..
            }))
        ));
        let e = parse(7, "Traceback (most recent call last):").expect_err("not JSON");
        assert!(e.to_string().starts_with("line 7: not a protocol line"), "{e}");
        assert!(parse(8, r#"{"type":"request","index":"x"}"#).is_err());
        assert!(parse(9, r#"{"type":"nonsense"}"#).is_err());
        let e = parse(10, r#"{"type":"phase","phase":1}"#).expect_err("no issued");
        assert!(e.to_string().contains("missing field `issued`"), "{e}");
        assert!(parse(11, r#"{"type":"ready","colour":"blue"}"#).is_err());
        assert!(matches!(
            parse(12, r#"{"type":"error","message":"no"}"#),
            Ok(Line::Error { message }) if message == "no"
        ));
    }

    #[test]
    fn a_short_line_is_one_attempt_over_the_whole_request() {
        let t0 = now_ns() - 10_000_000;
        let clock = Clock::new(Instant::now() - Duration::from_secs(1));
        let short = |rest: &str| {
            format!(
                r#"{{"type":"request","index":3,"start_ns":{t0},"end_ns":{},{rest}}}"#,
                t0 + 2_000_000
            )
        };
        let rec = record(
            1,
            &line(&short(r#""status":200,"completion_tokens":4"#)),
            &clock,
            &req(),
        )
        .expect("valid");
        assert_eq!((rec.outcome, rec.attempts.len()), (Outcome::Ok, 1));
        assert_eq!(rec.attempts[0].duration, Duration::from_millis(2));
        assert_eq!(rec.sample.and_then(|s| s.completion_tokens), Some(4));
        let rec = record(
            1,
            &line(&short(r#""error":"timeout","message":"slow""#)),
            &clock,
            &req(),
        )
        .expect("valid");
        assert_eq!((rec.outcome, rec.status), (Outcome::Timeout, None));
        assert_eq!(
            rec.attempts[0].failure.as_ref().map(|f| f.sample.as_str()),
            Some("slow")
        );
        let e = parse(2, short(r#""bytes":1"#).as_bytes()).expect_err("neither attempts nor status");
        assert!(e.to_string().contains("missing field `attempts`"), "{e}");
    }

    /// A wait line: the request, the seconds, whether a Retry-After set it; a wait of no
    /// number of seconds breaks the protocol.
    #[test]
    fn a_wait_line_is_read() {
        let l = parse(
            3,
            br#"{"type":"wait","index":7,"seconds":40.5,"retry_after":true}"#,
        )
        .expect("valid");
        assert!(
            matches!(l, Line::Wait { index: 7, seconds, retry_after: true } if seconds == 40.5),
            "{l:?}"
        );
        let l = parse(3, br#"{"type":"wait","index":7,"seconds":31}"#).expect("valid");
        assert!(
            matches!(
                l,
                Line::Wait {
                    retry_after: false,
                    ..
                }
            ),
            "{l:?}"
        );
        for bad in [
            &br#"{"type":"wait","index":7}"#[..],
            br#"{"type":"wait","index":7,"seconds":-1}"#,
            br#"{"type":"wait","seconds":3}"#,
        ] {
            parse(3, bad).expect_err(std::str::from_utf8(bad).unwrap());
        }
    }
}
