//! `batch_size`: fixed batches of B (no pause, so only the join costs) against a sliding window
//! of the same C (`async` with a semaphore of B), 200 requests at uniform 5–15 ms: a batch waits
//! for its slowest request, the window refills as soon as one finishes.

use asyncbench::model::strategy::Strategy;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use mock_server::{MockServer, Profile};

use super::{Point, time_point};

fn batch_size(c: &mut Criterion) {
    let profile = Profile {
        latency: "uniform:5ms..15ms".parse().expect("valid spec"),
        ..Profile::default()
    };
    let server = MockServer::start(profile).expect("the mock starts");
    let mut g = c.benchmark_group("batch_size");
    g.sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(200));
    for b in [5u64, 20, 50] {
        let batched = Point {
            batch_size: b,
            ..Point::new(Strategy::Batched, 200, b)
        };
        g.bench_function(BenchmarkId::new("batched", b), |x| {
            x.iter_custom(|iters| time_point(&server, batched, iters))
        });
        let window = Point::new(Strategy::Async, 200, b);
        g.bench_function(BenchmarkId::new("async", b), |x| {
            x.iter_custom(|iters| time_point(&server, window, iters))
        });
    }
    g.finish();
}

criterion::criterion_group! { name = group; config = super::criterion(); targets = batch_size }
