//! `--concurrency auto`: a concurrency limit that tunes itself to the target's rate limit.
//!
//! The controller is additive increase / multiplicative decrease (AIMD), the rule TCP uses, with
//! two inputs a rate-limited API gives that a latency-only limiter (Netflix's gradient) cannot
//! see:
//! - **429s** cut the limit in half, at most once per round trip (only an answer to a request
//!   sent after the last cut can cut again), and hold every new attempt until the
//!   `Retry-After` the answer asked for.
//! - **`x-ratelimit-remaining-*`** falling under a tenth of the bucket cuts the limit by a tenth
//!   (once per round trip) before any 429 comes; while it stays above, every success adds
//!   `1 / limit` (one more slot per round trip), or a whole slot in slow start (before the first
//!   cut).
//! - The limit never stays below what Little's law says the allowed rate needs: 1.2 × the rate
//!   the headers allow (the tighter of requests/s and tokens/s ÷ tokens per request) × the mean
//!   latency of successes. No cut goes below it, and a success lifts the limit to it at once (when
//!   the allowed rate rises, the headers say so before additive increase could find it). Below
//!   it the bucket would fill while slots sit idle: goodput lost for nothing.
//!
//! Beside the limit, a **pacer** mirrors the server's token buckets from the headers: an answer
//! states what was left when its request was admitted (`remaining`), the per-minute limit and
//! when the bucket is full again (`reset`, which gives the bucket's size); the pacer adds the
//! refill since then and subtracts what the attempts this client sent after that request cost
//! (one request each from the requests bucket, the request's token charge each from the tokens
//! bucket), and holds
//! the next attempt until the estimate covers it. A gradient limiter was not chosen because
//! under a rate limit the latency of an admitted request does not rise as the limit nears (the
//! server refuses instead of queueing), so latency carries no signal; the 429s and the headers
//! do.
//!
//! The controller keeps a timeline in [`TICK`] steps (the limit, attempts, successes and 429s in
//! each), which the report and the `concurrency` chart show.

use crate::engine::stop::StopToken;
use crate::model::adaptive::TICK;

use crate::model::adaptive::{AdaptiveConfig, AdaptiveReport, Tick};

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::model::outcome::RequestError;
use crate::model::record::Sample;

/// A success whose answer shows less than this share of a bucket left is pressure.
const PRESSURE: f64 = 0.1;
/// The cut on a 429.
const CUT_429: f64 = 0.5;
/// The cut on pressure.
const CUT_PRESSURE: f64 = 0.9;
/// Requests the pacer keeps in the mirrored buckets (in tokens, as many requests' worth): the
/// mirror can be one or two too high when requests sent together are admitted out of order.
/// Costs nothing once paced (the rate is the refill rate whatever the bucket holds).
const RESERVE: f64 = 1.0;
/// Headroom over Little's law's concurrency (rate × latency) that cuts keep.
const FLOOR_HEADROOM: f64 = 1.2;
/// Weight of the newest success in the mean latency.
const LATENCY_WEIGHT: f64 = 0.05;

/// What one server bucket held at an answer's admission, advanced by refill and by this
/// client's later attempts.
#[derive(Debug, Clone, Copy)]
struct Mirror {
    /// The send number of the request the answer came to.
    seq: u64,
    /// When that request was sent (≈ admitted).
    at: Instant,
    remaining: f64,
    per_sec: f64,
    capacity: f64,
    /// What one attempt takes from the bucket: 1 request, or its token charge.
    per_send: f64,
}

impl Mirror {
    fn new(
        seq: u64,
        at: Instant,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset: Option<Duration>,
        per_send: f64,
    ) -> Option<Mirror> {
        let (limit, remaining) = (limit? as f64, remaining? as f64);
        let per_sec = limit / 60.0;
        if per_sec <= 0.0 {
            return None;
        }
        let capacity =
            (remaining + reset.unwrap_or_default().as_secs_f64() * per_sec).max(remaining.max(1.0));
        Some(Mirror {
            seq,
            at,
            remaining,
            per_sec,
            capacity,
            per_send,
        })
    }

