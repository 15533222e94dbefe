//! The mock over a real socket on 127.0.0.1:0: wire formats, delays as lower bounds, injected
//! faults and their shares, the RPM/TPM limiter, bad input, and the counters.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read};
use std::time::{Duration, Instant};

use mock_server::wire::{ChatCompletion, ChatCompletionChunk, ErrorBody};
use mock_server::{MockServer, Profile, StatsSnapshot};

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

const CHAT: &str = r#"{"model":"gpt-test","messages":[{"role":"user","content":"Say hello to the benchmark"}],"max_tokens":4}"#;
const STREAM: &str = r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#;

/// Status, headers and body of one POST.
fn post(server: &MockServer, path: &str, body: &str, fault: Option<&str>) -> (u16, http::HeaderMap, String) {
    let mut req = agent(Duration::from_secs(10))
        .post(format!("{}{path}", server.uri()))
        .header("content-type", "application/json");
    if let Some(f) = fault {
        req = req.header("x-mock-fault", f);
    }
    let mut resp = req.send(body).expect("request failed");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, headers, text)
}

fn get(server: &MockServer, path: &str) -> (u16, String) {
    let mut resp = agent(Duration::from_secs(10))
        .get(format!("{}{path}", server.uri()))
        .call()
        .unwrap();
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
}

fn stats_over_http(server: &MockServer) -> StatsSnapshot {
    serde_json::from_str(&get(server, "/stats").1).unwrap()
}

/// The non-streaming body is a `chat.completion` with the asked number of tokens and usage.
#[test]
fn chat_completion_has_openai_shape() {
    // Arrange
    let server = MockServer::start(Profile::default()).unwrap();
    // Act
    let (status, headers, body) = post(&server, "/v1/chat/completions", CHAT, None);
    // Assert
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-request-id"));
    let c: ChatCompletion = serde_json::from_str(&body).unwrap();
    assert_eq!(c.object, "chat.completion");
    assert_eq!(c.model, "gpt-test");
    assert_eq!(c.choices.len(), 1);
    assert_eq!(c.choices[0].finish_reason.as_deref(), Some("length"));
    let usage = c.usage.unwrap();
    assert_eq!(usage.completion_tokens, 4);
    assert_eq!(usage.total_tokens, usage.prompt_tokens + 4);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["choices"][0]["message"]["refusal"].is_null());
}

/// Reads SSE events one by one as they arrive, with the time each arrived.
fn read_events(reader: impl Read, t0: Instant) -> Vec<(Duration, String)> {
    let mut events = Vec::new();
    let mut lines = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            events.push((t0.elapsed(), data.to_owned()));
            // Every event is followed by exactly one blank line.
            line.clear();
            lines.read_line(&mut line).unwrap();
            assert_eq!(line, "\n");
        }
    }
    events
}

/// The stream is role delta, one content delta per token, a finish chunk, a usage chunk with
/// empty choices, then `[DONE]`; every chunk before the usage chunk has `usage: null`.
#[test]
fn stream_has_role_content_finish_usage_and_done_in_order() {
    // Arrange
    let server = MockServer::start(Profile::default()).unwrap();
    // Act
    let resp = agent(Duration::from_secs(10))
        .post(format!("{}/v1/chat/completions", server.uri()))
        .send(STREAM)
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream; charset=utf-8");
    let events = read_events(resp.into_body().into_reader(), Instant::now());
    // Assert
    assert_eq!(events.len(), 1 + 5 + 1 + 1 + 1, "{events:?}");
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks: Vec<ChatCompletionChunk> = events[..events.len() - 1]
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    let id = &chunks[0].id;
    assert!(
        chunks
            .iter()
            .all(|c| &c.id == id && c.object == "chat.completion.chunk")
    );
    assert_eq!(chunks[0].choices[0].delta.role.as_deref(), Some("assistant"));
    assert_eq!(chunks[0].choices[0].delta.content.as_deref(), Some(""));
    for c in &chunks[1..6] {
        assert!(!c.choices[0].delta.content.as_deref().unwrap().is_empty());
        assert!(c.choices[0].finish_reason.is_none() && c.usage.is_none());
    }
    assert_eq!(chunks[6].choices[0].finish_reason.as_deref(), Some("length"));
    assert!(chunks[6].choices[0].delta.content.is_none());
    assert!(chunks[7].choices.is_empty());
    assert_eq!(chunks[7].usage.unwrap().completion_tokens, 5);
}

/// Tokens arrive one by one: the first no sooner than TTFT, each next no sooner than ITL after
/// the one before (timers never fire early; the client clock starts before the server's).
#[test]
fn stream_tokens_are_flushed_at_their_times() {
    // Arrange
    let profile = Profile {
        ttft: "80ms".parse().unwrap(),
        itl: "30ms".parse().unwrap(),
        ..Profile::default()
    };
    let server = MockServer::start(profile).unwrap();
    // Act
    let t0 = Instant::now();
    let resp = agent(Duration::from_secs(10))
        .post(format!("{}/v1/chat/completions", server.uri()))
        .send(STREAM)
        .unwrap();
    let events = read_events(resp.into_body().into_reader(), t0);
    // Assert: events[1..6] are the content tokens.
    assert!(events[1].0 >= Duration::from_millis(80), "ttft {:?}", events[1].0);
    for w in events[1..6].windows(2) {
        // The gap between two arrivals can be a little less than ITL when the earlier one was
        // read late, but arrival k is never before TTFT + (k-1)·ITL.
        assert!(w[1].0 > w[0].0);
    }
    for (k, (at, _)) in events[1..6].iter().enumerate() {
        let earliest = Duration::from_millis(80 + 30 * k as u64);
        assert!(*at >= earliest, "token {k} at {at:?}, before {earliest:?}");
    }
}

