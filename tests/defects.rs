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

/// A saved report that never ends (`report.json` linked to `/dev/zero`) is refused at its cap by
/// `plot`, `diff` and `merge`, where it was read until memory ran out.
#[test]
fn saved_reports_are_read_to_a_cap() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", tmp.path().join("report.json")).unwrap();
    let dir = tmp.path().to_str().unwrap();
    let out = tmp.path().join("merged");
    for args in [
        &["plot", dir][..],
        &["diff", dir, dir],
        &["merge", dir, dir, "--out", out.to_str().unwrap()],
    ] {
        assert_refused(args, &["report.json", "1024 MiB cap"]);
    }
}

/// A signal while the inputs are read (here a FIFO nobody writes to, which blocks forever)
/// ends the process at once with the signal's code and a line saying nothing ran; while `plot`
/// reads a saved report alike, with a line that speaks of files, not of requests (it said
/// "before any request was sent").
#[test]
fn a_signal_while_loading_inputs_ends_the_process() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let saved = tmp.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    let report = saved.join("report.json");
    assert!(Command::new("mkfifo").arg(&report).status().unwrap().success());
    for (args, line) in [
        (
            vec!["compare", "-n", "5", "--dataset", fifo.to_str().unwrap()],
            "asyncbench: SIGTERM before any request was sent: exiting, nothing written",
        ),
        (
            vec!["plot", saved.to_str().unwrap()],
            "asyncbench: SIGTERM: exiting, no file left half-written",
        ),
    ] {
        let child = crate::util::spawn(&args);
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
            panic!("{args:?}: SIGTERM while loading was ignored");
        };
        let o = o.unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(143), "{args:?}: {err}");
        assert_eq!(err.trim_end(), line, "{args:?}");
    }
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
    // A negative duration or share read as an unknown flag (`-5`), not as the value given.
    assert_refused(&["compare", "--latency", "-5ms"], &["'-5ms'", "--latency"]);
    assert_refused(&["compare", "--timeout", "-1s"], &["'-1s'", "--timeout"]);
    assert_refused(&["sweep", "--max-429", "-0.5"], &["'-0.5'", "--max-429"]);
}

/// A retry policy that could not mean what it says: a million attempts a request (each kept
/// until the request ends: accepted before, tens of MB a request in flight), or a 2xx among
/// the statuses retried (a success, never retried).
#[test]
fn retry_overrides_past_sense_are_refused() {
    assert_refused(
        &["compare", "--retry-attempts", "1000000"],
        &["'1000000'", "--retry-attempts", "at most 100"],
    );
    assert_refused(
        &["compare", "--retry-statuses", "429,200"],
        &["'200'", "--retry-statuses", "never retried"],
    );
    let (code, _, err) = run(&[
        "compare",
        "-n",
        "1",
        "--rounds",
        "1",
        "-q",
        "--strategies",
        "async",
        "--retry-attempts",
        "100",
        "--retry-statuses",
        "307,429",
    ]);
    assert_eq!(code, Some(0), "{err}");
}

/// A server that answers every request with `status` and a body echoing what it was sent: the
/// path and query, the `Authorization` headers, then `filler` bytes of `x` and `tail` (so a
/// test can place a secret across the 200-byte sample's end).
struct Echo {
    status: u16,
    filler: usize,
    tail: String,
}

impl wiremock::Respond for Echo {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let auth: Vec<_> = req
            .headers
            .get_all("authorization")
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect();
        let body = format!(
            "{}{} url={} auth={}",
            "x".repeat(self.filler),
            self.tail,
            req.url,
            auth.join("|")
        );
        wiremock::ResponseTemplate::new(self.status).set_body_raw(body, "text/plain")
    }
}

/// Starts an [`Echo`] server on its own runtime; returns the runtime (keep it alive) and server.
fn echo_server(echo: Echo) -> (tokio::runtime::Runtime, wiremock::MockServer) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::any())
            .respond_with(echo)
            .mount(&server)
            .await;
        server
    });
    (rt, server)
}

/// Every file a run wrote, and its stdout and stderr, as one text to search for leaks.
fn everything(o: &std::process::Output, out: &std::path::Path) -> String {
    let mut all = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    if let Ok(dir) = std::fs::read_dir(out) {
        for e in dir {
            all += &String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap());
        }
    }
    all
}

