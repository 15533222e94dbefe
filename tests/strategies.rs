//! Scenarios run over every strategy: each must account for every request, classify each
//! outcome right, and agree with the mock's own count of what it received.

use std::time::Duration;

use asyncbench::Plan;
use asyncbench::StopToken;
use asyncbench::compare;
use asyncbench::model::outcome::Outcome;
use asyncbench::model::report::StrategyReport;
use asyncbench::model::strategy::Strategy;
use asyncbench::{Session, run_one};
use mock_server::Profile;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::util::{completion_json, config, config_for_target, fast_retry};

fn assert_accounted(s: &StrategyReport, n: u64) {
    assert!(s.accounted_ok, "{}: accounted {}", s.id, s.accounted);
    assert_eq!(s.outcomes.values().sum::<u64>(), n, "{}", s.id);
    if let Some(c) = &s.server {
        assert!(
            c.matches,
            "{}: sent {} attempts, mock received {}",
            s.id, c.attempts_sent, c.requests_received
        );
    }
}

/// On a clean mock every request of every strategy succeeds, no faster than the mock's delay,
/// and the mock received exactly the attempts sent.
#[test]
fn every_strategy_succeeds_on_a_clean_mock() {
    // Arrange
    let cfg = config(&Strategy::ALL, 12, Profile::fixed(Duration::from_millis(20)));
    // Act
    let report = compare(&cfg).unwrap();
    // Assert
    assert_eq!(report.strategies.len(), Strategy::ALL.len());
    for s in &report.strategies {
        assert_accounted(s, 12);
        assert_eq!(s.count(Outcome::Ok), 12, "{}", s.id);
        assert_eq!(s.attempts, 12);
        assert!(
            s.latency_ms.unwrap().p50 >= 20.0,
            "{}: p50 {}",
            s.id,
            s.latency_ms.unwrap().p50
        );
        assert!(s.server.is_some(), "the embedded mock is cross-checked");
        assert_eq!(s.completion_tokens, 12 * 8, "usage read from every response");
    }
    // Sequential cannot overlap: at least 12 × 20 ms. The others run 4 at a time.
    let seq = &report.strategies[0];
    assert!(seq.wall_s >= 0.24, "{}", seq.wall_s);
}

/// A wiremock server answering `n` 429s (OpenAI's rate-limit body, with the header `name:
/// value`), then completions.
async fn limited_then_ok(n: u64, name: &str, value: &str) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    let limited = serde_json::json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header(name, value)
                .set_body_json(limited),
        )
        .up_to_n_times(n)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion_json()))
        .mount(&server)
        .await;
    server
}

/// A 429 with `retry-after-ms` is retried after at least that long, for every strategy
/// (wiremock answers 429, 429, then 200, as the article's testing section would).
#[test]
fn rate_limited_requests_are_retried_after_retry_after() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in Strategy::ALL {
        // Arrange: a fresh sequence per strategy.
        let server = rt.block_on(limited_then_ok(2, "retry-after-ms", "150"));
        let mut cfg = config_for_target(&[s], 1, format!("{}/v1", server.uri()));
        cfg.retry = fast_retry(5);
        // Act
        let report = compare(&cfg).unwrap();
        // Assert
        let r = &report.strategies[0];
        assert_accounted(r, 1);
        assert_eq!(r.count(Outcome::Ok), 1, "{s}");
        assert_eq!(r.attempts, 3, "{s}: 429, 429, 200");
        assert_eq!(r.retries, 2);
        // Two waits of the header's 150 ms (not the policy's 10 ms backoff).
        assert!(r.backoff_s >= 0.3, "{s}: backoff {}", r.backoff_s);
        assert!(
            r.latency_ms.unwrap().p50 >= 300.0,
            "{s}: latency {}",
            r.latency_ms.unwrap().p50
        );
        // (The harness also asked for /stats, to see whether the target is our mock; it is not.)
        let received = rt.block_on(server.received_requests()).unwrap();
        let chats = received
            .iter()
            .filter(|r| r.url.path() == "/v1/chat/completions")
            .count();
        assert_eq!(chats, 3);
        assert!(r.server.is_none(), "wiremock has no /stats");
    }
}

/// When every attempt fails, a strategy stops at the policy's attempt limit and reports the
/// last attempt's outcome.
#[test]
fn gives_up_after_the_attempt_limit_with_the_right_outcome() {
    // Arrange: every attempt gets 503.
    let profile = Profile {
        rate_503: 1.0,
        ..Profile::default()
    };
    let mut cfg = config(&Strategy::ALL, 6, profile);
    cfg.retry = fast_retry(3);
    // Act
    let report = compare(&cfg).unwrap();
    // Assert
    for s in &report.strategies {
        assert_accounted(s, 6);
        assert_eq!(s.count(Outcome::ServerError), 6, "{}", s.id);
        assert_eq!(s.attempts, 18, "{}: 3 attempts each", s.id);
        assert_eq!(s.retries, 12);
        assert_eq!(
            s.server.as_ref().unwrap().responses_by_status.get(&503),
            Some(&18)
        );
    }
}

