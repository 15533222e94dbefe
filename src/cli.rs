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
use crate::config::{Arrival, LoadModel, RunConfig, Strategy, Target, TlsTrust, Workload};
use crate::error::ConfigError;
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
    /// The base config and the axis: exactly one list flag must hold more than one value.
    pub fn to_sweep(&self) -> Result<(RunConfig, crate::sweep::Axis), ConfigError> {
        use crate::sweep::Axis;
        let c = &self.common;
        let mut axes = Vec::new();
        if c.concurrency.len() > 1 {
            axes.push(Axis::Concurrency(c.concurrency.clone()));
        }
        if c.batch_size.len() > 1 {
            axes.push(Axis::BatchSize(c.batch_size.clone()));
        }
        if c.pause.len() > 1 {
            axes.push(Axis::Pause(c.pause.clone()));
        }
        if c.rate.len() > 1 {
            axes.push(Axis::Rate(c.rate.clone()));
        }
        let axis = match axes.len() {
            1 => axes.remove(0),
            0 => {
                return Err(ConfigError::Invalid {
                    name: "sweep",
                    value: String::new(),
                    why: "give one of --concurrency, --batch-size, --pause or --rate a comma-separated list",
                });
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "sweep",
                    value: axes.iter().map(|a| a.name()).collect::<Vec<_>>().join(","),
                    why: "vary one setting at a time",
                });
            }
        };
        let mut first = CommonArgs {
            ..self.common.clone()
        };
        match &axis {
            Axis::Concurrency(v) => first.concurrency = vec![v[0]],
            Axis::BatchSize(v) => first.batch_size = vec![v[0]],
            Axis::Pause(v) => first.pause = vec![v[0]],
            Axis::Rate(v) => first.rate = vec![v[0]],
        }
        let cfg = first.to_config(self.strategies.clone())?;
        // Every point must be valid, not only the first.
        for i in 0..axis.values().len() {
            axis.apply(&cfg, i).validate()?;
        }
        Ok((cfg, axis))
    }
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
    /// Strategies to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = Strategy::ALL)]
    pub strategies: Vec<Strategy>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
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
}

/// Flags shared by every measuring subcommand.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Logical requests per strategy.
    #[arg(long, short = 'n', default_value_t = 200, value_parser = parse_positive)]
    pub requests: u64,
    /// Threads (threadpool) or requests in flight (async, async-single); 0 = unbounded (async
    /// only). `sweep` takes a comma-separated list.
    #[arg(
        long,
        short = 'c',
        default_value = "50",
        value_delimiter = ',',
        value_name = "C"
    )]
    pub concurrency: Vec<u64>,
    /// Requests per batch for `batched` [default: the concurrency]. `sweep` takes a list.
    #[arg(long, value_name = "B", value_parser = parse_positive, value_delimiter = ',')]
    pub batch_size: Vec<u64>,
    /// Pause between batches for `batched`. `sweep` takes a list.
    #[arg(long, default_value = "1s", value_parser = parse_duration_arg, value_delimiter = ',')]
    pub pause: Vec<Duration>,
    /// Retry policy preset: none, aiohttp (the article's ExponentialRetry), openai (openai-python).
    #[arg(long, default_value = "none", value_enum)]
    pub retry: RetryPreset,
    /// Override the preset's total attempts (first included) [default: the preset's].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub retry_attempts: Option<u64>,
    /// Override the preset's initial backoff [default: the preset's].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_initial: Option<Duration>,
    /// Override the preset's backoff factor [default: the preset's].
    #[arg(long, value_name = "F")]
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
    /// max_tokens of each request.
    #[arg(long, default_value_t = 16, value_parser = parse_positive)]
    pub max_tokens: u64,
    /// Send stream: true and time every token (TTFT, ITL, TPOT).
    #[arg(long)]
    pub stream: bool,
    /// Open loop: start requests at this many per second, ready or not [default: none, a closed
    /// loop]. `sweep` takes a list.
    #[arg(long, value_name = "R", value_delimiter = ',')]
    pub rate: Vec<f64>,
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
            || m.tpm.is_some()
            || m.limit_window.is_some()
            || m.max_response_bytes.is_some()
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
        let concurrency = one("--concurrency", &self.concurrency)?.unwrap_or(50);
        let batch_size = one("--batch-size", &self.batch_size)?;
        let pause = one("--pause", &self.pause)?.unwrap_or(Duration::from_secs(1));
        let rate = one("--rate", &self.rate)?;
        let max_tokens = u32::try_from(self.max_tokens)
            .map_err(|_| invalid("--max-tokens", self.max_tokens.to_string(), "too large"))?;
        let (mock, target) = match &self.target {
            Some(url) => {
                if self.mock_flags_given() {
                    return Err(invalid(
                        "--target",
                        url.clone(),
                        "mock flags (--latency, --rate-429, …) have no effect on an external target; drop them",
                    ));
                }
                let is_http = url::Url::parse(url)
                    .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
                if !is_http {
                    return Err(invalid(
                        "--target",
                        url.clone(),
                        "must be an http:// or https:// URL",
                    ));
                }
                let api_key = read_key(&self.api_key_env)?;
                if self.tls {
                    return Err(invalid(
                        "--tls",
                        url.clone(),
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
        let cfg = RunConfig {
            workload: Workload {
                requests: self.requests,
                model: self.model.clone(),
                prompt: self.prompt.clone(),
                max_tokens,
                stream: self.stream,
                delay_endpoint: None,
            },
            strategies,
            concurrency,
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
        Ok(cfg)
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
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(pem)
}
