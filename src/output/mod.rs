//! Output: reports printed and written. The table and CSV, `report.json`, `.hgrm` and `.hlog`
//! files, charts and the HTML pages; they read the model and nothing runs here.
//!
//! - [`table`]: the terminal table, CSV and the notes under them.
//! - [`files`]: a run's and a sweep's files, written whole.
//! - [`hgrm`], [`hlog`], [`hist`]: HdrHistogram formats.
//! - [`chart`], [`sweep`], [`html`]: charts and pages.

pub mod chart;
pub mod files;
pub mod hgrm;

pub mod hlog;
pub mod html;
pub mod sweep;
pub mod table;
