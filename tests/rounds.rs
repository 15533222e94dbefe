//! Rounds, intervals and `diff` from the binary: interleaved rounds for every strategy with
//! their figures and verdicts, `diff`'s thresholds, exit code and refusal, and the per-second
//! timeline of a run whose rate limit changes mid-run.

use crate::util::{bin, json, run_in_out, run_out};

/// Every built-in strategy, three rounds: each ran three times in alternating order, its books
/// balance over all rounds, every round is in report.json with its own figures, and the table
/// gives intervals and a verdict per strategy against `async`.
#[test]
fn rounds_interleave_every_strategy_and_carry_intervals() {
    let all = "sequential,threadpool,async,async-single,async-offload,batched";
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "12",
            "-c",
            "4",
            "--latency",
            "5ms",
            "--rounds",
            "3",
        ])
        .args(["--strategies", all, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = json(&out.join("report.json"));
    assert_eq!(
        r["config"]["rounds"], 3,
        "the flag wins over $ASYNCBENCH_ROUNDS=1"
    );
    let ids: Vec<&str> = all.split(',').collect();
    for (i, s) in r["strategies"].as_array().unwrap().iter().enumerate() {
        assert_eq!(s["id"], ids[i]);
        assert_eq!(s["accounted"], "36/36", "{}", s["id"]);
        let rounds = s["rounds"].as_array().unwrap();
        let order: Vec<(u64, u64)> = rounds
            .iter()
            .map(|x| (x["round"].as_u64().unwrap(), x["position"].as_u64().unwrap()))
            .collect();
        // Named order in rounds 1 and 3, reversed in round 2.
        let (fwd, back) = (i as u64 + 1, (ids.len() - i) as u64);
        assert_eq!(order, [(1, fwd), (2, back), (3, fwd)], "{}", s["id"]);
        for x in rounds {
            assert_eq!(x["issued"], 12);
            assert!(x["goodput_rps"].as_f64().unwrap() > 0.0);
        }
        let g = &s["spread"]["goodput_rps"];
        assert_eq!(g["n"], 3);
        assert!(g["lo"].as_f64().unwrap() <= g["mean"].as_f64().unwrap());
        assert!(g["mean"].as_f64().unwrap() <= g["hi"].as_f64().unwrap());
        // The merged histograms hold every round's requests.
        assert_eq!(s["latency_ms"]["count"], 36);
    }
    assert!(stdout.contains("12 requests × 3 rounds"), "{stdout}");
    assert!(stdout.contains("over 3 rounds"), "{stdout}");
    assert!(stdout.contains("verdicts at 95 %, paired by round:"), "{stdout}");
    // Wrapped notes read as one line again (a continuation starts with more indent).
    let flat = stdout.replace("\n    ", " ");
    for other in ids.iter().filter(|s| **s != "async") {
        let line = flat
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("async vs {other}:")))
            .unwrap_or_else(|| panic!("no verdict for {other}:\n{stdout}"));
        assert!(
            line.contains("goodput ") && line.contains("CPU per request "),
            "{line}"
        );
    }
    assert!(out.join("timeline.svg").exists());
}

/// A strategy run alone over rounds gets its intervals and no heading of verdicts (there is
/// nothing to pair it with).
#[test]
fn a_strategy_alone_has_intervals_and_no_verdicts() {
    let (o, _tmp) = run_in_out(&[
        "compare",
        "-q",
        "-n",
        "8",
        "-c",
        "4",
        "--latency",
        "5ms",
        "--rounds",
        "2",
        "--strategies",
        "async",
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("over 2 rounds"), "{stdout}");
    assert!(!stdout.contains("verdicts"), "{stdout}");
}

/// `diff BASE NEW --fail-if GATE`.
fn gated_diff(base: &std::path::Path, new: &std::path::Path, gate: &str) -> std::process::Output {
    bin()
        .arg("diff")
        .arg(base)
        .arg(new)
        .args(["--fail-if", gate])
        .output()
        .unwrap()
}

fn write_report(dir: &std::path::Path, r: &serde_json::Value) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("report.json"), serde_json::to_vec(r).unwrap()).unwrap();
}

