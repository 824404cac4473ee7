//! Looking uncertain rows up on the account, in one place.
//!
//! A row is *uncertain* when a create was sent for it and no usable answer came back (which
//! replies those are is [`crate::net::client`]'s classification, `ReplyKind::Unknown`: a
//! timeout or a dropped connection after the body went out, a 5xx other than 503, a 2xx without
//! a usable body), or when an earlier run journaled its `sent` and no outcome. An uncertain row
//! is never sent again blindly: its name is looked up on the account first, and three rules
//! make the answer trustworthy:
//!
//! - **Found** means a broadcast with the row's name that is not in the run's [`Baseline`] (what
//!   was on the account before the first run's first create): an old namesake never passes for
//!   this run's broadcast.
//! - **Absent** is only believed from complete listings ([`listing`]), two in a row with
//!   nothing of the first missing from the second, taken after the request could no longer
//!   land: its timeout plus `--settle` after it was sent — across processes too,
//!   as the journal records when each row was sent.
//! - When the listing cannot be completed, the row stays `unknown` and nothing is sent for it.
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

use super::agree::{self, SentRows};
use super::counts::Counts;
use super::decide;
use super::errors::ListingError;
use super::events::{Event, Wait};
use super::listing;
use super::made::{disagrees, made_for, shared_cuts, Looked, Made, DISAGREES};
use super::row::{self, Parts, Unresolved, Verdict};
use super::sender::{FirstSlot, Sender};
use super::stop::Stop;
use crate::input::{key_fingerprint, match_fingerprints};
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

/// The broadcasts made since the baseline among `found`.
fn made_since(found: listing::Found, baseline: &Baseline) -> Made {
    found
        .into_iter()
        .filter_map(|(name, ids)| {
            let ids: Vec<String> = ids
                .into_iter()
                .filter(|id| baseline.is_new(&name, id))
                .collect();
            (!ids.is_empty()).then_some((name, ids))
        })
        .collect()
}

/// The broadcasts made since the baseline whose names' keys (by fingerprint) are `wanted`,
/// with those `judge` does not accept (they do not agree with the row) kept apart: (found, the
/// names of the others). A name is absent only when two complete listings, one after the
/// other, both lack it: offset pages shift while the account changes (a broadcast deleted
/// between two pages moves one from the next page onto the one already read), so one listing
/// can miss a broadcast that is there. The second is taken only when the first lacks a name.
async fn judged_twice(
    sender: &Sender,
    wanted: &HashSet<u64>,
    judge: &dyn Fn(&str, &serde_json::Value) -> bool,
    baseline: &Baseline,
    max_pages: u32,
) -> Result<Looked, ListingError> {
    let since = |f: &listing::Found| {
        f.iter()
            .filter(|(key, ids)| ids.iter().any(|id| baseline.is_new(key, id)))
            .count()
    };
    let enough = |a: &listing::Found, n: &listing::Found| since(a) + since(n) >= wanted.len();
    let (agreeing, not) = twice(sender, wanted, judge, max_pages, &enough).await?;
    let found = made_since(agreeing, baseline);
    let others = made_since(not, baseline)
        .into_keys()
        .filter(|k| !found.contains_key(k))
        .collect();
    Ok((found, others))
}

/// The account listed in full, and listed again until `enough` says the listings found what was
/// wanted or a listing saw every broadcast the one before it did (at most [`MAX_LISTINGS`]): the broadcasts under
/// `wanted` names, parted by `judge`, each listing's ids added after the earlier ones'. One
/// listing can miss a broadcast (offset pages shift while the account changes), and so can two
/// while it keeps changing, so every lookup that may call a name absent goes through here.
async fn twice(
    sender: &Sender,
    wanted: &HashSet<u64>,
    judge: &dyn Fn(&str, &serde_json::Value) -> bool,
    max_pages: u32,
    enough: &dyn Fn(&listing::Found, &listing::Found) -> bool,
) -> Result<(listing::Found, listing::Found), ListingError> {
    let is_wanted = |n: &str| wanted.contains(&key_fingerprint(n));
    let ((mut agreeing, mut not), mut seen) =
        listing::list_shaped(sender, &is_wanted, judge, max_pages).await?;
    if crate::mutant::is(crate::mutant::Mutant::OneListing) {
        return Ok((agreeing, not));
    }
    // Absent is believed from two complete listings in a row, the second of which saw every
    // broadcast the first did: offset pages skip a broadcast only when one before it goes
    // while they are read, and that one is then missing from the next listing. (Broadcasts
    // made meanwhile only repeat one on the next page.) A deletion in each of two listings
    // could hide a name from both.
    let mut passes = 1;
    while !enough(&agreeing, &not) {
        let ((more, more_not), next) =
            listing::list_shaped(sender, &is_wanted, judge, max_pages).await?;
        merge(&mut agreeing, more);
        merge(&mut not, more_not);
        passes += 1;
        if seen.is_subset(&next) {
            break;
        }
        if passes >= MAX_LISTINGS && !enough(&agreeing, &not) {
            return Err(ListingError::Unsettled { passes });
        }
        seen = next;
    }
    Ok((agreeing, not))
}

/// Add `more`'s ids to `into`'s, each once, after those already there.
fn merge(into: &mut listing::Found, more: listing::Found) {
    for (key, ids) in more {
        let have = into.entry(key).or_default();
        for id in ids {
            if !have.contains(&id) {
                have.push(id);
            }
        }
    }
}

