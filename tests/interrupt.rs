//! Runs that end early keep what they measured: SIGINT and SIGTERM (with a grace period for
//! requests in flight, and a second signal that quits at once), a target that dies mid-sweep,
//! output files that cannot be written, and the rules for `--out`.

use std::path::Path;
use std::time::Duration;

use mock_server::{MockServer, Profile};
use rustix::process::Signal;

use crate::util::{bin, json, signal, spawn, wait};

fn out_arg(dir: &Path) -> String {
    dir.to_str().unwrap().to_owned()
}

/// The first SIGINT stops issuing requests, lets those in flight finish, prints the table and
/// writes the report marked incomplete with the reason (how many of the requests asked for were
/// issued; for a run of a duration, how many), then exits 130; SIGTERM does the same with 143.
#[test]
fn a_signal_keeps_what_was_measured_and_exits_with_its_code() {
    for (sig, code, name, stop) in [
        (Signal::INT, 130, "SIGINT", ["-n", "1000"]),
        (Signal::TERM, 143, "SIGTERM", ["-z", "60s"]),
    ] {
        // Arrange: sequential would need 20 s (60 s).
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let child = spawn(&[
            "compare",
            "-q",
            stop[0],
            stop[1],
            "--latency",
            "20ms",
            "--strategies",
            "sequential,async",
            "--out",
            &out_arg(&out),
        ]);
        // Act
        std::thread::sleep(Duration::from_millis(1500));
        signal(&child, sig);
        let (o, _) = wait(child, Duration::from_secs(30));
        // Assert
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            stdout.contains(&format!(
                "INCOMPLETE RUN: interrupted by {name} during sequential"
            )),
            "{stdout}"
        );
        let report = json(&out.join("report.json"));
        assert_eq!(report["complete"], false);
        let reason = report["incomplete_reason"].as_str().unwrap();
        assert!(reason.contains(name), "{reason}");
        let s = report["strategies"].as_array().unwrap();
        assert_eq!(s.len(), 1, "async did not start");
        let issued = s[0]["issued"].as_u64().unwrap();
        let of = if stop[0] == "-n" { " of 1000" } else { "" };
        assert!(
            reason.contains(&format!("during sequential ({issued}{of} requests issued)")),
            "{reason}"
        );
        assert!(issued > 10 && issued < 1000, "{issued}");
        assert_eq!(s[0]["accounted"], format!("{issued}/{issued}"));
        assert_eq!(s[0]["accounted_ok"], true);
        assert_eq!(
            s[0]["ended_by"], "signal",
            "neither its count nor a duration ended it"
        );
        assert!(out.join("sequential.hgrm").exists() && out.join("run.hlog").exists());
    }
}

