//! Client cost: CPU seconds (kernel CPU clocks), peak resident memory and threads (`/proc/self`,
//! Linux).
//!
//! When the mock runs in the same process, its threads (all named `mock-server…`) are measured
//! separately and their CPU is subtracted, as is the sampler's own, so `cpu_s` is the client's. Memory and the thread
//! count cannot be split that way: they are the process's, mock included (run the mock as a
//! separate process with `--target` for a clean figure). Elsewhere than Linux the figures are 0.

use crate::model::report::Peaks;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// CPU time used so far by the whole process and by the mock's threads, in seconds, from the
/// kernel's nanosecond clocks (not the 10 ms ticks of `/proc/self/stat`, which round a short
/// run's CPU to 0.00–0.03 s).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// User + system seconds of every thread of the process, living and dead
    /// (`CLOCK_PROCESS_CPUTIME_ID`).
    pub process: f64,
    /// Seconds on CPU of the threads named `mock-server…` (`/proc/self/task/*/schedstat`).
    pub mock: f64,
}

/// CPU seconds of process `pid` so far (its `/proc/<pid>/stat`, 10 ms ticks; threads that
/// ended included), or `None` when it cannot be read.
pub(crate) fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_ticks(&stat).map(|(u, s)| (u + s) as f64 / USER_HZ)
}

