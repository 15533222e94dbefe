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
    connections: AtomicU64,
    connections_open: AtomicI64,
    connections_refused: AtomicU64,
    tls_handshakes: AtomicU64,
    http2_requests: AtomicU64,
    work_connections: AtomicU64,
    work_tls_handshakes: AtomicU64,
}

/// What the connection layer tells the app about the connection a request came on, so that a
/// connection is counted once as carrying work (`/stats` and `/admin` calls do not count).
#[derive(Debug, Clone)]
pub(crate) struct ConnMark {
    /// Set by the first work request on the connection.
    pub(crate) worked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The connection is TLS (its handshake counts with it).
    pub(crate) tls: bool,
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
    /// TCP connections accepted and served (refused ones not included).
    #[serde(default)]
    pub connections_accepted: u64,
    /// Connections open now.
    #[serde(default)]
    pub connections_open: u64,
    /// Connections closed at once because `--max-connections` were open.
    #[serde(default)]
    pub connections_refused: u64,
    /// TLS handshakes completed.
    #[serde(default)]
    pub tls_handshakes: u64,
    /// Connections that carried at least one work request (a client's own `/stats` or `/admin`
    /// calls open connections too; these do not count here).
    #[serde(default)]
    pub work_connections: u64,
    /// TLS handshakes of those connections.
    #[serde(default)]
    pub work_tls_handshakes: u64,
    /// Requests that came over HTTP/2 (one stream each), of any path.
    #[serde(default)]
    pub http2_streams: u64,
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
    /// Counts a new work request (and its connection and TLS handshake, the first time the
    /// connection carries one) and holds it in flight until [`Stats::release`].
    pub(crate) fn begin_work(&self, conn: Option<&ConnMark>) {
        self.received.fetch_add(1, Relaxed);
        if let Some(c) = conn
            && !c.worked.swap(true, Relaxed)
        {
            self.work_connections.fetch_add(1, Relaxed);
            if c.tls {
                self.work_tls_handshakes.fetch_add(1, Relaxed);
            }
        }
        self.hold();
    }

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
            connections: AtomicU64::new(0),
            connections_open: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            tls_handshakes: AtomicU64::new(0),
            http2_requests: AtomicU64::new(0),
            work_connections: AtomicU64::new(0),
            work_tls_handshakes: AtomicU64::new(0),
        }
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

    /// A connection accepted; returns how many are open now (itself included).
    pub(crate) fn connection_opened(&self) -> u64 {
        self.connections.fetch_add(1, Relaxed);
        (self.connections_open.fetch_add(1, Relaxed) + 1).max(0) as u64
    }

    /// A connection closed.
    pub(crate) fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }

    /// A connection closed at once for being over the limit.
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }

    /// Connections open now.
    pub(crate) fn open_connections(&self) -> u64 {
        self.connections_open.load(Relaxed).max(0) as u64
    }

    /// A TLS handshake completed.
    pub(crate) fn tls_handshake(&self) {
        self.tls_handshakes.fetch_add(1, Relaxed);
    }

    /// A request came over HTTP/2.
    pub(crate) fn http2_request(&self) {
        self.http2_requests.fetch_add(1, Relaxed);
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
            connections_accepted: self.connections.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed).max(0) as u64,
            connections_refused: self.connections_refused.load(Relaxed),
            tls_handshakes: self.tls_handshakes.load(Relaxed),
            http2_streams: self.http2_requests.load(Relaxed),
            work_connections: self.work_connections.load(Relaxed),
            work_tls_handshakes: self.work_tls_handshakes.load(Relaxed),
        }
    }
}
