//! The record: the run's journal, written before each request leaves and after each outcome
//! arrives. A write that fails stops the run at once (fatal), with the advice in
//! [`RecordError`]; the caller only learns whether it may go on.

use std::sync::Arc;

use super::errors::RecordError;
use super::stop::{Severity, Stop};
use crate::ledger::journal::{Journal, Unsynced};
use crate::ledger::outcome::Outcome;

pub struct Record {
    journal: Journal,
    stop: Arc<Stop>,
}

impl Record {
    pub fn new(journal: Journal, stop: Arc<Stop>) -> Record {
        Record { journal, stop }
    }

    /// Append the `sent` of a row about to be sent; `None` (and the run stopped) when the
    /// journal cannot be written.
    pub fn sent(&self, line: u64, name: &str) -> Option<Unsynced> {
        self.journal
            .sent(line, name)
            .map_err(|e| self.failed(e))
            .ok()
    }

    /// Wait until that `sent` is on the disk; `false` (and the run stopped) when it cannot be.
    pub async fn on_file(&self, unsynced: Unsynced) -> bool {
        match self.journal.on_file(unsynced).await {
            Ok(()) => true,
            Err(e) => {
                self.failed(e);
                false
            }
        }
    }

    /// Record an outcome, to reach the file at the next flush.
    pub fn done(&self, o: &Outcome) -> std::io::Result<()> {
        self.journal.done(o)
    }

    pub fn flush(&self) -> std::io::Result<()> {
        self.journal.flush()
    }

    /// Record an outcome that replaces an `unknown` one, and write it out at once.
    pub fn replace(&self, o: &Outcome) {
        if let Err(e) = self.journal.done(o).and_then(|()| self.journal.flush()) {
            self.stop
                .stop(RecordError::JournalLookup(e).to_string(), Severity::Fatal);
        }
    }

    fn failed(&self, e: std::io::Error) {
        self.stop
            .stop(RecordError::Journal(e).to_string(), Severity::Fatal);
    }
}
