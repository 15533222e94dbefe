//! What users of oha, vLLM bench, GuideLLM and AIPerf expect: runs bounded by time, warm-ups,
//! extra headers and body files, synthetic prompts and datasets, token spreads, SLO goodput,
//! automatic sweeps, `requests.jsonl`, and JSON or CSV on stdout.

use std::time::Duration;

use asyncbench::Inputs;
use asyncbench::internals::parse_header;
use asyncbench::model::outcome::Outcome;
use asyncbench::model::plan::Spread;
use asyncbench::model::plan::{Slo, Stop, Warmup};
use asyncbench::model::strategy::Strategy;
use mock_server::{MockServer, Profile};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::util::{bin, completion_json, config, config_for_target, json, open_loop, run_in_out, run_out};

/// `--duration` bounds the run by time in a closed loop (the count is then no cap) and in an
/// open loop (the schedule stops at the duration); the report says which bound applied, and the
/// requests in flight at the end are finished and counted.
#[test]
fn a_duration_bounds_the_run_by_time() {
    // Closed loop, no count: about 1 s at 20 ms, 2 in flight.
    let mut cfg = config(
        &[Strategy::Async, Strategy::Sequential],
        1,
        Profile::fixed(Duration::from_millis(20)),
    );
    cfg.concurrency = 2;
    cfg.stop = Stop::Duration(Duration::from_secs(1));
    let report = asyncbench::compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_eq!(
            s.ended_by,
            asyncbench::model::report::EndedBy::Duration,
            "{}",
            s.id
        );
        assert!(s.wall_s >= 1.0, "{}: {}", s.id, s.wall_s);
        assert!(s.issued >= 10 && s.issued < 1000, "{}: {}", s.id, s.issued);
        assert!(
            s.accounted_ok && s.count(Outcome::Ok) == s.issued,
            "{}: {}",
            s.id,
            s.accounted
        );
        assert!(s.server.as_ref().unwrap().matches);
    }
    // Open loop: 40/s for 0.5 s is 20 requests, exactly.
    let mut cfg = config(&[Strategy::Async], 1, Profile::fixed(Duration::from_millis(5)));
    cfg.load = open_loop(40.0);
    cfg.stop = Stop::Duration(Duration::from_millis(500));
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    assert_eq!(s.issued, 20);
    assert_eq!(s.ended_by, asyncbench::model::report::EndedBy::Duration);
    // With a count that comes first, the count bounds it.
    let mut cfg = config(&[Strategy::Async], 5, Profile::fixed(Duration::from_millis(5)));
    cfg.stop = Stop::First {
        count: 5,
        duration: Duration::from_secs(30),
    };
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    assert_eq!(
        (s.issued, s.ended_by),
        (5, asyncbench::model::report::EndedBy::Count)
    );
}

/// An open loop asked for more than its slots can send stops at its duration in every
/// strategy, its backlog the schedule's and not tasks: at most the slots' worth of requests
/// are sent (2 slots of 50 ms each for 0.5 s: 22), each timed from its due time, so the lag
/// shows, and the rest are counted as never sent. `async` spawned a task per request as it fell
/// due, 500 of them, sent them all after the end and ran on long after `threadpool` had stopped.
#[test]
fn an_overloaded_open_loop_stops_at_its_duration_in_every_strategy() {
    for s in Strategy::ALL {
        let mut cfg = config(&[s], 1, Profile::fixed(Duration::from_millis(50)));
        (cfg.concurrency, cfg.batch_size) = (2, 2);
        cfg.load = open_loop(1000.0);
        cfg.stop = Stop::Duration(Duration::from_millis(500));
        let report = asyncbench::compare(&cfg).unwrap();
        let r = &report.strategies[0];
        assert_eq!(r.ended_by, asyncbench::model::report::EndedBy::Duration, "{s}");
        assert!(r.issued >= 2 && r.issued <= 22, "{s}: {} sent", r.issued);
        // The rest of the 500 due within the duration were never sent, and the warning says so.
        assert_eq!(r.requests, 500, "{s}");
        let unsent = format!(
            "({} of the 500 requests due within its duration were never sent)",
            500 - r.issued
        );
        assert!(
            report.warnings()[0].contains(&unsent),
            "{s}: {:?}",
            report.warnings()
        );
        assert!(
            r.accounted_ok && r.count(Outcome::Ok) == r.issued,
            "{s}: {}",
            r.accounted
        );
        let p99 = r.latency_ms.unwrap().p99;
        assert!(p99 >= 250.0, "{s}: p99 {p99} ms from the due times");
    }
}

