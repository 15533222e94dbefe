//! The requests-per-minute and tokens-per-minute limiter: two token buckets with continuous
//! refill, as OpenAI's headers show it works (`reset = (limit − remaining) × 60 s / limit`).
//!
//! A request is charged 1 request and `prompt estimate + max_tokens × n` tokens up front. If
//! either bucket cannot cover it, nothing is charged and the request gets a 429 whose
//! `Retry-After` is exactly when both buckets will cover it again.

use std::time::{Duration, Instant};

/// One bucket: `capacity` units, refilled at `capacity` per minute.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    /// The per-minute limit, as the headers state it.
    limit: u64,
    level: f64,
    per_sec: f64,
    last: Instant,
}

impl Bucket {
    fn new(per_minute: u64, window: Duration, now: Instant) -> Self {
        let per_sec = per_minute as f64 / 60.0;
        // At least one unit, so a tiny window still lets requests through one by one.
        let capacity = (per_sec * window.as_secs_f64()).max(1.0);
        Bucket {
            capacity,
            level: capacity,
            per_sec,
            limit: per_minute,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.level = (self.level + dt * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// Time until `cost` units are available (zero when they are now).
    fn wait_for(&self, cost: f64) -> Duration {
        let deficit = cost - self.level;
        if deficit <= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(deficit / self.per_sec)
        }
    }

    fn headers(&self) -> BucketState {
        BucketState {
            limit: self.limit,
            remaining: self.level.floor().max(0.0) as u64,
            reset: Duration::from_secs_f64(((self.capacity - self.level) / self.per_sec).max(0.0)),
        }
    }
}

/// What one bucket looks like after a decision, for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketState {
    /// `x-ratelimit-limit-*`.
    pub limit: u64,
    /// `x-ratelimit-remaining-*`.
    pub remaining: u64,
    /// `x-ratelimit-reset-*`: time until the bucket is full again.
    pub reset: Duration,
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKind {
    /// The RPM bucket.
    Requests,
    /// The TPM bucket.
    Tokens,
}

/// The limiter's answer for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Charged and let through.
    Admitted,
    /// Refused; nothing charged. `retry_after` is when both buckets cover the cost again.
    Limited {
        /// The bucket with the longer wait.
        kind: LimitKind,
        /// The limit of that bucket.
        limit: u64,
        /// What it had left (rounded down).
        remaining: u64,
        /// What the request asked of it.
        requested: u64,
        /// Exact time until the request would be admitted.
        retry_after: Duration,
    },
    /// The request alone costs more tokens than the TPM limit: retrying can never succeed.
    TooLarge {
        /// The TPM limit.
        limit: u64,
        /// Tokens requested.
        requested: u64,
    },
}

/// The RPM and TPM buckets (either may be off), and the steps of a changing RPM limit.
#[derive(Debug, Clone)]
pub struct Limiter {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    /// `--rpm-schedule`: from each offset on (since `start`), the RPM limit is the step's.
    steps: Vec<RpmStep>,
    /// The step in force (an index into `steps`).
    step: usize,
    /// When the schedule's clock started (the limiter's creation or the mock's reset).
    start: Instant,
    window: Duration,
}

/// One step of a changing RPM limit: from `at` after the start, `rpm` requests per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpmStep {
    /// Offset from the start of the run (the mock's start, or its last reset).
    pub at: Duration,
    /// The RPM limit from then on.
    pub rpm: u64,
}

impl std::fmt::Display for RpmStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", crate::latency::format_duration(self.at), self.rpm)
    }
}

