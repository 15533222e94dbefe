//! The one proxy every client of a run goes through, chosen once from the environment: reqwest,
//! ureq and the Python libraries each read `*_PROXY` by rules of their own (ureq took
//! `HTTPS_PROXY` for an `http://` target, aiohttp reads none), so the same run went through a
//! proxy for some strategies and straight to the target for others, and the check that the
//! target answers went straight to it and called a target behind a proxy unreachable.

use crate::model::error::ConfigError;

/// The variables that name a proxy, as curl, requests and httpx read them (lowercase first).
const HTTP_VARS: [&str; 4] = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"];
/// The same for an `https://` target.
const HTTPS_VARS: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];
/// The variables of hosts reached without a proxy.
const NO_PROXY_VARS: [&str; 2] = ["no_proxy", "NO_PROXY"];

/// Every variable of the environment a client may read a proxy from: an external client is
/// started without them, then given the run's proxy alone.
pub(crate) const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// An HTTP proxy and the variable that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `http://host:port` (or `https://`), userinfo included: what the clients are given.
    pub url: String,
    /// The environment variable it came from.
    pub var: &'static str,
}

impl Proxy {
    /// The proxy the environment gives for requests to `target` (a base URL), by curl's rules:
    /// none for a loopback host or one `NO_PROXY` names (a suffix of the host, or `*`); else
    /// `HTTPS_PROXY` for an `https://` target and `HTTP_PROXY` for an `http://` one, then
    /// `ALL_PROXY`. A value that is not an HTTP(S) proxy is refused, naming its variable.
    pub(crate) fn for_target(target: &str) -> Result<Option<Proxy>, ConfigError> {
        Proxy::from_vars(target, |k| std::env::var(k).ok())
    }

    /// [`Proxy::for_target`] over any source of variables.
    fn from_vars(target: &str, var: impl Fn(&str) -> Option<String>) -> Result<Option<Proxy>, ConfigError> {
        let Ok(url) = url::Url::parse(target) else {
            return Ok(None);
        };
        let Some(host) = url.host_str() else {
            return Ok(None);
        };
        if crate::plan::request::is_loopback(target) || bypassed(host, &var) {
            return Ok(None);
        }
        let vars = if url.scheme() == "https" {
            HTTPS_VARS
        } else {
            HTTP_VARS
        };
        let Some((name, value)) = vars
            .into_iter()
            .find_map(|k| var(k).filter(|v| !v.trim().is_empty()).map(|v| (k, v)))
        else {
            return Ok(None);
        };
        let value = value.trim();
        // A bare `host:port` is an HTTP proxy, as curl reads it.
        let full = if value.contains("://") {
            value.to_owned()
        } else {
            format!("http://{value}")
        };
        let refused = |why| ConfigError::Invalid {
            name: name_of(name),
            value: crate::plan::request::redact_url(value),
            why,
        };
        let parsed = url::Url::parse(&full).map_err(|_| refused("not a proxy URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(refused(
                "only an http:// or https:// proxy is supported: unset it, or name one in its place",
            ));
        }
        Ok(Some(Proxy { url: full, var: name }))
    }

    /// The proxy as printed and written: userinfo replaced by `***@`.
    pub fn display(&self) -> String {
        crate::plan::request::redact_url(&self.url)
    }
}

/// Whether `NO_PROXY` names `host`: `*`, the host itself, a domain it is in (`.example.com`
/// and `example.com` alike), or a network its address is in (`10.0.0.0/8`).
fn bypassed(host: &str, var: &impl Fn(&str) -> Option<String>) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let ip = host.parse::<std::net::IpAddr>().ok();
    NO_PROXY_VARS.into_iter().filter_map(var).any(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .any(|entry| {
                let entry = entry.trim_start_matches('.').to_ascii_lowercase();
                if let (Some(ip), Some((net, bits))) = (ip, entry.split_once('/')) {
                    return in_network(ip, net, bits);
                }
                // An entry may carry a port; the host alone is matched, as requests does.
                let entry = match entry.rsplit_once(':') {
                    Some((h, port)) if port.parse::<u16>().is_ok() && !h.contains(':') => h,
                    Some((h, port)) if port.parse::<u16>().is_ok() && h.ends_with(']') => h,
                    _ => entry.as_str(),
                };
                let entry = entry.trim_start_matches('[').trim_end_matches(']');
                entry == "*" || host == entry || host.ends_with(&format!(".{entry}"))
            })
    })
}

