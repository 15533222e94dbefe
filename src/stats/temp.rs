//! Temporary files: made beside their destination and registered, so a second signal that ends
//! the process at once can still remove them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Temporary files to remove when a second signal ends the process at once (no destructor runs
/// then). A path is kept after its file was renamed into place: removing a missing file is
/// harmless, and a run makes only a few.
static TEMPORARY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers a temporary file for removal should a second signal end the process at once.
pub(crate) fn remove_on_abort(path: &Path) {
    if let Ok(mut t) = TEMPORARY.lock() {
        t.push(path.to_owned());
    }
}

/// Removes every registered temporary file (the handler's last act before exiting).
pub(crate) fn remove_temporaries() {
    if let Ok(t) = TEMPORARY.lock() {
        for p in t.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A temporary file's builder for report files: hidden name, and (unix) readable by all, as a
/// file written directly would be (a temporary file starts private).
pub(crate) fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(".asyncbench-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    b
}
