//! The plan's value types: the load model, the workload, warm-up, shards and SLOs; what a
//! report says a run was asked to do.

use rand::Rng;

use std::fmt;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

/// How the plan's requests start: a closed loop at the set concurrency, one whose limit a
/// controller sets (`--concurrency auto`), or an open loop on a schedule. A report writes it as
/// its [`LoadModel`] and, when adaptive, the controller's settings beside it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Load {
    /// Closed loop: a request starts when the strategy is ready for it.
    #[default]
    Closed,
    /// Closed loop whose in-flight limit the async strategies' controller sets.
    Adaptive(crate::model::adaptive::AdaptiveConfig),
    /// Open loop: request i is due at a scheduled time, whether or not the client is ready.
    Open {
        /// Target requests per second.
        rate: f64,
        /// Gap distribution.
        arrival: Arrival,
        /// Seed of the Poisson gaps.
        seed: u64,
    },
}

impl Load {
    /// The loop as a report writes it: an adaptive run is a closed loop.
    pub fn model(self) -> LoadModel {
        match self {
            Load::Closed | Load::Adaptive(_) => LoadModel::Closed,
            Load::Open { rate, arrival, seed } => LoadModel::Open { rate, arrival, seed },
        }
    }

    /// The controller's settings, when a controller sets the limit.
    pub fn adaptive(self) -> Option<crate::model::adaptive::AdaptiveConfig> {
        match self {
            Load::Adaptive(a) => Some(a),
            Load::Closed | Load::Open { .. } => None,
        }
    }

    /// The open loop's rate, requests per second.
    pub fn rate(self) -> Option<f64> {
        match self {
            Load::Open { rate, .. } => Some(rate),
            Load::Closed | Load::Adaptive(_) => None,
        }
    }
}

/// When each strategy stops issuing requests: after a count, after a time, or at whichever
/// comes first. Every plan has one (neither flag is the default count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many logical requests (`-n`).
    Count(u64),
    /// After this long, however many were sent (`-z` alone).
    Duration(Duration),
    /// At whichever comes first (`-n` with `-z`).
    First {
        /// The most logical requests.
        count: u64,
        /// The longest time.
        duration: Duration,
    },
}

impl Default for Stop {
    fn default() -> Self {
        Stop::Count(200)
    }
}

impl Stop {
    /// Of `-n` and `-z`; `None` for both is the default count.
    pub fn of(count: Option<u64>, duration: Option<Duration>) -> Stop {
        match (count, duration) {
            (Some(count), Some(duration)) => Stop::First { count, duration },
            (Some(n), None) => Stop::Count(n),
            (None, Some(d)) => Stop::Duration(d),
            (None, None) => Stop::default(),
        }
    }

    /// The most logical requests (`None`: no cap, the duration ends the run).
    pub fn count(self) -> Option<u64> {
        match self {
            Stop::Count(count) | Stop::First { count, .. } => Some(count),
            Stop::Duration(_) => None,
        }
    }

    /// The longest a strategy issues requests (`None`: until the count is sent).
    pub fn duration(self) -> Option<Duration> {
        match self {
            Stop::Duration(duration) | Stop::First { duration, .. } => Some(duration),
            Stop::Count(_) => None,
        }
    }
}

/// How a report writes the loop request start times came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum LoadModel {
    /// Closed loop: a request starts when the strategy is ready for it; intended = actual start.
    Closed,
    /// Open loop: request i is due at a scheduled time, whether or not the client is ready.
    Open {
        /// Target requests per second.
        rate: f64,
        /// Gap distribution.
        arrival: Arrival,
        /// Seed of the Poisson gaps.
        seed: u64,
    },
}

/// The slowest open loop: one request every 2.8 hours (slower is a typo, and its due times
/// would overflow a `Duration`).
pub const MIN_RATE: f64 = 1e-4;

/// The fastest open loop: ten million requests a second, far past any client.
pub const MAX_RATE: f64 = 1e7;

/// Which API the requests speak (`--api`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// OpenAI's chat completions: `POST …/chat/completions`, `Authorization: Bearer`.
    #[default]
    Openai,
    /// Anthropic's Messages: `POST …/messages`, `x-api-key` and `anthropic-version`.
    Anthropic,
    /// OpenAI's embeddings: `POST …/embeddings`, `--batch-size` inputs a request.
    Embeddings,
}

