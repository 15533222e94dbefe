//! `requests.jsonl`: one line per logical request, written as the run goes by a thread of its
//! own (the recorders send lines down a channel: no lock, and nothing held in memory), so a long
//! run's log costs disk, not RAM. Each line is a [`LogLine`]; `--export-chunks` adds the arrival
//! time of every streamed chunk.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use serde::Serialize;

use crate::metrics::record::Record;

/// One logical request, as `requests.jsonl` holds it. Times are milliseconds from the run's
/// start (the same origin for every strategy of the run).
#[derive(Debug, Clone, Serialize)]
pub struct LogLine<'a> {
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

/// The sending end: each recorder holds a clone.
#[derive(Debug, Clone)]
pub struct RequestLog {
    tx: mpsc::Sender<Vec<u8>>,
    origin: Instant,
    chunks: bool,
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
                let mut lines = 0;
                for line in rx {
                    w.write_all(&line)?;
                    lines += 1;
                }
                w.flush()?;
                w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                Ok(lines)
            })?;
        Ok((RequestLog { tx, origin, chunks }, LogWriter { handle }))
    }

    /// Sends one request's line (a closed log is ignored: the run goes on).
    pub fn write(&self, strategy: &str, r: &Record, good: Option<bool>) {
        // Milliseconds to the microsecond.
        let round = |ms: f64| (ms * 1000.0).round() / 1000.0;
        let ms = |t: Instant| round(t.saturating_duration_since(self.origin).as_secs_f64() * 1000.0);
        let sample = r.sample.as_ref();
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
            latency_us: crate::metrics::micros(r.latency()),
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
            output_tokens: sample.and_then(|s| s.completion_tokens),
            input_tokens: sample.and_then(|s| s.input_tokens),
            bytes: sample.map(|s| s.bytes),
            chunks_ms,
        };
        if let Ok(mut bytes) = serde_json::to_vec(&line) {
            bytes.push(b'\n');
            let _ = self.tx.send(bytes);
        }
    }
}

impl LogWriter {
    /// Waits for every line to be written (all senders dropped); returns how many.
    pub fn finish(self) -> std::io::Result<u64> {
        self.handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the request-log thread panicked")))
    }
}

/// Creates the temporary file a run's log goes to, inside `dir` (renamed to `requests.jsonl`
/// when the report is written).
pub fn temp_in(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut b = tempfile::Builder::new();
    b.prefix(".asyncbench-requests-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(std::fs::Permissions::from_mode(0o644));
    }
    b.tempfile_in(dir)
}
