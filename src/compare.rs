//! `compare`: the same workload through each chosen strategy, one after the other, against the
//! embedded mock (started here, on 127.0.0.1:0) or an external target. Around each strategy it
//! measures client CPU, peak memory and threads, and afterwards checks the books: every request
//! accounted for, and the attempts sent equal to what the mock says it received.

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mock_server::{MockServer, StatsSnapshot};

use crate::client::PreparedRequest;
use crate::config::{RunConfig, Strategy, Target};
use crate::error::{ConfigError, RunError};
use crate::metrics::{Intervals, Outcome, epoch};
use crate::report::machine::{Machine, git_commit};
use crate::report::output::write_run;
use crate::report::{ConfigSummary, Measured, RunReport, ServerCheck, StrategyReport};
use crate::resources::{CpuTimes, Sampler};
use crate::runner::{RunContext, run_strategy};

/// A target the harness can talk to: the embedded mock it owns, or an external URL.
#[derive(Debug)]
pub struct Session {
    /// Where requests go.
    pub target: Target,
    /// The embedded mock, kept alive for the session.
    pub mock: Option<MockServer>,
    /// Mean service delay when known (embedded mock), seconds.
    pub mean_delay_s: Option<f64>,
}

impl Session {
    /// Starts the embedded mock, or checks that the external target answers.
    pub fn open(cfg: &RunConfig) -> Result<Session, RunError> {
        // Fix the interval-log origin before any request ends.
        let _ = epoch();
        crate::resources::ensure_open_files(cfg)?;
        if let Some(target) = &cfg.target {
            check_reachable(&target.base_url)?;
            return Ok(Session {
                target: target.clone(),
                mock: None,
                mean_delay_s: None,
            });
        }
        let profile = cfg.mock.clone().unwrap_or_default();
        let w = &cfg.workload;
        let mean = match w.delay_endpoint {
            Some(d) => d,
            None => {
                let tokens = w.max_tokens.saturating_sub(1);
                profile.latency.mean() + profile.ttft.mean() + profile.itl.mean() * tokens
            }
        };
        let mock = MockServer::start(profile)?;
        let target = Target {
            base_url: format!("{}/v1", mock.uri()),
            api_key: None,
            embedded: true,
        };
        Ok(Session {
            target,
            mock: Some(mock),
            mean_delay_s: Some(mean.as_secs_f64()),
        })
    }

