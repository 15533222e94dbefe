//! The command line: flag parsing, exit codes, one-line errors, and nothing written on bad input.

use std::path::PathBuf;
use std::process::Command;

use asyncbench::{Cli, Command as Sub};
use clap::Parser;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_asyncbench"));
    // One round unless a test asks for more: the counts the tests check are per round.
    c.env("ASYNCBENCH_ROUNDS", "1");
    c
}

/// A fresh temporary directory (removed when dropped) and a path inside it that does not exist yet.
fn temp_out() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    (tmp, out)
}

/// Flag values out of range are rejected by the parser or by `to_config`.
#[test]
fn bad_values_are_rejected_before_any_run() {
    for args in [
        &["asyncbench", "compare", "--requests", "0"][..],
        &["asyncbench", "compare", "--rate-429", "1.5"],
        &["asyncbench", "compare", "--strategies", "sequential,bogus"],
        &["asyncbench", "compare", "--latency", "fast"],
        &["asyncbench", "compare", "--timeout=-1s"],
        &["asyncbench", "compare", "--retry", "sometimes"],
    ] {
        assert!(Cli::try_parse_from(args).is_err(), "{args:?} should not parse");
    }
    let cli = Cli::try_parse_from([
        "asyncbench",
        "compare",
        "--concurrency",
        "0",
        "--strategies",
        "threadpool",
    ])
    .unwrap();
    let Sub::Compare(args) = cli.command else { panic!() };
    let err = args.common.to_config(args.chosen()).unwrap_err().to_string();
    assert!(err.contains("--concurrency") && err.contains('0'), "{err}");
}

/// The defaults are the documented ones: 200 requests, concurrency 50, 100 ms latency, every
/// strategy, batches as large as the concurrency.
#[test]
fn compare_defaults_are_the_documented_ones() {
    let cli = Cli::try_parse_from(["asyncbench", "compare"]).unwrap();
    let Sub::Compare(args) = cli.command else { panic!() };
    let cfg = args.common.to_config(args.chosen()).unwrap();
    assert_eq!(cfg.stop, asyncbench::model::plan::Stop::Count(200));
    assert_eq!(cfg.concurrency, 50);
    assert_eq!(cfg.batch_size, 50);
    assert_eq!(cfg.strategies.len(), 5);
    assert_eq!(cfg.endpoint.mock().unwrap().latency.to_string(), "100ms");
}

