//! Validated run configuration: the strategies, the workload, the load model and the target.
//! The CLI's flat flags (`cli.rs`) become a [`RunConfig`] here; every bad value becomes a
//! [`ConfigError`] naming it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use crate::client::{ApiKey, Limits, PreparedRequest, redact_url};
use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use mock_server::Profile;
use mock_server::wire::ChatRequest;

/// An execution model, each the Rust twin of a Python pattern.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// One ureq agent, one request after another (`for url in urls: requests.get(url)`).
    Sequential,
    /// A rayon pool of C threads, each blocking on its own ureq agent (`ThreadPoolExecutor`).
    Threadpool,
    /// tokio multi-thread runtime + reqwest, at most C in flight (`gather` under a `Semaphore`).
    Async,
    /// The same on a current-thread runtime (Python's single-threaded event loop).
    AsyncSingle,
    /// tokio + reqwest, fixed batches of B joined, a pause between batches (`process_batch`).
    Batched,
}

impl Strategy {
    /// Every strategy, in report order.
    pub const ALL: [Strategy; 5] = [
        Strategy::Sequential,
        Strategy::Threadpool,
        Strategy::Async,
        Strategy::AsyncSingle,
        Strategy::Batched,
    ];

    /// The one id used for the CLI value, bench ids, CSV rows, chart legends and file names.
    pub fn id(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::Threadpool => "threadpool",
            Strategy::Async => "async",
            Strategy::AsyncSingle => "async-single",
            Strategy::Batched => "batched",
        }
    }

    /// Whether this strategy blocks threads (and so never touches tokio).
    pub fn is_blocking(self) -> bool {
        matches!(self, Strategy::Sequential | Strategy::Threadpool)
    }

    /// Whether it drives its work from the calling thread (`block_on`), which then counts among
    /// the threads it ran on; the blocking strategies run on workers of their own while the
    /// calling thread only waits.
    pub fn runs_on_calling_thread(self) -> bool {
        !self.is_blocking()
    }

    /// The name prefix of the threads it starts (`None`: it runs on the calling thread alone);
    /// the runners name their threads so, and the resource sampler counts them by it.
    pub fn thread_prefix(self) -> Option<&'static str> {
        match self {
            Strategy::Sequential => Some("sequential"),
            Strategy::Threadpool => Some("threadpool-"),
            Strategy::Async => Some("async-worker"),
            Strategy::AsyncSingle => None,
            Strategy::Batched => Some("batched-worker"),
        }
    }

    /// The strategy with this id.
    pub fn from_id(id: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.id() == id)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// How request start times are chosen.
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
    /// The due time of each of `n` requests as an offset from the run's start (open loop), or
    /// `None` (closed loop). Pure, so it is tested without sleeping.
    pub fn schedule(&self, n: u64) -> Option<Vec<Duration>> {
        let LoadModel::Open { rate, arrival, seed } = *self else {
            return None;
        };
        let mut out = Vec::with_capacity(n as usize);
        match arrival {
            Arrival::Constant => out.extend((0..n).map(|i| Duration::from_secs_f64(i as f64 / rate))),
            Arrival::Poisson => {
                let mut rng = SmallRng::seed_from_u64(seed);
                let exp = Exp::new(rate).ok()?;
                let mut t = 0.0;
                for _ in 0..n {
                    out.push(Duration::from_secs_f64(t));
                    t += exp.sample(&mut rng);
                }
            }
        }
        Some(out)
    }
}

/// What each request asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Logical requests in the run.
    pub requests: u64,
    /// `model` of the chat request.
    pub model: String,
    /// The user message.
    pub prompt: String,
    /// `max_tokens` of the chat request.
    pub max_tokens: u32,
    /// Send `stream: true` and read server-sent events.
    pub stream: bool,
    /// `Some(d)`: GET `/delay/{d}` instead of chat completions (the article's httpbin call).
    #[serde(default, with = "opt_secs")]
    pub delay_endpoint: Option<Duration>,
}

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// OpenAI-compatible base URL, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    /// The key, when the target needs one.
    pub api_key: Option<ApiKey>,
    /// True for the mock the harness started itself.
    pub embedded: bool,
    /// Which certificates to trust over HTTPS.
    pub trust: TlsTrust,
}

/// What an HTTPS client trusts: the system's roots, plus a certificate of the user's (or of the
/// embedded mock), or, with `insecure`, anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsTrust {
    /// A PEM certificate (or chain) to trust, from `--ca-cert` or the embedded mock.
    pub ca_pem: Option<Arc<Vec<u8>>>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
}

impl Target {
    /// An external target at `base_url`, no key, the system's roots.
    pub fn external(base_url: impl Into<String>) -> Target {
        Target {
            base_url: base_url.into(),
            api_key: None,
            embedded: false,
            trust: TlsTrust::default(),
        }
    }

    /// The base URL as printed and written: userinfo (`user:password@`) replaced by `***@`.
    pub fn display_url(&self) -> String {
        redact_url(&self.base_url)
    }

    /// `scheme://host:port`, where a mock serves `/stats` and `/delay`.
    pub fn origin(&self) -> String {
        match url::Url::parse(&self.base_url) {
            Ok(u) => u.origin().ascii_serialization(),
            // Not a URL (refused by the command line before it gets here): leave it as it is.
            Err(_) => self.base_url.clone(),
        }
    }

    /// The request every attempt sends; `http2` asks the async client for HTTP/2.
    pub fn prepare(&self, w: &Workload, http2: bool) -> PreparedRequest {
        let mut req = match w.delay_endpoint {
            Some(d) => PreparedRequest::get(format!("{}/delay/{}", self.origin(), d.as_secs_f64())),
            None => {
                let body = ChatRequest::simple(&w.model, &w.prompt, w.max_tokens, w.stream);
                let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
                let url = format!("{}/chat/completions", self.base_url.trim_end_matches('/'));
                PreparedRequest::chat(url, body, self.api_key.as_ref(), w.stream)
            }
        };
        req.trust = self.trust.clone();
        req.http2 = http2;
        req
    }
}

