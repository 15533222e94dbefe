//! Client cost: CPU seconds, peak resident memory and threads, read from `/proc/self` (Linux).
//!
//! When the mock runs in the same process, its threads (all named `mock-server…`) are measured
//! separately and their CPU is subtracted, as is the sampler's own, so `cpu_s` is the client's. Memory and the thread
//! count cannot be split that way: they are the process's, mock included (run the mock as a
//! separate process with `--target` for a clean figure). Elsewhere than Linux the figures are 0.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// CPU time used so far, split into user and system, for the process and for the mock's threads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    /// Process user seconds (all threads, living and dead).
    pub user: f64,
    /// Process system seconds.
    pub sys: f64,
    /// User + system seconds of the threads named `mock-server…`.
    pub mock: f64,
}

/// Clock ticks per second of `/proc` times. Linux fixes USER_HZ at 100 for this interface on
/// every architecture, whatever the kernel's internal HZ.
const USER_HZ: f64 = 100.0;

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

impl CpuTimes {
    /// Reads the times now.
    pub fn now() -> CpuTimes {
        let tps = USER_HZ;
        let Some((u, s)) = fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(stat_ticks)
        else {
            return CpuTimes::default();
        };
        let mut mock = 0u64;
        if let Ok(tasks) = fs::read_dir("/proc/self/task") {
            for t in tasks.flatten() {
                let path = t.path();
                let is_mock =
                    fs::read_to_string(path.join("comm")).is_ok_and(|c| c.starts_with("mock-server"));
                if is_mock
                    && let Some((tu, ts)) = fs::read_to_string(path.join("stat"))
                        .ok()
                        .as_deref()
                        .and_then(stat_ticks)
                {
                    mock += tu + ts;
                }
            }
        }
        CpuTimes {
            user: u as f64 / tps,
            sys: s as f64 / tps,
            mock: mock as f64 / tps,
        }
    }

    /// The client's share of the CPU used between `self` and `later`: (user + sys − mock).
    pub fn client_seconds(&self, later: &CpuTimes) -> f64 {
        let total = (later.user - self.user) + (later.sys - self.sys);
        (total - (later.mock - self.mock)).max(0.0)
    }
}

/// `VmRSS` and `Threads` from `/proc/self/status`.
fn rss_and_threads() -> (u64, u64) {
    let Ok(status) = fs::read_to_string("/proc/self/status") else {
        return (0, 0);
    };
    let mut rss = 0;
    let mut threads = 0;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("VmRSS:") {
            rss = v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024;
        } else if let Some(v) = line.strip_prefix("Threads:") {
            threads = v.trim().parse().unwrap_or(0);
        }
    }
    (rss, threads)
}

/// Samples RSS and the thread count every few milliseconds on its own thread, keeping the peaks.
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(u64, u64, f64)>>,
    baseline_threads: u64,
}

/// Peaks seen by a [`Sampler`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Peaks {
    /// Highest resident set size, bytes (process-wide).
    pub rss_bytes: u64,
    /// Most threads the strategy added over those alive before it started.
    pub threads: u64,
    /// CPU seconds the sampler thread itself used (the caller subtracts them from the client's).
    pub sampler_cpu_s: f64,
}

/// User + system seconds of the calling thread (Linux), 0 where unknown.
fn this_thread_cpu_s() -> f64 {
    fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .as_deref()
        .and_then(stat_ticks)
        .map_or(0.0, |(u, s)| (u + s) as f64 / USER_HZ)
}

impl Sampler {
    /// Starts sampling.
    pub fn start() -> Sampler {
        let (_, baseline) = rss_and_threads();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("resource-sampler".into())
            .spawn(move || {
                let mut peak = (0, 0);
                loop {
                    let (rss, threads) = rss_and_threads();
                    peak = (peak.0.max(rss), peak.1.max(threads));
                    if flag.load(Ordering::Relaxed) {
                        return (peak.0, peak.1, this_thread_cpu_s());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .ok();
        // The sampler is itself one thread more than the baseline.
        Sampler {
            stop,
            handle,
            baseline_threads: baseline + 1,
        }
    }

    /// Stops and returns the peaks.
    pub fn stop(mut self) -> Peaks {
        self.stop.store(true, Ordering::Relaxed);
        let (rss, threads, cpu) = self.handle.take().and_then(|h| h.join().ok()).unwrap_or_default();
        Peaks {
            rss_bytes: rss,
            threads: threads.saturating_sub(self.baseline_threads),
            sampler_cpu_s: cpu,
        }
    }
}

/// Open files a run needs at most: one socket per request in flight, two when the embedded mock
/// holds the other end in this same process, plus headroom for the runtime, logs and outputs.
pub fn files_needed(cfg: &crate::config::RunConfig) -> u64 {
    let in_flight = cfg
        .strategies
        .iter()
        .map(|s| cfg.effective_concurrency(*s))
        .max()
        .unwrap_or(1);
    let ends = if cfg.target.is_none() { 2 } else { 1 };
    in_flight * ends + 256
}

/// Raises the soft open-file limit to what the run needs when the hard limit allows it, and
/// fails with a message saying what to do when it does not: at 10 000 in flight the alternative
/// is connection errors that look like server faults. Returns the soft limit now in force.
pub fn ensure_open_files(cfg: &crate::config::RunConfig) -> Result<u64, crate::error::ConfigError> {
    let needed = files_needed(cfg);
    let Ok((soft, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return Ok(0); // No limits on this platform.
    };
    check_open_files(cfg, needed, soft, hard)?;
    if soft < needed {
        // Raise to what is needed plus room, within the hard limit.
        let want = needed.saturating_mul(2).min(hard);
        if rlimit::setrlimit(rlimit::Resource::NOFILE, want, hard).is_ok() {
            return Ok(want);
        }
    }
    Ok(soft)
}

/// The pure check of [`ensure_open_files`], testable with any limits.
pub fn check_open_files(
    cfg: &crate::config::RunConfig,
    needed: u64,
    _soft: u64,
    hard: u64,
) -> Result<(), crate::error::ConfigError> {
    if needed <= hard {
        return Ok(());
    }
    let embedded = cfg.target.is_none();
    Err(crate::error::ConfigError::OpenFiles {
        concurrency: cfg
            .strategies
            .iter()
            .map(|s| cfg.effective_concurrency(*s))
            .max()
            .unwrap_or(1),
        needed,
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

    #[test]
    fn stat_fields_are_found_after_a_command_with_spaces() {
        let line = "123 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0";
        assert_eq!(stat_ticks(line), Some((250, 75)));
    }

    #[test]
    fn cpu_and_memory_readings_are_sane_on_linux() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let a = CpuTimes::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let b = CpuTimes::now();
        assert!(a.client_seconds(&b) >= 0.0);
        let c0 = CpuTimes::now();
        let s = Sampler::start();
        std::thread::sleep(Duration::from_millis(200));
        let peaks = s.stop();
        let c1 = CpuTimes::now();
        assert!(peaks.rss_bytes > 0);
        // The sampler's time is its own thread's, a part of the process's (one tick of rounding).
        let process = (c1.user - c0.user) + (c1.sys - c0.sys);
        assert!(
            peaks.sampler_cpu_s <= process + 0.01,
            "sampler {} s > process {process} s",
            peaks.sampler_cpu_s
        );
    }
}
