//! The mock's behaviour in one validated value: latency and token timing, fault probabilities and
//! schedules, the RPM/TPM limiter and the seed. Read from a TOML profile file, command-line flags
//! (flags win), or built in code.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::latency::{LatencySpec, SpecError, duration_str};
use crate::limiter::{RpmStep, parse_rpm_schedule};
use crate::tokens::Tokenizer;

/// Why a profile is not usable. Each message names the offending value.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A probability outside 0..=1 (or not a number).
    #[error("invalid {name} '{value}': a probability must be between 0 and 1")]
    Probability {
        /// Flag or key name.
        name: &'static str,
        /// The value given.
        value: String,
    },
    /// The fault probabilities add up to more than one.
    #[error("invalid fault probabilities: they add up to {0}, more than 1")]
    ProbabilitySum(f64),
    /// A count that must be positive.
    #[error("invalid {name} '{value}': must be a whole number above zero")]
    Count {
        /// Flag or key name.
        name: &'static str,
        /// The value given.
        value: String,
    },
    /// A number outside its range.
    #[error("invalid {name} '{value}': must be {range}")]
    Range {
        /// Flag or key name.
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        range: &'static str,
    },
    /// A duration or latency spec that does not parse.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An `--rpm-schedule` that does not parse, or one given with `--rpm`.
    #[error("invalid rpm-schedule '{value}': {why}")]
    RpmSchedule {
        /// The value given.
        value: String,
        /// What is wrong with it.
        why: String,
    },
    /// A schedule rule or fault name that does not parse.
    #[error(
        "invalid {what} '{value}': expected first:N:FAULT or every:K:FAULT with FAULT one of 400..599, quota, hang, reset, stream-error, stream-cut"
    )]
    Fault {
        /// `schedule rule` or `fault`.
        what: &'static str,
        /// The value given.
        value: String,
    },
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The profile file is not valid TOML for a profile.
    #[error("invalid profile {path}: {message}")]
    Toml {
        /// The file.
        path: String,
        /// The parser's message (names the key).
        message: String,
    },
}

/// What the mock does to one request instead of (or while) answering it normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 `rate_limit_exceeded` with `Retry-After` and `retry-after-ms`.
    RateLimited,
    /// 429 `insufficient_quota`, no `Retry-After`, `x-should-retry: false`.
    Quota,
    /// Any other error status (400..=599) with an OpenAI error body.
    Status(u16),
    /// Accept the request and never answer (until the client gives up or the mock stops).
    Hang,
    /// Drop the connection with a TCP reset, no response.
    Reset,
    /// Streaming only: send half the tokens, then a `data: {"error": …}` event and end.
    StreamError,
    /// Streaming only: send half the tokens, then cut the connection.
    StreamCut,
}

impl FromStr for Fault {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProfileError::Fault {
            what: "fault",
            value: s.to_owned(),
        };
        Ok(match s.trim() {
            "429" | "rate-limit" => Fault::RateLimited,
            "quota" => Fault::Quota,
            "hang" => Fault::Hang,
            "reset" => Fault::Reset,
            "stream-error" => Fault::StreamError,
            "stream-cut" => Fault::StreamCut,
            n => match n.parse::<u16>() {
                Ok(code) if (400..=599).contains(&code) => Fault::Status(code),
                _ => return Err(bad()),
            },
        })
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::RateLimited => f.write_str("429"),
            Fault::Quota => f.write_str("quota"),
            Fault::Status(c) => write!(f, "{c}"),
            Fault::Hang => f.write_str("hang"),
            Fault::Reset => f.write_str("reset"),
            Fault::StreamError => f.write_str("stream-error"),
            Fault::StreamCut => f.write_str("stream-cut"),
        }
    }
}

/// The fault probabilities of a profile, each with its flag name and its fault, in the order they
/// are drawn: one uniform number `u` picks the first fault whose running sum exceeds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultRates(pub [(&'static str, f64, Fault); 10]);

impl FaultRates {
    /// The fault a uniform draw `u` in `[0, 1)` picks, if any.
    pub fn draw(&self, u: f64) -> Option<Fault> {
        let mut acc = 0.0;
        self.0.iter().find_map(|&(_, p, f)| {
            acc += p;
            (p > 0.0 && u < acc).then_some(f)
        })
    }

