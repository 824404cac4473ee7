//! Every decision about a row whose broadcast may or may not exist, in one place.
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
//! - **Absent** is only believed from a complete listing ([`listing`]) taken after the request
//!   could no longer land: its timeout plus `--settle` after it was sent — across processes too,
//!   as the journal records when each row was sent.
//! - When the listing cannot be completed, the row stays `unknown` and nothing is sent for it.
//!
//! Where the rules apply:
//!
//! - At dispatch ([`settle`]): a row an earlier run created is copied, not sent; a row an
//!   earlier run left uncertain is judged by the listing taken at the start
//!   ([`account_at_start`]); a row whose name was on the account before is counted as done with
//!   `--skip-existing`, sent with `--allow-existing-names`, and otherwise never reaches here (the
//!   run stops first, in `mod.rs`).
//! - During the run ([`remember`]): a row that got no answer is kept, with its body and when it
//!   was last sent.
//! - At the end ([`resolve_unknowns`]): once the grace has passed, the account is listed; found
//!   rows become `created`, absent ones are sent again, for [`LOOKUP_ROUNDS`] rounds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::dispatch::{self, Job, ToSend};
use super::listing;
use super::state::RunState;
use crate::input::name_fingerprint;
use crate::ledger::baseline::Baseline;
use crate::ledger::outcome::{Outcome, Status};
use crate::ledger::prior::Prior;
use crate::logging::Terminal;

/// Rounds of looking up rows that got no answer (and sending the absent ones again).
const LOOKUP_ROUNDS: usize = 2;

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

/// What the dispatcher knows besides the rows (each of which carries what earlier runs
/// recorded of it).
pub struct Known {
    /// What was on the account before the first create.
    pub baseline: Arc<Baseline>,
    /// Rows an earlier run left uncertain, looked up at the start: name → the id of a broadcast
    /// made since the baseline. `None`: not listed; `Some(Err)`: the listing failed.
    pub account: Option<Result<HashMap<String, String>, String>>,
    /// `--skip-existing`: a name on the account before counts as created.
    pub skip_existing: bool,
    /// `--allow-existing-names`: a name on the account before is created anyway.
    pub allow_existing: bool,
}

/// Counts of rows settled without sending, for the summary.
#[derive(Debug, Default)]
pub struct Settled {
    pub done_before: AtomicU64,
    pub reconciled: AtomicU64,
    pub already_existing: AtomicU64,
}

/// What the dispatcher does with a row.
pub enum Decision {
    /// Its outcome is known without sending.
    Settled(Outcome),
    Send(ToSend),
}

