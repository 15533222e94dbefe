//! The wire types, shared by the mock (which parses requests and writes responses) and by the
//! asyncbench clients (which write requests and parse responses): OpenAI's chat and legacy
//! completions, and Anthropic's Messages request ([`MessagesRequest`]).
//!
//! Field names and optionality follow `CreateChatCompletionRequest`, `ChatCompletion`,
//! `ChatCompletionChunk` and `ErrorResponse` in OpenAI's `openapi.yaml` (see
//! `shared/reference/openai-api.md`). Unknown request fields are accepted and ignored, as the real
//! API does, so that real clients work against the mock unchanged.

use serde::{Deserialize, Serialize};

use crate::tokens::Tokenizer;

/// One message of a chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text. Real clients may send an array of content parts; we keep it as raw JSON and
    /// only use it to estimate prompt tokens.
    #[serde(default)]
    pub content: serde_json::Value,
}

impl Message {
    /// A `user` message with plain text content.
    pub fn user(text: impl Into<String>) -> Self {
        Message {
            role: "user".to_owned(),
            content: serde_json::Value::String(text.into()),
        }
    }

    /// The text of this message (string content, or its text parts joined).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match &self.content {
            serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s),
            serde_json::Value::Array(parts) => std::borrow::Cow::Owned(
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => std::borrow::Cow::Borrowed(""),
        }
    }
}

/// `stream_options` of a streaming request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send one extra chunk with `choices: []` and the full `usage` before `[DONE]`.
    #[serde(default)]
    pub include_usage: bool,
}

/// `POST /v1/chat/completions` request body (the fields that matter to timing and cost).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// Model name; echoed back.
    pub model: String,
    /// The conversation; its text length estimates the prompt tokens.
    pub messages: Vec<Message>,
    /// Current output-token cap (wins over `max_tokens` when both are present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Deprecated output-token cap, still widely sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Number of choices (1..=128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Switches the response to server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Options of a streaming response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

impl ChatRequest {
    /// A one-message request, the shape the harness sends.
    pub fn simple(model: &str, prompt: &str, max_tokens: u32, stream: bool) -> Self {
        ChatRequest {
            model: model.to_owned(),
            messages: vec![Message::user(prompt)],
            max_completion_tokens: None,
            max_tokens: Some(max_tokens),
            n: None,
            stream: stream.then_some(true),
            stream_options: stream.then_some(StreamOptions { include_usage: true }),
        }
    }

    /// `max_completion_tokens ?? max_tokens`.
    pub fn token_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }

    /// Whether the client asked for server-sent events.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Prompt tokens as `tokenizer` counts them, with the framing of each message and of the
    /// reply ([`Tokenizer::chat_prompt`]).
    pub fn prompt_tokens(&self, tokenizer: Tokenizer) -> u64 {
        let texts: Vec<std::borrow::Cow<'_, str>> = self.messages.iter().map(Message::text).collect();
        tokenizer.chat_prompt(texts.iter().map(|t| t.as_ref()))
    }
}

/// `POST /v1/completions` request body (the legacy text completions API), the fields that
/// matter to timing and cost; unknown fields are ignored, as the real API does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model name; echoed back.
    pub model: String,
    /// A string, an array of strings, or token arrays; its text length estimates the prompt.
    #[serde(default)]
    pub prompt: serde_json::Value,
    /// Output-token cap (the API's default is 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Number of choices (1..=128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Switches the response to server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Options of a streaming response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
}

impl CompletionRequest {
    /// Prompt tokens as `tokenizer` counts them (a token array counts its length).
    pub fn prompt_tokens(&self, tokenizer: Tokenizer) -> u64 {
        fn count(v: &serde_json::Value, t: Tokenizer) -> u64 {
            match v {
                serde_json::Value::String(s) => t.count(s),
                serde_json::Value::Array(items) if items.iter().all(|i| i.is_number()) => items.len() as u64,
                serde_json::Value::Array(items) => items.iter().map(|i| count(i, t)).sum(),
                _ => 0,
            }
        }
        count(&self.prompt, tokenizer).max(1)
    }
}

/// `POST /v1/messages` request body (Anthropic's Messages API), the fields that matter to timing
/// and cost; unknown fields (`thinking`, `temperature`, `tools`, …) are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// Model name; echoed back.
    pub model: String,
    /// Output-token cap, required by the API (`0` is legal: no output).
    pub max_tokens: u32,
    /// The conversation (`user` and `assistant` turns; content a string or blocks).
    pub messages: Vec<Message>,
    /// The system prompt: a string or `[{"type":"text","text":…}]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<serde_json::Value>,
    /// Switches the response to server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

