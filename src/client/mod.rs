//! The two HTTP clients, blocking ([`blocking::BlockingClient`], ureq) and async
//! ([`async_client::AsyncClient`], reqwest), with the same method (`chat`) and the same result
//! type, plus what they share: the prepared request, status → [`RequestError`] mapping, and the
//! server-sent-events reader that times each streamed chunk on arrival.

pub mod async_client;
pub mod blocking;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use crate::error::RequestError;
use crate::inputs::PreparedBody;
use crate::metrics::Sample;
use crate::retry::parse_retry_after;

/// An API key, never printed: its `Debug` and `Display` show only that one is set. It is sent as
/// `Authorization: Bearer KEY`, or as the whole `Authorization` value given with `-H`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The `Authorization` header value.
    header: String,
    /// The credential itself, masked wherever a server echoes it back.
    secret: String,
    /// It came from `-H 'Authorization: …'`, not from the key variable.
    from_header: bool,
}

impl ApiKey {
    /// Wraps a key, sent as `Bearer KEY`.
    pub fn new(key: String) -> Self {
        ApiKey {
            header: format!("Bearer {key}"),
            secret: key,
            from_header: false,
        }
    }

    /// A whole `Authorization` value given with `-H` (`Bearer KEY`, `Basic …`), sent as it is;
    /// what follows the scheme is the secret.
    pub fn from_header(value: &str) -> Self {
        let value = value.trim();
        let secret = value.split_once(' ').map_or(value, |(_, k)| k.trim());
        ApiKey {
            header: value.to_owned(),
            secret: secret.to_owned(),
            from_header: true,
        }
    }

    /// Whether it came from `-H 'Authorization: …'`.
    pub fn is_from_header(&self) -> bool {
        self.from_header
    }

    /// The `Authorization` header value.
    pub(crate) fn bearer(&self) -> String {
        self.header.clone()
    }

    /// The key itself, for redacting it from what a server echoes back.
    pub(crate) fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// The request headers that carry the logical request's index (0-based) and the attempt number
/// (1-based), sent on every attempt. The mock derives each fault and delay from them, so the
/// same logical request meets the same fault in every strategy, whatever the order in which
/// requests reach it.
pub use mock_server::{ATTEMPT_HEADER, REQUEST_INDEX_HEADER};

/// How long an attempt may take and how much it may read, the same in every client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// One deadline per attempt, from before connecting to the last byte (streams included).
    pub timeout: Duration,
    /// Most bytes of one response body (a breach is the `too_large` outcome).
    pub max_body: u64,
}

/// Default of `--max-body`: far above any real completion (131 072 streamed tokens are about
/// 30 MB of SSE), far below what an endless body would take.
pub const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// What every attempt sends: method, URL, body and headers, built once per run.
#[derive(Clone)]
pub struct PreparedRequest {
    /// `POST` (chat) or `GET` (delay).
    pub post: bool,
    /// Full URL.
    pub url: String,
    /// The JSON bodies for POST, cycled through by request index (one for a plain run).
    pub bodies: Arc<Vec<PreparedBody>>,
    /// Extra headers (`-H`), on every attempt.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// `Authorization` header, when a key is set.
    pub(crate) auth: Option<String>,
    /// The body asks for server-sent events.
    pub stream: bool,
    /// The response is a chat completion (parse usage), not a plain JSON answer.
    pub chat: bool,
    /// The target is on loopback: proxies from the environment are not used.
    pub loopback: bool,
    /// Strings never to repeat in an error sample: the key, the URL's userinfo.
    pub(crate) secrets: Vec<String>,
    /// Certificates to trust over HTTPS.
    pub trust: crate::config::TlsTrust,
    /// Ask for HTTP/2 (the async client; ureq speaks HTTP/1.1 only).
    pub http2: bool,
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("post", &self.post)
            .field("url", &redact_url(&self.url))
            .field("auth", &self.auth.as_ref().map(|_| "***"))
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl PreparedRequest {
    /// A chat-completions POST of these bodies.
    pub fn chat(url: String, bodies: Vec<PreparedBody>, key: Option<&ApiKey>, stream: bool) -> Self {
        let loopback = is_loopback(&url);
        let mut secrets = userinfo_secrets(&url);
        secrets.extend(key.map(|k| k.secret().to_owned()));
        PreparedRequest {
            post: true,
            url,
            bodies: Arc::new(bodies),
            headers: Vec::new(),
            auth: key.map(ApiKey::bearer),
            stream,
            chat: true,
            loopback,
            secrets,
            trust: Default::default(),
            http2: false,
        }
    }

    /// A plain GET (the article's `/delay/1`).
    pub fn get(url: String) -> Self {
        let loopback = is_loopback(&url);
        let secrets = userinfo_secrets(&url);
        PreparedRequest {
            post: false,
            url,
            bodies: Arc::new(vec![PreparedBody {
                bytes: Bytes::new(),
                input_tokens: 0,
            }]),
            headers: Vec::new(),
            auth: None,
            stream: false,
            chat: false,
            loopback,
            secrets,
            trust: Default::default(),
            http2: false,
        }
    }

    /// `text` with every secret of this request masked.
    pub(crate) fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }

