//! `requests.jsonl`: one line per logical request, written as the run goes by a thread of its
//! own (each recorder fills a buffer of its own and sends it down a channel when it holds
//! [`RequestLog::BATCH`] bytes: no lock, no allocation and no thread woken per request, and at
//! most a batch per recorder in memory), so a long run's log costs disk, not RAM. The channel
//! holds at most [`RequestLog::QUEUE`] batches: a disk slower than the run holds the recorders
//! back (the time they waited is counted and reported) rather than growing memory. Each line is
//! a [`LogLine`]; `--export-chunks` adds the arrival time of every streamed chunk.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::model::record::{Record, Sample};

/// One logical request, as `requests.jsonl` holds it: the format's definition, which
/// [`RequestLog::write`] writes by hand and its test holds it to. Times are milliseconds from the run's
/// start (the same origin for every strategy of the run).
#[cfg(test)]
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct LogLine<'a> {
    /// Strategy id.
    pub strategy: &'a str,
    /// The logical request's index (0-based, as sent in `x-asyncbench-request`).
    pub index: u64,
    /// When it was due (closed loop: when it started).
    pub intended_ms: f64,
    /// When its first attempt was sent.
    pub start_ms: f64,
    /// When its last attempt ended.
    pub end_ms: f64,
    /// End-to-end latency (intended start → end) in microseconds, exactly as the histograms
    /// recorded it.
    pub latency_us: u64,
    /// Attempts sent.
    pub attempts: usize,
    /// Time slept between attempts.
    pub backoff_ms: f64,
    /// HTTP status of the last attempt (`null`: none, e.g. a timeout).
    pub status: Option<u16>,
    /// The final outcome.
    pub outcome: &'a str,
    /// The last attempt's error class, when it failed.
    pub error: Option<String>,
    /// Met every `--slo` limit (`null` when none is set).
    pub good: Option<bool>,
    /// Time to first token of the successful attempt.
    pub ttft_ms: Option<f64>,
    /// Time to first output token, when the target reasoned first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttfo_ms: Option<f64>,
    /// Reasoning tokens, when the target reasoned (inside `output_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Completion tokens.
    pub output_tokens: Option<u64>,
    /// Prompt tokens (the target's count, else the harness's estimate).
    pub input_tokens: Option<u64>,
    /// Bytes of the successful response body.
    pub bytes: Option<u64>,
    /// With `--export-chunks`: when each content chunk arrived, ms from the run's start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks_ms: Option<Vec<f64>>,
}

/// The sending end: each recorder holds a clone, with a buffer of its own (a clone starts
/// empty; what is left is sent when it is dropped).
pub struct RequestLog {
    tx: mpsc::SyncSender<Vec<u8>>,
    /// Nanoseconds the recorders waited for room in the channel, all clones together.
    waited: Arc<AtomicU64>,
    origin: Instant,
    chunks: bool,
    buf: Vec<u8>,
    /// The last strategy id written, and its JSON string.
    strategy: (String, Vec<u8>),
}

impl Clone for RequestLog {
    fn clone(&self) -> Self {
        RequestLog {
            tx: self.tx.clone(),
            waited: self.waited.clone(),
            origin: self.origin,
            chunks: self.chunks,
            buf: Vec::new(),
            strategy: self.strategy.clone(),
        }
    }
}

impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestLog")
            .field("chunks", &self.chunks)
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl Drop for RequestLog {
    fn drop(&mut self) {
        self.send();
    }
}

/// The writing end: a thread that appends every line it receives to a file.
#[derive(Debug)]
pub struct LogWriter {
    handle: JoinHandle<std::io::Result<u64>>,
    waited: Arc<AtomicU64>,
}

/// A log written whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// How many batches arrived.
    pub batches: u64,
    /// How long the recorders waited, all together, for the writer to take a batch (a disk
    /// slower than the run): zero when it kept up.
    pub waited: Duration,
}

impl RequestLog {
    /// Starts a writer appending to `file`; times count from `origin`.
    pub fn start(
        file: std::fs::File,
        origin: Instant,
        chunks: bool,
    ) -> std::io::Result<(RequestLog, LogWriter)> {
        Self::start_on(file, origin, chunks, |f| f.sync_all())
    }

