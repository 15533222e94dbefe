//! Per-second histograms for `run.hlog`, kept in flat memory however long a run lasts.
//!
//! Each (second, series) interval lives as a histogram while it may still receive values (the
//! newest three seconds), is then sealed (V2 + DEFLATE, a kilobyte or two), and once more than
//! a set number are sealed the oldest go to an anonymous temporary file that disappears with the
//! process, however it ends.
//!
//! Merging two `Intervals` (a thread pool's workers) never decodes what is sealed or spilled:
//! sealed parts are appended, spilled records are copied file to file, and parts of the same
//! interval are added together only when the log is written, one interval at a time.
//!
//! A successful request's service time is, in a closed loop, its latency: while every one has
//! been, the service-time intervals are not kept apart but read as the latency ones (a part
//! sealed then counts for both), as [`SeriesSet`](crate::model::series::SeriesSet) does for the
//! whole run's series.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::AddAssign;

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::{Counter, Histogram};

use crate::model::outcome::Outcome;
use crate::model::series::{SIGFIG, Series, new_histogram, record_clamped};

/// Sealed intervals kept in memory, by default, before the oldest spill to disk.
pub(crate) const SEALED_IN_MEMORY: usize = 64;

/// Seconds behind the newest after which an interval is sealed: the newest two stay live. A
/// value for a second already sealed (a request counted late) starts a new part of it, added to
/// the others when the log is written.
const SEAL_AFTER_S: u64 = 1;

/// A live interval. A second's counts fit 32 bits, and a live histogram of values up to 1 s is
/// 45 KB instead of 91 (every series of each live second of each worker's recorder, held
/// whatever the load: issue 29's memory at 10 000 in flight).
type Live = Histogram<u32>;

fn new_live() -> Live {
    Histogram::new(SIGFIG).expect("3 significant digits is a valid histogram configuration")
}

/// (seconds since the run's epoch, series).
type Key = (u64, Series);

/// The series whose intervals the service time's read as while the two have had the same values.
const E2E_OK: Series = Series::E2e(Outcome::Ok);
/// See [`E2E_OK`].
const SERVICE_OK: Series = Series::Service(Outcome::Ok);
/// The spill header's mark of a part that counts for [`SERVICE_OK`] too (on the series byte:
/// there are fewer than 128 series).
const BOTH: u8 = 0x80;

/// Bytes of a spill record's header: second (u64 LE), series index (u8), length (u32 LE).
const HEADER: usize = 13;

/// The one-second interval histograms of a strategy (or of one of its workers).
#[derive(Debug)]
pub struct Intervals {
    live: BTreeMap<Key, Live>,
    /// Encoded parts, each with whether it counts for [`SERVICE_OK`] too; after a merge one
    /// interval may have several.
    sealed: Vec<(Key, bool, Vec<u8>)>,
    spill: Option<Spill>,
    newest: u64,
    first: Option<u64>,
    keep_in_memory: usize,
    /// Every successful request's service time has been its latency: the service-time
    /// intervals read as the latency ones (the live ones, and the parts sealed meanwhile).
    echo: bool,
}

impl Default for Intervals {
    fn default() -> Self {
        Intervals::with_limit(SEALED_IN_MEMORY)
    }
}

/// Sealed parts on disk: records of (header, encoded histogram). The file is anonymous (unlinked
/// as soon as it is created).
#[derive(Debug)]
struct Spill {
    file: File,
    records: usize,
}

impl Spill {
    fn create() -> Option<Spill> {
        Some(Spill {
            file: tempfile::tempfile().ok()?,
            records: 0,
        })
    }

    fn append(&mut self, key: Key, both: bool, bytes: &[u8]) -> std::io::Result<()> {
        let mut rec = Vec::with_capacity(HEADER + bytes.len());
        rec.extend_from_slice(&key.0.to_le_bytes());
        rec.push(key.1.index() as u8 | if both { BOTH } else { 0 });
        rec.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        rec.extend_from_slice(bytes);
        (&self.file).seek(SeekFrom::End(0))?;
        (&self.file).write_all(&rec)?;
        self.records += 1;
        Ok(())
    }

