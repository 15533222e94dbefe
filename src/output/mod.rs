//! Output: reports printed and written. The table and CSV, `report.json`, `.hgrm` and `.hlog`
//! files, charts and the HTML pages; they read the model and nothing runs here.
//!
//! - [`table`]: the terminal table, CSV and the notes under them.
//! - [`files`]: a run's and a sweep's files, written whole.
//! - [`live`]: the live view drawn while a run goes.
//! - [`hgrm`], [`hlog`]: HdrHistogram's formats ([`crate::model::hist`] holds histograms as
//!   text inside reports).
//! - [`chart`], [`sweep`], [`html`]: charts and pages.

pub mod chart;
pub mod files;
pub(crate) mod hgrm;
pub mod live;

pub(crate) mod hlog;
pub(crate) mod html;
pub mod rounds;
pub mod sweep;
pub mod table;
