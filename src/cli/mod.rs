//! The command line: flat clap flags (doc comments are the help text) and the parsers of their
//! values ([`parse`]). No I/O and no checks across flags: [`crate::plan::args`] turns these into
//! a validated plan.

pub(crate) mod parse;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use mock_server::ProfileArgs;
use mock_server::args::{parse_bytes, parse_duration_arg, parse_positive};

use crate::cli::parse::{parse_header, parse_prompt_tokens, parse_spread};
use crate::cli::parse::{parse_shard, parse_slo, parse_start_at, parse_warmup};
use crate::model::plan::Header;
use crate::model::plan::Spread;
use crate::model::plan::{Api, Arrival, Shard, Slo, Warmup};
use crate::model::retry::RetryPreset;
use crate::model::strategy::Strategy;

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

/// `--retry-jitter`: how much of each backoff is drawn at random.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JitterKind {
    /// None: the backoff as computed.
    None,
    /// OpenAI's SDKs: up to 25 % less.
    Openai,
    /// Uniform between 0 and the backoff.
    Full,
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
    /// Compare two saved runs (report.json) or sweeps (sweep.json): each figure's change with
    /// its 95 % interval when both have rounds; --fail-if makes a crossed threshold exit 8.
    Diff(DiffArgs),
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
    /// Strategies to run at every point, comma-separated [default: threadpool, async; batched
    /// for --batch-size and --pause, which change it alone].
    #[arg(long, value_delimiter = ',')]
    pub strategies: Vec<Strategy>,
    /// The p99 latency a recommended setting must meet (successful requests, end to end).
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse::parse_positive_duration)]
    pub slo_p99: Option<Duration>,
    /// The share of attempts answered 429 a recommended setting must stay under (0..1).
    #[arg(allow_hyphen_values = true, long, default_value_t = 0.01, value_name = "P", value_parser = mock_server::args::parse_probability)]
    pub max_429: f64,
    /// The share of requests that must be good (successful, and with --slo within it) (0..1)
    /// [default: none].
    #[arg(allow_hyphen_values = true, long, value_name = "P", value_parser = mock_server::args::parse_probability)]
    pub min_good: Option<f64>,
    /// Search, for each strategy, for the largest value of one setting that meets the limits
    /// (--slo-p99, --max-429, --min-good): doubling from LO until one breaks, then bisection to
    /// --resolution; escalation stops at over-saturation. concurrency, rate or batch-size,
    /// with its range [default range: 1..1024].
    #[arg(long, value_parser = crate::cli::parse::parse_find, value_name = "SETTING[=LO..HI]")]
    pub find: Option<crate::model::search::Find>,
    /// With --find: stop once the first value that breaks a limit is within this share above
    /// the largest that meets them.
    #[arg(long, default_value = "5%", value_parser = crate::cli::parse::parse_share, value_name = "PERCENT")]
    pub resolution: f64,
    /// With --find: measure no more points once this many requests were sent in all [default:
    /// none].
    #[arg(long, value_name = "N", value_parser = parse_positive, allow_negative_numbers = true)]
    pub budget_requests: Option<u64>,
    /// Run every point of a rising list, even past the point where every strategy was
    /// over-saturated twice in a row (where a sweep stops by default, saying so).
    #[arg(long)]
    pub all_points: bool,
    /// With --find: measure no more points after this long [default: none].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse::parse_positive_duration)]
    pub budget_time: Option<Duration>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: CommonArgs,
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
    /// Print every column of the table, not the compact one.
    #[arg(long)]
    pub wide: bool,
    /// Write into a non-empty --out, first removing what an earlier run wrote there.
    #[arg(long)]
    pub force: bool,
}