    /// The mock's counters now: the embedded one's directly, an external mock's over HTTP
    /// (`GET /stats`); `None` for a target that is not our mock.
    pub fn server_stats(&self) -> Option<StatsSnapshot> {
        if let Some(m) = &self.mock {
            return Some(m.stats());
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(2)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent.get(format!("{}/stats", self.target.origin())).call().ok()?;
        if resp.status() != 200 {
            return None;
        }
        let text = resp.body_mut().read_to_string().ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Fails fast, before any run, when nothing listens at the target.
fn check_reachable(url: &str) -> Result<(), ConfigError> {
    let unreachable = |why: String| ConfigError::Unreachable {
        url: url.to_owned(),
        why,
    };
    let parsed = url::Url::parse(url).map_err(|e| unreachable(format!("not an http(s) URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(unreachable(format!("unsupported scheme '{}'", parsed.scheme())));
    }
    // Host and port (the scheme's default when none is written), resolved.
    let addrs = parsed
        .socket_addrs(|| None)
        .map_err(|e| unreachable(e.to_string()))?;
    let mut last = String::from("no address");
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

/// A progress bar for one strategy on stderr, hidden when quiet (indicatif itself draws nothing
/// when stderr is not a terminal).
fn progress_bar(cfg: &RunConfig, s: Strategy) -> ProgressBar {
    if cfg.quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(cfg.workload.requests), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{prefix:>13} [{bar:30}] {pos}/{len} {per_sec} {elapsed}")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(s.id());
    pb
}

/// Runs one strategy in a session and builds its report, cross-checked against the mock.
pub fn run_one(
    cfg: &RunConfig,
    session: &Session,
    s: Strategy,
) -> Result<(StrategyReport, Intervals), RunError> {
    let req: Arc<PreparedRequest> = Arc::new(session.target.prepare(&cfg.workload));
    let schedule = cfg.load.schedule(cfg.workload.requests).map(Arc::new);
    let ctx = RunContext {
        cfg,
        req,
        schedule,
        progress: progress_bar(cfg, s),
    };
    let before_stats = session.server_stats();
    let cpu0 = CpuTimes::now();
    let sampler = Sampler::start();
    let run = run_strategy(s, &ctx)?;
    let peaks = sampler.stop();
    let cpu1 = CpuTimes::now();
    ctx.progress.finish_and_clear();
    let server = before_stats.map(|before| cross_check(session, &before, run.recorder.attempts));
    let measured = Measured {
        id: s.id().to_owned(),
        concurrency: cfg.effective_concurrency(s),
        requests: cfg.workload.requests,
        wall_s: run.wall.as_secs_f64(),
        mean_delay_s: session.mean_delay_s,
        target_rate: match cfg.load {
            crate::config::LoadModel::Open { rate, .. } => Some(rate),
            crate::config::LoadModel::Closed => None,
        },
        cpu_s: (cpu0.client_seconds(&cpu1) - peaks.sampler_cpu_s).max(0.0),
        peaks,
        server,
    };
    let report = StrategyReport::build(measured, &run.recorder);
    Ok((report, run.recorder.intervals))
}

/// Compares the attempts sent with the mock's count. A request whose client gave up (timeout)
/// may still be in the mock's accept queue for a moment, so it waits up to a second for the
/// counts to agree before declaring a mismatch.
fn cross_check(session: &Session, before: &StatsSnapshot, attempts: u64) -> ServerCheck {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let after = session.server_stats().unwrap_or_default();
        let received = after.requests_received.saturating_sub(before.requests_received);
        if received == attempts || Instant::now() >= deadline {
            let responses_by_status = after
                .responses_by_status
                .iter()
                .map(|(k, v)| (*k, v - before.responses_by_status.get(k).copied().unwrap_or(0)))
                .filter(|(_, v)| *v > 0)
                .collect();
            return ServerCheck {
                attempts_sent: attempts,
                requests_received: received,
                matches: received == attempts,
                responses_by_status,
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The configuration as it goes into the report.
pub fn summary(cfg: &RunConfig, session: &Session) -> ConfigSummary {
    ConfigSummary {
        requests: cfg.workload.requests,
        concurrency: cfg.concurrency,
        batch_size: cfg.batch_size,
        pause_s: cfg.pause.as_secs_f64(),
        timeout_s: cfg.timeout.as_secs_f64(),
        retry: cfg.retry.clone(),
        load: cfg.load,
        workload: cfg.workload.clone(),
        target: if session.target.embedded {
            "embedded mock".into()
        } else {
            session.target.base_url.clone()
        },
        api_key_set: session.target.api_key.is_some(),
        mock: session.mock.as_ref().map(|m| m.profile().clone()),
        mock_mean_delay_s: session.mean_delay_s,
    }
}

/// Runs every strategy of `cfg` and returns the report (also written to `--out` when set).
pub fn compare(cfg: &RunConfig) -> Result<RunReport, RunError> {
    cfg.validate()?;
    // Reachability first, so an unreachable target writes nothing.
    let session = Session::open(cfg)?;
    if let Some(out) = &cfg.out {
        check_writable(out)?;
    }
    let started_unix = crate::report::machine::unix_now();
    let mut strategies = Vec::new();
    let mut intervals = Vec::new();
    let mut complete = true;
    // With a rate limiter, each strategy gets a fresh mock: one that starts with a bucket the
    // previous strategy drained would be handicapped.
    let limited = cfg
        .mock
        .as_ref()
        .is_some_and(|p| p.rpm.is_some() || p.tpm.is_some());
    for s in &cfg.strategies {
        let fresh;
        let session = if limited {
            fresh = Session::open(cfg)?;
            &fresh
        } else {
            &session
        };
        let (report, iv) = run_one(cfg, session, *s)?;
        let broken = report.count(Outcome::Transport) + report.count(Outcome::Timeout) > 0;
        strategies.push(report);
        intervals.push((s.id().to_owned(), iv));
        // A target that died mid-run: keep what finished, say so, and run nothing more.
        if broken && !session.target.embedded && check_reachable(&session.target.base_url).is_err() {
            eprintln!(
                "asyncbench: the target stopped answering during {s}; the report is partial (complete: false)"
            );
            complete = false;
            break;
        }
    }
    let report = RunReport {
        tool: format!("asyncbench {}", env!("CARGO_PKG_VERSION")),
        started_unix,
        git_commit: git_commit(),
        machine: Machine::detect(),
        config: summary(cfg, &session),
        strategies,
        complete,
    };
    if let Some(out) = &cfg.out {
        write_run(out, &report, &intervals)?;
    }
    Ok(report)
}

/// Creates `dir` if needed and proves a file can be written there, before any run.
pub fn check_writable(dir: &std::path::Path) -> Result<(), ConfigError> {
    let fail = |why: String| ConfigError::Unwritable {
        path: dir.display().to_string(),
        why,
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let probe = dir.join(".asyncbench-write-test");
    std::fs::write(&probe, b"").map_err(|e| fail(e.to_string()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
