//! The mock's own counters (`GET /stats`): requests received, responses by status, in flight now
//! and at peak, and the faults that end without a status. Atomics only, so counting costs no
//! lock on the request path.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// Live counters. Work requests are those to `/v1/chat/completions` and `/delay/{s}`; `/stats`,
/// `/healthz` and `/admin/*` are not counted, so a client can poll them without disturbing the
/// cross-check of attempts sent against requests received.
#[derive(Debug)]
pub(crate) struct Stats {
    received: AtomicU64,
    in_flight: AtomicI64,
    peak_in_flight: AtomicI64,
    /// Index = HTTP status (100..=599); the rest stay zero.
    by_status: Box<[AtomicU64]>,
    limited: AtomicU64,
    hangs: AtomicU64,
    resets: AtomicU64,
    stream_errors: AtomicU64,
    stream_cuts: AtomicU64,
    tokens_out: AtomicU64,
}

/// A point-in-time copy of the counters, as served by `GET /stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Work requests received since start (chat completions and delay).
    pub requests_received: u64,
    /// Work requests being handled now (streams count until their last byte).
    pub in_flight: u64,
    /// The most in flight at once since start.
    pub peak_in_flight: u64,
    /// Responses sent, by status code (a stream counts under 200 when its headers go out).
    pub responses_by_status: BTreeMap<u16, u64>,
    /// 429s sent by the RPM/TPM limiter (also counted under 429).
    pub rate_limited_by_limiter: u64,
    /// Requests hung on purpose (no status).
    pub hangs: u64,
    /// Connections reset on purpose (no status).
    pub resets: u64,
    /// Streams ended by an error event.
    pub stream_errors: u64,
    /// Streams cut halfway.
    pub stream_cuts: u64,
    /// Completion tokens sent.
    pub completion_tokens: u64,
}

impl StatsSnapshot {
    /// Total responses that carried a status.
    pub fn responses(&self) -> u64 {
        self.responses_by_status.values().sum()
    }

    /// Responses with this status.
    pub fn status(&self, code: u16) -> u64 {
        self.responses_by_status.get(&code).copied().unwrap_or(0)
    }
}

/// Decrements the in-flight count when the request (or its stream) ends, however it ends.
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// The fault counters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    Limited,
    Hang,
    Reset,
    StreamError,
    StreamCut,
}

impl Stats {
    pub(crate) fn new() -> Self {
        Stats {
            received: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            peak_in_flight: AtomicI64::new(0),
            by_status: (0..600).map(|_| AtomicU64::new(0)).collect(),
            limited: AtomicU64::new(0),
            hangs: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            stream_errors: AtomicU64::new(0),
            stream_cuts: AtomicU64::new(0),
            tokens_out: AtomicU64::new(0),
        }
    }

    /// Counts a work request and returns its in-flight guard.
    pub(crate) fn begin(&self) -> InFlight<'_> {
        self.received.fetch_add(1, Relaxed);
        self.hold();
        InFlight(self)
    }

    /// Counts one more in flight (without counting a new request).
    pub(crate) fn hold(&self) {
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Relaxed);
    }

    /// Ends one in flight.
    pub(crate) fn release(&self) {
        self.in_flight.fetch_sub(1, Relaxed);
    }

    pub(crate) fn status(&self, code: u16) {
        if let Some(c) = self.by_status.get(usize::from(code)) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn event(&self, e: Event) {
        let c = match e {
            Event::Limited => &self.limited,
            Event::Hang => &self.hangs,
            Event::Reset => &self.resets,
            Event::StreamError => &self.stream_errors,
            Event::StreamCut => &self.stream_cuts,
        };
        c.fetch_add(1, Relaxed);
    }

    pub(crate) fn tokens(&self, n: u64) {
        self.tokens_out.fetch_add(n, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let responses_by_status = self
            .by_status
            .iter()
            .enumerate()
            .filter_map(|(code, c)| {
                let n = c.load(Relaxed);
                (n > 0).then_some((code as u16, n))
            })
            .collect();
        StatsSnapshot {
            requests_received: self.received.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed).max(0) as u64,
            peak_in_flight: self.peak_in_flight.load(Relaxed).max(0) as u64,
            responses_by_status,
            rate_limited_by_limiter: self.limited.load(Relaxed),
            hangs: self.hangs.load(Relaxed),
            resets: self.resets.load(Relaxed),
            stream_errors: self.stream_errors.load(Relaxed),
            stream_cuts: self.stream_cuts.load(Relaxed),
            completion_tokens: self.tokens_out.load(Relaxed),
        }
    }
}
