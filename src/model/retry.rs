//! One retry policy for every strategy: a pure function from (attempt number, failure,
//! Retry-After) to "wait this long" or "give up". The blocking runners sleep with
//! `std::thread::sleep`, the async ones with `tokio::time::sleep`; the decision is the same code.
//!
//! Presets reproduce the two clients the article's readers use:
//! - `aiohttp`: the article's `ExponentialRetry(attempts=5, start_timeout=1, max_timeout=30,
//!   factor=2, statuses=[429,500,502,503,504])`. aiohttp_retry sleeps `min(start·factor^k, max)`
//!   after attempt k (k from 1, so the first wait is 2 s, never `start`), retries every 5xx
//!   (`retry_all_server_errors`), ignores Retry-After, has no jitter and does not retry
//!   exceptions (timeouts, resets) unless told to.
//! - `openai`: openai-python's defaults: 2 retries (3 attempts); honours `retry-after-ms`, then
//!   `Retry-After`, when 0 < wait ≤ 120 s, exactly and without jitter; gives up when Retry-After
//!   exceeds 120 s; obeys `x-should-retry`; retries 408, 409, 429, ≥ 500, timeouts and connection
//!   errors; otherwise waits `min(0.5·2^retries, 8) · (1 − 0.25·U[0,1))`.
//! - `anthropic`: the `anthropic` Python SDK's defaults (2.17.0, `_base_client.py`): the same
//!   attempts, statuses, backoff and `x-should-retry` as openai-python, but any positive
//!   `retry-after-ms`/`Retry-After` is obeyed, capped at 4 294 967 s rather than given up on.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::model::outcome::RequestError;

/// The longest Retry-After the `anthropic` SDK waits (`time.sleep`'s limit on some platforms):
/// longer ones wait this long.
pub const ANTHROPIC_RETRY_AFTER_CAP: Duration = Duration::from_secs(4_294_967);

/// How backoff delays are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Exact delays.
    None,
    /// Multiply by `1 − f·U[0,1)` (openai-python uses f = 0.25).
    Reduce(f64),
    /// Uniform in `[0, delay]` ("full jitter").
    Full,
}

/// The retry policy shared by every strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Preset name it came from (`none`, `aiohttp`, `openai`, or `custom`).
    pub name: String,
    /// Total attempts including the first (1 = never retry).
    pub attempts: u32,
    /// Base delay.
    #[serde(with = "mock_server::latency::duration_str")]
    pub initial: Duration,
    /// Growth factor per retry.
    pub factor: f64,
    /// Cap on the backoff delay.
    #[serde(with = "mock_server::latency::duration_str")]
    pub max_delay: Duration,
    /// Exponent of the first retry's delay: aiohttp_retry uses 1 (`start·factor¹`), others 0.
    pub first_exponent: u32,
    /// Randomisation of backoff delays.
    pub jitter: Jitter,
    /// Statuses retried.
    pub statuses: Vec<u16>,
    /// Retry every 5xx, listed or not.
    pub retry_server_errors: bool,
    /// Retry timeouts and transport errors.
    pub retry_transport: bool,
    /// Honour Retry-After up to this cap (and give up above it); `None` ignores the header.
    #[serde(default, with = "opt_duration")]
    pub retry_after_cap: Option<Duration>,
    /// Obey `x-should-retry: true|false`.
    pub obey_should_retry: bool,
    /// A Retry-After above the cap waits the cap instead of giving up (the `anthropic` SDK).
    #[serde(default)]
    pub retry_after_clamp: bool,
}

/// A named preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RetryPreset {
    /// One attempt, no retries.
    None,
    /// aiohttp_retry's ExponentialRetry as the article configures it.
    Aiohttp,
    /// openai-python's defaults.
    Openai,
    /// The `anthropic` Python SDK's defaults.
    Anthropic,
}