/// Requests stuck in flight (the mock hangs them, the deadline is a minute away) are given the
/// grace period, then counted as `cancelled`, each with its line in `requests.jsonl` (its one
/// attempt cancelled): the run ends in seconds, not at the deadline, in every strategy.
#[test]
fn hung_requests_are_cancelled_after_the_grace_period() {
    for (strategy, in_flight) in [
        ("sequential", 1),
        ("threadpool", 4),
        ("async", 4),
        ("async-single", 4),
        ("async-offload", 4),
        ("batched", 4),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let child = spawn(&[
            "compare",
            "-q",
            "-n",
            "50",
            "-c",
            "4",
            "--rate-hang",
            "1",
            "--timeout",
            "60s",
            "--strategies",
            strategy,
            "--out",
            &out_arg(&out),
        ]);
        std::thread::sleep(Duration::from_millis(1000));
        signal(&child, Signal::INT);
        let (o, took) = wait(child, Duration::from_secs(40));
        assert_eq!(
            o.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // Grace is 5 s; the deadline 60 s.
        assert!(took < Duration::from_secs(30), "{strategy}: {took:?}");
        let s = &json(&out.join("report.json"))["strategies"][0];
        assert_eq!(s["issued"], in_flight, "{strategy}");
        assert_eq!(s["outcomes"]["cancelled"], in_flight, "{strategy}");
        assert_eq!(s["accounted"], format!("{in_flight}/{in_flight}"), "{strategy}");
        let log = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
        let mut lines: Vec<serde_json::Value> =
            log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        lines.sort_by_key(|l| l["index"].as_u64());
        assert_eq!(lines.len(), in_flight, "{strategy}: {log}");
        for (i, l) in lines.iter().enumerate() {
            assert_eq!(l["index"], i, "{strategy}: {l}");
            assert_eq!(l["outcome"], "cancelled", "{strategy}: {l}");
            assert_eq!(l["attempts"], 1, "{strategy}: {l}");
        }
    }
}

/// A second signal quits at once, writing nothing more.
#[test]
fn a_second_signal_quits_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = spawn(&[
        "compare",
        "-q",
        "-n",
        "50",
        "-c",
        "4",
        "--rate-hang",
        "1",
        "--timeout",
        "60s",
        "--strategies",
        "async",
        "--out",
        &out_arg(&out),
    ]);
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, Signal::INT);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::INT);
    let (o, took) = wait(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(130));
    assert!(
        took < Duration::from_secs(4),
        "{took:?}: the grace period was not cut short"
    );
    assert!(!out.join("report.json").exists());
    assert!(String::from_utf8_lossy(&o.stderr).contains("second SIGINT"));
}

/// `sweep` and `reproduce` keep what they measured on SIGINT too.
#[test]
fn sweep_and_reproduce_are_interruptible() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let child = spawn(&[
        "sweep",
        "-q",
        "-n",
        "1000",
        "--latency",
        "20ms",
        "--strategies",
        "threadpool",
        "--concurrency",
        "1,2",
        "--out",
        &out_arg(&out),
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, Signal::INT);
    let (o, _) = wait(child, Duration::from_secs(30));
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sweep = json(&out.join("sweep.json"));
    assert_eq!(sweep["complete"], false);
    assert_eq!(sweep["points"].as_array().unwrap().len(), 1);
    assert_eq!(sweep["points"][0]["complete"], false);
    assert!(String::from_utf8_lossy(&o.stdout).contains("INCOMPLETE SWEEP"));
    assert_eq!(
        json(&out.join("points/concurrency-1/report.json"))["complete"],
        false
    );

    let out = tmp.path().join("reproduce");
    let child = spawn(&["reproduce", "-q", "--out", &out_arg(&out)]);
    std::thread::sleep(Duration::from_millis(2500));
    signal(&child, Signal::INT);
    let (o, _) = wait(child, Duration::from_secs(30));
    assert_eq!(o.status.code(), Some(130));
    let report = json(&out.join("report.json"));
    assert_eq!(report["complete"], false);
    assert_eq!(report["strategies"][0]["id"], "sequential");
}

/// A search (`sweep --find`) stopped by SIGINT exits 130 with what it measured: the point in
/// progress written and marked incomplete, and the strategy's search kept, marked cut short.
#[test]
fn an_interrupted_search_keeps_its_point_and_says_it_was_cut_short() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("find");
    let child = spawn(&[
        "sweep",
        "-q",
        "-n",
        "1000",
        "--latency",
        "20ms",
        "--strategies",
        "async,threadpool",
        "--find",
        "concurrency=1..64",
        "--out",
        &out_arg(&out),
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, Signal::INT);
    let (o, _) = wait(child, Duration::from_secs(30));
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sweep = json(&out.join("sweep.json"));
    assert_eq!(sweep["complete"], false);
    assert_eq!(sweep["points"].as_array().unwrap().len(), 1);
    assert_eq!(sweep["points"][0]["complete"], false);
    let search = sweep["search"].as_array().unwrap();
    assert_eq!(search.len(), 1, "only async's search began: {search:?}");
    assert_eq!(search[0]["end"]["kind"], "budget");
    assert!(
        search[0]["reason"].as_str().unwrap().contains("cut short"),
        "{}",
        search[0]
    );
    assert_eq!(
        json(&out.join("points/async-concurrency-1/report.json"))["complete"],
        false
    );
}

