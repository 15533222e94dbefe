//! Validated run configuration: the strategies, the workload, the load model and the target.
//! The CLI's flat flags (`cli.rs`) become a [`RunConfig`] here; every bad value becomes a
//! [`ConfigError`] naming it.

use crate::model::plan::{Api, Arrival, Load, MAX_RATE, MIN_RATE, Shard, Stop, Warmup, Workload};
use crate::model::strategy::Strategy;
use crate::model::sweep::Axis;
use crate::plan::endpoint::Endpoint;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::model::error::ConfigError;
use crate::model::plan::Spread;
use crate::model::retry::RetryPolicy;
use crate::plan::inputs::{BodySpec, Inputs, build_bodies};
use crate::plan::request::Limits;
use mock_server::Profile;

pub(crate) use crate::model::plan::Slo;

/// A validated run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// What to send.
    pub workload: Workload,
    /// Which strategies, in order.
    pub strategies: Vec<Strategy>,
    /// When each strategy stops issuing requests: a count, a duration, or the first of both.
    pub stop: Stop,
    /// Threads (threadpool) or requests in flight (async); 0 = unbounded (async only). Under
    /// [`Load::Adaptive`], the most the controller may reach.
    pub concurrency: u64,
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
    /// Closed loop, closed under a controller (`--concurrency auto`), or open loop.
    pub load: Load,
    /// Seed of retry jitter.
    pub seed: u64,
    /// Where requests go: the embedded mock, or an external target.
    pub endpoint: Endpoint,
    /// The variable the API key was read from (with `target`).
    pub api_key_env: Option<String>,
    /// Where to write reports.
    pub out: Option<PathBuf>,
    /// Write into a non-empty `out`, replacing what an earlier run wrote there.
    pub force: bool,
    /// No live view and no progress lines.
    pub quiet: bool,
    /// Progress lines instead of the live panel, even on a terminal.
    pub no_tui: bool,
    /// How often a progress line is printed when there is no panel.
    pub progress_every: Duration,
    /// Most bytes of one response body.
    pub max_body: u64,
    /// Ask the async strategies for HTTP/2 (prior knowledge on http, ALPN on https).
    pub http2: bool,
    /// Sealed one-second intervals kept in memory per recorder before spilling to disk.
    pub intervals_in_memory: usize,
    /// Dataset rows, the body file and extra headers (not written into reports as they are).
    pub inputs: Arc<Inputs>,
    /// Requests sent first with the same clients and left out of every figure.
    pub warmup: Option<Warmup>,
    /// `--ramp`: a closed loop opens each phase's slots evenly over this long.
    pub ramp: Option<Duration>,
    /// Limits a successful request must meet to count as good.
    pub slo: Slo,
    /// Write the arrival time of every streamed chunk into `requests.jsonl`.
    pub export_chunks: bool,
    /// With `--out`, write `requests.jsonl` (off with `--no-request-log`: the summary files only).
    pub request_log: bool,
    /// Print every request's `requests.jsonl` line on stdout before the report (`--print-requests`).
    pub print_requests: bool,
    /// This process's share of a sharded run.
    pub shard: Option<Shard>,
    /// `--start-at`: the first strategy starts at this Unix time (seconds), so that shards on
    /// several machines start together.
    pub start_at: Option<f64>,
    /// How external clients are started: the Python interpreter, `--client-cmd`.
    pub external: ExternalConfig,
    /// `--rounds`: each strategy runs this many times, interleaved (A B C, then C B A, …), each
    /// time against a target in a known state; 1 runs each once.
    pub rounds: u32,
}

/// How the external clients of a run are started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalConfig {
    /// `--python`: the interpreter of the shipped Python clients (else found as
    /// [`crate::plan::python::interpreter`] says).
    pub python: Option<PathBuf>,
    /// `--client-cmd` with its `--client-name`.
    pub client_cmd: Option<crate::model::strategy::ClientCmd>,
}