/// `--concurrency 0` is every request in flight at once: a closed loop needs a count for that
/// (with a duration alone it spawned 677 000 requests in a second, 1.5 GB), an open loop's rate
/// bounds it, and its table, CSV and charts show its limit as ∞ (null in the report).
#[test]
fn unbounded_concurrency_needs_a_count_or_a_rate() {
    let mut cfg = config(&[Strategy::Async], 1, Profile::fixed(Duration::from_millis(5)));
    cfg.concurrency = 0;
    cfg.stop = Stop::Duration(Duration::from_millis(300));
    let err = asyncbench::compare(&cfg).unwrap_err();
    assert!(err.to_string().contains("invalid --concurrency '0'"), "{err}");
    cfg.stop = Stop::First {
        count: 6,
        duration: Duration::from_secs(30),
    };
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    assert_eq!((s.issued, s.concurrency), (6, Some(6)), "every request at once");

    let (o, tmp) = run_in_out(&[
        "compare",
        "-q",
        "--strategies",
        "async",
        "-c",
        "0",
        "-z",
        "300ms",
        "--rate",
        "20",
        "--latency",
        "5ms",
        "--rounds",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let row = stdout
        .lines()
        .find(|l| l.starts_with("async "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(row.split_whitespace().nth(1), Some("∞"), "{row}");
    let csv = std::fs::read_to_string(tmp.path().join("out/summary.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().starts_with("async,∞,"), "{csv}");
    let svg = std::fs::read_to_string(tmp.path().join("out/throughput.svg")).unwrap();
    assert!(svg.contains("async (C=∞)") && !svg.contains("18446744073709551615"));
    // The report's field is null: no number stands for "no limit".
    let report = std::fs::read_to_string(tmp.path().join("out/report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["strategies"][0]["concurrency"], serde_json::Value::Null);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A warm-up goes first with the same clients, is counted apart, and is in no figure; the mock's
/// cross-check counts its attempts too.
#[test]
fn a_warmup_is_sent_first_and_left_out_of_the_figures() {
    for warmup in [Warmup::Requests(3), Warmup::Time(Duration::from_millis(200))] {
        let mut cfg = config(&Strategy::ALL, 6, Profile::fixed(Duration::from_millis(10)));
        cfg.warmup = Some(warmup);
        let report = asyncbench::compare(&cfg).unwrap();
        for s in &report.strategies {
            let w = s.warmup.as_ref().unwrap();
            match warmup {
                Warmup::Requests(n) => assert_eq!(w.issued, n, "{}", s.id),
                // Batched ends its warm-up when a pause would carry it past the time (10 ms
                // here): no batch could start after it.
                Warmup::Time(_) => {
                    let until = if s.id == Strategy::Batched { 0.19 } else { 0.2 };
                    assert!(w.issued >= 2 && w.wall_s >= until, "{}: {w:?}", s.id)
                }
            }
            assert_eq!(s.accounted, "6/6", "{}", s.id);
            assert_eq!(s.latency_ms.unwrap().count, 6, "{}", s.id);
            let c = s.server.as_ref().unwrap();
            assert_eq!(c.requests_received, 6 + w.issued, "{}", s.id);
            assert!(c.matches, "{}", s.id);
        }
    }
}

/// What reaches the server: `-H` headers on every attempt, the body file's fields over ours,
/// dataset rows in order, synthetic prompts of about N words, `max_tokens` within its spread.
#[test]
fn headers_body_files_datasets_and_spreads_shape_the_requests() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion_json()))
            .mount(&server)
            .await;
        server
    });
    let bodies = |server: &wiremock::MockServer| -> Vec<(serde_json::Value, http::HeaderMap)> {
        let reqs = rt.block_on(server.received_requests()).unwrap();
        let mut v: Vec<_> = reqs
            .iter()
            .filter(|r| r.url.path() == "/v1/chat/completions")
            .map(|r| {
                let mut h = http::HeaderMap::new();
                for (k, val) in r.headers.iter() {
                    h.insert(k.clone(), val.clone());
                }
                (serde_json::from_slice::<serde_json::Value>(&r.body).unwrap(), h)
            })
            .collect();
        v.sort_by_key(|(_, h)| {
            h["x-asyncbench-request"]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        });
        v
    };
    // Headers and the body file.
    let mut cfg = config_for_target(
        &[Strategy::Sequential, Strategy::Async],
        3,
        format!("{}/v1", server.uri()),
    );
    cfg.inputs = std::sync::Arc::new(Inputs {
        headers: vec![parse_header("X-Team: search").unwrap()],
        body_template: Some(
            serde_json::json!({"temperature": 0.25, "max_tokens": 7})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..Inputs::default()
    });
    asyncbench::compare(&cfg).unwrap();
    let got = bodies(&server);
    assert_eq!(got.len(), 6);
    for (b, h) in &got {
        assert_eq!(h["x-team"], "search");
        assert_eq!(b["temperature"], 0.25);
        assert_eq!(b["max_tokens"], 7, "the file wins");
        assert_eq!(b["model"], "mock-model", "ours where the file is silent");
    }
    rt.block_on(server.reset());
    rt.block_on(async {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion_json()))
            .mount(&server)
            .await;
    });
    // A dataset, cycled in order, and max_tokens spread.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("d.jsonl");
    std::fs::write(
        &path,
        "{\"prompt\": \"first\"}\n\n{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", \"content\": \"second\"}]}\n",
    )
    .unwrap();
    let mut cfg = config_for_target(&[Strategy::Sequential], 5, format!("{}/v1", server.uri()));
    cfg.inputs = std::sync::Arc::new(Inputs {
        dataset: asyncbench::read_dataset(&path).unwrap(),
        ..Inputs::default()
    });
    cfg.workload.max_tokens = 40;
    cfg.workload.max_tokens_spread = 20;
    asyncbench::compare(&cfg).unwrap();
    let got = bodies(&server);
    let firsts: Vec<String> = got
        .iter()
        .map(|(b, _)| {
            let m = b["messages"].as_array().unwrap();
            m.last().unwrap()["content"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(firsts, ["first", "second", "first", "second", "first"]);
    assert_eq!(got[1].0["messages"][0]["role"], "system");
    let max: Vec<u64> = got
        .iter()
        .map(|(b, _)| b["max_tokens"].as_u64().unwrap())
        .collect();
    assert!(max.iter().all(|m| (20..=60).contains(m)), "{max:?}");
}

/// Synthetic prompts have about the words asked for, and the input tokens the target reports
/// are recorded per request.
#[test]
fn synthetic_prompts_and_input_tokens_are_measured() {
    let mut cfg = config(&[Strategy::Async], 20, Profile::default());
    cfg.workload.prompt_tokens = Some(Spread {
        mean: 400,
        spread: 100,
    });
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    let p = s.input_tokens_per_request.unwrap();
    // The mock counts about four characters a token; 300..500 words of 2 to 7 letters and a
    // space are 400 to 1600 characters, and 3 tokens of framing.
    assert!(p.count == 20 && p.p50 > 100.0 && p.max < 1000.0, "{p:?}");
    assert!(s.input_tokens as f64 >= 20.0 * p.p50 * 0.5, "{}", s.input_tokens);
}

/// With an SLO, good requests are those that meet every limit: none when the limit is below the
/// mock's latency, all when above; a TTFT limit needs a stream.
#[test]
fn slo_goodput_counts_the_requests_that_meet_every_limit() {
    for (limit_ms, want_good) in [(10u64, 0u64), (500, 8)] {
        let mut cfg = config(
            &[Strategy::Async, Strategy::Threadpool],
            8,
            Profile::fixed(Duration::from_millis(30)),
        );
        cfg.slo = Slo {
            e2e: Some(Duration::from_millis(limit_ms)),
            ..Slo::default()
        };
        for s in &asyncbench::compare(&cfg).unwrap().strategies {
            assert_eq!(s.good, Some(want_good), "{} with e2e ≤ {limit_ms} ms", s.id);
            assert_eq!(s.count(Outcome::Ok), 8);
            assert_eq!(s.good_share.unwrap(), want_good as f64 / 8.0);
        }
    }
    let o = bin()
        .args(["compare", "-n", "2", "--slo", "ttft=1s"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--slo") && stderr.contains("--stream"),
        "{stderr}"
    );
    let o = bin()
        .args(["compare", "-n", "2", "--slo", "p99=1s"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `requests.jsonl` holds one line per request issued, valid against its schema, with the
/// chunk times when asked; warm-up requests are not in it.
#[test]
fn requests_jsonl_has_a_line_per_request_and_chunks_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "6",
            "-c",
            "2",
            "--strategies",
            "sequential,async",
            "--stream",
            "--ttft",
            "5ms",
            "--itl",
            "1ms",
            "--max-tokens",
            "4",
            "--warmup",
            "2",
            "--rate-500",
            "0.3",
            "--export-chunks",
            "--slo",
            "ttft=1s",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/requests.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let text = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 12, "6 per strategy, no warm-up");
    for l in &lines {
        let errors: Vec<String> = validator.iter_errors(l).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}: {l}");
        assert!(
            l["index"].as_u64().unwrap() < 6,
            "warm-up indexes are not logged: {l}"
        );
        assert!(l["start_ms"].as_f64() <= l["end_ms"].as_f64());
        match l["outcome"].as_str().unwrap() {
            "ok" => {
                assert_eq!(l["chunks_ms"].as_array().unwrap().len(), 4, "{l}");
                assert_eq!(l["good"], true);
                assert!(l["bytes"].as_u64().unwrap() > 0);
            }
            _ => {
                assert_eq!(l["error"], "http_500");
                assert_eq!(l["good"], false);
            }
        }
    }
    let report = json(&out.join("report.json"));
    let ok: u64 = report["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcomes"]["ok"].as_u64().unwrap())
        .sum();
    assert_eq!(ok as usize, lines.iter().filter(|l| l["outcome"] == "ok").count());
}

/// `--json` puts the report on stdout (the table on stderr); `--format csv` the summary; the
/// sweep does the same with its own report.
#[test]
fn json_and_csv_go_to_stdout_for_scripts() {
    let args = [
        "compare",
        "-q",
        "-n",
        "3",
        "--latency",
        "1ms",
        "--strategies",
        "async,sequential",
    ];
    let o = bin().args(args).arg("--json").output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["strategies"][1]["id"], "sequential");
    assert!(String::from_utf8_lossy(&o.stderr).contains("accounted"));
    let o = bin().args(args).args(["--format", "csv"]).output().unwrap();
    let csv = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("strategy,concurrency,") && rows[1].starts_with("async,"));
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "3",
            "--latency",
            "1ms",
            "--strategies",
            "async",
            "-c",
            "1,2",
            "--json",
        ])
        .output()
        .unwrap();
    let sweep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(sweep["points"].as_array().unwrap().len(), 2);
}

/// `sweep --concurrency auto` doubles until goodput stops growing and sweeps up to one doubling
/// past it; `sweep --rate auto` sweeps from the one-at-a-time rate to the closed-loop throughput.
#[test]
fn automatic_sweeps_find_their_points() {
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "16",
            // Long enough that a busy machine's scheduling jitter cannot hide a doubling.
            "--latency",
            "40ms",
            "--strategies",
            "async",
            "--concurrency",
            "auto",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probes = s["auto"]["probes"].as_array().unwrap();
    assert!(probes.len() >= 3, "{probes:?}");
    let sat = s["auto"]["saturation"].as_f64().unwrap();
    // 16 requests: more than 16 in flight cannot help, so the probe stops there.
    assert!((4.0..=16.0).contains(&sat), "saturation {sat}, probes {probes:?}");
    assert!(
        probes.iter().all(|p| p[0].as_f64().unwrap() <= 16.0),
        "{probes:?}"
    );
    let points: Vec<f64> = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["setting"].as_f64().unwrap())
        .collect();
    assert_eq!(points.first(), Some(&1.0));
    assert_eq!(points.last(), Some(&(2.0 * sat)));
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "12",
            "--latency",
            "10ms",
            "--strategies",
            "async",
            "-c",
            "4",
            "--rate",
            "auto",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rates: Vec<f64> = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["setting"].as_f64().unwrap())
        .collect();
    assert_eq!(rates.len(), 6, "{rates:?}");
    let (lo, hi) = (
        s["auto"]["probes"][0][1].as_f64().unwrap(),
        s["auto"]["probes"][1][1].as_f64().unwrap(),
    );
    assert!(hi > 2.0 * lo, "{lo} {hi}");
    assert!(
        (rates[0] - lo).abs() < 0.01 && (rates[5] - hi).abs() < 0.01,
        "{rates:?}"
    );
}

