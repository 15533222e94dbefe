//! Streaming: every strategy reads server-sent events as they arrive and times each token.
//! Measured TTFT and ITL are never below what the mock was told (lower bounds only: the figures
//! themselves go in results/), token counts match the usage chunk, and a stream that breaks is
//! a failure, never a short success.

use std::time::Duration;

use asyncbench::compare;
use asyncbench::model::outcome::Outcome;
use asyncbench::model::strategy::Strategy;
use mock_server::Profile;

use crate::util::config;

fn streaming_profile() -> Profile {
    Profile {
        ttft: "60ms".parse().unwrap(),
        itl: "15ms".parse().unwrap(),
        ..Profile::default()
    }
}

/// TTFT ≥ 60 ms, the median inter-token gap within arrival jitter of 15 ms or more, and the
/// whole request ≥ TTFT + 7 gaps; the usage chunk's count is what was read.
#[test]
fn every_strategy_times_ttft_and_itl_from_the_stream() {
    // Arrange: 8 requests of 8 tokens, 4 at a time.
    let mut cfg = config(&Strategy::ALL, 8, streaming_profile());
    cfg.workload.stream = true;
    // Act
    let report = compare(&cfg).unwrap();
    // Assert
    for s in &report.strategies {
        assert_eq!(s.count(Outcome::Ok), 8, "{}", s.id);
        assert_eq!(s.completion_tokens, 8 * 8, "{}: usage chunk tokens", s.id);
        let ttft = s.ttft_ms.expect("ttft recorded");
        let itl = s.itl_ms.expect("itl recorded");
        let tpot = s.tpot_ms.expect("tpot recorded");
        assert_eq!(ttft.count, 8, "{}: one TTFT per request", s.id);
        assert_eq!(itl.count, 8 * 7, "{}: tokens − 1 gaps per request", s.id);
        assert!(ttft.p50 >= 60.0 && ttft.max >= 60.0, "{}: ttft {:?}", s.id, ttft);
        // A gap runs from one arrival to the next, so a token read late (a busy machine) shortens
        // the gap after it: per-gap figures get a third of the gap as slack, which still fails a
        // reader that times tokens when it has them all (gaps near 0). The strict lower bound is
        // cumulative (end-to-end, below).
        assert!(itl.p50 >= 10.0, "{}: itl {:?}", s.id, itl);
        assert!(tpot.p50 >= 10.0, "{}: tpot {:?}", s.id, tpot);
        // End-to-end covers TTFT plus seven gaps.
        assert!(
            s.latency_ms.unwrap().p50 >= 60.0 + 7.0 * 15.0,
            "{}: e2e {:?}",
            s.id,
            s.latency_ms
        );
        assert!(s.histograms.contains_key("ttft") && s.histograms.contains_key("itl"));
    }
}

/// A stream cut halfway is a transport failure and one with an error event a server error, in
/// every strategy; neither is a success with fewer tokens, and neither hangs.
#[test]
fn broken_streams_are_failures_not_short_successes() {
    for (profile, want) in [
        (
            Profile {
                rate_stream_cut: 1.0,
                ..streaming_profile()
            },
            Outcome::Transport,
        ),
        (
            Profile {
                rate_stream_error: 1.0,
                ..streaming_profile()
            },
            Outcome::ServerError,
        ),
    ] {
        let mut cfg = config(&Strategy::ALL, 4, profile);
        cfg.workload.stream = true;
        cfg.timeout = Duration::from_secs(30);
        let report = compare(&cfg).unwrap();
        for s in &report.strategies {
            assert_eq!(s.count(want), 4, "{}: {:?}", s.id, s.outcomes);
            assert_eq!(s.count(Outcome::Ok), 0);
            assert_eq!(
                s.completion_tokens, 0,
                "{}: no tokens credited from a failed stream",
                s.id
            );
            assert!(s.wall_s < 30.0, "{}: ended before the timeout", s.id);
        }
    }
}

/// A streamed run writes TTFT and ITL `.hgrm` files, their `.hlog` series and their charts.
#[test]
fn streaming_outputs_include_ttft_and_itl() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut cfg = config(&[Strategy::Async], 6, streaming_profile());
    cfg.workload.stream = true;
    cfg.out = Some(dir.clone());
    compare(&cfg).unwrap();
    for f in [
        "async.ttft.hgrm",
        "async.itl.hgrm",
        "async.tpot.hgrm",
        "ttft.svg",
        "ttft.png",
        "itl.svg",
        "itl.png",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let hlog = std::fs::read_to_string(dir.join("run.hlog")).unwrap();
    assert!(hlog.contains("Tag=async.ttft,") && hlog.contains("Tag=async.itl,"));
}

/// A streamed sweep carries TTFT and ITL per point, and every streamed report has per-request
/// output rates.
#[test]
fn a_streamed_sweep_reports_ttft_and_itl_per_point() {
    let mut cfg = config(&[Strategy::Async], 4, streaming_profile());
    cfg.workload.stream = true;
    let axis = asyncbench::model::sweep::Axis::Concurrency(vec![1, 4]);
    let crit = asyncbench::model::sweep::Criteria {
        slo_p99_ms: None,
        max_429_share: 0.01,
        min_good_share: None,
    };
    let (report, _) =
        asyncbench::sweep(&cfg, &asyncbench::model::sweep::SweepPlan::Fixed(axis), crit).unwrap();
    for p in &report.points {
        let r = &p.results[0];
        let (ttft_p50, _) = r.ttft_ms.expect("ttft per point");
        assert!(ttft_p50 >= 60.0);
        assert!(r.itl_ms.is_some());
    }
    assert!(asyncbench::sweep_table(&report).contains("ttft_p50"));
    let rep = compare(&cfg).unwrap();
    let rate = rep.strategies[0]
        .request_tokens_per_s
        .expect("per-request tokens/s");
    // 8 tokens in at least 60 + 7 × 15 ms: at most about 48 tokens/s per request.
    assert!(rate.max > 0.0 && rate.max <= 8.0 / 0.165 + 0.1, "{rate:?}");
}