impl MessagesRequest {
    /// A request of these messages, the shape the harness sends: `system` messages go to the
    /// `system` field (the Messages API has no system role), joined by newlines.
    pub fn new(model: &str, messages: Vec<Message>, max_tokens: u32, stream: bool) -> Self {
        let (system, messages): (Vec<Message>, Vec<Message>) = messages
            .into_iter()
            .partition(|m| m.role == "system" || m.role == "developer");
        let system = (!system.is_empty()).then(|| {
            let texts: Vec<std::borrow::Cow<'_, str>> = system.iter().map(Message::text).collect();
            serde_json::Value::String(texts.join("\n"))
        });
        MessagesRequest {
            model: model.to_owned(),
            max_tokens,
            messages,
            system,
            stream: stream.then_some(true),
        }
    }

    /// Whether the client asked for server-sent events.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// Input tokens as `tokenizer` counts them, framed as a chat prompt (the system prompt, when
    /// there is one, as a message of its own): Anthropic's own tokenizer is not public, so the
    /// mock and the harness agree on this one.
    pub fn prompt_tokens(&self, tokenizer: Tokenizer) -> u64 {
        let system = self.system.as_ref().map(|s| {
            Message {
                role: "system".to_owned(),
                content: s.clone(),
            }
            .text()
            .into_owned()
        });
        let texts: Vec<std::borrow::Cow<'_, str>> = self.messages.iter().map(Message::text).collect();
        tokenizer.chat_prompt(
            system
                .iter()
                .map(String::as_str)
                .chain(texts.iter().map(|t| t.as_ref())),
        )
    }
}

/// `POST /v1/embeddings` request body, the fields that matter; unknown fields (`user`) are
/// ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    /// Model name; echoed back.
    pub model: String,
    /// A string, an array of strings, one token array, or an array of token arrays.
    pub input: serde_json::Value,
    /// `float` (the API's default) or `base64` (little-endian float32; openai-python asks for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<String>,
    /// The length of each vector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
}

/// Most inputs in one embeddings request, as OpenAI allows.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;
/// Most tokens of one embedding input.
pub const MAX_EMBEDDING_INPUT_TOKENS: u64 = 8192;

impl EmbeddingsRequest {
    /// A request of these texts, the shape the harness sends (floats, not base64).
    pub fn new(model: &str, texts: Vec<String>) -> Self {
        EmbeddingsRequest {
            model: model.to_owned(),
            input: serde_json::Value::from(texts),
            encoding_format: Some("float".to_owned()),
            dimensions: None,
        }
    }

    /// Each input's text (a token array's is its numbers joined, which only the hash uses) and
    /// token count as `tokenizer` counts it, or why the input is refused: empty, more than
    /// [`MAX_EMBEDDING_INPUTS`] inputs, an input over [`MAX_EMBEDDING_INPUT_TOKENS`].
    pub fn inputs(&self, tokenizer: Tokenizer) -> Result<Vec<(String, u64)>, String> {
        use serde_json::Value;
        let tokens = |items: &[Value]| items.iter().all(Value::is_u64);
        let joined = |items: &[Value]| {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let inputs: Vec<(String, u64)> = match &self.input {
            Value::String(s) => vec![(s.clone(), tokenizer.count(s))],
            Value::Array(items) if !items.is_empty() && tokens(items) => {
                vec![(joined(items), items.len() as u64)]
            }
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok((s.clone(), tokenizer.count(s))),
                    Value::Array(t) if !t.is_empty() && tokens(t) => Ok((joined(t), t.len() as u64)),
                    _ => Err("each input must be a string or an array of token ids".to_owned()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("'input' must be a string, an array of strings or token arrays".to_owned()),
        };
        if inputs.is_empty() || inputs.iter().any(|(text, n)| text.is_empty() || *n == 0) {
            return Err("'input' cannot be empty, nor any of its items".to_owned());
        }
        if inputs.len() > MAX_EMBEDDING_INPUTS {
            return Err(format!(
                "'input' has {} items: at most {MAX_EMBEDDING_INPUTS} per request",
                inputs.len()
            ));
        }
        if let Some((_, n)) = inputs.iter().find(|(_, n)| *n > MAX_EMBEDDING_INPUT_TOKENS) {
            return Err(format!(
                "an input has {n} tokens: at most {MAX_EMBEDDING_INPUT_TOKENS} per input"
            ));
        }
        Ok(inputs)
    }
}

/// Token usage of a completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Sum of the two.
    pub total_tokens: u64,
}

/// The assistant message of a non-streaming choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// Always `assistant`.
    pub role: String,
    /// The generated text.
    pub content: Option<String>,
    /// Always `null` from the mock.
    #[serde(default)]
    pub refusal: Option<String>,
}

