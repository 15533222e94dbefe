//! asyncbench: how much async buys over blocking code for LLM API calls, and what concurrency
//! and batch size to run. The same workload goes through five execution models, each the Rust
//! twin of a Python pattern, against an OpenAI-compatible mock (or a real endpoint), and every
//! request is measured and accounted for.
//!
//! # Layout
//! - [`cli`]: clap flags → [`RunConfig`]; subcommand dispatch.
//! - [`config`]: [`RunConfig`], [`Strategy`], the load model and the target.
//! - [`retry`]: the one retry policy and its presets (`none`, `aiohttp`, `openai`).
//! - [`client`]: the blocking (ureq) and async (reqwest) clients, same `chat` method.
//! - [`runner`]: one file per strategy, one shape: context in, records out.
//! - [`metrics`]: [`metrics::Record`], the HdrHistogram [`metrics::Recorder`], outcomes.
//! - [`resources`]: client CPU, peak memory and threads from `/proc`.
//! - [`compare`]: runs strategies in a session (embedded mock or target) and cross-checks them.
//! - [`reproduce`]: the article's comparison.
//! - [`sweep`]: one setting over a list of values, and the recommendation.
//! - [`report`]: [`RunReport`] (`report.json`), the table, `summary.csv`, encoded histograms.
//! - [`error`]: [`error::RequestError`], [`error::ConfigError`], [`error::RunError`].

pub mod cli;
pub mod client;
pub mod compare;
pub mod config;
pub mod error;
pub mod metrics;
pub mod report;
pub mod reproduce;
pub mod resources;
pub mod retry;
pub mod runner;
pub mod sweep;

pub use compare::compare;
pub use config::{RunConfig, Strategy};
pub use error::{ConfigError, RunError};
pub use report::RunReport;