impl RetryPolicy {
    /// The policy of a preset.
    pub fn preset(p: RetryPreset) -> RetryPolicy {
        match p {
            RetryPreset::None => RetryPolicy {
                name: "none".into(),
                attempts: 1,
                initial: Duration::ZERO,
                factor: 1.0,
                max_delay: Duration::ZERO,
                first_exponent: 0,
                jitter: Jitter::None,
                statuses: vec![],
                retry_server_errors: false,
                retry_transport: false,
                retry_after_cap: None,
                obey_should_retry: false,
                retry_after_clamp: false,
            },
            RetryPreset::Aiohttp => RetryPolicy {
                name: "aiohttp".into(),
                attempts: 5,
                initial: Duration::from_secs(1),
                factor: 2.0,
                max_delay: Duration::from_secs(30),
                first_exponent: 1,
                jitter: Jitter::None,
                statuses: vec![429, 500, 502, 503, 504],
                retry_server_errors: true,
                retry_transport: false,
                retry_after_cap: None,
                obey_should_retry: false,
                retry_after_clamp: false,
            },
            RetryPreset::Openai => RetryPolicy {
                name: "openai".into(),
                attempts: 3,
                initial: Duration::from_millis(500),
                factor: 2.0,
                max_delay: Duration::from_secs(8),
                first_exponent: 0,
                jitter: Jitter::Reduce(0.25),
                statuses: vec![408, 409, 429],
                retry_server_errors: true,
                retry_transport: true,
                retry_after_cap: Some(Duration::from_secs(120)),
                obey_should_retry: true,
                retry_after_clamp: false,
            },
            RetryPreset::Anthropic => RetryPolicy {
                name: "anthropic".into(),
                retry_after_cap: Some(ANTHROPIC_RETRY_AFTER_CAP),
                retry_after_clamp: true,
                ..RetryPolicy::preset(RetryPreset::Openai)
            },
        }
    }

    /// The longest wait before a retry the policy allows: the backoff's cap, or a Retry-After
    /// up to its cap when the policy obeys one (zero when it never retries).
    pub fn longest_wait(&self) -> Duration {
        if self.attempts <= 1 {
            return Duration::ZERO;
        }
        self.max_delay.max(self.retry_after_cap.unwrap_or(Duration::ZERO))
    }

    /// The longest a request may take under this policy with `timeout` per attempt: every
    /// attempt to its deadline and every wait the longest (a Retry-After up to its cap).
    /// `said`: the longest wait a client leaves unsaid, when it says the longer ones (an
    /// external client's `wait` line): each wait then counts at most that (or the backoff's
    /// cap), and the wait said extends the silence allowed (see `external::watch`).
    pub(crate) fn worst_case(&self, timeout: Duration, said: Option<Duration>) -> Duration {
        let longest = self.longest_wait();
        let longest = said.map_or(longest, |s| longest.min(self.max_delay.max(s)));
        let waits = f64::from(self.attempts.saturating_sub(1)) * longest.as_secs_f64();
        timeout * self.attempts.max(1) + Duration::from_secs_f64(waits.min(1e6))
    }

    /// Whether `err` may be retried at all (ignoring the attempt budget).
    pub fn is_retryable(&self, err: &RequestError) -> bool {
        match err {
            RequestError::Status {
                status,
                should_retry,
                retry_after,
                ..
            } => {
                if self.obey_should_retry
                    && let Some(b) = should_retry
                {
                    return *b;
                }
                if let (Some(cap), Some(ra)) = (self.retry_after_cap, retry_after)
                    && ra > &cap
                    && !self.retry_after_clamp
                {
                    // openai-python: a server asking for more than the cap is not retried.
                    return false;
                }
                self.statuses.contains(status) || (self.retry_server_errors && *status >= 500)
            }
            RequestError::Timeout | RequestError::Transport { .. } => self.retry_transport,
            // A broken body or stream error event is a server fault, retried like a 5xx.
            RequestError::Decode(_) | RequestError::StreamError(_) => self.retry_server_errors,
            // The same request would bring the same oversized body again.
            RequestError::TooLarge { .. } => false,
        }
    }

