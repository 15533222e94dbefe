//! Tuning: open-loop pacing measured from the schedule, sweeps and their recommendation, and a
//! client-side throttle against the mock's rate limiter.

use std::time::Duration;

use asyncbench::Plan;
use asyncbench::StopToken;
use asyncbench::model::outcome::Outcome;
use asyncbench::model::plan::{Arrival, Load};
use asyncbench::model::strategy::Strategy;
use asyncbench::model::sweep::{Axis, Criteria, SweepPlan};
use asyncbench::sweep;
use asyncbench::{Session, run_one};
use mock_server::Profile;

use crate::util::config;

/// When the mock stalls for 1 s in the middle of a paced run, the latency measured from each
/// request's intended start shows the stall (the requests queued behind it waited), while the
/// service time (actual send → done) does not: the coordinated-omission difference.
#[test]
fn a_stall_shows_in_intended_start_latency_but_not_in_service_time() {
    // Arrange: sequential, 40 requests/s for 5 s, 5 ms each.
    let mut cfg = config(
        &[Strategy::Sequential],
        200,
        Profile::fixed(Duration::from_millis(5)),
    );
    cfg.load = Load::Open {
        rate: 40.0,
        arrival: Arrival::Constant,
        seed: 1,
    };
    let cfg = Plan::new(cfg).unwrap();
    let session = Session::open(&cfg, &StopToken::new()).unwrap();
    let lease = session.lease().unwrap();
    let stall = Duration::from_secs(1);
    // Act: stall the mock once 80 requests (2 s of the schedule) reached it.
    let (report, _) = std::thread::scope(|s| {
        s.spawn(|| {
            let mock = lease.mock().unwrap();
            let t = std::time::Instant::now();
            while mock.stats().requests_received < 80 && t.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(5));
            }
            mock.stall(stall);
        });
        run_one(&cfg, &lease, Strategy::Sequential, None, None).unwrap()
    });
    // Assert
    assert_eq!(report.count(Outcome::Ok), 200);
    let stall_ms = stall.as_secs_f64() * 1000.0;
    // About 40 requests fell due during the stall: far more than 1 % of 200 waited ≥ half of it.
    assert!(
        report.latency_ms.unwrap().p99 >= stall_ms / 2.0,
        "intended-start p99 {:?}",
        report.latency_ms
    );
    assert!(
        report.lag_ms.unwrap().p99 >= stall_ms / 2.0,
        "lag p99 {:?}",
        report.lag_ms
    );
    // Only the one request in flight during the stall took long to serve: under 1 %.
    assert!(
        report.service_ms.unwrap().p99 < stall_ms / 2.0,
        "service p99 {:?}",
        report.service_ms
    );
    assert_eq!(report.target_rate, Some(40.0));
}

