//! Test helpers: a small fast config for any strategy, and a wiremock server answering with an
//! exact sequence of responses.

use std::time::Duration;

use asyncbench::config::{LoadModel, RunConfig, Strategy, Target, Workload};
use asyncbench::retry::{RetryPolicy, RetryPreset};
use mock_server::Profile;

/// A closed-loop config against the embedded mock: `n` requests, concurrency 4, batches of 4
/// with a 10 ms pause, no retries, a 5 s timeout.
pub(crate) fn config(strategies: &[Strategy], n: u64, profile: Profile) -> RunConfig {
    RunConfig {
        workload: Workload {
            requests: n,
            model: "mock-model".into(),
            prompt: "hello".into(),
            max_tokens: 8,
            stream: false,
            delay_endpoint: None,
        },
        strategies: strategies.to_vec(),
        concurrency: 4,
        batch_size: 4,
        pause: Duration::from_millis(10),
        retry: RetryPolicy::preset(RetryPreset::None),
        timeout: Duration::from_secs(5),
        load: LoadModel::Closed,
        seed: 7,
        mock: Some(profile),
        target: None,
        out: None,
        quiet: true,
    }
}

/// The same config pointed at an external base URL.
pub(crate) fn config_for_target(strategies: &[Strategy], n: u64, base_url: String) -> RunConfig {
    let mut cfg = config(strategies, n, Profile::default());
    cfg.mock = None;
    cfg.target = Some(Target {
        base_url,
        api_key: None,
        embedded: false,
    });
    cfg
}

/// A retry policy with short waits for tests: `attempts` in all, 10 ms doubling, every 5xx and
/// 429 retried, Retry-After honoured up to 5 s.
pub(crate) fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        name: "test".into(),
        attempts,
        initial: Duration::from_millis(10),
        factor: 2.0,
        max_delay: Duration::from_millis(50),
        first_exponent: 0,
        jitter: asyncbench::retry::Jitter::None,
        statuses: vec![429],
        retry_server_errors: true,
        retry_transport: true,
        retry_after_cap: Some(Duration::from_secs(5)),
        obey_should_retry: true,
    }
}

/// A chat completion body as the real API sends it.
pub(crate) fn completion_json() -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    })
}
