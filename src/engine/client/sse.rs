//! The server-sent-events reader of a streamed answer: splits events as bytes arrive, times each
//! token chunk on arrival (TTFT, TTFO, ITL, the reasoning's own gaps), and counts the output.

use std::time::{Duration, Instant};

use mock_server::tokens::Tokenizer;
use serde::Deserialize;

use super::UsageView;
use crate::model::outcome::{RequestError, TransportKind};
use crate::model::record::{Reasoning, Sample, StampedWrite, Stamps};

/// Incremental reader of an SSE stream, OpenAI's chat chunks or Anthropic's Messages events:
/// feed it bytes as they arrive, with the arrival time; it splits events, times content tokens
/// and notices the end (`[DONE]`, `message_stop`) and error events.
///
/// Definitions (the peers disagree, so we state ours):
/// - TTFT: request sent → the first chunk with a token of any kind: non-empty `content`,
///   `reasoning` or `reasoning_content` in a delta (the opening chunk with only `role` and `""`
///   is not a token); with Anthropic's events, the first `content_block_delta` with text or
///   thinking.
/// - TTFO: request sent → the first output token (`content`, Anthropic's `text`); after TTFT
///   when the model reasons first, equal to it otherwise.
/// - ITL: the gaps between consecutive content chunks, the first token excluded; the reasoning
///   chunks' own gaps apart.
/// - Output tokens: `usage.completion_tokens` from the usage chunk, else the content's text as
///   `--tokenizer` counts it.
#[derive(Debug)]
pub(crate) struct SseReader {
    started: Instant,
    tokenizer: Tokenizer,
    /// The content's text, counted at the end when no usage came.
    content: String,
    /// The reasoning's text, the same.
    reasoning: String,
    buf: Vec<u8>,
    ttft: Option<Duration>,
    ttfo: Option<Duration>,
    last_token: Option<Instant>,
    last_reasoning: Option<Instant>,
    itl: Vec<Duration>,
    reasoning_itl: Vec<Duration>,
    content_chunks: u64,
    usage_tokens: Option<u64>,
    usage_reasoning: Option<u64>,
    prompt_tokens: Option<u64>,
    done: bool,
    /// Whether any event with data was read (a body of none was not a stream at all).
    any_event: bool,
    /// The head's stamp's intended time, when it had one (a target on this host, where its
    /// clock is ours): the mock's `: stamp` comments are read, their times after it.
    stamp_base: Option<u64>,
    /// The stamped events' writes, in order (here, not behind the sample's box: at 256 streams
    /// in flight the box's line was one more cache miss an event).
    stamped: Vec<StampedWrite>,
    /// The last read's time and its `CLOCK_MONOTONIC` reading, for the stamps of its events.
    read_ns: Option<(Instant, u64)>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// Reasoning: vLLM's and gpt-oss's name (read first), DeepSeek's, Anthropic's
    /// `thinking_delta`.
    #[serde(default)]
    reasoning: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    thinking: Option<String>,
    /// Anthropic's `text_delta`.
    #[serde(default)]
    text: Option<String>,
}
impl Delta {
    fn reasoning(&self) -> Option<&str> {
        self.reasoning
            .as_deref()
            .or(self.reasoning_content.as_deref())
            .or(self.thinking.as_deref())
    }
}
#[derive(Deserialize)]
struct ChoiceView {
    #[serde(default)]
    delta: Option<Delta>,
}
#[derive(Deserialize)]
struct MessageView {
    #[serde(default)]
    usage: Option<UsageView>,
}
#[derive(Deserialize)]
struct ChunkView<'a> {
    #[serde(default)]
    choices: Vec<ChoiceView>,
    #[serde(default)]
    usage: Option<UsageView>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    /// Anthropic's event type (`message_start`, `content_block_delta`, …).
    #[serde(default, rename = "type", borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    /// Anthropic's delta of a content block.
    #[serde(default)]
    delta: Option<Delta>,
    /// Anthropic's `message_start` message (its usage has the input tokens).
    #[serde(default)]
    message: Option<MessageView>,
}

