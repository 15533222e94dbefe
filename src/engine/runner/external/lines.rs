//! An external client's output as it comes: each line checked against the protocol, turned
//! into a record and recorded on the thread that reads it; what each phase was expected to
//! report, and the tail of the client's stderr.

use std::io::{BufRead, BufReader, Read};
use std::process::ChildStdout;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::STDERR_TAIL;
use crate::engine::external::protocol;
use crate::engine::external::protocol::{Line, MAX_LINE, Phase as WirePhase};
use crate::engine::runner::RunContext;
use crate::model::plan::MAX_PHASE_REQUESTS;
use crate::stats::recorder::Recorder;

/// The client's lines as they come: checked, turned into records, recorded. It runs on the
/// thread that reads them, so a line costs a parse and a record, not a hand-off.
pub(super) struct Lines<'a> {
    pub(super) ctx: &'a RunContext,
    pub(super) clock: protocol::Clock,
    pub(super) pid: u32,
    pub(super) expected: Expected,
    /// One per phase of the workload, in its order.
    pub(super) states: Vec<PhaseState>,
    pub(super) ready_at: Option<Instant>,
    pub(super) startup_cpu_s: f64,
    /// Until when (ns after the client's spawn) the client may stay silent for a wait it
    /// said (a `wait` line): the watcher counts its silence from there.
    pub(super) quiet_until: std::sync::Arc<AtomicU64>,
    /// When the client was spawned.
    pub(super) spawned: Instant,
}

impl Lines<'_> {
    /// Reads the client's stdout to its end, a line (at most [`MAX_LINE`] bytes) at a time; the
    /// first line that breaks the protocol ends it, as a failure. When it has read all there
    /// was, it pauses (see [`read_pause`]), so a client writing a line at a time wakes it ten
    /// times a second, not once a line: the pipe holds what comes meanwhile, far more than any
    /// client writes in that time, so the client never waits on it.
    pub(super) fn read(
        &mut self,
        stdout: ChildStdout,
        pause: Duration,
        spawned: Instant,
        last_line: &AtomicU64,
        ready: &AtomicBool,
    ) -> Option<String> {
        let mut r = BufReader::with_capacity(256 << 10, stdout);
        let mut buf = Vec::with_capacity(1024);
        let mut n = 0;
        loop {
            if r.buffer().is_empty() {
                std::thread::sleep(pause);
            }
            buf.clear();
            n += 1;
            match (&mut r).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(_) if buf.len() > MAX_LINE => {
                    return Some(format!(
                        "it broke the protocol: {}",
                        protocol::ProtocolError::TooLong { line: n }
                    ));
                }
                Ok(_) => {}
            }
            let read = Instant::now();
            last_line.store(read.duration_since(spawned).as_nanos() as u64, Ordering::SeqCst);
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = match protocol::parse(n, &buf) {
                Ok(l) => l,
                Err(e) => return Some(format!("it broke the protocol: {e}")),
            };
            if matches!(line, Line::Ready) {
                ready.store(true, Ordering::SeqCst);
            }
            if let Err(why) = self.line(n, line, read) {
                return Some(why);
            }
        }
    }

    /// One parsed line, read at `read`: a request's harness part counts from there (the
    /// client's own write and the pipe are not the measurement's: its times are its own).
    pub(super) fn line(&mut self, n: u64, line: Line, read: Instant) -> Result<(), String> {
        match line {
            Line::Ready => {
                if self.ready_at.is_none() {
                    self.ready_at = Some(Instant::now());
                    if self.states.first().is_some_and(|s| s.measured) {
                        self.ctx.live.begin();
                    }
                    self.startup_cpu_s = crate::engine::resources::process_cpu_s(self.pid).unwrap_or(0.0);
                }
            }
            Line::Error { message } => {
                return Err(format!(
                    "it cannot run this workload: {}",
                    crate::model::outcome::truncate(&message, 300)
                ));
            }
            Line::Wait {
                index,
                seconds,
                retry_after,
            } => {
                if self.expected.place(index).is_none() {
                    return Err(format!(
                        "it broke the protocol: line {n}: a wait for request {index}, which is not in the workload"
                    ));
                }
                // A wait the policy does not allow (a client that says a wait of years, then
                // nothing) would extend the silence allowed without bound: refused, with a
                // second's slack for the client's rounding.
                let longest = self.ctx.cfg.retry.longest_wait();
                if seconds > longest.as_secs_f64() + 1.0 {
                    return Err(format!(
                        "it broke the protocol: line {n}: a wait of {seconds} s for request {index}, past the longest the {} policy allows ({} s)",
                        self.ctx.cfg.retry.name,
                        longest.as_secs_f64()
                    ));
                }
                let wait = Duration::from_secs_f64(seconds);
                let until = (read + wait).saturating_duration_since(self.spawned).as_nanos() as u64;
                self.quiet_until.fetch_max(until, Ordering::SeqCst);
                if wait >= crate::engine::runner::LONG_WAIT {
                    self.ctx.live.say(crate::engine::runner::long_wait(
                        wait,
                        retry_after,
                        &self.ctx.cfg.retry.name,
                    ));
                }
            }
            Line::Phase(p) => {
                let state = self
                    .states
                    .get_mut(p.phase)
                    .ok_or_else(|| format!("it broke the protocol: line {n}: no phase {}", p.phase))?;
                state.issued = Some(p.issued);
                state.wall = Some(Duration::from_nanos(p.end_ns.saturating_sub(p.start_ns)));
                if !state.measured {
                    // The warm-up's end: the measured phase begins.
                    self.ctx.live.begin();
                }
            }
            Line::Request(r) => {
                let p = self
                    .expected
                    .report(r.index)
                    .map_err(|why| format!("it broke the protocol: line {n}: request {} {why}", r.index))?;
                let record = protocol::record(n, &r, &self.clock, &self.ctx.req)
                    .map_err(|e| format!("it broke the protocol: {e}"))?;
                let state = &mut self.states[p];
                state.recorder.record_read_at(&record, read);
                if state.measured {
                    // The client reports ends only: each line is the start and end of one.
                    self.ctx.live.started();
                    self.ctx.live.finished(&record);
                }
            }
        }
        Ok(())
    }
}