/// `asyncbench completions bash` prints a completion script naming the subcommands.
#[test]
fn shell_completions_are_printed() {
    let o = bin().args(["completions", "bash"]).output().unwrap();
    assert!(o.status.success());
    let script = String::from_utf8_lossy(&o.stdout);
    assert!(script.contains("asyncbench") && script.contains("compare") && script.contains("--strategies"));
    let o = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// `--dataset` and `--body-file` that cannot be read, or hold nothing usable, are refused with
/// exit 2 naming the flag and the line.
#[test]
fn bad_input_files_are_refused_naming_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"prompt\": \"ok\"}\n{\"nothing\": 1}\n").unwrap();
    let body = tmp.path().join("body.json");
    std::fs::write(&body, "[1, 2]").unwrap();
    for (flag, path, want) in [
        ("--dataset", &bad, "line 2"),
        ("--body-file", &body, "not a JSON object"),
    ] {
        let o = bin()
            .args(["compare", "-n", "1", flag])
            .arg(path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(flag) && stderr.contains(want), "{stderr}");
    }
    let o = bin()
        .args(["compare", "-n", "1", "-H", "no colon"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// A credential passed with `-H` is masked where a server echoes it back into an error sample.
#[test]
fn a_credential_header_is_masked_in_error_samples() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(401).set_body_string("bad key: tok-abcdef-123456789 rejected"),
            )
            .mount(&server)
            .await;
        server
    });
    let mut cfg = config_for_target(&[Strategy::Async], 2, format!("{}/v1", server.uri()));
    cfg.inputs = std::sync::Arc::new(Inputs {
        headers: vec![parse_header("x-api-key: tok-abcdef-123456789").unwrap()],
        ..Inputs::default()
    });
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    assert_eq!(s.errors[0].class, "http_401");
    assert!(
        !s.errors[0].sample.contains("tok-abcdef"),
        "{}",
        s.errors[0].sample
    );
    assert!(
        s.errors[0].sample.contains("bad key: ***"),
        "{}",
        s.errors[0].sample
    );
    let _ = MockServer::start(Profile::default()).unwrap();
}

