//! The target a run talks to, and how each strategy gets it in a known state.
//!
//! With the embedded mock every strategy gets a fresh one (its fault draws, schedules, limiter
//! buckets and counters start from zero), so no strategy inherits what another left behind. An
//! external target that is our standalone mock is reset before each strategy
//! (`POST /admin/reset`, with the API key when the mock requires one); any other target cannot
//! be, and the report says its state was shared.

use crate::engine::stop::{Signal, StopToken};
use std::time::Duration;

use std::sync::Arc;

use mock_server::{MockServer, Profile, ServerOptions, StatsSnapshot, TlsSource};

use crate::model::error::{ConfigError, RunError};
use crate::plan::config::Plan;
use crate::plan::endpoint::{Endpoint, Target, TlsTrust};
use crate::plan::request::Numbering;

/// Where a run's requests go, opened once per command.
#[derive(Debug)]
pub struct Session {
    kind: Kind,
    /// Mean service delay when known (embedded mock), seconds.
    pub mean_delay_s: Option<f64>,
    /// The run's stop, handed to every lease.
    pub stop: StopToken,
}

#[derive(Debug)]
enum Kind {
    /// The harness starts a mock of this profile, served so, for each strategy.
    Embedded(Box<Profile>, ServerOptions),
    /// A URL; `mock` when it answered `GET /stats` as our mock does; `shared` when other
    /// processes (the other shards of a run) use it at the same time: then it is neither reset
    /// nor cross-checked from here.
    External {
        target: Target,
        mock: bool,
        shared: bool,
    },
}

/// One strategy's target: a fresh embedded mock (alive as long as the lease), or the external
/// target, reset or not.
#[derive(Debug)]
pub struct Lease {
    /// Where requests go.
    pub target: Target,
    mock: Option<MockServer>,
    /// An external mock's origin, for `GET /stats`.
    stats_origin: Option<String>,
    /// The target's state was fresh or reset for this strategy.
    pub fresh: bool,
    /// How the strategy's requests are numbered: in the query when the target is our mock.
    pub numbering: Numbering,
    /// The run's stop.
    pub stop: StopToken,
}

/// A short-lived agent for the mock's `/stats` and `/admin/reset`, reaching the target as the
/// run's clients do (its trust, its proxy).
fn agent(target: &Target) -> ureq::Agent {
    agent_with(target, Duration::from_secs(2))
}

/// [`agent`] with its own deadline.
fn agent_with(target: &Target, timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false);
    crate::engine::client::blocking::connecting(config, &target.trust, target.proxy.as_ref())
        .build()
        .into()
}

impl Lease {
    /// The mock's counters now: the embedded one's directly, an external mock's over HTTP;
    /// `None` for a target that is not our mock.
    pub fn stats(&self) -> Option<StatsSnapshot> {
        if let Some(m) = &self.mock {
            return Some(m.stats());
        }
        let origin = self.stats_origin.as_ref()?;
        let mut resp = agent(&self.target).get(format!("{origin}/stats")).call().ok()?;
        if resp.status() != 200 {
            return None;
        }
        let text = resp.body_mut().read_to_string().ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The embedded mock, when this lease runs one.
    pub fn mock(&self) -> Option<&MockServer> {
        self.mock.as_ref()
    }
}

impl Session {
    /// Checks that an external target answers (and whether it is our mock), or validates the
    /// embedded mock's profile. Nothing is started yet. `stop` stops the run's strategies (the
    /// binary's answers to signals; a caller's own may be asked for in-process).
    pub fn open(cfg: &Plan, stop: &StopToken) -> Result<Session, RunError> {
        // Fix the interval-log origin before any request ends.
        let _ = crate::stats::recorder::epoch();
        crate::engine::resources::ensure_open_files(cfg)?;
        let (profile, tls) = match &cfg.endpoint {
            Endpoint::Embedded { profile, tls } => ((**profile).clone(), *tls),
            Endpoint::External(target) => {
                check_reachable(target)?;
                let mock = is_our_mock(target);
                return Ok(Session {
                    kind: Kind::External {
                        target: target.clone(),
                        mock,
                        shared: cfg.sharded(),
                    },
                    mean_delay_s: None,
                    stop: stop.clone(),
                });
            }
        };
        profile.validate().map_err(ConfigError::from)?;
        let w = &cfg.workload;
        let mean = match w.delay_endpoint {
            Some(d) => d,
            None => {
                let tokens = w.max_tokens.saturating_sub(1);
                profile.latency.mean() + profile.ttft.mean() + profile.itl.mean() * tokens
            }
        };
        let options = ServerOptions {
            tls: tls.then_some(TlsSource::Generated),
            http2: cfg.http2,
            ..ServerOptions::default()
        };
        Ok(Session {
            kind: Kind::Embedded(Box::new(profile), options),
            mean_delay_s: Some(mean.as_secs_f64()),
            stop: stop.clone(),
        })
    }

