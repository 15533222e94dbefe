//! `scaling`: requests 10 → 1000 at a fixed 10 ms, concurrency matched to the request count (up
//! to 100); sequential only where it stays short.

use std::time::Duration;

use asyncbench::model::strategy::Strategy;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use super::{Point, mock, time_point};

fn scaling(c: &mut Criterion) {
    let server = mock(Duration::from_millis(10));
    let mut g = c.benchmark_group("scaling");
    g.sampling_mode(SamplingMode::Flat);
    for n in [10u64, 100, 1000] {
        g.throughput(Throughput::Elements(n));
        for s in [
            Strategy::Sequential,
            Strategy::Threadpool,
            Strategy::Async,
            Strategy::AsyncSingle,
        ] {
            if s == Strategy::Sequential && n > 100 {
                continue; // 1000 × 10 ms one after another is 10 s an iteration.
            }
            let p = Point::new(s, n, n.min(100));
            g.bench_function(BenchmarkId::new(s.id(), n), |b| {
                b.iter_custom(|iters| time_point(&server, p, iters))
            });
        }
    }
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = scaling }