    /// Copies every record of `other` to the end of this file, without decoding any.
    fn append_file(&mut self, other: &Spill) -> std::io::Result<()> {
        (&other.file).seek(SeekFrom::Start(0))?;
        (&self.file).seek(SeekFrom::End(0))?;
        std::io::copy(&mut &other.file, &mut &self.file)?;
        self.records += other.records;
        Ok(())
    }

    /// (key, whether it counts for [`SERVICE_OK`] too, offset of the encoded bytes, length) of
    /// every record, read header by header.
    fn index(&self) -> std::io::Result<Vec<(Key, bool, u64, usize)>> {
        let mut out = Vec::with_capacity(self.records);
        let end = (&self.file).seek(SeekFrom::End(0))?;
        let mut at = 0u64;
        let mut header = [0u8; HEADER];
        while at + HEADER as u64 <= end {
            (&self.file).seek(SeekFrom::Start(at))?;
            (&self.file).read_exact(&mut header)?;
            let sec = u64::from_le_bytes(header[..8].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(header[9..].try_into().unwrap_or_default()) as usize;
            let start = at + HEADER as u64;
            if start + len as u64 > end {
                break;
            }
            if let Some(series) = Series::from_index(usize::from(header[8] & !BOTH)) {
                out.push(((sec, series), header[8] & BOTH != 0, start, len));
            }
            at = start + len as u64;
        }
        Ok(out)
    }

    fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        (&self.file).seek(SeekFrom::Start(offset))?;
        (&self.file).read_exact(&mut buf)?;
        Ok(buf)
    }
}

/// Where one part of an interval is.
#[derive(Clone, Copy)]
enum Part<'a> {
    Live(&'a Live),
    Sealed(&'a [u8]),
    Spilled(u64, usize),
}

fn encode<T: Counter>(h: &Histogram<T>) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new().serialize(h, &mut buf).ok()?;
    Some(buf)
}

fn decode(bytes: &[u8]) -> Option<Histogram<u64>> {
    Deserializer::new().deserialize(&mut &bytes[..]).ok()
}

impl Intervals {
    /// Intervals that keep at most `keep_in_memory` sealed parts in memory before spilling.
    pub(crate) fn with_limit(keep_in_memory: usize) -> Intervals {
        Intervals {
            live: BTreeMap::new(),
            sealed: Vec::new(),
            spill: None,
            newest: 0,
            first: None,
            keep_in_memory: keep_in_memory.max(1),
            echo: true,
        }
    }

    /// Records `v` (µs) in the interval of second `sec`.
    pub fn record(&mut self, sec: u64, series: Series, v: u64) {
        if series == E2E_OK || series == SERVICE_OK {
            self.part();
        }
        self.record_own(sec, series, v);
    }

    /// Records a successful request's latency and service time (µs) in the intervals of second
    /// `sec`: once while every one's service time has been its latency.
    pub fn record_latency(&mut self, sec: u64, latency: u64, service: u64) {
        if latency != service {
            self.part();
        }
        self.record_own(sec, E2E_OK, latency);
        if !self.echo {
            self.record_own(sec, SERVICE_OK, service);
        }
    }

    /// Ends the echo: the service-time intervals get their own copies of the live latency
    /// ones (the parts sealed meanwhile keep counting for both).
    fn part(&mut self) {
        if !std::mem::replace(&mut self.echo, false) {
            return;
        }
        let copies: Vec<(Key, Live)> = self
            .live
            .iter()
            .filter(|((_, s), _)| *s == E2E_OK)
            .map(|((sec, _), h)| ((*sec, SERVICE_OK), h.clone()))
            .collect();
        for (k, h) in copies {
            self.add_live(k, h);
        }
    }

