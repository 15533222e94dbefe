//! `cargo bench`: the criterion entry point. One group per file in `benchmarks/`; run one with
//! `cargo bench -- article`.

// Bench code is not an API: criterion's macros generate undocumented `pub` items.
#![allow(missing_docs, unreachable_pub)]

mod benchmarks;

criterion::criterion_main!(
    benchmarks::article::group,
    benchmarks::scaling::group,
    benchmarks::concurrency::group,
    benchmarks::batch_size::group,
    benchmarks::overhead::group,
);
