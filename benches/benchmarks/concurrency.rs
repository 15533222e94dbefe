//! `concurrency`: thread pool vs multi-thread async vs single-thread async over C, 256 requests
//! at a fixed 10 ms.

use std::time::Duration;

use asyncbench::model::strategy::Strategy;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use super::{Point, mock, time_point};

fn concurrency(c: &mut Criterion) {
    let server = mock(Duration::from_millis(10));
    let mut g = c.benchmark_group("concurrency");
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(256));
    for conc in [4u64, 16, 64, 256] {
        for s in [Strategy::Threadpool, Strategy::Async, Strategy::AsyncSingle] {
            let p = Point::new(s, 256, conc);
            g.bench_function(BenchmarkId::new(s.id(), conc), |b| {
                b.iter_custom(|iters| time_point(&server, p, iters))
            });
        }
    }
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = concurrency }
