//! External clients as a strategy: start the program, hand it the workload, read its lines into
//! the same recorder the built-in strategies use, and watch it. A client that dies, hangs, writes
//! a line that breaks the protocol or loses requests ends the strategy loudly: the client is
//! killed, every request it did report is kept, and those it did not are named.
//!
//! Its cost is measured from outside: CPU from the kernel's account of reaped children
//! (`getrusage(RUSAGE_CHILDREN)` before and after), peak memory and threads by sampling
//! `/proc/<pid>/status`; the harness's own CPU (reading and recording the lines) apart.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::Strategy;
use crate::error::RunError;
use crate::external::protocol::{self, Line, MAX_LINE, Phase as WirePhase};
use crate::metrics::Recorder;
use crate::runner::{RunContext, StrategyRun, WARMUP_BASE, WarmupRun};

/// How long a client may take to start (imports, building its client) before it is called hung.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// Bytes of the client's stderr kept to show when it fails.
const STDERR_TAIL: usize = 4096;

/// What an external client cost, measured from outside it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalCost {
    /// The client's CPU, user + system seconds (its whole life: start-up included).
    pub cpu_s: f64,
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
}

/// The command line of a strategy's client.
fn command_for(ctx: &RunContext, scripts: Option<&tempfile::TempDir>) -> Result<(Command, String), RunError> {
    match ctx.strategy {
        Strategy::Python(p) => {
            let python = crate::external::python::interpreter(ctx.cfg.external.python.as_deref());
            let dir = scripts.ok_or_else(|| RunError::Setup {
                what: "Python client scripts",
                why: "no directory".into(),
            })?;
            let script = dir.path().join(p.script());
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
                    why: "no --client-cmd".into(),
                })?;
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(format!("exec {}", cmd.command));
            Ok((c, cmd.command.clone()))
        }
        s => Err(RunError::Setup {
            what: "external client",
            why: format!("{s} is not an external client"),
        }),
    }
}

/// The workload's phases (warm-up, then measured), as the protocol writes them.
fn wire_phases(ctx: &RunContext) -> Vec<WirePhase> {
    let (warmup, main) = ctx.phases();
    let mut out = Vec::new();
    for (p, measured) in [(warmup, false), (Some(main), true)] {
        let Some(p) = p else { continue };
        out.push(WirePhase {
            measured,
            first: p.base + p.offset,
            stride: p.stride,
            count: p.count,
            limit_s: p.limit.map(|l| l.as_secs_f64()),
            schedule_s: (measured && p.scheduled)
                .then(|| {
                    ctx.schedule
                        .as_ref()
                        .map(|s| s.iter().map(Duration::as_secs_f64).collect())
                })
                .flatten(),
        });
    }
    out
}

/// What the reader thread passes on.
enum Event {
    Line(u64, Result<Line, protocol::ProtocolError>),
    /// Stdout closed (the client exited or closed it).
    Eof,
}

/// Reads the client's stdout, a line at a time, each at most [`MAX_LINE`] bytes.
fn read_lines(stdout: ChildStdout, tx: mpsc::Sender<Event>) {
    let mut r = BufReader::with_capacity(64 << 10, stdout);
    let mut buf = Vec::with_capacity(1024);
    let mut n = 0;
    loop {
        buf.clear();
        n += 1;
        let got = (&mut r).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf);
        match got {
            Ok(0) | Err(_) => {
                let _ = tx.send(Event::Eof);
                return;
            }
            Ok(_) if buf.len() > MAX_LINE => {
                let _ = tx.send(Event::Line(n, Err(protocol::ProtocolError::TooLong { line: n })));
                return;
            }
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                if text.trim().is_empty() {
                    continue;
                }
                if tx.send(Event::Line(n, protocol::parse(n, &text))).is_err() {
                    return;
                }
            }
        }
    }
}

/// Keeps the last [`STDERR_TAIL`] bytes of the client's stderr.
fn read_tail(mut stderr: impl Read) -> Vec<u8> {
    let mut tail = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    tail
}

