//! `run.hlog`: an HdrHistogram interval log (format 1.3), one line per 1 s interval, strategy and
//! series, each a V2 + DEFLATE histogram (`HISTF…`) tagged `<strategy>.<series>`, so Java's
//! HistogramLogProcessor and HistogramLogAnalyzer read it unchanged.
//!
//! Values are written in nanoseconds with a max-value divisor of 10⁶, the Java tools' defaults,
//! so their milliseconds come out right without flags.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::config::Strategy;
use crate::metrics::{Intervals, epoch};

/// A copy of a microsecond histogram in nanoseconds.
fn to_nanos(h: &Histogram<u64>) -> Histogram<u64> {
    let mut ns = Histogram::<u64>::new(h.sigfig()).expect("the source's significant digits are valid");
    for v in h.iter_recorded() {
        let _ = ns.record_n(v.value_iterated_to().saturating_mul(1000), v.count_at_value());
    }
    ns
}

/// Writes the log of several strategies (run one after another, so their intervals come in time
/// order) to `out`, one interval at a time. The log's StartTime is the earliest interval's start,
/// spilled intervals included.
pub fn write_interval_log<W: std::io::Write>(
    out: &mut W,
    all: &[(Strategy, Intervals)],
) -> Result<(), String> {
    let (_, epoch_wall) = epoch();
    let first = all
        .iter()
        .filter_map(|(_, iv)| iv.first_second())
        .min()
        .unwrap_or(0);
    let start_wall = epoch_wall + Duration::from_secs(first);
    let unix = start_wall
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let header = format!(
        "#[Histogram log format version 1.3]\n#[StartTime: {unix:.3} (seconds since epoch), {}]\n\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n",
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(unix))
    );
    out.write_all(header.as_bytes()).map_err(|e| e.to_string())?;
    let mut serializer = V2DeflateSerializer::new();
    {
        let mut log = IntervalLogWriterBuilder::new()
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut *out, &mut serializer)
            .map_err(|e| e.to_string())?;
        for (strategy, iv) in all {
            let mut failed = None;
            iv.for_each(|sec, series, h| {
                if failed.is_some() {
                    return;
                }
                let name = format!("{strategy}.{series}");
                let Some(tag) = Tag::new(&name) else {
                    failed = Some(format!("invalid tag {name}"));
                    return;
                };
                let start = Duration::from_secs(sec.saturating_sub(first));
                if let Err(e) = log.write_histogram(&to_nanos(&h), start, Duration::from_secs(1), Some(tag)) {
                    failed = Some(e.to_string());
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
    out.flush().map_err(|e| e.to_string())
}

/// The log as a string (for tests and small runs).
pub fn interval_log(all: &[(Strategy, Intervals)]) -> Result<String, String> {
    let mut out = Vec::new();
    write_interval_log(&mut out, all)?;
    String::from_utf8(out).map_err(|e| e.to_string())
}