    /// Starts a writer appending to `out`, which `done` makes durable at the end.
    fn start_on<W: Write + Send + 'static>(
        out: W,
        origin: Instant,
        chunks: bool,
        done: fn(&mut W) -> std::io::Result<()>,
    ) -> std::io::Result<(RequestLog, LogWriter)> {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(Self::QUEUE);
        let handle = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
                let mut batches = 0;
                for batch in rx {
                    w.write_all(&batch)?;
                    batches += 1;
                }
                w.flush()?;
                done(&mut w.into_inner().map_err(|e| e.into_error())?)?;
                Ok(batches)
            })?;
        let waited = Arc::new(AtomicU64::new(0));
        let log = RequestLog {
            tx,
            waited: waited.clone(),
            origin,
            chunks,
            buf: Vec::new(),
            strategy: (String::new(), b"\"\"".to_vec()),
        };
        Ok((log, LogWriter { handle, waited }))
    }

    /// Bytes a recorder's buffer holds before it goes to the writer (a few hundred lines).
    pub(crate) const BATCH: usize = 64 << 10;

    /// Batches the channel holds for the writer (2 MiB of lines): past them a recorder waits.
    pub(crate) const QUEUE: usize = 32;

    /// Sends what the buffer holds, waiting for room when the writer is behind (the wait is
    /// counted); a closed log (its writer failed) is ignored: the run goes on, and the writer's
    /// error fails the log at the end.
    fn send(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match self.tx.try_send(std::mem::take(&mut self.buf)) {
            Err(mpsc::TrySendError::Full(batch)) => {
                let t = Instant::now();
                let _ = self.tx.send(batch);
                let ns = u64::try_from(t.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.waited.fetch_add(ns, Ordering::Relaxed);
            }
            Ok(()) | Err(mpsc::TrySendError::Disconnected(_)) => {}
        }
    }

    /// Adds one request's line; sends the buffer once it holds a batch.
    ///
    /// The line is written field by field, not through `serde`: its keys are constants and its
    /// times integers of microseconds written as milliseconds (`12.345`, `7.0`: what `serde_json`
    /// writes for the rounded `f64`), where `serde_json` escaped every key and formatted every
    /// float (about 0.3 µs a request in a profile beside bare reqwest). The unit test holds it to
    /// the [`LogLine`] `serde` writes.
    pub fn write(&mut self, strategy: &str, r: &Record, good: Option<bool>) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(Self::BATCH + 1024);
        }
        if self.strategy.0 != strategy {
            let quoted = serde_json::to_vec(strategy).unwrap_or_else(|_| b"\"\"".to_vec());
            self.strategy = (strategy.to_string(), quoted);
        }
        let at = |t: Instant| micros_rounded(t.saturating_duration_since(self.origin));
        let sample = r.sample.as_ref();
        let reasoned = sample.filter(|s| s.reasoning_tokens().is_some());
        let b = &mut self.buf;
        b.extend_from_slice(b"{\"strategy\":");
        b.extend_from_slice(&self.strategy.1);
        field_u64(b, b",\"index\":", Some(r.index));
        field_ms(b, b",\"intended_ms\":", Some(at(r.intended)));
        field_ms(b, b",\"start_ms\":", Some(at(r.start)));
        field_ms(b, b",\"end_ms\":", Some(at(r.end)));
        field_u64(
            b,
            b",\"latency_us\":",
            Some(crate::model::series::micros(r.latency())),
        );
        field_u64(b, b",\"attempts\":", Some(r.attempts.len() as u64));
        field_ms(b, b",\"backoff_ms\":", Some(micros_rounded(r.backoff)));
        field_u64(b, b",\"status\":", r.status.map(u64::from));
        b.extend_from_slice(b",\"outcome\":\"");
        // Outcome ids are lowercase words: nothing to escape.
        b.extend_from_slice(r.outcome.id().as_bytes());
        b.extend_from_slice(b"\",\"error\":");
        match r.attempts.last().and_then(|a| a.failure.as_ref()) {
            Some(f) => {
                let class = f.class.to_string();
                if serde_json::to_writer(&mut *b, &class).is_err() {
                    b.extend_from_slice(b"null");
                }
            }
            None => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"good\":");
        b.extend_from_slice(match good {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        });
        let ttft = sample.and_then(|s| s.ttft);
        field_ms(b, b",\"ttft_ms\":", ttft.map(micros_rounded));
        if let Some(t) = reasoned.and_then(Sample::ttfo) {
            field_ms(b, b",\"ttfo_ms\":", Some(micros_rounded(t)));
        }
        if let Some(n) = reasoned.and_then(Sample::reasoning_tokens) {
            field_u64(b, b",\"reasoning_tokens\":", Some(n));
        }
        field_u64(
            b,
            b",\"output_tokens\":",
            sample.and_then(|s| s.completion_tokens),
        );
        field_u64(b, b",\"input_tokens\":", sample.and_then(|s| s.input_tokens));
        field_u64(b, b",\"bytes\":", sample.map(|s| s.bytes));
        if let (true, Some(ttft)) = (self.chunks, ttft) {
            // The successful attempt started `duration` before the end; its chunks came at
            // ttft, then ttft + each gap in turn.
            let attempt_start = r.end - r.attempts.last().map_or(ttft, |a| a.duration);
            let mut t = attempt_start + ttft;
            b.extend_from_slice(b",\"chunks_ms\":[");
            write_ms(b, at(t));
            for gap in sample.map_or(&[][..], |s| &s.itl[..]) {
                t += *gap;
                b.push(b',');
                write_ms(b, at(t));
            }
            b.push(b']');
        }
        b.extend_from_slice(b"}\n");
        if self.buf.len() >= Self::BATCH {
            self.send();
        }
    }
}