/// Fields 14 and 15 (utime, stime) of a `/proc/.../stat` line, in ticks.
fn stat_ticks(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    // `rest` starts at field 3 (state); utime is field 14.
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// Seconds on CPU of one thread's `/proc` directory: `schedstat`'s first field (nanoseconds),
/// else `stat`'s ticks.
fn thread_cpu_s(dir: &std::path::Path) -> f64 {
    if let Some(ns) = fs::read_to_string(dir.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return ns as f64 / 1e9;
    }
    fs::read_to_string(dir.join("stat"))
        .ok()
        .as_deref()
        .and_then(stat_ticks)
        .map_or(0.0, |(u, s)| (u + s) as f64 / USER_HZ)
}

/// Clock ticks per second of `/proc` times. Linux fixes USER_HZ at 100 for this interface on
/// every architecture, whatever the kernel's internal HZ.
const USER_HZ: f64 = 100.0;

fn clock_s(id: rustix::time::ClockId) -> f64 {
    let t = rustix::time::clock_gettime(id);
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

impl CpuTimes {
    /// Reads the times now.
    pub fn now() -> CpuTimes {
        let process = clock_s(rustix::time::ClockId::ProcessCPUTime);
        let mut mock = 0.0;
        if let Ok(tasks) = fs::read_dir("/proc/self/task") {
            for t in tasks.flatten() {
                let path = t.path();
                if fs::read_to_string(path.join("comm")).is_ok_and(|c| c.starts_with("mock-server")) {
                    mock += thread_cpu_s(&path);
                }
            }
        }
        CpuTimes { process, mock }
    }

    /// The client's share of the CPU used between `self` and `later`: process − mock.
    pub fn client_seconds(&self, later: &CpuTimes) -> f64 {
        ((later.process - self.process) - (later.mock - self.mock)).max(0.0)
    }
}

/// `/proc/self/status`, opened once and read again from its start at every sample: one `pread`
/// a sample, where `fs::read_to_string` made an open, a stat, a handful of reads growing its
/// buffer and a close (most of the system calls asyncbench makes and oha does not).
struct StatusFile {
    file: Option<fs::File>,
    buf: Vec<u8>,
}

impl StatusFile {
    /// The file's text is about 1.5 KiB; what a longer one puts past 8 KiB is not read.
    const BUF: usize = 8192;

    fn open() -> StatusFile {
        StatusFile {
            file: fs::File::open("/proc/self/status").ok(),
            buf: vec![0; Self::BUF],
        }
    }

    /// `VmRSS` (bytes) and `Threads` now; zeros when the file cannot be read.
    fn rss_and_threads(&mut self) -> (u64, u64) {
        self.read(parse_status).unwrap_or_default()
    }

    /// `VmHWM` (bytes): the most the process held since it started or [`reset_peak_rss`].
    fn peak_rss(&mut self) -> u64 {
        self.read(|text| status_field(text, "VmHWM:") * 1024).unwrap_or(0)
    }

    fn read<T>(&mut self, parse: impl FnOnce(&str) -> T) -> Option<T> {
        use std::os::unix::fs::FileExt;
        let n = self.file.as_ref()?.read_at(&mut self.buf, 0).ok()?;
        Some(parse(&String::from_utf8_lossy(&self.buf[..n])))
    }
}

/// Resets the kernel's count of this process's peak RSS (`VmHWM`) to what it holds now
/// (`/proc/self/clear_refs`, Linux 4.0 on); whether it could.
fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A number field of a `/proc/.../status` text (`VmRSS:`, `Threads:`, …), its `kB` dropped; 0
/// when it is missing.
fn status_field(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// `VmRSS` (bytes) and `Threads` from the text of `/proc/self/status`.
fn parse_status(status: &str) -> (u64, u64) {
    (
        status_field(status, "VmRSS:") * 1024,
        status_field(status, "Threads:"),
    )
}

/// Samples another process's peak memory (`VmHWM`) and threads from `/proc/<pid>/status`
/// every 20 ms, on a thread of its own: an external client, measured from outside.
#[derive(Debug)]
pub(crate) struct ChildSampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(u64, u64)>>,
}

impl ChildSampler {
    /// Starts sampling process `pid`.
    pub(crate) fn start(pid: u32) -> ChildSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("client-sampler".into())
            .spawn(move || {
                let path = format!("/proc/{pid}/status");
                let mut peak = (0u64, 0u64);
                loop {
                    if let Ok(text) = fs::read_to_string(&path) {
                        let rss = status_field(&text, "VmHWM:") * 1024;
                        let threads = status_field(&text, "Threads:");
                        peak = (peak.0.max(rss), peak.1.max(threads));
                    }
                    if flag.load(Ordering::Relaxed) {
                        return peak;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
            .ok();
        ChildSampler { stop, handle }
    }

    /// Stops; (peak RSS bytes, most threads at once).
    pub(crate) fn stop(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default()
    }
}

/// Threads of this process whose name starts with `prefix` (a thread's name is its `comm`, cut
/// at 15 bytes).
fn threads_named(prefix: &str) -> u64 {
    let Ok(tasks) = fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with(prefix)))
        .count() as u64
}

/// The peak RSS of a strategy, and the threads it runs on (by their names), from a thread of its
/// own. The kernel keeps the peak itself (`VmHWM`, reset when the strategy starts), so the thread
/// reads it at the end and looks every 50 ms only for threads; where the peak cannot be reset
/// it samples RSS every 5 ms instead (a peak between two samples is missed, and the wake-ups
/// cost the strategy CPU).
#[derive(Debug)]
pub(crate) struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(u64, u64, f64)>>,
}

/// CPU seconds of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub(crate) fn this_thread_cpu_s() -> f64 {
    clock_s(rustix::time::ClockId::ThreadCPUTime)
}

impl Sampler {
    /// Starts sampling; `threads` is the name prefix of the strategy's threads (`None`: it
    /// starts none). Counting threads by name, not the process's total, keeps other threads of
    /// the process (the embedded mock, the sampler, a test harness) out of the figure.
    pub(crate) fn start(threads: Option<&'static str>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("resource-sampler".into())
            .spawn(move || {
                let (mut peak_rss, mut peak_threads) = (0, 0);
                // Listing thousands of threads costs more than reading one status file, so the
                // names are listed when the process's thread count changed, and then at most a
                // tenth of the time.
                let (mut last_total, mut next_scan) = (u64::MAX, std::time::Instant::now());
                let mut status = StatusFile::open();
                let kept = reset_peak_rss();
                let pause = Duration::from_millis(if kept { 50 } else { 5 });
                loop {
                    let (rss, total) = status.rss_and_threads();
                    peak_rss = peak_rss.max(rss);
                    let now = std::time::Instant::now();
                    if let Some(prefix) = threads
                        && (total != last_total || now >= next_scan)
                    {
                        peak_threads = peak_threads.max(threads_named(prefix));
                        last_total = total;
                        next_scan = now + (now.elapsed() * 10).max(Duration::from_millis(100));
                    }
                    if flag.load(Ordering::Relaxed) {
                        if kept {
                            peak_rss = peak_rss.max(status.peak_rss());
                        }
                        return (peak_rss, peak_threads, this_thread_cpu_s());
                    }
                    // `stop` unparks it.
                    std::thread::park_timeout(pause);
                }
            })
            .ok();
        Sampler { stop, handle }
    }

    /// Stops and returns the peaks.
    pub(crate) fn stop(mut self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = &self.handle {
            h.thread().unpark();
        }
        let (rss, threads, cpu) = self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default();
        Peaks {
            rss_bytes: rss,
            threads,
            sampler_cpu_s: cpu,
        }
    }
}

/// The open files a run needs at most, and the setting that asks for them (named when they
/// are more than the process may have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileNeeds {
    /// Open files needed.
    pub files: u64,
    /// The flag whose value sets the most requests in flight, and that value as given.
    pub flag: (&'static str, u64),
}

/// Open files a run needs at most: one socket per request in flight, two when the embedded mock
/// holds the other end in this same process, plus headroom for the runtime, logs and outputs.
pub fn files_needed(cfg: &crate::plan::config::RunConfig) -> FileNeeds {
    use crate::model::strategy::Strategy;
    let (in_flight, busiest) = cfg
        .strategies
        .iter()
        .map(|s| (in_flight_bound(cfg, *s), *s))
        .max_by_key(|(n, _)| *n)
        .unwrap_or((1, Strategy::Sequential));
    let ends = if cfg.endpoint.target().is_none() { 2 } else { 1 };
    FileNeeds {
        files: in_flight.saturating_mul(ends).saturating_add(256),
        flag: match busiest {
            Strategy::Batched => ("--batch-size", cfg.batch_size),
            _ => ("--concurrency", cfg.concurrency),
        },
    }
}

/// The most requests strategy `s` can have in flight at once: its limit, or without one (an
/// open loop's `--concurrency 0`) what its schedule sends within one timeout, the longest an
/// attempt stays.
fn in_flight_bound(cfg: &crate::plan::config::RunConfig, s: crate::model::strategy::Strategy) -> u64 {
    use crate::model::plan::Load;
    cfg.effective_concurrency(s).unwrap_or_else(|| match cfg.load {
        // A float to integer cast saturates.
        Load::Open { rate, .. } => (rate * cfg.timeout.as_secs_f64()).ceil() as u64 + 1,
        // Refused before a run (a closed loop's `-c 0` needs a count), and unbounded if not.
        Load::Closed | Load::Adaptive(_) => u64::MAX,
    })
}

/// Raises the soft open-file limit to what the run needs when the hard limit allows it, and
/// fails with a message saying what to do when it does not: at 10 000 in flight the alternative
/// is connection errors that look like server faults. Returns the soft limit now in force.
pub(crate) fn ensure_open_files(
    cfg: &crate::plan::config::RunConfig,
) -> Result<u64, crate::model::error::ConfigError> {
    let needs = files_needed(cfg);
    let Ok((soft, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return Ok(0); // No limits on this platform.
    };
    check_open_files(cfg, needs, hard)?;
    if soft < needs.files {
        // Raise to what is needed plus room, within the hard limit.
        let want = needs.files.saturating_mul(2).min(hard);
        if rlimit::setrlimit(rlimit::Resource::NOFILE, want, hard).is_ok() {
            return Ok(want);
        }
    }
    Ok(soft)
}

/// The pure check of `ensure_open_files`, testable with any hard limit.
pub fn check_open_files(
    cfg: &crate::plan::config::RunConfig,
    needs: FileNeeds,
    hard: u64,
) -> Result<(), crate::model::error::ConfigError> {
    if needs.files <= hard {
        return Ok(());
    }
    let embedded = cfg.endpoint.target().is_none();
    Err(crate::model::error::ConfigError::OpenFiles {
        flag: needs.flag.0,
        value: needs.flag.1,
        needed: needs.files,
        hard,
        mock: if embedded {
            " (both ends of every connection, with the embedded mock)"
        } else {
            ""
        },
        hint: if embedded {
            ", or run the mock as its own process and use --target"
        } else {
            ""
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The status text's two fields are read (RSS in bytes), and the file kept open gives the
    /// figures again at every sample (each read starts at the file's start).
    #[test]
    fn status_fields_are_read_and_reread() {
        let text = "Name:\tasyncbench\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t7\n";
        assert_eq!(parse_status(text), (1234 * 1024, 7));
        assert_eq!(parse_status("Name:\tx\n"), (0, 0));
        if !std::path::Path::new("/proc/self/status").exists() {
            return;
        }
        let mut f = StatusFile::open();
        for read in ["first", "second", "third"] {
            let (rss, threads) = f.rss_and_threads();
            assert!(rss > 0 && threads >= 1, "{read} read: {rss} {threads}");
        }
    }

    #[test]
    fn stat_fields_are_found_after_a_command_with_spaces() {
        let line = "123 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0";
        assert_eq!(stat_ticks(line), Some((250, 75)));
    }

    /// The peak is the strategy's own: memory the process held before it started is not in it
    /// (the kernel's count is reset then), memory held while it ran is.
    #[test]
    fn a_strategys_peak_rss_leaves_out_what_came_before() {
        if !reset_peak_rss() {
            return;
        }
        let before = vec![1u8; 400 << 20];
        drop(std::hint::black_box(before));
        let s = Sampler::start(None);
        let held = std::hint::black_box(vec![1u8; 100 << 20]);
        let peaks = s.stop();
        let now = StatusFile::open().rss_and_threads().0;
        drop(held);
        assert!(peaks.rss_bytes >= 100 << 20, "{}", peaks.rss_bytes);
        assert!(
            peaks.rss_bytes < now + (200 << 20),
            "peak {} now {now}",
            peaks.rss_bytes
        );
    }

    #[test]
    fn cpu_and_memory_readings_are_sane_on_linux() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let a = CpuTimes::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i * i));
        }
        std::hint::black_box(x);
        let b = CpuTimes::now();
        // 20 M multiply-adds take milliseconds: the nanosecond clock sees them, ticks would not.
        assert!(a.client_seconds(&b) > 0.0005, "{}", a.client_seconds(&b));
        let c0 = CpuTimes::now();
        let s = Sampler::start(None);
        std::thread::sleep(Duration::from_millis(200));
        let peaks = s.stop();
        let c1 = CpuTimes::now();
        assert!(peaks.rss_bytes > 0);
        // The sampler's time is its own thread's, a part of the process's (one tick of rounding).
        let process = c1.process - c0.process;
        assert!(
            peaks.sampler_cpu_s <= process,
            "sampler {} s > process {process} s",
            peaks.sampler_cpu_s
        );
    }
}
