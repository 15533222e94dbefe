//! Where a run's requests go: the embedded mock or an external target, and what the clients
//! trust there.

use std::sync::Arc;

use mock_server::Profile;

use crate::model::plan::Api;
use crate::plan::config::RunConfig;
use crate::plan::inputs::build_bodies;
use crate::plan::request::{ApiKey, PreparedRequest, redact_url};

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL, e.g. `http://127.0.0.1:8080/v1` (the API's path follows it).
    pub base_url: String,
    /// The key, when the target needs one.
    pub api_key: Option<ApiKey>,
    /// True for the mock the harness started itself.
    pub embedded: bool,
    /// Which certificates to trust over HTTPS.
    pub trust: TlsTrust,
    /// The proxy every client goes through (from the environment), or none.
    pub proxy: Option<crate::plan::proxy::Proxy>,
}

/// What an HTTPS client trusts: the system's roots, plus a certificate of the user's (or of the
/// embedded mock), or, with `insecure`, anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsTrust {
    /// A PEM certificate (or chain) to trust, from `--ca-cert` or the embedded mock.
    pub ca_pem: Option<Arc<Vec<u8>>>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
}

impl Target {
    /// An external target at `base_url`, no key, the system's roots, no proxy.
    pub fn external(base_url: impl Into<String>) -> Target {
        Target {
            base_url: base_url.into(),
            api_key: None,
            embedded: false,
            trust: TlsTrust::default(),
            proxy: None,
        }
    }

    /// The base URL as printed and written: userinfo (`user:password@`) replaced by `***@`.
    pub(crate) fn display_url(&self) -> String {
        redact_url(&self.base_url)
    }

    /// `scheme://host:port`, where a mock serves `/stats` and `/delay`.
    pub fn origin(&self) -> String {
        match url::Url::parse(&self.base_url) {
            Ok(u) => u.origin().ascii_serialization(),
            // Not a URL (refused by the command line before it gets here): leave it as it is.
            Err(_) => self.base_url.clone(),
        }
    }

    /// What every attempt of a run sends: the bodies it cycles through, its headers, how to
    /// connect (the async client asks for HTTP/2 when the run does).
    pub fn prepare(&self, cfg: &RunConfig) -> PreparedRequest {
        let w = &cfg.workload;
        let mut req = match w.delay_endpoint {
            Some(d) => PreparedRequest::get(format!("{}/delay/{}", self.origin(), d.as_secs_f64())),
            None => {
                let (bodies, stream) = build_bodies(cfg.body_spec(), &cfg.inputs);
                let url = crate::plan::request::join_url(&self.base_url, w.api.path());
                let key = self.api_key.as_ref();
                match w.api {
                    Api::Openai => PreparedRequest::chat(url, bodies, key, stream),
                    Api::Anthropic => PreparedRequest::messages(url, bodies, key, stream),
                    Api::Embeddings => PreparedRequest::embeddings(url, bodies, key, w.inputs()),
                }
            }
        };
        req.trust = self.trust.clone();
        if let Some(p) = &self.proxy {
            // A proxy's credentials are never repeated in a sample either.
            req.secrets.extend(crate::plan::request::userinfo_secrets(&p.url));
            req.proxy = Some(p.clone());
        }
        req.http2 = cfg.http2;
        req.tokenizer = w.tokenizer;
        req.set_headers(&cfg.inputs.headers);
        req
    }
}

/// Where a run's requests go.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// The embedded mock, a fresh one per strategy, with this profile; `tls`: served over HTTPS
    /// with a certificate made for the run and trusted by the clients.
    Embedded {
        /// The mock's settings (boxed: a profile is large beside a target).
        profile: Box<Profile>,
        /// Serve it over HTTPS.
        tls: bool,
    },
    /// A URL of the user's (or a standalone mock).
    External(Target),
}

impl Endpoint {
    /// The embedded mock with this profile, over plain HTTP, stamping its writes.
    pub fn embedded(profile: Profile) -> Endpoint {
        Endpoint::Embedded {
            // Stamped, so the run's distortion report has the mock's side and the transit.
            profile: Box::new(Profile {
                stamps: true,
                ..profile
            }),
            tls: false,
        }
    }

    /// The external target, if requests go to one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Endpoint::External(t) => Some(t),
            Endpoint::Embedded { .. } => None,
        }
    }

    /// The external target, to change (tests set its trust).
    pub fn target_mut(&mut self) -> Option<&mut Target> {
        match self {
            Endpoint::External(t) => Some(t),
            Endpoint::Embedded { .. } => None,
        }
    }

    /// The embedded mock's profile, if requests go to it.
    pub fn mock(&self) -> Option<&Profile> {
        match self {
            Endpoint::Embedded { profile, .. } => Some(profile.as_ref()),
            Endpoint::External(_) => None,
        }
    }

    /// Whether the embedded mock is served over HTTPS.
    pub(crate) fn mock_tls(&self) -> bool {
        matches!(self, Endpoint::Embedded { tls: true, .. })
    }
}