/// A sweep over concurrency runs every point, recommends the smallest setting near the best
/// goodput, and writes sweep.json, per-point reports and the sweep charts.
#[test]
fn a_concurrency_sweep_recommends_and_writes_its_outputs() {
    // Arrange
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut cfg = config(
        &[Strategy::Async, Strategy::Threadpool],
        16,
        Profile::fixed(Duration::from_millis(20)),
    );
    cfg.out = Some(dir.clone());
    let axis = Axis::Concurrency(vec![1, 16]);
    // Act
    let (report, _) = sweep(
        &cfg,
        &SweepPlan::Fixed(axis),
        Criteria {
            slo_p99_ms: None,
            max_429_share: 0.01,
            min_good_share: None,
        },
    )
    .unwrap();
    // Assert: 16 in flight beats 1 at a time by far, so 16 is the recommendation.
    assert_eq!(report.points.len(), 2);
    for rec in &report.recommendations {
        assert_eq!(rec.setting, Some(16.0), "{rec:?}");
    }
    assert!(report.best.is_some());
    for p in &report.points {
        assert!(p.results.iter().all(|r| r.accounted_ok && r.failed == 0));
    }
    // Every point carries the measurement's own error, as compare's report does: the embedded
    // mock stamps its answers, so every side is measured; sweep.json keeps it, valid against
    // its schema, and the table shows each side's p99.
    for p in &report.points {
        for r in &p.results {
            let d = r
                .distortion
                .unwrap_or_else(|| panic!("{} at {}: no distortion", r.strategy, p.setting));
            for side in asyncbench::model::distortion::Side::ALL {
                assert!(
                    d.side(side).is_some_and(|p| p.count > 0),
                    "{}: {side:?} {d:?}",
                    r.strategy
                );
            }
        }
    }
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sweep.json")).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../schema/sweep.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&written).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(written["points"][0]["results"][0]["distortion"]["harness_ms"]["p99"].is_number());
    let table = asyncbench::sweep_table(&report);
    let block = table
        .split(" distortion ")
        .nth(1)
        .and_then(|b| b.split("\n\n").next())
        .expect("the distortion block");
    assert!(
        block.contains("request") && block.contains("harness") && block.contains("(p99, ms)"),
        "{table}"
    );
    assert_eq!(
        block
            .lines()
            .filter(|l| {
                let mut w = l.split_whitespace();
                w.next().is_some_and(|v| v.parse::<f64>().is_ok())
                    && w.next().is_some_and(|s| s == "async" || s == "threadpool")
            })
            .count(),
        4,
        "a line per strategy per point: {table}"
    );
    // A side past its point's budget is marked on the page and named in a warning, in the
    // table and on the page, as compare does: every side's p99 set within the budget, then
    // one past it.
    let mut over = report.clone();
    for x in over.points.iter_mut().flat_map(|p| &mut p.results) {
        let d = x.distortion.as_mut().unwrap();
        for p in [
            &mut d.request_ms,
            &mut d.mock_late_ms,
            &mut d.transit_ms,
            &mut d.harness_ms,
        ] {
            p.as_mut().unwrap().p99 = 0.1;
        }
    }
    assert!(!asyncbench::sweep_table(&over).contains("warning: "));
    let x = &mut over.points[1].results[0];
    x.distortion.as_mut().unwrap().harness_ms.as_mut().unwrap().p99 = 25.0;
    let who = format!(
        "{} at C=16: past the 1.000 ms budget at p99: the harness 25.000 ms",
        x.strategy
    );
    let table = asyncbench::sweep_table(&over)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(table.contains(&format!("warning: {who}")), "{table}");
    let page = asyncbench::internals::sweep_page(&over, &dir);
    assert!(
        page.contains("id=\"sweep-distortion\""),
        "no distortion table on the page"
    );
    assert_eq!(
        page.matches("class=\"over\"").count(),
        1,
        "one cell past its budget"
    );
    assert!(
        page.contains(&format!("<p class=\"warn\">{who}")),
        "no warning on the page"
    );
    assert!(dir.join("points/concurrency-16/report.json").exists());
    for chart in [
        "sweep-goodput",
        "sweep-p99",
        "sweep-429",
        "sweep-retries",
        "sweep-throughput",
    ] {
        assert!(dir.join(format!("{chart}.svg")).exists() && dir.join(format!("{chart}.png")).exists());
    }
}

/// Against a limiter of 10 requests/s (burst of one second), a sliding window of 20 gets 429s,
/// while a client-side throttle pacing at 8 requests/s gets none.
#[test]
fn pacing_under_the_limit_avoids_the_429s_a_window_gets() {
    let limited = Profile {
        rpm: Some(600),
        limit_window: Duration::from_secs(1),
        latency: "50ms".parse().unwrap(),
        ..Profile::default()
    };
    let mut window = config(&[Strategy::Async], 40, limited.clone());
    window.concurrency = 20;
    let report = asyncbench::compare(&window).unwrap();
    assert!(
        report.strategies[0].count(Outcome::RateLimited) >= 10,
        "{:?}",
        report.strategies[0].outcomes
    );

    let mut paced = config(&[Strategy::Async], 16, limited);
    paced.concurrency = 20;
    paced.load = Load::Open {
        rate: 8.0,
        arrival: Arrival::Constant,
        seed: 1,
    };
    let report = asyncbench::compare(&paced).unwrap();
    assert_eq!(
        report.strategies[0].count(Outcome::Ok),
        16,
        "{:?}",
        report.strategies[0].outcomes
    );
}