/// A hang ends in a timeout, counted as `timeout`, after no less than the timeout; the mock saw
/// every attempt.
#[test]
fn timeouts_are_counted_as_timeouts() {
    // Arrange
    let profile = Profile {
        rate_hang: 1.0,
        ..Profile::default()
    };
    let mut cfg = config(&Strategy::ALL, 4, profile);
    cfg.timeout = Duration::from_millis(200);
    // Act
    let report = compare(&cfg).unwrap();
    // Assert
    for s in &report.strategies {
        assert_accounted(s, 4);
        assert_eq!(s.count(Outcome::Timeout), 4, "{}", s.id);
        let p = s.latency_by_outcome_ms[&Outcome::Timeout];
        assert!(p.p50 >= 200.0, "{}: timed out after {} ms", s.id, p.p50);
    }
}

/// A timeout shorter than a connection takes gives attempts up before they are written: the
/// mock never sees them, and that is no accounting mismatch (at `--timeout 1ms`, 100 in flight,
/// it received 212 of 900 and failed the run). The mock saw at most what was sent.
#[test]
fn attempts_given_up_before_they_were_written_are_no_mismatch() {
    let mut cfg = config(&Strategy::ALL, 30, Profile::fixed(Duration::ZERO));
    cfg.timeout = Duration::from_micros(1);
    let report = compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_accounted(s, 30);
        assert_eq!(s.count(Outcome::Timeout), 30, "{}", s.id);
        let c = s.server.as_ref().unwrap();
        assert!(
            c.matches && c.requests_received <= c.attempts_sent,
            "{}: {c:?}",
            s.id
        );
    }
}

/// Resets and quota 429s are classified (`transport`, `rate_limited`) and a quota 429 is not
/// retried by the openai preset (`x-should-retry: false`).
#[test]
fn resets_are_transport_errors_and_quota_429s_are_not_retried() {
    let profile = Profile {
        schedule: vec!["every:2:reset".parse().unwrap()],
        ..Profile::default()
    };
    let report = compare(&config(&Strategy::ALL, 8, profile)).unwrap();
    for s in &report.strategies {
        assert_accounted(s, 8);
        assert_eq!(s.count(Outcome::Transport), 4, "{}", s.id);
        assert_eq!(s.count(Outcome::Ok), 4, "{}", s.id);
    }

    let profile = Profile {
        rate_quota: 1.0,
        ..Profile::default()
    };
    let mut cfg = config(&Strategy::ALL, 3, profile);
    cfg.retry = asyncbench::model::retry::RetryPolicy::preset(asyncbench::model::retry::RetryPreset::Openai);
    let report = compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::RateLimited), 3, "{}", s.id);
        assert_eq!(s.retries, 0, "{}: quota is not retried", s.id);
    }
}

/// A connection reset is retried by a policy that retries connection errors (openai's does):
/// every request then succeeds, each retry follows one reset attempt, and the mock received
/// every attempt. A policy that retries statuses only (aiohttp's) leaves the resets failed.
#[test]
fn connection_errors_are_retried_when_the_policy_says_so() {
    let profile = Profile {
        schedule: vec!["every:2:reset".parse().unwrap()],
        ..Profile::default()
    };
    let mut cfg = config(&Strategy::ALL, 8, profile.clone());
    cfg.retry = fast_retry(10);
    let report = compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_accounted(s, 8);
        assert_eq!(s.count(Outcome::Ok), 8, "{}", s.id);
        assert!(s.retries >= 4, "{}: {} retries", s.id, s.retries);
        assert_eq!(
            s.attempt_outcomes.get(&Outcome::Transport).copied(),
            Some(s.retries),
            "{}",
            s.id
        );
        let server = s.server.as_ref().unwrap();
        assert!(
            server.matches && server.requests_received == s.attempts,
            "{}",
            s.id
        );
    }
    let mut cfg = config(&Strategy::ALL, 8, profile);
    cfg.retry = fast_retry(10);
    cfg.retry.retry_transport = false;
    let report = compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_accounted(s, 8);
        assert_eq!((s.count(Outcome::Transport), s.retries), (4, 0), "{}", s.id);
    }
}