    /// The mean input-token estimate of the bodies (what a limiter charges besides max_tokens).
    pub fn mean_input_tokens(&self) -> u64 {
        let n = self.bodies.len().max(1) as u64;
        self.bodies.iter().map(|b| b.input_tokens).sum::<u64>() / n
    }

    /// The body request `index` sends.
    pub fn body(&self, index: u64) -> &PreparedBody {
        let n = self.bodies.len().max(1) as u64;
        &self.bodies[(index % n) as usize]
    }

    /// Adds `-H` headers; the values of credential headers join the secrets masked in samples.
    pub fn set_headers(&mut self, headers: &[crate::inputs::Header]) {
        for h in headers {
            if h.is_secret()
                && let Ok(v) = h.value.to_str()
            {
                self.secrets.push(v.to_owned());
                self.secrets
                    .extend(v.split_whitespace().filter(|w| w.len() >= 8).map(str::to_owned));
            }
            self.headers.push((h.name.clone(), h.value.clone()));
        }
    }
}

/// Whether a query parameter's name says it carries a credential (`api_key`, `api-key`, `key`,
/// `token`, `access_token`, `sig`, `secret`, `password`, `auth`, …).
pub fn is_credential_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "sig",
        "password",
        "passwd",
        "auth",
        "credential",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// The user name and password of a URL and the values of its credential-like query parameters
/// (what `redact_url` hides), for masking in messages.
fn userinfo_secrets(url: &str) -> Vec<String> {
    let Ok(u) = url::Url::parse(url) else {
        return Vec::new();
    };
    let query = u
        .query_pairs()
        .filter(|(k, _)| is_credential_param(k))
        .map(|(_, v)| v.into_owned())
        .collect::<Vec<_>>();
    [
        u.username().to_owned(),
        u.password().unwrap_or_default().to_owned(),
    ]
    .into_iter()
    .chain(query)
    .filter(|s| s.len() >= 3)
    .collect()
}

/// A URL with its userinfo (`user:password@`) replaced by `***@` and the values of its
/// credential-like query parameters by `***`, for anything printed or written. Not a URL:
/// returned as it is (nothing to hide that we can find).
pub fn redact_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        return url.to_owned();
    };
    if !u.username().is_empty() || u.password().is_some() {
        let _ = u.set_password(None);
        let _ = u.set_username("***");
    }
    if u.query_pairs().any(|(k, _)| is_credential_param(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_credential_param(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// `base` (which may carry a query, as Azure's `…/deployments/x?api-version=…` does) with
/// `path` appended to its path, the query kept after it.
pub fn join_url(base: &str, path: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut u) => {
            let joined = format!(
                "{}/{}",
                u.path().trim_end_matches('/'),
                path.trim_start_matches('/')
            );
            u.set_path(&joined);
            u.to_string()
        }
        Err(_) => format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/')),
    }
}

/// `text` with each secret replaced by `***`, and anything shaped like an OpenAI key
/// (`sk-` and 8 or more key characters) or a bearer token masked too: servers echo keys back in
/// their error messages.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        out = out.replace(s.as_str(), "***");
    }
    mask_after(&mask_after(&out, "sk-", 8), "Bearer ", 1)
}