    /// Whether requests go to the embedded mock.
    pub fn embedded(&self) -> bool {
        matches!(self.kind, Kind::Embedded(..))
    }

    /// How strategies will be kept apart on this target, as far as known before the run (a mock
    /// that then fails a reset is found out only by the run).
    pub fn planned_isolation(&self, cfg: &Plan) -> crate::model::report::Isolation {
        use crate::model::report::Isolation;
        match &self.kind {
            Kind::Embedded(..) => Isolation::FreshMock,
            _ if cfg.sharded() => Isolation::Shards,
            Kind::External { mock: true, .. } => Isolation::Reset,
            _ if cfg.strategies.len() > 1 => Isolation::Shared,
            _ => Isolation::Single,
        }
    }

    /// The target as printed: `embedded mock` or the URL with userinfo redacted.
    pub fn display(&self) -> String {
        match &self.kind {
            Kind::Embedded(_, o) if o.tls.is_some() => "embedded mock (https)".to_owned(),
            Kind::Embedded(..) => "embedded mock".to_owned(),
            Kind::External { target, .. } => target.display_url(),
        }
    }

    /// The embedded mock's profile.
    pub fn profile(&self) -> Option<&Profile> {
        match &self.kind {
            Kind::Embedded(p, _) => Some(p),
            Kind::External { .. } => None,
        }
    }

    /// The target in a known state for the next strategy: a fresh embedded mock, or the
    /// external mock reset (when it can be).
    pub fn lease(&self) -> Result<Lease, RunError> {
        match &self.kind {
            Kind::Embedded(profile, options) => {
                let mock = MockServer::start_with((**profile).clone(), options.clone())?;
                Ok(Lease {
                    target: Target {
                        base_url: format!("{}/v1", mock.uri()),
                        api_key: None,
                        embedded: true,
                        trust: TlsTrust {
                            ca_pem: mock.ca_pem().map(|p| Arc::new(p.as_bytes().to_vec())),
                            insecure: false,
                        },
                        proxy: None,
                    },
                    mock: Some(mock),
                    stats_origin: None,
                    fresh: true,
                    numbering: Numbering::Query,
                    stop: self.stop.clone(),
                })
            }
            Kind::External { target, mock, shared } => Ok(Lease {
                target: target.clone(),
                mock: None,
                // A mock other shards use at the same time counts their requests too: its
                // counters say nothing about this process alone, and a reset would disturb them.
                stats_origin: (*mock && !*shared).then(|| target.origin()),
                fresh: *mock && !*shared && reset(target),
                numbering: if *mock {
                    Numbering::Query
                } else {
                    Numbering::Headers
                },
                stop: self.stop.clone(),
            }),
        }
    }