/// Decide a row without sending, or hand it back to be sent.
pub fn settle(known: &Known, settled: &Settled, job: Job) -> Decision {
    use Decision::{Send, Settled as Done};
    let Job {
        seq,
        line,
        name,
        verdict,
        prior,
    } = job;
    let send = |name, body| {
        Send(ToSend {
            seq,
            line,
            name,
            body,
        })
    };
    let unsent = |name, status, message| Done(Outcome::unsent(seq, line, name, status, message));
    match (prior, verdict) {
        (Some(Prior::Created(o)), _) => {
            settled.done_before.fetch_add(1, Ordering::Relaxed);
            Done(o.with_seq(seq))
        }
        (Some(Prior::Unknown), verdict) => match &known.account {
            Some(Ok(found)) => match (found.get(&name), verdict) {
                (Some(id), _) => {
                    settled.reconciled.fetch_add(1, Ordering::Relaxed);
                    Done(reconciled(seq, line, name, id.clone()))
                }
                (None, Ok(body)) => send(name, body),
                (None, Err(msg)) => unsent(name, Status::Invalid, msg),
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
        (_, Ok(body)) => match known.baseline.existing(&name) {
            None => send(name, body),
            Some(_) if known.allow_existing => send(name, body),
            Some(ids) if known.skip_existing => {
                settled.already_existing.fetch_add(1, Ordering::Relaxed);
                let mut o = Outcome::unsent(
                    seq,
                    line,
                    name,
                    Status::Created,
                    "already on the account before this run (--skip-existing); not sent".into(),
                );
                o.broadcast_id = ids.first().cloned();
                Done(o)
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

/// A row found on the account after an unknown outcome.
fn reconciled(seq: u64, line: u64, name: String, id: String) -> Outcome {
    let mut o = Outcome::unsent(
        seq,
        line,
        name,
        Status::Created,
        "found on the account by name after an attempt with no answer; not sent again".into(),
    );
    o.broadcast_id = Some(id);
    o
}

/// A row whose create got no answer: kept (with its body) to be looked up and, if absent,
/// sent again at the end of the run.
pub struct Unresolved {
    row: ToSend,
    outcome: Outcome,
    /// When its last request went out.
    sent_at: Instant,
}

/// Keep a row whose create got no answer (`outcome`, status `unknown`) for the end of the run.
pub fn remember(run: &RunState, row: ToSend, outcome: &Outcome, sent_at: Instant) {
    crate::lock(&run.unresolved).push(Unresolved {
        row,
        outcome: outcome.clone(),
        sent_at,
    });
}

/// The broadcasts made since the baseline among `found`: name → the first such id.
fn made_since(found: listing::Found, baseline: &Baseline) -> HashMap<String, String> {
    found
        .into_iter()
        .filter_map(|(name, ids)| {
            let id = ids.into_iter().find(|id| baseline.is_new(&name, id))?;
            Some((name, id))
        })
        .collect()
}

/// Look up the rows an earlier run left uncertain (their names, by fingerprint, are `wanted`),
/// once `ready_at` has passed. A listing that fails is kept as the error, so that those rows
/// stay unsent.
pub async fn account_at_start(
    run: &RunState,
    terminal: &Terminal,
    wanted: &std::collections::HashSet<u64>,
    baseline: &Baseline,
    ready_at: Option<Instant>,
    max_pages: u32,
) -> Result<HashMap<String, String>, String> {
    if let Some(at) = ready_at.filter(|at| *at > Instant::now()) {
        terminal.say(&format!(
            "waiting {} s before looking up rows an earlier run sent without an answer (its requests may still land)",
            (at - Instant::now()).as_secs() + 1
        ));
        tokio::select! {
            _ = run.stop.cancelled() => return Err("the run stopped".into()),
            _ = tokio::time::sleep_until(at.into()) => {}
        }
    }
    let found = listing::list(run, &|n| wanted.contains(&name_fingerprint(n)), max_pages).await;
    match &found {
        Err(e) => {
            tracing::warn!("cannot list the account to check rows with no known outcome: {e}")
        }
        Ok(found) => tracing::info!("{} of those names are on the account", found.len()),
    }
    found.map(|f| made_since(f, baseline))
}

/// Look up, by name on the account, the rows whose create got no answer in this run; record
/// the ones found as created and send the absent ones again, for a few rounds. Each row's new
/// outcome (in place of its `unknown` one) is journaled and handed to `patch`.
pub async fn resolve_unknowns(
    run: &Arc<RunState>,
    terminal: &Terminal,
    grace: Grace,
    concurrency: usize,
    baseline: &Baseline,
    max_pages: u32,
    mut patch: impl FnMut(Outcome),
) {
    let mut patch = |o: Outcome| {
        if let Err(e) = run.journal.done(&o).and_then(|()| run.journal.flush()) {
            run.stop(format!("cannot write the journal: {e}"), true);
        }
        patch(o);
    };
    for _ in 0..LOOKUP_ROUNDS {
        let pending = std::mem::take(&mut *crate::lock(&run.unresolved));
        if pending.is_empty() || run.stop.is_cancelled() {
            return;
        }
        let ready = pending
            .iter()
            .map(|u| grace.after(u.sent_at))
            .max()
            .unwrap_or_else(Instant::now);
        terminal.say(&format!(
            "{} rows got no answer; looking their names up on the account (in {} s, once their requests can no longer land) before sending any again",
            pending.len(),
            ready.saturating_duration_since(Instant::now()).as_secs()
        ));
        tokio::select! {
            _ = run.stop.cancelled() => return,
            _ = tokio::time::sleep_until(ready.into()) => {}
        }
        let wanted: std::collections::HashSet<u64> = pending
            .iter()
            .map(|u| name_fingerprint(&u.row.name))
            .collect();
        let listed =
            listing::list(run, &|n| wanted.contains(&name_fingerprint(n)), max_pages).await;
        let found = match listed {
            Ok(found) => made_since(found, baseline),
            Err(e) => {
                for u in pending {
                    let mut o = u.outcome;
                    o.message = format!(
                        "{}; the account could not be checked ({e}): nothing was sent again; resume to check again",
                        o.message
                    );
                    patch(o);
                }
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut resent = JoinSet::new();
        for u in pending {
            if let Some(id) = found.get(&u.row.name) {
                run.settled.reconciled.fetch_add(1, Ordering::Relaxed);
                let ToSend {
                    seq, line, name, ..
                } = u.row;
                patch(reconciled(seq, line, name, id.clone()));
                continue;
            }
            let (run, slots) = (run.clone(), slots.clone());
            resent.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let Some(pending) = run.record_sent(u.row.line, &u.row.name) else {
                    return u.outcome;
                };
                dispatch::process(&run, u.row, pending, false).await
            });
        }
        while let Some(done) = resent.join_next().await {
            if let Ok(o) = done {
                patch(o);
            }
        }
    }
}
