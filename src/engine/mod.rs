//! The engine: sending the workload and recording every request. Sessions (a fresh mock, or a
//! reset target, per strategy), the runners (one per execution model), the two clients, the
//! adaptive controller, CPU work, external clients, resource sampling and stopping.
//!
//! - [`run`]: the run core: a session per strategy, cross-checks, ending early.
//! - [`runner`]: one file per strategy, one shape: context in, records out.
//! - [`client`]: the blocking (ureq) and async (reqwest) clients, same `chat`, same limits.
//! - [`adaptive`]: `--concurrency auto`, the AIMD controller and its pacer.
//! - [`cpu_work`]: `--cpu-work`, calibrated CPU work per response, inline or offloaded.
//! - [`external`]: external clients as strategies, over the line protocol.
//! - [`resources`]: client CPU, peak memory, threads and open files.
//! - [`stop`]: the stop token, signals and the grace period.

pub(crate) mod adaptive;
pub(crate) mod client;
pub(crate) mod cpu_work;
pub(crate) mod external;
pub(crate) mod resources;
pub(crate) mod run;
pub(crate) mod runner;
pub(crate) mod stop;
