//! The report model: [`RunReport`] (serde, the `report.json` schema) and what it holds, per strategy
//! and per run, with the judgements read from it (rate warnings, accounting, the diagnosis of a run
//! where nothing succeeded). Built by `stats`, printed by `output`.

use crate::model::adaptive::AdaptiveReport;
use crate::model::provenance::Provenance;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::outcome::Outcome;
use crate::model::plan::{LoadModel, Workload};
use crate::model::retry::RetryPolicy;
use crate::model::rounds::{Round, Second, Spread, Steady};
use crate::model::series::Percentiles;
use crate::model::strategy::Strategy;

/// The whole run: provenance, configuration and one entry per strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Tool, build commit, machine, start and end.
    #[serde(flatten)]
    pub provenance: Provenance,
    /// What it ran.
    pub config: ConfigSummary,
    /// One entry per strategy, in run order.
    pub strategies: Vec<StrategyReport>,
    /// False when the run was cut short (the report holds what was measured until then).
    pub complete: bool,
    /// Why it was cut short.
    pub incomplete_reason: Option<String>,
    /// For a merged report: the shards it was made of.
    #[serde(default)]
    pub merged_from: Vec<ShardInfo>,
    /// How long the requests waited, all together, for `requests.jsonl`'s disk to take their
    /// lines (absent: no log was written, or its disk kept up). A wait held the request that
    /// finished, and those behind it: their latencies and the rate include it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_wait_s: Option<f64>,
}

/// One shard of a merged report: which it was, and where and when it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// `K/N`, or `whole` for an unsharded report.
    pub shard: String,
    /// The machine, in one line.
    pub machine: String,
    /// The build's commit.
    pub git_commit: Option<String>,
    /// Unix seconds.
    pub started_unix: u64,
    /// Unix seconds.
    pub ended_unix: u64,
    /// It ran to the end.
    pub complete: bool,
}

/// How the strategies of a run met the target's state (limiter buckets, schedules, counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Each strategy met a fresh embedded mock.
    FreshMock,
    /// The target (a standalone mock) was reset before each strategy.
    Reset,
    /// The target could not be reset: its state carried over from one strategy to the next.
    Shared,
    /// One strategy only, against a target that could not be reset.
    Single,
    /// A shard of a run whose shards share the target at the same time.
    Shards,
}

impl Isolation {
    /// A few words for the table header.
    pub fn describe(self) -> &'static str {
        match self {
            Isolation::FreshMock => "a fresh mock per strategy",
            Isolation::Reset => "reset before each strategy",
            Isolation::Shared => {
                "SHARED by the strategies (it could not be reset: limits and schedules carry over)"
            }
            Isolation::Single => "not reset",
            Isolation::Shards => "shared with the run's other shards: not reset, not cross-checked per shard",
        }
    }
}

/// The workload as a report writes it: the logical requests asked for (`null`: no cap, the
/// duration ended the run) beside what each one sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSummary {
    /// Logical requests per strategy (`null`: no cap).
    pub requests: Option<u64>,
    /// What each request sends.
    #[serde(flatten)]
    pub sent: Workload,
}

impl std::ops::Deref for WorkloadSummary {
    type Target = Workload;
    fn deref(&self) -> &Workload {
        &self.sent
    }
}

/// The configuration as written into a report (no secrets: only whether a key was set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// Logical requests per strategy (`null`: no cap, the duration ended the run).
    pub requests: Option<u64>,
    /// `--concurrency` (0 = unbounded).
    pub concurrency: u64,
    /// `--batch-size`.
    pub batch_size: u64,
    /// `--pause`, seconds.
    pub pause_s: f64,
    /// Per-attempt deadline, seconds.
    pub timeout_s: f64,
    /// Largest response body read, bytes.
    pub max_body_bytes: u64,
    /// HTTP/2 was asked of the async strategies.
    pub http2: bool,
    /// The target is served over HTTPS.
    pub tls: bool,
    /// Any certificate was accepted (`--insecure`).
    pub insecure: bool,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// Closed or open loop.
    pub load: LoadModel,
    /// The request sent, with the count asked for.
    pub workload: WorkloadSummary,
    /// `embedded mock` or the target's base URL (userinfo redacted).
    pub target: String,
    /// The proxy every client went through (userinfo redacted) and the variable that named it,
    /// or none.
    #[serde(default)]
    pub proxy: Option<String>,
    /// How the strategies met the target's state.
    pub isolation: Isolation,
    /// Whether an API key was sent (never the key).
    pub api_key_set: bool,
    /// The variable the key is read from, with `--target`.
    pub api_key_env: Option<String>,
    /// The embedded mock's profile, when it was used.
    pub mock: Option<mock_server::Profile>,
    /// Mean service time the mock was set to (embedded mock only), seconds.
    pub mock_mean_delay_s: Option<f64>,
    /// `--duration`, seconds: each strategy ran this long (or to `requests`, if sooner).
    pub duration_s: Option<f64>,
    /// `--warmup`.
    pub warmup: Option<crate::model::plan::Warmup>,
    /// `--ramp`, seconds: a closed loop opened each phase's slots evenly over this long
    /// (`batched` excepted); absent without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_s: Option<f64>,
    /// `--slo`.
    pub slo: crate::model::plan::Slo,
    /// `--shard K/N`: this report is shard K of N.
    pub shard: Option<crate::model::plan::Shard>,
    /// `--start-at`: the Unix time (s) the run was told to start at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_unix: Option<f64>,
    /// `--concurrency auto`: the controller's start and cap (`concurrency` is then the cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<crate::model::adaptive::AdaptiveConfig>,
    /// `--cpu-work`, seconds of CPU per successful response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_work_s: Option<f64>,
    /// `--rounds`: how many times each strategy ran, interleaved (1 in reports from before).
    #[serde(default = "one")]
    pub rounds: u32,
}

fn one() -> u32 {
    1
}

