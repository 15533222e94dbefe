//! The command-line helpers both binaries share (`mock-server` and `asyncbench`): value parsers
//! for clap that name the value on error, and a parse that turns a usage error into one line and
//! exit 2.

use std::time::Duration;

use crate::latency::parse_duration;

/// Parses the command line of a binary; on a usage error prints it as one line (naming the
/// value, with the possible values when clap lists them) and exits 2. Help and version print as
/// usual.
pub fn parse_or_exit<P: clap::Parser>(bin: &str) -> P {
    use clap::error::ErrorKind;
    match P::try_parse() {
        Ok(p) => p,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        Err(e) => {
            eprintln!("{bin}: {}", one_line(&e.to_string()));
            std::process::exit(2);
        }
    }
}

/// The first line of a clap error, without its `error: ` prefix, plus the possible values
/// when clap lists them on the next line.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines();
    let mut line = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    // What clap adds after the first line and is worth keeping on it: the possible values, and
    // its "a similar argument exists" tip.
    for next in lines.map(str::trim) {
        if next.starts_with("[possible values") || next.starts_with("tip:") {
            line.push_str("; ");
            line.push_str(next.trim_start_matches("tip: "));
        }
        if next.starts_with("Usage:") {
            break;
        }
    }
    line
}

/// Parses a probability for clap, naming the value on error.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("'{s}' is not a probability between 0 and 1")),
    }
}

/// Parses a duration for clap.
pub fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Parses a byte count for clap: `1000`, `64KiB`, `16MiB`, `1GiB` (and `KB`/`MB`/`GB`, powers
/// of 1000).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a byte count such as 64MiB"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => {
            return Err(format!(
                "'{s}' has an unknown unit (B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    match n.checked_mul(scale) {
        Some(b) if b > 0 => Ok(b),
        _ => Err(format!("'{s}' must be at least one byte and fit in 64 bits")),
    }
}

/// Parses a positive count for clap.
pub fn parse_positive(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{s}' is not a whole number above zero")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_fold_into_one_line() {
        let e = "error: invalid value 'warp' for '--strategies'\n  [possible values: a, b]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(e),
            "invalid value 'warp' for '--strategies'; [possible values: a, b]"
        );
        let e = "error: unexpected argument '--strategie' found\n\n  tip: a similar argument exists: '--strategies'\n\nUsage: asyncbench compare --strategies <STRATEGIES>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            one_line(e),
            "unexpected argument '--strategie' found; a similar argument exists: '--strategies'"
        );
    }

    #[test]
    fn probability_parser_rejects_out_of_range() {
        assert_eq!(parse_probability("0.3"), Ok(0.3));
        assert!(parse_probability("1.01").unwrap_err().contains("1.01"));
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("abc").is_err());
    }
}
