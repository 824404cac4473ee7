//! The reader thread of the sending pass: it streams the input again, in batches, into a
//! bounded channel for the dispatcher, each row already turned into the body that is sent and
//! paired with what earlier runs recorded of it. Before a batch is handed on, the input must
//! still be the file that was checked.

use tokio::sync::mpsc;

use super::claims;
use super::row::Job;
use super::stop::{Severity, Stop};
use crate::input::{RowReader, Watched};
use crate::ledger::prior::Lookup;
use crate::ledger::store::View;

/// How far the reader thread got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Every row of the input was handed on.
    Whole,
    /// The input changed under the run: the rows from the stop point on were not handed on.
    CutShort,
}

/// Rows handed from the reader thread to the dispatcher at a time: one wake-up per batch rather
/// than per row.
pub const ROW_BATCH: usize = 64;

/// What the reader thread reads: the input (the same open file the check pass read, watched
/// for changes) and the record of earlier runs.
pub struct Source {
    pub reader: RowReader,
    pub watch: Watched,
    /// The hash of what the check pass read.
    pub digest: u64,
    pub prior: Lookup,
    /// The ledger, and this run's id in it.
    pub ledger: Option<(View, i64)>,
}

impl Source {
    /// The reader thread: stream rows, in batches, into the bounded channel until the input
    /// ends. Before a batch is handed on, the input must still be the file that was checked; if
    /// it is not, the run stops at once (fatal) and the batch is not sent.
    pub fn read(mut self, stop: &Stop, tx: mpsc::Sender<Vec<Job>>) -> anyhow::Result<Read> {
        let mut batch = Vec::with_capacity(ROW_BATCH);
        let mut first_line = None;
        while let Some(row) = self.reader.next_row() {
            let row = match row {
                Ok(row) => row,
                // A file rewritten under the reader reads as garbage: say what happened.
                Err(e) => match self.watch.changed() {
                    Some(how) => {
                        self.changed(stop, &how, first_line);
                        return Ok(Read::CutShort);
                    }
                    None => return Err(e.into()),
                },
            };
            first_line.get_or_insert(row.line);
            let prior = self.prior.get(row.line)?;
            let seen = match &mut self.ledger {
                Some((view, me)) => {
                    let kind = prior.as_ref().map(claims::recorded);
                    let digest = || {
                        let req = row.verdict.as_ref().ok()?;
                        Some(crate::ledger::store::body_digest(&req.to_body()))
                    };
                    claims::seen(view, (&row.name, &digest), kind, Some(*me))?
                }
                None => claims::Seen::default(),
            };
            batch.push(Job::new(row, prior, seen));
            if batch.len() == ROW_BATCH {
                if let Some(how) = self.watch.changed() {
                    self.changed(stop, &how, first_line);
                    return Ok(Read::CutShort);
                }
                first_line = None;
                let full = std::mem::replace(&mut batch, Vec::with_capacity(ROW_BATCH));
                if tx.blocking_send(full).is_err() {
                    return Ok(Read::CutShort); // the dispatcher is gone
                }
            }
        }
        let how = self.watch.changed().or_else(|| {
            (self.watch.digest() != self.digest).then(|| "its content differs".to_owned())
        });
        if let Some(how) = how {
            self.changed(stop, &how, first_line);
            return Ok(Read::CutShort);
        }
        if !batch.is_empty() && tx.blocking_send(batch).is_err() {
            return Ok(Read::CutShort);
        }
        Ok(Read::Whole)
    }

    fn changed(&self, stop: &Stop, how: &str, from: Option<u64>) {
        let unread = match from {
            Some(line) => {
                format!("rows from line {line} on were not sent and are not in the results")
            }
            None => "every row had been handed on already".to_owned(),
        };
        stop.stop(
            format!(
                "the input {} changed while the run was going ({how}): sending stopped at once; \
                 {unread}. Check the sheet; to send it as it is now, start a separate run (-o)",
                self.watch.path().display()
            ),
            Severity::Fatal,
        );
    }
}
