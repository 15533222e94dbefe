//! Real endpoints: HTTPS and HTTP/2 on both sides. Every strategy over TLS with the mock's
//! certificate trusted; the async strategies over HTTP/2 (prior knowledge and ALPN), streaming
//! included; the protocol each strategy really used and the connections and handshakes it cost.

use std::sync::Arc;
use std::time::Duration;

use asyncbench::TlsTrust;
use asyncbench::model::outcome::Outcome;
use asyncbench::model::strategy::Strategy;
use mock_server::{MockServer, Profile, ServerOptions, TlsSource};

use crate::util::{bin, config, config_for_target};

fn tls_mock(http2: bool) -> MockServer {
    MockServer::start_with(
        Profile::fixed(Duration::from_millis(5)),
        ServerOptions {
            tls: Some(TlsSource::Generated),
            http2,
            ..ServerOptions::default()
        },
    )
    .unwrap()
}

/// Every strategy works over HTTPS when the mock's certificate is trusted; the blocking ones
/// speak HTTP/1.1, and the handshakes are counted by the mock.
#[test]
fn every_strategy_works_over_https_with_the_certificate_trusted() {
    // Arrange
    let server = tls_mock(false);
    let mut cfg = config_for_target(&Strategy::ALL, 12, format!("{}/v1", server.uri()));
    if let Some(t) = cfg.endpoint.target_mut() {
        t.trust = TlsTrust {
            ca_pem: Some(Arc::new(server.ca_pem().unwrap().as_bytes().to_vec())),
            insecure: false,
        };
    }
    // Act
    let report = asyncbench::compare(&cfg).unwrap();
    // Assert
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::Ok), 12, "{}: {:?}", s.id, s.errors);
        assert_eq!(s.protocols.get("HTTP/1.1"), Some(&12), "{}", s.id);
        let c = s.server.as_ref().unwrap();
        assert!(
            c.tls_handshakes >= 1 && c.tls_handshakes == c.connections,
            "{}: {c:?}",
            s.id
        );
        // Keep-alive: connections are reused. A blocking client puts its connection back before
        // its next request, so it opens at most one per request in flight; reqwest's pool takes
        // a finished connection back a moment later, so a busy machine can see one more.
        assert!(c.connections < 12, "{}: {c:?}", s.id);
        if s.id.is_blocking() {
            assert!(
                Some(c.connections) <= s.concurrency.map(|c| c.max(1)),
                "{}: {c:?}",
                s.id
            );
        }
    }
    assert!(report.config.tls);
}

/// A certificate the system trusts (here through `SSL_CERT_FILE`), with no `--ca-cert`, is
/// trusted by every Rust strategy: ureq trusted Mozilla's list only, and a target whose CA the
/// system holds (a company's) failed the ureq strategies alone. The Python clients keep their
/// libraries' own roots (`requests` and the SDKs `certifi`'s), every request counted.
#[test]
fn a_certificate_the_system_trusts_is_trusted_by_every_rust_strategy() {
    crate::util::python_clients();
    let server = tls_mock(false);
    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, server.ca_pem().unwrap()).unwrap();
    let strategies = crate::util::every_strategy_for(asyncbench::model::plan::Api::Openai);
    let list: Vec<String> = strategies.iter().map(ToString::to_string).collect();
    let o = bin()
        .env("SSL_CERT_FILE", &ca)
        .env_remove("SSL_CERT_DIR")
        .args([
            "compare", "-q", "-n", "2", "-c", "1", "--retry", "none", "--target",
        ])
        .arg(format!("{}/v1", server.uri()))
        .args(["--strategies", &list.join(",")])
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let report = crate::util::json(&tmp.path().join("out/report.json"));
    for (s, id) in report["strategies"].as_array().unwrap().iter().zip(&list) {
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["accounted"], "2/2", "{id}: {err}");
        if !id.starts_with("py-") {
            assert_eq!(s["outcomes"]["ok"], 2, "{id}: {}", s["errors"]);
        }
    }
}

