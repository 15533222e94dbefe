//! The table on stdout and `summary.csv`, from one list of columns: each column is defined once
//! (its table header, CSV name and how to read it from a [`StrategyReport`]), so the two can
//! never disagree. A figure that was not measured is `-` in the table and empty in the CSV, never
//! a 0 that claims a measurement.

use std::fmt::Write as _;

use mock_server::Profile;
use mock_server::latency::format_duration;

use crate::model::distortion::{BUDGET_FLOOR_MS, BUDGET_SHARE, Distortion, Side};
use crate::model::outcome::Outcome;
use crate::model::report::{ConfigSummary, RunReport, StrategyReport};
use crate::model::series::Percentiles;

/// One cell's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    /// A count.
    Int(u64),
    /// A figure, printed with this many decimals in the table.
    Float(f64, usize),
    /// Text.
    Text(String),
    /// Not measured (no successful request, not streaming, not an open loop, …).
    Missing,
}

impl Cell {
    fn table(&self) -> String {
        match self {
            Cell::Int(n) => n.to_string(),
            Cell::Float(x, d) => format!("{x:.d$}"),
            Cell::Text(t) => t.clone(),
            Cell::Missing => "-".to_owned(),
        }
    }

    fn csv(&self) -> String {
        match self {
            Cell::Int(n) => n.to_string(),
            // Three more decimals than the table: the CSV is for scripts.
            Cell::Float(x, d) => format!("{x:.p$}", p = d + 3),
            Cell::Text(t) if t.contains([',', '"', '\n']) => format!("\"{}\"", t.replace('"', "\"\"")),
            Cell::Text(t) => t.clone(),
            Cell::Missing => String::new(),
        }
    }
}

/// Which block of the table a column is printed in (every column goes into the CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Block {
    /// The main table.
    Main,
    /// Only in the CSV.
    CsvOnly,
    /// The open-loop table (when a rate was set).
    OpenLoop,
    /// The streaming table.
    Streaming,
    /// Reasoning: TTFO, the reasoning chunks' gaps and tokens (when a target reasoned).
    Reasoning,
    /// How the strategy talked to the target: protocol used, and the mock's connection counts.
    Wire,
    /// Requests that met `--slo`.
    Slo,
    /// Only in the compact main table, standing for columns `--wide` shows one by one.
    Compact,
}

/// The main table's columns that only `--wide` shows: each failure outcome on its own (the
/// compact table sums them in `failed`), the efficiency, p90 and the maximum.
const WIDE_ONLY: [&str; 9] = [
    "5xx", "4xx", "t/o", "conn", "big", "cxl", "eff", "p90_ms", "max_ms",
];

/// Whether a column is in the printed main table: the compact one (at most 120 columns for the
/// built-in strategies) or, with `--wide`, every column.
fn in_main(c: &Column, wide: bool) -> bool {
    match c.block {
        Block::Main => wide || !WIDE_ONLY.contains(&c.header),
        Block::Compact => !wide,
        _ => false,
    }
}

/// A column: table header, CSV name, width, block and how to read it.
pub(crate) struct Column {
    /// Header in the table.
    pub header: &'static str,
    /// Name in `summary.csv`.
    pub csv: &'static str,
    /// Width in the table (right-aligned, but for the first column).
    pub width: usize,
    /// Where it is printed.
    pub block: Block,
    /// Reads the value.
    pub value: fn(&StrategyReport) -> Cell,
}

fn ms(p: Option<Percentiles>, f: fn(&Percentiles) -> f64) -> Cell {
    p.map_or(Cell::Missing, |p| Cell::Float(f(&p), 1))
}

fn ms2(p: Option<Percentiles>, f: fn(&Percentiles) -> f64) -> Cell {
    p.map_or(Cell::Missing, |p| Cell::Float(f(&p), 2))
}

fn count(s: &StrategyReport, o: Outcome) -> Cell {
    Cell::Int(s.count(o))
}

