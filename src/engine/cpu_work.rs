//! `--cpu-work D`: real CPU work of about D after each successful response, the stand-in for
//! what a handler does with an answer (parse it, tokenize it, score it).
//!
//! The work is hashing: rounds of a 64-bit mix over a 4 KiB buffer seeded by the request's index,
//! its result kept with `black_box` so the compiler cannot drop it. How many rounds make D is
//! calibrated once per process on this machine, by the calling thread's own CPU clock (so a busy
//! machine slows the calibration's wall time, not its answer). Where the work runs is the
//! strategy's to choose: on the event loop (`async`, `async-single`, `batched`), on the worker
//! thread (`sequential`, `threadpool`), or handed to a bounded rayon pool of one thread per core
//! (`async-offload`). Each run counts where its work ran, by thread name, and how much thread CPU
//! time it took.

use crate::model::report::CpuWorkReport;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::engine::resources::this_thread_cpu_s;
use crate::model::error::RunError;

/// Bytes hashed per round.
const BLOCK: usize = 4096;

/// The name prefix of the offload pool's threads.
pub const OFFLOAD_THREAD: &str = "offload-cpu-";

/// One round: a multiply-xorshift mix over every word of the buffer.
fn round(buf: &[u64; BLOCK / 8], mut h: u64) -> u64 {
    for w in buf {
        h = (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        h ^= h >> 29;
    }
    h
}

/// Runs `rounds` rounds seeded by `seed`; returns the hash.
pub(crate) fn hash_rounds(seed: u64, rounds: u64) -> u64 {
    let mut buf = [0u64; BLOCK / 8];
    let mut x = seed | 1;
    for w in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *w = x;
    }
    let mut h = seed;
    for _ in 0..rounds {
        h = round(black_box(&buf), h);
    }
    black_box(h)
}

/// Rounds per second of this thread's CPU time, measured once per process (see
/// [`measure_rounds_per_cpu_second`]).
pub(crate) fn rounds_per_cpu_second() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(measure_rounds_per_cpu_second)
}

/// Measures rounds per second of this thread's CPU time now: the fastest of three 30 ms samples
/// (an interruption can only slow a sample). A busy sibling hyperthread slows every round, so
/// work calibrated on a quiet machine takes longer on a busy one: the report states the CPU
/// time each piece really took.
pub(crate) fn measure_rounds_per_cpu_second() -> f64 {
    let mut best: f64 = 0.0;
    for _ in 0..3 {
        let mut rounds = 64u64;
        loop {
            let t = this_thread_cpu_s();
            hash_rounds(rounds, rounds);
            let dt = this_thread_cpu_s() - t;
            if dt >= 0.03 {
                best = best.max(rounds as f64 / dt);
                break;
            }
            rounds *= 2;
        }
    }
    best
}

/// The work one response gets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuWork {
    /// What was asked for.
    pub target: Duration,
    /// Rounds that take `target` of CPU on this machine.
    pub rounds: u64,
}

impl CpuWork {
    /// Work of about `target`, calibrated on this machine.
    pub(crate) fn calibrated(target: Duration) -> CpuWork {
        CpuWork::at_rate(target, rounds_per_cpu_second())
    }

    /// Work of about `target` at `rate` rounds per CPU second.
    pub(crate) fn at_rate(target: Duration, rate: f64) -> CpuWork {
        CpuWork {
            target,
            rounds: (rate * target.as_secs_f64()).round().max(1.0) as u64,
        }
    }

    /// Does the work for request `index` on this thread; returns the thread CPU seconds it took.
    pub fn run(&self, index: u64) -> f64 {
        let t = this_thread_cpu_s();
        hash_rounds(index, self.rounds);
        this_thread_cpu_s() - t
    }
}

/// The work of one strategy's run: what to do, the pool to offload it to (`async-offload`), and
/// the tally.
#[derive(Debug)]
pub struct Worker {
    work: CpuWork,
    pool: Option<rayon::ThreadPool>,
    tally: Mutex<Tally>,
}

#[derive(Debug, Default)]
struct Tally {
    runs: u64,
    cpu_s: f64,
    ran_on: BTreeMap<String, u64>,
}

