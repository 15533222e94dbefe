//! Reliability and security: a fault matrix over every strategy with retries on and off, a
//! target that dies mid-run, resource limits, and the API key never leaking.

use std::process::Command;
use std::time::{Duration, Instant};

use asyncbench::compare;
use asyncbench::internals::{check_open_files, files_needed};
use asyncbench::model::retry::{RetryPolicy, RetryPreset};
use asyncbench::model::strategy::Strategy;
use mock_server::{MockServer, Profile};

use crate::util::{config, fast_retry, open_loop};

/// 30 % 429s, 10 % 5xx, resets and hangs mixed, retries off and on: in every strategy every
/// request ends in exactly one outcome, the attempts sent equal what the mock received, and no
/// run outlasts what its timeouts and backoff allow.
#[test]
fn fault_matrix_every_strategy_accounts_for_everything() {
    for retry in [RetryPolicy::preset(RetryPreset::None), fast_retry(3)] {
        // Arrange
        let profile = Profile {
            rate_429: 0.3,
            rate_500: 0.05,
            rate_503: 0.05,
            rate_reset: 0.05,
            rate_hang: 0.05,
            retry_after: Duration::from_millis(20),
            latency: "2ms".parse().unwrap(),
            seed: Some(3),
            ..Profile::default()
        };
        let n = 40;
        let mut cfg = config(&Strategy::ALL, n, profile);
        cfg.timeout = Duration::from_millis(300);
        cfg.concurrency = 8;
        cfg.batch_size = 8;
        cfg.retry = retry.clone();
        // Act
        let t = Instant::now();
        let report = compare(&cfg).unwrap();
        let elapsed = t.elapsed();
        // Assert
        let attempts = u64::from(retry.attempts);
        // Worst case per request: every attempt times out, with the longest wait between.
        let per_request = cfg.timeout.as_secs_f64() * attempts as f64 + 0.05 * (attempts - 1) as f64 + 0.01;
        let mut bound = 0.0;
        for s in &report.strategies {
            assert!(s.accounted_ok, "{} ({}): {}", s.id, retry.name, s.accounted);
            let c = s.server.as_ref().unwrap();
            assert!(
                c.matches,
                "{}: sent {} received {}",
                s.id, c.attempts_sent, c.requests_received
            );
            assert!(s.attempts <= n * attempts);
            let waves = n.div_ceil(s.concurrency.unwrap()) as f64;
            let pauses = if s.id == Strategy::Batched {
                (waves - 1.0) * cfg.pause.as_secs_f64()
            } else {
                0.0
            };
            // An upper bound is the point here (no request outlives its deadlines), so it gets
            // room for a machine busy with other work: twice the worst case, plus 10 s.
            let allowed = 2.0 * (waves * per_request + pauses) + 10.0;
            assert!(
                s.wall_s <= allowed,
                "{}: {} s, more than its timeouts allow ({allowed} s)",
                s.id,
                s.wall_s
            );
            bound += allowed;
        }
        assert!(elapsed.as_secs_f64() <= bound + 30.0);
        if retry.attempts > 1 {
            assert!(report.strategies.iter().all(|s| s.retries > 0));
        }
    }
}