    /// The wait before the next attempt after attempt number `attempt` (1-based) failed with
    /// `err`, or `None` to give up.
    pub fn next_delay<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        err: &RequestError,
        rng: &mut R,
    ) -> Option<Duration> {
        if attempt >= self.attempts || !self.is_retryable(err) {
            return None;
        }
        if let (
            Some(cap),
            RequestError::Status {
                retry_after: Some(ra),
                ..
            },
        ) = (self.retry_after_cap, err)
            && !ra.is_zero()
            && (*ra <= cap || self.retry_after_clamp)
        {
            return Some((*ra).min(cap));
        }
        Some(self.backoff(attempt, rng))
    }

    /// The backoff after attempt `attempt` (1-based), jitter applied.
    pub fn backoff<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let secs = self.base_backoff(attempt);
        let secs = match self.jitter {
            Jitter::None => secs,
            Jitter::Reduce(f) => secs * (1.0 - f * rng.random::<f64>()),
            Jitter::Full => secs * rng.random::<f64>(),
        };
        Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(self.max_delay)
    }

    /// The backoff in seconds after attempt `attempt`, before jitter.
    fn base_backoff(&self, attempt: u32) -> f64 {
        let exp = (attempt.saturating_sub(1) + self.first_exponent).min(1000) as i32;
        (self.initial.as_secs_f64() * self.factor.powi(exp)).min(self.max_delay.as_secs_f64())
    }

    /// Worst-case total backoff if every attempt fails (jitter and Retry-After aside).
    pub fn max_total_backoff(&self) -> Duration {
        let secs: f64 = (1..self.attempts).map(|a| self.base_backoff(a)).sum();
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

impl fmt::Display for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts <= 1 {
            return f.write_str("none");
        }
        write!(
            f,
            "{}: {} attempts, {:?}·{}^k ≤ {:?}",
            self.name, self.attempts, self.initial, self.factor, self.max_delay
        )
    }
}

impl FromStr for RetryPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <RetryPreset as clap::ValueEnum>::from_str(s, true)
    }
}

