//! The sending pass: the reader thread that streams rows in, the dispatcher that decides what
//! becomes of each one, and the row task that creates one broadcast and says what came of it.
//!
//! ```text
//! reader thread ──rows──▶ dispatcher ──spawn (≤ concurrency)──▶ row tasks ──outcomes──▶ collector
//!  (RowReader)   bounded   (reconcile::settle decides rows       (journal "sent", gate,    (mod.rs)
//!                           it can without sending)               client, retries)
//! ```
//!
//! Both channels are bounded, so a million-row file never sits in memory; a semaphore caps the
//! requests in flight while the gate caps their rate.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, Semaphore};

use super::reconcile::{self, Decision, Known};
use super::state::RunState;
use crate::input::{Row, RowReader, Watched};
use crate::ledger::journal::Pending;
use crate::ledger::outcome::{Outcome, Status};
use crate::ledger::prior::{Lookup, Prior};
use crate::net::client::{self, Reply, ReplyKind};

/// Rows handed from the reader thread to the dispatcher at a time: one wake-up per batch rather
/// than per row.
pub(super) const ROW_BATCH: usize = 64;

/// A row as the dispatcher takes it, with its request already turned into the body that is
/// sent and what earlier runs recorded of it: the reader thread does that, off the thread that
/// sends.
pub struct Job {
    pub seq: u64,
    pub line: u64,
    pub name: String,
    /// The JSON body, or why the row is invalid.
    pub verdict: Result<Bytes, String>,
    /// What earlier runs recorded (`--resume`).
    pub prior: Option<Prior>,
}

impl Job {
    fn new(row: Row, prior: Option<Prior>) -> Job {
        Job {
            seq: row.seq,
            line: row.line,
            name: row.name,
            verdict: row.verdict.map(|req| req.to_body()),
            prior,
        }
    }
}

/// A row that is to be sent: where it is in the input, its name and its body.
#[derive(Clone)]
pub struct ToSend {
    pub seq: u64,
    pub line: u64,
    pub name: String,
    pub body: Bytes,
}

/// What the reader thread reads: the input (the same open file the check pass read, watched
/// for changes) and the record of earlier runs.
pub(super) struct Source {
    pub reader: RowReader,
    pub watch: Watched,
    /// The hash of what the check pass read.
    pub digest: u64,
    pub prior: Lookup,
}