/// The target dies halfway: the run finishes without hanging, counts transport errors, writes a
/// report marked partial, and exits 4.
#[test]
fn a_dying_target_gives_a_partial_report_and_exit_4() {
    // Arrange: an external target (the mock, as far as the harness knows, is any URL).
    let server = MockServer::start(Profile::fixed(Duration::from_millis(10))).unwrap();
    let url = format!("{}/v1", server.uri());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = Command::new(env!("CARGO_BIN_EXE_asyncbench"))
        // One round unless a test asks for more: the counts the tests check are per round.
        .env("ASYNCBENCH_ROUNDS", "1")
        .args([
            "compare",
            "-q",
            "-n",
            "300",
            "--strategies",
            "sequential,async",
            "--timeout",
            "2s",
            "--target",
            &url,
        ])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Act: stop the target once it has answered 30 requests (sequential needs 3 s for 300 ×
    // 10 ms).
    let _held = crate::util::kill_target_after(server, 30);
    let t = Instant::now();
    let o = child.wait_with_output().unwrap();
    // Assert
    assert!(t.elapsed() < Duration::from_secs(30), "the run hung");
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("the target stopped answering during sequential"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["complete"], false);
    let s = &report["strategies"].as_array().unwrap()[0];
    assert_eq!(s["id"], "sequential");
    assert_eq!(s["accounted"], "300/300");
    assert!(s["outcomes"]["transport"].as_u64().unwrap() > 0);
    assert!(s["outcomes"]["ok"].as_u64().unwrap() > 0);
    assert_eq!(
        report["strategies"].as_array().unwrap().len(),
        1,
        "nothing ran after the target died"
    );
}

/// 10 000 in flight needs about 20 000 files with the embedded mock (both ends in-process) and
/// 10 000 against an external target; a limit below that is a clear error, not socket errors.
#[test]
fn open_file_needs_are_computed_and_checked() {
    let mut cfg = config(&[Strategy::Async], 10_000, Profile::default());
    cfg.concurrency = 10_000;
    assert_eq!(files_needed(&cfg).files, 20_256);
    let e = check_open_files(&cfg, files_needed(&cfg), 4096)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid --concurrency 10000:") && e.contains("4096") && e.contains("--target"),
        "{e}"
    );
    assert!(check_open_files(&cfg, files_needed(&cfg), 1 << 20).is_ok());
    // A batch's size sets a batched run's sockets, and is the flag named.
    let mut batched = config(
        &[Strategy::Sequential, Strategy::Batched],
        10_000,
        Profile::default(),
    );
    (batched.concurrency, batched.batch_size) = (8, 5_000);
    assert_eq!(files_needed(&batched).files, 10_256);
    let e = check_open_files(&batched, files_needed(&batched), 4096)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("invalid --batch-size 5000:"), "{e}");
    cfg.endpoint = asyncbench::Endpoint::External(asyncbench::Target::external("http://127.0.0.1:1/v1"));
    assert_eq!(files_needed(&cfg).files, 10_256);
    // No limit in an open loop: what its schedule sends within one timeout (20/s for 60 s);
    // the limit alone (2⁶⁴ − 1) overflowed the count.
    cfg.concurrency = 0;
    cfg.stop = asyncbench::model::plan::Stop::Duration(std::time::Duration::from_secs(5));
    cfg.load = open_loop(20.0);
    cfg.timeout = std::time::Duration::from_secs(60);
    assert_eq!(files_needed(&cfg).files, 1_201 + 256);
    let e = check_open_files(&cfg, files_needed(&cfg), 1024)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("invalid --concurrency 0: it needs about 1457 open files"),
        "{e}"
    );
}

/// The API key is read from the environment, sent, and appears in no output, report, log or
/// chart, whether the target accepts it or rejects it.
#[test]
fn the_api_key_appears_in_no_output() {
    const SECRET: &str = "sk-test-TOPSECRET-4242";
    for (env_key, want_ok) in [(SECRET, true), ("sk-test-WRONGSECRET-99", false)] {
        // Arrange: a mock that requires SECRET.
        let server = MockServer::start(Profile {
            api_key: Some(SECRET.into()),
            ..Profile::default()
        })
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        // Act
        let o = Command::new(env!("CARGO_BIN_EXE_asyncbench"))
            // One round unless a test asks for more: the counts the tests check are per round.
            .env("ASYNCBENCH_ROUNDS", "1")
            .env("MY_TEST_KEY", env_key)
            .args([
                "compare",
                "-n",
                "5",
                "-c",
                "2",
                "--strategies",
                "sequential,async",
                "--api-key-env",
                "MY_TEST_KEY",
            ])
            .arg("--target")
            .arg(format!("{}/v1", server.uri()))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        // Assert: the key worked (or was refused) …
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stats = server.stats();
        assert_eq!(stats.status(if want_ok { 200 } else { 401 }), 10, "{stdout}");
        // … and is nowhere: stdout, stderr, or any file written.
        for (what, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            assert!(
                !String::from_utf8_lossy(text).contains(env_key),
                "{what} leaks the key"
            );
        }
        let mut files = 0;
        for entry in std::fs::read_dir(&out).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!bytes.windows(env_key.len()).any(|w| w == env_key.as_bytes()));
            assert!(!bytes.windows(9).any(|w| w == b"TOPSECRET"));
            files += 1;
        }
        // report, csv, hlog and the throughput chart always; .hgrm and latency charts when ok.
        assert!(files >= if want_ok { 11 } else { 5 }, "{files} files written");
    }
}

/// An unwritable --out is refused before any run: exit 2, one line naming it.
#[test]
fn an_unwritable_out_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    for out in [
        file.join("sub"),
        std::path::PathBuf::from("/proc/asyncbench-cannot-write"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_asyncbench"))
            // One round unless a test asks for more: the counts the tests check are per round.
            .env("ASYNCBENCH_ROUNDS", "1")
            .args(["compare", "-n", "2", "--latency", "1ms", "-q", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--out") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(o.stdout.is_empty(), "nothing ran");
    }
}
