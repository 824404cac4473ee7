//! Looking uncertain rows up on the account, in one place.
//!
//! A row is *uncertain* when a create was sent for it and no usable answer came back (which
//! replies those are is [`crate::net::client`]'s classification, `ReplyKind::Unknown`: a
//! timeout or a dropped connection after the body went out, a 5xx other than 503, a 2xx without
//! a usable body), or when an earlier run journaled its `sent` and no outcome. An uncertain row
//! is never sent again blindly: the account is listed, and [`super::whose`] alone decides, per
//! row, whether a listed broadcast is its (found), none could be (absent), or it cannot be told
//! (unknown). This file only lists: once the row's request can no longer land (its timeout plus
//! `--settle` after it was sent — across processes too, as the journal records when each row
//! was sent), and again until two complete listings in a row agree (the second saw every
//! broadcast the first did), which is what proves absence; a listing that cannot be completed
//! leaves the rows `unknown` and nothing is sent for them.
//!
//! Where the rules apply:
//!
//! - At the start ([`account_at_start`]): the rows an earlier run left uncertain, for
//!   [`super::decide`] to judge as they come.
//! - At the end ([`resolve_unknowns`]): once the grace has passed, the account is listed; found
//!   rows become `created`, absent ones are sent again, for [`LOOKUP_ROUNDS`] rounds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::counts::Counts;
use super::decide;
use super::errors::ListingError;
use super::events::{Event, Wait};
use super::held::{Holders, LedgerAt};
use super::listing::{self, Keep};
use super::reply;
use super::row::{self, Parts, Unresolved, Verdict};
use super::sender::{FirstSlot, Sender};
use super::stop::Stop;
use super::whose::{self, Evidence, SentRows, Sought, Verdicts, Whose};
use crate::ledger::baseline::Baseline;
use crate::ledger::outcome::Outcome;

/// Rounds of looking up rows that got no answer (and sending the absent ones again).
const LOOKUP_ROUNDS: usize = 2;
/// Complete listings of one lookup, at most, waiting for two in a row to agree.
const MAX_LISTINGS: u32 = 5;

/// How long after a create's last send its absence may be believed: its timeout, and the
/// settling margin for a listing that lags behind a create.
#[derive(Debug, Clone, Copy)]
pub struct Grace {
    pub timeout: Duration,
    pub settle: Duration,
}

impl Grace {
    fn after(self, sent: Instant) -> Instant {
        sent + self.timeout + self.settle
    }
}

/// What a lookup's listings keep of a broadcast, by its name and id.
fn keeper<'a>(
    baseline: Option<&'a Baseline>,
    named: &'a dyn Fn(&str) -> bool,
) -> impl Fn(&str, &str) -> Keep + 'a {
    move |name, id| {
        let named = || named(name);
        match baseline.map(|b| b.is_new_id(id)) {
            Some(Some(false)) => Keep::No,
            Some(Some(true)) => Keep::Shown,
            // Not known to be new (a baseline of the sheet's names only, or none): only a
            // broadcast under one of the rows' names is judged.
            Some(None) | None if named() => Keep::Shown,
            Some(None) | None => Keep::No,
        }
    }
}

/// Look `rows` up: list the account, and again until the listings prove absence or every row
/// is found (at most [`MAX_LISTINGS`]), and let [`whose::judge`] decide each row. Broadcasts in
/// the baseline (when given) are not judged; `owned` holds the ids other rows were given, and
/// `held` is asked which listed ids the ledger holds for other requests.
async fn look(
    (sender, held): (&Sender, &mut Holders),
    rows: &[Sought],
    baseline: Option<&Baseline>,
    owned: &HashMap<String, u64>,
    max_pages: u32,
) -> Result<Vec<Whose>, ListingError> {
    let named = whose::named_by(rows);
    let keep = keeper(baseline, &named);
    let by_content = baseline.is_some_and(Baseline::is_whole);
    let rivals = held.rivals(rows).await.map_err(ListingError::Ledger)?;
    let (mut new, mut seen) = listing::list_kept(sender, &keep, max_pages).await?;
    let mut ids: HashSet<String> = new.iter().map(|b| b.id.clone()).collect();
    let (mut passes, mut proven) = (1, false);
    loop {
        if crate::mutant::is(crate::mutant::Mutant::OneListing) {
            proven = true;
        }
        if crate::mutant::is(crate::mutant::Mutant::StopOnCounts) {
            proven |= new.len() >= rows.len();
        }
        held.ask(new.iter().map(|b| b.id.as_str()))
            .await
            .map_err(ListingError::Ledger)?;
        let owned = held.owned_with(owned, rows);
        let ev = Evidence {
            new: &new,
            owned: &owned,
            rivals: &rivals,
            proven,
            by_content,
            server_ahead: sender.client.server_ahead(),
        };
        let verdicts = whose::judge(rows, &ev);
        let all_found = verdicts.iter().all(|v| matches!(v, Whose::Found(_)));
        if proven || all_found || passes >= MAX_LISTINGS {
            return Ok(verdicts);
        }
        // Absent is believed from two complete listings in a row, the second of which saw
        // every broadcast the first did: offset pages skip a broadcast only when one before it
        // goes while they are read, and that one is then missing from the next listing.
        // (Broadcasts made meanwhile only repeat one on the next page.)
        let (more, next) = listing::list_kept(sender, &keep, max_pages).await?;
        new.extend(more.into_iter().filter(|b| ids.insert(b.id.clone())));
        passes += 1;
        proven = seen.is_subset(&next);
        seen = next;
    }
}

