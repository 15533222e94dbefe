//! What a request sends and where: the API key, the URL (credentials kept out of it), limits, the
//! prepared body, and the redaction of secrets from any text we print.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::plan::inputs::PreparedBody;

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
    pub(crate) fn from_header(value: &str) -> Self {
        let value = value.trim();
        let secret = value.split_once(' ').map_or(value, |(_, k)| k.trim());
        ApiKey {
            header: value.to_owned(),
            secret: secret.to_owned(),
            from_header: true,
        }
    }

    /// Whether it came from `-H 'Authorization: …'`.
    pub(crate) fn is_from_header(&self) -> bool {
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
pub(crate) const DEFAULT_MAX_BODY: u64 = 64 << 20;

/// Which call a request makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `POST` of a chat-completions body; the answer is a chat completion (usage is read).
    Chat,
    /// `POST` of an Anthropic Messages body; the answer is a `message` (usage is read).
    Messages,
    /// `POST` of an embeddings body; the answer is a list of vectors, one per input.
    Embeddings,
    /// `GET` with no body (the article's `/delay/1`); the answer is any JSON.
    Delay,
}

impl Call {
    /// Whether it posts a body and reads an answer of the API back (chat, Messages,
    /// embeddings), not any JSON.
    pub fn completes(self) -> bool {
        matches!(self, Call::Chat | Call::Messages | Call::Embeddings)
    }
}

/// The `anthropic-version` sent with Messages requests (the one every version of the API
/// accepts; `-H anthropic-version: …` replaces it).
pub(crate) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// What every attempt sends: method, URL, body and headers, built once per run.
#[derive(Clone)]
pub struct PreparedRequest {
    /// A chat completion (`POST`) or the delay endpoint (`GET`).
    pub call: Call,
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
    /// The target is on loopback (a mock's stamps are read from it: its clock is ours).
    pub loopback: bool,
    /// The proxy every client goes through, or none (the environment's own is never read by
    /// a client: see [`crate::plan::proxy`]).
    pub proxy: Option<crate::plan::proxy::Proxy>,
    /// Strings never to repeat in an error sample: the key, the URL's userinfo.
    pub(crate) secrets: Vec<String>,
    /// Certificates to trust over HTTPS.
    pub trust: crate::plan::endpoint::TlsTrust,
    /// Ask for HTTP/2 (the async client; ureq speaks HTTP/1.1 only).
    pub http2: bool,
    /// How a stream's text is counted in tokens when the target sends no usage.
    pub tokenizer: mock_server::tokens::Tokenizer,
    /// Embeddings: the vectors each answer must hold (one per input).
    pub inputs: u64,
    /// How each attempt's numbers go to the target.
    pub numbering: Numbering,
}

/// How the harness's clients number each attempt (the logical request's index, and the attempt
/// from the second on), so that a mock draws its fault and delays from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Numbering {
    /// `x-asyncbench-request` and `x-asyncbench-attempt` headers: any target (the protocol
    /// external clients speak too).
    #[default]
    Headers,
    /// `ab_r` and `ab_a` query parameters (`NumberedUrl`): a target known to be our mock.
    /// reqwest, tower-http and hyper copy a request's headers three times and hold the copies
    /// until its answer: the number's header cost 0.7–1.1 KB a request in flight (7–11 MB of
    /// peak RSS at 10 000 in flight); a few bytes more in the URL they copy anyway do not.
    Query,
}

impl Numbering {
    /// Whether the numbers go in headers.
    pub fn in_headers(self) -> bool {
        self == Numbering::Headers
    }
}

/// A target URL to number in its query, attempt by attempt ([`Numbering::Query`]).
///
/// Each attempt's URL is a clone of a template that already holds the numbers' parameter with
/// room for seven digits, its query then set: a URL grown in place doubles its text (a 42-byte
/// URL held 84 bytes of room, a 96-byte allocation, in each request in flight), a clone is
/// exactly as long as the template (55 bytes, a 56-byte allocation). Short parameter names keep
/// the URL that reqwest turns into a URI and parses twice more per request (for its redirect
/// policy and the response) short too.
#[derive(Debug, Clone)]
pub(crate) struct NumberedUrl {
    template: url::Url,
    /// The URL's own query, kept before the numbers.
    own: Option<String>,
}

impl NumberedUrl {
    /// Digits of room the template keeps for a request's number (requests 0 to 9 999 999 are
    /// numbered without growing the clone's text).
    const ROOM: &'static str = "0000000";

    /// `url` numbered: its own query, then the numbers.
    pub(crate) fn new(url: &url::Url) -> Self {
        let own = url.query().filter(|q| !q.is_empty()).map(str::to_owned);
        let mut template = url.clone();
        template.set_query(Some(&query(own.as_deref(), Self::ROOM, None)));
        NumberedUrl { template, own }
    }

    /// The URL of attempt `attempt` (1-based; the first goes without its number, as the mock
    /// takes 1) of request `index`.
    pub(crate) fn url(&self, index: u64, attempt: u32) -> url::Url {
        let mut url = self.template.clone();
        let mut digits = itoa::Buffer::new();
        let mut attempt_digits = itoa::Buffer::new();
        let attempt = (attempt > 1).then(|| attempt_digits.format(attempt));
        url.set_query(Some(&query(self.own.as_deref(), digits.format(index), attempt)));
        url
    }
}

