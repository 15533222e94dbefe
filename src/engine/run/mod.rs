//! The one run core every command calls: a [`Session`] (the target), each strategy run in turn
//! on a target in a known state, its report built and cross-checked, and the run cut short,
//! with what was measured kept, when a signal comes or the target dies.
//!
//! The flow reads top to bottom: command → [`run_strategies`] → runner → recorder → report.

pub(crate) mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_server::StatsSnapshot;

use crate::engine::cpu_work::{CpuWork, Worker};
use crate::engine::resources::{CpuTimes, Sampler};
use crate::engine::runner::{RunContext, run_strategy};
use crate::engine::stop::{Signal, StopToken};
use crate::model::error::RunError;
use crate::model::outcome::Outcome;
use crate::model::plan::unix_now_s;
use crate::model::provenance::Provenance;
use crate::model::report::{
    ConfigSummary, EndedBy, Isolation, Measured, RunReport, ServerCheck, StrategyReport, WarmupReport,
    WorkloadSummary,
};
use crate::model::strategy::Strategy;
use crate::plan::config::{Plan, RunConfig};
use crate::plan::request::PreparedRequest;
use crate::stats::intervals::Intervals;
use crate::stats::live::{Board, Live};
use crate::stats::log::RequestLog;
pub(crate) use session::Lease;
pub use session::Session;

/// Why a run ended before its workload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incomplete {
    /// A signal asked it to stop.
    Signal(Signal),
    /// The target stopped answering during this strategy.
    TargetDied(Strategy),
    /// An external client failed (died, hung, broke the protocol or lost requests); the
    /// strategies after it still ran.
    ClientFailed(Strategy),
}

impl Incomplete {
    /// The ending a stop asked for during strategy `s`: the watchdog's is a dead target.
    pub(crate) fn of(sig: Signal, s: Strategy) -> Incomplete {
        match sig {
            Signal::TargetLost => Incomplete::TargetDied(s),
            sig => Incomplete::Signal(sig),
        }
    }
}

/// What [`run_strategies`] produced: the report and each strategy's interval histograms.
#[derive(Debug)]
pub(crate) struct RunResults {
    /// The report (complete or not).
    pub report: RunReport,
    /// Per strategy, the one-second intervals for `run.hlog`.
    pub intervals: Vec<(Strategy, Intervals)>,
    /// Why it ended early, if it did.
    pub incomplete: Option<Incomplete>,
    /// With `--out`: every request's line, in a temporary file beside the report (written out as
    /// `requests.jsonl` with the other files); the error that lost it, if writing it failed.
    pub requests_log: Result<Option<tempfile::NamedTempFile>, std::io::Error>,
}

/// The `--cpu-work` of strategy `s`: calibrated on this machine (once per process), done where
/// the strategy does it; `async-offload` gets a pool of one thread per core.
fn cpu_worker(cfg: &RunConfig, s: Strategy) -> Result<Option<Arc<Worker>>, RunError> {
    let Some(d) = cfg.cpu_work else {
        return Ok(None);
    };
    let work = CpuWork::calibrated(d);
    if s == Strategy::AsyncOffload {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Worker::offloaded(work, cores).map(Some)
    } else {
        Ok(Some(Worker::inline(work)))
    }
}

/// Runs one strategy on a lease and builds its report, cross-checked against the mock.
pub fn run_one(
    cfg: &Plan,
    lease: &Lease,
    s: Strategy,
    mean_delay_s: Option<f64>,
    log: Option<RequestLog>,
) -> Result<(StrategyReport, Intervals), RunError> {
    run_counted(cfg, lease, s, mean_delay_s, log, None)
}

