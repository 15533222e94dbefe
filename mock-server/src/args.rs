//! The command-line helpers both binaries share (`mock-server` and `asyncbench`): value parsers
//! for clap that name the value on error, and a parse that turns a usage error into one line and
//! exit 2; and the mock's behaviour flags ([`ProfileArgs`]), which both binaries take.

use std::time::Duration;

use crate::latency::{LatencySpec, parse_duration};
use crate::limiter::parse_rpm_schedule;
use crate::profile::{Profile, ProfileError};

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

/// The mock's behaviour flags, shared by the `mock-server` binary and `asyncbench` (which starts
/// the embedded mock with them), so both spell every flag the same way.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProfileArgs {
    /// TOML profile file; flags given on the command line override its values [default: none].
    #[arg(long, value_name = "FILE.toml")]
    pub profile: Option<std::path::PathBuf>,
    /// Whole-response latency: 100ms, uniform:50ms..150ms, normal:MEAN,SD, lognormal:MEDIAN,P99,
    /// exp:MEAN [default: 0; asyncbench's embedded mock: 100ms unless --ttft or --itl is given].
    #[arg(allow_hyphen_values = true, long, value_name = "SPEC")]
    pub latency: Option<LatencySpec>,
    /// Time to first token (same spec syntax), added after --latency [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "SPEC")]
    pub ttft: Option<LatencySpec>,
    /// Inter-token latency before each token after the first (same spec syntax) [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "SPEC")]
    pub itl: Option<LatencySpec>,
    /// Output tokens when a request sets no max_tokens / max_completion_tokens [default: 16].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub tokens: Option<u64>,
    /// Probability of a rate-limit 429 with Retry-After [default: 0].
    #[arg(allow_hyphen_values = true, long = "rate-429", value_name = "P", value_parser = parse_probability)]
    pub rate_429: Option<f64>,
    /// Probability of a quota 429 (insufficient_quota, no Retry-After) [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "P", value_parser = parse_probability)]
    pub rate_quota: Option<f64>,
    /// Probability of a 500 [default: 0].
    #[arg(allow_hyphen_values = true, long = "rate-500", value_name = "P", value_parser = parse_probability)]
    pub rate_500: Option<f64>,
    /// Probability of a 502 [default: 0].
    #[arg(allow_hyphen_values = true, long = "rate-502", value_name = "P", value_parser = parse_probability)]
    pub rate_502: Option<f64>,
    /// Probability of a 503 [default: 0].
    #[arg(allow_hyphen_values = true, long = "rate-503", value_name = "P", value_parser = parse_probability)]
    pub rate_503: Option<f64>,
    /// Probability of a 504 [default: 0].
    #[arg(allow_hyphen_values = true, long = "rate-504", value_name = "P", value_parser = parse_probability)]
    pub rate_504: Option<f64>,
    /// Probability of a hang: the request is accepted and never answered [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "P", value_parser = parse_probability)]
    pub rate_hang: Option<f64>,
    /// Probability of a connection reset instead of a response [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "P", value_parser = parse_probability)]
    pub rate_reset: Option<f64>,
    /// Probability that a stream ends halfway with an error event [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "P", value_parser = parse_probability)]
    pub rate_stream_error: Option<f64>,
    /// Probability that a stream is cut halfway [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "P", value_parser = parse_probability)]
    pub rate_stream_cut: Option<f64>,
    /// Retry-After of injected 429s [default: 1s].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub retry_after: Option<Duration>,
    /// Deterministic failures, repeatable: first:N:FAULT (requests 1..=N) or every:K:FAULT
    /// [default: none]. Requests that carry asyncbench's request number are counted by it (their
    /// first attempt); others in arrival order.
    #[arg(long, value_name = "RULE")]
    pub schedule: Vec<String>,
    /// Requests-per-minute limit (token bucket with continuous refill) [default: none].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub rpm: Option<u64>,
    /// A requests-per-minute limit that changes during the run: OFFSET:RPM steps from the
    /// mock's start (or its reset), e.g. 0s:1200,20s:300,40s:1200 [default: none].
    #[arg(long, value_name = "STEPS")]
    pub rpm_schedule: Option<String>,
    /// Tokens-per-minute limit (prompt estimate + max_tokens × n charged per request)
    /// [default: none].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub tpm: Option<u64>,
    /// Burst the limiter allows, as a share of its minute: 1s holds 1/60 of --rpm/--tpm [default: 60s].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub limit_window: Option<Duration>,
    /// Seed of the fault and latency draws, for reproducible runs [default: from the clock;
    /// asyncbench's embedded mock: 1].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Most bytes one answer may take (n × max_tokens, streamed or not); more is a 400 naming
    /// the limit [default: 16MiB].
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_response_bytes: Option<u64>,
    /// Send no x-ratelimit-* headers with --rpm/--tpm (as many self-hosted servers and gateways
    /// do): clients have only the 429s and their Retry-After to go by [default: sent].
    #[arg(long)]
    pub no_ratelimit_headers: bool,
    /// Requests served at once; the rest wait their turn in arrival order, the wait counted in
    /// their latency, as an inference server's batch slots [default: every request at once].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub capacity: Option<u64>,
    /// How prompts are counted in tokens: OpenAI's o200k_base (GPT-4o and later) or
    /// cl100k_base (GPT-4, GPT-3.5), or whitespace-separated words [default: o200k_base]. The
    /// harness counts with the same one: the prompts --prompt-tokens writes, and each
    /// request's input tokens.
    #[arg(long, value_enum, value_name = "NAME")]
    pub tokenizer: Option<crate::tokens::Tokenizer>,
    /// Reasoning tokens streamed before each answer's text, as a reasoning model's:
    /// `delta.reasoning_content` and `delta.reasoning` in chat, a `thinking` block in Messages,
    /// counted in usage (`reasoning_tokens`, `thinking_tokens`) and within the output cap
    /// [default: 0].
    #[arg(long, value_name = "N")]
    pub reasoning_tokens: Option<u32>,
    /// /v1/embeddings: the length of each vector when a request names no dimensions (1 to
    /// 4096) [default: 256].
    #[arg(long, value_name = "N")]
    pub embedding_dimensions: Option<u32>,
    /// /v1/embeddings: time per input token, added to --latency [default: 0].
    #[arg(allow_hyphen_values = true, long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub embedding_token_time: Option<Duration>,
}

