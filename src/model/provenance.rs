//! Where a report's numbers come from: the tool, the commit it was built from, the machine and
//! when the work started and ended.

use serde::{Deserialize, Serialize};

/// Tool, build commit, machine and times of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `asyncbench <version>`.
    pub tool: String,
    /// The git commit the binary was built from (`…-dirty` when tracked files differed).
    pub git_commit: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// Unix seconds when the run started.
    pub started_unix: u64,
    /// Unix seconds when it ended (or was cut short).
    pub ended_unix: u64,
}

/// Hardware and software of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// `linux`, `macos`, …
    pub os: String,
    /// `x86_64`, `aarch64`, …
    pub arch: String,
    /// Logical CPUs available to the process.
    pub cpus: usize,
    /// CPU model name from /proc/cpuinfo, when readable.
    pub cpu_model: Option<String>,
    /// Total memory, bytes, when readable.
    pub memory_bytes: Option<u64>,
    /// Kernel release, when readable.
    pub kernel: Option<String>,
    /// rustc that built this binary.
    pub rustc: String,
    /// Build profile (`release` or `debug`).
    pub profile: String,
    /// The host's name (`/proc/sys/kernel/hostname`, in a pod the pod's name), so that shards
    /// that ran on one host can be told apart from shards on several.
    #[serde(default)]
    pub hostname: Option<String>,
}