/// [`run_one`], its requests counted on a lane of the live view's `board` (as round `.1`) when
/// there is one.
fn run_counted(
    cfg: &Plan,
    lease: &Lease,
    s: Strategy,
    mean_delay_s: Option<f64>,
    log: Option<RequestLog>,
    board: Option<(&Board, u32)>,
) -> Result<(StrategyReport, Intervals), RunError> {
    let (ctx, asked, total) = context(cfg, lease, s, log, board)?;
    let before = lease.stats();
    let view0 = board.map(|(b, _)| b.view_cpu());
    let cpu0 = CpuTimes::now();
    // An external client's memory and threads are sampled from its own process, by the runner.
    let sampler = (!s.is_external()).then(|| Sampler::start(s.thread_prefix()));
    let run = run_strategy(s, &ctx)?;
    let ended_unix_ms = unix_now_s() * 1000.0;
    let mut peaks = sampler.map(Sampler::stop).unwrap_or_default();
    let cpu1 = CpuTimes::now();
    if let Some(lane) = ctx.live.lane() {
        lane.end();
    }
    let server = before.and_then(|b| cross_check(lease, &b, Counted::of(&run), cfg));
    // The live view's thread is not the client either.
    let view_s = board
        .zip(view0)
        .map_or(0.0, |((b, _), v0)| b.view_cpu().saturating_sub(v0).as_secs_f64());
    let harness_cpu_s = (cpu0.client_seconds(&cpu1) - peaks.sampler_cpu_s - view_s).max(0.0);
    match &run.external {
        // An external client's memory and threads are its process's, not this one's.
        Some(ext) => {
            peaks.rss_bytes = ext.rss_bytes;
            peaks.threads = ext.threads;
        }
        // The runner knows the threads it started; the sampler also sees those its libraries
        // start (tokio's blocking pool, …), counted by name, plus the calling thread for
        // `block_on`.
        None => {
            peaks.threads = run
                .threads
                .max(peaks.threads + u64::from(s.runs_on_calling_thread()));
        }
    }
    let measured = Measured {
        id: s,
        concurrency: cfg.effective_concurrency(s),
        // With --duration and no -n, nothing was asked but time: the requests are those issued.
        requests: total.unwrap_or(run.issued),
        issued: run.issued,
        ended_by: ended_by(cfg, asked, run.issued, &ctx.stop),
        slo_set: cfg.slo.is_set(),
        ended_unix_ms,
        warmup: run.warmup.as_ref().map(|w| WarmupReport {
            issued: w.issued,
            outcomes: Outcome::ALL
                .iter()
                .map(|o| (*o, w.recorder.count(*o)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            wall_s: w.wall.as_secs_f64(),
        }),
        wall_s: run.wall.as_secs_f64(),
        mean_delay_s,
        // A shard's rate is its share of the whole run's.
        target_rate: cfg
            .load
            .rate()
            .map(|rate| rate / cfg.shard.map_or(1, |s| s.n) as f64),
        cpu_s: run.external.as_ref().map_or(harness_cpu_s, |ext| ext.cpu_s),
        peaks,
        server,
        adaptive: run.adaptive.clone(),
        cpu_work: ctx.cpu.as_ref().map(|w| w.report()),
        external: external_report(&run),
    };
    let mut report = StrategyReport::build(measured, &run.recorder);
    if cfg.workload.api == crate::model::plan::Api::Embeddings {
        report.inputs_per_request = Some(cfg.workload.inputs());
    }
    Ok((report, run.recorder.intervals))
}

/// The context strategy `s` runs in, with what this process was asked for (`None`: no count,
/// time alone ends it) and what it will send at most (an open loop's schedule, cut at the
/// duration).
fn context(
    cfg: &Plan,
    lease: &Lease,
    s: Strategy,
    log: Option<RequestLog>,
    board: Option<(&Board, u32)>,
) -> Result<(RunContext, Option<u64>, Option<u64>), RunError> {
    // A shard keeps its entries of the whole run's schedule: shards together send what one
    // process would, each request at the same time.
    let schedule = cfg
        .load
        .model()
        .schedule(cfg.stop.count(), cfg.stop.duration())
        .map(|s| match cfg.shard {
            Some(sh) => s.of_shard(sh),
            None => s,
        })
        .map(Arc::new);
    let asked = cfg.stop.count().map(|n| cfg.shard.map_or(n, |s| s.share(n)));
    let total = schedule.as_ref().map_or(asked, |s| Some(s.len()));
    let ctx = RunContext {
        cfg: Arc::new(cfg.clone()),
        strategy: s,
        req: Arc::new(PreparedRequest {
            numbering: lease.numbering,
            ..lease.target.prepare(cfg)
        }),
        schedule,
        live: board.map_or_else(Live::default, |(b, round)| {
            Live::to(b.lane(s, round, total, cfg.stop.duration()))
        }),
        log,
        cpu: cpu_worker(cfg, s)?,
        stop: lease.stop.clone(),
    };
    Ok((ctx, asked, total))
}

/// What ended a strategy that issued `issued` of `asked`: time, when the phase stopped for its
/// duration before its count ran out; a signal, when one came before; else the count.
fn ended_by(cfg: &RunConfig, asked: Option<u64>, issued: u64, stop: &StopToken) -> EndedBy {
    let short = asked.is_none_or(|a| issued < a);
    match stop.requested() {
        None if cfg.stop.duration().is_some() && short => EndedBy::Duration,
        Some(_) if short => EndedBy::Signal,
        _ => EndedBy::Count,
    }
}

/// An external client's record for the report: its command (secrets removed), start-up, the
/// harness's CPU for its lines (and per line), how it failed.
fn external_report(run: &crate::engine::runner::StrategyRun) -> Option<crate::model::report::ExternalReport> {
    let ext = run.external.as_ref()?;
    let lines = run.recorder.total() + run.warmup.as_ref().map_or(0, |w| w.recorder.total());
    Some(crate::model::report::ExternalReport {
        command: crate::plan::request::redact(&ext.command, &[]),
        startup_s: ext.startup_s,
        startup_cpu_s: ext.startup_cpu_s,
        harness_cpu_s: ext.harness_cpu_s,
        harness_cpu_us_per_request: (lines > 0).then(|| ext.harness_cpu_s * 1e6 / lines as f64),
        failure: ext.failure.clone(),
        stderr_tail: ext.stderr_tail.clone(),
    })
}

/// What the harness counted of one strategy's attempts, for the cross-check.
#[derive(Debug, Clone, Copy)]
struct Counted {
    /// Attempts sent (warm-up included).
    attempts: u64,
    /// Of them, those that failed on the connection (and may never have reached the mock).
    unreached: u64,
    /// Of them, those that timed out: given up, perhaps before the request was written.
    timed_out: u64,
    /// Requests cancelled in flight.
    cancelled: u64,
}

impl Counted {
    /// A strategy's run as counted: every attempt sent (the mock saw the warm-up's too); those
    /// that failed on the connection and may never have reached the mock as requests (a
    /// connection refused over --max-connections, a protocol it does not speak), with the
    /// attempt each cancelled request had in flight; those that timed out, which may have been
    /// given up before they were written (`--timeout 1ms` at 100 in flight reached the mock with
    /// 212 attempts of 900, and failed the run as a mismatch); the cancelled requests.
    fn of(run: &crate::engine::runner::StrategyRun) -> Counted {
        let recorders = [Some(&run.recorder), run.warmup.as_ref().map(|w| &w.recorder)];
        let recorders = recorders.into_iter().flatten();
        let failed = |outcome: Outcome| -> u64 {
            recorders
                .clone()
                .flat_map(|r| r.errors.iter())
                .filter(|(class, _)| class.outcome() == outcome)
                .map(|(_, t)| t.count)
                .sum()
        };
        let cancelled = |r: &crate::stats::recorder::Recorder| r.count(Outcome::Cancelled);
        Counted {
            attempts: recorders.clone().map(|r| r.attempts).sum(),
            unreached: failed(Outcome::Transport) + recorders.clone().map(cancelled).sum::<u64>(),
            timed_out: failed(Outcome::Timeout),
            cancelled: cancelled(&run.recorder),
        }
    }
}

/// Compares the attempts sent with the mock's count. A request whose client gave up (timeout)
/// may still be in the mock's accept queue for a moment, so it waits up to a second for the
/// timed-out attempts to arrive (they may never: given up before they were written). Requests
/// cancelled in flight may have sent attempts the client never finished counting: then the
/// mock may have received up to that many more.
/// `None` when the mock's counters cannot be read after the strategy (it died, or froze): then
/// nothing was measured, and nothing is written as if it had been.
fn cross_check(
    lease: &Lease,
    before: &StatsSnapshot,
    counted: Counted,
    cfg: &RunConfig,
) -> Option<ServerCheck> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let after = lease.stats();
        let check = after
            .as_ref()
            .map(|after| server_check(before, after, counted, cfg.retry.attempts));
        // Settled: every attempt arrived but those that failed on the connection.
        let settled = |c: &ServerCheck| c.requests_received + counted.unreached >= counted.attempts;
        if check.as_ref().is_some_and(|c| c.matches && settled(c)) || Instant::now() >= deadline {
            if check.is_none() {
                lease.stop.say(
                    "asyncbench: the mock's counters could not be read after the strategy: no cross-check for it"
                        .to_owned(),
                );
            }
            return check;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The mock's counters over one strategy (`after` − `before`) against the attempts the harness
/// counted: they match when the mock received every attempt but at most those that failed on
/// the connection (`unreached`) or timed out, and at most the attempts the `cancelled` requests
/// may have sent uncounted (each up to `per_request`, the retry policy's attempts) more. Pure,
/// so the rule is unit-tested.
fn server_check(
    before: &StatsSnapshot,
    after: &StatsSnapshot,
    counted: Counted,
    per_request: u32,
) -> ServerCheck {
    let Counted {
        attempts,
        unreached,
        timed_out,
        cancelled,
    } = counted;
    let slack = cancelled * u64::from(per_request);
    let received = after.requests_received.saturating_sub(before.requests_received);
    let responses_by_status = after
        .responses_by_status
        .iter()
        .map(|(k, v)| {
            let earlier = before.responses_by_status.get(k).copied().unwrap_or(0);
            (*k, v.saturating_sub(earlier))
        })
        .filter(|(_, v)| *v > 0)
        .collect();
    ServerCheck {
        attempts_sent: attempts,
        requests_received: received,
        matches: received + unreached + timed_out >= attempts && received <= attempts + slack,
        responses_by_status,
        connections: after.work_connections.saturating_sub(before.work_connections),
        tls_handshakes: after
            .work_tls_handshakes
            .saturating_sub(before.work_tls_handshakes),
        http2_streams: after.http2_streams.saturating_sub(before.http2_streams),
    }
}

/// The configuration as it goes into the report.
pub(crate) fn summary(cfg: &RunConfig, session: &Session, isolation: Isolation) -> ConfigSummary {
    ConfigSummary {
        requests: cfg.stop.count(),
        concurrency: cfg.concurrency,
        batch_size: cfg.batch_size,
        pause_s: cfg.pause.as_secs_f64(),
        timeout_s: cfg.timeout.as_secs_f64(),
        max_body_bytes: cfg.max_body,
        http2: cfg.http2,
        tls: cfg.endpoint.mock_tls()
            || cfg
                .endpoint
                .target()
                .is_some_and(|t| t.base_url.starts_with("https:")),
        insecure: cfg.endpoint.target().is_some_and(|t| t.trust.insecure),
        proxy: cfg
            .endpoint
            .target()
            .and_then(|t| t.proxy.as_ref())
            .map(|p| format!("{} (${})", p.display(), p.var)),
        retry: cfg.retry.clone(),
        load: cfg.load.model(),
        workload: WorkloadSummary {
            requests: cfg.stop.count(),
            sent: cfg.workload.clone(),
        },
        target: session.display(),
        isolation,
        api_key_set: cfg.endpoint.target().is_some_and(|t| t.api_key.is_some()),
        // A key given with -H did not come from the variable.
        api_key_env: match cfg.endpoint.target().and_then(|t| t.api_key.as_ref()) {
            Some(k) if k.is_from_header() => None,
            _ => cfg.api_key_env.clone(),
        },
        mock: session.profile().cloned(),
        mock_mean_delay_s: session.mean_delay_s,
        duration_s: cfg.stop.duration().map(|d| d.as_secs_f64()),
        warmup: cfg.warmup,
        ramp_s: cfg.ramp.map(|r| r.as_secs_f64()),
        slo: cfg.slo,
        shard: cfg.shard,
        adaptive: cfg.load.adaptive(),
        cpu_work_s: cfg.cpu_work.map(|d| d.as_secs_f64()),
        start_at_unix: cfg.start_at,
        rounds: cfg.rounds,
    }
}

/// Runs every strategy of `cfg` in order against `session`, each on a target in a known state.
/// Stops issuing on a signal, and runs nothing more after a strategy during which the target
/// died; either way the report holds what was measured and says why it is incomplete.
pub(crate) fn run_strategies(
    cfg: &Plan,
    session: &Session,
    provenance: &Provenance,
    board: Option<&Board>,
) -> Result<RunResults, RunError> {
    let stop = &session.stop;
    stop.mark_started();
    let (log_file, log, writer) = open_log(cfg)?;
    if let Some(at) = cfg.start_at {
        wait_for_start(at, stop);
    }
    let watchdog = crate::engine::run::session::Watchdog::start(session);
    let mut rounds = Rounds::default();
    rounds.run(cfg, session, log.clone(), board)?;
    let mut strategies = Vec::new();
    let mut intervals = Vec::new();
    for (s, mut reports, iv) in rounds.done {
        let report = match reports.len() {
            1 => reports.pop(),
            _ => Some(crate::stats::merge::merge_rounds(&reports, session.mean_delay_s)?),
        };
        strategies.extend(report);
        intervals.push((s, iv));
    }
    drop(watchdog);
    drop(log);
    let incomplete = rounds
        .incomplete
        .or(rounds.failed.first().copied().map(Incomplete::ClientFailed));
    // A log that could not be written whole (a full disk) is not kept partial: the command
    // writes every other file, then fails naming it (exit 1).
    let (requests_log, log_wait_s) = match writer.map(crate::stats::log::LogWriter::finish) {
        Some(Err(source)) => (Err(source), None),
        Some(Ok(w)) => (
            Ok(log_file),
            (!w.waited.is_zero()).then_some(w.waited.as_secs_f64()),
        ),
        None => (Ok(log_file), None),
    };
    let isolation = if session.embedded() {
        Isolation::FreshMock
    } else if cfg.sharded() {
        Isolation::Shards
    } else if rounds.all_fresh {
        Isolation::Reset
    } else if cfg.strategies.len() > 1 {
        Isolation::Shared
    } else {
        Isolation::Single
    };
    let incomplete_reason = incomplete.map(|i| describe(i, rounds.last.as_ref(), &strategies, cfg));
    let report = RunReport {
        provenance: provenance.ended(),
        config: summary(cfg, session, isolation),
        strategies,
        complete: incomplete.is_none(),
        incomplete_reason,
        merged_from: Vec::new(),
        log_wait_s,
    };
    Ok(RunResults {
        report,
        intervals,
        incomplete,
        requests_log,
    })
}

/// One log for the run, written by a thread of its own as requests finish: its file, the log
/// the runners write to, and its writer. With `--print-requests` and no `--out`, the log goes
/// to a temporary file of its own, for the command to print; with neither (or with
/// `--no-request-log`), there is none.
#[allow(clippy::type_complexity)]
fn open_log(
    cfg: &Plan,
) -> Result<
    (
        Option<tempfile::NamedTempFile>,
        Option<RequestLog>,
        Option<crate::stats::log::LogWriter>,
    ),
    RunError,
> {
    let dir = match (&cfg.out, cfg.print_requests) {
        (Some(dir), _) if cfg.request_log => dir.clone(),
        (None, true) => std::env::temp_dir(),
        _ => return Ok((None, None, None)),
    };
    let failed = |source| RunError::Write {
        path: "requests.jsonl".into(),
        source,
    };
    let file = crate::stats::log::temp_in(&dir).map_err(|source| RunError::Write {
        path: dir.join("requests.jsonl").display().to_string(),
        source,
    })?;
    let handle = file.as_file().try_clone().map_err(failed)?;
    let (log, writer) =
        RequestLog::start(handle, crate::stats::recorder::epoch().0, cfg.export_chunks).map_err(failed)?;
    Ok((Some(file), Some(log), Some(writer)))
}

/// The rounds of a run as they go: each strategy's reports and intervals, and why it stopped.
#[derive(Default)]
struct Rounds {
    /// Each strategy's rounds, in the order the plan names the strategies.
    done: Vec<(Strategy, Vec<StrategyReport>, Intervals)>,
    /// The round that ran last, as the reason of an interrupted run names it.
    last: Option<LastRound>,
    /// A signal, or the target died.
    incomplete: Option<Incomplete>,
    /// Every external client that failed, in order (the first is the run's reason): its later
    /// rounds are not run (a client that cannot start failed the same way in each, and the
    /// run's reason named it once a round).
    failed: Vec<Strategy>,
    /// Every lease was of a target in a fresh state.
    all_fresh: bool,
}

impl Rounds {
    /// Every round in [`round_order`] until a signal, or a round during which the target died.
    fn run(
        &mut self,
        cfg: &Plan,
        session: &Session,
        log: Option<RequestLog>,
        board: Option<&Board>,
    ) -> Result<(), RunError> {
        let stop = &session.stop;
        self.all_fresh = true;
        for (round, position, s) in round_order(&cfg.strategies, cfg.rounds) {
            if let Some(sig) = stop.requested() {
                self.incomplete = Some(Incomplete::of(sig, s));
                break;
            }
            if self.failed.contains(&s) {
                continue;
            }
            let lease = session.lease()?;
            self.all_fresh &= lease.fresh;
            let watched = board.map(|b| (b, round));
            let (mut report, iv) = run_counted(cfg, &lease, s, session.mean_delay_s, log.clone(), watched)?;
            drop(lease);
            for r in &mut report.rounds {
                r.round = round;
                r.position = position;
            }
            let broken = report.count(Outcome::Transport) + report.count(Outcome::Timeout) > 0;
            self.keep(s, report, iv, round < cfg.rounds, board, stop);
            if let Some(sig) = stop.requested() {
                self.incomplete = Some(Incomplete::of(sig, s));
                break;
            }
            // A target that died mid-run: keep what finished, say so, and run nothing more.
            if broken && !session.embedded() && !session.reachable() {
                self.incomplete = Some(Incomplete::TargetDied(s));
                break;
            }
        }
        Ok(())
    }

    /// A round's report kept with its strategy's others (a failed client said at once through
    /// `stop`, and that its later rounds, if `more` are to come, are not run; the live view's
    /// `board` marks its lane failed).
    fn keep(
        &mut self,
        s: Strategy,
        report: StrategyReport,
        iv: Intervals,
        more: bool,
        board: Option<&Board>,
        stop: &StopToken,
    ) {
        if let Some(ext) = &report.external
            && let Some(why) = &ext.failure
        {
            let skipped = if more {
                " (its later rounds are not run)"
            } else {
                ""
            };
            let mut said = vec![format!("asyncbench: the client {s} failed: {why}{skipped}")];
            if let Some(tail) = &ext.stderr_tail {
                said.push(format!("asyncbench: the end of {s}'s stderr:\n{tail}"));
            }
            if let Some(lane) = board.and_then(|b| b.lanes().into_iter().rev().find(|l| l.strategy == s)) {
                lane.fail(why);
            }
            said.into_iter().for_each(|line| stop.say(line));
            self.failed.push(s);
        }
        self.last = Some(LastRound {
            id: s,
            issued: report.issued,
            requests: report.requests,
        });
        match self.done.iter_mut().find(|(id, _, _)| *id == s) {
            Some((_, reports, intervals)) => {
                reports.push(report);
                *intervals += iv;
            }
            None => self.done.push((s, vec![report], iv)),
        }
    }
}

/// Waits for `--start-at` (a signal ends the wait; the loop that follows then runs nothing).
fn wait_for_start(at: f64, stop: &StopToken) {
    let now = unix_now_s();
    if at > now {
        eprintln!("asyncbench: waiting {:.1} s for --start-at {at}", at - now);
        stop.sleep_blocking(Duration::from_secs_f64(at - now));
    } else if now - at > 1.0 {
        eprintln!(
            "asyncbench: warning: --start-at {at} passed {:.1} s ago; starting now (this shard starts late)",
            now - at
        );
    }
}

/// The order strategies run in over `rounds`: as named in odd rounds, reversed in even ones, so
/// drift on the machine falls on all alike. Each entry is (round, position in it, strategy),
/// both 1-based.
pub(crate) fn round_order(strategies: &[Strategy], rounds: u32) -> Vec<(u32, u32, Strategy)> {
    (1..=rounds.max(1))
        .flat_map(|r| {
            let mut these: Vec<Strategy> = strategies.to_vec();
            if r % 2 == 0 {
                these.reverse();
            }
            these
                .into_iter()
                .enumerate()
                .map(move |(i, s)| (r, i as u32 + 1, s))
        })
        .collect()
}

/// The round that ran last: which strategy, and how far it got.
#[derive(Debug, Clone, Copy)]
struct LastRound {
    id: Strategy,
    issued: u64,
    requests: u64,
}

/// The reason a run is incomplete, in one sentence: `last` is the round that ran last, `done`
/// every strategy's report.
fn describe(i: Incomplete, last: Option<&LastRound>, done: &[StrategyReport], cfg: &RunConfig) -> String {
    let after = if done.len() < cfg.strategies.len() {
        "; the strategies after it did not run"
    } else {
        ""
    };
    match (i, last) {
        // A run for a duration has no count to be short of.
        (Incomplete::Signal(sig), Some(s)) => format!(
            "interrupted by {} during {} ({}{} requests issued){after}",
            sig.name(),
            s.id,
            s.issued,
            cfg.stop
                .count()
                .map_or(String::new(), |_| format!(" of {}", s.requests))
        ),
        (Incomplete::Signal(sig), None) => format!("interrupted by {} before any strategy ran", sig.name()),
        (Incomplete::TargetDied(s), _) => format!("the target stopped answering during {s}{after}"),
        (Incomplete::ClientFailed(s), _) => {
            let why = done
                .iter()
                .find(|r| r.id == s)
                .and_then(|r| r.external.as_ref())
                .and_then(|e| e.failure.clone())
                .unwrap_or_default();
            format!("the client {s} failed: {why}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(received: u64, by_status: &[(u16, u64)], connections: u64) -> StatsSnapshot {
        StatsSnapshot {
            requests_received: received,
            responses_by_status: by_status.iter().copied().collect(),
            work_connections: connections,
            work_tls_handshakes: connections / 2,
            http2_streams: received / 4,
            ..StatsSnapshot::default()
        }
    }

    /// The live view's thread is not the client: CPU it reports on the board during a strategy
    /// is left out of the strategy's client CPU (here it claims 1000 s, so nothing is left).
    #[test]
    fn the_views_cpu_is_not_counted_as_the_clients() {
        use crate::model::plan::Workload;
        use crate::plan::endpoint::Endpoint;
        let cfg = RunConfig {
            workload: Workload {
                model: "mock-model".into(),
                prompt: "hello".into(),
                max_tokens: 8,
                ..Workload::default()
            },
            stop: crate::model::plan::Stop::Count(40),
            strategies: vec![Strategy::Sequential],
            endpoint: Endpoint::embedded(mock_server::Profile {
                seed: Some(1),
                ..mock_server::Profile::fixed(Duration::from_millis(5))
            }),
            quiet: true,
            ..RunConfig::default()
        };
        let plan = Plan::new(cfg).unwrap();
        let session = Session::open(&plan, &crate::engine::stop::StopToken::new()).unwrap();
        let run = |claim: bool| {
            let lease = session.lease().unwrap();
            let board = Board::new(Vec::new(), None, Vec::new());
            std::thread::scope(|s| {
                if claim {
                    // Once the strategy runs (its lane exists, a request has started).
                    s.spawn(|| {
                        let t = Instant::now();
                        while board.lanes().first().is_none_or(|l| l.counts().started == 0)
                            && t.elapsed() < Duration::from_secs(30)
                        {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        board.set_view_cpu(Duration::from_secs(1000));
                    });
                }
                run_counted(&plan, &lease, Strategy::Sequential, None, None, Some((&board, 1)))
                    .unwrap()
                    .0
            })
        };
        let claimed = run(true);
        assert_eq!(claimed.count(Outcome::Ok), 40);
        assert_eq!(claimed.cpu_s, 0.0);
        assert!(run(false).cpu_s > 0.0);
    }

    /// The mock's counters are read as the change over the strategy, and agree only when it
    /// received every attempt and at most every attempt of each cancelled request more.
    #[test]
    fn the_mock_must_have_received_every_attempt_and_at_most_the_cancelled_ones_more() {
        let before = stats(100, &[(200, 90), (429, 10)], 8);
        let after = stats(120, &[(200, 105), (429, 15), (500, 1)], 12);
        let n = |attempts, cancelled| Counted {
            attempts,
            unreached: 0,
            timed_out: 0,
            cancelled,
        };
        let c = server_check(&before, &after, n(20, 0), 3);
        assert_eq!((c.attempts_sent, c.requests_received, c.matches), (20, 20, true));
        assert_eq!(
            c.responses_by_status.into_iter().collect::<Vec<_>>(),
            [(200, 15), (429, 5), (500, 1)]
        );
        assert_eq!((c.connections, c.tls_handshakes, c.http2_streams), (4, 2, 5));
        // One attempt the mock never saw: a mismatch, whatever was cancelled.
        assert!(!server_check(&before, &after, n(21, 3), 3).matches);
        // More received than counted: only up to every attempt of each cancelled request (two
        // cancelled, three attempts each: six more at most).
        assert!(server_check(&before, &after, n(14, 2), 3).matches);
        assert!(!server_check(&before, &after, n(13, 2), 3).matches);
        assert!(server_check(&before, &after, n(19, 1), 1).matches);
        assert!(!server_check(&before, &after, n(18, 1), 1).matches);
        // Statuses that did not move are left out.
        let same = server_check(&before, &before, n(0, 0), 1);
        assert!(same.matches && same.responses_by_status.is_empty());
        // Attempts that failed on the connection may not have reached it: 25 sent, 5 of them
        // refused, 20 received is a match; 21 sent with none refused is not.
        let refused = Counted {
            attempts: 25,
            unreached: 5,
            timed_out: 0,
            cancelled: 0,
        };
        assert!(server_check(&before, &after, refused, 1).matches);
        assert!(
            !server_check(
                &before,
                &after,
                Counted {
                    unreached: 4,
                    ..refused
                },
                1
            )
            .matches
        );
        // So may attempts that timed out (given up before they were written): 3 refused and 2
        // timed out of 25 is a match, 3 and 1 is not.
        let timed_out = Counted {
            unreached: 3,
            timed_out: 2,
            ..refused
        };
        assert!(server_check(&before, &after, timed_out, 1).matches);
        assert!(
            !server_check(
                &before,
                &after,
                Counted {
                    timed_out: 1,
                    ..timed_out
                },
                1
            )
            .matches
        );
    }
}
