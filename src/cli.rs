//! The command line: flat clap flags (doc comments are the help text), turned into a validated
//! [`RunConfig`] by [`CommonArgs::to_config`]. Flags and validation only: the commands live in
//! [`crate::commands`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mock_server::profile::{parse_bytes, parse_duration_arg, parse_positive};
use mock_server::{LatencySpec, ProfileArgs};

use crate::client::ApiKey;
use crate::config::{
    Arrival, LoadModel, RunConfig, Shard, Slo, Strategy, Target, TlsTrust, Warmup, Workload, parse_shard,
    parse_slo, parse_start_at, parse_warmup,
};
use crate::error::ConfigError;
use crate::inputs::{
    Header, Inputs, Spread, parse_header, parse_prompt_tokens, parse_spread, read_body_file, read_dataset,
};
use crate::metrics::SEALED_IN_MEMORY;
use crate::retry::{Jitter, RetryPolicy, RetryPreset};

/// How much does async buy over blocking code for LLM API calls, and what concurrency and batch
/// size should you run? Runs the same workload through blocking, thread-pool and tokio clients
/// against an embedded OpenAI-compatible mock (or your endpoint) and measures each.
#[derive(Debug, Parser)]
#[command(name = "asyncbench", version)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the same workload through each strategy and print a comparison table.
    Compare(Box<CompareArgs>),
    /// The article's comparison as it stands: 10 requests to a 1-second endpoint, sequential vs
    /// thread pool vs async, then its batch example (5 per batch, 1 s pause).
    Reproduce(ReproduceArgs),
    /// Vary one setting (--concurrency, --batch-size, --pause or --rate, given as a list) and
    /// recommend the smallest value within 5 % of the best goodput that meets the limits.
    Sweep(Box<SweepArgs>),
    /// Redraw the charts of a saved run from its report.json (and sweep.json, when present).
    Plot(PlotArgs),
    /// Combine the reports of a sharded run (--shard K/N on several machines) into one, exactly:
    /// histograms added, counts summed, wall time from the earliest start to the latest end.
    Merge(MergeArgs),
    /// Print a shell completion script: asyncbench completions bash > ~/.local/share/bash-completion/completions/asyncbench
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Flags of `sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Strategies to run at every point, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [Strategy::Threadpool, Strategy::Async])]
    pub strategies: Vec<Strategy>,
    /// The p99 latency a recommended setting must meet (successful requests, end to end).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub slo_p99: Option<Duration>,
    /// The share of attempts answered 429 a recommended setting must stay under (0..1).
    #[arg(long, default_value_t = 0.01, value_name = "P", value_parser = mock_server::profile::parse_probability)]
    pub max_429: f64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl SweepArgs {
    /// The base config and what to sweep: exactly one list flag holds more than one value, or
    /// `--concurrency auto` / `--rate auto` asks the sweep to find its own points.
    pub fn to_sweep(&self) -> Result<(RunConfig, crate::sweep::Plan), ConfigError> {
        use crate::sweep::{Axis, Plan};
        let c = &self.common;
        let auto_c = c.concurrency.contains(&Level::Auto);
        let auto_r = c.rate.contains(&Level::Auto);
        if (auto_c && c.concurrency.len() > 1) || (auto_r && c.rate.len() > 1) {
            return Err(ConfigError::Invalid {
                name: "sweep",
                value: "auto".into(),
                why: "auto stands alone: --concurrency auto or --rate auto, not in a list",
            });
        }
        let values = |v: &[Level<u64>]| v.iter().filter_map(Level::value).collect::<Vec<_>>();
        let rates = |v: &[Level<f64>]| v.iter().filter_map(Level::value).collect::<Vec<_>>();
        let mut plans = Vec::new();
        if auto_c {
            plans.push(Plan::AutoConcurrency);
        } else if c.concurrency.len() > 1 {
            plans.push(Plan::Fixed(Axis::Concurrency(values(&c.concurrency))));
        }
        if c.batch_size.len() > 1 {
            plans.push(Plan::Fixed(Axis::BatchSize(c.batch_size.clone())));
        }
        if c.pause.len() > 1 {
            plans.push(Plan::Fixed(Axis::Pause(c.pause.clone())));
        }
        if c.cpu_work.len() > 1 {
            plans.push(Plan::Fixed(Axis::CpuWork(c.cpu_work.clone())));
        }
        if auto_r {
            plans.push(Plan::AutoRate);
        } else if c.rate.len() > 1 {
            plans.push(Plan::Fixed(Axis::Rate(rates(&c.rate))));
        }
        let plan = match plans.len() {
            1 => plans.remove(0),
            0 => {
                return Err(ConfigError::Invalid {
                    name: "sweep",
                    value: String::new(),
                    why: "give one of --concurrency, --batch-size, --pause, --rate or --cpu-work a comma-separated list (or --concurrency auto, --rate auto)",
                });
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "sweep",
                    value: plans.iter().map(Plan::name).collect::<Vec<_>>().join(","),
                    why: "vary one setting at a time",
                });
            }
        };
        let mut first = self.common.clone();
        match &plan {
            Plan::Fixed(Axis::Concurrency(v)) => first.concurrency = vec![Level::Value(v[0])],
            Plan::Fixed(Axis::BatchSize(v)) => first.batch_size = vec![v[0]],
            Plan::Fixed(Axis::Pause(v)) => first.pause = vec![v[0]],
            Plan::Fixed(Axis::CpuWork(v)) => first.cpu_work = vec![v[0]],
            Plan::Fixed(Axis::Rate(v)) => first.rate = vec![Level::Value(v[0])],
            // The base of an automatic sweep: the concurrency given (or the default), and a
            // closed loop to find the saturation point in.
            Plan::AutoConcurrency => first.concurrency = vec![Level::Value(1)],
            Plan::AutoRate => first.rate = Vec::new(),
        }
        let cfg = first.to_config(self.strategies.clone())?;
        // Every point must be valid, not only the first.
        if let Plan::Fixed(axis) = &plan {
            for i in 0..axis.values().len() {
                axis.apply(&cfg, i).validate()?;
            }
        }
        Ok((cfg, plan))
    }
}

/// Flags of `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports: folders written by --out, or report.json files (from pod logs).
    #[arg(value_name = "DIR|report.json", required = true)]
    pub reports: Vec<PathBuf>,
    /// Where the merged report, summary, .hgrm files, charts and page go; new or empty.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Merge even with shards missing; the result is marked incomplete.
    #[arg(long)]
    pub allow_partial: bool,
    /// Write into a non-empty --out, first removing what an earlier run wrote there.
    #[arg(long)]
    pub force: bool,
}

