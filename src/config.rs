//! Validated run configuration: the strategies, the workload, the load model and the target.
//! The CLI's flat flags (`cli.rs`) become a [`RunConfig`] here; every bad value becomes a
//! [`ConfigError`] naming it.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use crate::client::{ApiKey, Limits, PreparedRequest, redact_url};
use crate::error::ConfigError;
use crate::inputs::{BodySpec, Inputs, Spread, build_bodies};
use crate::retry::RetryPolicy;
use mock_server::Profile;

/// An execution model: the Rust twins of the Python patterns, and external clients (the Python
/// originals shipped in `clients/python/`, or a program of the user's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// One ureq agent, one request after another (`for url in urls: requests.get(url)`).
    Sequential,
    /// A rayon pool of C threads, each blocking on its own ureq agent (`ThreadPoolExecutor`).
    Threadpool,
    /// tokio multi-thread runtime + reqwest, at most C in flight (`gather` under a `Semaphore`).
    Async,
    /// The same on a current-thread runtime (Python's single-threaded event loop).
    AsyncSingle,
    /// `async`, with `--cpu-work` handed to a rayon pool of one thread per core
    /// (`loop.run_in_executor` with a process or thread pool).
    AsyncOffload,
    /// tokio + reqwest, fixed batches of B joined, a pause between batches (`process_batch`).
    Batched,
    /// A Python client shipped with the project, run as a child process.
    Python(crate::external::PyClient),
    /// `--client-cmd`: the user's program, named by `--client-name`.
    Custom(crate::external::ClientName),
}

impl Strategy {
    /// Every built-in Rust strategy, in report order.
    pub const EVERY: [Strategy; 6] = [
        Strategy::Sequential,
        Strategy::Threadpool,
        Strategy::Async,
        Strategy::AsyncSingle,
        Strategy::AsyncOffload,
        Strategy::Batched,
    ];

    /// The five of the article's comparison (`compare`'s default): every strategy but
    /// `async-offload`, which differs from `async` only with `--cpu-work`.
    pub const ALL: [Strategy; 5] = [
        Strategy::Sequential,
        Strategy::Threadpool,
        Strategy::Async,
        Strategy::AsyncSingle,
        Strategy::Batched,
    ];

    /// What `--strategies` accepts: the Rust strategies, then the shipped Python clients.
    pub const NAMED: [Strategy; 13] = {
        use crate::external::PyClient as P;
        [
            Strategy::Sequential,
            Strategy::Threadpool,
            Strategy::Async,
            Strategy::AsyncSingle,
            Strategy::AsyncOffload,
            Strategy::Batched,
            Strategy::Python(P::Sequential),
            Strategy::Python(P::Threadpool),
            Strategy::Python(P::Aiohttp),
            Strategy::Python(P::Httpx),
            Strategy::Python(P::Openai),
            Strategy::Python(P::BlockingInAsync),
            Strategy::Python(P::ToThread),
        ]
    };