/// Flags of `diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The base: a folder written by --out, or its report.json or sweep.json.
    #[arg(value_name = "BASE")]
    pub base: PathBuf,
    /// The new run, of the same kind.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Thresholds, comma-separated, that fail the diff (exit 8) when a figure's change passes
    /// them and is a difference at 95 %: FIGURE>+N% or FIGURE<-N%, FIGURE one of goodput, p50,
    /// p99, cpu_per_req; e.g. 'p99>+10%,goodput<-5%,cpu_per_req>+10%'. A strategy (or
    /// point) of BASE missing from NEW fails them too.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_threshold)]
    pub fail_if: Vec<crate::stats::diff::Threshold>,
    /// Compare runs whose settings differ (they are named first); without it such a diff is
    /// refused.
    #[arg(long)]
    pub allow_config_change: bool,
}

fn parse_threshold(s: &str) -> Result<crate::stats::diff::Threshold, String> {
    s.parse()
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
        Strategy::ALL
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
    /// No live view and no progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// No live panel on a terminal: a progress line on stderr every 5 s instead.
    #[arg(long)]
    pub no_tui: bool,
    /// Also run the article's own Python code beside its Rust twins: py-sequential (its
    /// `requests` loop), py-threadpool and py-aiohttp (its `aiohttp` + `asyncio.gather`), with
    /// the interpreter of $ASYNCBENCH_PYTHON or clients/python/.venv or python3.
    #[arg(long)]
    pub python: bool,
    /// Run the comparison K times, interleaved; times are then each strategy's mean round
    /// with its 95 % interval [default: 1, or $ASYNCBENCH_ROUNDS].
    #[arg(long, value_name = "K", env = "ASYNCBENCH_ROUNDS", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: Option<u32>,
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
    /// Run each strategy K times (each time -n requests or --duration), interleaved: A B C,
    /// then C B A, each against a target in a known state. Figures then carry 95 % intervals
    /// and pairs of strategies a verdict; a shard of several runs one round [default: compare
    /// 3 (1 with --shard), sweep 1; $ASYNCBENCH_ROUNDS sets it for every command].
    #[arg(long, value_name = "K", env = "ASYNCBENCH_ROUNDS", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: Option<u32>,
    /// Run each strategy for this long instead of a count (closed or open loop); requests in
    /// flight at the end finish or time out and are counted. With -n, whichever ends first
    /// [default: none: -n bounds the run].
    #[arg(allow_hyphen_values = true, long, short = 'z', value_parser = parse_duration_arg, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Requests sent first, by each strategy with its own clients (a count, or a duration such as
    /// 5s), left out of every figure and reported apart [default: none].
    #[arg(allow_hyphen_values = true, long, value_parser = parse_warmup, value_name = "N|DURATION")]
    pub warmup: Option<Warmup>,
    /// Closed loop: open each phase's C slots evenly over this long (slot k's first request
    /// starts k × DURATION ÷ C after the phase's start), so that C requests do not start, and
    /// then keep ending and re-starting, together. `batched` is not ramped: its batches start
    /// together by design [default: none: all C at once].
    #[arg(allow_hyphen_values = true, long, value_parser = parse_duration_arg, value_name = "DURATION")]
    pub ramp: Option<Duration>,
    /// Threads (threadpool) or requests in flight (async, async-single, async-offload);
    /// 0 = unbounded (async only; a closed loop needs -n); auto = set by a controller that
    /// follows the target's rate limit (async strategies). `sweep` takes a comma-separated list
    /// (or auto: it finds the points).
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
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg, value_delimiter = ',')]
    pub cpu_work: Vec<Duration>,
    /// Requests per batch for `batched` [default: the concurrency]; with --api embeddings,
    /// inputs in each request [default: 1] (`batched` then batches by the concurrency). `sweep`
    /// takes a list.
    #[arg(long, value_name = "B", value_parser = parse_positive, value_delimiter = ',', allow_negative_numbers = true)]
    pub batch_size: Vec<u64>,
    /// Pause between batches for `batched`. `sweep` takes a list.
    #[arg(allow_hyphen_values = true, long, default_value = "1s", value_parser = parse_duration_arg, value_delimiter = ',')]
    pub pause: Vec<Duration>,
    /// Retry policy preset: none, aiohttp (the article's ExponentialRetry), openai (openai-python),
    /// anthropic (anthropic-sdk-python).
    #[arg(long, default_value = "none", value_enum)]
    pub retry: RetryPreset,
    /// Override the preset's total attempts (first included, at most 100) [default: the preset's].
    #[arg(long, value_name = "N", value_parser = parse_positive, allow_negative_numbers = true)]
    pub retry_attempts: Option<u64>,
    /// Override the preset's initial backoff [default: the preset's].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_initial: Option<Duration>,
    /// Override the preset's backoff factor [default: the preset's].
    #[arg(long, value_name = "F", allow_negative_numbers = true)]
    pub retry_factor: Option<f64>,
    /// Override the preset's maximum backoff [default: the preset's].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_max: Option<Duration>,
    /// Override the preset's jitter: none, openai (up to 25 % less), full (uniform 0..delay)
    /// [default: the preset's].
    #[arg(long, value_name = "KIND", value_enum)]
    pub retry_jitter: Option<JitterKind>,
    /// Override the statuses retried, comma-separated, 300 to 599 (5xx are retried when the
    /// preset says so) [default: the preset's].
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub retry_statuses: Option<Vec<u16>>,
    /// Honour Retry-After up to this cap (0 = ignore the header) [default: the preset's].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_after_cap: Option<Duration>,
    /// One deadline per attempt, from before connecting to the last byte (streams included),
    /// the same in every client: an answer completed after it is a timeout.
    #[arg(allow_hyphen_values = true, long, default_value = "60s", value_parser = parse_duration_arg)]
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
    /// The embedded mock does not stamp its writes: the distortion note then shows the
    /// harness's own part only (stamps cost the mock a little: see the guide) [default: stamped].
    #[arg(long)]
    pub no_stamps: bool,
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
    /// Environment variable holding the API key for --target (never printed or written)
    /// [default: OPENAI_API_KEY, or ANTHROPIC_API_KEY with --api anthropic].
    #[arg(long, value_name = "NAME")]
    pub api_key_env: Option<String>,
    /// The API the requests speak: openai (chat completions at BASE/chat/completions),
    /// anthropic (Messages at BASE/messages, with x-api-key and anthropic-version) or
    /// embeddings (BASE/embeddings, --batch-size inputs a request); the embedded mock serves
    /// all three.
    #[arg(long, value_enum, default_value = "openai")]
    pub api: Api,
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
    /// Synthetic prompts of N tokens each, or N ± SPREAD, as --tokenizer counts them with the
    /// framing of the message and the reply, instead of --prompt [default: none].
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
    /// With --out, write no requests.jsonl: the report, summary and histograms only (a line a
    /// request, some 300 bytes, is a gigabyte a minute at 50 000 requests/s).
    #[arg(long)]
    pub no_request_log: bool,
    /// With --format json-line, print every request's requests.jsonl line on stdout before the
    /// report line, so that a pod's log carries them (`asyncbench merge` gathers them into the
    /// merged requests.jsonl, each with its shard).
    #[arg(long)]
    pub print_requests: bool,
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
    /// Print every column of the table (each failure outcome, eff, p90, max), not the compact
    /// table that fits 120 columns.
    #[arg(long)]
    pub wide: bool,
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
    /// No live view and no progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// No live panel on a terminal: a progress line on stderr every 5 s instead (as when stdout
    /// is not a terminal).
    #[arg(long)]
    pub no_tui: bool,
    /// Without the live panel (stdout not a terminal, or --no-tui): how often a progress line
    /// goes to stderr.
    #[arg(allow_hyphen_values = true, long, default_value = "5s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub progress_every: Duration,
    /// The embedded mock's behaviour (same flags as `mock-server`); its latency defaults to
    /// 100ms unless --ttft or --itl is given, and its seed to 1.
    #[command(flatten)]
    pub mock: ProfileArgs,
}
