//! Trust: the same workload for every strategy, one deadline meaning the same in every client,
//! interval logs that stay right on long runs, a wrong target that says so, secrets that stay
//! secret, bounded bodies, visible settings, and figures that mean what they say.

use std::time::Duration;

use asyncbench::model::outcome::Outcome;
use asyncbench::model::report::Isolation;
use asyncbench::model::strategy::Strategy;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use mock_server::{MockServer, Profile};

use crate::util::{bin, config, config_for_target, fast_retry, json, run_out};

/// With 30 % injected 500s, every strategy meets the same faults, in either order of the list
/// and with retries: the counts of failures and of retries are the same everywhere.
#[test]
fn the_same_requests_meet_the_same_faults_in_every_strategy_and_order() {
    // Arrange
    let profile = Profile {
        rate_500: 0.3,
        latency: "1ms".parse().unwrap(),
        seed: Some(1),
        ..Profile::default()
    };
    let forward = Strategy::ALL.to_vec();
    let backward: Vec<Strategy> = forward.iter().rev().copied().collect();
    let mut seen = Vec::new();
    for retry in [None, Some(fast_retry(3))] {
        for order in [&forward, &backward] {
            let mut cfg = config(order, 40, profile.clone());
            if let Some(r) = &retry {
                cfg.retry = r.clone();
            }
            // Act
            let report = asyncbench::compare(&cfg).unwrap();
            // Assert
            for s in &report.strategies {
                seen.push((retry.is_some(), s.id, s.count(Outcome::ServerError), s.retries));
            }
            assert_eq!(report.config.isolation, Isolation::FreshMock);
        }
    }
    for with_retry in [false, true] {
        let counts: Vec<(u64, u64)> = seen
            .iter()
            .filter(|x| x.0 == with_retry)
            .map(|x| (x.2, x.3))
            .collect();
        assert_eq!(
            counts.len(),
            2 * Strategy::ALL.len(),
            "every strategy, both orders"
        );
        assert!(
            counts.iter().all(|c| *c == counts[0]),
            "retries {with_retry}: {seen:?}"
        );
        // About 30 % of 40 failed at least once: the faults are there to be met.
        assert!(counts[0].0 > 0 || counts[0].1 > 0, "{seen:?}");
    }
}

/// `--schedule first:3:503` fails the first three requests of every strategy, not only of the
/// first: against the embedded mock (a fresh one each) and against a standalone mock (reset before
/// each strategy).
#[test]
fn a_schedule_hits_every_strategy_embedded_or_standalone() {
    let profile = Profile {
        schedule: vec!["first:3:503".parse().unwrap()],
        seed: Some(1),
        ..Profile::default()
    };
    let strategies = [Strategy::Async, Strategy::Sequential, Strategy::Threadpool];
    // Embedded.
    let report = asyncbench::compare(&config(&strategies, 10, profile.clone())).unwrap();
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::ServerError), 3, "{}", s.id);
    }
    // Standalone, reset through POST /admin/reset.
    let server = MockServer::start(profile).unwrap();
    let cfg = config_for_target(&strategies, 10, format!("{}/v1", server.uri()));
    let report = asyncbench::compare(&cfg).unwrap();
    assert_eq!(report.config.isolation, Isolation::Reset);
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::ServerError), 3, "{}", s.id);
        assert!(s.server.as_ref().unwrap().matches);
    }
    assert_eq!(server.stats().status(503), 9);
}

/// A target that cannot be reset (not our mock) is reported as shared by the strategies, in the
/// report and in the table's header.
#[test]
fn a_target_that_cannot_be_reset_is_reported_as_shared() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(crate::util::completion_json()))
            .mount(&server)
            .await;
        server
    });
    let cfg = config_for_target(
        &[Strategy::Sequential, Strategy::Async],
        3,
        format!("{}/v1", server.uri()),
    );
    let report = asyncbench::compare(&cfg).unwrap();
    assert_eq!(report.config.isolation, Isolation::Shared);
    assert!(asyncbench::table(&report, false).contains("SHARED by the strategies"));
}

