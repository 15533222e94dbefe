//! `article`: the article's comparison scaled down: 10 requests at a fixed 20 ms, every strategy
//! (async unbounded as `asyncio.gather`, batches of 5 with no pause).

use std::time::Duration;

use asyncbench::model::strategy::Strategy;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use super::{Point, mock, time_point};

fn article(c: &mut Criterion) {
    let server = mock(Duration::from_millis(20));
    let mut g = c.benchmark_group("article");
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(10));
    for s in Strategy::ALL {
        let mut p = Point::new(s, 10, 10);
        if matches!(
            s,
            Strategy::Async | Strategy::AsyncSingle | Strategy::AsyncOffload
        ) {
            p.concurrency = 0;
        }
        if s == Strategy::Batched {
            p.batch_size = 5;
        }
        g.bench_function(BenchmarkId::new(s.id(), 10), |b| {
            b.iter_custom(|iters| time_point(&server, p, iters))
        });
    }
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = article }