    /// The faults with a probability above zero.
    pub fn active(&self) -> impl Iterator<Item = (&'static str, f64, Fault)> + '_ {
        self.0.iter().copied().filter(|(_, p, _)| *p > 0.0)
    }
}

/// A deterministic failure rule, counted over the mock's work requests (chat and delay) in
/// arrival order, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleRule {
    /// Requests 1..=N fail with the fault.
    First(u64, Fault),
    /// Requests K, 2K, 3K, … fail with the fault.
    Every(u64, Fault),
}

impl ScheduleRule {
    /// The fault this rule imposes on request number `index` (1-based), if any.
    pub fn applies(&self, index: u64) -> Option<Fault> {
        match *self {
            ScheduleRule::First(n, f) if index <= n => Some(f),
            ScheduleRule::Every(k, f) if index.is_multiple_of(k) => Some(f),
            _ => None,
        }
    }
}

impl FromStr for ScheduleRule {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProfileError::Fault {
            what: "schedule rule",
            value: s.to_owned(),
        };
        let mut parts = s.trim().splitn(3, ':');
        let (Some(kind), Some(n), Some(fault)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let n: u64 = n.parse().map_err(|_| bad())?;
        let fault: Fault = fault.parse().map_err(|_| bad())?;
        match kind {
            "first" => Ok(ScheduleRule::First(n, fault)),
            "every" if n > 0 => Ok(ScheduleRule::Every(n, fault)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for ScheduleRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleRule::First(n, x) => write!(f, "first:{n}:{x}"),
            ScheduleRule::Every(k, x) => write!(f, "every:{k}:{x}"),
        }
    }
}

/// The mock's whole configuration. `Profile::default()` is a plain, instant, fault-free server.
///
/// In a TOML profile every key is optional and spelled as the flag without dashes
/// (`rate_429 = 0.1`, `latency = "lognormal:200ms,900ms"`, `schedule = ["first:2:429"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Whole-response latency (non-streaming), or the wait before the stream opens.
    pub latency: LatencySpec,
    /// Time to first token, added after `latency`.
    pub ttft: LatencySpec,
    /// Gap before each token after the first.
    pub itl: LatencySpec,
    /// Output tokens when the request sets neither `max_completion_tokens` nor `max_tokens`.
    pub tokens: u32,
    /// Probability of a rate-limit 429 (with Retry-After).
    pub rate_429: f64,
    /// Probability of a quota 429 (no Retry-After).
    pub rate_quota: f64,
    /// Probability of a 500 [default: 0].
    pub rate_500: f64,
    /// Probability of a 502 [default: 0].
    pub rate_502: f64,
    /// Probability of a 503 [default: 0].
    pub rate_503: f64,
    /// Probability of a 504 [default: 0].
    pub rate_504: f64,
    /// Probability of a hang (never answers).
    pub rate_hang: f64,
    /// Probability of a connection reset.
    pub rate_reset: f64,
    /// Probability that a streaming response ends in an error event halfway.
    pub rate_stream_error: f64,
    /// Probability that a streaming response is cut halfway.
    pub rate_stream_cut: f64,
    /// Retry-After sent with injected (probabilistic or scheduled) 429s.
    #[serde(with = "duration_str")]
    pub retry_after: Duration,
    /// Deterministic failure rules, checked before the probabilities.
    #[serde(with = "schedule_str")]
    pub schedule: Vec<ScheduleRule>,
    /// Requests-per-minute limit (token bucket, continuous refill).
    pub rpm: Option<u64>,
    /// A requests-per-minute limit that changes during the run (`0s:1200,20s:300`), counted
    /// from the mock's start or its last reset; instead of `rpm`.
    #[serde(with = "rpm_schedule_str", default, skip_serializing_if = "Vec::is_empty")]
    pub rpm_schedule: Vec<RpmStep>,
    /// Tokens-per-minute limit (prompt estimate + max_tokens × n per request).
    pub tpm: Option<u64>,
    /// How much of a minute's limit may be spent at once: the buckets hold `limit × window / 60 s`
    /// (OpenAI: "60,000 requests/minute may be enforced as 1,000 requests/second").
    #[serde(with = "duration_str")]
    pub limit_window: Duration,
    /// Seed of the fault and latency draws; `None` picks one from the clock.
    pub seed: Option<u64>,
    /// When set, requests must carry `Authorization: Bearer <key>`, else 401.
    pub api_key: Option<String>,
    /// Runtime worker threads of the server; `None` means one per core.
    pub workers: Option<usize>,
    /// Most bytes one answer may take (n × tokens, streamed or not); a request asking for more
    /// gets a 400 naming the limit.
    pub max_response_bytes: u64,
    /// Send no `x-ratelimit-*` headers (as many self-hosted servers and gateways do): a client
    /// then has only the 429s and their `Retry-After` to go by.
    pub no_ratelimit_headers: bool,
    /// Requests served at once; the rest wait their turn in arrival order, the wait counted in
    /// their latency (an inference server's batch slots). `None`: every request at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// How prompts are counted in tokens (usage, the tokens/min limit).
    #[serde(default)]
    pub tokenizer: Tokenizer,
    /// Reasoning tokens streamed before the answer (chat and Messages): they count toward the
    /// request's output cap, as a reasoning model's do.
    #[serde(default)]
    pub reasoning_tokens: u32,
    /// `/v1/embeddings`: the length of each vector when the request names no `dimensions`.
    #[serde(default = "default_embedding_dimensions")]
    pub embedding_dimensions: u32,
    /// `/v1/embeddings`: time per input token, added to `latency` (an encoder's cost grows
    /// with what it reads).
    #[serde(default, with = "duration_str")]
    pub embedding_token_time: Duration,
    /// Stamp every answer and streamed event with when it was meant to be written and when it
    /// was (`--stamps`; see [`crate::stamp`]).
    #[serde(default)]
    pub stamps: bool,
}

