//! The measurement's own error, side by side: how long each request took to reach the mock's
//! handler (the connection, the kernel, the mock's parse), how late the mock wrote (its stamps:
//! written − intended), how long each write took to reach the client's read (read − written:
//! kernel, runtime, the client's reading), and the harness's own part (last byte read → the
//! request counted). A side whose p99 passes the budget is named, so a tail is not blamed on the
//! target when it was the tool's.

use serde::{Deserialize, Serialize};

use crate::model::series::Percentiles;

/// The budget's floor: a side may add up to 1 ms at p99 …
pub const BUDGET_FLOOR_MS: f64 = 1.0;
/// … or 2 % of the measured latency (p50 of the successes), whichever is larger.
pub const BUDGET_SHARE: f64 = 0.02;

/// The three sides of a run's error, each an HdrHistogram series in ms (`null`: not measured:
/// no stamps were read, or no request was counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Distortion {
    /// Per answer: the attempt's send (before its connection was taken or made) → the mock's
    /// handler.
    #[serde(default)]
    pub request_ms: Option<Percentiles>,
    /// The mock's lateness per stamped write (answer or streamed event): written − intended.
    pub mock_late_ms: Option<Percentiles>,
    /// Per stamped write: the client's read − the mock's write.
    pub transit_ms: Option<Percentiles>,
    /// Per request: its last byte read → its record counted by the harness (an external
    /// client's request: its line read → counted).
    pub harness_ms: Option<Percentiles>,
}

/// One side of the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The request's way in: the connection, the kernel, the mock's accept and parse.
    Request,
    /// The mock's timers and write path.
    Mock,
    /// The kernel, the runtime and the client's reading, between the mock's write and the read.
    Transit,
    /// The harness, from a request's last byte to its count.
    Harness,
}

impl Side {
    /// Every side, in the order the table, the page and the warnings list them.
    pub const ALL: [Side; 4] = [Side::Request, Side::Mock, Side::Transit, Side::Harness];

    /// The side's column head in the table and on the page.
    pub fn head(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Mock => "mock late",
            Side::Transit => "transit",
            Side::Harness => "harness",
        }
    }

    /// How the side is named in the warnings.
    pub fn name(self) -> &'static str {
        match self {
            Side::Request => "the request's way in",
            Side::Mock => "the mock",
            Side::Transit => "the transit",
            Side::Harness => "the harness",
        }
    }
}

/// A side over its budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OverBudget {
    /// Which side.
    pub side: Side,
    /// Its p99, ms.
    pub p99_ms: f64,
    /// The budget it passed, ms.
    pub budget_ms: f64,
}

impl Distortion {
    /// The four series, `None` when none was measured.
    pub fn of(
        request_ms: Option<Percentiles>,
        mock_late_ms: Option<Percentiles>,
        transit_ms: Option<Percentiles>,
        harness_ms: Option<Percentiles>,
    ) -> Option<Distortion> {
        let d = Distortion {
            request_ms,
            mock_late_ms,
            transit_ms,
            harness_ms,
        };
        (d != Distortion::default()).then_some(d)
    }

    /// One side's series.
    pub fn side(&self, side: Side) -> Option<Percentiles> {
        match side {
            Side::Request => self.request_ms,
            Side::Mock => self.mock_late_ms,
            Side::Transit => self.transit_ms,
            Side::Harness => self.harness_ms,
        }
    }

    /// The budget for a run whose successes took `latency_p50_ms` at the median (`None`: none
    /// succeeded, the floor alone).
    pub fn budget_ms(latency_p50_ms: Option<f64>) -> f64 {
        BUDGET_FLOOR_MS.max(BUDGET_SHARE * latency_p50_ms.unwrap_or(0.0))
    }

    /// The sides whose p99 passes the budget, in the order request, mock, transit, harness.
    pub fn over_budget(&self, latency_p50_ms: Option<f64>) -> Vec<OverBudget> {
        let budget_ms = Distortion::budget_ms(latency_p50_ms);
        Side::ALL
            .into_iter()
            .filter_map(|side| {
                let p99_ms = self.side(side)?.p99;
                (p99_ms > budget_ms).then_some(OverBudget {
                    side,
                    p99_ms,
                    budget_ms,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p99(ms: f64) -> Option<Percentiles> {
        Some(Percentiles {
            count: 10,
            p99: ms,
            ..Percentiles::default()
        })
    }

    /// The budget is 1 ms or 2 % of the latency's median, whichever is more; a p99 at the
    /// budget is within it, just past it is named.
    #[test]
    fn a_side_past_its_budget_is_named() {
        assert_eq!(Distortion::budget_ms(None), 1.0);
        assert_eq!(Distortion::budget_ms(Some(20.0)), 1.0);
        assert_eq!(Distortion::budget_ms(Some(100.0)), 2.0);
        let at = Distortion {
            request_ms: p99(2.0),
            mock_late_ms: p99(2.0),
            transit_ms: p99(2.0),
            harness_ms: p99(2.0),
        };
        assert!(at.over_budget(Some(100.0)).is_empty());
        let past = Distortion {
            transit_ms: p99(2.001),
            ..at
        };
        assert_eq!(
            past.over_budget(Some(100.0)),
            [OverBudget {
                side: Side::Transit,
                p99_ms: 2.001,
                budget_ms: 2.0
            }]
        );
        // At 10 ms of latency the floor holds: 1.5 ms is past it, on every side.
        let all = Distortion {
            request_ms: p99(1.5),
            mock_late_ms: p99(1.5),
            transit_ms: p99(1.5),
            harness_ms: p99(1.5),
        };
        let sides: Vec<Side> = all.over_budget(Some(10.0)).iter().map(|o| o.side).collect();
        assert_eq!(sides, [Side::Request, Side::Mock, Side::Transit, Side::Harness]);
        // Nothing measured: nothing to report.
        assert_eq!(Distortion::of(None, None, None, None), None);
        assert!(Distortion::of(None, None, None, p99(0.1)).is_some());
    }
}