/// A duration in whole microseconds, rounded to the nearest.
fn micros_rounded(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos().saturating_add(500) / 1000).unwrap_or(u64::MAX)
}

/// `key` then the number, or `null`.
fn field_u64(b: &mut Vec<u8>, key: &[u8], v: Option<u64>) {
    b.extend_from_slice(key);
    match v {
        Some(n) => b.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => b.extend_from_slice(b"null"),
    }
}

/// `key` then the microseconds as milliseconds, or `null`.
fn field_ms(b: &mut Vec<u8>, key: &[u8], us: Option<u64>) {
    b.extend_from_slice(key);
    match us {
        Some(us) => write_ms(b, us),
        None => b.extend_from_slice(b"null"),
    }
}

/// Microseconds as milliseconds the way `serde_json` writes the `f64` `us / 1000`: the whole
/// part, a point, then the fraction without trailing zeros (`7.0`, `12.34`, `0.005`).
fn write_ms(b: &mut Vec<u8>, us: u64) {
    b.extend_from_slice(itoa::Buffer::new().format(us / 1000).as_bytes());
    let frac = us % 1000;
    let digits = [
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ];
    let keep = if frac.is_multiple_of(100) {
        1
    } else if frac.is_multiple_of(10) {
        2
    } else {
        3
    };
    b.push(b'.');
    b.extend_from_slice(&digits[..keep]);
}

impl LogWriter {
    /// Waits for every line to be written (all senders dropped); returns how many batches
    /// arrived and how long the recorders waited for the writer.
    pub fn finish(self) -> std::io::Result<Written> {
        let batches = self
            .handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the request-log thread panicked")))?;
        Ok(Written {
            batches,
            waited: Duration::from_nanos(self.waited.load(Ordering::Relaxed)),
        })
    }
}