/// A fixed latency is a lower bound on every response, and concurrent delays overlap.
#[test]
fn latency_is_a_lower_bound_and_delays_overlap() {
    // Arrange
    // 2 s each: room for twenty threads to start and send on a busy machine.
    let server = MockServer::start(Profile::fixed(Duration::from_secs(2))).unwrap();
    // Act: 20 concurrent requests.
    let t0 = Instant::now();
    let times: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                s.spawn(|| {
                    let t = Instant::now();
                    let (status, _, _) = post(&server, "/v1/chat/completions", CHAT, None);
                    assert_eq!(status, 200);
                    t.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Assert
    assert!(times.iter().all(|t| *t >= Duration::from_secs(2)));
    assert_eq!(
        server.stats().peak_in_flight,
        20,
        "all twenty were in flight at once"
    );
    assert!(t0.elapsed() >= Duration::from_secs(2));
}

/// `/delay/{s}` answers httpbin-style JSON after at least that long.
#[test]
fn delay_endpoint_waits_and_answers_json() {
    let server = MockServer::start(Profile::default()).unwrap();
    let t = Instant::now();
    let (status, body) = get(&server, "/delay/0.15");
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["url"], "/delay/0.15");
    let (status, _, _) = post(&server, "/delay/0", "", None);
    assert_eq!(status, 200);
}

/// `/v1/models` and `/healthz` answer, and are not counted as work requests.
#[test]
fn models_and_health_answer_without_being_counted() {
    let server = MockServer::start(Profile::default()).unwrap();
    let (status, body) = get(&server, "/v1/models");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(get(&server, "/healthz").0, 200);
    assert_eq!(stats_over_http(&server).requests_received, 0);
}

/// With a seed, the 429 share of 2000 requests lies within 4.5 standard deviations of p, and
/// two servers with the same seed fail the same requests.
#[test]
fn seeded_429_share_is_within_binomial_bounds_and_reproducible() {
    // Arrange
    let profile = Profile {
        rate_429: 0.3,
        seed: Some(42),
        ..Profile::default()
    };
    let n = 2000u64;
    let run = || {
        let server = MockServer::start(profile.clone()).unwrap();
        let agent = agent(Duration::from_secs(10));
        let url = format!("{}/delay/0", server.uri());
        let pattern: Vec<bool> = (0..n)
            .map(|_| agent.get(&url).call().unwrap().status().as_u16() == 429)
            .collect();
        (pattern, server.stats())
    };
    // Act
    let (a, stats) = run();
    let (b, _) = run();
    // Assert
    let k = a.iter().filter(|x| **x).count() as f64;
    let (mean, sd) = (n as f64 * 0.3, (n as f64 * 0.3 * 0.7).sqrt());
    assert!(
        (k - mean).abs() < 4.5 * sd,
        "{k} 429s of {n}, expected {mean} ± {}",
        4.5 * sd
    );
    assert_eq!(a, b, "same seed, same failures");
    assert_eq!(stats.status(429), k as u64);
    assert_eq!(stats.status(200) + stats.status(429), n);
}

/// Injected 429s carry Retry-After and retry-after-ms; quota 429s carry neither and say
/// `insufficient_quota`; 5xx carry a server_error body.
#[test]
fn injected_errors_have_openai_bodies_and_headers() {
    let server = MockServer::start(Profile::default()).unwrap();
    let (s, h, b) = post(&server, "/v1/chat/completions", CHAT, Some("429"));
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "1");
    assert_eq!(h["retry-after-ms"], "1000");
    let e: ErrorBody = serde_json::from_str(&b).unwrap();
    assert_eq!(e.error.code.as_deref(), Some("rate_limit_exceeded"));

    let (s, h, b) = post(&server, "/v1/chat/completions", CHAT, Some("quota"));
    assert_eq!(s, 429);
    assert!(!h.contains_key("retry-after"));
    assert_eq!(h["x-should-retry"], "false");
    let e: ErrorBody = serde_json::from_str(&b).unwrap();
    assert_eq!(e.error.kind, "insufficient_quota");

    for code in ["500", "502", "503", "504"] {
        let (s, _, b) = post(&server, "/v1/chat/completions", CHAT, Some(code));
        assert_eq!(s.to_string(), code);
        let e: ErrorBody = serde_json::from_str(&b).unwrap();
        assert_eq!(e.error.kind, "server_error");
        assert!(e.error.code.is_none() && e.error.param.is_none());
    }
}

/// `first:N:S` fails exactly the first N requests; `every:K:S` every K-th.
#[test]
fn schedules_fail_exactly_the_requests_they_name() {
    let profile = Profile {
        schedule: vec!["first:2:503".parse().unwrap(), "every:4:500".parse().unwrap()],
        ..Profile::default()
    };
    let server = MockServer::start(profile).unwrap();
    let statuses: Vec<u16> = (0..8)
        .map(|_| post(&server, "/v1/chat/completions", CHAT, None).0)
        .collect();
    assert_eq!(statuses, [503, 503, 200, 500, 200, 200, 200, 500]);
}

/// With rpm = 10, exactly ten requests pass; the eleventh gets 429 `rate_limit_exceeded` with a
/// Retry-After of when capacity returns, and every response carries the six headers.
#[test]
fn rpm_limiter_lets_its_burst_through_then_429s_with_retry_after() {
    // Arrange
    let profile = Profile {
        rpm: Some(10),
        tpm: Some(100_000),
        ..Profile::default()
    };
    let server = MockServer::start(profile).unwrap();
    // Act
    let results: Vec<_> = (0..15)
        .map(|_| post(&server, "/v1/chat/completions", CHAT, None))
        .collect();
    // Assert
    let ok = results.iter().take_while(|r| r.0 == 200).count();
    assert_eq!(ok, 10);
    assert!(results[10..].iter().all(|r| r.0 == 429));
    for (_, h, _) in &results {
        for name in [
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-requests",
            "x-ratelimit-reset-requests",
            "x-ratelimit-limit-tokens",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-tokens",
        ] {
            assert!(h.contains_key(name), "missing {name}");
        }
    }
    assert_eq!(results[0].1["x-ratelimit-limit-requests"], "10");
    assert_eq!(results[0].1["x-ratelimit-remaining-requests"], "9");
    assert_eq!(results[9].1["x-ratelimit-remaining-requests"], "0");
    let (_, h, body) = &results[10];
    // 10/min refills one request every 6 s; a little of that has passed already.
    let ms: u64 = h["retry-after-ms"].to_str().unwrap().parse().unwrap();
    assert!((5000..=6000).contains(&ms), "retry-after-ms {ms}");
    assert_eq!(h["retry-after"], "6");
    let e: ErrorBody = serde_json::from_str(body).unwrap();
    assert_eq!(e.error.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(e.error.kind, "requests");
    assert!(e.error.message.contains("Limit 10"), "{}", e.error.message);
    assert_eq!(server.stats().rate_limited_by_limiter, 5);
}

/// The TPM bucket charges prompt + max_tokens × n and refuses what does not fit.
#[test]
fn tpm_limiter_charges_max_tokens_times_n() {
    let profile = Profile {
        tpm: Some(1000),
        ..Profile::default()
    };
    let server = MockServer::start(profile).unwrap();
    let big = r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":200,"n":2}"#;
    let statuses: Vec<u16> = (0..4)
        .map(|_| post(&server, "/v1/chat/completions", big, None).0)
        .collect();
    // Each costs 400 + 4 prompt tokens: two fit in 1000, the third does not.
    assert_eq!(statuses, [200, 200, 429, 429]);
    let huge = r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":2000}"#;
    let (s, h, _) = post(&server, "/v1/chat/completions", huge, None);
    assert_eq!(s, 429);
    assert_eq!(h["x-should-retry"], "false");
}

/// Each bad input gets its status and an OpenAI error body, and the server keeps serving.
#[test]
fn bad_input_gets_4xx_and_the_server_keeps_serving() {
    let server = MockServer::start(Profile::default()).unwrap();
    let too_big = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(1 << 20)
    );
    let cases: Vec<(&str, &str, String, Option<&str>, u16)> = vec![
        ("POST", "/v1/chat/completions", "{not json".into(), None, 400),
        (
            "POST",
            "/v1/chat/completions",
            r#"{"messages":[]}"#.into(),
            None,
            400,
        ),
        (
            "POST",
            "/v1/chat/completions",
            r#"{"model":"m"}"#.into(),
            None,
            400,
        ),
        (
            "POST",
            "/v1/chat/completions",
            r#"{"model":"m","messages":[]}"#.into(),
            None,
            400,
        ),
        (
            "POST",
            "/v1/chat/completions",
            r#"{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}"#.into(),
            None,
            400,
        ),
        (
            "POST",
            "/v1/chat/completions",
            r#"{"model":7,"messages":"x"}"#.into(),
            None,
            400,
        ),
        (
            "POST",
            "/v1/chat/completions",
            "\u{0}\u{1}\u{2}".into(),
            None,
            400,
        ),
        ("POST", "/v1/chat/completions", too_big, None, 413),
        ("POST", "/v1/chat/completions", CHAT.into(), Some("bogus"), 400),
        ("POST", "/v1/nothing", "{}".into(), None, 404),
        ("GET", "/v1/chat/completions", String::new(), None, 405),
        ("GET", "/delay/abc", String::new(), None, 400),
        ("GET", "/delay/-1", String::new(), None, 400),
        ("GET", "/delay/99", String::new(), None, 400),
    ];
    let agent = agent(Duration::from_secs(10));
    for (method, path, body, fault, want) in &cases {
        let url = format!("{}{path}", server.uri());
        let mut resp = if *method == "GET" {
            agent.get(&url).call().unwrap()
        } else {
            let mut r = agent.post(&url);
            if let Some(f) = fault {
                r = r.header("x-mock-fault", *f);
            }
            r.send(body.as_bytes()).unwrap()
        };
        assert_eq!(resp.status().as_u16(), *want, "{method} {path}");
        let e: ErrorBody = serde_json::from_str(&resp.body_mut().read_to_string().unwrap())
            .unwrap_or_else(|e| panic!("{method} {path}: not an OpenAI error body: {e}"));
        assert!(!e.error.message.is_empty());
        // Still serving.
        assert_eq!(post(&server, "/v1/chat/completions", CHAT, None).0, 200);
    }
}

