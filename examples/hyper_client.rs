//! The floor of a tokio + hyper client on this machine, for `scripts/bench-client.sh`: what the
//! `async` strategy does per request without reqwest's layers. C tasks each send the chat
//! request in a loop for D seconds through hyper-util's pooled client (reqwest's own core),
//! check the status, parse the completion as asyncbench does (choices there, usage read) and
//! record the latency in an HdrHistogram.
//!
//! `hyper_client URL BODY_FILE CONCURRENCY SECONDS` prints one line:
//! `requests N ok M rps R p99_ms P`. Each task keeps a histogram of its own, so it is an anchor
//! for CPU and rate at tens of tasks, not for memory at thousands.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// What asyncbench's `parse_body` reads of a completion.
#[derive(serde::Deserialize)]
struct CompletionView {
    choices: Vec<serde::de::IgnoredAny>,
    #[serde(default)]
    usage: Option<serde_json::Value>,
}

/// One worker's tally: answers, successes, latencies of the successes (µs).
struct Tally {
    sent: u64,
    ok: u64,
    latency: Histogram<u64>,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, body, c, secs] = args.as_slice() else {
        bail!("usage: hyper_client URL BODY_FILE CONCURRENCY SECONDS");
    };
    let uri: hyper::Uri = url.parse().context("URL")?;
    let body = Bytes::from(std::fs::read(body).context("body file")?);
    let c: usize = c.parse().context("concurrency")?;
    let run = Duration::from_secs_f64(secs.parse().context("seconds")?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (tallies, wall) = rt.block_on(async move {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let start = Instant::now();
        let end = start + run;
        let workers: Vec<_> = (0..c)
            .map(|_| {
                let (client, uri, body) = (client.clone(), uri.clone(), body.clone());
                tokio::spawn(async move {
                    let mut t = Tally {
                        sent: 0,
                        ok: 0,
                        latency: Histogram::new(3).expect("3 significant digits is valid"),
                    };
                    while Instant::now() < end {
                        let sent = Instant::now();
                        t.sent += 1;
                        let req = hyper::Request::post(uri.clone())
                            .header(hyper::header::CONTENT_TYPE, "application/json")
                            .body(Full::new(body.clone()));
                        let Ok(req) = req else { continue };
                        let Ok(resp) = client.request(req).await else {
                            continue;
                        };
                        let status = resp.status();
                        let Ok(bytes) = resp.into_body().collect().await.map(|b| b.to_bytes()) else {
                            continue;
                        };
                        let valid = serde_json::from_slice::<CompletionView>(&bytes)
                            .is_ok_and(|v| !v.choices.is_empty() && v.usage.is_some());
                        if status.is_success() && valid {
                            t.ok += 1;
                            let us = u64::try_from(sent.elapsed().as_micros())
                                .unwrap_or(u64::MAX)
                                .max(1);
                            // `record` grows the auto-resizing histogram; saturating only if it cannot.
                            if t.latency.record(us).is_err() {
                                t.latency.saturating_record(us);
                            }
                        }
                    }
                    t
                })
            })
            .collect();
        let mut tallies = Vec::new();
        for w in workers {
            tallies.push(w.await?);
        }
        anyhow::Ok((tallies, start.elapsed()))
    })?;
    let mut latency = Histogram::<u64>::new(3)?;
    let (mut sent, mut ok) = (0, 0);
    for t in &tallies {
        sent += t.sent;
        ok += t.ok;
        latency.add(&t.latency)?;
    }
    println!(
        "requests {sent} ok {ok} rps {:.0} p99_ms {:.2}",
        ok as f64 / wall.as_secs_f64(),
        latency.value_at_quantile(0.99) as f64 / 1000.0
    );
    Ok(())
}
