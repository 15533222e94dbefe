//! `report.html` in a real browser: headless Chromium (Debian's `chromium-headless-shell`, which
//! `.ci/run` installs) loads the run's page and the sweep's page from disk with nothing logged to
//! its console, renders their tables and inline charts, and takes a screenshot. Without a
//! browser the test says so and passes, unless `ASYNCBENCH_REQUIRE_BROWSER` is set (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::bin;

/// The headless browser, if one is installed.
fn browser() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ASYNCBENCH_BROWSER") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    ["chromium-headless-shell", "chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Loads `page` in the browser: the DOM after rendering, the console lines, and a screenshot.
fn load(chrome: &Path, page: &Path, shot: &Path) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let common = |c: &mut Command| {
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=1",
            "--window-size=1300,3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()));
    };
    let mut dump = Command::new(chrome);
    common(&mut dump);
    let o = dump.arg("--dump-dom").arg(&url).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let console: Vec<String> = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    let mut snap = Command::new(chrome);
    common(&mut snap);
    let s = snap
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    (String::from_utf8_lossy(&o.stdout).into_owned(), console)
}

/// How far `page` scrolls sideways in a `width` px window: the document's overflow, then each
/// `.scroll` box's (a table wider than its box), measured by a probe script added to a copy of
/// the page (the page itself has none).
fn overflow(chrome: &Path, page: &Path, width: u32) -> Vec<i64> {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = "<script>addEventListener('load',()=>{const d=document.documentElement;\
        const v=[d.scrollWidth-d.clientWidth];\
        document.querySelectorAll('.scroll').forEach(e=>v.push(e.scrollWidth-e.clientWidth));\
        document.body.setAttribute('data-overflow',v.join(','))})</script>";
    let copy = page.with_file_name(format!("probe-{width}.html"));
    std::fs::write(&copy, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let o = Command::new(chrome)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        .arg(format!("--window-size={width},2000"))
        .arg("--virtual-time-budget=3000")
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", copy.display()))
        .output()
        .unwrap();
    std::fs::remove_file(&copy).unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    let at = dom.find("data-overflow=\"").expect("the probe ran") + "data-overflow=\"".len();
    let list = &dom[at..at + dom[at..].find('"').unwrap()];
    list.split(',').map(|v| v.parse().unwrap()).collect()
}

/// The page loads nothing from outside itself (no src but fragments), and links only to
/// fragments and to the pages of its own points, which exist beside it.
fn assert_self_contained(html: &str, dir: &std::path::Path) {
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let v = &html[i + attr.len()..];
            let target = &v[..v.find('"').unwrap_or(v.len())];
            let own_point = attr == "href=\""
                && target.starts_with("points/")
                && target.ends_with("/report.html")
                && !target.contains("..");
            assert!(
                target.starts_with('#') || own_point,
                "external reference: {}",
                &html[i..(i + 80).min(html.len())]
            );
            if own_point {
                assert!(dir.join(target).is_file(), "a link to a missing page: {target}");
            }
        }
    }
    assert!(!html.contains("<script"), "no script");
}

