//! What each request sends: the prompt (the `--prompt` sentence, a synthetic prompt of about N
//! words, or the next row of a JSONL dataset), `max_tokens` (fixed or spread), a body file whose
//! fields win over ours, and extra headers. Bodies are built once, before the clock starts, as a
//! pool the requests cycle through (request `i` sends body `i mod pool`), so the request path never
//! serializes JSON.

use crate::model::plan::Header;

use crate::model::plan::{Api, Spread};

use std::path::Path;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

use crate::model::error::ConfigError;
use mock_server::files::read_capped_text;
use mock_server::tokens::{PER_MESSAGE, REPLY_PRIMING, Tokenizer};
use mock_server::wire::{ChatRequest, EmbeddingsRequest, Message, MessagesRequest};

/// One `--dataset` row: its messages, and its own `max_tokens` when it sets one (it then wins
/// over `--max-tokens` for that row, as in the datasets of vLLM's and GuideLLM's benchmarks).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The messages.
    pub messages: Vec<Message>,
    /// The row's `max_tokens`.
    pub max_tokens: Option<u32>,
}

impl Row {
    /// A row of one user message and no `max_tokens` of its own.
    pub fn user(text: impl Into<String>) -> Row {
        Row {
            messages: vec![Message::user(text.into())],
            max_tokens: None,
        }
    }
}

/// The inputs read from files and flags that are not written into reports as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// `--dataset` rows, in file order.
    pub dataset: Vec<Row>,
    /// `--body-file`: fields that replace ours in every body.
    pub body_template: Option<serde_json::Map<String, serde_json::Value>>,
    /// `-H`: extra headers on every attempt.
    pub headers: Vec<Header>,
}

/// Most bytes of a `--dataset` file (a larger one is refused, naming the cap).
pub(crate) const MAX_DATASET_BYTES: u64 = 128 << 20;
/// Most bytes of a `--body-file`.
pub(crate) const MAX_BODY_FILE_BYTES: u64 = 16 << 20;
/// Most bytes of all the distinct bodies a run cycles through: with large prompts the pool holds
/// fewer bodies rather than more memory.
const POOL_BYTES: usize = 256 << 20;

/// Reads a `--dataset` file: one JSON object per line with `"prompt": "…"` or
/// `"messages": [{"role", "content"}, …]`; blank lines are skipped. Any other line is an error
/// naming its number.
pub fn read_dataset(path: &Path) -> Result<Vec<Row>, ConfigError> {
    let bad = |why: String| ConfigError::File {
        name: "--dataset",
        path: path.display().to_string(),
        why,
    };
    let text = read_capped_text(path, MAX_DATASET_BYTES).map_err(|e| bad(e.to_string()))?;
    #[derive(Deserialize)]
    struct Line {
        prompt: Option<String>,
        messages: Option<Vec<Message>>,
        max_tokens: Option<u32>,
    }
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: Line = serde_json::from_str(line).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
        if row.max_tokens == Some(0) {
            return Err(bad(format!("line {}: \"max_tokens\" is 0", n + 1)));
        }
        let max_tokens = row.max_tokens;
        match (row.prompt, row.messages) {
            (_, Some(m)) if !m.is_empty() => rows.push(Row {
                messages: m,
                max_tokens,
            }),
            (None, Some(_)) => return Err(bad(format!("line {}: \"messages\" is empty", n + 1))),
            (Some(p), _) => rows.push(Row {
                messages: vec![Message::user(p)],
                max_tokens,
            }),
            _ => {
                return Err(bad(format!(
                    "line {}: has neither \"prompt\" nor \"messages\"",
                    n + 1
                )));
            }
        }
    }
    if rows.is_empty() {
        return Err(bad("holds no prompt".into()));
    }
    Ok(rows)
}

