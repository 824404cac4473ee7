//! Every decision about a row whose broadcast may or may not exist, in one place.
//!
//! A row is *uncertain* when a create was sent for it and no usable answer came back (which
//! replies those are is [`crate::net::client`]'s classification, `ReplyKind::Unknown`), or when
//! an earlier run journaled its `sent` and no outcome. An uncertain row is never sent again
//! blindly: its name is looked up on the account first (`GET /v2/broadcasts`, every page).
//!
//! - At dispatch ([`settle`]): a row an earlier run created is copied, not sent; a row an
//!   earlier run left uncertain is looked up in the listing taken at the start — found means
//!   created, absent means sent again, a listing that failed leaves it `unknown` and unsent.
//!   With `--skip-existing`, a name already on the account counts as created.
//! - During the run ([`remember`]): a row that got no answer is kept, with its body.
//! - At the end ([`resolve_unknowns`]): after a settling pause, the account is listed again;
//!   found rows become `created`, absent ones are sent again, for [`LOOKUP_ROUNDS`] rounds; a
//!   listing that fails leaves them `unknown`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::dispatch::{self, Job, ToSend};
use super::state::RunState;
use crate::input::name_fingerprint;
use crate::ledger::outcome::{Outcome, Status};
use crate::ledger::prior::Prior;
use crate::logging::Terminal;
use crate::net::client::{broadcast_id, ReplyKind};

/// Rounds of looking up rows that got no answer (and sending the absent ones again).
const LOOKUP_ROUNDS: usize = 2;

/// Page size for listing: the API's maximum.
const PAGE: u32 = 100;

/// What the dispatcher knows besides the rows (each of which carries what earlier runs
/// recorded of it): the account's names when they were listed at the start.
pub struct Known {
    /// `None`: not listed; `Some(Err)`: listing failed.
    pub account: Option<Result<HashMap<String, String>, String>>,
    /// `--skip-existing`: a name already on the account counts as created.
    pub skip_existing: bool,
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
    let on_account = |name: &str| match &known.account {
        Some(Ok(names)) => Ok(names.get(name).cloned()),
        Some(Err(e)) => Err(e.clone()),
        None => Ok(None),
    };
    let send = |name, body| {
        Send(ToSend {
            seq,
            line,
            name,
            body,
        })
    };
    match (prior, verdict) {
        (Some(Prior::Created(o)), _) => {
            settled.done_before.fetch_add(1, Ordering::Relaxed);
            Done(o.with_seq(seq))
        }
        (Some(Prior::Unknown), verdict) => match on_account(&name) {
            Ok(Some(id)) => {
                settled.reconciled.fetch_add(1, Ordering::Relaxed);
                Done(reconciled(seq, line, name, id))
            }
            Err(e) => Done(Outcome::unsent(
                seq,
                line,
                name,
                Status::Unknown,
                format!("an earlier attempt may have created it, and the account could not be checked ({e}); not sent. Resume again to retry the check"),
            )),
            Ok(None) => match verdict {
                Ok(body) => send(name, body),
                Err(msg) => Done(Outcome::unsent(seq, line, name, Status::Invalid, msg)),
            },
        },
        (_, Err(msg)) => Done(Outcome::unsent(seq, line, name, Status::Invalid, msg)),
        (_, Ok(body)) => match known.skip_existing.then(|| on_account(&name)) {
            Some(Ok(Some(id))) => {
                settled.already_existing.fetch_add(1, Ordering::Relaxed);
                let mut o = Outcome::unsent(
                    seq,
                    line,
                    name,
                    Status::Created,
                    "already on the account (--skip-existing); not sent".into(),
                );
                o.broadcast_id = Some(id);
                Done(o)
            }
            _ => send(name, body),
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
}

/// Keep a row whose create got no answer (`outcome`, status `unknown`) for the end of the run.
pub fn remember(run: &RunState, row: ToSend, outcome: &Outcome) {
    crate::lock(&run.unresolved).push(Unresolved {
        row,
        outcome: outcome.clone(),
    });
}

/// The account's names at the start of a run, when the run needs them (rows an earlier run
/// left uncertain, or `--skip-existing`). A listing that fails is fatal for `--skip-existing`
/// (the error says why) and otherwise kept as the error, so that uncertain rows stay unsent.
pub async fn account_at_start(
    run: &RunState,
    skip_existing: bool,
    wanted: &HashSet<u64>,
) -> anyhow::Result<Result<HashMap<String, String>, String>> {
    let names = names(run, wanted).await;
    match &names {
        Err(e) if skip_existing => anyhow::bail!(
            "--skip-existing: cannot list the account's broadcasts: {e}; nothing was sent"
        ),
        Err(e) => {
            tracing::warn!("cannot list the account to check rows with no known outcome: {e}")
        }
        Ok(names) => tracing::info!("the account has {} broadcasts", names.len()),
    }
    Ok(names)
}

/// Look up, by name on the account, the rows whose create got no answer in this run; record
/// the ones found as created and send the absent ones again, for a few rounds. A request the
/// server was still working on gets `settle` to finish first. Each row's new outcome (in place
/// of its `unknown` one) is journaled and handed to `patch`.
pub async fn resolve_unknowns(
    run: &Arc<RunState>,
    terminal: &Terminal,
    settle: Duration,
    concurrency: usize,
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
        terminal.say(&format!(
            "{} rows got no answer; looking their names up on the account before sending any again",
            pending.len()
        ));
        tokio::select! {
            _ = run.stop.cancelled() => return,
            _ = tokio::time::sleep(settle) => {}
        }
        let wanted = pending
            .iter()
            .map(|u| name_fingerprint(&u.row.name))
            .collect();
        let names = match names(run, &wanted).await {
            Ok(names) => names,
            Err(e) => {
                for u in pending {
                    let mut o = u.outcome;
                    o.message = format!(
                        "{}; the account could not be checked ({e}): resume to check again",
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
            if let Some(id) = names.get(&u.row.name) {
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

/// The broadcasts on the account whose names are `wanted` (by [`name_fingerprint`]), name → id
/// (the first id listed for a name), read through `GET /v2/broadcasts` page by page (100 each,
/// through the same gate as every call). Only wanted names are kept, so memory follows the rows
/// asked about, not the account's size. `Err` says why the account could not be read to the
/// end.
async fn names(run: &RunState, wanted: &HashSet<u64>) -> Result<HashMap<String, String>, String> {
    let mut names = HashMap::new();
    let mut seen_ids = HashSet::new();
    for page in 1.. {
        let Some(reply) = run.send(false, || run.client.list(PAGE, page)).await.reply else {
            return Err("the run stopped".into());
        };
        if reply.kind != ReplyKind::Ok {
            return Err(format!("listing page {page} failed: {}", reply.message));
        }
        let results = reply
            .body
            .as_ref()
            .and_then(|b| b["results"].as_array())
            .cloned()
            .unwrap_or_default();
        let mut new = 0;
        for b in &results {
            let (Some(name), Some(id)) = (b["name"].as_str(), broadcast_id(b)) else {
                continue;
            };
            if seen_ids.insert(name_fingerprint(&id)) {
                new += 1;
                let name = name.trim();
                if wanted.contains(&name_fingerprint(name)) {
                    names.entry(name.to_owned()).or_insert(id);
                }
            }
        }
        // A short page is the last; a page of nothing new means the server ignores `page`.
        if results.len() < PAGE as usize || new == 0 {
            break;
        }
    }
    tracing::debug!("the account has {} broadcasts", names.len());
    Ok(names)
}