/// An answer larger than the mock makes is refused with a 400 that names the tokens asked for
/// and `n` apart (it read `100000 × n = 2`, as if the product were 2), and the mock's limits.
#[test]
fn too_many_tokens_are_refused_naming_what_was_asked() {
    let server = MockServer::start(Profile::default()).unwrap();
    let agent = agent(Duration::from_secs(10));
    let url = format!("{}/v1/chat/completions", server.uri());
    let body = r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":100000,"n":20}"#;
    let mut resp = agent.post(&url).send(body.as_bytes()).unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let e: ErrorBody = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert!(
        e.error
            .message
            .starts_with("max_tokens is too large: 100000 tokens, n = 20. ")
            && e.error
                .message
                .contains("at most 131072 completion tokens per choice and 1048576 per request"),
        "{}",
        e.error.message
    );
    assert_eq!(post(&server, "/v1/chat/completions", CHAT, None).0, 200);
}

/// Hangs time the client out and resets end in a transport error; both are counted, and the
/// server keeps answering others.
#[test]
fn hangs_and_resets_end_without_a_response() {
    let server = MockServer::start(Profile::default()).unwrap();
    let quick = agent(Duration::from_millis(300));
    let url = format!("{}/v1/chat/completions", server.uri());
    let t = Instant::now();
    let hang = quick.post(&url).header("x-mock-fault", "hang").send(CHAT);
    assert!(matches!(hang, Err(ureq::Error::Timeout(_))), "{hang:?}");
    assert!(t.elapsed() >= Duration::from_millis(300));
    let reset = quick.post(&url).header("x-mock-fault", "reset").send(CHAT);
    assert!(matches!(reset, Err(ureq::Error::Io(_))), "{reset:?}");
    assert_eq!(post(&server, "/v1/chat/completions", CHAT, None).0, 200);
    let s = server.stats();
    assert_eq!((s.hangs, s.resets), (1, 1));
}

/// A stream cut halfway ends in an I/O error before `[DONE]`; a stream error sends an
/// `{"error": …}` event and no `[DONE]`.
#[test]
fn stream_faults_end_the_stream_early() {
    let server = MockServer::start(Profile::default()).unwrap();
    let url = format!("{}/v1/chat/completions", server.uri());
    let a = agent(Duration::from_secs(5));
    let resp = a
        .post(&url)
        .header("x-mock-fault", "stream-error")
        .send(STREAM)
        .unwrap();
    let events = read_events(resp.into_body().into_reader(), Instant::now());
    let last = &events.last().unwrap().1;
    assert!(serde_json::from_str::<ErrorBody>(last).is_ok(), "{last}");
    assert!(events.iter().all(|(_, d)| d != "[DONE]"));

    let resp = a
        .post(&url)
        .header("x-mock-fault", "stream-cut")
        .send(STREAM)
        .unwrap();
    let mut text = String::new();
    let r = resp.into_body().into_reader().read_to_string(&mut text);
    assert!(r.is_err(), "a cut stream must not end cleanly: {text}");
    assert!(!text.contains("[DONE]"));
    let s = server.stats();
    assert_eq!((s.stream_errors, s.stream_cuts), (1, 1));
}

/// `/stats` counts every work request sent, by status, and nothing is left in flight.
#[test]
fn counters_match_the_requests_sent() {
    let server = MockServer::start(Profile::default()).unwrap();
    for _ in 0..7 {
        post(&server, "/v1/chat/completions", CHAT, None);
    }
    for _ in 0..3 {
        post(&server, "/v1/chat/completions", CHAT, Some("503"));
    }
    post(&server, "/v1/chat/completions", "{", None);
    let s = stats_over_http(&server);
    assert_eq!(s.requests_received, 11);
    assert_eq!(s.status(200), 7);
    assert_eq!(s.status(503), 3);
    assert_eq!(s.status(400), 1);
    assert_eq!(s.responses(), 11);
    assert_eq!(s.in_flight, 0);
    // The same counters in process; only the gauge of open connections may have moved since
    // (the /stats call's own connection closing).
    let mut now = server.stats();
    now.connections_open = s.connections_open;
    assert_eq!(s, now);
    // Every helper call opened its own connection and sent one work request on it.
    assert_eq!(s.work_connections, 11);
}

