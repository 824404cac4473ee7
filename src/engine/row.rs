//! One row's create: its `sent` on the disk before the request leaves, the request through
//! the sender, and its reply read as the row's outcome — reported, not decided
//! ([`Verdict::Replied`]; [`super::reply`] decides it). A row whose create got no answer is
//! kept, with its body, to be looked up on the account before anything is sent again
//! ([`Uncertain`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;

use bytes::Bytes;

use super::claims::Seen;
use super::counts::Counts;
use super::events::Call;
use super::ids::Ids;
use super::record::Unsynced;
use super::record::{Go, Record};
use super::sender::{FirstSlot, Sender};
use super::stop::{Severity, Stop};
use crate::input::Row;
use crate::ledger::outcome::{Outcome, Status};
use crate::ledger::prior::Prior;
use crate::net::client::{self, Reply, ReplyKind};

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
    /// What the ledger holds of its name.
    pub seen: Seen,
}

impl Job {
    pub fn new(row: Row, prior: Option<Prior>, seen: Seen) -> Job {
        Job {
            seq: row.seq,
            line: row.line,
            name: row.name,
            verdict: row.verdict.map(|req| req.to_body()),
            prior,
            seen,
        }
    }
}

/// A row that is to be sent: where it is in the input, its name and its body.
#[derive(Debug, Clone)]
pub struct ToSend {
    pub seq: u64,
    pub line: u64,
    pub name: String,
    pub body: Bytes,
    /// The ledger entry of its name when the run decided to send it: its claim must still find
    /// that one.
    pub entry: Option<i64>,
    /// A broadcast of its name was on the account before (sent anyway).
    pub namesake: bool,
}

/// The parts a row's create uses, each owning its one resource.
#[derive(Clone)]
pub struct Parts {
    pub sender: Arc<Sender>,
    pub record: Arc<Record>,
    pub stop: Arc<Stop>,
    pub counts: Arc<Counts>,
    pub uncertain: Arc<Uncertain>,
    /// The ids the server gave this run's creates.
    pub ids: Arc<Ids<Unresolved>>,
    /// `--max-errors`: stop dispatching after this many rows sent failed.
    pub max_errors: Option<u64>,
}

impl Parts {
    /// Count a row that did not succeed, and stop dispatching at `--max-errors`.
    pub fn count_failure(&self) {
        let failures = self.counts.row_failed();
        if self.max_errors.is_some_and(|max| failures >= max) {
            self.stop.stop(
                format!("--max-errors reached ({failures} rows failed)"),
                Severity::Clean,
            );
        }
    }
}

/// What became of a row.
#[derive(Debug)]
pub enum Verdict {
    /// Its outcome, final.
    Final(Outcome),
    /// It got no answer and is kept for the lookup at the end; `unknown` until then.
    LookUp(Outcome),
    /// Its create's reply, as the row's task read it: nothing decided or recorded yet beyond its
    /// `sent`. Only [`super::reply::decide_verdict`] turns it into one of the others, in the one place
    /// that takes verdicts (the collector, or the lookup's loop for rows it sends again).
    Replied(Box<Replied>),
}

/// A create's reply as a row's task read it: the row, the outcome its reply says, and when its
/// last request left (`None` when no request did).
#[derive(Debug)]
pub struct Replied {
    pub u: Unresolved,
    pub last_sent: Option<Instant>,
}

impl Verdict {
    pub fn outcome(&self) -> &Outcome {
        match self {
            Verdict::Final(o) | Verdict::LookUp(o) => o,
            Verdict::Replied(r) => &r.u.outcome,
        }
    }

    /// This row's outcome, for a caller that decides nothing more about it.
    pub fn into_outcome(self) -> Outcome {
        match self {
            Verdict::Final(o) | Verdict::LookUp(o) => o,
            Verdict::Replied(r) => r.u.outcome,
        }
    }
}

/// The outcome of a row the run stopped before sending.
pub fn not_attempted(stop: &Stop, row: ToSend) -> Outcome {
    let why = stop.reason().unwrap_or_else(|| "the run stopped".into());
    Outcome::unsent(
        row.seq,
        row.line,
        row.name,
        Status::NotAttempted,
        format!("not sent: {why}"),
    )
}