/// An open loop that cannot start its requests on time says so, in every strategy: 2 slots at
/// 50 ms can start about 40 requests/s, not the 200 asked for, and stderr names the strategy,
/// both rates and the share. The threshold is 99 % of the target: a report read back warns at
/// 98.9 requests/s of 100, not at 99.0 or above. (No live run asserts the absence of the line: on a loaded machine
/// even an easy rate can start a little late, and 99 % is meant to be strict.)
#[test]
fn an_open_loop_that_cannot_keep_its_rate_says_so() {
    let (code, stderr, tmp) = run_out(&[
        "compare",
        "-q",
        "-n",
        "40",
        "--rate",
        "200",
        "-c",
        "2",
        "--latency",
        "50ms",
        "--pause",
        "10ms",
        "--rounds",
        "1",
        "--strategies",
        "sequential,threadpool,async,async-single,async-offload,batched",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    for s in Strategy::ALL {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("{s} started"))
                    && l.contains("requests/s of the 200.0 asked for")),
            "{s}: {stderr}"
        );
    }
    // The boundary, on the first strategy's report.
    let mut v = json(&tmp.path().join("out/report.json"));
    v["strategies"] = serde_json::json!([v["strategies"][0]]);
    for (achieved, warns) in [(98.9, 1), (99.0, 0), (150.0, 0)] {
        v["strategies"][0]["target_rate"] = serde_json::json!(100.0);
        v["strategies"][0]["achieved_rate"] = serde_json::json!(achieved);
        let report: asyncbench::model::report::RunReport = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(report.warnings().len(), warns, "achieved {achieved} of 100");
    }
}

