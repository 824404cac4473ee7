//! What a person reads: the ordered results file, the failed rows to fix and send again, the
//! end-of-run summary, and the terminal's face of a run (progress display and messages, from the
//! engine's events).

pub(crate) mod failed;
pub(crate) mod progress;
pub mod results;
pub mod summary;
pub mod tally;
pub mod terminal;

/// Create `path`, a new file for the user: an existing file is never replaced (`what` names
/// the file in the message).
pub fn new_file(path: &std::path::Path, what: &str) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            format!(
                "cannot write {what} {} (an existing file is never replaced: choose another path)",
                path.display()
            )
        })
}
