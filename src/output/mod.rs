//! The output side: the results file, the progress display and the end-of-run summary.

pub mod failed;
pub mod journal;
pub mod progress;
pub mod results;
pub mod summary;
