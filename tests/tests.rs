//! The one integration-test binary of the root crate (one binary links once and runs in
//! parallel). Every server binds 127.0.0.1:0.

#![allow(clippy::unwrap_used)]

// Shared helpers: configs, the embedded mock, wiremock sequences.
mod util;

// Each scenario run over every strategy: clean runs, 429s and Retry-After, giving up, timeouts,
// mixed faults.
mod strategies;

// Streaming: TTFT, ITL, TPOT and token counts for every strategy; broken streams fail.
mod streaming;

// Output formats from real runs: .hlog read back, report.json schema, .hgrm files per series, charts.
mod formats;

// Tuning: open-loop stalls, sweeps and recommendations, throttling against the limiter.
mod tuning;

// Reliability and security: fault matrix, dying target, open files, secrets, bad --out.
mod reliability;

// The command line: parsing, exit codes, nothing written on bad input.
mod cli;

// Trust: the same faults for every strategy, one deadline, spilled logs, wrong targets, secrets,
// bounded bodies, visible settings, figures that mean what they say.
mod trust;

// Real endpoints: HTTPS and HTTP/2 for every strategy, protocols and connections reported.
mod wire;

// APIs beyond OpenAI chat: Anthropic's Messages for every strategy, its Python clients and SDK.
mod apis;

// Run modes, inputs and outputs: durations, warm-ups, headers, body files, datasets, spreads,
// SLO goodput, automatic sweeps, requests.jsonl, JSON and CSV on stdout, completions.
mod modes;

// The live view: the panel in a pseudo-terminal, progress lines without one.
mod live;

// Rounds with intervals and verdicts, `diff` and its gate, the per-second timeline.
mod rounds;

// report.html in headless Chromium: both pages render, self-contained, nothing on the console.
mod html;

// Past one machine: shards as processes, exact merges, refusals.
mod shards;

// Answers no other tool gives: --concurrency auto under a changing limit, --cpu-work and
// async-offload.
mod adaptive;

// Ending early: signals and their grace period, a dying target mid-sweep, unwritable files,
// the rules of --out, the build's commit.
mod interrupt;

// Defects found by attacking it (issue 25): bounded inputs, no panics, credentials that never
// leak, records that stay whole.
mod defects;

// External clients (issue 26): the protocol over real processes, and every shipped Python client
// meeting the same faults as the Rust strategies.
mod external;

// The architecture: layers that import only downward, a model that imports nothing, no cycles.
mod layers;

// The measurement's own error: the mock's stamps read, a known delay on the way shown as transit.
mod distortion;

// The documentation: every flag in --help is in the guide, and no flag in the guide is gone.
mod docs;
