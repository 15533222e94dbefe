//! `--concurrency auto`: a concurrency limit that tunes itself to the target's rate limit.
//!
//! The controller is additive increase / multiplicative decrease (AIMD), the rule TCP uses, with
//! two inputs a rate-limited API gives that a latency-only limiter (Netflix's gradient) cannot
//! see:
//! - **429s** cut the limit in half, at most once per round trip (only an answer to a request
//!   sent after the last cut can cut again), and hold every new attempt until the
//!   `Retry-After` the answer asked for. A retry keeps its request's slot, but its attempt
//!   waits while the attempts on the wire fill the limit: requests refused together do not all
//!   retry past a cut.
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
//! bucket), and holds the next attempt until the estimate covers it. Between answers the
//! estimate runs as a bucket of its own: refilled as time passes, drawn on by each send.
//! Requests on the wire together (sent over several connections) are admitted in any order, so
//! an answer can miss an attempt sent before its request: an answer sets the estimate outright
//! only when its request was sent after the answer that last set it came (it was admitted later
//! for certain) and every attempt sent before it has been answered (one still on the wire may
//! reach the server after it: a new connection's first request, under slow start, after
//! requests sent later over open ones); any other answer can only lower it.
//!
//! A gradient limiter was not chosen because under a rate limit the latency of an admitted
//! request does not rise as the limit nears (the server refuses instead of queueing), so latency
//! carries no signal; the 429s and the headers do.
//!
//! The controller keeps a timeline in [`TICK`] steps (the limit, attempts, successes and 429s in
//! each), which the report and the `concurrency` chart show.

use crate::engine::stop::StopToken;
use crate::model::adaptive::TICK;

use crate::model::adaptive::{AdaptiveConfig, AdaptiveReport, Tick};

use std::collections::BTreeSet;
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
/// Requests the pacer keeps in the mirrored buckets (in tokens, as many requests' worth): an
/// answer's request is taken as admitted when it was sent, and a busy server admits it later,
/// with refill the mirror then counts twice. With one request's worth, 4.5–4.8 % of the
/// answers were 429s in `the_pacer_charges_each_send_its_tokens` run beside the rest of the
/// suite on two cores (0–1 % alone); with two, 0–0.3 %. Costs nothing once paced (the rate is
/// the refill rate whatever the bucket holds).
const RESERVE: f64 = 2.0;
/// Headroom over Little's law's concurrency (rate × latency) that cuts keep.
const FLOOR_HEADROOM: f64 = 1.2;
/// Weight of the newest success in the mean latency.
const LATENCY_WEIGHT: f64 = 0.05;
/// How often a send waiting for room under the limit looks again without being told (answers
/// and freed slots tell it at once).
const NO_ROOM_RECHECK: Duration = Duration::from_secs(1);
/// The longest a 429's `Retry-After` holds every new attempt: a minute, the longest
/// openai-python takes one as given. A server asking for a day held the whole run for a day.
const MAX_HOLD: Duration = Duration::from_secs(60);

/// The pacer's estimate of one server bucket.
#[derive(Debug, Clone, Copy)]
struct Mirror {
    /// Units in the bucket at `at`.
    level: f64,
    at: Instant,
    per_sec: f64,
    capacity: f64,
    /// What one attempt takes from the bucket: 1 request, or its token charge.
    per_send: f64,
    /// Attempts sent when the answer that last set `level` came: an answer to an attempt
    /// numbered from here on was admitted after that one's.
    set_at: u64,
}

/// One answer's word on a bucket.
#[derive(Debug, Clone, Copy)]
struct Answer {
    /// The send number of the attempt it answers, and when that was sent (≈ admitted).
    seq: u64,
    sent: Instant,
    /// An attempt sent before this one is still unanswered: it may have been admitted after
    /// this one, and `remaining` would then not count it.
    behind: bool,
    limit: Option<u64>,
    remaining: Option<u64>,
    reset: Option<Duration>,
}