/// A user name or password in the target URL is refused in every client alike (reqwest would
/// send it as Basic auth, ureq would not), with exit 2, the password nowhere in the message.
#[test]
fn credentials_in_the_url_are_refused() {
    let (code, _, err) = run(&[
        "compare",
        "-n",
        "2",
        "--target",
        "http://alice:pw-s3cr3t@127.0.0.1:9/v1",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("user name or password") && err.contains("***@"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t") && !err.contains("alice"), "{err}");
}

/// A secret echoed by the server across the sample's 200-byte end is masked whole before the
/// cut, in every strategy: not even its start reaches stdout, report.json or report.html.
#[test]
fn secrets_are_masked_before_the_sample_is_cut() {
    let key = "topsecretvalue-0123456789";
    let (_rt, server) = echo_server(Echo {
        status: 401,
        filler: 185,
        tail: key.into(),
    });
    for strategy in asyncbench::Strategy::ALL.map(|s| s.to_string()) {
        let strategy = strategy.as_str();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = bin()
            .args([
                "compare",
                "-q",
                "-n",
                "2",
                "--strategies",
                strategy,
                "--api-key-env",
                "AB_MASK_KEY",
            ])
            .arg("--target")
            .arg(format!("{}/v1", server.uri()))
            .arg("--out")
            .arg(&out)
            .env("AB_MASK_KEY", key)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
        let all = everything(&o, &out);
        assert!(all.contains("xxxxxxxxxx"), "the sample is there");
        assert!(!all.contains("topse"), "{strategy}: the key's start leaked");
    }
}

/// A base URL with a query (Azure's `?api-version=…`) keeps it after the appended path, and a
/// credential in the query (`api_key=…`) is sent but never printed or written: not in the
/// table, the report, the page, the charts or the error samples (which echo the URL).
#[test]
fn a_query_stays_in_place_and_its_credentials_are_masked() {
    let (_rt, server) = echo_server(Echo {
        status: 400,
        filler: 0,
        tail: String::new(),
    });
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let target = format!(
        "{}/openai/deployments/x?api-version=2024-06-01&api_key=qsecret-777",
        server.uri()
    );
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "2",
            "--strategies",
            "sequential,async",
            "--target",
            &target,
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Vec<_> = _rt
        .block_on(server.received_requests())
        .unwrap()
        .into_iter()
        .filter(|r| r.method == wiremock::http::Method::POST)
        .collect();
    assert_eq!(got.len(), 4);
    for r in &got {
        assert_eq!(r.url.path(), "/openai/deployments/x/chat/completions");
        assert_eq!(r.url.query(), Some("api-version=2024-06-01&api_key=qsecret-777"));
    }
    let all = everything(&o, &out);
    assert!(all.contains("api_key=***"), "the target is shown, masked");
    assert!(!all.contains("qsecret"), "the query's key leaked");
}

/// A key given as `-H 'Authorization: …'` is the key: sent once (not beside $OPENAI_API_KEY's),
/// no false "no Authorization header" warning, and a keyed standalone mock is reset with it
/// before each strategy, so the run reports its state as reset, not shared.
#[test]
fn an_authorization_header_is_the_key() {
    // Once, whatever the variable holds.
    let (rt, server) = echo_server(Echo {
        status: 401,
        filler: 0,
        tail: String::new(),
    });
    let o = bin()
        .args(["compare", "-q", "-n", "1", "--strategies", "sequential,async"])
        .args(["-H", "Authorization: Bearer hkey-1234567890"])
        .arg("--target")
        .arg(format!("{}/v1", server.uri()))
        .env("OPENAI_API_KEY", "sk-envkey-1234567890")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("-H Authorization is sent"), "{err}");
    assert!(!err.contains("without an Authorization header"), "{err}");
    assert!(err.contains("the Authorization header given with -H"), "{err}");
    for r in rt
        .block_on(server.received_requests())
        .unwrap()
        .iter()
        .filter(|r| r.method == wiremock::http::Method::POST)
    {
        let auth: Vec<_> = r.headers.get_all("authorization").iter().collect();
        assert_eq!(auth.len(), 1, "one Authorization header");
        assert_eq!(auth[0], "Bearer hkey-1234567890");
    }
    // A keyed mock: served, and reset before each strategy.
    let mock = mock_server::MockServer::start(mock_server::Profile {
        api_key: Some("hkey-1234567890".into()),
        ..mock_server::Profile::default()
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args(["compare", "-q", "-n", "3", "--strategies", "sequential,async"])
        .args(["-H", "authorization: bearer hkey-1234567890"])
        .arg("--target")
        .arg(format!("{}/v1", mock.uri()))
        .arg("--out")
        .arg(&out)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("without an Authorization header"), "{err}");
    let report = crate::util::json(&out.join("report.json"));
    assert_eq!(report["config"]["isolation"], "reset", "{}", report["config"]);
    assert_eq!(mock.stats().status(401), 0);
}

/// A certificate the clients do not trust is named as such, with the two ways out, not taken
/// for a server that is down.
#[test]
fn an_untrusted_certificate_is_named_with_the_way_out() {
    let mock = mock_server::MockServer::start_with(
        mock_server::Profile::default(),
        mock_server::ServerOptions {
            tls: Some(mock_server::TlsSource::Generated),
            ..mock_server::ServerOptions::default()
        },
    )
    .unwrap();
    let (code, _, err) = run(&[
        "compare",
        "-q",
        "-n",
        "2",
        "--strategies",
        "sequential,async",
        "--target",
        &format!("{}/v1", mock.uri()),
    ]);
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("TLS certificate was not accepted (invalid peer certificate: UnknownIssuer)"),
        "{err}"
    );
    assert!(err.contains("--ca-cert") && err.contains("--insecure"), "{err}");
    assert!(!err.contains("is it up"), "{err}");
}

/// Every line an `async-offload` run writes is valid against requests.schema.json, and a run
/// bounded by `-z` alone writes `requests: null` (not the largest integer) with each strategy's
/// issued count as the truth, valid against report.schema.json; `batched` ends at the deadline
/// instead of sleeping a whole pause past it.
#[test]
fn files_match_their_schemas_and_duration_runs_end_on_time() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "compare",
            "-q",
            "-z",
            "300ms",
            "--latency",
            "10ms",
            "-c",
            "4",
            "--pause",
            "5s",
        ])
        .args(["--strategies", "async-offload,batched", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = jsonschema::validator_for(
        &serde_json::from_str(include_str!("../schema/requests.schema.json")).unwrap(),
    )
    .unwrap();
    let text = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
    let mut offload = 0;
    for l in text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
    {
        let errors: Vec<String> = lines.iter_errors(&l).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}: {l}");
        offload += usize::from(l["strategy"] == "async-offload");
    }
    assert!(offload > 0);
    let report = crate::util::json(&out.join("report.json"));
    let schema = jsonschema::validator_for(
        &serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap(),
    )
    .unwrap();
    let errors: Vec<String> = schema.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        report["config"]["requests"].is_null(),
        "{}",
        report["config"]["requests"]
    );
    assert!(report["config"]["workload"]["requests"].is_null());
    let batched = &report["strategies"][1];
    assert_eq!(batched["id"], "batched");
    assert_eq!(batched["requests"], batched["issued"]);
    // One batch of 4, then a 5 s pause that would pass the 300 ms deadline: not slept.
    assert!(batched["wall_s"].as_f64().unwrap() < 5.0, "{}", batched["wall_s"]);
    assert_eq!(batched["ended_by"], "duration");
}

