//! What becomes of a row without sending it, decided at dispatch: a row an earlier run created
//! is copied, not sent; a row an earlier run left uncertain is judged by the listing taken at
//! the start ([`super::lookup::account_at_start`]); a row whose name was on the account before
//! is counted as done with `--skip-existing`, sent with `--allow-existing-names`, and otherwise
//! never reaches here (the run stops first, in [`super::authorise`]). Everything else is sent.

use std::sync::Arc;

use super::agree;
use super::claims::Held;
use super::counts::{Counts, Unsent};
use super::errors::ListingError;
use super::record::Record;
use super::row::{Job, ToSend};
use super::whose::{Verdicts, Whose};
use crate::ledger::baseline::Baseline;
use crate::ledger::outcome::{Outcome, Status};
use crate::ledger::prior::Prior;
use crate::ledger::store::State;

/// What the dispatcher knows besides the rows (each of which carries what earlier runs
/// recorded of it).
pub struct Known {
    /// What was on the account before the first create.
    pub baseline: Arc<Baseline>,
    /// Rows an earlier run left uncertain, looked up at the start: each row's verdict by its
    /// name ([`super::whose`]). `None`: not listed; `Some(Err)`: the listing failed.
    pub account: Option<Result<Verdicts, ListingError>>,
    /// Rows whose names another run of this machine left uncertain, looked up at the start
    /// (against no baseline: that run's is not this one's). `None`: not listed.
    pub listed: Option<Result<Verdicts, ListingError>>,
    /// What to do with a row whose name was on the account before.
    pub existing: Existing,
    /// Where a row found on the account is recorded.
    pub record: Arc<Record>,
}

/// What becomes of a row whose name was on the account before the first create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// The run stops before sending, naming such rows (the default).
    Refuse,
    /// `--skip-existing`: it counts as created, with the older broadcast's id.
    Skip,
    /// `--allow-existing-names`: it is created anyway.
    Allow,
}

impl Existing {
    pub fn from_flags(skip: bool, allow: bool) -> Existing {
        match (skip, allow) {
            (true, _) => Existing::Skip,
            (_, true) => Existing::Allow,
            _ => Existing::Refuse,
        }
    }
}

/// What the dispatcher does with a row.
pub enum Decision {
    /// Its outcome is known without sending.
    Unsent(Outcome),
    Send(ToSend),
}

/// A row to send, as the dispatcher takes it.
fn send(
    job: (u64, u64, String),
    body: bytes::Bytes,
    entry: Option<i64>,
    namesake: bool,
) -> Decision {
    let (seq, line, name) = job;
    Decision::Send(ToSend {
        seq,
        line,
        name,
        body,
        entry,
        namesake,
    })
}

