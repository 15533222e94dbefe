//! What a run reports and where: [`RunReport`] (serde, the `report.json` schema), the table on
//! stdout, `summary.csv`, and the encoded histograms that let runs be merged exactly later
//! (percentiles never average).

pub mod chart;
pub mod hgrm;
pub mod hist;
pub mod hlog;
pub mod machine;
pub mod output;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::RunError;
use crate::metrics::{Outcome, Percentiles, Recorder};
use crate::retry::RetryPolicy;
use machine::Machine;

/// The whole run: configuration, machine and one entry per strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// `asyncbench <version>`.
    pub tool: String,
    /// Unix seconds when the run started.
    pub started_unix: u64,
    /// `git rev-parse HEAD` of the working directory, when it is a checkout.
    pub git_commit: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// What it ran.
    pub config: ConfigSummary,
    /// One entry per strategy, in run order.
    pub strategies: Vec<StrategyReport>,
    /// False when the run was cut short (the report holds what finished).
    pub complete: bool,
}

/// The configuration as written into a report (no secrets: only whether a key was set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSummary {
    /// Logical requests per strategy.
    pub requests: u64,
    /// `--concurrency` (0 = unbounded).
    pub concurrency: u64,
    /// `--batch-size`.
    pub batch_size: u64,
    /// `--pause`, seconds.
    pub pause_s: f64,
    /// Per-attempt timeout, seconds.
    pub timeout_s: f64,
    /// The retry policy.
    pub retry: RetryPolicy,
    /// Closed or open loop.
    pub load: crate::config::LoadModel,
    /// The request sent.
    pub workload: crate::config::Workload,
    /// `embedded mock` or the target's base URL.
    pub target: String,
    /// Whether an API key was sent (never the key).
    pub api_key_set: bool,
    /// The embedded mock's profile, when it was used.
    pub mock: Option<mock_server::Profile>,
    /// Mean service time the mock was set to (embedded mock only), seconds.
    pub mock_mean_delay_s: Option<f64>,
}

/// The mock's view of a strategy's run, compared with the client's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCheck {
    /// Attempts the client sent.
    pub attempts_sent: u64,
    /// Requests the mock counted.
    pub requests_received: u64,
    /// The two agree.
    pub matches: bool,
    /// The mock's responses by status during this strategy.
    pub responses_by_status: BTreeMap<u16, u64>,
}

/// One strategy's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyReport {
    /// Strategy id.
    pub id: String,
    /// Most requests it could have in flight.
    pub concurrency: u64,
    /// Logical requests asked for.
    pub requests: u64,
    /// Logical requests by final outcome (every outcome listed, zeros included).
    pub outcomes: BTreeMap<Outcome, u64>,
    /// `recorded/requested`, e.g. `200/200`.
    pub accounted: String,
    /// Every request ended in exactly one outcome.
    pub accounted_ok: bool,
    /// Attempts sent (first ones included).
    pub attempts: u64,
    /// Attempts by how each ended (a request retried after two 429s counts two here).
    pub attempt_outcomes: BTreeMap<Outcome, u64>,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Time spent in backoff, summed over requests, seconds.
    pub backoff_s: f64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Logical requests finished per second (any outcome).
    pub throughput_rps: f64,
    /// Successful requests per second.
    pub goodput_rps: f64,
    /// Goodput ÷ (concurrency ÷ mean service delay); `None` when the delay is unknown.
    pub efficiency: Option<f64>,
    /// End-to-end latency of successful requests, ms (from intended start, retries included).
    pub latency_ms: Percentiles,
    /// End-to-end latency of all requests, whatever their outcome, ms.
    pub latency_all_ms: Percentiles,
    /// End-to-end latency by final outcome, ms (only outcomes that occurred).
    pub latency_by_outcome_ms: BTreeMap<Outcome, Percentiles>,
    /// Schedule lag (actual − intended start), ms.
    pub lag_ms: Percentiles,
    /// Service time of successful requests (actual start → end), ms.
    pub service_ms: Percentiles,
    /// Open loop: the requests/s asked for.
    pub target_rate: Option<f64>,
    /// Open loop: the requests/s actually started (first start to last).
    pub achieved_rate: Option<f64>,
    /// Streaming: time to first token, ms.
    pub ttft_ms: Option<Percentiles>,
    /// Streaming: inter-token latency, ms.
    pub itl_ms: Option<Percentiles>,
    /// Streaming: time per output token after the first, ms.
    pub tpot_ms: Option<Percentiles>,
    /// Streaming or not: each successful request's output tokens ÷ its duration, in tokens/s
    /// (the "percentiles" fields hold tokens/s here, not ms).
    pub request_tokens_per_s: Option<Percentiles>,
    /// Completion tokens received.
    pub completion_tokens: u64,
    /// Completion tokens per second of wall time.
    pub tokens_per_s: f64,
    /// Client CPU, user + system seconds (the embedded mock's threads excluded).
    pub cpu_s: f64,
    /// Peak resident memory of the process during the strategy, bytes.
    pub peak_rss_bytes: u64,
    /// Most threads the strategy added.
    pub threads: u64,
    /// The mock's count of what it received, when the target is a mock.
    pub server: Option<ServerCheck>,
    /// Every histogram, HdrHistogram V2 + DEFLATE, base64 (`HISTF…`), microseconds.
    pub histograms: BTreeMap<String, String>,
}