/// The run's page and the sweep's page load in headless Chromium from disk, log nothing to the
/// console, show every strategy's row and their charts, and refer to nothing outside themselves.
#[test]
fn both_html_pages_render_in_a_real_browser() {
    let Some(chrome) = browser() else {
        assert!(
            std::env::var_os("ASYNCBENCH_REQUIRE_BROWSER").is_none(),
            "no headless browser (install chromium-headless-shell)"
        );
        eprintln!("skipped: no headless browser installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (run, sweep) = (tmp.path().join("run"), tmp.path().join("sweep"));
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "20",
            "-c",
            "4",
            "--latency",
            "5ms",
            "--stream",
            "--ttft",
            "5ms",
            "--itl",
            "1ms",
            "--rate-500",
            "0.2",
            "--warmup",
            "4",
            "--ramp",
            "20ms",
            "--prompt-tokens",
            "30",
            "-H",
            "X-Team: bench",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bin()
        .args([
            "sweep",
            "-q",
            "-n",
            "8",
            "--latency",
            "5ms",
            "--strategies",
            "async,threadpool",
            "-c",
            "1,2,4",
            "--out",
        ])
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // The run: five strategies' rows, five charts, the errors the 500s caused.
    let page = run.join("report.html");
    assert_self_contained(&std::fs::read_to_string(&page).unwrap(), &run);
    let (dom, console) = load(&chrome, &page, &tmp.path().join("run.png"));
    assert!(console.is_empty(), "console: {console:?}");
    for id in ["sequential", "threadpool", "async", "async-single", "batched"] {
        assert!(dom.contains(&format!("<td>{id}</td>")), "{id} row missing");
    }
    assert_eq!(
        dom.matches("<svg").count(),
        5,
        "throughput, latency, ttft, itl, timeline"
    );
    assert!(!dom.contains("Over rounds"), "one round: no intervals block");
    assert!(dom.contains("http_500") && dom.contains("Streaming") && dom.contains("Settings and provenance"));
    // The measurement's own error: the mock's stamps read for every strategy's row.
    let distortion = dom
        .split("id=\"distortion\"")
        .nth(1)
        .expect("the distortion table");
    let distortion = &distortion[..distortion.find("</table>").unwrap()];
    assert!(distortion.contains("request (ms)") && distortion.contains("transit (ms)"));
    assert_eq!(
        distortion.matches("<tr>").count(),
        2 + 5,
        "two head rows, five strategies"
    );
    assert!(std::fs::metadata(tmp.path().join("run.png")).unwrap().len() > 20_000);
    // Every setting that shaped the run, and every strategy's figures from report.json.
    for setting in [
        "warm-up",
        "4 requests per strategy",
        "x-team",
        "30 tokens, framing included",
        "tokens counted with o200k_base",
        "batches of 4",
        "transport",
        "opened evenly over 20 ms (batched not ramped)",
    ] {
        assert!(dom.contains(setting), "the page lacks the setting {setting}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    for s in report["strategies"].as_array().unwrap() {
        let f = |k: &str, d: usize| format!("<td>{:.d$}</td>", s[k].as_f64().unwrap());
        let p = |k: &str| format!("<td>{:.1}</td>", s["latency_ms"][k].as_f64().unwrap());
        for cell in [
            f("goodput_rps", 1),
            f("throughput_rps", 1),
            f("wall_s", 3),
            f("cpu_s", 3),
            p("p50"),
            p("p90"),
            p("p99"),
            p("max"),
            format!("<td>{}</td>", s["outcomes"]["server_error"]),
        ] {
            assert!(dom.contains(&cell), "{}: {cell} is not on the page", s["id"]);
        }
    }
    // No sideways scrolling at 1 280 px or 1 920 px, of the page or of any table in its box.
    for width in [1280, 1920] {
        let over = overflow(&chrome, &page, width);
        assert!(over.iter().all(|o| *o <= 0), "run page at {width} px: {over:?}");
    }

    // A run whose open loop could not keep its schedule: the warning said on stderr is on the
    // page too, wrapped within it.
    let late = tmp.path().join("late");
    let o = bin()
        .args([
            "compare",
            "-q",
            "-n",
            "30",
            "--rounds",
            "1",
            "--rate",
            "2000",
            "-c",
            "1",
            "--latency",
            "10ms",
            "--strategies",
            "async",
            "--out",
        ])
        .arg(&late)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = late.join("report.html");
    let (dom, console) = load(&chrome, &page, &tmp.path().join("late.png"));
    assert!(console.is_empty(), "console: {console:?}");
    assert!(
        dom.contains("<p class=\"warn\">Warning: async started ")
            && dom.contains("could not keep the schedule"),
        "no warning on the page"
    );
    let over = overflow(&chrome, &page, 1280);
    assert!(over.iter().all(|o| *o <= 0), "late page at 1280 px: {over:?}");

    // The sweep: the recommendation and six charts (goodput, p99, 429s, throughput, retries,
    // client CPU per request).
    let page = sweep.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html, &sweep);
    assert_eq!(
        html.matches(r#"href="points/"#).count(),
        6,
        "each row links its point's page"
    );
    let (dom, console) = load(&chrome, &page, &tmp.path().join("sweep.png"));
    assert!(console.is_empty(), "console: {console:?}");
    assert!(
        dom.contains("id=\"recommendation\"") && dom.contains("Best:"),
        "no recommendation"
    );
    assert_eq!(dom.matches("<svg").count(), 6);
    assert!(dom.contains("client CPU ms/req"), "the CPU per request column");
    let error = dom
        .split("id=\"sweep-distortion\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the measurement's own error at each point");
    assert!(
        error.contains("harness p99 ms") && error.contains("transit p99 ms"),
        "{error}"
    );
    assert_eq!(
        error.matches("<tr><td>").count(),
        6,
        "a row per strategy per point: {error}"
    );
    assert!(
        dom.contains("Settings and provenance") && dom.contains("transport"),
        "the sweep's settings"
    );
    assert!(dom.contains("<title>async: 2 → "), "each point's value on hover");
    assert!(std::fs::metadata(tmp.path().join("sweep.png")).unwrap().len() > 20_000);
    // Each point has its own page too.
    assert!(sweep.join("points/concurrency-2/report.html").exists());
    for width in [1280, 1920] {
        let over = overflow(&chrome, &page, width);
        assert!(over.iter().all(|o| *o <= 0), "sweep page at {width} px: {over:?}");
    }
}