impl Api {
    /// The path after the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Api::Openai => "chat/completions",
            Api::Anthropic => "messages",
            Api::Embeddings => "embeddings",
        }
    }

    /// The variable the key is read from when `--api-key-env` is not given.
    pub fn key_env(self) -> &'static str {
        match self {
            Api::Openai | Api::Embeddings => "OPENAI_API_KEY",
            Api::Anthropic => "ANTHROPIC_API_KEY",
        }
    }

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Api::Openai => "openai",
            Api::Anthropic => "anthropic",
            Api::Embeddings => "embeddings",
        }
    }
}

/// Inter-arrival gaps of an open-loop run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Exactly 1/rate apart.
    Constant,
    /// Exponential gaps with mean 1/rate (seeded).
    Poisson,
}

impl LoadModel {
    /// The due time of each request as an offset from the run's start (open loop): at most `n`
    /// when given, and only those before `horizon` when one is given; `None` in a closed loop.
    /// Evenly spaced times are computed when asked for, not kept: a run of `--rate 10000000
    /// -z 3s` kept 30 million (555 MB) before its first request. Pure, so it is tested
    /// without sleeping.
    pub fn schedule(&self, n: Option<u64>, horizon: Option<Duration>) -> Option<Schedule> {
        let LoadModel::Open { rate, arrival, seed } = *self else {
            return None;
        };
        let end = horizon.map_or(f64::INFINITY, |h| h.as_secs_f64());
        if arrival == Arrival::Constant {
            // Entries j with j / rate before the horizon (the test the listed loop made).
            let mut before = if end.is_finite() {
                (end * rate).ceil() as u64
            } else {
                u64::MAX
            };
            while before > 0 && (before - 1) as f64 / rate >= end {
                before -= 1;
            }
            while before < u64::MAX && (before as f64 / rate) < end {
                before += 1;
            }
            return Some(Schedule::Even {
                rate,
                first: 0,
                step: 1,
                len: n.map_or(before, |n| n.min(before)),
            });
        }
        let mut out = Vec::new();
        let mut rng = SmallRng::seed_from_u64(seed);
        let exp = Exp::new(rate).ok()?;
        let mut t = 0.0;
        while n.is_none_or(|n| (out.len() as u64) < n) && t < end {
            // A due time past what a Duration holds ends the schedule rather than panicking.
            let Ok(due) = Duration::try_from_secs_f64(t) else {
                break;
            };
            out.push(due);
            t += exp.sample(&mut rng);
        }
        Some(Schedule::Listed(out))
    }
}

/// Most due times a Poisson schedule keeps (16 bytes each: 256 MiB).
pub const MAX_LISTED: u64 = 1 << 24;

/// An open loop's due times, as offsets from the run's start: entry `i` is the `i`-th request's.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Entry `i` at `(first + i × step) ÷ rate` seconds: the constant schedule (or a shard's
    /// part of it), computed when asked for.
    Even {
        /// Requests a second of the whole run.
        rate: f64,
        /// The whole run's index of entry 0.
        first: u64,
        /// Whole-run indexes between entries.
        step: u64,
        /// Entries.
        len: u64,
    },
    /// Each entry kept (Poisson gaps, drawn in order).
    Listed(Vec<Duration>),
}