/// Flags of `plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// A directory written by --out (with --combine: where the combined charts go).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Draw the strategies of several runs side by side (each labelled with its folder name)
    /// into DIR: goodput, 429 answers and p99 per run.
    #[arg(long, value_name = "RUN_DIR", num_args = 1.., value_delimiter = ',')]
    pub combine: Vec<PathBuf>,
}

/// Flags of `compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Strategies to run, comma-separated [default: sequential, threadpool, async,
    /// async-single, batched; async-offload added with --cpu-work; with --concurrency auto,
    /// the async ones only].
    #[arg(long, value_delimiter = ',')]
    pub strategies: Vec<Strategy>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
}

impl CompareArgs {
    /// The strategies to run: those named, else the five of the comparison, with
    /// `async-offload` when there is CPU work to offload, and only those that adapt under
    /// `--concurrency auto`.
    pub fn chosen(&self) -> Vec<Strategy> {
        if !self.strategies.is_empty() {
            return self.strategies.clone();
        }
        let auto = self.common.concurrency.contains(&Level::Auto);
        let work = self.common.cpu_work.iter().any(|d| !d.is_zero());
        Strategy::EVERY
            .into_iter()
            .filter(|s| *s != Strategy::AsyncOffload || work)
            .filter(|s| !auto || s.adapts())
            .collect()
    }
}

/// Flags of `reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Directory for report.json, summary.csv, .hgrm, run.hlog and charts; must be empty or new.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out, first removing what an earlier run wrote there.
    #[arg(long)]
    pub force: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also run the article's own Python code beside its Rust twins: py-sequential (its
    /// `requests` loop), py-threadpool and py-aiohttp (its `aiohttp` + `asyncio.gather`), with
    /// the interpreter of $ASYNCBENCH_PYTHON or clients/python/.venv or python3.
    #[arg(long)]
    pub python: bool,
}

/// A setting's value, or `auto`: the sweep finds its points itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level<T> {
    /// This value.
    Value(T),
    /// Found by the sweep (`sweep --concurrency auto`, `sweep --rate auto`).
    Auto,
}