/// A validated [`RunConfig`]: made only by [`Plan::new`], which runs every check once (values in
/// range, settings that need each other, shards, bodies the embedded mock accepts), and read,
/// never changed, after. The engine's entry points take a `Plan`, so nothing runs unchecked.
#[derive(Debug, Clone)]
pub struct Plan(RunConfig);

impl Plan {
    /// Checks `cfg` whole; the first value that cannot work is the error (exit 2).
    pub fn new(cfg: RunConfig) -> Result<Plan, ConfigError> {
        cfg.validate()?;
        cfg.check_bodies_fit()?;
        Ok(Plan(cfg))
    }

    /// A plan of `cfg`, made from this one's settings (a sweep's point, a probe): checked whole
    /// again, except that the bodies, the one check that builds something, are built only when
    /// what builds them differs (workload, inputs, seed, embedded or not). A sweep changes a
    /// setting, not the bodies.
    pub fn derived(&self, cfg: RunConfig) -> Result<Plan, ConfigError> {
        cfg.validate()?;
        let same_bodies = cfg.workload == self.0.workload
            && cfg.stop.count() == self.0.stop.count()
            && Arc::ptr_eq(&cfg.inputs, &self.0.inputs)
            && cfg.seed == self.0.seed
            && cfg.endpoint.mock().is_some() == self.0.endpoint.mock().is_some();
        if !same_bodies {
            cfg.check_bodies_fit()?;
        }
        Ok(Plan(cfg))
    }

    /// The settings, to derive another plan from (a sweep's points, a probe).
    pub fn config(&self) -> &RunConfig {
        &self.0
    }
}

impl std::ops::Deref for Plan {
    type Target = RunConfig;

    fn deref(&self) -> &RunConfig {
        &self.0
    }
}

impl Default for RunConfig {
    /// The command line's defaults: every strategy, 200 requests of the default prompt at
    /// concurrency 50, closed loop, no retries, a 60 s deadline, the embedded mock at 100 ms.
    fn default() -> Self {
        RunConfig {
            workload: Workload {
                model: "mock-model".into(),
                prompt: "Explain in one sentence why async helps I/O-bound code.".into(),
                max_tokens: 16,
                ..Workload::default()
            },
            strategies: Strategy::DEFAULT.to_vec(),
            stop: Stop::default(),
            concurrency: 50,
            cpu_work: None,
            batch_size: 50,
            pause: Duration::from_secs(1),
            retry: RetryPolicy::preset(crate::model::retry::RetryPreset::None),
            timeout: Duration::from_secs(60),
            load: Load::Closed,
            seed: 1,
            endpoint: Endpoint::embedded(Profile {
                seed: Some(1),
                ..Profile::fixed(Duration::from_millis(100))
            }),
            api_key_env: None,
            out: None,
            force: false,
            quiet: false,
            no_tui: false,
            progress_every: Duration::from_secs(5),
            max_body: crate::plan::request::DEFAULT_MAX_BODY,
            http2: false,
            intervals_in_memory: crate::stats::intervals::SEALED_IN_MEMORY,
            inputs: Arc::new(Inputs::default()),
            warmup: None,
            ramp: None,
            slo: Slo::default(),
            export_chunks: false,
            request_log: true,
            print_requests: false,
            shard: None,
            start_at: None,
            external: ExternalConfig::default(),
            rounds: 1,
        }
    }
}

/// The most rounds a run may have.
pub(crate) const MAX_ROUNDS: u32 = 100;