/// The mock's view of a strategy's run, compared with the client's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerCheck {
    /// Attempts the client sent.
    pub attempts_sent: u64,
    /// Requests the mock counted.
    pub requests_received: u64,
    /// The two agree.
    pub matches: bool,
    /// The mock's responses by status during this strategy.
    pub responses_by_status: BTreeMap<u16, u64>,
    /// Connections that carried this strategy's requests (the harness's own `/stats` and
    /// `/admin` calls are not counted).
    pub connections: u64,
    /// TLS handshakes of those connections.
    pub tls_handshakes: u64,
    /// Requests that reached it over HTTP/2.
    pub http2_streams: u64,
}

/// Failed attempts of one class, with the first one's sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRow {
    /// `http_404`, `timeout`, `connection_refused`, …
    pub class: String,
    /// The outcome these attempts count as.
    pub outcome: Outcome,
    /// Failed attempts of this class.
    pub count: u64,
    /// The status and the first 200 bytes of the body, or the error message; secrets redacted.
    pub sample: String,
}

/// One strategy's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyReport {
    /// The strategy.
    pub id: Strategy,
    /// Most requests it could have in flight; `null` for no limit at all (an open loop's
    /// `--concurrency 0` without a count).
    pub concurrency: Option<u64>,
    /// Logical requests asked for.
    pub requests: u64,
    /// Logical requests issued (fewer than asked when the run was stopped).
    pub issued: u64,
    /// Logical requests by final outcome (every outcome listed, zeros included).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// `recorded/issued`, e.g. `200/200`.
    pub accounted: String,
    /// Every request issued ended in exactly one outcome.
    pub accounted_ok: bool,
    /// Attempts sent (first ones included).
    pub attempts: u64,
    /// Attempts by how each ended (a request retried after two 429s counts two here).
    pub attempt_outcomes: BTreeMap<Outcome, u64>,
    /// Failed attempts by status or error class, most frequent first.
    pub errors: Vec<ErrorRow>,
    /// Successful answers by the HTTP version they came in (what was used, not asked for).
    pub protocols: BTreeMap<String, u64>,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Time spent in backoff, summed over requests, seconds.
    pub backoff_s: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Logical requests finished per second (any outcome but `cancelled`).
    pub throughput_rps: f64,
    /// Successful requests per second.
    pub goodput_rps: f64,
    /// Goodput ÷ (concurrency ÷ mean service delay); `None` when the delay is unknown.
    pub efficiency: Option<f64>,
    /// End-to-end latency of successful requests, ms (from intended start, retries included);
    /// `null` when none succeeded.
    pub latency_ms: Option<Percentiles>,
    /// End-to-end latency of all finished requests, whatever their outcome, ms.
    pub latency_all_ms: Option<Percentiles>,
    /// End-to-end latency by final outcome, ms (only outcomes that occurred).
    pub latency_by_outcome_ms: BTreeMap<Outcome, Percentiles>,
    /// Schedule lag (actual − intended start), ms.
    pub lag_ms: Option<Percentiles>,
    /// The measurement's own error: the mock's lateness and the transit (from its stamps, a
    /// mock on this host), the harness's part (every target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distortion: Option<crate::model::distortion::Distortion>,
    /// Service time of successful requests (actual start → end), ms.
    pub service_ms: Option<Percentiles>,
    /// Open loop: the requests/s asked for.
    pub target_rate: Option<f64>,
    /// Open loop: the requests/s actually started (first start to last).
    pub achieved_rate: Option<f64>,
    /// Streaming: time to first token (of any kind), ms.
    pub ttft_ms: Option<Percentiles>,
    /// Streaming: time to first output token (after any reasoning), ms.
    #[serde(default)]
    pub ttfo_ms: Option<Percentiles>,
    /// Streaming: gaps between reasoning chunks, ms.
    #[serde(default)]
    pub reasoning_itl_ms: Option<Percentiles>,
    /// Reasoning tokens received (inside `completion_tokens`).
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// `--api embeddings`: inputs in each request (what a request's worth is in inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs_per_request: Option<u64>,
    /// Streaming: inter-token latency, ms.
    pub itl_ms: Option<Percentiles>,
    /// Streaming: time per output token after the first, ms.
    pub tpot_ms: Option<Percentiles>,
    /// Each successful request's output tokens ÷ its duration, in tokens/s (the
    /// "percentiles" fields hold tokens/s here, not ms).
    pub request_tokens_per_s: Option<Percentiles>,
    /// Completion tokens received.
    pub completion_tokens: u64,
    /// Completion tokens per second of wall time.
    pub tokens_per_s: f64,
    /// Client CPU time, user + system seconds, from the kernel's nanosecond clocks (the
    /// embedded mock's threads and the resource sampler excluded).
    pub cpu_s: f64,
    /// Peak resident memory of the process during the strategy, bytes.
    pub peak_rss_bytes: u64,
    /// Threads the strategy ran on at its peak, its driver thread included.
    pub threads: u64,
    /// The mock's count of what it received, when the target is a mock.
    pub server: Option<ServerCheck>,
    /// What ended the measured phase: its count, or its `--duration`.
    pub ended_by: EndedBy,
    /// When the measured phase started, Unix milliseconds (a merge takes the earliest).
    pub started_unix_ms: f64,
    /// When it ended, Unix milliseconds (a merge takes the latest).
    pub ended_unix_ms: f64,
    /// A merge: how far apart its shards started (the merged wall time includes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_spread_s: Option<f64>,
    /// The warm-up (not in any other figure), when there was one.
    pub warmup: Option<WarmupReport>,
    /// With `--slo`: successful requests that met every limit.
    pub good: Option<u64>,
    /// With `--slo`: good requests as a share of those issued.
    pub good_share: Option<f64>,
    /// With `--slo`: good requests per second of wall time (the goodput `sweep` recommends from).
    pub slo_goodput_rps: Option<f64>,
    /// Input tokens of the successful requests (the target's count, else the harness's).
    pub input_tokens: u64,
    /// Successful requests whose target's `usage.prompt_tokens` differed from the harness's
    /// count (`--tokenizer`): a tokenizer that is not the target's.
    #[serde(default)]
    pub input_token_mismatches: u64,
    /// Input tokens per successful request (the "percentiles" fields hold tokens).
    pub input_tokens_per_request: Option<Percentiles>,
    /// Output tokens per successful request (tokens).
    pub output_tokens_per_request: Option<Percentiles>,
    /// `--concurrency auto`: the controller's limit over time, where it settled, its cuts and
    /// the 429 share; of the last round when there are several (each round has a controller of
    /// its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveReport>,
    /// `--cpu-work`: the work per response, pieces done, their mean CPU time and the threads
    /// they ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_work: Option<CpuWorkReport>,
    /// An external client (`py-*`, `--client-cmd`): its command, start-up, failure, and the
    /// harness's own CPU spent on it. Its `cpu_s`, `peak_rss_bytes` and `threads` are the
    /// client process's, measured from outside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalReport>,
    /// Good requests per second while the concurrency was held (from the first request's start
    /// to the last's, in whole seconds), over every round; `null` when no whole second fits.
    #[serde(default)]
    pub steady_goodput_rps: Option<f64>,
    /// Each round's figures (one entry for a run of one round), in the order they ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<Round>,
    /// With two rounds or more: the figures' means over rounds with their 95 % intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<Spread>,
    /// Every histogram, HdrHistogram V2 + DEFLATE, base64 (`HISTF…`), microseconds.
    pub histograms: BTreeMap<String, String>,
}