impl<T: Copy> Level<T> {
    /// The value, unless `auto`.
    pub fn value(&self) -> Option<T> {
        match self {
            Level::Value(v) => Some(*v),
            Level::Auto => None,
        }
    }
}

impl<T: std::str::FromStr> std::str::FromStr for Level<T> {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim() == "auto" {
            return Ok(Level::Auto);
        }
        s.trim()
            .parse::<T>()
            .map(Level::Value)
            .map_err(|_| format!("'{s}' is not a number (or auto, for sweep)"))
    }
}

/// What a measuring command prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The human table.
    Table,
    /// The whole report (`report.json`, or `sweep.json` for a sweep).
    Json,
    /// One row per strategy (`summary.csv`; for a sweep, one per point and strategy).
    Csv,
    /// The whole report as JSON on one line, for logs that other lines interleave with (a
    /// pod's, where stderr and stdout meet): `merge` finds the line among the others.
    JsonLine,
}

impl CommonArgs {
    /// The output format, `--json` included.
    pub fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

/// Flags shared by every measuring subcommand.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Logical requests per strategy [default: 200; with --duration, no cap].
    #[arg(long, short = 'n', value_parser = parse_positive, value_name = "N", allow_negative_numbers = true)]
    pub requests: Option<u64>,
    /// Run each strategy for this long instead of a count (closed or open loop); requests in
    /// flight at the end finish or time out and are counted. With -n, whichever ends first
    /// [default: none: -n bounds the run].
    #[arg(long, short = 'z', value_parser = parse_duration_arg, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Requests sent first, by each strategy with its own clients (a count, or a duration such as
    /// 5s), left out of every figure and reported apart [default: none].
    #[arg(long, value_parser = parse_warmup, value_name = "N|DURATION")]
    pub warmup: Option<Warmup>,
    /// Threads (threadpool) or requests in flight (async, async-single, async-offload);
    /// 0 = unbounded (async only); auto = set by a controller that follows the target's rate
    /// limit (async strategies). `sweep` takes a comma-separated list (or auto: it finds the
    /// points).
    #[arg(
        long,
        short = 'c',
        default_value = "50",
        value_delimiter = ',',
        value_name = "C",
        allow_negative_numbers = true
    )]
    pub concurrency: Vec<Level<u64>>,
    /// With --concurrency auto: the most requests in flight the controller may reach
    /// [default: 256].
    #[arg(long, value_name = "C", value_parser = parse_positive, allow_negative_numbers = true)]
    pub max_concurrency: Option<u64>,
    /// CPU work done after each successful response, calibrated on this machine (hashing, not
    /// a sleep): on the event loop for async and async-single, on the worker thread for
    /// threadpool, on a pool of one thread per core for async-offload. `sweep` takes a list
    /// (0 = none) [default: none].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg, value_delimiter = ',')]
    pub cpu_work: Vec<Duration>,
    /// Requests per batch for `batched` [default: the concurrency]. `sweep` takes a list.
    #[arg(long, value_name = "B", value_parser = parse_positive, value_delimiter = ',', allow_negative_numbers = true)]
    pub batch_size: Vec<u64>,
    /// Pause between batches for `batched`. `sweep` takes a list.
    #[arg(long, default_value = "1s", value_parser = parse_duration_arg, value_delimiter = ',')]
    pub pause: Vec<Duration>,
    /// Retry policy preset: none, aiohttp (the article's ExponentialRetry), openai (openai-python).
    #[arg(long, default_value = "none", value_enum)]
    pub retry: RetryPreset,
    /// Override the preset's total attempts (first included) [default: the preset's].
    #[arg(long, value_name = "N", value_parser = parse_positive, allow_negative_numbers = true)]
    pub retry_attempts: Option<u64>,
    /// Override the preset's initial backoff [default: the preset's].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_initial: Option<Duration>,
    /// Override the preset's backoff factor [default: the preset's].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub retry_factor: Option<f64>,
    /// Override the preset's maximum backoff [default: the preset's].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_max: Option<Duration>,
    /// Override the preset's jitter: none, openai (up to 25 % less), full (uniform 0..delay)
    /// [default: the preset's].
    #[arg(long, value_name = "KIND", value_parser = ["none", "openai", "full"])]
    pub retry_jitter: Option<String>,
    /// Override the statuses retried, comma-separated (5xx are retried when the preset says so)
    /// [default: the preset's].
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub retry_statuses: Option<Vec<u16>>,
    /// Honour Retry-After up to this cap (0 = ignore the header) [default: the preset's].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_after_cap: Option<Duration>,
    /// One deadline per attempt, from before connecting to the last byte (streams included),
    /// the same in every client: an answer completed after it is a timeout.
    #[arg(long, default_value = "60s", value_parser = parse_duration_arg)]
    pub timeout: Duration,
    /// Most bytes of one response body (a larger one is the `too_large` outcome): 64MiB, 1GiB, …
    #[arg(long, default_value = "64MiB", value_parser = parse_bytes, value_name = "BYTES")]
    pub max_body: u64,
    /// OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1) [default: the embedded mock].
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The async strategies ask for HTTP/2: with prior knowledge on http://, by ALPN on https://
    /// (ureq, behind sequential and threadpool, speaks HTTP/1.1 only; the report says what each
    /// strategy used). The embedded mock then accepts HTTP/2 too.
    #[arg(long)]
    pub http2: bool,
    /// Trust this PEM certificate (a CA or the server's own) for an https:// target, besides the
    /// system's roots (ureq: instead of them) [default: none].
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate from an https:// target (a warning says so). Not for measuring
    /// anything you publish.
    #[arg(long)]
    pub insecure: bool,
    /// Serve the embedded mock over HTTPS, with a certificate made for the run and trusted by
    /// the clients (to measure what TLS costs each strategy).
    #[arg(long)]
    pub tls: bool,
    /// Environment variable holding the API key for --target (never printed or written).
    #[arg(long, default_value = "OPENAI_API_KEY", value_name = "NAME")]
    pub api_key_env: String,
    /// Model name sent in each request.
    #[arg(long, default_value = "mock-model")]
    pub model: String,
    /// The user message sent in each request.
    #[arg(
        long,
        default_value = "Explain in one sentence why async helps I/O-bound code."
    )]
    pub prompt: String,
    /// max_tokens of each request: N, or N,SPREAD for a uniform draw from N ± SPREAD.
    #[arg(long, default_value = "16", value_parser = parse_spread, value_name = "N[,SPREAD]", allow_negative_numbers = true)]
    pub max_tokens: Spread,
    /// Synthetic prompts of about N words (≈ tokens) each, or N ± SPREAD, instead of --prompt
    /// [default: none].
    #[arg(
        long,
        value_parser = parse_prompt_tokens,
        value_name = "N[,SPREAD]",
        conflicts_with = "dataset",
        allow_negative_numbers = true
    )]
    pub prompt_tokens: Option<Spread>,
    /// JSONL file, one request per line: {"prompt": "…"} or {"messages": [{"role", "content"}, …]};
    /// the requests cycle through it in order [default: none].
    #[arg(long, value_name = "FILE.jsonl")]
    pub dataset: Option<PathBuf>,
    /// JSON object whose fields replace ours in every request body (model, max_tokens,
    /// temperature, stream, …) [default: none].
    #[arg(long, value_name = "FILE.json")]
    pub body_file: Option<PathBuf>,
    /// Extra request header, repeatable: -H 'Name: value' (credential values are masked in
    /// error samples, and no value is written into reports) [default: none].
    #[arg(long = "header", short = 'H', value_parser = parse_header, value_name = "'NAME: VALUE'")]
    pub headers: Vec<Header>,
    /// Send stream: true and time every token (TTFT, ITL, TPOT).
    #[arg(long)]
    pub stream: bool,
    /// Service-level limits a successful request must meet to count as good, any of
    /// ttft=D,tpot=D,e2e=D; the report gives the good requests' share and rate, and sweep
    /// recommends from that rate [default: none].
    #[arg(long, value_parser = parse_slo, value_name = "ttft=D,tpot=D,e2e=D")]
    pub slo: Option<Slo>,
    /// With --out, write the arrival time of every streamed chunk into requests.jsonl.
    #[arg(long)]
    pub export_chunks: bool,
    /// Run shard K of N: the requests whose index is K modulo N, at the times the whole run's
    /// schedule gives them (an open loop's rate R becomes R ÷ N here); `asyncbench merge`
    /// combines the N reports exactly [default: none, the whole run].
    #[arg(long, value_parser = parse_shard, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Start the first strategy at this Unix time in seconds (`$(( $(date +%s) + 120 ))` is two minutes from now), after the
    /// setup, so that shards on several machines start together [default: at once].
    #[arg(long, value_parser = parse_start_at, value_name = "UNIX_S", allow_negative_numbers = true)]
    pub start_at: Option<f64>,
    /// Run a program of your own as one more strategy, speaking the external-client protocol
    /// (docs/client-protocol.md): the workload as JSON on its stdin, one JSON line per request
    /// on its stdout. Run by `sh -c`, e.g. 'node examples/clients/fetch.mjs' [default: none].
    #[arg(long, value_name = "COMMAND")]
    pub client_cmd: Option<String>,
    /// The name of the --client-cmd client in the report [default: custom].
    #[arg(long, value_name = "NAME", requires = "client_cmd")]
    pub client_name: Option<String>,
    /// The Python interpreter of the py-* clients [default: $ASYNCBENCH_PYTHON, else the
    /// project's clients/python/.venv, else python3].
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// What goes on stdout: the table, the report as JSON, or the summary as CSV (the table then
    /// goes to stderr).
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Open loop: start requests at this many per second, ready or not [default: none, a closed
    /// loop]. `sweep` takes a list.
    #[arg(long, value_name = "R", value_delimiter = ',', allow_negative_numbers = true)]
    pub rate: Vec<Level<f64>>,
    /// Inter-arrival gaps of --rate.
    #[arg(long, default_value = "constant", value_enum)]
    pub arrival: Arrival,
    /// Directory for every report file [default: none, the table only]; must be empty or new.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out, first removing what an earlier run wrote there (report.json,
    /// summary.csv, *.hgrm, run.hlog, charts, points/); other files are left alone.
    #[arg(long)]
    pub force: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// The embedded mock's behaviour (same flags as `mock-server`); its latency defaults to
    /// 100ms unless --ttft or --itl is given, and its seed to 1.
    #[command(flatten)]
    pub mock: ProfileArgs,
}