/// A stall holds every answer until it ends.
#[test]
fn stall_holds_answers_until_it_ends() {
    let server = MockServer::start(Profile::default()).unwrap();
    let (s, _, _) = post(&server, "/admin/stall?for=300ms", "", None);
    assert_eq!(s, 200);
    let t = Instant::now();
    assert_eq!(post(&server, "/v1/chat/completions", CHAT, None).0, 200);
    assert!(t.elapsed() >= Duration::from_millis(250));
}

/// How a request's numbers travel: headers (external clients) or the query (asyncbench's own).
#[derive(Clone, Copy)]
enum Via {
    Headers,
    Query,
    /// The query with the parameters' names of before ([`mock_server::LONG_PARAMS`]).
    LongQuery,
}

/// The status the mock gives attempt `attempt` of the client's request `request` at `path`
/// (`None`: no attempt number, as asyncbench sends a first attempt), numbered `via`.
fn keyed_at(server: &MockServer, path: &str, request: u64, attempt: Option<u32>, via: Via) -> u16 {
    let mut url = format!("{}{path}", server.uri());
    let names = match via {
        Via::Headers => None,
        Via::Query => Some([mock_server::REQUEST_INDEX_PARAM, mock_server::ATTEMPT_PARAM]),
        Via::LongQuery => Some(mock_server::LONG_PARAMS),
    };
    if let Some([r, a]) = names {
        url += &format!("?{r}={request}");
        if let Some(n) = attempt {
            url += &format!("&{a}={n}");
        }
    }
    let mut req = agent(Duration::from_secs(10)).post(&url);
    if let Via::Headers = via {
        req = req.header(mock_server::REQUEST_INDEX_HEADER, request.to_string());
        if let Some(a) = attempt {
            req = req.header(mock_server::ATTEMPT_HEADER, a.to_string());
        }
    }
    let mut resp = req.header("content-type", "application/json").send(CHAT).unwrap();
    let _ = resp.body_mut().read_to_string();
    resp.status().as_u16()
}

/// [`keyed_at`] on the chat endpoint.
fn keyed(server: &MockServer, request: u64, attempt: Option<u32>, via: Via) -> u16 {
    keyed_at(server, "/v1/chat/completions", request, attempt, via)
}

/// A numbered request meets the fault of its (request, attempt), whatever order requests arrive
/// in and whether its numbers come in headers or in the query: two mocks with the same seed,
/// one sent requests 0..200 forwards numbered in headers and the other backwards numbered in
/// the query, fail the same requests; a retry (attempt 2) draws afresh; a schedule counts
/// request numbers. No attempt number is attempt 1 (the backward run sends none). The delay
/// endpoint reads the query's numbers too, and the query's long names of before are read.
#[test]
fn numbered_requests_meet_the_same_fault_in_any_arrival_order() {
    // Arrange
    let profile = Profile {
        rate_500: 0.3,
        seed: Some(5),
        ..Profile::default()
    };
    let (a, b, c) = (
        MockServer::start(profile.clone()).unwrap(),
        MockServer::start(profile.clone()).unwrap(),
        MockServer::start(profile).unwrap(),
    );
    // Act
    let forward: Vec<u16> = (0..200).map(|i| keyed(&a, i, Some(1), Via::Headers)).collect();
    let mut backward: Vec<u16> = (0..200).rev().map(|i| keyed(&b, i, None, Via::Query)).collect();
    backward.reverse();
    let retries: Vec<u16> = (0..200).map(|i| keyed(&a, i, Some(2), Via::Headers)).collect();
    let retries_in_query: Vec<u16> = (0..200).map(|i| keyed(&b, i, Some(2), Via::Query)).collect();
    let retries_long: Vec<u16> = (0..200).map(|i| keyed(&c, i, Some(2), Via::LongQuery)).collect();
    let delays: Vec<u16> = (0..200)
        .map(|i| keyed_at(&a, "/delay/0", i, Some(3), Via::Headers))
        .collect();
    let delays_in_query: Vec<u16> = (0..200)
        .rev()
        .map(|i| keyed_at(&c, "/delay/0", i, Some(3), Via::Query))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // Assert
    assert_eq!(forward, backward);
    let failed = forward.iter().filter(|s| **s == 500).count();
    assert!((30..=90).contains(&failed), "{failed} of 200 failed at p = 0.3");
    assert_ne!(forward, retries, "attempt 2 draws afresh");
    assert_eq!(retries, retries_in_query);
    assert_eq!(retries, retries_long, "the long names are read as the short ones");
    assert_eq!(delays, delays_in_query);
    assert_ne!(delays, retries, "attempt 3 draws afresh");
    // A schedule counts the client's request numbers, on first attempts only, however numbered.
    let sched = MockServer::start(Profile {
        schedule: vec!["first:2:503".parse().unwrap()],
        ..Profile::default()
    })
    .unwrap();
    assert_eq!(
        [
            keyed(&sched, 5, None, Via::Query),
            keyed(&sched, 1, Some(1), Via::Headers),
            keyed(&sched, 1, Some(2), Via::Query),
            keyed(&sched, 0, None, Via::Query)
        ],
        [200, 503, 200, 503]
    );
}

/// `/admin/*` is harmless: with a key set it needs the key; a stall is bounded and `for=0s`
/// ends one; a reset refills the limiter and restarts the schedule. Admin calls are not counted.
#[test]
fn admin_endpoints_need_the_key_are_bounded_and_undoable() {
    // Arrange
    let server = MockServer::start(Profile {
        api_key: Some("k-123".into()),
        rpm: Some(2),
        schedule: vec!["first:1:503".parse().unwrap()],
        ..Profile::default()
    })
    .unwrap();
    let admin = |path: &str, key: Option<&str>| {
        let mut req = agent(Duration::from_secs(10)).post(format!("{}{path}", server.uri()));
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        req.send_empty().unwrap().status().as_u16()
    };
    let chat = || {
        let mut resp = agent(Duration::from_secs(10))
            .post(format!("{}/v1/chat/completions", server.uri()))
            .header("authorization", "Bearer k-123")
            .send(CHAT)
            .unwrap();
        let _ = resp.body_mut().read_to_string();
        resp.status().as_u16()
    };
    // Act + Assert: the key.
    assert_eq!(admin("/admin/stall?for=1s", None), 401);
    assert_eq!(admin("/admin/reset", Some("wrong")), 401);
    // Bounds: ten minutes at most.
    assert_eq!(admin("/admin/stall?for=100000h", Some("k-123")), 400);
    // A stall, ended at once by for=0s: the next answer does not wait.
    assert_eq!(admin("/admin/stall?for=10m", Some("k-123")), 200);
    assert_eq!(admin("/admin/stall?for=0s", Some("k-123")), 200);
    let t = Instant::now();
    assert_eq!(chat(), 503, "first request: the schedule");
    assert!(
        t.elapsed() < Duration::from_secs(60),
        "the stall (10 min) was ended"
    );
    assert_eq!(chat(), 200);
    assert_eq!(chat(), 429, "two per minute used up");
    // A reset: the bucket is full and the schedule starts over.
    assert_eq!(admin("/admin/reset", Some("k-123")), 200);
    assert_eq!(chat(), 503);
    assert_eq!(chat(), 200);
    let s = server.stats();
    assert_eq!(s.requests_received, 5, "admin calls are not work requests");
    assert_eq!(s.status(401), 0, "nor are their refusals counted");
}