impl Mirror {
    /// The bucket now after `answer`, `sends` attempts having been sent in all (each after the
    /// answered one taking `per_send`), folded into the estimate kept so far (`kept`). The
    /// bucket's size is the smallest `remaining + reset × rate` under the same limit: it is over
    /// the size when `reset` is rounded up (Anthropic writes whole seconds: up to a second's
    /// refill, a bucket of 20 taken for 40 at 1 200/min with a one-second window).
    fn after(
        kept: Option<Mirror>,
        answer: Answer,
        now: Instant,
        sends: u64,
        per_send: f64,
    ) -> Option<Mirror> {
        let (Some(limit), Some(remaining)) = (answer.limit, answer.remaining) else {
            return kept;
        };
        let (per_sec, remaining) = (limit as f64 / 60.0, remaining as f64);
        if per_sec <= 0.0 {
            return kept;
        }
        let kept = kept.filter(|k| k.per_sec == per_sec);
        // The smallest size any answer gave, never below what this one says is left.
        let capacity = kept
            .map_or(f64::INFINITY, |k| k.capacity)
            .min(remaining + answer.reset.unwrap_or_default().as_secs_f64() * per_sec)
            .max(remaining.max(1.0));
        let refilled = remaining + now.saturating_duration_since(answer.sent).as_secs_f64() * per_sec;
        // Capped after the later sends, not before: a bucket that was drawn on as it refilled
        // never reached its size (capping first makes an answer that took 1.5 s at 20/s say
        // 20 − 30 where the bucket holds what the answer said).
        let level = (refilled - sends.saturating_sub(answer.seq + 1) as f64 * per_send).min(capacity);
        let mirror = Mirror {
            level,
            at: now,
            per_sec,
            capacity,
            per_send,
            set_at: sends,
        };
        Some(match kept {
            Some(k) if answer.seq < k.set_at || answer.behind => {
                // On the wire with the answer that set the estimate, or with an attempt sent
                // before it and not answered yet: it may miss attempts admitted before it was,
                // so it only lowers the estimate.
                let k = Mirror { capacity, ..k };
                if level < k.available(now) { mirror } else { k }
            }
            _ => mirror,
        })
    }

    /// Units available now.
    fn available(&self, now: Instant) -> f64 {
        let refill = now.saturating_duration_since(self.at).as_secs_f64() * self.per_sec;
        (self.level + refill).min(self.capacity.max(self.level))
    }

    /// Takes one attempt's units.
    fn send(&mut self, now: Instant) {
        self.level = self.available(now) - self.per_send;
        self.at = now;
    }

    /// How long until `cost` units are available.
    fn wait(&self, now: Instant, cost: f64) -> Duration {
        let short = cost - self.available(now);
        if short <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(short / self.per_sec)
        }
    }

    /// What an answer's `remaining` leaves beyond the pacer's reserve, as a share of the size.
    fn share_left(&self, remaining: u64) -> f64 {
        (remaining as f64 - RESERVE).max(0.0) / self.capacity
    }
}

