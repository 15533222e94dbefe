//! `overhead`: zero latency, one request at a time: the per-request cost of the blocking client
//! (ureq, `sequential`) against the async one (reqwest on a current-thread runtime with one in
//! flight), measured over 200 requests.

use std::time::Duration;

use asyncbench::config::Strategy;
use criterion::{BenchmarkId, Criterion, Throughput};

use super::{Point, mock, time_point};

fn overhead(c: &mut Criterion) {
    let server = mock(Duration::ZERO);
    let mut g = c.benchmark_group("overhead");
    g.throughput(Throughput::Elements(200));
    for s in [Strategy::Sequential, Strategy::AsyncSingle, Strategy::Async] {
        let p = Point::new(s, 200, 1);
        g.bench_function(BenchmarkId::new(s.id(), 1), |b| {
            b.iter_custom(|iters| time_point(&server, p, iters))
        });
    }
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = overhead }
