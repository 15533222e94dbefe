//! What users of oha, vLLM bench, GuideLLM and AIPerf expect: runs bounded by time, warm-ups,
//! extra headers and body files, synthetic prompts and datasets, token spreads, SLO goodput,
//! automatic sweeps, `requests.jsonl`, and JSON or CSV on stdout.

use std::time::Duration;

use asyncbench::config::{LoadModel, Slo, Strategy, Warmup};
use asyncbench::inputs::{Inputs, Spread, parse_header};
use asyncbench::metrics::Outcome;
use mock_server::{MockServer, Profile};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::util::{bin, completion_json, config, config_for_target, json};

/// `--duration` bounds the run by time in a closed loop (the count is then no cap) and in an
/// open loop (the schedule stops at the duration); the report says which bound applied, and the
/// requests in flight at the end are finished and counted.
#[test]
fn a_duration_bounds_the_run_by_time() {
    // Closed loop, no count: about 1 s at 20 ms, 2 in flight.
    let mut cfg = config(
        &[Strategy::Async, Strategy::Sequential],
        u64::MAX,
        Profile::fixed(Duration::from_millis(20)),
    );
    cfg.concurrency = 2;
    cfg.duration = Some(Duration::from_secs(1));
    let report = asyncbench::compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_eq!(s.ended_by, asyncbench::report::EndedBy::Duration, "{}", s.id);
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
    let mut cfg = config(
        &[Strategy::Async],
        u64::MAX,
        Profile::fixed(Duration::from_millis(5)),
    );
    cfg.load = LoadModel::Open {
        rate: 40.0,
        arrival: asyncbench::config::Arrival::Constant,
        seed: 1,
    };
    cfg.duration = Some(Duration::from_millis(500));
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    assert_eq!(s.issued, 20);
    assert_eq!(s.ended_by, asyncbench::report::EndedBy::Duration);
    // With a count that comes first, the count bounds it.
    let mut cfg = config(&[Strategy::Async], 5, Profile::fixed(Duration::from_millis(5)));
    cfg.duration = Some(Duration::from_secs(30));
    let s = &asyncbench::compare(&cfg).unwrap().strategies[0];
    assert_eq!((s.issued, s.ended_by), (5, asyncbench::report::EndedBy::Count));
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
                Warmup::Time(_) => assert!(w.issued >= 2 && w.wall_s >= 0.2, "{}: {w:?}", s.id),
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
        dataset: asyncbench::inputs::read_dataset(&path).unwrap(),
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
    // 16 requests: more than 16 in flight cannot help.
    assert!((4.0..=16.0).contains(&sat), "saturation {sat}, probes {probes:?}");
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