/// `sweep --find` on mocks of known capacity lands within one resolution step of it, for
/// `async` and `threadpool`, in at most half the points (so half the requests) of a fixed sweep
/// as fine over the range: a limit of 200 requests/s searched over the open-loop rate (past it,
/// 429s; searched over concurrency the answer would move with the client's own latency on a
/// loaded machine), and a server of 4 slots at 100 ms against a p99 SLO of 135 ms (C in flight
/// wait C ÷ 40 s each: 125 ms at 5, 150 ms at 6).
#[test]
fn a_search_finds_the_capacity_of_a_known_mock() {
    // The limiter holds 20 requests of burst (--limit-window 100ms): a run of n requests at R/s
    // meets the 1 % cap while 1 − 200 ÷ R − 20 ÷ n ≤ 1 %, so at n = 400 up to R = 212.8/s.
    let rate_capacity = 200.0 / (0.99 - 20.0 / 400.0);
    let cases: [(&[&str], &str, f64); 2] = [
        (
            &[
                "--latency",
                "100ms",
                "--rpm",
                "12000",
                "--limit-window",
                "100ms",
                "--find",
                "rate=100..400",
            ],
            "400",
            rate_capacity,
        ),
        (
            &[
                "--latency",
                "100ms",
                "--capacity",
                "4",
                "--slo-p99",
                "135ms",
                "--find",
                "concurrency=4..32",
            ],
            "200",
            5.0,
        ),
    ];
    // Act: both searches at once (each mostly waits on its mock).
    let dir = tempfile::tempdir().unwrap();
    let running: Vec<_> = cases
        .iter()
        .enumerate()
        .map(|(i, (flags, n, _))| {
            let out = dir.path().join(format!("find-{i}"));
            let child = crate::util::bin()
                .args([
                    "sweep",
                    "-q",
                    "-n",
                    n,
                    "--strategies",
                    "async,threadpool",
                    "--resolution",
                    "5%",
                ])
                .args(*flags)
                .arg("--out")
                .arg(&out)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (out, child)
        })
        .collect();
    for ((flags, n, capacity), (out, child)) in cases.into_iter().zip(running) {
        let o = child.wait_with_output().unwrap();
        // Assert
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report = crate::util::json(&out.join("sweep.json"));
        let searches = report["search"].as_array().unwrap();
        assert_eq!(searches.len(), 2, "{flags:?}");
        for s in searches {
            let end = &s["end"];
            assert_eq!(end["kind"], "found", "{flags:?}: {s}");
            let value = end["value"].as_f64().unwrap();
            let broke = end["broke_at"].as_f64().unwrap();
            // Within one resolution step (one value, for whole ones) of the capacity.
            let step = if capacity.fract() == 0.0 {
                1.0
            } else {
                0.05 * capacity
            };
            assert!(
                (value - capacity).abs() <= step && broke > value,
                "{flags:?} {}: found {value}, broke at {broke}, capacity {capacity}",
                s["strategy"]
            );
            let (points, grid) = (s["points"].as_u64().unwrap(), s["grid_points"].as_u64().unwrap());
            assert!(2 * points <= grid, "{points} points, a grid needs {grid}");
            assert!(s["requests"].as_u64().unwrap() <= n.parse::<u64>().unwrap() * grid / 2);
        }
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(stdout.contains("the largest meeting the limits"), "{stdout}");
        // Each strategy's knee (goodput flat past it) is kept, crossed on the goodput chart and
        // listed on the page beside the searches; every point has its folder.
        assert_eq!(
            report["knees"].as_array().map_or(0, Vec::len),
            2,
            "{flags:?}: {}",
            report["knees"]
        );
        let svg = std::fs::read_to_string(out.join("sweep-goodput.svg")).unwrap();
        // The legend's entry, and a cross (two strokes) per knee besides the legend's.
        assert!(svg.contains("\nknee\n"));
        assert!(
            svg.matches(r##"stroke="#AA1428""##).count() >= 2 + 2 * 2,
            "a cross per knee"
        );
        let (setting, range) = flags[flags.len() - 1].split_once('=').unwrap();
        let page = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(page.contains(r#"id="search""#) && page.contains(r#"id="knees""#));
        assert!(
            page.contains(&format!(r#"href="points/async-{setting}-"#)),
            "each point's page is linked"
        );
        let first = range.split("..").next().unwrap();
        assert!(
            out.join("points")
                .join(format!("async-{setting}-{first}"))
                .join("report.json")
                .is_file()
        );
    }
}

/// A rising list stops once every strategy was over-saturated two steps in a row, and says so
/// (a server of 2 slots: past 2 in flight goodput is flat and latency climbs); `--all-points`
/// runs the whole list.
#[test]
fn a_sweep_stops_escalating_past_saturation_unless_asked_not_to() {
    for (extra, points) in [(None, 3), (Some("--all-points"), 6)] {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sweep");
        // Act
        let o = crate::util::bin()
            // A warm-up per point: a first step slowed by connecting and starting threads (on
            // a loaded machine) would read as growth into the next.
            .args([
                "sweep",
                "-q",
                "-n",
                "120",
                "--warmup",
                "20",
                "--strategies",
                "async,threadpool",
            ])
            .args([
                "--latency",
                "20ms",
                "--capacity",
                "2",
                "--concurrency",
                "4,8,16,24,32,40",
            ])
            .args(extra)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        // Assert
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let report = crate::util::json(&out.join("sweep.json"));
        assert_eq!(report["points"].as_array().unwrap().len(), points, "{extra:?}");
        let stdout = String::from_utf8_lossy(&o.stdout);
        match extra {
            None => {
                let why = report["stopped_early"].as_str().unwrap();
                assert!(
                    why.contains("over-saturated at 16") && why.contains("C=16 were not run"),
                    "{why}"
                );
                assert!(stdout.contains("stopped early:"), "{stdout}");
            }
            Some(_) => assert!(report.get("stopped_early").is_none()),
        }
    }
}