/// `own&ab_r=INDEX&ab_a=ATTEMPT`, each part when given.
fn query(own: Option<&str>, index: &str, attempt: Option<&str>) -> String {
    let (r, a) = (mock_server::REQUEST_INDEX_PARAM, mock_server::ATTEMPT_PARAM);
    let mut q = String::with_capacity(own.map_or(0, |o| o.len() + 1) + r.len() + a.len() + 34);
    if let Some(o) = own {
        q.push_str(o);
        q.push('&');
    }
    q.push_str(r);
    q.push('=');
    q.push_str(index);
    if let Some(n) = attempt {
        q.push('&');
        q.push_str(a);
        q.push('=');
        q.push_str(n);
    }
    q
}

impl fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("call", &self.call)
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
            call: Call::Chat,
            url,
            bodies: Arc::new(bodies),
            headers: Vec::new(),
            auth: key.map(ApiKey::bearer),
            stream,
            loopback,
            secrets,
            trust: Default::default(),
            proxy: None,
            http2: false,
            tokenizer: Default::default(),
            inputs: 1,
            numbering: Numbering::Headers,
        }
    }

    /// An Anthropic Messages POST of these bodies: the key as `x-api-key` (as the API's
    /// documentation asks; a key given as `-H 'Authorization: …'` goes as it is), and
    /// `anthropic-version` unless `-H` sets one (see [`PreparedRequest::set_headers`]).
    pub fn messages(url: String, bodies: Vec<PreparedBody>, key: Option<&ApiKey>, stream: bool) -> Self {
        let mut req = PreparedRequest::chat(url, bodies, None, stream);
        req.call = Call::Messages;
        if let Some(k) = key {
            req.secrets.push(k.secret().to_owned());
            if k.is_from_header() {
                req.auth = Some(k.bearer());
            } else if let Ok(v) = http::HeaderValue::from_str(k.secret()) {
                req.headers.push((http::HeaderName::from_static("x-api-key"), v));
            }
        }
        req.headers.push((
            http::HeaderName::from_static("anthropic-version"),
            http::HeaderValue::from_static(ANTHROPIC_VERSION),
        ));
        req
    }

    /// An embeddings POST of these bodies, each of `inputs` inputs (the key as for chat).
    pub fn embeddings(url: String, bodies: Vec<PreparedBody>, key: Option<&ApiKey>, inputs: u64) -> Self {
        PreparedRequest {
            call: Call::Embeddings,
            inputs,
            ..PreparedRequest::chat(url, bodies, key, false)
        }
    }

    /// A plain GET (the article's `/delay/1`).
    pub fn get(url: String) -> Self {
        let loopback = is_loopback(&url);
        let secrets = userinfo_secrets(&url);
        PreparedRequest {
            call: Call::Delay,
            url,
            bodies: Arc::new(vec![PreparedBody {
                bytes: Bytes::new(),
                input_tokens: 0,
            }]),
            headers: Vec::new(),
            auth: None,
            stream: false,
            loopback,
            secrets,
            trust: Default::default(),
            proxy: None,
            http2: false,
            tokenizer: Default::default(),
            inputs: 1,
            numbering: Numbering::Headers,
        }
    }

    /// `text` with every secret of this request masked.
    pub(crate) fn redact(&self, text: &str) -> String {
        redact(text, &self.secrets)
    }

    /// The mean input-token estimate of the bodies (what a limiter charges besides max_tokens).
    pub(crate) fn mean_input_tokens(&self) -> u64 {
        let n = self.bodies.len().max(1) as u64;
        self.bodies.iter().map(|b| b.input_tokens).sum::<u64>() / n
    }

    /// The body request `index` sends.
    pub fn body(&self, index: u64) -> &PreparedBody {
        let n = self.bodies.len().max(1) as u64;
        &self.bodies[(index % n) as usize]
    }

    /// Adds `-H` headers; the values of credential headers join the secrets masked in samples.
    /// A header of the same name set here before (`anthropic-version`) gives way to it.
    pub(crate) fn set_headers(&mut self, headers: &[crate::model::plan::Header]) {
        self.headers
            .retain(|(name, _)| !headers.iter().any(|h| h.name == *name));
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
pub(crate) fn is_credential_param(name: &str) -> bool {
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
pub(crate) fn userinfo_secrets(url: &str) -> Vec<String> {
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
pub(crate) fn redact_url(url: &str) -> String {
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
pub(crate) fn join_url(base: &str, path: &str) -> String {
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
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
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
pub(crate) fn is_loopback(url: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Each attempt's URL carries its numbers after the URL's own query (the attempt from the
    /// second on), and a number of up to seven digits fits the template's room: the URL's text
    /// is as long as the template's, not grown (growing it in place doubled its room).
    #[test]
    fn a_numbered_url_keeps_its_own_query_and_is_not_grown() {
        // Arrange
        let plain = NumberedUrl::new(&url::Url::parse("http://127.0.0.1:43505/v1/chat/completions").unwrap());
        let own = NumberedUrl::new(
            &url::Url::parse("http://127.0.0.1:1/v1/embeddings?api-version=2024-10-21").unwrap(),
        );
        let room = String::from(plain.template.clone()).len();
        // Act
        let first = plain.url(17, 1);
        let retry = plain.url(17, 2);
        let with_own = own.url(3, 4);
        let widest = String::from(plain.url(9_999_999, 1));
        // Assert
        assert_eq!(first.query(), Some("ab_r=17"));
        assert_eq!(retry.query(), Some("ab_r=17&ab_a=2"));
        assert_eq!(with_own.query(), Some("api-version=2024-10-21&ab_r=3&ab_a=4"));
        assert_eq!(first.path(), "/v1/chat/completions");
        assert_eq!(widest.len(), room);
        assert_eq!(widest.capacity(), room, "the URL's text grew");
        let grown = String::from(plain.url(12_345_678_901, 3));
        assert!(grown.ends_with("?ab_r=12345678901&ab_a=3"), "{grown}");
    }
}
