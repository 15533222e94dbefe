//! External clients as a strategy: start the program, hand it the workload, read its lines into
//! the same recorder the built-in strategies use, and watch it. A client that dies, hangs, writes
//! a line that breaks the protocol or loses requests ends the strategy loudly: the client is
//! killed, every request it did report is kept, and those it did not are named.
//!
//! Its cost is measured from outside: CPU from the kernel's account of reaped children
//! (`getrusage(RUSAGE_CHILDREN)` before and after) less what it spent starting up (read from
//! `/proc/<pid>/stat` when it says `ready`), peak memory and threads by sampling
//! `/proc/<pid>/status`; the harness's own CPU (reading and recording the lines) apart.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::engine::external::protocol;
use crate::engine::external::protocol::Phase as WirePhase;
use crate::engine::runner::{LONG_WAIT, RunContext, StrategyRun, WarmupRun};
use crate::model::error::RunError;
use crate::model::plan::MAX_PHASE_REQUESTS;
use crate::model::strategy::Strategy;

mod lines;

use lines::{Expected, Lines, PhaseState, read_tail};

/// How long a client may take to start (imports, building its client) before it is called hung.
pub(crate) const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// How long the line reader waits once it has read everything there was: with the pipe at
/// [`PIPE_BYTES`] (1 MiB holds 100 ms of 40 000 lines of 250 bytes a second, several times
/// what the fastest Python client writes), and with the default 64 KiB pipe when the kernel
/// refuses a larger one, a twentieth of that.
fn read_pause(pipe_bytes: Option<i32>) -> Duration {
    match pipe_bytes {
        Some(b) if b >= PIPE_BYTES => Duration::from_millis(100),
        _ => Duration::from_millis(5),
    }
}

/// The size asked for the pipe of the client's stdout: 1 MiB, Linux's default cap for an
/// unprivileged process (`/proc/sys/fs/pipe-max-size`).
const PIPE_BYTES: i32 = 1 << 20;

/// Bytes of the client's stderr kept to show when it fails.
const STDERR_TAIL: usize = 4096;

/// What an external client cost, measured from outside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalCost {
    /// The client's CPU after its start-up, user + system seconds (its whole life, from the
    /// kernel's account of the reaped child, less `startup_cpu_s`).
    pub cpu_s: f64,
    /// Its CPU until it said `ready` (imports, building its client), seconds, 10 ms ticks.
    pub startup_cpu_s: f64,
    /// Its peak resident memory, bytes.
    pub rss_bytes: u64,
    /// Its most threads at once.
    pub threads: u64,
    /// Its start-up (spawn → `ready`), seconds, not in the strategy's wall time.
    pub startup_s: f64,
    /// Why it failed, when it did (killed, died, hung, broke the protocol, lost requests).
    pub failure: Option<String>,
    /// The command line it ran as.
    pub command: String,
    /// The end of its stderr, when it failed.
    pub stderr_tail: Option<String>,
    /// The harness's own CPU for it: the threads that read, check and record its lines.
    pub harness_cpu_s: f64,
}

/// The command line of a strategy's client.
/// (`scripts`: where the Python clients were written.)
fn command_for(ctx: &RunContext, scripts: &std::path::Path) -> Result<(Command, String), RunError> {
    match ctx.strategy {
        Strategy::Python(p) => {
            let python = crate::plan::python::interpreter(ctx.cfg.external.python.as_deref());
            let script = scripts.join(p.script());
            let mut c = Command::new(&python);
            // Unbuffered, and no bytecode written beside the temporary scripts.
            c.arg("-u").arg("-B").arg(&script);
            let shown = format!("{} -u -B clients/python/{}", python.display(), p.script());
            Ok((c, shown))
        }
        Strategy::Custom(_) => {
            let cmd = ctx
                .cfg
                .external
                .client_cmd
                .as_ref()
                .ok_or_else(|| RunError::Setup {
                    what: "external client",
                    source: "no --client-cmd".into(),
                })?;
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(format!("exec {}", cmd.command));
            Ok((c, cmd.command.clone()))
        }
        s => Err(RunError::Setup {
            what: "external client",
            source: format!("{s} is not an external client").into(),
        }),
    }
}

