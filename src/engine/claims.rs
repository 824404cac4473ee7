//! What the ledger says of a row before it is sent: another run of this machine (or an earlier
//! run into this results file whose own record is lost) created its name on the account, has
//! it in flight, or left it uncertain. The check pass and the reader thread ask the same
//! question here, so the counts shown before sending are the rows' fates.

use chrono::{Local, TimeZone};

use crate::input::name_key;
use crate::ledger::prior::{Prior, Recorded};
use crate::ledger::store::{Claim, RunInfo, State, View};

/// A row's name as the ledger holds it, when that decides the row.
#[derive(Debug, Clone)]
pub enum Held {
    /// Created by a run of this machine: reported created, not sent. The third value says the
    /// run was an earlier one into this results file (its record lost the outcome).
    Created(Claim, String, bool),
    /// Claimed by a run that is still going: reported unknown, not sent.
    Busy(String),
    /// Sent by a run that ended without learning the outcome: looked up on the account first.
    Uncertain(Claim, String),
    /// Created, or sent without learning the outcome, by a run of this machine for a row that
    /// said something else: a namesake, not this row's campaign (the third value as for
    /// `Created`).
    Other(Claim, String, bool),
}

/// What the ledger says of one row: what decides it (if anything) and the id of the entry read,
/// which the claim must still find for the row to be sent.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub held: Option<Held>,
    pub entry: Option<i64>,
}

/// What became of a claim, for a person: "created as broadcast 42", or "sent without
/// learning the outcome".
pub fn what_became(claim: &Claim) -> String {
    match (&claim.state, &claim.broadcast_id) {
        (State::Created, Some(id)) => format!("created as broadcast {id}"),
        (State::Created, None) => "created".into(),
        _ => "sent without learning the outcome".into(),
    }
}

/// Where and when a claim was made, for a person: "run 3 (sheet.csv → sheet.results.csv,
/// started 2026-12-01 09:30)".
pub fn describe(run: Option<&RunInfo>, id: i64) -> String {
    match run {
        Some(r) => format!(
            "run {id} ({} → {}, started {})",
            r.sheet,
            r.results,
            local_time(r.started)
        ),
        None if id == 0 => "another run (which has since given the name up)".into(),
        None => format!("run {id}"),
    }
}

/// Milliseconds since 1970 as the local time, to the minute.
pub fn local_time(ms: i64) -> String {
    Local
        .timestamp_millis_opt(ms)
        .single()
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// What an earlier run's record says of a row, without its outcome.
pub fn recorded(prior: &Prior) -> Recorded {
    match prior {
        Prior::Created(_) => Recorded::Created,
        Prior::Unknown => Recorded::Unknown,
        Prior::Other => Recorded::Other,
    }
}

/// What the ledger says of the row named `name`, whose own record says `prior`; `me` is this
/// run's id in the ledger (its own claims decide nothing here).
pub fn seen(
    view: &mut View,
    (name, body): (&str, &dyn Fn() -> Option<i64>),
    prior: Option<Recorded>,
    me: Option<i64>,
) -> anyhow::Result<Seen> {
    // This record's own outcome decides a row it created: no other run sends that name again
    // (the ledger says it is created), so there is nothing to read (a resume of a million
    // created rows reads nothing).
    if prior == Some(Recorded::Created) {
        return Ok(Seen::default());
    }
    let Some(claim) = view.get(&name_key(name))? else {
        return Ok(Seen::default());
    };
    let entry = Some(claim.id);
    if Some(claim.run) == me {
        return Ok(Seen { held: None, entry });
    }
    // The name's claim is another request's; this one's may have been created before it.
    let other = claim.body.and_then(|c| body().filter(|b| *b != c));
    let other = other.filter(|_| !crate::mutant::is(crate::mutant::Mutant::LedgerByName));
    if let Some(b) = other {
        if let Some(made) = view.made(&name_key(name), b)? {
            // Not the name's entry: a row found or sent from here never takes it over.
            let run = view.run(made.run);
            let by = describe(run.as_ref(), made.run);
            let own = view.is_own(made.run);
            let held = match made.state {
                State::Created => Held::Created(made, by, own),
                _ => Held::Uncertain(made, by),
            };
            return Ok(Seen {
                held: Some(held),
                entry: None,
            });
        }
    }
    let run = view.run(claim.run);
    let (live, own) = (run.as_ref().is_none_or(|r| r.live), view.is_own(claim.run));
    let by = describe(run.as_ref(), claim.run);
    let held = match (claim.state, prior) {
        // Still going (even into this results file, if its lock was taken away).
        (State::Sent | State::Unknown, _) if live => Some(Held::Busy(by)),
        (State::Created, _) if other.is_some() => Some(Held::Other(claim, by, own)),
        (State::Created, _) => Some(Held::Created(claim, by, own)),
        // An earlier run into this results file: its journal's "unknown" is looked up as ever.
        (_, Some(Recorded::Unknown)) if own => None,
        (State::Sent | State::Unknown, _) if other.is_some() => Some(Held::Other(claim, by, own)),
        (State::Sent | State::Unknown, _) => Some(Held::Uncertain(claim, by)),
    };
    Ok(Seen { held, entry })
}
