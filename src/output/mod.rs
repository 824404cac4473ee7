//! What a person reads: the ordered results file, the failed rows to fix and send again, the
//! end-of-run summary, and the terminal's face of a run (progress display and messages, from the
//! engine's events).

pub(crate) mod failed;
pub(crate) mod progress;
pub mod results;
pub mod summary;
pub mod terminal;