/// Inputs to [`StrategyReport::build`] besides the recorder.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The strategy.
    pub id: Strategy,
    /// Effective concurrency (`None`: no limit).
    pub concurrency: Option<u64>,
    /// Requests asked for.
    pub requests: u64,
    /// Requests issued.
    pub issued: u64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Mean service delay of the target, when known.
    pub mean_delay_s: Option<f64>,
    /// Open loop: the requests/s asked for.
    pub target_rate: Option<f64>,
    /// Client CPU seconds.
    pub cpu_s: f64,
    /// Resource peaks.
    pub peaks: crate::model::report::Peaks,
    /// Server cross-check.
    pub server: Option<ServerCheck>,
    /// What ended the measured phase.
    pub ended_by: EndedBy,
    /// An SLO was set (good requests are then counted).
    pub slo_set: bool,
    /// The warm-up, when there was one.
    pub warmup: Option<WarmupReport>,
    /// When the measured phase ended, Unix milliseconds.
    pub ended_unix_ms: f64,
    /// `--concurrency auto`: what the controller did.
    pub adaptive: Option<AdaptiveReport>,
    /// `--cpu-work`: the work done and where it ran.
    pub cpu_work: Option<CpuWorkReport>,
    /// An external client: how it ran and what the harness spent on it.
    pub external: Option<ExternalReport>,
}

/// An external client's run, as the report keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalReport {
    /// The command line it ran as (the interpreter and script of a shipped Python client).
    pub command: String,
    /// Its start-up (spawn → ready), seconds: not in `wall_s`.
    pub startup_s: f64,
    /// Its CPU during start-up (imports, building its client), seconds: not in `cpu_s`.
    #[serde(default)]
    pub startup_cpu_s: f64,
    /// The harness's own CPU for the client: the threads that read, check and record its
    /// lines (not the sampling of its memory), seconds.
    pub harness_cpu_s: f64,
    /// The same per line of a request (warm-up included), microseconds.
    pub harness_cpu_us_per_request: Option<f64>,
    /// Why it failed (died, hung, broke the protocol, lost requests), when it did.
    pub failure: Option<String>,
    /// The end of its stderr, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_tail: Option<String>,
}

/// What ended a strategy's measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    /// Its request count (`-n`).
    Count,
    /// Its time (`--duration`).
    Duration,
    /// A signal (SIGINT, SIGTERM) stopped it before its count or time.
    Signal,
}

impl EndedBy {
    /// The name written in report.json and summary.csv.
    pub fn name(self) -> &'static str {
        match self {
            EndedBy::Count => "count",
            EndedBy::Duration => "duration",
            EndedBy::Signal => "signal",
        }
    }
}

/// A warm-up: requests sent before the measured ones, in no figure of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupReport {
    /// Requests it issued.
    pub issued: u64,
    /// Its requests by outcome (only those that occurred).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// How long it took, seconds.
    pub wall_s: f64,
}

/// Goodput ÷ (concurrency ÷ mean mock delay): 1.0 is the best a strategy of that concurrency
/// could do. Goodput, not throughput: fast failures must not look like efficiency.
/// No limit on the slots (an open loop's `-c 0`): no share of them to give.
pub(crate) fn efficiency(
    goodput_rps: f64,
    mean_delay_s: Option<f64>,
    concurrency: Option<u64>,
) -> Option<f64> {
    let slots = concurrency?.max(1) as f64;
    mean_delay_s.filter(|d| *d > 0.0).map(|d| goodput_rps * d / slots)
}

impl StrategyReport {
    /// [`Self::concurrency`] as the table and the charts show it: `∞` for no limit at all (an
    /// open loop's `--concurrency 0` without a count).
    pub fn concurrency_text(&self) -> String {
        self.concurrency.map_or_else(|| "∞".to_owned(), |c| c.to_string())
    }

    /// This report's figures as one round (round 1 in position 1 until the run numbers it).
    pub fn as_round(&self, timeline: Vec<Second>, steady: Option<Steady>) -> Round {
        Round {
            round: 1,
            position: 1,
            started_unix_ms: self.started_unix_ms,
            wall_s: self.wall_s,
            issued: self.issued,
            ok: self.count(Outcome::Ok),
            goodput_rps: self.goodput_rps,
            throughput_rps: self.throughput_rps,
            slo_goodput_rps: self.slo_goodput_rps,
            p50_ms: self.latency_ms.map(|p| p.p50),
            p90_ms: self.latency_ms.map(|p| p.p90),
            p99_ms: self.latency_ms.map(|p| p.p99),
            cpu_s: self.cpu_s,
            cpu_us_per_request: self.cpu_us_per_request(),
            share_429: self.share_429(),
            steady,
            timeline,
        }
    }