/// `diff` of a run with itself finds nothing; with its goodput halved in every round it
/// fails the gate with exit 8 and names the figure, as it does when a strategy is missing from
/// the new run; a run of other settings is refused (exit 2) with the setting named, unless
/// allowed.
#[test]
fn diff_gates_on_thresholds_and_refuses_other_settings() {
    let (code, err, base) = run_out(&[
        "compare",
        "-q",
        "-n",
        "20",
        "-c",
        "5",
        "--latency",
        "5ms",
        "--rounds",
        "3",
        "--strategies",
        "async,threadpool",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let base = base.path().join("out");
    let gate = "p99>+50%,goodput<-10%";
    let same = gated_diff(&base, &base, gate);
    let text = String::from_utf8_lossy(&same.stdout);
    assert_eq!(same.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("no difference at 95 %").count(), 8, "{text}");

    let mut slower = json(&base.join("report.json"));
    for s in slower["strategies"].as_array_mut().unwrap() {
        if s["id"] == "async" {
            for x in s["rounds"].as_array_mut().unwrap() {
                let g = x["goodput_rps"].as_f64().unwrap();
                x["goodput_rps"] = (g * 0.5).into();
            }
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    write_report(&tmp.path().join("new"), &slower);
    let o = gated_diff(&base, &tmp.path().join("new"), gate);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(8), "{err}");
    let crossed: Vec<&str> = err.lines().filter(|l| l.contains("threshold crossed")).collect();
    assert_eq!(crossed.len(), 1, "{err}");
    assert!(
        crossed[0].contains("async goodput −50.0 %") && crossed[0].ends_with("crossed goodput<-10%"),
        "{err}"
    );

    // A strategy of the base missing from the new run is named, and fails the gate.
    let mut fewer = json(&base.join("report.json"));
    fewer["strategies"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["id"] != "threadpool");
    write_report(&tmp.path().join("fewer"), &fewer);
    let o = gated_diff(&base, &tmp.path().join("fewer"), gate);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(8), "{out}{err}");
    assert!(
        out.contains("only in base (nothing to compare): threadpool"),
        "{out}"
    );
    assert!(
        err.contains("threshold crossed: threadpool is in base and not in new"),
        "{err}"
    );

    let mut other = json(&base.join("report.json"));
    other["config"]["concurrency"] = 6.into();
    write_report(&tmp.path().join("other"), &other);
    let o = bin()
        .arg("diff")
        .arg(&base)
        .arg(tmp.path().join("other"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("config.concurrency: 5 → 6"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = bin()
        .arg("diff")
        .arg(&base)
        .arg(tmp.path().join("other"))
        .arg("--allow-config-change")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("setting changed: config.concurrency: 5 → 6"));
}

/// A rate limit that drops for a second mid-run shows in the timeline: no 429 in the first
/// second or the last, 429s in between, and fewer successes in the seconds they came; the
/// steady window lies inside the run.
#[test]
fn the_timeline_shows_a_limit_that_changes_mid_run() {
    let (code, err, dir) = run_out(&[
        "compare",
        "-q",
        "-z",
        "5s",
        "-c",
        "8",
        "--latency",
        "20ms",
        "--strategies",
        "async",
        "--rpm-schedule",
        "0s:120000,2s:1200,3s:120000",
        "--limit-window",
        "1s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let r = json(&dir.path().join("out/report.json"));
    let s = &r["strategies"][0];
    let round = &s["rounds"][0];
    let tl: Vec<(u64, u64, u64)> = round["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["t_s"].as_u64().unwrap(),
                x["ok"].as_u64().unwrap(),
                x["rate_limited"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(tl.len() >= 5, "{tl:?}");
    assert_eq!(
        tl.iter().map(|x| x.0).collect::<Vec<_>>(),
        (0..tl.len() as u64).collect::<Vec<_>>()
    );
    let limited: Vec<&(u64, u64, u64)> = tl.iter().filter(|x| x.2 > 0).collect();
    assert!(!limited.is_empty(), "{tl:?}");
    assert!(limited.iter().all(|x| (1..=4).contains(&x.0)), "{tl:?}");
    assert_eq!(tl[0].2, 0);
    assert_eq!(tl[tl.len() - 1].2, 0, "{tl:?}");
    let worst = limited.iter().map(|x| x.1).min().unwrap();
    let best = tl.iter().filter(|x| x.2 == 0).map(|x| x.1).max().unwrap();
    assert!(worst * 2 < best, "{tl:?}");
    // Per-second 429s add up to the run's.
    let total: u64 = tl.iter().map(|x| x.2).sum();
    assert_eq!(total, s["attempt_outcomes"]["rate_limited"].as_u64().unwrap());
    let w = &round["steady"];
    assert!(
        w["from_s"].as_u64().unwrap() >= 1 && w["to_s"].as_u64().unwrap() <= tl.len() as u64,
        "{w}"
    );
    assert!(s["steady_goodput_rps"].as_f64().unwrap() > 0.0);
}
