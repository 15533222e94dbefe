//! Where a report's numbers come from, captured once per command by the run core: the tool and
//! the commit it was built from (recorded at build time), the machine, and when the work started
//! and ended. Reports of runs, sweep points and sweeps all carry the same value.

use crate::model::provenance::Provenance;

use crate::model::plan::unix_now;
use crate::model::provenance::Machine;

/// The commit this binary was built from (`-dirty` if tracked files differed), when it was
/// built from a git checkout.
pub(crate) fn build_commit() -> Option<&'static str> {
    Some(env!("ASYNCBENCH_COMMIT")).filter(|c| !c.is_empty())
}

impl Provenance {
    /// Captures everything but the end time, now.
    pub(crate) fn capture() -> Provenance {
        let now = unix_now();
        Provenance {
            tool: format!("asyncbench {}", env!("CARGO_PKG_VERSION")),
            git_commit: build_commit().map(str::to_owned),
            machine: Machine::detect(),
            started_unix: now,
            ended_unix: now,
        }
    }

    /// The same provenance, ended now.
    pub fn ended(&self) -> Provenance {
        Provenance {
            ended_unix: unix_now(),
            ..self.clone()
        }
    }
}