    /// Units available now, after `sends` attempts in all (each later one taking `per_send`).
    fn available(&self, now: Instant, sends: u64) -> f64 {
        let refilled = self.remaining + now.saturating_duration_since(self.at).as_secs_f64() * self.per_sec;
        refilled.min(self.capacity) - sends.saturating_sub(self.seq + 1) as f64 * self.per_send
    }

    /// How long until `cost` units are available.
    fn wait(&self, now: Instant, sends: u64, cost: f64) -> Duration {
        let short = cost - self.available(now, sends);
        if short <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(short / self.per_sec)
        }
    }

    /// What the bucket had left beyond the pacer's reserve, as a share of its size.
    fn share_left(&self) -> f64 {
        (self.remaining - RESERVE).max(0.0) / self.capacity
    }
}

#[derive(Debug)]
struct State {
    cfg: AdaptiveConfig,
    limit: f64,
    slow_start: bool,
    /// Requests holding a slot.
    in_flight: u64,
    /// Attempts sent so far (each one's number is the count before it).
    sends: u64,
    /// `sends` at the last cut: only answers to later attempts cut again.
    cut_at: u64,
    cuts: u64,
    /// No attempt starts before this (a 429's `Retry-After`).
    hold_until: Option<Instant>,
    requests: Option<Mirror>,
    tokens: Option<Mirror>,
    /// Mean latency of successful attempts, seconds (exponentially weighted).
    latency_s: Option<f64>,
    /// Tokens one request is charged (prompt estimate + max_tokens), for the token pacer.
    token_cost: f64,
    timeline: Vec<Tick>,
}

/// The shared controller of one strategy's run (one per phase).
#[derive(Debug)]
pub(crate) struct Controller {
    state: Mutex<State>,
    changed: Notify,
    t0: Instant,
}

/// A request's place under the limit; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    ctl: Arc<Controller>,
    /// The send number of the request's first attempt.
    pub seq: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.ctl.lock().in_flight -= 1;
        self.ctl.changed.notify_waiters();
    }
}

