//! Server-side stamps (`--stamps`): the time the mock meant to write each answer and each
//! streamed event and the time it did, on `CLOCK_MONOTONIC`, the clock every process on one
//! host shares. A client on the same host reads them beside its own read times and splits a
//! measured delay into the mock's lateness (written − intended) and the transit (read −
//! written: kernel, runtime, client), none of it the harness's guess.
//!
//! On the wire: a header on every answer, `x-mock-stamp: INTENDED_NS WRITTEN_NS ARRIVED_NS` (the
//! head: a whole answer's deadline, a stream's opening; and when the request reached its
//! handler, so the client can time its request's way in too), and in a stream an SSE comment
//! opening each event, `: stamp INTENDED_NS WRITTEN_NS`, which clients skip as the SSE
//! standard says. "Written" is when the mock handed the bytes to the connection; for an event
//! whose time had already come, the clock reading that found it had (taken just before the
//! event is made: one clock reading an event, not two).

use std::sync::OnceLock;
use std::time::Instant;

/// The header carrying a whole answer's stamp.
pub const STAMP_HEADER: &str = "x-mock-stamp";

/// [`STAMP_HEADER`] as a header name, for the mock's writer and the harness's reader.
pub const STAMP_HEADER_NAME: axum::http::HeaderName = axum::http::HeaderName::from_static(STAMP_HEADER);

/// The SSE comment's prefix, before `INTENDED_NS WRITTEN_NS`.
pub const STAMP_COMMENT: &str = ": stamp ";

/// `CLOCK_MONOTONIC` now, in nanoseconds.
fn clock_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64
}

/// An `Instant` and the clock's reading at the same moment. `Instant` is `CLOCK_MONOTONIC` on
/// Linux but does not show its value, so the two are read together: the pair whose clock
/// readings are closest (of a few tries) and the midpoint of those two, within tens of
/// nanoseconds.
fn anchor() -> (Instant, u64) {
    static ANCHOR: OnceLock<(Instant, u64)> = OnceLock::new();
    *ANCHOR.get_or_init(|| {
        (0..16)
            .map(|_| {
                let before = clock_ns();
                let at = Instant::now();
                let after = clock_ns();
                (after - before, at, before + (after - before) / 2)
            })
            .min_by_key(|(gap, _, _)| *gap)
            .map(|(_, at, ns)| (at, ns))
            .unwrap_or_else(|| (Instant::now(), clock_ns()))
    })
}

/// `at` on `CLOCK_MONOTONIC`, in nanoseconds: comparable with another process's on this host.
pub fn ns(at: Instant) -> u64 {
    let (base, base_ns) = anchor();
    match at.checked_duration_since(base) {
        Some(after) => base_ns.saturating_add(after.as_nanos() as u64),
        None => base_ns.saturating_sub(base.duration_since(at).as_nanos() as u64),
    }
}

/// A stamp read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// When the mock meant to write (ns).
    pub intended: u64,
    /// When it wrote (ns).
    pub written: u64,
    /// The header's: when the request reached its handler (ns).
    pub arrived: Option<u64>,
}

/// The longest stamp's text: three 20-digit numbers and two spaces.
pub(crate) const MAX_TEXT: usize = 3 * 20 + 2;

/// A stamp's text: `INTENDED_NS WRITTEN_NS`, written now, then ` ARRIVED_NS` when given; in
/// `buf`, without an allocation (`--stamps` writes one on every streamed event).
pub(crate) fn text(buf: &mut [u8; MAX_TEXT], intended: Instant, arrived: Option<Instant>) -> &[u8] {
    text_at(buf, intended, Instant::now(), arrived)
}

/// [`text`] with the write's time given: a clock reading taken just before (a deadline found
/// past), one clock reading a streamed event fewer.
pub(crate) fn text_at(
    buf: &mut [u8; MAX_TEXT],
    intended: Instant,
    written: Instant,
    arrived: Option<Instant>,
) -> &[u8] {
    let written = ns(written);
    let mut digits = itoa::Buffer::new();
    let mut len = 0;
    for (i, n) in [Some(ns(intended)), Some(written), arrived.map(ns)]
        .into_iter()
        .flatten()
        .enumerate()
    {
        if i > 0 {
            buf[len] = b' ';
            len += 1;
        }
        let d = digits.format(n).as_bytes();
        buf[len..len + d.len()].copy_from_slice(d);
        len += d.len();
    }
    &buf[..len]
}