/// The default length of an embedding vector (small enough that a batch of 2 048 fits the
/// answer cap; a request may ask for up to [`MAX_EMBEDDING_DIMENSIONS`]).
pub const DEFAULT_EMBEDDING_DIMENSIONS: u32 = 256;

/// The longest embedding vector the mock writes (text-embedding-3-large's 3 072, and some).
pub const MAX_EMBEDDING_DIMENSIONS: u32 = 4096;

fn default_embedding_dimensions() -> u32 {
    DEFAULT_EMBEDDING_DIMENSIONS
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            latency: LatencySpec::ZERO,
            ttft: LatencySpec::ZERO,
            itl: LatencySpec::ZERO,
            tokens: 16,
            rate_429: 0.0,
            rate_quota: 0.0,
            rate_500: 0.0,
            rate_502: 0.0,
            rate_503: 0.0,
            rate_504: 0.0,
            rate_hang: 0.0,
            rate_reset: 0.0,
            rate_stream_error: 0.0,
            rate_stream_cut: 0.0,
            retry_after: Duration::from_secs(1),
            schedule: Vec::new(),
            rpm: None,
            rpm_schedule: Vec::new(),
            tpm: None,
            limit_window: Duration::from_secs(60),
            seed: None,
            api_key: None,
            workers: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            no_ratelimit_headers: false,
            tokenizer: Tokenizer::default(),
            capacity: None,
            reasoning_tokens: 0,
            embedding_dimensions: DEFAULT_EMBEDDING_DIMENSIONS,
            embedding_token_time: Duration::ZERO,
            stamps: false,
        }
    }
}

/// Default of [`Profile::max_response_bytes`]: room for a 60 000-token stream, far below what one
/// small request could otherwise make the mock send (2²⁰ streamed tokens are 250 MB).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 << 20;

impl Profile {
    /// A fault-free profile with a fixed whole-response latency.
    pub fn fixed(latency: Duration) -> Self {
        Profile {
            latency: LatencySpec::Fixed(latency),
            ..Profile::default()
        }
    }

    /// The fault probabilities, in the order they are drawn.
    pub fn faults(&self) -> FaultRates {
        FaultRates([
            ("rate-429", self.rate_429, Fault::RateLimited),
            ("rate-quota", self.rate_quota, Fault::Quota),
            ("rate-500", self.rate_500, Fault::Status(500)),
            ("rate-502", self.rate_502, Fault::Status(502)),
            ("rate-503", self.rate_503, Fault::Status(503)),
            ("rate-504", self.rate_504, Fault::Status(504)),
            ("rate-hang", self.rate_hang, Fault::Hang),
            ("rate-reset", self.rate_reset, Fault::Reset),
            ("rate-stream-error", self.rate_stream_error, Fault::StreamError),
            ("rate-stream-cut", self.rate_stream_cut, Fault::StreamCut),
        ])
    }