/// With 429s, 5xx, resets and hangs mixed and retries on, every request still ends in exactly
/// one outcome and the mock received exactly the attempts sent.
#[test]
fn mixed_faults_are_fully_accounted() {
    // Arrange
    let profile = Profile {
        rate_429: 0.2,
        rate_500: 0.05,
        rate_503: 0.05,
        rate_reset: 0.05,
        rate_hang: 0.03,
        retry_after: Duration::from_millis(20),
        seed: Some(11),
        latency: "uniform:1ms..5ms".parse().unwrap(),
        ..Profile::default()
    };
    let mut cfg = config(&Strategy::ALL, 60, profile);
    cfg.timeout = Duration::from_millis(300);
    cfg.retry = fast_retry(3);
    cfg.concurrency = 8;
    // Act
    let report = compare(&cfg).unwrap();
    // Assert
    for s in &report.strategies {
        assert_accounted(s, 60);
        assert!(s.attempts >= 60 && s.attempts <= 180, "{}", s.id);
        assert_eq!(s.attempts, 60 + s.retries);
        assert!(s.retries > 0, "{}: some faults were retried", s.id);
    }
    assert!(report.accounting_failures().is_empty());
}

/// An unbounded async run puts every request in flight at once (asyncio.gather without a
/// semaphore), and a bounded one never exceeds its bound.
#[test]
fn async_concurrency_bounds_are_respected() {
    let mut cfg = config(
        &[Strategy::Async, Strategy::AsyncSingle, Strategy::Threadpool],
        30,
        Profile::fixed(Duration::from_millis(100)),
    );
    cfg.concurrency = 6;
    let cfg = Plan::new(cfg).unwrap();
    let session = Session::open(&cfg, &StopToken::new()).unwrap();
    for s in &cfg.strategies {
        let lease = session.lease().unwrap();
        run_one(&cfg, &lease, *s, None, None).unwrap();
        let peak = lease.mock().unwrap().stats().peak_in_flight;
        assert!(peak <= 6, "{s}: peak {peak}");
    }
    let mut unbounded = cfg.config().clone();
    unbounded.concurrency = 0;
    unbounded.strategies = vec![Strategy::Async];
    let unbounded = Plan::new(unbounded).unwrap();
    let session = Session::open(&unbounded, &StopToken::new()).unwrap();
    let lease = session.lease().unwrap();
    run_one(&unbounded, &lease, Strategy::Async, None, None).unwrap();
    assert_eq!(lease.mock().unwrap().stats().peak_in_flight, 30);
}

/// Retry-After in whole seconds and as an HTTP date, end to end: a 429 carrying it is retried
/// no sooner than it says, in every strategy, and one past all reason not at all. The date has
/// a one-second resolution and is written before the request is sent, so a date 3 s ahead means
/// a wait of 2–3 s less however long the machine took to get there: at least 1 s leaves room
/// for a loaded machine and is still a hundred times the policy's own 10 ms backoff.
#[test]
fn retry_after_in_seconds_and_as_an_http_date_is_waited_for() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in Strategy::ALL {
        for (header, at_least) in [(None, 1.0), (Some(3u64), 1.0)] {
            let value = match header {
                None => "1".to_owned(),
                Some(ahead) => {
                    httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(ahead))
                }
            };
            let server = rt.block_on(limited_then_ok(1, "retry-after", &value));
            let mut cfg = config_for_target(&[s], 1, format!("{}/v1", server.uri()));
            cfg.retry = fast_retry(3);
            let report = compare(&cfg).unwrap();
            let r = &report.strategies[0];
            assert_eq!(r.count(Outcome::Ok), 1, "{s} {header:?}");
            assert_eq!(r.attempts, 2, "{s} {header:?}");
            assert!(
                r.backoff_s >= at_least && r.backoff_s < 5.0,
                "{s} {header:?}: waited {} s",
                r.backoff_s
            );
        }
        // A wait past what a Duration holds is above the policy's 5 s cap: not retried, and
        // no panic (the conversion of 10²⁰ s panicked the client's worker).
        let server = rt.block_on(limited_then_ok(1, "retry-after", "99999999999999999999"));
        let mut cfg = config_for_target(&[s], 1, format!("{}/v1", server.uri()));
        cfg.retry = fast_retry(3);
        let r = &compare(&cfg).unwrap().strategies[0];
        assert_eq!(
            (r.count(Outcome::RateLimited), r.attempts),
            (1, 1),
            "{s}: {:?}",
            r.errors
        );
    }
}