/// `--arrival poisson` spaces the due times by exponential gaps (mean 1/rate, coefficient of
/// variation near 1), where the constant schedule spaces them evenly (variation near 0); both
/// as `requests.jsonl` records each request's intended start, and the same seed gives the same
/// schedule.
#[test]
fn poisson_arrivals_have_exponential_gaps_end_to_end() {
    let gaps = |arrival: &str, seed: &str| {
        let (code, stderr, tmp) = run_out(&[
            "compare",
            "-q",
            "-n",
            "300",
            "--rate",
            "200",
            "--arrival",
            arrival,
            "-c",
            "100",
            "--latency",
            "1ms",
            "--strategies",
            "async",
            "--seed",
            seed,
        ]);
        assert_eq!(code, Some(0), "{stderr}");
        let text = std::fs::read_to_string(tmp.path().join("out/requests.jsonl")).unwrap();
        let mut due: Vec<(u64, f64)> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (v["index"].as_u64().unwrap(), v["intended_ms"].as_f64().unwrap())
            })
            .collect();
        assert_eq!(due.len(), 300);
        due.sort_by_key(|d| d.0);
        due.windows(2).map(|w| w[1].1 - w[0].1).collect::<Vec<f64>>()
    };
    let stats = |g: &[f64]| {
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / g.len() as f64;
        (mean, var.sqrt() / mean)
    };
    let poisson = gaps("poisson", "11");
    let (mean, cv) = stats(&poisson);
    assert!((3.5..6.5).contains(&mean), "mean gap {mean} ms, 5 expected");
    assert!((0.75..1.25).contains(&cv), "coefficient of variation {cv}");
    assert!(poisson.iter().all(|g| *g >= 0.0), "due times in index order");
    let (mean, cv) = stats(&gaps("constant", "11"));
    assert!((4.9..5.1).contains(&mean), "mean gap {mean} ms");
    assert!(cv < 0.05, "constant gaps vary by {cv}");
    // The same seed, the same schedule (times are logged to the microsecond from each run's
    // own start, so gaps agree to a few microseconds).
    let again = gaps("poisson", "11");
    assert!(
        again.iter().zip(&poisson).all(|(a, b)| (a - b).abs() < 0.005),
        "the same seed gives the same schedule"
    );
    let other = gaps("poisson", "12");
    assert!(
        other.iter().zip(&poisson).any(|(a, b)| (a - b).abs() > 0.5),
        "another seed, another schedule"
    );
}

