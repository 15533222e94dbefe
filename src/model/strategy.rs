//! Who runs the workload: the strategies (built-in execution models, shipped Python clients,
//! a command of the user's) and their names.

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use std::fmt;

/// An execution model: the Rust twins of the Python patterns, and external clients (the Python
/// originals shipped in `clients/python/`, or a program of the user's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// One ureq agent, one request after another (`for url in urls: requests.get(url)`).
    Sequential,
    /// A rayon pool of C threads, each blocking on its own ureq agent (`ThreadPoolExecutor`).
    Threadpool,
    /// tokio multi-thread runtime + reqwest, at most C in flight (`gather` under a `Semaphore`).
    Async,
    /// The same on a current-thread runtime (Python's single-threaded event loop).
    AsyncSingle,
    /// `async`, with `--cpu-work` handed to a rayon pool of one thread per core
    /// (`loop.run_in_executor` with a process or thread pool).
    AsyncOffload,
    /// tokio + reqwest, fixed batches of B joined, a pause between batches (`process_batch`).
    Batched,
    /// A Python client shipped with the project, run as a child process.
    Python(PyClient),
    /// `--client-cmd`: the user's program, named by `--client-name`.
    Custom(ClientName),
}

impl Strategy {
    /// Every built-in Rust strategy, in report order: what every per-strategy test runs.
    pub const ALL: [Strategy; 6] = [
        Strategy::Sequential,
        Strategy::Threadpool,
        Strategy::Async,
        Strategy::AsyncSingle,
        Strategy::AsyncOffload,
        Strategy::Batched,
    ];

    /// `compare`'s default, the five of the article's comparison: every strategy but
    /// `async-offload`, which differs from `async` only with `--cpu-work`.
    pub const DEFAULT: [Strategy; 5] = [
        Strategy::Sequential,
        Strategy::Threadpool,
        Strategy::Async,
        Strategy::AsyncSingle,
        Strategy::Batched,
    ];

    /// What `--strategies` accepts: the Rust strategies, then the shipped Python clients.
    pub const NAMED: [Strategy; 14] = {
        use crate::model::strategy::PyClient as P;
        [
            Strategy::Sequential,
            Strategy::Threadpool,
            Strategy::Async,
            Strategy::AsyncSingle,
            Strategy::AsyncOffload,
            Strategy::Batched,
            Strategy::Python(P::Sequential),
            Strategy::Python(P::Threadpool),
            Strategy::Python(P::Aiohttp),
            Strategy::Python(P::Httpx),
            Strategy::Python(P::Openai),
            Strategy::Python(P::Anthropic),
            Strategy::Python(P::BlockingInAsync),
            Strategy::Python(P::ToThread),
        ]
    };

    /// The one id used for the CLI value, bench ids, CSV rows, chart legends and file names.
    pub fn id(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::Threadpool => "threadpool",
            Strategy::Async => "async",
            Strategy::AsyncSingle => "async-single",
            Strategy::AsyncOffload => "async-offload",
            Strategy::Batched => "batched",
            Strategy::Python(p) => p.id(),
            Strategy::Custom(n) => n.as_str(),
        }
    }

    /// Whether it runs as a child process speaking the external-client protocol.
    pub fn is_external(self) -> bool {
        matches!(self, Strategy::Python(_) | Strategy::Custom(_))
    }

    /// Whether this strategy blocks threads (and so never touches tokio).
    pub fn is_blocking(self) -> bool {
        matches!(self, Strategy::Sequential | Strategy::Threadpool)
    }

    /// Whether it drives its work from the calling thread (`block_on`), which then counts among
    /// the threads it ran on; the blocking strategies run on workers of their own while the
    /// calling thread only waits, and an external client in a process of its own.
    pub fn runs_on_calling_thread(self) -> bool {
        !self.is_blocking() && !self.is_external()
    }

    /// The name prefix of the threads it starts (`None`: it runs on the calling thread alone,
    /// or in a process of its own); the runners name their threads so, and the resource sampler
    /// counts them by it.
    pub fn thread_prefix(self) -> Option<&'static str> {
        match self {
            Strategy::Sequential => Some("sequential"),
            Strategy::Threadpool => Some("threadpool-"),
            Strategy::Async => Some("async-worker"),
            Strategy::AsyncSingle | Strategy::Python(_) | Strategy::Custom(_) => None,
            Strategy::AsyncOffload => Some("offload-"),
            Strategy::Batched => Some("batched-worker"),
        }
    }

    /// Whether it can run under `--concurrency auto` (the tokio strategies that keep C in
    /// flight).
    pub fn adapts(self) -> bool {
        matches!(
            self,
            Strategy::Async | Strategy::AsyncSingle | Strategy::AsyncOffload
        )
    }

    /// The named strategy (Rust or shipped Python client) with this id.
    pub fn builtin(id: &str) -> Option<Strategy> {
        Strategy::NAMED.into_iter().find(|s| s.id() == id)
    }

    /// The strategy with this id, as `--strategies` takes it.
    pub fn from_id(id: &str) -> Option<Strategy> {
        Strategy::builtin(id)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Strategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// A saved report names a strategy by its id: a named one, else a `--client-cmd` client's name.
impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        if let Some(s) = Strategy::builtin(&id) {
            return Ok(s);
        }
        crate::model::strategy::ClientName::new(&id)
            .map(Strategy::Custom)
            .map_err(|why| serde::de::Error::custom(format!("strategy '{id}' {why}")))
    }
}

impl clap::ValueEnum for Strategy {
    fn value_variants<'a>() -> &'a [Self] {
        &Strategy::NAMED
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.id()))
    }
}