impl Controller {
    /// A controller starting now.
    pub(crate) fn new(cfg: AdaptiveConfig, token_cost: u64) -> Arc<Controller> {
        Arc::new(Controller {
            state: Mutex::new(State {
                cfg,
                limit: cfg.initial.clamp(1, cfg.max.max(1)) as f64,
                slow_start: true,
                in_flight: 0,
                sends: 0,
                cut_at: 0,
                cuts: 0,
                hold_until: None,
                requests: None,
                tokens: None,
                latency_s: None,
                token_cost: token_cost.max(1) as f64,
                timeline: Vec::new(),
            }),
            changed: Notify::new(),
            t0: Instant::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain numbers behind: keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current limit (the live view reads it; one lock, taken a few times a second).
    pub(crate) fn limit(&self) -> f64 {
        self.lock().limit
    }

    /// Waits for a place under the limit and for the pacer to allow an attempt, then takes both
    /// (the returned slot's `seq` numbers the first attempt).
    pub(crate) async fn acquire(self: &Arc<Self>) -> Slot {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.lock();
                if (s.in_flight as f64) < s.limit.floor().max(1.0) {
                    let now = Instant::now();
                    let wait = self.pace(&s, now);
                    if wait.is_zero() {
                        s.in_flight += 1;
                        let seq = s.send();
                        return Slot {
                            ctl: self.clone(),
                            seq,
                        };
                    }
                    Some(wait)
                } else {
                    None
                }
            };
            match wait {
                Some(w) => {
                    tokio::select! {
                        _ = tokio::time::sleep(w) => {}
                        _ = &mut notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// How long the pacer holds the next attempt: a 429's hold, or until the mirrored buckets
    /// cover one request.
    fn pace(&self, s: &State, now: Instant) -> Duration {
        let hold = s
            .hold_until
            .map_or(Duration::ZERO, |h| h.saturating_duration_since(now));
        let req = s
            .requests
            .map_or(Duration::ZERO, |m| m.wait(now, s.sends, 1.0 + RESERVE));
        // The same reserve in tokens: a request's worth.
        let tok = s.tokens.map_or(Duration::ZERO, |m| {
            m.wait(now, s.sends, (s.token_cost * (1.0 + RESERVE)).min(m.capacity))
        });
        hold.max(req).max(tok)
    }

    /// Waits until the pacer allows a retry's attempt (its slot is already held), then numbers
    /// it; `None` when a stop came first. Without this, requests refused together retry together
    /// at the one moment their `Retry-After` names, and all but one are refused again.
    pub(crate) async fn before_retry(&self, stop: &StopToken) -> Option<u64> {
        loop {
            let wait = {
                let mut s = self.lock();
                let wait = self.pace(&s, Instant::now());
                if wait.is_zero() {
                    return Some(s.send());
                }
                wait
            };
            if !stop.sleep_until(Instant::now() + wait).await {
                return None;
            }
        }
    }

    /// Takes in the answer to attempt `seq`, sent at `sent`.
    pub(crate) fn observe(&self, seq: u64, sent: Instant, result: &Result<Sample, RequestError>) {
        let now = Instant::now();
        let mut s = self.lock();
        let rl = match result {
            Ok(sample) => sample.ratelimit.as_deref().copied(),
            Err(RequestError::Status { ratelimit, .. }) => ratelimit.as_deref().copied(),
            Err(_) => None,
        };
        if let Some(rl) = rl {
            let fresher = |m: &Option<Mirror>| m.is_none_or(|m| m.seq <= seq);
            if fresher(&s.requests)
                && let Some(m) = Mirror::new(
                    seq,
                    sent,
                    rl.limit_requests,
                    rl.remaining_requests,
                    rl.reset_requests,
                    1.0,
                )
            {
                s.requests = Some(m);
            }
            if fresher(&s.tokens)
                && let Some(m) = Mirror::new(
                    seq,
                    sent,
                    rl.limit_tokens,
                    rl.remaining_tokens,
                    rl.reset_tokens,
                    s.token_cost,
                )
            {
                s.tokens = Some(m);
            }
        }
        let (limited, ok) = match result {
            Ok(_) => (false, true),
            Err(RequestError::Status { status: 429, .. }) => (true, false),
            Err(_) => (false, false),
        };
        if limited {
            if let Err(RequestError::Status {
                retry_after: Some(ra),
                ..
            }) = result
            {
                let until = now + *ra;
                s.hold_until = Some(s.hold_until.map_or(until, |h| h.max(until)));
            }
            s.cut(seq, CUT_429);
        } else if ok {
            let l = now.saturating_duration_since(sent).as_secs_f64();
            s.latency_s = Some(s.latency_s.map_or(l, |m| m + LATENCY_WEIGHT * (l - m)));
            let pressure = [s.requests, s.tokens]
                .iter()
                .flatten()
                .any(|m| m.seq == seq && m.share_left() < PRESSURE);
            if pressure {
                s.cut(seq, CUT_PRESSURE);
            } else {
                // Grow while the slots are used; and straight to the floor when the allowed
                // rate rose (the headers say so at once; additive increase would take seconds).
                let mut limit = s.limit.max(s.floor());
                if s.in_flight as f64 >= s.limit / 2.0 {
                    limit += if s.slow_start { 1.0 } else { 1.0 / s.limit };
                }
                s.limit = limit.min(s.cfg.max as f64);
            }
        }
        let k = (now.saturating_duration_since(self.t0).as_nanos() / TICK.as_nanos()) as usize;
        s.tick(k);
        let limit = s.limit;
        let t = &mut s.timeline[k];
        t.attempts += 1;
        t.ok += u64::from(ok);
        t.rate_limited += u64::from(limited);
        t.limit = limit;
        drop(s);
        self.changed.notify_waiters();
    }

    /// What the controller did, from its start to now.
    pub(crate) fn report(&self) -> AdaptiveReport {
        let mut s = self.lock();
        let k = (self.t0.elapsed().as_nanos() / TICK.as_nanos()) as usize;
        s.tick(k);
        let answers: u64 = s.timeline.iter().map(|t| t.attempts).sum();
        let limited: u64 = s.timeline.iter().map(|t| t.rate_limited).sum();
        let mut late: Vec<f64> = s.timeline[s.timeline.len() / 2..]
            .iter()
            .map(|t| t.limit)
            .collect();
        late.sort_by(f64::total_cmp);
        AdaptiveReport {
            algorithm: "aimd".into(),
            initial: s.cfg.initial,
            max: s.cfg.max,
            converged: late.get(late.len() / 2).copied().unwrap_or(s.limit),
            last: s.limit,
            cuts: s.cuts,
            share_429: if answers == 0 {
                0.0
            } else {
                limited as f64 / answers as f64
            },
            timeline: s.timeline.clone(),
        }
    }
}

impl State {
    /// Numbers the attempt about to be sent.
    fn send(&mut self) -> u64 {
        self.sends += 1;
        self.sends - 1
    }

    /// Cuts the limit by `factor`, unless attempt `seq` was sent before the last cut, and not
    /// below the floor (nor raising it to the floor).
    fn cut(&mut self, seq: u64, factor: f64) {
        if seq < self.cut_at {
            return;
        }
        let floor = self.floor().min(self.limit);
        self.limit = (self.limit * factor).max(floor).max(1.0);
        self.slow_start = false;
        self.cut_at = self.sends;
        self.cuts += 1;
    }

    /// Little's law's concurrency for the rate the headers allow, with headroom: below it the
    /// pacer, not the limit, would have to be what holds requests back. 1 with nothing known.
    fn floor(&self) -> f64 {
        let rate = [
            self.requests.map(|m| m.per_sec),
            self.tokens.map(|m| m.per_sec / self.token_cost),
        ]
        .into_iter()
        .flatten()
        .reduce(f64::min);
        match (rate, self.latency_s) {
            (Some(r), Some(l)) => (FLOOR_HEADROOM * r * l).max(1.0),
            _ => 1.0,
        }
    }

    /// Makes sure the timeline reaches step `k`, steps without events carrying the limit on.
    fn tick(&mut self, k: usize) {
        while self.timeline.len() <= k {
            let i = self.timeline.len();
            self.timeline.push(Tick {
                t_s: i as f64 * TICK.as_secs_f64(),
                limit: self.limit,
                attempts: 0,
                ok: 0,
                rate_limited: 0,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::RateLimit;

    fn limited(retry_after: Option<Duration>, rl: Option<RateLimit>) -> Result<Sample, RequestError> {
        Err(RequestError::Status {
            status: 429,
            retry_after,
            should_retry: None,
            body: String::new(),
            ratelimit: rl.map(Box::new),
        })
    }

    fn ok(rl: Option<RateLimit>) -> Result<Sample, RequestError> {
        Ok(Sample {
            ratelimit: rl.map(Box::new),
            ..Sample::default()
        })
    }

    #[tokio::test]
    async fn successes_grow_the_limit_and_a_429_halves_it_once_per_round_trip() {
        let c = Controller::new(AdaptiveConfig { initial: 4, max: 64 }, 1);
        let mut slots = Vec::new();
        for _ in 0..4 {
            slots.push(c.acquire().await);
        }
        // Slow start: each success adds a whole slot.
        for s in &slots {
            c.observe(s.seq, Instant::now(), &ok(None));
        }
        assert_eq!(c.limit(), 8.0);
        // Two 429s answering attempts sent before any cut: one cut, not two.
        c.observe(slots[0].seq, Instant::now(), &limited(None, None));
        c.observe(slots[1].seq, Instant::now(), &limited(None, None));
        assert_eq!(c.limit(), 4.0);
        drop(slots);
        // After the cut, additive increase: 1/limit per success.
        let s = c.acquire().await;
        let (a, b) = (c.acquire().await, c.acquire().await);
        c.observe(s.seq, Instant::now(), &ok(None));
        assert!((c.limit() - 4.25).abs() < 1e-9, "{}", c.limit());
        // A 429 to an attempt sent after the cut cuts again.
        c.observe(a.seq, Instant::now(), &limited(None, None));
        assert!((c.limit() - 2.125).abs() < 1e-9, "{}", c.limit());
        drop((a, b));
        let r = c.report();
        assert_eq!(r.cuts, 2);
        assert_eq!(r.timeline.iter().map(|t| t.attempts).sum::<u64>(), 8);
        assert!((r.share_429 - 3.0 / 8.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn the_limit_caps_slots_and_a_freed_slot_lets_the_next_in() {
        let c = Controller::new(AdaptiveConfig { initial: 2, max: 2 }, 1);
        let a = c.acquire().await;
        let _b = c.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(50), c.acquire()).await;
        assert!(third.is_err(), "a third slot under a limit of 2");
        drop(a);
        let third = tokio::time::timeout(Duration::from_secs(5), c.acquire()).await;
        assert!(third.is_ok(), "a freed slot goes to the waiter");
        c.observe(0, Instant::now(), &ok(None));
        assert_eq!(c.limit(), 2.0, "capped at max");
    }

    #[tokio::test]
    async fn retry_after_holds_every_new_attempt() {
        let c = Controller::new(AdaptiveConfig { initial: 8, max: 8 }, 1);
        let s = c.acquire().await;
        let t = Instant::now();
        c.observe(s.seq, t, &limited(Some(Duration::from_millis(300)), None));
        drop(s);
        let _ = c.acquire().await;
        assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
    }

    #[test]
    fn the_mirror_counts_refill_and_later_sends() {
        let t0 = Instant::now();
        // An answer to send #10 left 3 of a 20-request bucket, refilling 20/s (1200/min, full
        // again in 850 ms).
        let m = Mirror::new(10, t0, Some(1200), Some(3), Some(Duration::from_millis(850)), 1.0).unwrap();
        assert!((m.capacity - 20.0).abs() < 1e-9);
        // Five more sends since (#11..#15): 3 − 5 = −2 now; 100 ms later +2 refilled.
        assert!((m.available(t0, 16) + 2.0).abs() < 1e-9);
        assert!((m.available(t0 + Duration::from_millis(100), 16)).abs() < 1e-9);
        // One request needs 150 ms from t0.
        assert_eq!(m.wait(t0, 16, 1.0), Duration::from_millis(150));
        // Refill never goes past the bucket's size.
        assert!((m.available(t0 + Duration::from_secs(10), 11) - 20.0).abs() < 1e-9);
        // A tokens bucket: each later send takes its token charge, not one token. An answer to
        // #10 left 3 000 of 60 000 tokens/min (1 000/s); four sends of 500 tokens since leave
        // 1 000, and a fifth request needs no wait; six leave 0, and it waits 500 ms.
        let t = Mirror::new(10, t0, Some(60_000), Some(3_000), None, 500.0).unwrap();
        assert!((t.available(t0, 15) - 1_000.0).abs() < 1e-9);
        assert_eq!(t.wait(t0, 15, 500.0), Duration::ZERO);
        assert_eq!(t.wait(t0, 17, 500.0), Duration::from_millis(500));
    }

    /// Little's law's floor: 1200/min is 20/s; at 500 ms a request that needs 10 in flight,
    /// 12 with headroom. A success lifts the limit there at once, and a cut stops there.
    #[tokio::test]
    async fn the_limit_is_kept_at_what_the_allowed_rate_needs() {
        let c = Controller::new(AdaptiveConfig { initial: 1, max: 64 }, 1);
        let s = c.acquire().await;
        let rl = RateLimit {
            limit_requests: Some(1200),
            remaining_requests: Some(15),
            reset_requests: Some(Duration::from_millis(250)),
            ..RateLimit::default()
        };
        let sent = Instant::now() - Duration::from_millis(500);
        c.observe(s.seq, sent, &ok(Some(rl)));
        let limit = c.limit();
        // 12, plus the slow start's one (the slot was in use).
        assert!((12.9..13.1).contains(&limit), "{limit}");
        let later = c.acquire().await;
        c.observe(later.seq, Instant::now(), &limited(None, None));
        let limit = c.limit();
        assert!((11.9..12.1).contains(&limit), "a cut stops at the floor: {limit}");
    }

    #[tokio::test]
    async fn low_remaining_cuts_before_any_429() {
        let c = Controller::new(AdaptiveConfig { initial: 10, max: 64 }, 1);
        let s = c.acquire().await;
        let rl = RateLimit {
            limit_requests: Some(1200),
            remaining_requests: Some(1),
            reset_requests: Some(Duration::from_millis(950)),
            ..RateLimit::default()
        };
        c.observe(s.seq, Instant::now(), &ok(Some(rl)));
        assert_eq!(c.limit(), 9.0);
    }
}