/// Decide a row the ledger holds: another run of this machine created its name, is sending it,
/// or left it uncertain.
fn decide_held(known: &Known, counts: &Unsent, job: Job, held: Held) -> Decision {
    let Job {
        seq,
        line,
        name,
        verdict,
        seen,
        ..
    } = job;
    let entry = seen.entry;
    let unsent =
        |name, status, message| Decision::Unsent(Outcome::unsent(seq, line, name, status, message));
    // An invalid row is never sent, so it is reported invalid whatever its name's broadcast
    // is: never created under another row's (or its fixed copy's) broadcast.
    if let Err(msg) = &verdict {
        let msg = match &held {
            Held::Created(claim, by, _) => format!(
                "{msg} (a broadcast of this name, {}, was created on this account by {by}, from its line {})",
                claim.broadcast_id.as_deref().unwrap_or("?"),
                claim.line
            ),
            _ => msg.clone(),
        };
        return unsent(name, Status::Invalid, msg);
    }
    match held {
        Held::Busy(by) => unsent(
            name,
            Status::Unknown,
            format!("another bulkcast run on this machine, {by}, is sending this name right now; not sent. When it has finished, run again with --resume: its outcome is then reported here"),
        ),
        // Another request's send with no outcome that was not on the account when this run
        // began: the name is free (were it on the account, it would be a namesake, as below).
        Held::Other(claim, ..)
            if claim.state != State::Created && known.baseline.existing(&name).is_none() =>
        {
            match verdict {
                Ok(body) => send((seq, line, name), body, entry, false),
                Err(msg) => unsent(name, Status::Invalid, msg),
            }
        }
        // This machine's broadcast of a row that said something else: a namesake, created
        // beside on purpose only, never a row of this very record, and never reported as if it
        // were this row's.
        Held::Other(_, _, false) if known.existing == Existing::Allow => match verdict {
            Ok(body) => send((seq, line, name), body, entry, true),
            Err(msg) => unsent(name, Status::Invalid, msg),
        },
        Held::Other(claim, by, _) => unsent(name, Status::NotAttempted, format!(
            "this name was {} on this account by {by}, from its line {}, for a row that said something else; not sent. Rename the row to create it as well, or run it with --allow-existing-names",
            super::claims::what_became(&claim),
            claim.line
        )),
        Held::Created(claim, by, this_record) => {
            Counts::bump(&counts.done_before);
            let same = known.existing == Existing::Allow && !this_record;
            let mut o = Outcome::unsent(
                seq,
                line,
                name,
                Status::Created,
                format!("already created on this account by {by}, from its line {}{}{}; not sent again", claim.line, if claim.body.is_some() { " with the same content" } else { "" }, if same {
                    " (--allow-existing-names creates a name again only for a row that says something else)"
                } else {
                    ""
                }),
            );
            o.broadcast_id = claim.broadcast_id;
            Decision::Unsent(o)
        }
        Held::Uncertain(_, by) => {
            let listed = match &known.listed {
                Some(Ok(listed)) => listed,
                Some(Err(e)) => return unsent(name, Status::Unknown, format!("{by} sent it without learning the outcome, and the account could not be checked ({e}); not sent. Resume again to retry the check")),
                None => return unsent(name, Status::Unknown, format!("{by} sent it without learning the outcome, and the account was not checked; not sent")),
            };
            match (listed.get(&name), verdict) {
                (Some(Whose::Found(id)), _) => {
                    Counts::bump(&counts.found);
                    let mut o = found_on_account(seq, line, name, id.clone());
                    o.message = format!("found on the account: {by} sent it and learned no outcome; not sent again");
                    known.record.found(&o, entry);
                    Decision::Unsent(o)
                }
                (Some(Whose::Unknown(why)), _) => unsent(name, Status::Unknown, format!("{by} sent it without learning the outcome; {why}")),
                (None, _) => unsent(name, Status::Unknown, format!("{by} sent it without learning the outcome, and it was not looked up (too many rows to look up at once); not sent. Resume again to look it up")),
                (Some(Whose::Absent), Ok(body)) => {
                    let namesake = known.baseline.existing(&name).is_some();
                    send((seq, line, name), body, entry, namesake)
                }
                (Some(Whose::Absent), Err(msg)) => unsent(name, Status::Invalid, msg),
            }
        }
    }
}