/// Reads `INTENDED_NS WRITTEN_NS [ARRIVED_NS]` (a header's value, or a comment's after its
/// prefix).
///
/// The harness reads one on every streamed event. Splitting on whitespace and `str::parse`
/// took a third of what stamps cost the client on a stream; a loop checking each digit for
/// overflow still took 1.8 µs of a 32-event stream's 70 (perf, zero latency). Each number is
/// now read in a tight loop without checks, which 19 digits cannot overflow; a longer one
/// (never a clock reading: 10^19 ns is three centuries) goes through `str::parse`.
pub fn parse(s: &str) -> Option<Stamp> {
    let s = s.as_bytes();
    let mut numbers = [0u64; 3];
    let mut count = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if count == numbers.len() {
            return None;
        }
        let start = i;
        let mut n = 0u64;
        while i < s.len() && s[i].is_ascii_digit() {
            n = n.wrapping_mul(10).wrapping_add(u64::from(s[i] - b'0'));
            i += 1;
        }
        numbers[count] = match i - start {
            // Neither whitespace nor a digit.
            0 => return None,
            1..=19 => n,
            _ => std::str::from_utf8(&s[start..i]).ok()?.parse().ok()?,
        };
        count += 1;
    }
    let [intended, written, arrived] = numbers;
    (count >= 2).then_some(Stamp {
        intended,
        written,
        arrived: (count == 3).then_some(arrived),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Instants map onto the clock in order, a known gap apart, and agree with a direct reading.
    #[test]
    fn instants_map_onto_the_monotonic_clock() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(5);
        assert_eq!(ns(t1) - ns(t0), 5_000_000);
        let before = clock_ns();
        let now = ns(Instant::now());
        let after = clock_ns();
        // Within the anchor's error (tens of ns) of a reading taken around it.
        assert!(
            now + 10_000 >= before && now <= after + 10_000,
            "{before} {now} {after}"
        );
        let earlier = t0.checked_sub(Duration::from_secs(1)).unwrap();
        assert_eq!(ns(t0) - ns(earlier), 1_000_000_000);
    }

    #[test]
    fn a_stamp_reads_back() {
        let two = |intended, written| Stamp {
            intended,
            written,
            arrived: None,
        };
        assert_eq!(parse("12 34"), Some(two(12, 34)));
        assert_eq!(parse(" 12 34\r"), Some(two(12, 34)));
        assert_eq!(parse("12 34 5").and_then(|s| s.arrived), Some(5));
        assert_eq!(parse("12"), None);
        assert_eq!(parse("x 34"), None);
        assert_eq!(parse("12 34 x"), None);
        assert_eq!(parse("1 2 3 4"), None);
        assert_eq!(parse("12 3a"), None);
        assert_eq!(parse("12 99999999999999999999"), None, "past u64");
        assert_eq!(parse("18446744073709551615 0"), Some(two(u64::MAX, 0)));
        // The longest number read without a check, and the shortest read with one.
        assert_eq!(
            parse("9999999999999999999 10000000000000000000"),
            Some(two(9_999_999_999_999_999_999, 10_000_000_000_000_000_000))
        );
        let t = Instant::now();
        let mut buf = [0; MAX_TEXT];
        let mut text = |arrived| String::from_utf8(text(&mut buf, t, arrived).to_vec()).unwrap();
        let s = parse(&text(None)).unwrap();
        assert!(s.written >= s.intended, "written before intended: {s:?}");
        let earlier = t.checked_sub(Duration::from_millis(3)).unwrap();
        let s = parse(&text(Some(earlier))).unwrap();
        assert_eq!(s.intended - s.arrived.unwrap(), 3_000_000);
    }
}