    /// Client CPU per finished request (cancelled ones left out), µs; `None` when none finished.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let finished = self.issued.saturating_sub(self.count(Outcome::Cancelled));
        (finished > 0).then(|| self.cpu_s * 1e6 / finished as f64)
    }

    /// Requests with this outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }

    /// Requests with any outcome but these: counted, not taken from the requests issued, so a
    /// run whose accounting failed (exit 3) shows what was recorded, not a wrapped number.
    pub fn count_except(&self, but: &[Outcome]) -> u64 {
        self.outcomes
            .iter()
            .filter(|(o, _)| !but.contains(o))
            .map(|(_, n)| n)
            .sum()
    }

    /// Attempts answered 429, as a share of all attempts (0 when none were sent).
    pub fn share_429(&self) -> f64 {
        let limited = self
            .attempt_outcomes
            .get(&Outcome::RateLimited)
            .copied()
            .unwrap_or(0);
        if self.attempts == 0 {
            0.0
        } else {
            limited as f64 / self.attempts as f64
        }
    }
}

impl ConfigSummary {
    /// What bounded each strategy, as the pages and charts print it: `200 requests`, `30 s of
    /// requests` (the duration alone), or both.
    pub fn requests_shown(&self) -> String {
        let secs = |d: f64| format!("{d} s");
        match (self.requests, self.duration_s) {
            (Some(n), None) => format!("{n} requests"),
            (Some(n), Some(d)) => format!("{n} requests or {}", secs(d)),
            (None, Some(d)) => format!("{} of requests", secs(d)),
            (None, None) => "no request cap".to_owned(),
        }
    }
}

impl RunReport {
    /// What the figures include that they should not: open-loop strategies that started fewer
    /// than 99 % of the requests/s asked for, with the requests that fell due within a duration
    /// and were never sent (k6's dropped iterations: they found no free slot before the end);
    /// and the requests held back by `requests.jsonl`'s disk.
    pub fn warnings(&self) -> Vec<String> {
        self.strategies
            .iter()
            .filter_map(|s| {
                let (target, achieved) = (s.target_rate?, s.achieved_rate?);
                (achieved < 0.99 * target).then(|| {
                    let unsent = (s.ended_by == EndedBy::Duration)
                        .then(|| s.requests.saturating_sub(s.issued))
                        .filter(|n| *n > 0)
                        .map_or(String::new(), |n| {
                            format!(
                                " ({n} of the {} requests due within its duration were never sent)",
                                s.requests
                            )
                        });
                    format!(
                        "{} started {achieved:.1} requests/s of the {target:.1} asked for ({:.0} %): it could not keep the schedule{unsent}, and its latency counts the wait from each request's due time",
                        s.id,
                        100.0 * achieved / target
                    )
                })
            })
            .chain(self.log_warning())
            .collect()
    }

    /// When the requests waited for `requests.jsonl`'s disk: how long, and what to do.
    pub fn log_warning(&self) -> Option<String> {
        self.log_wait_s.map(|s| {
            format!(
                "requests.jsonl: the disk took the request lines slower than the run made them, and the requests waited {s:.1} s in all for it (their latencies and the rate include the wait); write --out to a faster disk, or leave the log out with --no-request-log"
            )
        })
    }

    /// Strategies whose accounting failed (requests missing, or the mock disagrees).
    pub fn accounting_failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.strategies {
            if !s.accounted_ok {
                out.push(format!("{}: accounted {} requests", s.id, s.accounted));
            }
            if let Some(c) = &s.server
                && !c.matches
            {
                out.push(format!(
                    "{}: sent {} attempts but the mock received {}",
                    s.id, c.attempts_sent, c.requests_received
                ));
            }
        }
        out
    }

    /// Whether at least one request of the run succeeded.
    pub fn any_success(&self) -> bool {
        self.strategies.iter().any(|s| s.count(Outcome::Ok) > 0)
    }

    /// When no request succeeded: one line naming the likely cause, from the most frequent
    /// error class of the run.
    pub fn diagnosis(&self) -> Option<String> {
        if self.any_success() || self.strategies.is_empty() {
            return None;
        }
        let mut by_class: BTreeMap<&str, (u64, &ErrorRow)> = BTreeMap::new();
        for e in self.strategies.iter().flat_map(|s| &s.errors) {
            by_class.entry(&e.class).or_insert((0, e)).0 += e.count;
        }
        let Some((_, (_, top))) = by_class.into_iter().max_by_key(|(_, (n, _))| *n) else {
            return Some("no request succeeded: the run stopped before any request finished".to_owned());
        };
        let c = &self.config;
        let key = match c.api_key_env.as_deref() {
            Some(v) => format!("${v}"),
            None if c.api_key_set => "the Authorization header given with -H".to_owned(),
            None => "the API key variable".to_owned(),
        };
        let cause = match top.class.as_str() {
            "http_404" => "every request got 404 Not Found: is the base URL right? OpenAI-compatible servers usually serve it under /v1 (e.g. --target http://HOST:PORT/v1)".to_owned(),
            "http_401" | "http_403" => format!(
                "the target refused the credentials ({}): check {key}{}",
                top.class,
                if c.api_key_set { "" } else { ", which is unset or empty" }
            ),
            "http_429" if c.retry.attempts <= 1 => "every request was rate limited (429): lower --concurrency or --rate, or add --retry openai".to_owned(),
            // Retries were on: telling the user to add them read as if they were not.
            "http_429" => format!(
                "every request was rate limited (429), {} ({}): lower --concurrency or --rate{}",
                // A run cut short (a signal) may have ended requests waiting to retry.
                if !self.complete
                    && self
                        .strategies
                        .iter()
                        .any(|s| s.attempts < s.issued.saturating_mul(u64::from(c.retry.attempts)))
                {
                    "and the run was stopped before their retries ran out"
                } else {
                    "its retries too"
                },
                c.retry,
                match c.retry.retry_after_cap {
                    // The `anthropic` policy waits the cap instead; none ignores the header.
                    Some(_) if !c.retry.retry_after_clamp => "; a Retry-After above the policy's cap is not waited for",
                    _ => "",
                }
            ),
            "timeout" => format!("every request timed out (--timeout {}s): the target is slower than the deadline, or hangs", c.timeout_s),
            "transport" if top.sample.contains("certificate") => {
                // The problem itself is the sample's last part ("invalid peer certificate:
                // UnknownIssuer"), after the clients' framing.
                let problem = top.sample.rsplit(": ").take(2).collect::<Vec<_>>();
                let problem = problem.into_iter().rev().collect::<Vec<_>>().join(": ");
                format!(
                    "the target's TLS certificate was not accepted ({problem}): trust the CA that signed it with --ca-cert FILE.pem, or skip the check with --insecure"
                )
            }
            // The body ended cleanly but the stream's end event never came: the target was
            // talked to, it did not finish (or does not mark) its streams.
            "connection_closed" if top.sample.contains("stream ended before its end event") => {
                "every stream ended before its end event ([DONE] or message_stop): the target cut its streams short, or does not send one; a stream without it counts as failed, never as an answer with fewer tokens".to_owned()
            }
            // The head came: the target was reached and began answering.
            "connection_reset" | "connection_closed" | "transport"
                if top.sample.contains(crate::model::outcome::CUT_IN_BODY) =>
            {
                format!(
                    "every answer was cut before its body's end ({}): the target was reached and began answering, then it (or a proxy between) ended the connection; see the sample under the table",
                    top.class
                )
            }
            "connection_refused" | "connection_reset" | "connection_closed" | "transport" => {
                format!("the target could not be talked to ({}): is it up, and is the URL's scheme and port right?", top.class)
            }
            "invalid_response" => "the target answered 2xx but not with a chat completion: is it an OpenAI-compatible endpoint, and does the base URL end where /chat/completions should follow?".to_owned(),
            "body_too_large" => "every response body was larger than --max-body".to_owned(),
            class if class.starts_with("http_3") => format!(
                "the target redirected every request ({class}; the sample says where): no redirect is followed, as it would hide a second request in each latency; give --target the URL it redirects to"
            ),
            class if class.starts_with("http_5") => format!("the target answered every request with a server error ({class})"),
            class => format!("the target rejected every request ({class}): see the sample under the table"),
        };
        Some(format!("no request succeeded: {cause}"))
    }
}

