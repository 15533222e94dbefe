//! Records in the binary the rustc that built it and the git commit it was built from (with
//! `-dirty` when tracked files differ from it), so every report names the code that produced it,
//! not whatever repository the command happens to run in.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc (unknown)".into());
    println!("cargo:rustc-env=ASYNCBENCH_RUSTC={version}");

    // A build without the repository (a container image built from a copy of the tree) is told
    // its commit in ASYNCBENCH_COMMIT.
    println!("cargo:rerun-if-env-changed=ASYNCBENCH_COMMIT");
    let given = std::env::var("ASYNCBENCH_COMMIT").ok().filter(|c| !c.is_empty());
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let commit = given.or_else(|| {
        output("git", &["-C", &dir, "rev-parse", "HEAD"]).map(|c| {
            // Only tracked files count: build outputs and results being written are not the code.
            let dirty = output(
                "git",
                &["-C", &dir, "status", "--porcelain", "--untracked-files=no"],
            )
            .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        })
    });
    println!("cargo:rustc-env=ASYNCBENCH_COMMIT={}", commit.unwrap_or_default());
    // Rebuild when the checkout moves or the code changes (a directory is scanned whole).
    for path in [
        "build.rs",
        "Cargo.toml",
        "src",
        "mock-server/src",
        "mock-server/Cargo.toml",
        ".git/HEAD",
        ".git/index",
        ".git/refs/heads",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }
}
