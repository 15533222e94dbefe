//! Merging the reports of a sharded run (`--shard K/N` on several machines) into one, exactly:
//! histograms are added (from the V2-encoded histograms every report carries, so percentiles
//! come from all the values, never from averaging percentiles), counts are summed, and the wall
//! time runs from the earliest start to the latest end. Reports of different workloads, and
//! shards missing or repeated, are refused.

use crate::model::error::MergeError;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::model::hist;
use crate::model::outcome::Outcome;
use crate::model::plan::Shard;
use crate::model::report::{
    EndedBy, ErrorRow, RunReport, ServerCheck, ShardInfo, StrategyReport, WarmupReport, efficiency,
};
use crate::model::rounds::{Round, Spread, steady_goodput};
use crate::model::series::{Percentiles, Series, new_histogram};
use crate::model::strategy::Strategy;

/// Every place two JSON values differ, as (path, ours, theirs).
pub(crate) fn differences(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            let null = serde_json::Value::Null;
            for k in keys {
                differences(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a == b => {}
        _ => out.push((path.to_owned(), a.to_string(), b.to_string())),
    }
}

/// What a merge adds up must add up in each report: every issued request has one outcome, the
/// report's own check passed, and the histograms the first shard has are all there.
fn check_counts(index: usize, s: &StrategyReport, series: &[&String]) -> Result<(), MergeError> {
    let bad = |why: String| MergeError::Counts {
        index,
        strategy: s.id,
        why,
    };
    let outcomes: u64 = s.outcomes.values().sum();
    if outcomes != s.issued {
        return Err(bad(format!(
            "has {outcomes} outcomes for {} requests issued",
            s.issued
        )));
    }
    if !s.accounted_ok {
        return Err(bad(format!("failed its own accounting ({})", s.accounted)));
    }
    if let Some(missing) = series.iter().find(|n| !s.histograms.contains_key(**n)) {
        return Err(MergeError::Histogram {
            index,
            strategy: s.id,
            series: (*missing).clone(),
            why: "is missing (report 0 has it)".into(),
        });
    }
    Ok(())
}

/// The settings that must agree for reports to be of one run: the config without its shard.
fn workload(r: &RunReport) -> serde_json::Value {
    config_without(&r.config, &["shard"])
}

/// A report's configuration as JSON, without the settings `drop` names (those that may differ
/// between reports that are otherwise of one workload).
pub(crate) fn config_without(
    config: &crate::model::report::ConfigSummary,
    drop: &[&str],
) -> serde_json::Value {
    let mut v = serde_json::to_value(config).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for k in drop {
            m.remove(*k);
        }
    }
    v
}

fn decode_all(parts: &[(usize, &StrategyReport)]) -> Result<BTreeMap<String, Histogram<u64>>, MergeError> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (i, s) in parts {
        for (name, enc) in &s.histograms {
            let h = hist::decode(enc).map_err(|why| MergeError::Histogram {
                index: *i,
                strategy: s.id,
                series: name.clone(),
                why,
            })?;
            let slot = out.entry(name.clone()).or_insert_with(new_histogram);
            // Both auto-resize: adding cannot fail on range.
            let _ = slot.add(&h);
        }
    }
    Ok(out)
}

fn sum_maps<K: Ord + Clone>(maps: impl Iterator<Item = BTreeMap<K, u64>>) -> BTreeMap<K, u64> {
    let mut out = BTreeMap::new();
    for m in maps {
        for (k, v) in m {
            *out.entry(k).or_default() += v;
        }
    }
    out
}

/// How the parts of a merge ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combine {
    /// At the same time (shards): wall time from the first start to the last end, concurrency
    /// and threads added up.
    Parallel,
    /// One after another (rounds): wall times added up, the concurrency of one, the most
    /// threads of any, every round's figures kept.
    Sequential,
}

/// The rounds of one strategy (each a full run of it) as one report: histograms added (so every
/// percentile is over all rounds' requests, exactly), counts summed, rates over the summed wall
/// time, each round's figures kept in `rounds` and their spread in `spread`. The adaptive
/// controller's and the CPU work's records are the last round's.
pub(crate) fn merge_rounds(
    rounds: &[StrategyReport],
    mean_delay_s: Option<f64>,
) -> Result<StrategyReport, MergeError> {
    let parts: Vec<(usize, &StrategyReport)> = rounds.iter().enumerate().collect();
    if parts.is_empty() {
        return Err(MergeError::Empty);
    }
    merge_strategy(&parts, mean_delay_s, Combine::Sequential)
}