    /// The one id used for the CLI value, bench ids, CSV rows, chart legends and file names.
    pub fn id(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::Threadpool => "threadpool",
            Strategy::Async => "async",
            Strategy::AsyncSingle => "async-single",
            Strategy::AsyncOffload => "async-offload",
            Strategy::Batched => "batched",
            Strategy::Python(p) => p.id(),
            Strategy::Custom(n) => n.as_str(),
        }
    }

    /// Whether it runs as a child process speaking the external-client protocol.
    pub fn is_external(self) -> bool {
        matches!(self, Strategy::Python(_) | Strategy::Custom(_))
    }

    /// Whether this strategy blocks threads (and so never touches tokio).
    pub fn is_blocking(self) -> bool {
        matches!(self, Strategy::Sequential | Strategy::Threadpool)
    }

    /// Whether it drives its work from the calling thread (`block_on`), which then counts among
    /// the threads it ran on; the blocking strategies run on workers of their own while the
    /// calling thread only waits, and an external client in a process of its own.
    pub fn runs_on_calling_thread(self) -> bool {
        !self.is_blocking() && !self.is_external()
    }

    /// The name prefix of the threads it starts (`None`: it runs on the calling thread alone,
    /// or in a process of its own); the runners name their threads so, and the resource sampler
    /// counts them by it.
    pub fn thread_prefix(self) -> Option<&'static str> {
        match self {
            Strategy::Sequential => Some("sequential"),
            Strategy::Threadpool => Some("threadpool-"),
            Strategy::Async => Some("async-worker"),
            Strategy::AsyncSingle | Strategy::Python(_) | Strategy::Custom(_) => None,
            Strategy::AsyncOffload => Some("offload-"),
            Strategy::Batched => Some("batched-worker"),
        }
    }

    /// Whether it can run under `--concurrency auto` (the tokio strategies that keep C in
    /// flight).
    pub fn adapts(self) -> bool {
        matches!(
            self,
            Strategy::Async | Strategy::AsyncSingle | Strategy::AsyncOffload
        )
    }

    /// The named strategy (Rust or shipped Python client) with this id.
    pub fn builtin(id: &str) -> Option<Strategy> {
        Strategy::NAMED.into_iter().find(|s| s.id() == id)
    }

    /// The strategy with this id, as `--strategies` takes it.
    pub fn from_id(id: &str) -> Option<Strategy> {
        Strategy::builtin(id)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Strategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// A saved report names a strategy by its id: a named one, else a `--client-cmd` client's name.
impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        if let Some(s) = Strategy::builtin(&id) {
            return Ok(s);
        }
        crate::external::ClientName::new(&id)
            .map(Strategy::Custom)
            .map_err(|why| serde::de::Error::custom(format!("strategy '{id}' {why}")))
    }
}

impl clap::ValueEnum for Strategy {
    fn value_variants<'a>() -> &'a [Self] {
        &Strategy::NAMED
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.id()))
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

/// The slowest open loop: one request every 2.8 hours (slower is a typo, and its due times
/// would overflow a `Duration`).
pub const MIN_RATE: f64 = 1e-4;
/// The fastest open loop: ten million requests a second, far past any client.
pub const MAX_RATE: f64 = 1e7;

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
    /// The due time of each request as an offset from the run's start (open loop): at most `n`,
    /// and only those before `horizon` when one is given; `None` in a closed loop. Pure, so it is
    /// tested without sleeping.
    pub fn schedule(&self, n: u64, horizon: Option<Duration>) -> Option<Vec<Duration>> {
        let LoadModel::Open { rate, arrival, seed } = *self else {
            return None;
        };
        let end = horizon.map_or(f64::INFINITY, |h| h.as_secs_f64());
        let mut out = Vec::new();
        let mut rng = SmallRng::seed_from_u64(seed);
        let exp = Exp::new(rate).ok()?;
        let mut t = 0.0;
        while (out.len() as u64) < n && t < end {
            // A due time past what a Duration holds ends the schedule rather than panicking.
            let Ok(due) = Duration::try_from_secs_f64(t) else {
                break;
            };
            out.push(due);
            t = match arrival {
                Arrival::Constant => out.len() as f64 / rate,
                Arrival::Poisson => t + exp.sample(&mut rng),
            };
        }
        Some(out)
    }
}

/// What each request asks for.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Logical requests in the run (`u64::MAX`: no cap, `-z` alone; written as `null`).
    #[serde(with = "no_cap")]
    pub requests: u64,
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
    pub prompt_tokens: Option<crate::inputs::Spread>,
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
    #[serde(default, with = "crate::metrics::opt_secs")]
    pub delay_endpoint: Option<Duration>,
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

/// Parses `--warmup`: a count (`20`) or a duration (`5s`).
pub fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return if n > 0 {
            Ok(Warmup::Requests(n))
        } else {
            Err(format!("'{s}' is not a positive count or a duration such as 5s"))
        };
    }
    mock_server::profile::parse_duration_arg(s).and_then(|d| {
        if d.is_zero() {
            Err(format!("'{s}' must be above zero"))
        } else {
            Ok(Warmup::Time(d))
        }
    })
}