/// The stamped events a stream's first stamp makes room for.
const STAMPED_EVENTS: usize = 40;

/// The data of one event, its `data:` lines joined by line feeds (`None`: a comment or a
/// keep-alive; one line, the usual case, is borrowed, not copied).
fn event_data(text: &str) -> Option<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut data: Option<Cow<'_, str>> = None;
    for line in text.lines() {
        // A comment opens with a colon: one byte tells, where trying the `data:` prefix
        // first was a `memcmp` call on every stamped event.
        if line.as_bytes().first() == Some(&b':') {
            continue;
        }
        let Some(d) = line.strip_prefix("data:") else {
            continue;
        };
        let d = d.strip_prefix(' ').unwrap_or(d);
        data = Some(match data {
            Some(joined) if !joined.is_empty() => {
                let mut joined = joined.into_owned();
                joined.push('\n');
                joined.push_str(d);
                Cow::Owned(joined)
            }
            _ => Cow::Borrowed(d),
        });
    }
    data.filter(|d| !d.is_empty())
}

impl SseReader {
    pub(crate) fn new(started: Instant, tokenizer: Tokenizer) -> Self {
        SseReader {
            started,
            tokenizer,
            content: String::new(),
            reasoning: String::new(),
            buf: Vec::new(),
            ttft: None,
            ttfo: None,
            last_token: None,
            last_reasoning: None,
            itl: Vec::new(),
            reasoning_itl: Vec::new(),
            content_chunks: 0,
            usage_tokens: None,
            usage_reasoning: None,
            prompt_tokens: None,
            done: false,
            any_event: false,
            stamp_base: None,
            stamped: Vec::new(),
            read_ns: None,
        }
    }

    /// Reads the mock's stamps too, given the head's (`Some`: the target is on this host, so
    /// its clock is ours): the events' are times after the head's intended one.
    pub(crate) fn reading_stamps(mut self, head_intended: Option<u64>) -> Self {
        self.stamp_base = head_intended;
        self
    }

    /// Feeds bytes that arrived at `now`. Errors on an error event or a malformed chunk.
    pub(crate) fn feed(&mut self, bytes: &[u8], now: Instant) -> Result<(), RequestError> {
        // With nothing held over (the usual case: a read ends at an event's end), the events
        // are read from the chunk where they lie and only an unfinished last one is kept:
        // copying every chunk into the buffer first copied every byte of every stream.
        if self.buf.is_empty() {
            let (read, result) = self.read_events(bytes, now);
            self.buf.extend_from_slice(&bytes[read..]);
            return result;
        }
        self.buf.extend_from_slice(bytes);
        // Events are read in place and the buffer compacted once per feed: draining each event
        // from the front would move the rest of the buffer every time (quadratic in the events
        // a chunk holds; a 64 KiB read can hold a thousand).
        let buf = std::mem::take(&mut self.buf);
        let (read, result) = self.read_events(&buf, now);
        self.buf = buf;
        self.buf.drain(..read);
        result
    }

    /// Reads the complete events at the start of `buf`: how many bytes they took, and the
    /// first error (no event after it is read).
    fn read_events(&mut self, buf: &[u8], now: Instant) -> (usize, Result<(), RequestError>) {
        let mut start = 0;
        while let Some((end, sep)) = find_event_end(&buf[start..]) {
            let result = self.on_event(&buf[start..start + end], now);
            start += end + sep;
            if result.is_err() {
                return (start, result);
            }
        }
        (start, Ok(()))
    }

    fn on_event(&mut self, raw: &[u8], now: Instant) -> Result<(), RequestError> {
        // The mock opens each event with its stamp line: read from the bytes and left out of
        // the text the rest of the event is read from.
        let mut raw = raw;
        if let Some(base) = self.stamp_base
            && let Some((stamp, rest)) = mock_server::stamp::split_line(raw)
        {
            raw = rest;
            if let Some(s) = stamp {
                self.on_stamp(s.times(base), now);
            }
        }
        let text = std::str::from_utf8(raw).map_err(|e| RequestError::Decode(e.to_string()))?;
        let data = event_data(text);
        let Some(data) = data else {
            return Ok(()); // a comment or keep-alive
        };
        self.any_event = true;
        if data.starts_with("[DONE]") {
            self.done = true;
            return Ok(());
        }
        let chunk: ChunkView<'_> =
            serde_json::from_str(&data).map_err(|e| RequestError::Decode(e.to_string()))?;
        self.on_chunk(chunk, now)
    }