/// One deadline per attempt, the same in every client: answers that come after it are timeouts
/// (even one that comes a hair after, which ureq used to accept), answers well inside it are ok,
/// and a timed-out attempt is cut off, not waited out.
#[test]
fn the_timeout_is_one_deadline_enforced_alike_in_every_strategy() {
    for (latency_ms, timeout_ms, want_ok) in [(200, 200, false), (200, 800, true), (3000, 150, false)] {
        // Arrange
        let mut cfg = config(
            &Strategy::ALL,
            4,
            Profile::fixed(Duration::from_millis(latency_ms)),
        );
        cfg.concurrency = 2;
        cfg.batch_size = 2;
        cfg.timeout = Duration::from_millis(timeout_ms);
        // Act
        let report = asyncbench::compare(&cfg).unwrap();
        // Assert
        for s in &report.strategies {
            let what = format!("{} at latency {latency_ms} ms, timeout {timeout_ms} ms", s.id);
            if want_ok {
                assert_eq!(s.count(Outcome::Ok), 4, "{what}");
            } else {
                assert_eq!(s.count(Outcome::Timeout), 4, "{what}");
                let attempts = s.latency_all_ms.unwrap();
                assert!(attempts.p50 >= timeout_ms as f64, "{what}: {attempts:?}");
                // Cut off at the deadline, not when the mock finally answered.
                assert!(attempts.max < latency_ms.max(timeout_ms + 2000) as f64, "{what}");
            }
        }
    }
}

/// The deadline covers a stream to its last byte: a stream slower than the deadline is a
/// timeout in every strategy, a faster one succeeds.
#[test]
fn the_timeout_covers_a_stream_to_its_last_byte() {
    for (timeout_ms, want_ok) in [(250, false), (1500, true)] {
        let mut cfg = config(
            &Strategy::ALL,
            2,
            Profile {
                ttft: "50ms".parse().unwrap(),
                itl: "50ms".parse().unwrap(),
                ..Profile::default()
            },
        );
        // 8 tokens: the last one comes 50 + 7 × 50 = 400 ms after the start.
        cfg.workload.stream = true;
        cfg.timeout = Duration::from_millis(timeout_ms);
        let report = asyncbench::compare(&cfg).unwrap();
        for s in &report.strategies {
            let want = if want_ok { Outcome::Ok } else { Outcome::Timeout };
            assert_eq!(s.count(want), 2, "{} with a {timeout_ms} ms deadline", s.id);
        }
    }
}

/// A run long enough to spill interval histograms to disk writes a `.hlog` that Java's log
/// reader would accept: a StartTime inside the run, timestamps that never go back, and interval
/// counts that add up to the requests recorded.
#[test]
fn a_spilled_interval_log_has_monotone_timestamps_inside_the_run() {
    // Arrange: 2 sealed intervals in memory at most, a run of about 6 s.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut cfg = config(
        &[Strategy::Async, Strategy::Sequential],
        30,
        Profile::fixed(Duration::from_millis(100)),
    );
    cfg.concurrency = 1;
    cfg.intervals_in_memory = 2;
    cfg.out = Some(dir.clone());
    // Act
    let report = asyncbench::compare(&cfg).unwrap();
    // Assert
    let log = std::fs::read(dir.join("run.hlog")).unwrap();
    let text = String::from_utf8_lossy(&log);
    let start: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#[StartTime: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let (begun, ended) = (
        report.provenance.started_unix as f64,
        report.provenance.ended_unix as f64,
    );
    assert!(
        start >= begun - 1.0 && start <= ended + 1.0,
        "StartTime {start} outside {begun}..{ended}"
    );
    let mut last = 0.0;
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for entry in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(i) = entry.unwrap() {
            let ts = i.start_timestamp().as_secs_f64();
            assert!(ts >= last, "timestamp {ts} after {last}");
            assert!(
                start + ts <= ended + 2.0,
                "interval at {} after the run",
                start + ts
            );
            last = ts;
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(i.encoded_histogram())
                .unwrap();
            let h: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
            *counts.entry(i.tag().unwrap().as_str().to_owned()).or_default() += h.len();
        }
    }
    assert_eq!(counts.get("async.e2e.ok"), Some(&30));
    assert_eq!(counts.get("sequential.e2e.ok"), Some(&30));
    assert!(last >= 5.0, "the run spanned {last} s of intervals");
}

