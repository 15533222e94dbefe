//! `requests.jsonl`: one line per logical request, written as the run goes by a thread of its
//! own (each recorder fills a buffer of its own and sends it down a channel when it holds
//! [`RequestLog::BATCH`] bytes: no lock, no allocation and no thread woken per request, and at
//! most a batch per recorder in memory), so a long run's log costs disk, not RAM. Each line is
//! a [`LogLine`]; `--export-chunks` adds the arrival time of every streamed chunk.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;

use crate::model::record::{Record, Sample};

/// One logical request, as `requests.jsonl` holds it. Times are milliseconds from the run's
/// start (the same origin for every strategy of the run).
#[derive(Debug, Clone, Serialize)]
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
    tx: mpsc::Sender<Vec<u8>>,
    origin: Instant,
    chunks: bool,
    buf: Vec<u8>,
}

impl Clone for RequestLog {
    fn clone(&self) -> Self {
        RequestLog {
            tx: self.tx.clone(),
            origin: self.origin,
            chunks: self.chunks,
            buf: Vec::new(),
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
}

impl RequestLog {
    /// Starts a writer appending to `file`; times count from `origin`.
    pub fn start(
        file: std::fs::File,
        origin: Instant,
        chunks: bool,
    ) -> std::io::Result<(RequestLog, LogWriter)> {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let handle = std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
                let mut batches = 0;
                for batch in rx {
                    w.write_all(&batch)?;
                    batches += 1;
                }
                w.flush()?;
                w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                Ok(batches)
            })?;
        let log = RequestLog {
            tx,
            origin,
            chunks,
            buf: Vec::new(),
        };
        Ok((log, LogWriter { handle }))
    }

    /// Bytes a recorder's buffer holds before it goes to the writer (a few hundred lines).
    pub(crate) const BATCH: usize = 64 << 10;

    /// Sends what the buffer holds (a closed log is ignored: the run goes on).
    fn send(&mut self) {
        if !self.buf.is_empty() {
            let _ = self.tx.send(std::mem::take(&mut self.buf));
        }
    }

    /// Adds one request's line; sends the buffer once it holds a batch.
    pub fn write(&mut self, strategy: &str, r: &Record, good: Option<bool>) {
        // Milliseconds to the microsecond.
        let round = |ms: f64| (ms * 1000.0).round() / 1000.0;
        let ms = |t: Instant| round(t.saturating_duration_since(self.origin).as_secs_f64() * 1000.0);
        let sample = r.sample.as_ref();
        let reasoned = sample.filter(|s| s.reasoning_tokens().is_some());
        let chunks_ms = match (self.chunks, sample.and_then(|s| s.ttft)) {
            (true, Some(ttft)) => {
                // The successful attempt started `duration` before the end; its chunks came at
                // ttft, then ttft + each gap in turn.
                let attempt_start = r.end - r.attempts.last().map_or(ttft, |a| a.duration);
                let mut t = attempt_start + ttft;
                let mut v = vec![ms(t)];
                for gap in sample.map_or(&[][..], |s| &s.itl[..]) {
                    t += *gap;
                    v.push(ms(t));
                }
                Some(v)
            }
            _ => None,
        };
        let line = LogLine {
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
        };
        if self.buf.capacity() == 0 {
            self.buf.reserve(Self::BATCH + 1024);
        }
        let len = self.buf.len();
        if serde_json::to_writer(&mut self.buf, &line).is_ok() {
            self.buf.push(b'\n');
        } else {
            self.buf.truncate(len);
        }
        if self.buf.len() >= Self::BATCH {
            self.send();
        }
    }
}

impl LogWriter {
    /// Waits for every line to be written (all senders dropped); returns how many batches
    /// arrived.
    pub fn finish(self) -> std::io::Result<u64> {
        self.handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the request-log thread panicked")))
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
        let batches = writer.finish().unwrap();
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
}