impl CommonArgs {
    /// The retry policy: the preset with any overrides.
    pub fn retry_policy(&self) -> Result<RetryPolicy, ConfigError> {
        let mut p = RetryPolicy::preset(self.retry);
        let custom = self.retry_attempts.is_some()
            || self.retry_initial.is_some()
            || self.retry_factor.is_some()
            || self.retry_max.is_some()
            || self.retry_jitter.is_some()
            || self.retry_statuses.is_some()
            || self.retry_after_cap.is_some();
        if let Some(a) = self.retry_attempts {
            p.attempts = u32::try_from(a).map_err(|_| ConfigError::Invalid {
                name: "--retry-attempts",
                value: a.to_string(),
                why: "too large",
            })?;
        }
        if let Some(d) = self.retry_initial {
            p.initial = d;
        }
        if let Some(f) = self.retry_factor {
            if !(f.is_finite() && f >= 1.0) {
                return Err(ConfigError::Invalid {
                    name: "--retry-factor",
                    value: f.to_string(),
                    why: "must be at least 1",
                });
            }
            p.factor = f;
        }
        if let Some(d) = self.retry_max {
            p.max_delay = d;
        }
        if let Some(j) = &self.retry_jitter {
            p.jitter = match j.as_str() {
                "openai" => Jitter::Reduce(0.25),
                "full" => Jitter::Full,
                _ => Jitter::None,
            };
        }
        if let Some(s) = &self.retry_statuses {
            if let Some(bad) = s.iter().find(|c| !(100..=599).contains(*c)) {
                return Err(ConfigError::Invalid {
                    name: "--retry-statuses",
                    value: bad.to_string(),
                    why: "not an HTTP status",
                });
            }
            p.statuses = s.clone();
        }
        if let Some(c) = self.retry_after_cap {
            p.retry_after_cap = (!c.is_zero()).then_some(c);
        }
        if custom {
            p.name = format!("{}+custom", p.name);
        }
        Ok(p)
    }