/// Parses `0s:1200,20s:300,40s:1200`: offsets in increasing order, the first `0s`, each limit
/// at least 1.
pub fn parse_rpm_schedule(s: &str) -> Result<Vec<RpmStep>, String> {
    let mut steps: Vec<RpmStep> = Vec::new();
    for part in s.split(',').map(str::trim) {
        let (at, rpm) = part
            .split_once(':')
            .ok_or_else(|| format!("'{part}' is not OFFSET:RPM (e.g. 20s:300)"))?;
        let at = crate::latency::parse_duration(at.trim()).map_err(|e| format!("'{part}': {e}"))?;
        let rpm: u64 = rpm.trim().parse().ok().filter(|&r| r > 0).ok_or_else(|| {
            format!("'{part}': the limit must be a whole number of requests per minute, at least 1")
        })?;
        match steps.last() {
            None if !at.is_zero() => {
                return Err(format!("'{part}': the first step starts at 0s"));
            }
            Some(prev) if at <= prev.at => {
                return Err(format!("'{part}': offsets must increase"));
            }
            _ => {}
        }
        steps.push(RpmStep { at, rpm });
    }
    if steps.is_empty() {
        return Err("empty schedule".into());
    }
    Ok(steps)
}

/// Header values of both buckets after a decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimiterState {
    /// The RPM bucket, if limited.
    pub requests: Option<BucketState>,
    /// The TPM bucket, if limited.
    pub tokens: Option<BucketState>,
}

impl Limiter {
    /// A limiter with these per-minute limits, holding `window` worth of each (at most a
    /// minute); `None` when both are off.
    pub fn new(rpm: Option<u64>, tpm: Option<u64>, window: Duration, now: Instant) -> Option<Self> {
        if rpm.is_none() && tpm.is_none() {
            return None;
        }
        Some(Limiter {
            requests: rpm.map(|r| Bucket::new(r, window, now)),
            tokens: tpm.map(|t| Bucket::new(t, window, now)),
            steps: Vec::new(),
            step: 0,
            start: now,
            window,
        })
    }

    /// A limiter whose RPM limit follows `steps` (the first at 0s) from `now` on; `tpm` as in
    /// [`Limiter::new`].
    pub fn scheduled(steps: Vec<RpmStep>, tpm: Option<u64>, window: Duration, now: Instant) -> Option<Self> {
        let first = steps.first().map(|s| s.rpm);
        let mut l = Limiter::new(first, tpm, window, now)?;
        l.steps = steps;
        Some(l)
    }

    /// Moves to the step in force at `now`: the bucket takes the new limit's size and refill
    /// rate and keeps what it holds, up to its new size.
    fn follow_schedule(&mut self, now: Instant) {
        let since = now.saturating_duration_since(self.start);
        let step = self.steps.iter().rposition(|s| s.at <= since).unwrap_or(0);
        if step == self.step || self.steps.is_empty() {
            return;
        }
        self.step = step;
        if let Some(b) = self.requests.as_mut() {
            b.refill(now);
            let level = b.level;
            *b = Bucket::new(self.steps[step].rpm, self.window, now);
            b.level = level.min(b.capacity);
        }
    }

    /// Decides on a request costing `tokens` tokens at `now`, charging it if admitted.
    pub fn admit(&mut self, tokens: u64, now: Instant) -> (Admission, LimiterState) {
        self.follow_schedule(now);
        for b in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            b.refill(now);
        }
        let cost_t = tokens as f64;
        let decision = if let Some(t) = self.tokens.as_ref().filter(|t| cost_t > t.capacity) {
            Admission::TooLarge {
                limit: t.capacity as u64,
                requested: tokens,
            }
        } else {
            let wait_r = self
                .requests
                .as_ref()
                .map(|b| b.wait_for(1.0))
                .unwrap_or_default();
            let wait_t = self
                .tokens
                .as_ref()
                .map(|b| b.wait_for(cost_t))
                .unwrap_or_default();
            if wait_r.is_zero() && wait_t.is_zero() {
                if let Some(b) = self.requests.as_mut() {
                    b.level -= 1.0;
                }
                if let Some(b) = self.tokens.as_mut() {
                    b.level -= cost_t;
                }
                Admission::Admitted
            } else {
                let (kind, bucket, requested) = if wait_r >= wait_t {
                    (LimitKind::Requests, self.requests.as_ref(), 1)
                } else {
                    (LimitKind::Tokens, self.tokens.as_ref(), tokens)
                };
                let state = bucket.map(Bucket::headers);
                Admission::Limited {
                    kind,
                    limit: state.map(|s| s.limit).unwrap_or_default(),
                    remaining: state.map(|s| s.remaining).unwrap_or_default(),
                    requested,
                    retry_after: wait_r.max(wait_t),
                }
            }
        };
        let state = LimiterState {
            requests: self.requests.as_ref().map(Bucket::headers),
            tokens: self.tokens.as_ref().map(Bucket::headers),
        };
        (decision, state)
    }
}