/// CPU seconds of this process's reaped children so far.
fn children_cpu_s() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

/// `VmHWM` (peak RSS, bytes) and `Threads` of a process, from `/proc/<pid>/status`.
fn proc_status(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((
        field("VmHWM:").unwrap_or(0) * 1024,
        field("Threads:").unwrap_or(0),
    ))
}

/// The requests of the workload not yet reported, by phase: what a failure leaves unaccounted.
struct Expected {
    /// (first, stride, count) of each phase.
    phases: Vec<(u64, u64, u64)>,
    seen: HashSet<u64>,
}

impl Expected {
    fn new(phases: &[WirePhase]) -> Expected {
        Expected {
            phases: phases.iter().map(|p| (p.first, p.stride, p.count)).collect(),
            seen: HashSet::new(),
        }
    }

    /// Whether `index` belongs to the workload.
    fn contains(&self, index: u64) -> bool {
        self.phases.iter().any(|&(first, stride, count)| {
            index >= first
                && (index - first).is_multiple_of(stride.max(1))
                && (index - first) / stride.max(1) < count
        })
    }

    /// Up to `n` indexes of phase `p` never reported, and how many there are in all.
    fn missing(&self, p: usize, issued: u64, n: usize) -> (Vec<u64>, u64) {
        let Some(&(first, stride, count)) = self.phases.get(p) else {
            return (Vec::new(), 0);
        };
        let mut shown = Vec::new();
        let mut total = 0;
        for i in 0..count.min(issued) {
            let index = first + i * stride;
            if !self.seen.contains(&index) {
                total += 1;
                if shown.len() < n {
                    shown.push(index);
                }
            }
        }
        (shown, total)
    }
}

/// One phase's bookkeeping while its lines come in.
struct PhaseState {
    recorder: Recorder,
    /// The client's own count, from its phase line.
    issued: Option<u64>,
    /// Start → end, from its phase line.
    wall: Option<Duration>,
    recorded: u64,
}

