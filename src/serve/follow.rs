//! The page's consumer of a run's events: it folds them with the terminal's own tally into a
//! [`Snapshot`] of the run, which the page receives as server-sent events. A slow or closed
//! tab never holds the engine up: the snapshot is replaced, not queued.

use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::engine::events::{Event, Wait};
use crate::output::tally::{note, wait_words, Counts};

/// Lines of what happened kept for the page (the newest).
const NOTES: usize = 40;

/// Where a run is, as the page shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapshot {
    /// "checking", "sending", "looking up", "ended".
    pub phase: &'static str,
    pub rows: u64,
    pub invalid: u64,
    /// Rows created by an earlier run into the same results (not sent again).
    pub done_before: u64,
    pub to_send: u64,
    pub created: u64,
    /// Rows counted as already on the account (`--skip-existing`), not sent.
    pub existing: u64,
    pub failed: u64,
    /// Rows not settled yet.
    pub left: u64,
    pub too_many_requests: u64,
    /// Create requests a second.
    pub rate: Option<f64>,
    /// At that rate, seconds left.
    pub time_left: Option<u64>,
    /// What the run waits for (`{}` stands for the time left) and for how long, in seconds.
    pub waiting: Option<(String, u64)>,
    pub notes: Vec<Note>,
    /// The end: the summary in words, the exit code, and what stopped it if it was fatal.
    pub summary: Option<String>,
    pub exit: Option<u8>,
    pub fatal: Option<String>,
    /// Rows that did not end as created.
    pub not_created: u64,
    pub failed_rows: Option<u64>,
    pub ended: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Note {
    pub warning: bool,
    pub text: String,
}

impl Snapshot {
    fn note(&mut self, warning: bool, text: String) {
        if self.notes.len() == NOTES {
            self.notes.remove(0);
        }
        self.notes.push(Note { warning, text });
    }

    /// The run could not start, or failed as a whole.
    pub fn fatal(&mut self, why: String) {
        self.phase = "ended";
        self.fatal = Some(why);
        self.exit = Some(crate::Exit::Fatal as u8);
        self.ended = true;
    }
}

/// Fold `events` into `tx` until the stream ends.
pub async fn follow(mut events: mpsc::Receiver<Event>, tx: watch::Sender<Snapshot>) {
    let mut counts = Counts::default();
    while let Some(event) = events.recv().await {
        counts.apply(&event);
        tx.send_modify(|s| {
            fold(s, &event);
            s.created = counts.created;
            s.existing = counts.existing;
            s.failed = counts.failed;
            s.too_many_requests = counts.too_many_requests;
            if s.phase == "sending" {
                s.left = s.rows.saturating_sub(counts.done);
                s.rate = counts.rate();
                s.time_left = counts.time_left(s.rows).map(|d| d.as_secs());
            }
        });
    }
}

fn fold(s: &mut Snapshot, event: &Event) {
    // An empty failed-rows file is no news on a page that offers no link to it.
    let empty = matches!(event, Event::FailedRows { written: Ok(0), .. });
    if let Some((warning, text)) = note(event).filter(|_| !empty) {
        s.note(warning, text);
    }
    if !matches!(
        event,
        Event::Waiting { .. } | Event::Request { .. } | Event::Reply { .. }
    ) {
        s.waiting = None;
    }
    match event {
        Event::Checked(c) => {
            s.rows = c.rows;
            s.invalid = c.invalid;
            s.done_before = c.done_before;
            s.to_send = c.to_send;
            s.left = c.rows;
        }
        Event::Sending { .. } => s.phase = "sending",
        Event::SendingDone => {
            s.phase = "looking up";
            s.rate = None;
            s.time_left = None;
        }
        Event::Waiting { wait, duration } => {
            let words = wait_words(*wait, *duration);
            if words.warning || matches!(wait, Wait::Lookup { .. } | Wait::EarlierSends) {
                s.note(words.warning, words.said);
            }
            s.waiting = Some((words.while_waiting, duration.as_secs().max(1)));
        }
        Event::Stopped { reason } => s.note(false, format!("stopping: {reason}")),
        Event::FailedRows { written, .. } => s.failed_rows = written.as_ref().ok().copied(),
        Event::Ended(ended) => {
            s.phase = "ended";
            s.ended = true;
            s.left = 0;
            s.rate = None;
            s.time_left = None;
            s.waiting = None;
            s.summary = Some(ended.summary.render());
            s.exit = Some(ended.exit as u8);
            s.fatal.clone_from(&ended.fatal);
            s.not_created = ended.left;
        }
        _ => {}
    }
}

/// How often the page is sent a new snapshot at most.
pub const EVERY: Duration = Duration::from_millis(200);