/// Every column of the table and of `summary.csv`, in order.
pub(crate) fn columns() -> Vec<Column> {
    [
        outcome_columns(),
        open_loop_columns(),
        streaming_columns(),
        reasoning_columns(),
        slo_and_token_columns(),
        wire_columns(),
        distortion_columns(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A column: its table header, CSV name, table width (0 off the table), block and reader.
fn c(
    header: &'static str,
    csv: &'static str,
    width: usize,
    block: Block,
    value: fn(&StrategyReport) -> Cell,
) -> Column {
    Column {
        header,
        csv,
        width,
        block,
        value,
    }
}

/// The measurement's own error, side by side (CSV only; the table prints it as a block under
/// itself): each side's p99 and maximum.
fn distortion_columns() -> Vec<Column> {
    fn side(s: &StrategyReport, side: Side, f: fn(&Percentiles) -> f64) -> Cell {
        ms2(s.distortion.as_ref().and_then(|d| d.side(side)), f)
    }
    use Block::CsvOnly;
    vec![
        c("request_path_p99", "request_path_p99_ms", 0, CsvOnly, |s| {
            side(s, Side::Request, |p| p.p99)
        }),
        c("request_path_max", "request_path_max_ms", 0, CsvOnly, |s| {
            side(s, Side::Request, |p| p.max)
        }),
        c("mock_late_p99", "mock_late_p99_ms", 0, CsvOnly, |s| {
            side(s, Side::Mock, |p| p.p99)
        }),
        c("mock_late_max", "mock_late_max_ms", 0, CsvOnly, |s| {
            side(s, Side::Mock, |p| p.max)
        }),
        c("transit_p99", "transit_p99_ms", 0, CsvOnly, |s| {
            side(s, Side::Transit, |p| p.p99)
        }),
        c("transit_max", "transit_max_ms", 0, CsvOnly, |s| {
            side(s, Side::Transit, |p| p.max)
        }),
        c("harness_p99", "harness_p99_ms", 0, CsvOnly, |s| {
            side(s, Side::Harness, |p| p.p99)
        }),
        c("harness_max", "harness_max_ms", 0, CsvOnly, |s| {
            side(s, Side::Harness, |p| p.max)
        }),
    ]
}

/// The settings, the outcomes, rates, latency and resources of every run.
fn outcome_columns() -> Vec<Column> {
    use Block::*;
    vec![
        c("strategy", "strategy", 13, Main, |s| Cell::Text(s.id.to_string())),
        c("conc", "concurrency", 5, Main, |s| match &s.adaptive {
            // Under --concurrency auto: where the controller settled (the CSV has the cap).
            Some(a) => Cell::Text(format!("~{:.1}", a.converged)),
            None => s
                .concurrency
                .map_or_else(|| Cell::Text(s.concurrency_text()), Cell::Int),
        }),
        c("conc_auto", "concurrency_converged", 0, CsvOnly, |s| {
            s.adaptive
                .as_ref()
                .map_or(Cell::Missing, |a| Cell::Float(a.converged, 2))
        }),
        c("cpu_work", "cpu_work_ms", 0, CsvOnly, |s| {
            s.cpu_work
                .as_ref()
                .map_or(Cell::Missing, |w| Cell::Float(w.target_ms, 3))
        }),
        c("requests", "requests", 0, CsvOnly, |s| Cell::Int(s.requests)),
        c("issued", "issued", 0, CsvOnly, |s| Cell::Int(s.issued)),
        c("accounted", "accounted", 9, Main, |s| {
            Cell::Text(s.accounted.clone())
        }),
        c("ok", "ok", 6, Main, |s| count(s, Outcome::Ok)),
        c("429", "rate_limited", 5, Main, |s| count(s, Outcome::RateLimited)),
        c("failed", "failed", 6, Compact, |s| {
            Cell::Int(s.count_except(&[Outcome::Ok, Outcome::RateLimited]))
        }),
        c("5xx", "server_error", 5, Main, |s| count(s, Outcome::ServerError)),
        c("4xx", "client_error", 5, Main, |s| count(s, Outcome::ClientError)),
        c("t/o", "timeout", 5, Main, |s| count(s, Outcome::Timeout)),
        c("conn", "transport", 5, Main, |s| count(s, Outcome::Transport)),
        c("big", "too_large", 4, Main, |s| count(s, Outcome::TooLarge)),
        c("cxl", "cancelled", 4, Main, |s| count(s, Outcome::Cancelled)),
        c("attempts", "attempts", 0, CsvOnly, |s| Cell::Int(s.attempts)),
        c("wall_s", "wall_s", 7, Main, |s| Cell::Float(s.wall_s, 3)),
        c("req/s", "throughput_rps", 7, Main, |s| {
            Cell::Float(s.throughput_rps, 1)
        }),
        c("good/s", "goodput_rps", 7, Main, |s| {
            Cell::Float(s.goodput_rps, 1)
        }),
        c("eff", "efficiency", 5, Main, |s| {
            s.efficiency.map_or(Cell::Missing, |e| Cell::Float(e, 3))
        }),
        c("p50_ms", "p50_ms", 7, Main, |s| ms(s.latency_ms, |p| p.p50)),
        c("p90_ms", "p90_ms", 7, Main, |s| ms(s.latency_ms, |p| p.p90)),
        c("p99_ms", "p99_ms", 7, Main, |s| ms(s.latency_ms, |p| p.p99)),
        c("p999_ms", "p999_ms", 0, CsvOnly, |s| ms(s.latency_ms, |p| p.p999)),
        c("max_ms", "max_ms", 8, Main, |s| ms(s.latency_ms, |p| p.max)),
        c("retries", "retries", 7, Main, |s| Cell::Int(s.retries)),
        c("backoff_s", "backoff_s", 0, CsvOnly, |s| {
            Cell::Float(s.backoff_s, 3)
        }),
        c("cpu_s", "cpu_s", 6, Main, |s| Cell::Float(s.cpu_s, 3)),
        c("rss_MB", "peak_rss_mb", 6, Main, |s| {
            Cell::Float(s.peak_rss_bytes as f64 / 1_048_576.0, 1)
        }),
        c("thr", "threads", 4, Main, |s| Cell::Int(s.threads)),
    ]
}

/// The open loop's schedule: target and achieved rates, lag and service time.
fn open_loop_columns() -> Vec<Column> {
    use Block::*;
    vec![
        c("target/s", "target_rps", 10, OpenLoop, |s| {
            s.target_rate.map_or(Cell::Missing, |r| Cell::Float(r, 1))
        }),
        c("achieved/s", "achieved_rps", 10, OpenLoop, |s| {
            s.achieved_rate.map_or(Cell::Missing, |r| Cell::Float(r, 1))
        }),
        c("lag_p50", "lag_p50_ms", 10, OpenLoop, |s| ms(s.lag_ms, |p| p.p50)),
        c("lag_p99", "lag_p99_ms", 10, OpenLoop, |s| ms(s.lag_ms, |p| p.p99)),
        c("svc_p50", "service_p50_ms", 10, OpenLoop, |s| {
            ms(s.service_ms, |p| p.p50)
        }),
        c("svc_p99", "service_p99_ms", 10, OpenLoop, |s| {
            ms(s.service_ms, |p| p.p99)
        }),
    ]
}

/// Streaming: TTFT, ITL, TPOT and token rates.
fn streaming_columns() -> Vec<Column> {
    use Block::*;
    vec![
        c("ttft_p50", "ttft_p50_ms", 9, Streaming, |s| {
            ms(s.ttft_ms, |p| p.p50)
        }),
        c("ttft_p99", "ttft_p99_ms", 9, Streaming, |s| {
            ms(s.ttft_ms, |p| p.p99)
        }),
        c("itl_p50", "itl_p50_ms", 9, Streaming, |s| {
            ms2(s.itl_ms, |p| p.p50)
        }),
        c("itl_p99", "itl_p99_ms", 9, Streaming, |s| {
            ms2(s.itl_ms, |p| p.p99)
        }),
        c("tpot_p50", "tpot_p50_ms", 9, Streaming, |s| {
            ms2(s.tpot_ms, |p| p.p50)
        }),
        c("tpot_p99", "tpot_p99_ms", 9, Streaming, |s| {
            ms2(s.tpot_ms, |p| p.p99)
        }),
        c("tokens", "completion_tokens", 9, Streaming, |s| {
            Cell::Int(s.completion_tokens)
        }),
        c("tok/s", "tokens_per_s", 9, Streaming, |s| {
            Cell::Float(s.tokens_per_s, 0)
        }),
        c("req_tok/s", "request_tokens_per_s_p50", 9, Streaming, |s| {
            ms(s.request_tokens_per_s, |p| p.p50)
        }),
    ]
}

/// Reasoning: the first output token, the reasoning chunks' gaps, the reasoning tokens.
fn reasoning_columns() -> Vec<Column> {
    use Block::*;
    vec![
        c("ttfo_p50", "ttfo_p50_ms", 9, Reasoning, |s| {
            ms(s.ttfo_ms, |p| p.p50)
        }),
        c("ttfo_p99", "ttfo_p99_ms", 9, Reasoning, |s| {
            ms(s.ttfo_ms, |p| p.p99)
        }),
        c("r_itl_p50", "reasoning_itl_p50_ms", 10, Reasoning, |s| {
            ms2(s.reasoning_itl_ms, |p| p.p50)
        }),
        c("r_itl_p99", "reasoning_itl_p99_ms", 10, Reasoning, |s| {
            ms2(s.reasoning_itl_ms, |p| p.p99)
        }),
        c("reasoning", "reasoning_tokens", 10, Reasoning, |s| {
            Cell::Int(s.reasoning_tokens)
        }),
        c("output", "output_tokens", 10, Reasoning, |s| {
            Cell::Int(s.completion_tokens.saturating_sub(s.reasoning_tokens))
        }),
    ]
}

/// Whether a target sent reasoning: the reasoning block is shown.
pub(crate) fn reasoned(r: &RunReport) -> bool {
    r.strategies.iter().any(|s| s.reasoning_tokens > 0)
}

/// The SLO's good requests, then the token counts and how the run ended (CSV only).
fn slo_and_token_columns() -> Vec<Column> {
    use Block::*;
    vec![
        c("slo_ok", "slo_good", 7, Slo, |s| {
            s.good.map_or(Cell::Missing, Cell::Int)
        }),
        c("slo_ok%", "slo_good_share", 7, Slo, |s| {
            s.good_share.map_or(Cell::Missing, |x| Cell::Float(100.0 * x, 1))
        }),
        c("slo_ok/s", "slo_goodput_rps", 8, Slo, |s| {
            s.slo_goodput_rps.map_or(Cell::Missing, |x| Cell::Float(x, 1))
        }),
        c("in_tok", "input_tokens", 0, CsvOnly, |s| {
            Cell::Int(s.input_tokens)
        }),
        c("in_tok_diff", "input_token_mismatches", 0, CsvOnly, |s| {
            Cell::Int(s.input_token_mismatches)
        }),
        c("in_p50", "input_tokens_p50", 0, CsvOnly, |s| {
            ms(s.input_tokens_per_request, |p| p.p50)
        }),
        c("out_p50", "output_tokens_p50", 0, CsvOnly, |s| {
            ms(s.output_tokens_per_request, |p| p.p50)
        }),
        c("ended_by", "ended_by", 0, CsvOnly, |s| {
            Cell::Text(s.ended_by.name().to_owned())
        }),
    ]
}

/// What the wire carried: protocols, and the mock's connections, handshakes and streams.
fn wire_columns() -> Vec<Column> {
    use Block::*;
    vec![
        c("protocol", "protocol", 15, Wire, |s| {
            if s.protocols.is_empty() {
                Cell::Missing
            } else {
                Cell::Text(s.protocols.keys().cloned().collect::<Vec<_>>().join("+"))
            }
        }),
        c("conns", "connections", 7, Wire, |s| {
            s.server
                .as_ref()
                .map_or(Cell::Missing, |c| Cell::Int(c.connections))
        }),
        c("tls_hs", "tls_handshakes", 7, Wire, |s| {
            s.server
                .as_ref()
                .map_or(Cell::Missing, |c| Cell::Int(c.tls_handshakes))
        }),
        c("h2_streams", "http2_streams", 10, Wire, |s| {
            s.server
                .as_ref()
                .map_or(Cell::Missing, |c| Cell::Int(c.http2_streams))
        }),
    ]
}

/// A row; the first column is `first` wide (the longest strategy id, at least its own width).
fn row(cols: &[&Column], first: usize, cells: impl Iterator<Item = String>) -> String {
    let mut line = String::new();
    for (i, (c, v)) in cols.iter().zip(cells).enumerate() {
        if i == 0 {
            let _ = write!(line, "{v:<w$}", w = first.max(c.width));
        } else {
            let _ = write!(line, " {v:>w$}", w = c.width);
        }
    }
    line.push('\n');
    line
}

fn block(out: &mut String, r: &RunReport, all: &[Column], b: Block, title: &'static str, wide: bool) {
    let cols: Vec<&Column> = all
        .iter()
        .enumerate()
        .filter(|(i, c)| match b {
            Block::Main => in_main(c, wide),
            _ => c.block == b || *i == 0,
        })
        .map(|(_, c)| c)
        .collect();
    let headers = cols.iter().enumerate().map(|(i, c)| {
        if i == 0 {
            title.to_owned()
        } else {
            c.header.to_owned()
        }
    });
    let first = name_width(r);
    out.push_str(&row(&cols, first, headers));
    for s in &r.strategies {
        out.push_str(&row(&cols, first, cols.iter().map(|c| (c.value)(s).table())));
    }
}

/// The external clients of a run, for the footnotes of the table and the page: a heading line,
/// then per client its start-up, the harness's cost, its command and its failure.
pub(crate) fn external_notes(r: &RunReport) -> Option<(String, Vec<(String, String)>)> {
    let rows: Vec<(String, String)> = r
        .strategies
        .iter()
        .filter_map(|s| {
            let e = s.external.as_ref()?;
            Some((
                s.id.id().to_owned(),
                format!(
                    "start-up {:.2} s, {:.2} s CPU · harness {} · {}{}",
                    e.startup_s,
                    e.startup_cpu_s,
                    e.harness_cpu_us_per_request
                        .map_or_else(|| "-".to_owned(), |us| format!("{us:.1} µs/request")),
                    e.command,
                    e.failure
                        .as_ref()
                        .map_or_else(String::new, |f| format!(" · FAILED: {f}")),
                ),
            ))
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    Some((
        format!(
            "external clients ({}): a process of their own · cpu_s, rss_MB, thr: that process's, measured from outside (cpu_s after its start-up) · harness: asyncbench's own CPU reading their lines",
            ids.join(", ")
        ),
        rows,
    ))
}

/// The width of the strategy column: its longest id (`py-blocking-in-async`), at least 13.
fn name_width(r: &RunReport) -> usize {
    r.strategies
        .iter()
        .map(|s| s.id.id().len())
        .max()
        .unwrap_or(0)
        .max(13)
}

/// The mock's effective settings in one line: latency, token timing, faults, limits, seed.
pub(crate) fn mock_settings(p: &Profile) -> String {
    let mut faults: Vec<String> = p
        .faults()
        .active()
        .map(|(name, prob, _)| format!("{name} {prob}"))
        .collect();
    faults.extend(p.schedule.iter().map(|r| format!("schedule {r}")));
    if p.rate_429 > 0.0 || p.schedule.iter().any(|r| r.to_string().ends_with(":429")) {
        faults.push(format!("retry-after {}", format_duration(p.retry_after)));
    }
    let mut limits = Vec::new();
    if let Some(r) = p.rpm {
        limits.push(format!("rpm {r}"));
    }
    if !p.rpm_schedule.is_empty() {
        let steps: Vec<String> = p.rpm_schedule.iter().map(ToString::to_string).collect();
        limits.push(format!("rpm schedule {}", steps.join(",")));
    }
    if let Some(t) = p.tpm {
        limits.push(format!("tpm {t}"));
    }
    if !limits.is_empty() {
        limits.push(format!("window {}", format_duration(p.limit_window)));
    }
    if let Some(n) = p.capacity {
        limits.push(format!("capacity {n} at once"));
    }
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_owned()
        } else {
            v.join(", ")
        }
    };
    let reasoning = if p.reasoning_tokens > 0 {
        format!(" · reasoning {} first", p.reasoning_tokens)
    } else {
        String::new()
    };
    format!(
        "latency {} · ttft {} · itl {} · tokens {}{reasoning} · faults {} · limits {} · seed {}",
        p.latency,
        p.ttft,
        p.itl,
        p.tokens,
        list(faults),
        list(limits),
        p.seed.map_or("clock".to_owned(), |s| s.to_string())
    )
}

/// The table printed on stdout: settings, the main block, the open-loop and streaming blocks
/// when they apply, the legend, and the error breakdown.
pub fn table(r: &RunReport, wide: bool) -> String {
    let mut t = String::new();
    settings_lines(&mut t, r);
    let all = columns();
    block(&mut t, r, &all, Block::Main, "strategy", wide);
    t.push_str(&crate::output::rounds::rounds_block(r));
    controller_lines(&mut t, r);
    extra_blocks(&mut t, r, &all);
    footnotes(&mut t, r, wide);
    t
}

/// The width the table's notes wrap at, and the compact table fits in.
pub(crate) const WIDTH: usize = 120;

/// A note wrapped at [`WIDTH`]: broken between its ` · `-separated parts where it can, else
/// between words; continuation lines indented by two spaces.
pub(crate) fn wrap(line: &str) -> String {
    wrap_indented(line, "  ")
}

/// [`wrap`], continuation lines starting with `indent`.
pub(crate) fn wrap_indented(line: &str, indent: &str) -> String {
    let mut out = String::new();
    let body = line.trim_start();
    let mut cur = line[..line.len() - body.len()].to_owned();
    for word in body.split(' ') {
        let len = cur.chars().count();
        let over = len + 1 + word.chars().count() > WIDTH;
        // Break before a `·` once the line is long, so that a part stays whole where it can.
        let at_part = word == "·" && len > WIDTH * 2 / 3;
        if !cur.trim().is_empty() && (over || at_part) {
            out.push_str(&cur);
            out.push('\n');
            cur = indent.to_owned();
        }
        if !cur.trim().is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    out.push_str(&cur);
    out.push('\n');
    out
}

/// The lines above the table: an incomplete run's reason, the settings, the mock's, the
/// duration, each strategy's warm-up.
fn settings_lines(t: &mut String, r: &RunReport) {
    let c = &r.config;
    if let Some(why) = &r.incomplete_reason {
        let _ = writeln!(
            t,
            "INCOMPLETE RUN: {why}; the figures below cover what was measured until then"
        );
    }
    t.push_str(&settings_header(c, false));
    for s in &r.strategies {
        if let Some(w) = &s.warmup {
            let outcomes: Vec<String> = w.outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect();
            let _ = writeln!(
                t,
                "warm-up {}: {} requests ({}) in {:.3} s, in no figure below",
                s.id,
                w.issued,
                outcomes.join(", "),
                w.wall_s
            );
        }
    }
}

/// The settings, the mock's and the duration, wrapped at [`WIDTH`]: above the table, and
/// (`before` the run, in the future tense) at the top of the live view.
pub(crate) fn settings_header(c: &ConfigSummary, before: bool) -> String {
    let mut t = String::new();
    let count = c
        .requests
        .map_or_else(|| "no request cap".to_owned(), |n| format!("{n} requests"));
    let requests = match c.rounds {
        1 => count,
        k => format!("{count} × {k} rounds"),
    };
    t.push_str(&wrap(&format!(
        "{} · target {}{} ({}){} · retry {} · timeout {} · max body {} MiB{}{}{}",
        requests,
        c.target,
        c.proxy
            .as_ref()
            .map(|p| format!(" through the proxy {p}"))
            .unwrap_or_default(),
        c.isolation.describe(),
        match c.workload.api {
            crate::model::plan::Api::Openai => "",
            crate::model::plan::Api::Anthropic => " · Anthropic Messages API",
            crate::model::plan::Api::Embeddings => " · embeddings",
        },
        c.retry,
        format_duration(std::time::Duration::from_secs_f64(c.timeout_s)),
        c.max_body_bytes >> 20,
        if c.workload.stream { " · streaming" } else { "" },
        if c.http2 {
            " · HTTP/2 asked of the async strategies"
        } else {
            ""
        },
        if c.insecure {
            " · INSECURE: any certificate accepted"
        } else {
            ""
        }
    )));
    if let Some(p) = &c.mock {
        t.push_str(&wrap(&format!("mock: {}", mock_settings(p))));
    }
    if let Some(d) = c.duration_s {
        let cap = c
            .requests
            .map(|n| format!(" or {n} requests, whichever came first"))
            .unwrap_or_default();
        let runs = if before { "runs" } else { "ran" };
        let _ = writeln!(t, "each strategy {runs} for {d} s{cap}");
    }
    if let Some(r) = c.ramp_s {
        let _ = writeln!(
            t,
            "ramp: each phase's slots opened evenly over {:.0} ms (batched not ramped: its batches start together)",
            r * 1e3
        );
    }
    t
}

/// Under the main block: what `--concurrency auto` settled at and where `--cpu-work` ran.
fn controller_lines(t: &mut String, r: &RunReport) {
    for s in &r.strategies {
        if let Some(a) = &s.adaptive {
            let _ = write!(
                t,
                "auto {}: settled at {:.1} in flight (median of the second half; started at {}, cap {}), last {:.1}, {} cuts, {:.2} % of answers 429",
                s.id,
                a.converged,
                a.initial,
                a.max,
                a.last,
                a.cuts,
                a.share_429 * 100.0
            );
            let _ = match s.rounds.len() {
                n @ 2.. => writeln!(t, " (the last of {n} rounds)"),
                _ => writeln!(t),
            };
        }
    }
    for s in &r.strategies {
        if let Some(w) = &s.cpu_work {
            let on: Vec<String> = w
                .ran_on
                .iter()
                .map(|(k, n)| format!("{}×{n}", k.trim_end_matches('-')))
                .collect();
            let _ = writeln!(
                t,
                "cpu work {}: {} pieces of {} ms asked ({} hash rounds), {:.3} ms CPU each on average, ran on {}",
                s.id,
                w.runs,
                w.target_ms,
                w.rounds,
                w.mean_cpu_ms,
                if on.is_empty() {
                    "nothing".to_owned()
                } else {
                    on.join(", ")
                }
            );
        }
    }
}

/// The blocks a run has only with their settings: open loop, streaming, wire, SLO.
fn extra_blocks(t: &mut String, r: &RunReport, all: &[Column]) {
    let c = &r.config;
    if r.strategies.iter().any(|s| s.target_rate.is_some()) {
        t.push('\n');
        block(t, r, all, Block::OpenLoop, "open loop", true);
    }
    if r.strategies.iter().any(|s| s.ttft_ms.is_some()) {
        t.push('\n');
        block(t, r, all, Block::Streaming, "streaming", true);
    }
    if reasoned(r) {
        t.push('\n');
        block(t, r, all, Block::Reasoning, "reasoning", true);
    }
    if let Some(n) = r.strategies.iter().find_map(|s| s.inputs_per_request) {
        let rates: Vec<String> = r
            .strategies
            .iter()
            .map(|s| format!("{} {:.1}", s.id, s.goodput_rps * n as f64))
            .collect();
        t.push_str(&wrap(&format!(
            "embeddings: {n} inputs a request (--batch-size) · inputs/s (good/s × {n}): {}",
            rates.join(", ")
        )));
    }
    if r.strategies
        .iter()
        .any(|s| s.server.is_some() || !s.protocols.is_empty())
    {
        t.push('\n');
        block(t, r, all, Block::Wire, "wire", true);
    }
    if c.slo.is_set() {
        t.push('\n');
        block(t, r, all, Block::Slo, "slo", true);
        t.push_str(&wrap(&format!(
            "slo: {} · slo_ok: successful requests that met every limit · slo_ok%: of those issued · slo_ok/s: per second of wall time",
            c.slo.describe()
        )));
    }
}

/// What the columns mean, the external clients' notes, and the error breakdown.
fn footnotes(t: &mut String, r: &RunReport, wide: bool) {
    if r.strategies.iter().any(|s| s.server.is_some()) {
        t.push_str(&wrap(
            "wire: protocol of the successful answers (ureq speaks HTTP/1.1 only) · conns, tls_hs, h2_streams: counted by the mock during the strategy",
        ));
    }
    let columns = if wide {
        "eff: good/s ÷ (conc ÷ mean mock delay)"
    } else {
        "failed: every other outcome (5xx, 4xx, timeouts, connection errors, too large, cancelled: --wide shows each, with eff, p90 and max)"
    };
    t.push_str(&wrap(&format!(
        "latency: end-to-end of successful requests, from intended start, retries included (- when none succeeded) · {columns} · cpu_s: client CPU, mock excluded · rss_MB: whole process · thr: threads the strategy ran on at peak"
    )));
    if let Some((head, rows)) = external_notes(r) {
        let _ = writeln!(t, "{head}");
        for (id, text) in rows {
            let _ = writeln!(t, "  {id:<w$} {text}", w = name_width(r));
        }
    }
    if let Some(note) = token_count_note(r) {
        t.push_str(&wrap(&note));
    }
    if r.strategies.iter().any(|s| s.ttft_ms.is_some()) {
        t.push_str(&wrap(
            "streaming (ms): ttft send → first token (reasoning or content) · itl gaps between content chunks · tpot (end − ttft) ÷ (tokens − 1) · tok/s all tokens ÷ wall · req_tok/s per-request p50",
        ));
    }
    if reasoned(r) {
        t.push_str(&wrap(
            "reasoning (ms): ttfo send → first output (content) token · r_itl gaps between reasoning chunks · reasoning, output: tokens of each, reasoning inside tokens",
        ));
    }
    distortion_lines(t, r);
    if r.strategies.iter().any(|s| !s.errors.is_empty()) {
        let _ = writeln!(
            t,
            "\nerrors (failed attempts by class, with the first one's sample):"
        );
        for s in &r.strategies {
            for e in &s.errors {
                let line = format!(
                    "  {:<w$} {:<20} {:>7}  {}",
                    s.id.to_string(),
                    e.class,
                    e.count,
                    e.sample.replace(['\n', '\r'], " "),
                    w = name_width(r)
                );
                // The compact table cuts each sample at the width (--wide and report.json
                // keep it whole).
                let shown = match line.char_indices().nth(WIDTH - 1) {
                    Some((i, _)) if !wide => format!("{}…", &line[..i]),
                    _ => line,
                };
                let _ = writeln!(t, "{shown}");
            }
        }
    }
}

/// The measurement's own error, per strategy (mock late · transit · harness, p50 / p99 / max),
/// what each side is, and a warning naming each side past its budget.
fn distortion_lines(t: &mut String, r: &RunReport) {
    let Some(block) = distortion_block(r) else {
        return;
    };
    let _ = write!(t, "\n{block}");
    for w in distortion_warnings(r) {
        t.push_str(&wrap(&format!("warning: {w}")));
    }
}

/// The distortion block's text (head, a row per strategy, what each side is), `None` when no
/// strategy measured any (the table's footnote and the page's section).
pub(crate) fn distortion_block(r: &RunReport) -> Option<String> {
    let (rows, sides) = distortion_rows(r)?;
    let heads: Vec<&str> = sides.iter().map(|s| s.head()).collect();
    let cell = |p: Option<Percentiles>| {
        p.map_or_else(
            || "-".to_owned(),
            |p| format!("{:.3}/{:.3}/{:.3}", p.p50, p.p99, p.max),
        )
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(_, d)| sides.iter().map(|side| cell(d.side(*side))).collect())
        .collect();
    // Each column as wide as its widest cell or head.
    let widths: Vec<usize> = (0..heads.len())
        .map(|i| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([heads[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let w = name_width(r);
    let mut t = format!("{:<w$}", "distortion, ms", w = w + 2);
    for (h, cw) in heads.iter().zip(&widths) {
        let _ = write!(t, " {h:<cw$}");
    }
    t.push_str("   (p50/p99/max)\n");
    for ((s, _), row) in rows.iter().zip(&cells) {
        let _ = write!(t, "  {:<w$}", s.id.to_string());
        for (c, cw) in row.iter().zip(&widths) {
            let _ = write!(t, " {c:<cw$}");
        }
        t = t.trim_end().to_owned();
        t.push('\n');
    }
    t.push_str(&wrap(&distortion_note(sides)));
    Some(t)
}

/// Each strategy that measured its distortion, with it.
pub(crate) type DistortionRows<'a> = Vec<(&'a StrategyReport, Distortion)>;

/// The strategies that measured their distortion, and the sides to show of each: all four when
/// any strategy read the mock's stamps, else the harness's alone (`None`: no strategy has any).
pub(crate) fn distortion_rows(r: &RunReport) -> Option<(DistortionRows<'_>, &'static [Side])> {
    let rows: DistortionRows<'_> = r
        .strategies
        .iter()
        .filter_map(|s| Some((s, s.distortion?)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let stamped = rows.iter().any(|(_, d)| d.mock_late_ms.is_some());
    Some((rows, if stamped { &Side::ALL } else { &[Side::Harness] }))
}

/// What the distortion's shown sides are, and their budget.
pub(crate) fn distortion_note(shown: &[Side]) -> String {
    let sides = if shown.contains(&Side::Mock) {
        "request: the client's send → the mock's handler (connection, kernel, the mock's parse) · mock late: the mock's write − when it meant to write (its stamps) · transit: the client's read − the mock's write (kernel, runtime, client) · "
    } else {
        "no stamps read (the target is not a mock on this host, or stamps are off): only the harness's part · "
    };
    format!(
        "{sides}harness: a request's last byte read (an external client's line) → counted · budget at p99: {} ms or {:.0} % of the latency p50, whichever is more",
        BUDGET_FLOOR_MS,
        BUDGET_SHARE * 100.0
    )
}

/// One warning per strategy with a side past its budget, naming the sides and their p99s.
pub(crate) fn distortion_warnings(r: &RunReport) -> Vec<String> {
    r.strategies
        .iter()
        .filter_map(|s| {
            let d = s.distortion?;
            budget_warning(&s.id.to_string(), &d.over_budget(s.latency_ms.map(|p| p.p50)))
        })
        .collect()
}

/// The warning for `who` (a strategy, or a strategy at a sweep's point) whose sides in `over`
/// passed the budget; `None` when none did.
pub(crate) fn budget_warning(who: &str, over: &[crate::model::distortion::OverBudget]) -> Option<String> {
    let budget = over.first()?.budget_ms;
    let sides: Vec<String> = over
        .iter()
        .map(|o| format!("{} {:.3} ms", o.side.name(), o.p99_ms))
        .collect();
    Some(format!(
        "{who}: past the {budget:.3} ms budget at p99: {}: that part of its tail is the measurement's, not the target's",
        sides.join(", ")
    ))
}

/// When the target counted prompts otherwise than `--tokenizer` did (its `usage.prompt_tokens`
/// against the harness's count), how often: its tokenizer is another, and its counts are the
/// ones reported.
pub(crate) fn token_count_note(r: &RunReport) -> Option<String> {
    let differ: u64 = r.strategies.iter().map(|s| s.input_token_mismatches).sum();
    if differ == 0 {
        return None;
    }
    let ok: u64 = r.strategies.iter().map(|s| s.count(Outcome::Ok)).sum();
    Some(format!(
        "input tokens: the target counted {differ} of {ok} successful requests' prompts otherwise than --tokenizer {} ({:.1} %); its own counts are reported (give --tokenizer its encoding to compare like with like)",
        r.config.workload.tokenizer,
        100.0 * differ as f64 / ok.max(1) as f64
    ))
}

/// `summary.csv`: one row per strategy, every column.
pub(crate) fn csv(r: &RunReport) -> String {
    let all: Vec<Column> = columns()
        .into_iter()
        .filter(|c| c.block != Block::Compact)
        .collect();
    let mut out = all.iter().map(|c| c.csv).collect::<Vec<_>>().join(",");
    out.push('\n');
    for s in &r.strategies {
        let line: Vec<String> = all.iter().map(|c| (c.value)(s).csv()).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Notes wrap at 120 columns, between parts where they can, every word kept in order.
    #[test]
    fn notes_wrap_at_the_width_keeping_every_word() {
        let line = (0..40)
            .map(|i| format!("part{i}: a few words here"))
            .collect::<Vec<_>>()
            .join(" · ");
        let wrapped = wrap(&line);
        assert!(wrapped.lines().count() > 5);
        for l in wrapped.lines() {
            assert!(l.chars().count() <= WIDTH, "{l}");
        }
        let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(&line));
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("  ")));
        assert_eq!(wrap("short · note"), "short · note\n");
    }
}
