//! Stopping a run early, on purpose: the first SIGINT or SIGTERM asks every runner to stop
//! issuing requests, lets those in flight finish or time out for a bounded grace period, and
//! leaves the commands to print and write what was measured (marked incomplete) and exit 130 or
//! 143; a second signal exits at once.
//!
//! The stop is a value, a [`StopToken`] (after mini-redis's `Shutdown`): each run holds one in its
//! session and context and reads it once per request. The binary hands its token to the signal
//! handlers; a library caller makes its own and may stop its run in-process, and never sees a
//! stop it did not ask for.

use crate::stats::temp::remove_temporaries;

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long requests in flight may still run after a stop was asked for (or `--timeout`, if
/// shorter): past it the async strategies cancel them and the blocking ones stop waiting for them;
/// either way they are counted as `cancelled`.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// Why a run stopped before the end of its workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit code 130.
    Interrupt,
    /// SIGTERM: exit code 143.
    Terminate,
    /// The watchdog found the target dead or frozen (no answer to its probes): exit code 4.
    TargetLost,
}

impl Signal {
    /// The signal's name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::TargetLost => "the target's silence",
        }
    }

    /// The shell's exit code for a process ended by this signal (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
            Signal::TargetLost => 4,
        }
    }

    fn number(self) -> i32 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
            // No signal has this number: the watchdog's own stop.
            Signal::TargetLost => -1,
        }
    }

    fn from_number(n: i32) -> Option<Signal> {
        match n {
            2 => Some(Signal::Interrupt),
            15 => Some(Signal::Terminate),
            -1 => Some(Signal::TargetLost),
            _ => None,
        }
    }
}

/// A run's stop: asked for once (by a signal, the watchdog or a caller), seen by every runner of
/// the run. Cheap to clone: the clones share one state.
#[derive(Debug, Clone, Default)]
pub struct StopToken(Arc<State>);

#[derive(Debug, Default)]
struct State {
    /// The signal that asked for the stop (0: none).
    signal: AtomicI32,
    /// When it came.
    at: OnceLock<Instant>,
    /// Whether requests have started: before, there is nothing to save, and a signal exits at
    /// once.
    started: AtomicBool,
    /// Whether the signal handlers answer to this token: only then may the watchdog stop the run
    /// (its probes are the binary's, and a library caller's target must not see them).
    signals: AtomicBool,
    /// The live view's board while one runs: it says what a first signal does (then the
    /// handler does not print it over the view), and prints the lines said meanwhile (see
    /// [`StopToken::say`]).
    view: std::sync::Mutex<Option<Arc<crate::stats::live::Board>>>,
    /// Whether the command reads and writes files only (plot, merge, diff): a signal's line
    /// then speaks of no request.
    files_only: AtomicBool,
}

impl StopToken {
    /// A token no one has asked to stop.
    pub fn new() -> StopToken {
        StopToken::default()
    }

    /// Marks the command as one that sends no request (plot, merge, diff).
    pub fn set_files_only(&self) {
        self.0.files_only.store(true, Ordering::SeqCst);
    }

    /// While a live view draws `board`, it tells what a first signal does (the handler stays
    /// silent) and prints the lines said; `None` when it has stopped.
    pub fn set_view(&self, board: Option<Arc<crate::stats::live::Board>>) {
        *self
            .0
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = board;
    }

    /// Whether a live view is drawn.
    fn viewed(&self) -> bool {
        self.0
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some()
    }

