//! asyncbench: how much async buys over blocking code for LLM API calls, and what concurrency
//! and batch size to run. The same workload goes through five execution models, each the Rust
//! twin of a Python pattern, against an OpenAI-compatible mock (or a real endpoint), and every
//! request is measured and accounted for.
//!
//! # Layout
//! The flow is command → run core → runner → recorder → report.
//! - [`cli`]: clap flags → validated [`RunConfig`]; nothing else.
//! - [`commands`]: `compare`, `sweep`, `reproduce`, `plot`: settings → run core → print; exit codes.
//! - [`run`]: the run core: sessions (a fresh mock, or a reset target, per strategy), running each
//!   strategy, cross-checks, and stopping early (signals, a dead target) with what was measured.
//! - [`runner`]: one file per strategy, one shape: context in, records out.
//! - [`client`]: the blocking (ureq) and async (reqwest) clients, same `chat`, same limits.
//! - [`retry`]: the one retry policy and its presets (`none`, `aiohttp`, `openai`).
//! - [`metrics`]: outcomes, records, series, interval histograms and the [`metrics::Recorder`].
//! - [`report`]: the report model ([`RunReport`]) and its printers: table, CSV, JSON, `.hgrm`,
//!   `.hlog`, charts.
//! - [`sweep`]: the sweep model and its recommendation.
//! - [`cpu_work`]: `--cpu-work`, calibrated CPU work per response, inline or offloaded.
//! - [`adaptive`]: `--concurrency auto`, the AIMD controller and its pacer.
//! - [`config`]: [`RunConfig`], [`Strategy`], the load model and the target.
//! - [`inputs`]: what each request sends: prompts, datasets, spreads, body files, headers.
//! - [`resources`]: client CPU, peak memory and threads.
//! - [`stop`]: SIGINT/SIGTERM handling and the grace period.
//! - [`error`]: [`error::RequestError`], [`error::ConfigError`], [`error::RunError`].

pub mod adaptive;
pub mod cli;
pub mod client;
pub mod commands;
pub mod config;
pub mod cpu_work;
pub mod error;
pub mod external;
pub mod inputs;
pub mod metrics;
pub mod report;
pub mod resources;
pub mod retry;
pub mod run;
pub mod runner;
pub mod stop;
pub mod sweep;

pub use commands::compare::compare;
pub use config::{RunConfig, Strategy};
pub use error::{ConfigError, RunError};
pub use report::RunReport;
