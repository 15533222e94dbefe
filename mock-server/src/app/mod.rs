//! The mock's HTTP application, in the order a request meets it:
//! - [`admission`]: the `x-mock-fault` header, the limiter, `--schedule` and the probabilities
//!   decide a request's fate, as a value ([`admission::Decision`]), without writing anything;
//! - [`render`]: decisions and completions become bytes: OpenAI's error bodies, the headers
//!   every answer carries, `chat.completion` / `text_completion` JSON and SSE chunks;
//!   [`anthropic`] the same in the Messages API's dialect; [`embeddings`] the vectors;
//! - [`stream`]: a streamed answer, each token written when its time comes;
//! - [`handlers`]: the routes, which parse, admit, wait and answer.
//!
//! This file holds what they share: the server state, the routes, and the client's request key.
//!
//! Every delay is a sleep until an absolute deadline, so thousands of delayed requests overlap on
//! a few threads and timer error does not accumulate over a stream. Nothing in a handler can
//! panic on input: every parse failure becomes an OpenAI-style 4xx body.

pub(crate) mod admission;
pub(crate) mod anthropic;
pub(crate) mod embeddings;
pub(crate) mod handlers;
pub(crate) mod render;
pub(crate) mod stream;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;

use crate::limiter::Limiter;
use crate::profile::Profile;
use crate::stats::{ConnMark, Stats, StatsSnapshot};
use crate::timer::PreciseTimer;

/// Largest request body accepted; larger gets 413.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most completion tokens per choice (larger is a 400, as models have a cap too).
pub const MAX_OUTPUT_TOKENS: u32 = 131_072;
/// Most completion tokens per request, all choices together.
pub const MAX_TOTAL_TOKENS: u64 = 1 << 20;
/// Longest `/delay/{seconds}` allowed (httpbin's cap).
pub const MAX_DELAY_SECS: f64 = 10.0;
/// Longest stall `/admin/stall` accepts.
pub const MAX_STALL: Duration = Duration::from_secs(600);

/// The headers with which asyncbench numbers its requests (0-based logical index, 1-based
/// attempt; no attempt header is attempt 1). A mock that sees them draws each fault and delay
/// from (seed, request, attempt).
pub const REQUEST_INDEX_HEADER: &str = "x-asyncbench-request";
/// See [`REQUEST_INDEX_HEADER`].
pub const ATTEMPT_HEADER: &str = "x-asyncbench-attempt";
/// The same numbers as query parameters (`?ab_r=N&ab_a=K`), which asyncbench's own clients
/// send to a mock in place of the headers: a header is copied three times by reqwest,
/// tower-http and hyper and the copies held until the answer (close to 1 KB a request in
/// flight), a query adds a few bytes to a URL they copy anyway (short names: reqwest parses
/// the URL twice more per request). Read as the headers are; the query's numbers when a
/// request carries both. The longer names of before ([`LONG_PARAMS`]) are read too.
pub const REQUEST_INDEX_PARAM: &str = "ab_r";
/// See [`REQUEST_INDEX_PARAM`].
pub const ATTEMPT_PARAM: &str = "ab_a";
/// The names the query parameters had until asyncbench 2026-12-07 (request, attempt), still
/// read.
pub const LONG_PARAMS: [&str; 2] = ["asyncbench_request", "asyncbench_attempt"];

/// Marks a response whose connection must be reset instead of answered; the connection layer in
/// `server.rs` sees it and drops the socket with SO_LINGER 0 (an HTTP/2 stream is reset).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

/// The profile's limiter (a changing RPM limit starts its clock at `now`); `None` when it sets
/// no limit.
fn limiter_for(p: &Profile, now: Instant) -> Option<Limiter> {
    if p.rpm_schedule.is_empty() {
        Limiter::new(p.rpm, p.tpm, p.limit_window, now)
    } else {
        Limiter::scheduled(p.rpm_schedule.clone(), p.tpm, p.limit_window, now)
    }
}