    /// Checks every value; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut sum = 0.0;
        for &(name, p, _) in &self.faults().0 {
            if !(0.0..=1.0).contains(&p) {
                return Err(ProfileError::Probability {
                    name,
                    value: p.to_string(),
                });
            }
            sum += p;
        }
        if sum > 1.0 + 1e-9 {
            return Err(ProfileError::ProbabilitySum(sum));
        }
        if self.tokens == 0 {
            return Err(ProfileError::Count {
                name: "tokens",
                value: "0".into(),
            });
        }
        if !(1..=MAX_EMBEDDING_DIMENSIONS).contains(&self.embedding_dimensions) {
            return Err(ProfileError::Range {
                name: "embedding-dimensions",
                value: self.embedding_dimensions.to_string(),
                range: "1 to 4096",
            });
        }
        for (name, v) in [("rpm", self.rpm), ("tpm", self.tpm), ("capacity", self.capacity)] {
            if v == Some(0) {
                return Err(ProfileError::Count {
                    name,
                    value: "0".into(),
                });
            }
        }
        if self.rpm.is_some() && !self.rpm_schedule.is_empty() {
            return Err(ProfileError::RpmSchedule {
                value: self
                    .rpm_schedule
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                why: "give --rpm or --rpm-schedule, not both".into(),
            });
        }
        if self.limit_window.is_zero() || self.limit_window > Duration::from_secs(60) {
            return Err(ProfileError::Range {
                name: "limit-window",
                value: format!("{:?}", self.limit_window),
                range: "above zero and at most 60s",
            });
        }
        if self.max_response_bytes == 0 {
            return Err(ProfileError::Count {
                name: "max-response-bytes",
                value: "0".into(),
            });
        }
        if self.workers == Some(0) {
            return Err(ProfileError::Count {
                name: "workers",
                value: "0".into(),
            });
        }
        Ok(())
    }

    /// Reads and validates a TOML profile file.
    pub fn from_file(path: &Path) -> Result<Profile, ProfileError> {
        let text = crate::files::read_capped_text(path, crate::files::MAX_SMALL_FILE).map_err(|source| {
            ProfileError::Read {
                path: path.display().to_string(),
                source,
            }
        })?;
        Profile::from_toml(&text).map_err(|e| match e {
            ProfileError::Toml { message, .. } => ProfileError::Toml {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates a TOML profile.
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text).map_err(|e| ProfileError::Toml {
            path: "<inline>".into(),
            message: e.message().to_owned(),
        })?;
        profile.validate()?;
        Ok(profile)
    }
}

mod rpm_schedule_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[RpmStep], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<RpmStep>, D::Error> {
        let v = String::deserialize(d)?;
        if v.trim().is_empty() {
            return Ok(Vec::new());
        }
        parse_rpm_schedule(&v).map_err(serde::de::Error::custom)
    }
}