    /// Whether an external target still accepts connections (the embedded mock always does).
    pub fn reachable(&self) -> bool {
        match &self.kind {
            Kind::Embedded(..) => true,
            Kind::External { target, .. } => check_reachable(target).is_ok(),
        }
    }
}

/// How often the watchdog probes an external target while a run is in progress (a probe is one
/// small GET on a kept-alive connection).
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long a probe waits for any HTTP answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(4);
/// Probes in a row that get no HTTP answer before the target is declared lost: within about
/// 0.35 s for a dead one (refused at once, the probes after a failure 50 ms apart), about
/// 3 × 4 s for a frozen one (connected, never answered).
const PROBES_UNANSWERED: u32 = 3;

/// Watches an external target while a run is in progress: four times a second, `GET /health` (any
/// HTTP answer, a 404 included, means it is alive; our mock does not count it as work). After
/// [`PROBES_UNANSWERED`] probes in a row without one (the target refuses connections, or
/// accepts them and answers nothing, as a stopped process does) it stops the run as a signal
/// would, so no more requests are issued and those in flight get the grace period; the run
/// then ends incomplete with exit code 4. Only in the binary, whose stop is its own to ask.
#[derive(Debug)]
pub(crate) struct Watchdog {
    done: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching, when the session's target is external and this process handles signals.
    pub(crate) fn start(session: &Session) -> Option<Watchdog> {
        let Kind::External { target, .. } = &session.kind else {
            return None;
        };
        if !session.stop.answers_signals() {
            return None;
        }
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (flag, target, stop) = (done.clone(), target.clone(), session.stop.clone());
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || watch(&target, &flag, &stop))
            .ok()?;
        Some(Watchdog {
            done,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The watchdog's loop (see [`Watchdog`]).
fn watch(target: &Target, done: &std::sync::atomic::AtomicBool, stop: &StopToken) {
    use std::sync::atomic::Ordering;
    let agent = agent_with(target, PROBE_TIMEOUT);
    let url = format!("{}/health", target.origin());
    let mut unanswered = 0;
    let mut last_why = String::new();
    while !done.load(Ordering::SeqCst) && stop.requested().is_none() {
        match agent.get(&url).call() {
            Err(e) if no_answer(&e) => {
                unanswered += 1;
                last_why = e.to_string();
            }
            // Any answer, a TLS refusal of our certificate check included, is a live target.
            _ => unanswered = 0,
        }
        if unanswered >= PROBES_UNANSWERED {
            stop.say(format!(
                "asyncbench: the target {} answered none of {PROBES_UNANSWERED} probes in a row ({last_why}): it is dead or frozen; no new requests, those in flight get up to {} s",
                target.display_url(),
                crate::engine::stop::GRACE.as_secs()
            ));
            stop.request(Signal::TargetLost);
            return;
        }
        // After a failed probe the next comes soon, so a dead target (refused at once) is
        // established in a fraction of a second, not after seconds of refused requests.
        // Sleep in short steps so the run's end is not held up.
        let pause = if unanswered > 0 {
            Duration::from_millis(50)
        } else {
            PROBE_EVERY
        };
        let until = std::time::Instant::now() + pause;
        while std::time::Instant::now() < until && !done.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether a probe's error means nothing answered: the connection refused, reset or cut before
/// any byte, or the deadline passed. Anything else (a TLS alert, a malformed answer) came from
/// a live server.
fn no_answer(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionRefused
                | K::ConnectionReset
                | K::ConnectionAborted
                | K::TimedOut
                | K::UnexpectedEof
                | K::BrokenPipe
                | K::NotConnected
                | K::WouldBlock
        ),
        _ => false,
    }
}

/// Whether the target's origin serves our mock's `GET /stats`.
fn is_our_mock(target: &Target) -> bool {
    let url = format!("{}/stats", target.origin());
    let Ok(mut resp) = agent(target).get(url).call() else {
        return false;
    };
    resp.status() == 200
        && resp
            .body_mut()
            .read_to_string()
            .ok()
            .and_then(|t| serde_json::from_str::<StatsSnapshot>(&t).ok())
            .is_some()
}

/// Asks a standalone mock to reset its limiter, schedules and fault counter.
fn reset(target: &Target) -> bool {
    let mut req = agent(target).post(format!("{}/admin/reset", target.origin()));
    if let Some(k) = &target.api_key {
        req = req.header("authorization", k.bearer());
    }
    req.send_empty().is_ok_and(|r| r.status() == 200)
}

/// Fails fast, before any run, when nothing listens at the target.
pub(crate) fn check_reachable(target: &Target) -> Result<(), ConfigError> {
    let unreachable = |why: String| ConfigError::Unreachable {
        url: target.display_url(),
        why,
    };
    let parsed =
        url::Url::parse(&target.base_url).map_err(|e| unreachable(format!("not an http(s) URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(unreachable(format!("unsupported scheme '{}'", parsed.scheme())));
    }
    // Through a proxy, the proxy is what the clients connect to (the target's name may not
    // even resolve here).
    let (parsed, via) = match &target.proxy {
        Some(p) => (
            url::Url::parse(&p.url).map_err(|e| unreachable(format!("the proxy's URL: {e}")))?,
            format!("the proxy {} (from ${}): ", p.display(), p.var),
        ),
        None => (parsed, String::new()),
    };
    // Host and port (the scheme's default when none is written), resolved.
    let addrs = parsed
        .socket_addrs(|| None)
        .map_err(|e| unreachable(format!("{via}{e}")))?;
    let mut last = String::from("no address");
    for a in addrs {
        match std::net::TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(format!("{via}{last}")))
}
