//! From flags to a plan: the one place that reads the environment (the API key) and the files
//! flags name (CA, dataset, body file), and validates the whole before anything runs.

use crate::cli::{CommonArgs, JitterKind, Level, SweepArgs};
use crate::model::adaptive::AdaptiveConfig;
use crate::model::error::ConfigError;
use crate::model::plan::Spread;
use crate::model::plan::{Api, Load, Stop, Workload};
use crate::model::retry::{Jitter, RetryPolicy};
use crate::model::strategy::Strategy;
use crate::plan::config::{Plan, RunConfig};
use crate::plan::endpoint::{Endpoint, Target, TlsTrust};
use crate::plan::inputs::{Inputs, read_body_file, read_dataset};
use crate::plan::request::ApiKey;
use crate::stats::intervals::SEALED_IN_MEMORY;
use mock_server::{LatencySpec, Profile};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The most `--retry-attempts` a request may make (openai-python's default is 3, aiohttp_retry's
/// 3): each attempt is kept with its request until it ends.
const MAX_RETRY_ATTEMPTS: u64 = 100;

/// The one value a flag of `compare` takes (`sweep` takes a list of the same flags).
fn one<T: Copy + std::fmt::Debug>(name: &'static str, v: &[T]) -> Result<Option<T>, ConfigError> {
    match v {
        [] => Ok(None),
        [x] => Ok(Some(*x)),
        _ => Err(ConfigError::Invalid {
            name,
            value: format!("{v:?}"),
            why: "takes one value here; use `asyncbench sweep` to vary it",
        }),
    }
}

/// A value out of its range, for the flag `name`.
fn invalid(name: &'static str, value: String, why: &'static str) -> ConfigError {
    ConfigError::Invalid { name, value, why }
}

impl SweepArgs {
    /// The strategies to run: those named, else `threadpool` and `async`, or `batched` for a
    /// sweep (or search) of the batch or its pause, the one strategy they change.
    pub(crate) fn chosen(&self, axis: Option<&crate::model::sweep::Axis>) -> Vec<Strategy> {
        use crate::model::sweep::Axis;
        if !self.strategies.is_empty() {
            return self.strategies.clone();
        }
        match axis {
            Some(Axis::BatchSize(_) | Axis::Pause(_)) if self.common.api != Api::Embeddings => {
                vec![Strategy::Batched]
            }
            _ => vec![Strategy::Threadpool, Strategy::Async],
        }
    }

    /// Refuses a strategy the swept setting does not change (a client given by --client-cmd
    /// included): `sweep --batch-size 2,4` ran threadpool and async, which take no batch, and
    /// recommended B=4 out of noise.
    pub(crate) fn all_changed_by(
        cfg: &RunConfig,
        axis: &crate::model::sweep::Axis,
    ) -> Result<(), ConfigError> {
        match cfg.strategies.iter().find(|s| !axis.changes(cfg, **s)) {
            Some(s) => Err(ConfigError::Invalid {
                name: "--strategies",
                value: s.to_string(),
                why: "is not changed by the setting swept: --batch-size and --pause change batched alone (with embeddings, every strategy's inputs a request), --concurrency neither sequential nor batched",
            }),
            None => Ok(()),
        }
    }

    /// Refuses two values that run as one: no point has more in flight (or in a batch) than the
    /// requests there are, so `sweep -c 1,32,64 -n 20` ran 32 and 64 both as 20, and
    /// recommended "C=32" for a run that never had more than 20 in flight. What each point runs
    /// is each strategy's effective concurrency there, the runners' own rule, for the whole run
    /// (a shard's part of two different settings may be one).
    fn distinct_in_effect(cfg: &RunConfig, axis: &crate::model::sweep::Axis) -> Result<(), ConfigError> {
        let values = axis.values();
        let ran: Option<Vec<Vec<Option<u64>>>> = (0..values.len()).map(|i| axis.runs_at(cfg, i)).collect();
        match ran.as_deref().and_then(crate::model::first_repeat) {
            Some(i) => Err(ConfigError::Invalid {
                name: axis.flag(),
                value: values[i].to_string(),
                why: "runs as an earlier value of the list does: no point has more in flight, or in a batch, than the -n requests there are",
            }),
            None => Ok(()),
        }
    }

    /// `--print-requests` is for `compare`: a sweep (or a search) writes each point's
    /// `requests.jsonl` with `--out`.
    pub(crate) fn no_print_requests(&self) -> Result<(), ConfigError> {
        if self.common.print_requests {
            return Err(invalid(
                "--print-requests",
                String::new(),
                "is for compare (a sweep writes each point's requests.jsonl with --out)",
            ));
        }
        Ok(())
    }

    /// The base config and what to sweep: exactly one list flag holds more than one value, or
    /// `--concurrency auto` / `--rate auto` asks the sweep to find its own points.
    pub(crate) fn to_sweep(&self) -> Result<(Plan, crate::model::sweep::SweepPlan), ConfigError> {
        use crate::model::sweep::{Axis, SweepPlan};
        let c = &self.common;
        let auto_c = c.concurrency.contains(&Level::Auto);
        let auto_r = c.rate.contains(&Level::Auto);
        if (auto_c && c.concurrency.len() > 1) || (auto_r && c.rate.len() > 1) {
            return Err(ConfigError::Invalid {
                name: "sweep",
                value: "auto".into(),
                why: "auto stands alone: --concurrency auto or --rate auto, not in a list",
            });
        }
        let values = |v: &[Level<u64>]| v.iter().filter_map(Level::value).collect::<Vec<_>>();
        let rates = |v: &[Level<f64>]| v.iter().filter_map(Level::value).collect::<Vec<_>>();
        let mut plans = Vec::new();
        if auto_c {
            plans.push(SweepPlan::AutoConcurrency);
        } else if c.concurrency.len() > 1 {
            plans.push(SweepPlan::Fixed(Axis::Concurrency(values(&c.concurrency))));
        }
        if c.batch_size.len() > 1 {
            plans.push(SweepPlan::Fixed(Axis::BatchSize(c.batch_size.clone())));
        }
        if c.pause.len() > 1 {
            plans.push(SweepPlan::Fixed(Axis::Pause(c.pause.clone())));
        }
        if c.cpu_work.len() > 1 {
            plans.push(SweepPlan::Fixed(Axis::CpuWork(c.cpu_work.clone())));
        }
        if auto_r {
            plans.push(SweepPlan::AutoRate);
        } else if c.rate.len() > 1 {
            plans.push(SweepPlan::Fixed(Axis::Rate(rates(&c.rate))));
        }
        let plan = match plans.len() {
            1 => plans.remove(0),
            0 => {
                return Err(ConfigError::Invalid {
                    name: "sweep",
                    value: String::new(),
                    why: "give one of --concurrency, --batch-size, --pause, --rate or --cpu-work a comma-separated list (or --concurrency auto, --rate auto)",
                });
            }
            _ => {
                return Err(ConfigError::Invalid {
                    name: "sweep",
                    value: plans.iter().map(SweepPlan::name).collect::<Vec<_>>().join(","),
                    why: "vary one setting at a time",
                });
            }
        };
        if let SweepPlan::Fixed(axis) = &plan
            && let Some(value) = axis.repeated()
        {
            return Err(ConfigError::Invalid {
                name: axis.flag(),
                value,
                why: "is listed twice: each value is one point of the sweep (--rounds repeats them)",
            });
        }
        let mut first = self.common.clone();
        match &plan {
            SweepPlan::Fixed(Axis::Concurrency(v)) => first.concurrency = vec![Level::Value(v[0])],
            SweepPlan::Fixed(Axis::BatchSize(v)) => first.batch_size = vec![v[0]],
            SweepPlan::Fixed(Axis::Pause(v)) => first.pause = vec![v[0]],
            SweepPlan::Fixed(Axis::CpuWork(v)) => first.cpu_work = vec![v[0]],
            SweepPlan::Fixed(Axis::Rate(v)) => first.rate = vec![Level::Value(v[0])],
            // The base of an automatic sweep: the concurrency given (or the default), and a
            // closed loop to find the saturation point in.
            SweepPlan::AutoConcurrency => first.concurrency = vec![Level::Value(1)],
            SweepPlan::AutoRate => first.rate = Vec::new(),
        }
        self.no_print_requests()?;
        let cfg = first.to_config(self.chosen(match &plan {
            SweepPlan::Fixed(axis) => Some(axis),
            _ => None,
        }))?;
        if let SweepPlan::Fixed(axis) = &plan {
            Self::all_changed_by(&cfg, axis)?;
            Self::distinct_in_effect(&cfg, axis)?;
            // Every point must be valid, not only the first.
            for i in 0..axis.values().len() {
                cfg.derived(axis.apply(&cfg, i))?;
            }
        }
        Ok((cfg, plan))
    }
}

impl CommonArgs {
    /// The retry policy: the preset with any overrides.
    pub(crate) fn retry_policy(&self) -> Result<RetryPolicy, ConfigError> {
        let mut p = RetryPolicy::preset(self.retry);
        let custom = self.retry_attempts.is_some()
            || self.retry_initial.is_some()
            || self.retry_factor.is_some()
            || self.retry_max.is_some()
            || self.retry_jitter.is_some()
            || self.retry_statuses.is_some()
            || self.retry_after_cap.is_some();
        if let Some(a) = self.retry_attempts {
            // Each attempt of a request is kept until it ends: a million of them (accepted
            // before) held tens of MB a request in flight, and days of backoff.
            if a > MAX_RETRY_ATTEMPTS {
                return Err(ConfigError::Invalid {
                    name: "--retry-attempts",
                    value: a.to_string(),
                    why: "must be at most 100 (every attempt of a request is kept)",
                });
            }
            p.attempts = a as u32;
        }
        if let Some(d) = self.retry_initial {
            p.initial = d;
        }
        if let Some(f) = self.retry_factor {
            if !(f.is_finite() && f >= 1.0) {
                return Err(ConfigError::Invalid {
                    name: "--retry-factor",
                    value: f.to_string(),
                    why: "must be at least 1",
                });
            }
            p.factor = f;
        }
        if let Some(d) = self.retry_max {
            p.max_delay = d;
        }
        if let Some(j) = self.retry_jitter {
            p.jitter = match j {
                JitterKind::None => Jitter::None,
                JitterKind::Openai => Jitter::Reduce(0.25),
                JitterKind::Full => Jitter::Full,
            };
        }
        if let Some(s) = &self.retry_statuses {
            if let Some(bad) = s.iter().find(|c| !(100..=599).contains(*c)) {
                return Err(ConfigError::Invalid {
                    name: "--retry-statuses",
                    value: bad.to_string(),
                    why: "not an HTTP status",
                });
            }
            if let Some(ok) = s.iter().find(|c| **c < 300) {
                return Err(ConfigError::Invalid {
                    name: "--retry-statuses",
                    value: ok.to_string(),
                    why: "is not a failure: a 1xx or 2xx answer is never retried",
                });
            }
            p.statuses = s.clone();
        }
        if let Some(c) = self.retry_after_cap {
            p.retry_after_cap = (!c.is_zero()).then_some(c);
        }
        if custom {
            p.name = format!("{}+custom", p.name);
        }
        Ok(p)
    }

    /// Whether any mock flag was given (they make no sense with --target).
    fn mock_flags_given(&self) -> bool {
        let m = &self.mock;
        m.profile.is_some()
            || m.latency.is_some()
            || m.ttft.is_some()
            || m.itl.is_some()
            || m.tokens.is_some()
            || [
                m.rate_429,
                m.rate_quota,
                m.rate_500,
                m.rate_502,
                m.rate_503,
                m.rate_504,
            ]
            .iter()
            .any(Option::is_some)
            || [m.rate_hang, m.rate_reset, m.rate_stream_error, m.rate_stream_cut]
                .iter()
                .any(Option::is_some)
            || m.retry_after.is_some()
            || !m.schedule.is_empty()
            || m.rpm.is_some()
            || m.rpm_schedule.is_some()
            || m.tpm.is_some()
            || m.limit_window.is_some()
            || m.max_response_bytes.is_some()
            || m.no_ratelimit_headers
            || self.no_stamps
    }

    /// The validated configuration for these strategies; every list flag must hold one value
    /// (lists are for `sweep`).
    pub fn to_config(&self, strategies: Vec<Strategy>) -> Result<Plan, ConfigError> {
        if self.print_requests && self.format() != crate::cli::Format::JsonLine {
            return Err(invalid(
                "--print-requests",
                String::new(),
                "puts the request lines on stdout beside the report: it needs --format json-line",
            ));
        }
        if self.no_request_log && (self.print_requests || self.export_chunks) {
            return Err(invalid(
                if self.print_requests {
                    "--print-requests"
                } else {
                    "--export-chunks"
                },
                String::new(),
                "writes request lines, which --no-request-log leaves out: give one or the other",
            ));
        }
        let (concurrency, adaptive) = self.concurrency_setting()?;
        let mut batch_size = one("--batch-size", &self.batch_size)?;
        // With embeddings, --batch-size is the API's: inputs in each request (`batched` then
        // groups requests by the concurrency, its default).
        let inputs = match self.api {
            Api::Embeddings => Some(batch_size.take().unwrap_or(1)),
            _ => None,
        };
        let endpoint = match &self.target {
            Some(url) => Endpoint::External(self.external_target(url)?),
            None => Endpoint::Embedded {
                profile: Box::new(self.embedded_profile()?),
                tls: self.tls,
            },
        };
        // One seed for the run: the mock's draws, the open-loop schedule, retry jitter.
        let seed = endpoint
            .mock()
            .and_then(|p| p.seed)
            .or(self.mock.seed)
            .unwrap_or(1);
        let (mut workload, inputs_read) = self.workload(&endpoint)?;
        workload.inputs_per_request = inputs;
        let (strategies, external) = self.external_clients(strategies)?;
        let cfg = RunConfig {
            workload,
            inputs: Arc::new(inputs_read),
            stop: Stop::of(self.requests, self.duration),
            warmup: self.warmup,
            ramp: self.ramp()?,
            slo: self.slo.unwrap_or_default(),
            export_chunks: self.export_chunks,
            request_log: !self.no_request_log,
            print_requests: self.print_requests,
            shard: self.shard,
            start_at: self.start_at,
            rounds: self.rounds.unwrap_or(1),
            external,
            strategies,
            concurrency,
            cpu_work: one("--cpu-work", &self.cpu_work)?.filter(|d| !d.is_zero()),
            batch_size: batch_size.unwrap_or(concurrency.max(1)),
            pause: one("--pause", &self.pause)?.unwrap_or(Duration::from_secs(1)),
            retry: self.retry_policy()?,
            timeout: self.timeout,
            load: self.load(seed, adaptive)?,
            seed,
            api_key_env: endpoint.target().map(|_| self.key_env().to_owned()),
            endpoint,
            out: self.out.clone(),
            force: self.force,
            quiet: self.quiet,
            no_tui: self.no_tui,
            progress_every: self.progress_every,
            max_body: self.max_body,
            intervals_in_memory: SEALED_IN_MEMORY,
            http2: self.http2,
        };
        if batch_size.is_none() && concurrency == 0 && cfg.strategies.contains(&Strategy::Batched) {
            return Err(invalid(
                "--concurrency",
                "0".into(),
                "batched needs a batch size (it defaults to the concurrency); 0 (unbounded) is for async",
            ));
        }
        let plan = Plan::new(cfg)?;
        // The settings first, then what they need of this machine: a client that cannot run
        // this workload is refused as such, not sent to install packages.
        self.check_python(&plan.strategies)?;
        Ok(plan)
    }

    /// The shipped Python clients' interpreter has every package they import.
    fn check_python(&self, strategies: &[Strategy]) -> Result<(), ConfigError> {
        let python: Vec<crate::model::strategy::PyClient> = strategies
            .iter()
            .filter_map(|s| match s {
                Strategy::Python(p) => Some(*p),
                _ => None,
            })
            .collect();
        if !python.is_empty() {
            let interpreter = crate::plan::python::interpreter(self.python.as_deref());
            crate::plan::python::check(&interpreter, &python)?;
        }
        Ok(())
    }

    /// `--concurrency` (50 when not given) and, for `auto`, the controller's settings with
    /// `--max-concurrency` as its ceiling (which nothing else takes).
    fn concurrency_setting(&self) -> Result<(u64, Option<AdaptiveConfig>), ConfigError> {
        let (concurrency, adaptive) = match one("--concurrency", &self.concurrency)? {
            None => (50, None),
            Some(Level::Value(c)) => (c, None),
            Some(Level::Auto) => {
                let a = AdaptiveConfig {
                    max: self.max_concurrency.unwrap_or(AdaptiveConfig::default().max),
                    ..AdaptiveConfig::default()
                };
                (a.max, Some(a))
            }
        };
        if adaptive.is_none()
            && let Some(m) = self.max_concurrency
        {
            return Err(invalid(
                "--max-concurrency",
                m.to_string(),
                "applies to --concurrency auto",
            ));
        }
        Ok((concurrency, adaptive))
    }

    /// `--ramp`: a closed loop's slots opened over a time; refused with an open loop (its
    /// schedule is the ramp) and with `--concurrency auto` (its controller opens them).
    fn ramp(&self) -> Result<Option<Duration>, ConfigError> {
        let Some(ramp) = self.ramp.filter(|r| !r.is_zero()) else {
            return Ok(None);
        };
        let shown = || format!("{ramp:?}");
        if !self.rate.is_empty() {
            return Err(invalid(
                "--ramp",
                shown(),
                "opens a closed loop's slots; an open loop (--rate) starts requests on its schedule",
            ));
        }
        if self.concurrency.contains(&Level::Auto) {
            return Err(invalid(
                "--ramp",
                shown(),
                "opens a closed loop's slots; with --concurrency auto the controller opens them",
            ));
        }
        if self.concurrency.contains(&Level::Value(0)) {
            return Err(invalid(
                "--ramp",
                shown(),
                "opens a closed loop's C slots; -c 0 has none (--rate spreads the starts instead)",
            ));
        }
        Ok(Some(ramp))
    }

    /// Closed loop, closed under `--concurrency auto`'s controller, or `--rate` with its arrival
    /// process (`auto` belongs to `sweep`).
    fn load(&self, seed: u64, adaptive: Option<AdaptiveConfig>) -> Result<Load, ConfigError> {
        Ok(match (one("--rate", &self.rate)?, adaptive) {
            (None, None) => Load::Closed,
            (None, Some(a)) => Load::Adaptive(a),
            (Some(Level::Value(_)), Some(_)) => {
                return Err(invalid(
                    "--concurrency",
                    "auto".into(),
                    "is for a closed loop; an open loop (--rate) sets the pace itself",
                ));
            }
            (Some(Level::Value(rate)), None) => Load::Open {
                rate,
                arrival: self.arrival,
                seed,
            },
            (Some(Level::Auto), _) => {
                return Err(invalid(
                    "--rate",
                    "auto".into(),
                    "auto is for `asyncbench sweep`, which then finds the points to try",
                ));
            }
        })
    }

    /// What each request sends: the dataset and body file read (each under its cap), what the
    /// body file sets winning over the flags (it is what is sent, so what the report shows), and
    /// the extra headers (the Authorization one is the target's key, sent once, not an extra).
    fn workload(&self, endpoint: &Endpoint) -> Result<(Workload, Inputs), ConfigError> {
        let dataset = self.dataset.as_deref().map(read_dataset).transpose()?;
        let body_template = self.body_file.as_deref().map(read_body_file).transpose()?;
        let template_streams = body_template
            .as_ref()
            .and_then(|t| t.get("stream"))
            .and_then(serde_json::Value::as_bool)
            == Some(true);
        if self.export_chunks && (self.out.is_none() || !(self.stream || template_streams)) {
            return Err(invalid(
                "--export-chunks",
                String::new(),
                "writes each streamed chunk's time into requests.jsonl: it needs --out and --stream",
            ));
        }
        let from_template = |key: &str| body_template.as_ref().and_then(|t| t.get(key));
        let max_tokens = match from_template("max_tokens").and_then(serde_json::Value::as_u64) {
            Some(n) => Spread::fixed(u32::try_from(n).unwrap_or(u32::MAX)),
            None => self.max_tokens,
        };
        let model = from_template("model")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| self.model.clone(), str::to_owned);
        let workload = Workload {
            model,
            prompt: self.prompt.clone(),
            max_tokens: max_tokens.mean,
            max_tokens_spread: max_tokens.spread,
            prompt_tokens: self.prompt_tokens,
            dataset: self.dataset.as_ref().map(|p| p.display().to_string()),
            dataset_rows: dataset.as_ref().map_or(0, |d| d.len() as u64),
            body_file: self.body_file.as_ref().map(|p| p.display().to_string()),
            headers: self.headers.iter().map(|h| h.name.to_string()).collect(),
            stream: self.stream || template_streams,
            delay_endpoint: None,
            // The flag, else the embedded mock's (a --profile file may name one): one count.
            tokenizer: self
                .mock
                .tokenizer
                .or(endpoint.mock().map(|p| p.tokenizer))
                .unwrap_or_default(),
            api: self.api,
            inputs_per_request: None,
        };
        let inputs = Inputs {
            dataset: dataset.unwrap_or_default(),
            body_template,
            headers: self
                .headers
                .iter()
                .filter(|h| endpoint.target().is_none() || !self.is_key_header(&h.name))
                .cloned()
                .collect(),
        };
        Ok((workload, inputs))
    }
}