/// The longest `Retry-After` taken as given: a day, so that no deadline made from it can
/// overflow (`Retry-After: 99999999999999999999` panicked the conversion). The `openai` preset's
/// cap (120 s) is far below it, so a longer one is still not waited for; the `anthropic` preset,
/// which waits what it is told, waits a day at most.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses `Retry-After` the way openai-python does: `retry-after-ms` first, then `Retry-After`
/// as (possibly fractional) seconds, then as an HTTP date; at most [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(retry_after_ms: Option<&str>, retry_after: Option<&str>) -> Option<Duration> {
    let secs = |s: f64| {
        Duration::try_from_secs_f64(s)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER)
    };
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(secs(ms / 1000.0));
    }
    let v = retry_after?.trim();
    if let Ok(s) = v.parse::<f64>() {
        return (s.is_finite() && s >= 0.0).then(|| secs(s));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

mod opt_duration {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.collect_str(&mock_server::latency::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| mock_server::latency::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn status(s: u16, ra: Option<u64>) -> RequestError {
        RequestError::Status {
            status: s,
            retry_after: ra.map(Duration::from_millis),
            should_retry: None,
            body: String::new(),
            ratelimit: None,
        }
    }

    #[test]
    fn aiohttp_waits_2_4_8_16_seconds_and_never_start_timeout() {
        let p = RetryPolicy::preset(RetryPreset::Aiohttp);
        let mut rng = SmallRng::seed_from_u64(0);
        let waits: Vec<u64> = (1..=4)
            .map(|a| p.next_delay(a, &status(503, None), &mut rng).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [2, 4, 8, 16]);
        assert_eq!(
            p.next_delay(5, &status(503, None), &mut rng),
            None,
            "5 attempts in all"
        );
        // Retry-After is ignored, transport errors are not retried, 400 is not retried.
        assert_eq!(
            p.next_delay(1, &status(429, Some(100)), &mut rng),
            Some(Duration::from_secs(2))
        );
        assert_eq!(p.next_delay(1, &RequestError::Timeout, &mut rng), None);
        assert_eq!(p.next_delay(1, &status(400, None), &mut rng), None);
        // Any 5xx is retried (retry_all_server_errors).
        assert!(p.next_delay(1, &status(501, None), &mut rng).is_some());
    }

    /// Retry-After of exactly the cap is honoured (openai-python refuses only more than the
    /// cap); 0 falls back to the backoff, as openai-python does for a non-positive wait.
    #[test]
    fn retry_after_of_exactly_the_cap_is_honoured_and_zero_falls_back_to_the_backoff() {
        let p = RetryPolicy::preset(RetryPreset::Openai);
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            p.next_delay(1, &status(429, Some(120_000)), &mut rng),
            Some(Duration::from_secs(120))
        );
        assert_eq!(p.next_delay(1, &status(429, Some(120_001)), &mut rng), None);
        let d = p.next_delay(1, &status(429, Some(0)), &mut rng).unwrap();
        assert!((0.375..=0.5).contains(&d.as_secs_f64()), "{d:?}");
        // 408 and 409 are retried as well as 429.
        for s in [408, 409, 429] {
            assert!(p.next_delay(1, &status(s, None), &mut rng).is_some(), "{s}");
        }
    }

    /// Full jitter draws uniformly below the backoff: never above it, often far below.
    /// The longest wait: none for a policy that never retries (whatever its delays), the
    /// backoff's cap when Retry-After is ignored, the Retry-After cap when it is higher.
    #[test]
    fn the_longest_wait_is_the_higher_cap_of_a_policy_that_retries() {
        let longest = |p: RetryPreset| RetryPolicy::preset(p).longest_wait();
        assert_eq!(longest(RetryPreset::None), Duration::ZERO);
        assert_eq!(longest(RetryPreset::Aiohttp), Duration::from_secs(30));
        assert_eq!(longest(RetryPreset::Openai), Duration::from_secs(120));
        assert_eq!(longest(RetryPreset::Anthropic), ANTHROPIC_RETRY_AFTER_CAP);
        let once = RetryPolicy {
            attempts: 1,
            ..RetryPolicy::preset(RetryPreset::Aiohttp)
        };
        assert_eq!(once.longest_wait(), Duration::ZERO);
    }

    #[test]
    fn the_worst_case_covers_every_attempt_and_wait() {
        let r = RetryPolicy::preset(RetryPreset::Aiohttp);
        // 5 attempts of 10 s, 4 waits of at most 30 s.
        assert_eq!(
            r.worst_case(Duration::from_secs(10), None),
            Duration::from_secs(170)
        );
        let none = RetryPolicy::preset(RetryPreset::None);
        assert_eq!(
            none.worst_case(Duration::from_secs(10), None),
            Duration::from_secs(10)
        );
        // anthropic: 3 attempts, a Retry-After obeyed up to 49 days; a client that says every
        // wait of 30 s or more counts each wait at 30 s.
        let a = RetryPolicy::preset(RetryPreset::Anthropic);
        assert!(a.worst_case(Duration::from_secs(10), None) > Duration::from_secs(86_400));
        assert_eq!(
            a.worst_case(Duration::from_secs(10), Some(Duration::from_secs(30))),
            Duration::from_secs(90)
        );
    }

    #[test]
    fn full_jitter_waits_between_zero_and_the_backoff() {
        let p = RetryPolicy {
            jitter: Jitter::Full,
            ..RetryPolicy::preset(RetryPreset::Openai)
        };
        let mut rng = SmallRng::seed_from_u64(5);
        let waits: Vec<f64> = (0..200).map(|_| p.backoff(1, &mut rng).as_secs_f64()).collect();
        assert!(waits.iter().all(|w| (0.0..=0.5).contains(w)), "{waits:?}");
        assert!(waits.iter().any(|w| *w < 0.25), "{waits:?}");
    }

    /// The worst case of the presets, as the README states it: aiohttp 2 + 4 + 8 + 16 s,
    /// openai 0.5 + 1 s; and how a policy prints.
    #[test]
    fn worst_case_backoff_and_the_printed_policy() {
        assert_eq!(
            RetryPolicy::preset(RetryPreset::Aiohttp).max_total_backoff(),
            Duration::from_secs(30)
        );
        assert_eq!(
            RetryPolicy::preset(RetryPreset::Openai).max_total_backoff(),
            Duration::from_millis(1500)
        );
        assert_eq!(RetryPolicy::preset(RetryPreset::None).to_string(), "none");
        assert_eq!(
            RetryPolicy::preset(RetryPreset::Openai).to_string(),
            "openai: 3 attempts, 500ms·2^k ≤ 8s"
        );
    }

    /// A policy (the cap included) reads back from report.json as it was written.
    #[test]
    fn a_policy_reads_back_from_json() {
        for preset in [RetryPreset::Openai, RetryPreset::Aiohttp, RetryPreset::None] {
            let p = RetryPolicy::preset(preset);
            let back: RetryPolicy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back, p);
        }
    }

    #[test]
    fn openai_backoff_is_half_a_second_doubling_with_up_to_25_percent_less() {
        let p = RetryPolicy::preset(RetryPreset::Openai);
        let mut rng = SmallRng::seed_from_u64(3);
        for _ in 0..200 {
            let d1 = p
                .next_delay(1, &status(500, None), &mut rng)
                .unwrap()
                .as_secs_f64();
            let d2 = p
                .next_delay(2, &status(500, None), &mut rng)
                .unwrap()
                .as_secs_f64();
            assert!((0.375..=0.5).contains(&d1), "{d1}");
            assert!((0.75..=1.0).contains(&d2), "{d2}");
        }
        assert_eq!(
            p.next_delay(3, &status(500, None), &mut rng),
            None,
            "2 retries, 3 attempts"
        );
    }

    #[test]
    fn openai_honours_retry_after_exactly_up_to_120_seconds() {
        let p = RetryPolicy::preset(RetryPreset::Openai);
        let mut rng = SmallRng::seed_from_u64(0);
        assert_eq!(
            p.next_delay(1, &status(429, Some(1234)), &mut rng),
            Some(Duration::from_millis(1234))
        );
        assert_eq!(p.next_delay(1, &status(429, Some(121_000)), &mut rng), None);
        let no = RequestError::Status {
            status: 429,
            retry_after: None,
            should_retry: Some(false),
            body: String::new(),
            ratelimit: None,
        };
        assert_eq!(p.next_delay(1, &no, &mut rng), None, "x-should-retry: false wins");
        let yes = RequestError::Status {
            status: 400,
            retry_after: None,
            should_retry: Some(true),
            body: String::new(),
            ratelimit: None,
        };
        assert!(p.next_delay(1, &yes, &mut rng).is_some());
        assert!(p.next_delay(1, &RequestError::Timeout, &mut rng).is_some());
        assert_eq!(p.next_delay(1, &status(404, None), &mut rng), None);
    }

    /// Every field of every preset, as the README's preset table and the clients they reproduce
    /// state them (aiohttp_retry's `ExponentialRetry` as the article builds it; openai-python's
    /// `DEFAULT_MAX_RETRIES = 2`, `INITIAL_RETRY_DELAY = 0.5`, `MAX_RETRY_DELAY = 8.0`, 25 %
    /// jitter down, `MAX_RETRY_AFTER_DELAY` 120 s, `x-should-retry`, 408/409/429/≥500 and
    /// connection errors): a changed number fails here before it changes a published figure.
    #[test]
    fn every_preset_field_is_pinned() {
        type Fields = (
            &'static str,
            u32,
            Duration,
            f64,
            Duration,
            u32,
            Jitter,
            Vec<u16>,
            bool,
            bool,
            Option<Duration>,
            bool,
        );
        let fields = |p: RetryPolicy| -> Fields {
            let name: &'static str = match p.name.as_str() {
                "none" => "none",
                "aiohttp" => "aiohttp",
                "openai" => "openai",
                "anthropic" => "anthropic",
                other => panic!("unexpected preset name {other}"),
            };
            (
                name,
                p.attempts,
                p.initial,
                p.factor,
                p.max_delay,
                p.first_exponent,
                p.jitter,
                p.statuses,
                p.retry_server_errors,
                p.retry_transport,
                p.retry_after_cap,
                p.obey_should_retry,
            )
        };
        let s = Duration::from_secs;
        assert_eq!(
            fields(RetryPolicy::preset(RetryPreset::None)),
            (
                "none",
                1,
                Duration::ZERO,
                1.0,
                Duration::ZERO,
                0,
                Jitter::None,
                vec![],
                false,
                false,
                None,
                false
            )
        );
        assert_eq!(
            fields(RetryPolicy::preset(RetryPreset::Aiohttp)),
            (
                "aiohttp",
                5,
                s(1),
                2.0,
                s(30),
                1,
                Jitter::None,
                vec![429, 500, 502, 503, 504],
                true,
                false,
                None,
                false
            )
        );
        assert_eq!(
            fields(RetryPolicy::preset(RetryPreset::Openai)),
            (
                "openai",
                3,
                Duration::from_millis(500),
                2.0,
                s(8),
                0,
                Jitter::Reduce(0.25),
                vec![408, 409, 429],
                true,
                true,
                Some(s(120)),
                true
            )
        );
        // anthropic 2.17.0: `DEFAULT_MAX_RETRIES = 2`, the same delays and statuses, any
        // positive Retry-After obeyed up to 4 294 967 s.
        assert_eq!(
            fields(RetryPolicy::preset(RetryPreset::Anthropic)),
            (
                "anthropic",
                3,
                Duration::from_millis(500),
                2.0,
                s(8),
                0,
                Jitter::Reduce(0.25),
                vec![408, 409, 429],
                true,
                true,
                Some(s(4_294_967)),
                true
            )
        );
        // Only anthropic waits a Retry-After above its cap (at the cap) rather than give up.
        let clamps: Vec<bool> = [
            RetryPreset::None,
            RetryPreset::Aiohttp,
            RetryPreset::Openai,
            RetryPreset::Anthropic,
        ]
        .map(|p| RetryPolicy::preset(p).retry_after_clamp)
        .to_vec();
        assert_eq!(clamps, [false, false, false, true]);
    }

    /// The `anthropic` SDK waits whatever Retry-After says (200 s observed), where openai
    /// gives up above 120 s; past its own cap it waits the cap. The rest is openai's.
    #[test]
    fn anthropic_obeys_any_retry_after_up_to_its_cap() {
        let p = RetryPolicy::preset(RetryPreset::Anthropic);
        let mut rng = SmallRng::seed_from_u64(0);
        assert_eq!(
            p.next_delay(1, &status(429, Some(200_000)), &mut rng),
            Some(Duration::from_secs(200))
        );
        assert_eq!(
            p.next_delay(1, &status(529, Some(u64::MAX / 2)), &mut rng),
            Some(ANTHROPIC_RETRY_AFTER_CAP)
        );
        assert_eq!(
            p.next_delay(2, &status(529, Some(1500)), &mut rng),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            p.next_delay(3, &status(529, Some(1500)), &mut rng),
            None,
            "3 attempts"
        );
        let d = p.next_delay(1, &status(529, None), &mut rng).unwrap();
        assert!(
            d >= Duration::from_millis(375) && d <= Duration::from_millis(500),
            "{d:?}"
        );
        assert_eq!(p.next_delay(1, &status(400, None), &mut rng), None);
        let openai = RetryPolicy::preset(RetryPreset::Openai);
        assert_eq!(openai.next_delay(1, &status(429, Some(200_000)), &mut rng), None);
    }

    #[test]
    fn none_never_retries() {
        let p = RetryPolicy::preset(RetryPreset::None);
        let mut rng = SmallRng::seed_from_u64(0);
        assert_eq!(p.next_delay(1, &status(429, Some(10)), &mut rng), None);
    }

    /// A negative or infinite `retry-after-ms` is not a wait: `Retry-After` is read instead.
    #[test]
    fn unusable_retry_after_ms_falls_back_to_retry_after() {
        for ms in ["-5", "inf", "NaN", "soon"] {
            assert_eq!(
                parse_retry_after(Some(ms), Some("2")),
                Some(Duration::from_secs(2)),
                "{ms}"
            );
        }
        assert_eq!(parse_retry_after(Some("-5"), None), None);
        assert_eq!(parse_retry_after(None, Some("-1")), None);
    }

    /// A wait past what a `Duration` holds (or any past a day) is a day, not a panic: a day is
    /// above every preset's cap, so it is still not waited for.
    #[test]
    fn an_endless_retry_after_is_a_day() {
        let day = Some(MAX_RETRY_AFTER);
        assert_eq!(parse_retry_after(None, Some("99999999999999999999")), day);
        assert_eq!(parse_retry_after(Some("1e300"), None), day);
        assert_eq!(
            parse_retry_after(None, Some("Fri, 31 Dec 9999 23:59:59 GMT")),
            day
        );
        assert_eq!(
            parse_retry_after(None, Some("86399")),
            Some(Duration::from_secs(86399))
        );
    }

    #[test]
    fn retry_after_parses_ms_then_seconds_then_date() {
        assert_eq!(
            parse_retry_after(Some("250"), Some("9")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_retry_after(None, Some("1.5")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_retry_after(None, Some("soon")), None);
        assert_eq!(parse_retry_after(None, None), None);
        let past = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(parse_retry_after(None, Some(past)), Some(Duration::ZERO));
    }
}
