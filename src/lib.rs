//! asyncbench: how much async buys over blocking code for LLM API calls, and what concurrency
//! and batch size to run. The same workload goes through every execution model, each the Rust
//! twin of a Python pattern (or the Python itself), against an OpenAI-compatible mock or a real
//! endpoint, and every request is measured and accounted for.
//!
//! # Layout
//! Layers, each importing only those above it in this list (a test checks):
//! - [`model`]: the data: strategies, the plan's values, outcomes, records, reports, sweeps.
//! - [`cli`]: clap flags and the parsers of their values; no I/O.
//! - [`plan`]: flags → a [`Plan`] (a [`RunConfig`] checked once, by [`Plan::new`]); the one
//!   place that reads environment and files.
//! - [`stats`]: recorders, intervals, the request log, summaries and merges.
//! - [`engine`]: sessions, runners, clients, retries, the controller, CPU work, stopping.
//! - [`output`]: table, CSV, JSON, `.hgrm`, `.hlog`, charts, pages, files.
//! - [`commands`]: `compare`, `sweep`, `reproduce`, `merge`, `plot`: plan → engine → output →
//!   exit code.
//!
//! `ARCHITECTURE.md` follows one request's data through them.

pub mod cli;
pub mod commands;
pub mod engine;
pub mod model;
pub mod output;
pub mod plan;
pub mod stats;

pub use commands::compare::{compare, compare_until};
pub use commands::sweep::sweep;
pub use engine::stop::StopToken;
pub use model::error::{ConfigError, RunError};
pub use model::report::RunReport;
pub use model::strategy::Strategy;
pub use model::sweep::SweepReport;
pub use plan::config::{Plan, RunConfig};