/// Inputs to [`StrategyReport::build`] besides the recorder.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Strategy id.
    pub id: String,
    /// Effective concurrency.
    pub concurrency: u64,
    /// Requests asked for.
    pub requests: u64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Mean service delay of the target, when known.
    pub mean_delay_s: Option<f64>,
    /// Open loop: the requests/s asked for.
    pub target_rate: Option<f64>,
    /// Client CPU seconds.
    pub cpu_s: f64,
    /// Resource peaks.
    pub peaks: crate::resources::Peaks,
    /// Server cross-check.
    pub server: Option<ServerCheck>,
}

impl StrategyReport {
    /// Builds the report of one strategy from its merged recorder.
    pub fn build(m: Measured, rec: &Recorder) -> StrategyReport {
        let total = rec.total();
        let ok = rec.count(Outcome::Ok);
        let wall = m.wall_s.max(1e-9);
        let throughput = total as f64 / wall;
        // Goodput, not throughput: fast failures must not look like efficiency.
        let efficiency = m
            .mean_delay_s
            .filter(|d| *d > 0.0)
            .map(|d| (ok as f64 / wall) * d / m.concurrency.max(1) as f64);
        let pct = |name: &str| rec.series.get(name).map(Percentiles::of);
        let latency_by_outcome_ms = Outcome::ALL
            .iter()
            .filter_map(|o| pct(&format!("e2e.{}", o.id())).map(|p| (*o, p)))
            .collect();
        StrategyReport {
            id: m.id,
            concurrency: m.concurrency,
            requests: m.requests,
            outcomes: Outcome::ALL.iter().map(|o| (*o, rec.count(*o))).collect(),
            accounted: format!("{total}/{}", m.requests),
            accounted_ok: total == m.requests,
            attempts: rec.attempts,
            attempt_outcomes: Outcome::ALL
                .iter()
                .map(|o| {
                    (
                        *o,
                        rec.series
                            .get(&format!("attempt.{}", o.id()))
                            .map_or(0, |h| h.len()),
                    )
                })
                .collect(),
            retries: rec.retries,
            backoff_s: rec.backoff.as_secs_f64(),
            wall_s: m.wall_s,
            throughput_rps: throughput,
            goodput_rps: ok as f64 / wall,
            efficiency,
            latency_ms: pct("e2e.ok").unwrap_or_default(),
            latency_all_ms: Percentiles::of(&rec.e2e_all()),
            latency_by_outcome_ms,
            lag_ms: pct("lag").unwrap_or_default(),
            service_ms: pct("service.ok").unwrap_or_default(),
            target_rate: m.target_rate,
            achieved_rate: m.target_rate.and(rec.achieved_rate()),
            ttft_ms: pct("ttft"),
            itl_ms: pct("itl"),
            tpot_ms: pct("tpot"),
            request_tokens_per_s: pct(crate::metrics::TOKENS_PER_S),
            completion_tokens: rec.completion_tokens,
            tokens_per_s: rec.completion_tokens as f64 / wall,
            cpu_s: m.cpu_s,
            peak_rss_bytes: m.peaks.rss_bytes,
            threads: m.peaks.threads,
            server: m.server,
            histograms: rec
                .series
                .iter()
                .map(|(k, h)| (k.clone(), hist::encode(h)))
                .collect(),
        }
    }

