//! The plan: flags turned into a validated [`config::RunConfig`]. The one place that reads the
//! environment and the files flags name (keys, CA, datasets, body files, the interpreter), so
//! everything downstream works from values.
//!
//! - [`args`]: flags → plan, with every check.
//! - [`config`]: [`config::RunConfig`] and its checks.
//! - [`endpoint`]: the embedded mock or an external target, and TLS trust.
//! - [`inputs`]: datasets, body files, synthetic prompts, headers → request bodies.
//! - [`request`]: the prepared request (URL, key, limits) and redaction of secrets.
//! - [`python`]: the interpreter of the shipped Python clients and its check.
//! - [`proxy`]: the one proxy of a run's clients, from the environment.
//! - [`machine`], [`provenance`]: where and with what a run ran.

pub(crate) mod args;
pub(crate) mod config;
pub(crate) mod endpoint;
pub(crate) mod inputs;
pub(crate) mod machine;
pub(crate) mod provenance;
pub(crate) mod proxy;
pub(crate) mod python;
pub(crate) mod request;