pub use crate::metrics::Slo;

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
        if total == u64::MAX {
            return u64::MAX;
        }
        total.saturating_sub(self.k).div_ceil(self.n.max(1))
    }

    /// This shard's part of a whole run's `total` slots (concurrency, batch size): shards
    /// together hold `total`, the first `total mod N` one more than the rest.
    pub fn split(&self, total: u64) -> u64 {
        let n = self.n.max(1);
        total / n + u64::from(self.k < total % n)
    }

    /// Keeps this shard's entries of the whole run's schedule (entry `i` is request `i`'s time).
    pub fn of_schedule(&self, all: Vec<Duration>) -> Vec<Duration> {
        all.into_iter()
            .skip(self.k as usize)
            .step_by(self.n.max(1) as usize)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

/// Parses `--start-at UNIX_SECONDS` (what `date +%s` prints; fractions allowed), at most a day
/// from now either way: further is a typo, not a plan.
pub fn parse_start_at(s: &str) -> Result<f64, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a Unix time in seconds (e.g. $(( $(date +%s) + 120 )))"))?;
    let now = crate::report::machine::unix_now_s();
    if !t.is_finite() {
        return Err(format!("'{s}' is not a Unix time in seconds"));
    }
    if t < now - 86_400.0 {
        return Err(format!(
            "'{s}' is {:.0} days in the past (now is {now:.0}); give a time within a day, e.g. $(( $(date +%s) + 120 ))",
            (now - t) / 86_400.0
        ));
    }
    if t > now + 86_400.0 {
        return Err(format!("'{s}' is more than a day from now ({now:.0})"));
    }
    Ok(t)
}

/// Parses `--shard K/N` (0 ≤ K < N).
pub fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("'{s}' is not K/N with 0 ≤ K < N (e.g. 0/4)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok(Shard { k, n })
}

/// Parses `--slo ttft=500ms,tpot=50ms,e2e=2s` (any subset, each at most once).
pub fn parse_slo(s: &str) -> Result<Slo, String> {
    let mut slo = Slo::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not NAME=DURATION (ttft, tpot or e2e)"))?;
        let d = mock_server::profile::parse_duration_arg(v)?;
        let slot = match k.trim() {
            "ttft" => &mut slo.ttft,
            "tpot" => &mut slo.tpot,
            "e2e" => &mut slo.e2e,
            other => return Err(format!("'{other}' is not an SLO: use ttft, tpot or e2e")),
        };
        if slot.replace(d).is_some() {
            return Err(format!("'{k}' is given twice"));
        }
    }
    if !slo.is_set() {
        return Err(format!("'{s}' sets no limit"));
    }
    Ok(slo)
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

    /// What every attempt of a run sends: the bodies it cycles through, its headers, how to
    /// connect (the async client asks for HTTP/2 when the run does).
    pub fn prepare(&self, cfg: &RunConfig) -> PreparedRequest {
        let w = &cfg.workload;
        let mut req = match w.delay_endpoint {
            Some(d) => PreparedRequest::get(format!("{}/delay/{}", self.origin(), d.as_secs_f64())),
            None => {
                let (bodies, stream) = build_bodies(cfg.body_spec(), &cfg.inputs);
                let url = crate::client::join_url(&self.base_url, "chat/completions");
                PreparedRequest::chat(url, bodies, self.api_key.as_ref(), stream)
            }
        };
        req.trust = self.trust.clone();
        req.http2 = cfg.http2;
        req.set_headers(&cfg.inputs.headers);
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
    /// Threads (threadpool) or requests in flight (async); 0 = unbounded (async only). With
    /// `adaptive`, the most the controller may reach.
    pub concurrency: u64,
    /// `--concurrency auto`: the async strategies' limit is set by a controller.
    pub adaptive: Option<crate::adaptive::AdaptiveConfig>,
    /// `--cpu-work`: CPU work done after each successful response.
    pub cpu_work: Option<Duration>,
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
    /// Dataset rows, the body file and extra headers (not written into reports as they are).
    pub inputs: Arc<Inputs>,
    /// Stop issuing requests after this long (`-z`); `workload.requests` then only caps them.
    pub duration: Option<Duration>,
    /// Requests sent first with the same clients and left out of every figure.
    pub warmup: Option<Warmup>,
    /// Limits a successful request must meet to count as good.
    pub slo: Slo,
    /// Write the arrival time of every streamed chunk into `requests.jsonl`.
    pub export_chunks: bool,
    /// This process's share of a sharded run.
    pub shard: Option<Shard>,
    /// `--start-at`: the first strategy starts at this Unix time (seconds), so that shards on
    /// several machines start together.
    pub start_at: Option<f64>,
    /// How external clients are started: the Python interpreter, `--client-cmd`.
    pub external: ExternalConfig,
}

