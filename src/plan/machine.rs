//! The machine a run happened on, read once per run and written into every report, so a number
//! never travels without the hardware that produced it.

use crate::model::provenance::Machine;

impl Machine {
    /// Reads the current machine.
    pub(crate) fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned());
        let memory_bytes = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_owned());
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Machine {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cpu_model,
            memory_bytes,
            kernel,
            hostname,
            rustc: env!("ASYNCBENCH_RUSTC").to_owned(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        }
    }

    /// One line: `2 × Intel Xeon …, 24 GiB, linux 6.1, rustc 1.95.0`.
    pub fn summary(&self) -> String {
        format!(
            "{} × {}, {:.0} GiB, {} {} ({}), {}, {} build",
            self.cpus,
            self.cpu_model.as_deref().unwrap_or("unknown CPU"),
            self.memory_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64,
            self.os,
            self.kernel.as_deref().unwrap_or(""),
            self.arch,
            self.rustc,
            self.profile
        )
    }
}