    /// Whether any mock flag was given (they make no sense with --target).
    fn mock_flags_given(&self) -> bool {
        let m = &self.mock;
        m.profile.is_some()
            || m.latency.is_some()
            || m.ttft.is_some()
            || m.itl.is_some()
            || m.tokens.is_some()
            || [
                m.rate_429,
                m.rate_quota,
                m.rate_500,
                m.rate_502,
                m.rate_503,
                m.rate_504,
            ]
            .iter()
            .any(Option::is_some)
            || [m.rate_hang, m.rate_reset, m.rate_stream_error, m.rate_stream_cut]
                .iter()
                .any(Option::is_some)
            || m.retry_after.is_some()
            || !m.schedule.is_empty()
            || m.rpm.is_some()
            || m.rpm_schedule.is_some()
            || m.tpm.is_some()
            || m.limit_window.is_some()
            || m.max_response_bytes.is_some()
            || m.no_ratelimit_headers
    }

    /// The validated configuration for these strategies; every list flag must hold one value
    /// (lists are for `sweep`).
    pub fn to_config(&self, strategies: Vec<Strategy>) -> Result<RunConfig, ConfigError> {
        let invalid = |name, value: String, why| ConfigError::Invalid { name, value, why };
        fn one<T: Copy + std::fmt::Debug>(name: &'static str, v: &[T]) -> Result<Option<T>, ConfigError> {
            match v {
                [] => Ok(None),
                [x] => Ok(Some(*x)),
                _ => Err(ConfigError::Invalid {
                    name,
                    value: format!("{v:?}"),
                    why: "takes one value here; use `asyncbench sweep` to vary it",
                }),
            }
        }
        let auto = |name| ConfigError::Invalid {
            name,
            value: "auto".into(),
            why: "auto is for `asyncbench sweep`, which then finds the points to try",
        };
        let (concurrency, adaptive) = match one("--concurrency", &self.concurrency)? {
            None => (50, None),
            Some(Level::Value(c)) => (c, None),
            Some(Level::Auto) => {
                let a = crate::adaptive::AdaptiveConfig {
                    max: self
                        .max_concurrency
                        .unwrap_or(crate::adaptive::AdaptiveConfig::default().max),
                    ..crate::adaptive::AdaptiveConfig::default()
                };
                (a.max, Some(a))
            }
        };
        if adaptive.is_none()
            && let Some(m) = self.max_concurrency
        {
            return Err(invalid(
                "--max-concurrency",
                m.to_string(),
                "applies to --concurrency auto",
            ));
        }
        let cpu_work = one("--cpu-work", &self.cpu_work)?.filter(|d| !d.is_zero());
        let batch_size = one("--batch-size", &self.batch_size)?;
        let pause = one("--pause", &self.pause)?.unwrap_or(Duration::from_secs(1));
        let rate = match one("--rate", &self.rate)? {
            None => None,
            Some(Level::Value(r)) => Some(r),
            Some(Level::Auto) => return Err(auto("--rate")),
        };
        let max_tokens = self.max_tokens;
        let (mock, target) = match &self.target {
            Some(url) => {
                if self.mock_flags_given() {
                    return Err(invalid(
                        "--target",
                        crate::client::redact_url(url),
                        "mock flags (--latency, --rate-429, …) have no effect on an external target; drop them",
                    ));
                }
                let shown = crate::client::redact_url(url);
                let parsed = url::Url::parse(url).ok();
                let is_http = parsed
                    .as_ref()
                    .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
                if !is_http {
                    return Err(invalid("--target", shown, "must be an http:// or https:// URL"));
                }
                // One rule for every client: ureq ignores a URL's user:password while reqwest
                // sends it as Basic auth beside the key, so neither gets to.
                if parsed.is_some_and(|u| !u.username().is_empty() || u.password().is_some()) {
                    return Err(invalid(
                        "--target",
                        shown,
                        "carries a user name or password (user:password@), which is not sent; put the key in the key variable, or send -H 'Authorization: …'",
                    ));
                }
                // An Authorization header given with -H is the key: sent once, used for the
                // mock's admin calls, and the key variable is then not read.
                let api_key = match self
                    .headers
                    .iter()
                    .find(|h| h.name == http::header::AUTHORIZATION)
                {
                    // `parse_header` let only visible ASCII through: nothing is lost here.
                    Some(h) => Some(ApiKey::from_header(&String::from_utf8_lossy(h.value.as_bytes()))),
                    None => read_key(&self.api_key_env)?,
                };
                if self.tls {
                    return Err(invalid(
                        "--tls",
                        crate::client::redact_url(url),
                        "serves the embedded mock over HTTPS; with --target, use an https:// URL",
                    ));
                }
                (
                    None,
                    Some(Target {
                        base_url: url.trim_end_matches('/').to_owned(),
                        api_key,
                        embedded: false,
                        trust: TlsTrust {
                            ca_pem: self.ca_cert.as_deref().map(read_ca).transpose()?.map(Arc::new),
                            insecure: self.insecure,
                        },
                    }),
                )
            }
            None => {
                let mut p = self.mock.to_profile()?;
                // 100 ms stands in for a model's answer time, unless the user described the
                // answer as token timing: then --ttft and --itl alone set it.
                let timed = self.mock.ttft.is_some() || self.mock.itl.is_some();
                if self.mock.latency.is_none() && self.mock.profile.is_none() && !timed {
                    p.latency = LatencySpec::Fixed(Duration::from_millis(100));
                }
                // One seed for the whole run, so every strategy's fresh mock draws the same
                // faults and delays for the same request.
                p.seed = Some(p.seed.unwrap_or(1));
                (Some(p), None)
            }
        };
        let seed = mock.as_ref().and_then(|p| p.seed).or(self.mock.seed).unwrap_or(1);
        let load = match rate {
            None => LoadModel::Closed,
            Some(rate) => LoadModel::Open {
                rate,
                arrival: self.arrival,
                seed,
            },
        };
        let dataset = self.dataset.as_deref().map(read_dataset).transpose()?;
        let body_template = self.body_file.as_deref().map(read_body_file).transpose()?;
        let template_streams = body_template
            .as_ref()
            .and_then(|t| t.get("stream"))
            .and_then(serde_json::Value::as_bool)
            == Some(true);
        if self.export_chunks && (self.out.is_none() || !(self.stream || template_streams)) {
            return Err(invalid(
                "--export-chunks",
                String::new(),
                "writes each streamed chunk's time into requests.jsonl: it needs --out and --stream",
            ));
        }
        // What the body file sets is what is sent, and so what the report shows.
        let from_template = |key: &str| body_template.as_ref().and_then(|t| t.get(key));
        let max_tokens = match from_template("max_tokens").and_then(serde_json::Value::as_u64) {
            Some(n) => Spread::fixed(u32::try_from(n).unwrap_or(u32::MAX)),
            None => max_tokens,
        };
        let model = from_template("model")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| self.model.clone(), str::to_owned);
        let (strategies, external) = self.external_clients(strategies)?;
        let requests = match (self.requests, self.duration) {
            (Some(n), _) => n,
            (None, Some(_)) => u64::MAX,
            (None, None) => 200,
        };
        let cfg = RunConfig {
            workload: Workload {
                requests,
                model,
                prompt: self.prompt.clone(),
                max_tokens: max_tokens.mean,
                max_tokens_spread: max_tokens.spread,
                prompt_tokens: self.prompt_tokens,
                dataset: self.dataset.as_ref().map(|p| p.display().to_string()),
                dataset_rows: dataset.as_ref().map_or(0, |d| d.len() as u64),
                body_file: self.body_file.as_ref().map(|p| p.display().to_string()),
                headers: self.headers.iter().map(|h| h.name.to_string()).collect(),
                stream: self.stream || template_streams,
                delay_endpoint: None,
            },
            inputs: Arc::new(Inputs {
                dataset: dataset.unwrap_or_default(),
                body_template,
                // The Authorization header is sent as the target's key (once), not as an extra.
                headers: self
                    .headers
                    .iter()
                    .filter(|h| target.is_none() || h.name != http::header::AUTHORIZATION)
                    .cloned()
                    .collect(),
            }),
            duration: self.duration,
            warmup: self.warmup,
            slo: self.slo.unwrap_or_default(),
            export_chunks: self.export_chunks,
            shard: self.shard,
            start_at: self.start_at,
            external,
            strategies,
            concurrency,
            adaptive,
            cpu_work,
            batch_size: batch_size.unwrap_or(concurrency.max(1)),
            pause,
            retry: self.retry_policy()?,
            timeout: self.timeout,
            load,
            seed,
            mock,
            api_key_env: target.as_ref().map(|_| self.api_key_env.clone()),
            target,
            out: self.out.clone(),
            force: self.force,
            quiet: self.quiet,
            max_body: self.max_body,
            intervals_in_memory: SEALED_IN_MEMORY,
            http2: self.http2,
            mock_tls: self.tls,
        };
        if batch_size.is_none() && concurrency == 0 && cfg.strategies.contains(&Strategy::Batched) {
            return Err(invalid(
                "--concurrency",
                "0".into(),
                "batched needs a batch size (it defaults to the concurrency); 0 (unbounded) is for async",
            ));
        }
        cfg.validate()?;
        cfg.check_bodies_fit()?;
        Ok(cfg)
    }
}

