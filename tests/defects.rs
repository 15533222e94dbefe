//! Defects found by attacking the tool (issue 25), one test each over real processes, files and
//! sockets: bounded inputs, no panics, one-line errors, credentials that never leak, records that
//! stay whole.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::bin;

/// Runs the binary with `args`; returns its exit code, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let o = bin().args(args).output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Asserts a bad-input ending: exit 2, one line on stderr holding every one of `needles`.
fn assert_refused(args: &[&str], needles: &[&str]) {
    let (code, _, err) = run(args);
    assert_eq!(code, Some(2), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err} should name {n}");
    }
}

/// Endless or huge inputs are refused at their documented cap, naming the file and the cap,
/// instead of growing until the kernel kills the process; a prompt the embedded mock would
/// refuse (past its 1 MiB body limit) is refused before anything runs.
#[test]
fn inputs_are_bounded_and_named_with_their_cap() {
    assert_refused(
        &["compare", "-n", "5", "--dataset", "/dev/zero"],
        &["--dataset", "/dev/zero", "128 MiB cap"],
    );
    assert_refused(
        &["compare", "-n", "5", "--body-file", "/dev/urandom"],
        &["--body-file", "/dev/urandom", "16 MiB cap"],
    );
    assert_refused(
        &[
            "compare",
            "-n",
            "5",
            "--ca-cert",
            "/dev/zero",
            "--target",
            "https://127.0.0.1:9/v1",
        ],
        &["--ca-cert", "1 MiB cap"],
    );
    assert_refused(
        &["compare", "-n", "5", "--prompt-tokens", "999999999"],
        &["--prompt-tokens", "999999999", "2000000"],
    );
    assert_refused(
        &["compare", "-n", "5", "--prompt-tokens", "300000"],
        &["--prompt-tokens", "1048576", "embedded mock"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let rows = tmp.path().join("rows.jsonl");
    std::fs::write(&rows, "{\"prompt\": \"hi\"}\n{\"messages\": []}\n").unwrap();
    assert_refused(
        &["compare", "-n", "5", "--dataset", rows.to_str().unwrap()],
        &["line 2", "\"messages\" is empty"],
    );
}

/// A signal while the inputs are read (here a FIFO nobody writes to, which blocks forever)
/// ends the process at once with the signal's code and a line saying nothing ran.
#[test]
fn a_signal_while_loading_inputs_ends_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let child = crate::util::spawn(&["compare", "-n", "5", "--dataset", fifo.to_str().unwrap()]);
    std::thread::sleep(Duration::from_millis(700));
    crate::util::signal(&child, rustix::process::Signal::TERM);
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(o) = rx.recv_timeout(Duration::from_secs(20)) else {
        let p = rustix::process::Pid::from_raw(pid as i32).unwrap();
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        panic!("SIGTERM while loading was ignored");
    };
    let o = o.unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(143), "{err}");
    assert!(err.contains("SIGTERM before any request was sent"), "{err}");
}

/// No input makes the binary panic: a rate too small for any schedule is a bad flag (exit 2),
/// stdout on a full disk is one line and exit 1, and a reader that closes the pipe early
/// (`| head -c 10`) ends the run quietly with its own exit code, the files still written.
#[test]
fn no_input_makes_it_panic() {
    assert_refused(&["compare", "-n", "5", "--rate", "1e-20"], &["--rate", "0.0001"]);
    // /dev/full: writing the table fails with ENOSPC.
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "4",
            "--latency",
            "1ms",
            "--strategies",
            "async",
        ])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot write stdout") && !err.contains("panicked"),
        "{err}"
    );
    // A closed pipe: read 10 bytes, close, let the run go on.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut child = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "30",
            "--latency",
            "1ms",
            "--strategies",
            "async,sequential",
        ])
        .arg("--out")
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut ten = [0u8; 10];
    stdout.read_exact(&mut ten).unwrap();
    drop(stdout);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked") && err.trim().is_empty(), "{err}");
    assert!(out.join("report.json").exists(), "the files are still written");
}

/// Messages say what is wrong with the value given: a negative count is named as a value, a
/// start time far in the past says so.
#[test]
fn bad_values_get_messages_about_the_value() {
    assert_refused(&["compare", "-c", "-3"], &["'-3'", "--concurrency"]);
    assert_refused(&["compare", "-n", "-3"], &["'-3'", "--requests"]);
    assert_refused(&["compare", "--start-at", "1"], &["'1'", "in the past"]);
}
