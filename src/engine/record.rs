//! The record: the run's journal and the ledger, written before each request leaves and after
//! each outcome arrives. A write that fails stops the run at once (fatal), with the advice in
//! [`RecordError`]; the caller only learns whether it may go on.
//!
//! Before a row's request leaves, two things are on the disk: its `sent` in the journal beside
//! the results, and its name's claim in the ledger (which another run may hold already: then the
//! row is not sent, [`Go::Taken`]). Both are group commits: the rows released together wait for
//! one sync of each.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::claims;
use super::errors::RecordError;
use super::stop::{Severity, Stop};
use crate::input::name_key;
use crate::ledger::journal::{self, Journal};
use crate::ledger::outcome::{Outcome, Status};
use crate::ledger::store::{body_digest, Claimed, Ledger, Settle};

pub struct Record {
    journal: Journal,
    ledger: Option<Arc<Ledger>>,
    stop: Arc<Stop>,
    /// Describes a run by its id, for a row another run took.
    describe: Box<dyn Fn(i64) -> String + Send + Sync>,
}

/// A row's `sent` and claim, appended but perhaps not yet on the disk: pass it to
/// [`Record::on_file`] before sending the request.
#[must_use = "a request may go out only once its record is on the disk"]
pub struct Unsynced {
    journal: journal::Unsynced,
    claim: Option<oneshot::Receiver<Result<Claimed, String>>>,
}

/// Whether a row's request may leave.
#[derive(Debug)]
pub enum Go {
    Send,
    /// The record could not be written: the run is stopped.
    Stopped,
    /// Another run holds the name: who.
    Taken(String),
}

impl Record {
    pub fn new(journal: Journal, stop: Arc<Stop>) -> Record {
        Record {
            journal,
            ledger: None,
            stop,
            describe: Box::new(|id| format!("run {id}")),
        }
    }

    /// The same, claiming every name in `ledger` too.
    pub fn with_ledger(
        mut self,
        ledger: Arc<Ledger>,
        describe: Box<dyn Fn(i64) -> String + Send + Sync>,
    ) -> Record {
        self.ledger = Some(ledger);
        self.describe = describe;
        self
    }

    /// Append the `sent` of a row about to be sent, and ask for its name's claim; `None` (and
    /// the run stopped) when the journal cannot be written.
    /// `entry` is the ledger entry of the name the run read before deciding to send it (the
    /// claim must still find it), `namesake` whether an older broadcast had the name, `body`
    /// the request (its digest is kept with the claim).
    pub fn sent(
        &self,
        (line, name): (u64, &str),
        entry: Option<i64>,
        (namesake, body): (bool, &[u8]),
    ) -> Option<Unsynced> {
        let journal = self
            .journal
            .sent(line, name)
            .map_err(|e| self.failed(e))
            .ok()?;
        let claim = self.ledger.as_ref().map(|l| {
            let key = name_key(name).into_owned();
            l.claim(key, (line, name), entry, (namesake, body_digest(body)))
        });
        Some(Unsynced { journal, claim })
    }

    /// Wait until that `sent` and claim are on the disk.
    pub async fn on_file(&self, unsynced: Unsynced) -> Go {
        if let Err(e) = self.journal.on_file(unsynced.journal).await {
            self.failed(e);
            return Go::Stopped;
        }
        let Some(claim) = unsynced.claim else {
            return Go::Send;
        };
        match claim.await {
            Ok(Ok(Claimed::Ours)) if !self.stop.is_fatal() => Go::Send,
            Ok(Ok(Claimed::Ours)) => Go::Stopped,
            Ok(Ok(Claimed::Taken { .. }))
                if crate::mutant::is(crate::mutant::Mutant::ForgetClaims) =>
            {
                Go::Send
            }
            Ok(Ok(Claimed::Taken { run })) => Go::Taken((self.describe)(run)),
            Ok(Err(e)) => {
                self.stop
                    .stop(RecordError::Ledger(e).to_string(), Severity::Fatal);
                Go::Stopped
            }
            Err(_) => {
                let e = "its writer stopped".to_owned();
                self.stop
                    .stop(RecordError::Ledger(e).to_string(), Severity::Fatal);
                Go::Stopped
            }
        }
    }

    /// What the claim of a row this run sent (or meant to) has become.
    pub fn settle(&self, o: &Outcome) {
        let Some(ledger) = &self.ledger else {
            return;
        };
        let to = match o.status {
            Status::Created => Settle::Created(o.broadcast_id.clone()),
            Status::Unknown => Settle::Unknown,
            _ => Settle::Free,
        };
        ledger.settle(name_key(&o.name).into_owned(), to);
    }

    /// A row found created on the account before this run sent it (its name's ledger entry,
    /// if there was one, is `entry`).
    pub fn found(&self, o: &Outcome, entry: Option<i64>) {
        let (Some(ledger), Some(id)) = (&self.ledger, &o.broadcast_id) else {
            return;
        };
        let key = name_key(&o.name).into_owned();
        ledger.found(key, (o.line, &o.name), id.clone(), entry);
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
        self.settle(o);
        if let Err(e) = self.journal.done(o).and_then(|()| self.journal.flush()) {
            self.stop
                .stop(RecordError::JournalLookup(e).to_string(), Severity::Fatal);
        }
    }

    /// Wait until the ledger holds everything recorded so far.
    pub async fn synced(&self) -> Result<(), String> {
        match &self.ledger {
            Some(l) => l.synced().await,
            None => Ok(()),
        }
    }

    fn failed(&self, e: std::io::Error) {
        self.stop
            .stop(RecordError::Journal(e).to_string(), Severity::Fatal);
    }
}

/// How a row's message names another run: "run 3 (sheet.csv → results.csv, started …)"; each
/// run is read from the ledger once.
pub fn describer(
    dir: std::path::PathBuf,
    account: crate::ledger::store::Account,
) -> Box<dyn Fn(i64) -> String + Send + Sync> {
    let known = std::sync::Mutex::new(std::collections::HashMap::new());
    Box::new(move |id| {
        crate::lock(&known)
            .entry(id)
            .or_insert_with(|| {
                let run = crate::ledger::store::View::open(&dir, &account, "")
                    .ok()
                    .and_then(|mut v| v.run(id));
                claims::describe(run.as_ref(), id)
            })
            .clone()
    })
}
