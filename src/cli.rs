//! The command line: flat clap flags (doc comments are the help text), turned into a validated
//! [`RunConfig`] by [`CommonArgs::to_config`], and the dispatch of each subcommand.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mock_server::profile::{parse_duration_arg, parse_positive};
use mock_server::{LatencySpec, ProfileArgs};

use crate::client::ApiKey;
use crate::config::{Arrival, LoadModel, RunConfig, Strategy, Target, Workload};
use crate::error::{ConfigError, RunError};
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
    /// Directory for report.json and summary.csv.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
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
    /// Override the preset's total attempts (first included).
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub retry_attempts: Option<u64>,
    /// Override the preset's initial backoff.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_initial: Option<Duration>,
    /// Override the preset's backoff factor.
    #[arg(long, value_name = "F")]
    pub retry_factor: Option<f64>,
    /// Override the preset's maximum backoff.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_max: Option<Duration>,
    /// Override the preset's jitter: none, openai (up to 25 % less), full (uniform 0..delay).
    #[arg(long, value_name = "KIND", value_parser = ["none", "openai", "full"])]
    pub retry_jitter: Option<String>,
    /// Override the statuses retried, comma-separated (5xx are retried when the preset says so).
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub retry_statuses: Option<Vec<u16>>,
    /// Honour Retry-After up to this cap (0 = ignore the header).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_after_cap: Option<Duration>,
    /// Per-attempt timeout (connect, send, wait and body).
    #[arg(long, default_value = "60s", value_parser = parse_duration_arg)]
    pub timeout: Duration,
    /// OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1) instead of the embedded mock.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
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
    /// Open loop: start requests at this many per second, ready or not (default: closed loop).
    /// `sweep` takes a list.
    #[arg(long, value_name = "R", value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Inter-arrival gaps of --rate.
    #[arg(long, default_value = "constant", value_enum)]
    pub arrival: Arrival,
    /// Directory for report.json and summary.csv.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
    /// The embedded mock's behaviour (same flags as `mock-server`); latency defaults to 100ms.
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
                let api_key = match std::env::var(&self.api_key_env) {
                    Ok(k) if k.trim().is_empty() || k.contains(['\r', '\n']) => {
                        return Err(ConfigError::BadKey(self.api_key_env.clone()));
                    }
                    Ok(k) => Some(ApiKey::new(k)),
                    Err(_) => None,
                };
                (
                    None,
                    Some(Target {
                        base_url: url.trim_end_matches('/').to_owned(),
                        api_key,
                        embedded: false,
                    }),
                )
            }
            None => {
                let mut p = self.mock.to_profile()?;
                if self.mock.latency.is_none() && self.mock.profile.is_none() {
                    p.latency = LatencySpec::Fixed(Duration::from_millis(100));
                }
                (Some(p), None)
            }
        };
        let seed = self.mock.seed.unwrap_or(1);
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
            target,
            out: self.out.clone(),
            quiet: self.quiet,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// How a command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Everything ran and added up.
    Ok,
    /// The run finished but its accounting does not add up (exit 3).
    AccountingFailed,
    /// The target stopped answering mid-run; the report holds what finished (exit 4).
    Partial,
}

impl Finish {
    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Finish::Ok => ExitCode::SUCCESS,
            Finish::AccountingFailed => ExitCode::from(3),
            Finish::Partial => ExitCode::from(4),
        }
    }
}

/// The exit code of an error: 2 for bad input, 1 otherwise.
pub fn error_exit_code(e: &RunError) -> ExitCode {
    match e {
        RunError::Config(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

/// Runs a parsed command line, printing its results on stdout.
pub fn execute(cli: Cli) -> Result<Finish, RunError> {
    let report = match cli.command {
        Command::Compare(args) => {
            let cfg = args.common.to_config(args.strategies)?;
            let report = crate::compare::compare(&cfg)?;
            print!("{}", report.table());
            println!("machine: {}", report.machine.summary());
            for w in report.rate_warnings() {
                eprintln!("asyncbench: warning: {w}");
            }
            if let Some(out) = &cfg.out {
                println!("wrote {}", out.display());
            }
            report
        }
        Command::Reproduce(args) => crate::reproduce::reproduce(args.out.as_deref(), args.quiet)?,
        Command::Sweep(args) => {
            let (cfg, axis) = args.to_sweep()?;
            let criteria = crate::sweep::Criteria {
                slo_p99_ms: args.slo_p99.map(|d| d.as_secs_f64() * 1000.0),
                max_429_share: args.max_429,
            };
            let report = crate::sweep::sweep(&cfg, &axis, criteria)?;
            print!("{}", crate::sweep::render(&report));
            println!("machine: {}", report.machine.summary());
            if let Some(out) = &cfg.out {
                println!("wrote {}", out.display());
            }
            let failed = report
                .points
                .iter()
                .flat_map(|p| &p.results)
                .any(|r| !r.accounted_ok);
            return Ok(if failed {
                Finish::AccountingFailed
            } else {
                Finish::Ok
            });
        }
        Command::Plot(args) => {
            let written = if args.combine.is_empty() {
                crate::report::output::plot_dir(&args.dir)?
            } else {
                crate::report::output::combine(&args.combine, &args.dir)?
            };
            for path in written {
                println!("wrote {}", path.display());
            }
            return Ok(Finish::Ok);
        }
    };
    let failures = report.accounting_failures();
    if !report.complete {
        Ok(Finish::Partial)
    } else if failures.is_empty() {
        Ok(Finish::Ok)
    } else {
        for f in failures {
            eprintln!("asyncbench: accounting mismatch: {f}");
        }
        Ok(Finish::AccountingFailed)
    }
}