mod schedule_str {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[ScheduleRule], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|r| r.to_string()))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ScheduleRule>, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        v.iter()
            .map(|s| s.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::ProfileArgs;

    #[test]
    fn an_rpm_schedule_comes_from_a_flag_or_a_file_and_excludes_rpm() {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: ProfileArgs,
        }
        let flags = |args: &[&str]| {
            let t = <T as clap::Parser>::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
                .unwrap();
            t.a.to_profile()
        };
        let p = flags(&["--rpm-schedule", "0s:1200,20s:300"]).unwrap();
        assert_eq!(p.rpm, None);
        assert_eq!(
            p.rpm_schedule[1],
            RpmStep {
                at: Duration::from_secs(20),
                rpm: 300
            }
        );
        let e = flags(&["--rpm-schedule", "20s:300"]).unwrap_err().to_string();
        assert!(e.contains("'20s:300'") && e.contains("0s"), "{e}");
        let p = Profile::from_toml("rpm_schedule = \"0s:60,1s:120\"").unwrap();
        assert_eq!(p.rpm_schedule.len(), 2);
        // A report's profile reads back, with or without a schedule.
        for p in [p, Profile::default()] {
            let back: Profile = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back.rpm_schedule, p.rpm_schedule);
        }
        let e = Profile::from_toml("rpm = 5\nrpm_schedule = \"0s:60\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn toml_profile_reads_every_kind_of_key() {
        let p = Profile::from_toml(
            r#"
            latency = "uniform:10ms..20ms"
            ttft = "50ms"
            itl = "5ms"
            rate_429 = 0.25
            retry_after = "2s"
            schedule = ["first:2:429", "every:10:503"]
            rpm = 60
            seed = 7
            "#,
        )
        .unwrap();
        assert_eq!(p.rate_429, 0.25);
        assert_eq!(p.retry_after, Duration::from_secs(2));
        assert_eq!(p.schedule[0], ScheduleRule::First(2, Fault::RateLimited));
        assert_eq!(p.schedule[1], ScheduleRule::Every(10, Fault::Status(503)));
        assert_eq!(p.rpm, Some(60));
    }

    #[test]
    fn bad_profile_values_name_the_value() {
        let e = Profile::from_toml("rate_500 = 1.5").unwrap_err().to_string();
        assert!(e.contains("rate-500") && e.contains("1.5"), "{e}");
        let e = Profile::from_toml("latency = \"-3ms\"").unwrap_err().to_string();
        assert!(e.contains("-3ms"), "{e}");
        let e = Profile::from_toml("latncy = \"3ms\"").unwrap_err().to_string();
        assert!(e.contains("latncy"), "{e}");
        let e = Profile::from_toml("rate_429 = 0.6\nrate_500 = 0.6")
            .unwrap_err()
            .to_string();
        assert!(e.contains("1.2"), "{e}");
        assert!(Profile::from_toml("schedule = [\"first:2:200\"]").is_err());
        assert!(Profile::from_toml("rpm = 0").is_err());
    }

    #[test]
    fn schedule_rules_pick_their_requests() {
        let first: ScheduleRule = "first:2:500".parse().unwrap();
        let every: ScheduleRule = "every:3:hang".parse().unwrap();
        let hits: Vec<u64> = (1..=9).filter(|&i| first.applies(i).is_some()).collect();
        assert_eq!(hits, [1, 2]);
        let hits: Vec<u64> = (1..=9).filter(|&i| every.applies(i).is_some()).collect();
        assert_eq!(hits, [3, 6, 9]);
        assert!("every:0:500".parse::<ScheduleRule>().is_err());
    }

    #[test]
    fn every_flag_reaches_the_profile() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: ProfileArgs,
        }
        let t = T::try_parse_from([
            "t",
            "--latency",
            "1ms",
            "--ttft",
            "2ms",
            "--itl",
            "3ms",
            "--tokens",
            "4",
            "--rate-429",
            "0.01",
            "--rate-quota",
            "0.02",
            "--rate-500",
            "0.03",
            "--rate-502",
            "0.04",
            "--rate-503",
            "0.05",
            "--rate-504",
            "0.06",
            "--rate-hang",
            "0.07",
            "--rate-reset",
            "0.08",
            "--rate-stream-error",
            "0.09",
            "--rate-stream-cut",
            "0.1",
            "--retry-after",
            "5s",
            "--schedule",
            "first:1:500",
            "--rpm",
            "6",
            "--tpm",
            "7",
            "--limit-window",
            "8s",
            "--seed",
            "9",
            "--max-response-bytes",
            "10",
            "--no-ratelimit-headers",
            "--capacity",
            "11",
            "--tokenizer",
            "cl100k_base",
            "--reasoning-tokens",
            "12",
            "--embedding-dimensions",
            "13",
            "--embedding-token-time",
            "14us",
        ])
        .unwrap();
        let p = t.a.to_profile().unwrap();
        let want = Profile {
            latency: "1ms".parse().unwrap(),
            ttft: "2ms".parse().unwrap(),
            itl: "3ms".parse().unwrap(),
            tokens: 4,
            rate_429: 0.01,
            rate_quota: 0.02,
            rate_500: 0.03,
            rate_502: 0.04,
            rate_503: 0.05,
            rate_504: 0.06,
            rate_hang: 0.07,
            rate_reset: 0.08,
            rate_stream_error: 0.09,
            rate_stream_cut: 0.1,
            retry_after: Duration::from_secs(5),
            schedule: vec![ScheduleRule::First(1, Fault::Status(500))],
            rpm: Some(6),
            rpm_schedule: Vec::new(),
            tpm: Some(7),
            limit_window: Duration::from_secs(8),
            seed: Some(9),
            api_key: None,
            workers: None,
            max_response_bytes: 10,
            no_ratelimit_headers: true,
            capacity: Some(11),
            tokenizer: Tokenizer::Cl100kBase,
            reasoning_tokens: 12,
            embedding_dimensions: 13,
            embedding_token_time: Duration::from_micros(14),
            // The binary's flag, not a profile flag (the embedded mock always stamps).
            stamps: false,
        };
        assert_eq!(p, want);
    }
}