/// No attempt is sent after a duration-bounded run's end, in every strategy: a request whose
/// retry would fall later ends with its last attempt's outcome, uncounted wait and all (with
/// `--retry anthropic` and a Retry-After of 40 s, `--duration 2s` ran eight minutes). A retry
/// that falls within the duration is still sent.
#[test]
fn no_retry_is_sent_after_the_duration() {
    use asyncbench::model::plan::Stop;
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in Strategy::ALL {
        // Arrange: every answer a 429 asking for 3 s, in a run of at most 1 s.
        let server = rt.block_on(limited_then_ok(1000, "retry-after", "3"));
        let mut cfg = config_for_target(&[s], 2, format!("{}/v1", server.uri()));
        cfg.retry = fast_retry(3);
        cfg.stop = Stop::First {
            count: 2,
            duration: Duration::from_secs(1),
        };
        // Act
        let r = &compare(&cfg).unwrap().strategies[0];
        // Assert
        assert_accounted(r, 2);
        assert_eq!(
            (r.count(Outcome::RateLimited), r.attempts, r.backoff_s),
            (2, 2, 0.0),
            "{s}: {:?}",
            r.errors
        );
        // A retry within the duration (10 ms) is sent.
        let server = rt.block_on(limited_then_ok(1, "retry-after-ms", "10"));
        let mut cfg = config_for_target(&[s], 1, format!("{}/v1", server.uri()));
        cfg.retry = fast_retry(3);
        cfg.stop = Stop::First {
            count: 1,
            duration: Duration::from_secs(30),
        };
        let r = &compare(&cfg).unwrap().strategies[0];
        assert_eq!((r.count(Outcome::Ok), r.attempts), (1, 2), "{s}: {:?}", r.errors);
    }
}

/// A redirect is an answer, in every strategy: counted as its 3xx, where it pointed in the
/// sample (secrets masked), never followed. The async strategies followed it (a second request
/// hidden in each latency) while the blocking ones failed on it.
#[test]
fn a_redirect_is_counted_not_followed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (redirecting, elsewhere) = rt.block_on(async {
        let elsewhere = wiremock::MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completion_json()))
            .mount(&elsewhere)
            .await;
        let redirecting = wiremock::MockServer::start().await;
        let to = format!(
            "{}/v1/chat/completions?key=sk-abcdefghijklmnopqrstuvwxyz",
            elsewhere.uri()
        );
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(307).insert_header("location", to.as_str()))
            .mount(&redirecting)
            .await;
        (redirecting, elsewhere)
    });
    let cfg = config_for_target(&Strategy::ALL, 3, format!("{}/v1", redirecting.uri()));
    let report = compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_accounted(s, 3);
        assert_eq!(
            (s.count(Outcome::ClientError), s.attempts),
            (3, 3),
            "{}: {:?}",
            s.id,
            s.errors
        );
        let e = &s.errors[0];
        assert_eq!(e.class, "http_307", "{}", s.id);
        assert!(
            e.sample
                .starts_with(&format!("HTTP 307: redirected to {}", elsewhere.uri()))
                && !e.sample.contains("sk-abcdefghijklmnopqrstuvwxyz"),
            "{}: {}",
            s.id,
            e.sample
        );
    }
    let followed = rt.block_on(elsewhere.received_requests()).unwrap().len();
    assert_eq!(followed, 0, "a redirect was followed");
}

/// A target that reports 2⁶⁴ − 1 tokens an answer is counted without wrapping (and, in a debug
/// build, without an overflow's panic) in every strategy: the sums stop at the largest count.
#[test]
fn absurd_token_counts_saturate_in_every_strategy() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        let server = wiremock::MockServer::start().await;
        let mut body = crate::util::completion_json();
        body["usage"] =
            serde_json::json!({"prompt_tokens": u64::MAX, "completion_tokens": u64::MAX, "total_tokens": 0});
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        server
    });
    let cfg = config_for_target(&Strategy::ALL, 3, format!("{}/v1", server.uri()));
    let report = compare(&cfg).unwrap();
    for s in &report.strategies {
        assert_accounted(s, 3);
        assert_eq!(s.count(Outcome::Ok), 3, "{}: {:?}", s.id, s.errors);
        assert_eq!(
            (s.completion_tokens, s.input_tokens),
            (u64::MAX, u64::MAX),
            "{}",
            s.id
        );
    }
}

/// A whole answer that comes in pieces (three writes 20 ms apart, chunked or under a
/// `content-length`) is read whole, in every strategy: the async client keeps a first piece
/// without a copy and joins the rest after it.
#[test]
fn a_whole_answer_in_pieces_is_read_whole_in_every_strategy() {
    for chunked in [true, false] {
        // Arrange
        let url = crate::util::pieces_server(chunked);
        let mut cfg = crate::util::config_for_target(&Strategy::ALL, 4, format!("{url}/v1"));
        cfg.concurrency = 2;
        cfg.batch_size = 2;
        // Act
        let report = asyncbench::compare(&cfg).unwrap();
        // Assert
        for s in &report.strategies {
            assert_accounted(s, 4);
            assert_eq!(
                s.count(Outcome::Ok),
                4,
                "{} (chunked {chunked}): {:?}",
                s.id,
                s.errors
            );
            assert_eq!(s.completion_tokens, 4, "{} (chunked {chunked})", s.id);
        }
    }
}
