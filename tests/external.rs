//! External clients (issue 26): the protocol over real processes and sockets (a well-behaved
//! client, and ones that die, hang, write garbage, drop requests, use the wrong clock, refuse or
//! exit 1), and every shipped Python client meeting the same faults as the Rust strategies, with
//! its books balanced and agreed by the mock.

use std::path::Path;
use std::time::Duration;

use asyncbench::model::outcome::Outcome;
use asyncbench::model::plan::Api;
use asyncbench::model::strategy::PyClient;
use asyncbench::model::strategy::Strategy;
use mock_server::Profile;

use crate::util::{bin, config, every_strategy_for, fast_retry, json, python_clients, python_clients_for};

/// `--client-cmd` running tests/clients/fake.py in `mode` after `async`, 8 requests, 1 s timeout.
fn run_fake(mode: &str, out: &Path) -> std::process::Output {
    run_fake_with(mode, out, &[])
}

/// [`run_fake`] with more flags.
fn run_fake_with(mode: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .args([
            "compare",
            "-n",
            "8",
            "-c",
            "4",
            "-q",
            "--timeout",
            "1s",
            "--latency",
            "5ms",
        ])
        .args(["--strategies", "async", "--client-name", "fake", "--client-cmd"])
        .arg(format!(
            "python3 {}/tests/clients/fake.py {mode}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn validate(schema: &str, v: &serde_json::Value) {
    let validator = jsonschema::validator_for(&serde_json::from_str(schema).unwrap()).unwrap();
    let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A client of any language that keeps the protocol is measured like a built-in strategy: its
/// requests counted N/N and agreed by the mock, its lines in requests.jsonl, its process's CPU
/// and memory in the report (not the harness's), and the harness's own cost beside them.
#[test]
fn a_client_that_keeps_the_protocol_is_measured_like_any_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_fake("good", &out);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&out.join("report.json"));
    validate(include_str!("../schema/report.schema.json"), &report);
    let fake = &report["strategies"][1];
    assert_eq!(fake["id"], "fake");
    assert_eq!(fake["accounted"], "8/8");
    assert_eq!(fake["outcomes"]["ok"], 8);
    assert_eq!(fake["server"]["matches"], true);
    assert_eq!(fake["server"]["requests_received"], 8);
    assert!(fake["external"]["failure"].is_null());
    assert!(
        fake["external"]["command"]
            .as_str()
            .unwrap()
            .contains("fake.py good")
    );
    // The client's own process: a Python interpreter is far bigger than nothing, and its CPU
    // (start-up included) is its own.
    assert!(fake["peak_rss_bytes"].as_u64().unwrap() > 1 << 20, "{fake}");
    assert!(fake["cpu_s"].as_f64().unwrap() > 0.0);
    assert!(fake["external"]["harness_cpu_s"].as_f64().unwrap() >= 0.0);
    assert!(fake["latency_ms"]["p50"].as_f64().unwrap() >= 5.0, "{fake}");
    let lines = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
    let mut indexes: Vec<u64> = lines
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["strategy"] == "fake")
        .map(|l| l["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..8).collect::<Vec<_>>());
    // The page says what ran and what the harness spent on it.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("id=\"external\"") && page.contains("fake.py good"),
        "no external note"
    );
}

/// An external client timed its requests on its own clock: a line that comes late (the client
/// writes it 0.3 s after the request ended) changes no latency, and the harness's part is its
/// own, from the line read to the record counted, not the client's delay in writing it.
#[test]
fn a_clients_late_line_is_not_the_harness_lateness() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_fake("late", &out);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&out.join("report.json"));
    let fake = &report["strategies"][1];
    assert_eq!(fake["accounted"], "8/8");
    assert!(fake["latency_ms"]["max"].as_f64().unwrap() < 300.0, "{fake}");
    let harness = &fake["distortion"]["harness_ms"];
    assert_eq!(harness["count"], 8, "{fake}");
    assert!(harness["max"].as_f64().unwrap() < 300.0, "{harness}");
}

