//! External clients: a program in any language run as a strategy. It speaks the protocol of
//! `docs/client-protocol.md` (the workload as JSON on stdin, one JSON line per logical request on
//! stdout); its lines go through the same recorder as the built-in strategies'. The clients
//! themselves ([`crate::model::strategy::PyClient`], `--client-cmd`) are named in the model; the
//! interpreter is found by [`crate::plan::python`].

pub(crate) mod protocol;

use std::path::Path;

use crate::plan::python::SCRIPTS;

/// Writes the scripts into `dir`.
pub(crate) fn materialize(dir: &Path) -> std::io::Result<()> {
    for (name, text) in SCRIPTS {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}