impl Schedule {
    /// Entries.
    pub fn len(&self) -> u64 {
        match self {
            Schedule::Even { len, .. } => *len,
            Schedule::Listed(v) => v.len() as u64,
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`, if there is one.
    pub fn get(&self, i: u64) -> Option<Duration> {
        match self {
            Schedule::Even {
                rate,
                first,
                step,
                len,
            } => (i < *len)
                .then(|| Duration::try_from_secs_f64((first + i * step) as f64 / rate).ok())
                .flatten(),
            Schedule::Listed(v) => usize::try_from(i).ok().and_then(|i| v.get(i).copied()),
        }
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = Duration> + '_ {
        (0..self.len()).map_while(|i| self.get(i))
    }

    /// Shard `sh`'s entries: the whole run's `sh.k`-th, then every `sh.n`-th after it.
    pub fn of_shard(self, sh: Shard) -> Schedule {
        let n = sh.n.max(1);
        match self {
            Schedule::Even {
                rate,
                first,
                step,
                len,
            } => Schedule::Even {
                rate,
                first: first + sh.k * step,
                step: step * n,
                len: len.saturating_sub(sh.k).div_ceil(n),
            },
            Schedule::Listed(v) => {
                Schedule::Listed(v.into_iter().skip(sh.k as usize).step_by(n as usize).collect())
            }
        }
    }
}

/// What each request asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// `model` of the chat request.
    pub model: String,
    /// The user message.
    pub prompt: String,
    /// `max_tokens` of the chat request (the middle of its spread).
    pub max_tokens: u32,
    /// `max_tokens` is drawn from `max_tokens ± max_tokens_spread` per request.
    #[serde(default)]
    pub max_tokens_spread: u32,
    /// Synthetic prompts of about this many words (`--prompt-tokens`), instead of `prompt`.
    #[serde(default)]
    pub prompt_tokens: Option<crate::model::plan::Spread>,
    /// `--dataset`: the JSONL file whose rows the requests cycle through.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Rows in the dataset.
    #[serde(default)]
    pub dataset_rows: u64,
    /// `--body-file`: the JSON whose fields win over ours.
    #[serde(default)]
    pub body_file: Option<String>,
    /// Names of the extra headers (`-H`); their values are not written.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Send `stream: true` and read server-sent events.
    pub stream: bool,
    /// `Some(d)`: GET `/delay/{d}` instead of chat completions (the article's httpbin call).
    #[serde(default, with = "crate::model::plan::opt_secs")]
    pub delay_endpoint: Option<Duration>,
    /// How prompts are counted in tokens (`--tokenizer`), by the harness and the embedded mock.
    #[serde(default)]
    pub tokenizer: mock_server::tokens::Tokenizer,
    /// The API the requests speak (`--api`).
    #[serde(default)]
    pub api: Api,
    /// `--api embeddings`: inputs in each request (`--batch-size`); `None` for the other APIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_per_request: Option<u64>,
}

impl Workload {
    /// Inputs in each request: `--batch-size` with `--api embeddings`, else 1.
    pub fn inputs(&self) -> u64 {
        self.inputs_per_request.unwrap_or(1).max(1)
    }
}

/// Requests sent before the measured ones, with the same clients (warm connections, warm
/// caches), and left out of every figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    /// This many requests.
    Requests(u64),
    /// Requests for this long (in seconds when written).
    #[serde(with = "secs")]
    Time(Duration),
}

/// `--shard K/N`: this process runs the requests whose index is K modulo N, at the times the
/// whole run's schedule gives them, so that N shards together send what one process would.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard (0-based).
    pub k: u64,
    /// How many shards.
    pub n: u64,
}

impl Shard {
    /// How many of `total` requests (indexes 0..total) fall to this shard.
    pub fn share(&self, total: u64) -> u64 {
        total.saturating_sub(self.k).div_ceil(self.n.max(1))
    }

    /// This shard's part of a whole run's `total` slots (concurrency, batch size): shards
    /// together hold `total`, the first `total mod N` one more than the rest.
    pub fn split(&self, total: u64) -> u64 {
        let n = self.n.max(1);
        total / n + u64::from(self.k < total % n)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

mod secs {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Service-level limits: a request is good only if it succeeded and meets every limit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slo {
    /// Time to first token (of any kind).
    #[serde(default, with = "opt_secs")]
    pub ttft: Option<Duration>,
    /// Time to first output token (after any reasoning).
    #[serde(default, with = "opt_secs")]
    pub ttfo: Option<Duration>,
    /// Time per output token after the first.
    #[serde(default, with = "opt_secs")]
    pub tpot: Option<Duration>,
    /// End-to-end latency (from the intended start, retries included).
    #[serde(default, with = "opt_secs")]
    pub e2e: Option<Duration>,
}

impl Slo {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.ttft.is_some() || self.ttfo.is_some() || self.tpot.is_some() || self.e2e.is_some()
    }

    /// The limits as written (`ttft=500ms,e2e=2s`).
    pub fn describe(&self) -> String {
        use mock_server::latency::format_duration;
        [
            ("ttft", self.ttft),
            ("ttfo", self.ttfo),
            ("tpot", self.tpot),
            ("e2e", self.e2e),
        ]
        .iter()
        .filter_map(|(n, d)| d.map(|d| format!("{n}={}", format_duration(d))))
        .collect::<Vec<_>>()
        .join(",")
    }
}

impl Slo {
    /// Whether a successful request with this latency, TTFT, TTFO and TPOT meets every limit
    /// set.
    pub fn met(
        &self,
        e2e: Duration,
        ttft: Option<Duration>,
        ttfo: Option<Duration>,
        tpot: Option<Duration>,
    ) -> bool {
        let within = |limit: Option<Duration>, v: Option<Duration>| match (limit, v) {
            (None, _) => true,
            (Some(l), Some(v)) => v <= l,
            // A limit on something not measured (TPOT of a one-token answer) is not met.
            (Some(_), None) => false,
        };
        within(self.e2e, Some(e2e))
            && within(self.ttft, ttft)
            && within(self.ttfo, ttfo)
            && within(self.tpot, tpot)
    }
}

/// `Option<Duration>` as seconds (a float, or null) in JSON, for reports and configs.
pub(crate) mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.and_then(|s| Duration::try_from_secs_f64(s).ok()))
    }
}

/// A count drawn uniformly from `mean ± spread` (written `N` or `N,SPREAD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spread {
    /// The middle.
    pub mean: u32,
    /// How far either way (0: always `mean`).
    pub spread: u32,
}

impl Spread {
    /// A fixed count.
    pub fn fixed(n: u32) -> Spread {
        Spread { mean: n, spread: 0 }
    }

    /// One draw, never below 1.
    pub fn sample(self, rng: &mut SmallRng) -> u32 {
        if self.spread == 0 {
            return self.mean.max(1);
        }
        let lo = self.mean.saturating_sub(self.spread).max(1);
        let hi = self.mean.saturating_add(self.spread).max(lo);
        rng.random_range(lo..=hi)
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.spread == 0 {
            write!(f, "{}", self.mean)
        } else {
            write!(f, "{}±{}", self.mean, self.spread)
        }
    }
}

/// An extra request header, `Name: value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name, lower-cased.
    pub name: http::HeaderName,
    /// The value.
    pub value: http::HeaderValue,
}

impl Header {
    /// Whether the value is a credential (it is then masked wherever errors are sampled).
    pub fn is_secret(&self) -> bool {
        let n = self.name.as_str();
        n == "authorization" || n.contains("api-key") || n.contains("token") || n == "cookie"
    }
}

/// Most words of a `--prompt-tokens` prompt (its middle plus its spread): past the largest
/// context windows offered today.
pub const MAX_PROMPT_TOKENS: u32 = 2_000_000;

/// Seconds since the Unix epoch now (0 on a clock set before 1970).
pub fn unix_now() -> u64 {
    unix_now_s() as u64
}

/// Seconds since the Unix epoch now, with the fraction (0 on a clock set before 1970): the
/// wall clock read once, at the [`epoch`], plus the monotonic time since, so every wall time a
/// run writes (the report's start and end, the interval log's StartTime, the rounds' starts)
/// comes from one reading and a step of the wall clock mid-run (a VM resumed, NTP) cannot set
/// them apart.
pub fn unix_now_s() -> f64 {
    let (at, wall) = epoch();
    (wall + at.elapsed())
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The process's time origin, a monotonic instant and the wall clock read with it: interval
/// logs number whole seconds from it, so recorders on different threads agree on interval
/// boundaries without talking to each other, and wall times are derived from it.
pub fn epoch() -> (std::time::Instant, std::time::SystemTime) {
    static EPOCH: std::sync::OnceLock<(std::time::Instant, std::time::SystemTime)> =
        std::sync::OnceLock::new();
    *EPOCH.get_or_init(|| (std::time::Instant::now(), std::time::SystemTime::now()))
}

/// Most requests one phase of an external client may hold (a bit each is kept: 32 MiB).
pub const MAX_PHASE_REQUESTS: u64 = 1 << 28;

#[cfg(test)]
mod tests {
    use super::*;

    /// `-n` and `-z` make one stop rule: neither is the default count, a duration alone has no
    /// cap, both stop at whichever comes first.
    #[test]
    fn the_stop_rule_of_count_and_duration() {
        let d = Duration::from_secs(3);
        assert_eq!(Stop::of(None, None), Stop::Count(200));
        assert_eq!(Stop::of(Some(5), None), Stop::Count(5));
        assert_eq!(Stop::of(None, Some(d)), Stop::Duration(d));
        let both = Stop::of(Some(5), Some(d));
        assert_eq!((both.count(), both.duration()), (Some(5), Some(d)));
        assert_eq!(
            (Stop::Duration(d).count(), Stop::Count(5).duration()),
            (None, None)
        );
    }

    /// A report writes an adaptive load as a closed loop with the controller's settings beside
    /// it, and an open loop as it was planned.
    #[test]
    fn a_load_as_a_report_writes_it() {
        let a = crate::model::adaptive::AdaptiveConfig { initial: 2, max: 8 };
        assert_eq!(Load::Adaptive(a).model(), LoadModel::Closed);
        assert_eq!(Load::Adaptive(a).adaptive(), Some(a));
        let open = Load::Open {
            rate: 4.0,
            arrival: Arrival::Poisson,
            seed: 3,
        };
        assert_eq!(
            open.model(),
            LoadModel::Open {
                rate: 4.0,
                arrival: Arrival::Poisson,
                seed: 3
            }
        );
        assert_eq!((open.adaptive(), open.rate()), (None, Some(4.0)));
        assert_eq!(
            (Load::Closed.model(), Load::Closed.rate()),
            (LoadModel::Closed, None)
        );
    }

    #[test]
    fn constant_schedule_is_evenly_spaced() {
        let s = LoadModel::Open {
            rate: 4.0,
            arrival: Arrival::Constant,
            seed: 0,
        }
        .schedule(Some(5), None)
        .unwrap();
        let s: Vec<Duration> = s.iter().collect();
        assert_eq!(
            s,
            (0..5).map(|i| Duration::from_millis(250 * i)).collect::<Vec<_>>()
        );
        assert!(LoadModel::Closed.schedule(Some(5), None).is_none());
        // A horizon keeps what is due before it: 1 s at 4/s is 0, 250, 500 and 750 ms.
        let m = LoadModel::Open {
            rate: 4.0,
            arrival: Arrival::Constant,
            seed: 0,
        };
        let listed = |n, h| m.schedule(n, h).unwrap().iter().collect::<Vec<_>>();
        assert_eq!(listed(Some(100), Some(Duration::from_secs(1))), s[..4]);
        assert_eq!(listed(Some(2), Some(Duration::from_secs(1))), s[..2]);
        // 2.5 requests a second for 1 s: 0 and 400 ms (800 ms is before it too); 1.2 s: 3.
        let odd = LoadModel::Open {
            rate: 2.5,
            arrival: Arrival::Constant,
            seed: 0,
        };
        assert_eq!(odd.schedule(None, Some(Duration::from_secs(1))).unwrap().len(), 3);
        assert_eq!(
            odd.schedule(None, Some(Duration::from_millis(1200)))
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            odd.schedule(None, Some(Duration::from_millis(1201)))
                .unwrap()
                .len(),
            4
        );
    }

    /// A constant schedule is computed, not kept: 10 million a second for an hour is 36 billion
    /// entries in a few bytes, each where the rate puts it; a shard's part keeps its whole-run
    /// times, as the listed schedule's does.
    #[test]
    fn a_constant_schedule_is_computed_and_sharded() {
        let m = LoadModel::Open {
            rate: 1e7,
            arrival: Arrival::Constant,
            seed: 0,
        };
        let s = m.schedule(None, Some(Duration::from_secs(3600))).unwrap();
        assert_eq!(s.len(), 36_000_000_000);
        assert!(matches!(s, Schedule::Even { .. }), "computed, not listed");
        assert_eq!(
            s.get(35_999_999_999),
            Some(Duration::from_nanos(3_599_999_999_900))
        );
        assert_eq!(s.get(36_000_000_000), None);
        let four = LoadModel::Open {
            rate: 4.0,
            arrival: Arrival::Constant,
            seed: 0,
        };
        let whole: Vec<Duration> = four.schedule(Some(10), None).unwrap().iter().collect();
        for k in 0..3 {
            let part: Vec<Duration> = four
                .schedule(Some(10), None)
                .unwrap()
                .of_shard(Shard { k, n: 3 })
                .iter()
                .collect();
            let want: Vec<Duration> = whole.iter().copied().skip(k as usize).step_by(3).collect();
            assert_eq!(part, want, "shard {k}/3");
        }
        let listed = Schedule::Listed(whole.clone()).of_shard(Shard { k: 1, n: 3 });
        assert_eq!(listed.iter().collect::<Vec<_>>(), [whole[1], whole[4], whole[7]]);
    }

    #[test]
    fn poisson_schedule_is_seeded_increasing_and_near_its_rate() {
        let m = LoadModel::Open {
            rate: 100.0,
            arrival: Arrival::Poisson,
            seed: 9,
        };
        let a: Vec<Duration> = m.schedule(Some(5000), None).unwrap().iter().collect();
        assert_eq!(
            a,
            m.schedule(Some(5000), None).unwrap().iter().collect::<Vec<_>>()
        );
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
        let span = a.last().unwrap().as_secs_f64();
        // 4999 gaps of mean 10 ms: 49.99 s ± a few percent.
        assert!((span - 49.99).abs() < 3.0, "{span}");
        // A horizon keeps the requests due before it, whatever n says.
        let h: Vec<Duration> = m
            .schedule(None, Some(Duration::from_secs(10)))
            .unwrap()
            .iter()
            .collect();
        assert!(h.iter().all(|t| *t < Duration::from_secs(10)));
        assert!((h.len() as f64 - 1000.0).abs() < 150.0, "{}", h.len());
        assert_eq!(&a[..h.len().min(a.len())], &h[..h.len().min(a.len())]);
    }
}