/// Keeps the last [`STDERR_TAIL`] bytes of the client's stderr.
pub(super) fn read_tail(mut stderr: impl Read) -> Vec<u8> {
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

/// The requests of the workload reported so far, a bit per request of each phase: what a
/// failure leaves unaccounted, and a second report of one request.
pub(super) struct Expected {
    /// (first, stride, count) of each phase.
    pub(super) phases: Vec<(u64, u64, u64)>,
    /// Per phase, bit `i` set when its `i`-th request was reported (grown as they come).
    pub(super) seen: Vec<Vec<u64>>,
}

impl Expected {
    pub(super) fn new(phases: &[WirePhase]) -> Expected {
        Expected {
            phases: phases.iter().map(|p| (p.first, p.stride, p.count)).collect(),
            seen: vec![Vec::new(); phases.len()],
        }
    }

    /// The phase of `index` and its position there, when it belongs to the workload.
    pub(super) fn place(&self, index: u64) -> Option<(usize, u64)> {
        self.phases
            .iter()
            .enumerate()
            .find_map(|(p, &(first, stride, count))| {
                let stride = stride.max(1);
                let off = index.checked_sub(first)?;
                let i = off / stride;
                (off.is_multiple_of(stride) && i < count && i < MAX_PHASE_REQUESTS).then_some((p, i))
            })
    }

    /// Marks `index` reported, and says which phase it is of: `Err` when it is not in the
    /// workload or was reported before.
    pub(super) fn report(&mut self, index: u64) -> Result<usize, &'static str> {
        let (p, i) = self.place(index).ok_or("is not in the workload")?;
        let words = &mut self.seen[p];
        let (w, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if words.len() <= w {
            words.resize(w + 1, 0);
        }
        if words[w] & bit != 0 {
            return Err("was reported twice");
        }
        words[w] |= bit;
        Ok(p)
    }

    pub(super) fn reported(&self, p: usize, i: u64) -> bool {
        self.seen[p]
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Up to `n` indexes of phase `p`'s first `issued` never reported, and how many there are.
    pub(super) fn missing(&self, p: usize, issued: u64, n: usize) -> (Vec<u64>, u64) {
        let Some(&(first, stride, count)) = self.phases.get(p) else {
            return (Vec::new(), 0);
        };
        let mut shown = Vec::new();
        let mut total = 0;
        for i in 0..count.min(issued).min(MAX_PHASE_REQUESTS) {
            if !self.reported(p, i) {
                total += 1;
                if shown.len() < n {
                    shown.push(first + i * stride);
                }
            }
        }
        (shown, total)
    }
}

/// One phase's bookkeeping while its lines come in.
pub(super) struct PhaseState {
    /// The measured phase (else the warm-up).
    pub(super) measured: bool,
    pub(super) recorder: Recorder,
    /// The client's own count, from its phase line.
    pub(super) issued: Option<u64>,
    /// Start → end, from its phase line.
    pub(super) wall: Option<Duration>,
}

impl PhaseState {
    /// A phase not begun: its recorder (a warm-up's records go to the warm-up's).
    pub(super) fn new(ctx: &RunContext, measured: bool) -> PhaseState {
        PhaseState {
            measured,
            recorder: if measured {
                ctx.recorder()
            } else {
                ctx.warmup_recorder()
            },
            issued: None,
            wall: None,
        }
    }

    /// Requests the phase issued: the client's own count when it reported the phase's end.
    /// Else, after a signal (the rest was cut short with it), those it reported; after a
    /// failure, what it was asked, so that the books show every request it did not report.
    pub(super) fn issued(&self, asked: u64, stopped_by_signal: bool) -> u64 {
        match self.issued {
            Some(n) => n,
            None if stopped_by_signal => self.recorder.total(),
            None => asked,
        }
    }
}