/// One choice of a non-streaming completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// Index of this choice.
    pub index: u32,
    /// The generated message.
    pub message: AssistantMessage,
    /// `stop` or `length`.
    pub finish_reason: Option<String>,
}

/// `chat.completion` response body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: String,
    /// Unix seconds.
    pub created: u64,
    /// Echo of the request's model.
    pub model: String,
    /// One entry per `n`.
    pub choices: Vec<Choice>,
    /// Token counts.
    pub usage: Option<Usage>,
}

/// The delta of a streamed choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Present on the first chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text of this chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// One choice of a streamed chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Index of the choice this delta belongs to.
    pub index: u32,
    /// What was added.
    pub delta: Delta,
    /// Set on the last content chunk of the choice.
    pub finish_reason: Option<String>,
}

/// `chat.completion.chunk`, one server-sent event of a streaming response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Same for every chunk of a response.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix seconds, same for every chunk.
    pub created: u64,
    /// Echo of the request's model.
    pub model: String,
    /// Empty on the usage chunk.
    pub choices: Vec<ChunkChoice>,
    /// `null` on every chunk but the usage chunk (with `include_usage`).
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// The inner object of an OpenAI error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    /// Human-readable message.
    pub message: String,
    /// `invalid_request_error`, `requests`, `tokens`, `insufficient_quota`, `server_error`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The offending parameter, if any.
    pub param: Option<String>,
    /// `rate_limit_exceeded`, `insufficient_quota`, `model_not_found`, … or `null`.
    pub code: Option<String>,
}

/// `{"error": {message, type, param, code}}`, the body of every OpenAI error response and of a
/// mid-stream error event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

impl ErrorBody {
    /// An error body from its four fields.
    pub fn new(message: impl Into<String>, kind: &str, param: Option<&str>, code: Option<&str>) -> Self {
        ErrorBody {
            error: ApiError {
                message: message.into(),
                kind: kind.to_owned(),
                param: param.map(str::to_owned),
                code: code.map(str::to_owned),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        let r: ChatRequest =
            serde_json::from_str(r#"{"model":"m","messages":[],"max_tokens":5,"max_completion_tokens":9}"#)
                .unwrap();
        assert_eq!(r.token_limit(), Some(9));
    }

    #[test]
    fn unknown_fields_and_content_parts_are_accepted() {
        let r: ChatRequest = serde_json::from_str(
            r#"{"model":"m","temperature":0.2,"messages":[{"role":"user","content":[{"type":"text","text":"hello world"},{"type":"text","text":"again"}]}]}"#,
        )
        .unwrap();
        assert_eq!(r.messages[0].text(), "hello world\nagain");
        // Four tokens of text (the newline joining the parts is one), three of the message's
        // framing, three priming the reply; three words.
        assert_eq!(r.prompt_tokens(Tokenizer::O200kBase), 4 + 3 + 3);
        assert_eq!(r.prompt_tokens(Tokenizer::Words), 3 + 3 + 3);
    }

    /// A Messages body: system messages move to `system`, the count frames it as a message of
    /// its own, and blocks count by their text; unknown fields are ignored.
    #[test]
    fn a_messages_request_moves_the_system_prompt_and_counts_it() {
        let r = MessagesRequest::new(
            "m",
            vec![
                Message {
                    role: "system".into(),
                    content: "be brief".into(),
                },
                Message::user("hello world"),
            ],
            7,
            true,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["system"], "be brief");
        assert_eq!(v["messages"].as_array().unwrap().len(), 1);
        assert_eq!(v["max_tokens"], 7);
        assert!(r.is_stream());
        assert_eq!(r.prompt_tokens(Tokenizer::Words), 2 + 2 + 3 + 3 + 3);
        let parsed: MessagesRequest = serde_json::from_str(
            r#"{"model":"m","max_tokens":0,"temperature":1,"thinking":{"type":"disabled"},"system":[{"type":"text","text":"be brief"}],"messages":[{"role":"user","content":[{"type":"text","text":"hello world"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            parsed.prompt_tokens(Tokenizer::Words),
            r.prompt_tokens(Tokenizer::Words)
        );
        assert!(!parsed.is_stream());
        assert!(serde_json::from_str::<MessagesRequest>(r#"{"model":"m","messages":[]}"#).is_err());
    }

    #[test]
    fn simple_streaming_request_asks_for_usage() {
        let v = serde_json::to_value(ChatRequest::simple("m", "hi", 4, true)).unwrap();
        assert_eq!(v["stream"], true);
        assert_eq!(v["stream_options"]["include_usage"], true);
        let v = serde_json::to_value(ChatRequest::simple("m", "hi", 4, false)).unwrap();
        assert!(v.get("stream").is_none());
    }
}