/// Over TLS with `--http2`, the async strategies negotiate HTTP/2 by ALPN (streaming too); the
/// blocking ones stay on HTTP/1.1, and the report says so per strategy.
#[test]
fn http2_is_negotiated_over_tls_for_the_async_strategies() {
    let mut cfg = config(
        &[
            Strategy::Sequential,
            Strategy::Threadpool,
            Strategy::Async,
            Strategy::AsyncSingle,
        ],
        8,
        Profile {
            ttft: "10ms".parse().unwrap(),
            itl: "2ms".parse().unwrap(),
            ..Profile::default()
        },
    );
    if let asyncbench::Endpoint::Embedded { tls, .. } = &mut cfg.endpoint {
        *tls = true;
    }
    cfg.http2 = true;
    cfg.workload.stream = true;
    let report = asyncbench::compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::Ok), 8, "{}: {:?}", s.id, s.errors);
        let want = if s.id.is_blocking() { "HTTP/1.1" } else { "HTTP/2" };
        assert_eq!(s.protocols.keys().collect::<Vec<_>>(), [want], "{}", s.id);
        let c = s.server.as_ref().unwrap();
        assert_eq!(
            c.http2_streams,
            if s.id.is_blocking() { 0 } else { 8 },
            "{}",
            s.id
        );
        assert!(c.tls_handshakes >= 1, "{}", s.id);
        assert!(s.ttft_ms.unwrap().p50 >= 10.0, "{}", s.id);
    }
    assert!(report.config.target.contains("https"));
}

/// With prior knowledge on plain HTTP, the async strategies multiplex every request over one
/// connection; over HTTP/1.1 they need (at least) one per request in flight, as the thread pool
/// needs one per thread.
#[test]
fn connections_per_strategy_follow_the_protocol() {
    let mut cfg = config(
        &[Strategy::Threadpool, Strategy::Async, Strategy::AsyncSingle],
        40,
        Profile::fixed(Duration::from_millis(20)),
    );
    cfg.concurrency = 8;
    let h1 = asyncbench::compare(&cfg).unwrap();
    cfg.http2 = true;
    let h2 = asyncbench::compare(&cfg).unwrap();
    for (a, b) in h1.strategies.iter().zip(&h2.strategies) {
        let (ca, cb) = (a.server.as_ref().unwrap(), b.server.as_ref().unwrap());
        if a.id.is_blocking() {
            assert_eq!(ca.connections, 8, "{} over HTTP/1.1: {ca:?}", a.id);
        } else {
            // One per request in flight, reused; reqwest's pool may open one more when a finished
            // connection comes back a moment after the next request asked for one.
            assert!(
                (8..40).contains(&ca.connections),
                "{} over HTTP/1.1: {ca:?}",
                a.id
            );
        }
        if b.id.is_blocking() {
            assert_eq!(cb.connections, 8, "{}", b.id);
            assert_eq!(b.protocols.get("HTTP/1.1"), Some(&40));
        } else {
            assert_eq!(cb.connections, 1, "{} over HTTP/2: {cb:?}", b.id);
            assert_eq!(cb.http2_streams, 40);
            assert_eq!(b.protocols.get("HTTP/2"), Some(&40));
        }
    }
}

/// Without the certificate trusted the handshake fails: every request is a transport error whose
/// sample says why, and the run exits 5 naming the cause; `--insecure` gets through with a
/// warning; `--ca-cert` names a file that must hold a certificate.
#[test]
fn an_untrusted_certificate_is_a_clear_failure_and_insecure_is_loud() {
    let server = tls_mock(false);
    let url = format!("{}/v1", server.uri());
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "2",
            "--strategies",
            "sequential,async",
            "--target",
            &url,
        ])
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("no request succeeded"), "{stderr}");
    assert!(stdout.to_lowercase().contains("certificate"), "{stdout}");

    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "2",
            "--strategies",
            "sequential,async",
            "--insecure",
            "--target",
            &url,
        ])
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--insecure"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("INSECURE"));

    let tmp = tempfile::tempdir().unwrap();
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, server.ca_pem().unwrap()).unwrap();
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "2",
            "--strategies",
            "threadpool,async-single",
            "--target",
            &url,
        ])
        .arg("--ca-cert")
        .arg(&ca)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let missing = tmp.path().join("nope.pem");
    let o = bin()
        .args(["compare", "-n", "2", "--target", &url, "--ca-cert"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--ca-cert") && stderr.contains("nope.pem"),
        "{stderr}"
    );
}