/// One strategy merged from its parts.
fn merge_strategy(
    parts: &[(usize, &StrategyReport)],
    mean_delay_s: Option<f64>,
    how: Combine,
) -> Result<StrategyReport, MergeError> {
    let first = parts[0].1;
    let last = parts[parts.len() - 1].1;
    let sequential = how == Combine::Sequential;
    let hists = decode_all(parts)?;
    let pct = |s: Series| hists.get(&s.to_string()).and_then(Percentiles::of);
    // Saturating: a target's token counts are its word, and may be absurd.
    let sum = |f: fn(&StrategyReport) -> u64| parts.iter().fold(0u64, |a, (_, s)| a.saturating_add(f(s)));
    let sumf = |f: fn(&StrategyReport) -> f64| parts.iter().map(|(_, s)| f(s)).sum::<f64>();
    let (started, ended) = span(parts);
    let wall_s = if sequential {
        sumf(|s| s.wall_s)
    } else {
        ((ended - started) / 1000.0).max(0.0)
    };
    let wall = wall_s.max(1e-9);
    let outcomes = sum_maps(parts.iter().map(|(_, s)| s.outcomes.clone()));
    let count = |o: Outcome| outcomes.get(&o).copied().unwrap_or(0);
    let total: u64 = outcomes.values().sum();
    let ok = count(Outcome::Ok);
    let issued = sum(|s| s.issued);
    // No limit on any shard is none on the whole.
    let concurrency = if sequential {
        first.concurrency
    } else {
        parts
            .iter()
            .try_fold(0u64, |a, (_, s)| Some(a.saturating_add(s.concurrency?)))
    };
    let slo_set = parts.iter().any(|(_, s)| s.good.is_some());
    let good = slo_set.then(|| parts.iter().filter_map(|(_, s)| s.good).sum::<u64>());
    let rate = |f: fn(&StrategyReport) -> Option<f64>| merge_rate(parts, f, sequential);
    let rounds: Vec<Round> = if sequential {
        parts.iter().flat_map(|(_, s)| s.rounds.iter().cloned()).collect()
    } else {
        Vec::new()
    };
    let completion_tokens = sum(|s| s.completion_tokens);
    Ok(StrategyReport {
        id: first.id,
        concurrency,
        requests: sum(|s| s.requests),
        issued,
        outcomes: Outcome::ALL.iter().map(|o| (*o, count(*o))).collect(),
        accounted: format!("{total}/{issued}"),
        accounted_ok: total == issued && parts.iter().all(|(_, s)| s.accounted_ok),
        attempts: sum(|s| s.attempts),
        attempt_outcomes: sum_maps(parts.iter().map(|(_, s)| s.attempt_outcomes.clone())),
        errors: merge_errors(parts),
        protocols: sum_maps(parts.iter().map(|(_, s)| s.protocols.clone())),
        retries: sum(|s| s.retries),
        backoff_s: sumf(|s| s.backoff_s),
        wall_s,
        throughput_rps: (total - count(Outcome::Cancelled)) as f64 / wall,
        goodput_rps: ok as f64 / wall,
        efficiency: efficiency(ok as f64 / wall, mean_delay_s, concurrency),
        latency_ms: pct(Series::E2e(Outcome::Ok)),
        latency_all_ms: Percentiles::of(&every_outcome(&hists)),
        latency_by_outcome_ms: Outcome::ALL
            .iter()
            .filter_map(|o| pct(Series::E2e(*o)).map(|p| (*o, p)))
            .collect(),
        lag_ms: pct(Series::Lag),
        service_ms: pct(Series::Service(Outcome::Ok)),
        target_rate: rate(|s| s.target_rate),
        achieved_rate: rate(|s| s.achieved_rate),
        ttft_ms: pct(Series::Ttft),
        ttfo_ms: pct(Series::Ttfo),
        distortion: crate::model::distortion::Distortion::of(
            pct(Series::RequestPath),
            pct(Series::MockLate),
            pct(Series::Transit),
            pct(Series::HarnessLate),
        ),
        reasoning_itl_ms: pct(Series::ReasoningItl),
        reasoning_tokens: sum(|s| s.reasoning_tokens),
        inputs_per_request: parts.first().and_then(|(_, s)| s.inputs_per_request),
        itl_ms: pct(Series::Itl),
        tpot_ms: pct(Series::Tpot),
        request_tokens_per_s: pct(Series::RequestTokensPerS),
        completion_tokens,
        tokens_per_s: completion_tokens as f64 / wall,
        cpu_s: sumf(|s| s.cpu_s),
        // Machines differ: the largest of them, not a sum of processes that never shared memory.
        peak_rss_bytes: parts.iter().map(|(_, s)| s.peak_rss_bytes).max().unwrap_or(0),
        threads: if sequential {
            parts.iter().map(|(_, s)| s.threads).max().unwrap_or(0)
        } else {
            sum(|s| s.threads)
        },
        server: merge_checks(parts),
        ended_by: merge_ended_by(parts),
        started_unix_ms: started,
        ended_unix_ms: ended,
        start_spread_s: (!sequential).then(|| (last_start(parts) - started) / 1000.0),
        warmup: merge_warmups(parts),
        good,
        good_share: good.map(|g| {
            if issued == 0 {
                0.0
            } else {
                g as f64 / issued as f64
            }
        }),
        slo_goodput_rps: good.map(|g| g as f64 / wall),
        input_tokens: sum(|s| s.input_tokens),
        input_token_mismatches: sum(|s| s.input_token_mismatches),
        input_tokens_per_request: pct(Series::InputTokens),
        output_tokens_per_request: pct(Series::OutputTokens),
        adaptive: if sequential { last.adaptive.clone() } else { None },
        cpu_work: if sequential { last.cpu_work.clone() } else { None },
        external: merge_external(parts.iter().map(|(_, s)| *s)),
        steady_goodput_rps: steady_goodput(&rounds),
        spread: Spread::of(&rounds),
        rounds,
        histograms: hists.iter().map(|(k, h)| (k.clone(), hist::encode(h))).collect(),
    })
}

