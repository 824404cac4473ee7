//! The terminal's face of a run: one consumer of the engine's events. It draws the progress bar
//! (or logs progress lines), prints what the run waits for and what it learnt, and at the end
//! the summary; it decides nothing the engine has not said.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::progress::{Counts, Progress};
use crate::engine::events::{Checked, Ended, Event, Renewal, Wait};
use crate::ledger::outcome::{Outcome, Status};
use crate::logging::Terminal;
use crate::net::client::ReplyKind;

/// What the terminal shows besides the events: where `--summary-json` goes, and a line for the
/// end of the summary (the simulation's own count, for a rehearsal).
pub struct Face<'a> {
    pub terminal: &'a Terminal,
    pub summary_json: Option<PathBuf>,
    pub after_summary: Option<&'a dyn Fn() -> String>,
}

/// Show a run's events until the stream ends.
pub async fn show(mut events: mpsc::Receiver<Event>, face: Face<'_>) {
    let mut shown = Shown {
        face,
        checked: Checked::default(),
        progress: None,
        counts: Counts::default(),
        invalid: 0,
    };
    while let Some(event) = events.recv().await {
        shown.event(event);
    }
    if let Some(p) = shown.progress.take() {
        p.finish();
    }
}

struct Shown<'a> {
    face: Face<'a>,
    checked: Checked,
    progress: Option<Progress>,
    counts: Counts,
    invalid: u64,
}

/// Whole seconds, as people read them.
fn secs(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

impl Shown<'_> {
    fn event(&mut self, event: Event) {
        let terminal = self.face.terminal;
        match event {
            Event::Checked(c) => self.checked = c,
            Event::Baseline { existing } => {
                tracing::info!("{existing} of the sheet's names are on the account already");
            }
            Event::Sending {
                rows,
                base_url,
                rate,
                concurrency,
                results,
            } => {
                let c = self.checked;
                if c.invalid > 0 {
                    tracing::warn!(
                        "{} invalid rows will not be sent; the results file says why for each",
                        c.invalid
                    );
                }
                if c.done_before > 0 {
                    tracing::info!(
                        "{} rows were created by an earlier run and will not be sent again",
                        c.done_before
                    );
                }
                tracing::info!(
                    "sending up to {rows} rows to {base_url} at {rate} (up to {concurrency} at once); results: {}",
                    results.display()
                );
                self.progress = Some(Progress::new(terminal, c.rows));
            }
            Event::Request { .. } | Event::Stopped { .. } => {}
            Event::Reply {
                attempt,
                kind,
                message,
                ..
            } => {
                if let ReplyKind::TooManyRequests { .. } = kind {
                    self.counts.too_many_requests += 1;
                }
                if matches!(
                    kind,
                    ReplyKind::TooManyRequests { .. } | ReplyKind::Retryable | ReplyKind::NotSent
                ) {
                    tracing::debug!("attempt {attempt}: {message}");
                }
            }
            Event::Pace { rate } => tracing::debug!("429: pace now {rate:.2}/s"),
            Event::Uncertain { .. } => self.row(None),
            Event::Row(o) => self.row(Some(o.status)),
            Event::Doubted(o) => self.doubted(&o),
            Event::SendingDone => {
                if let Some(p) = self.progress.take() {
                    p.finish();
                }
            }
            Event::Waiting { wait, duration } => waiting(terminal, wait, duration),
            Event::LookedUp { found, .. } => match found {
                Ok(n) => tracing::info!("{n} of those names are on the account"),
                Err(e) => {
                    tracing::warn!("cannot list the account to check rows with no known outcome: {e}")
                }
            },
            Event::PageCap { cap } => tracing::info!(
                "the API lists at most {cap} broadcasts a page; listing again at that size"
            ),
            Event::Down { failures, last } => tracing::warn!(
                "the API is not answering ({failures} failures in a row, last: {last}); holding every row until it does"
            ),
            Event::Up { after } => {
                tracing::warn!("the API answers again after {}; going on", secs(after))
            }
            Event::Renewing(Renewal::Expiring) => {
                tracing::info!("the token is about to expire; logging in again")
            }
            Event::Renewing(Renewal::Refused) => {
                tracing::info!("the token was rejected (401); logging in again")
            }
            Event::FailedRows { path, written } => match written {
                Ok(n) => tracing::info!(
                    "{n} rows that did not succeed written to {}",
                    path.display()
                ),
                Err(e) => terminal.error(&format!(
                    "cannot write the failed rows to {}: {e}",
                    path.display()
                )),
            },
            Event::Ended(ended) => self.ended(&ended),
        }
    }

    /// A row handled while sending: final (`Some(status)`) or kept for the lookup.
    fn row(&mut self, status: Option<Status>) {
        let c = &mut self.counts;
        c.done += 1;
        match status {
            Some(Status::Created) => c.created += 1,
            Some(Status::Invalid) => self.invalid += 1,
            _ => {}
        }
        c.failed = c.done - c.created - self.invalid;
        if let Some(p) = &mut self.progress {
            p.update(*c);
        }
    }

    /// A row counted created is decided again.
    fn doubted(&mut self, o: &Outcome) {
        tracing::warn!("line {}: {}", o.line, o.message);
        let c = &mut self.counts;
        c.created = c.created.saturating_sub(1);
        c.failed = c.done - c.created - self.invalid;
        if let Some(p) = &mut self.progress {
            p.update(*c);
        }
    }

    fn ended(&self, ended: &Ended) {
        let terminal = self.face.terminal;
        terminal.say(&ended.summary.render());
        if let Some(after) = self.face.after_summary {
            terminal.say(&after());
        }
        if let Some(path) = &self.face.summary_json {
            let json = serde_json::to_vec_pretty(&ended.summary).expect("summary serialises");
            if let Err(e) = std::fs::write(path, json) {
                tracing::warn!("cannot write the summary to {}: {e}", path.display());
            }
        }
        if ended.left > 0 {
            terminal.say(&format!(
                "{} rows did not succeed: once the cause is fixed, `--resume` sends them again (rows created are skipped)",
                ended.left
            ));
        }
        if let Some(why) = &ended.fatal {
            terminal.error(why);
        }
    }
}

/// What the run waits for, said once as the wait begins.
fn waiting(terminal: &Terminal, wait: Wait, duration: Duration) {
    match wait {
        Wait::EarlierSends => terminal.say(&format!(
            "waiting {} s before looking up rows an earlier run sent without an answer (its requests may still land)",
            duration.as_secs() + 1
        )),
        Wait::Lookup { rows } => terminal.say(&format!(
            "{rows} rows got no answer; looking their names up on the account (in {} s, once their requests can no longer land) before sending any again",
            duration.as_secs()
        )),
        Wait::Outage { down_for } => tracing::warn!(
            "API unreachable since {} ago; retrying in {}",
            secs(down_for),
            humantime::format_duration(Duration::from_secs(duration.as_secs().max(1)))
        ),
    }
}
