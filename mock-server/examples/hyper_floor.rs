//! The floor of a hyper server on this machine: the same completion bytes for every request,
//! the request body read and dropped, nothing else (an anchor for `scripts/bench-mock.sh`).
//!
//! `hyper_floor BODY_FILE [DELAY_MS]`: with a delay, each answer waits that long on tokio's timer
//! first, so the mock's delay fidelity has a floor to be compared with under the same load.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: hyper_floor BODY_FILE [DELAY_MS]"))?;
    let body = Bytes::from(std::fs::read(&path)?);
    let delay = match args.next() {
        Some(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|_| anyhow::anyhow!("not milliseconds: {ms}"))?,
        ),
        None => Duration::ZERO,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on http://{}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let body = body.clone();
                    async move {
                        let arrived = tokio::time::Instant::now();
                        let _ = req.into_body().collect().await;
                        if !delay.is_zero() {
                            tokio::time::sleep_until(arrived + delay).await;
                        }
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(body))
                                .unwrap_or_default(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
