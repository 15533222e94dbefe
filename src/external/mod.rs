//! External clients: a program in any language run as a strategy. It speaks the protocol of
//! `docs/client-protocol.md` (the workload as JSON on stdin, one JSON line per logical request on
//! stdout); its lines go through the same recorder as the built-in strategies', and the harness
//! measures the program's CPU, memory and threads itself.
//!
//! Two kinds: the Python clients shipped in `clients/python/` ([`PyClient`], each the literal
//! pattern of the article or of a question its readers ask) and `--client-cmd`, a program of the
//! user's named by `--client-name` ([`ClientName`]).

pub mod protocol;
pub mod python;

use std::collections::BTreeSet;
use std::sync::{Mutex, OnceLock};

use crate::config::Strategy;

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
    /// The anti-pattern: a blocking `requests` call inside coroutines.
    BlockingInAsync,
    /// `asyncio.to_thread` around the blocking client.
    ToThread,
}

impl PyClient {
    /// Every shipped client, in report order.
    pub const ALL: [PyClient; 7] = [
        PyClient::Sequential,
        PyClient::Threadpool,
        PyClient::Aiohttp,
        PyClient::Httpx,
        PyClient::Openai,
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
        }
    }

    /// The Rust strategy that is its twin (the README's pairs).
    pub fn twin(self) -> Strategy {
        match self {
            PyClient::Sequential => Strategy::Sequential,
            PyClient::Threadpool | PyClient::ToThread => Strategy::Threadpool,
            PyClient::Aiohttp | PyClient::Httpx | PyClient::Openai => Strategy::Async,
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