/// POSTs a JSON body to a path and returns status and body text.
fn post_json(server: &MockServer, path: &str, body: &serde_json::Value) -> (u16, String) {
    let mut resp = agent(Duration::from_secs(10))
        .post(format!("{}{path}", server.uri()))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// The SSE events of a streamed POST, `[DONE]` included.
fn stream_events(server: &MockServer, path: &str, body: &serde_json::Value) -> Vec<String> {
    let resp = agent(Duration::from_secs(10))
        .post(format!("{}{path}", server.uri()))
        .header("content-type", "application/json")
        .send(body.to_string())
        .unwrap();
    read_events(resp.into_body().into_reader(), Instant::now())
        .into_iter()
        .map(|(_, d)| d)
        .collect()
}

/// `GET /health` answers (tools probe it before they start) and is not counted.
#[test]
fn health_answers_on_both_paths_uncounted() {
    let server = MockServer::start(Profile::default()).unwrap();
    for path in ["/health", "/healthz"] {
        let (status, body) = get(&server, path);
        assert_eq!(status, 200, "{path}");
        assert_eq!(body, r#"{"status":"ok"}"#);
    }
    assert_eq!(stats_over_http(&server).requests_received, 0);
}

/// The legacy `POST /v1/completions`: a `text_completion` with usage, n choices whose text splits
/// back into the token count; streamed, `text` chunks, a finish chunk, the usage chunk only when
/// asked, then `[DONE]`.
#[test]
fn legacy_completions_answer_in_the_text_completion_format() {
    let server = MockServer::start(Profile::default()).unwrap();
    let (status, body) = post_json(
        &server,
        "/v1/completions",
        &serde_json::json!({"model": "m", "prompt": "Once upon a time", "max_tokens": 12, "n": 2, "temperature": 0.5, "echo": false}),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    for c in v["choices"].as_array().unwrap() {
        assert_eq!(c["text"].as_str().unwrap().split_whitespace().count(), 12);
        assert_eq!(c["finish_reason"], "length");
    }
    assert_eq!(v["usage"]["completion_tokens"], 24);
    assert_eq!(v["usage"]["prompt_tokens"], 4);

    for include_usage in [true, false] {
        let events = stream_events(
            &server,
            "/v1/completions",
            &serde_json::json!({"model": "m", "prompt": "hi", "max_tokens": 7, "stream": true,
                                "stream_options": {"include_usage": include_usage}}),
        );
        assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
        let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"].get(0)?["text"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(text.split_whitespace().count(), 7, "{text}");
        let usage: Vec<&serde_json::Value> = chunks.iter().filter(|c| c["usage"].is_object()).collect();
        assert_eq!(usage.len(), usize::from(include_usage));
        if include_usage {
            assert_eq!(usage[0]["usage"]["completion_tokens"], 7);
            assert_eq!(usage[0]["choices"].as_array().unwrap().len(), 0);
        }
    }
}

/// Chat: the streamed text re-tokenized by whitespace gives the usage count; the newer
/// `max_completion_tokens` wins over `max_tokens`; unknown fields are ignored; the usage chunk
/// comes only with `include_usage`.
#[test]
fn chat_requests_are_read_as_the_real_api_reads_them() {
    let server = MockServer::start(Profile::default()).unwrap();
    let events = stream_events(
        &server,
        "/v1/chat/completions",
        &serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 3, "max_completion_tokens": 64, "stream": true,
            "stream_options": {"include_usage": true}, "temperature": 0.2, "tools": [], "seed": 1,
            "some_future_field": {"nested": [1, 2]}}),
    );
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let text: String = chunks
        .iter()
        .filter_map(|c| {
            c["choices"].get(0)?["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let usage = chunks.iter().find(|c| c["usage"].is_object()).unwrap();
    assert_eq!(
        usage["usage"]["completion_tokens"], 64,
        "max_completion_tokens wins"
    );
    assert_eq!(text.split_whitespace().count(), 64, "{text}");
    let events = stream_events(
        &server,
        "/v1/chat/completions",
        &serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": true}),
    );
    assert!(
        events.iter().all(|e| !e.contains("\"usage\":{")),
        "no usage chunk unasked"
    );
}

/// A request is in flight from its arrival to its last byte: four clients, each one request at a
/// time (streamed or not), never make the peak exceed four.
#[test]
fn peak_in_flight_is_exact() {
    for body in [CHAT, STREAM] {
        let server = MockServer::start(Profile {
            latency: "20ms".parse().unwrap(),
            itl: "2ms".parse().unwrap(),
            ..Profile::default()
        })
        .unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let agent = agent(Duration::from_secs(10));
                    for _ in 0..15 {
                        let mut r = agent
                            .post(format!("{}/v1/chat/completions", server.uri()))
                            .send(body)
                            .unwrap();
                        let _ = r.body_mut().read_to_string();
                    }
                });
            }
        });
        let st = server.stats();
        assert_eq!(st.peak_in_flight, 4, "{st:?}");
        assert_eq!(st.in_flight, 0);
    }
}

/// One request cannot make the mock send without bound: asking for more than
/// `max_response_bytes` is a 400 that names the limit.
#[test]
fn the_bytes_one_request_may_generate_are_capped() {
    let server = MockServer::start(Profile::default()).unwrap();
    let (status, body) = post_json(
        &server,
        "/v1/chat/completions",
        &serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 131072, "stream": true}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("16777216 bytes") && body.contains("--max-response-bytes"),
        "{body}"
    );
    let small = MockServer::start(Profile {
        max_response_bytes: 4096,
        ..Profile::default()
    })
    .unwrap();
    let (status, _) = post_json(
        &small,
        "/v1/chat/completions",
        &serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000, "n": 4}),
    );
    assert_eq!(status, 400);
    assert_eq!(post_json(&small, "/v1/chat/completions", &serde_json::json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16})).0, 200);
}

/// Connections that send a request head slowly (or never) are closed after the header timeout,
/// and `/health` answers all the while.
#[test]
fn slow_request_heads_are_cut_off_and_health_answers_throughout() {
    use std::io::Write;
    // Arrange
    let server = MockServer::start_with(
        Profile::default(),
        mock_server::ServerOptions {
            header_timeout: Duration::from_secs(1),
            ..Default::default()
        },
    )
    .unwrap();
    let t0 = Instant::now();
    let mut slow: Vec<std::net::TcpStream> = (0..100)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
            s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            s
        })
        .collect();
    // Act + Assert: health answers while they hang there.
    for _ in 0..5 {
        assert_eq!(get(&server, "/health").0, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    for s in &mut slow {
        let mut buf = [0u8; 256];
        // Closed by the server: EOF (or a reset), not the 15 s read timeout.
        let _ = s.read(&mut buf);
    }
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1),
        "closed before the timeout: {took:?}"
    );
    assert!(
        took < Duration::from_secs(12),
        "not closed by the header timeout: {took:?}"
    );
    assert_eq!(get(&server, "/health").0, 200);
}

