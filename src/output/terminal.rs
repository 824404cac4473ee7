//! The terminal's face of a run: one consumer of the engine's events. It draws the progress bar
//! (or logs progress lines), prints what the run waits for and what it learnt, and at the end
//! the summary; it decides nothing the engine has not said.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;

use super::progress::{Countdown, Counts, Progress};
use crate::engine::events::{Call, Checked, Ended, Event, Renewal, Wait};
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
        countdown: None,
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
    /// The wait being counted down, if one is.
    countdown: Option<Countdown>,
}

/// Whole seconds, as people read them.
fn secs(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

impl Shown<'_> {
    fn event(&mut self, event: Event) {
        let terminal = self.face.terminal;
        if !matches!(event, Event::Waiting { .. }) {
            self.countdown = None;
        }
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
                let (checked, r) = (self.checked, results.display());
                say_before_sending(checked);
                tracing::info!(
                    "sending up to {} to {base_url} at {rate} (up to {concurrency} at once); results: {r}",
                    crate::plural(rows, "row", "rows"),
                );
                self.progress = Some(Progress::new(terminal, checked.rows));
            }
            Event::Request {
                call: Call::Create { .. },
                ..
            } => {
                let c = &mut self.counts;
                c.requests += 1;
                c.first_request.get_or_insert_with(std::time::Instant::now);
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
            Event::Waiting { wait, duration } => {
                let what = waiting(terminal, wait, duration);
                self.countdown = what.and_then(|w| Countdown::start(terminal, w, duration));
            }
            Event::LookedUp { found, .. } => match found {
                Ok(n) => tracing::info!(
                    "{} on the account",
                    crate::plural(n as u64, "of those names is", "of those names are")
                ),
                Err(e) => {
                    tracing::warn!("cannot list the account to check rows with no known outcome: {e}")
                }
            },
            Event::PageCap { cap } => {
                tracing::info!("the API lists at most {cap} broadcasts a page; listing again")
            }
            Event::Down { failures, last } => tracing::warn!(
                "the API is not answering ({failures} failures in a row, last: {last}); holding every row until it does"
            ),
            Event::Up { after } => {
                tracing::warn!("the API answers again after {}; going on", secs(after))
            }
            Event::Renewing(why) => tracing::info!(
                "{}; logging in again",
                match why {
                    Renewal::Expiring => "the token is about to expire",
                    Renewal::Refused => "the token was rejected (401)",
                }
            ),
            Event::FailedRows { path, written } => failed_rows(terminal, &path, written),
            Event::Ended(ended) => self.ended(&ended),
        }
    }

    /// A row handled while sending: final (`Some(status)`) or kept for the lookup. Failed are
    /// the rows sent that did not succeed; a row the run stopped before sending is not one.
    fn row(&mut self, status: Option<Status>) {
        let c = &mut self.counts;
        c.done += 1;
        match status {
            Some(Status::Created) => c.created += 1,
            Some(Status::Invalid) => self.invalid += 1,
            Some(Status::Rejected | Status::Failed | Status::Unknown) => c.failed += 1,
            Some(Status::NotAttempted) | None => {}
        }
        if let Some(p) = &mut self.progress {
            p.update(*c);
        }
    }

    /// A row counted created is decided again.
    fn doubted(&mut self, o: &Outcome) {
        tracing::warn!("line {}: {}", o.line, o.message);
        let c = &mut self.counts;
        c.created = c.created.saturating_sub(1);
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
        if ended.left > 0 && ended.fatal.is_none() {
            terminal.say(&left_over(ended));
        }
        if let Some(why) = &ended.fatal {
            terminal.error(why);
        }
    }
}

/// Where the rows that did not succeed were written, or why they could not be.
fn failed_rows(terminal: &Terminal, path: &std::path::Path, written: Result<u64, String>) {
    match written {
        Ok(n) => tracing::info!(
            "{} that did not succeed written to {}",
            crate::plural(n, "row", "rows"),
            path.display()
        ),
        Err(e) => terminal.error(&format!(
            "cannot write the failed rows to {}: {e}",
            path.display()
        )),
    }
}

/// What the check pass found that will not be sent.
fn say_before_sending(c: Checked) {
    if c.invalid > 0 {
        tracing::warn!(
            "{} will not be sent; the results file says why for each",
            crate::plural(c.invalid, "invalid row", "invalid rows")
        );
    }
    if c.done_before > 0 {
        tracing::info!(
            "{} created by an earlier run and will not be sent again",
            crate::plural(c.done_before, "row was", "rows were")
        );
    }
}

/// The rows that did not succeed, and the one way to go on: fix what their messages say in the
/// sheet itself, then the command that continues the run.
fn left_over(ended: &Ended) -> String {
    let s = &ended.summary;
    let to_fix = s.invalid + s.rejected;
    let what = crate::plural(ended.left, "row did not succeed", "rows did not succeed");
    let fix =
        if to_fix > 0 {
            format!(
            "fix the {} the results file gives a message for (in the sheet itself: keep its rows \
             in order and their names as they are), then ",
            crate::plural(to_fix, "invalid or rejected row", "invalid or rejected rows")
        )
        } else {
            String::new()
        };
    format!(
        "{what}: {fix}continue with\n  {}\n(rows created are not sent again; rows with no known \
         outcome are looked up on the account first)",
        ended.continue_with
    )
}

/// What the run waits for, said once as the wait begins; the words for its countdown (`{}`
/// is the time left).
fn waiting(terminal: &Terminal, wait: Wait, duration: Duration) -> Option<String> {
    match wait {
        Wait::EarlierSends => {
            terminal.say(&format!(
                "waiting {} s before looking up rows an earlier run sent without an answer (its requests may still land)",
                duration.as_secs() + 1
            ));
            Some("looking up what an earlier run sent without an answer in {}".into())
        }
        Wait::Lookup { rows } => {
            let these = if rows == 1 { "its name" } else { "their names" };
            terminal.say(&format!(
                "{} no answer; looking {these} up on the account in {} s, once {} can no longer land, before sending any again",
                crate::plural(rows as u64, "row got", "rows got"),
                duration.as_secs(),
                if rows == 1 { "its request" } else { "their requests" },
            ));
            Some(format!(
                "{} with no answer: looking {these} up on the account in {{}}",
                crate::plural(rows as u64, "row", "rows")
            ))
        }
        Wait::Outage { down_for } => {
            tracing::warn!(
                "API unreachable since {} ago; retrying in {}",
                secs(down_for),
                humantime::format_duration(Duration::from_secs(duration.as_secs().max(1)))
            );
            Some(format!(
                "the API has not answered for {}; next try in {{}}",
                secs(down_for)
            ))
        }
    }
}