/// Formats a duration as Go's `time.Duration.String()` does, which is what OpenAI's
/// `x-ratelimit-reset-*` headers use: `12ms`, `1.5ms`, `8.64s`, `6m0s`, `1h0m0s`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", trim_decimal(ns, 1_000));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", trim_decimal(ns, 1_000_000));
    }
    let total_s = ns / 1_000_000_000;
    let frac_ns = ns % 1_000_000_000;
    let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
    let secs = trim_decimal(u128::from(s as u64) * 1_000_000_000 + frac_ns, 1_000_000_000);
    if h > 0 {
        format!("{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{m}m{secs}s")
    } else {
        format!("{secs}s")
    }
}

/// `value / unit` with the fractional part written without trailing zeros.
fn trim_decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let frac = value % unit;
    if frac == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_match_go_formatting() {
        assert_eq!(go_duration(Duration::from_millis(12)), "12ms");
        assert_eq!(go_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(go_duration(Duration::from_millis(8640)), "8.64s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        // Each unit from its first value on: 999ns, 1µs, 1.5µs, 999µs, 1ms.
        assert_eq!(go_duration(Duration::from_nanos(500)), "500ns");
        assert_eq!(go_duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(go_duration(Duration::from_nanos(1_000)), "1µs");
        assert_eq!(go_duration(Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(go_duration(Duration::from_micros(999)), "999µs");
        assert_eq!(go_duration(Duration::from_millis(1)), "1ms");
        assert_eq!(go_duration(Duration::from_millis(999)), "999ms");
    }

    #[test]
    fn rpm_bucket_admits_its_burst_then_refuses_with_exact_retry_after() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Some(60), None, Duration::from_secs(60), t0).unwrap();
        for i in 0..60 {
            let (a, s) = l.admit(10, t0);
            assert_eq!(a, Admission::Admitted, "request {i}");
            assert_eq!(s.requests.unwrap().remaining, 59 - i);
        }
        let (a, s) = l.admit(10, t0);
        let Admission::Limited {
            kind,
            retry_after,
            remaining,
            ..
        } = a
        else {
            panic!("{a:?}")
        };
        assert_eq!(kind, LimitKind::Requests);
        assert_eq!(remaining, 0);
        // 60/min refills one request per second.
        assert_eq!(retry_after, Duration::from_secs(1));
        assert_eq!(s.requests.unwrap().reset, Duration::from_secs(60));
        // Half a second later it is still refused, with half a second to go.
        let (a, _) = l.admit(10, t0 + Duration::from_millis(500));
        assert!(
            matches!(a, Admission::Limited { retry_after, .. } if retry_after == Duration::from_millis(500))
        );
        // At the promised time it is admitted.
        let (a, _) = l.admit(10, t0 + Duration::from_secs(1));
        assert_eq!(a, Admission::Admitted);
    }

    #[test]
    fn tpm_bucket_charges_tokens_and_refuses_oversized_requests() {
        let t0 = Instant::now();
        let mut l = Limiter::new(None, Some(600), Duration::from_secs(60), t0).unwrap();
        assert_eq!(l.admit(500, t0).0, Admission::Admitted);
        let (a, _) = l.admit(200, t0);
        // 100 tokens short at 10 tokens/s.
        assert!(
            matches!(a, Admission::Limited { kind: LimitKind::Tokens, retry_after, .. } if retry_after == Duration::from_secs(10))
        );
        assert!(matches!(l.admit(601, t0).0, Admission::TooLarge { .. }));
    }

    /// The headers' values, not only their presence: after 5 of a 20-request bucket refilling
    /// 20/s, 15 remain and it is full again in 250 ms; a 600-token bucket refilling 10/s.
    #[test]
    fn header_values_are_exact() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Some(1200), Some(600), Duration::from_secs(1), t0).unwrap();
        for _ in 0..5 {
            assert_eq!(l.admit(1, t0).0, Admission::Admitted);
        }
        let (_, s) = l.admit(1, t0);
        let r = s.requests.unwrap();
        assert_eq!((r.limit, r.remaining), (1200, 14));
        assert_eq!(r.reset, Duration::from_millis(300));
        let t = s.tokens.unwrap();
        // 600/min with a 1 s window holds 10 tokens; 6 spent.
        assert_eq!((t.limit, t.remaining), (600, 4));
        assert_eq!(t.reset, Duration::from_millis(600));
    }

    /// A request costing exactly the token bucket's size is admitted (once full); one token more
    /// can never be.
    #[test]
    fn a_request_the_size_of_the_bucket_is_admitted() {
        let t0 = Instant::now();
        let mut l = Limiter::new(None, Some(600), Duration::from_secs(60), t0).unwrap();
        assert_eq!(l.admit(600, t0).0, Admission::Admitted);
        let mut l = Limiter::new(None, Some(600), Duration::from_secs(60), t0).unwrap();
        assert!(matches!(
            l.admit(601, t0).0,
            Admission::TooLarge {
                limit: 600,
                requested: 601
            }
        ));
    }

    #[test]
    fn a_scheduled_limit_changes_size_and_refill_at_each_step() {
        let t0 = Instant::now();
        let steps = parse_rpm_schedule("0s:1200, 10s:300,20s:1200").unwrap();
        assert_eq!(
            steps[1],
            RpmStep {
                at: Duration::from_secs(10),
                rpm: 300
            }
        );
        let mut l = Limiter::scheduled(steps, None, Duration::from_secs(1), t0).unwrap();
        let burst = |l: &mut Limiter, at| {
            (0..50)
                .filter(|_| l.admit(1, at).0 == Admission::Admitted)
                .count()
        };
        // 1200/min with a 1 s window: a burst of 20.
        assert_eq!(burst(&mut l, t0), 20);
        // From 10 s on, 300/min: the bucket holds 5 and states the new limit.
        let at = t0 + Duration::from_secs(10);
        assert_eq!(burst(&mut l, at), 5);
        let (a, s) = l.admit(1, at);
        assert!(
            matches!(a, Admission::Limited { limit: 300, retry_after, .. } if retry_after == Duration::from_millis(200))
        );
        assert_eq!(s.requests.unwrap().limit, 300);
        // Back to 1200/min at 20 s: the bucket keeps the 5 it held and refills at 20/s, to its
        // full 20 a second later.
        assert_eq!(burst(&mut l, t0 + Duration::from_secs(20)), 5);
        assert_eq!(burst(&mut l, t0 + Duration::from_secs(21)), 20);
    }

    #[test]
    fn rpm_schedules_are_checked() {
        assert!(parse_rpm_schedule("5s:100").unwrap_err().contains("0s"));
        assert!(
            parse_rpm_schedule("0s:100,5s:10,5s:20")
                .unwrap_err()
                .contains("increase")
        );
        assert!(parse_rpm_schedule("0s:0").unwrap_err().contains("at least 1"));
        assert!(parse_rpm_schedule("0s").unwrap_err().contains("OFFSET:RPM"));
        let s = parse_rpm_schedule("0s:1200,1.5m:300").unwrap();
        let text: Vec<String> = s.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["0ms:1200", "90s:300"]);
    }

    #[test]
    fn a_one_second_window_holds_a_sixtieth_of_the_minute() {
        let t0 = Instant::now();
        let mut l = Limiter::new(Some(1200), None, Duration::from_secs(1), t0).unwrap();
        let admitted = (0..50)
            .filter(|_| l.admit(1, t0).0 == Admission::Admitted)
            .count();
        assert_eq!(admitted, 20);
        // 20 per second refill: one more every 50 ms; headers still state the minute's limit.
        let (a, s) = l.admit(1, t0 + Duration::from_millis(50));
        assert_eq!(a, Admission::Admitted);
        assert_eq!(s.requests.unwrap().limit, 1200);
    }
}