impl Source {
    /// The reader thread: stream rows, in batches, into the bounded channel until the input
    /// ends. Before a batch is handed on, the input must still be the file that was checked; if
    /// it is not, the run stops at once (fatal) and the batch is not sent.
    pub(super) fn read(mut self, run: &RunState, tx: mpsc::Sender<Vec<Job>>) -> anyhow::Result<()> {
        let mut batch = Vec::with_capacity(ROW_BATCH);
        let mut first_line = None;
        while let Some(row) = self.reader.next_row() {
            let row = match row {
                Ok(row) => row,
                // A file rewritten under the reader reads as garbage: say what happened.
                Err(e) => match self.watch.changed() {
                    Some(how) => {
                        self.changed(run, &how, first_line);
                        return Ok(());
                    }
                    None => return Err(e.into()),
                },
            };
            first_line.get_or_insert(row.line);
            let prior = self.prior.get(row.line)?;
            batch.push(Job::new(row, prior));
            if batch.len() == ROW_BATCH {
                if let Some(how) = self.watch.changed() {
                    self.changed(run, &how, first_line);
                    return Ok(());
                }
                first_line = None;
                let full = std::mem::replace(&mut batch, Vec::with_capacity(ROW_BATCH));
                if tx.blocking_send(full).is_err() {
                    return Ok(()); // the run stopped
                }
            }
        }
        let how = self.watch.changed().or_else(|| {
            (self.watch.digest() != self.digest).then(|| "its content differs".to_owned())
        });
        if let Some(how) = how {
            self.changed(run, &how, first_line);
            return Ok(());
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        Ok(())
    }

    fn changed(&self, run: &RunState, how: &str, from: Option<u64>) {
        let unread = match from {
            Some(line) => {
                format!("rows from line {line} on were not sent and are not in the results")
            }
            None => "every row had been handed on already".to_owned(),
        };
        run.stop(
            format!(
                "the input {} changed while the run was going ({how}): sending stopped at once; \
                 {unread}. Check the sheet; to send it as it is now, start a separate run (-o)",
                self.watch.path().display()
            ),
            true,
        );
    }
}

/// Turn rows into outcomes, at most `concurrency` sends at once; after a stop, every remaining
/// row is `not_attempted`.
///
/// The dispatcher is the pacer for first attempts: it takes a slot and passes the gate before it
/// spawns a row's task, so broadcasts are created in the sheet's order (retries then take their
/// turn at the same gate).
pub(super) async fn dispatch(
    run: Arc<RunState>,
    known: Arc<Known>,
    mut batches: mpsc::Receiver<Vec<Job>>,
    out: mpsc::Sender<Outcome>,
    concurrency: usize,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut rows = Vec::new().into_iter();
    loop {
        let Some(row) = rows.next() else {
            match batches.recv().await {
                Some(batch) => rows = batch.into_iter(),
                None => break,
            }
            continue;
        };
        let row = match reconcile::settle(&known, &run.settled, row) {
            Decision::Settled(outcome) => {
                let _ = out.send(outcome).await;
                continue;
            }
            Decision::Send(row) => row,
        };
        let slot = tokio::select! {
            biased;
            _ = run.stop.cancelled() => None,
            slot = slots.clone().acquire_owned() => slot.ok(),
        };
        let cleared = slot.is_some() && run.cleared().await;
        // Appended here, written by the first of the rows released together to run.
        let pending = slot
            .filter(|_| cleared)
            .and_then(|slot| Some((slot, run.record_sent(row.line, &row.name)?)));
        let Some((slot, pending)) = pending else {
            let _ = out.send(not_attempted(&run, row)).await;
            continue;
        };
        let (run, out) = (run.clone(), out.clone());
        // A row's task holds its slot until its outcome is handed on. (Plain tasks, not a
        // JoinSet: the slots already say when all are done.)
        tokio::spawn(async move {
            let outcome = process(&run, row, pending, true).await;
            let _ = out.send(outcome).await;
            drop(slot);
        });
    }
    // Every row's task has finished once every slot is free again.
    let all = u32::try_from(concurrency).expect("concurrency fits the semaphore");
    let _ = slots.acquire_many(all).await;
}

/// The outcome of a row the run stopped before sending.
pub(super) fn not_attempted(run: &RunState, row: ToSend) -> Outcome {
    let why = run
        .stop_reason()
        .unwrap_or_else(|| "the run stopped".into());
    Outcome::unsent(
        row.seq,
        row.line,
        row.name,
        Status::NotAttempted,
        format!("not sent: {why}"),
    )
}

/// Create one broadcast and say what became of it. The row's `sent` event (`pending`, from
/// [`RunState::record_sent`]) is on the journal's file before the first request goes out;
/// `cleared` says the caller already passed the gate for the first attempt.
pub(super) async fn process(
    run: &RunState,
    row: ToSend,
    pending: Pending,
    cleared: bool,
) -> Outcome {
    if let Err(e) = run.journal.on_file(pending).await {
        run.journal_failed(&e);
        return not_attempted(run, row);
    }
    run.sent.fetch_add(1, Ordering::Relaxed);
    let sent = run.send(cleared, || run.client.create(&row.body)).await;
    let (attempts, first_sent, last_sent) = (sent.attempts, sent.first_sent, sent.last_sent);
    let Some(reply) = sent.reply else {
        return not_attempted(run, row);
    };
    let (status, message) = judge(run, &reply, attempts);
    if status == Status::Created {
        if let Some(at) = last_sent {
            run.created(at);
        }
    } else {
        run.row_failed();
    }
    let outcome = Outcome {
        seq: row.seq,
        line: row.line,
        name: row.name.clone(),
        status,
        http_status: reply.status,
        message,
        broadcast_id: reply
            .body
            .as_ref()
            .and_then(client::broadcast_id)
            .filter(|_| status == Status::Created),
        attempts,
        elapsed: first_sent.map_or(Duration::ZERO, |t| t.elapsed()),
    };
    if status == Status::Unknown {
        let sent_at = last_sent.unwrap_or_else(Instant::now);
        reconcile::remember(run, row, &outcome, sent_at);
    }
    outcome
}

/// A create's final reply as the row's status and message.
fn judge(run: &RunState, reply: &Reply, attempts: u32) -> (Status, String) {
    match reply.kind {
        ReplyKind::Ok => (Status::Created, reply.message.clone()),
        ReplyKind::Rejected => (Status::Rejected, reply.message.clone()),
        // The run has stopped, saying why (see `tokens`).
        ReplyKind::Unauthorized => (Status::Failed, format!("HTTP 401: {}", reply.message)),
        ReplyKind::Unknown => (
            Status::Unknown,
            format!(
                "{}; not sent again before checking the account for its name",
                reply.message
            ),
        ),
        ReplyKind::TooManyRequests { .. } | ReplyKind::Retryable | ReplyKind::NotSent => {
            let stopped = run.stop.is_cancelled() && attempts <= run.max_retries;
            let why = if stopped {
                "the run stopped before the next retry"
            } else {
                "gave up"
            };
            (
                Status::Failed,
                format!("{why} after {attempts} attempts; last: {}", reply.message),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Rate;
    use crate::ledger::journal::Journal;
    use crate::mock::{MockOptions, MockServer};
    use crate::net::client::Client;
    use crate::net::gate::Gate;
    use crate::secret::Secret;
    use std::num::NonZeroU32;
    use std::sync::Mutex;

    fn body() -> Bytes {
        Bytes::from_static(
            br#"{"name":"Campaign 1","description":"d","phone_number_list":214864,"destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],"caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00","end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],"retry_dialstatus":[1,3]}"#,
        )
    }

    fn run_state(server: &MockServer, journal: Journal) -> RunState {
        let client = Client::new(
            &server.url(),
            Some(&Secret::new(server.token())),
            Duration::from_secs(5),
            2,
        )
        .unwrap();
        RunState::new(
            None,
            client,
            Gate::new(Rate::Unlimited, NonZeroU32::MIN),
            journal,
            crate::cmd::submit::state::Limits {
                max_retries: 0,
                max_errors: None,
                outage_wait: Duration::from_secs(60),
            },
        )
    }

    fn row() -> ToSend {
        ToSend {
            seq: 0,
            line: 2,
            name: "Campaign 1".into(),
            body: body(),
        }
    }

    /// The journal's sync runs, and has returned, before the create request reaches the
    /// server; a sync that fails sends nothing.
    #[tokio::test]
    async fn a_rows_sent_event_is_synced_before_its_request_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let server = std::sync::Arc::new(MockServer::start(MockOptions::default()).await.unwrap());

        // What the server had received each time the journal synced.
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (watching, log) = (server.clone(), seen.clone());
        let journal = Journal::open_with_sync(
            &dir.path().join("ok.journal"),
            "T",
            Box::new(move |f: &std::fs::File| {
                f.sync_data()?;
                crate::lock(&log).push(watching.stats().requests);
                Ok(())
            }),
        )
        .unwrap();
        let run = run_state(&server, journal);
        let pending = run.record_sent(2, "Campaign 1").unwrap();
        let outcome = process(&run, row(), pending, false).await;
        assert_eq!(outcome.status, Status::Created, "{outcome:?}");
        assert_eq!(server.stats().requests, 1);
        assert_eq!(
            *crate::lock(&seen),
            [0, 0],
            "the new journal, then the row's sent: both before any request"
        );

        // The journal opens (its header synced), then the disk fails.
        let opened = std::sync::atomic::AtomicBool::new(false);
        let journal = Journal::open_with_sync(
            &dir.path().join("failing.journal"),
            "T",
            Box::new(move |f: &std::fs::File| {
                if opened.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    Err(std::io::Error::other("the disk is gone"))
                } else {
                    f.sync_data()
                }
            }),
        )
        .unwrap();
        let run = run_state(&server, journal);
        let pending = run.record_sent(2, "Campaign 1").unwrap();
        let outcome = process(&run, row(), pending, false).await;
        assert_eq!(outcome.status, Status::NotAttempted, "{outcome:?}");
        assert_eq!(server.stats().requests, 1, "nothing more was sent");
        assert!(run.is_fatal());
    }
}
