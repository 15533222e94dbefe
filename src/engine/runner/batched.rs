//! `batched`: fixed batches of B requests joined together, with a pause between batches: the
//! article's `process_batch(prompts, batch_size=5)` with `asyncio.sleep(1)`. tokio multi-thread
//! runtime, one reqwest client.
//!
//! A batch waits for its slowest request, and nothing runs during the pause, which is what this
//! strategy costs against a sliding window of the same size.

use std::time::Instant;

use tokio::task::JoinSet;

use crate::engine::client::async_client::AsyncClient;
use crate::engine::runner::async_tokio::drain;
use crate::engine::runner::{
    CancelSink, Pending, Phase, RunContext, StrategyRun, send_async, warmup_then_measure, work_async,
};
use crate::model::error::RunError;
use crate::model::strategy::Strategy;
use crate::stats::recorder::Recorder;

/// Runs the workload in batches of `batch_size` with `pause` between them. In an open loop a
/// batch starts once its last request is due (and the previous batch and pause are over); each
/// request's latency counts from its own due time. A stop ends the run after the batch in flight
/// (or its grace period).
pub(crate) fn run_batched(ctx: &RunContext) -> Result<StrategyRun, RunError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("batched-worker")
        .build()
        .map_err(|e| RunError::Setup {
            what: "tokio runtime",
            source: e.into(),
        })?;
    let client = AsyncClient::new(ctx.req.clone(), ctx.limits())?;
    let threads = rt.metrics().num_workers() as u64 + 1;
    let client = &client;
    Ok(rt.block_on(warmup_then_measure(
        ctx,
        threads,
        |phase, mut recorder, measured| async move {
            let issued = run_phase(ctx, client, phase, &mut recorder, measured).await;
            (recorder, issued, None)
        },
    )))
}

/// Sends one phase in batches; returns how many requests it issued.
async fn run_phase(
    ctx: &RunContext,
    client: &AsyncClient,
    phase: Phase,
    recorder: &mut Recorder,
    measured: bool,
) -> u64 {
    // Always a number: a batch's size (at least 1).
    let b = ctx.cfg.effective_concurrency(Strategy::Batched).unwrap_or(1);
    let mut issued = 0;
    let t0 = Instant::now();
    // Shared by every request the phase spawns: one count a request, not one for each part.
    let retries = std::sync::Arc::new(ctx.retries(&phase, t0));
    let mut first = 0;
    while phase.may_issue(first, t0) {
        let last = phase
            .count
            .map_or(first.saturating_add(b), |n| first.saturating_add(b).min(n));
        if phase.scheduled
            && let Some(due) = ctx.due(t0, last - 1)
            && !ctx.stop.sleep_until(due).await
        {
            break;
        }
        if ctx.stop.requested().is_some() {
            break;
        }
        let mut batch = JoinSet::new();
        let sink = CancelSink::default();
        for i in first..last {
            let (client, retries) = (client.clone(), retries.clone());
            let intended = ctx
                .due(t0, i)
                .filter(|_| phase.scheduled)
                .unwrap_or_else(Instant::now);
            let index = phase.index(i);
            let mut rng = ctx.rng(index + 1);
            let (cpu, stop) = (ctx.cpu.clone(), ctx.stop.clone());
            let mut pending = Pending::new(index, Some(intended), &sink);
            batch.spawn(async move {
                let sent = send_async(
                    &client,
                    &stop,
                    &retries,
                    &mut rng,
                    Some(intended),
                    &mut pending,
                    None,
                );
                work_async(cpu.as_ref(), sent.await).await
            });
        }
        issued += last - first;
        if measured {
            for _ in first..last {
                ctx.live.started();
            }
        }
        // `asyncio.gather(*tasks)`: the batch is done when its slowest request is.
        drain(&mut batch, recorder, ctx, measured, &sink).await;
        first = last;
        // A pause that would end past a duration-bounded phase's end starts no batch: the phase
        // ends now, not after sleeping past its deadline.
        let resume = Instant::now() + ctx.cfg.pause;
        if phase.limit.is_some_and(|l| resume >= t0 + l) {
            break;
        }
        if phase.may_issue(first, t0) && !ctx.stop.sleep_until(resume).await {
            break;
        }
    }
    issued
}