/// A Python client shipped with the project (`clients/python/`), selected like any strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PyClient {
    /// `requests.Session`, one call after another (the article's sync loop).
    Sequential,
    /// `ThreadPoolExecutor(max_workers=C)` + `requests`.
    Threadpool,
    /// `aiohttp.ClientSession` + `asyncio.gather` under a `Semaphore(C)` (the article's async
    /// code; `aiohttp_retry.ExponentialRetry` with `--retry aiohttp`).
    Aiohttp,
    /// `httpx.AsyncClient` with its default pool limits (100 connections).
    Httpx,
    /// `openai.AsyncOpenAI` with its own retries and connection pool.
    Openai,
    /// `anthropic.AsyncAnthropic` with its own retries and connection pool (`--api anthropic`).
    Anthropic,
    /// The anti-pattern: a blocking `requests` call inside coroutines.
    BlockingInAsync,
    /// `asyncio.to_thread` around the blocking client.
    ToThread,
}

impl PyClient {
    /// Every shipped client, in report order.
    pub const ALL: [PyClient; 8] = [
        PyClient::Sequential,
        PyClient::Threadpool,
        PyClient::Aiohttp,
        PyClient::Httpx,
        PyClient::Openai,
        PyClient::Anthropic,
        PyClient::BlockingInAsync,
        PyClient::ToThread,
    ];

    /// The strategy id (`py-aiohttp`, …).
    pub fn id(self) -> &'static str {
        match self {
            PyClient::Sequential => "py-sequential",
            PyClient::Threadpool => "py-threadpool",
            PyClient::Aiohttp => "py-aiohttp",
            PyClient::Httpx => "py-httpx",
            PyClient::Openai => "py-openai",
            PyClient::Anthropic => "py-anthropic",
            PyClient::BlockingInAsync => "py-blocking-in-async",
            PyClient::ToThread => "py-to-thread",
        }
    }

    /// Its script in `clients/python/`.
    pub fn script(self) -> &'static str {
        match self {
            PyClient::Sequential => "py_sequential.py",
            PyClient::Threadpool => "py_threadpool.py",
            PyClient::Aiohttp => "py_aiohttp.py",
            PyClient::Httpx => "py_httpx.py",
            PyClient::Openai => "py_openai.py",
            PyClient::Anthropic => "py_anthropic.py",
            PyClient::BlockingInAsync => "py_blocking_in_async.py",
            PyClient::ToThread => "py_to_thread.py",
        }
    }

    /// The Python modules it imports beyond the standard library.
    pub fn modules(self) -> &'static [&'static str] {
        match self {
            PyClient::Sequential | PyClient::Threadpool | PyClient::BlockingInAsync | PyClient::ToThread => {
                &["requests"]
            }
            PyClient::Aiohttp => &["aiohttp", "aiohttp_retry"],
            PyClient::Httpx => &["httpx"],
            PyClient::Openai => &["openai", "httpx"],
            PyClient::Anthropic => &["anthropic"],
        }
    }

    /// The one API it speaks, for the SDK clients (the others send any body they are given).
    pub fn only_api(self) -> Option<crate::model::plan::Api> {
        match self {
            PyClient::Openai => Some(crate::model::plan::Api::Openai),
            PyClient::Anthropic => Some(crate::model::plan::Api::Anthropic),
            _ => None,
        }
    }

    /// The Rust strategy that is its twin (the README's pairs).
    pub fn twin(self) -> Strategy {
        match self {
            PyClient::Sequential => Strategy::Sequential,
            PyClient::Threadpool | PyClient::ToThread => Strategy::Threadpool,
            PyClient::Aiohttp | PyClient::Httpx | PyClient::Openai | PyClient::Anthropic => Strategy::Async,
            PyClient::BlockingInAsync => Strategy::AsyncSingle,
        }
    }
}

/// The name of a `--client-cmd` client (`--client-name`): interned once per process, so a
/// [`Strategy`] that holds it stays `Copy`. Only a handful of names ever exist in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientName(&'static str);

/// Longest `--client-name`.
pub const MAX_NAME: usize = 40;

impl ClientName {
    /// A name of 1–40 characters from `a-z`, `0-9`, `-`, `_` and `.`, not a built-in strategy's.
    pub fn new(name: &str) -> Result<ClientName, &'static str> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err("must be 1 to 40 characters");
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err("may hold only a-z, 0-9, '-', '_' and '.'");
        }
        if Strategy::builtin(name).is_some() {
            return Err("is the name of a built-in strategy");
        }
        Ok(ClientName(intern(name)))
    }

    /// The name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// The one `&'static str` of `name` in this process (leaked the first time it is seen).
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(n) = names.get(name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// `--client-cmd`: how to start the user's program.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientCmd {
    /// Its name in the report (`--client-name`).
    pub name: String,
    /// The command line, run by `sh -c 'exec …'` (so its PID is the program's).
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_interned_once() {
        let a = ClientName::new("node-fetch").expect("valid");
        let b = ClientName::new("node-fetch").expect("valid");
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
        assert!(ClientName::new("").is_err());
        assert!(ClientName::new("Node").is_err());
        assert!(ClientName::new("a b").is_err());
        assert!(ClientName::new(&"x".repeat(41)).is_err());
        assert!(ClientName::new("async").is_err());
        assert!(ClientName::new("py-openai").is_err());
    }

    #[test]
    fn every_python_client_has_a_distinct_id_and_script() {
        let ids: BTreeSet<_> = PyClient::ALL.iter().map(|p| p.id()).collect();
        let scripts: BTreeSet<_> = PyClient::ALL.iter().map(|p| p.script()).collect();
        assert_eq!(ids.len(), PyClient::ALL.len());
        assert_eq!(scripts.len(), PyClient::ALL.len());
        for p in PyClient::ALL {
            assert_eq!(Strategy::from_id(p.id()), Some(Strategy::Python(p)));
        }
    }
}
