//! Server-side stamps (`--stamps`): the time the mock meant to write each answer and each
//! streamed event and the time it did, on `CLOCK_MONOTONIC`, the clock every process on one
//! host shares. A client on the same host reads them beside its own read times and splits a
//! measured delay into the mock's lateness (written − intended) and the transit (read −
//! written: kernel, runtime, client), none of it the harness's guess.
//!
//! On the wire: a header on every answer, `x-mock-stamp: INTENDED_NS WRITTEN_NS ARRIVED_NS` (the
//! head: a whole answer's deadline, a stream's opening; and when the request reached its
//! handler, so the client can time its request's way in too), and in a stream an SSE comment
//! opening each event, `: stamp DUE_NS LATE_NS`, which clients skip as the SSE standard says:
//! the event was meant to be written `DUE_NS` after the head's `INTENDED_NS` and was written
//! `LATE_NS` after that (small numbers: a stream's events are written within its lifetime,
//! and late by microseconds, where two clock readings of 14 to 19 digits each were digits to
//! make, send and read on every event). "Written" is when the mock handed the bytes to the
//! connection; for an event whose time had already come, the clock reading that found it had
//! (taken just before the event is made: one clock reading an event, not two).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// An event's stamp read back, in nanoseconds: when it was meant to be written after the
/// head's intended time, and how late after that it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStamp {
    /// Intended − the head's intended.
    pub due: u64,
    /// Written − intended.
    pub late: u64,
}

impl EventStamp {
    /// The event's intended and written times, given the head's intended time.
    pub fn times(self, head_intended: u64) -> (u64, u64) {
        let intended = head_intended.saturating_add(self.due);
        (intended, intended.saturating_add(self.late))
    }
}

/// The longest stamp's text: three 20-digit numbers and two spaces.
pub(crate) const MAX_TEXT: usize = 3 * 20 + 2;

/// A stamp's text: `INTENDED_NS WRITTEN_NS`, written now, then ` ARRIVED_NS` when given; in
/// `buf`, without an allocation.
pub(crate) fn text(buf: &mut [u8; MAX_TEXT], intended: Instant, arrived: Option<Instant>) -> &[u8] {
    let written = Instant::now();
    let mut end = MAX_TEXT;
    for (i, at) in [arrived, Some(written), Some(intended)]
        .into_iter()
        .flatten()
        .enumerate()
    {
        if i > 0 {
            end -= 1;
            buf[end] = b' ';
        }
        end = digits_back(buf, end, ns(at));
    }
    &buf[end..]
}

/// Room for an event's stamp line: the comment's prefix, two 20-digit numbers, the space
/// between them and the line feed.
pub(crate) const LINE_ROOM: usize = STAMP_COMMENT.len() + 2 * 20 + 2;

/// Writes the stamp line of an event meant to be written `due` after the head's intended time
/// and written `late` after that (`: stamp DUE_NS LATE_NS` and its line feed) at the end of
/// `room` (at least [`LINE_ROOM`] bytes), and returns where it begins.
///
/// `--stamps` writes one on every streamed event. The digits go straight to their place, the
/// last one first: formatting each number apart and copying the pieces together took four
/// `memmove` calls an event, as much of the mock's CPU as making the digits (perf, zero
/// latency).
pub(crate) fn line_into(room: &mut [u8], due: Duration, late: Duration) -> usize {
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    let mut end = room.len() - 1;
    room[end] = b'\n';
    end = digits_back(room, end, nanos(late));
    end -= 1;
    room[end] = b' ';
    end = digits_back(room, end, nanos(due));
    let start = end - STAMP_COMMENT.len();
    room[start..end].copy_from_slice(STAMP_COMMENT.as_bytes());
    start
}