/// The rows' verdicts by their names, and how many were found.
fn by_name(rows: &[Sought], verdicts: Vec<Whose>) -> (Verdicts, usize) {
    let found = verdicts
        .iter()
        .filter(|v| matches!(v, Whose::Found(_)))
        .count();
    let by_name = rows.iter().map(|r| r.name.clone()).zip(verdicts).collect();
    (by_name, found)
}

/// Look up the rows another run of this machine left uncertain (`sent` holds them), once
/// `ready_at` has passed. That run's baseline is not this one's, so only broadcasts under the
/// rows' names are judged, and only when not listed as made before its send.
pub async fn listed_at_start(
    (sender, ledger): (&Sender, LedgerAt),
    stop: &Stop,
    sent: &SentRows,
    ready_at: Option<Instant>,
    max_pages: u32,
) -> Result<Verdicts, ListingError> {
    if let Some(at) = ready_at.filter(|at| *at > Instant::now()) {
        if !wait_until(sender, stop, Wait::EarlierSends, at).await {
            return Err(ListingError::Stopped);
        }
    }
    let rows = sent.rows();
    let mut held = Holders::new(ledger);
    let verdicts = look((sender, &mut held), rows, None, &HashMap::new(), max_pages).await?;
    let (verdicts, found) = by_name(rows, verdicts);
    let event = Event::LookedUp {
        found: Ok(found),
        at_start: true,
    };
    sender.events().emit(event).await;
    Ok(verdicts)
}

/// Wait until `at`, saying so; `false` when the run stopped first.
async fn wait_until(sender: &Sender, stop: &Stop, wait: Wait, at: Instant) -> bool {
    let duration = at.saturating_duration_since(Instant::now());
    sender
        .events()
        .emit(Event::Waiting { wait, duration })
        .await;
    tokio::select! {
        biased;
        _ = stop.stopped() => false,
        _ = tokio::time::sleep_until(at) => true,
    }
}

/// Look up the rows an earlier run of this record left uncertain (`sent` holds them), once
/// `ready_at` has passed. A listing that fails is kept as the error, so that those rows stay
/// unsent.
pub async fn account_at_start(
    (sender, ledger): (&Sender, LedgerAt),
    stop: &Stop,
    sent: &SentRows,
    baseline: &Baseline,
    ready_at: Option<Instant>,
    max_pages: u32,
) -> Result<Verdicts, ListingError> {
    if let Some(at) = ready_at.filter(|at| *at > Instant::now()) {
        if !wait_until(sender, stop, Wait::EarlierSends, at).await {
            return Err(ListingError::Stopped);
        }
    }
    let rows = sent.rows();
    let mut held = Holders::new(ledger);
    let none = HashMap::new();
    let looked = look((sender, &mut held), rows, Some(baseline), &none, max_pages).await;
    let looked = looked.map(|v| by_name(rows, v));
    let event = Event::LookedUp {
        found: looked.as_ref().map(|l| l.1).map_err(ToString::to_string),
        at_start: true,
    };
    sender.events().emit(event).await;
    looked.map(|l| l.0)
}

/// What the lookup at the end decided: by `seq`, the last outcome of every row kept for it
/// (and of every row withdrawn), and which rows had been counted `created` before they were
/// withdrawn.
pub struct Resolved {
    pub last: HashMap<u64, Outcome>,
    pub withdrawn: HashSet<u64>,
}