/// What the work of one strategy's run did, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuWorkReport {
    /// The work asked for per response, ms.
    pub target_ms: f64,
    /// Hash rounds per response (the calibration's answer).
    pub rounds: u64,
    /// Responses worked on.
    pub runs: u64,
    /// Thread CPU time per piece of work, mean, ms.
    pub mean_cpu_ms: f64,
    /// Where the work ran: thread name (trailing number dropped) → pieces of work.
    pub ran_on: BTreeMap<String, u64>,
}

/// Peaks of the client process while a strategy ran (sampled by the engine's resource sampler).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Peaks {
    /// Highest resident set size, bytes (process-wide).
    pub rss_bytes: u64,
    /// Most threads named as the strategy's at once.
    pub threads: u64,
    /// CPU seconds the sampler thread itself used (the caller subtracts them from the client's).
    pub sampler_cpu_s: f64,
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::stats::recorder::Recorder;
    use std::time::{Duration, Instant};

    /// The pages and charts show a count, a duration, or both.
    #[test]
    fn requests_are_shown_as_a_count_a_duration_or_both() {
        let mut c = run_of(Vec::new()).config;
        c.requests = Some(200);
        c.duration_s = None;
        assert_eq!(c.requests_shown(), "200 requests");
        c.duration_s = Some(30.0);
        assert_eq!(c.requests_shown(), "200 requests or 30 s");
        c.requests = None;
        assert_eq!(c.requests_shown(), "30 s of requests");
    }

    /// The CSV writes what ended a strategy by the same names report.json does.
    #[test]
    fn ended_by_names_are_the_json_names() {
        for e in [EndedBy::Count, EndedBy::Duration, EndedBy::Signal] {
            let json = serde_json::to_value(e).unwrap();
            assert_eq!(json.as_str(), Some(e.name()), "{e:?}");
        }
        assert_eq!(EndedBy::Duration.name(), "duration");
    }

    use super::*;
    use crate::model::outcome::ErrorClass;
    use crate::model::plan::Slo;
    use crate::model::record::{AttemptRecord, Failure, Record, Sample};

    /// A request that took `ms` from its start, answered `outcome` with `tokens` completion tokens
    /// (successful ones), the first token after `ttft_ms` when streamed.
    fn request(
        t0: Instant,
        index: u64,
        ms: u64,
        outcome: Outcome,
        tokens: u64,
        ttft_ms: Option<u64>,
    ) -> Record {
        let start = t0 + Duration::from_millis(index * 100);
        let d = Duration::from_millis(ms);
        Record {
            index,
            intended: start,
            start,
            end: start + d,
            attempts: vec![AttemptRecord {
                duration: d,
                outcome,
                failure: None,
            }],
            backoff: Duration::ZERO,
            outcome,
            status: Some(if outcome == Outcome::Ok { 200 } else { 500 }),
            sample: (outcome == Outcome::Ok).then(|| Sample {
                completion_tokens: Some(tokens),
                ttft: ttft_ms.map(Duration::from_millis),
                ..Sample::default()
            }),
        }
    }

    pub(crate) fn measured(issued: u64, slo_set: bool) -> Measured {
        Measured {
            id: Strategy::Async,
            concurrency: Some(2),
            requests: issued,
            issued,
            wall_s: 2.0,
            mean_delay_s: Some(0.5),
            target_rate: Some(10.0),
            cpu_s: 0.25,
            peaks: Default::default(),
            server: None,
            ended_by: EndedBy::Count,
            slo_set,
            warmup: None,
            ended_unix_ms: 10_000.0,
            adaptive: None,
            cpu_work: None,
            external: None,
        }
    }

    /// Four successes (10 tokens each; one streamed: first token at 100 ms of 1000 ms), a 500
    /// and a cancelled request in 2 s at C=2 against a 0.5 s mock: every derived figure is the
    /// definition the README gives, computed by hand here.
    #[test]
    fn every_derived_figure_follows_its_definition() {
        let t0 = Instant::now();
        let slo = Slo {
            e2e: Some(Duration::from_millis(600)),
            ..Slo::default()
        };
        let mut rec = Recorder::for_run(8, slo, None);
        rec.record(&request(t0, 0, 500, Outcome::Ok, 10, None));
        rec.record(&request(t0, 1, 500, Outcome::Ok, 10, None));
        rec.record(&request(t0, 2, 550, Outcome::Ok, 10, None));
        rec.record(&request(t0, 3, 1000, Outcome::Ok, 10, Some(100)));
        rec.record(&request(t0, 4, 50, Outcome::ServerError, 0, None));
        rec.add_cancelled(1);
        let r = StrategyReport::build(measured(6, true), &rec);
        assert_eq!(r.count(Outcome::Ok), 4);
        assert_eq!((r.accounted.as_str(), r.accounted_ok), ("6/6", true));
        assert_eq!(r.attempts, 5);
        // Goodput counts successes; throughput every finished request (not the cancelled).
        assert_eq!(r.goodput_rps, 2.0);
        assert_eq!(r.throughput_rps, 2.5);
        // Efficiency: goodput ÷ (C ÷ mean delay) = 2 ÷ (2 ÷ 0.5).
        assert_eq!(r.efficiency, Some(0.5));
        // Tokens/s over the wall: 40 tokens in 2 s.
        assert_eq!(r.completion_tokens, 40);
        assert_eq!(r.tokens_per_s, 20.0);
        // TPOT: (1000 − 100) ms ÷ (10 − 1) tokens = 100 ms; TTFT 100 ms; only the streamed one.
        let tpot = r.tpot_ms.unwrap();
        assert_eq!(tpot.count, 1);
        assert!((tpot.p50 - 100.0).abs() < 0.1, "TPOT {}", tpot.p50);
        assert!((r.ttft_ms.unwrap().p50 - 100.0).abs() < 0.1);
        // Per-request output rate: 10 tokens over 0.5, 0.5, 0.55 and 1.0 s.
        let rate = r.request_tokens_per_s.unwrap();
        assert_eq!(rate.count, 4);
        assert!(
            (rate.max - 20.0).abs() < 0.05 && (rate.p50 - 18.18).abs() < 0.05,
            "{rate:?}"
        );
        // The SLO (e2e ≤ 600 ms): three of six issued.
        assert_eq!(r.good, Some(3));
        assert_eq!(r.good_share, Some(0.5));
        assert_eq!(r.slo_goodput_rps, Some(1.5));
        // Latency of the successes only; of everything finished in latency_all.
        assert_eq!(r.latency_ms.unwrap().count, 4);
        assert_eq!(r.latency_all_ms.unwrap().count, 5);
        // Open loop: starts 0.0 … 0.4 s apart, five of them → 4 ÷ 0.4 s.
        assert!(
            (r.achieved_rate.unwrap() - 10.0).abs() < 1e-6,
            "{:?}",
            r.achieved_rate
        );
        assert_eq!(r.started_unix_ms, 8_000.0);
        // A request issued but never recorded breaks the books.
        let r = StrategyReport::build(measured(7, false), &rec);
        assert_eq!((r.accounted.as_str(), r.accounted_ok), ("6/7", false));
        assert_eq!((r.good, r.good_share, r.slo_goodput_rps), (None, None, None));
    }

    /// A run of these strategies under the command line's default configuration.
    pub(crate) fn run_of(strategies: Vec<StrategyReport>) -> RunReport {
        let cfg = crate::plan::config::Plan::new(crate::plan::config::RunConfig::default())
            .expect("the default configuration is valid");
        let session = crate::engine::run::Session::open(&cfg, &crate::engine::stop::StopToken::new())
            .expect("the default profile is valid");
        RunReport {
            provenance: Provenance::capture(),
            config: crate::engine::run::summary(&cfg, &session, Isolation::FreshMock),
            strategies,
            complete: true,
            incomplete_reason: None,
            merged_from: Vec::new(),
            log_wait_s: None,
        }
    }

    /// A strategy's report of `ok` successes and `failed` failures of `class` (one request
    /// each, 100 ms apart).
    pub(crate) fn strategy(id: Strategy, ok: u64, failed: u64, class: ErrorClass) -> StrategyReport {
        let t0 = Instant::now();
        let mut rec = Recorder::for_run((ok + failed) as usize, Slo::default(), None);
        for i in 0..ok + failed {
            let outcome = if i < ok { Outcome::Ok } else { class.outcome() };
            let mut r = request(t0, i, 100, outcome, 1, None);
            if outcome != Outcome::Ok {
                r.attempts[0].failure = Some(Failure {
                    class,
                    sample: format!("{class} sample"),
                });
            }
            rec.record(&r);
        }
        let mut m = measured(ok + failed, false);
        m.id = id;
        StrategyReport::build(m, &rec)
    }

    /// Attempts answered 429 as a share of all attempts; none sent is 0, not NaN.
    #[test]
    fn the_429_share_counts_attempts() {
        let mut r = strategy(Strategy::Async, 2, 0, ErrorClass::Timeout);
        r.attempts = 8;
        r.attempt_outcomes = [(Outcome::Ok, 2), (Outcome::RateLimited, 6)].into();
        assert_eq!(r.share_429(), 0.75);
        r.attempt_outcomes.remove(&Outcome::RateLimited);
        assert_eq!(r.share_429(), 0.0);
        r.attempts = 0;
        assert_eq!(r.share_429(), 0.0);
    }

    /// An open-loop strategy that started under 99 % of its rate is named with both rates and
    /// the share; at 99 % or without a target, nothing.
    #[test]
    fn the_rate_warning_names_the_strategy_under_99_percent() {
        let mut slow = strategy(Strategy::Threadpool, 1, 0, ErrorClass::Timeout);
        (slow.target_rate, slow.achieved_rate) = (Some(200.0), Some(100.0));
        let mut kept = strategy(Strategy::Async, 1, 0, ErrorClass::Timeout);
        (kept.target_rate, kept.achieved_rate) = (Some(200.0), Some(198.0));
        let mut closed = strategy(Strategy::Sequential, 1, 0, ErrorClass::Timeout);
        (closed.target_rate, closed.achieved_rate) = (None, Some(1.0));
        // Stopped by its duration with requests due and unsent: they are counted.
        let mut timed = strategy(Strategy::Batched, 1, 0, ErrorClass::Timeout);
        (timed.target_rate, timed.achieved_rate) = (Some(200.0), Some(20.0));
        (timed.requests, timed.issued, timed.ended_by) = (400, 40, EndedBy::Duration);
        // Stopped by a signal: what was due after it is not a shortfall.
        let mut stopped = timed.clone();
        (stopped.id, stopped.ended_by) = (Strategy::AsyncSingle, EndedBy::Signal);
        let w = run_of(vec![slow, kept, closed, timed, stopped]).warnings();
        assert_eq!(
            w,
            [
                "threadpool started 100.0 requests/s of the 200.0 asked for (50 %): it could not keep the schedule, and its latency counts the wait from each request's due time",
                "batched started 20.0 requests/s of the 200.0 asked for (10 %): it could not keep the schedule (360 of the 400 requests due within its duration were never sent), and its latency counts the wait from each request's due time",
                "async-single started 20.0 requests/s of the 200.0 asked for (10 %): it could not keep the schedule, and its latency counts the wait from each request's due time",
            ]
        );
    }

    /// Requests held back by the log's disk are a warning after the rates', with the wait;
    /// a run whose log kept up (or wrote none) has none.
    #[test]
    fn a_log_wait_is_warned_with_its_length() {
        let mut slow = strategy(Strategy::Threadpool, 1, 0, ErrorClass::Timeout);
        (slow.target_rate, slow.achieved_rate) = (Some(200.0), Some(100.0));
        let mut run = run_of(vec![slow]);
        assert_eq!(run.warnings().len(), 1);
        assert_eq!(run.log_warning(), None);
        run.log_wait_s = Some(2.345);
        let w = run.warnings();
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("threadpool started"), "{w:?}");
        assert!(
            w[1].starts_with("requests.jsonl: the disk took the request lines slower than the run made them, and the requests waited 2.3 s in all")
                && w[1].ends_with("--no-request-log"),
            "{w:?}"
        );
        let json = serde_json::to_value(&run).unwrap();
        assert_eq!(json["log_wait_s"], 2.345);
        run.log_wait_s = None;
        assert!(serde_json::to_value(&run).unwrap().get("log_wait_s").is_none());
    }

    /// Missing requests and a mock that disagrees are each one line naming the strategy and
    /// the counts.
    #[test]
    fn accounting_failures_name_the_strategy_and_the_counts() {
        let fine = strategy(Strategy::Async, 1, 0, ErrorClass::Timeout);
        let mut short = strategy(Strategy::Sequential, 1, 0, ErrorClass::Timeout);
        (short.accounted, short.accounted_ok) = ("1/2".into(), false);
        let mut disagrees = strategy(Strategy::Threadpool, 1, 0, ErrorClass::Timeout);
        disagrees.server = Some(ServerCheck {
            attempts_sent: 20,
            requests_received: 15,
            matches: false,
            ..ServerCheck::default()
        });
        let mut agrees = strategy(Strategy::Batched, 1, 0, ErrorClass::Timeout);
        agrees.server = Some(ServerCheck {
            attempts_sent: 20,
            requests_received: 20,
            matches: true,
            ..ServerCheck::default()
        });
        assert_eq!(
            run_of(vec![fine, short, disagrees, agrees]).accounting_failures(),
            [
                "sequential: accounted 1/2 requests",
                "threadpool: sent 20 attempts but the mock received 15"
            ]
        );
    }

    /// With no success in the whole run, one line names the likely cause from the most frequent
    /// error class summed over the strategies; one success anywhere, or no strategy, none.
    #[test]
    fn a_run_without_success_names_its_likely_cause() {
        use ErrorClass::*;
        let cases = [
            (Status(404), "404 Not Found: is the base URL right?"),
            (
                Status(401),
                "refused the credentials (http_401): check the API key variable, which is unset or empty",
            ),
            (Status(403), "(http_403)"),
            (Status(429), "every request was rate limited (429)"),
            (Timeout, "every request timed out (--timeout 60s)"),
            (Refused, "could not be talked to (connection_refused)"),
            (Reset, "(connection_reset)"),
            (Closed, "(connection_closed)"),
            (Transport, "(transport)"),
            (Decode, "answered 2xx but not with a chat completion"),
            (TooLarge, "larger than --max-body"),
            (Status(503), "a server error (http_503)"),
            (StreamError, "rejected every request (stream_error_event)"),
            (Status(418), "rejected every request (http_418)"),
        ];
        for (class, words) in cases {
            let r = run_of(vec![strategy(Strategy::Async, 0, 1, class)]);
            assert!(!r.any_success());
            let line = r.diagnosis().expect("no success: a diagnosis");
            assert!(line.starts_with("no request succeeded: "), "{line}");
            assert!(line.contains(words), "{class}: {line}");
        }
        // A stream whose end event never came, on a connection that ended cleanly: the target
        // was talked to.
        let mut r = run_of(vec![strategy(Strategy::Async, 0, 1, Closed)]);
        r.strategies[0].errors[0].sample =
            "transport error: stream ended before its end event ([DONE] or message_stop)".into();
        let line = r.diagnosis().unwrap();
        assert!(
            line.contains("every stream ended before its end event") && !line.contains("talked to"),
            "{line}"
        );
        // An answer cut in its body: the head came, the target was talked to.
        let mut r = run_of(vec![strategy(Strategy::Async, 0, 1, Closed)]);
        r.strategies[0].errors[0].sample = crate::model::outcome::RequestError::transport(
            crate::model::outcome::TransportKind::Closed,
            "Peer disconnected",
        )
        .in_body(200)
        .to_string();
        let line = r.diagnosis().unwrap();
        assert!(
            line.contains("every answer was cut before its body's end (connection_closed)")
                && !line.contains("talked to"),
            "{line}"
        );
        // The class with the most requests summed over every strategy, not the first one met
        // nor the largest in one strategy.
        let r = run_of(vec![
            strategy(Strategy::Sequential, 0, 2, Timeout),
            strategy(Strategy::Async, 0, 1, Status(500)),
            strategy(Strategy::Threadpool, 0, 2, Status(500)),
        ]);
        assert!(
            r.diagnosis().unwrap().contains("(http_500)"),
            "{:?}",
            r.diagnosis()
        );
        // A named key variable, set.
        let mut r = run_of(vec![strategy(Strategy::Async, 0, 1, Status(401))]);
        (r.config.api_key_env, r.config.api_key_set) = (Some("MY_KEY".into()), true);
        assert!(
            r.diagnosis().unwrap().ends_with("check $MY_KEY"),
            "{:?}",
            r.diagnosis()
        );
        // A key given as `-H 'Authorization: …'`: no variable to name.
        let mut r = run_of(vec![strategy(Strategy::Async, 0, 1, Status(401))]);
        (r.config.api_key_env, r.config.api_key_set) = (None, true);
        let line = r.diagnosis().unwrap();
        assert!(
            line.ends_with("check the Authorization header given with -H"),
            "{line}"
        );
        // 429s without retries suggest them; with retries on, not (they were on).
        let mut r = run_of(vec![strategy(Strategy::Async, 0, 1, Status(429))]);
        r.config.retry = crate::model::retry::RetryPolicy::preset(crate::model::retry::RetryPreset::None);
        assert!(r.diagnosis().unwrap().ends_with("or add --retry openai"));
        r.config.retry = crate::model::retry::RetryPolicy::preset(crate::model::retry::RetryPreset::Openai);
        let line = r.diagnosis().unwrap();
        assert!(
            line.contains("its retries too (openai: 3 attempts")
                && !line.contains("add --retry")
                && line.ends_with("a Retry-After above the policy's cap is not waited for"),
            "{line}"
        );
        // Stopped with requests that had retries left: not said to have been retried.
        r.complete = false;
        let line = r.diagnosis().unwrap();
        assert!(
            line.contains(
                "rate limited (429), and the run was stopped before their retries ran out (openai: 3 attempts"
            ),
            "{line}"
        );
        // Stopped after every retry ran: said as retried.
        r.strategies[0].attempts = 3;
        assert!(r.diagnosis().unwrap().contains("its retries too (openai"));
        (r.complete, r.strategies[0].attempts) = (true, 1);
        // A redirect: said as one (no client follows it), not as a rejection.
        let redirected = run_of(vec![strategy(Strategy::Async, 0, 1, Status(307))]);
        let line = redirected.diagnosis().unwrap();
        assert!(
            line.contains("the target redirected every request (http_307"),
            "{line}"
        );
        // The anthropic policy waits a Retry-After above its cap (the cap): not said of it.
        r.config.retry =
            crate::model::retry::RetryPolicy::preset(crate::model::retry::RetryPreset::Anthropic);
        let line = r.diagnosis().unwrap();
        assert!(line.ends_with("lower --concurrency or --rate"), "{line}");
        // A certificate the clients refused: the problem itself, and the two ways out.
        let mut r = run_of(vec![strategy(Strategy::Async, 0, 1, Transport)]);
        r.strategies[0].errors[0].sample =
            "transport error: error sending request: invalid peer certificate: UnknownIssuer".into();
        let line = r.diagnosis().unwrap();
        assert!(
            line.contains("TLS certificate was not accepted (invalid peer certificate: UnknownIssuer)")
                && line.contains("--ca-cert")
                && line.contains("--insecure"),
            "{line}"
        );
        // Nothing finished at all.
        let r = run_of(vec![strategy(Strategy::Async, 0, 0, Timeout)]);
        assert_eq!(
            r.diagnosis().as_deref(),
            Some("no request succeeded: the run stopped before any request finished")
        );
        // One success anywhere, or no strategy: no diagnosis.
        let r = run_of(vec![
            strategy(Strategy::Sequential, 0, 1, Status(500)),
            strategy(Strategy::Async, 1, 1, Status(500)),
        ]);
        assert!(r.any_success());
        assert_eq!(r.diagnosis(), None);
        assert_eq!(run_of(Vec::new()).diagnosis(), None);
    }

    /// The table header says whether the strategies met the same target state.
    #[test]
    fn isolation_is_described_as_the_table_says_it() {
        assert_eq!(Isolation::FreshMock.describe(), "a fresh mock per strategy");
        assert_eq!(Isolation::Reset.describe(), "reset before each strategy");
        assert!(
            Isolation::Shared
                .describe()
                .starts_with("SHARED by the strategies")
        );
        assert_eq!(Isolation::Single.describe(), "not reset");
        assert!(
            Isolation::Shards
                .describe()
                .contains("not cross-checked per shard")
        );
    }

    /// Efficiency needs a known, positive delay, and counts at least one slot.
    #[test]
    fn efficiency_is_goodput_over_what_the_slots_allow() {
        assert_eq!(efficiency(10.0, Some(0.1), Some(2)), Some(0.5));
        assert_eq!(efficiency(10.0, Some(0.1), Some(0)), Some(1.0));
        assert_eq!(efficiency(10.0, None, Some(2)), None);
        assert_eq!(efficiency(10.0, Some(0.0), Some(2)), None);
        assert_eq!(efficiency(10.0, Some(0.1), None), None, "no limit, no share");
    }
}