/// When the first part started and the last one ended, Unix ms.
fn span(parts: &[(usize, &StrategyReport)]) -> (f64, f64) {
    let started = parts
        .iter()
        .map(|(_, s)| s.started_unix_ms)
        .fold(f64::MAX, f64::min);
    let ended = parts
        .iter()
        .map(|(_, s)| s.ended_unix_ms)
        .fold(f64::MIN, f64::max);
    (started, ended)
}

/// When the last part started, Unix ms.
fn last_start(parts: &[(usize, &StrategyReport)]) -> f64 {
    parts
        .iter()
        .map(|(_, s)| s.started_unix_ms)
        .fold(f64::MIN, f64::max)
}

/// A rate of the parts that have one: shards' add up, rounds' (`sequential`) are averaged.
fn merge_rate(
    parts: &[(usize, &StrategyReport)],
    f: fn(&StrategyReport) -> Option<f64>,
    sequential: bool,
) -> Option<f64> {
    let v: Vec<f64> = parts.iter().filter_map(|(_, s)| f(s)).collect();
    let total: f64 = v.iter().sum();
    (!v.is_empty()).then(|| if sequential { total / v.len() as f64 } else { total })
}

/// The end-to-end latencies of every outcome in one histogram.
fn every_outcome(hists: &BTreeMap<String, Histogram<u64>>) -> Histogram<u64> {
    let mut all = new_histogram();
    for o in Outcome::ALL {
        if let Some(h) = hists.get(&Series::E2e(o).to_string()) {
            let _ = all.add(h);
        }
    }
    all
}

/// The error breakdowns added up by class, most frequent first (each class keeps its first
/// sample).
fn merge_errors(parts: &[(usize, &StrategyReport)]) -> Vec<ErrorRow> {
    let mut errors: BTreeMap<String, ErrorRow> = BTreeMap::new();
    for (_, s) in parts {
        for e in &s.errors {
            errors
                .entry(e.class.clone())
                .and_modify(|x| x.count += e.count)
                .or_insert_with(|| e.clone());
        }
    }
    let mut errors: Vec<ErrorRow> = errors.into_values().collect();
    errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.class.cmp(&b.class)));
    errors
}