impl CommonArgs {
    /// The external clients of the run: `--client-cmd` joins the strategies (once, at the end
    /// unless `--strategies` placed its name), and the Python clients' interpreter is checked
    /// for every package they import, before anything runs.
    fn external_clients(
        &self,
        mut strategies: Vec<Strategy>,
    ) -> Result<(Vec<Strategy>, crate::config::ExternalConfig), ConfigError> {
        let invalid = |name, value: String, why| ConfigError::Invalid { name, value, why };
        let client_cmd = match &self.client_cmd {
            Some(cmd) if cmd.trim().is_empty() => {
                return Err(invalid(
                    "--client-cmd",
                    cmd.clone(),
                    "is empty; give the command that starts your client",
                ));
            }
            Some(cmd) => {
                let name = self.client_name.clone().unwrap_or_else(|| "custom".into());
                let id = crate::external::ClientName::new(&name)
                    .map_err(|why| invalid("--client-name", name.clone(), why))?;
                if !strategies.contains(&Strategy::Custom(id)) {
                    strategies.push(Strategy::Custom(id));
                }
                Some(crate::external::ClientCmd {
                    name,
                    command: cmd.clone(),
                })
            }
            None => None,
        };
        let external = strategies.iter().any(|s| s.is_external());
        if external && self.requests.is_none() && self.duration.is_some() {
            return Err(invalid(
                "--duration",
                "without -n".into(),
                "external clients are handed their requests up front: give -n as well (the duration still ends the run first)",
            ));
        }
        if external
            && let Some(n) = self.requests
            && n > crate::runner::MAX_PHASE_REQUESTS
        {
            return Err(invalid(
                "--requests",
                n.to_string(),
                "is more than an external client's run holds (268435456)",
            ));
        }
        if external && matches!(self.warmup, Some(crate::config::Warmup::Time(_))) {
            return Err(invalid(
                "--warmup",
                "a duration".into(),
                "external clients are handed their requests up front: give the warm-up as a count (e.g. --warmup 50)",
            ));
        }
        if external && self.concurrency.contains(&Level::Auto) {
            return Err(invalid(
                "--concurrency",
                "auto".into(),
                "external clients keep the concurrency they are given; auto is for the async strategies",
            ));
        }
        let python: Vec<crate::external::PyClient> = strategies
            .iter()
            .filter_map(|s| match s {
                Strategy::Python(p) => Some(*p),
                _ => None,
            })
            .collect();
        if !python.is_empty() {
            let interpreter = crate::external::python::interpreter(self.python.as_deref());
            crate::external::python::check(&interpreter, &python)?;
        }
        Ok((
            strategies,
            crate::config::ExternalConfig {
                python: self.python.clone(),
                client_cmd,
            },
        ))
    }
}

