//! Everything a run does, as typed events on one bounded channel: the terminal (progress bar,
//! log lines, summary) is one consumer, a test another, the web page a third. No face decides
//! anything: each only shows what the engine said.
//!
//! The grammar a consumer may rely on:
//!
//! - [`Event::Checked`] comes first, [`Event::Ended`] last (unless the run fails as a whole,
//!   when the engine's result carries the error and the stream just closes).
//! - A request is announced by [`Event::Request`] before it leaves, and its reply by
//!   [`Event::Reply`] with the same [`Call`] and attempt number; a create is never answered
//!   before it was sent.
//! - Every row of the input ends in exactly one [`Event::Row`], its final outcome. A row whose
//!   create got no answer is first [`Event::Uncertain`] (not final: it is looked up on the
//!   account), then gets its `Row` once the lookup decides it. The one exception is a server
//!   fault: a row whose `created` is withdrawn by [`Event::Doubted`] (its id was given to
//!   another row too) gets a second `Row`, the one that counts.
//! - The counts in the `Ended` summary are the counts of the `Row` events, by status.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::ledger::outcome::{Outcome, Status};
use crate::net::client::ReplyKind;
use crate::net::Rate;
use crate::output::summary::Summary;
use crate::Exit;

/// How many events may wait for a slow consumer before the engine waits for it.
pub const CAPACITY: usize = 1024;

/// One thing a run did or learnt.
#[derive(Debug, Clone)]
pub enum Event {
    /// The check pass read and judged every row (before anything is sent).
    Checked(Checked),
    /// The account was listed before the first create: this many of the sheet's names were on
    /// it already.
    Baseline { existing: usize },
    /// Sending begins.
    Sending {
        rows: u64,
        base_url: String,
        rate: Rate,
        concurrency: usize,
        results: PathBuf,
    },
    /// A request is about to leave (attempt 1, 2, ...).
    Request { call: Call, attempt: u32 },
    /// Its reply, or what stood for one (a timeout, a dropped connection).
    Reply {
        call: Call,
        attempt: u32,
        status: Option<u16>,
        kind: ReplyKind,
        message: String,
    },
    /// A 429 cut the pace to this many requests a second.
    Pace { rate: f64 },
    /// `--rate auto` starts from the pace the account granted a run of this machine `age`
    /// ago (requests a second, account-wide), not from 1/s.
    PaceFrom { rate: f64, age: Duration },
    /// A row's create got no answer: it is looked up on the account before anything is sent
    /// again (not final; its [`Event::Row`] follows).
    Uncertain { seq: u64, line: u64 },
    /// A row's final outcome.
    Row(Outcome),
    /// A row that had its `Row` (`created`) is decided again: the server gave its id to
    /// another row too (a server fault). Its new outcome is `unknown` until the lookup at the
    /// end decides it; a second `Row` then follows, and the counts are those of each row's
    /// last `Row`.
    Doubted(Outcome),
    /// The sending pass is over: every row has its `Row` or is `Uncertain`.
    SendingDone,
    /// The run waits for something, this long (or until it ends, for an outage).
    Waiting { wait: Wait, duration: Duration },
    /// The names of uncertain rows were looked up on the account.
    LookedUp {
        found: Result<usize, String>,
        at_start: bool,
    },
    /// The API lists at most this many broadcasts a page: the listing starts again at that size.
    PageCap { cap: usize },
    /// The API stopped answering after `failures` outage-like failures in a row.
    Down { failures: u32, last: String },
    /// The API answers again after being down this long.
    Up { after: Duration },
    /// The token is renewed.
    Renewing(Renewal),
    /// The run was stopped (the first reason given).
    Stopped { reason: String },
    /// The rows that did not succeed were written for the user to fix and send again.
    FailedRows {
        path: PathBuf,
        written: Result<u64, String>,
    },
    /// The run is over.
    Ended(Box<Ended>),
}

/// What the check pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub rows: u64,
    pub invalid: u64,
    /// Valid rows not created before: what may be sent.
    pub to_send: u64,
    /// Rows created by an earlier run.
    pub done_before: u64,
    /// Rows an earlier run sent without learning the outcome.
    pub unknown_before: u64,
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// Creating the broadcast of the row at `seq` (input order) and `line`.
    Create { seq: u64, line: u64 },
    /// A page of the account's broadcasts (the credentials check is page 1 of 1).
    List { page: u32 },
    /// Logging in with email and password.
    Login,
    /// The one cheap call that checks whether an API that was down answers again.
    Probe,
}

/// What a run waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Requests an earlier run sent without an answer may still land: their rows are looked up
    /// once they no longer can.
    EarlierSends,
    /// This run's rows that got no answer are looked up once their requests can no longer land.
    Lookup { rows: usize },
    /// The API is down: the next probe, the outage having lasted `down_for` so far.
    Outage { down_for: Duration },
}

/// Why the token is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// It is about to run out.
    Expiring,
    /// A request with it was refused (401) after it had worked.
    Refused,
}

/// The end of a run: its summary, the exit code, and the fatal reason when there is one.
#[derive(Debug, Clone)]
pub struct Ended {
    pub summary: Summary,
    pub exit: Exit,
    /// Why a fatal stop stopped the run.
    pub fatal: Option<String>,
    /// Rows that did not end as created (the rows of the failed-rows file).
    pub left: u64,
    /// The command that continues the work (`bulkcast submit SHEET --resume`, with `-o` and
    /// `--mock` where the run had them).
    pub continue_with: String,
}

impl Ended {
    /// The rows of each status, as the summary counts them.
    pub fn count(&self, status: Status) -> u64 {
        let s = &self.summary;
        match status {
            Status::Created => s.created,
            Status::Existing => s.existing,
            Status::Invalid => s.invalid,
            Status::Rejected => s.rejected,
            Status::Failed => s.failed,
            Status::Unknown => s.unknown,
            Status::NotAttempted => s.not_attempted,
        }
    }
}

/// The engine's end of the channel.
#[derive(Debug, Clone)]
pub struct Events {
    tx: mpsc::Sender<Event>,
}

impl Events {
    /// A channel of [`CAPACITY`] events.
    pub fn channel() -> (Events, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        (Events { tx }, rx)
    }

    /// Hand `event` on, waiting while the consumer is [`CAPACITY`] behind. A consumer that has
    /// gone away misses it: the run goes on and its files say what it did.
    pub async fn emit(&self, event: Event) {
        let _ = self.tx.send(event).await;
    }
}
