//! The error types: [`RequestError`] (one failed attempt, a value the runners record),
//! [`ConfigError`] (bad input, exit code 2) and [`RunError`] (a run that could not be set up or
//! whose accounting does not add up).

use std::time::Duration;

use crate::metrics::Outcome;

/// Why one attempt did not produce a completion. Recorded, never propagated: a run goes on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// A non-2xx status.
    #[error("HTTP {status}")]
    Status {
        /// The status code.
        status: u16,
        /// The server's requested wait (`retry-after-ms`, else `Retry-After`).
        retry_after: Option<Duration>,
        /// The `x-should-retry` header, when present.
        should_retry: Option<bool>,
    },
    /// The per-request timeout fired.
    #[error("timed out")]
    Timeout,
    /// Connection refused, reset, or closed before the response was complete.
    #[error("transport error: {0}")]
    Transport(String),
    /// A 2xx whose body is not a chat completion, or a stream that broke the protocol.
    #[error("invalid response: {0}")]
    Decode(String),
    /// A streamed `data: {"error": …}` event.
    #[error("error event in stream: {0}")]
    StreamError(String),
}

impl RequestError {
    /// The outcome this error counts as.
    pub fn outcome(&self) -> Outcome {
        match self {
            RequestError::Status { status, .. } => Outcome::of_status(*status),
            RequestError::Timeout => Outcome::Timeout,
            RequestError::Transport(_) => Outcome::Transport,
            RequestError::Decode(_) | RequestError::StreamError(_) => Outcome::ServerError,
        }
    }

    /// The HTTP status, when the attempt got one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Bad input: a flag, a profile value or a target that cannot work. The binary prints it on one
/// line and exits 2, before anything is written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value out of its range.
    #[error("invalid {name} '{value}': {why}")]
    Invalid {
        /// The flag.
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must be.
        why: &'static str,
    },
    /// The mock's profile flags are invalid.
    #[error(transparent)]
    Profile(#[from] mock_server::ProfileError),
    /// The target does not answer.
    #[error("target {url} is unreachable: {why}")]
    Unreachable {
        /// The URL.
        url: String,
        /// The connection error.
        why: String,
    },
    /// `--out` cannot be written.
    #[error("cannot write to --out {path}: {why}")]
    Unwritable {
        /// The directory.
        path: String,
        /// Why.
        why: String,
    },
    /// The run needs more open files than the process may have.
    #[error(
        "invalid --concurrency {concurrency}: it needs about {needed} open files{mock} but the hard limit is {hard}; raise it (ulimit -Hn, as root) or lower the concurrency{hint}"
    )]
    OpenFiles {
        /// The concurrency asked for.
        concurrency: u64,
        /// Files needed.
        needed: u64,
        /// The hard limit.
        hard: u64,
        /// " (both ends of every connection, with the embedded mock)" or "".
        mock: &'static str,
        /// ", or run the mock as its own process and use --target" or "".
        hint: &'static str,
    },
    /// The API key variable is set but empty or not valid in a header.
    #[error("the API key in ${0} is not usable in an HTTP header")]
    BadKey(String),
}

/// A run that could not be set up, or whose accounting failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The embedded mock did not start.
    #[error("cannot start the embedded mock: {0}")]
    Mock(#[from] mock_server::ServerError),
    /// A runtime, thread pool or client could not be built.
    #[error("cannot set up the {what}: {why}")]
    Setup {
        /// What.
        what: &'static str,
        /// Why.
        why: String,
    },
    /// Requests went missing: the harness's counts disagree with themselves or with the mock's.
    #[error("accounting mismatch in {strategy}: {detail}")]
    Accounting {
        /// The strategy id.
        strategy: String,
        /// What disagrees.
        detail: String,
    },
    /// Writing a report failed.
    #[error("cannot write {path}: {why}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}