/// Past `max_connections` open connections, new ones are closed at once and counted.
#[test]
fn connections_over_the_cap_are_refused_cleanly() {
    let server = MockServer::start_with(
        Profile::default(),
        mock_server::ServerOptions {
            max_connections: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    let held: Vec<std::net::TcpStream> = (0..5)
        .map(|_| std::net::TcpStream::connect(server.addr()).unwrap())
        .collect();
    // Let the accept loop take the five before the extra ones come.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.stats().connections_open < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..3 {
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        let t = Instant::now();
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
        assert!(t.elapsed() < Duration::from_secs(4), "closed at once");
    }
    let st = server.stats();
    assert_eq!(st.connections_refused, 3);
    assert_eq!(st.connections_accepted, 5);
    drop(held);
}

/// A keep-alive connection with nothing in flight is closed after the idle timeout; one whose
/// answer takes longer than the idle timeout is not.
#[test]
fn idle_connections_are_closed_but_slow_answers_are_not() {
    let server = MockServer::start_with(
        Profile::fixed(Duration::from_millis(1500)),
        mock_server::ServerOptions {
            idle_timeout: Duration::from_millis(500),
            ..Default::default()
        },
    )
    .unwrap();
    let agent = agent(Duration::from_secs(10));
    // The answer takes 1.5 s, three idle timeouts: it still comes.
    let mut r = agent
        .post(format!("{}/v1/chat/completions", server.uri()))
        .send(CHAT)
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.body_mut().read_to_string();
    assert_eq!(server.stats().connections_open, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stats().connections_open > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        server.stats().connections_open,
        0,
        "the idle connection was closed"
    );
}

/// With TLS the mock serves HTTPS with a certificate made at start; a client that trusts the
/// PEM the mock gives out gets through, one that does not is refused; handshakes are counted.
#[test]
fn tls_serves_https_with_a_generated_certificate() {
    let server = MockServer::start_with(
        Profile::default(),
        mock_server::ServerOptions {
            tls: Some(mock_server::TlsSource::Generated),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(server.uri().starts_with("https://127.0.0.1:"));
    let pem = server.ca_pem().unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"));
    let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(pem.as_bytes())
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let trusting: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into();
    let mut r = trusting
        .post(format!("{}/v1/chat/completions", server.uri()))
        .send(CHAT)
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.body_mut().read_to_string();
    let plain = agent(Duration::from_secs(5));
    assert!(plain.get(format!("{}/health", server.uri())).call().is_err());
    let st = server.stats();
    assert_eq!(st.tls_handshakes, 1);
    assert_eq!(st.requests_received, 1);
}

/// A port already in use is one line naming the address and the reason, once, and exit 2.
#[test]
fn a_port_in_use_is_one_line_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--port", &port])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&port), "{stderr}");
    assert_eq!(stderr.matches("in use").count(), 1, "{stderr}");
}

/// `--tls` prints the https address first and where the certificate to trust was written second.
#[test]
fn the_tls_binary_says_where_its_certificate_is() {
    let tmp = std::env::temp_dir().join(format!("mock-ca-{}.pem", std::process::id()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--port", "0", "--tls", "--tls-cert-out"])
        .arg(&tmp)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut first, mut second) = (String::new(), String::new());
    out.read_line(&mut first).unwrap();
    out.read_line(&mut second).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("listening on https://127.0.0.1:"), "{first}");
    assert_eq!(second.trim(), format!("certificate to trust: {}", tmp.display()));
    let pem = std::fs::read_to_string(&tmp).unwrap();
    let _ = std::fs::remove_file(&tmp);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
}

/// The key's scheme is case-insensitive (`bearer`, `BEARER`), as HTTP says; a wrong key is
/// still refused whatever its scheme's case.
#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let server = MockServer::start(Profile {
        api_key: Some("k-123".into()),
        ..Profile::default()
    })
    .unwrap();
    let chat = |auth: &str| {
        let mut resp = agent(Duration::from_secs(10))
            .post(format!("{}/v1/chat/completions", server.uri()))
            .header("authorization", auth)
            .send(CHAT)
            .unwrap();
        let _ = resp.body_mut().read_to_string();
        resp.status().as_u16()
    };
    assert_eq!(chat("Bearer k-123"), 200);
    assert_eq!(chat("bearer k-123"), 200);
    assert_eq!(chat("BEARER  k-123"), 200);
    assert_eq!(chat("bearer k-12"), 401);
    assert_eq!(chat("Basic k-123"), 401);
}

/// A web page cannot drive `/admin/*` (keyed or not): a request carrying a browser's `Origin`
/// or `Sec-Fetch-Site` is refused with 403 and an OpenAI-style body, and nothing is stalled;
/// the same call without them (curl, the harness) works.
#[test]
fn admin_calls_from_web_pages_are_refused() {
    let server = MockServer::start(Profile::default()).unwrap();
    let admin = |path: &str, header: Option<(&str, &str)>| {
        let mut req = agent(Duration::from_secs(10))
            .post(format!("{}{path}", server.uri()))
            .header("content-type", "text/plain");
        if let Some((k, v)) = header {
            req = req.header(k, v);
        }
        let mut resp = req.send("x").unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        (resp.status().as_u16(), body)
    };
    let (status, body) = admin("/admin/stall?for=10m", Some(("origin", "http://evil.example")));
    assert_eq!(status, 403);
    let e: ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(e.error.code.as_deref(), Some("cross_origin"));
    assert_eq!(
        admin("/admin/reset", Some(("sec-fetch-site", "cross-site"))).0,
        403
    );
    // Nothing was stalled: a chat answers at once.
    let t = Instant::now();
    let resp = agent(Duration::from_secs(10))
        .post(format!("{}/v1/chat/completions", server.uri()))
        .send(CHAT)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(t.elapsed() < Duration::from_secs(60));
    assert_eq!(admin("/admin/stall?for=0s", None).0, 200);
    assert_eq!(admin("/admin/reset", None).0, 200);
}

/// `--host localhost` binds 127.0.0.1; a host name is refused in one line naming it.
#[test]
fn host_takes_localhost_and_refuses_names() {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--host", "localhost", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("listening on http://127.0.0.1:"), "{first}");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mock-server"))
        .args(["--host", "example.com", "--port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'example.com' is not an IP address"), "{stderr}");
}