/// The workload's phases (warm-up, then measured), as the protocol writes them. A client is
/// handed its requests up front, so each phase needs a count, of at most
/// [`MAX_PHASE_REQUESTS`].
fn wire_phases(ctx: &RunContext) -> Result<Vec<WirePhase>, RunError> {
    let (warmup, main) = ctx.phases();
    let mut out = Vec::new();
    for (p, measured) in [(warmup, false), (Some(main), true)] {
        let Some(p) = p else { continue };
        let Some(count) = p.count.filter(|n| *n <= MAX_PHASE_REQUESTS) else {
            return Err(RunError::Config(crate::model::error::ConfigError::External {
                why: format!(
                    "{} is handed its requests up front: give it a count of requests (at most {MAX_PHASE_REQUESTS}) and a warm-up count, not a time alone",
                    ctx.strategy
                ),
            }));
        };
        out.push(WirePhase {
            measured,
            first: p.base + p.offset,
            stride: p.stride,
            count,
            limit_s: p.limit.map(|l| l.as_secs_f64()),
            schedule_s: (measured && p.scheduled)
                .then(|| {
                    ctx.schedule
                        .as_ref()
                        .map(|s| s.iter().map(|d| d.as_secs_f64()).collect())
                })
                .flatten(),
            ramp_s: ctx.ramp(&p).map(|r| r.as_secs_f64()),
        });
    }
    Ok(out)
}

/// CPU seconds of this process's reaped children so far.
fn children_cpu_s() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

/// Runs an external client through the workload: prepared, started, watched until it is done
/// (or killed), then its phases and what it cost.
pub(crate) fn run_external(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let phases = wire_phases(ctx)?;
    let prepared = Prepared::new(ctx, &phases)?;
    let cpu_before = children_cpu_s();
    let spawned = Instant::now();
    let mut started = Started::spawn(ctx, prepared.command, prepared.message, &prepared.shown)?;
    let mut sink = Lines {
        ctx,
        clock: protocol::Clock::new(spawned),
        pid: started.pid,
        expected: Expected::new(&phases),
        states: phases.iter().map(|p| PhaseState::new(ctx, p.measured)).collect(),
        ready_at: None,
        startup_cpu_s: 0.0,
        quiet_until: std::sync::Arc::new(AtomicU64::new(0)),
        spawned,
    };
    let sampler = crate::engine::resources::ChildSampler::start(started.pid);
    let watched = watch(ctx, &mut started, &mut sink, spawned, prepared.quiet_limit);
    let Lines {
        states,
        expected,
        ready_at,
        startup_cpu_s,
        ..
    } = sink;
    let mut failure = watched.failure;
    let stopped_by_signal = watched.stopped_by_signal;
    // Whatever happened, the client is done now: a failed one is killed, a finished one reaped.
    if failure.is_some() || stopped_by_signal {
        let _ = started.child.kill();
    }
    let status = wait_bounded(&mut started.child, Duration::from_secs(5));
    let total_cpu_s = (children_cpu_s() - cpu_before).max(0.0);
    let _ = started.writer.join();
    let peak = sampler.stop();
    let tail = started.err_reader.join().unwrap_or_default();
    drop(prepared.files);
    if !stopped_by_signal {
        if failure.is_none() {
            failure = exit_failure(status.as_ref(), &states);
        }
        let lost = lost_requests(&expected, &states, &phases);
        match failure.as_mut() {
            _ if lost.is_empty() => {}
            None => failure = Some(format!("it lost requests: {}", lost.join("; "))),
            Some(f) => f.push_str(&format!("; {}", lost.join("; "))),
        }
    }
    let stderr_tail = failure
        .is_some()
        .then(|| String::from_utf8_lossy(&tail).trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| ctx.req.redact(&t));
    let startup_s = ready_at.map_or(0.0, |r| r.duration_since(spawned).as_secs_f64());
    let mut run = phase_runs(ctx, states, &phases, ready_at, stopped_by_signal);
    run.threads = peak.1;
    run.external = Some(ExternalCost {
        cpu_s: (total_cpu_s - startup_cpu_s).max(0.0),
        startup_cpu_s,
        rss_bytes: peak.0,
        threads: peak.1,
        startup_s,
        failure,
        command: prepared.shown,
        stderr_tail,
        harness_cpu_s: watched.harness_cpu_s.max(0.0),
    });
    Ok(run)
}