/// Create one broadcast and say what became of it. The row's `sent` (`unsynced`, from
/// [`Record::sent`]) is on the journal's file before the first request goes out; `first` says
/// whether the caller already passed the gate for the first attempt.
pub async fn create(p: &Parts, row: ToSend, unsynced: Unsynced, first: FirstSlot) -> Verdict {
    match p.record.on_file(unsynced).await {
        Go::Send => {}
        Go::Stopped => return Verdict::Final(not_attempted(&p.stop, row)),
        Go::Taken(by) => {
            return Verdict::Final(Outcome::unsent(
                row.seq,
                row.line,
                row.name,
                Status::Unknown,
                format!(
                "another bulkcast run on this machine, {by}, took this name at the same moment; \
                     not sent. When it has finished, run again with --resume: its outcome is then \
                     reported here"
            ),
            ))
        }
    }
    Counts::bump(&p.counts.sent);
    let call = Call::Create {
        seq: row.seq,
        line: row.line,
    };
    let sent = p
        .sender
        .send(call, first, || p.sender.client.create(&row.body))
        .await;
    let (attempts, first_sent, last_sent) = (sent.attempts, sent.first_sent, sent.last_sent);
    let Some(reply) = sent.reply else {
        // No request left: the name is free again.
        let outcome = not_attempted(&p.stop, row);
        p.record.settle(&outcome);
        return Verdict::Final(outcome);
    };
    let (status, message) = judge(p, &reply, attempts);
    let broadcast_id = reply
        .body
        .as_ref()
        .and_then(client::broadcast_id)
        .filter(|_| status == Status::Created);
    let outcome = Outcome {
        seq: row.seq,
        line: row.line,
        name: row.name.clone(),
        status,
        http_status: reply.status,
        message,
        broadcast_id,
        attempts,
        elapsed: first_sent.map_or(Duration::ZERO, |t| t.elapsed()),
    };
    if outcome.status != Status::Created {
        // Counted as the reply comes, so that `--max-errors` stops the next row's dispatch.
        p.count_failure();
    }
    let sent_at = last_sent.unwrap_or_else(Instant::now);
    let first_sent = crate::clock::now() - outcome.elapsed;
    Verdict::Replied(Box::new(Replied {
        u: Unresolved {
            row,
            outcome,
            sent_at,
            first_sent,
            in_lookup: p.uncertain.looking_up(),
        },
        last_sent,
    }))
}

/// Rows kept, with their bodies, for the lookup at the end of the run: beyond this (a server
/// answering 500 to everything) a row stays `unknown` for `--resume` to look up, and memory
/// stays bounded.
pub const MAX_KEPT: usize = 10_000;

/// A create's final reply as the row's status and message.
fn judge(p: &Parts, reply: &Reply, attempts: u32) -> (Status, String) {
    match reply.kind {
        ReplyKind::Ok => (Status::Created, reply.message.clone()),
        ReplyKind::Rejected => (Status::Rejected, reply.message.clone()),
        // The run has stopped, saying why (see `sender::tokens`).
        ReplyKind::Unauthorized => (Status::Failed, format!("HTTP 401: {}", reply.message)),
        ReplyKind::Unknown => (
            Status::Unknown,
            format!(
                "{}; not sent again before checking the account for its name",
                reply.message
            ),
        ),
        ReplyKind::TooManyRequests { .. } | ReplyKind::Retryable | ReplyKind::NotSent => {
            let stopped = p.stop.is_stopped() && attempts <= p.sender.max_retries();
            let tries = crate::plural(attempts, "attempt", "attempts");
            let message = if reply.status.is_some_and(|s| (200..300).contains(&s)) && !stopped {
                format!(
                    "the server answered \"{}\" to {}: it created nothing, and there is nothing \
                     in the row to fix; --resume tries again later",
                    reply.message,
                    if attempts == 1 {
                        "the one attempt".to_owned()
                    } else {
                        format!("each of {attempts} attempts")
                    }
                )
            } else if stopped {
                format!(
                    "the run stopped before the next retry, after {tries}; last: {}",
                    reply.message
                )
            } else {
                format!("gave up after {tries}; last: {}", reply.message)
            };
            (Status::Failed, message)
        }
    }
}

/// A row whose create got no answer: kept (with its body) to be looked up and, if absent,
/// sent again at the end of the run.
#[derive(Debug, Clone)]
pub struct Unresolved {
    pub row: ToSend,
    pub outcome: Outcome,
    /// When its last request went out.
    pub sent_at: Instant,
    /// When its first request went out, by the clock (a broadcast listed as made before it is
    /// not this row's).
    pub first_sent: SystemTime,
    /// Its outcome came while the run was looking rows up (after the sending pass): not yet
    /// counted, nor given as a `Row` event.
    pub in_lookup: bool,
}

/// The rows of this run whose create got no answer, for the lookup at the end; and the rows
/// whose outcome was withdrawn after it was given (their id was given to another row too).
#[derive(Default)]
pub struct Uncertain {
    kept: std::sync::Mutex<Vec<Unresolved>>,
    withdrawn: std::sync::Mutex<Withdrawn>,
    looking_up: std::sync::atomic::AtomicBool,
}

/// Rows that had their final outcome (`created`) and were doubted since: their `seq`, and the
/// new outcome of those not kept for the lookup.
#[derive(Default)]
pub struct Withdrawn {
    pub seqs: std::collections::HashSet<u64>,
    pub revised: Vec<Outcome>,
}