/// The two digits of each number below 100.
const PAIRS: [u8; 200] = {
    let mut t = [0; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes `n` in decimal just before `end` in `buf`, two digits at a time from the last, and
/// returns where its first digit is.
fn digits_back(buf: &mut [u8], mut end: usize, mut n: u64) -> usize {
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        end -= 2;
        buf[end..end + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        end -= 2;
        buf[end..end + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        end -= 1;
        buf[end] = b'0' + n as u8;
    }
    end
}

/// Reads `INTENDED_NS WRITTEN_NS [ARRIVED_NS]`, a header's value.
pub fn parse(s: &str) -> Option<Stamp> {
    let ([intended, written, arrived], count) = numbers(s.as_bytes(), 0)?;
    (count >= 2).then_some(Stamp {
        intended,
        written,
        arrived: (count == 3).then_some(arrived),
    })
}

/// Reads the stamp line an event opens with (`: stamp DUE_NS LATE_NS`): its stamp (`None`
/// when malformed) and the rest of the event after the line; `None` when the event does not
/// open with a stamp.
pub fn split_line(event: &[u8]) -> Option<(Option<EventStamp>, &[u8])> {
    if !event.starts_with(STAMP_COMMENT.as_bytes()) {
        return None;
    }
    let end = memchr::memchr(b'\n', event).unwrap_or(event.len());
    let stamp = match numbers(&event[..end], STAMP_COMMENT.len()) {
        Some(([due, late, _], 2)) => Some(EventStamp { due, late }),
        _ => None,
    };
    Some((stamp, event.get(end + 1..).unwrap_or_default()))
}

/// The numbers of a stamp in `s[from..]` (at most three) and how many there are.
///
/// The harness reads one on every streamed event. Splitting on whitespace and `str::parse`
/// took a third of what stamps cost the client on a stream, and a digit-by-digit loop 40 ns
/// an event (perf, zero latency: each digit waits for the product before it). A number of up
/// to 16 digits is now read eight digits at a time from an 8-byte load that ends at its last
/// digit (the bytes before its first digit, wherever they are in `s`, taken as zeros); a
/// number too near the start of `s` for such a load, or of 17 to 19 digits, is read digit by
/// digit, which 19 digits cannot overflow; a longer one (never a clock reading: 10^19 ns is
/// three centuries) goes through `str::parse`.
fn numbers(s: &[u8], from: usize) -> Option<([u64; 3], usize)> {
    let mut numbers = [0u64; 3];
    let mut count = 0;
    let mut i = from;
    while i < s.len() {
        if s[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if count == numbers.len() {
            return None;
        }
        let start = i;
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        let len = i - start;
        numbers[count] = match len {
            // Neither whitespace nor a digit.
            0 => return None,
            1..=8 if i >= 8 => eight_digits(window(s, i, len)),
            9..=16 if i >= 16 => {
                eight_digits(window(s, i - 8, len - 8)) * 100_000_000 + eight_digits(load(s, i))
            }
            1..=19 => s[start..i]
                .iter()
                .fold(0u64, |n, d| n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))),
            _ => std::str::from_utf8(&s[start..i]).ok()?.parse().ok()?,
        };
        count += 1;
    }
    Some((numbers, count))
}

/// The eight bytes of `s` before `end`, the first in the lowest byte.
fn load(s: &[u8], end: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&s[end - 8..end]);
    u64::from_le_bytes(b)
}

/// The eight bytes of `s` before `end`, of which the last `digits` are digits, with the
/// others taken as `0`s.
fn window(s: &[u8], end: usize, digits: usize) -> u64 {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    // The bytes before the first digit are the low ones.
    let before = (1u64 << (8 * (8 - digits) as u32)).wrapping_sub(1);
    (load(s, end) & !before) | (ZEROS & before)
}

/// Eight ASCII digits, loaded as [`load`] does, as their number: the digits of each pair
/// joined, then of each pair of pairs, then of the two halves, each step in every lane at
/// once.
fn eight_digits(chunk: u64) -> u64 {
    let v = chunk.wrapping_sub(u64::from_le_bytes([b'0'; 8]));
    let v = (v.wrapping_mul(10) + (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let v = (v.wrapping_mul(100) + (v >> 16)) & 0x0000_ffff_0000_ffff;
    (v.wrapping_mul(10_000) + (v >> 32)) & 0xffff_ffff
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

    /// Numbers are written in place, in decimal, whatever their length.
    #[test]
    fn digits_are_written_back_from_the_end() {
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            12_345,
            9_999_999_999_999_999_999,
            u64::MAX,
        ] {
            let mut buf = [b'x'; 24];
            let start = digits_back(&mut buf, 22, n);
            assert_eq!(&buf[start..22], n.to_string().as_bytes());
            assert_eq!(&buf[22..], b"xx", "nothing past the end");
            assert!(
                buf[..start].iter().all(|&b| b == b'x'),
                "nothing before the start"
            );
        }
    }

    /// An event's stamp line is written at its room's end and read back with the rest of the
    /// event after it.
    #[test]
    fn an_events_stamp_line_reads_back_from_the_event() {
        let (due, late) = (Duration::from_millis(45), Duration::from_nanos(2_500));
        let mut event = vec![b'?'; LINE_ROOM];
        event.extend_from_slice(b"data: {}\n\n");
        let start = line_into(&mut event[..LINE_ROOM], due, late);
        assert_eq!(&event[start..LINE_ROOM], b": stamp 45000000 2500\n");
        assert!(
            event[..start].iter().all(|&b| b == b'?'),
            "the room before is left"
        );
        let (stamp, rest) = split_line(&event[start..]).expect("a stamp line");
        let stamp = stamp.unwrap();
        assert_eq!(
            stamp,
            EventStamp {
                due: 45_000_000,
                late: 2_500
            }
        );
        assert_eq!(stamp.times(1_000), (45_001_000, 45_003_500));
        assert_eq!(rest, b"data: {}\n\n");
        // The longest line fits its room.
        let mut room = [0; LINE_ROOM];
        let start = line_into(&mut room, Duration::MAX, Duration::MAX);
        let max = u64::MAX;
        assert_eq!(room[start..], *format!(": stamp {max} {max}\n").as_bytes());
        // No stamp line, a bad one, one with three numbers, one that ends the event.
        assert_eq!(split_line(b"data: {}"), None);
        assert_eq!(
            split_line(b": stamp 1 x\ndata: {}"),
            Some((None, &b"data: {}"[..]))
        );
        assert_eq!(split_line(b": stamp 1 2 3\n"), Some((None, &b""[..])));
        let end = split_line(b": stamp 1 2").unwrap();
        assert_eq!(end, (Some(EventStamp { due: 1, late: 2 }), &b""[..]));
    }

    proptest::proptest! {
        /// Numbers of every length, anywhere in a line (near its start too, where the
        /// eight-byte loads cannot reach back), read as `str::parse` reads them.
        #[test]
        fn numbers_read_as_str_parse_reads_them(
            prefix in "[ :a-z0-9]{0,20}",
            a in 0u64..=u64::MAX,
            a_len in 1u32..=20,
            b in 0u64..=u64::MAX,
            b_len in 1u32..=20,
        ) {
            // Numbers of a_len and b_len digits at most (leading zeros kept, as a clock's are
            // not, but the reader must not care).
            let cut = |n: u64, len: u32| if len >= 20 { n } else { n % 10u64.pow(len) };
            let (a, b) = (cut(a, a_len), cut(b, b_len));
            let text = format!("{prefix}{a:0w$} {b}", w = a_len as usize);
            // Whatever comes before the number (digits too) is not read.
            proptest::prop_assert_eq!(numbers(text.as_bytes(), prefix.len()), Some(([a, b, 0], 2)));
            let line = format!(": stamp {a:0w$} {b}\nrest", w = a_len as usize);
            let (stamp, rest) = split_line(line.as_bytes()).unwrap();
            proptest::prop_assert_eq!(stamp, Some(EventStamp { due: a, late: b }));
            proptest::prop_assert_eq!(rest, b"rest");
        }
    }
}