/// Every broadcast listed whose name's key (by fingerprint) is `wanted`, by key, once
/// `ready_at` has passed; two complete listings are merged when the first lacks a name.
pub async fn listed_at_start(
    sender: &Sender,
    stop: &Stop,
    (wanted, sent): (&HashSet<u64>, &SentRows),
    ready_at: Option<Instant>,
    max_pages: u32,
) -> Result<Looked, ListingError> {
    if let Some(at) = ready_at.filter(|at| *at > Instant::now()) {
        if !wait_until(sender, stop, Wait::EarlierSends, at).await {
            return Err(ListingError::Stopped);
        }
    }
    let enough = |found: &listing::Found, _: &listing::Found| found.len() >= wanted.len();
    let judge = |name: &str, listed: &serde_json::Value| sent.accepts(name, listed);
    let (found, not) = twice(sender, wanted, &judge, max_pages, &enough).await?;
    let event = Event::LookedUp {
        found: Ok(found.len()),
        at_start: true,
    };
    sender.events().emit(event).await;
    let others = not.into_keys().filter(|k| !found.contains_key(k)).collect();
    Ok((found, others))
}

/// Wait until `at`, saying so; `false` when the run stopped first.
async fn wait_until(sender: &Sender, stop: &Stop, wait: Wait, at: Instant) -> bool {
    let duration = at.saturating_duration_since(Instant::now());
    sender
        .events()
        .emit(Event::Waiting { wait, duration })
        .await;
    tokio::select! {
        _ = stop.stopped() => false,
        _ = tokio::time::sleep_until(at) => true,
    }
}

/// Look up the rows an earlier run left uncertain (their names, by fingerprint, are `wanted`),
/// once `ready_at` has passed. A listing that fails is kept as the error, so that those rows
/// stay unsent.
pub async fn account_at_start(
    sender: &Sender,
    stop: &Stop,
    (wanted, sent): (&HashSet<u64>, &SentRows),
    baseline: &Baseline,
    ready_at: Option<Instant>,
    max_pages: u32,
) -> Result<Looked, ListingError> {
    if let Some(at) = ready_at.filter(|at| *at > Instant::now()) {
        if !wait_until(sender, stop, Wait::EarlierSends, at).await {
            return Err(ListingError::Stopped);
        }
    }
    let judge = |name: &str, listed: &serde_json::Value| sent.accepts(name, listed);
    let found = judged_twice(sender, wanted, &judge, baseline, max_pages).await;
    let event = Event::LookedUp {
        found: found
            .as_ref()
            .map(|f| f.0.len())
            .map_err(ToString::to_string),
        at_start: true,
    };
    sender.events().emit(event).await;
    found
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
    baseline: &Baseline,
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
        let wanted: HashSet<u64> = uncertain
            .iter()
            .flat_map(|u| match_fingerprints(&u.row.name))
            .collect();
        let mut sent = agree::SentRows::default();
        for u in &uncertain {
            sent.add(&u.row.name, &u.row.body, Some(u.first_sent));
        }
        let shared = shared_cuts(uncertain.iter().map(|u| u.row.name.as_str()));
        let judge = |name: &str, listed: &serde_json::Value| sent.accepts(name, listed);
        let listed = judged_twice(&parts.sender, &wanted, &judge, baseline, max_pages).await;
        let (found, others) = match listed {
            Ok(found) => found,
            Err(e) => {
                let why = format!("the account could not be checked ({e}): nothing was sent again; resume to check again");
                uncertain
                    .into_iter()
                    .for_each(|u| patch(noted(u.outcome, &why)));
                break;
            }
        };
        let (uncertain, disagreeing): (Vec<_>, Vec<_>) = uncertain
            .into_iter()
            .partition(|u| !disagrees(&found, &others, &u.row.name));
        for u in disagreeing {
            patch(noted(u.outcome, DISAGREES));
        }
        for o in send_absent(parts, uncertain, (&found, &shared), concurrency).await {
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
    uncertain: Vec<Unresolved>,
    (found, shared): (&Made, &HashSet<String>),
    concurrency: usize,
) -> Vec<Outcome> {
    let mut outcomes = Vec::with_capacity(uncertain.len());
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut resent = JoinSet::new();
    for u in uncertain {
        match made_for(found, &u.row.name, shared) {
            Ok(Some(id)) => {
                Counts::bump(&parts.counts.unsent.found);
                let row = u.row;
                outcomes.push(decide::found_on_account(row.seq, row.line, row.name, id));
                continue;
            }
            Err(why) => {
                outcomes.push(noted(u.outcome, &why));
                continue;
            }
            Ok(None) => {}
        }
        let (parts, slots) = (parts.clone(), slots.clone());
        resent.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let Some(unsynced) = parts.record.sent(
                (u.row.line, &u.row.name),
                u.row.entry,
                (u.row.namesake, &u.row.body),
            ) else {
                return u.outcome;
            };
            let verdict = row::create(&parts, u.row, unsynced, FirstSlot::Wait).await;
            if let Verdict::Repeated { earlier, .. } = &verdict {
                let doubted = Event::Doubted(earlier.clone());
                parts.sender.events().emit(doubted).await;
            }
            verdict.into_outcome()
        });
    }
    while let Some(done) = resent.join_next().await {
        if let Ok(o) = done {
            outcomes.push(o);
        }
    }
    outcomes
}