/// Shared state of one mock server.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) profile: Profile,
    pub(crate) stats: Stats,
    limiter: Option<Mutex<Limiter>>,
    seed: u64,
    next_index: AtomicU64,
    pub(crate) shutdown: CancellationToken,
    epoch: Instant,
    /// End of the current stall, as nanoseconds since `epoch`; 0 when not stalled.
    stall_until_ns: AtomicU64,
    /// Sub-millisecond delays (tokio's own timer rounds up to whole milliseconds).
    timer: PreciseTimer,
    /// `capacity`: the slots requests wait for (tokio's semaphore serves waiters in order).
    pub(crate) slots: Option<Arc<tokio::sync::Semaphore>>,
}

/// The slots of a profile's `capacity` (beyond what a semaphore holds, every request at once).
fn profile_slots(p: &Profile) -> Option<Arc<tokio::sync::Semaphore>> {
    p.capacity.map(|n| {
        Arc::new(tokio::sync::Semaphore::new(
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .min(tokio::sync::Semaphore::MAX_PERMITS),
        ))
    })
}

impl AppState {
    pub(crate) fn new(profile: Profile, shutdown: CancellationToken) -> Arc<Self> {
        // The encoding's tables load while the server starts, not on the first request.
        profile.tokenizer.warm_up();
        let now = Instant::now();
        let seed = profile.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
        Arc::new(AppState {
            limiter: limiter_for(&profile, now).map(Mutex::new),
            slots: profile_slots(&profile),
            profile,
            stats: Stats::new(),
            seed,
            next_index: AtomicU64::new(0),
            shutdown,
            epoch: now,
            stall_until_ns: AtomicU64::new(0),
            timer: PreciseTimer::start(),
        })
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Freezes every answer (new and in progress) for `d` from now, like a server paused with
    /// ^Z; a later call replaces the end, so `d = 0` ends a stall.
    pub(crate) fn stall(&self, d: Duration) {
        let end = if d.is_zero() {
            0
        } else {
            (self.epoch.elapsed() + d).as_nanos() as u64
        };
        self.stall_until_ns.store(end, Relaxed);
    }

    /// Waits while a stall is in force; returns whether it waited.
    async fn wait_stall(&self) -> bool {
        let mut waited = false;
        loop {
            let end = self.stall_until_ns.load(Relaxed);
            if end == 0 {
                return waited;
            }
            let end = self.epoch + Duration::from_nanos(end);
            if Instant::now() >= end {
                return waited;
            }
            sleep_until(end.into()).await;
            waited = true;
        }
    }

    /// Sleeps until `deadline`, then through any stall. Returns the clock reading that found
    /// the deadline past when nothing was waited for (see [`PreciseTimer::sleep_until`]).
    pub(crate) async fn sleep_until(&self, deadline: Instant) -> Option<Instant> {
        let passed = self.timer.sleep_until(deadline).await;
        if self.wait_stall().await { None } else { passed }
    }

    /// The next arrival number (1-based).
    fn next_arrival(&self) -> u64 {
        self.next_index.fetch_add(1, Relaxed) + 1
    }

    /// A per-request RNG derived from the seed and the request's arrival number, so the fault
    /// and latency drawn for request k do not depend on how other requests interleave.
    fn rng_for(&self, index: u64) -> SmallRng {
        SmallRng::seed_from_u64(splitmix64(self.seed ^ splitmix64(index)))
    }

    /// The RNG of attempt `attempt` of the client's logical request `request`: the same for that
    /// attempt whatever order, concurrency or strategy brought it here.
    fn rng_for_key(&self, key: RequestKey) -> SmallRng {
        let mixed =
            splitmix64(key.request) ^ splitmix64(u64::from(key.attempt).rotate_left(32) ^ 0x5bd1_e995);
        SmallRng::seed_from_u64(splitmix64(self.seed ^ mixed))
    }

    /// Puts the mock back in its starting state for a new run: the limiter's buckets full, the
    /// arrival count (and so `--schedule`) back at zero, no stall. The counters of `/stats` keep
    /// counting (clients compare differences).
    pub(crate) fn reset(&self) {
        if let Some(l) = &self.limiter
            && let Some(fresh) = limiter_for(&self.profile, Instant::now())
        {
            match l.lock() {
                Ok(mut g) => *g = fresh,
                Err(p) => *p.into_inner() = fresh,
            }
        }
        self.next_index.store(0, Relaxed);
        self.stall_until_ns.store(0, Relaxed);
    }

    /// Whether a request carries the key the mock requires (always true when none is set), as
    /// `Authorization: Bearer KEY` or as Anthropic's `x-api-key: KEY` (its docs ask for the
    /// latter; its Python SDK sends the former).
    pub(crate) fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(key) = &self.profile.api_key else {
            return true;
        };
        // The scheme's name is case-insensitive (RFC 9110 §11.1): `bearer KEY` is as good.
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .is_some_and(|(scheme, k)| scheme.eq_ignore_ascii_case("bearer") && k.trim() == key);
        bearer
            || headers
                .get("x-api-key")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|k| k.trim() == key)
    }
}