/// Reads a `--body-file`: a JSON object whose fields replace ours in every request body.
pub(crate) fn read_body_file(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, ConfigError> {
    let bad = |why: String| ConfigError::File {
        name: "--body-file",
        path: path.display().to_string(),
        why,
    };
    let text = read_capped_text(path, MAX_BODY_FILE_BYTES).map_err(|e| bad(e.to_string()))?;
    match serde_json::from_str(&text) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("is not a JSON object".into())),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Words of synthetic prompts (each one token, with or without its leading space, in
/// `o200k_base` and `cl100k_base`: a test checks).
const WORDS: [&str; 16] = [
    "the", "model", "reads", "a", "long", "list", "of", "words", "and", "then", "answers", "with", "short",
    "plain", "text", "again",
];

/// A synthetic user prompt of `n` words.
pub(crate) fn synthetic_prompt(n: u32, rng: &mut SmallRng) -> String {
    let start = rng.random_range(0..WORDS.len());
    (0..n as usize)
        .map(|i| WORDS[(start + i) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// One request body, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedBody {
    /// The JSON.
    pub bytes: Bytes,
    /// Input tokens, counted as the mock counts them (`--tokenizer`, plus the framing of each
    /// message and of the reply); a target's own `usage.prompt_tokens` replaces it when it
    /// sends one.
    pub input_tokens: u64,
}

/// Most distinct bodies built for a run with varying prompts or `max_tokens`.
const POOL: usize = 1024;

/// What a chat body is built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodySpec<'a> {
    /// `model`.
    pub model: &'a str,
    /// The `--prompt` sentence.
    pub prompt: &'a str,
    /// `max_tokens`.
    pub max_tokens: Spread,
    /// `--prompt-tokens`.
    pub prompt_tokens: Option<Spread>,
    /// `stream`.
    pub stream: bool,
    /// Requests in the run (bounds the pool; `None`: no cap, the pool is full size).
    pub requests: Option<u64>,
    /// Seed of the draws.
    pub seed: u64,
    /// How prompts are counted: `--prompt-tokens` writes prompts of that many, framing included.
    pub tokenizer: Tokenizer,
    /// Whose body: a chat-completions request, an Anthropic Messages request, or embeddings.
    pub api: Api,
    /// Embeddings: inputs in each body.
    pub inputs: u64,
}

/// The bodies a run cycles through, and whether they ask for a stream (the body file may).
pub(crate) fn build_bodies(spec: BodySpec<'_>, inputs: &Inputs) -> (Vec<PreparedBody>, bool) {
    let pool = pool_size(&spec, inputs);
    let mut rng = SmallRng::seed_from_u64(spec.seed ^ 0x00b0_d1e5);
    let mut stream = spec.stream;
    let mut pool_bytes = 0usize;
    let mut bodies = Vec::with_capacity(pool);
    // Large prompts make a smaller pool, never more than POOL_BYTES (at least one body).
    for i in 0..pool {
        if pool_bytes >= POOL_BYTES {
            break;
        }
        let (body, asks_stream) = build_body(&spec, inputs, i, &mut rng);
        stream |= asks_stream;
        pool_bytes += body.bytes.len();
        bodies.push(body);
    }
    (bodies, stream)
}

/// How many bodies to build: a dataset row each (up to the pool's size for huge datasets),
/// the pool when the bodies vary, else one.
fn pool_size(spec: &BodySpec<'_>, inputs: &Inputs) -> usize {
    let varies = spec.max_tokens.spread > 0 || spec.prompt_tokens.is_some_and(|p| p.spread > 0);
    if !inputs.dataset.is_empty() {
        inputs
            .dataset
            .len()
            .max(if varies { POOL } else { 1 })
            .min(POOL.max(inputs.dataset.len()))
    } else if varies {
        spec.requests.map_or(POOL, |n| n.min(POOL as u64) as usize).max(1)
    } else {
        1
    }
}

/// Body `i`, its draws taken from `rng` in a fixed order (the prompt, `max_tokens`, the
/// embeddings' inputs), and whether it asks for a stream.
fn build_body(spec: &BodySpec<'_>, inputs: &Inputs, i: usize, rng: &mut SmallRng) -> (PreparedBody, bool) {
    let row = (!inputs.dataset.is_empty()).then(|| &inputs.dataset[i % inputs.dataset.len()]);
    let messages = if spec.api == Api::Embeddings {
        // Its inputs are drawn below.
        Vec::new()
    } else if let Some(r) = row {
        r.messages.clone()
    } else if let Some(p) = spec.prompt_tokens {
        // The framing of one message and of the reply is part of the count asked for; each
        // word is one token (in every tokenizer: a test checks).
        let framing = (PER_MESSAGE + REPLY_PRIMING) as u32;
        let words = p.sample(rng).saturating_sub(framing).max(1);
        vec![Message::user(synthetic_prompt(words, rng))]
    } else {
        vec![Message::user(spec.prompt)]
    };
    // Drawn for every body, so the draws do not shift with the rows that set their own.
    let drawn = spec.max_tokens.sample(rng);
    let max_tokens = row.and_then(|r| r.max_tokens).unwrap_or(drawn);
    let req = match spec.api {
        Api::Openai => serde_json::to_value(ChatRequest {
            messages,
            ..ChatRequest::simple(spec.model, "", max_tokens, spec.stream)
        }),
        Api::Anthropic => serde_json::to_value(MessagesRequest::new(
            spec.model,
            messages,
            max_tokens,
            spec.stream,
        )),
        Api::Embeddings => serde_json::to_value(EmbeddingsRequest::new(
            spec.model,
            embedding_inputs(*spec, inputs, i, rng),
        )),
    };
    let mut body = match req {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    if let Some(t) = &inputs.body_template {
        for (k, v) in t {
            body.insert(k.clone(), v.clone());
        }
    }
    let asks_stream = body.get("stream").and_then(serde_json::Value::as_bool) == Some(true);
    let input_tokens = sent_input_tokens(spec, &body);
    let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    (PreparedBody { bytes, input_tokens }, asks_stream)
}

/// The input tokens of a body as sent (the body file may bring its own messages), as
/// `--tokenizer` counts them.
fn sent_input_tokens(spec: &BodySpec<'_>, body: &serde_json::Map<String, serde_json::Value>) -> u64 {
    let sent = serde_json::Value::Object(body.clone());
    match spec.api {
        Api::Openai => serde_json::from_value::<ChatRequest>(sent).map(|r| r.prompt_tokens(spec.tokenizer)),
        Api::Anthropic => {
            serde_json::from_value::<MessagesRequest>(sent).map(|r| r.prompt_tokens(spec.tokenizer))
        }
        // Each input as the tokenizer counts it, with no framing.
        Api::Embeddings => serde_json::from_value::<EmbeddingsRequest>(sent).map(|r| {
            r.inputs(spec.tokenizer)
                .map_or(0, |inputs| inputs.iter().map(|(_, n)| n).sum())
        }),
    }
    .unwrap_or(0)
}

/// The texts of embeddings body `i`: `spec.inputs` of them, the dataset's rows from `i ×
/// inputs` on (each row's messages joined), else synthetic prompts of `--prompt-tokens` tokens
/// each (no framing: an input is counted as it is), else the `--prompt` sentence.
fn embedding_inputs(spec: BodySpec<'_>, inputs: &Inputs, i: usize, rng: &mut SmallRng) -> Vec<String> {
    let n = usize::try_from(spec.inputs.max(1)).unwrap_or(usize::MAX);
    (0..n)
        .map(|j| {
            if !inputs.dataset.is_empty() {
                let row = &inputs.dataset[(i * n + j) % inputs.dataset.len()];
                let texts: Vec<std::borrow::Cow<'_, str>> = row.messages.iter().map(Message::text).collect();
                texts.join("\n")
            } else if let Some(p) = spec.prompt_tokens {
                synthetic_prompt(p.sample(rng).max(1), rng)
            } else {
                spec.prompt.to_owned()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(max_tokens: Spread, prompt_tokens: Option<Spread>) -> BodySpec<'static> {
        BodySpec {
            model: "m",
            prompt: "hello there",
            max_tokens,
            prompt_tokens,
            stream: false,
            requests: Some(100),
            seed: 1,
            tokenizer: Tokenizer::default(),
            api: Api::Openai,
            inputs: 1,
        }
    }

    /// `--prompt-tokens N ± S`: prompts of N ± S tokens as every tokenizer counts them, the
    /// framing included (each synthetic word one token), and each body's count the mock's.
    #[test]
    fn synthetic_prompts_have_the_tokens_asked_for() {
        for t in [Tokenizer::Words, Tokenizer::O200kBase, Tokenizer::Cl100kBase] {
            let varied = Some(Spread {
                mean: 100,
                spread: 20,
            });
            let (bodies, _) = build_bodies(
                BodySpec {
                    tokenizer: t,
                    ..spec(Spread::fixed(8), varied)
                },
                &Inputs::default(),
            );
            assert_eq!(bodies.len(), 100);
            for b in &bodies {
                let r: ChatRequest = serde_json::from_slice(&b.bytes).unwrap();
                let words = r.messages[0].content.as_str().unwrap().split_whitespace().count() as u64;
                assert_eq!(b.input_tokens, words + 6, "{t}");
                assert!((80..=120).contains(&b.input_tokens), "{t}: {}", b.input_tokens);
                assert_eq!(b.input_tokens, r.prompt_tokens(t), "{t}");
            }
            let (bodies, _) = build_bodies(
                BodySpec {
                    tokenizer: t,
                    ..spec(Spread::fixed(8), Some(Spread::fixed(200)))
                },
                &Inputs::default(),
            );
            assert_eq!(bodies[0].input_tokens, 200, "{t}");
        }
    }

    #[test]
    fn the_body_file_wins_and_may_ask_for_a_stream() {
        let inputs = Inputs {
            body_template: Some(
                serde_json::json!({"temperature": 0.3, "max_tokens": 5, "stream": true})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
            ..Inputs::default()
        };
        let (bodies, stream) = build_bodies(spec(Spread::fixed(64), None), &inputs);
        assert!(stream);
        assert_eq!(bodies.len(), 1);
        let v: serde_json::Value = serde_json::from_slice(&bodies[0].bytes).unwrap();
        assert_eq!(v["max_tokens"], 5);
        assert_eq!(v["temperature"], 0.3);
        assert_eq!(v["model"], "m");
    }

    #[test]
    fn dataset_rows_are_cycled_in_order() {
        let inputs = Inputs {
            dataset: vec![
                Row::user("one"),
                Row {
                    max_tokens: Some(3),
                    ..Row::user("two two")
                },
            ],
            ..Inputs::default()
        };
        let (bodies, _) = build_bodies(spec(Spread::fixed(8), None), &inputs);
        assert_eq!(bodies.len(), 2);
        let second: ChatRequest = serde_json::from_slice(&bodies[1].bytes).unwrap();
        assert_eq!(second.messages[0].content, "two two");
        // A row's own max_tokens wins over --max-tokens; a row without one gets the flag's.
        let v = |b: &PreparedBody| {
            serde_json::from_slice::<serde_json::Value>(&b.bytes).unwrap()["max_tokens"].clone()
        };
        assert_eq!((v(&bodies[0]), v(&bodies[1])), (8.into(), 3.into()));
    }
}
