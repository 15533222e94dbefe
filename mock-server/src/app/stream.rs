//! A streamed answer: server-sent events (OpenAI's chunks or Anthropic's named events, as the
//! [`Generation`] writes them), each token written when its time comes. The stream is
//! a state machine polled by the connection itself (no task, no channel per stream): it sleeps
//! until the next token's deadline, then yields the chunk of every choice for that token.
//!
//! Deadlines are absolute (`start + latency`, then `+ ttft`, then `+ itl` per token), so timer
//! error never accumulates over a long stream. A client that goes away drops the stream, and
//! with it the in-flight guard the handler put on the body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use rand::rngs::SmallRng;

use crate::app::AppState;
use crate::app::render::{Generation, Meta};
use crate::profile::Fault;
use crate::stamp::LINE_ROOM;
use crate::stats::Event;

/// Where a stream is.
enum Step {
    /// Waiting for the stream to open (`latency`), then the role chunks.
    Open,
    /// Token `t` is next (past the last token: the finish chunks, usage and `[DONE]`).
    Token(u32),
    /// Nothing more.
    Done,
}

struct State {
    st: Arc<AppState>,
    generation: Generation,
    include_usage: bool,
    fault: Option<Fault>,
    rng: SmallRng,
    /// The stream's beginning: the head's intended time.
    begun: Instant,
    /// The current piece's deadline after `begun`: its stamp's due time.
    due: Duration,
    step: Step,
    /// `--stamps`: each event opens with when it was due after the head and how late it was.
    stamps: bool,
    /// The clock reading that found the current piece's deadline past (no wait), for its
    /// stamp: at zero latency a second reading per event was 1.3 % of the mock's CPU.
    due_passed: Option<Instant>,
    /// The `capacity` slot this answer holds until its stream ends (dropped with the state).
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// When an answer's generation began, and the `capacity` slot it holds until it ends.
pub(crate) struct Begun {
    /// The arrival, or when a slot came free.
    pub(crate) at: Instant,
    /// The slot, with a capacity.
    pub(crate) slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

type Frame = Result<Bytes, std::io::Error>;

/// A piece of the stream before its stamp: a frame, or (with `--stamps`) a token's one event
/// made after [`LINE_ROOM`] free bytes, for its stamp line.
enum Piece {
    Frame(Bytes),
    Roomy(Vec<u8>),
}

impl State {
    /// When the current piece is due.
    fn deadline(&self) -> Instant {
        self.begun + self.due
    }

    /// The next piece of the stream, after waiting for its time, stamped with `--stamps`.
    async fn next(&mut self) -> Option<Frame> {
        self.due_passed = None;
        let piece = self.piece().await?;
        let late = || {
            let written = self.due_passed.unwrap_or_else(Instant::now);
            written.saturating_duration_since(self.deadline())
        };
        Some(piece.map(|p| match p {
            Piece::Roomy(event) => stamped_in_place(self.due, late(), event),
            Piece::Frame(bytes) if self.stamps => stamped(self.due, late(), &bytes),
            Piece::Frame(bytes) => bytes,
        }))
    }

