//! The collector: every outcome of the sending pass, as it arrives, into the journal (`done`),
//! the ordered results file, the tally and the progress display. A write that fails stops the
//! run at once, and the rows whose creation no file then records are named.

use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use super::state::RunState;
use crate::ledger::outcome::{Outcome, Status};
use crate::output::progress::{Counts, Progress};
use crate::output::results::ResultsWriter;
use crate::output::summary::Tally;

/// What collecting came to: the results so far, and the write error that stopped it, if any.
pub(super) struct Collected {
    pub tally: Tally,
    pub write_error: Option<WriteError>,
}

/// The results could not be written: why, and the lines of rows created (or maybe created)
/// that no file records.
pub(super) struct WriteError {
    pub error: std::io::Error,
    pub unrecorded: Vec<u64>,
}

impl WriteError {
    /// The unrecorded lines, for a message.
    pub fn lines(&self) -> String {
        let mut lines = self.unrecorded.clone();
        lines.sort_unstable();
        if lines.is_empty() {
            return "none".to_owned();
        }
        lines
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Take outcomes until the sending pass ends.
pub(super) async fn collect(
    run: &RunState,
    mut outcomes: mpsc::Receiver<Outcome>,
    results: &mut ResultsWriter<std::fs::File>,
    progress: &mut Progress,
) -> Collected {
    let mut tally = Tally::default();
    let mut write_error: Option<WriteError> = None;
    while let Some(outcome) = outcomes.recv().await {
        tally.add(outcome.status);
        let (line, status) = (outcome.line, outcome.status);
        if write_error.is_none() {
            let written = run
                .journal
                .done(&outcome)
                .and_then(|()| results.push(outcome))
                .and_then(|()| {
                    // Outcomes reach the journal's file as soon as nothing else is waiting (the
                    // partial results need no flushing: the journal is what a crash leaves).
                    if outcomes.is_empty() {
                        run.journal.flush()
                    } else {
                        Ok(())
                    }
                });
            if let Err(error) = written {
                run.stop(format!("cannot write the results: {error}"), true);
                write_error = Some(WriteError {
                    error,
                    unrecorded: Vec::new(),
                });
            }
        }
        if let Some(w) = &mut write_error {
            if matches!(status, Status::Created | Status::Unknown) {
                w.unrecorded.push(line);
            }
        }
        progress.update(Counts {
            done: tally.total(),
            created: tally.get(Status::Created),
            failed: tally.unsuccessful() - tally.get(Status::Invalid),
            too_many_requests: run.too_many_requests.load(Ordering::Relaxed),
        });
    }
    progress.finish();
    Collected { tally, write_error }
}
