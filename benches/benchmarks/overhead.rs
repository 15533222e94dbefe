//! `overhead`: zero latency, one request at a time, 200 requests: the per-request cost of each
//! strategy's client, as wall time (`<strategy>/1`: client and embedded mock together) and as
//! the client's own CPU time (`<strategy>-client-cpu/1`: the process's CPU minus the mock's
//! threads), and again with the live view's counters ticked (`<strategy>-live-client-cpu/1`).
//! Criterion's "time" for the CPU entries is CPU seconds, so its per-element figure is client CPU
//! per request.

use std::time::Duration;

use asyncbench::model::strategy::Strategy;
use criterion::{BenchmarkId, Criterion, Throughput};

use super::{Point, mock, run_point};

fn overhead(c: &mut Criterion) {
    let server = mock(Duration::ZERO);
    let mut g = c.benchmark_group("overhead");
    g.throughput(Throughput::Elements(200));
    for s in Strategy::ALL {
        let p = Point::new(s, 200, 1);
        g.bench_function(BenchmarkId::new(s.id(), 1), |b| {
            b.iter_custom(|iters| run_point(&server, p, iters).0)
        });
        g.bench_function(BenchmarkId::new(format!("{}-client-cpu", s.id()), 1), |b| {
            b.iter_custom(|iters| run_point(&server, p, iters).1)
        });
        // The same with the live view's counters ticked (its drawing thread is measured by
        // scripts/live-overhead.sh, on a real terminal).
        g.bench_function(BenchmarkId::new(format!("{}-live-client-cpu", s.id()), 1), |b| {
            b.iter_custom(|iters| run_point(&server, p.watched(), iters).1)
        });
    }
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = overhead }