/// How the external clients of a run are started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalConfig {
    /// `--python`: the interpreter of the shipped Python clients (else found as
    /// [`crate::external::python::interpreter`] says).
    pub python: Option<PathBuf>,
    /// `--client-cmd` with its `--client-name`.
    pub client_cmd: Option<crate::external::ClientCmd>,
}

impl Default for RunConfig {
    /// The command line's defaults: every strategy, 200 requests of the default prompt at
    /// concurrency 50, closed loop, no retries, a 60 s deadline, the embedded mock at 100 ms.
    fn default() -> Self {
        RunConfig {
            workload: Workload {
                requests: 200,
                model: "mock-model".into(),
                prompt: "Explain in one sentence why async helps I/O-bound code.".into(),
                max_tokens: 16,
                ..Workload::default()
            },
            strategies: Strategy::ALL.to_vec(),
            concurrency: 50,
            adaptive: None,
            cpu_work: None,
            batch_size: 50,
            pause: Duration::from_secs(1),
            retry: RetryPolicy::preset(crate::retry::RetryPreset::None),
            timeout: Duration::from_secs(60),
            load: LoadModel::Closed,
            seed: 1,
            mock: Some(Profile {
                seed: Some(1),
                ..Profile::fixed(Duration::from_millis(100))
            }),
            target: None,
            api_key_env: None,
            out: None,
            force: false,
            quiet: false,
            max_body: crate::client::DEFAULT_MAX_BODY,
            http2: false,
            mock_tls: false,
            intervals_in_memory: crate::metrics::SEALED_IN_MEMORY,
            inputs: Arc::new(Inputs::default()),
            duration: None,
            warmup: None,
            slo: Slo::default(),
            export_chunks: false,
            shard: None,
            start_at: None,
            external: ExternalConfig::default(),
        }
    }
}

