//! The floors under the `async` strategy, for `scripts/bench-client.sh`: what a request costs
//! through bare hyper-util (reqwest's own core) and through bare reqwest configured as asyncbench
//! configures it, each doing the per-request work that matters and nothing of the harness's.
//!
//! `floor_client hyper|reqwest URL BODY_FILE CONCURRENCY SECONDSs|REQUESTS` runs CONCURRENCY tasks
//! that POST the body in a loop, for SECONDS (`8s`) or until REQUESTS answers in all (`20000`),
//! check the status, parse the completion as asyncbench does (choices there, usage's counts read) and
//! record each success's latency in one shared HdrHistogram. It prints one line:
//! `requests N ok M rps R p99_ms P`. Each task holds only its future and two counters, so at
//! 10 000 tasks its peak RSS is the transport's memory per request in flight.
//!
//! `hyper+spawn` and `reqwest+spawn` send each request from a task of its own instead, spawned
//! by one driver when one of CONCURRENCY permits frees, as asyncbench's `async` does: the cost of
//! that pattern apart from the rest of the harness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use asyncbench::internals::base_builder;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// What asyncbench's `parse_body` reads of a completion: the choices walked, not built; the
/// usage's two counts.
#[derive(serde::Deserialize)]
struct CompletionView {
    choices: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<UsageView>,
}

#[derive(serde::Deserialize)]
struct UsageView {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// The transport under test, built once and shared by every task.
#[allow(clippy::large_enum_variant)] // one value for the whole run: no box between it and a request
enum Transport {
    Hyper(Client<HttpConnector, Full<Bytes>>, hyper::Uri),
    /// Built as `AsyncClient::new` builds it for a plain-HTTP loopback target, at the default
    /// `--timeout`.
    Reqwest(reqwest::Client, reqwest::Url),
}

impl Transport {
    fn new(kind: &str, url: &str) -> anyhow::Result<Transport> {
        Ok(match kind {
            "hyper" => {
                let mut connector = HttpConnector::new();
                connector.set_nodelay(true);
                let client = Client::builder(TokioExecutor::new()).build(connector);
                Transport::Hyper(client, url.parse().context("URL")?)
            }
            "reqwest" => {
                let timeout = asyncbench::RunConfig::default().timeout;
                let client = base_builder(timeout).no_proxy().http1_only().build()?;
                Transport::Reqwest(client, reqwest::Url::parse(url).context("URL")?)
            }
            other => bail!("transport {other:?}: expected hyper or reqwest"),
        })
    }

