//! `--concurrency auto` in the data: the controller's settings and what it did, tick by tick.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The settings of `--concurrency auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdaptiveConfig {
    /// The limit it starts at.
    pub initial: u64,
    /// The most it may reach (`--max-concurrency`).
    pub max: u64,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig { initial: 1, max: 256 }
    }
}

/// One step of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Start of the step, seconds from the controller's start.
    pub t_s: f64,
    /// The concurrency limit at the end of the step.
    pub limit: f64,
    /// Attempts that ended in the step.
    pub attempts: u64,
    /// Of them, successes.
    pub ok: u64,
    /// Of them, 429s.
    pub rate_limited: u64,
}

/// What the controller did, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdaptiveReport {
    /// `aimd`.
    pub algorithm: String,
    /// The limit it started at.
    pub initial: u64,
    /// The most it could reach.
    pub max: u64,
    /// The median limit over the second half of the run: where it settled.
    pub converged: f64,
    /// The limit at the end.
    pub last: f64,
    /// Cuts made (429s and pressure).
    pub cuts: u64,
    /// 429 answers as a share of all answers.
    pub share_429: f64,
    /// The timeline, one row per 250 ms.
    pub timeline: Vec<Tick>,
}

/// The length of one step of the controller's timeline.
pub const TICK: Duration = Duration::from_millis(250);