    /// Requests with this outcome.
    pub fn count(&self, o: Outcome) -> u64 {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }

    /// Requests per outcome, in [`Outcome::ALL`] order (the table's and the CSV's columns).
    pub fn outcome_counts(&self) -> [u64; 6] {
        Outcome::ALL.map(|o| self.count(o))
    }
}

impl RunReport {
    /// Open-loop strategies that started fewer than 99 % of the requests/s asked for.
    pub fn rate_warnings(&self) -> Vec<String> {
        self.strategies
            .iter()
            .filter_map(|s| {
                let (target, achieved) = (s.target_rate?, s.achieved_rate?);
                (achieved < 0.99 * target).then(|| {
                    format!(
                        "{} started {achieved:.1} requests/s of the {target:.1} asked for ({:.0} %): it could not keep the schedule, and its latency counts the wait from each request's due time",
                        s.id,
                        100.0 * achieved / target
                    )
                })
            })
            .collect()
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

    /// The table printed on stdout.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let c = &self.config;
        if !self.complete {
            let _ = writeln!(
                t,
                "PARTIAL RUN: the target stopped answering; strategies after the last below did not run"
            );
        }
        let _ = writeln!(
            t,
            "{} requests · target {} · retry {} · timeout {}s{}",
            c.requests,
            c.target,
            c.retry,
            c.timeout_s,
            if c.workload.stream { " · streaming" } else { "" }
        );
        let _ = writeln!(
            t,
            "{:<13} {:>5} {:>9} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>8} {:>8} {:>8} {:>5} {:>8} {:>8} {:>8} {:>8} {:>7} {:>6} {:>7} {:>5}",
            "strategy",
            "conc",
            "accounted",
            "ok",
            "429",
            "5xx",
            "4xx",
            "t/o",
            "conn",
            "wall_s",
            "req/s",
            "good/s",
            "eff",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "retries",
            "cpu_s",
            "rss_MB",
            "thr"
        );
        for s in &self.strategies {
            let oc = s.outcome_counts();
            let eff = s.efficiency.map_or("-".to_owned(), |e| format!("{e:.3}"));
            let l = &s.latency_ms;
            let _ = writeln!(
                t,
                "{:<13} {:>5} {:>9} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>8.3} {:>8.1} {:>8.1} {:>5} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>6.2} {:>7.1} {:>5}",
                s.id,
                s.concurrency,
                s.accounted,
                oc[0],
                oc[1],
                oc[2],
                oc[3],
                oc[4],
                oc[5],
                s.wall_s,
                s.throughput_rps,
                s.goodput_rps,
                eff,
                l.p50,
                l.p90,
                l.p99,
                l.max,
                s.retries,
                s.cpu_s,
                s.peak_rss_bytes as f64 / 1_048_576.0,
                s.threads
            );
        }
        if self.strategies.iter().any(|s| s.target_rate.is_some()) {
            let _ = writeln!(
                t,
                "\n{:<13} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
                "open loop", "target/s", "achieved/s", "lag_p50", "lag_p99", "svc_p50", "svc_p99", "e2e_p99"
            );
            for s in &self.strategies {
                let _ = writeln!(
                    t,
                    "{:<13} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
                    s.id,
                    s.target_rate.unwrap_or_default(),
                    s.achieved_rate.unwrap_or_default(),
                    s.lag_ms.p50,
                    s.lag_ms.p99,
                    s.service_ms.p50,
                    s.service_ms.p99,
                    s.latency_ms.p99
                );
            }
        }
        if self.strategies.iter().any(|s| s.ttft_ms.is_some()) {
            let _ = writeln!(
                t,
                "\n{:<13} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "streaming",
                "ttft_p50",
                "ttft_p99",
                "itl_p50",
                "itl_p99",
                "tpot_p50",
                "tpot_p99",
                "tokens",
                "tok/s",
                "req_tok/s"
            );
            for s in &self.strategies {
                let (a, b, c) = (
                    s.ttft_ms.unwrap_or_default(),
                    s.itl_ms.unwrap_or_default(),
                    s.tpot_ms.unwrap_or_default(),
                );
                let _ = writeln!(
                    t,
                    "{:<13} {:>9.1} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9} {:>9.0} {:>9.1}",
                    s.id,
                    a.p50,
                    a.p99,
                    b.p50,
                    b.p99,
                    c.p50,
                    c.p99,
                    s.completion_tokens,
                    s.tokens_per_s,
                    s.request_tokens_per_s.unwrap_or_default().p50
                );
            }
        }
        let _ = writeln!(
            t,
            "latency: end-to-end of successful requests, from intended start, retries included · eff: good/s ÷ (conc ÷ mean mock delay) · cpu_s: client only · rss_MB/thr: whole process"
        );
        if self.strategies.iter().any(|s| s.ttft_ms.is_some()) {
            let _ = writeln!(
                t,
                "streaming (ms): ttft send → first content token · itl gaps between content chunks · tpot (end − ttft) ÷ (tokens − 1) · tok/s all tokens ÷ wall · req_tok/s per-request p50"
            );
        }
        t
    }