/// A reachable but wrong target (no `/v1`) is not a quiet success: exit 5, one line naming the
/// likely cause, an error breakdown with a sample in report.json and under the table, and no
/// latency where nothing succeeded (`null`, `-`), never 0.
#[test]
fn a_wrong_target_exits_5_with_the_cause_and_an_error_breakdown() {
    // Arrange
    let server = MockServer::start(Profile::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Act
    let o = bin()
        .args(["compare", "-q", "-n", "6", "--strategies", "sequential,async"])
        .arg("--target")
        .arg(server.uri())
        .arg("--out")
        .arg(&out)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    // Assert
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    let cause: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("no request succeeded"))
        .collect();
    assert_eq!(cause.len(), 1, "{stderr}");
    assert!(cause[0].contains("404") && cause[0].contains("/v1"), "{stderr}");
    assert!(stderr.contains("$OPENAI_API_KEY is unset or empty"), "{stderr}");
    let report = json(&out.join("report.json"));
    for s in report["strategies"].as_array().unwrap() {
        assert!(s["latency_ms"].is_null(), "{}", s["latency_ms"]);
        let e = &s["errors"][0];
        assert_eq!(e["class"], "http_404");
        assert_eq!(e["count"], 6);
        assert!(
            e["sample"].as_str().unwrap().starts_with("HTTP 404: {\"error\""),
            "{e}"
        );
    }
    let row = stdout.lines().find(|l| l.starts_with("sequential")).unwrap();
    // p50 and p99 (the compact table's latency columns) have no value.
    assert!(row.split_whitespace().filter(|c| *c == "-").count() >= 2, "{row}");
    assert!(
        stdout.contains("http_404") && stdout.contains("Invalid URL"),
        "{stdout}"
    );
}

/// A wrong key against a mock that requires one: exit 5, the cause names the variable, and the
/// key is in no output (the mock's error body does not echo it, and we would mask it if it did).
#[test]
fn a_refused_key_exits_5_naming_the_variable() {
    let server = MockServer::start(Profile {
        api_key: Some("sk-right-key-000000".into()),
        ..Profile::default()
    })
    .unwrap();
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "3",
            "--strategies",
            "async",
            "--api-key-env",
            "AB_TEST_KEY",
        ])
        .arg("--target")
        .arg(format!("{}/v1", server.uri()))
        .env("AB_TEST_KEY", "sk-wrong-key-123456789")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("http_401") && stderr.contains("$AB_TEST_KEY"),
        "{stderr}"
    );
    for text in [&o.stdout, &o.stderr] {
        assert!(!String::from_utf8_lossy(text).contains("wrong-key"));
    }
}

/// A key with whitespace around it or non-ASCII characters is refused with exit 2, naming the
/// variable and never the value.
#[test]
fn an_unusable_key_is_refused_naming_the_variable_not_the_value() {
    for key in [" sk-spacey-123 ", "sk-caf\u{e9}-123"] {
        let o = bin()
            .args([
                "compare",
                "-n",
                "1",
                "--target",
                "http://127.0.0.1:9/v1",
                "--api-key-env",
                "AB_BAD_KEY",
            ])
            .env("AB_BAD_KEY", key)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("$AB_BAD_KEY") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(!stderr.contains("sk-"), "{stderr}");
    }
}

/// A target that sends an endless 200 body (plain or SSE) costs each strategy one `too_large`
/// per request at `--max-body`, not memory without end.
#[test]
fn an_endless_body_is_cut_at_the_cap_in_every_strategy() {
    for sse in [false, true] {
        // Arrange
        let url = crate::util::endless_body_server(sse);
        let mut cfg = config_for_target(&Strategy::ALL, 3, format!("{url}/v1"));
        cfg.workload.stream = sse;
        cfg.max_body = 1 << 20;
        // The cap, not a deadline, must end each request, however slow a busy machine reads.
        cfg.timeout = Duration::from_secs(60);
        cfg.concurrency = 1;
        cfg.batch_size = 1;
        // Act
        let report = asyncbench::compare(&cfg).unwrap();
        // Assert
        for s in &report.strategies {
            assert_eq!(s.count(Outcome::TooLarge), 3, "{} (sse {sse})", s.id);
            assert_eq!(s.errors[0].class, "body_too_large");
        }
    }
}

