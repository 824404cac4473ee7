//! What a person reads: the ordered results file, the failed rows to fix and send again, the
//! end-of-run summary and the progress display.

pub(crate) mod failed;
pub(crate) mod progress;
pub mod results;
pub(crate) mod summary;
