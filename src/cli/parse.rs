//! The parsers of flag values shared by the commands: warm-ups, start times, shards, SLOs.

use crate::model::plan::{Header, MAX_PROMPT_TOKENS};
use crate::model::plan::{Shard, Slo, Spread, Warmup};

/// Parses `--warmup`: a count (`20`) or a duration (`5s`).
pub(crate) fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if let Ok(n) = s.trim().parse::<u64>() {
        return if n > 0 {
            Ok(Warmup::Requests(n))
        } else {
            Err(format!("'{s}' is not a positive count or a duration such as 5s"))
        };
    }
    mock_server::args::parse_duration_arg(s).and_then(|d| {
        if d.is_zero() {
            Err(format!("'{s}' must be above zero"))
        } else {
            Ok(Warmup::Time(d))
        }
    })
}

/// Parses `--start-at UNIX_SECONDS` (what `date +%s` prints; fractions allowed), at most a day
/// from now either way: further is a typo, not a plan.
pub(crate) fn parse_start_at(s: &str) -> Result<f64, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a Unix time in seconds (e.g. $(( $(date +%s) + 120 )))"))?;
    let now = crate::model::plan::unix_now_s();
    if !t.is_finite() {
        return Err(format!("'{s}' is not a Unix time in seconds"));
    }
    if t < now - 86_400.0 {
        return Err(format!(
            "'{s}' is {:.0} days in the past (now is {now:.0}); give a time within a day, e.g. $(( $(date +%s) + 120 ))",
            (now - t) / 86_400.0
        ));
    }
    if t > now + 86_400.0 {
        return Err(format!("'{s}' is more than a day from now ({now:.0})"));
    }
    Ok(t)
}

/// Parses `--shard K/N` (0 ≤ K < N).
pub(crate) fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("'{s}' is not K/N with 0 ≤ K < N (e.g. 0/4)");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n) = (
        k.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok(Shard { k, n })
}

/// Parses `--slo ttft=500ms,ttfo=2s,tpot=50ms,e2e=2s` (any subset, each at most once).
pub(crate) fn parse_slo(s: &str) -> Result<Slo, String> {
    let mut slo = Slo::default();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' is not NAME=DURATION (ttft, ttfo, tpot or e2e)"))?;
        let d = mock_server::args::parse_duration_arg(v)?;
        let slot = match k.trim() {
            "ttft" => &mut slo.ttft,
            "ttfo" => &mut slo.ttfo,
            "tpot" => &mut slo.tpot,
            "e2e" => &mut slo.e2e,
            other => return Err(format!("'{other}' is not an SLO: use ttft, ttfo, tpot or e2e")),
        };
        if slot.replace(d).is_some() {
            return Err(format!("'{k}' is given twice"));
        }
    }
    if !slo.is_set() {
        return Err(format!("'{s}' sets no limit"));
    }
    Ok(slo)
}

/// Parses `N` or `N,SPREAD` for clap (N ≥ 1, SPREAD < N).
pub(crate) fn parse_spread(s: &str) -> Result<Spread, String> {
    let bad = || format!("'{s}' is not N or N,SPREAD (whole numbers, N ≥ 1, SPREAD < N)");
    let (mean, spread) = match s.split_once(',') {
        Some((a, b)) => (a.trim().parse::<u32>(), b.trim().parse::<u32>()),
        None => (s.trim().parse::<u32>(), Ok(0)),
    };
    match (mean, spread) {
        (Ok(m), Ok(sp)) if m >= 1 && sp < m => Ok(Spread { mean: m, spread: sp }),
        _ => Err(bad()),
    }
}

/// Parses `-H 'Name: value'` for clap.
pub fn parse_header(s: &str) -> Result<Header, String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not 'Name: value'"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("'{}' is not a header name", name.trim()))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of header '{name}' is not usable in HTTP"))?;
    // The framing is the client's, from the body it sends (`-H 'content-length: 3'` failed
    // every request); the numbers are the harness's, per attempt.
    if name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING {
        return Err(format!("'{name}' is set by the client from the body, not given"));
    }
    if name.as_str().starts_with("x-asyncbench-") {
        return Err(format!(
            "'{name}' is the harness's own header (it numbers each attempt)"
        ));
    }
    Ok(Header { name, value })
}

/// Parses `--prompt-tokens N[,SPREAD]`: a [`Spread`] whose largest draw is at most
/// [`MAX_PROMPT_TOKENS`].
pub(crate) fn parse_prompt_tokens(s: &str) -> Result<Spread, String> {
    let p = parse_spread(s)?;
    if u64::from(p.mean) + u64::from(p.spread) > u64::from(MAX_PROMPT_TOKENS) {
        return Err(format!(
            "'{s}' asks for prompts of more than {MAX_PROMPT_TOKENS} tokens, past any model's context"
        ));
    }
    Ok(p)
}

