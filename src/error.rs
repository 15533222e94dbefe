//! The error types: [`RequestError`] (one failed attempt, a value the runners record),
//! [`ConfigError`] (bad input, exit code 2) and [`RunError`] (a run that could not be set up or
//! whose files could not be written).

use std::time::Duration;

use crate::metrics::{ErrorClass, Failure, Outcome};

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
        /// The start of the body (at most 200 bytes), secrets redacted.
        body: String,
        /// The answer's `x-ratelimit-*` headers, when it had any (boxed: most errors have none).
        ratelimit: Option<Box<crate::adaptive::RateLimit>>,
    },
    /// The attempt's deadline (`--timeout`, connect to last byte) passed.
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
    /// The body grew past the cap (`--max-body`).
    #[error("response body larger than {limit} bytes")]
    TooLarge {
        /// The cap, bytes.
        limit: u64,
    },
}

impl RequestError {
    /// The error breakdown's class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            RequestError::Status { status, .. } => ErrorClass::Status(*status),
            RequestError::Timeout => ErrorClass::Timeout,
            RequestError::Transport(m) => {
                let m = m.to_ascii_lowercase();
                if m.contains("refused") {
                    ErrorClass::Refused
                } else if m.contains("reset") {
                    ErrorClass::Reset
                } else if m.contains("closed") || m.contains("before [done]") || m.contains("eof") {
                    ErrorClass::Closed
                } else {
                    ErrorClass::Transport
                }
            }
            RequestError::Decode(_) => ErrorClass::Decode,
            RequestError::StreamError(_) => ErrorClass::StreamError,
            RequestError::TooLarge { .. } => ErrorClass::TooLarge,
        }
    }

    /// The outcome this error counts as.
    pub fn outcome(&self) -> Outcome {
        self.class().outcome()
    }

    /// The HTTP status, when the attempt got one.
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The class and a short sample for the error breakdown (the text was redacted where it was
    /// made, by the client that knows the secrets).
    pub fn failure(&self) -> Failure {
        let text = match self {
            RequestError::Status { status, body, .. } if body.is_empty() => format!("HTTP {status}"),
            RequestError::Status { status, body, .. } => format!("HTTP {status}: {body}"),
            other => other.to_string(),
        };
        Failure {
            class: self.class(),
            sample: truncate(&text, Failure::SAMPLE_BYTES),
        }
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
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
        /// The URL, userinfo redacted.
        url: String,
        /// The connection error.
        why: String,
    },
    /// `--out` cannot be written.
    #[error("cannot write to --out {path}: {source}")]
    Unwritable {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--out` already holds files and `--force` was not given.
    #[error(
        "--out {path} is not empty ({entries}); choose a new directory, or pass --force to replace what an earlier run wrote there"
    )]
    OutNotEmpty {
        /// The directory.
        path: String,
        /// A few of the names found.
        entries: String,
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
    /// A file a flag names cannot be used.
    #[error("invalid {name} '{path}': {why}")]
    File {
        /// The flag.
        name: &'static str,
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// A request body larger than the embedded mock accepts, refused before the run.
    #[error(
        "invalid {from}: it makes request bodies of {bytes} bytes, past the embedded mock's limit of {limit} bytes; send smaller prompts"
    )]
    BodyTooLarge {
        /// The flag the body comes from (`--prompt-tokens`, `--dataset`, `--body-file`, `--prompt`).
        from: &'static str,
        /// The largest body, bytes.
        bytes: usize,
        /// The mock's limit, bytes.
        limit: usize,
    },
    /// The API key variable holds something no HTTP header can carry as it is.
    #[error("the API key in ${var} {why}")]
    BadKey {
        /// The variable's name (never its value).
        var: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An external client cannot be run: no interpreter, a missing package, a bad command.
    #[error("{why}")]
    External {
        /// What is missing and the command that fixes it.
        why: String,
    },
}

/// A run that could not be set up, or whose files could not be written.
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
    /// Writing (or reading back) a report file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reports that are not shards of one run.
    #[error("cannot merge: {0}")]
    Merge(#[from] crate::report::merge::MergeError),
    /// A saved report could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl RunError {
    /// A write error for `path` from any error.
    pub fn write(
        path: impl std::fmt::Display,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> RunError {
        RunError::Write {
            path: path.to_string(),
            source: std::io::Error::other(e),
        }
    }

    /// A read error for `path` from any error.
    pub fn read(
        path: impl std::fmt::Display,
        e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> RunError {
        RunError::Read {
            path: path.to_string(),
            source: std::io::Error::other(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_messages_are_classed_by_what_happened() {
        let t = |m: &str| RequestError::Transport(m.into()).class();
        assert_eq!(
            t("tcp connect error: Connection refused (os error 111)"),
            ErrorClass::Refused
        );
        assert_eq!(t("Connection reset by peer (os error 104)"), ErrorClass::Reset);
        assert_eq!(t("stream ended before [DONE]"), ErrorClass::Closed);
        assert_eq!(t("dns error: no such host"), ErrorClass::Transport);
    }

    #[test]
    fn a_status_sample_holds_the_status_and_at_most_200_bytes() {
        let e = RequestError::Status {
            status: 404,
            retry_after: None,
            should_retry: None,
            body: "é".repeat(300),
            ratelimit: None,
        };
        let f = e.failure();
        assert_eq!(f.class, ErrorClass::Status(404));
        assert!(f.sample.starts_with("HTTP 404: é"));
        assert!(f.sample.len() <= Failure::SAMPLE_BYTES);
    }
}
