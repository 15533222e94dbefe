//! `report.html`: one self-contained page per run (and per sweep): the settings, where the
//! numbers come from, every strategy's figures (the same columns as the table and the CSV), the
//! error breakdown, and the charts inline as SVG. No script, no stylesheet or font from elsewhere:
//! it opens from disk, offline, years later.

use std::fmt::Write as _;
use std::path::Path;

use crate::model::report::{RunReport, StrategyReport};
use crate::model::sweep::{SweepReport, fmt_setting, fmt_value, point_folder};
use crate::output::table::{Block, Cell, columns, mock_settings};

/// Text made safe for HTML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:2rem auto;max-width:1200px;color:#1a1a1a;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.sub{color:#555;margin-top:0}.warn{background:#fff3cd;border:1px solid #e0c060;padding:.6rem 1rem;border-radius:4px}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6rem 0;font-size:.82rem}th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dt{font-weight:600}dd{margin:0}.chart svg{max-width:100%;height:auto;border:1px solid #eee}.note{color:#555;font-size:.85rem}pre.rounds{white-space:pre-wrap}
.best{font-weight:600}td.over{background:#fff3cd}code{background:#f4f4f4;padding:0 .2rem}td code{white-space:normal;word-break:break-all}
@media print{body{max-width:none;margin:0;padding:0;font-size:10pt}.scroll{overflow:visible}
table,.chart,dl{break-inside:avoid}h2{break-after:avoid}.chart svg{border:none}a{color:inherit;text-decoration:none}}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn unix_date(secs: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// A definition list of the run's settings and provenance.
fn settings(r: &RunReport) -> String {
    let batched = r
        .strategies
        .iter()
        .any(|s| s.id == crate::model::strategy::Strategy::Batched);
    settings_of(&r.config, &r.provenance, batched)
}

/// The settings of a run or of a sweep's base (`batched`: a batched strategy ran, so its batch
/// size and pause shaped the run).
fn settings_of(
    c: &crate::model::report::ConfigSummary,
    p: &crate::model::provenance::Provenance,
    batched: bool,
) -> String {
    let w = &c.workload;
    let mut rows: Vec<(&str, String)> = vec![
        ("target", format!("{} ({})", c.target, c.isolation.describe())),
        (
            "requests",
            match c.rounds {
                1 => c.requests_shown(),
                k => format!("{} × {k} rounds (interleaved)", c.requests_shown()),
            },
        ),
        (
            "concurrency",
            match &c.adaptive {
                Some(a) => format!(
                    "auto (--concurrency auto): starts at {}, at most {}",
                    a.initial, a.max
                ),
                None => c.concurrency.to_string(),
            },
        ),
        ("load", describe_load(c.load)),
        ("retry", c.retry.to_string()),
        ("timeout", format!("{} s per attempt", c.timeout_s)),
        ("request", describe_request(w)),
    ];
    if batched {
        rows.push((
            "batched",
            format!("batches of {}, {} s pause between them", c.batch_size, c.pause_s),
        ));
    }
    rows.push(("prompt", describe_prompt(w)));
    if let Some(f) = &w.body_file {
        rows.push(("body file", format!("{f} (its fields win over the flags)")));
    }
    if !w.headers.is_empty() {
        rows.push((
            "extra headers",
            format!("{} (values not written)", w.headers.join(", ")),
        ));
    }
    if let Some(wu) = c.warmup {
        rows.push(("warm-up", describe_warmup(wu)));
    }
    if let Some(r) = c.ramp_s {
        rows.push((
            "ramp",
            format!(
                "each phase's slots opened evenly over {:.0} ms (batched not ramped)",
                r * 1e3
            ),
        ));
    }
    if let Some(d) = c.cpu_work_s {
        rows.push(("CPU work", format!("{:.3} ms per successful response", d * 1e3)));
    }
    rows.push(("transport", describe_transport(c)));
    if let Some(s) = c.shard {
        rows.push(("shard", s.to_string()));
    }
    if let Some(d) = c.duration_s {
        rows.push(("duration", format!("{d} s per strategy")));
    }
    if c.slo.is_set() {
        rows.push(("SLO", c.slo.describe()));
    }
    if let Some(m) = &c.mock {
        rows.push(("mock", mock_settings(m)));
    }
    rows.push(("tool", p.tool.clone()));
    rows.push(("commit", p.git_commit.clone().unwrap_or_else(|| "unknown".into())));
    rows.push(("machine", p.machine.summary()));
    rows.push(("started", unix_date(p.started_unix)));
    rows.push(("ended", unix_date(p.ended_unix)));
    let mut s = String::from("<dl>\n");
    for (k, v) in rows {
        let _ = writeln!(s, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    }
    s.push_str("</dl>\n");
    s
}

/// The load model in words.
fn describe_load(load: crate::model::plan::LoadModel) -> String {
    match load {
        crate::model::plan::LoadModel::Closed => "closed loop".to_owned(),
        crate::model::plan::LoadModel::Open { rate, arrival, .. } => {
            format!("open loop, {rate} requests/s, {arrival:?} arrivals")
        }
    }
}

/// The request's model, its max_tokens (with its spread) and whether it streams.
fn describe_request(w: &crate::model::plan::Workload) -> String {
    format!(
        "model {}, max_tokens {}{}{}",
        w.model,
        w.max_tokens,
        if w.max_tokens_spread > 0 {
            format!(" ± {}", w.max_tokens_spread)
        } else {
            String::new()
        },
        if w.stream { ", streamed" } else { "" }
    )
}

/// Where the prompts came from (a dataset, synthetic words, or the one prompt) and how their
/// tokens are counted.
fn describe_prompt(w: &crate::model::plan::Workload) -> String {
    let source = match (&w.dataset, w.prompt_tokens) {
        (Some(d), _) => format!("--dataset {d} ({} rows, cycled)", w.dataset_rows),
        (None, Some(p)) if p.spread > 0 => {
            format!("synthetic, {} ± {} tokens, framing included", p.mean, p.spread)
        }
        (None, Some(p)) => format!("synthetic, {} tokens, framing included", p.mean),
        (None, None) => format!("{} characters: {}", w.prompt.chars().count(), w.prompt),
    };
    format!("{source} · tokens counted with {}", w.tokenizer)
}

/// The warm-up in words.
fn describe_warmup(wu: crate::model::plan::Warmup) -> String {
    match wu {
        crate::model::plan::Warmup::Requests(n) => {
            format!("{n} requests per strategy, left out of every figure")
        }
        crate::model::plan::Warmup::Time(d) => {
            format!("{} s per strategy, left out of every figure", d.as_secs_f64())
        }
    }
}

/// HTTP or HTTPS, HTTP/2, an insecure trust, the body cap, the proxy.
fn describe_transport(c: &crate::model::report::ConfigSummary) -> String {
    format!(
        "{}{}{} · at most {} MiB a response{}",
        if c.tls { "HTTPS" } else { "HTTP" },
        if c.http2 {
            ", HTTP/2 asked of the async strategies"
        } else {
            ""
        },
        if c.insecure {
            ", INSECURE: any certificate accepted"
        } else {
            ""
        },
        c.max_body_bytes >> 20,
        c.proxy
            .as_ref()
            .map(|p| format!(" · every client through the proxy {p}"))
            .unwrap_or_default()
    )
}

/// One block of the table (the same columns as the printed table and the CSV).
fn block(r: &RunReport, b: Block) -> String {
    let all = columns();
    let cols: Vec<_> = all
        .iter()
        .enumerate()
        .filter(|(i, c)| c.block == b || *i == 0)
        .map(|(_, c)| c)
        .collect();
    table_of(r, &cols, "")
}

/// The main table split in two, every column of the wide terminal table: outcomes, then rates,
/// latency and cost, so that each fits a 1 280 px window without scrolling.
fn main_tables(r: &RunReport) -> String {
    let all = columns();
    let main: Vec<_> = all.iter().filter(|c| c.block == Block::Main).collect();
    let split = main
        .iter()
        .position(|c| c.header == "wall_s")
        .unwrap_or(main.len());
    let retries = main.iter().find(|c| c.header == "retries");
    let outcomes: Vec<_> = main[..split].iter().copied().chain(retries.copied()).collect();
    let rest: Vec<_> = main[..1]
        .iter()
        .chain(&main[split..])
        .copied()
        .filter(|c| c.header != "retries")
        .collect();
    table_of(r, &outcomes, " id=\"outcomes\"") + &table_of(r, &rest, " id=\"rates\"")
}

/// A table of `cols` for every strategy (`attrs` on its `<table>`).
fn table_of(r: &RunReport, cols: &[&crate::output::table::Column], attrs: &str) -> String {
    let mut s = format!("<div class=\"scroll\"><table{attrs}>\n<tr>");
    for c in cols {
        let _ = write!(s, "<th>{}</th>", escape(c.header));
    }
    s.push_str("</tr>\n");
    for st in &r.strategies {
        s.push_str("<tr>");
        for c in cols {
            let text = match (c.value)(st) {
                Cell::Int(n) => n.to_string(),
                Cell::Float(x, d) => format!("{x:.d$}"),
                Cell::Text(t) => t,
                Cell::Missing => "–".to_owned(),
            };
            let _ = write!(s, "<td>{}</td>", escape(&text));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table></div>\n");
    s
}

fn errors(strategies: &[StrategyReport]) -> String {
    let mut s = String::from(
        "<div class=\"scroll\"><table>\n<tr><th>strategy</th><th>class</th><th>outcome</th><th>attempts</th><th>first sample</th></tr>\n",
    );
    for st in strategies {
        for e in &st.errors {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:left\"><code>{}</code></td></tr>",
                st.id,
                escape(&e.class),
                e.outcome,
                e.count,
                escape(&e.sample)
            );
        }
    }
    s.push_str("</table></div>\n");
    s
}

/// An SVG file's markup for inlining (its XML declaration dropped), or `None` if missing.
fn inline_svg(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let start = text.find("<svg")?;
    Some(text[start..].to_owned())
}

fn charts(dir: &Path, names: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (file, caption) in names {
        if let Some(svg) = inline_svg(&dir.join(format!("{file}.svg"))) {
            let _ = writeln!(
                s,
                "<figure class=\"chart\" id=\"chart-{file}\">\n{svg}\n<figcaption class=\"note\">{}</figcaption>\n</figure>",
                escape(caption)
            );
        }
    }
    s
}

/// The page of a run; the charts are read from `dir`, where they were just drawn.
pub(crate) fn run_page(r: &RunReport, dir: &Path) -> String {
    let c = &r.config;
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>asyncbench: {} {} against {}</h1>\n<p class=\"sub\">{} · {}</p>",
        r.strategies.len(),
        if r.strategies.len() == 1 {
            "strategy"
        } else {
            "strategies"
        },
        escape(&c.target),
        escape(&unix_date(r.provenance.started_unix)),
        escape(&r.provenance.machine.summary())
    );
    if let Some(why) = &r.incomplete_reason {
        let _ = writeln!(
            b,
            "<p class=\"warn\" id=\"incomplete\">Incomplete run: {}.</p>",
            escape(why)
        );
    }
    if let Some(d) = r.diagnosis() {
        let _ = writeln!(b, "<p class=\"warn\">{}</p>", escape(&d));
    }
    // What the figures include that they should not (a schedule not kept, requests held back by
    // the log's disk): said on stderr only, a reader of the page never saw it.
    for w in r.warnings() {
        let _ = writeln!(b, "<p class=\"warn\">Warning: {}</p>", escape(&w));
    }
    b.push_str("<h2>Results</h2>\n");
    b.push_str(&main_tables(r));
    b.push_str("<p class=\"note\">latency: end-to-end of successful requests, from the intended start, retries included, ms (– where none succeeded) · eff: goodput ÷ (concurrency ÷ mean mock delay) · cpu_s: client CPU, mock excluded · thr: threads the strategy ran on at peak</p>\n");
    if let Some((head, rows)) = crate::output::table::external_notes(r) {
        let _ = write!(b, "<p class=\"note\" id=\"external\">{}", escape(&head));
        for (id, text) in rows {
            let _ = write!(b, "<br><b>{}</b> {}", escape(&id), escape(&text));
        }
        b.push_str("</p>\n");
    }
    b.push_str(&run_blocks(r));
    b.push_str("<h2>Charts</h2>\n");
    b.push_str(&charts(
        dir,
        &[
            (
                "throughput",
                "Throughput (all outcomes) and goodput (ok only) per strategy.",
            ),
            (
                "latency",
                "End-to-end latency of successful requests by percentile (HdrHistogram's axis).",
            ),
            ("ttft", "Time to first token by percentile."),
            ("itl", "Inter-token latency by percentile."),
            (
                "ttfo",
                "Time to first output token (after the reasoning) by percentile.",
            ),
            (
                "concurrency",
                "--concurrency auto: the controller's limit over time, and the answers per second (ok and 429) it got.",
            ),
            (
                "timeline",
                "Second by second (each strategy's first round): successes, 429 answers, and the p50 and p99 of that second's successes; the legend names the steady window, the whole seconds while the concurrency was held.",
            ),
        ],
    ));
    b.push_str("<h2>Settings and provenance</h2>\n");
    b.push_str(&settings(r));
    b.push_str("<p class=\"note\">Every figure here is in report.json (with every histogram, exactly mergeable), summary.csv and the .hgrm files beside this page.</p>\n");
    page("asyncbench report", &b)
}

/// The run page's blocks past the main table, each when the run has it: open loop, streaming,
/// SLO, rounds, the wire, errors.
fn run_blocks(r: &RunReport) -> String {
    let mut b = String::new();
    if r.strategies.iter().any(|s| s.target_rate.is_some()) {
        b.push_str("<h2>Open loop</h2>\n");
        b.push_str(&block(r, Block::OpenLoop));
    }
    if r.strategies.iter().any(|s| s.ttft_ms.is_some()) {
        b.push_str("<h2>Streaming</h2>\n");
        b.push_str(&block(r, Block::Streaming));
    }
    if crate::output::table::reasoned(r) {
        b.push_str("<h2>Reasoning</h2>\n");
        b.push_str(&block(r, Block::Reasoning));
    }
    if r.config.slo.is_set() {
        b.push_str("<h2>SLO</h2>\n");
        b.push_str(&block(r, Block::Slo));
    }
    let rounds = crate::output::rounds::rounds_block(r);
    if !rounds.trim().is_empty() {
        b.push_str(if r.strategies.iter().any(|s| s.spread.is_some()) {
            "<h2>Over rounds, with 95 % intervals</h2>\n"
        } else {
            "<h2>Steady state</h2>\n"
        });
        let _ = writeln!(b, "<pre class=\"rounds\">{}</pre>", escape(rounds.trim()));
    }
    if r.strategies
        .iter()
        .any(|s| s.server.is_some() || !s.protocols.is_empty())
    {
        b.push_str("<h2>On the wire</h2>\n");
        b.push_str(&block(r, Block::Wire));
    }
    b.push_str(&distortion(r));
    if r.strategies.iter().any(|s| !s.errors.is_empty()) {
        b.push_str("<h2>Errors</h2>\n");
        b.push_str(&errors(&r.strategies));
    }
    b
}

/// The measurement's own error: a row per strategy (p50, p99, max of each side, ms), what each
/// side is, and the warnings; empty when no strategy measured any.
fn distortion(r: &RunReport) -> String {
    let Some((rows, sides)) = crate::output::table::distortion_rows(r) else {
        return String::new();
    };
    let mut b = String::from(
        "<h2>The measurement's own error</h2>\n<div class=\"scroll\"><table id=\"distortion\">\n<tr><th rowspan=\"2\">strategy</th>",
    );
    for side in sides {
        let _ = write!(b, "<th colspan=\"3\">{} (ms)</th>", side.head());
    }
    b.push_str("</tr>\n<tr>");
    for _ in sides {
        b.push_str("<th>p50</th><th>p99</th><th>max</th>");
    }
    b.push_str("</tr>\n");
    for (s, d) in &rows {
        let _ = write!(b, "<tr><td>{}</td>", escape(&s.id.to_string()));
        for side in sides {
            match d.side(*side) {
                Some(p) => {
                    let _ = write!(
                        b,
                        "<td>{:.3}</td><td>{:.3}</td><td>{:.3}</td>",
                        p.p50, p.p99, p.max
                    );
                }
                None => b.push_str("<td>–</td><td>–</td><td>–</td>"),
            }
        }
        b.push_str("</tr>\n");
    }
    b.push_str("</table></div>\n");
    let _ = writeln!(
        b,
        "<p class=\"note\">{}</p>",
        escape(&crate::output::table::distortion_note(sides))
    );
    for w in crate::output::table::distortion_warnings(r) {
        let _ = writeln!(b, "<p class=\"warn\">{}</p>", escape(&w));
    }
    b
}

/// The page of a sweep: the points, the recommendation, the charts; the charts are read from
/// `dir`.
pub fn sweep_page(r: &SweepReport, dir: &Path) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>asyncbench sweep over {}</h1>\n<p class=\"sub\">{} per point · {} · {} · {}</p>",
        escape(&r.axis),
        r.config.requests_shown(),
        escape(&r.config.target),
        escape(&unix_date(r.provenance.started_unix)),
        escape(&r.provenance.machine.summary())
    );
    if let Some(why) = &r.incomplete_reason {
        let _ = writeln!(
            b,
            "<p class=\"warn\" id=\"incomplete\">Incomplete sweep: {}.</p>",
            escape(why)
        );
    }
    b.push_str(&sweep_verdicts(r));
    b.push_str(&points_table(r));
    b.push_str(&sweep_distortion(r));
    b.push_str("<h2>Charts</h2>\n");
    b.push_str(&charts(
        dir,
        &[
            (
                "sweep-goodput",
                "Goodput against the setting; rings mark each strategy's recommendation (or the search's answer), crosses its knee (a --cpu-work sweep draws the ceilings 1 core ÷ work and all cores ÷ work instead).",
            ),
            ("sweep-p99", "p99 latency of successful requests."),
            ("sweep-429", "Share of attempts answered 429."),
            ("sweep-throughput", "Throughput, all outcomes."),
            ("sweep-retries", "Retries."),
            ("sweep-cpu", "Client CPU time per request (the mock's excluded)."),
        ],
    ));
    let batched = r
        .recommendations
        .iter()
        .any(|x| x.strategy == crate::model::strategy::Strategy::Batched);
    let _ = writeln!(
        b,
        "<h2>Settings and provenance</h2>\n<p class=\"note\">The base of every point ({} takes each point's value); each point's full report, with its own page, is linked from its row.</p>",
        escape(&r.axis)
    );
    b.push_str(&settings_of(&r.config, &r.provenance, batched));
    page("asyncbench sweep", &b)
}

/// A sweep's verdicts: the recommendation (or a CPU-work sweep's strategy per point), the best,
/// how the points were chosen or why they stopped, the searches and the knees.
fn sweep_verdicts(r: &SweepReport) -> String {
    let mut b = String::new();
    // A --cpu-work sweep names a strategy per point instead of a setting per strategy.
    let (title, recs) = if r.per_point.is_empty() {
        ("Recommendation", &r.recommendations)
    } else {
        ("The strategy to use at each amount of CPU work", &r.per_point)
    };
    let _ = writeln!(b, "<h2>{title}</h2>\n<ul id=\"recommendation\">");
    for rec in recs {
        let _ = writeln!(b, "<li><b>{}</b>: {}</li>", rec.strategy, escape(&rec.reason));
    }
    b.push_str("</ul>\n");
    if let Some(best) = &r.best {
        let _ = writeln!(
            b,
            "<p class=\"best\">Best: {} at {} ({:.1} ok/s).</p>",
            best.strategy,
            escape(&fmt_setting(&r.axis, best.setting.unwrap_or_default())),
            best.goodput_rps.unwrap_or_default()
        );
    }
    if let Some(a) = &r.auto {
        let _ = writeln!(
            b,
            "<p class=\"note\">Points chosen automatically: {}.</p>",
            escape(&a.note)
        );
    }
    if let Some(why) = &r.stopped_early {
        let _ = writeln!(
            b,
            "<p class=\"note\" id=\"stopped-early\">Stopped early: {}.</p>",
            escape(why)
        );
    }
    if !r.search.is_empty() {
        b.push_str("<h2>Search</h2>\n<ul id=\"search\">\n");
        for x in &r.search {
            let _ = writeln!(
                b,
                "<li><b>{}</b>: {} {}.</li>",
                x.strategy,
                escape(&x.reason),
                escape(&x.cost())
            );
        }
        b.push_str("</ul>\n");
    }
    if !r.knees.is_empty() {
        b.push_str("<h2>Knee</h2>\n<p class=\"note\">The smallest setting within 5 % of the most goodput any larger one reached: past it, more buys latency or 429s, not goodput.</p>\n<ul id=\"knees\">\n");
        for k in &r.knees {
            let _ = writeln!(
                b,
                "<li><b>{}</b>: {} ({})</li>",
                k.strategy,
                escape(&fmt_setting(&r.axis, k.setting)),
                escape(&k.why)
            );
        }
        b.push_str("</ul>\n");
    }
    b
}

/// The measurement's own error at each point: each side's p99, a cell past the point's budget
/// marked and each such point named below, as `compare`'s page warns.
fn sweep_distortion(r: &SweepReport) -> String {
    use crate::model::distortion::{Distortion, Side};
    if !r
        .points
        .iter()
        .flat_map(|p| &p.results)
        .any(|x| x.distortion.is_some())
    {
        return String::new();
    }
    let mut b = String::from(
        "<h2>The measurement's own error</h2>\n<div class=\"scroll\"><table id=\"sweep-distortion\">\n<tr><th>",
    );
    b.push_str(&escape(&r.axis));
    b.push_str("</th><th>strategy</th>");
    for side in Side::ALL {
        let _ = write!(b, "<th>{} p99 ms</th>", side.head());
    }
    b.push_str("<th>budget ms</th></tr>\n");
    for p in &r.points {
        for x in &p.results {
            let value = fmt_value(&r.axis, p.setting);
            let _ = write!(b, "<tr><td>{}</td><td>{}</td>", escape(&value), x.strategy);
            let over = crate::output::sweep::over_budget(x);
            for side in Side::ALL {
                match x.distortion.and_then(|d| d.side(side)) {
                    Some(q) if over.iter().any(|o| o.side == side) => {
                        let _ = write!(b, "<td class=\"over\">{:.3} (over)</td>", q.p99);
                    }
                    Some(q) => {
                        let _ = write!(b, "<td>{:.3}</td>", q.p99);
                    }
                    None => b.push_str("<td>–</td>"),
                }
            }
            let _ = writeln!(b, "<td>{:.3}</td></tr>", Distortion::budget_ms(x.p50_ms));
        }
    }
    b.push_str("</table></div>\n");
    let _ = writeln!(
        b,
        "<p class=\"note\">{}; each side's p99 at each point (–: not measured), its budget from that point's latency p50.</p>",
        escape(&crate::output::table::distortion_note(&Side::ALL))
    );
    for w in crate::output::sweep::budget_warnings(r) {
        let _ = writeln!(b, "<p class=\"warn\">{}</p>", escape(&w));
    }
    b
}

/// The points, one row per strategy, each linked to its own page.
fn points_table(r: &SweepReport) -> String {
    let mut b = String::from("<h2>Points</h2>\n<div class=\"scroll\"><table>\n<tr><th>");
    b.push_str(&escape(&r.axis));
    b.push_str("</th><th>strategy</th><th>ok/s</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>429 %</th><th>retries</th><th>failed</th><th>client CPU ms/req</th></tr>\n");
    let opt = |v: Option<f64>| v.map_or("–".to_owned(), |x| format!("{x:.1}"));
    for p in &r.points {
        for x in &p.results {
            // Each point's own page, in the folder the sweep (or the search) wrote it to.
            let folder = format!(
                "points/{}",
                point_folder(&r.axis, p.setting, r.find.map(|_| x.strategy))
            );
            let _ = writeln!(
                b,
                "<tr><td><a href=\"{}/report.html\">{}</a></td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&folder),
                escape(&fmt_value(&r.axis, p.setting)),
                x.strategy,
                x.goodput_rps,
                x.throughput_rps,
                opt(x.p50_ms),
                opt(x.p99_ms),
                100.0 * x.share_429,
                x.retries,
                x.failed,
                x.cpu_ms_per_request.map_or("–".to_owned(), |c| format!("{c:.3}"))
            );
        }
    }
    b.push_str("</table></div>\n");
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run's warnings are on the page, as on stderr: a strategy that could not keep its
    /// schedule, requests held back by the log's disk; none when there are none.
    #[test]
    fn the_runs_warnings_are_on_the_page() {
        use crate::model::outcome::ErrorClass;
        use crate::model::strategy::Strategy;
        let mut slow = crate::model::report::tests::strategy(Strategy::Async, 1, 0, ErrorClass::Timeout);
        let dir = tempfile::tempdir().unwrap();
        let mut r = crate::model::report::tests::run_of(vec![slow.clone()]);
        assert!(!run_page(&r, dir.path()).contains("Warning: "));
        (slow.target_rate, slow.achieved_rate) = (Some(200.0), Some(100.0));
        r.strategies = vec![slow];
        r.log_wait_s = Some(1.5);
        let page = run_page(&r, dir.path());
        assert!(
            page.contains("<p class=\"warn\">Warning: async started 100.0 requests/s of the 200.0 asked for"),
            "{page}"
        );
        assert!(
            page.contains(
                "<p class=\"warn\">Warning: requests.jsonl: the disk took the request lines slower"
            ),
            "{page}"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
