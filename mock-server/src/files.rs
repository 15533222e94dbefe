//! Reading a user's file with a cap on its size, so that a path such as `/dev/zero` or a log
//! that never ends is refused with a message instead of growing until the kernel kills us.

use std::io::Read;
use std::path::Path;

/// Most bytes of a small settings file (a TOML profile, a PEM certificate or key).
pub const MAX_SMALL_FILE: u64 = 1 << 20;

/// Reads at most `cap` bytes of `path`: a longer file (or an endless one: `/dev/zero`, a FIFO
/// that keeps writing) is an `io::ErrorKind::FileTooLarge` error saying the cap, read no further
/// than one byte past it.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("is larger than the {} cap", format_bytes(cap)),
        ));
    }
    Ok(bytes)
}

/// [`read_capped`], as UTF-8 text.
pub fn read_capped_text(path: &Path, cap: u64) -> std::io::Result<String> {
    String::from_utf8(read_capped(path, cap)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "is not UTF-8 text"))
}

/// `64 MiB`, `512 KiB` or `100 B`: a cap as people read it.
pub fn format_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file at the cap is read whole; one byte more, or an endless device, is refused with
    /// the cap named, after reading no more than the cap and one byte.
    #[test]
    fn files_past_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_capped(&p, 10).unwrap(), b"0123456789");
        let e = read_capped(&p, 9).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "is larger than the 9 B cap");
        let e = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "is larger than the 1 MiB cap");
        std::fs::write(&p, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_capped_text(&p, 10).unwrap_err().to_string(),
            "is not UTF-8 text"
        );
        assert_eq!(format_bytes(128 << 20), "128 MiB");
        assert_eq!(format_bytes(512 << 10), "512 KiB");
    }
}