impl RunConfig {
    /// The per-attempt limits every client enforces the same way.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_body: self.max_body,
        }
    }

    /// What the run's chat bodies are built from.
    pub fn body_spec(&self) -> BodySpec<'_> {
        let w = &self.workload;
        BodySpec {
            model: &w.model,
            prompt: &w.prompt,
            max_tokens: Spread {
                mean: w.max_tokens,
                spread: w.max_tokens_spread,
            },
            prompt_tokens: w.prompt_tokens,
            stream: w.stream,
            requests: w.requests,
            seed: self.seed,
        }
    }

    /// Refuses, before anything runs, bodies the embedded mock would answer with 413: built as
    /// the run builds them, the largest is held against [`mock_server::MAX_BODY_BYTES`]. (An
    /// external target's limit is not known; its 413s are counted as client errors.)
    pub fn check_bodies_fit(&self) -> Result<(), ConfigError> {
        if self.mock.is_none() || self.workload.delay_endpoint.is_some() {
            return Ok(());
        }
        let (bodies, _) = build_bodies(self.body_spec(), &self.inputs);
        let bytes = bodies.iter().map(|b| b.bytes.len()).max().unwrap_or(0);
        let limit = mock_server::MAX_BODY_BYTES;
        if bytes <= limit {
            return Ok(());
        }
        let w = &self.workload;
        let from = if w.body_file.is_some() {
            "--body-file"
        } else if w.dataset.is_some() {
            "--dataset"
        } else if w.prompt_tokens.is_some() {
            "--prompt-tokens"
        } else {
            "--prompt"
        };
        Err(ConfigError::BodyTooLarge { from, bytes, limit })
    }

    /// This process is one of several shards of a run (which then share its target).
    pub fn sharded(&self) -> bool {
        self.shard.is_some_and(|s| s.n > 1)
    }

    /// The effective concurrency of a strategy: the most requests it can have in flight.
    /// A shard holds its part of the whole run's concurrency and batch size, so that the shards
    /// together keep as many requests in flight as one process would (a sequential shard is
    /// still one client: N sequential shards keep N in flight).
    pub fn effective_concurrency(&self, s: Strategy) -> u64 {
        let (n, c, b) = match self.shard {
            Some(sh) => (
                sh.share(self.workload.requests),
                sh.split(self.concurrency),
                sh.split(self.batch_size),
            ),
            None => (self.workload.requests, self.concurrency, self.batch_size),
        };
        use crate::external::PyClient;
        match s {
            Strategy::Sequential | Strategy::Python(PyClient::Sequential) => 1,
            Strategy::Batched => b.min(n),
            Strategy::Threadpool | Strategy::Python(PyClient::Threadpool) => c.max(1).min(n),
            // An external client is told C; 0 asks it for every request in flight at once.
            Strategy::Python(_) | Strategy::Custom(_) if self.concurrency == 0 => n,
            Strategy::Python(_) | Strategy::Custom(_) => c.min(n),
            // 0: unbounded, every request in flight at once.
            Strategy::Async | Strategy::AsyncSingle | Strategy::AsyncOffload if self.concurrency == 0 => n,
            Strategy::Async | Strategy::AsyncSingle | Strategy::AsyncOffload => c.min(n),
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
        if self.slo.ttft.is_some() && !self.workload.stream {
            return bad(
                "--slo",
                self.slo.describe(),
                "ttft is only measured on streams: add --stream",
            );
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return bad("--duration", "0".into(), "must be above zero");
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
        if let Some(sh) = self.shard {
            let bounded = self.concurrency != 0
                && self
                    .strategies
                    .iter()
                    .any(|s| *s == Strategy::Threadpool || s.adapts());
            if bounded && self.concurrency < sh.n {
                return bad(
                    "--concurrency",
                    self.concurrency.to_string(),
                    "is split over the shards: give at least one per shard",
                );
            }
            if self.strategies.contains(&Strategy::Batched) && self.batch_size < sh.n {
                return bad(
                    "--batch-size",
                    self.batch_size.to_string(),
                    "is split over the shards: give at least one per shard",
                );
            }
            if self.workload.requests != u64::MAX && self.workload.requests < sh.n {
                return bad(
                    "--requests",
                    self.workload.requests.to_string(),
                    "is split over the shards: give at least one per shard",
                );
            }
        }
        if self.concurrency > 100_000 && self.strategies.contains(&Strategy::Threadpool) {
            return bad(
                "--concurrency",
                self.concurrency.to_string(),
                "more threads than this machine can start",
            );
        }
        if let LoadModel::Open { rate, .. } = self.load
            && !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate))
        {
            return bad(
                "--rate",
                rate.to_string(),
                "must be between 0.0001 and 10000000 requests per second",
            );
        }
        if let Some(p) = &self.mock {
            p.validate()?;
        }
        if self.adaptive.is_some() {
            if let Some(s) = self.strategies.iter().find(|s| !s.adapts()) {
                return bad("--concurrency", "auto".into(), adaptive_only(*s));
            }
            if self.shard.is_some() {
                return bad(
                    "--concurrency",
                    "auto".into(),
                    "is one controller per process: run shards at a fixed concurrency",
                );
            }
            if matches!(self.load, LoadModel::Open { .. }) {
                return bad(
                    "--concurrency",
                    "auto".into(),
                    "is for a closed loop; an open loop (--rate) sets the pace itself",
                );
            }
        }
        if let Some(d) = self.cpu_work
            && (d.is_zero() || d > Duration::from_secs(10))
        {
            return bad(
                "--cpu-work",
                mock_server::latency::format_duration(d),
                "must be above zero and at most 10s",
            );
        }
        Ok(())
    }
}

