//! Token counts, the one count the mock and the harness share: OpenAI's BPE encodings
//! (`o200k_base`, `cl100k_base`, vocabularies built into the binary) or whitespace-separated
//! words, and the framing a chat request's messages add.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// How text is counted in tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Tokenizer {
    /// Whitespace-separated words (an estimate of real text; exact for the synthetic prompts
    /// and the mock's own words, each one token in both encodings).
    Words,
    /// The encoding of GPT-4o, GPT-4.1, o1, o3, o4 and later.
    #[default]
    #[value(name = "o200k_base")]
    #[serde(rename = "o200k_base")]
    O200kBase,
    /// The encoding of GPT-4, GPT-3.5 and the text-embedding-3 models.
    #[value(name = "cl100k_base")]
    #[serde(rename = "cl100k_base")]
    Cl100kBase,
}

/// Tokens each message of a chat request adds (its role and separators), as OpenAI's cookbook
/// counts them for current models.
pub const PER_MESSAGE: u64 = 3;
/// Tokens that prime the reply of every chat request.
pub const REPLY_PRIMING: u64 = 3;

/// Counts remembered per thread, so that the same prompts sent again (a benchmark's few
/// bodies) cost a hash, not an encoding; cleared when full.
const CACHE_ENTRIES: usize = 4096;
/// Texts shorter than this are encoded every time (as cheap as the cache).
const CACHE_FROM_BYTES: usize = 16;

static HASHER: LazyLock<RandomState> = LazyLock::new(RandomState::new);

thread_local! {
    static CACHE: RefCell<HashMap<(Tokenizer, u64), u64>> = RefCell::new(HashMap::new());
}

impl Tokenizer {
    /// The name, as `--tokenizer` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Tokenizer::Words => "words",
            Tokenizer::O200kBase => "o200k_base",
            Tokenizer::Cl100kBase => "cl100k_base",
        }
    }

    /// Tokens in `text`.
    pub fn count(self, text: &str) -> u64 {
        match self {
            _ if self == Tokenizer::Words || text.len() < CACHE_FROM_BYTES => self.encode_count(text),
            _ => {
                let key = (self, HASHER.hash_one(text));
                if let Some(n) = CACHE.with(|c| c.borrow().get(&key).copied()) {
                    return n;
                }
                let n = self.encode_count(text);
                CACHE.with(|c| {
                    let mut c = c.borrow_mut();
                    if c.len() >= CACHE_ENTRIES {
                        c.clear();
                    }
                    c.insert(key, n);
                });
                n
            }
        }
    }

    fn encode_count(self, text: &str) -> u64 {
        match self {
            Tokenizer::Words => text.split_whitespace().count() as u64,
            Tokenizer::O200kBase => bpe_openai::o200k_base().count(text) as u64,
            Tokenizer::Cl100kBase => bpe_openai::cl100k_base().count(text) as u64,
        }
    }

    /// Loads the encoding's tables now (a fraction of a second), on a thread of its own, so
    /// that the first request does not wait for them.
    pub fn warm_up(self) {
        if self != Tokenizer::Words {
            let _ = std::thread::Builder::new()
                .name("tokenizer-load".into())
                .spawn(move || self.encode_count("warm"));
        }
    }

    /// A chat request's prompt tokens: each message's text, plus [`PER_MESSAGE`] for each and
    /// [`REPLY_PRIMING`] once.
    pub fn chat_prompt<'a>(self, texts: impl IntoIterator<Item = &'a str>) -> u64 {
        let (mut tokens, mut messages) = (REPLY_PRIMING, 0);
        for t in texts {
            tokens += self.count(t);
            messages += 1;
        }
        tokens + PER_MESSAGE * messages
    }
}

impl std::fmt::Display for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts as tiktoken gives them (`tiktoken.get_encoding(...).encode(...)`).
    #[test]
    fn encodings_count_as_tiktoken_does() {
        assert_eq!(Tokenizer::O200kBase.count("hello world"), 2);
        assert_eq!(Tokenizer::Cl100kBase.count("hello world"), 2);
        let prose = "Explain, in two short paragraphs, why asynchronous I/O lets one thread keep hundreds of HTTP requests in flight while a thread pool needs a thread for each; mention the event loop, the kernel's readiness notifications, and what happens to latency when the CPU work per response grows.";
        assert_eq!(Tokenizer::O200kBase.count(prose), 55);
        // Twice: the second from the cache, the same.
        assert_eq!(Tokenizer::O200kBase.count(prose), 55);
        assert_eq!(Tokenizer::Words.count(prose), 47);
        assert_eq!(Tokenizer::Words.count("  a\tb\nc  "), 3);
    }

    /// The framing: 3 a message and 3 for the reply.
    #[test]
    fn a_chat_prompt_adds_its_framing() {
        assert_eq!(Tokenizer::Words.chat_prompt(["one two", "three"]), 3 + 3 + 2 * 3);
        assert_eq!(Tokenizer::O200kBase.chat_prompt([]), 3);
    }
}
