//! An OpenAI-compatible chat-completions mock for benchmarking LLM clients: configurable latency
//! and token streaming, injected 429s and faults, and a real RPM/TPM limiter with OpenAI's headers.
//!
//! It is fast enough never to be the bottleneck of a client benchmark: delays are timers, not
//! threads, and the request path takes no lock unless the limiter is on.
//!
//! # Layout
//! - [`args`]: the command line both binaries share: value parsers, one-line errors, the
//!   mock's flags ([`ProfileArgs`]).
//! - [`wire`]: the OpenAI request, response, chunk and error types (shared with the clients).
//! - [`files`]: reading a user's file with a cap on its size.
//! - [`latency`]: latency models and the duration/spec syntax of every flag.
//! - [`profile`]: the validated configuration ([`Profile`]) and TOML files.
//! - [`limiter`]: the RPM/TPM token buckets and the Go-style reset durations.
//! - [`stamp`]: `--stamps`, the intended and actual write times of answers and events.
//! - [`tls`]: HTTPS with a generated or given certificate (ALPN `h2`, `http/1.1`).
//! - `app`: admission → decision → rendering → handlers; [`app()`] gives the router for
//!   in-process tests.
//! - `guarded`: response bodies that hold a guard to their last byte (in-flight counting).
//! - `server`: the connection layer (TLS, HTTP/1.1 and HTTP/2, timeouts, the connection cap,
//!   resets) and [`MockServer`], the embeddable server.
//! - `stats`: the counters behind `GET /stats` ([`StatsSnapshot`]).
//! - `timer`: sub-millisecond delays (tokio's timer rounds up to whole milliseconds).
//!
//! ```no_run
//! use mock_server::{MockServer, Profile};
//! use std::time::Duration;
//!
//! let server = MockServer::start(Profile::fixed(Duration::from_millis(100))).unwrap();
//! println!("chat completions at {}/v1/chat/completions", server.uri());
//! // ... run clients ...
//! println!("{} requests received", server.stats().requests_received);
//! ```

pub mod args;
pub mod files;
pub mod latency;
pub mod limiter;
pub mod profile;
pub mod stamp;
pub mod tokens;
pub mod wire;

pub mod tls;

mod app;
mod guarded;
mod server;
mod stats;
mod timer;

pub use app::{
    ATTEMPT_HEADER, ATTEMPT_PARAM, LONG_PARAMS, MAX_BODY_BYTES, MAX_DELAY_SECS, MAX_OUTPUT_TOKENS, MAX_STALL,
    MAX_TOTAL_TOKENS, REQUEST_INDEX_HEADER, REQUEST_INDEX_PARAM, app,
};
pub use args::ProfileArgs;
pub use latency::LatencySpec;
pub use profile::{Fault, FaultRates, Profile, ProfileError, ScheduleRule};
pub use server::{
    MockServer, ServerError, ServerOptions, bind, exposure_warning as server_exposure_warning, run,
};
pub use stats::StatsSnapshot;
pub use tls::{Tls, TlsError, TlsSource};