/// Runs one shard of a small run into `dir`; returns its report.json as a value.
fn shard(dir: &std::path::Path, k: u64, strategies: &str, extra: &[&str]) -> serde_json::Value {
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "8",
            "--latency",
            "1ms",
            "--strategies",
            strategies,
        ])
        .args(["--shard", &format!("{k}/2")])
        .args(extra)
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    crate::util::json(&dir.join("report.json"))
}

/// Merges `reports` (written as files) with `extra` flags; returns exit code and stderr.
fn merge_files(
    tmp: &std::path::Path,
    reports: &[&serde_json::Value],
    extra: &[&str],
) -> (Option<i32>, String) {
    let mut cmd = bin();
    cmd.arg("merge");
    for (i, r) in reports.iter().enumerate() {
        let f = tmp.join(format!("r{i}.json"));
        std::fs::write(&f, serde_json::to_string(r).unwrap()).unwrap();
        cmd.arg(f);
    }
    let out = tmp.join(format!("merged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = cmd.args(extra).arg("--out").arg(&out).output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// `merge` checks what it relies on: the same strategies in every shard, every histogram there,
/// counts that add up in each report, every changed setting named (a changed `-c` is named as
/// the concurrency, not only the batch size it implies); an unreadable report is bad input
/// (exit 2), and a merge missing a shard is written but exits 6, not 0.
#[test]
fn merge_refuses_what_does_not_add_up() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let a = shard(&t.join("a"), 0, "sequential,async", &[]);
    let b = shard(&t.join("b"), 1, "sequential,async", &[]);
    assert_eq!(merge_files(t, &[&a, &b], &[]).0, Some(0));
    // A shard that ran other strategies.
    let only_async = shard(&t.join("c"), 1, "async", &[]);
    let (code, err) = merge_files(t, &[&a, &only_async], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("strategies [async]") && err.contains("[sequential, async]"),
        "{err}"
    );
    // A histogram missing.
    let mut no_hist = b.clone();
    let name = no_hist["strategies"][1]["histograms"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    no_hist["strategies"][1]["histograms"]
        .as_object_mut()
        .unwrap()
        .remove(&name);
    let (code, err) = merge_files(t, &[&a, &no_hist], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&name) && err.contains("missing"), "{err}");
    // Counts that do not add up.
    let mut bad_counts = b.clone();
    let ok = bad_counts["strategies"][0]["outcomes"]["ok"].as_u64().unwrap();
    bad_counts["strategies"][0]["outcomes"]["ok"] = (ok + 3).into();
    let (code, err) = merge_files(t, &[&a, &bad_counts], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("outcomes for 4 requests issued"), "{err}");
    // A changed -c: the concurrency is named.
    let other_c = shard(&t.join("d"), 1, "sequential,async", &["-c", "8"]);
    let (code, err) = merge_files(t, &[&a, &other_c], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("config.concurrency is 8 there, 50 in report 0"),
        "{err}"
    );
    // Unreadable: exit 2.
    let o = bin()
        .args(["merge", "/nonexistent/report.json", "--out"])
        .arg(t.join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    // A missing shard, allowed: written, incomplete, exit 6.
    let (code, err) = merge_files(t, &[&a], &["--allow-partial"]);
    assert_eq!(code, Some(6), "{err}");
}

/// A target frozen mid-run (SIGSTOP: it accepts connections and answers nothing) is found by
/// the watchdog's probes and the run ends with exit 4 in seconds, not after its requests' ten
/// minute deadlines; the mock's counters, unreadable then, are written as null, not as zeros
/// that read as a failed cross-check.
#[test]
fn a_frozen_target_ends_the_run_with_exit_4() {
    let mock =
        mock_server::MockServer::start(mock_server::Profile::fixed(Duration::from_millis(20))).unwrap();
    let url = mock.uri();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = bin()
        .args(["compare", "-q", "-n", "100000", "-c", "4", "--timeout", "600s"])
        .args([
            "--strategies",
            "async,sequential",
            "--target",
            &format!("{url}/v1"),
            "--out",
        ])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _frozen = crate::util::freeze_target_after(mock, 50);
    let (o, _) = crate::util::wait(child, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains("dead or frozen"), "{err}");
    assert!(!err.contains("accounting mismatch"), "{err}");
    let report = crate::util::json(&out.join("report.json"));
    assert_eq!(report["complete"], false);
    assert!(
        report["incomplete_reason"]
            .as_str()
            .unwrap()
            .contains("stopped answering during async")
    );
    let s = &report["strategies"];
    assert_eq!(s.as_array().unwrap().len(), 1, "sequential did not run");
    assert!(s[0]["server"].is_null(), "{}", s[0]["server"]);
    let issued = s[0]["issued"].as_u64().unwrap();
    assert_eq!(s[0]["accounted"], format!("{issued}/{issued}"));
}

/// A target that dies mid-run is established dead by the watchdog in a fraction of a second,
/// and the thread pool stops issuing: it does not fire the rest of its 200 000 requests into
/// refused connections.
#[test]
fn a_dead_target_stops_the_issuing() {
    let mock = mock_server::MockServer::start(mock_server::Profile::fixed(Duration::from_millis(1))).unwrap();
    let url = mock.uri();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "200000",
            "-c",
            "8",
            "--strategies",
            "threadpool",
        ])
        .args(["--target", &format!("{url}/v1"), "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _dead = crate::util::kill_target_after(mock, 500);
    let (o, _) = crate::util::wait(child, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(4), "{err}");
    let report = crate::util::json(&out.join("report.json"));
    let s = &report["strategies"][0];
    let issued = s["issued"].as_u64().unwrap();
    assert!(
        issued < 100_000,
        "issued {issued} of 200 000 after the target died"
    );
    assert_eq!(s["accounted"], format!("{issued}/{issued}"));
}

/// Attempts that never reached the mock as requests are no accounting failure: a mock refusing
/// connections over `--max-connections` is not "sent N but received M" (exit 0, the refusals
/// shown as transport errors), and `--http2` against a mock that speaks HTTP/1.1 only is "no
/// request succeeded" (exit 5), not exit 3.
#[test]
fn unreached_attempts_are_not_an_accounting_failure() {
    let mock = mock_server::MockServer::start_with(
        mock_server::Profile::fixed(Duration::from_millis(5)),
        mock_server::ServerOptions {
            max_connections: Some(2),
            ..mock_server::ServerOptions::default()
        },
    )
    .unwrap();
    let url = format!("{}/v1", mock.uri());
    let (code, _, err) = run(&[
        "compare",
        "-q",
        "-n",
        "100",
        "-c",
        "8",
        "--strategies",
        "async",
        "--target",
        &url,
    ]);
    assert!(!err.contains("accounting mismatch"), "{err}");
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&[
        "compare",
        "-q",
        "-n",
        "20",
        "-c",
        "4",
        "--http2",
        "--strategies",
        "async",
        "--target",
        &url,
    ]);
    assert!(!err.contains("accounting mismatch"), "{err}");
    assert_eq!(code, Some(5), "{err}");
}

/// When inputs overlap, a warning says what wins and the report shows what was sent: the body
/// file's `max_tokens` and `model` over the flags', a dataset row's `max_tokens` over
/// `--max-tokens`, the dataset over `--prompt`; `--export-chunks` without `--out` or a stream
/// is refused instead of doing nothing.
#[test]
fn overlapping_inputs_say_what_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let body = tmp.path().join("body.json");
    std::fs::write(
        &body,
        r#"{"max_tokens": 5, "model": "from-file", "temperature": 0.2}"#,
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "3",
            "--latency",
            "1ms",
            "--strategies",
            "async",
            "--max-tokens",
            "40",
        ])
        .arg("--body-file")
        .arg(&body)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("--body-file sets model, max_tokens: its values are sent"),
        "{err}"
    );
    let report = crate::util::json(&out.join("report.json"));
    assert_eq!(report["config"]["workload"]["max_tokens"], 5);
    assert_eq!(report["config"]["workload"]["model"], "from-file");
    // Histogram values (three significant digits): 5 tokens each.
    let max = report["strategies"][0]["output_tokens_per_request"]["max"]
        .as_f64()
        .unwrap();
    assert!((max - 5.0).abs() < 0.01, "{max}");
    // A dataset: rows' own max_tokens are sent, --prompt is not.
    let rows = tmp.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        "{\"prompt\": \"a\", \"max_tokens\": 2}\n{\"prompt\": \"b\"}\n",
    )
    .unwrap();
    let out = tmp.path().join("out2");
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
            "--max-tokens",
            "7",
        ])
        .args(["--prompt", "mine", "--dataset"])
        .arg(&rows)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("--prompt is not sent"), "{err}");
    assert!(err.contains("1 of 2 --dataset rows set max_tokens"), "{err}");
    let tokens =
        crate::util::json(&out.join("report.json"))["strategies"][0]["output_tokens_per_request"].clone();
    let near = |v: &serde_json::Value, x: f64| (v.as_f64().unwrap() - x).abs() < 0.01;
    assert!(near(&tokens["p50"], 2.0) && near(&tokens["max"], 7.0), "{tokens}");
    assert_refused(
        &["compare", "-n", "2", "--export-chunks", "--stream"],
        &["--export-chunks", "--out"],
    );
}