/// The mock's cross-checks added up, when every part has one (they agree only if each did).
fn merge_checks(parts: &[(usize, &StrategyReport)]) -> Option<ServerCheck> {
    let checks: Option<Vec<&ServerCheck>> = parts.iter().map(|(_, s)| s.server.as_ref()).collect();
    checks.map(|cs| ServerCheck {
        attempts_sent: cs.iter().map(|c| c.attempts_sent).sum(),
        requests_received: cs.iter().map(|c| c.requests_received).sum(),
        matches: cs.iter().all(|c| c.matches),
        responses_by_status: sum_maps(cs.iter().map(|c| c.responses_by_status.clone())),
        connections: cs.iter().map(|c| c.connections).sum(),
        tls_handshakes: cs.iter().map(|c| c.tls_handshakes).sum(),
        http2_streams: cs.iter().map(|c| c.http2_streams).sum(),
    })
}

/// What ended the merged strategy: a signal in any shard ended the whole early; else time, if
/// any shard ran by it; else the count.
fn merge_ended_by(parts: &[(usize, &StrategyReport)]) -> EndedBy {
    let any = |e: EndedBy| parts.iter().any(|(_, s)| s.ended_by == e);
    if any(EndedBy::Signal) {
        EndedBy::Signal
    } else if any(EndedBy::Duration) {
        EndedBy::Duration
    } else {
        EndedBy::Count
    }
}

/// The shards' warm-ups as one: requests and outcomes added up, the longest wall time.
fn merge_warmups(parts: &[(usize, &StrategyReport)]) -> Option<WarmupReport> {
    let warmups: Vec<&WarmupReport> = parts.iter().filter_map(|(_, s)| s.warmup.as_ref()).collect();
    (!warmups.is_empty()).then(|| WarmupReport {
        issued: warmups.iter().map(|w| w.issued).sum(),
        outcomes: sum_maps(warmups.iter().map(|w| w.outcomes.clone())),
        wall_s: warmups.iter().map(|w| w.wall_s).fold(0.0, f64::max),
    })
}

/// The shards' external-client records as one: the harness's CPU added up, the slowest start-up,
/// every failure named.
fn merge_external<'a>(
    parts: impl Iterator<Item = &'a StrategyReport>,
) -> Option<crate::model::report::ExternalReport> {
    let ext: Vec<&crate::model::report::ExternalReport> = parts.filter_map(|s| s.external.as_ref()).collect();
    let first = ext.first()?;
    let failures: Vec<&str> = ext.iter().filter_map(|e| e.failure.as_deref()).collect();
    let harness_cpu_s = ext.iter().map(|e| e.harness_cpu_s).sum::<f64>();
    Some(crate::model::report::ExternalReport {
        command: first.command.clone(),
        startup_s: ext.iter().map(|e| e.startup_s).fold(0.0, f64::max),
        startup_cpu_s: ext.iter().map(|e| e.startup_cpu_s).sum(),
        harness_cpu_s,
        harness_cpu_us_per_request: None,
        failure: (!failures.is_empty()).then(|| failures.join("; ")),
        stderr_tail: None,
    })
}

/// Merges the reports of one run's shards (or several unsharded runs of one workload) into one.
pub fn merge(reports: &[RunReport], allow_partial: bool) -> Result<RunReport, MergeError> {
    let base = reports.first().ok_or(MergeError::Empty)?;
    let missing = check_shards(reports)?;
    if !missing.is_empty() && !allow_partial {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            n: base.config.shard.unwrap_or(WHOLE).n,
        });
    }
    // Strategy by strategy, in the order they first appear.
    let mut order: Vec<Strategy> = Vec::new();
    for s in reports.iter().flat_map(|r| &r.strategies) {
        if !order.contains(&s.id) {
            order.push(s.id);
        }
    }
    let mean = base.config.mock_mean_delay_s;
    let mut strategies = Vec::new();
    for id in order {
        let parts: Vec<(usize, &StrategyReport)> = reports
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.strategies
                    .iter()
                    .filter(move |s| s.id == id)
                    .map(move |s| (i, s))
            })
            .collect();
        strategies.push(merge_strategy(&parts, mean, Combine::Parallel)?);
    }
    let reasons = incomplete_reasons(reports, &strategies, &missing);
    let mut provenance = base.provenance.clone();
    provenance.started_unix = reports
        .iter()
        .map(|r| r.provenance.started_unix)
        .min()
        .unwrap_or(0);
    provenance.ended_unix = reports.iter().map(|r| r.provenance.ended_unix).max().unwrap_or(0);
    let mut config = base.config.clone();
    config.shard = None;
    Ok(RunReport {
        provenance,
        config,
        strategies,
        complete: reasons.is_empty(),
        incomplete_reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        merged_from: reports.iter().map(shard_info).collect(),
        log_wait_s: reports.iter().filter_map(|r| r.log_wait_s).reduce(|a, b| a + b),
    })
}

