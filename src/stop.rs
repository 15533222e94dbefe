//! Stopping a run early, on purpose: the first SIGINT or SIGTERM asks every runner to stop
//! issuing requests, lets those in flight finish or time out for a bounded grace period, and
//! leaves the commands to print and write what was measured (marked incomplete) and exit 130 or
//! 143; a second signal exits at once.
//!
//! The request is one process-wide atomic, read once per request by the runners: a signal is a
//! process-wide event, and only the binary installs the handlers, so library callers (the tests)
//! never see a stop they did not ask for.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long requests in flight may still run after a stop was asked for (or `--timeout`, if
/// shorter): past it the async strategies cancel them and the blocking ones stop waiting for them;
/// either way they are counted as `cancelled`.
pub const GRACE: Duration = Duration::from_secs(5);

/// The signal that stopped the run (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// When it came.
static AT: OnceLock<Instant> = OnceLock::new();
/// Whether the binary installed the handlers: only then may the watchdog stop a run (the stop
/// is process-wide, and a library caller's other runs must not see it).
static HANDLERS: AtomicBool = AtomicBool::new(false);

/// Whether this process stops on signals (the binary), so a process-wide stop is its own to ask.
pub fn handlers_installed() -> bool {
    HANDLERS.load(Ordering::SeqCst)
}

/// Whether requests have started: before, there is nothing to save, and a signal exits at once.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Temporary files to remove when a second signal ends the process at once (no destructor runs
/// then). A path is kept after its file was renamed into place: removing a missing file is
/// harmless, and a run makes only a few.
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary file for removal should a second signal end the process at once.
pub fn remove_on_abort(path: &Path) {
    if let Ok(mut t) = TEMPORARY.lock() {
        t.push(path.to_owned());
    }
}

/// Removes every registered temporary file (the handler's last act before exiting).
fn remove_temporaries() {
    if let Ok(t) = TEMPORARY.lock() {
        for p in t.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Says that the run's requests are starting: from now on the first signal stops the run and
/// keeps what it measured; before, while files are read and the target probed, it exits at once.
pub fn mark_started() {
    STARTED.store(true, Ordering::SeqCst);
}

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

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<Signal> {
    Signal::from_number(SIGNAL.load(Ordering::Relaxed))
}

/// Asks the run to stop as if `s` had been received (the handler's action; tests of the
/// runners use it in a process of their own).
pub fn request(s: Signal) {
    if SIGNAL
        .compare_exchange(0, s.number(), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        let _ = AT.set(Instant::now());
    }
}

/// When requests in flight stop being waited for: the stop's time plus the grace period (at most
/// `timeout`, since no attempt can outlive its own deadline anyway). `None` while no stop was
/// asked for.
pub fn grace_deadline(timeout: Duration) -> Option<Instant> {
    requested()?;
    AT.get()
        .map(|t| *t + GRACE.min(timeout) + Duration::from_millis(50))
}

/// Installs the SIGINT and SIGTERM handlers on a thread of their own. Before [`mark_started`]
/// (reading inputs, probing the target) a signal exits at once with its code; after, the first
/// asks for a stop and says so on stderr, and a second one exits at once.
pub fn install_handlers() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    HANDLERS.store(true, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("signal-handler".into())
        .spawn(move || {
            for n in signals.forever() {
                let Some(s) = Signal::from_number(n) else { continue };
                if !STARTED.load(Ordering::SeqCst) {
                    eprintln!("asyncbench: {} before any request was sent: exiting, nothing written", s.name());
                    std::process::exit(i32::from(s.exit_code()));
                }
                if requested().is_some() {
                    remove_temporaries();
                    eprintln!("asyncbench: second {}: exiting now, nothing more written", s.name());
                    std::process::exit(i32::from(s.exit_code()));
                }
                request(s);
                eprintln!(
                    "asyncbench: {}: no new requests; those in flight get up to {} s to finish, then the results so far are printed and written ({} again to quit at once)",
                    s.name(),
                    GRACE.as_secs(),
                    s.name()
                );
            }
        })?;
    Ok(())
}

/// Sleeps the calling thread for `d`, waking early when a stop is asked for. Returns whether the
/// whole time passed.
pub fn sleep_blocking(d: Duration) -> bool {
    let end = Instant::now() + d;
    loop {
        if requested().is_some() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(POLL));
    }
}

/// Sleeps the task until `t`, waking early when a stop is asked for. Returns whether `t` came.
pub async fn sleep_until_async(t: Instant) -> bool {
    loop {
        if requested().is_some() {
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
pub async fn stopped() {
    while requested().is_none() {
        tokio::time::sleep(POLL).await;
    }
}

/// How often a sleeping runner looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);
