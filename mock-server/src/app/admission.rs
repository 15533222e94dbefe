//! Admission: what the mock will do with a work request, decided before anything is written.
//! In order: the `x-mock-fault` header (exact sequences for tests), the RPM/TPM limiter,
//! `--schedule`, then the fault probabilities. The result is a [`Decision`], a plain value the
//! handlers render (`render.rs`); nothing here builds a response.

use std::time::Instant;

use axum::http::HeaderMap;
use rand::Rng;
use rand::rngs::SmallRng;

use crate::app::{AppState, RequestKey};
use crate::limiter::{Admission, LimitKind, LimiterState};
use crate::profile::Fault;
use crate::stats::Event;

/// A request let through, with what it meets.
#[derive(Debug)]
pub(crate) struct Admitted {
    /// Arrival number (1-based), for the request id.
    pub(crate) index: u64,
    /// The fault it meets, if any.
    pub(crate) fault: Option<Fault>,
    /// Its own RNG for the latency draws: (seed, request, attempt) for a numbered request.
    pub(crate) rng: SmallRng,
    /// The limiter's state after charging it, for the headers.
    pub(crate) limits: Option<LimiterState>,
}

/// What happens to a work request.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Served (perhaps with a fault).
    Admitted(Admitted),
    /// `x-mock-fault` names no fault: a 400.
    BadFaultHeader(String),
    /// The limiter refused it: a 429 with the wait until the buckets cover it.
    Limited {
        /// The bucket that refused.
        kind: LimitKind,
        /// Its per-minute limit.
        limit: u64,
        /// What it holds.
        remaining: u64,
        /// What the request costs.
        requested: u64,
        /// When both buckets will cover it.
        retry_after: std::time::Duration,
        /// The limiter's state, for the headers.
        limits: LimiterState,
    },
    /// Larger than the whole token bucket: a 429 that says not to retry.
    TooLarge {
        /// The per-minute token limit.
        limit: u64,
        /// What the request costs.
        requested: u64,
        /// The limiter's state, for the headers.
        limits: LimiterState,
    },
}

/// Decides a work request's fate; `token_cost` is what the TPM bucket charges it.
pub(crate) fn admit(st: &AppState, headers: &HeaderMap, token_cost: u64) -> Decision {
    let index = st.next_arrival();
    // A numbered request draws from its own (request, attempt) and is scheduled by its request
    // number (first attempts only); anything else by arrival order.
    let key = RequestKey::from_headers(headers);
    let mut rng = match key {
        Some(k) => st.rng_for_key(k),
        None => st.rng_for(index),
    };
    let scheduled = match key {
        Some(k) if k.attempt == 1 => Some(k.request + 1),
        Some(_) => None,
        None => Some(index),
    };
    // Always draw the fault number first, so the draws that follow (latency) do not depend on
    // whether a fault was chosen.
    let u: f64 = rng.random();

    if let Some(v) = headers.get("x-mock-fault") {
        return match v.to_str().ok().and_then(|s| s.parse::<Fault>().ok()) {
            Some(f) => Decision::Admitted(Admitted {
                index,
                fault: Some(f),
                rng,
                limits: None,
            }),
            None => Decision::BadFaultHeader(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        };
    }

    let mut limits = None;
    if let Some(limiter) = &st.limiter {
        let (decision, state) = match limiter.lock() {
            Ok(mut l) => l.admit(token_cost, Instant::now()),
            // A poisoned lock means a panic elsewhere; keep serving rather than fail every request.
            Err(poisoned) => poisoned.into_inner().admit(token_cost, Instant::now()),
        };
        match decision {
            Admission::Admitted => limits = Some(state),
            Admission::Limited {
                kind,
                limit,
                remaining,
                requested,
                retry_after,
            } => {
                st.stats.event(Event::Limited);
                return Decision::Limited {
                    kind,
                    limit,
                    remaining,
                    requested,
                    retry_after,
                    limits: state,
                };
            }
            Admission::TooLarge { limit, requested } => {
                st.stats.event(Event::Limited);
                return Decision::TooLarge {
                    limit,
                    requested,
                    limits: state,
                };
            }
        }
    }

    let p = &st.profile;
    let fault = scheduled
        .and_then(|n| p.schedule.iter().find_map(|r| r.applies(n)))
        .or_else(|| p.faults().draw(u));
    Decision::Admitted(Admitted {
        index,
        fault,
        rng,
        limits,
    })
}