/// A small run through the real binary exits 0 and writes report.json and summary.csv.
#[test]
fn compare_binary_writes_its_reports() {
    let (_tmp, out) = temp_out();
    let status = bin()
        .args([
            "compare",
            "-n",
            "250",
            "-c",
            "3",
            "--latency",
            "2ms",
            "--strategies",
            "async,sequential",
            "-q",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let stdout = String::from_utf8(status.stdout).unwrap();
    assert!(stdout.contains("async") && stdout.contains("250/250"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["strategies"][0]["id"], "async");
    assert_eq!(report["strategies"][0]["accounted"], "250/250");
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
    // Each row carries its strategy's measurement error, side by side, as report.json has it
    // (the embedded mock stamps its answers, so every side was measured).
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    // 250 requests a strategy: a side's p99 and maximum differ somewhere, so a column reading
    // the wrong one is seen.
    let mut apart = 0;
    for (row, s) in csv.lines().skip(1).zip(report["strategies"].as_array().unwrap()) {
        let cells: Vec<&str> = row.split(',').collect();
        for (side, key) in [
            ("request_path", "request_ms"),
            ("mock_late", "mock_late_ms"),
            ("transit", "transit_ms"),
            ("harness", "harness_ms"),
        ] {
            for stat in ["p99", "max"] {
                let col = format!("{side}_{stat}_ms");
                let i = header
                    .iter()
                    .position(|h| *h == col)
                    .unwrap_or_else(|| panic!("{col} in {header:?}"));
                let got: f64 = cells[i]
                    .parse()
                    .unwrap_or_else(|_| panic!("{col}: {:?}", cells[i]));
                let want = s["distortion"][key][stat].as_f64().unwrap();
                assert!((got - want).abs() <= 0.005, "{} {col}: {got} vs {want}", s["id"]);
            }
            let d = &s["distortion"][key];
            apart += usize::from((d["p99"].as_f64().unwrap() - d["max"].as_f64().unwrap()).abs() > 0.01);
        }
    }
    assert!(apart > 0, "no side's p99 differs from its maximum: {csv}");
}

/// Bad input exits 2 with one error line on stderr naming the flag and the whole value (not a
/// character of it that happens to appear), and writes nothing. Warnings may come first.
#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let cases: [(&[&str], &str, &str); 21] = [
        // The embedded mock's flag, with a target of the user's.
        (
            &["compare", "--target", "http://127.0.0.1:9/v1", "--no-stamps"],
            "--target",
            "'http://127.0.0.1:9/v1'",
        ),
        (&["compare", "--requests", "0"], "--requests", "'0'"),
        // Every request at once, and no count: no end to them.
        (
            &["compare", "--strategies", "async", "-c", "0", "-z", "1s"],
            "--concurrency",
            "'0'",
        ),
        // A Poisson schedule of 60 million due times (960 MB) before the first request.
        (
            &[
                "compare",
                "--rate",
                "1000000",
                "--arrival",
                "poisson",
                "-z",
                "60s",
            ],
            "--arrival",
            "'poisson'",
        ),
        // The same in a warm-up by time.
        (
            &[
                "compare",
                "--strategies",
                "async",
                "-c",
                "0",
                "-n",
                "9",
                "--warmup",
                "1s",
            ],
            "--warmup",
            "'1s'",
        ),
        (&["compare", "--duration", "0s"], "--duration", "'0'"),
        // A controller and a schedule cannot both set the pace.
        (
            &[
                "compare",
                "--strategies",
                "async",
                "--concurrency",
                "auto",
                "--rate",
                "5",
            ],
            "--concurrency",
            "'auto'",
        ),
        (&["compare", "--rate-500", "2"], "--rate-500", "'2'"),
        (&["compare", "--strategies", "warp"], "--strategies", "'warp'"),
        // Named twice, its two runs were read as one strategy's two rounds.
        (
            &["compare", "--strategies", "async,threadpool,async"],
            "--strategies",
            "'async'",
        ),
        (&["compare", "--timeout=-1s"], "--timeout", "'-1s'"),
        (
            &["compare", "--schedule", "first:x:500"],
            "schedule",
            "'first:x:500'",
        ),
        (&["compare", "--cpu-work", "20s"], "--cpu-work", "'20s'"),
        // A ramp opens a closed loop's slots: not an open loop's, a controller's, or -c 0's.
        (&["compare", "--ramp", "1s", "--rate", "5"], "--ramp", "'1s'"),
        (
            &["compare", "--ramp", "1s", "--strategies", "async", "-c", "auto"],
            "--ramp",
            "'1s'",
        ),
        (
            &["compare", "--ramp", "200ms", "--strategies", "async", "-c", "0"],
            "--ramp",
            "'200ms'",
        ),
        (&["compare", "--ramp", "soon"], "--ramp", "'soon'"),
        // A rate out of range as written, not its 300 decimal places.
        (&["compare", "--rate", "1e-300"], "--rate", "'1e-300'"),
        // A search with nothing to spend measured nothing and answered "the budget ran out".
        (
            &["sweep", "--find", "rate=1..10", "--budget-time", "0s"],
            "--budget-time",
            "'0s'",
        ),
        (
            &["sweep", "--find", "rate=1..10", "--budget-requests", "0"],
            "--budget-requests",
            "'0'",
        ),
        // An SLO no run can meet.
        (&["sweep", "-c", "1,2", "--slo-p99", "0s"], "--slo-p99", "'0s'"),
    ];
    for (args, flag, value) in cases {
        let (_tmp, out) = temp_out();
        let o = bin().args(args).arg("--out").arg(&out).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("asyncbench: warning:"))
            .collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(
            errors[0].contains(flag) && errors[0].contains(value),
            "{args:?}: {stderr}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
    // An unreachable target is found before anything runs: exit 2, the error line names it.
    let (_tmp, out) = temp_out();
    let o = bin()
        .args(["compare", "--target", "http://127.0.0.1:1/v1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(
        last.contains("http://127.0.0.1:1/v1") && last.contains("unreachable"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// `--help` works on every subcommand and lists a flag of its own.
#[test]
fn help_works_on_every_subcommand() {
    for (sub, flag) in [
        ("compare", "--concurrency"),
        ("sweep", "--max-429"),
        ("reproduce", "--out"),
        ("plot", "--combine"),
        ("merge", "--allow-partial"),
        ("completions", "<SHELL>"),
    ] {
        let o = bin().args([sub, "--help"]).output().unwrap();
        assert!(o.status.success(), "{sub}");
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(help.contains(flag), "{sub} --help: {help}");
    }
}

/// `sweep ARGS` refused before anything runs: exit 2, nothing written; its one error line.
fn sweep_refusal(args: &[&str]) -> String {
    let (_tmp, out) = temp_out();
    let o = bin()
        .arg("sweep")
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| !l.contains("warning")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(!out.exists(), "{args:?}: nothing written");
    errors[0].to_owned()
}

/// `sweep` varies exactly one setting: two lists at once, or none, is refused before anything
/// runs (exit 2, one line naming the lists or the flags that take one), and nothing is written.
#[test]
fn sweep_takes_exactly_one_list() {
    for (args, names) in [
        (
            &["--concurrency", "1,2", "--batch-size", "2,4"][..],
            "concurrency,batch_size",
        ),
        (
            &["--concurrency", "4"][..],
            "--concurrency, --batch-size, --pause, --rate or --cpu-work",
        ),
    ] {
        let error = sweep_refusal(args);
        assert!(error.contains(names), "{args:?}: {error}");
    }
}

/// A sweep's value listed twice (`10ms` and `0.01s` are one) would run two points into one
/// folder and one place on the charts, two that run as one (concurrencies above the count) the
/// same point twice, and a strategy named twice two runs into one row: each is refused before
/// anything runs (exit 2, one line naming the flag and the value), nothing written.
#[test]
fn sweep_values_and_strategies_are_listed_once() {
    for (args, flag, value) in [
        (&["--concurrency", "4,2,4"][..], "--concurrency", "'4'"),
        (&["--pause", "10ms,0.01s"][..], "--pause", "'10ms'"),
        (&["--rate", "5,5.0"][..], "--rate", "'5'"),
        // Values that run as one: no more in flight, or in a batch, than the requests there are.
        (
            &["--concurrency", "1,32,64", "-n", "20"][..],
            "--concurrency",
            "'64'",
        ),
        (
            &["--concurrency", "0,20", "-n", "20", "--strategies", "async"][..],
            "--concurrency",
            "'20'",
        ),
        (
            &["--batch-size", "10,50,90", "-n", "40"][..],
            "--batch-size",
            "'90'",
        ),
        (
            &[
                "--concurrency",
                "1,2",
                "--strategies",
                "threadpool,async,threadpool",
            ][..],
            "--strategies",
            "'threadpool'",
        ),
    ] {
        let error = sweep_refusal(args);
        assert!(
            error.contains(&format!("invalid {flag} {value}")),
            "{args:?}: {error}"
        );
    }
}

/// A search probes no value that runs as another: no point has more in flight, or in a batch,
/// than the `-n` requests there are, so `--find concurrency=4..128 -n 20` probed 32, 64 and 128,
/// each run as 20, and said "extend the range". Its top is cut to 20 (a warning says so, the
/// answer says a larger -n goes further), and a range all above the count is refused.
#[test]
fn a_search_probes_no_value_above_the_count() {
    for (args, value) in [
        (
            &["--find", "concurrency=40..128", "-n", "20"][..],
            "'concurrency=40..128'",
        ),
        (
            &[
                "--find",
                "batch-size=21..64",
                "-n",
                "20",
                "--strategies",
                "batched",
            ][..],
            "'batch-size=21..64'",
        ),
    ] {
        let error = sweep_refusal(args);
        assert!(
            error.starts_with(&format!("asyncbench: invalid --find {value}: runs every value")),
            "{args:?}: {error}"
        );
    }
    let (_tmp, out) = temp_out();
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "20",
            "--latency",
            "20ms",
            "--strategies",
            "async",
        ])
        .args(["--find", "concurrency=4..128", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --find concurrency searches up to 20, not 128"),
        "{stderr}"
    );
    let sweep = crate::util::json(&out.join("sweep.json"));
    assert_eq!(sweep["find"]["to"], 20.0);
    let settings: Vec<f64> = sweep["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["setting"].as_f64().unwrap())
        .collect();
    assert!(
        settings.contains(&20.0) && settings.iter().all(|c| *c <= 20.0),
        "{settings:?}"
    );
    let reason = sweep["search"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("give a larger -n"), "{reason}");
}

/// A sweep runs only strategies its setting changes: `--batch-size 2,4` ran threadpool and async
/// (which take no batch) and recommended B=4 out of noise. One it does not change is refused
/// (exit 2, naming it), and a sweep of a batch or its pause runs `batched` unless told otherwise.
#[test]
fn a_sweep_runs_only_strategies_its_setting_changes() {
    for (args, value) in [
        (
            &["--batch-size", "2,4", "--strategies", "batched,async"][..],
            "'async'",
        ),
        (
            &["--pause", "0ms,5ms", "--strategies", "sequential"][..],
            "'sequential'",
        ),
        (
            &["--concurrency", "2,4", "--strategies", "async,sequential"][..],
            "'sequential'",
        ),
        (
            &["--concurrency", "2,4", "--strategies", "batched"][..],
            "'batched'",
        ),
        // A search alike.
        (
            &["--find", "concurrency=1..8", "--strategies", "sequential"][..],
            "'sequential'",
        ),
        (
            &["--find", "batch-size=1..8", "--strategies", "batched,async"][..],
            "'async'",
        ),
    ] {
        let error = sweep_refusal(args);
        assert!(
            error.starts_with(&format!(
                "asyncbench: invalid --strategies {value}: is not changed"
            )),
            "{args:?}: {error}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "4",
            "--latency",
            "1ms",
            "--batch-size",
            "1,2",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let sweep = crate::util::json(&out.join("sweep.json"));
    for point in sweep["points"].as_array().unwrap() {
        let ids: Vec<&str> = point["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["strategy"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["batched"], "{point}");
    }
}

/// `plot --combine` draws several runs side by side: both charts, SVG and PNG, each run named
/// by its folder in the SVG's labels, or by as much of its path as tells two of one name apart
/// (`other/fast-run`; both were "fast-run"). A run with no success has no latency bar (it had
/// bars of 0), and a run given twice is refused (it was drawn twice).
#[test]
fn plot_combine_draws_every_run_by_its_folder_name() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, flags) in [
        ("fast-run", &["--latency", "1ms"][..]),
        ("slow-run", &["--latency", "20ms"][..]),
        ("other/fast-run", &["--latency", "1ms"][..]),
        ("failing", &["--latency", "1ms", "--rate-500", "1"][..]),
    ] {
        let o = bin()
            .args([
                "compare",
                "-q",
                "-n",
                "10",
                "--strategies",
                "async",
                "--rounds",
                "1",
            ])
            .args(flags)
            .arg("--out")
            .arg(tmp.path().join(name))
            .output()
            .unwrap();
        let code = if name == "failing" { 5 } else { 0 };
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let combined = tmp.path().join("combined");
    let plot = |runs: &[&str]| {
        let mut c = bin();
        c.arg("plot").arg(&combined).arg("--combine");
        for r in runs {
            c.arg(tmp.path().join(r));
        }
        c.output().unwrap()
    };
    let o = plot(&["fast-run", "slow-run", "other/fast-run", "failing"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for chart in ["combined-goodput", "combined-latency"] {
        let svg = std::fs::read_to_string(combined.join(format!("{chart}.svg"))).unwrap();
        // Each bar's title starts with its run's label; the run with no success has no
        // latency bar (they were bars of 0).
        let top = tmp.path().file_name().unwrap().to_string_lossy();
        let first = format!("{top}/fast-run");
        for label in [&first, "slow-run", "other/fast-run", "failing"] {
            let titled = svg.contains(&format!("<title>{label} · "));
            let drawn = !(chart == "combined-latency" && label == "failing");
            assert_eq!(titled, drawn, "{chart}: {label}");
        }
        let png = std::fs::read(combined.join(format!("{chart}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{chart}.png");
    }
    // One run twice (by two spellings): refused, exit 2, one line naming it.
    let o = plot(&["fast-run", "slow-run", "fast-run/."]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid --combine") && err.contains("is a run given before"),
        "{err}"
    );
}

/// The table fits 120 columns by default, for every strategy, with rounds, errors and their
/// samples (failures summed in `failed`); `--wide` shows each failure outcome, eff, p90 and max,
/// and the whole error sample.
#[test]
fn the_table_fits_120_columns_unless_wide() {
    let run = |wide: bool| {
        let mut c = bin();
        c.args([
            "compare",
            "-q",
            "-n",
            "20",
            "-c",
            "4",
            "--latency",
            "2ms",
            "--rate-500",
            "0.2",
        ])
        .args(["--cpu-work", "1ms", "--rounds", "2"])
        .args([
            "--strategies",
            "sequential,threadpool,async,async-single,async-offload,batched",
        ]);
        if wide {
            c.arg("--wide");
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let compact = run(false);
    for l in compact.lines() {
        assert!(l.chars().count() <= 120, "{} columns: {l}", l.chars().count());
    }
    let header = compact.lines().find(|l| l.starts_with("strategy ")).unwrap();
    assert!(header.contains(" failed ") && !header.contains(" 5xx ") && !header.contains("max_ms"));
    assert!(
        compact.contains("proc…") || compact.contains('…'),
        "the sample is cut"
    );
    let wide = run(true);
    let header = wide.lines().find(|l| l.starts_with("strategy ")).unwrap();
    for col in [
        "5xx", "4xx", "t/o", "conn", "big", "cxl", "eff", "p90_ms", "max_ms",
    ] {
        assert!(
            header.split_whitespace().any(|h| h == col),
            "--wide lacks {col}: {header}"
        );
    }
    assert!(!header.contains(" failed "));
    assert!(wide.lines().any(|l| l.chars().count() > 120));
}

/// A sweep's table fits 120 columns too, with streams, an SLO and its recommendations: the
/// streaming figures in a block of their own, long lines wrapped.
#[test]
fn the_sweep_table_fits_120_columns() {
    let o = bin()
        .args([
            "sweep",
            "--concurrency",
            "2,4",
            "-n",
            "20",
            "--stream",
            "--ttft",
            "5ms",
            "--itl",
            "1ms",
            "--tokens",
            "4",
            "--slo",
            "ttft=50ms",
            "--slo-p99",
            "1s",
            "--strategies",
            "threadpool,async-single",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8(o.stdout).unwrap();
    for l in out.lines() {
        assert!(l.chars().count() <= 120, "{} columns: {l}", l.chars().count());
    }
    let streaming = out.lines().find(|l| l.contains(" streaming ")).unwrap();
    assert!(
        streaming.contains("ttft_p50") && streaming.contains("itl_p99"),
        "{out}"
    );
    assert!(
        out.contains("recommendation (") && out.contains("best: "),
        "{out}"
    );
}
