//! The terminal's face of a run: one consumer of the engine's events. It draws the progress bar
//! (or logs progress lines), prints what the run waits for and what it learnt, and at the end
//! the summary; it decides nothing the engine has not said.

use std::path::PathBuf;

use tokio::sync::mpsc;

use super::progress::{Countdown, Progress};
use super::tally::{note, wait_words, Counts};
use crate::engine::events::{Checked, Ended, Event};
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
    /// The wait being counted down, if one is.
    countdown: Option<Countdown>,
}

impl Shown<'_> {
    fn event(&mut self, event: Event) {
        let terminal = self.face.terminal;
        if !matches!(event, Event::Waiting { .. }) {
            self.countdown = None;
        }
        if self.counts.apply(&event) {
            if let Some(p) = &mut self.progress {
                p.update(self.counts);
            }
        }
        if let Some((warning, line)) = note(&event) {
            if warning {
                tracing::warn!("{line}");
            } else {
                tracing::info!("{line}");
            }
        }
        match event {
            Event::Checked(c) => self.checked = c,
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
            Event::Reply {
                attempt,
                ref kind,
                ref message,
                ..
            } if matches!(
                kind,
                ReplyKind::TooManyRequests { .. } | ReplyKind::Retryable | ReplyKind::NotSent
            ) =>
            {
                tracing::debug!("attempt {attempt}: {message}");
            }
            Event::Pace { rate } => tracing::debug!("429: pace now {rate:.2}/s"),
            Event::SendingDone => {
                if let Some(p) = self.progress.take() {
                    p.finish();
                }
            }
            Event::Waiting { wait, duration } => {
                let words = wait_words(wait, duration);
                if words.warning {
                    tracing::warn!("{}", words.said);
                } else {
                    terminal.say(&words.said);
                }
                self.countdown = Countdown::start(terminal, words.while_waiting, duration);
            }
            Event::Ended(ended) => self.ended(&ended),
            _ => {}
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