/// Runs an external client through the workload.
pub fn run_external(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let scripts = match ctx.strategy {
        Strategy::Python(_) => {
            let dir = tempfile::Builder::new()
                .prefix("asyncbench-py-")
                .tempdir()
                .map_err(|e| RunError::Setup {
                    what: "Python client scripts",
                    why: e.to_string(),
                })?;
            crate::external::python::materialize(dir.path()).map_err(|e| RunError::Setup {
                what: "Python client scripts",
                why: e.to_string(),
            })?;
            Some(dir)
        }
        _ => None,
    };
    let (mut command, shown) = command_for(ctx, scripts.as_ref())?;
    let phases = wire_phases(ctx);
    let concurrency = if ctx.cfg.concurrency == 0 {
        0
    } else {
        ctx.cfg.effective_concurrency(ctx.strategy)
    };
    let workload = protocol::workload(
        ctx.strategy.id(),
        &ctx.req,
        concurrency,
        ctx.cfg.timeout,
        &ctx.cfg.retry,
        phases.clone(),
    );
    let mut message = serde_json::to_vec(&workload).map_err(|e| RunError::Setup {
        what: "external client workload",
        why: e.to_string(),
    })?;
    message.push(b'\n');
    let per_request = workload.retry.worst_case(ctx.cfg.timeout);
    let longest_gap = ctx.schedule.as_ref().map_or(Duration::ZERO, |s| {
        s.windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .max()
            .unwrap_or(Duration::ZERO)
            + s.first().copied().unwrap_or_default()
    });
    // No line for this long while requests are outstanding: the client is hung.
    let quiet_limit = per_request + longest_gap + Duration::from_secs(5);

    let cpu_before = children_cpu_s();
    let spawned = Instant::now();
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("ASYNCBENCH_PROTOCOL", protocol::VERSION.to_string())
        .spawn()
        .map_err(|e| {
            RunError::Config(crate::error::ConfigError::External {
                why: format!("cannot start the client {} ({shown}): {e}", ctx.strategy),
            })
        })?;
    let pid = child.id();
    // The workload goes in on a thread of its own: a client that does not read it must not
    // block the harness.
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
            why: e.to_string(),
        })?;
    let stderr = child.stderr.take();
    let err_reader = std::thread::Builder::new()
        .name("client-stderr".into())
        .spawn(move || stderr.map(read_tail).unwrap_or_default())
        .map_err(|e| RunError::Setup {
            what: "client stderr thread",
            why: e.to_string(),
        })?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    let reader = std::thread::Builder::new()
        .name("client-stdout".into())
        .spawn(move || {
            if let Some(out) = stdout {
                read_lines(out, tx);
            }
        })
        .map_err(|e| RunError::Setup {
            what: "client reader thread",
            why: e.to_string(),
        })?;

    let clock = protocol::Clock::new(spawned);
    let mut expected = Expected::new(&phases);
    let mut states: Vec<PhaseState> = phases
        .iter()
        .map(|p| PhaseState {
            recorder: if p.measured {
                ctx.recorder()
            } else {
                ctx.warmup_recorder()
            },
            issued: None,
            wall: None,
            recorded: 0,
        })
        .collect();
    let warm_idx = phases.iter().position(|p| !p.measured);
    let main_idx = phases.iter().position(|p| p.measured);
    let mut ready_at: Option<Instant> = None;
    let mut last_line = Instant::now();
    let mut peak = (0u64, 0u64);
    let mut next_sample = Instant::now();
    let mut failure: Option<String> = None;
    let mut stopped_by_signal = false;
    loop {
        if Instant::now() >= next_sample {
            if let Some((rss, threads)) = proc_status(pid) {
                peak = (peak.0.max(rss), peak.1.max(threads));
            }
            next_sample = Instant::now() + Duration::from_millis(20);
        }
        if crate::stop::requested().is_some() && !stopped_by_signal {
            // Stop: the client is told by SIGTERM, and given the grace period to report.
            stopped_by_signal = true;
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if stopped_by_signal && ctx.grace_deadline().is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let event = match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(e) => e,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let limit = if ready_at.is_some() {
                    quiet_limit
                } else {
                    STARTUP_LIMIT
                };
                if last_line.elapsed() > limit && !stopped_by_signal {
                    failure = Some(format!(
                        "it wrote nothing for {:.0} s with requests outstanding (hung); killed",
                        limit.as_secs_f64()
                    ));
                    break;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        last_line = Instant::now();
        let (n, line) = match event {
            Event::Eof => break,
            Event::Line(n, l) => (n, l),
        };
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                failure = Some(format!("it broke the protocol: {e}"));
                break;
            }
        };
        match line {
            Line::Ready => {
                ready_at.get_or_insert_with(Instant::now);
            }
            Line::Error { message } => {
                failure = Some(format!(
                    "it cannot run this workload: {}",
                    crate::error::truncate(&message, 300)
                ));
                break;
            }
            Line::Phase(p) => {
                let Some(state) = states.get_mut(p.phase) else {
                    failure = Some(format!("it broke the protocol: line {n}: no phase {}", p.phase));
                    break;
                };
                state.issued = Some(p.issued);
                state.wall = Some(Duration::from_nanos(p.end_ns.saturating_sub(p.start_ns)));
            }
            Line::Request(r) => {
                if !expected.contains(r.index) {
                    failure = Some(format!(
                        "it broke the protocol: line {n}: request {} is not in the workload",
                        r.index
                    ));
                    break;
                }
                if !expected.seen.insert(r.index) {
                    failure = Some(format!(
                        "it broke the protocol: line {n}: request {} reported twice",
                        r.index
                    ));
                    break;
                }
                let record = match protocol::record(n, &r, &clock, &ctx.req) {
                    Ok(rec) => rec,
                    Err(e) => {
                        failure = Some(format!("it broke the protocol: {e}"));
                        break;
                    }
                };
                let p = if r.index >= WARMUP_BASE {
                    warm_idx
                } else {
                    main_idx
                };
                let Some(state) = p.and_then(|p| states.get_mut(p)) else {
                    failure = Some(format!(
                        "it broke the protocol: line {n}: request {} is in no phase",
                        r.index
                    ));
                    break;
                };
                state.recorder.record(&record);
                state.recorded += 1;
                if r.index < WARMUP_BASE {
                    ctx.progress.set_position(state.recorded);
                }
            }
        }
    }
    // Whatever happened, the client is done now: a failed one is killed, a finished one reaped.
    if failure.is_some() || stopped_by_signal {
        let _ = child.kill();
    }
    let status = wait_bounded(&mut child, Duration::from_secs(5));
    let cpu_s = (children_cpu_s() - cpu_before).max(0.0);
    let _ = writer.join();
    let _ = reader.join();
    let tail = err_reader.join().unwrap_or_default();
    drop(scripts);

    // A client that exited before reporting everything, or exited with an error.
    if failure.is_none() && !stopped_by_signal {
        let short: Vec<usize> = (0..phases.len())
            .filter(|&i| states[i].issued.is_none())
            .collect();
        match &status {
            Some(s) if !s.success() => {
                failure = Some(format!("it exited with {s}"));
            }
            None => failure = Some("it did not exit after closing its output; killed".into()),
            Some(_) if !short.is_empty() => {
                failure = Some("it exited before reporting the end of every phase".into());
            }
            Some(_) => {}
        }
    }
    // Requests the client said it issued but never reported.
    let mut lost = Vec::new();
    for (i, st) in states.iter().enumerate().filter(|_| !stopped_by_signal) {
        let issued = st.issued.unwrap_or(phases[i].count);
        let (shown, total) = expected.missing(i, issued, 10);
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
    if !lost.is_empty() && failure.is_none() && !stopped_by_signal {
        failure = Some(format!("it lost requests: {}", lost.join("; ")));
    } else if let Some(f) = failure.as_mut()
        && !lost.is_empty()
    {
        f.push_str(&format!("; {}", lost.join("; ")));
    }
    let stderr_tail = failure
        .is_some()
        .then(|| String::from_utf8_lossy(&tail).trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| ctx.req.redact(&t));
    let startup_s = ready_at.map_or(0.0, |r| r.duration_since(spawned).as_secs_f64());
    let phase_run = |st: PhaseState, p: &WirePhase| -> (Recorder, u64, Duration) {
        // The client's own count when it reported the phase's end. Else: after a signal, what it
        // reported (the rest was cut short with it); after a failure, what it was asked, so the
        // books show every request it did not report.
        let issued = match (st.issued, stopped_by_signal) {
            (Some(n), _) => n,
            (None, true) => st.recorded,
            (None, false) => p.count,
        };
        let wall = st
            .wall
            .unwrap_or_else(|| ready_at.map_or(Duration::ZERO, |r| r.elapsed()));
        (st.recorder, issued, wall)
    };
    let mut warmup = None;
    let mut measured = None;
    for (st, p) in states.into_iter().zip(&phases) {
        let (recorder, issued, wall) = phase_run(st, p);
        if p.measured {
            measured = Some((recorder, issued, wall));
        } else {
            warmup = Some(WarmupRun {
                recorder,
                wall,
                issued,
            });
        }
    }
    let (recorder, issued, wall) = measured.unwrap_or_else(|| (ctx.recorder(), 0, Duration::ZERO));
    Ok(StrategyRun {
        warmup,
        recorder,
        wall,
        issued,
        threads: peak.1,
        adaptive: None,
        external: Some(ExternalCost {
            cpu_s,
            rss_bytes: peak.0,
            threads: peak.1,
            startup_s,
            failure,
            command: shown,
            stderr_tail,
        }),
    })
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