/// A validated run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// What to send.
    pub workload: Workload,
    /// Which strategies, in order.
    pub strategies: Vec<Strategy>,
    /// Threads (threadpool) or requests in flight (async); 0 = unbounded (async only).
    pub concurrency: u64,
    /// Requests per batch (batched).
    pub batch_size: u64,
    /// Pause between batches (batched).
    pub pause: Duration,
    /// Retries, shared by every strategy.
    pub retry: RetryPolicy,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Closed or open loop.
    pub load: LoadModel,
    /// Seed of retry jitter.
    pub seed: u64,
    /// The embedded mock's profile, or `None` with `target`.
    pub mock: Option<Profile>,
    /// An external target instead of the embedded mock.
    pub target: Option<Target>,
    /// The variable the API key was read from (with `target`).
    pub api_key_env: Option<String>,
    /// Where to write reports.
    pub out: Option<PathBuf>,
    /// Write into a non-empty `out`, replacing what an earlier run wrote there.
    pub force: bool,
    /// No progress bars.
    pub quiet: bool,
    /// Most bytes of one response body.
    pub max_body: u64,
    /// Ask the async strategies for HTTP/2 (prior knowledge on http, ALPN on https).
    pub http2: bool,
    /// Serve the embedded mock over HTTPS (a certificate made for the run, trusted by the
    /// clients).
    pub mock_tls: bool,
    /// Sealed one-second intervals kept in memory per recorder before spilling to disk.
    pub intervals_in_memory: usize,
}

impl RunConfig {
    /// The per-attempt limits every client enforces the same way.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_body: self.max_body,
        }
    }

    /// The effective concurrency of a strategy: the most requests it can have in flight.
    pub fn effective_concurrency(&self, s: Strategy) -> u64 {
        let n = self.workload.requests;
        match s {
            Strategy::Sequential => 1,
            Strategy::Batched => self.batch_size.min(n),
            Strategy::Threadpool => self.concurrency.max(1).min(n),
            Strategy::Async | Strategy::AsyncSingle if self.concurrency == 0 => n,
            Strategy::Async | Strategy::AsyncSingle => self.concurrency.min(n),
        }
    }

    /// Checks the values that flags alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |name, value: String, why| Err(ConfigError::Invalid { name, value, why });
        if self.workload.requests == 0 {
            return bad("--requests", "0".into(), "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("--batch-size", "0".into(), "must be at least 1");
        }
        if self.timeout.is_zero() {
            return bad("--timeout", "0".into(), "must be above zero");
        }
        if self.strategies.is_empty() {
            return bad("--strategies", String::new(), "name at least one strategy");
        }
        if self.workload.max_tokens == 0 {
            return bad("--max-tokens", "0".into(), "must be at least 1");
        }
        if self.retry.attempts == 0 {
            return bad("--retry-attempts", "0".into(), "must be at least 1");
        }
        if self.max_body == 0 {
            return bad("--max-body", "0".into(), "must be at least 1 byte");
        }
        if self.concurrency == 0 && self.strategies.contains(&Strategy::Threadpool) {
            return bad(
                "--concurrency",
                "0".into(),
                "threadpool needs a thread count; 0 (unbounded) is for async",
            );
        }
        if self.concurrency > 100_000 && self.strategies.contains(&Strategy::Threadpool) {
            return bad(
                "--concurrency",
                self.concurrency.to_string(),
                "more threads than this machine can start",
            );
        }
        if let LoadModel::Open { rate, .. } = self.load
            && !(rate.is_finite() && rate > 0.0)
        {
            return bad(
                "--rate",
                rate.to_string(),
                "must be a positive number of requests per second",
            );
        }
        if let Some(p) = &self.mock {
            p.validate()?;
        }
        Ok(())
    }
}

mod opt_secs {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.and_then(|s| Duration::try_from_secs_f64(s).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_schedule_is_evenly_spaced() {
        let s = LoadModel::Open {
            rate: 4.0,
            arrival: Arrival::Constant,
            seed: 0,
        }
        .schedule(5)
        .unwrap();
        assert_eq!(
            s,
            (0..5).map(|i| Duration::from_millis(250 * i)).collect::<Vec<_>>()
        );
        assert!(LoadModel::Closed.schedule(5).is_none());
    }

    #[test]
    fn poisson_schedule_is_seeded_increasing_and_near_its_rate() {
        let m = LoadModel::Open {
            rate: 100.0,
            arrival: Arrival::Poisson,
            seed: 9,
        };
        let a = m.schedule(5000).unwrap();
        assert_eq!(a, m.schedule(5000).unwrap());
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
        let span = a.last().unwrap().as_secs_f64();
        // 4999 gaps of mean 10 ms: 49.99 s ± a few percent.
        assert!((span - 49.99).abs() < 3.0, "{span}");
    }

    #[test]
    fn target_builds_chat_and_delay_urls() {
        let t = Target::external("http://127.0.0.1:9/v1/");
        assert_eq!(t.origin(), "http://127.0.0.1:9");
        let mut w = Workload {
            requests: 1,
            model: "m".into(),
            prompt: "p".into(),
            max_tokens: 3,
            stream: false,
            delay_endpoint: None,
        };
        assert_eq!(t.prepare(&w, false).url, "http://127.0.0.1:9/v1/chat/completions");
        w.delay_endpoint = Some(Duration::from_secs(1));
        assert_eq!(t.prepare(&w, false).url, "http://127.0.0.1:9/delay/1");
    }
}