    /// A line for stderr about the run (a target that stopped answering, a client that
    /// failed): to the live view when one is drawn (its panel prints it once cleared, as a
    /// line printed under it would break it), else to stderr at once.
    pub fn say(&self, line: String) {
        match &*self
            .0
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(board) => board.say(line),
            None => eprintln!("{line}"),
        }
    }

    /// The process is about to leave without its run's end: the live view leaves its last
    /// frame and the cursor under it (a line printed where the cursor was cut through its rows),
    /// and the lines said to it that it has not printed yet are printed.
    fn say_held(&self) {
        let board = self
            .0
            .view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for line in board.iter().flat_map(|b| b.close(Duration::from_millis(500))) {
            eprintln!("{line}");
        }
    }

    /// What a first signal does, in one line: the live view shows it in place of the handler.
    pub fn notice(s: Signal) -> String {
        // Within the panel's 120 columns.
        format!(
            "{}: no new requests; up to {} s for those in flight, then what was measured is printed ({} again: quit now)",
            s.name(),
            GRACE.as_secs(),
            s.name()
        )
    }

    /// Asks the run to stop as if `s` had been received; the first request wins.
    pub fn request(&self, s: Signal) {
        if self
            .0
            .signal
            .compare_exchange(0, s.number(), Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            let _ = self.0.at.set(Instant::now());
        }
    }

    /// The signal that asked the run to stop, if one did.
    pub(crate) fn requested(&self) -> Option<Signal> {
        Signal::from_number(self.0.signal.load(Ordering::Relaxed))
    }

    /// Says that the run's requests are starting: from now on the first signal stops the run and
    /// keeps what it measured; before, while files are read and the target probed, it exits at
    /// once.
    pub(crate) fn mark_started(&self) {
        self.0.started.store(true, Ordering::SeqCst);
    }

    /// Whether the signal handlers answer to this token (the binary's run).
    pub(crate) fn answers_signals(&self) -> bool {
        self.0.signals.load(Ordering::SeqCst)
    }

    /// When requests in flight stop being waited for: the stop's time plus the grace period (at
    /// most `timeout`, since no attempt can outlive its own deadline anyway). `None` while no
    /// stop was asked for.
    pub(crate) fn grace_deadline(&self, timeout: Duration) -> Option<Instant> {
        self.requested()?;
        self.0
            .at
            .get()
            .map(|t| *t + GRACE.min(timeout) + Duration::from_millis(50))
    }

    /// Sleeps the calling thread for `d`, waking early when a stop is asked for. Returns whether
    /// the whole time passed.
    pub(crate) fn sleep_blocking(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.requested().is_some() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            std::thread::sleep((end - now).min(POLL));
        }
    }

    /// Sleeps the task until `t`, waking early when a stop is asked for. Returns whether `t`
    /// came.
    pub(crate) async fn sleep_until(&self, t: Instant) -> bool {
        loop {
            if self.requested().is_some() {
                return false;
            }
            let now = Instant::now();
            if now >= t {
                return true;
            }
            tokio::time::sleep((t - now).min(POLL)).await;
        }
    }

    /// Resolves once a stop has been asked for (polled, so it costs nothing until then).
    pub async fn stopped(&self) {
        while self.requested().is_none() {
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers on a thread of their own, answering to `stop`. Before
/// `StopToken::mark_started` (reading inputs, probing the target) a signal exits at once with
/// its code; after, the first asks for a stop and says so on stderr, and a second one exits at
/// once.
pub fn install_handlers(stop: &StopToken) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    stop.0.signals.store(true, Ordering::SeqCst);
    let stop = stop.clone();
    std::thread::Builder::new()
        .name("signal-handler".into())
        .spawn(move || {
            for n in signals.forever() {
                let Some(s) = Signal::from_number(n) else { continue };
                if !stop.0.started.load(Ordering::SeqCst) {
                    // A chart or a merged report may be half-written: its temporary goes.
                    remove_temporaries();
                    if stop.0.files_only.load(Ordering::SeqCst) {
                        eprintln!("asyncbench: {}: exiting, no file left half-written", s.name());
                    } else {
                        eprintln!(
                            "asyncbench: {} before any request was sent: exiting, nothing written",
                            s.name()
                        );
                    }
                    std::process::exit(i32::from(s.exit_code()));
                }
                if stop.requested().is_some() {
                    remove_temporaries();
                    // What the live view held for after its panel (a frozen target's probes, a
                    // client's failure) is said now or never.
                    stop.say_held();
                    show_cursor();
                    eprintln!(
                        "asyncbench: second {}: exiting now, nothing more written",
                        s.name()
                    );
                    std::process::exit(i32::from(s.exit_code()));
                }
                stop.request(s);
                if !stop.viewed() {
                    eprintln!("asyncbench: {}", StopToken::notice(s));
                }
            }
        })?;
    Ok(())
}

/// The live panel hides a terminal's cursor while it draws and shows it again when it is done;
/// a process leaving mid-frame (or a panel that failed mid-frame) shows it first, so the shell
/// is not left without one.
pub(crate) fn show_cursor() {
    use std::io::{IsTerminal, Write};
    let mut out = std::io::stdout();
    if out.is_terminal() {
        let _ = out.write_all(b"\x1b[?25h\n");
        let _ = out.flush();
    }
}

/// How often a sleeping runner looks at the stop.
const POLL: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;

    /// A token stops only its own run: clones share the stop, a new token does not see it, the
    /// first signal wins, and sleeps end early once it is asked for.
    #[test]
    fn a_stop_reaches_its_clones_and_no_other_token() {
        // Arrange
        let a = StopToken::new();
        let clone = a.clone();
        let other = StopToken::new();
        assert!(a.sleep_blocking(Duration::from_millis(1)));
        // Act
        clone.request(Signal::Terminate);
        a.request(Signal::Interrupt);
        // Assert
        assert_eq!(a.requested(), Some(Signal::Terminate));
        assert_eq!(other.requested(), None);
        assert!(
            !a.sleep_blocking(Duration::from_secs(60)),
            "a stopped token does not sleep"
        );
        assert!(a.grace_deadline(Duration::from_secs(60)).is_some());
        assert!(other.grace_deadline(Duration::from_secs(60)).is_none());
    }
}
