//! The errors of a run: [`ConfigError`] (bad input, exit code 2), [`RunError`] (a run that could
//! not be set up or whose files could not be written) and [`MergeError`] (reports that are not
//! shards of one run). One failed attempt is a value, not an error: see
//! [`crate::model::outcome::RequestError`].

use crate::model::strategy::Strategy;

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
        "invalid {flag} {value}: it needs about {needed} open files{mock} but the hard limit is {hard}; raise it (ulimit -Hn, as root) or lower the concurrency{hint}"
    )]
    OpenFiles {
        /// The flag that sets the most requests in flight (`--concurrency`, `--batch-size`).
        flag: &'static str,
        /// Its value as given.
        value: u64,
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
    #[error("cannot set up the {what}: {source}")]
    Setup {
        /// What.
        what: &'static str,
        /// Why, with its causes.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    Merge(#[from] crate::model::error::MergeError),
    /// Two saved runs cannot be compared (bad input: exit 2).
    #[error("cannot diff: {0}")]
    Diff(#[from] DiffError),
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

/// Why two saved runs cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// A run against a sweep.
    #[error("cannot compare a {base} with a {new}")]
    Kinds {
        /// The base's kind.
        base: &'static str,
        /// The new one's.
        new: &'static str,
    },
    /// Different settings (each `path: base → new`).
    #[error(
        "the two ran different settings: {}; compare runs of one configuration, or pass --allow-config-change to compare them anyway",
        .0.join("; ")
    )]
    Config(Vec<String>),
    /// Nothing in common.
    #[error("no strategy (or point) ran in both")]
    Disjoint,
}

/// Why reports cannot be merged (bad input: exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no report to merge")]
    Empty,
    /// The reports ran different workloads.
    #[error("report {index} ran a different workload from report 0: {}", describe(.differences))]
    Differs {
        /// Which report (in the order given).
        index: usize,
        /// Every setting that differs, as (JSON path such as `config.concurrency`, report 0's
        /// value, theirs): all of them, since one flag can change several (`-c` also sets the
        /// batch size when none is given).
        differences: Vec<(String, String, String)>,
    },
    /// The reports ran different strategies.
    #[error(
        "report {index} ran the strategies [{theirs}], report 0 [{ours}]: they are not shards of one run"
    )]
    Strategies {
        /// Which report.
        index: usize,
        /// Report 0's.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// A report whose own counts do not add up.
    #[error("report {index}: {strategy} {why}")]
    Counts {
        /// Which report.
        index: usize,
        /// The strategy.
        strategy: Strategy,
        /// What does not add up.
        why: String,
    },
    /// The shard counts disagree.
    #[error("report {index} is shard {theirs} but report 0 is shard {ours}: they are not of one run")]
    ShardCount {
        /// Which report.
        index: usize,
        /// Report 0's shard.
        ours: String,
        /// Theirs.
        theirs: String,
    },
    /// The same shard given twice.
    #[error("shard {0} is given twice")]
    Repeated(String),
    /// One report given twice (the same file, or a copy of it).
    #[error("report {index} is report {first} again: each run counts once")]
    SameReport {
        /// The repeat.
        index: usize,
        /// The report it repeats.
        first: usize,
    },
    /// Shards missing (without `--allow-partial`).
    #[error("missing shards of the {n}: {missing} (merge them too, or pass --allow-partial)")]
    Missing {
        /// The missing shards, `1/4, 3/4`.
        missing: String,
        /// How many shards the run had.
        n: u64,
    },
    /// An encoded histogram does not decode.
    #[error("report {index}: histogram {series} of {strategy} does not decode: {why}")]
    Histogram {
        /// Which report.
        index: usize,
        /// The strategy.
        strategy: Strategy,
        /// The series.
        series: String,
        /// Why.
        why: String,
    },
}

/// "config.concurrency is 8 there, 4 in report 0; …" for at most four differences.
fn describe(differences: &[(String, String, String)]) -> String {
    let mut parts: Vec<String> = differences
        .iter()
        .take(4)
        .map(|(path, ours, theirs)| format!("{path} is {theirs} there, {ours} in report 0"))
        .collect();
    if differences.len() > 4 {
        parts.push(format!("and {} more", differences.len() - 4));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A setup failure keeps its cause as a source (the binary prints the whole chain), not
    /// only as text.
    #[test]
    fn a_setup_failure_keeps_its_cause() {
        let e = RunError::Setup {
            what: "runtime",
            source: std::io::Error::new(std::io::ErrorKind::OutOfMemory, "no threads").into(),
        };
        let cause = std::error::Error::source(&e).expect("a source");
        let io = cause
            .downcast_ref::<std::io::Error>()
            .expect("the io::Error itself");
        assert_eq!(io.kind(), std::io::ErrorKind::OutOfMemory);
        assert_eq!(e.to_string(), "cannot set up the runtime: no threads");
    }
}