    async fn piece(&mut self) -> Option<Result<Piece, std::io::Error>> {
        let g = &self.generation;
        let p = &self.st.profile;
        if let Step::Open = self.step {
            self.due += p.latency.sample(&mut self.rng);
            self.due_passed = self.st.sleep_until(self.deadline()).await;
            self.step = Step::Token(0);
            // The legacy API has no opening: it goes straight to the first token.
            if let Some(opening) = g.opening() {
                return Some(Ok(Piece::Frame(opening)));
            }
        }
        match self.step {
            Step::Open => None,
            Step::Token(t) if t < g.tokens => {
                self.due += if t == 0 {
                    p.ttft.sample(&mut self.rng)
                } else {
                    p.itl.sample(&mut self.rng)
                };
                self.due_passed = self.st.sleep_until(self.deadline()).await;
                if t == g.tokens / 2 {
                    match self.fault {
                        Some(Fault::StreamError) => {
                            self.st.stats.event(Event::StreamError);
                            self.step = Step::Done;
                            return Some(Ok(Piece::Frame(g.error_event())));
                        }
                        Some(Fault::StreamCut) => {
                            self.st.stats.event(Event::StreamCut);
                            self.step = Step::Done;
                            // Give the connection one turn to write out what came before (with
                            // no delays every chunk is ready at once, and hyper drops its
                            // unwritten buffer when the body fails), then cut.
                            tokio::task::yield_now().await;
                            return Some(Err(std::io::Error::other("stream cut by the mock")));
                        }
                        _ => {}
                    }
                }
                self.step = Step::Token(t + 1);
                self.st.stats.tokens(u64::from(g.n));
                // Stamped, a token's one event is made after room for its stamp line.
                Some(Ok(if self.stamps && g.one_event_per_token() {
                    Piece::Roomy(g.token_event_after(t, LINE_ROOM))
                } else {
                    Piece::Frame(g.token_event(t))
                }))
            }
            Step::Token(_) => {
                self.step = Step::Done;
                Some(Ok(Piece::Frame(g.closing(self.include_usage))))
            }
            Step::Done => None,
        }
    }
}

/// A token's one event, made after [`LINE_ROOM`] free bytes: its stamp line (meant `due` after
/// the head's time, written `late` after that) written at the room's end, the rest of the room
/// skipped; no copy.
fn stamped_in_place(due: Duration, late: Duration, mut event: Vec<u8>) -> Bytes {
    let start = crate::stamp::line_into(&mut event[..LINE_ROOM], due, late);
    let mut bytes = Bytes::from(event);
    bytes::Buf::advance(&mut bytes, start);
    bytes
}

/// `bytes` with each of its events opened by the SSE comment of its stamp: meant `due` after
/// the head's time, written `late` after that (a write can hold several events: the closing
/// ones come together).
fn stamped(due: Duration, late: Duration, bytes: &[u8]) -> Bytes {
    let mut buf = [0; LINE_ROOM];
    let start = crate::stamp::line_into(&mut buf, due, late);
    let line = &buf[start..];
    // Room for one stamp line; a write of several events grows once.
    let mut out = Vec::with_capacity(bytes.len() + line.len());
    let mut at_start = true;
    let mut from = 0;
    // Each line, found by memchr (with its line feed; the last one may have none).
    let ends = memchr::memchr_iter(b'\n', bytes)
        .map(|i| i + 1)
        .chain(std::iter::once(bytes.len()));
    for end in ends {
        let l = &bytes[from..end];
        if l.is_empty() {
            break;
        }
        if at_start && l != b"\n" {
            out.extend_from_slice(line);
        }
        // An event ends at a blank line; the next line opens the next one.
        at_start = l == b"\n";
        out.extend_from_slice(l);
        from = end;
    }
    Bytes::from(out)
}

/// The streamed answer to an admitted request that arrived at `start`.
pub(crate) fn response(
    st: Arc<AppState>,
    generation: Generation,
    include_usage: bool,
    fault: Option<Fault>,
    rng: SmallRng,
    meta: &Meta,
    begun: Begun,
) -> Response {
    st.stats.status(StatusCode::OK.as_u16());
    let with_limits = !st.profile.no_ratelimit_headers;
    let stamps = st.profile.stamps;
    let state = State {
        st,
        generation,
        include_usage,
        fault: fault.filter(|f| matches!(f, Fault::StreamError | Fault::StreamCut)),
        rng,
        begun: begun.at,
        due: Duration::ZERO,
        step: Step::Open,
        stamps,
        due_passed: None,
        _slot: begun.slot,
    };
    let frames = futures_util::stream::unfold(state, |mut s| async move {
        let frame = s.next().await?;
        Some((frame, s))
    });
    let mut resp = Response::new(Body::from_stream(frames));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    meta.apply(h, with_limits);
    resp
}