/// An unsharded run: the one shard of one.
const WHOLE: Shard = Shard { k: 0, n: 1 };

/// Checks that the reports can merge (one workload, the same strategies unless cut short, the
/// counts adding up, one shard count, no shard twice); the shards missing.
fn check_shards(reports: &[RunReport]) -> Result<Vec<String>, MergeError> {
    let Some(base) = reports.first() else {
        return Err(MergeError::Empty);
    };
    // Unsharded runs merge (each the whole workload), so a report given twice would count its
    // requests twice: `merge run run` said it merged two runs.
    if let Some(index) = crate::model::first_repeat(reports) {
        let first = reports.iter().position(|r| *r == reports[index]).unwrap_or(0);
        return Err(MergeError::SameReport { index, first });
    }
    let want = workload(base);
    let n = base.config.shard.unwrap_or(WHOLE).n;
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let ids = |r: &RunReport| {
        r.strategies
            .iter()
            .map(|s| s.id.id())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, r) in reports.iter().enumerate() {
        let mut diff = Vec::new();
        differences("config", &want, &workload(r), &mut diff);
        if !diff.is_empty() {
            return Err(MergeError::Differs {
                index: i,
                differences: diff,
            });
        }
        // Complete shards ran every strategy; a shard cut short may have run the first ones.
        let (ours, theirs) = (ids(base), ids(r));
        let prefix = ours.starts_with(&theirs) || theirs.starts_with(&ours);
        if ours != theirs && (r.complete && base.complete || !prefix) {
            return Err(MergeError::Strategies {
                index: i,
                ours,
                theirs,
            });
        }
        for s in &r.strategies {
            let first = base.strategies.iter().find(|b| b.id == s.id).unwrap_or(s);
            check_counts(i, s, &first.histograms.keys().collect::<Vec<_>>())?;
        }
        let s = r.config.shard.unwrap_or(WHOLE);
        if s.n != n {
            return Err(MergeError::ShardCount {
                index: i,
                ours: base.config.shard.unwrap_or(WHOLE).to_string(),
                theirs: s.to_string(),
            });
        }
        if seen.insert(s.k, i).is_some() && n > 1 {
            return Err(MergeError::Repeated(s.to_string()));
        }
    }
    Ok((0..n)
        .filter(|k| n > 1 && !seen.contains_key(k))
        .map(|k| Shard { k, n }.to_string())
        .collect())
}

/// Why a merge is incomplete: shards missing, strategies some shard did not run, shards cut
/// short.
fn incomplete_reasons(
    reports: &[RunReport],
    strategies: &[StrategyReport],
    missing: &[String],
) -> Vec<String> {
    let mut reasons: Vec<String> = Vec::new();
    if !missing.is_empty() {
        reasons.push(format!("shards {} missing", missing.join(", ")));
    }
    for s in strategies {
        let without: Vec<String> = reports
            .iter()
            .filter(|r| !r.strategies.iter().any(|x| x.id == s.id))
            .map(|r| r.config.shard.unwrap_or(WHOLE).to_string())
            .collect();
        if !without.is_empty() {
            reasons.push(format!("{} did not run in shard {}", s.id, without.join(", ")));
        }
    }
    for r in reports.iter().filter(|r| !r.complete) {
        reasons.push(format!(
            "shard {}: {}",
            r.config.shard.unwrap_or(WHOLE),
            r.incomplete_reason.as_deref().unwrap_or("incomplete")
        ));
    }
    reasons
}

