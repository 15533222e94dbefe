//! The data model: what a run is asked to do, what each request produced, and what a run and a
//! sweep report. It imports nothing else in the crate (a test checks), so it reads alone, and
//! every other layer speaks its words.
//!
//! - [`strategy`]: the strategies: built-in execution models, shipped Python clients, commands.
//! - [`plan`]: the plan's value types (load model, workload, warm-up, shards, SLOs).
//! - [`retry`]: the retry policy and its presets, as numbers and pure decisions.
//! - [`outcome`]: the outcome of a request, error classes, [`outcome::RequestError`].
//! - [`record`]: one logical request as measured ([`record::Record`]), rate-limit headers.
//! - [`series`]: the histogram series and their percentiles.
//! - [`distortion`]: the measurement's own error: the mock's lateness, the transit, the
//!   harness's part, and the budget each side is held to.
//! - [`report`]: the run report ([`report::RunReport`], the `report.json` schema).
//! - [`rounds`]: a strategy's figures round by round, and over rounds with their intervals.
//! - [`sweep`]: the sweep report, its axes and points.
//! - [`recommend`]: the sweep's recommendation, a pure function of its points.
//! - [`adaptive`]: `--concurrency auto`'s settings and what the controller did.
//! - [`provenance`]: the tool, commit, machine and times behind a report.
//! - [`uncertainty`]: figures over rounds with their 95 % intervals, changes and verdicts.
//! - [`error`]: the errors of configuration, runs and merges.

pub mod adaptive;
pub mod distortion;
pub mod error;
pub mod hist;
pub mod outcome;
pub mod plan;
pub mod provenance;
pub mod recommend;
pub mod record;
pub mod report;
pub mod retry;
pub mod rounds;
pub mod search;
pub mod series;
pub mod strategy;
pub mod sweep;
pub mod uncertainty;

/// The index of the first value listed again (an earlier one equals it): a strategy named twice,
/// a sweep value listed twice.
pub fn first_repeat<T: PartialEq>(values: &[T]) -> Option<usize> {
    (1..values.len()).find(|&i| values[..i].contains(&values[i]))
}

#[cfg(test)]
mod tests {
    /// The first value seen before is found at its second place, and only a repeat is.
    #[test]
    fn the_first_repeat_is_found_at_its_second_place() {
        assert_eq!(super::first_repeat(&[1, 2, 3, 2, 1]), Some(3));
        assert_eq!(super::first_repeat(&[1, 2, 3]), None);
        assert_eq!(super::first_repeat::<u8>(&[]), None);
        assert_eq!(super::first_repeat(&[0.5, 0.5]), Some(1));
    }
}