/// The table's header shows the mock's effective settings; `--ttft`/`--itl` without `--latency`
/// means no extra latency, so the TTFT measured is the one asked for.
#[test]
fn settings_are_shown_and_ttft_alone_means_no_hidden_latency() {
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "4",
            "-c",
            "4",
            "--strategies",
            "async",
            "--stream",
            "--ttft",
            "200ms",
            "--itl",
            "10ms",
            "--max-tokens",
            "4",
            "--rate-429",
            "0.01",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).replace("\n  ", " ");
    assert!(
        stdout.contains("mock: latency 0ms · ttft 200ms · itl 10ms · tokens 16 · faults rate-429 0.01, retry-after 1s · limits none · seed 1"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .skip_while(|l| !l.starts_with("streaming"))
        .find(|l| l.starts_with("async"))
        .unwrap();
    let ttft_p50: f64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
    // 200 ms asked; a hidden 100 ms default latency would make it 300.
    assert!((200.0..280.0).contains(&ttft_p50), "{row}");
}

/// Every option of `compare --help` that takes a value states its default.
#[test]
fn help_states_every_default() {
    let o = bin().args(["compare", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with("--") || (t.starts_with('-') && t.chars().nth(2) == Some(',')) {
            blocks.push((t.to_owned(), String::new()));
        } else if let Some(b) = blocks.last_mut() {
            b.1.push_str(t);
            b.1.push(' ');
        }
    }
    assert!(blocks.len() > 30, "{help}");
    for (head, body) in &blocks {
        let takes_value = head.contains('<');
        if takes_value {
            assert!(
                head.contains("[default") || body.contains("[default"),
                "{head} has no default in its help"
            );
        }
    }
}

/// Small things: clap's tip survives the one-line error; batched with `-c 0` is refused like
/// threadpool is; a sweep over pauses prints them as durations.
#[test]
fn small_usage_fixes_hold() {
    let o = bin().args(["compare", "--strategie", "async"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("a similar argument exists: '--strategies'"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let o = bin()
        .args(["compare", "-c", "0", "--strategies", "batched"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--concurrency") && stderr.contains("batched"),
        "{stderr}"
    );
    let o = bin()
        .args([
            "sweep",
            "-q",
            "--strategies",
            "batched",
            "-n",
            "4",
            "-c",
            "2",
            "--latency",
            "1ms",
            "--pause",
            "10ms,20ms",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout.lines().any(|l| l.trim_start().starts_with("10ms batched")),
        "{stdout}"
    );
    assert!(!stdout.contains("0.01 "), "{stdout}");
}

/// `thr` counts the threads each strategy ran on (its driver included), and `cpu_s` comes from
/// nanosecond clocks: a short run's CPU is above zero, not rounded to a 10 ms tick. (Through the
/// binary: threads and CPU are the process's, and the test harness has its own.)
#[test]
fn threads_and_cpu_mean_what_the_legend_says() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args(["compare", "-q", "-n", "60", "-c", "4", "--latency", "0"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&out.join("report.json"));
    let s = report["strategies"].as_array().unwrap();
    let thr = |id: &str| {
        s.iter().find(|x| x["id"] == id).unwrap()["threads"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(thr("sequential"), 1);
    assert_eq!(thr("async-single"), 1);
    assert_eq!(thr("threadpool"), 4);
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert_eq!(thr("async"), cores + 1, "the runtime's workers and the driver");
    for x in s {
        let cpu = x["cpu_s"].as_f64().unwrap();
        assert!(cpu > 0.0 && cpu < 60.0, "{}: {cpu}", x["id"]);
    }
}

/// Every attempt carries its logical request's index and, from the second on, its attempt
/// number, in every strategy (what the mock keys its faults on; no number is attempt 1).
#[test]
fn every_attempt_carries_its_request_index_and_attempt_number() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in Strategy::ALL {
        // Arrange: 503 for the first three attempts to arrive, then 200.
        let server = rt.block_on(async {
            let server = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::method("POST"))
                .respond_with(wiremock::ResponseTemplate::new(503))
                .up_to_n_times(3)
                .mount(&server)
                .await;
            wiremock::Mock::given(wiremock::matchers::method("POST"))
                .respond_with(
                    wiremock::ResponseTemplate::new(200).set_body_json(crate::util::completion_json()),
                )
                .mount(&server)
                .await;
            server
        });
        let mut cfg = config_for_target(&[s], 5, format!("{}/v1", server.uri()));
        cfg.retry = fast_retry(4);
        // Act
        let report = asyncbench::compare(&cfg).unwrap();
        // Assert
        assert_eq!(report.strategies[0].count(Outcome::Ok), 5, "{s}");
        let sent: Vec<(u64, Option<u64>)> = rt
            .block_on(server.received_requests())
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/v1/chat/completions")
            .map(|r| {
                let h = |n: &str| {
                    r.headers
                        .get(n)
                        .map(|v| v.to_str().unwrap().parse::<u64>().unwrap())
                };
                (h("x-asyncbench-request").unwrap(), h("x-asyncbench-attempt"))
            })
            .collect();
        assert!(
            sent.iter().all(|k| k.1 != Some(1)),
            "{s}: a first attempt goes without its number: {sent:?}"
        );
        let mut keys: Vec<(u64, u64)> = sent.iter().map(|k| (k.0, k.1.unwrap_or(1))).collect();
        keys.sort();
        // Five requests, 0..5, and three retries: each request's attempts numbered 1, 2, ….
        assert_eq!(keys.len(), 8, "{s}: {keys:?}");
        for i in 0..5 {
            let attempts: Vec<u64> = keys.iter().filter(|k| k.0 == i).map(|k| k.1).collect();
            let want: Vec<u64> = (1..=attempts.len() as u64).collect();
            assert_eq!(attempts, want, "{s}: request {i}");
        }
    }
}

/// Against a mock (a standalone one, behind a proxy that passes everything and keeps what it
/// saw), every strategy numbers its attempts in the query instead: `ab_r`, and `ab_a` from the
/// second attempt on, and no numbering header; the mock reads
/// them (its schedule fails the first attempts of requests 0..3, by number).
#[test]
fn against_a_mock_every_attempt_is_numbered_in_its_query() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in Strategy::ALL {
        // Arrange
        let mock = MockServer::start(Profile {
            schedule: vec!["first:3:503".parse().unwrap()],
            ..Profile::fixed(Duration::ZERO)
        })
        .unwrap();
        let proxy = DroppingProxy::start(&rt, &mock, 0, 0);
        let mut cfg = config_for_target(&[s], 5, format!("{}/v1", proxy.uri()));
        cfg.retry = fast_retry(4);
        // Act
        let report = asyncbench::compare(&cfg).unwrap();
        // Assert
        assert_eq!(report.strategies[0].count(Outcome::Ok), 5, "{s}");
        let chats: Vec<wiremock::Request> = rt
            .block_on(proxy.received_requests())
            .unwrap()
            .into_iter()
            .filter(|r| r.url.path() == "/v1/chat/completions")
            .collect();
        for r in &chats {
            assert!(
                !r.headers.keys().any(|k| k.as_str().starts_with("x-asyncbench")),
                "{s}: numbered in headers too: {:?}",
                r.headers
            );
        }
        let mut keys: Vec<(u64, Option<u64>)> = chats
            .iter()
            .map(|r| {
                let q = |n: &str| {
                    r.url
                        .query_pairs()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.parse::<u64>().unwrap())
                };
                let index = q(mock_server::REQUEST_INDEX_PARAM);
                (
                    index.unwrap_or_else(|| panic!("{s}: no number in the query of {}", r.url)),
                    q(mock_server::ATTEMPT_PARAM),
                )
            })
            .collect();
        keys.sort();
        let want: Vec<(u64, Option<u64>)> = vec![
            (0, None),
            (0, Some(2)),
            (1, None),
            (1, Some(2)),
            (2, None),
            (2, Some(2)),
            (3, None),
            (4, None),
        ];
        assert_eq!(keys, want, "{s}");
    }
}

/// A proxy in front of a standalone mock: `GET /stats` and `POST /admin/reset` pass through,
/// and each chat request too, except every `drop_every`-th one (0: none), which the proxy
/// answers itself with a completion, so the mock never sees that attempt, and the `late`-th
/// one (0: none), which reaches the mock 1.4 s late, after a client with a 1 s timeout gave
/// up on it (its answer to the client takes 3 s).
struct DroppingProxy {
    origin: String,
    drop_every: u64,
    late: u64,
    chats: std::sync::atomic::AtomicU64,
}

impl DroppingProxy {
    /// A proxy so, in front of `mock`, served on `rt`.
    fn start(
        rt: &tokio::runtime::Runtime,
        mock: &MockServer,
        drop_every: u64,
        late: u64,
    ) -> wiremock::MockServer {
        rt.block_on(async {
            let proxy = wiremock::MockServer::start().await;
            wiremock::Mock::given(wiremock::matchers::any())
                .respond_with(DroppingProxy {
                    origin: mock.uri(),
                    drop_every,
                    late,
                    chats: Default::default(),
                })
                .mount(&proxy)
                .await;
            proxy
        })
    }
}

/// Sends `req` to `url` and returns the status and body.
fn forward(url: &str, req: &wiremock::Request) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = if req.method.as_str() == "GET" {
        agent.get(url).call().unwrap()
    } else {
        let mut b = agent.post(url);
        for (k, v) in &req.headers {
            if k.as_str().starts_with("x-asyncbench") || k == "content-type" {
                b = b.header(k.as_str(), v.to_str().unwrap());
            }
        }
        b.send(&req.body[..]).unwrap()
    };
    (resp.status().as_u16(), resp.body_mut().read_to_vec().unwrap())
}

impl wiremock::Respond for DroppingProxy {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        let path = req.url.path();
        let url = match req.url.query() {
            Some(q) => format!("{}{path}?{q}", self.origin),
            None => format!("{}{path}", self.origin),
        };
        if path.ends_with("/chat/completions") {
            let n = self.chats.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            if self.drop_every > 0 && n.is_multiple_of(self.drop_every) {
                return wiremock::ResponseTemplate::new(200).set_body_json(crate::util::completion_json());
            }
            if n == self.late {
                // Off the proxy's own threads, so that /stats keeps passing through meanwhile.
                let req = req.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(1400));
                    forward(&url, &req);
                });
                return wiremock::ResponseTemplate::new(200).set_delay(Duration::from_secs(3));
            }
        }
        let (status, body) = forward(&url, req);
        wiremock::ResponseTemplate::new(status).set_body_raw(body, "application/json")
    }
}