impl CommonArgs {
    /// Whether a `-H` header carries the key: `Authorization`, and with `--api anthropic`
    /// `x-api-key` too (sent as the key, once).
    fn is_key_header(&self, name: &http::HeaderName) -> bool {
        name == http::header::AUTHORIZATION || (self.api == Api::Anthropic && name == "x-api-key")
    }

    /// The variable the key is read from: `--api-key-env`, else the API's own.
    fn key_env(&self) -> &str {
        self.api_key_env.as_deref().unwrap_or(self.api.key_env())
    }

    /// `--target`: the URL checked (http or https, no credentials in it), the key (from `-H
    /// 'Authorization: …'` or the key variable) and what the clients trust. Mock flags and
    /// `--tls` are refused: they have no effect on an external target.
    fn external_target(&self, url: &str) -> Result<Target, ConfigError> {
        if self.mock_flags_given() {
            return Err(invalid(
                "--target",
                crate::plan::request::redact_url(url),
                "mock flags (--latency, --rate-429, …) have no effect on an external target; drop them",
            ));
        }
        let shown = crate::plan::request::redact_url(url);
        let parsed = url::Url::parse(url).ok();
        let is_http = parsed
            .as_ref()
            .is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if !is_http {
            return Err(invalid("--target", shown, "must be an http:// or https:// URL"));
        }
        // One rule for every client: ureq ignores a URL's user:password while reqwest
        // sends it as Basic auth beside the key, so neither gets to.
        if parsed.is_some_and(|u| !u.username().is_empty() || u.password().is_some()) {
            return Err(invalid(
                "--target",
                shown,
                "carries a user name or password (user:password@), which is not sent; put the key in the key variable, or send -H 'Authorization: …'",
            ));
        }
        // An Authorization header given with -H is the key: sent once, used for the
        // mock's admin calls, and the key variable is then not read.
        let api_key = match self.headers.iter().find(|h| self.is_key_header(&h.name)) {
            // `parse_header` let only visible ASCII through: nothing is lost here.
            Some(h) if h.name == http::header::AUTHORIZATION => {
                Some(ApiKey::from_header(&String::from_utf8_lossy(h.value.as_bytes())))
            }
            Some(h) => Some(ApiKey::new(
                String::from_utf8_lossy(h.value.as_bytes()).trim().to_owned(),
            )),
            None => read_key(self.key_env())?,
        };
        if self.tls {
            return Err(invalid(
                "--tls",
                crate::plan::request::redact_url(url),
                "serves the embedded mock over HTTPS; with --target, use an https:// URL",
            ));
        }
        Ok(Target {
            base_url: url.trim_end_matches('/').to_owned(),
            api_key,
            embedded: false,
            trust: TlsTrust {
                ca_pem: self.ca_cert.as_deref().map(read_ca).transpose()?.map(Arc::new),
                insecure: self.insecure,
            },
            proxy: crate::plan::proxy::Proxy::for_target(url)?,
        })
    }

