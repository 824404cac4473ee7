//! What a face shows of a run, folded from the engine's events once for every face: the counts
//! (rows settled, created, failed), the rate requests go out at, the time left, and the words
//! for what the run waits for. The terminal and the web page both show these, and neither
//! counts anything itself.

use std::time::{Duration, Instant};

use crate::engine::events::{Call, Event, Wait};
use crate::ledger::outcome::Status;
use crate::net::client::ReplyKind;

/// The running counts of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// Rows settled while sending: final, or kept for the lookup.
    pub done: u64,
    pub created: u64,
    /// Rows not sent because their broadcast was on the account already (`--skip-existing`).
    pub existing: u64,
    /// Rows sent that did not succeed (a row the run stopped before sending is not one).
    pub failed: u64,
    pub invalid: u64,
    pub too_many_requests: u64,
    /// Create requests sent, and when the first left: the rate shown is theirs, not that of
    /// rows settled without a request.
    pub requests: u64,
    pub first_request: Option<Instant>,
}

impl Counts {
    /// Fold one event in; whether the counts changed.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event {
            Event::Request {
                call: Call::Create { .. },
                ..
            } => {
                self.requests += 1;
                self.first_request.get_or_insert_with(Instant::now);
                false
            }
            Event::Reply {
                kind: ReplyKind::TooManyRequests { .. },
                ..
            } => {
                self.too_many_requests += 1;
                true
            }
            Event::Uncertain { .. } => self.row(None),
            Event::Row(o) => self.row(Some(o.status)),
            Event::Doubted(_) => {
                // A row counted created is decided again.
                self.created = self.created.saturating_sub(1);
                true
            }
            _ => false,
        }
    }

    fn row(&mut self, status: Option<Status>) -> bool {
        self.done += 1;
        match status {
            Some(Status::Created) => self.created += 1,
            Some(Status::Existing) => self.existing += 1,
            Some(Status::Invalid) => self.invalid += 1,
            Some(Status::Rejected | Status::Failed | Status::Unknown) => self.failed += 1,
            Some(Status::NotAttempted) | None => {}
        }
        true
    }

    /// Create requests a second since the first.
    pub fn rate(&self) -> Option<f64> {
        let secs = self.first_request?.elapsed().as_secs_f64();
        (self.requests >= 2 && secs > 0.5).then(|| (self.requests - 1) as f64 / secs)
    }

    /// What is left of `total` rows, at the rate requests are going out.
    pub fn time_left(&self, total: u64) -> Option<Duration> {
        let rate = self.rate().filter(|r| *r > 0.0)?;
        let left = Duration::from_secs_f64(total.saturating_sub(self.done) as f64 / rate);
        Some(Duration::from_secs(left.as_secs()))
    }
}

/// How a wait is said.
pub struct WaitWords {
    /// Said once as the wait begins.
    pub said: String,
    /// Worth a warning (an outage), not just a line.
    pub warning: bool,
    /// The words while it lasts, `{}` standing for the time left.
    pub while_waiting: String,
}

/// Whole seconds, as people read them.
pub fn secs(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}

/// The words for a wait of `duration` for `wait`.
pub fn wait_words(wait: Wait, duration: Duration) -> WaitWords {
    match wait {
        Wait::EarlierSends => WaitWords {
            said: format!(
                "waiting {} s before looking up rows an earlier run sent without an answer (its requests may still land)",
                duration.as_secs() + 1
            ),
            warning: false,
            while_waiting: "looking up what an earlier run sent without an answer in {}".into(),
        },
        Wait::Lookup { rows } => {
            let these = if rows == 1 { "its name" } else { "their names" };
            WaitWords {
                said: format!(
                    "{} no answer; looking {these} up on the account in {} s, once {} can no longer land, before sending any again",
                    crate::plural(rows as u64, "row got", "rows got"),
                    duration.as_secs(),
                    if rows == 1 { "its request" } else { "their requests" },
                ),
                warning: false,
                while_waiting: format!(
                    "{} with no answer: looking {these} up on the account in {{}}",
                    crate::plural(rows as u64, "row", "rows")
                ),
            }
        }
        Wait::Outage { down_for } => WaitWords {
            said: format!(
                "API unreachable since {} ago; retrying in {}",
                secs(down_for),
                humantime::format_duration(Duration::from_secs(duration.as_secs().max(1)))
            ),
            warning: true,
            while_waiting: format!(
                "the API has not answered for {}; next try in {{}}",
                secs(down_for)
            ),
        },
    }
}

/// A line worth showing for `event`, and whether it is a warning; `None` for the events a face
/// shows otherwise (counts, waits, the summary) or not at all.
pub fn note(event: &Event) -> Option<(bool, String)> {
    use crate::engine::events::Renewal;
    Some(match event {
        Event::Baseline { existing } => (
            false,
            format!("{existing} of the sheet's names are on the account already"),
        ),
        Event::LookedUp { found: Ok(n), .. } => (
            false,
            format!(
                "{} on the account",
                crate::plural(*n as u64, "of those names is", "of those names are")
            ),
        ),
        Event::LookedUp { found: Err(e), .. } => (
            true,
            format!("cannot list the account to check rows with no known outcome: {e}"),
        ),
        Event::PaceFrom { rate, age } => (
            false,
            format!(
                "--rate auto: starting at {rate:.2} requests/s, the pace the account granted this machine's last run on it ({} ago)",
                humantime::format_duration(Duration::from_secs(age.as_secs().max(60) / 60 * 60))
            ),
        ),
        Event::PageCap { cap } => (
            false,
            format!("the API lists at most {cap} broadcasts a page; listing again"),
        ),
        Event::Down { failures, last } => (
            true,
            format!(
                "the API is not answering ({failures} failures in a row, last: {last}); holding every row until it does"
            ),
        ),
        Event::Up { after } => (
            true,
            format!("the API answers again after {}; going on", secs(*after)),
        ),
        Event::Renewing(why) => (
            false,
            format!(
                "{}; logging in again",
                match why {
                    Renewal::Expiring => "the token is about to expire",
                    Renewal::Refused => "the token was rejected (401)",
                }
            ),
        ),
        Event::FailedRows {
            path,
            written: Ok(n),
        } => (
            false,
            format!(
                "{} that did not succeed written to {}",
                crate::plural(*n, "row", "rows"),
                path.display()
            ),
        ),
        Event::FailedRows {
            path,
            written: Err(e),
        } => (
            true,
            format!("cannot write the failed rows to {}: {e}", path.display()),
        ),
        Event::Doubted(o) => (true, format!("line {}: {}", o.line, o.message)),
        _ => return None,
    })
}