/// A client's own number for a request and its attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestKey {
    request: u64,
    attempt: u32,
}

impl RequestKey {
    /// The key in a request's headers, when its number is there and the numbers are numbers.
    /// No attempt header is the first attempt (asyncbench sends it only on a retry).
    fn from_headers(h: &HeaderMap) -> Option<RequestKey> {
        let num = |v: &axum::http::HeaderValue| v.to_str().ok()?.trim().parse::<u64>().ok();
        let attempt = match h.get(ATTEMPT_HEADER) {
            Some(v) => u32::try_from(num(v)?).ok()?.max(1),
            None => 1,
        };
        Some(RequestKey {
            request: num(h.get(REQUEST_INDEX_HEADER)?)?,
            attempt,
        })
    }
}

/// A request's numbers given in its query (see [`REQUEST_INDEX_PARAM`]) put in its headers,
/// where the mock reads them: a parameter that is not a number is left out, so the request
/// draws as one without it would.
pub(crate) fn numbers_from_query(headers: &mut HeaderMap, query: Option<&str>) {
    let pairs = query.into_iter().flat_map(|q| q.split('&'));
    for (name, value) in pairs.filter_map(|p| p.split_once('=')) {
        let header = match name {
            n if n == REQUEST_INDEX_PARAM || n == LONG_PARAMS[0] => REQUEST_INDEX_HEADER,
            n if n == ATTEMPT_PARAM || n == LONG_PARAMS[1] => ATTEMPT_HEADER,
            _ => continue,
        };
        if let Ok(n) = value.parse::<u64>() {
            headers.insert(header, n.into());
        }
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The mock as an axum `Router`, for in-process tests with `oneshot` (no socket). Resets and
/// hangs need the connection layer of [`crate::MockServer`].
pub fn app(profile: Profile) -> Router {
    router(AppState::new(profile, CancellationToken::new()))
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    use handlers::*;
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/messages", post(messages))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/delay/{seconds}", get(delay).post(delay))
        .route("/stats", get(stats))
        .route("/health", get(health))
        .route("/healthz", get(health))
        .route("/admin/stall", post(stall))
        .route("/admin/reset", post(reset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Counts a work request in flight from its arrival until it is dropped, however the request
/// ends; the handlers put it in the response body (`guarded.rs`), so it lasts to the last byte.
#[derive(Debug)]
pub(crate) struct InFlight(std::sync::Arc<AppState>);

impl InFlight {
    /// Counts a new work request (and its connection, the first time) and holds it in flight.
    pub(crate) fn begin(st: &std::sync::Arc<AppState>, conn: Option<&ConnMark>) -> InFlight {
        st.stats.begin_work(conn);
        InFlight(st.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.stats.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deadline found past gives its clock reading back for the stamp, unless a stall held
    /// the answer after it (the reading is then stale: the stamp reads the clock again).
    #[tokio::test]
    async fn a_stall_voids_the_reading_that_found_the_deadline_past() {
        let st = AppState::new(Profile::default(), CancellationToken::new());
        let before = Instant::now();
        assert!(st.sleep_until(before).await.is_some());
        st.stall(Duration::from_millis(5));
        assert_eq!(st.sleep_until(Instant::now()).await, None);
        assert!(before.elapsed() >= Duration::from_millis(5));
    }
}
