//! `plot`: redraws the charts of a saved run or sweep from its `report.json` / `sweep.json`, or
//! draws several runs side by side (`--combine`).

use crate::cli::PlotArgs;
use crate::commands::Finish;
use crate::model::error::RunError;
use crate::output::files::{combine, plot_dir};

/// Draws and lists the files written.
pub(crate) fn execute(args: &PlotArgs) -> Result<Finish, RunError> {
    let written = if args.combine.is_empty() {
        plot_dir(&args.dir)?
    } else {
        combine(&args.combine, &args.dir)?
    };
    for path in written {
        crate::commands::out(&format!("wrote {}\n", path.display()))?;
    }
    Ok(Finish::Ok)
}