/// The API key in `var`, if it is set and not empty. A key that an HTTP header cannot carry as it
/// is (surrounding whitespace, non-ASCII or control characters) is refused, naming the variable,
/// never the value: sending it trimmed or mangled would fail in a way that looks like a bad key.
fn read_key(var: &str) -> Result<Option<ApiKey>, ConfigError> {
    let bad = |why| ConfigError::BadKey {
        var: var.to_owned(),
        why,
    };
    let k = match std::env::var(var) {
        Ok(k) => k,
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => return Err(bad("is not valid UTF-8")),
    };
    if k.is_empty() {
        return Ok(None);
    }
    if k.trim() != k {
        return Err(bad("has whitespace around it; remove it"));
    }
    if !k.is_ascii() {
        return Err(bad("has non-ASCII characters, which an HTTP header cannot carry"));
    }
    if k.chars().any(|c| c.is_ascii_control()) {
        return Err(bad("has control characters"));
    }
    Ok(Some(ApiKey::new(k)))
}

/// The PEM certificates of `--ca-cert`, checked to hold at least one.
fn read_ca(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let bad = |why: String| ConfigError::File {
        name: "--ca-cert",
        path: path.display().to_string(),
        why,
    };
    let pem = mock_server::files::read_capped(path, mock_server::files::MAX_SMALL_FILE)
        .map_err(|e| bad(e.to_string()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(pem)
}