/// When the target dies during a sweep, the finished points and the partial one are written,
/// marked incomplete, and the sweep exits 4.
#[test]
fn a_sweep_whose_target_dies_writes_what_ran_and_exits_4() {
    let server = MockServer::start(Profile::fixed(Duration::from_millis(10))).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = spawn(&[
        "sweep",
        "-q",
        "-n",
        "300",
        "--strategies",
        "threadpool",
        "--concurrency",
        "1,2",
        "--timeout",
        "2s",
        "--target",
        &format!("{}/v1", server.uri()),
        "--out",
        &out_arg(&out),
    ]);
    // The target dies during the first point (300 requests of 10 ms, one at a time).
    let _held = crate::util::kill_target_after(server, 30);
    let (o, _) = wait(child, Duration::from_secs(60));
    assert_eq!(o.status.code(), Some(4), "{}", String::from_utf8_lossy(&o.stderr));
    let sweep = json(&out.join("sweep.json"));
    assert_eq!(sweep["complete"], false);
    assert!(
        sweep["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("stopped answering")
    );
    assert_eq!(sweep["points"][0]["complete"], false);
    let point = json(&out.join("points/concurrency-1/report.json"));
    assert_eq!(point["complete"], false);
    assert!(point["strategies"][0]["outcomes"]["ok"].as_u64().unwrap() > 0);
}

/// When the report cannot be written, the table is printed all the same, and the error names
/// the file (exit 1).
#[test]
fn the_table_is_printed_even_when_writing_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = spawn(&[
        "compare",
        "-q",
        "-n",
        "60",
        "--latency",
        "20ms",
        "--strategies",
        "sequential",
        "--out",
        &out_arg(&out),
    ]);
    // Once the run has started, the folder is replaced by a file: nothing can be written there.
    std::thread::sleep(Duration::from_millis(500));
    std::fs::rename(&out, tmp.path().join("moved")).unwrap();
    std::fs::write(&out, b"not a directory").unwrap();
    let (o, _) = wait(child, Duration::from_secs(30));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("sequential") && l.contains("60/60")),
        "{stdout}"
    );
    assert!(
        stderr.contains("cannot write") && stderr.contains("report.json"),
        "{stderr}"
    );
}

/// A non-empty `--out` is refused (exit 2) unless `--force`, which replaces what an earlier run
/// wrote there and leaves other files alone.
#[test]
fn a_non_empty_out_needs_force_which_replaces_only_our_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("threadpool.hgrm"), b"stale").unwrap();
    std::fs::write(out.join("notes.txt"), b"mine").unwrap();
    let args = [
        "compare",
        "-q",
        "-n",
        "3",
        "--latency",
        "1ms",
        "--strategies",
        "async",
        "--out",
    ];
    let o = bin().args(args).arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--out") && stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(o.stdout.is_empty(), "nothing ran");
    let o = bin().args(args).arg(&out).arg("--force").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !out.join("threadpool.hgrm").exists(),
        "the stale file of an earlier run is gone"
    );
    assert!(out.join("async.hgrm").exists());
    assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
    // Nothing temporary is left behind.
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "{name}");
    }
}