/// Replaces every run of key characters (alphanumerics, `-`, `_`, `.`) of at least `min` after
/// `prefix` with `***`.
fn mask_after(text: &str, prefix: &str, min: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let run = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(after.len());
        out.push_str(&rest[..i + prefix.len()]);
        if run >= min && &after[..run] != "***" {
            out.push_str("***");
        } else {
            out.push_str(&after[..run]);
        }
        rest = &after[run..];
    }
    out.push_str(rest);
    out
}

/// Whether a URL's host is a loopback address or `localhost`.
pub fn is_loopback(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    }
}

/// How much of an error body is masked before the sample is cut from it.
const MASK_WINDOW: usize = 16 << 10;

/// Builds the error for a non-2xx status from its headers (ureq and reqwest share `http`'s map)
/// and the start of its body, secrets masked.
pub(crate) fn status_error(
    req: &PreparedRequest,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> RequestError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = parse_retry_after(header("retry-after-ms"), header("retry-after"));
    let should_retry = header("x-should-retry").and_then(|v| match v.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    // Mask first, then cut: a secret straddling the sample's end must not leave its start
    // behind, so the masking reads well past the cut.
    let start = &body[..body.len().min(MASK_WINDOW)];
    let text = String::from_utf8_lossy(start);
    RequestError::Status {
        status,
        retry_after,
        should_retry,
        body: crate::error::truncate(&req.redact(text.trim()), crate::metrics::Failure::SAMPLE_BYTES),
        ratelimit: crate::adaptive::RateLimit::from_headers(headers).map(Box::new),
    }
}

/// Reads a non-streaming 2xx body: usage from a chat completion, nothing from a plain JSON body.
pub(crate) fn parse_body(req: &PreparedRequest, body: &[u8]) -> Result<Sample, RequestError> {
    // The choices are checked to be there, not read: `IgnoredAny` walks them without building
    // a value, so a long completion costs no allocation here.
    #[derive(Deserialize)]
    struct CompletionView {
        choices: Vec<serde::de::IgnoredAny>,
        #[serde(default)]
        usage: Option<UsageView>,
    }
    if !req.chat {
        return Ok(Sample::default());
    }
    let c: CompletionView = serde_json::from_slice(body).map_err(|e| RequestError::Decode(e.to_string()))?;
    if c.choices.is_empty() {
        return Err(RequestError::Decode("completion has no choices".into()));
    }
    Ok(Sample {
        completion_tokens: c.usage.and_then(|u| u.completion_tokens),
        input_tokens: c.usage.and_then(|u| u.prompt_tokens),
        ..Sample::default()
    })
}

/// `usage`, as lenient as the servers that send it (any field may be missing).
#[derive(Debug, Clone, Copy, Deserialize)]
struct UsageView {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// A successful attempt's sample, completed with what the client saw: the protocol, the bytes,
/// and the input tokens (the target's count, else the body's estimate).
pub(crate) fn complete_sample(
    s: Sample,
    protocol: Option<crate::metrics::Protocol>,
    body: &PreparedBody,
    bytes: u64,
) -> Sample {
    Sample {
        protocol,
        bytes,
        input_tokens: s
            .input_tokens
            .or((body.input_tokens > 0).then_some(body.input_tokens)),
        ..s
    }
}

/// Incremental reader of an SSE chat stream: feed it bytes as they arrive, with the arrival
/// time; it splits events, times content tokens and notices `[DONE]` and error events.
///
/// Definitions (the peers disagree, so we state ours):
/// - TTFT: request sent → the first chunk whose delta has non-empty `content` (the opening
///   chunk with only `role` and `""` is not a token).
/// - ITL: the gaps between consecutive content chunks, the first token excluded.
/// - Output tokens: `usage.completion_tokens` from the usage chunk, else the content chunks.
#[derive(Debug)]
pub(crate) struct SseReader {
    started: Instant,
    buf: Vec<u8>,
    ttft: Option<Duration>,
    last_token: Option<Instant>,
    itl: Vec<Duration>,
    content_chunks: u64,
    usage_tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    done: bool,
}

impl SseReader {
    pub(crate) fn new(started: Instant) -> Self {
        SseReader {
            started,
            buf: Vec::new(),
            ttft: None,
            last_token: None,
            itl: Vec::new(),
            content_chunks: 0,
            usage_tokens: None,
            prompt_tokens: None,
            done: false,
        }
    }

    /// Feeds bytes that arrived at `now`. Errors on an error event or a malformed chunk.
    pub(crate) fn feed(&mut self, bytes: &[u8], now: Instant) -> Result<(), RequestError> {
        self.buf.extend_from_slice(bytes);
        // Events are read in place and the buffer compacted once per feed: draining each event
        // from the front would move the rest of the buffer every time (quadratic in the events
        // a chunk holds; a 64 KiB read can hold a thousand).
        let buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        let mut result = Ok(());
        while let Some((end, sep)) = find_event_end(&buf[start..]) {
            result = self.on_event(&buf[start..start + end], now);
            start += end + sep;
            if result.is_err() {
                break;
            }
        }
        self.buf = buf;
        self.buf.drain(..start);
        result
    }

    fn on_event(&mut self, raw: &[u8], now: Instant) -> Result<(), RequestError> {
        let text = std::str::from_utf8(raw).map_err(|e| RequestError::Decode(e.to_string()))?;
        let mut data = String::new();
        for line in text.lines() {
            if let Some(d) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        if data.is_empty() {
            return Ok(()); // a comment or keep-alive
        }
        if data.starts_with("[DONE]") {
            self.done = true;
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Delta {
            #[serde(default)]
            content: Option<String>,
        }
        #[derive(Deserialize)]
        struct ChoiceView {
            #[serde(default)]
            delta: Option<Delta>,
        }
        #[derive(Deserialize)]
        struct ChunkView {
            #[serde(default)]
            choices: Vec<ChoiceView>,
            #[serde(default)]
            usage: Option<UsageView>,
            #[serde(default)]
            error: Option<serde_json::Value>,
        }
        let chunk: ChunkView =
            serde_json::from_str(&data).map_err(|e| RequestError::Decode(e.to_string()))?;
        if let Some(err) = chunk.error {
            let msg = err
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("error event")
                .to_owned();
            return Err(RequestError::StreamError(msg));
        }
        let has_content = chunk.choices.iter().any(|c| {
            c.delta
                .as_ref()
                .and_then(|d| d.content.as_deref())
                .is_some_and(|s| !s.is_empty())
        });
        if has_content {
            self.content_chunks += 1;
            match self.last_token {
                None => self.ttft = Some(now.saturating_duration_since(self.started)),
                Some(prev) => self.itl.push(now.saturating_duration_since(prev)),
            }
            self.last_token = Some(now);
        }
        if let Some(u) = chunk.usage {
            self.usage_tokens = u.completion_tokens.or(self.usage_tokens);
            self.prompt_tokens = u.prompt_tokens.or(self.prompt_tokens);
        }
        Ok(())
    }

    /// Whether `[DONE]` has been seen.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The sample of a stream that ended; a stream that stopped before `[DONE]` is a failure,
    /// never a success with fewer tokens.
    pub(crate) fn finish(self) -> Result<Sample, RequestError> {
        if !self.done {
            return Err(RequestError::Transport("stream ended before [DONE]".into()));
        }
        Ok(Sample {
            completion_tokens: Some(self.usage_tokens.unwrap_or(self.content_chunks)),
            ttft: self.ttft,
            itl: self.itl,
            input_tokens: self.prompt_tokens,
            ..Sample::default()
        })
    }
}

/// The end of the first complete event in `buf` and the separator length (`\n\n` or `\r\n\r\n`).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    // One pass over the line feeds, stopping at the first blank line: scanning the whole buffer
    // for each kind of separator would read past the event to the end every time.
    let mut from = 0;
    while let Some(p) = buf[from..].iter().position(|&b| b == b'\n') {
        let j = from + p;
        if buf.get(j + 1) == Some(&b'\n') {
            return Some((j, 2));
        }
        if j >= 1 && buf[j - 1] == b'\r' && buf.get(j + 1..j + 3) == Some(b"\r\n") {
            return Some((j - 1, 4));
        }
        from = j + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_end_at_the_first_blank_line_of_either_kind() {
        assert_eq!(find_event_end(b"data: a\n\ndata: b\n\n"), Some((7, 2)));
        assert_eq!(find_event_end(b"data: a\r\n\r\ndata: b\n\n"), Some((7, 4)));
        assert_eq!(find_event_end(b"data: a\r\ndata: b\n\n"), Some((16, 2)));
        assert_eq!(find_event_end(b"data: a\ndata: b\r\n\r\n"), Some((15, 4)));
        assert_eq!(find_event_end(b"data: a\r\n"), None);
        assert_eq!(find_event_end(b"data: a\n"), None);
        assert_eq!(find_event_end(b""), None);
    }

    /// A thousand events in one read come out one by one, in order, with the unfinished tail
    /// kept for the next read.
    #[test]
    fn many_events_in_one_read_are_all_taken_and_the_tail_kept() {
        let t0 = Instant::now();
        let mut r = SseReader::new(t0);
        let event = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n";
        let mut read = event.repeat(1000);
        read.extend_from_slice(b"data: {\"choices\":[{\"ind");
        r.feed(&read, t0).unwrap();
        assert_eq!(r.content_chunks, 1000);
        r.feed(b"ex\":0,\"delta\":{\"content\":\"y\"}}]}\n\ndata: [DONE]\n\n", t0)
            .unwrap();
        assert_eq!(r.content_chunks, 1001);
        assert!(r.is_done());
        assert!(r.buf.is_empty());
    }

    #[test]
    fn sse_reader_times_content_tokens_not_the_role_chunk() {
        let t0 = Instant::now();
        let mut r = SseReader::new(t0);
        let ms = |n| t0 + Duration::from_millis(n);
        r.feed(
            b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
            ms(5),
        )
        .unwrap();
        r.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n",
            ms(50),
        )
        .unwrap();
        // The event is split across two reads: it completes at 52 ms.
        r.feed(b"\n", ms(52)).unwrap();
        r.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n",
            ms(80),
        )
        .unwrap();
        r.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\ndata: [DONE]\n\n", ms(81)).unwrap();
        let s = r.finish().unwrap();
        assert_eq!(s.ttft, Some(Duration::from_millis(52)));
        assert_eq!(s.itl, vec![Duration::from_millis(28)]);
        assert_eq!(s.completion_tokens, Some(2));
    }

    #[test]
    fn sse_error_event_and_missing_done_are_failures() {
        let t0 = Instant::now();
        let mut r = SseReader::new(t0);
        let e = r.feed(
            b"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
            t0,
        );
        assert_eq!(e, Err(RequestError::StreamError("boom".into())));
        let mut r = SseReader::new(t0);
        r.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", t0)
            .unwrap();
        assert!(matches!(r.finish(), Err(RequestError::Transport(_))));
    }

    #[test]
    fn crlf_events_are_split_too() {
        let t0 = Instant::now();
        let mut r = SseReader::new(t0);
        r.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n",
            t0,
        )
        .unwrap();
        assert!(r.is_done());
        assert_eq!(r.finish().unwrap().completion_tokens, Some(1));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("http://127.0.0.1:8080/v1"));
        assert!(is_loopback("http://localhost/v1"));
        assert!(is_loopback("http://[::1]:80/"));
        assert!(!is_loopback("https://api.openai.com/v1"));
    }

    #[test]
    fn api_key_is_never_debug_printed() {
        let k = ApiKey::new("sk-secret-123".into());
        assert!(!format!("{k:?}").contains("secret"));
        let r = PreparedRequest::chat(
            "http://u:pw-123@127.0.0.1:1/v1".into(),
            Vec::new(),
            Some(&k),
            false,
        );
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("secret") && !dbg.contains("pw-123"), "{dbg}");
    }

    #[test]
    fn secrets_and_key_shapes_are_masked() {
        let secrets = vec!["hunter2-key".to_owned()];
        assert_eq!(
            redact("Incorrect API key provided: hunter2-key.", &secrets),
            "Incorrect API key provided: ***."
        );
        assert_eq!(redact("key sk-proj-abcdefgh1234 bad", &[]), "key sk-*** bad");
        assert_eq!(
            redact("Authorization: Bearer abc.def", &[]),
            "Authorization: Bearer ***"
        );
        assert_eq!(redact("sk-short", &[]), "sk-short");
        assert_eq!(
            redact_url("http://user:pw@example.com:8080/v1"),
            "http://***@example.com:8080/v1"
        );
        assert_eq!(redact_url("http://example.com/v1"), "http://example.com/v1");
    }
}