    /// The embedded mock's profile: the mock flags (or profile file), 100 ms of latency unless
    /// the answer is described as token timing, and one seed for the whole run.
    fn embedded_profile(&self) -> Result<Profile, ConfigError> {
        let mut p = self.mock.to_profile()?;
        // 100 ms stands in for a model's answer time, unless the user described the
        // answer as token timing: then --ttft and --itl alone set it.
        let timed = self.mock.ttft.is_some() || self.mock.itl.is_some();
        if self.mock.latency.is_none() && self.mock.profile.is_none() && !timed {
            p.latency = LatencySpec::Fixed(Duration::from_millis(100));
        }
        // One seed for the whole run, so every strategy's fresh mock draws the same
        // faults and delays for the same request.
        p.seed = Some(p.seed.unwrap_or(1));
        // Stamped, for the distortion report, unless asked not to.
        p.stamps = !self.no_stamps;
        Ok(p)
    }
}

impl CommonArgs {
    /// The external clients of the run: `--client-cmd` joins the strategies (once, at the end
    /// unless `--strategies` placed its name), and the settings external clients cannot take are
    /// refused (their interpreter is checked once the plan is: [`Self::check_python`]).
    fn external_clients(
        &self,
        mut strategies: Vec<Strategy>,
    ) -> Result<(Vec<Strategy>, crate::plan::config::ExternalConfig), ConfigError> {
        let client_cmd = match &self.client_cmd {
            Some(cmd) if cmd.trim().is_empty() => {
                return Err(invalid(
                    "--client-cmd",
                    cmd.clone(),
                    "is empty; give the command that starts your client",
                ));
            }
            Some(cmd) => {
                let name = self.client_name.clone().unwrap_or_else(|| "custom".into());
                let id = crate::model::strategy::ClientName::new(&name)
                    .map_err(|why| invalid("--client-name", name.clone(), why))?;
                if !strategies.contains(&Strategy::Custom(id)) {
                    strategies.push(Strategy::Custom(id));
                }
                Some(crate::model::strategy::ClientCmd {
                    name,
                    command: cmd.clone(),
                })
            }
            None => None,
        };
        let external = strategies.iter().any(|s| s.is_external());
        if external && self.requests.is_none() && self.duration.is_some() {
            return Err(invalid(
                "--duration",
                "without -n".into(),
                "external clients are handed their requests up front: give -n as well (the duration still ends the run first)",
            ));
        }
        if external
            && let Some(n) = self.requests
            && n > crate::model::plan::MAX_PHASE_REQUESTS
        {
            return Err(invalid(
                "--requests",
                n.to_string(),
                "is more than an external client's run holds (268435456)",
            ));
        }
        if external && matches!(self.warmup, Some(crate::model::plan::Warmup::Time(_))) {
            return Err(invalid(
                "--warmup",
                "a duration".into(),
                "external clients are handed their requests up front: give the warm-up as a count (e.g. --warmup 50)",
            ));
        }
        if external && self.concurrency.contains(&Level::Auto) {
            return Err(invalid(
                "--concurrency",
                "auto".into(),
                "external clients keep the concurrency they are given; auto is for the async strategies",
            ));
        }
        Ok((
            strategies,
            crate::plan::config::ExternalConfig {
                python: self.python.clone(),
                client_cmd,
            },
        ))
    }
}

