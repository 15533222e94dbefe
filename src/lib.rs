//! asyncbench: how much async buys over blocking code for LLM API calls, and what concurrency
//! and batch size to run. The same workload goes through every execution model, each the Rust
//! twin of a Python pattern (or the Python itself), against an OpenAI-compatible mock or a real
//! endpoint, and every request is measured and accounted for.
//!
//! # The API
//! A [`RunConfig`] (or the command line, [`Cli`]) checked once into a [`Plan`]; [`compare`],
//! [`sweep`] or [`run_one`] run it; a [`RunReport`] or [`SweepReport`] (the [`model`], public
//! whole) comes out, and [`table`] prints one. [`dispatch`] is the binary: a command line in, a
//! [`Finish`] (an exit code) out; a [`StopToken`] ends a run early.
//!
//! # Layout
//! Layers, each importing only those above it in this list (a test checks); all but `model`
//! are private to the crate:
//! - `model`: the data: strategies, the plan's values, outcomes, records, reports, sweeps.
//! - `stats`: recorders, intervals, the request log, summaries, merges, the live view's board.
//! - `cli`: clap flags and the parsers of their values; no I/O.
//! - `plan`: flags → a `Plan` (a `RunConfig` checked once, by `Plan::new`); the one place that
//!   reads environment and files.
//! - `engine`: sessions, runners, clients, retries, the controller, CPU work, stopping.
//! - `output`: table, CSV, JSON, `.hgrm`, `.hlog`, charts, pages, files, the live view.
//! - `commands`: `compare`, `sweep`, `reproduce`, `merge`, `diff`, `plot`: plan → engine →
//!   output → exit code.
//!
//! `ARCHITECTURE.md` follows one request's data through them.

pub mod model;

pub(crate) mod cli;
pub(crate) mod commands;
pub(crate) mod engine;
pub(crate) mod output;
pub(crate) mod plan;
pub(crate) mod stats;

// The API: a plan in (flags or a `RunConfig`), a run, a report out. The data model is public
// whole; the layers that do the work are not.
pub use cli::{Cli, Command};
pub use commands::compare::{compare, compare_until};
pub use commands::sweep::sweep;
pub use commands::{Finish, dispatch, error_exit_code};
pub use engine::run::{Session, run_one};
pub use engine::stop::{Signal, StopToken, install_handlers};
pub use model::error::{ConfigError, RunError};
pub use model::report::RunReport;
pub use model::strategy::Strategy;
pub use model::sweep::SweepReport;
pub use output::sweep::render as sweep_table;
pub use output::table::table;
pub use plan::config::{Plan, RunConfig};
pub use plan::endpoint::{Endpoint, Target, TlsTrust};
pub use plan::inputs::{Inputs, read_dataset};
pub use stats::merge::merge;

/// What the benches, the examples and the tests reach past the API for: the hot path's parts
/// (a strategy's context and runner, CPU clocks, the live view's board), measured alone. Not a
/// stable interface.
#[doc(hidden)]
pub mod internals {
    pub use crate::cli::parse::parse_header;
    pub use crate::engine::client::async_client::base_builder;
    pub use crate::engine::cpu_work::OFFLOAD_THREAD;
    pub use crate::engine::resources::{CpuTimes, FileNeeds, check_open_files, files_needed};
    pub use crate::engine::runner::{RunContext, run_strategy};
    pub use crate::output::chart::register_font;
    pub use crate::output::files::plot_dir;
    pub use crate::output::html::sweep_page;
    pub use crate::output::live::OffScreen;
    pub use crate::stats::live::{Board, Live, Step};
}