#[derive(Debug)]
struct State {
    cfg: AdaptiveConfig,
    limit: f64,
    slow_start: bool,
    /// Requests holding a slot.
    in_flight: u64,
    /// The send numbers of the attempts sent and not answered yet.
    on_wire: BTreeSet<u64>,
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
                on_wire: BTreeSet::new(),
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
        let Some(seq) = self.next_send(true, None).await else {
            unreachable!("next_send without a stop token always sends")
        };
        Slot {
            ctl: self.clone(),
            seq,
        }
    }

    /// Waits until there is room under the limit and the pacer allows an attempt, then numbers
    /// it; `None` when `stop` asks first. A new request counts the requests holding slots and
    /// takes one; a retry (its slot already held) counts the attempts on the wire.
    async fn next_send(&self, new_request: bool, stop: Option<&StopToken>) -> Option<u64> {
        loop {
            if stop.is_some_and(|s| s.requested().is_some()) {
                return None;
            }
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = {
                let mut s = self.lock();
                let using = if new_request {
                    s.in_flight
                } else {
                    s.on_wire.len() as u64
                };
                if (using as f64) < s.limit.floor().max(1.0) {
                    let now = Instant::now();
                    let wait = self.pace(&s, now);
                    if wait.is_zero() {
                        s.in_flight += u64::from(new_request);
                        return Some(s.send(now));
                    }
                    wait
                } else {
                    // Until an answer comes or a slot frees (both notify), or a stop.
                    NO_ROOM_RECHECK
                }
            };
            let until = Instant::now() + wait;
            let came = match stop {
                Some(stop) => tokio::select! {
                    came = stop.sleep_until(until) => came,
                    _ = &mut notified => true,
                },
                None => tokio::select! {
                    _ = tokio::time::sleep_until(until.into()) => true,
                    _ = &mut notified => true,
                },
            };
            if !came {
                return None;
            }
        }
    }

    /// How long the pacer holds the next attempt: a 429's hold, or until the mirrored buckets
    /// cover one request.
    fn pace(&self, s: &State, now: Instant) -> Duration {
        let hold = s
            .hold_until
            .map_or(Duration::ZERO, |h| h.saturating_duration_since(now));
        let req = s.requests.map_or(Duration::ZERO, |m| m.wait(now, 1.0 + RESERVE));
        // The same reserve in tokens: a request's worth.
        let tok = s.tokens.map_or(Duration::ZERO, |m| {
            m.wait(now, (s.token_cost * (1.0 + RESERVE)).min(m.capacity))
        });
        hold.max(req).max(tok)
    }

    /// Waits until fewer attempts than the limit are on the wire and the pacer allows a retry's
    /// attempt (its slot is already held), then numbers it; `None` when a stop came first.
    /// Without this, requests refused together retry together at the one moment their
    /// `Retry-After` names, and all but one are refused again.
    pub(crate) async fn before_retry(&self, stop: &StopToken) -> Option<u64> {
        self.next_send(false, Some(stop)).await
    }

    /// Takes in the answer to attempt `seq`, sent at `sent`.
    pub(crate) fn observe(&self, seq: u64, sent: Instant, result: &Result<Sample, RequestError>) {
        let now = Instant::now();
        let mut s = self.lock();
        s.on_wire.remove(&seq);
        let behind = s.on_wire.first().is_some_and(|&first| first < seq);
        let rl = match result {
            Ok(sample) => sample.ratelimit.as_deref().copied(),
            Err(RequestError::Status { ratelimit, .. }) => ratelimit.as_deref().copied(),
            Err(_) => None,
        };
        if let Some(rl) = rl {
            let answer = |limit, remaining, reset| Answer {
                seq,
                sent,
                behind,
                limit,
                remaining,
                reset,
            };
            let (sends, cost) = (s.sends, s.token_cost);
            let requests = answer(rl.limit_requests, rl.remaining_requests, rl.reset_requests);
            s.requests = Mirror::after(s.requests, requests, now, sends, 1.0);
            let tokens = answer(rl.limit_tokens, rl.remaining_tokens, rl.reset_tokens);
            s.tokens = Mirror::after(s.tokens, tokens, now, sends, cost);
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
                let until = now + (*ra).min(MAX_HOLD);
                s.hold_until = Some(s.hold_until.map_or(until, |h| h.max(until)));
            }
            s.cut(seq, CUT_429);
        } else if ok {
            let l = now.saturating_duration_since(sent).as_secs_f64();
            s.latency_s = Some(s.latency_s.map_or(l, |m| m + LATENCY_WEIGHT * (l - m)));
            let pressure = rl.is_some_and(|rl| {
                [
                    (s.requests, rl.remaining_requests),
                    (s.tokens, rl.remaining_tokens),
                ]
                .into_iter()
                .any(|(m, left)| m.zip(left).is_some_and(|(m, left)| m.share_left(left) < PRESSURE))
            });
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
    fn send(&mut self, now: Instant) -> u64 {
        for m in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            m.send(now);
        }
        self.on_wire.insert(self.sends);
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

    /// A `Retry-After` of a day holds new attempts for a minute at most.
    #[test]
    fn a_long_retry_after_holds_a_minute_at_most() {
        let c = Controller::new(AdaptiveConfig { initial: 8, max: 8 }, 1);
        c.observe(
            0,
            Instant::now(),
            &limited(Some(crate::model::retry::MAX_RETRY_AFTER), None),
        );
        let hold = c.pace(&c.lock(), Instant::now());
        assert!(hold > Duration::from_secs(59) && hold <= MAX_HOLD, "{hold:?}");
    }

    fn answer(seq: u64, sent: Instant, limit: u64, remaining: u64, reset: Option<Duration>) -> Answer {
        Answer {
            seq,
            sent,
            behind: false,
            limit: Some(limit),
            remaining: Some(remaining),
            reset,
        }
    }

    /// A retry holds its request's slot, but its attempt goes out only while fewer attempts
    /// than the limit are on the wire: after a cut, requests refused together do not all retry
    /// at once past it.
    #[tokio::test]
    async fn a_retry_waits_while_the_attempts_on_the_wire_fill_the_limit() {
        let c = Controller::new(AdaptiveConfig { initial: 2, max: 2 }, 1);
        let (a, _b) = (c.acquire().await, c.acquire().await);
        let stop = StopToken::new();
        let retry = tokio::time::timeout(Duration::from_millis(100), c.before_retry(&stop)).await;
        assert!(
            retry.is_err(),
            "a retry went out with two attempts on the wire under a limit of 2"
        );
        c.observe(a.seq, Instant::now(), &ok(None));
        let retry = tokio::time::timeout(Duration::from_secs(5), c.before_retry(&stop)).await;
        assert!(
            matches!(retry, Ok(Some(2))),
            "an answer lets the retry out: {retry:?}"
        );
    }

    #[test]
    fn the_mirror_counts_refill_and_later_sends() {
        let t0 = Instant::now();
        // An answer to send #10 left 3 of a 20-request bucket, refilling 20/s (1200/min, full
        // again in 850 ms); five more sends since (#11..#15): 3 − 5 = −2 now.
        let full_in = Some(Duration::from_millis(850));
        let m = Mirror::after(None, answer(10, t0, 1200, 3, full_in), t0, 16, 1.0).unwrap();
        assert!((m.capacity - 20.0).abs() < 1e-9);
        assert!((m.available(t0) + 2.0).abs() < 1e-9);
        // 100 ms later +2 refilled; one request needs 150 ms from t0.
        assert!((m.available(t0 + Duration::from_millis(100))).abs() < 1e-9);
        assert_eq!(m.wait(t0, 1.0), Duration::from_millis(150));
        // A send takes one; refill never goes past the bucket's size.
        let mut sent = m;
        sent.send(t0 + Duration::from_millis(100));
        assert!((sent.available(t0 + Duration::from_millis(100)) + 1.0).abs() < 1e-9);
        assert!((m.available(t0 + Duration::from_secs(10)) - 20.0).abs() < 1e-9);
        // A tokens bucket: each later send takes its token charge, not one token. An answer to
        // #10 left 3 000 of 60 000 tokens/min (1 000/s); four sends of 500 tokens since leave
        // 1 000, and a fifth request needs no wait; six leave 0, and it waits 500 ms.
        let t = Mirror::after(None, answer(10, t0, 60_000, 3_000, None), t0, 15, 500.0).unwrap();
        assert!((t.available(t0) - 1_000.0).abs() < 1e-9);
        assert_eq!(t.wait(t0, 500.0), Duration::ZERO);
        let t = Mirror::after(None, answer(10, t0, 60_000, 3_000, None), t0, 17, 500.0).unwrap();
        assert_eq!(t.wait(t0, 500.0), Duration::from_millis(500));
        // An answer without the headers leaves the estimate as it was.
        let bare = Answer {
            limit: None,
            ..answer(11, t0, 1200, 0, None)
        };
        let kept = Mirror::after(Some(m), bare, t0, 16, 1.0).unwrap();
        assert!((kept.available(t0) + 2.0).abs() < 1e-9);
    }

    /// Sends #0..#9 go out together and the server admits them in any order: #9 first (19 of
    /// 20 left), #0 last (10 left). Whatever order the answers come in, the estimate is not
    /// above the 10 the bucket holds (the newest request's answer alone says 19); it is below
    /// (#0's answer counts #1..#9 twice) until an answer to a later request sets it outright,
    /// up as well as down.
    #[test]
    fn requests_on_the_wire_together_are_never_taken_above_their_lowest_count() {
        let t0 = Instant::now();
        let full_in = |left: u64| Some(Duration::from_millis((20 - left) * 50));
        for order in [[9, 0], [0, 9]] {
            let mut m = None;
            for seq in order {
                let left = if seq == 9 { 19 } else { 10 };
                m = Mirror::after(m, answer(seq, t0, 1200, left, full_in(left)), t0, 10, 1.0);
            }
            let m = m.unwrap();
            assert!(m.available(t0) <= 10.0, "{order:?}: {}", m.available(t0));
        }
        // #10, sent after those answers came, was admitted after them: its 15 (refilled while
        // it was on the wire) is taken as it is.
        let m = Mirror::after(None, answer(0, t0, 1200, 10, full_in(10)), t0, 10, 1.0);
        let m = Mirror::after(m, answer(10, t0, 1200, 15, full_in(15)), t0, 11, 1.0).unwrap();
        assert!((m.available(t0) - 15.0).abs() < 1e-9, "{}", m.available(t0));
    }

    /// An answer that took 1.5 s to a request sent with 2 of 20 left, while the pacer sent 30
    /// more at the refill rate (20/s): the bucket holds 2 still, not the 20 − 30 that capping the
    /// refill before the sends would say.
    #[test]
    fn a_slow_answer_counts_the_refill_its_sends_used() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_millis(1500);
        let m = Mirror::after(
            None,
            answer(0, t0, 1200, 2, Some(Duration::from_millis(900))),
            now,
            31,
            1.0,
        );
        let left = m.unwrap().available(now);
        assert!((left - 2.0).abs() < 1e-9, "{left}");
    }

    /// Resets rounded up to the whole second (Anthropic's) put up to a second's refill on the
    /// size `remaining + reset × rate` gives; the smallest estimate is kept.
    #[test]
    fn the_bucket_size_is_the_smallest_estimate() {
        let t0 = Instant::now();
        // 20 requests a second, bucket 20: 19 left is full again in 50 ms, written as 1 s (39);
        // 2 left in 900 ms, written as 1 s (22); 10 left in 500 ms, written as 1 s (30).
        let mut m = None;
        for (seq, left) in [(0, 19), (1, 2), (2, 10)] {
            let rounded = Some(Duration::from_secs(1));
            m = Mirror::after(m, answer(seq, t0, 1200, left, rounded), t0, seq + 1, 1.0);
        }
        let m = m.unwrap();
        assert!((m.capacity - 22.0).abs() < 1e-9, "{}", m.capacity);
        assert!((m.available(t0 + Duration::from_secs(60)) - 22.0).abs() < 1e-9);
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

    /// The trace of a 429 burst under slow start: #1 and #2 went out on new connections, #3
    /// over an open one, and the server admitted #3 first (18 of 20 left); #1 and #2 came after
    /// (16). #3's answer, sent after the answer that set the estimate came, still does not set
    /// it outright while #1 and #2 are unanswered: it would count 18 where the bucket holds 16.
    /// Once every earlier attempt has been answered, an answer sets it up as well as down.
    #[tokio::test]
    async fn an_answer_with_earlier_attempts_unanswered_only_lowers_the_estimate() {
        let c = Controller::new(AdaptiveConfig { initial: 8, max: 8 }, 1);
        let rl = |remaining| {
            Some(RateLimit {
                limit_requests: Some(1200),
                remaining_requests: Some(remaining),
                reset_requests: Some(Duration::from_millis(50 * (20 - remaining))),
                ..RateLimit::default()
            })
        };
        let now = Instant::now();
        let first = c.acquire().await;
        c.observe(first.seq, now, &ok(rl(19)));
        let slots = [c.acquire().await, c.acquire().await, c.acquire().await];
        let level = |c: &Controller| c.lock().requests.map(|m| m.available(now)).unwrap();
        assert!((level(&c) - 16.0).abs() < 0.1, "{}", level(&c));
        c.observe(slots[2].seq, now, &ok(rl(18)));
        assert!(
            level(&c) <= 16.1,
            "#3 raised it to {} with #1, #2 unanswered",
            level(&c)
        );
        c.observe(slots[0].seq, now, &ok(rl(16)));
        c.observe(slots[1].seq, now, &ok(rl(16)));
        let next = c.acquire().await;
        c.observe(next.seq, now, &ok(rl(17)));
        assert!(
            (level(&c) - 17.0).abs() < 0.1,
            "every earlier one answered: {}",
            level(&c)
        );
    }
}