/// Runs `compare` (sequential, 20 requests, and `extra` arguments) through a [`DroppingProxy`]
/// in front of a standalone mock; returns the exit code, stderr and report.json.
fn through_proxy(drop_every: u64, late: u64, extra: &[&str]) -> (Option<i32>, String, serde_json::Value) {
    let mock = MockServer::start(Profile::fixed(Duration::ZERO)).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let proxy = DroppingProxy::start(&rt, &mock, drop_every, late);
    let target = format!("{}/v1", proxy.uri());
    let mut args = vec![
        "compare",
        "-q",
        "-n",
        "20",
        "--strategies",
        "sequential",
        "--target",
        &target,
    ];
    args.extend(extra);
    let (code, stderr, tmp) = run_out(&args);
    (code, stderr, json(&tmp.path().join("out/report.json")))
}

/// A standalone mock is found through its `/stats` and cross-checked: through a proxy that
/// passes everything, the mock's count equals the attempts sent and the run exits 0.
#[test]
fn a_standalone_mock_is_found_through_stats_and_its_count_agrees() {
    let (code, stderr, report) = through_proxy(0, 0, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let server = &report["strategies"][0]["server"];
    assert_eq!(server["attempts_sent"], 20, "{server}");
    assert_eq!(server["requests_received"], 20, "{server}");
    assert_eq!(server["matches"], true, "{server}");
    // It was reset before the run, as a mock is (a plain server is not).
    assert_eq!(report["config"]["isolation"], "reset", "{}", report["config"]);
}

/// When attempts the harness sent never reach the mock (a proxy answers every fourth itself),
/// the cross-check says so: `accounting mismatch` on stderr naming both counts, `matches: false`
/// in the report, and exit 3, although every request succeeded.
#[test]
fn attempts_the_mock_never_saw_fail_the_cross_check_with_exit_3() {
    let (code, stderr, report) = through_proxy(4, 0, &[]);
    assert_eq!(code, Some(3), "{stderr}");
    let s = &report["strategies"][0];
    assert_eq!(
        s["outcomes"]["ok"], 20,
        "every request succeeded: {}",
        s["outcomes"]
    );
    assert_eq!(s["server"]["attempts_sent"], 20);
    assert_eq!(s["server"]["requests_received"], 15);
    assert_eq!(s["server"]["matches"], false);
    let line = stderr
        .lines()
        .find(|l| l.contains("accounting mismatch"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains("20") && line.contains("15"), "{line}");
}

/// An attempt the client gave up on may reach the mock after the strategy ended (here the last
/// one arrives 1.4 s late, 0.4 s after the client's 1 s timeout): the cross-check waits for the
/// mock's count to catch up (up to a second) rather than report a mismatch that is not there.
#[test]
fn the_cross_check_waits_for_an_attempt_still_on_its_way() {
    let (code, stderr, report) = through_proxy(0, 20, &["--timeout", "1s"]);
    assert_eq!(code, Some(0), "{stderr}");
    let s = &report["strategies"][0];
    assert_eq!(
        (&s["outcomes"]["ok"], &s["outcomes"]["timeout"]),
        (&19.into(), &1.into())
    );
    assert_eq!(s["server"]["attempts_sent"], 20, "{}", s["server"]);
    assert_eq!(s["server"]["requests_received"], 20, "{}", s["server"]);
    assert_eq!(s["server"]["matches"], true, "{}", s["server"]);
}