/// The commit in a report is the one the binary was built from, wherever the command runs.
#[test]
fn the_commit_is_the_binarys_not_the_working_directorys() {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .current_dir(tmp.path())
        .args([
            "compare",
            "-q",
            "-n",
            "2",
            "--latency",
            "1ms",
            "--strategies",
            "async",
            "--out",
            "out",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&tmp.path().join("out/report.json"));
    let built = env!("ASYNCBENCH_COMMIT");
    if built.is_empty() {
        assert!(report["git_commit"].is_null());
    } else {
        assert_eq!(report["git_commit"], built);
    }
}

/// A library caller stops one run in-process with its own token, for every strategy: the run
/// ends early with every issued request accounted for, marked incomplete, while a second run
/// in the same process with a token of its own finishes whole (the stop is not process-wide).
#[test]
fn a_stop_token_ends_its_own_run_and_no_other() {
    use asyncbench::compare_until;
    use asyncbench::model::outcome::Outcome;
    use asyncbench::{Signal as Stop, StopToken};
    for s in asyncbench::Strategy::DEFAULT {
        // Arrange: 400 requests of 20 ms at 2 in flight take 4 s or more; the stop comes at 0.3 s.
        let profile = Profile {
            latency: mock_server::LatencySpec::Fixed(Duration::from_millis(20)),
            ..Profile::default()
        };
        let mut stopped_cfg = crate::util::config(&[s], 400, profile.clone());
        stopped_cfg.concurrency = 2;
        stopped_cfg.batch_size = 2;
        let whole_cfg = crate::util::config(&[s], 20, profile);
        let stop = StopToken::new();
        let stopper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                stop.request(Stop::Interrupt);
            })
        };
        // Act
        let other = std::thread::spawn(move || asyncbench::compare(&whole_cfg).unwrap());
        let stopped = compare_until(&stopped_cfg, &stop).unwrap();
        let whole = other.join().unwrap();
        stopper.join().unwrap();
        // Assert
        assert!(!stopped.complete, "{s}: the stopped run says it is incomplete");
        let r = &stopped.strategies[0];
        assert!(
            r.issued < 400,
            "{s}: the stop ended issuing ({} issued)",
            r.issued
        );
        assert!(
            r.accounted_ok,
            "{s}: every issued request has one outcome ({})",
            r.accounted
        );
        assert_eq!(r.outcomes.values().sum::<u64>(), r.issued, "{s}");
        assert!(whole.complete, "{s}: the other run finished whole");
        assert_eq!(whole.strategies[0].count(Outcome::Ok), 20, "{s}");
    }
}

/// A signal stops a Python client as it stops a built-in strategy: asyncbench passes it on,
/// the client sends nothing new, lets its requests in flight finish, reports each and says what
/// it issued, then exits; the run keeps every request it sent (`issued/issued`, the mock
/// agreeing). A Ctrl-C reached the client too (one process group) and killed it at once, and a
/// SIGTERM alone did the same: the requests it had sent were never reported.
#[test]
fn a_signal_stops_every_python_client_with_its_requests_counted() {
    crate::util::python_clients();
    for s in crate::util::python_clients_for(asyncbench::model::plan::Api::Openai) {
        let name = s.to_string();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let mut cmd = bin();
        cmd.args([
            "compare",
            "-n",
            "1000",
            "-c",
            "4",
            "--latency",
            "300ms",
            "--progress-every",
            "1s",
        ])
        .args(["--strategies", &name, "--out", &out_arg(&out)]);
        // Once a request was reported (a progress line with one ok), the client runs.
        let (o, err) = crate::util::interrupt_after_line(cmd, "ok/s; p50", Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(130), "{name}: {err}");
        let report = json(&out.join("report.json"));
        let r = &report["strategies"][0];
        let issued = r["issued"].as_u64().unwrap();
        assert!((1..1000).contains(&issued), "{name}: {issued}");
        assert_eq!(r["accounted"], format!("{issued}/{issued}"), "{name}: {err}");
        assert_eq!(r["accounted_ok"], true, "{name}: {r}");
        assert_eq!(
            r["outcomes"]["ok"], issued,
            "{name}: every request sent finished: {err}"
        );
        assert!(r["external"]["failure"].is_null(), "{name}: {}", r["external"]);
        // The mock received what the client reported sending, no request more.
        let server = &r["server"];
        assert_eq!(
            server["requests_received"], server["attempts_sent"],
            "{name}: {server}"
        );
    }
}
