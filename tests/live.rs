//! The live view in a real pseudo-terminal: the binary runs with its stdout, stderr and stdin on
//! a pty (as in a terminal window), the screen is read back through a VT100 parser, and the
//! cursor-position queries the panel makes are answered as a terminal would.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::bin;

const ROWS: u16 = 60;
const COLS: u16 = 120;

/// What the pty showed: the screens taken while the run went (each one with `mid` on it, after
/// each read: a frame may be half drawn in one), the screen at the end, and the exit code.
struct Seen {
    mid: Vec<String>,
    end: String,
    code: Option<i32>,
    /// Every byte the binary wrote.
    raw: Vec<u8>,
}

/// Runs the binary with `args` on a fresh 120×60 pty until it exits (at most 60 s).
fn in_pty(args: &[&str], mid: &str) -> Seen {
    in_pty_with(args, mid, 0)
}

/// [`in_pty`], sending `interrupts` SIGINTs 100 ms apart once `mid` is on the screen.
fn in_pty_with(args: &[&str], mid: &str, interrupts: u32) -> Seen {
    pty_run(args, mid, interrupts, true)
}

/// The run itself; `answers`: whether cursor-position queries get the terminal's answer.
fn pty_run(args: &[&str], mid: &str, interrupts: u32, answers: bool) -> Seen {
    let ws = nix::pty::Winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&ws, None).unwrap();
    let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
    let mut child = bin()
        .args(args)
        .env("TERM", "xterm-256color")
        .stdin(slave(&pty.slave))
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave))
        .spawn()
        .unwrap();
    drop(pty.slave);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let mut master = std::fs::File::from(pty.master);
    let mut answer = master.try_clone().unwrap();
    // Reading ends with EIO once the child (the last holder of the slave) exits.
    let mid = mid.to_owned();
    let reader = std::thread::spawn(move || {
        let nz = |n| std::num::NonZeroU16::new(n).unwrap();
        let mut parser = vt100::Parser::new(nz(ROWS), nz(COLS), 0);
        let mut buf = [0u8; 8192];
        let mut tail: Vec<u8> = Vec::new();
        let mut mids = Vec::new();
        let mut raw = Vec::new();
        let mut interrupted = interrupts == 0;
        let started = Instant::now();
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            parser.process(&buf[..n]);
            raw.extend_from_slice(&buf[..n]);
            // A cursor-position query (possibly split across reads) gets the terminal's answer.
            tail.extend_from_slice(&buf[..n]);
            while let Some(at) = tail.windows(4).position(|w| w == b"\x1b[6n") {
                let (row, col) = parser.screen().cursor_position();
                if answers {
                    let _ = write!(answer, "\x1b[{};{}R", row + 1, col + 1);
                }
                tail.drain(..at + 4);
            }
            let keep = tail.len().saturating_sub(3);
            tail.drain(..keep);
            let screen = parser.screen().contents();
            if screen.contains(&mid) {
                mids.push(screen);
                if !interrupted {
                    interrupted = true;
                    for _ in 0..interrupts {
                        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        }
        (mids, parser.screen().contents(), raw)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (mid, end, raw) = reader.join().unwrap();
    Seen {
        mid,
        end,
        code: status.code(),
        raw,
    }
}

/// On a terminal the panel shows the settings first, then per strategy its state, and for the
/// one running its progress with an ETA, the in-flight count, outcome counts that include the
/// injected 5xx, and live percentiles; at the end the panel gives way to the table.
#[test]
fn the_live_panel_shows_progress_then_gives_way_to_the_table() {
    let seen = in_pty(
        &[
            "compare",
            "-n",
            "150",
            "-c",
            "4",
            "--latency",
            "20ms",
            "--rate-500",
            "0.1",
            "--strategies",
            "sequential,async",
        ],
        "ETA ",
    );
    assert_eq!(seen.code, Some(0), "{}", seen.end);
    let want = [
        "150 requests · target embedded mock",
        "mock: latency 20ms",
        "▶ sequential",
        "async         waiting",
        "/150 (",
        "in flight 1",
        " · 429 0 · 5xx ",
        "latency p50 ",
        "sent ",
    ];
    // Some frame showed all of it, with an ETA in seconds.
    let eta_in_s = |s: &str| {
        s.split("ETA ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    };
    let frame = seen
        .mid
        .iter()
        .find(|s| want.iter().all(|w| s.contains(w)) && eta_in_s(s));
    assert!(
        frame.is_some(),
        "no frame shows all of {want:?}; the last with an ETA:\n{}",
        seen.mid.last().map_or("(none)", |s| s.as_str())
    );
    // The end: the table, and nothing of the panel left above it.
    let end = &seen.end;
    assert!(end.contains("strategy       conc accounted"), "{end}");
    assert!(end.contains("sequential        1   150/150"), "{end}");
    assert!(end.contains("async             4   150/150"), "{end}");
    for gone in ["ETA ", "▶", "waiting", "sent "] {
        assert!(!end.contains(gone), "{gone:?} left on the screen:\n{end}");
    }
    // The settings are printed once, with the table.
    assert_eq!(end.matches("150 requests · target").count(), 1, "{end}");
}

/// `--no-tui` on a terminal, and any run whose stdout is not one, print progress lines on stderr
/// instead (here every 200 ms), with the counts and ETA; `-q` prints none.
#[test]
fn without_a_panel_progress_comes_as_lines_and_quiet_prints_none() {
    let args = [
        "compare",
        "-n",
        "60",
        "--latency",
        "20ms",
        "--strategies",
        "sequential",
        "--progress-every",
        "200ms",
    ];
    let o = bin().args(args).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("asyncbench: sequential "))
        .collect();
    assert!(lines.len() >= 2, "{stderr}");
    assert!(
        lines[0].contains("/60 (") && lines[0].contains("ETA ") && lines[0].contains("ok "),
        "{stderr}"
    );
    // A line after another of the same round gives the percentiles since that one too.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("; last ") && l.contains(" s: p50 ") && l.contains(" · p99 ")),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(!stdout.contains("ETA"), "{stdout}");
    let quiet = bin().args(args).arg("-q").output().unwrap();
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(!stderr.contains("ETA"), "{stderr}");
    // On a terminal, --no-tui gives the lines and no panel.
    let mut no_tui = args.to_vec();
    no_tui.push("--no-tui");
    let seen = in_pty(&no_tui, "asyncbench: sequential ");
    assert_eq!(seen.code, Some(0));
    assert!(!seen.mid.is_empty(), "no progress line:\n{}", seen.end);
    assert!(seen.mid.iter().all(|s| !s.contains("▶")), "{}", seen.end);
}

/// A second Ctrl-C leaves at once, mid-frame: the panel has hidden the cursor, and the process
/// shows it again before it goes (exit 130), so the shell keeps its cursor.
#[test]
fn a_second_interrupt_leaves_the_terminal_its_cursor() {
    let seen = in_pty_with(
        &[
            "compare",
            "-n",
            "40",
            "-c",
            "2",
            "--latency",
            "1s",
            "--strategies",
            "async",
        ],
        "in flight 2",
        2,
    );
    assert_eq!(seen.code, Some(130), "{}", seen.end);
    // It left mid-run: no table, so the panel never finished on its own.
    assert!(seen.end.contains("second SIGINT: exiting now"), "{}", seen.end);
    assert!(!seen.end.contains("strategy       conc"), "{}", seen.end);
    let last = |pat: &[u8]| seen.raw.windows(pat.len()).rposition(|w| w == pat);
    let hidden = last(b"\x1b[?25l").expect("the panel hides the cursor");
    let shown = last(b"\x1b[?25h").expect("the cursor is never shown again");
    assert!(shown > hidden, "the cursor was left hidden");
}

/// A first Ctrl-C is told in the panel (not printed over it), the requests in flight finish,
/// and the table says the run was interrupted (exit 130).
#[test]
fn a_first_interrupt_is_told_in_the_panel() {
    let seen = in_pty_with(
        &[
            "compare",
            "-n",
            "40",
            "-c",
            "2",
            "--latency",
            "1s",
            "--strategies",
            "async",
        ],
        "in flight 2",
        1,
    );
    assert_eq!(seen.code, Some(130), "{}", seen.end);
    let told = seen
        .mid
        .iter()
        .find(|s| s.contains("SIGINT: no new requests;"))
        .expect("the panel never said the stop");
    assert!(!told.contains("asyncbench: SIGINT"), "{told}");
    assert!(
        seen.end.contains("INCOMPLETE RUN: interrupted by SIGINT"),
        "{}",
        seen.end
    );
    // Every request it issued ended in an outcome.
    let row = seen.end.lines().find(|l| l.starts_with("async ")).unwrap();
    let accounted = row.split_whitespace().nth(2).unwrap();
    let (done, issued) = accounted.split_once('/').unwrap();
    assert_eq!(done, issued, "{row}");
}

/// A long wait before a retry is told in the panel, in the running lane's last row, not
/// printed over it (it was: the line cut through the panel's rows); a Ctrl-C then cuts the wait
/// short (exit 130).
#[test]
fn a_long_wait_before_a_retry_is_told_in_the_panel() {
    let seen = in_pty_with(&crate::util::LONG_RETRY_WAIT, "a request waits 40 s to retry", 1);
    assert_eq!(seen.code, Some(130), "{}", seen.end);
    let told = seen.mid.first().expect("the panel never said the wait");
    let line = told.lines().find(|l| l.contains("a request waits 40 s")).unwrap();
    assert!(line.starts_with("  a request waits 40 s to retry:"), "{told}");
    assert!(!told.contains("asyncbench: a request waits"), "{told}");
    // The panel's rows stand: the lane's progress row above it is whole.
    assert!(
        told.lines()
            .any(|l| l.starts_with("async ") && l.contains("in flight 1")),
        "{told}"
    );
}

/// A client that fails is marked failed in its panel row, with why, and the lines about it
/// (the failure, the end of its stderr) come once the panel gives way, above the table: printed
/// at once, they cut through the panel's rows.
#[test]
fn a_client_that_fails_is_marked_in_the_panel_and_said_after_it() {
    let seen = in_pty(
        &[
            "compare",
            "-n",
            "150",
            "--rounds",
            "2",
            "--latency",
            "20ms",
            "--strategies",
            "sequential",
            "--client-cmd",
            "asyncbench-no-such-client",
        ],
        "FAILED: it exited",
    );
    assert_eq!(seen.code, Some(7), "{}", seen.end);
    let row = seen
        .mid
        .iter()
        .flat_map(|s| s.lines())
        .find(|l| l.contains("FAILED: it exited"))
        .expect("no frame marks the client failed");
    assert!(
        row.starts_with("  custom        round 1/2 failed")
            && row.contains("FAILED: it exited with exit status: 127"),
        "{row}"
    );
    // No frame of the panel (its progress row up) has the line.
    for frame in seen.mid.iter().filter(|f| f.contains("ETA ")) {
        assert!(!frame.contains("asyncbench: the client custom failed"), "{frame}");
    }
    let end = &seen.end;
    let said = end.find("asyncbench: the client custom failed").expect(end);
    assert!(end.contains("asyncbench-no-such-client: not found"), "{end}");
    assert!(
        said < end.find("strategy ").expect(end),
        "said above the table:\n{end}"
    );
}

/// A target frozen mid-run is said, with the watchdog's probes, once the panel gives way (the
/// panel's last row tells of the stop meanwhile): the line was printed under the panel and
/// wiped with it, the probes' answer lost.
#[test]
fn a_frozen_target_is_said_after_the_panel() {
    let mock =
        mock_server::MockServer::start(mock_server::Profile::fixed(Duration::from_millis(20))).unwrap();
    let url = format!("{}/v1", mock.uri());
    let freezer = std::thread::spawn(move || crate::util::freeze_target_after(mock, 50));
    let seen = in_pty(
        &[
            "compare",
            "-n",
            "100000",
            "-c",
            "4",
            "--timeout",
            "600s",
            "--strategies",
            "async",
            "--target",
            &url,
        ],
        "ETA ",
    );
    let _held = freezer.join().unwrap();
    assert_eq!(seen.code, Some(4), "{}", seen.end);
    for frame in seen.mid.iter().filter(|f| f.contains("ETA ")) {
        assert!(!frame.contains("dead or frozen"), "{frame}");
    }
    let end = &seen.end;
    let said = end
        .find("answered none of 3 probes in a row")
        .unwrap_or_else(|| panic!("the probes' line is gone:\n{end}"));
    assert!(
        said < end.find("strategy ").expect(end),
        "said above the table:\n{end}"
    );
}

/// A signal after the watchdog's stop exits at once, and still says what the panel held, under
/// its last frame: the line saying the target is dead or frozen was lost with the process.
#[test]
fn a_signal_after_a_frozen_target_still_says_it() {
    let mock =
        mock_server::MockServer::start(mock_server::Profile::fixed(Duration::from_millis(20))).unwrap();
    let url = format!("{}/v1", mock.uri());
    let freezer = std::thread::spawn(move || crate::util::freeze_target_after(mock, 50));
    let seen = in_pty_with(
        &[
            "compare",
            "-n",
            "100000",
            "-c",
            "4",
            "--timeout",
            "600s",
            "--strategies",
            "async",
            "--target",
            &url,
        ],
        "the target stopped answering: no new requests",
        1,
    );
    let _held = freezer.join().unwrap();
    let end = &seen.end;
    assert_eq!(seen.code, Some(130), "{end}");
    let said = end
        .find("answered none of 3 probes in a row")
        .unwrap_or_else(|| panic!("the probes' line is gone:\n{end}"));
    assert!(said < end.find("second SIGINT: exiting now").expect(end), "{end}");
    // The panel's last frame stays whole above them (they were printed where its cursor was,
    // over its rows).
    let kept = end
        .find("the target stopped answering: no new requests")
        .expect(end);
    assert!(end.find("in flight").expect(end) < kept && kept < said, "{end}");
    assert!(
        end[kept..said].lines().count() <= 2,
        "the lines go under the panel:\n{end}"
    );
}

/// A terminal that never answers where its cursor is cannot have the panel: the run goes on
/// with progress lines (`--progress-every`), its cursor shown, and ends with the table.
#[test]
fn a_terminal_that_cannot_draw_the_panel_gets_the_lines() {
    let seen = pty_run(
        &[
            "compare",
            "-n",
            "150",
            "-c",
            "1",
            "--latency",
            "30ms",
            "--strategies",
            "async",
            "--progress-every",
            "300ms",
        ],
        "asyncbench: async ",
        0,
        false,
    );
    assert_eq!(seen.code, Some(0), "{}", seen.end);
    assert!(!seen.mid.is_empty(), "no progress line:\n{}", seen.end);
    assert!(seen.mid.iter().all(|s| !s.contains("▶")), "{}", seen.end);
    assert!(seen.end.contains("async             1   150/150"), "{}", seen.end);
}
