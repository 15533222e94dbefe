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

use crate::model::strategy::Strategy;
use crate::stats::intervals::Intervals;
use crate::stats::recorder::epoch;

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
pub(crate) fn write_interval_log<W: std::io::Write>(
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

/// The log as a string, for the tests.
#[cfg(test)]
fn interval_log(all: &[(Strategy, Intervals)]) -> Result<String, String> {
    let mut out = Vec::new();
    write_interval_log(&mut out, all)?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    use super::*;
    use crate::model::outcome::Outcome;
    use crate::model::series::Series;

    /// Each interval starts at its second since the log's StartTime (the first interval's
    /// second) and lasts exactly 1 s; its max is the largest value in ms, its histogram holds
    /// the values in nanoseconds; StartTime is the epoch's wall clock plus that first second.
    #[test]
    fn intervals_start_at_their_second_and_last_one_second() {
        let mut iv = Intervals::default();
        let e2e = Series::E2e(Outcome::Ok);
        iv.record(5, e2e, 2_000); // 2 ms
        iv.record(6, e2e, 7_000);
        iv.record(6, e2e, 3_000);
        iv.record(8, Series::Ttft, 1_500);
        let log = interval_log(&[(Strategy::Async, iv)]).unwrap();
        let mut start_time = None;
        let mut seen = Vec::new();
        for entry in IntervalLogIterator::new(log.as_bytes()) {
            match entry.unwrap() {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::Interval(i) => {
                    let bytes = base64::Engine::decode(
                        &base64::engine::general_purpose::STANDARD,
                        i.encoded_histogram(),
                    )
                    .unwrap();
                    let h: Histogram<u64> = Deserializer::new().deserialize(&mut &bytes[..]).unwrap();
                    seen.push((
                        i.start_timestamp(),
                        i.duration(),
                        i.max(),
                        i.tag().unwrap().as_str().to_owned(),
                        h.len(),
                        h.max(),
                    ));
                }
                LogEntry::BaseTime(_) => {}
            }
        }
        let s = Duration::from_secs;
        assert_eq!(
            seen.iter()
                .map(|v| (v.0, v.1, v.3.as_str(), v.4))
                .collect::<Vec<_>>(),
            vec![
                (s(0), s(1), "async.e2e.ok", 1),
                (s(1), s(1), "async.e2e.ok", 2),
                (s(3), s(1), "async.ttft", 1),
            ]
        );
        // Max in ms (÷10⁶ of ns); the histogram in ns (3 significant digits).
        assert!((seen[1].2 - 7.0).abs() < 0.01, "{}", seen[1].2);
        assert!(seen[1].5.abs_diff(7_000_000) < 10_000, "{}", seen[1].5);
        let expected = epoch().1 + s(5);
        let expected = expected.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let got = start_time.unwrap().as_secs_f64();
        assert!((got - expected).abs() < 0.002, "StartTime {got} vs {expected}");
    }
}