/// Every `--retry-*` flag reaches the policy the run uses, as report.json states it: each
/// overrides the preset's value, the others stay the preset's.
#[test]
fn every_retry_flag_overrides_the_preset() {
    let openai = [
        "compare",
        "-q",
        "-n",
        "2",
        "--strategies",
        "sequential",
        "--retry",
        "openai",
    ];
    let (code, stderr, tmp) = run_out(
        &[
            &openai[..],
            &[
                "--retry-attempts",
                "4",
                "--retry-initial",
                "123ms",
                "--retry-factor",
                "3",
                "--retry-max",
                "7s",
                "--retry-jitter",
                "full",
                "--retry-statuses",
                "429,503",
                "--retry-after-cap",
                "9s",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let r = &json(&tmp.path().join("out/report.json"))["config"]["retry"];
    assert_eq!(r["attempts"], 4, "{r}");
    assert_eq!(r["initial"], "123ms", "{r}");
    assert_eq!(r["factor"], 3.0, "{r}");
    assert_eq!(r["max_delay"], "7s", "{r}");
    assert_eq!(r["jitter"], "full", "{r}");
    assert_eq!(r["statuses"], serde_json::json!([429, 503]), "{r}");
    assert_eq!(r["retry_after_cap"], "9s", "{r}");
    // Left as openai's.
    assert_eq!(r["retry_server_errors"], true, "{r}");
    assert_eq!(r["obey_should_retry"], true, "{r}");
    // Without the flags: openai's own values.
    let (_, _, tmp) = run_out(&openai);
    let r = &json(&tmp.path().join("out/report.json"))["config"]["retry"];
    assert_eq!(
        (
            r["attempts"].clone(),
            r["initial"].clone(),
            r["max_delay"].clone(),
            r["retry_after_cap"].clone()
        ),
        (
            serde_json::json!(3),
            serde_json::json!("500ms"),
            serde_json::json!("8s"),
            serde_json::json!("120s")
        ),
        "{r}"
    );
}

/// `reproduce` runs the article's comparison as the README shows it: ten 1 s GETs for
/// sequential, threadpool and async, then batches of five with a 1 s pause; every request
/// succeeds, each strategy takes at least what its pattern implies, async beats sequential,
/// and the table prints the article's column beside the measured one.
#[test]
fn reproduce_runs_the_articles_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args(["reproduce", "-q", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let report = json(&out.join("report.json"));
    let c = &report["config"];
    assert_eq!(
        (&c["requests"], &c["batch_size"], &c["pause_s"]),
        (&10.into(), &5.into(), &1.0.into())
    );
    assert_eq!(c["workload"]["delay_endpoint"], 1.0);
    let wall = |id: &str| {
        let s = report["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("{id} ran"));
        assert_eq!(s["outcomes"]["ok"], 10, "{id}");
        assert!(
            stdout.lines().any(|l| l.starts_with(id) && l.contains("10/10")),
            "{stdout}"
        );
        s["wall_s"].as_f64().unwrap()
    };
    // Ten 1 s calls in a row; all at once; two rounds of 1 s with a 1 s pause between.
    let (seq, pool, asy, batched) = (
        wall("sequential"),
        wall("threadpool"),
        wall("async"),
        wall("batched"),
    );
    assert!(
        seq >= 10.0 && pool >= 1.0 && asy >= 1.0 && batched >= 3.0,
        "{seq} {pool} {asy} {batched}"
    );
    assert!(asy < seq / 2.0 && pool < seq / 2.0, "{seq} {pool} {asy}");
    for implied in [
        "≈10 s: ten 1 s calls",
        "≈1 s: asyncio.gather",
        "≈3 s: two batches",
    ] {
        assert!(stdout.contains(implied), "{stdout}");
    }
}

/// `--prompt-tokens 200 --tokenizer T`: every strategy's requests carry prompts the mock counts
/// at exactly 200 tokens (framing included) with the same tokenizer, so the report's input
/// tokens are 200 a request and no count differs; the tokenizer is in the report.
#[test]
fn prompt_tokens_are_what_the_mock_counts_with_every_tokenizer() {
    let all: Vec<&str> = Strategy::ALL.iter().map(|s| s.id()).collect();
    for t in ["words", "o200k_base", "cl100k_base"] {
        // Arrange / Act
        let (code, err, dir) = run_out(&[
            "compare",
            "-q",
            "-n",
            "8",
            "--latency",
            "1ms",
            "--prompt-tokens",
            "200",
            "--tokenizer",
            t,
            "--strategies",
            &all.join(","),
        ]);
        // Assert
        assert_eq!(code, Some(0), "{t}: {err}");
        let report = json(&dir.path().join("out/report.json"));
        assert_eq!(report["config"]["workload"]["tokenizer"], t);
        let strategies = report["strategies"].as_array().unwrap();
        assert_eq!(strategies.len(), Strategy::ALL.len());
        for s in strategies {
            let ok = s["outcomes"]["ok"].as_u64().unwrap();
            assert_eq!(ok, 8, "{t}: {}", s["id"]);
            assert_eq!(s["input_tokens"].as_u64(), Some(200 * ok), "{t}: {}", s["id"]);
            // The histogram keeps three significant digits.
            let p50 = s["input_tokens_per_request"]["p50"].as_f64().unwrap();
            assert!((p50 - 200.0).abs() < 0.5, "{t}: {p50}");
            assert_eq!(s["input_token_mismatches"].as_u64(), Some(0), "{t}: {}", s["id"]);
        }
    }
}

/// A target that counts with another tokenizer: every request is flagged, the target's own
/// counts are the ones reported, and a note under the table says how many and what to do;
/// with the target's tokenizer, none.
#[test]
fn a_target_counting_otherwise_is_flagged() {
    // Arrange: a standalone mock counting with cl100k_base, and prose whose words and tokens
    // differ.
    let mock = MockServer::start(Profile {
        tokenizer: mock_server::tokens::Tokenizer::Cl100kBase,
        ..Profile::fixed(Duration::from_millis(1))
    })
    .unwrap();
    let prompt = "Explain, in two short paragraphs, why asynchronous I/O lets one thread keep hundreds of requests in flight.";
    let target = format!("{}/v1", mock.uri());
    let all: Vec<&str> = Strategy::ALL.iter().map(|s| s.id()).collect();
    for (t, flagged) in [("words", true), ("cl100k_base", false)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        // Act
        let o = bin()
            .args([
                "compare",
                "-n",
                "5",
                "--strategies",
                &all.join(","),
                "--tokenizer",
                t,
            ])
            .args(["--prompt", prompt, "--target", &target])
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        // Assert
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        let report = json(&out.join("report.json"));
        for s in report["strategies"].as_array().unwrap() {
            let differ = s["input_token_mismatches"].as_u64().unwrap();
            assert_eq!(differ, if flagged { 5 } else { 0 }, "{t}: {}", s["id"]);
            // The target's count: cl100k_base's, with the framing.
            let cl100k = mock_server::tokens::Tokenizer::Cl100kBase.chat_prompt([prompt]);
            assert_eq!(s["input_tokens"].as_u64(), Some(5 * cl100k), "{t}");
        }
        let note = "input tokens: the target counted 30 of 30 successful requests' prompts otherwise than --tokenizer words";
        assert_eq!(stdout.replace('\n', " ").contains(note), flagged, "{t}: {stdout}");
    }
}

/// `--ramp` opens a closed loop's C slots evenly over its time, in the warm-up and again in the
/// measured phase: with C = 4 over 600 ms, slot k opens k × 150 ms after the phase's start and
/// then stays open, so at no request's start are more in flight than the slots open by then
/// (counted from the phase's first start, with 25 ms for its own start-up). Every strategy that
/// holds slots, the Python clients and the example client of another language included (they
/// are told it in the protocol); `batched` is
/// not ramped, and the report and table say so. Without a ramp four start together.
#[test]
fn a_ramp_opens_each_phases_slots_evenly_for_every_strategy() {
    use asyncbench::model::strategy::PyClient;
    crate::util::python_clients();
    let mut ramped: Vec<String> = Strategy::ALL
        .into_iter()
        .filter(|s| *s != Strategy::Batched && *s != Strategy::Sequential)
        .chain(
            PyClient::ALL
                .into_iter()
                .filter(|p| p.only_api().is_none() && *p != PyClient::Sequential)
                .map(Strategy::Python),
        )
        .map(|s| s.id().to_string())
        .collect();
    let list = format!("sequential,batched,{}", ramped.join(","));
    let mut args = vec![
        "compare",
        "-n",
        "12",
        "-c",
        "4",
        "--warmup",
        "4",
        "--ramp",
        "600ms",
        "--latency",
        "20ms",
        "--strategies",
        &list,
    ];
    // A client of any language is told the ramp too: the example in examples/clients/ keeps it.
    let node = format!("node {}/examples/clients/fetch.mjs", env!("CARGO_MANIFEST_DIR"));
    let with_node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        with_node || std::env::var_os("ASYNCBENCH_REQUIRE_NODE").is_none(),
        "node is required (ASYNCBENCH_REQUIRE_NODE) but not installed"
    );
    if with_node {
        args.extend(["--client-name", "node-fetch", "--client-cmd", &node]);
        ramped.push("node-fetch".into());
    }
    let (o, tmp) = crate::util::run_in_out(&args);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("ramp: each phase's slots opened evenly over 600 ms (batched not ramped"),
        "{table}"
    );
    let out = tmp.path().join("out");
    let report = json(&out.join("report.json"));
    assert_eq!(report["config"]["ramp_s"], 0.6);
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/report.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&report).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "report.json with a ramp: {errors:?}");
    let text = std::fs::read_to_string(out.join("requests.jsonl")).unwrap();
    let mut spans: std::collections::BTreeMap<String, Vec<(f64, f64)>> = Default::default();
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        spans
            .entry(v["strategy"].as_str().unwrap().to_owned())
            .or_default()
            .push((v["start_ms"].as_f64().unwrap(), v["end_ms"].as_f64().unwrap()));
    }
    let most_in_flight = |s: &[(f64, f64)], ramp: bool| -> Vec<(f64, usize, usize)> {
        let first = s.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        s.iter()
            .map(|&(t, _)| {
                let busy = s.iter().filter(|r| r.0 <= t && t < r.1).count();
                let open = if ramp {
                    (1 + ((t - first + 25.0) / 150.0) as usize).min(4)
                } else {
                    4
                };
                (t - first, busy, open)
            })
            .collect()
    };
    for id in &ramped {
        let s = &spans[id.as_str()];
        assert_eq!(s.len(), 12, "{id}");
        let seen = most_in_flight(s, true);
        assert!(
            seen.iter().all(|&(_, busy, open)| busy <= open),
            "{id}: (ms after the first start, in flight, open) {seen:?}"
        );
    }
    // The batches are not ramped: the first four start together.
    let seen = most_in_flight(&spans["batched"], false);
    assert!(seen.iter().any(|&(_, busy, _)| busy == 4), "batched: {seen:?}");
}