/// Files under `dir` (recursively) whose names mark them temporary.
fn temporaries(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.path().is_dir() {
            found.extend(temporaries(&e.path()));
        } else if name.starts_with(".asyncbench-") || name.contains(".tmp.") {
            found.push(e.path().display().to_string());
        }
    }
    found
}

/// A full disk during a sweep (a 200 KiB tmpfs, mounted when the tests run as root, as CI
/// does): every point is still measured and the table printed, one error names the file that
/// failed (exit 1), and no temporary file is left. `compare` on the same disk leaves none either.
#[test]
fn a_full_disk_ends_a_sweep_with_its_table_and_no_temporary_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("disk");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=200k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs needs root (CI runs as root)");
        return;
    }
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "30",
            "--latency",
            "1ms",
            "-c",
            "1,2,4",
            "--strategies",
            "async",
            "--out",
        ])
        .arg(mnt.join("sweep"))
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    let left = temporaries(&mnt);
    let _ = std::fs::remove_dir_all(mnt.join("sweep"));
    let o2 = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "30",
            "--latency",
            "1ms",
            "--strategies",
            "async,sequential,threadpool",
            "--out",
        ])
        .arg(mnt.join("compare"))
        .output()
        .unwrap();
    let left2 = temporaries(&mnt);
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(o.status.code(), Some(1), "{err}");
    for c in ["1 async", "2 async", "4 async"] {
        assert!(out.contains(c), "point {c} is in the table: {out}");
    }
    assert!(
        err.contains("No space left on device") && err.contains("/sweep/"),
        "{err}"
    );
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(
        o2.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o2.stderr)
    );
    assert!(left2.is_empty(), "{left2:?}");
}