/// Why a strategy cannot take `--concurrency auto`.
fn adaptive_only(s: Strategy) -> &'static str {
    match s {
        Strategy::Sequential => {
            "does not apply to sequential (one request at a time); pick async, async-single or async-offload with --strategies"
        }
        Strategy::Threadpool => {
            "does not apply to threadpool (its threads are fixed); pick async, async-single or async-offload with --strategies"
        }
        _ => {
            "does not apply to batched (its batch is fixed); pick async, async-single or async-offload with --strategies"
        }
    }
}

/// A request count whose "no cap" (`u64::MAX`) is written as `null`: JavaScript and jq would
/// round the largest integer, and it is not a count anyway.
pub(crate) mod no_cap {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        if *n == u64::MAX {
            s.serialize_none()
        } else {
            s.serialize_u64(*n)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.unwrap_or(u64::MAX))
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
        .schedule(5, None)
        .unwrap();
        assert_eq!(
            s,
            (0..5).map(|i| Duration::from_millis(250 * i)).collect::<Vec<_>>()
        );
        assert!(LoadModel::Closed.schedule(5, None).is_none());
        // A horizon keeps what is due before it: 1 s at 4/s is 0, 250, 500 and 750 ms.
        let m = LoadModel::Open {
            rate: 4.0,
            arrival: Arrival::Constant,
            seed: 0,
        };
        assert_eq!(m.schedule(100, Some(Duration::from_secs(1))).unwrap(), s[..4]);
        assert_eq!(m.schedule(2, Some(Duration::from_secs(1))).unwrap(), s[..2]);
    }

    #[test]
    fn poisson_schedule_is_seeded_increasing_and_near_its_rate() {
        let m = LoadModel::Open {
            rate: 100.0,
            arrival: Arrival::Poisson,
            seed: 9,
        };
        let a = m.schedule(5000, None).unwrap();
        assert_eq!(a, m.schedule(5000, None).unwrap());
        assert!(a.windows(2).all(|w| w[1] >= w[0]));
        let span = a.last().unwrap().as_secs_f64();
        // 4999 gaps of mean 10 ms: 49.99 s ± a few percent.
        assert!((span - 49.99).abs() < 3.0, "{span}");
        // A horizon keeps the requests due before it, whatever n says.
        let h = m.schedule(u64::MAX, Some(Duration::from_secs(10))).unwrap();
        assert!(h.iter().all(|t| *t < Duration::from_secs(10)));
        assert!((h.len() as f64 - 1000.0).abs() < 150.0, "{}", h.len());
        assert_eq!(&a[..h.len().min(a.len())], &h[..h.len().min(a.len())]);
    }

    #[test]
    fn target_builds_chat_and_delay_urls() {
        let t = Target::external("http://127.0.0.1:9/v1/");
        assert_eq!(t.origin(), "http://127.0.0.1:9");
        let mut cfg = RunConfig::default();
        assert_eq!(t.prepare(&cfg).url, "http://127.0.0.1:9/v1/chat/completions");
        cfg.workload.delay_endpoint = Some(Duration::from_secs(1));
        assert_eq!(t.prepare(&cfg).url, "http://127.0.0.1:9/delay/1");
    }
}