    /// `summary.csv`: one row per strategy.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "strategy,concurrency,requests,accounted,ok,rate_limited,server_error,client_error,timeout,transport,attempts,retries,backoff_s,wall_s,throughput_rps,goodput_rps,efficiency,p50_ms,p90_ms,p99_ms,p999_ms,max_ms,ttft_p50_ms,ttft_p99_ms,itl_p50_ms,itl_p99_ms,tokens_per_s,cpu_s,peak_rss_bytes,threads\n",
        );
        for s in &self.strategies {
            let oc = s.outcome_counts();
            let l = &s.latency_ms;
            let opt = |p: Option<Percentiles>, f: fn(&Percentiles) -> f64| {
                p.map_or(String::new(), |p| format!("{:.3}", f(&p)))
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{:.6},{:.3},{:.3},{},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{:.1},{:.3},{},{}",
                s.id,
                s.concurrency,
                s.requests,
                s.accounted.split('/').next().unwrap_or("0"),
                oc[0],
                oc[1],
                oc[2],
                oc[3],
                oc[4],
                oc[5],
                s.attempts,
                s.retries,
                s.backoff_s,
                s.wall_s,
                s.throughput_rps,
                s.goodput_rps,
                s.efficiency.map_or(String::new(), |e| format!("{e:.4}")),
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max,
                opt(s.ttft_ms, |p| p.p50),
                opt(s.ttft_ms, |p| p.p99),
                opt(s.itl_ms, |p| p.p50),
                opt(s.itl_ms, |p| p.p99),
                s.tokens_per_s,
                s.cpu_s,
                s.peak_rss_bytes,
                s.threads
            );
        }
        out
    }

    /// Writes `report.json` and `summary.csv` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), RunError> {
        let json = serde_json::to_string_pretty(self).map_err(|e| RunError::Write {
            path: "report.json".into(),
            why: e.to_string(),
        })?;
        write_file(&dir.join("report.json"), json.as_bytes())?;
        write_file(&dir.join("summary.csv"), self.csv().as_bytes())?;
        Ok(())
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> Result<RunReport, RunError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunError::Write {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| RunError::Write {
            path: path.display().to_string(),
            why: e.to_string(),
        })
    }
}

/// Writes a file, mapping the error to [`RunError::Write`] with its path.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    std::fs::write(path, bytes).map_err(|e| RunError::Write {
        path: path.display().to_string(),
        why: e.to_string(),
    })
}