/// A second signal exits at once and leaves no temporary file behind (the request log's, which
/// would make the next run refuse the folder).
#[test]
fn a_second_signal_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let child = crate::util::spawn(&[
        "compare",
        "-q",
        "-n",
        "1000",
        "--latency",
        "20ms",
        "--strategies",
        "sequential",
        "--out",
        out.to_str().unwrap(),
    ]);
    std::thread::sleep(Duration::from_millis(1200));
    crate::util::signal(&child, rustix::process::Signal::INT);
    std::thread::sleep(Duration::from_millis(100));
    crate::util::signal(&child, rustix::process::Signal::INT);
    let (o, _) = crate::util::wait(child, Duration::from_secs(30));
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(temporaries(&out).is_empty(), "{:?}", temporaries(&out));
}

/// The sweep's words match its data: `--concurrency auto` probes every strategy (sequential
/// saturates before async, and the points reach async's), no "extend the list"
/// when the sweep chose its points, no "a smaller one may do" below C=1, no "SLO none", and
/// with `--slo` a good/s column and a last line that names the SLO rate as such.
#[test]
fn the_sweep_says_what_its_data_says() {
    let (code, out, err) = run(&[
        "sweep",
        "-q",
        "-n",
        "64",
        "--latency",
        "5ms",
        "-c",
        "auto",
        "--strategies",
        "sequential,async",
        "--slo",
        "e2e=1s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    // Each strategy's saturation point, from "past C=a for sequential, C=b for async": one
    // sequential request is in flight whatever C says, so it saturates before async does (on a
    // busy machine a probe's noise can move it a doubling or two, not past async's).
    let past = |name: &str| -> u64 {
        let at = out
            .find(&format!(" for {name}"))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        let c = out[..at].rsplit("C=").next().unwrap();
        c.parse().unwrap_or_else(|_| panic!("{c}: {out}"))
    };
    assert!(past("sequential") < past("async"), "{out}");
    let largest = out
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .max()
        .unwrap();
    assert!(largest >= 16, "the points stop at C={largest}: {out}");
    for wrong in ["extend the list", "smallest value tried", "SLO none"] {
        assert!(!out.contains(wrong), "'{wrong}' in {out}");
    }
    let header = out.lines().find(|l| l.contains("strategy")).unwrap();
    assert!(header.contains("ok/s") && header.contains("good/s"), "{header}");
    let best = out.lines().find(|l| l.starts_with("best:")).unwrap();
    assert!(best.contains("good/s"), "{best}");
}

/// Requests cancelled in flight after a stop's grace period keep their line in requests.jsonl
/// and their attempts (the one in flight counted as sent), in every strategy: against a mock
/// that hangs every request, all issued requests are lines with outcome `cancelled`, and the
/// attempts sent match what the mock received.
#[test]
fn cancelled_requests_keep_their_lines_and_attempts() {
    for strategy in [
        "sequential",
        "threadpool",
        "async",
        "async-single",
        "async-offload",
        "batched",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let child = crate::util::spawn(&[
            "compare",
            "-q",
            "-n",
            "20",
            "-c",
            "4",
            "--rate-hang",
            "1",
            "--timeout",
            "60s",
            "--strategies",
            strategy,
            "--out",
            out.to_str().unwrap(),
        ]);
        std::thread::sleep(Duration::from_millis(800));
        crate::util::signal(&child, rustix::process::Signal::INT);
        let (o, _) = crate::util::wait(child, Duration::from_secs(40));
        assert_eq!(
            o.status.code(),
            Some(130),
            "{strategy}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report = crate::util::json(&out.join("report.json"));
        let s = &report["strategies"][0];
        let issued = s["issued"].as_u64().unwrap();
        assert!(issued >= 1, "{strategy}");
        assert_eq!(
            s["outcomes"]["cancelled"].as_u64(),
            Some(issued),
            "{strategy}: {s}"
        );
        let text = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(
            lines.len() as u64,
            issued,
            "{strategy}: a line per issued request"
        );
        assert!(
            lines
                .iter()
                .all(|l| l["outcome"] == "cancelled" && l["attempts"] == 1),
            "{strategy}: {text}"
        );
        let server = &s["server"];
        assert_eq!(
            server["attempts_sent"].as_u64(),
            Some(issued),
            "{strategy}: {server}"
        );
        assert_eq!(
            server["requests_received"].as_u64(),
            Some(issued),
            "{strategy}: {server}"
        );
        assert_eq!(server["matches"], true, "{strategy}");
    }
}

/// sweep.json has a schema, and real sweeps of each kind are valid against it: a fixed list with
/// a p99 SLO, `--concurrency auto`, a streamed `--rate auto`, and a `--cpu-work` sweep's
/// per-point verdicts.
#[test]
fn sweep_json_matches_its_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/sweep.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let kinds: [&[&str]; 4] = [
        &["-c", "1,4", "--strategies", "async,threadpool", "--slo-p99", "1s"],
        &["-c", "auto", "--strategies", "async"],
        &[
            "-c",
            "4",
            "--rate",
            "auto",
            "--stream",
            "--ttft",
            "2ms",
            "--strategies",
            "async",
        ],
        &["--cpu-work", "0ms,1ms", "--strategies", "async,async-offload"],
    ];
    let mut last = serde_json::Value::Null;
    for args in kinds {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let o = bin()
            .args(["sweep", "-q", "-n", "12", "--latency", "2ms"])
            .args(args)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let sweep = crate::util::json(&out.join("sweep.json"));
        let errors: Vec<String> = validator
            .iter_errors(&sweep)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{args:?}: {errors:?}");
        last = sweep;
    }
    // And the schema is not a pass-all: a point without its results fails it.
    last["points"][0].as_object_mut().unwrap().remove("results");
    let bad = last;
    assert!(!validator.is_valid(&bad));
}

/// A run whose accounting failed (a request issued and never recorded: exit 3) still prints
/// what was recorded: the table's `failed` column counts the recorded outcomes, where it took
/// them from the requests issued and showed 18 446 744 073 709 547 005 (a wrapped subtraction,
/// and a panic in a debug build).
#[test]
fn a_run_whose_accounting_failed_shows_counted_failures_not_a_wrapped_number() {
    // Arrange: a real run, then one request more issued than recorded.
    let cfg = crate::util::config(
        &[asyncbench::model::strategy::Strategy::Async],
        6,
        mock_server::Profile::default(),
    );
    let mut report = asyncbench::compare(&cfg).unwrap();
    let s = &mut report.strategies[0];
    assert_eq!(s.count(asyncbench::model::outcome::Outcome::Ok), 6);
    s.issued += 1;
    // Act
    let table = asyncbench::table(&report, false);
    // Assert: ok 6, failed 0 (nothing else was recorded).
    let row = table
        .lines()
        .find(|l| l.starts_with("async "))
        .unwrap_or_else(|| panic!("no async row in\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[3..6], ["6", "0", "0"], "ok, 429, failed: {row}");
}

/// A long wait before a retry is said as it begins, in every strategy (the blocking and the
/// async send loop each say it; a Python client says it in a `wait` line): with `--retry
/// anthropic`, which waits what a Retry-After says, a 429 asking for 40 s left the run silent,
/// as if it hung. A signal, sent once the line is out, cuts the wait short (exit 130, the
/// request counted as its 429).
#[test]
fn a_long_wait_before_a_retry_is_said() {
    crate::util::python_clients();
    let strategies = crate::util::every_strategy_for(asyncbench::model::plan::Api::Openai);
    for strategy in strategies.iter().map(|s| s.to_string()) {
        let mut args = crate::util::LONG_RETRY_WAIT;
        let at = args.iter().position(|a| *a == "--strategies").unwrap() + 1;
        args[at] = &strategy;
        let said = "asyncbench: a request waits 40 s to retry: the server's Retry-After asks it and the anthropic policy obeys";
        let mut cmd = bin();
        cmd.args(args);
        let (o, err) = crate::util::interrupt_after_line(cmd, said, Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(130), "{strategy}: {err}");
        assert_eq!(err.matches(said).count(), 1, "{strategy}: {err}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("1/1"), "{strategy}: {out}");
    }
}

/// The one client that cannot say its wait, an SDK retrying by itself (`py-anthropic` under
/// `--retry anthropic`), is said to be silent after 30 s, with when it would be called hung.
#[test]
fn an_sdk_clients_long_wait_is_said_as_silence() {
    crate::util::python_clients();
    let mut args = crate::util::LONG_RETRY_WAIT;
    let at = args.iter().position(|a| *a == "--strategies").unwrap() + 1;
    args[at] = "py-anthropic";
    let said = "asyncbench: py-anthropic has reported nothing for 30 s: a request may be waiting to retry (the anthropic policy) or slow to answer; it is called hung and killed after";
    let mut cmd = bin();
    cmd.args(args).args(["--api", "anthropic"]);
    let (o, err) = crate::util::interrupt_after_line(cmd, said, Duration::from_secs(40));
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert_eq!(err.matches(said).count(), 1, "{err}");
}

/// A request log the disk would not take (a file-size limit of a few MiB here, a full disk alike)
/// fails the run loudly: exit 1, one line naming requests.jsonl, and every other file written.
/// The lost log was said once among the table's lines while the command ended 0 and wrote
/// "wrote DIR" as if whole. With `--no-request-log` the same run writes the other files under
/// the same limit and ends 0 (there was no way to leave the log out); the flag is refused beside
/// the flags that write request lines.
#[test]
fn a_request_log_the_disk_will_not_take_fails_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // The shell sets the limit (4 096 blocks: 2 or 4 MiB by the shell's block) and ignores
    // SIGXFSZ, so a write past it fails with EFBIG rather than killing the process.
    let limited = |out: &std::path::Path, extra: &str| {
        let o_cmd = format!(
            "ulimit -f 4096 && trap '' XFSZ && exec \"$0\" compare -n 30000 --rounds 1 --latency 0ms -q --strategies async --out \"$1\"{extra}"
        );
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(o_cmd)
            .arg(env!("CARGO_BIN_EXE_asyncbench"))
            .arg(out);
        cmd.output().unwrap()
    };
    let left_out = tmp.path().join("left-out");
    let o = limited(&left_out, " --no-request-log");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("wrote "));
    assert!(left_out.join("report.json").is_file() && left_out.join("run.hlog").is_file());
    assert!(!left_out.join("requests.jsonl").exists());
    assert!(temporaries(&left_out).is_empty(), "{:?}", temporaries(&left_out));
    assert_eq!(
        crate::util::json(&left_out.join("report.json"))["strategies"][0]["accounted"],
        "30000/30000"
    );
    assert_refused(
        &[
            "compare",
            "-n",
            "2",
            "--no-request-log",
            "--print-requests",
            "--format",
            "json-line",
        ],
        &["--print-requests", "--no-request-log"],
    );
    assert_refused(
        &[
            "compare",
            "-n",
            "2",
            "--no-request-log",
            "--export-chunks",
            "--stream",
            "--out",
            "x",
        ],
        &["--export-chunks", "--no-request-log"],
    );
    let o = limited(&out, "");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let said = format!(
        "asyncbench: cannot write {}: File too large",
        out.join("requests.jsonl").display()
    );
    assert!(err.contains(&said), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("wrote "));
    for f in [
        "report.json",
        "summary.csv",
        "async.hgrm",
        "run.hlog",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert!(!out.join("requests.jsonl").exists());
    let report = crate::util::json(&out.join("report.json"));
    assert_eq!(report["strategies"][0]["accounted"], "30000/30000");
}

/// A streaming request answered with a whole JSON completion (a target that ignores
/// `stream: true`) is an invalid response in every strategy, its sample saying how the body
/// began, and the run's diagnosis says the target answered 2xx but not as asked: read as a
/// stream that ended early, it was counted a closed connection, and the diagnosis asked whether
/// the target was up at all. `py-openai` reads through the SDK, which takes a body without
/// events for an empty stream, as the real client does: its requests count as answered.
#[test]
fn a_streaming_request_answered_without_events_is_an_invalid_response() {
    crate::util::python_clients();
    let url = crate::util::pieces_server(false);
    let strategies = crate::util::every_strategy_for(asyncbench::model::plan::Api::Openai);
    let list: Vec<String> = strategies.iter().map(ToString::to_string).collect();
    let target = format!("{url}/v1");
    let (code, err, tmp) = crate::util::run_out(&[
        "compare",
        "-q",
        "-n",
        "2",
        "-c",
        "1",
        "--rounds",
        "1",
        "--stream",
        "--timeout",
        "5s",
        "--target",
        &target,
        "--strategies",
        &list.join(","),
    ]);
    let report = crate::util::json(&tmp.path().join("out/report.json"));
    for (s, id) in report["strategies"].as_array().unwrap().iter().zip(&list) {
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["accounted"], "2/2", "{id}");
        if id == "py-openai" {
            assert_eq!(s["outcomes"]["ok"], 2, "{id}: {s}");
            continue;
        }
        let errors = &s["errors"][0];
        assert_eq!(errors["class"], "invalid_response", "{id}: {errors}");
        assert_eq!(errors["count"], 2, "{id}: {errors}");
        let sample = errors["sample"].as_str().unwrap();
        if id.starts_with("py-") {
            assert!(sample.contains("a stream without events"), "{id}: {errors}");
        } else {
            assert!(sample.contains("held no event (it began \"{"), "{id}: {errors}");
        }
    }
    assert_eq!(code, Some(0), "py-openai's answers count: {err}");
    assert!(!err.contains("could not be talked to"), "{err}");
}

/// Every Rust strategy reads the same response heads: a header of 60 000 bytes and 110
/// headers are answers for all of them, heads of 100 000 and 1 000 000 bytes and 140 headers
/// failures of the same class for all of them (ureq took 64 KiB, hyper about 408 KiB and 100
/// headers: each strategy family failed an answer the other took). The shipped Python clients keep their libraries' own
/// limits, and every one of their requests is counted.
#[test]
fn every_strategy_reads_the_same_response_heads() {
    crate::util::python_clients();
    let strategies = crate::util::every_strategy_for(asyncbench::model::plan::Api::Openai);
    let list: Vec<String> = strategies.iter().map(ToString::to_string).collect();
    let many =
        |n: usize| -> Vec<(String, String)> { (0..n).map(|i| (format!("x-h{i}"), "v".into())).collect() };
    let one = |len: usize| vec![("x-big".to_string(), "a".repeat(len))];
    for (what, extra, read) in [
        ("one header of 60 000 bytes", one(60_000), true),
        ("110 headers", many(110), true),
        ("one header of 100 000 bytes", one(100_000), false),
        ("a head of 1 000 000 bytes", one(1_000_000), false),
        ("140 headers", many(140), false),
    ] {
        let target = format!("{}/v1", crate::util::head_server(extra));
        let (_, err, tmp) = crate::util::run_out(&[
            "compare",
            "-q",
            "-n",
            "2",
            "-c",
            "1",
            "--retry",
            "none",
            "--timeout",
            "5s",
            "--target",
            &target,
            "--strategies",
            &list.join(","),
        ]);
        let report = crate::util::json(&tmp.path().join("out/report.json"));
        let mut classes = std::collections::BTreeSet::new();
        for (s, id) in report["strategies"].as_array().unwrap().iter().zip(&list) {
            assert_eq!(s["id"], id.as_str(), "{what}");
            assert_eq!(s["accounted"], "2/2", "{what}, {id}: {err}");
            if id.starts_with("py-") {
                continue;
            }
            if read {
                assert_eq!(s["outcomes"]["ok"], 2, "{what}, {id}: {s}");
            } else {
                assert_eq!(s["outcomes"]["ok"], 0, "{what}, {id}: {s}");
                assert_eq!(s["errors"][0]["count"], 2, "{what}, {id}: {s}");
                classes.insert(s["errors"][0]["class"].as_str().unwrap().to_string());
            }
        }
        assert!(classes.len() <= 1, "{what}: one class for all: {classes:?}");
    }
}

/// An answer whose body is cut short (its `content-length` not reached when the connection
/// closes) is said as such by every client, the Python ones included, and the run's diagnosis
/// says the target was reached: it asked whether the target was up.
#[test]
fn an_answer_cut_in_its_body_is_said_as_cut() {
    crate::util::python_clients();
    let strategies = crate::util::every_strategy_for(asyncbench::model::plan::Api::Openai);
    let list: Vec<String> = strategies.iter().map(ToString::to_string).collect();
    let target = format!("{}/v1", crate::util::cut_body_server(50));
    let (code, err, tmp) = crate::util::run_out(&[
        "compare",
        "-q",
        "-n",
        "2",
        "-c",
        "1",
        "--retry",
        "none",
        "--timeout",
        "5s",
        "--target",
        &target,
        "--strategies",
        &list.join(","),
    ]);
    let report = crate::util::json(&tmp.path().join("out/report.json"));
    for (s, id) in report["strategies"].as_array().unwrap().iter().zip(&list) {
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["accounted"], "2/2", "{id}: {err}");
        let errors = &s["errors"][0];
        assert_eq!(errors["class"], "connection_closed", "{id}: {s}");
        assert_eq!(errors["count"], 2, "{id}: {errors}");
        let sample = errors["sample"].as_str().unwrap();
        assert!(
            sample.contains("the answer was cut before its body's end"),
            "{id}: {sample}"
        );
    }
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("no request succeeded: every answer was cut before its body's end"),
        "{err}"
    );
    assert!(!err.contains("could not be talked to"), "{err}");
}

/// Every client of a run goes through the one proxy the environment names for the target's
/// scheme (`HTTP_PROXY` for an `http://` target: ureq took `HTTPS_PROXY`, aiohttp none, and the
/// check that the target answers went straight to it and called it unreachable), the report and
/// a warning say so; a loopback target is reached straight, whatever the environment says (the
/// Python clients went to the proxy for the embedded mock). ureq tunnels (`CONNECT`) where the
/// others hand the proxy the whole URL: the proxy is the same one.
#[test]
fn every_client_goes_through_the_one_proxy_of_the_run() {
    crate::util::python_clients();
    let strategies = crate::util::every_strategy_for(asyncbench::model::plan::Api::Openai);
    let list: Vec<String> = strategies.iter().map(ToString::to_string).collect();
    let (proxy, seen) = crate::util::proxy_server();
    // A proxy that is not there: a client that takes it fails.
    let trap = "http://127.0.0.1:9";
    let run = |target: Option<&str>, http_proxy: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = crate::util::bin();
        for var in ["http_proxy", "https_proxy", "all_proxy", "no_proxy", "NO_PROXY"] {
            c.env_remove(var);
        }
        c.env("HTTP_PROXY", http_proxy)
            .env("HTTPS_PROXY", trap)
            .env("ALL_PROXY", trap)
            .args([
                "compare",
                "-q",
                "-n",
                "2",
                "-c",
                "1",
                "--retry",
                "none",
                "--timeout",
                "5s",
            ])
            .args(["--strategies", &list.join(",")]);
        if let Some(t) = target {
            c.args(["--target", t]);
        } else {
            c.args(["--latency", "1ms"]);
        }
        let o = c.arg("--out").arg(tmp.path().join("out")).output().unwrap();
        let report = crate::util::json(&tmp.path().join("out/report.json"));
        (o, report, tmp)
    };
    let (o, report, _tmp) = run(Some("http://api.example.invalid/v1"), &proxy);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for (s, id) in report["strategies"].as_array().unwrap().iter().zip(&list) {
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["outcomes"]["ok"], 2, "{id}: {s}");
    }
    let lines = seen.lock().unwrap().clone();
    let through = lines
        .iter()
        .filter(|l| l.starts_with("post http://api.example.invalid/v1/chat/completions"))
        .count();
    // ureq tunnels: sequential and threadpool, two requests each.
    let tunnelled = lines
        .iter()
        .filter(|l| l.starts_with("post ") && l.ends_with("(tunnelled)"))
        .count();
    assert_eq!(tunnelled, 4, "{lines:?}");
    assert_eq!(through, 2 * list.len(), "{lines:?}");
    let said = format!("{proxy}/ ($HTTP_PROXY)");
    assert_eq!(report["config"]["proxy"], said.as_str());
    assert!(
        err.contains(&format!("go through the proxy {proxy}/ (from $HTTP_PROXY)")),
        "{err}"
    );
    // The embedded mock, on loopback: straight to it, the proxies of the environment unused.
    let before = seen.lock().unwrap().len();
    let (o, report, _tmp) = run(None, trap);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for (s, id) in report["strategies"].as_array().unwrap().iter().zip(&list) {
        assert_eq!(s["outcomes"]["ok"], 2, "{id}: {s}");
    }
    assert!(report["config"]["proxy"].is_null());
    assert_eq!(seen.lock().unwrap().len(), before);
}