/// A negative value is named as the flag's value: `--rate-429 -0.1` read as an unknown flag
/// `-0`, and `--latency -3ms` as `-3`.
#[test]
fn negative_values_are_named_as_values() {
    for (args, says) in [
        (
            ["--rate-429", "-0.1"],
            "invalid value '-0.1' for '--rate-429 <P>'",
        ),
        (
            ["--latency", "-3ms"],
            "invalid value '-3ms' for '--latency <SPEC>'",
        ),
        (["--itl", "-1ms"], "invalid value '-1ms' for '--itl <SPEC>'"),
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mock-server"))
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

/// `--no-ratelimit-headers`: answers carry no `x-ratelimit-*` header, and a 429 from the limiter
/// keeps its `Retry-After` (the other limit answers are the same).
#[test]
fn ratelimit_headers_can_be_left_out() {
    for hidden in [false, true] {
        let server = MockServer::start(Profile {
            rpm: Some(60),
            limit_window: Duration::from_secs(1),
            no_ratelimit_headers: hidden,
            ..Profile::default()
        })
        .unwrap();
        let send = || {
            let mut resp = agent(Duration::from_secs(10))
                .post(format!("{}/v1/chat/completions", server.uri()))
                .send(CHAT)
                .unwrap();
            let _ = resp.body_mut().read_to_string();
            let h = |n: &str| resp.headers().get(n).is_some();
            (
                resp.status().as_u16(),
                h("x-ratelimit-remaining-requests"),
                h("retry-after"),
            )
        };
        // A one-second window of 60/min holds one request: the second is refused.
        assert_eq!(send(), (200, !hidden, false), "hidden {hidden}");
        assert_eq!(send(), (429, !hidden, true), "hidden {hidden}");
    }
}

/// `capacity`: two slots and six requests at once (three streamed) of 100 ms each: they are
/// served two at a time in order, so the k-th to end took at least (k ÷ 2 + 1) × 100 ms, and a
/// streamed answer holds its slot until its stream ends.
#[test]
fn capacity_serves_that_many_at_once_and_queues_the_rest() {
    // Arrange
    let server = MockServer::start(Profile {
        latency: "fixed:100ms".parse().unwrap(),
        capacity: Some(2),
        ..Profile::default()
    })
    .unwrap();
    let t0 = Instant::now();
    // Act
    let took: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let server = &server;
                s.spawn(move || {
                    let (status, _, _) = post(
                        server,
                        "/v1/chat/completions",
                        if i % 2 == 0 { CHAT } else { STREAM },
                        None,
                    );
                    assert_eq!(status, 200);
                    t0.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Assert
    let mut took = took;
    took.sort();
    for (k, d) in took.iter().enumerate() {
        let floor = Duration::from_millis(100 * (k as u64 / 2 + 1));
        assert!(*d >= floor, "answer {k} after {d:?}, before its turn ({floor:?})");
    }
}

/// `/v1/messages` in Anthropic's shapes over a socket: a `message` (none of its blocks for
/// `max_tokens: 0`), Anthropic's error body with the type its status names for bad input,
/// a wrong key, an injected 529 and a limiter's 429 (with `retry-after` in whole seconds and
/// the requests family of `anthropic-ratelimit-*`, its reset an RFC 3339 instant), and the
/// OpenAI routes unchanged beside it.
#[test]
fn messages_answer_in_anthropics_shapes() {
    // Arrange
    let server = MockServer::start(Profile {
        rpm: Some(2),
        ..Profile::default()
    })
    .unwrap();
    let body = r#"{"model":"claude-x","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}"#;
    let v = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    // Act / Assert: a message, with the limiter's headers.
    let (status, headers, text) = post(&server, "/v1/messages", body, None);
    assert_eq!(status, 200, "{text}");
    let m = v(&text);
    assert_eq!(
        (m["type"].as_str(), m["content"][0]["text"].as_str()),
        (Some("message"), Some("The quick brown"))
    );
    assert_eq!(m["usage"]["output_tokens"], 3);
    assert!(headers.get("request-id").is_some() && headers.get("x-request-id").is_none());
    assert_eq!(headers["anthropic-ratelimit-requests-limit"], "2");
    assert_eq!(headers["anthropic-ratelimit-requests-remaining"], "1");
    let reset = headers["anthropic-ratelimit-requests-reset"].to_str().unwrap();
    assert!(
        reset.len() == 20 && reset.ends_with('Z') && reset.as_bytes()[10] == b'T',
        "{reset}"
    );
    assert!(headers.get("x-ratelimit-limit-requests").is_none());
    // max_tokens 0 is legal: no block.
    let zero = r#"{"model":"claude-x","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, _, text) = post(&server, "/v1/messages", zero, None);
    assert_eq!(
        (status, v(&text)["content"].clone()),
        (200, serde_json::json!([])),
        "{text}"
    );
    // The bucket is empty now: a 429 in Anthropic's words, retry-after in whole seconds.
    let (status, headers, text) = post(&server, "/v1/messages", body, None);
    assert_eq!(status, 429, "{text}");
    assert_eq!(
        (v(&text)["type"].as_str(), v(&text)["error"]["type"].as_str()),
        (Some("error"), Some("rate_limit_error"))
    );
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&after), "{after}");
    assert!(headers.get("retry-after-ms").is_none());
    // Bad input, and faults: each in Anthropic's body (the fault header is decided before the
    // limiter).
    let server = MockServer::start(Profile {
        api_key: Some("k".into()),
        ..Profile::default()
    })
    .unwrap();
    let keyed = |key: &str, fault: Option<&str>, body: &str| {
        let mut req = agent(Duration::from_secs(10))
            .post(format!("{}/v1/messages", server.uri()))
            .header("x-api-key", key);
        if let Some(f) = fault {
            req = req.header("x-mock-fault", f);
        }
        let mut resp = req.send(body).unwrap();
        (
            resp.status().as_u16(),
            v(&resp.body_mut().read_to_string().unwrap()),
        )
    };
    for (key, fault, body, status, kind) in [
        (
            "k",
            None,
            r#"{"model":"m","messages":[]}"#,
            400,
            "invalid_request_error",
        ),
        (
            "k",
            None,
            r#"{"model":"m","max_tokens":2,"messages":[]}"#,
            400,
            "invalid_request_error",
        ),
        ("wrong", None, body, 401, "authentication_error"),
        ("k", Some("529"), body, 529, "overloaded_error"),
        ("k", Some("500"), body, 500, "api_error"),
    ] {
        let (got, err) = keyed(key, fault, body);
        assert_eq!(got, status, "{err}");
        assert_eq!(err["type"], "error", "{err}");
        assert_eq!(err["error"]["type"], kind, "{err}");
        assert!(
            err["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{err}"
        );
    }
    assert_eq!(keyed("k", None, body).0, 200);
    // The OpenAI route keeps OpenAI's body.
    let (status, _, text) = post(&server, "/v1/chat/completions", CHAT, None);
    assert_eq!(status, 401);
    assert_eq!(v(&text)["error"]["code"], "invalid_api_key");
}

/// `/v1/embeddings` over a socket: a unit vector per input in order, of the profile's length
/// or the request's `dimensions`, the same for the same text; base64 when asked; usage counting
/// every input's tokens, which the tokens/min bucket charges (a request larger than it is a 429
/// that says not to retry); bad input a 400 naming `input`.
#[test]
fn embeddings_answer_with_a_vector_per_input() {
    // Arrange
    let server = MockServer::start(Profile {
        tokenizer: mock_server::tokens::Tokenizer::Words,
        tpm: Some(600),
        ..Profile::default()
    })
    .unwrap();
    let v = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap();
    // Act / Assert: floats, the profile's 256 dimensions.
    let (status, _, text) = post(
        &server,
        "/v1/embeddings",
        r#"{"model":"e","input":["one two","three","one two"]}"#,
        None,
    );
    assert_eq!(status, 200, "{text}");
    let r = v(&text);
    let data = r["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(r["usage"]["prompt_tokens"], 2 + 1 + 2);
    assert_eq!(
        (r["object"].as_str(), r["model"].as_str()),
        (Some("list"), Some("e"))
    );
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["index"], i);
        assert_eq!(d["embedding"].as_array().unwrap().len(), 256);
    }
    assert_eq!(
        data[0]["embedding"], data[2]["embedding"],
        "same text, same vector"
    );
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    // base64 and dimensions: 8 little-endian float32s.
    let (status, _, text) = post(
        &server,
        "/v1/embeddings",
        r#"{"model":"e","input":"one two","encoding_format":"base64","dimensions":8}"#,
        None,
    );
    assert_eq!(status, 200, "{text}");
    let b64 = v(&text)["data"][0]["embedding"].as_str().unwrap().to_owned();
    assert_eq!(b64.len(), 44, "32 bytes of base64: {b64}");
    // Bad input: a 400 naming the parameter.
    for body in [
        r#"{"model":"e","input":""}"#,
        r#"{"model":"e","input":[]}"#,
        r#"{"model":"e","input":[1.5]}"#,
        r#"{"model":"e","input":"x","dimensions":0}"#,
        r#"{"model":"e","input":"x","encoding_format":"hex"}"#,
    ] {
        let (status, _, text) = post(&server, "/v1/embeddings", body, None);
        assert_eq!(status, 400, "{body}: {text}");
        assert!(v(&text)["error"]["param"].is_string(), "{text}");
    }
    let many = format!(
        r#"{{"model":"e","input":{}}}"#,
        serde_json::json!(vec!["x"; 2049])
    );
    let (status, _, text) = post(&server, "/v1/embeddings", &many, None);
    assert_eq!(status, 400, "{text}");
    // The bucket holds 600 tokens a minute: 700 inputs of one token are too large for it.
    let big = format!(r#"{{"model":"e","input":{}}}"#, serde_json::json!(vec!["x"; 700]));
    let (status, headers, text) = post(&server, "/v1/embeddings", &big, None);
    assert_eq!(status, 429, "{text}");
    assert_eq!(headers["x-should-retry"], "false");
}

/// `--stamps`: every answer's head carries `x-mock-stamp` (its deadline, then when it was
/// written), and every streamed event opens with a `: stamp` comment (its times after the
/// head's deadline) whose intended times step
/// exactly by the profile's delays (latency, TTFT, then ITL per token) and whose written times
/// never run backwards or before their intended ones. Without it, neither appears.
#[test]
fn stamps_mark_every_answer_and_event_in_order() {
    use mock_server::stamp;
    let ms = Duration::from_millis;
    let profile = Profile {
        latency: mock_server::LatencySpec::Fixed(ms(20)),
        ttft: mock_server::LatencySpec::Fixed(ms(10)),
        itl: mock_server::LatencySpec::Fixed(ms(5)),
        stamps: true,
        ..Profile::default()
    };
    let server = MockServer::start(profile).unwrap();
    // A whole answer: due at latency + TTFT + 3 × ITL after its arrival, written no sooner.
    let sent = stamp::ns(Instant::now());
    let (status, headers, _) = post(&server, "/v1/chat/completions", CHAT, None);
    let read = stamp::ns(Instant::now());
    assert_eq!(status, 200);
    let head = stamp::parse(headers[stamp::STAMP_HEADER].to_str().unwrap()).unwrap();
    let (intended, written, arrived) = (head.intended, head.written, head.arrived.unwrap());
    // Due exactly latency + TTFT + 3 × ITL after the request reached its handler.
    assert_eq!(intended - arrived, 45_000_000);
    assert!(sent <= arrived, "arrived {arrived} before it was sent {sent}");
    assert!(
        intended <= written && written <= read,
        "{intended} {written} {read}"
    );
    // A stream: the raw lines, each event's stamp first.
    let resp = agent(Duration::from_secs(10))
        .post(format!("{}/v1/chat/completions", server.uri()))
        .send(STREAM)
        .unwrap();
    let head_due = stamp::parse(resp.headers()[stamp::STAMP_HEADER].to_str().unwrap())
        .unwrap()
        .intended;
    let mut text = String::new();
    resp.into_body().into_reader().read_to_string(&mut text).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    // Each event's stamp counts from the head's intended time.
    let stamps: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            let (s, _) = stamp::split_line(e.as_bytes()).expect(e);
            s.expect(e).times(head_due)
        })
        .collect();
    // role, 5 tokens, finish, usage, [DONE]: the role at the head + latency, the first token
    // TTFT after it, each next ITL after the one before; the closing events at the last token's.
    assert_eq!(stamps.len(), 9, "{text}");
    let steps: Vec<u64> = stamps.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert_eq!(stamps[0].0 - head_due, 20_000_000);
    assert_eq!(
        steps[..6],
        [10_000_000, 5_000_000, 5_000_000, 5_000_000, 5_000_000, 0]
    );
    assert!(steps[6..].iter().all(|s| *s == 0), "{steps:?}");
    assert!(stamps.iter().all(|(i, w)| i <= w), "{stamps:?}");
    assert!(stamps.windows(2).all(|w| w[0].1 <= w[1].1), "{stamps:?}");
    // Off by default: no header, no comment.
    let plain = MockServer::start(Profile::default()).unwrap();
    let (_, headers, _) = post(&plain, "/v1/chat/completions", CHAT, None);
    assert!(!headers.contains_key(stamp::STAMP_HEADER));
    let mut text = String::new();
    agent(Duration::from_secs(10))
        .post(format!("{}/v1/chat/completions", plain.uri()))
        .send(STREAM)
        .unwrap()
        .into_body()
        .into_reader()
        .read_to_string(&mut text)
        .unwrap();
    assert!(!text.contains(stamp::STAMP_COMMENT.trim()), "{text}");
}
