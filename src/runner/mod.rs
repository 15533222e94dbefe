//! The strategies, one file each and one shape: a [`RunContext`] in, a [`StrategyRun`] out.
//!
//! What they share lives here: the request loop with retries (its bookkeeping in one I/O-free
//! `Attempts`, driven by a blocking and an async loop that differ only in how they send and
//! wait, around the pure [`RetryPolicy::next_delay`]), and the context.
//!
//! Every request a runner starts ends in exactly one [`Record`]; the caller checks that the
//! records add up to the workload (`accounted N/N`).

mod async_tokio;
mod batched;
mod sequential;
mod threadpool;

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use rand::rngs::SmallRng;

use crate::client::PreparedRequest;
use crate::client::async_client::AsyncClient;
use crate::client::blocking::BlockingClient;
use crate::config::{RunConfig, Strategy};
use crate::error::{RequestError, RunError};
use crate::metrics::{AttemptRecord, Outcome, Record, Recorder, Sample};
use crate::retry::RetryPolicy;

pub use async_tokio::{run_async, run_async_single};
pub use batched::run_batched;
pub use sequential::run_sequential;
pub use threadpool::run_threadpool;

/// Everything a runner needs: the validated config, the request to send, the open-loop schedule
/// (if any) and the progress bar to tick.
#[derive(Debug)]
pub struct RunContext<'a> {
    /// The run's configuration.
    pub cfg: &'a RunConfig,
    /// The request every attempt sends.
    pub req: Arc<PreparedRequest>,
    /// Due offsets from the start of the run, one per request (open loop only).
    pub schedule: Option<Arc<Vec<Duration>>>,
    /// Ticked once per finished request.
    pub progress: ProgressBar,
}

impl RunContext<'_> {
    /// Requests in the workload.
    pub fn requests(&self) -> u64 {
        self.cfg.workload.requests
    }

    /// When request `i` is due, for a run started at `t0` (`None` in a closed loop).
    pub fn due(&self, t0: Instant, i: u64) -> Option<Instant> {
        self.schedule
            .as_ref()
            .and_then(|s| s.get(i as usize))
            .map(|d| t0 + *d)
    }

    /// A seeded RNG for retry jitter, distinct per worker or request.
    pub fn rng(&self, stream: u64) -> SmallRng {
        use rand::SeedableRng;
        SmallRng::seed_from_u64(self.cfg.seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

/// What one strategy's run produced.
#[derive(Debug)]
pub struct StrategyRun {
    /// All requests, merged.
    pub recorder: Recorder,
    /// First start to last end of the run as a whole (setup excluded).
    pub wall: Duration,
}

/// Runs one strategy.
pub fn run_strategy(s: Strategy, ctx: &RunContext<'_>) -> Result<StrategyRun, RunError> {
    match s {
        Strategy::Sequential => run_sequential(ctx),
        Strategy::Threadpool => run_threadpool(ctx),
        Strategy::Async => run_async(ctx),
        Strategy::AsyncSingle => run_async_single(ctx),
        Strategy::Batched => run_batched(ctx),
    }
}

/// One logical request on a blocking client: attempts and `std::thread::sleep` between them.
pub(crate) fn execute_blocking(
    client: &BlockingClient,
    policy: &RetryPolicy,
    rng: &mut SmallRng,
    intended: Instant,
) -> Record {
    let mut request = Attempts::new(intended);
    loop {
        let t = Instant::now();
        let result = client.chat();
        match request.after(t, result, policy, rng) {
            Next::Retry(wait) => std::thread::sleep(wait),
            Next::Done(record) => return record,
        }
    }
}

/// One logical request on the async client: attempts and `tokio::time::sleep` between them.
pub(crate) async fn execute_async(
    client: &AsyncClient,
    policy: &RetryPolicy,
    rng: &mut SmallRng,
    intended: Instant,
) -> Record {
    let mut request = Attempts::new(intended);
    loop {
        let t = Instant::now();
        let result = client.chat().await;
        match request.after(t, result, policy, rng) {
            Next::Retry(wait) => tokio::time::sleep(wait).await,
            Next::Done(record) => return record,
        }
    }
}

/// What to do after an attempt.
enum Next {
    /// Wait this long, then send again.
    Retry(Duration),
    /// The request is over.
    Done(Record),
}

/// The bookkeeping of one logical request, free of I/O so the blocking and the async loop share
/// it: they differ only in how they send and how they wait.
struct Attempts {
    intended: Instant,
    start: Instant,
    attempts: Vec<AttemptRecord>,
    backoff: Duration,
}

impl Attempts {
    fn new(intended: Instant) -> Attempts {
        Attempts {
            intended,
            start: Instant::now(),
            attempts: Vec::with_capacity(1),
            backoff: Duration::ZERO,
        }
    }

    /// Records the attempt sent at `sent` and decides, by `policy`, whether another follows.
    fn after(
        &mut self,
        sent: Instant,
        result: Result<Sample, RequestError>,
        policy: &RetryPolicy,
        rng: &mut SmallRng,
    ) -> Next {
        self.attempts.push(AttemptRecord {
            duration: sent.elapsed(),
            outcome: Outcome::of(&result),
        });
        if let Err(e) = &result
            && let Some(wait) = policy.next_delay(self.attempts.len() as u32, e, rng)
        {
            self.backoff += wait;
            return Next::Retry(wait);
        }
        Next::Done(self.finish(result))
    }

    fn finish(&mut self, result: Result<Sample, RequestError>) -> Record {
        let end = Instant::now();
        let (outcome, status, sample) = match result {
            Ok(s) => (Outcome::Ok, Some(200), Some(s)),
            Err(e) => (e.outcome(), e.status(), None),
        };
        Record {
            intended: self.intended.min(self.start),
            start: self.start,
            end,
            attempts: std::mem::take(&mut self.attempts),
            backoff: self.backoff,
            outcome,
            status,
            sample,
        }
    }
}

/// Sleeps the calling thread until `t` (no-op when it has passed).
pub(crate) fn sleep_until_blocking(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}