/// Decide a row without sending, or hand it back to be sent.
pub fn decide(known: &Known, counts: &Unsent, mut job: Job) -> Decision {
    use Decision::Unsent as Done;
    if let Some(held) = job.seen.held.take() {
        return decide_held(known, counts, job, held);
    }
    let Job {
        seq,
        line,
        name,
        verdict,
        prior,
        seen,
    } = job;
    let entry = seen.entry;
    // Once a row: its name's forms are looked up in the baseline.
    let existing = known.baseline.existing(&name);
    let namesake = existing.is_some();
    let send = |name, body| send((seq, line, name), body, entry, namesake);
    let unsent = |name, status, message| Done(Outcome::unsent(seq, line, name, status, message));
    match (prior, verdict) {
        (Some(Prior::Created(o)), _) => {
            Counts::bump(&counts.done_before);
            Done(o.with_seq(seq))
        }
        (Some(Prior::Unknown), verdict) => match &known.account {
            Some(Ok(verdicts)) => match (verdicts.get(&name), verdict) {
                (Some(Whose::Found(id)), _) => {
                    Counts::bump(&counts.found);
                    let o = found_on_account(seq, line, name, id.clone());
                    known.record.found(&o, entry);
                    Done(o)
                }
                (Some(Whose::Unknown(why)), _) => unsent(name, Status::Unknown, format!("an earlier attempt may have created it; {why}")),
                (None, _) => unsent(name, Status::Unknown, "an earlier attempt may have created it, and it was not looked up (too many rows to look up at once); not sent. Resume again to look it up".into()),
                (Some(Whose::Absent), Ok(body)) => send(name, body),
                (Some(Whose::Absent), Err(msg)) => unsent(name, Status::Invalid, msg),
            },
            Some(Err(e)) => unsent(
                name,
                Status::Unknown,
                format!("an earlier attempt may have created it, and the account could not be checked ({e}); not sent. Resume again to retry the check"),
            ),
            None => unsent(
                name,
                Status::Unknown,
                "an earlier attempt may have created it, and the account was not checked; not sent".into(),
            ),
        },
        (_, Err(msg)) => unsent(name, Status::Invalid, msg),
        (_, Ok(body)) => match existing {
            None => send(name, body),
            Some(_) if known.existing == Existing::Allow => send(name, body),
            Some(ids) if known.existing == Existing::Skip => {
                skip_existing(known, counts, (seq, line, name), &body, &ids)
            }
            // The run stops before sending when such rows exist; this is only a safeguard.
            Some(_) => unsent(
                name,
                Status::NotAttempted,
                "a broadcast of this name was on the account before this run; not sent (see --skip-existing and --allow-existing-names)".into(),
            ),
        },
    }
}

/// `--skip-existing`, for a row whose name was on the account before the run (as `ids`): it
/// counts as already there only when one of those broadcasts says what the row says (a
/// namesake that says something else is not its campaign); otherwise it is not sent.
fn skip_existing(
    known: &Known,
    counts: &Unsent,
    (seq, line, name): (u64, u64, String),
    body: &[u8],
    ids: &[String],
) -> Decision {
    let sent: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let says = |id: &&String| {
        known
            .baseline
            .shown(id)
            .is_some_and(|shown| agree::agrees_whole(shown, &sent))
    };
    let Some(id) = ids.iter().find(says) else {
        let message = format!(
            "a broadcast of this name was on the account before this run ({}), but it says something else; not sent (--skip-existing counts a row as already there only when its broadcast says what the row says). Rename the row to create it as well, or run it with --allow-existing-names",
            ids.join(", ")
        );
        return Decision::Unsent(Outcome::unsent(
            seq,
            line,
            name,
            Status::NotAttempted,
            message,
        ));
    };
    Counts::bump(&counts.already_existing);
    let shows = known
        .baseline
        .shown(id)
        .is_some_and(|s| agree::COMPARED.iter().any(|f| !s[*f].is_null()));
    let says = if shows {
        "saying what this row says"
    } else {
        "under its name (the account's listing does not show what a broadcast says)"
    };
    let mut o = Outcome::unsent(
        seq,
        line,
        name,
        Status::Existing,
        format!("already on the account before this run, {says} (--skip-existing); not sent"),
    );
    o.broadcast_id = Some(id.clone());
    Decision::Unsent(o)
}

/// A row found on the account after an unknown outcome.
pub fn found_on_account(seq: u64, line: u64, name: String, id: String) -> Outcome {
    let mut o = Outcome::unsent(
        seq,
        line,
        name,
        Status::Created,
        "found on the account (new since the run began, and saying what this row sent) after an attempt with no answer; not sent again".into(),
    );
    o.broadcast_id = Some(id);
    o
}
