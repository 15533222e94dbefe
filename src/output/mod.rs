//! Output: reports printed and written. The table and CSV, `report.json`, `.hgrm` and `.hlog`
//! files, charts and the HTML pages; they read the model and nothing runs here.
//!
//! - [`table`]: the terminal table, CSV and the notes under them.
//! - [`files`]: a run's and a sweep's files, written whole.
//! - [`live`]: the live view drawn while a run goes.
//! - [`hgrm`], [`hlog`]: HdrHistogram's formats ([`crate::model::hist`] holds histograms as
//!   text inside reports).
//! - [`chart`], [`sweep`], [`html`]: charts and pages.

pub(crate) mod chart;
pub(crate) mod files;
pub(crate) mod hgrm;
pub(crate) mod live;

pub(crate) mod hlog;
pub(crate) mod html;
pub(crate) mod rounds;
pub(crate) mod sweep;
pub(crate) mod table;