    /// Adds `h` into the live interval `k`.
    fn add_live(&mut self, k: Key, h: Live) {
        match self.live.get_mut(&k) {
            Some(mine) => {
                let _ = mine.add(&h);
            }
            None => {
                self.live.insert(k, h);
            }
        }
    }

    /// Whether a part of interval `k` made now counts for [`SERVICE_OK`] too.
    fn counts_for_both(&self, k: Key) -> bool {
        self.echo && k.1 == E2E_OK
    }

    fn record_own(&mut self, sec: u64, series: Series, v: u64) {
        record_clamped(self.live.entry((sec, series)).or_insert_with(new_live), v);
        self.first = Some(self.first.map_or(sec, |f| f.min(sec)));
        if sec > self.newest {
            self.newest = sec;
            self.seal_old();
        }
    }

    /// Seals the intervals too old to receive more values, then spills if over the limit.
    fn seal_old(&mut self) {
        // `E2e(Ok)` is the smallest series, so this keeps every series of the seconds kept.
        let keep = self
            .live
            .split_off(&(self.newest.saturating_sub(SEAL_AFTER_S), Series::E2e(Outcome::Ok)));
        let old = std::mem::replace(&mut self.live, keep);
        for (k, h) in old {
            match encode(&h) {
                Some(bytes) => self.sealed.push((k, self.counts_for_both(k), bytes)),
                // Cannot happen writing to a Vec; keep the histogram live rather than lose it.
                None => {
                    self.live.insert(k, h);
                }
            }
        }
        if self.sealed.len() > self.keep_in_memory {
            self.spill_oldest(self.sealed.len() - self.keep_in_memory / 2);
        }
    }

    /// Moves the `n` oldest sealed parts to the spill file (kept in memory if it cannot be
    /// written: memory is the lesser loss).
    fn spill_oldest(&mut self, n: usize) {
        if self.spill.is_none() {
            self.spill = Spill::create();
        }
        let Some(spill) = self.spill.as_mut() else { return };
        self.sealed.sort_by_key(|(k, _, _)| *k);
        let mut kept = Vec::new();
        for (i, (k, both, bytes)) in std::mem::take(&mut self.sealed).into_iter().enumerate() {
            if i >= n || spill.append(k, both, &bytes).is_err() {
                kept.push((k, both, bytes));
            }
        }
        self.sealed = kept;
    }

    /// Calls `f` once per interval, in (second, series) order, with every part of it added
    /// together. Only one interval is decoded at a time.
    pub(crate) fn for_each(&self, mut f: impl FnMut(u64, Series, Histogram<u64>)) {
        let mut parts: BTreeMap<Key, Vec<Part<'_>>> = BTreeMap::new();
        let mut add = |k: Key, both: bool, part| {
            parts.entry(k).or_default().push(part);
            if both {
                parts.entry((k.0, SERVICE_OK)).or_default().push(part);
            }
        };
        if let Some(index) = self.spill.as_ref().and_then(|s| s.index().ok()) {
            for (k, both, offset, len) in index {
                add(k, both, Part::Spilled(offset, len));
            }
        }
        for (k, both, bytes) in &self.sealed {
            add(*k, *both, Part::Sealed(bytes));
        }
        for (k, h) in &self.live {
            add(*k, self.counts_for_both(*k), Part::Live(h));
        }
        for ((sec, series), list) in parts {
            let mut total = new_histogram();
            for part in list {
                let h = match part {
                    // Through the encoding, which keeps the buckets whatever the counter.
                    Part::Live(h) => encode(h).and_then(|b| decode(&b)),
                    Part::Sealed(b) => decode(b),
                    Part::Spilled(o, l) => self
                        .spill
                        .as_ref()
                        .and_then(|s| s.read(o, l).ok())
                        .and_then(|b| decode(&b)),
                };
                if let Some(h) = h {
                    let _ = total.add(&h);
                }
            }
            f(sec, series, total);
        }
    }

