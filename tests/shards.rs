//! Past one machine: shards that together send what one process would, and merges that are
//! exact where averaging percentiles is not.

use std::time::{Duration, Instant};

use asyncbench::merge;
use asyncbench::model::error::MergeError;
use asyncbench::model::hist;
use asyncbench::model::outcome::Outcome;
use asyncbench::model::plan::Shard;
use asyncbench::model::report::RunReport;
use asyncbench::model::series::{Percentiles, Series};
use asyncbench::model::strategy::Strategy;
use hdrhistogram::Histogram;
use mock_server::{MockServer, Profile};

use crate::util::{bin, config, json, spawn};

/// Four shards as four processes against one standalone mock, merged: every request index sent
/// exactly once, counts equal to the shards' sums, the mock's count of requests equal to the
/// merged attempts, and the merged histogram equal, bucket for bucket, to one built from every
/// value the shards recorded.
#[test]
fn four_shard_processes_merge_into_one_exact_run() {
    // Arrange
    let server = MockServer::start(Profile {
        latency: "uniform:2ms..12ms".parse().unwrap(),
        rate_500: 0.1,
        seed: Some(3),
        ..Profile::default()
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let dirs: Vec<std::path::PathBuf> = (0..4).map(|k| tmp.path().join(format!("shard-{k}"))).collect();
    // Act: the four shards, told to start together a second from now, then the merge.
    let start_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 1.0;
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(k, d)| {
            spawn(&[
                "compare",
                "-q",
                "-n",
                "42",
                "-c",
                "6",
                "--strategies",
                "async,sequential",
                "--target",
                &url,
                "--shard",
                &format!("{k}/4"),
                "--start-at",
                &start_at.to_string(),
                "--out",
                d.to_str().unwrap(),
            ])
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let merged_dir = tmp.path().join("merged");
    let o = bin()
        .arg("merge")
        .args(&dirs)
        .arg("--out")
        .arg(&merged_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Assert
    let merged = RunReport::read(&merged_dir.join("report.json")).unwrap();
    assert!(merged.complete && merged.merged_from.len() == 4);
    // The shards split the run's concurrency (2+2+1+1): together as many in flight as one
    // process; sequential shards are one client each.
    let conc: Vec<Option<u64>> = merged.strategies.iter().map(|s| s.concurrency).collect();
    assert_eq!(conc, [Some(6), Some(4)]);
    let shards: Vec<RunReport> = dirs
        .iter()
        .map(|d| RunReport::read(&d.join("report.json")).unwrap())
        .collect();
    for r in &shards {
        assert!(
            r.strategies[0].started_unix_ms >= start_at * 1000.0,
            "a shard started before --start-at"
        );
    }
    assert!(merged.strategies.iter().all(|s| s.start_spread_s.is_some()));
    let mut attempts = 0;
    for s in &merged.strategies {
        assert_eq!(s.accounted, "42/42", "{}", s.id);
        for o in Outcome::ALL {
            let sum: u64 = shards
                .iter()
                .map(|r| r.strategies.iter().find(|x| x.id == s.id).unwrap().count(o))
                .sum();
            assert_eq!(s.count(o), sum, "{} {o}", s.id);
        }
        attempts += s.attempts;
        // Every index 0..42 exactly once across the shards, and the histogram of their values.
        let mut indexes = Vec::new();
        let mut h = Histogram::<u64>::new(3).unwrap();
        for d in &dirs {
            for line in std::fs::read_to_string(d.join("requests.jsonl")).unwrap().lines() {
                let l: serde_json::Value = serde_json::from_str(line).unwrap();
                if l["strategy"] != s.id.id() {
                    continue;
                }
                indexes.push(l["index"].as_u64().unwrap());
                if l["outcome"] == "ok" {
                    h.record(l["latency_us"].as_u64().unwrap()).unwrap();
                }
            }
        }
        indexes.sort_unstable();
        assert_eq!(indexes, (0..42).collect::<Vec<_>>(), "{}", s.id);
        let m = hist::decode(&s.histograms[&Series::E2e(Outcome::Ok).to_string()]).unwrap();
        let buckets = |h: &Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            buckets(&m),
            buckets(&h),
            "{}: merged histogram differs from the union",
            s.id
        );
        assert_eq!(m.len(), s.count(Outcome::Ok));
    }
    assert_eq!(
        server.stats().requests_received,
        attempts,
        "the mock saw what the merged report sent"
    );
    // The shards' request lines, each once, labelled with its shard.
    let lines = std::fs::read_to_string(merged_dir.join("requests.jsonl")).unwrap();
    let mut seen: Vec<(String, String, u64)> = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let index = v["index"].as_u64().unwrap();
            assert_eq!(v["shard"], format!("{}/4", index % 4), "{l}");
            (
                v["strategy"].as_str().unwrap().to_owned(),
                v["shard"].to_string(),
                index,
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 84, "42 requests of 2 strategies, each once");
    // The faults met are those one process meets (the same indexes, the same draws).
    let one = tmp.path().join("one");
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "42",
            "-c",
            "6",
            "--strategies",
            "async,sequential",
            "--target",
            &url,
            "--out",
        ])
        .arg(&one)
        .output()
        .unwrap();
    assert!(o.status.success());
    let whole = json(&one.join("report.json"));
    for (i, s) in merged.strategies.iter().enumerate() {
        assert_eq!(
            whole["strategies"][i]["outcomes"]["server_error"],
            s.count(Outcome::ServerError)
        );
    }
    assert!(
        std::fs::read_to_string(merged_dir.join("report.html"))
            .unwrap()
            .contains("<svg")
    );
}

fn report_with(latencies_ms: &[u64], shard: Shard) -> RunReport {
    // A real run through the library, then its histogram replaced by known values.
    let mut cfg = config(&[Strategy::Async], latencies_ms.len() as u64, Profile::default());
    cfg.shard = Some(shard);
    let mut r = asyncbench::compare(&cfg).unwrap();
    let mut h = Histogram::<u64>::new(3).unwrap();
    for ms in latencies_ms {
        h.record(ms * 1000).unwrap();
    }
    let s = &mut r.strategies[0];
    s.histograms
        .insert(Series::E2e(Outcome::Ok).to_string(), hist::encode(&h));
    s.latency_ms = Percentiles::of(&h);
    r
}

/// The merged run's warnings are said as compare says a run's: a shard whose requests waited
/// for its log's disk gives the merge that wait (the shards' waits add up).
#[test]
fn a_merge_says_the_shards_log_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = report_with(&[5, 6, 7], Shard { k: 0, n: 2 });
    let mut b = report_with(&[5, 6, 7], Shard { k: 1, n: 2 });
    (a.log_wait_s, b.log_wait_s) = (Some(1.25), Some(0.5));
    let files: Vec<_> = [("a.json", &a), ("b.json", &b)]
        .into_iter()
        .map(|(name, r)| {
            let f = tmp.path().join(name);
            std::fs::write(&f, serde_json::to_string(r).unwrap()).unwrap();
            f
        })
        .collect();
    let o = crate::util::bin()
        .arg("merge")
        .args(&files)
        .arg("--out")
        .arg(tmp.path().join("merged"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("asyncbench: warning: requests.jsonl: the disk took the request lines slower than the run made them, and the requests waited 1.8 s in all"),
        "{err}"
    );
    let merged = crate::util::json(&tmp.path().join("merged/report.json"));
    assert_eq!(merged["log_wait_s"], 1.75);
}

/// Merging is exact where averaging is not: two shards with different latency distributions,
/// and the merged p99 is the p99 of all their values, not the mean of their p99s.
#[test]
fn merging_is_exact_where_averaging_is_not() {
    let fast: Vec<u64> = (1..=100).collect();
    let slow: Vec<u64> = (1..=100).map(|v| 1000 + 10 * v).collect();
    let a = report_with(&fast, Shard { k: 0, n: 2 });
    let b = report_with(&slow, Shard { k: 1, n: 2 });
    let merged = merge(&[a.clone(), b.clone()], false).unwrap();
    let p99 = merged.strategies[0].latency_ms.unwrap().p99;
    let mut union = Histogram::<u64>::new(3).unwrap();
    for v in fast.iter().chain(&slow) {
        union.record(v * 1000).unwrap();
    }
    assert_eq!(p99, union.value_at_quantile(0.99) as f64 / 1000.0);
    let mean = (a.strategies[0].latency_ms.unwrap().p99 + b.strategies[0].latency_ms.unwrap().p99) / 2.0;
    assert!(
        (p99 - mean).abs() > 100.0,
        "merged p99 {p99} ms vs the mean of p99s {mean} ms"
    );
    assert_eq!(merged.strategies[0].latency_ms.unwrap().count, 200);
}

/// Reports of different workloads, a shard given twice or a shard missing are refused, naming
/// the difference (exit 2 from the binary); `--allow-partial` merges what is there, marked.
#[test]
fn mismatched_repeated_or_missing_shards_are_refused() {
    let a = report_with(&[5, 6, 7], Shard { k: 0, n: 3 });
    let b = report_with(&[5, 6, 7], Shard { k: 1, n: 3 });
    let mut other = report_with(&[5, 6, 7], Shard { k: 2, n: 3 });
    other.config.concurrency = 99;
    match merge(&[a.clone(), b.clone(), other], false) {
        Err(MergeError::Differs { differences, .. }) => {
            assert_eq!(
                differences,
                [("config.concurrency".into(), "4".into(), "99".into())]
            )
        }
        e => panic!("{e:?}"),
    }
    // The same report twice is one run given twice; two runs that were both shard 0/3, a
    // shard given twice.
    assert!(matches!(
        merge(&[a.clone(), a.clone()], false),
        Err(MergeError::SameReport { index: 1, first: 0 })
    ));
    let mut again = a.clone();
    again.provenance.started_unix += 1;
    assert!(matches!(merge(&[a.clone(), again], false), Err(MergeError::Repeated(s)) if s == "0/3"));
    match merge(&[a.clone(), b.clone()], false) {
        Err(MergeError::Missing { missing, .. }) => assert_eq!(missing, "2/3"),
        e => panic!("{e:?}"),
    }
    let partial = merge(&[a.clone(), b], true).unwrap();
    assert!(!partial.complete && partial.incomplete_reason.unwrap().contains("2/3 missing"));
    // Through the binary: exit 2 naming it.
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("a.json");
    std::fs::write(&f, serde_json::to_string(&a).unwrap()).unwrap();
    let o = bin()
        .arg("merge")
        .arg(&f)
        .arg("--out")
        .arg(tmp.path().join("m"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("1/3, 2/3") && stderr.contains("--allow-partial"),
        "{stderr}"
    );
}

/// An open loop's shard keeps its requests' times from the whole run's schedule: two shards of
/// a 40/s run each send at 20/s, and together at 40/s.
#[test]
fn an_open_loop_shard_sends_its_share_at_the_whole_schedules_times() {
    let t = Instant::now();
    let mut reports = Vec::new();
    for k in 0..2 {
        let mut cfg = config(&[Strategy::Async], 20, Profile::fixed(Duration::from_millis(2)));
        cfg.load = asyncbench::model::plan::Load::Open {
            rate: 40.0,
            arrival: asyncbench::model::plan::Arrival::Constant,
            seed: 1,
        };
        cfg.shard = Some(Shard { k, n: 2 });
        reports.push(asyncbench::compare(&cfg).unwrap());
    }
    for r in &reports {
        let s = &r.strategies[0];
        assert_eq!(s.issued, 10);
        let achieved = s.achieved_rate.unwrap();
        assert!((15.0..=21.0).contains(&achieved), "{achieved}");
    }
    let merged = merge(&reports, false).unwrap();
    assert_eq!(merged.strategies[0].issued, 20);
    assert!(t.elapsed() >= Duration::from_millis(900));
}

/// A pod's log (`--format json-line --print-requests`, stdout and stderr in one file, as
/// `kubectl logs` gives them) carries its shard's request lines: `merge` gathers every shard's
/// into the merged `requests.jsonl`, each labelled; a log cut short (lines lost) merges with a
/// warning naming the shard and how many lines it gave, and exits 6 (incomplete).
#[test]
fn request_lines_travel_in_the_shards_logs() {
    // Arrange
    let server = MockServer::start(Profile {
        latency: "fixed:2ms".parse().unwrap(),
        rate_500: 0.1,
        seed: Some(5),
        ..Profile::default()
    })
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("{}/v1", server.uri());
    let logs: Vec<std::path::PathBuf> = (0..2)
        .map(|k| tmp.path().join(format!("shard-{k}.log")))
        .collect();
    // Act: each shard's stdout and stderr into one file.
    for (k, log) in logs.iter().enumerate() {
        let file = std::fs::File::create(log).unwrap();
        let o = bin()
            .args([
                "compare",
                "-q",
                "-n",
                "30",
                "-c",
                "3",
                "--strategies",
                "async,threadpool",
            ])
            .args(["--target", &url, "--shard", &format!("{k}/2")])
            .args(["--format", "json-line", "--print-requests"])
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .status()
            .unwrap();
        assert!(o.success(), "shard {k}");
    }
    // A runtime that reads stdout and stderr in pieces can put stderr's lines inside a stdout
    // line (podman did): split one request line of shard 0 around two such lines.
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(r#"{"strategy":"#))
        .unwrap()
        + 3;
    let (a, b) = lines[at].split_at(100);
    let split = format!("{a}\nstrategy  conc accounted\nasync  3  15/15\n{b}");
    lines[at] = split;
    std::fs::write(&logs[0], lines.join("\n") + "\n").unwrap();
    let merged = tmp.path().join("merged");
    let o = bin()
        .arg("merge")
        .args(&logs)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    // Assert
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(merged.join("requests.jsonl")).unwrap();
    let mut seen: Vec<(String, u64)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let index = v["index"].as_u64().unwrap();
            assert_eq!(v["shard"], format!("{}/2", index % 2), "{l}");
            (v["strategy"].as_str().unwrap().to_owned(), index)
        })
        .collect();
    seen.sort();
    let want: Vec<(String, u64)> = ["async", "threadpool"]
        .iter()
        .flat_map(|s| (0..30).map(move |i| (s.to_string(), i)))
        .collect();
    assert_eq!(seen, want, "every request of every shard, once");
    // A log that lost two lines.
    let whole = std::fs::read_to_string(&logs[1]).unwrap();
    let cut: Vec<&str> = whole
        .lines()
        .filter(|l| !(l.contains(r#""index":1,"#) || l.contains(r#""index":3,"#)) || l.contains("strategies"))
        .collect();
    assert_eq!(
        cut.len() + 4,
        whole.lines().count(),
        "two lines per strategy removed"
    );
    std::fs::write(&logs[1], cut.join("\n")).unwrap();
    let o = bin()
        .arg("merge")
        .args(&logs)
        .arg("--out")
        .arg(tmp.path().join("cut"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("requests.jsonl: 1/2 gave 26 of its 30 request lines"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("cut/requests.jsonl"))
            .unwrap()
            .lines()
            .count(),
        56
    );
}