/// What a client is started with: its files (removed with the handle: the Python scripts, the
/// CA certificate), its command line, the workload message, and how long it may stay silent.
struct Prepared {
    files: tempfile::TempDir,
    command: Command,
    /// The command line as shown.
    shown: String,
    /// The workload, one JSON line.
    message: Vec<u8>,
    /// No line for this long while requests are outstanding: the client is hung.
    quiet_limit: Duration,
}

impl Prepared {
    fn new(ctx: &RunContext, phases: &[WirePhase]) -> Result<Prepared, RunError> {
        let setup = |e: std::io::Error| RunError::Setup {
            what: "external client files",
            source: e.into(),
        };
        let files = tempfile::Builder::new()
            .prefix("asyncbench-client-")
            .tempdir()
            .map_err(setup)?;
        if matches!(ctx.strategy, Strategy::Python(_)) {
            crate::engine::external::materialize(files.path()).map_err(setup)?;
        }
        let ca_file = match &ctx.req.trust.ca_pem {
            Some(pem) => {
                let path = files.path().join("ca.pem");
                std::fs::write(&path, pem.as_slice()).map_err(setup)?;
                Some(path.display().to_string())
            }
            None => None,
        };
        let (command, shown) = command_for(ctx, files.path())?;
        // 0 tells the client no limit (every request in flight at once).
        let concurrency = ctx.cfg.slots(ctx.strategy).unwrap_or(0);
        let mut workload = protocol::workload(
            ctx.strategy.id(),
            &ctx.req,
            concurrency,
            ctx.cfg.timeout,
            &ctx.cfg.retry,
            phases,
        );
        workload.ca_file = ca_file.as_deref();
        let mut message = serde_json::to_vec(&workload).map_err(|e| RunError::Setup {
            what: "external client workload",
            source: e.into(),
        })?;
        message.push(b'\n');
        // A shipped client says its waits of LONG_WAIT or more (unless its SDK retries).
        let said = says_long_waits(ctx).then_some(LONG_WAIT);
        let per_request = ctx.cfg.retry.worst_case(ctx.cfg.timeout, said);
        let longest_gap = ctx.schedule.as_ref().map_or(Duration::ZERO, |s| {
            let gaps = s.iter().zip(s.iter().skip(1)).map(|(a, b)| b.saturating_sub(a));
            gaps.max().unwrap_or(Duration::ZERO) + s.get(0).unwrap_or_default()
        });
        Ok(Prepared {
            files,
            command,
            shown,
            message,
            quiet_limit: per_request + longest_gap + Duration::from_secs(5),
        })
    }
}

/// A client started: the child, and the threads that feed its stdin and keep its stderr's tail.
struct Started {
    child: Child,
    pid: u32,
    writer: std::thread::JoinHandle<()>,
    err_reader: std::thread::JoinHandle<Vec<u8>>,
}

impl Started {
    fn spawn(
        ctx: &RunContext,
        mut command: Command,
        message: Vec<u8>,
        shown: &str,
    ) -> Result<Started, RunError> {
        // A process group of its own: a Ctrl-C at the terminal reaches asyncbench alone, which
        // passes the stop on (SIGTERM) and gives the client its grace period; in the terminal's
        // group, a Python client died of the SIGINT at once, its requests unreported.
        use std::os::unix::process::CommandExt;
        // The run's proxy, or none, whatever the environment says: each client library reads
        // the variables by rules of its own (aiohttp not at all), so the client is given the
        // one proxy every other strategy of the run goes through, under the names all of them
        // read for either scheme.
        for var in crate::plan::proxy::PROXY_VARS {
            command.env_remove(var);
        }
        if let Some(p) = &ctx.req.proxy {
            for var in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"] {
                command.env(var, &p.url);
            }
        }
        let mut child = command
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("ASYNCBENCH_PROTOCOL", protocol::VERSION.to_string())
            .spawn()
            .map_err(|e| {
                RunError::Config(crate::model::error::ConfigError::External {
                    why: format!("cannot start the client {} ({shown}): {e}", ctx.strategy),
                })
            })?;
        let pid = child.id();
        // The workload goes in on a thread of its own: a client that does not read it must
        // not block the harness.
        let mut stdin = child.stdin.take();
        let writer = std::thread::Builder::new()
            .name("client-stdin".into())
            .spawn(move || {
                if let Some(s) = stdin.as_mut() {
                    let _ = s.write_all(&message);
                }
                drop(stdin);
            })
            .map_err(|e| RunError::Setup {
                what: "client writer thread",
                source: e.into(),
            })?;
        let stderr = child.stderr.take();
        let err_reader = std::thread::Builder::new()
            .name("client-stderr".into())
            .spawn(move || stderr.map(read_tail).unwrap_or_default())
            .map_err(|e| RunError::Setup {
                what: "client stderr thread",
                source: e.into(),
            })?;
        Ok(Started {
            child,
            pid,
            writer,
            err_reader,
        })
    }
}

