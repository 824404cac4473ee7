//! Deciding a create's reply: the one place a row's outcome is settled, and the only place
//! that changes another row's.
//!
//! A row's task reads its reply and reports it ([`Verdict::Replied`]); it records nothing but
//! its `sent`. What the reply then means is decided here, by whoever takes verdicts — the
//! collector during the sending pass, the lookup's loop for the rows it sends again — one
//! verdict at a time, so no two decisions race:
//!
//! - a `created` with an id no other row of this run was given is recorded as created;
//! - a `created` with an id another row was given too is not believed, for either row: both
//!   become `unknown` and are looked up on the account ([`super::ids`]); the other row's
//!   `created`, if it was counted, is withdrawn (handed back for a `Doubted` event);
//! - anything else is recorded as it is; a row left `unknown` is kept for the lookup.

use super::ids::Repeat;
use super::row::{Parts, Replied, Unresolved, Verdict, MAX_KEPT};
use crate::ledger::outcome::{Outcome, Status};

/// Decide `verdict` if it is a reply reported and not yet decided ([`decide`]); any other is
/// final already.
pub fn decide_verdict(p: &Parts, verdict: Verdict) -> (Verdict, Option<Outcome>) {
    match verdict {
        Verdict::Replied(r) => decide(p, *r),
        v => (v, None),
    }
}

/// Decide the reply `r` reported: this row's verdict, and the new outcome of an earlier row
/// whose `created` it withdraws (already counted and given its `Row` event), if any.
fn decide(p: &Parts, r: Replied) -> (Verdict, Option<Outcome>) {
    let Replied { mut u, last_sent } = r;
    let r_created = u.outcome.status == Status::Created;
    let (earlier, settled) = match u.outcome.broadcast_id.clone() {
        Some(id) => repeated(p, &id, &mut u),
        None => (None, false),
    };
    if u.outcome.status != Status::Created && r_created {
        // A "created" not believed (its id was another row's too) counts as a row that did
        // not succeed, toward `--max-errors`, as a failure does when its reply comes.
        p.count_failure();
    }
    if let (Status::Created, Some(at)) = (u.outcome.status, last_sent) {
        p.counts.created(at);
    }
    if !settled {
        p.record.settle(&u.outcome);
    }
    (keep_if_unknown(p, u), earlier)
}

/// The verdict on `u`: final, or kept for the lookup when it is `unknown` (and there is room).
fn keep_if_unknown(p: &Parts, u: Unresolved) -> Verdict {
    if u.outcome.status != Status::Unknown {
        return Verdict::Final(u.outcome);
    }
    let outcome = u.outcome.clone();
    if !p.uncertain.keep(u) {
        let mut outcome = outcome;
        outcome.message = format!(
            "{}; over {MAX_KEPT} rows of this run got no answer, so this one is not looked up \
             before the run ends: --resume looks it up",
            outcome.message
        );
        return Verdict::Final(outcome);
    }
    Verdict::LookUp(outcome)
}

/// Note that the server gave `u`'s row the id `id`. When it gave that id to another row of this
/// run too, neither reply is believed: this row's outcome becomes `unknown`, and so does the
/// other's (its new outcome is returned when that row was counted already; it is kept for the
/// lookup, and the journal and ledger are told). Whether this row's `created` was recorded is
/// the second value.
fn repeated(p: &Parts, id: &str, u: &mut Unresolved) -> (Option<Outcome>, bool) {
    let this = u.clone();
    let created = u.outcome.clone();
    let Repeat::Again(earlier) = p.ids.note(id, this, || p.record.settle(&created)) else {
        return (None, true);
    };
    let fault = |other: &str| {
        format!(
            "the server answered \"created\" with broadcast id {id}, the id it gave {other} too: \
             one of the two replies is wrong (a server or gateway fault), so the row is looked \
             up on the account by name before anything is sent again"
        )
    };
    let earlier_line = earlier
        .as_ref()
        .map_or("another row of this run".to_owned(), |e| {
            format!("line {}", e.row.line)
        });
    u.outcome.status = Status::Unknown;
    u.outcome.broadcast_id = None;
    u.outcome.message = fault(&earlier_line);
    let Some(mut e) = earlier else {
        return (None, false);
    };
    e.outcome.status = Status::Unknown;
    e.outcome.broadcast_id = None;
    e.outcome.message = fault(&format!("line {}", u.row.line));
    // The journal and the ledger say `unknown` for it from now on.
    p.record.replace(&e.outcome);
    let counted = !e.in_lookup;
    if counted {
        p.uncertain.withdraw(e.row.seq);
    }
    let verdict = keep_if_unknown(p, *e);
    if let Verdict::Final(o) = &verdict {
        p.uncertain.revise(o.clone());
    }
    // Only a row already counted (and given its `Row`) is withdrawn; one met in the lookup
    // is decided by it.
    (counted.then(|| verdict.into_outcome()), false)
}