/// Creates the temporary file a run's log goes to, inside `dir` (renamed to `requests.jsonl`
/// when the report is written).
pub(crate) fn temp_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".asyncbench-requests-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let f = b.tempfile_in(dir)?;
    crate::stats::temp::remove_on_abort(f.path());
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Outcome;
    use crate::model::record::test_record;

    /// The line as `serde_json` writes the [`LogLine`] of `r` (the format's definition): times
    /// as `f64` milliseconds rounded to the microsecond.
    fn serde_line(
        origin: Instant,
        chunks: bool,
        strategy: &str,
        r: &Record,
        good: Option<bool>,
    ) -> serde_json::Value {
        let round = |ms: f64| (ms * 1000.0).round() / 1000.0;
        let ms = |t: Instant| round(t.saturating_duration_since(origin).as_secs_f64() * 1000.0);
        let sample = r.sample.as_ref();
        let reasoned = sample.filter(|s| s.reasoning_tokens().is_some());
        let chunks_ms = match (chunks, sample.and_then(|s| s.ttft)) {
            (true, Some(ttft)) => {
                let mut t = r.end - r.attempts.last().map_or(ttft, |a| a.duration) + ttft;
                let mut v = vec![ms(t)];
                for gap in &sample.unwrap().itl {
                    t += *gap;
                    v.push(ms(t));
                }
                Some(v)
            }
            _ => None,
        };
        serde_json::to_value(LogLine {
            strategy,
            index: r.index,
            intended_ms: ms(r.intended),
            start_ms: ms(r.start),
            end_ms: ms(r.end),
            latency_us: crate::model::series::micros(r.latency()),
            attempts: r.attempts.len(),
            backoff_ms: round(r.backoff.as_secs_f64() * 1000.0),
            status: r.status,
            outcome: r.outcome.id(),
            error: r
                .attempts
                .last()
                .and_then(|a| a.failure.as_ref())
                .map(|f| f.class.to_string()),
            good,
            ttft_ms: sample
                .and_then(|s| s.ttft)
                .map(|d| round(d.as_secs_f64() * 1000.0)),
            ttfo_ms: reasoned
                .and_then(Sample::ttfo)
                .map(|d| round(d.as_secs_f64() * 1000.0)),
            reasoning_tokens: reasoned.and_then(Sample::reasoning_tokens),
            output_tokens: sample.and_then(|s| s.completion_tokens),
            input_tokens: sample.and_then(|s| s.input_tokens),
            bytes: sample.map(|s| s.bytes),
            chunks_ms,
        })
        .unwrap()
    }

    /// Two JSON values alike, numbers within a nanosecond of a millisecond (the hand-written
    /// times are exact decimals, serde's the nearest `f64`).
    fn alike(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() < 1e-6,
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| alike(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.keys().eq(y.keys()) && x.iter().all(|(k, v)| alike(v, &y[k]))
            }
            _ => a == b,
        }
    }

    /// The hand-written line is the `LogLine` serde writes, key for key, for
    /// a success that streamed and reasoned (with and without chunks), a failure after retries,
    /// a timeout with no status, each SLO verdict, and a strategy id that needs escaping; and
    /// its times are written as serde writes the rounded `f64` (`7.0`, `0.005`, `12.34`).
    #[test]
    fn a_line_is_the_log_line_serde_writes() {
        use crate::model::record::Reasoning;
        use std::time::Duration;
        let origin = Instant::now();
        let mut ok = test_record(Outcome::Ok, 3, 1);
        ok.index = 41;
        ok.intended = origin + Duration::from_nanos(1_234_567);
        ok.start = origin + Duration::from_nanos(7_000_000);
        ok.end = origin + Duration::from_nanos(12_340_400);
        ok.status = Some(200);
        ok.sample = Some(Sample {
            completion_tokens: Some(32),
            input_tokens: Some(12),
            ttft: Some(Duration::from_micros(5)),
            itl: vec![Duration::from_nanos(1_499), Duration::from_micros(250)],
            reasoning: Some(Box::new(Reasoning {
                tokens: Some(7),
                ttfo: Some(Duration::from_millis(2)),
                itl: vec![],
            })),
            bytes: 900,
            ..Sample::default()
        });
        let mut failed = test_record(Outcome::RateLimited, 40, 3);
        failed.status = Some(429);
        failed.backoff = Duration::from_micros(1_500_250);
        let timeout = test_record(Outcome::Timeout, 1, 1);
        let cases = [
            (false, "async", &ok, Some(true)),
            (true, "async", &ok, Some(false)),
            (true, "custom:\"say\"\\n", &failed, None),
            (false, "threadpool", &timeout, Some(false)),
        ];
        for (chunks, strategy, r, good) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("requests.jsonl");
            let (mut log, writer) =
                RequestLog::start(std::fs::File::create(&path).unwrap(), origin, chunks).unwrap();
            log.write(strategy, r, good);
            drop(log);
            writer.finish().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let written: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
            let reference = serde_line(origin, chunks, strategy, r, good);
            assert!(alike(&written, &reference), "{strategy}:\n{written}\n{reference}");
        }
        let mut b = Vec::new();
        for us in [7_000, 5, 12_340, 1_500_250, 0] {
            write_ms(&mut b, us);
            b.push(b' ');
        }
        assert_eq!(String::from_utf8(b).unwrap(), "7.0 0.005 12.34 1500.25 0.0 ");
    }

    /// Lines are batched per recorder, yet every line arrives once: three clones write 3000
    /// lines in all (several batches each, and a partial batch left at the end), and the file
    /// holds each index exactly once, each line whole JSON.
    #[test]
    fn every_line_of_every_clone_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requests.jsonl");
        let t0 = Instant::now();
        let (log, writer) = RequestLog::start(std::fs::File::create(&path).unwrap(), t0, false).unwrap();
        let mut clones: Vec<RequestLog> = (0..3).map(|_| log.clone()).collect();
        drop(log);
        for i in 0..3000u64 {
            let mut r = test_record(Outcome::Ok, 3, 1);
            r.index = i;
            clones[(i % 3) as usize].write("async", &r, None);
        }
        drop(clones);
        let Written { batches, waited } = writer.finish().unwrap();
        assert_eq!(waited, Duration::ZERO, "a file on disk keeps up");
        assert!(
            (4..3000).contains(&batches),
            "sent in batches, not line by line: {batches}"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let mut seen: Vec<u64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert_eq!(seen.len(), 3000);
        seen.sort_unstable();
        assert!(seen.iter().copied().eq(0..3000), "each index once");
    }

    /// A writer that cannot keep up holds the recorders back instead of queueing without
    /// bound: into a pipe nobody reads, a recorder writing 4 × the queue's worth of lines stops
    /// with at most the queue, the batch the writer holds, the pipe's and the writer's buffers
    /// and its own batch out of its hands; once the pipe is read, every line arrives and the wait
    /// is counted.
    #[test]
    fn a_slow_writer_holds_the_recorders_back() {
        use std::io::Read;
        use std::sync::atomic::AtomicBool;
        let (mut reader, pipe) = std::io::pipe().unwrap();
        let (mut log, writer) = RequestLog::start_on(pipe, Instant::now(), false, |_| Ok(())).unwrap();
        let line = {
            let mut probe = Vec::new();
            let (mut l, w) =
                RequestLog::start_on(std::io::sink(), Instant::now(), false, |_| Ok(())).unwrap();
            l.write("async", &test_record(Outcome::Ok, 3, 1), None);
            probe.extend_from_slice(&l.buf);
            drop(l);
            w.finish().unwrap();
            probe.len()
        };
        let total = 4 * RequestLog::QUEUE * RequestLog::BATCH / line;
        let written = Arc::new(AtomicU64::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let recorder = {
            let (written, done) = (written.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0..total as u64 {
                    let mut r = test_record(Outcome::Ok, 3, 1);
                    r.index = i % 10;
                    log.write("async", &r, None);
                    written.fetch_add(1, Ordering::Relaxed);
                }
                drop(log);
                done.store(true, Ordering::Relaxed);
            })
        };
        // Until the count stands still for half a second (or 20 s pass).
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = (u64::MAX, Instant::now());
        while Instant::now() < deadline && last.1.elapsed() < Duration::from_millis(500) {
            let n = written.load(Ordering::Relaxed);
            if n != last.0 {
                last = (n, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let held = written.load(Ordering::Relaxed) as usize * line;
        let bound = (RequestLog::QUEUE + 4) * RequestLog::BATCH + (1 << 20);
        assert!(
            !done.load(Ordering::Relaxed),
            "the recorder ran on: {held} bytes out of its hands"
        );
        assert!(held <= bound, "{held} bytes queued, past {bound}");
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        recorder.join().unwrap();
        let Written { waited, .. } = writer.finish().unwrap();
        assert_eq!(text.lines().count(), total, "every line arrives");
        assert!(
            waited > Duration::from_millis(100),
            "the wait is counted: {waited:?}"
        );
    }
}