    /// An event's stamp (its intended and written times), read at `now`.
    fn on_stamp(&mut self, (intended, written): (u64, u64), now: Instant) {
        // Every event of one read was read at `now`: its clock reading made once.
        let read = match self.read_ns {
            Some((at, ns)) if at == now => ns,
            _ => {
                let ns = mock_server::stamp::ns(now);
                self.read_ns = Some((now, ns));
                ns
            }
        };
        // Room for a short answer's events at once: growing from empty took five
        // reallocations for 32 tokens.
        if self.stamped.capacity() == 0 {
            self.stamped.reserve_exact(STAMPED_EVENTS);
        }
        self.stamped.push(StampedWrite::of(intended, written, read));
    }

    /// One parsed event: the end, an error, or deltas to time and usage to keep.
    fn on_chunk(&mut self, chunk: ChunkView<'_>, now: Instant) -> Result<(), RequestError> {
        if chunk.kind.as_deref() == Some("message_stop") {
            self.done = true;
            return Ok(());
        }
        if let Some(err) = chunk.error {
            let msg = err
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("error event")
                .to_owned();
            return Err(RequestError::StreamError(msg));
        }
        let mut has_content = false;
        let mut has_reasoning = false;
        let deltas = chunk
            .choices
            .iter()
            .filter_map(|c| c.delta.as_ref())
            .chain(chunk.delta.as_ref());
        for d in deltas {
            if let Some(text) = d.content.as_deref().or(d.text.as_deref()) {
                has_content |= !text.is_empty();
                self.content.push_str(text);
            }
            if let Some(text) = d.reasoning() {
                has_reasoning |= !text.is_empty();
                self.reasoning.push_str(text);
            }
        }
        let since_start = now.saturating_duration_since(self.started);
        if (has_content || has_reasoning) && self.ttft.is_none() {
            self.ttft = Some(since_start);
        }
        if has_reasoning {
            if let Some(prev) = self.last_reasoning {
                self.reasoning_itl.push(now.saturating_duration_since(prev));
            }
            self.last_reasoning = Some(now);
        }
        if has_content {
            self.content_chunks += 1;
            match self.last_token {
                None => self.ttfo = Some(since_start),
                Some(prev) => self.itl.push(now.saturating_duration_since(prev)),
            }
            self.last_token = Some(now);
        }
        // Anthropic's totals are cumulative (a later one replaces an earlier one), as OpenAI's
        // one usage chunk is.
        for u in chunk
            .usage
            .iter()
            .chain(chunk.message.and_then(|m| m.usage).as_ref())
        {
            self.usage_tokens = u.completion_tokens.or(self.usage_tokens);
            self.prompt_tokens = u.prompt_tokens.or(self.prompt_tokens);
            self.usage_reasoning = u.reasoning().or(self.usage_reasoning);
        }
        Ok(())
    }