impl Worker {
    /// Work done where it is called.
    pub fn inline(work: CpuWork) -> Arc<Worker> {
        Arc::new(Worker {
            work,
            pool: None,
            tally: Mutex::default(),
        })
    }

    /// Work handed to a pool of `threads` threads named `cpu-offload-N`.
    pub(crate) fn offloaded(work: CpuWork, threads: usize) -> Result<Arc<Worker>, RunError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("{OFFLOAD_THREAD}{i}"))
            .build()
            .map_err(|e| RunError::Setup {
                what: "cpu offload pool",
                source: e.into(),
            })?;
        Ok(Arc::new(Worker {
            work,
            pool: Some(pool),
            tally: Mutex::default(),
        }))
    }

    /// Whether the work goes to the pool.
    pub(crate) fn offloads(&self) -> bool {
        self.pool.is_some()
    }

    /// Threads of the pool (0 without one).
    pub fn threads(&self) -> u64 {
        self.pool.as_ref().map_or(0, |p| p.current_num_threads() as u64)
    }

    /// Does the work for request `index` on this thread and counts it.
    pub(crate) fn run_here(&self, index: u64) {
        let cpu = self.work.run(index);
        let name = std::thread::current().name().map_or_else(
            || "unnamed".to_owned(),
            |n| n.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned(),
        );
        let mut t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        t.runs += 1;
        t.cpu_s += cpu;
        *t.ran_on.entry(name).or_default() += 1;
    }

    /// Does the work for request `index`: on the pool when there is one (the caller's task
    /// waits without blocking its thread), else here.
    pub async fn run(self: &Arc<Self>, index: u64) {
        match &self.pool {
            Some(pool) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                let me = self.clone();
                pool.spawn(move || {
                    me.run_here(index);
                    let _ = tx.send(());
                });
                let _ = rx.await;
            }
            None => self.run_here(index),
        }
    }

    /// The tally so far.
    pub fn report(&self) -> CpuWorkReport {
        let t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        CpuWorkReport {
            target_ms: self.work.target.as_secs_f64() * 1e3,
            rounds: self.work.rounds,
            runs: t.runs,
            mean_cpu_ms: if t.runs == 0 {
                0.0
            } else {
                t.cpu_s / t.runs as f64 * 1e3
            },
            ran_on: t.ran_on.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calibrated just before, the work takes its target ± 20 % of thread CPU time. Other
    /// processes on a sibling hyperthread slow the rounds between calibration and work, so each
    /// target gets three tries (calibrate, then nine pieces); a wrong calibration misses all
    /// three.
    #[test]
    fn calibrated_work_takes_its_target_in_cpu_time() {
        assert!(rounds_per_cpu_second() > 0.0);
        for target in [Duration::from_millis(2), Duration::from_millis(10)] {
            let want = target.as_secs_f64();
            let medians: Vec<f64> = (0..3)
                .map(|_| {
                    let w = CpuWork::at_rate(target, measure_rounds_per_cpu_second());
                    let mut took: Vec<f64> = (0..9).map(|i| w.run(i)).collect();
                    took.sort_by(f64::total_cmp);
                    took[4]
                })
                .collect();
            assert!(
                medians.iter().any(|m| (m - want).abs() <= 0.2 * want),
                "{target:?}: medians {medians:?} s of CPU"
            );
        }
    }

    #[test]
    fn the_work_depends_on_its_seed_and_rounds() {
        assert_ne!(hash_rounds(1, 10), hash_rounds(2, 10));
        assert_ne!(hash_rounds(1, 10), hash_rounds(1, 11));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn offloaded_work_runs_on_the_pool_and_is_counted() {
        let w = Worker::offloaded(CpuWork::calibrated(Duration::from_micros(200)), 2).unwrap();
        for i in 0..20 {
            w.run(i).await;
        }
        let r = w.report();
        assert_eq!(r.runs, 20);
        assert_eq!(r.ran_on.keys().collect::<Vec<_>>(), [OFFLOAD_THREAD]);
        assert_eq!(r.ran_on[OFFLOAD_THREAD], 20);
    }
}