/// The API key in `var`, if it is set and not empty. A key that an HTTP header cannot carry as it
/// is (surrounding whitespace, non-ASCII or control characters) is refused, naming the variable,
/// never the value: sending it trimmed or mangled would fail in a way that looks like a bad key.
fn read_key(var: &str) -> Result<Option<ApiKey>, ConfigError> {
    let bad = |why| ConfigError::BadKey {
        var: var.to_owned(),
        why,
    };
    let k = match std::env::var(var) {
        Ok(k) => k,
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => return Err(bad("is not valid UTF-8")),
    };
    if k.is_empty() {
        return Ok(None);
    }
    if k.trim() != k {
        return Err(bad("has whitespace around it; remove it"));
    }
    if !k.is_ascii() {
        return Err(bad("has non-ASCII characters, which an HTTP header cannot carry"));
    }
    if k.chars().any(|c| c.is_ascii_control()) {
        return Err(bad("has control characters"));
    }
    Ok(Some(ApiKey::new(k)))
}

/// The PEM certificates of `--ca-cert`, checked to hold at least one.
fn read_ca(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let bad = |why: String| ConfigError::File {
        name: "--ca-cert",
        path: path.display().to_string(),
        why,
    };
    let pem = mock_server::files::read_capped(path, mock_server::files::MAX_SMALL_FILE)
        .map_err(|e| bad(e.to_string()))?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(pem)
}