/// Where a merged report came from: its shard, machine, commit and times.
fn shard_info(r: &RunReport) -> ShardInfo {
    ShardInfo {
        shard: r.config.shard.map_or("whole".into(), |s| s.to_string()),
        machine: match &r.provenance.machine.hostname {
            Some(h) => format!("{} on {h}", r.provenance.machine.summary()),
            None => r.provenance.machine.summary(),
        },
        git_commit: r.provenance.git_commit.clone(),
        started_unix: r.provenance.started_unix,
        ended_unix: r.provenance.ended_unix,
        complete: r.complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::ErrorClass;
    use crate::model::report::tests::{run_of, strategy};

    /// Shard `k` of `n`: one `async` strategy with `ok` successes and one timeout, started at
    /// `started_ms` for `wall_s`, asked for 10 requests/s and achieving 9.
    fn shard(k: u64, n: u64, ok: u64, started_ms: f64, wall_s: f64) -> RunReport {
        let mut s = strategy(Strategy::Async, ok, 1, ErrorClass::Timeout);
        s.started_unix_ms = started_ms;
        s.ended_unix_ms = started_ms + 1000.0 * wall_s;
        s.wall_s = wall_s;
        s.target_rate = Some(10.0);
        s.achieved_rate = Some(9.0);
        let mut r = run_of(vec![s]);
        r.config.shard = Some(Shard { k, n });
        r.provenance.started_unix = 100 + k;
        r.provenance.ended_unix = 200 + k;
        r
    }

    /// Shards add up: counts, rates; the wall time runs from the first start to the last end,
    /// and the spread of the starts is kept; each shard is named in `merged_from`.
    #[test]
    fn shards_merge_into_one_run() {
        let m = merge(&[shard(0, 2, 4, 1000.0, 2.0), shard(1, 2, 6, 1500.0, 2.0)], false).unwrap();
        let s = &m.strategies[0];
        assert_eq!(
            (s.issued, s.count(Outcome::Ok), s.count(Outcome::Timeout)),
            (12, 10, 2)
        );
        assert_eq!(s.accounted, "12/12");
        assert!((s.wall_s - 2.5).abs() < 1e-9, "{}", s.wall_s);
        assert_eq!((s.started_unix_ms, s.ended_unix_ms), (1000.0, 3500.0));
        assert_eq!(s.start_spread_s, Some(0.5));
        assert!((s.goodput_rps - 4.0).abs() < 1e-9);
        assert_eq!((s.target_rate, s.achieved_rate), (Some(20.0), Some(18.0)));
        assert_eq!(s.latency_all_ms.map(|p| p.max > 0.0), Some(true));
        assert!(m.complete && m.incomplete_reason.is_none());
        assert_eq!(m.config.shard, None);
        let shards: Vec<&str> = m.merged_from.iter().map(|x| x.shard.as_str()).collect();
        assert_eq!(shards, ["0/2", "1/2"]);
        assert_eq!((m.provenance.started_unix, m.provenance.ended_unix), (100, 201));
        assert!(m.merged_from[1].complete);
        assert_eq!(m.log_wait_s, None, "no shard waited for its log");
        let (a, mut b, mut c) = (
            shard(0, 3, 4, 1000.0, 2.0),
            shard(1, 3, 6, 1500.0, 2.0),
            shard(2, 3, 6, 1500.0, 2.0),
        );
        (b.log_wait_s, c.log_wait_s) = (Some(1.5), Some(0.25));
        assert_eq!(
            merge(&[a, b, c], false).unwrap().log_wait_s,
            Some(1.75),
            "the shards' waits add up"
        );
    }

    /// Shards' limits on requests in flight add up; no limit on one (an open loop's `-c 0`)
    /// is none on the whole.
    #[test]
    fn shards_add_their_limits_and_no_limit_stays_none() {
        let (mut a, mut b) = (shard(0, 2, 4, 1000.0, 2.0), shard(1, 2, 6, 1500.0, 2.0));
        (a.strategies[0].concurrency, b.strategies[0].concurrency) = (Some(3), Some(2));
        assert_eq!(
            merge(&[a.clone(), b.clone()], false).unwrap().strategies[0].concurrency,
            Some(5)
        );
        (a.strategies[0].concurrency, b.strategies[0].concurrency) = (Some(3), None);
        let m = merge(&[a, b], false).unwrap();
        assert_eq!(m.strategies[0].concurrency, None);
        assert_eq!(m.strategies[0].concurrency_text(), "∞");
    }

    /// Rounds run one after another: wall times add up and rates are averaged.
    #[test]
    fn rounds_add_their_time_and_average_their_rates() {
        let a = shard(0, 1, 4, 1000.0, 2.0).strategies.remove(0);
        let mut b = shard(0, 1, 6, 4000.0, 3.0).strategies.remove(0);
        b.target_rate = Some(30.0);
        let s = merge_rounds(&[a, b], None).unwrap();
        assert!((s.wall_s - 5.0).abs() < 1e-9);
        assert_eq!(s.target_rate, Some(20.0));
        assert_eq!(s.start_spread_s, None);
        assert_eq!(s.issued, 12);
    }

    /// Shards must have run the same strategies, unless one was cut short after the first ones;
    /// each strategy's counts are checked against its own histograms.
    #[test]
    fn shards_run_the_same_strategies_unless_cut_short() {
        let two = |k, ids: &[Strategy], complete: bool| {
            let strategies = ids
                .iter()
                .map(|id| match id {
                    Strategy::Async => strategy(*id, 3, 1, ErrorClass::Timeout),
                    _ => strategy(*id, 3, 0, ErrorClass::Timeout),
                })
                .collect();
            let mut r = run_of(strategies);
            r.config.shard = Some(Shard { k, n: 2 });
            r.complete = complete;
            r
        };
        let both = [Strategy::Async, Strategy::Threadpool];
        let m = merge(&[two(0, &both, true), two(1, &both, true)], false).unwrap();
        assert_eq!(m.strategies.len(), 2);
        assert_eq!(m.strategies[0].count(Outcome::Timeout), 2);
        assert!(matches!(
            merge(
                &[
                    two(0, &both, true),
                    two(1, &[Strategy::Threadpool, Strategy::Async], true)
                ],
                false
            ),
            Err(MergeError::Strategies { index: 1, .. })
        ));
        // Cut short after the first strategy: merged, and said.
        let m = merge(&[two(0, &both, true), two(1, &[Strategy::Async], false)], false).unwrap();
        assert!(!m.complete);
        let why = m.incomplete_reason.unwrap();
        assert!(why.contains("threadpool did not run in shard 1/2"), "{why}");
        // Cut short, but not after the first ones: refused.
        assert!(matches!(
            merge(
                &[two(0, &both, true), two(1, &[Strategy::Threadpool], false)],
                false
            ),
            Err(MergeError::Strategies { index: 1, .. })
        ));
    }

    /// What cannot merge is refused, naming why; shards missing make it incomplete when allowed.
    #[test]
    fn shards_that_do_not_fit_are_refused_or_noted() {
        let two = |k| shard(k, 2, 3, 1000.0, 1.0);
        assert!(matches!(merge(&[], false), Err(MergeError::Empty)));
        // Unsharded runs of one workload merge (each is the whole), twice the requests.
        // One report made once: two made apart may straddle a second and differ in their times.
        let base = run_of(vec![strategy(Strategy::Async, 3, 0, ErrorClass::Timeout)]);
        let whole = |at: f64| {
            let mut r = base.clone();
            r.strategies[0].started_unix_ms = at;
            r
        };
        let m = merge(&[whole(1.0), whole(2.0)], false).unwrap();
        assert_eq!(m.strategies[0].issued, 6);
        assert_eq!(m.merged_from[1].shard, "whole");
        // One report twice is one run, not two: refused, naming both places.
        let same = merge(&[whole(1.0), whole(2.0), whole(1.0)], false).unwrap_err();
        assert_eq!(
            same.to_string(),
            "report 2 is report 0 again: each run counts once"
        );
        let mut other = two(0);
        other.strategies[0].started_unix_ms += 1.0;
        assert!(matches!(merge(&[two(0), other], false), Err(MergeError::Repeated(s)) if s == "0/2"));
        assert!(matches!(
            merge(&[two(0), shard(1, 3, 3, 1000.0, 1.0)], false),
            Err(MergeError::ShardCount { index: 1, .. })
        ));
        let missing = merge(&[shard(0, 3, 3, 1000.0, 1.0)], false).unwrap_err();
        assert!(matches!(missing, MergeError::Missing { n: 3, .. }));
        // The shards named apart from their count: "shards 0/2 of 2 are missing", of one shard,
        // read as if both were.
        assert_eq!(
            missing.to_string(),
            "missing shards of the 3: 1/3, 2/3 (merge them too, or pass --allow-partial)"
        );
        let partial = merge(&[shard(0, 3, 3, 1000.0, 1.0), shard(2, 3, 3, 1000.0, 1.0)], true).unwrap();
        assert!(!partial.complete);
        assert_eq!(partial.incomplete_reason.as_deref(), Some("shards 1/3 missing"));
        // A shard cut short is named with its reason.
        let mut cut = two(1);
        cut.complete = false;
        cut.incomplete_reason = Some("interrupted by SIGINT".into());
        let m = merge(&[two(0), cut], false).unwrap();
        assert_eq!(
            m.incomplete_reason.as_deref(),
            Some("shard 1/2: interrupted by SIGINT")
        );
        assert!(!m.merged_from[1].complete);
    }
}