    /// One POST: the status and the whole body, or `None` on a transport error.
    async fn post(&self, body: &Bytes) -> Option<(StatusCode, Bytes)> {
        match self {
            Transport::Hyper(client, uri) => {
                let req = hyper::Request::post(uri.clone())
                    .header(CONTENT_TYPE, JSON.clone())
                    .body(Full::new(body.clone()))
                    .ok()?;
                let resp = client.request(req).await.ok()?;
                let status = resp.status();
                Some((status, resp.into_body().collect().await.ok()?.to_bytes()))
            }
            Transport::Reqwest(client, url) => {
                let resp = client
                    .post(url.clone())
                    .header(CONTENT_TYPE, JSON.clone())
                    .body(body.clone())
                    .send()
                    .await
                    .ok()?;
                let status = resp.status();
                Some((status, resp.bytes().await.ok()?))
            }
        }
    }
}

/// When the tasks stop: at a deadline, or when a shared count of requests is used up.
enum Stop {
    At(Instant),
    After { tickets: AtomicU64, n: u64 },
}

impl Stop {
    fn another(&self) -> bool {
        match self {
            Stop::At(end) => Instant::now() < *end,
            Stop::After { tickets, n } => tickets.fetch_add(1, Ordering::Relaxed) < *n,
        }
    }
}

/// What every task shares: built once, leaked for the run.
struct Run {
    transport: Transport,
    body: Bytes,
    concurrency: usize,
    stop: Stop,
    latency: Mutex<Histogram<u64>>,
}

impl Run {
    /// One request: sent, its completion checked, its latency recorded if it succeeded;
    /// whether it succeeded.
    async fn one(&self) -> bool {
        let began = Instant::now();
        let Some((status, bytes)) = self.transport.post(&self.body).await else {
            return false;
        };
        // As asyncbench: a completion with choices is a success; the usage's counts, when sent,
        // are read into its sample.
        let valid = serde_json::from_slice::<CompletionView>(&bytes).is_ok_and(|v| {
            std::hint::black_box(v.usage.map(|u| (u.prompt_tokens, u.completion_tokens)));
            !v.choices.is_empty()
        });
        if !(status.is_success() && valid) {
            return false;
        }
        let us = u64::try_from(began.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut h = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        // `record` grows the auto-resizing histogram; saturating only if it cannot.
        if h.record(us).is_err() {
            h.saturating_record(us);
        }
        true
    }
}

/// C tasks, each sending one request after another (as oha does); (sent, ok).
async fn worker_loops(run: &'static Run) -> anyhow::Result<(u64, u64)> {
    let workers: Vec<_> = (0..run.concurrency)
        .map(|_| {
            tokio::spawn(async move {
                let (mut sent, mut ok) = (0u64, 0u64);
                while run.stop.another() {
                    sent += 1;
                    ok += u64::from(run.one().await);
                }
                (sent, ok)
            })
        })
        .collect();
    let (mut sent, mut ok) = (0, 0);
    for w in workers {
        let (s, o) = w.await?;
        sent += s;
        ok += o;
    }
    Ok((sent, ok))
}

/// A task per request, spawned by one driver when a permit of C frees (as asyncbench's `async`
/// does, the twin of `asyncio.gather` under a semaphore); (sent, ok).
async fn task_per_request(run: &'static Run) -> anyhow::Result<(u64, u64)> {
    let permits = Arc::new(Semaphore::new(run.concurrency));
    let mut tasks = JoinSet::new();
    let (mut sent, mut ok) = (0u64, 0u64);
    loop {
        let permit = permits.clone().acquire_owned().await?;
        if !run.stop.another() {
            break;
        }
        sent += 1;
        tasks.spawn(async move {
            let done = run.one().await;
            drop(permit);
            done
        });
        while let Some(done) = tasks.try_join_next() {
            ok += u64::from(done?);
        }
    }
    while let Some(done) = tasks.join_next().await {
        ok += u64::from(done?);
    }
    Ok((sent, ok))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, url, body, c, stop] = args.as_slice() else {
        bail!("usage: floor_client hyper|reqwest URL BODY_FILE CONCURRENCY SECONDSs|REQUESTS");
    };
    let (kind, spawn) = match kind.strip_suffix("+spawn") {
        Some(k) => (k, true),
        None => (kind.as_str(), false),
    };
    let body = Bytes::from(std::fs::read(body).context("body file")?);
    let c: usize = c.parse().context("concurrency")?;
    let stop_after = match stop.strip_suffix('s') {
        Some(secs) => Err(Duration::from_secs_f64(secs.parse().context("seconds")?)),
        None => Ok(stop.parse::<u64>().context("requests")?),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (sent, ok, latency, wall) = rt.block_on(async move {
        let transport = Transport::new(kind, url)?;
        let start = Instant::now();
        let run: &'static Run = Box::leak(Box::new(Run {
            transport,
            body,
            concurrency: c,
            stop: match stop_after {
                Err(run) => Stop::At(start + run),
                Ok(n) => Stop::After {
                    tickets: AtomicU64::new(0),
                    n,
                },
            },
            latency: Mutex::new(Histogram::new(3)?),
        }));
        let (sent, ok) = if spawn {
            // The driver on a worker, as asyncbench runs it.
            tokio::spawn(task_per_request(run)).await??
        } else {
            worker_loops(run).await?
        };
        let wall = start.elapsed();
        let latency = run.latency.lock().unwrap_or_else(|p| p.into_inner()).clone();
        anyhow::Ok((sent, ok, latency, wall))
    })?;
    println!(
        "requests {sent} ok {ok} rps {:.0} p99_ms {:.2}",
        ok as f64 / wall.as_secs_f64(),
        latency.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok(())
}
