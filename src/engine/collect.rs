//! The collector: every verdict of the sending pass, as it arrives, into the journal (`done`)
//! and the ordered results file, and out as an event. A write that fails stops the run at once,
//! and the rows whose creation no file then records are named.
//!
//! The tally counts final outcomes only; a row kept for the lookup is counted once the lookup
//! decides it ([`Collected::finish_uncertain`]), so the summary's counts are the `Row` events'.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, Semaphore};

use super::errors::RecordError;
use super::events::{Event, Events};
use super::reply;
use super::row::{Parts, Verdict};
use super::stop::Severity;
use crate::ledger::outcome::{Outcome, Status};
use crate::output::results::ResultsWriter;
use crate::output::summary::Tally;

/// What collecting came to: the final outcomes' tally, and the write error that stopped it, if
/// any.
pub struct Collected {
    pub tally: Tally,
    pub write_error: Option<WriteError>,
}

/// The results could not be written: why, and the lines of rows created (or maybe created)
/// that no file records.
pub struct WriteError {
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

/// Take verdicts until the sending pass ends.
pub async fn collect(
    parts: &Parts,
    events: &Events,
    mut verdicts: mpsc::Receiver<Verdict>,
    results: &mut ResultsWriter<std::fs::File>,
    window: &Semaphore,
) -> Collected {
    let (record, stop) = (&parts.record, &parts.stop);
    let mut c = Collected {
        tally: Tally::default(),
        write_error: None,
    };
    while let Some(verdict) = verdicts.recv().await {
        // What a row's task saw is decided here, one verdict at a time.
        let (verdict, earlier) = reply::decide_verdict(parts, verdict);
        let (line, status) = (verdict.outcome().line, verdict.outcome().status);
        let event = match &verdict {
            Verdict::Final(o) => {
                c.tally.add(o.status);
                Event::Row(o.clone())
            }
            // Kept, with its outcome, in `row::Uncertain` for the lookup.
            Verdict::LookUp(o) => Event::Uncertain { seq: o.seq, line },
            Verdict::Replied(_) => unreachable!("decided above"),
        };
        let outcome = verdict.into_outcome();
        let before = results.written();
        if c.write_error.is_none() {
            let journaled = record.done(&outcome);
            let written = journaled
                .and_then(|()| results.push(outcome))
                .and_then(|()| {
                    // Outcomes reach the journal's file as soon as nothing else is waiting (the
                    // partial results need no flushing: the journal is what a crash leaves).
                    if verdicts.is_empty() {
                        record.flush()
                    } else {
                        Ok(())
                    }
                });
            if let Err(error) = written {
                let reason = RecordError::Results(error.to_string());
                stop.stop(reason.to_string(), Severity::Fatal);
                c.write_error = Some(WriteError {
                    error,
                    unrecorded: Vec::new(),
                });
            }
        }
        if let Some(w) = &mut c.write_error {
            if matches!(status, Status::Created | Status::Unknown) {
                w.unrecorded.push(line);
            }
            // Nothing is written any more: no row is dispatched after this.
            window.close();
        } else {
            let now_written = usize::try_from(results.written() - before).unwrap_or(usize::MAX);
            window.add_permits(now_written);
        }
        if let Some(earlier) = earlier {
            // Its `created` is withdrawn; the results are patched with its final outcome.
            events.emit(Event::Doubted(earlier)).await;
        }
        events.emit(event).await;
    }
    c
}

impl Collected {
    /// The last outcome of every row kept for the lookup (`lookup::resolve_unknowns` gives one
    /// for each): counted, and handed on as their final events, in input order. A row among
    /// `withdrawn` was counted `created` before it was doubted: its count moves.
    pub async fn finish_uncertain(
        &mut self,
        last: &HashMap<u64, Outcome>,
        withdrawn: &HashSet<u64>,
        events: &Events,
    ) {
        let mut rows: Vec<&Outcome> = last.values().collect();
        rows.sort_unstable_by_key(|o| o.seq);
        for o in rows {
            if withdrawn.contains(&o.seq) {
                self.tally.replace(Status::Created, o.status);
            } else {
                self.tally.add(o.status);
            }
            events.emit(Event::Row(o.clone())).await;
        }
    }
}