/// Whether `ip` is in the network `net`/`bits` (an entry of `NO_PROXY`; one that does not
/// parse names nothing).
fn in_network(ip: std::net::IpAddr, net: &str, bits: &str) -> bool {
    use std::net::IpAddr;
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(a.to_bits()), u128::from(b.to_bits()), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.to_bits(), b.to_bits(), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    // A prefix of 0 is every address (a shift by the whole width would overflow).
    let shift = width - bits;
    shift >= width || (a >> shift) == (b >> shift)
}

/// The variable's name as a flag-like `'static` name for the error line.
fn name_of(var: &'static str) -> &'static str {
    match var {
        "http_proxy" => "$http_proxy",
        "HTTP_PROXY" => "$HTTP_PROXY",
        "https_proxy" => "$https_proxy",
        "HTTPS_PROXY" => "$HTTPS_PROXY",
        "all_proxy" => "$all_proxy",
        _ => "$ALL_PROXY",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    }

    /// The scheme picks the variable, `ALL_PROXY` stands in for either, lowercase wins, loopback
    /// and `NO_PROXY` go straight, and what is not an HTTP(S) proxy is refused by name.
    #[test]
    fn the_proxy_is_chosen_by_curls_rules() {
        let vars = [
            ("HTTPS_PROXY", "http://secure:3128"),
            ("http_proxy", "plain:8080"),
            ("HTTP_PROXY", "http://shadowed:1"),
        ];
        let get = |t| Proxy::from_vars(t, env(&vars)).unwrap().map(|p| (p.url, p.var));
        assert_eq!(
            get("https://api.example.com/v1"),
            Some(("http://secure:3128".into(), "HTTPS_PROXY"))
        );
        // ureq took HTTPS_PROXY for this one.
        assert_eq!(
            get("http://api.example.com/v1"),
            Some(("http://plain:8080".into(), "http_proxy"))
        );
        assert_eq!(get("http://127.0.0.1:8080/v1"), None);
        assert_eq!(get("http://localhost/v1"), None);
        let all = [("ALL_PROXY", "http://every:1")];
        assert_eq!(
            Proxy::from_vars("https://x.example/v1", env(&all))
                .unwrap()
                .map(|p| p.var),
            Some("ALL_PROXY")
        );
        assert_eq!(Proxy::from_vars("https://x.example/v1", env(&[])).unwrap(), None);
        for no in [
            "example.com",
            ".example.com",
            "*",
            "other.org, api.example.com:443",
        ] {
            let vars = [("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)];
            assert_eq!(
                Proxy::from_vars("https://api.example.com/v1", env(&vars)).unwrap(),
                None,
                "{no}"
            );
        }
        for (host, no) in [
            ("10.1.2.3", "10.0.0.0/8"),
            ("192.168.7.9", "192.168.7.0/24, other"),
            ("[fd00::5]", "fd00::/8"),
            ("[fd00::5]", "[fd00::5]:443"),
        ] {
            let vars = [("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)];
            let target = format!("https://{host}/v1");
            assert_eq!(
                Proxy::from_vars(&target, env(&vars)).unwrap(),
                None,
                "{host} {no}"
            );
        }
        for (host, no) in [("11.1.2.3", "10.0.0.0/8"), ("10.1.2.3", "10.0.0.0/99")] {
            let vars = [("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", no)];
            let target = format!("https://{host}/v1");
            assert!(
                Proxy::from_vars(&target, env(&vars)).unwrap().is_some(),
                "{host} {no}"
            );
        }
        let vars = [("HTTPS_PROXY", "http://p:1"), ("no_proxy", "ample.com")];
        assert!(
            Proxy::from_vars("https://api.example.com/v1", env(&vars))
                .unwrap()
                .is_some()
        );
        let socks = [("ALL_PROXY", "socks5://user:secret@p:1080")];
        let e = Proxy::from_vars("https://api.example.com/v1", env(&socks))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("$ALL_PROXY") && e.contains("only an http:// or https:// proxy"),
            "{e}"
        );
        assert!(!e.contains("secret"), "{e}");
    }

    /// Every proxy taken is one both clients take (ureq's is set without a second check: one it
    /// refused would leave its strategies going straight to the target).
    #[test]
    fn every_proxy_taken_is_one_both_clients_take() {
        for value in [
            "proxy.example:3128",
            "http://proxy.example:3128",
            "http://user:pw@proxy.example:3128/",
            "https://proxy.example",
            "http://10.0.0.1:8080",
        ] {
            let vars = [("HTTPS_PROXY", value)];
            let p = Proxy::from_vars("https://api.example.com/v1", env(&vars))
                .unwrap()
                .unwrap();
            assert!(ureq::Proxy::new(&p.url).is_ok(), "ureq: {value}");
            assert!(reqwest::Proxy::all(&p.url).is_ok(), "reqwest: {value}");
        }
    }
}