impl Uncertain {
    /// Keep `u` for the lookup; `false` when [`MAX_KEPT`] rows are kept already.
    pub fn keep(&self, u: Unresolved) -> bool {
        let mut kept = crate::lock(&self.kept);
        if kept.len() >= MAX_KEPT {
            return false;
        }
        kept.push(u);
        true
    }

    /// The rows kept so far, by `seq`.
    pub fn kept_seqs(&self) -> std::collections::HashSet<u64> {
        crate::lock(&self.kept).iter().map(|u| u.row.seq).collect()
    }

    /// Every row kept so far, leaving none.
    pub fn take(&self) -> Vec<Unresolved> {
        std::mem::take(&mut *crate::lock(&self.kept))
    }

    /// The sending pass is over: outcomes from now on are the lookup's.
    pub fn start_lookup(&self) {
        self.looking_up
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(super) fn looking_up(&self) -> bool {
        self.looking_up.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The row at `seq`, already counted `created`, is decided again.
    pub(super) fn withdraw(&self, seq: u64) {
        crate::lock(&self.withdrawn).seqs.insert(seq);
    }

    /// A withdrawn row's new outcome, final without a lookup.
    pub(super) fn revise(&self, o: Outcome) {
        crate::lock(&self.withdrawn).revised.push(o);
    }

    /// The rows withdrawn so far, leaving none.
    pub fn take_withdrawn(&self) -> Withdrawn {
        std::mem::take(&mut *crate::lock(&self.withdrawn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::events::Events;
    use crate::engine::sender;
    use crate::ledger::journal::Journal;
    use crate::mock::{MockOptions, MockServer};
    use crate::net::client::Client;
    use crate::net::gate::Gate;
    use crate::net::Rate;
    use crate::secret::Secret;
    use std::num::NonZeroU32;
    use std::sync::Mutex;

    fn body() -> Bytes {
        Bytes::from_static(
            br#"{"name":"Campaign 1","description":"d","phone_number_list":214864,"destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],"caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00","end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],"retry_dialstatus":[1,3]}"#,
        )
    }

    fn parts(server: &MockServer, journal: Journal) -> Parts {
        let client = Client::new(
            &server.url(),
            Some(&Secret::new(server.token())),
            Duration::from_secs(5),
            2,
        )
        .unwrap();
        let stop = Arc::new(Stop::default());
        let counts = Arc::new(Counts::default());
        // Nobody listens: events are dropped.
        let (events, _) = Events::channel();
        let sender = sender::Sender::new(
            client,
            Gate::new(Rate::Unlimited, NonZeroU32::MIN),
            sender::Parts {
                login: None,
                max_retries: 0,
                outage_wait: Duration::from_secs(60),
                stop: stop.clone(),
                counts: counts.clone(),
                events,
            },
        );
        Parts {
            sender: Arc::new(sender),
            record: Arc::new(Record::new(journal, stop.clone())),
            stop,
            counts,
            uncertain: Arc::default(),
            ids: Arc::default(),
            max_errors: None,
        }
    }

    fn row() -> ToSend {
        ToSend {
            seq: 0,
            line: 2,
            name: "Campaign 1".into(),
            body: body(),
            entry: None,
            namesake: false,
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
        let p = parts(&server, journal);
        let unsynced = p
            .record
            .sent((2, "Campaign 1"), None, (false, b"{}"))
            .unwrap();
        let verdict = create(&p, row(), unsynced, FirstSlot::Wait).await;
        assert_eq!(verdict.outcome().status, Status::Created, "{verdict:?}");
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
        let p = parts(&server, journal);
        let unsynced = p
            .record
            .sent((2, "Campaign 1"), None, (false, b"{}"))
            .unwrap();
        let verdict = create(&p, row(), unsynced, FirstSlot::Wait).await;
        assert_eq!(
            verdict.outcome().status,
            Status::NotAttempted,
            "{verdict:?}"
        );
        assert_eq!(server.stats().requests, 1, "nothing more was sent");
        assert!(p.stop.is_fatal());
    }

    #[test]
    fn rows_kept_for_the_lookup_are_bounded() {
        let kept = Uncertain::default();
        let one = || Unresolved {
            row: row(),
            outcome: Outcome::unsent(0, 2, "Campaign 1".into(), Status::Unknown, "m".into()),
            sent_at: Instant::now(),
            first_sent: crate::clock::now(),
            in_lookup: false,
        };
        assert!((0..MAX_KEPT).all(|_| kept.keep(one())));
        assert!(
            !kept.keep(one()),
            "a server answering 500 to everything grows nothing"
        );
        assert_eq!(kept.take().len(), MAX_KEPT);
        assert!(kept.keep(one()), "room again once taken");
    }
}
