//! A strategy's report built from its merged recorder: counts, rates, percentiles, errors.

use crate::model::distortion::Distortion;
use crate::model::hist;
use crate::model::outcome::Outcome;
use crate::model::report::{ErrorRow, Measured, StrategyReport, efficiency};
use crate::model::series::{Percentiles, Series};
use crate::stats::recorder::Recorder;

impl StrategyReport {
    /// Builds the report of one strategy from its merged recorder.
    pub fn build(m: Measured, rec: &Recorder) -> StrategyReport {
        let total = rec.total();
        let ok = rec.count(Outcome::Ok);
        let finished = total - rec.count(Outcome::Cancelled);
        let wall = m.wall_s.max(1e-9);
        // Under --concurrency auto the cap is not what was in flight: where it settled is.
        let conc = m
            .adaptive
            .as_ref()
            .map_or(m.concurrency, |a| Some(a.converged.round().max(1.0) as u64));
        let efficiency = efficiency(ok as f64 / wall, m.mean_delay_s, conc);
        let pct = |s: Series| rec.series.get(s).and_then(Percentiles::of);
        let mut errors: Vec<ErrorRow> = rec
            .errors
            .iter()
            .map(|(class, t)| ErrorRow {
                class: class.to_string(),
                outcome: class.outcome(),
                count: t.count,
                sample: t.sample.clone(),
            })
            .collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.class.cmp(&b.class)));
        let (timeline, steady) = rec.timeline();
        let mut report = StrategyReport {
            id: m.id,
            concurrency: m.concurrency,
            requests: m.requests,
            issued: m.issued,
            outcomes: Outcome::ALL.iter().map(|o| (*o, rec.count(*o))).collect(),
            accounted: format!("{total}/{}", m.issued),
            accounted_ok: total == m.issued,
            attempts: rec.attempts,
            attempt_outcomes: Outcome::ALL
                .iter()
                .map(|o| (*o, rec.series.get(Series::Attempt(*o)).map_or(0, |h| h.len())))
                .collect(),
            errors,
            protocols: rec.protocols.iter().map(|(p, n)| (p.to_string(), *n)).collect(),
            retries: rec.retries,
            backoff_s: rec.backoff.as_secs_f64(),
            wall_s: m.wall_s,
            throughput_rps: finished as f64 / wall,
            goodput_rps: ok as f64 / wall,
            efficiency,
            latency_ms: pct(Series::E2e(Outcome::Ok)),
            latency_all_ms: Percentiles::of(&rec.e2e_all()),
            latency_by_outcome_ms: Outcome::ALL
                .iter()
                .filter_map(|o| pct(Series::E2e(*o)).map(|p| (*o, p)))
                .collect(),
            lag_ms: pct(Series::Lag),
            service_ms: pct(Series::Service(Outcome::Ok)),
            target_rate: m.target_rate,
            achieved_rate: m.target_rate.and(rec.achieved_rate()),
            ttft_ms: pct(Series::Ttft),
            ttfo_ms: pct(Series::Ttfo),
            distortion: Distortion::of(
                pct(Series::RequestPath),
                pct(Series::MockLate),
                pct(Series::Transit),
                pct(Series::HarnessLate),
            ),
            reasoning_itl_ms: pct(Series::ReasoningItl),
            reasoning_tokens: rec.reasoning_tokens,
            inputs_per_request: None,
            itl_ms: pct(Series::Itl),
            tpot_ms: pct(Series::Tpot),
            request_tokens_per_s: pct(Series::RequestTokensPerS),
            completion_tokens: rec.completion_tokens,
            tokens_per_s: rec.completion_tokens as f64 / wall,
            cpu_s: m.cpu_s,
            peak_rss_bytes: m.peaks.rss_bytes,
            threads: m.peaks.threads,
            server: m.server,
            ended_by: m.ended_by,
            started_unix_ms: m.ended_unix_ms - m.wall_s * 1000.0,
            ended_unix_ms: m.ended_unix_ms,
            start_spread_s: None,
            warmup: m.warmup,
            good: m.slo_set.then_some(rec.good),
            good_share: m.slo_set.then(|| {
                if m.issued == 0 {
                    0.0
                } else {
                    rec.good as f64 / m.issued as f64
                }
            }),
            slo_goodput_rps: m.slo_set.then(|| rec.good as f64 / wall),
            input_tokens: rec.input_tokens,
            input_token_mismatches: rec.input_token_mismatches,
            input_tokens_per_request: pct(Series::InputTokens),
            output_tokens_per_request: pct(Series::OutputTokens),
            adaptive: m.adaptive,
            cpu_work: m.cpu_work,
            external: m.external,
            steady_goodput_rps: steady.map(|s| s.goodput_rps),
            rounds: Vec::new(),
            spread: None,
            histograms: rec
                .series
                .iter()
                .map(|(k, h)| (k.to_string(), hist::encode(h)))
                .collect(),
        };
        report.rounds = vec![report.as_round(timeline, steady)];
        report
    }
}