impl RunConfig {
    /// The per-attempt limits every client enforces the same way.
    pub fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_body: self.max_body,
        }
    }

    /// What the run's chat bodies are built from.
    pub(crate) fn body_spec(&self) -> BodySpec<'_> {
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
            requests: self.stop.count(),
            seed: self.seed,
            tokenizer: w.tokenizer,
            api: w.api,
            inputs: w.inputs(),
        }
    }

    /// Refuses, before anything runs, bodies the embedded mock would answer with 413: built as
    /// the run builds them, the largest is held against [`mock_server::MAX_BODY_BYTES`]. (An
    /// external target's limit is not known; its 413s are counted as client errors.)
    fn check_bodies_fit(&self) -> Result<(), ConfigError> {
        if self.endpoint.mock().is_none() || self.workload.delay_endpoint.is_some() {
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
    pub(crate) fn sharded(&self) -> bool {
        self.shard.is_some_and(|s| s.n > 1)
    }

    /// The effective concurrency of a strategy: the most requests it can have in flight, `None`
    /// for no limit at all (an open loop's `--concurrency 0` without a count).
    /// A shard holds its part of the whole run's concurrency and batch size, so that the shards
    /// together keep as many requests in flight as one process would (a sequential shard is
    /// still one client: N sequential shards keep N in flight).
    pub(crate) fn effective_concurrency(&self, s: Strategy) -> Option<u64> {
        let (n, c, b) = match self.shard {
            Some(sh) => (
                self.stop.count().map(|n| sh.share(n)),
                sh.split(self.concurrency),
                sh.split(self.batch_size),
            ),
            None => (self.stop.count(), self.concurrency, self.batch_size),
        };
        // At most the requests there are; without a count, the setting alone.
        let at_most = |x: u64| Some(n.map_or(x, |n| x.min(n)));
        use crate::model::strategy::PyClient;
        match s {
            Strategy::Sequential | Strategy::Python(PyClient::Sequential) => Some(1),
            Strategy::Batched => at_most(b),
            Strategy::Threadpool | Strategy::Python(PyClient::Threadpool) => at_most(c.max(1)),
            // 0: unbounded, every request in flight at once (an external client is told 0).
            Strategy::Python(_)
            | Strategy::Custom(_)
            | Strategy::Async
            | Strategy::AsyncSingle
            | Strategy::AsyncOffload
                if self.concurrency == 0 =>
            {
                n
            }
            Strategy::Python(_)
            | Strategy::Custom(_)
            | Strategy::Async
            | Strategy::AsyncSingle
            | Strategy::AsyncOffload => at_most(c),
        }
    }

    /// The limit a runner keeps strategy `s` to: its effective concurrency when `--concurrency`
    /// sets one; `None` for `--concurrency 0`, every request at once (the count, which the
    /// effective concurrency then is, is the only bound).
    pub(crate) fn slots(&self, s: Strategy) -> Option<u64> {
        self.effective_concurrency(s).filter(|_| self.concurrency != 0)
    }

    /// Checks the values that flags alone cannot ([`Plan::new`] runs it).
    fn validate(&self) -> Result<(), ConfigError> {
        self.check_counts()?;
        self.check_load()?;
        if let Some(sh) = self.shard {
            self.check_shard(sh)?;
        }
        if let Some(p) = self.endpoint.mock() {
            p.validate()?;
        }
        Ok(())
    }

    /// Counts and durations that must be above zero, and settings that need another.
    fn check_counts(&self) -> Result<(), ConfigError> {
        let bad = |name, value: String, why| Err(ConfigError::Invalid { name, value, why });
        if self.stop.count() == Some(0) {
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
        if let Some(twice) =
            crate::model::first_repeat(&self.strategies).map(|i| self.strategies[i].to_string())
        {
            // Run twice, its two runs were read as one strategy's rounds.
            return bad(
                "--strategies",
                twice,
                "is named twice: each strategy runs once a round (--rounds repeats them)",
            );
        }
        if self.workload.max_tokens == 0 {
            return bad("--max-tokens", "0".into(), "must be at least 1");
        }
        if self.retry.attempts == 0 {
            return bad("--retry-attempts", "0".into(), "must be at least 1");
        }
        if !(1..=MAX_ROUNDS).contains(&self.rounds) {
            return bad("--rounds", self.rounds.to_string(), "must be 1 to 100");
        }
        if self.workload.api == Api::Embeddings && self.workload.stream {
            return bad(
                "--stream",
                "embeddings".into(),
                "an embeddings answer is not streamed: leave --stream out",
            );
        }
        if (self.slo.ttft.is_some() || self.slo.ttfo.is_some()) && !self.workload.stream {
            return bad(
                "--slo",
                self.slo.describe(),
                "ttft and ttfo are only measured on streams: add --stream",
            );
        }
        if self.progress_every < Duration::from_millis(100) {
            return bad(
                "--progress-every",
                mock_server::latency::format_duration(self.progress_every),
                "must be at least 100ms",
            );
        }
        if self.stop.duration().is_some_and(|d| d.is_zero()) {
            return bad("--duration", "0".into(), "must be above zero");
        }
        if self.max_body == 0 {
            return bad("--max-body", "0".into(), "must be at least 1 byte");
        }
        let api = self.workload.api;
        for s in &self.strategies {
            if let Strategy::Python(p) = s
                && let Some(only) = p.only_api()
                && (only != api || self.workload.delay_endpoint.is_some())
            {
                let why = match only {
                    _ if self.workload.delay_endpoint.is_some() => {
                        "an SDK client sends completions, not the plain GET of --delay-endpoint"
                    }
                    Api::Openai => "its SDK speaks OpenAI's API only: run it with --api openai",
                    Api::Anthropic => "its SDK speaks Anthropic's API only: run it with --api anthropic",
                    Api::Embeddings => "its SDK is not run for embeddings",
                };
                return Err(ConfigError::Invalid {
                    name: "--strategies",
                    value: p.id().to_owned(),
                    why,
                });
            }
        }
        Ok(())
    }

    /// What the strategies can run: threads to start, a rate within range, `--concurrency auto`
    /// only where a controller can follow it, CPU work within its range.
    fn check_load(&self) -> Result<(), ConfigError> {
        let bad = |name, value: String, why| Err(ConfigError::Invalid { name, value, why });
        if self.concurrency == 0 && self.strategies.contains(&Strategy::Threadpool) {
            return bad(
                "--concurrency",
                "0".into(),
                "threadpool needs a thread count; 0 (unbounded) is for async",
            );
        }
        // Unbounded in a closed loop is every request in flight at once: with a duration and no
        // count there is no end to them (677 000 spawned in a second, 1.5 GB, with -z 1s; a
        // warm-up of 1 s sent 430 000).
        if self.concurrency == 0 && matches!(self.load, Load::Closed) {
            if self.stop.count().is_none() {
                return bad(
                    "--concurrency",
                    "0".into(),
                    "sends every request at once: give -n (with only a duration there is no end to them), or a rate with --rate",
                );
            }
            if let Some(Warmup::Time(d)) = self.warmup {
                return bad(
                    "--warmup",
                    mock_server::latency::format_duration(d),
                    "with --concurrency 0 (every request at once) a warm-up by time has no end to its requests: give it as a count (e.g. --warmup 50)",
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
        if let Load::Open { rate, .. } = self.load
            && !(rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&rate))
        {
            // `1e-300`, not its 300 decimal places.
            let shown = if rate != 0.0 && !(1e-6..1e15).contains(&rate.abs()) {
                format!("{rate:e}")
            } else {
                rate.to_string()
            };
            return bad(
                "--rate",
                shown,
                "must be between 0.0001 and 10000000 requests per second",
            );
        }
        // A Poisson schedule is drawn whole before the run and kept (16 bytes a request).
        if let Load::Open {
            rate,
            arrival: Arrival::Poisson,
            ..
        } = self.load
        {
            let by_count = self.stop.count().map_or(f64::INFINITY, |n| n as f64);
            let by_time = self
                .stop
                .duration()
                .map_or(f64::INFINITY, |d| d.as_secs_f64() * rate);
            if by_count.min(by_time) > crate::model::plan::MAX_LISTED as f64 {
                return bad(
                    "--arrival",
                    "poisson".into(),
                    "keeps every request's due time (16 bytes each): at most 16777216 requests a run; use --arrival constant (its times are computed, not kept), or fewer requests",
                );
            }
        }
        if let Load::Adaptive(_) = self.load {
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

    /// A shard's part of the run: at least one request, thread and batch slot per shard.
    fn check_shard(&self, sh: Shard) -> Result<(), ConfigError> {
        let bad = |name, value: String, why| Err(ConfigError::Invalid { name, value, why });
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
        if let Some(n) = self.stop.count()
            && n < sh.n
        {
            return bad(
                "--requests",
                n.to_string(),
                "is split over the shards: give at least one per shard",
            );
        }
        // Shards start together once (--start-at); their later rounds would not.
        if sh.n > 1 && self.rounds > 1 {
            return bad(
                "--rounds",
                self.rounds.to_string(),
                "shards start together only once: run one round per sharded run, and the sharded run again for another",
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

impl Axis {
    /// Whether the setting changes what strategy `s` does under `base`: a batch's size and its
    /// pause are `batched`'s alone (with embeddings the batch is every strategy's inputs in a
    /// request), and a concurrency means nothing to one request at a time or to fixed batches.
    /// A sweep of a strategy it does not change recommends a value out of noise.
    pub(crate) fn changes(&self, base: &RunConfig, s: Strategy) -> bool {
        use crate::model::strategy::PyClient;
        match self {
            Axis::BatchSize(_) if base.workload.api == Api::Embeddings => true,
            Axis::BatchSize(_) | Axis::Pause(_) => s == Strategy::Batched,
            Axis::Concurrency(_) => !matches!(
                s,
                Strategy::Sequential | Strategy::Batched | Strategy::Python(PyClient::Sequential)
            ),
            Axis::Rate(_) | Axis::CpuWork(_) => true,
        }
    }

    /// What point `i` runs in each of `base`'s strategies: its effective concurrency on the
    /// whole run (a shard's part of two settings may be one); `None` for a setting the count
    /// does not bound (a rate, a pause, CPU work, inputs in an embeddings request).
    pub(crate) fn runs_at(&self, base: &RunConfig, i: usize) -> Option<Vec<Option<u64>>> {
        match self {
            Axis::Concurrency(_) => {}
            Axis::BatchSize(_) if base.workload.api != Api::Embeddings => {}
            _ => return None,
        }
        let whole = RunConfig {
            shard: None,
            ..base.clone()
        };
        let point = self.apply(&whole, i);
        Some(
            base.strategies
                .iter()
                .map(|s| point.effective_concurrency(*s))
                .collect(),
        )
    }

    /// The config of point `i`.
    pub(crate) fn apply(&self, base: &RunConfig, i: usize) -> RunConfig {
        let mut cfg = base.clone();
        match self {
            Axis::Concurrency(v) => cfg.concurrency = v[i],
            // With embeddings the batch is the API's: inputs in each request.
            Axis::BatchSize(v) if base.workload.api == Api::Embeddings => {
                cfg.workload.inputs_per_request = Some(v[i]);
            }
            Axis::BatchSize(v) => cfg.batch_size = v[i],
            Axis::Pause(v) => cfg.pause = v[i],
            Axis::CpuWork(v) => cfg.cpu_work = (!v[i].is_zero()).then_some(v[i]),
            Axis::Rate(v) => {
                let (arrival, seed) = match base.load {
                    Load::Open { arrival, seed, .. } => (arrival, seed),
                    Load::Closed | Load::Adaptive(_) => (Arrival::Constant, base.seed),
                };
                cfg.load = Load::Open {
                    rate: v[i],
                    arrival,
                    seed,
                };
            }
        }
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sweep::fmt_setting;
    use crate::plan::endpoint::Target;

    /// A derived plan is checked as a new one is: a bad setting is refused, and bodies are
    /// checked again when the workload changed (only an unchanged workload skips building them).
    #[test]
    fn a_derived_plan_is_checked_like_a_new_one() {
        let base = Plan::new(RunConfig::default()).unwrap();
        let point = RunConfig {
            concurrency: 8,
            ..base.config().clone()
        };
        assert_eq!(base.derived(point).unwrap().concurrency, 8);
        let zero = RunConfig {
            batch_size: 0,
            ..base.config().clone()
        };
        assert!(
            base.derived(zero)
                .unwrap_err()
                .to_string()
                .contains("--batch-size")
        );
        let mut big = base.config().clone();
        big.workload.prompt = "x".repeat(mock_server::MAX_BODY_BYTES + 1);
        assert!(base.derived(big).unwrap_err().to_string().contains("--prompt"));
    }

    /// A plan is made only from settings that pass every check: the default passes, and one bad
    /// value (a zero count, an empty strategy list, a body past the mock's limit) is refused
    /// with the flag it came from.
    #[test]
    fn a_plan_is_only_made_from_checked_settings() {
        assert!(Plan::new(RunConfig::default()).is_ok());
        let zero = RunConfig {
            stop: Stop::Count(0),
            ..RunConfig::default()
        };
        let e = Plan::new(zero).unwrap_err().to_string();
        assert!(e.contains("--requests"), "{e}");
        let none = RunConfig {
            strategies: Vec::new(),
            ..RunConfig::default()
        };
        assert!(Plan::new(none).unwrap_err().to_string().contains("--strategies"));
        let mut big = RunConfig::default();
        big.workload.prompt = "x".repeat(mock_server::MAX_BODY_BYTES + 1);
        let e = Plan::new(big).unwrap_err().to_string();
        assert!(e.contains("--prompt"), "{e}");
        // Rounds: 1 to 100, and one round for a shard of several.
        for (rounds, shard, ok) in [
            (0, None, false),
            (101, None, false),
            (100, None, true),
            (3, Some(4), false),
            (1, Some(4), true),
            (3, Some(1), true),
        ] {
            let cfg = RunConfig {
                rounds,
                shard: shard.map(|n| crate::model::plan::Shard { k: 0, n }),
                ..RunConfig::default()
            };
            let r = Plan::new(cfg);
            assert_eq!(
                r.is_ok(),
                ok,
                "--rounds {rounds} with {shard:?} shards: {:?}",
                r.err()
            );
            if let Err(e) = r {
                assert!(e.to_string().contains("--rounds"), "{e}");
            }
        }
    }

    /// Each axis: its values as numbers (pauses in s, CPU work in ms), the field a point sets,
    /// its chart label and how a setting is written.
    #[test]
    fn each_axis_sets_its_field_and_writes_its_values() {
        let base = RunConfig::default();
        let c = Axis::Concurrency(vec![8, 16]);
        assert_eq!(c.values(), [8.0, 16.0]);
        assert_eq!(c.apply(&base, 1).concurrency, 16);
        let b = Axis::BatchSize(vec![20]);
        assert_eq!(b.apply(&base, 0).batch_size, 20);
        let p = Axis::Pause(vec![Duration::from_millis(10)]);
        assert_eq!(p.values(), [0.01]);
        assert_eq!(p.apply(&base, 0).pause, Duration::from_millis(10));
        let w = Axis::CpuWork(vec![Duration::ZERO, Duration::from_millis(2)]);
        assert_eq!(w.values(), [0.0, 2.0]);
        assert_eq!(w.apply(&base, 0).cpu_work, None, "0 is no work");
        assert_eq!(w.apply(&base, 1).cpu_work, Some(Duration::from_millis(2)));
        let r = Axis::Rate(vec![20.0]);
        assert!(matches!(r.apply(&base, 0).load, Load::Open { rate, .. } if rate == 20.0));
        assert_eq!(c.label(), "concurrency (requests in flight)");
        assert_eq!(b.label(), "batch size (requests)");
        assert_eq!(p.label(), "pause between batches (s)");
        assert_eq!(r.label(), "offered rate (requests/s)");
        assert_eq!(w.label(), "CPU work per response (ms)");
        assert_eq!(fmt_setting("concurrency", 8.0), "C=8");
        assert_eq!(fmt_setting("batch_size", 20.0), "B=20");
        assert_eq!(fmt_setting("pause", 0.01), "pause=10ms");
        assert_eq!(fmt_setting("rate", 20.0), "rate=20/s");
        assert_eq!(fmt_setting("cpu_work", 2.0), "cpu=2ms");
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