/// How watching a client ended.
struct Watched {
    /// Why it failed, when it did (hung, silent at start, broke the protocol).
    failure: Option<String>,
    /// A signal stopped the run, and the client was told.
    stopped_by_signal: bool,
    /// The line reader's CPU.
    harness_cpu_s: f64,
}

/// Reads the client's lines into `sink` on a thread of its own while this one supervises: a
/// signal is passed on (SIGTERM, then the grace period to report), a client silent for too long
/// is killed (its output then ends, and the reader with it).
fn watch(
    ctx: &RunContext,
    started: &mut Started,
    sink: &mut Lines<'_>,
    spawned: Instant,
    quiet_limit: Duration,
) -> Watched {
    let stdout = started.child.stdout.take();
    let pipe_bytes = stdout
        .as_ref()
        .and_then(|out| nix::fcntl::fcntl(out, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_BYTES)).ok());
    let pause = read_pause(pipe_bytes);
    // Set by the reader: when it last read a line (ns after `spawned`), whether the client said
    // ready, and that it is done (end of output or a line that broke the protocol).
    let last_line = AtomicU64::new(0);
    let quiet_until = sink.quiet_until.clone();
    let ready = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let mut failure: Option<String> = None;
    let mut stopped_by_signal = false;
    let mut said = false;
    let (read_failure, harness_cpu_s) = std::thread::scope(|scope| {
        let reading = || {
            let cpu0 = crate::engine::resources::this_thread_cpu_s();
            let failure = stdout.and_then(|out| sink.read(out, pause, spawned, &last_line, &ready));
            done.store(true, Ordering::SeqCst);
            (failure, crate::engine::resources::this_thread_cpu_s() - cpu0)
        };
        let reader = match std::thread::Builder::new()
            .name("client-lines".into())
            .spawn_scoped(scope, reading)
        {
            Ok(h) => h,
            Err(e) => {
                done.store(true, Ordering::SeqCst);
                return (Some(format!("its line reader could not start: {e}")), 0.0);
            }
        };
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
            if ctx.stop.requested().is_some() && !stopped_by_signal {
                // Stop: the client is told by SIGTERM, and given the grace period to report.
                stopped_by_signal = true;
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(started.pid as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let overdue = stopped_by_signal && ctx.grace_deadline().is_some_and(|d| Instant::now() >= d);
            let is_ready = ready.load(Ordering::SeqCst);
            let limit = if is_ready { quiet_limit } else { STARTUP_LIMIT };
            // Silence counts from the last line, or from the end of a wait the client said.
            let since = last_line
                .load(Ordering::SeqCst)
                .max(quiet_until.load(Ordering::SeqCst));
            let silent = spawned.elapsed().saturating_sub(Duration::from_nanos(since));
            if !stopped_by_signal && silent > limit {
                failure = Some(silence(is_ready, limit));
            } else if is_ready && !stopped_by_signal && silent >= LONG_WAIT && !said {
                ctx.live.say(quiet(ctx, silent, limit));
                said = true;
            }
            if overdue || failure.is_some() {
                let _ = started.child.kill();
                break;
            }
        }
        reader
            .join()
            .unwrap_or((Some("the line reader panicked".into()), 0.0))
    });
    Watched {
        failure: failure.or(read_failure),
        stopped_by_signal,
        harness_cpu_s,
    }
}

/// Whether the strategy's client says every wait of [`LONG_WAIT`] or more before a retry (a
/// `wait` line): the shipped Python clients do, but not an SDK client retrying by itself (its
/// SDK waits unseen), and a client of your own may not.
fn says_long_waits(ctx: &RunContext) -> bool {
    use crate::model::strategy::PyClient;
    let policy = ctx.cfg.retry.name.as_str();
    match ctx.strategy {
        Strategy::Python(PyClient::Openai) => policy != "openai",
        Strategy::Python(PyClient::Anthropic) => policy != "anthropic",
        Strategy::Python(PyClient::Aiohttp) => policy != "aiohttp",
        Strategy::Python(_) => true,
        _ => false,
    }
}

