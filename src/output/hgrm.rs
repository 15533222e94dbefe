//! `.hgrm`: HdrHistogram's percentile distribution text, byte for byte in the layout of Java's
//! `AbstractHistogram.outputPercentileDistribution` (5 ticks per half distance), so the public
//! HdrHistogram plotter and HistogramLogAnalyzer read it. A golden file produced by the Java
//! library itself guards the format (`tests/golden/`).

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Ticks per half distance, Java's default for `.hgrm` output.
pub(crate) const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Sub-buckets of a 3-significant-digit histogram (2^ceil(log2(2·10³))), as Java prints it.
const SUB_BUCKETS: u32 = 2048;

/// The percentile distribution of `h`, values divided by `unit_ratio` (1000 turns our
/// microseconds into milliseconds), with `sigfig` decimals as Java uses the histogram's
/// significant digits.
pub(crate) fn percentile_distribution(h: &Histogram<u64>, unit_ratio: f64, sigfig: usize) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for row in percentile_rows(h, TICKS_PER_HALF_DISTANCE) {
        let value = java_fixed(row.value as f64 / unit_ratio, sigfig);
        let q = row.percentile / 100.0;
        let qs = java_fixed(q, 12);
        if row.percentile != 100.0 {
            let inv = java_fixed(1.0 / (1.0 - q), 2);
            let _ = writeln!(out, "{value:>12} {qs:>2} {:>10} {inv:>14}", row.total_count);
        } else {
            let _ = writeln!(out, "{value:>12} {qs:>2} {:>10}", row.total_count);
        }
    }
    let mean = java_fixed(h.mean() / unit_ratio, sigfig);
    let sd = java_fixed(h.stdev() / unit_ratio, sigfig);
    let max = java_fixed(h.max() as f64 / unit_ratio, sigfig);
    let _ = writeln!(out, "#[Mean    = {mean:>12}, StdDeviation   = {sd:>12}]");
    let _ = writeln!(out, "#[Max     = {max:>12}, Total count    = {:>12}]", h.len());
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        SUB_BUCKETS
    );
    out
}

/// One row of a percentile distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PercentileRow {
    /// Highest value equivalent to the recorded value reached.
    pub value: u64,
    /// The percentile level iterated to, 0..=100.
    pub percentile: f64,
    /// Values recorded up to and including `value`.
    pub total_count: u64,
}

/// The rows of Java's `PercentileIterator`, reproduced step for step (its level arithmetic runs
/// in percent, not quantiles, and the two round differently: the Rust crate's quantile iterator
/// skips a level that Java's reaches exactly, which the golden test caught).
pub(crate) fn percentile_rows(h: &Histogram<u64>, ticks_per_half_distance: u32) -> Vec<PercentileRow> {
    let total = h.len();
    let mut rows = Vec::new();
    if total == 0 {
        return rows;
    }
    let ticks = i64::from(ticks_per_half_distance);
    let mut level = 0.0f64;
    let mut cum = 0u64;
    let mut last = 0u64;
    for v in h.iter_recorded() {
        cum += v.count_at_value();
        last = v.value_iterated_to();
        // Java's hasNext() stops level steps once every count is consumed; the final 100 % row
        // below stands for the rest.
        loop {
            let current = 100.0 * cum as f64 / total as f64;
            if current < level {
                break;
            }
            rows.push(PercentileRow {
                value: last,
                percentile: level,
                total_count: cum,
            });
            // Java: ticks · 2^(⌊log2(100 / (100 − level))⌋ + 1), with the same truncations.
            let exp = ((100.0 / (100.0 - level)).ln() / 2f64.ln()) as i64 + 1;
            let reporting_ticks = ticks * (2f64.powi(exp as i32) as i64);
            level += 100.0 / reporting_ticks as f64;
            if cum >= total {
                break;
            }
        }
    }
    rows.push(PercentileRow {
        value: last,
        percentile: 100.0,
        total_count: cum,
    });
    rows
}

/// `%.{decimals}f` as Java's `Formatter` writes it: the shortest decimal string that identifies
/// the double (as `Double.toString` gives), rounded HALF_UP. Rust rounds the exact binary value
/// instead, so 0.99978027343749999… (printed shortest as 0.9997802734375) would end in …437
/// where Java writes …438.
pub(crate) fn java_fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    // Rust's `Display` for f64 is the shortest round-trip decimal, never in exponent form.
    let shortest = format!("{}", x.abs());
    let (int_part, frac) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let mut digits: Vec<u8> = int_part
        .bytes()
        .chain(frac.bytes().chain(std::iter::repeat(b'0')).take(decimals))
        .map(|b| b - b'0')
        .collect();
    if frac.as_bytes().get(decimals).is_some_and(|d| *d >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let int_len = digits.len() - decimals;
    let mut out = String::new();
    if x.is_sign_negative() && digits.iter().any(|d| *d != 0) {
        out.push('-');
    }
    out.extend(digits[..int_len].iter().map(|d| char::from(b'0' + d)));
    if decimals > 0 {
        out.push('.');
        out.extend(digits[int_len..].iter().map(|d| char::from(b'0' + d)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same values as `tests/golden/Golden.java` give the same bytes as Java's
    /// `outputPercentileDistribution(System.out, 1000.0)`.
    #[test]
    fn hgrm_matches_the_java_library_byte_for_byte() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for i in 1..=10_000u64 {
            h.record((i * i * 37) % 250_000 + 1).unwrap();
        }
        let golden = include_str!("../../tests/golden/java-percentile-distribution.hgrm");
        let ours = percentile_distribution(&h, 1000.0, 3);
        for (n, (a, b)) in ours.lines().zip(golden.lines()).enumerate() {
            assert_eq!(a, b, "line {}", n + 1);
        }
        assert_eq!(ours, golden);
    }

    /// Every data line of a `.hgrm` has the 4 fields the public plotter keeps, and the last has 3.
    #[test]
    fn hgrm_lines_parse_as_the_plotter_expects() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in [1_000u64, 2_000, 50_000, 100_000] {
            h.record(v).unwrap();
        }
        let text = percentile_distribution(&h, 1000.0, 3);
        let data: Vec<Vec<&str>> = text
            .lines()
            .skip(2)
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        let (last, rest) = data.split_last().unwrap();
        assert!(
            rest.iter()
                .all(|f| f.len() == 4 && f[0].parse::<f64>().is_ok() && f[3].parse::<f64>().is_ok())
        );
        assert_eq!(last.len(), 3);
        assert_eq!(last[1], "1.000000000000");
    }

    #[test]
    fn java_fixed_rounds_ties_up_like_java() {
        assert_eq!(java_fixed(0.9997802734375, 12), "0.999780273438");
        assert_eq!(java_fixed(2.5, 0), "3");
        assert_eq!(java_fixed(0.125, 2), "0.13");
        assert_eq!(java_fixed(9.9999, 2), "10.00");
        assert_eq!(java_fixed(1.0, 12), "1.000000000000");
        assert_eq!(java_fixed(0.0, 3), "0.000");
        assert_eq!(java_fixed(-1.25, 1), "-1.3");
        // Java's Formatter writes the non-finite values as words, whatever the precision.
        assert_eq!(java_fixed(f64::INFINITY, 2), "Infinity");
        assert_eq!(java_fixed(f64::NEG_INFINITY, 2), "-Infinity");
        assert_eq!(java_fixed(f64::NAN, 2), "NaN");
    }
}