    /// The earliest second with data, spilled intervals included.
    pub(crate) fn first_second(&self) -> Option<u64> {
        self.first
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// Parts written to the spill file so far.
    pub fn spilled(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.records)
    }
}

impl AddAssign<Intervals> for Intervals {
    /// Takes over `other`'s intervals without decoding any sealed or spilled part. The echo of
    /// the service-time intervals stays only where both had it.
    fn add_assign(&mut self, mut other: Intervals) {
        if self.echo != other.echo {
            self.part();
            other.part();
        }
        for (k, h) in other.live {
            self.add_live(k, h);
        }
        self.sealed.extend(other.sealed);
        if let Some(theirs) = &other.spill {
            if self.spill.is_none() {
                self.spill = Spill::create();
            }
            let copied = self.spill.as_mut().map(|mine| mine.append_file(theirs));
            if !matches!(copied, Some(Ok(()))) {
                // No file of our own: keep their parts in memory rather than lose them.
                if let Ok(index) = theirs.index() {
                    for (k, both, o, l) in index {
                        if let Ok(b) = theirs.read(o, l) {
                            self.sealed.push((k, both, b));
                        }
                    }
                }
            }
        }
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.newest = self.newest.max(other.newest);
        self.seal_old();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    const OK: Series = Series::E2e(Outcome::Ok);

    fn collect(iv: &Intervals) -> Vec<(u64, Series, u64)> {
        let mut out = Vec::new();
        iv.for_each(|s, k, h| out.push((s, k, h.len())));
        out
    }

    #[test]
    fn old_intervals_are_sealed_and_still_read_back() {
        let mut iv = Intervals::default();
        for sec in 0..10u64 {
            for v in 1..=100 {
                iv.record(sec, OK, v * 1000);
            }
        }
        // A late arrival for a sealed second still counts.
        iv.record(1, OK, 5);
        // The newest two seconds, and the late arrival's new part.
        assert!(iv.live.len() <= 3, "{} live", iv.live.len());
        assert!(iv.sealed.len() >= 7);
        let all = collect(&iv);
        assert_eq!(all.len(), 10);
        assert_eq!(all.iter().map(|x| x.2).sum::<u64>(), 1001);
        assert_eq!(all[1].2, 101);
    }

    #[test]
    fn long_runs_spill_and_the_first_second_counts_what_was_spilled() {
        let mut iv = Intervals::with_limit(4);
        for sec in 7..300u64 {
            iv.record(sec, OK, 1000 + sec);
            iv.record(sec, Series::Ttft, 10);
        }
        assert!(iv.sealed.len() <= 4, "{} sealed in memory", iv.sealed.len());
        assert!(iv.spilled() >= 2 * 293 - 4 - 6, "{} spilled", iv.spilled());
        assert_eq!(iv.first_second(), Some(7));
        let all = collect(&iv);
        assert_eq!(all.len(), 2 * 293);
        assert_eq!(all.first().map(|x| x.0), Some(7));
        assert!(all.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        // Reading leaves the file whole.
        assert_eq!(collect(&iv), all);
    }

    #[test]
    fn merging_spilled_workers_adds_interval_by_interval() {
        let mut a = Intervals::with_limit(2);
        let mut b = Intervals::with_limit(2);
        for sec in 0..50u64 {
            a.record(sec, OK, 10);
            b.record(sec, OK, 20);
            b.record(sec, OK, 30);
        }
        assert!(a.spilled() > 0 && b.spilled() > 0);
        a += b;
        let all = collect(&a);
        assert_eq!(all.len(), 50, "one line per second, not per part");
        assert!(all.iter().all(|x| x.2 == 3), "{all:?}");
        assert!(a.sealed.len() <= 2);
    }

    type Plain = BTreeMap<Key, Histogram<u64>>;

    fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
        h.iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    }

    /// Random seconds of a worker's values: mostly latencies equal to their service times, a
    /// few that differ, late values for sealed seconds, TTFTs; into `iv` and into `plain`.
    fn worker(rng: &mut SmallRng, iv: &mut Intervals, plain: &mut Plain, n: usize) {
        let mut sec = rng.random_range(0..3u64);
        let put = |plain: &mut Plain, k: Key, v: u64| {
            record_clamped(plain.entry(k).or_insert_with(new_histogram), v);
        };
        for _ in 0..n {
            if rng.random_bool(0.2) {
                sec += rng.random_range(1..3);
            }
            let at = if rng.random_bool(0.05) {
                sec.saturating_sub(4)
            } else {
                sec
            };
            let v = [1000, 2000, 3000, 50_000][rng.random_range(0..4)];
            match rng.random_range(0..100) {
                0..3 => {
                    iv.record_latency(at, v, v + 7);
                    put(plain, (at, E2E_OK), v);
                    put(plain, (at, SERVICE_OK), v + 7);
                }
                3..15 => {
                    iv.record(at, Series::Ttft, v);
                    put(plain, (at, Series::Ttft), v);
                }
                _ => {
                    iv.record_latency(at, v, v);
                    put(plain, (at, E2E_OK), v);
                    put(plain, (at, SERVICE_OK), v);
                }
            }
        }
    }

    fn assert_reads_as(iv: &Intervals, plain: &Plain, case: usize) {
        let mut got = Vec::new();
        iv.for_each(|sec, series, h| got.push(((sec, series), buckets(&h))));
        let want: Vec<_> = plain.iter().map(|(k, h)| (*k, buckets(h))).collect();
        assert_eq!(got, want, "case {case}");
    }

    /// Whatever the order of equal and differing service times, sealed and spilled parts, late
    /// values and merges, every interval reads as if the service times were kept apart.
    #[test]
    fn service_intervals_read_as_if_kept_apart() {
        let mut rng = SmallRng::seed_from_u64(29);
        for case in 0..40 {
            // Arrange
            let (mut a, mut b) = (Intervals::with_limit(2), Intervals::with_limit(3));
            let (mut plain_a, mut plain_b) = (Plain::new(), Plain::new());
            let (n, m) = (rng.random_range(0..120), rng.random_range(0..120));
            // Act
            worker(&mut rng, &mut a, &mut plain_a, n);
            worker(&mut rng, &mut b, &mut plain_b, m);
            // Assert
            assert_reads_as(&a, &plain_a, case);
            a += b;
            for (k, h) in plain_b {
                let _ = plain_a.entry(k).or_insert_with(new_histogram).add(&h);
            }
            assert_reads_as(&a, &plain_a, case);
        }
    }

    /// While every service time was its latency, one interval is kept a second, not two.
    #[test]
    fn equal_service_times_keep_one_interval_a_second() {
        let mut iv = Intervals::default();
        for sec in 0..10 {
            iv.record_latency(sec, 1000, 1000);
        }
        assert!(iv.live.keys().all(|(_, s)| *s == E2E_OK), "{:?}", iv.live.keys());
        assert!(iv.sealed.iter().all(|((_, s), both, _)| *s == E2E_OK && *both));
        iv.record_latency(10, 1000, 2000);
        assert!(iv.live.keys().any(|(_, s)| *s == SERVICE_OK));
    }

    /// A live interval (32-bit counts) reads back bucket for bucket as the 64-bit histogram the
    /// same values make.
    #[test]
    fn a_live_interval_reads_back_as_recorded() {
        let mut iv = Intervals::default();
        let mut want = new_histogram();
        for v in (1..=5000u64).map(|i| i * 199) {
            iv.record(0, OK, v);
            record_clamped(&mut want, v);
        }
        assert_eq!(iv.live.len(), 1);
        let mut got = Vec::new();
        iv.for_each(|_, _, h| got.push(h));
        assert_eq!(got.len(), 1);
        let buckets = |h: &Histogram<u64>| {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect::<Vec<_>>()
        };
        assert_eq!(buckets(&got[0]), buckets(&want));
        assert_eq!(got[0].max(), want.max());
    }
}
