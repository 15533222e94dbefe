//! Property tests over what the mock is fed: arbitrary request bodies (raw bytes, and JSON close
//! to a real request), arbitrary headers of ours, and arbitrary profile files. Nothing may panic,
//! every answer to a bad body is an OpenAI-style 4xx, and the server keeps serving.
//!
//! More cases: `PROPTEST_CASES=100000 cargo test --release -p mock-server --test fuzz`.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use mock_server::{Profile, app};
use proptest::prelude::*;
use tower::ServiceExt;

/// 256 cases per property in `cargo test`; `PROPTEST_CASES` asks for more (an explicit
/// `cases` in the config would otherwise win over the variable).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Sends one request through the router (no socket) and returns status and body.
fn call(rt: &tokio::runtime::Runtime, router: axum::Router, req: Request<Body>) -> (StatusCode, Vec<u8>) {
    rt.block_on(async move {
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
        (status, body)
    })
}

fn chat(body: Vec<u8>) -> Request<Body> {
    Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// JSON shaped like a chat request, with every field possibly wrong.
fn almost_request() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("null".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| f.to_string()),
        "[a-z \\\\\"]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just(r#"[{"role":"user","content":"hi"}]"#.to_owned()),
        Just(r#"[{"role":"user","content":[{"type":"text","text":"x"}]}]"#.to_owned()),
    ];
    let key = prop_oneof![
        Just("model"),
        Just("messages"),
        Just("max_tokens"),
        Just("max_completion_tokens"),
        Just("n"),
        Just("stream"),
        Just("stream_options"),
        Just("temperature"),
    ];
    prop::collection::vec((key, value), 0..8).prop_map(|fields| {
        let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", inner.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Raw bytes: a 4xx with an OpenAI error body, never a panic or a 5xx.
    #[test]
    fn arbitrary_bytes_get_an_openai_4xx(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let rt = runtime();
        let (status, bytes) = call(&rt, app(Profile::default()), chat(body));
        if status != StatusCode::OK {
            prop_assert!(status.is_client_error(), "{status}");
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert!(v["error"]["message"].is_string());
            prop_assert!(v["error"]["type"].is_string());
        }
    }

    /// Near-miss JSON: either a well-formed completion or an OpenAI 4xx (huge max_tokens or n
    /// included: those are refused, not generated).
    #[test]
    fn near_miss_requests_get_a_completion_or_a_4xx(body in almost_request()) {
        let rt = runtime();
        let (status, bytes) = call(&rt, app(Profile { tokens: 4, ..Profile::default() }), chat(body.into_bytes()));
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if status == StatusCode::OK {
            // A stream is events ending in [DONE]; anything else is a completion.
            if bytes.starts_with(b"data: ") {
                prop_assert!(bytes.ends_with(b"data: [DONE]\n\n"), "{}", String::from_utf8_lossy(&bytes));
            } else {
                prop_assert_eq!(&v["object"], "chat.completion");
                prop_assert!(v["choices"][0]["message"]["content"].is_string());
            }
        } else {
            prop_assert!(status.is_client_error(), "{status}");
            prop_assert!(v["error"]["message"].is_string());
        }
    }

    /// Our own header takes any value without breaking anything.
    #[test]
    fn any_fault_header_value_is_handled(value in "[ -~]{0,16}") {
        let rt = runtime();
        let req = Request::post("/v1/chat/completions")
            .header("x-mock-fault", value.as_str())
            .body(Body::from(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":2}"#))
            .unwrap();
        let (status, bytes) = call(&rt, app(Profile::default()), req);
        // hang and reset need the connection layer; through the bare router they still answer:
        // a completion, or an error status with OpenAI's error body.
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        if status == StatusCode::OK {
            prop_assert_eq!(&v["object"], "chat.completion");
        } else {
            prop_assert!(status.is_client_error() || status.is_server_error(), "{status}");
            prop_assert!(v["error"]["message"].is_string(), "{status}: {v}");
        }
    }

    /// Profile files: arbitrary text never panics, and what parses is written back (as TOML) to
    /// the same profile.
    #[test]
    fn arbitrary_profiles_parse_or_fail_cleanly(text in "[a-z_0-9 =\\.\"\\[\\],:\\n-]{0,120}") {
        if let Ok(p) = Profile::from_toml(&text) {
            let written = toml::to_string(&p).unwrap();
            prop_assert_eq!(Profile::from_toml(&written).unwrap(), p, "{}", written);
        }
    }

    /// Profiles built from plausible keys with arbitrary values.
    #[test]
    fn plausible_profiles_parse_or_name_the_bad_value(
        key in prop_oneof![Just("latency"), Just("ttft"), Just("itl"), Just("rate_429"), Just("rpm"), Just("schedule"), Just("retry_after")],
        value in prop_oneof![
            any::<f64>().prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            "[a-z0-9:,.\\-]{0,16}".prop_map(|s| format!("{s:?}")),
            "[a-z0-9:]{0,10}".prop_map(|s| format!("[{s:?}]")),
        ],
    ) {
        match Profile::from_toml(&format!("{key} = {value}")) {
            Ok(p) => prop_assert!(p.validate().is_ok()),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// After a burst of bad input over a real socket the server still answers.
#[test]
fn the_server_keeps_serving_after_garbage() {
    use std::io::{Read, Write};
    let server = mock_server::MockServer::start(Profile::default()).unwrap();
    for garbage in [
        &b"\x00\x01\x02GARBAGE\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let _ = s.write_all(garbage);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    assert!(buf.starts_with("HTTP/1.1 200"), "{buf}");
}
