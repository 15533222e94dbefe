//! Statistics: records folded into per-worker [`recorder::Recorder`]s (HdrHistograms and
//! counters, merged once with `+=`), per-second intervals, the request log, a strategy's
//! summary, and exact merges of shards.
//!
//! - [`recorder`]: the recorder.
//! - [`intervals`]: per-second histograms for `run.hlog`, sealed and spilled to stay flat.
//! - [`live`]: the counters the live view reads while a run goes.
//! - [`log`]: `requests.jsonl`, spilled to a temporary file as it grows.
//! - [`summary`]: a strategy's report from its recorder.
//! - [`merge`]: shards of one run, or rounds of one strategy, merged into one report.
//! - [`diff`]: two saved runs compared figure by figure, with intervals and thresholds.
//! - [`temp`]: temporary files that a second signal still removes.

pub(crate) mod diff;
pub(crate) mod intervals;
pub(crate) mod live;
pub(crate) mod log;
pub(crate) mod merge;
pub(crate) mod recorder;
pub(crate) mod summary;
pub(crate) mod temp;
