//! The account's pace, shared between this machine's runs and carried from one run to the
//! next, through the ledger.
//!
//! - While a run sends, it reads every [`POLL`] how many runs of this machine send to its
//!   account (their live locks), and the gate splits the ceiling between them: two colleagues'
//!   runs start at half the account's rate each instead of both at all of it, and one takes the
//!   other's half within a quarter of a second of its end. Runs on other machines are not
//!   seen: 429s pace those, as before.
//! - At its end a run remembers the pace the account granted it (account-wide, as measured);
//!   the next `--rate auto` run or `--resume` on that account starts from it instead of 1/s.
//! - Two `--rate auto` runs climbing at once find the account's rate once between them: the
//!   first to meet a 429 writes what it found to the ledger at once, and the other, still
//!   climbing, takes it at its next poll (each then keeps its share of it) rather than
//!   climbing on into the first one's share. When both found one, both keep the lower.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::events::{Event, Events};
use super::sender::Sender;
use crate::config::{SubmitConfig, Target};
use crate::ledger::store::{self, Account};
use crate::net::Rate;

/// How often a run reads how many runs share its account: a neighbour that joins, leaves or
/// finds the account's rate is seen within a few requests (a query of the ledger and a look
/// at each live lock, a fraction of a millisecond).
pub const POLL: Duration = Duration::from_millis(250);

/// The sharing of one run: its poll, stopped when dropped.
pub struct Sharing {
    poll: tokio::task::JoinHandle<()>,
    dir: PathBuf,
    account: Account,
    sender: Arc<Sender>,
}

/// Begin sharing the account of a run with a ledger (`None` for a rehearsal or without one):
/// start `--rate auto` from the remembered pace, and poll the runs sharing it.
pub async fn begin(
    cfg: &SubmitConfig,
    ledger: Option<(PathBuf, Account)>,
    sender: &Arc<Sender>,
    events: &Events,
) -> Option<Sharing> {
    let (dir, account) = ledger?;
    if !matches!(cfg.target, Some(Target::Remote { .. })) {
        return None;
    }
    if cfg.rate == Rate::Auto {
        let (d, a) = (dir.clone(), account.clone());
        let remembered = store::blocking(move || store::remembered_pace(&d, &a))
            .await
            .ok()
            .flatten();
        if let Some((rate, at)) = remembered {
            sender.gate.start_from(rate);
            let age = Duration::from_millis(u64::try_from(store::now_ms() - at).unwrap_or(0));
            events.emit(Event::PaceFrom { rate, age }).await;
        }
    }
    let (d, a, s) = (dir.clone(), account.clone(), sender.clone());
    let (auto, since) = (cfg.rate == Rate::Auto, store::now_ms());
    let poll = tokio::spawn(async move {
        let (mut told, mut known) = (false, None);
        loop {
            let (d2, a2, s2) = (d.clone(), a.clone(), s.clone());
            store::blocking(move || {
                // A ledger that cannot be read for a moment says nothing about the neighbours:
                // the last count stands (read as "alone", it would double the pace).
                let n = store::sending_to(&d2, &a2).or(known);
                if let Some(n) = n {
                    s2.gate.share(u32::try_from(n).unwrap_or(u32::MAX).max(1));
                }
                if auto {
                    told = climb_together(&d2, &a2, &s2, since, told);
                }
                (told, n)
            })
            .await
            .map(|(t, n)| (told, known) = (t, n))
            .unwrap_or_default();
            tokio::time::sleep(POLL).await;
        }
    });
    Some(Sharing {
        poll,
        dir,
        account,
        sender: sender.clone(),
    })
}

/// `--rate auto` with neighbours: tell them the account's rate once this run found it, or
/// take theirs while still climbing (one found since this run began). Whether it has told.
fn climb_together(dir: &Path, account: &Account, sender: &Sender, since: i64, told: bool) -> bool {
    match sender.gate.found() {
        Some(rate) if !told => {
            if let Err(e) = store::remember_pace(dir, account, rate) {
                tracing::debug!("cannot share the account's pace: {e:#}");
            }
            true
        }
        Some(found) => {
            // Each run found the account's rate from its own part of it; two such finds differ
            // (a fixed window lets more through in one run's second than in another's), and
            // the lower is nearer: both keep it.
            if let Some((rate, at)) = store::remembered_pace(dir, account) {
                if at >= since && rate < found {
                    sender.gate.lower_to(rate);
                }
            }
            told
        }
        None => {
            if let Some((rate, at)) = store::remembered_pace(dir, account) {
                if at >= since {
                    sender.gate.start_from(rate);
                    // Found by another: nothing of this run's to tell.
                    return true;
                }
            }
            false
        }
    }
}

impl Sharing {
    /// The run has sent its last request: remember what the account granted it.
    pub fn end(self) {
        self.poll.abort();
        if let Some(rate) = self.sender.gate.account_pace() {
            if let Err(e) = store::remember_pace(&self.dir, &self.account, rate) {
                tracing::warn!("cannot remember the account's pace: {e:#}");
            }
        }
    }
}

impl Drop for Sharing {
    fn drop(&mut self) {
        self.poll.abort();
    }
}