/// What a ready client silent for [`LONG_WAIT`] is told, so the run does not look hung: what it
/// may be doing, and when it will be called hung (`limit` of silence).
fn quiet(ctx: &RunContext, silent: Duration, limit: Duration) -> String {
    let retry = &ctx.cfg.retry;
    let why = if retry.attempts > 1 {
        format!(
            "a request may be waiting to retry (the {} policy) or slow to answer",
            retry.name
        )
    } else {
        "a request may be slow to answer".to_owned()
    };
    format!(
        "{} has reported nothing for {:.0} s: {why}; it is called hung and killed after {} of silence (a signal ends the run with what it has)",
        ctx.strategy,
        silent.as_secs_f64(),
        span(limit)
    )
}

/// A long span in the unit that reads best: seconds below two minutes, then minutes, hours,
/// days (a policy that obeys any Retry-After lets a client stay silent for weeks).
fn span(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        _ if s < 120.0 => format!("{s:.0} s"),
        _ if s < 7_200.0 => format!("{:.0} min", s / 60.0),
        _ if s < 172_800.0 => format!("{:.0} h", s / 3_600.0),
        _ => format!("{:.0} days", s / 86_400.0),
    }
}

/// Why a client silent past `limit` was killed: hung with requests outstanding, or never ready.
fn silence(ready: bool, limit: Duration) -> String {
    if ready {
        format!(
            "it wrote nothing for {} with requests outstanding, longer than a request may take with every attempt to its deadline (hung, or too slow to keep its own deadlines); killed",
            span(limit)
        )
    } else {
        format!(
            "it did not say ready within {:.0} s of starting; killed",
            limit.as_secs_f64()
        )
    }
}

/// A client that exited with an error, did not exit, or exited before reporting the end of
/// every phase.
fn exit_failure(status: Option<&std::process::ExitStatus>, states: &[PhaseState]) -> Option<String> {
    match status {
        Some(s) if !s.success() => Some(format!("it exited with {s}")),
        None => Some("it did not exit after closing its output; killed".into()),
        Some(_) if states.iter().any(|st| st.issued.is_none()) => {
            Some("it exited before reporting the end of every phase".into())
        }
        Some(_) => None,
    }
}

/// Requests the client said it issued (or was asked to) but never reported, phase by phase.
fn lost_requests(expected: &Expected, states: &[PhaseState], phases: &[WirePhase]) -> Vec<String> {
    let mut lost = Vec::new();
    for (i, st) in states.iter().enumerate() {
        let (shown, total) = expected.missing(i, st.issued(phases[i].count, false), 10);
        if total > 0 {
            lost.push(format!(
                "{total} request{} of the {} phase never reported (indexes {}{})",
                if total == 1 { "" } else { "s" },
                if phases[i].measured { "measured" } else { "warm-up" },
                shown.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                if total as usize > shown.len() { ", …" } else { "" }
            ));
        }
    }
    lost
}

/// The phases as the strategy's run: the warm-up's and the measured phase's recorders, counts
/// and wall times (a phase never ended runs until now from `ready`).
fn phase_runs(
    ctx: &RunContext,
    states: Vec<PhaseState>,
    phases: &[WirePhase],
    ready_at: Option<Instant>,
    stopped_by_signal: bool,
) -> StrategyRun {
    let mut warmup = None;
    let mut measured = None;
    for (st, p) in states.into_iter().zip(phases) {
        let issued = st.issued(p.count, stopped_by_signal);
        let wall = st
            .wall
            .unwrap_or_else(|| ready_at.map_or(Duration::ZERO, |r| r.elapsed()));
        if p.measured {
            measured = Some((st.recorder, issued, wall));
        } else {
            warmup = Some(WarmupRun {
                recorder: st.recorder,
                wall,
                issued,
            });
        }
    }
    let (recorder, issued, wall) = measured.unwrap_or_else(|| (ctx.recorder(), 0, Duration::ZERO));
    StrategyRun {
        warmup,
        recorder,
        wall,
        issued,
        threads: 0,
        adaptive: None,
        external: None,
    }
}

/// Waits up to `limit` for the child to exit, then kills it; its status, if it exited.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}
