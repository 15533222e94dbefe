//! `live`: what the live view costs, in its two parts. `tick`: the counters a runner bumps for
//! one measured request (start, then end with its outcome and latency), per request. `frame`:
//! one frame of the panel (six strategies, one running, streaming figures) laid out and drawn
//! off screen into the same buffers frame after frame (a terminal also gets the changed cells'
//! escape codes); the panel draws ten a second. Together with a run's CPU per request (the
//! `overhead` group, or `scripts/live-overhead.sh`) they give the view's share of it.

use std::time::{Duration, Instant};

use asyncbench::internals::OffScreen;
use asyncbench::internals::{Board, Live, Step};
use asyncbench::model::outcome::Outcome;
use asyncbench::model::record::{Record, Sample};
use asyncbench::model::strategy::Strategy;
use criterion::{Criterion, Throughput};

/// A streamed success: 100 ms end to end, TTFT 50 ms, 15 inter-token gaps.
fn record() -> Record {
    let t = Instant::now();
    Record {
        index: 0,
        intended: t,
        start: t,
        end: t + Duration::from_millis(100),
        attempts: Vec::new(),
        backoff: Duration::ZERO,
        outcome: Outcome::Ok,
        status: Some(200),
        sample: Some(Sample {
            ttft: Some(Duration::from_millis(50)),
            itl: vec![Duration::from_millis(3); 15],
            ..Sample::default()
        }),
    }
}

fn live(c: &mut Criterion) {
    let mut g = c.benchmark_group("live");
    let plan: Vec<Step> = Strategy::ALL
        .iter()
        .map(|&strategy| Step { round: 1, strategy })
        .collect();
    let board = Board::new(vec!["200 requests · target embedded mock".into()], None, plan);
    let r = record();
    for s in &Strategy::ALL[..Strategy::ALL.len() - 1] {
        let done = board.lane(*s, 1, Some(200), None);
        for _ in 0..200 {
            done.started();
            done.finished(&r);
        }
        done.end();
    }
    // The running lane: the `tick` bench fills it before `frame` draws it.
    let lane = board.lane(Strategy::ALL[Strategy::ALL.len() - 1], 1, Some(1_000_000), None);
    let live = Live::to(lane);
    g.throughput(Throughput::Elements(1));
    g.bench_function("tick", |b| {
        b.iter(|| {
            live.started();
            live.finished(std::hint::black_box(&r));
        })
    });
    let mut screen = OffScreen::new(120, 20);
    g.bench_function("frame", |b| b.iter(|| screen.draw(&board)));
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = live }