    /// Whether the end (`[DONE]`, `message_stop`) has been seen.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The sample of a stream that ended; a stream that stopped before its end (`[DONE]`,
    /// `message_stop`) is a failure, never a success with fewer tokens.
    pub(crate) fn finish(self) -> Result<Sample, RequestError> {
        // A body without a single event was not a stream (a JSON answer from a target that
        // ignores `stream: true`, an HTML page): read as one ended early, it was called a
        // connection closed, and the diagnosis asked whether the target was up.
        if !self.any_event {
            let head = String::from_utf8_lossy(&self.buf[..self.buf.len().min(60)]);
            return Err(RequestError::Decode(if head.is_empty() {
                "the answer to a streaming request held no event".to_owned()
            } else {
                format!(
                    "the answer to a streaming request held no event (it began {head:?}): does the target stream?"
                )
            }));
        }
        if !self.done {
            return Err(RequestError::transport(
                TransportKind::Closed,
                "stream ended before its end event ([DONE] or message_stop)",
            ));
        }
        // Without usage, the text as the tokenizer counts it; a reasoning part the usage does
        // not name is counted the same way.
        let reasoning = self
            .usage_reasoning
            .or_else(|| (!self.reasoning.is_empty()).then(|| self.tokenizer.count(&self.reasoning)));
        Ok(Sample {
            completion_tokens: Some(
                self.usage_tokens
                    .unwrap_or_else(|| self.tokenizer.count(&self.content) + reasoning.unwrap_or(0)),
            ),
            ttft: self.ttft,
            itl: self.itl,
            // Only an answer that reasoned carries the reasoning part (most carry none).
            reasoning: (reasoning.is_some() || self.last_reasoning.is_some()).then(|| {
                Box::new(Reasoning {
                    tokens: reasoning,
                    ttfo: self.ttfo,
                    itl: self.reasoning_itl,
                })
            }),
            input_tokens: self.prompt_tokens,
            stamps: (!self.stamped.is_empty()).then(|| {
                Box::new(Stamps {
                    events: self.stamped,
                    ..Stamps::default()
                })
            }),
            ..Sample::default()
        })
    }
}