impl ProfileArgs {
    /// The profile these flags describe: the file's values (or the defaults), overridden by the
    /// flags, then validated.
    pub fn to_profile(&self) -> Result<Profile, ProfileError> {
        let mut p = match &self.profile {
            Some(path) => Profile::from_file(path)?,
            None => Profile::default(),
        };
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { p.$f = v.clone(); } )* };
        }
        set!(
            latency, ttft, itl, rate_429, rate_quota, rate_500, rate_502, rate_503, rate_504
        );
        set!(
            rate_hang,
            rate_reset,
            rate_stream_error,
            rate_stream_cut,
            retry_after,
            limit_window
        );
        p.no_ratelimit_headers |= self.no_ratelimit_headers;
        if let Some(t) = self.tokenizer {
            p.tokenizer = t;
        }
        if let Some(n) = self.reasoning_tokens {
            p.reasoning_tokens = n;
        }
        if let Some(n) = self.embedding_dimensions {
            p.embedding_dimensions = n;
        }
        if let Some(d) = self.embedding_token_time {
            p.embedding_token_time = d;
        }
        if let Some(t) = self.tokens {
            p.tokens = u32::try_from(t).map_err(|_| ProfileError::Range {
                name: "tokens",
                value: t.to_string(),
                range: "from 1 to 4294967295",
            })?;
        }
        if !self.schedule.is_empty() {
            p.schedule = self
                .schedule
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()?;
        }
        if self.capacity.is_some() {
            p.capacity = self.capacity;
        }
        if self.rpm.is_some() {
            p.rpm = self.rpm;
            p.rpm_schedule.clear();
        }
        if let Some(v) = &self.rpm_schedule {
            p.rpm_schedule = parse_rpm_schedule(v).map_err(|why| ProfileError::RpmSchedule {
                value: v.clone(),
                why,
            })?;
            if self.rpm.is_none() {
                p.rpm = None;
            }
        }
        if self.tpm.is_some() {
            p.tpm = self.tpm;
        }
        if self.seed.is_some() {
            p.seed = self.seed;
        }
        if let Some(b) = self.max_response_bytes {
            p.max_response_bytes = b;
        }
        p.validate()?;
        Ok(p)
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

    /// A value out of range says its range: a token count past 2³² − 1 and a limiter window
    /// past a minute were both called "not a whole number above zero".
    #[test]
    fn values_out_of_range_say_their_range() {
        let args = ProfileArgs {
            tokens: Some(99_999_999_999),
            ..ProfileArgs::default()
        };
        assert_eq!(
            args.to_profile().unwrap_err().to_string(),
            "invalid tokens '99999999999': must be from 1 to 4294967295"
        );
        let args = ProfileArgs {
            limit_window: Some(Duration::from_secs(120)),
            ..ProfileArgs::default()
        };
        assert_eq!(
            args.to_profile().unwrap_err().to_string(),
            "invalid limit-window '120s': must be above zero and at most 60s"
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
