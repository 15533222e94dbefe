//! `cargo bench`: the criterion entry point. One group per file in `benchmarks/`; run one with
//! `cargo bench -- article`.

// Bench code is not an API: criterion's macros generate undocumented `pub` items.
#![allow(missing_docs, unreachable_pub)]

mod benchmarks;

/// `criterion_main!` spelled out, with the embedded font registered first: the plots of
/// criterion's HTML report need it (see [`asyncbench::internals::register_font`]).
fn main() {
    asyncbench::internals::register_font();
    benchmarks::article::group();
    benchmarks::scaling::group();
    benchmarks::concurrency::group();
    benchmarks::batch_size::group();
    benchmarks::overhead::group();
    benchmarks::live::group();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