/// The end of the first complete event in `buf` and the separator length (`\n\n` or `\r\n\r\n`).
fn find_event_end(buf: &[u8]) -> Option<(usize, usize)> {
    // One pass over the line feeds, stopping at the first blank line: scanning the whole buffer
    // for each kind of separator would read past the event to the end every time. memchr finds
    // them many bytes at a time, where a loop over bytes looked at each.
    for j in memchr::memchr_iter(b'\n', buf) {
        if buf.get(j + 1) == Some(&b'\n') {
            return Some((j, 2));
        }
        if j >= 1 && buf[j - 1] == b'\r' && buf.get(j + 1..j + 3) == Some(b"\r\n") {
            return Some((j - 1, 4));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event's data: one line borrowed, several joined by line feeds, none (a comment, a
    /// keep-alive, an empty `data:`) nothing to parse; comments (a stamp too) skipped.
    #[test]
    fn an_events_data_lines_are_joined() {
        use std::borrow::Cow;
        let data = event_data;
        assert!(matches!(
            data("data: {\"a\":1}"),
            Some(Cow::Borrowed("{\"a\":1}"))
        ));
        assert_eq!(data("event: x\ndata:a\ndata: b").as_deref(), Some("a\nb"));
        assert_eq!(data(": keep-alive"), None);
        assert_eq!(data("data:"), None);
        assert_eq!(data("data:\ndata: x").as_deref(), Some("x"));
        assert_eq!(data(": stamp 1 2\ndata: x").as_deref(), Some("x"));
    }

    /// Each stamped event gives the mock's lateness (written − intended) and the transit (read
    /// − written) exactly, on the clock the stamps are in; unstamped events and a reader not
    /// asked to read them give none.
    #[test]
    fn stamps_give_the_mocks_lateness_and_the_transit() {
        let t0 = Instant::now();
        let ns = |at: Instant| mock_server::stamp::ns(at);
        let ms = Duration::from_millis;
        // An event's stamp: its times after the head's intended one, t0.
        let event = |intended: Instant, written: Instant, text: &str| {
            format!(
                ": stamp {} {}\ndata: {{\"choices\":[{{\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n",
                ns(intended) - ns(t0),
                ns(written) - ns(intended)
            )
        };
        // Meant at 10 ms, written at 12 ms, read at 15 ms; then meant at 20, written at 20, read
        // at 29 (a proxy holding it 9 ms); then an event with no stamp.
        let mut r = SseReader::new(t0, Tokenizer::Words).reading_stamps(Some(ns(t0)));
        r.feed(event(t0 + ms(10), t0 + ms(12), "a").as_bytes(), t0 + ms(15))
            .unwrap();
        r.feed(event(t0 + ms(20), t0 + ms(20), "b").as_bytes(), t0 + ms(29))
            .unwrap();
        r.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"c\"}}]}\n\ndata: [DONE]\n\n",
            t0 + ms(30),
        )
        .unwrap();
        let s = r.finish().unwrap();
        let stamps = s.stamps.expect("stamps read");
        let (late, transit): (Vec<u64>, Vec<u64>) = stamps
            .writes()
            .map(|w| (w.mock_late_us(), w.transit_us()))
            .unzip();
        assert_eq!(late, [2_000, 0]);
        assert_eq!(transit, [3_000, 9_000]);
        // The stamped events' content is read too: three tokens, two gaps.
        assert_eq!(s.itl, [ms(14), ms(1)]);
        // Not asked (a target on another host, whose clock is not ours, or a head without a
        // stamp): none.
        let mut r = SseReader::new(t0, Tokenizer::Words);
        r.feed(event(t0, t0, "a").as_bytes(), t0).unwrap();
        r.feed(b"data: [DONE]\n\n", t0).unwrap();
        assert!(r.finish().unwrap().stamps.is_none());
    }

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

    /// Without a usage chunk, the output tokens are the content's text as the tokenizer counts
    /// it, not the chunks (a server may put several tokens in one); with one, its count.
    #[test]
    fn without_usage_the_streamed_text_is_counted() {
        let t0 = Instant::now();
        let chunk = |text: &str| {
            format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n")
        };
        let events = chunk("Hello world,") + &chunk(" again") + "data: [DONE]\n\n";
        for (t, want) in [(Tokenizer::O200kBase, 4), (Tokenizer::Words, 3)] {
            let mut r = SseReader::new(t0, t);
            r.feed(events.as_bytes(), t0).unwrap();
            assert_eq!(r.content_chunks, 2);
            assert_eq!(r.finish().unwrap().completion_tokens, Some(want), "{t}");
        }
        let usage = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":9}}\n\n";
        let mut r = SseReader::new(t0, Tokenizer::O200kBase);
        r.feed(
            (chunk("Hello world,") + usage + "data: [DONE]\n\n").as_bytes(),
            t0,
        )
        .unwrap();
        assert_eq!(r.finish().unwrap().completion_tokens, Some(9));
    }

    /// A thousand events in one read come out one by one, in order, with the unfinished tail
    /// kept for the next read.
    #[test]
    fn many_events_in_one_read_are_all_taken_and_the_tail_kept() {
        let t0 = Instant::now();
        let mut r = SseReader::new(t0, Tokenizer::default());
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
        let mut r = SseReader::new(t0, Tokenizer::default());
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
        let mut r = SseReader::new(t0, Tokenizer::default());
        let e = r.feed(
            b"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
            t0,
        );
        assert_eq!(e, Err(RequestError::StreamError("boom".into())));
        let mut r = SseReader::new(t0, Tokenizer::default());
        r.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", t0)
            .unwrap();
        assert!(matches!(
            r.finish(),
            Err(RequestError::Transport {
                kind: TransportKind::Closed,
                ..
            })
        ));
    }

    /// A body with no event at all was not a stream: a JSON answer (a target that ignores
    /// `stream: true`), an HTML page, nothing; each is an invalid response that says how it
    /// began, not a connection closed early (then read as a target that could not be talked
    /// to). A comment or keep-alive alone is no event either.
    #[test]
    fn a_body_without_events_is_not_a_stream() {
        let t0 = Instant::now();
        let of = |body: &[u8]| {
            let mut r = SseReader::new(t0, Tokenizer::default());
            r.feed(body, t0).unwrap();
            r.finish()
        };
        let Err(RequestError::Decode(why)) = of(b"{\"choices\":[{\"message\":{\"content\":\"x\"}}]}") else {
            panic!("a JSON answer read as a stream")
        };
        assert!(
            why.starts_with("the answer to a streaming request held no event (it began \"{\\\"choices\\\"")
                && why.ends_with("does the target stream?"),
            "{why}"
        );
        let Err(RequestError::Decode(why)) = of(b"<html>hi</html>") else {
            panic!()
        };
        assert!(why.contains("\"<html>hi</html>\""), "{why}");
        let Err(RequestError::Decode(why)) = of(b"") else {
            panic!()
        };
        assert_eq!(why, "the answer to a streaming request held no event");
        assert!(matches!(of(b": keep-alive\n\n"), Err(RequestError::Decode(_))));
    }

    /// Anthropic's named events: TTFT at the first `text_delta`, the input tokens from
    /// `message_start`, the output from `message_delta`'s total (not `message_start`'s 1),
    /// the end at `message_stop`; `ping` and block starts are not tokens; an `error` event
    /// fails the stream.
    #[test]
    fn anthropic_events_are_read_and_timed() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut r = SseReader::new(t0, Tokenizer::default());
        let frames = [
            (
                5,
                r#"event: message_start
data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"usage":{"input_tokens":12,"output_tokens":1}}}"#,
            ),
            (6, "event: ping\ndata: {\"type\": \"ping\"}"),
            (
                7,
                r#"event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            (
                40,
                r#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
            ),
            (
                55,
                r#"event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}"#,
            ),
            (
                56,
                r#"event: content_block_stop
data: {"type":"content_block_stop","index":0}"#,
            ),
            (
                57,
                r#"event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}"#,
            ),
        ];
        for (at, f) in frames {
            r.feed(format!("{f}\n\n").as_bytes(), ms(at)).unwrap();
        }
        assert!(!r.is_done());
        r.feed(
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ms(58),
        )
        .unwrap();
        assert!(r.is_done());
        let s = r.finish().unwrap();
        assert_eq!(s.ttft, Some(Duration::from_millis(40)));
        assert_eq!(s.itl, vec![Duration::from_millis(15)]);
        assert_eq!(s.completion_tokens, Some(2));
        assert_eq!(s.input_tokens, Some(12));
        let mut r = SseReader::new(t0, Tokenizer::default());
        let e = r.feed(
            b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
            t0,
        );
        assert_eq!(e, Err(RequestError::StreamError("Overloaded".into())));
    }

    /// A reasoning stream: TTFT at the first reasoning chunk, TTFO at the first content chunk,
    /// the reasoning gaps and the content gaps apart, the reasoning tokens from usage; the
    /// mock's chunks carry both names, and one is read (`reasoning` first). Anthropic's
    /// `thinking_delta` is reasoning too; without usage the reasoning text is counted.
    #[test]
    fn reasoning_is_timed_and_counted_apart_from_the_output() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let chunk = |delta: &str| format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{delta}}}]}}\n\n");
        let reasoning = |w: &str| {
            chunk(&format!(
                r#"{{"content":null,"reasoning_content":"{w}","reasoning":"{w}"}}"#
            ))
        };
        let content = |w: &str| {
            chunk(&format!(
                r#"{{"content":"{w}","reasoning_content":null,"reasoning":null}}"#
            ))
        };
        let mut r = SseReader::new(t0, Tokenizer::Words);
        r.feed(chunk(r#"{"role":"assistant","content":""}"#).as_bytes(), ms(5))
            .unwrap();
        r.feed(reasoning("Let").as_bytes(), ms(20)).unwrap();
        r.feed(reasoning(" me").as_bytes(), ms(30)).unwrap();
        r.feed(reasoning(" think").as_bytes(), ms(45)).unwrap();
        r.feed(content("Hi").as_bytes(), ms(60)).unwrap();
        r.feed(content(" there").as_bytes(), ms(64)).unwrap();
        r.feed(b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5,\"completion_tokens_details\":{\"reasoning_tokens\":3}}}\n\ndata: [DONE]\n\n", ms(65)).unwrap();
        let s = r.finish().unwrap();
        assert_eq!(s.ttft, Some(Duration::from_millis(20)));
        assert_eq!(s.ttfo(), Some(Duration::from_millis(60)));
        assert_eq!(
            s.reasoning.as_ref().unwrap().itl,
            [Duration::from_millis(10), Duration::from_millis(15)]
        );
        assert_eq!(s.itl, [Duration::from_millis(4)]);
        assert_eq!((s.completion_tokens, s.reasoning_tokens()), (Some(5), Some(3)));
        // Anthropic's thinking, no usage: the texts counted, thinking inside the total.
        let mut r = SseReader::new(t0, Tokenizer::Words);
        let delta = |kind: &str, field: &str, w: &str| {
            format!(
                "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"{kind}\",\"{field}\":\"{w}\"}}}}\n\n"
            )
        };
        r.feed(delta("thinking_delta", "thinking", "Hmm so").as_bytes(), ms(10))
            .unwrap();
        r.feed(delta("text_delta", "text", "Yes").as_bytes(), ms(30))
            .unwrap();
        r.feed(
            b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            ms(31),
        )
        .unwrap();
        let s = r.finish().unwrap();
        assert_eq!(
            (s.ttft, s.ttfo()),
            (Some(Duration::from_millis(10)), Some(Duration::from_millis(30)))
        );
        assert_eq!((s.completion_tokens, s.reasoning_tokens()), (Some(3), Some(2)));
        // No reasoning: TTFO is TTFT, and no reasoning count.
        let mut r = SseReader::new(t0, Tokenizer::Words);
        r.feed(chunk(r#"{"content":"Hi"}"#).as_bytes(), ms(7)).unwrap();
        r.feed(b"data: [DONE]\n\n", ms(8)).unwrap();
        let s = r.finish().unwrap();
        assert_eq!(
            (s.ttft, s.ttfo(), s.reasoning_tokens()),
            (
                Some(Duration::from_millis(7)),
                Some(Duration::from_millis(7)),
                None
            )
        );
    }

    #[test]
    fn crlf_events_are_split_too() {
        let t0 = Instant::now();
        let mut r = SseReader::new(t0, Tokenizer::default());
        r.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n",
            t0,
        )
        .unwrap();
        assert!(r.is_done());
        assert_eq!(r.finish().unwrap().completion_tokens, Some(1));
    }

    /// What a reader makes of a stream, for comparing two ways of feeding it.
    fn read_whole(r: SseReader) -> (u64, String, Vec<Duration>, Option<Vec<StampedWrite>>) {
        let (chunks, content) = (r.content_chunks, r.content.clone());
        let s = r.finish().unwrap();
        let stamps = s.stamps.map(|st| st.events);
        (chunks, content, s.itl, stamps)
    }

    proptest::proptest! {
        /// A stream cut into reads anywhere (inside an event, a stamp line, a separator of
        /// either kind) reads as the stream in one read: the same events, text, gaps and
        /// stamps; and nothing is held over at its end.
        #[test]
        fn a_stream_cut_anywhere_reads_as_the_stream_whole(
            events in proptest::collection::vec((0u64..1_000_000, 0u64..100_000, "[a-z]{0,6}", proptest::bool::ANY), 1..12),
            cuts in proptest::collection::vec(0usize..2_000, 0..8),
        ) {
            let t0 = Instant::now();
            let base = mock_server::stamp::ns(t0);
            let mut text = String::new();
            for (due, late, word, crlf) in &events {
                let sep = if *crlf { "\r\n" } else { "\n" };
                text.push_str(&format!(
                    ": stamp {due} {late}{sep}data: {{\"choices\":[{{\"delta\":{{\"content\":\"{word}\"}}}}]}}{sep}{sep}"
                ));
            }
            text.push_str("data: [DONE]\n\n");
            let bytes = text.as_bytes();
            // Every read at t0: what the cut points must not change is which events are read,
            // their text and their stamps.
            let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            at.sort_unstable();
            at.dedup();
            let mut cut = SseReader::new(t0, Tokenizer::Words).reading_stamps(Some(base));
            let mut from = 0;
            for &to in at.iter().chain(std::iter::once(&bytes.len())) {
                cut.feed(&bytes[from..to], t0).unwrap();
                from = to;
            }
            proptest::prop_assert!(cut.buf.is_empty());
            let mut whole = SseReader::new(t0, Tokenizer::Words).reading_stamps(Some(base));
            whole.feed(bytes, t0).unwrap();
            proptest::prop_assert_eq!(read_whole(cut), read_whole(whole));
        }
    }
}
