//! A precise timer for the mock's delays. tokio's timer wheel works in whole milliseconds and
//! rounds every deadline up, so a 100 ms delay answers after 100.5–102 ms; for a mock whose
//! delays are the ground truth of a benchmark that error is the whole measurement.
//!
//! Long waits still sleep on tokio (cheap, no lock); the last couple of milliseconds go to one
//! dedicated thread that keeps a heap of deadlines and wakes each waiter with a condvar timeout,
//! which Linux honours to within tens of microseconds.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Hand over to the precise thread this long before a deadline.
const HANDOVER: Duration = Duration::from_millis(10);

struct Entry {
    deadline: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.deadline, self.seq) == (o.deadline, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(o.deadline, o.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// The timer: a thread and its heap. Stops its thread when dropped.
pub(crate) struct PreciseTimer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for PreciseTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreciseTimer")
    }
}

impl PreciseTimer {
    pub(crate) fn start() -> PreciseTimer {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
        });
        let s = shared.clone();
        // If the thread cannot start, waits fall back to tokio's timer alone (see `sleep_until`).
        let thread = std::thread::Builder::new()
            .name("mock-server-timer".into())
            .spawn(move || run(&s))
            .ok();
        PreciseTimer { shared, thread }
    }

    /// Waits until `deadline`: tokio for the bulk, this timer's thread for the last stretch.
    /// Returns the clock reading that found the deadline already past, when it was (no wait):
    /// a stamp written right after can use it rather than read the clock again.
    pub(crate) async fn sleep_until(&self, deadline: Instant) -> Option<Instant> {
        let now = Instant::now();
        if deadline <= now {
            return Some(now);
        }
        if deadline - now > HANDOVER {
            tokio::time::sleep_until((deadline - HANDOVER).into()).await;
        }
        if self.thread.is_none() {
            tokio::time::sleep_until(deadline.into()).await;
            return None;
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.seq += 1;
            let seq = st.seq;
            let earliest = st.heap.peek().is_none_or(|Reverse(top)| deadline < top.deadline);
            st.heap.push(Reverse(Entry {
                deadline,
                seq,
                wake: tx,
            }));
            if earliest {
                self.shared.cv.notify_one();
            }
        }
        // The sender is dropped only if the timer stops; either way the wait is over.
        let _ = rx.await;
        None
    }
}

fn run(shared: &Shared) {
    let mut st = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if st.stop {
            return;
        }
        let now = Instant::now();
        while st.heap.peek().is_some_and(|Reverse(top)| top.deadline <= now) {
            if let Some(Reverse(e)) = st.heap.pop() {
                let _ = e.wake.send(());
            }
        }
        st = match st.heap.peek().map(|Reverse(top)| top.deadline) {
            Some(d) => {
                shared
                    .cv
                    .wait_timeout(st, d.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared.cv.wait(st).unwrap_or_else(PoisonError::into_inner),
        };
    }
}

impl Drop for PreciseTimer {
    fn drop(&mut self) {
        {
            let mut st = self.shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            st.stop = true;
            st.heap.clear();
        }
        self.shared.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_at_or_after_the_deadline_and_in_order() {
        let timer = Arc::new(PreciseTimer::start());
        let t0 = Instant::now();
        let mut handles = Vec::new();
        for ms in [30u64, 10, 20, 0] {
            let timer = timer.clone();
            handles.push(tokio::spawn(async move {
                let d = t0 + Duration::from_millis(ms);
                timer.sleep_until(d).await;
                assert!(Instant::now() >= d);
                ms
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        assert!(t0.elapsed() >= Duration::from_millis(30));
    }

    /// A deadline already past is not waited for, and the clock reading that found it past
    /// comes back (a stamp uses it); one in the future comes back with none.
    #[tokio::test]
    async fn a_past_deadline_gives_back_the_reading_that_found_it_past() {
        let timer = PreciseTimer::start();
        let before = Instant::now();
        let found = timer.sleep_until(before).await;
        assert!(
            found.is_some_and(|t| t >= before && t <= Instant::now()),
            "{found:?}"
        );
        let ahead = Instant::now() + Duration::from_millis(3);
        assert_eq!(timer.sleep_until(ahead).await, None);
        assert!(Instant::now() >= ahead);
    }
}