/// A client silent for 30 s after saying ready (a request waiting on a long Retry-After looks
/// so from outside) is said to be so, with when it will be called hung, and its lane's clock runs
/// from its start, not from its first reported request (an 80 s wait read 0.0 s throughout).
#[test]
fn a_client_silent_for_long_is_said_and_its_clock_runs() {
    let mut cmd = bin();
    cmd.args([
        "compare",
        "-n",
        "8",
        "--rounds",
        "1",
        "--latency",
        "5ms",
        "--timeout",
        "60s",
    ])
    .args([
        "--progress-every",
        "2s",
        "--strategies",
        "async",
        "--client-name",
        "fake",
    ])
    .arg("--client-cmd")
    .arg(format!(
        "python3 {}/tests/clients/fake.py quiet",
        env!("CARGO_MANIFEST_DIR")
    ));
    let said = "asyncbench: fake has reported nothing for 30 s: a request may be slow to answer; it is called hung and killed after 65 s of silence";
    let (o, err) = crate::util::interrupt_after_line(cmd, said, Duration::from_secs(40));
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert_eq!(err.matches(said).count(), 1, "{err}");
    // The last progress line before the notice: its clock near 30 s, not 0.0 s.
    let before = &err[..err.find(said).unwrap()];
    let last = before
        .lines()
        .rev()
        .find(|l| l.starts_with("asyncbench: fake 0/8"))
        .unwrap();
    let elapsed: f64 = last
        .split(", ")
        .nth(1)
        .and_then(|t| t.strip_suffix(" s"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert!(elapsed >= 20.0, "{last}");
}

/// A wait a client says (a `wait` line) within the policy's longest (here openai's: a
/// Retry-After up to 120 s) is taken: the fake client says 8 s and waits them before its first
/// request, and the run ends whole. One past the policy's longest is a protocol break (see
/// `lies` below): it would extend the silence allowed without bound.
#[test]
fn a_wait_the_client_says_is_not_taken_for_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = run_fake_with("waits", &out, &["--retry", "openai"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let report = json(&out.join("report.json"));
    assert_eq!(report["strategies"][1]["accounted"], "8/8", "{err}");
}

/// A client that failed in a round is not started again in the later ones: one that cannot
/// start at all (a command not found) ran, failed and was named in each of three rounds, the
/// run's reason saying the same failure three times over. (Without `-q`, with stdout not a
/// terminal: the failure comes among the progress lines, once.)
#[test]
fn a_client_that_failed_is_not_run_in_its_later_rounds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args(["compare", "-n", "2", "--rounds", "3", "--latency", "5ms"])
        .args([
            "--strategies",
            "async",
            "--client-cmd",
            "asyncbench-no-such-client",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{err}");
    assert_eq!(
        err.matches("asyncbench-no-such-client: not found").count(),
        1,
        "{err}"
    );
    assert_eq!(
        err.matches("the client custom failed: it exited with exit status: 127")
            .count(),
        2,
        "said as it failed, and as the run's reason: {err}"
    );
    assert!(err.contains("(its later rounds are not run)"), "{err}");
    let report = json(&out.join("report.json"));
    assert_eq!(report["strategies"][0]["accounted"], "6/6");
    assert_eq!(report["strategies"][1]["accounted"], "0/2");
}

/// Every way a client can go wrong ends loudly: exit 7, one line naming what it did and the
/// requests it never reported, the run marked incomplete, what it did report kept, the
/// strategies before it still there, and no client process left behind.
#[test]
fn a_client_that_dies_hangs_writes_garbage_or_loses_requests_fails_loudly() {
    let cases = [
        ("dies", "exited with signal: 9", Some("3, 4, 5, 6, 7")),
        ("hangs", "wrote nothing for", Some("3, 4, 5, 6, 7")),
        (
            "garbage",
            "broke the protocol: line 5: not a protocol line",
            Some("3, 4, 5, 6, 7"),
        ),
        (
            "drops",
            "lost requests: 1 request of the measured phase never reported (indexes 2)",
            None,
        ),
        (
            "walltime",
            "is not a time of this run on CLOCK_MONOTONIC",
            Some("1, 2, 3"),
        ),
        (
            "refuses",
            "cannot run this workload: this client only streams",
            Some("0, 1, 2"),
        ),
        ("exit1", "exited with exit status: 1", None),
        // A wait of 10⁹ s, then silence: allowed, it would have kept the run for 31 years.
        (
            "lies",
            "broke the protocol: line 2: a wait of 1000000000 s for request 0, past the longest the none policy allows (0 s)",
            Some("0, 1, 2"),
        ),
    ];
    for (mode, says, never) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let t0 = std::time::Instant::now();
        let o = run_fake(mode, &out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(7), "{mode}: {stderr}");
        assert!(
            stderr.contains("the client fake failed: it ") && stderr.contains(says),
            "{mode}: {stderr}"
        );
        if let Some(indexes) = never {
            assert!(
                stderr.contains(&format!("never reported (indexes {indexes}")),
                "{mode}: {stderr}"
            );
        }
        let report = json(&out.join("report.json"));
        assert_eq!(report["complete"], false, "{mode}");
        assert_eq!(report["strategies"][0]["accounted"], "8/8", "{mode}");
        let fake = &report["strategies"][1];
        assert!(
            fake["external"]["failure"].as_str().unwrap().contains(says),
            "{mode}"
        );
        let reported = fake["outcomes"]["ok"].as_u64().unwrap();
        let expect = match mode {
            "dies" | "hangs" | "garbage" => 3,
            "drops" => 7,
            "exit1" => 8,
            _ => 0,
        };
        assert_eq!(reported, expect, "{mode}: {fake}");
        if mode == "hangs" || mode == "lies" {
            // Hung: one attempt's deadline (1 s) and 5 s of grace, not an hour.
            assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
        }
    }
    let left = std::process::Command::new("pgrep")
        .args(["-f", "tests/clients/fake.py hangs"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert!(left.is_empty(), "a hung client was left running: {left}");
}

/// A missing interpreter or package is exit 2 with one line naming it and the command that
/// installs what is missing; nothing runs.
#[test]
fn a_missing_python_or_package_is_exit_2_naming_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    // An interpreter that runs but has none of the packages (it prints what the probe prints
    // for a Python without them).
    let fake = tmp.path().join("python3");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 3.11.7\necho aiohttp\necho aiohttp_retry\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // Started outside the checkout: the command it names must still find the requirements.
    let o = bin()
        .current_dir(tmp.path())
        .args([
            "compare",
            "-n",
            "4",
            "--strategies",
            "async,py-aiohttp",
            "--python",
        ])
        .arg(&fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("aiohttp, aiohttp_retry cannot be imported"),
        "{stderr}"
    );
    let named = stderr
        .trim_end()
        .rsplit_once(" -m pip install -r ")
        .map(|(_, file)| std::path::PathBuf::from(file))
        .unwrap_or_else(|| panic!("no pip command: {stderr}"));
    assert!(
        named.ends_with("clients/python/requirements.txt") && tmp.path().join(&named).is_file(),
        "{stderr}"
    );
    assert!(o.stdout.is_empty());
    let o = bin()
        .args([
            "compare",
            "-n",
            "4",
            "--strategies",
            "py-sequential",
            "--python",
            "/nonexistent/python3",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'/nonexistent/python3' cannot be run"),
        "{stderr}"
    );
    for (args, says) in [
        (vec!["--client-cmd", " "], "invalid --client-cmd"),
        (
            vec!["--client-cmd", "true", "--client-name", "Bad Name"],
            "invalid --client-name 'Bad Name'",
        ),
        (
            vec!["--client-cmd", "true", "--client-name", "async"],
            "is the name of a built-in strategy",
        ),
        (
            vec!["--client-cmd", "true", "--duration", "1s"],
            "give -n as well",
        ),
    ] {
        let o = bin().args(["compare", "-q"]).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// With 30 % of answers 429 and 10 % 500, retried, every shipped Python client meets the same
/// faults as the Rust strategies in either order of the list, under each API it speaks (the
/// SDK clients under their own): the same failures and the same retries, every request
/// accounted for and the mock's count agreeing.
#[test]
fn every_python_client_meets_the_same_faults_as_the_rust_strategies_in_both_orders() {
    python_clients();
    for api in [Api::Openai, Api::Anthropic] {
        same_faults_in_both_orders(api);
    }
}

fn same_faults_in_both_orders(api: Api) {
    let profile = Profile {
        rate_429: 0.3,
        rate_500: 0.1,
        retry_after: Duration::from_millis(20),
        latency: "2ms".parse().unwrap(),
        seed: Some(3),
        ..Profile::default()
    };
    let forward = every_strategy_for(api);
    let backward: Vec<Strategy> = forward.iter().rev().copied().collect();
    let mut seen = Vec::new();
    for order in [&forward, &backward] {
        let mut cfg = config(order, 30, profile.clone());
        cfg.workload.api = api;
        cfg.retry = fast_retry(3);
        // Anthropic's Retry-After is whole seconds (1 s here): the test's policy backs off on
        // its own instead.
        if api == Api::Anthropic {
            cfg.retry.retry_after_cap = None;
        }
        let report = asyncbench::compare(&cfg).unwrap();
        assert!(report.complete, "{:?}", report.incomplete_reason);
        for s in &report.strategies {
            assert!(s.accounted_ok, "{}: {}", s.id, s.accounted);
            let server = s.server.as_ref().unwrap();
            assert!(server.matches, "{}: {server:?}", s.id);
            assert_eq!(server.requests_received, s.attempts, "{}", s.id);
            seen.push((
                s.id,
                s.count(Outcome::Ok),
                s.count(Outcome::RateLimited),
                s.count(Outcome::ServerError),
                s.retries,
            ));
        }
    }
    assert_eq!(seen.len(), 2 * forward.len());
    let first = (seen[0].1, seen[0].2, seen[0].3, seen[0].4);
    for s in &seen {
        assert_eq!((s.1, s.2, s.3, s.4), first, "{seen:?}");
    }
    // The faults were there to be met: retries happened and some requests failed for good.
    assert!(first.3 > 5 && first.1 < 30, "{seen:?}");
}

/// Every Python client keeps the Rust strategies' rule for a duration's end: no retry after
/// it (a 429 asking for 5 s in a run of 1 s ends the request with its 429, no wait counted),
/// where they retried whenever their wait ended.
#[test]
fn no_python_client_retries_after_the_duration() {
    python_clients();
    let profile = Profile {
        rate_429: 1.0,
        retry_after: Duration::from_secs(5),
        latency: "1ms".parse().unwrap(),
        ..Profile::default()
    };
    let mut cfg = config(&every_strategy_for(Api::Openai), 2, profile);
    cfg.retry = fast_retry(3);
    cfg.retry.retry_after_cap = Some(Duration::from_secs(10));
    cfg.stop = asyncbench::model::plan::Stop::First {
        count: 2,
        duration: Duration::from_secs(1),
    };
    let report = asyncbench::compare(&cfg).unwrap();
    for s in &report.strategies {
        assert!(s.accounted_ok, "{}: {}", s.id, s.accounted);
        assert_eq!(
            (s.count(Outcome::RateLimited), s.attempts, s.retries),
            (2, 2, 0),
            "{}",
            s.id
        );
    }
}

/// Streaming through every Python client: TTFT and ITL come from the client's own reading of the
/// events, on the shared clock, so TTFT sits at the mock's 30 ms and every gap is counted.
#[test]
fn every_python_client_reports_ttft_and_itl_of_a_stream() {
    python_clients();
    let profile = Profile {
        ttft: "30ms".parse().unwrap(),
        itl: "3ms".parse().unwrap(),
        tokens: 8,
        latency: "0ms".parse().unwrap(),
        ..Profile::default()
    };
    for api in [Api::Openai, Api::Anthropic] {
        streams_time_ttft_and_itl(api, profile.clone());
    }
}

/// Every Python client that speaks `api` streams 12 requests of 8 tokens: TTFT at the mock's
/// 30 ms, one gap per token after the first.
fn streams_time_ttft_and_itl(api: Api, profile: Profile) {
    let clients = python_clients_for(api);
    let mut cfg = config(&clients, 12, profile);
    cfg.workload.stream = true;
    cfg.workload.api = api;
    let report = asyncbench::compare(&cfg).unwrap();
    assert_eq!(report.strategies.len(), clients.len());
    for s in &report.strategies {
        assert_eq!(s.accounted, "12/12", "{}", s.id);
        assert_eq!(s.count(Outcome::Ok), 12, "{}: {:?}", s.id, s.errors);
        let ttft = s
            .ttft_ms
            .as_ref()
            .unwrap_or_else(|| panic!("{} has no ttft", s.id));
        assert!(ttft.p50 >= 29.0 && ttft.p50 < 200.0, "{}: {ttft:?}", s.id);
        // One gap per token after the first, each from the client's own reads: on a busy
        // machine a slow client reads several events at once (gaps near 0), so only the widest
        // gap is bound to show the mock's 3 ms spacing.
        let itl = s.itl_ms.as_ref().unwrap();
        assert_eq!(itl.count, 12 * 7, "{}: {itl:?}", s.id);
        assert!(itl.max >= 2.0, "{}: {itl:?}", s.id);
        assert_eq!(s.completion_tokens, 12 * 8, "{}", s.id);
    }
}

/// The article's retry preset goes to aiohttp_retry itself (py-aiohttp), openai's to its SDK
/// (py-openai) and anthropic's to its SDK (py-anthropic, over `--api anthropic`): their own
/// retries meet the same faults as the Rust twins' retry loop, and each attempt they send is
/// numbered and counted.
#[test]
fn the_clients_own_retries_meet_the_same_faults() {
    python_clients();
    let profile = Profile {
        rate_500: 0.3,
        latency: "1ms".parse().unwrap(),
        seed: Some(5),
        ..Profile::default()
    };
    for (preset, client, api) in [
        (
            asyncbench::model::retry::RetryPreset::Openai,
            PyClient::Openai,
            Api::Openai,
        ),
        (
            asyncbench::model::retry::RetryPreset::Aiohttp,
            PyClient::Aiohttp,
            Api::Openai,
        ),
        (
            asyncbench::model::retry::RetryPreset::Anthropic,
            PyClient::Anthropic,
            Api::Anthropic,
        ),
    ] {
        let mut policy = asyncbench::model::retry::RetryPolicy::preset(preset);
        // The SDKs' own waits are long (0.5–8 s, 2–30 s): few requests, one attempt more at most.
        policy.attempts = 2;
        let mut cfg = config(&[Strategy::Async, Strategy::Python(client)], 12, profile.clone());
        cfg.retry = policy;
        cfg.workload.api = api;
        cfg.concurrency = 12;
        let report = asyncbench::compare(&cfg).unwrap();
        let [rust, py] = &report.strategies[..] else {
            panic!("two strategies")
        };
        for s in [rust, py] {
            assert!(
                s.accounted_ok && s.server.as_ref().unwrap().matches,
                "{}: {:?}",
                s.id,
                s.server
            );
        }
        assert!(rust.retries > 0, "{preset:?}");
        assert_eq!(
            (py.count(Outcome::Ok), py.count(Outcome::ServerError), py.retries),
            (
                rust.count(Outcome::Ok),
                rust.count(Outcome::ServerError),
                rust.retries
            ),
            "{preset:?}"
        );
    }
}

/// The non-Python example of docs/client-protocol.md, `examples/clients/fetch.mjs` (Node.js,
/// no packages), keeps the protocol: with 30 % 500s and three attempts it meets the same faults
/// as `async`, every request is accounted for and the mock agrees. Node.js is installed by
/// `.ci/run` (which sets ASYNCBENCH_REQUIRE_NODE); elsewhere, without it, the test says so.
#[test]
fn the_node_example_client_keeps_the_protocol() {
    if std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("ASYNCBENCH_REQUIRE_NODE").is_none(),
            "node is required (ASYNCBENCH_REQUIRE_NODE) but not installed"
        );
        eprintln!("the_node_example_client_keeps_the_protocol: node not installed, not run");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "compare",
            "-n",
            "60",
            "-c",
            "8",
            "-q",
            "--latency",
            "2ms",
            "--rate-500",
            "0.3",
        ])
        .args([
            "--retry",
            "aiohttp",
            "--retry-attempts",
            "3",
            "--retry-initial",
            "5ms",
            "--retry-max",
            "20ms",
        ])
        .args([
            "--strategies",
            "async",
            "--client-name",
            "node-fetch",
            "--client-cmd",
        ])
        .arg(format!(
            "node {}/examples/clients/fetch.mjs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&out.join("report.json"));
    let [rust, node] = [&report["strategies"][0], &report["strategies"][1]];
    assert_eq!(node["id"], "node-fetch");
    for s in [rust, node] {
        assert_eq!(s["accounted"], "60/60", "{s}");
        assert_eq!(s["server"]["matches"], true, "{s}");
    }
    assert!(rust["retries"].as_u64().unwrap() > 0);
    for field in ["retries", "attempts"] {
        assert_eq!(node[field], rust[field], "{field}");
    }
    assert_eq!(node["outcomes"], rust["outcomes"]);
}

/// `reproduce --python` runs the article's own Python code beside each Rust twin: ten GETs of a
/// 1 s endpoint, the sync loops about ten seconds, the thread pools and gathers about one.
#[test]
fn reproduce_runs_the_articles_python_beside_its_twins() {
    python_clients();
    let o = bin().args(["reproduce", "--python", "-q"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let time_of = |id: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no {id} in {stdout}"));
        assert!(line.contains("10/10"), "{line}");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    for (id, at_least) in [
        ("sequential", 10.0),
        ("py-sequential", 10.0),
        ("threadpool", 1.0),
        ("py-threadpool", 1.0),
        ("async", 1.0),
        ("py-aiohttp", 1.0),
    ] {
        assert!(time_of(id) >= at_least, "{id}: {stdout}");
    }
    // The Python sync loop pays every second one after another; its gather overlaps them.
    assert!(time_of("py-aiohttp") * 3.0 < time_of("py-sequential"), "{stdout}");
}

/// Over HTTPS, every Python client trusts what the run trusts (here the mock's own certificate,
/// as `--ca-cert` gives it) and nothing else: with it, every request succeeds over TLS and the
/// mock counts the handshakes; without it, every attempt fails on the certificate.
#[test]
fn every_python_client_works_over_https_with_the_certificate_trusted() {
    python_clients();
    let server = mock_server::MockServer::start_with(
        Profile::fixed(Duration::from_millis(5)),
        mock_server::ServerOptions {
            tls: Some(mock_server::TlsSource::Generated),
            ..mock_server::ServerOptions::default()
        },
    )
    .unwrap();
    let trusted = asyncbench::TlsTrust {
        ca_pem: Some(std::sync::Arc::new(server.ca_pem().unwrap().as_bytes().to_vec())),
        insecure: false,
    };
    // Each client under an API it speaks: the OpenAI set, then the Anthropic SDK's client.
    let anthropic_only = Strategy::Python(PyClient::Anthropic);
    let mut cfg = crate::util::config_for_target(&[], 6, format!("{}/v1", server.uri()));
    for (api, clients) in [
        (Api::Openai, python_clients_for(Api::Openai)),
        (Api::Anthropic, vec![anthropic_only]),
    ] {
        cfg.strategies = clients;
        cfg.workload.api = api;
        cfg.endpoint.target_mut().unwrap().trust = trusted.clone();
        let report = asyncbench::compare(&cfg).unwrap();
        for s in &report.strategies {
            assert_eq!(s.count(Outcome::Ok), 6, "{}: {:?}", s.id, s.errors);
            let c = s.server.as_ref().unwrap();
            assert!(
                c.tls_handshakes >= 1 && c.tls_handshakes == c.connections,
                "{}: {c:?}",
                s.id
            );
        }
    }
    cfg.workload.api = Api::Openai;
    cfg.endpoint.target_mut().unwrap().trust = asyncbench::TlsTrust::default();
    cfg.strategies = vec![
        Strategy::Python(PyClient::Httpx),
        Strategy::Python(PyClient::Sequential),
    ];
    let report = asyncbench::compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::Ok), 0, "{}", s.id);
        assert_eq!(s.count(Outcome::Transport), 6, "{}: {:?}", s.id, s.errors);
        assert!(
            s.errors
                .iter()
                .any(|e| e.sample.to_lowercase().contains("certificate")),
            "{}: {:?}",
            s.id,
            s.errors
        );
    }
}

/// External clients shard and merge like any strategy: two shards of `py-httpx` and of a
/// `--client-cmd` client, each sending its half of the indexes, merge into the whole run's
/// 20 requests, the custom name read back from the saved reports.
#[test]
fn external_clients_shard_and_merge_like_any_strategy() {
    python_clients();
    let tmp = tempfile::tempdir().unwrap();
    let fake = format!(
        "python3 {}/tests/clients/fake.py good",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut dirs = Vec::new();
    for k in 0..2 {
        let dir = tmp.path().join(format!("shard{k}"));
        let o = bin()
            .args([
                "compare",
                "-n",
                "20",
                "-c",
                "4",
                "-q",
                "--latency",
                "2ms",
                "--shard",
            ])
            .arg(format!("{k}/2"))
            .args([
                "--strategies",
                "py-httpx",
                "--client-name",
                "fake",
                "--client-cmd",
                &fake,
                "--out",
            ])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let report = json(&dir.join("report.json"));
        assert_eq!(report["strategies"][0]["accounted"], "10/10");
        dirs.push(dir);
    }
    let merged = tmp.path().join("merged");
    let o = bin()
        .arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&merged.join("report.json"));
    validate(include_str!("../schema/report.schema.json"), &report);
    let ids: Vec<&str> = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["py-httpx", "fake"]);
    for s in report["strategies"].as_array().unwrap() {
        assert_eq!(s["accounted"], "20/20", "{s}");
        assert_eq!(s["outcomes"]["ok"], 20);
    }
}

/// A shipped Python client killed mid-run (SIGKILL from outside, a second into a 2 s run) is a
/// loud failure like any other: exit 7, the requests it finished kept and agreed by the mock,
/// the rest named as never reported.
#[test]
fn a_python_client_killed_mid_run_keeps_what_it_reported_and_names_the_rest() {
    python_clients();
    let tmp = tempfile::tempdir().unwrap();
    // The interpreter, wrapped: the wrapper's PID becomes Python's (exec), and a second later
    // it is killed. The import check runs through it too, well within the second.
    let venv = format!("{}/clients/python/.venv/bin/python", env!("CARGO_MANIFEST_DIR"));
    let wrapper = tmp.path().join("python");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\ncase \"$1\" in -c) exec {venv} \"$@\";; esac\n(sleep 1; kill -9 $$) &\nexec {venv} \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "compare",
            "-n",
            "200",
            "-c",
            "10",
            "-q",
            "--latency",
            "100ms",
            "--strategies",
            "py-aiohttp",
        ])
        .arg("--python")
        .arg(&wrapper)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("the client py-aiohttp failed: it exited with signal: 9"),
        "{stderr}"
    );
    assert!(
        stderr.contains("of the measured phase never reported (indexes "),
        "{stderr}"
    );
    let report = json(&out.join("report.json"));
    let s = &report["strategies"][0];
    let ok = s["outcomes"]["ok"].as_u64().unwrap();
    assert!(ok > 0 && ok < 200, "{s}");
    assert_eq!(s["accounted"], format!("{ok}/200"));
    // Every attempt it reported reached the mock (the mock may have received more: those in
    // flight when it died).
    assert!(s["server"]["requests_received"].as_u64().unwrap() >= s["attempts"].as_u64().unwrap());
}

/// A sweep runs the Python clients at every point like any strategy, each with its own
/// recommendation; the sweep's files name them.
#[test]
fn a_sweep_runs_python_clients_at_every_point_with_their_own_recommendation() {
    python_clients();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sweep");
    let o = bin()
        .args(["sweep", "-n", "24", "-c", "2,8", "-q", "--latency", "20ms"])
        .args(["--strategies", "async,py-aiohttp,py-to-thread", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let sweep = json(&out.join("sweep.json"));
    validate(include_str!("../schema/sweep.schema.json"), &sweep);
    let points = sweep["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    for p in points {
        let ids: Vec<&str> = p["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["strategy"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["async", "py-aiohttp", "py-to-thread"], "{p}");
    }
    let recommended: Vec<&str> = sweep["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["strategy"].as_str().unwrap())
        .collect();
    assert_eq!(recommended, ["async", "py-aiohttp", "py-to-thread"]);
}