/// `--find SETTING[=LO..HI]`: concurrency, rate or batch-size, with a range (1..1024 when none).
pub(crate) fn parse_find(s: &str) -> Result<crate::model::search::Find, String> {
    use crate::model::search::{Find, FindSetting};
    let (name, range) = s.split_once('=').map_or((s, None), |(a, b)| (a, Some(b)));
    let setting = match name {
        "concurrency" => FindSetting::Concurrency,
        "rate" => FindSetting::Rate,
        "batch-size" => FindSetting::BatchSize,
        _ => {
            return Err(format!(
                "'{name}' is not a setting to find: concurrency, rate or batch-size"
            ));
        }
    };
    let (from, to) = match range {
        None => (1.0, 1024.0),
        Some(r) => {
            let (a, b) = r
                .split_once("..")
                .ok_or_else(|| format!("'{r}' is not a range LO..HI"))?;
            let num = |x: &str| {
                x.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| format!("'{x}' is not a positive number"))
            };
            (num(a)?, num(b)?)
        }
    };
    if from > to {
        return Err(format!("the range {from}..{to} runs backwards"));
    }
    if setting != FindSetting::Rate && (from.fract() != 0.0 || to.fract() != 0.0) {
        return Err(format!("{name} takes whole numbers, not {from}..{to}"));
    }
    Ok(Find { setting, from, to })
}

/// A duration above zero (a budget of no time would measure nothing and say so as an answer).
pub(crate) fn parse_positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match mock_server::args::parse_duration_arg(s)? {
        d if d.is_zero() => Err(format!("'{s}' is not a duration above zero")),
        d => Ok(d),
    }
}

/// A share as `5%` or `0.05`, above 0 and at most 1.
pub(crate) fn parse_share(s: &str) -> Result<f64, String> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => s.trim().parse::<f64>(),
    }
    .map_err(|_| format!("'{s}' is not a share (5% or 0.05)"))?;
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("'{s}' is not above 0 % and at most 100 %"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn spreads_parse_and_stay_in_range() {
        assert_eq!(parse_spread("64"), Ok(Spread::fixed(64)));
        assert_eq!(parse_spread("64,16"), Ok(Spread { mean: 64, spread: 16 }));
        assert!(parse_spread("0").is_err() && parse_spread("8,8").is_err() && parse_spread("x").is_err());
        let mut rng = SmallRng::seed_from_u64(3);
        let s = Spread { mean: 64, spread: 16 };
        let draws: Vec<u32> = (0..2000).map(|_| s.sample(&mut rng)).collect();
        assert!(draws.iter().all(|d| (48..=80).contains(d)));
        assert!(draws.contains(&48) && draws.contains(&80));
    }

    #[test]
    fn headers_parse_and_credentials_are_known() {
        let h = parse_header("X-Team: search").unwrap();
        assert_eq!((h.name.as_str(), h.value.to_str().unwrap()), ("x-team", "search"));
        assert!(parse_header("Authorization: Bearer x").unwrap().is_secret());
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: v").is_err());
        // The client's framing and the harness's numbers are not the user's to give.
        for (h, why) in [
            ("Content-Length: 3", "is set by the client"),
            ("transfer-encoding: chunked", "is set by the client"),
            ("x-asyncbench-request: 5", "the harness's own header"),
            ("X-Asyncbench-Attempt: 1", "the harness's own header"),
        ] {
            let e = parse_header(h).unwrap_err();
            assert!(e.contains(why), "{h}: {e}");
        }
        assert!(parse_header("connection: close").is_ok() && parse_header("host: a.example").is_ok());
    }

    /// `--find` takes a known setting and a forward range (whole for concurrency and batch
    /// size); `--resolution` a share in (0, 1], as a percentage or a fraction.
    #[test]
    fn find_and_resolution_parse_and_refuse() {
        use crate::model::search::FindSetting;
        let f = parse_find("concurrency").unwrap();
        assert_eq!((f.setting, f.from, f.to), (FindSetting::Concurrency, 1.0, 1024.0));
        let f = parse_find("rate=0.5..40").unwrap();
        assert_eq!((f.setting, f.from, f.to), (FindSetting::Rate, 0.5, 40.0));
        assert_eq!(
            parse_find("batch-size=2..64").unwrap().setting,
            FindSetting::BatchSize
        );
        for bad in [
            "pause",
            "concurrency=8..4",
            "concurrency=1.5..8",
            "rate=0..5",
            "rate=1-5",
        ] {
            assert!(parse_find(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_share("5%").unwrap(), 0.05);
        assert!(parse_positive_duration("0s").is_err() && parse_positive_duration("0ms").is_err());
        assert_eq!(
            parse_positive_duration("2s"),
            Ok(std::time::Duration::from_secs(2))
        );
        assert_eq!(parse_share("0.1").unwrap(), 0.1);
        for bad in ["0%", "150%", "x", "-1"] {
            assert!(parse_share(bad).is_err(), "{bad}");
        }
    }
}