/// Look up, by name on the account, the rows whose create got no answer in this run; record
/// the ones found as created and send the absent ones again, for a few rounds. What this
/// returns holds, by `seq`, the last outcome of every row kept in `parts.uncertain`: a new one
/// (journaled) where it was looked up, the `unknown` one recorded where the run stopped first.
pub async fn resolve_unknowns(
    parts: &Parts,
    grace: Grace,
    concurrency: usize,
    (baseline, mut held): (&Baseline, Holders),
    max_pages: u32,
) -> Resolved {
    let mut last = HashMap::new();
    // A new outcome is journaled; a row the run stopped before looking up keeps the one
    // recorded (only where no round gave it a newer one).
    let mut patch = |o: Outcome| {
        parts.record.replace(&o);
        last.insert(o.seq, o);
    };
    let mut unchanged = Vec::new();
    parts.uncertain.start_lookup();
    for _ in 0..LOOKUP_ROUNDS {
        let uncertain = parts.uncertain.take();
        if uncertain.is_empty() || parts.stop.is_stopped() {
            unchanged = uncertain;
            break;
        }
        let ready = uncertain
            .iter()
            .map(|u| grace.after(u.sent_at))
            .max()
            .unwrap_or_else(Instant::now);
        let wait = Wait::Lookup {
            rows: uncertain.len(),
        };
        if !wait_until(&parts.sender, &parts.stop, wait, ready).await {
            unchanged = uncertain;
            break;
        }
        let rows: Vec<Sought> = uncertain
            .iter()
            .map(|u| Sought {
                line: u.row.line,
                name: u.row.name.clone(),
                body: serde_json::from_slice(&u.row.body).ok(),
                digest: Some(crate::ledger::store::body_digest(&u.row.body)),
                first_sent: Some(u.first_sent),
                // The baseline separates this run's broadcasts from older ones.
                namesake_before: false,
            })
            .collect();
        // Ids the server gave other rows of this run are theirs, not these rows'.
        let lines: HashSet<u64> = rows.iter().map(|r| r.line).collect();
        let mut owned = parts.ids.holders(|u| u.row.line);
        owned.retain(|_, line| !lines.contains(line));
        let looked = look(
            (&parts.sender, &mut held),
            &rows,
            Some(baseline),
            &owned,
            max_pages,
        );
        let verdicts = match looked.await {
            Ok(v) => v,
            Err(e) => {
                let why = format!("the account could not be checked ({e}): nothing was sent again; resume to check again");
                uncertain
                    .into_iter()
                    .for_each(|u| patch(noted(u.outcome, &why)));
                break;
            }
        };
        let uncertain = uncertain.into_iter().zip(verdicts).collect();
        for o in send_absent(parts, uncertain, concurrency).await {
            patch(o);
        }
    }
    // Rows kept in the last round (sent again without an answer, or withdrawn) end as their
    // record says, which is newer than any a round gave them (a row whose id another row was
    // then given is `unknown` again).
    let kept = parts.uncertain.take();
    for u in unchanged.into_iter().chain(kept) {
        last.insert(u.outcome.seq, u.outcome);
    }
    let withdrawn = parts.uncertain.take_withdrawn();
    for o in withdrawn.revised {
        last.insert(o.seq, o);
    }
    Resolved {
        last,
        withdrawn: withdrawn.seqs,
    }
}

/// `o` with `note` after its message.
fn noted(mut o: Outcome, note: &str) -> Outcome {
    o.message = format!("{}; {note}", o.message);
    o
}

/// Record the rows `found` on the account as created and send the others again; every row's
/// new outcome.
async fn send_absent(
    parts: &Parts,
    uncertain: Vec<(Unresolved, Whose)>,
    concurrency: usize,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(uncertain.len());
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut resent = JoinSet::new();
    for (u, whose) in uncertain {
        match whose {
            Whose::Found(id) => {
                Counts::bump(&parts.counts.unsent.found);
                let row = u.row;
                outcomes.push(decide::found_on_account(row.seq, row.line, row.name, id));
                continue;
            }
            Whose::Unknown(why) => {
                outcomes.push(noted(u.outcome, &why));
                continue;
            }
            Whose::Absent => {}
        }
        let (parts, slots) = (parts.clone(), slots.clone());
        resent.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let Some(unsynced) = parts.record.sent(
                (u.row.line, &u.row.name),
                u.row.entry,
                (u.row.namesake, &u.row.body),
            ) else {
                return Verdict::Final(u.outcome);
            };
            row::create(&parts, u.row, unsynced, FirstSlot::Wait).await
        });
    }
    // The rows sent again are decided here, one at a time, as the collector does during the
    // sending pass.
    while let Some(done) = resent.join_next().await {
        let Ok(verdict) = done else { continue };
        let (verdict, earlier) = reply::decide_verdict(parts, verdict);
        if let Some(earlier) = earlier {
            parts.sender.events().emit(Event::Doubted(earlier)).await;
        }
        outcomes.push(verdict.outcome().clone());
    }
    // A row kept for the lookup again (no answer once more, or doubted since: another row sent
    // again was given its id) is decided by the next round, or ends as its record says; the
    // outcome it had here (for a doubted one, `created`) must not be journaled after its doubt.
    let kept = parts.uncertain.kept_seqs();
    outcomes.retain(|o| !kept.contains(&o.seq));
    outcomes
}
