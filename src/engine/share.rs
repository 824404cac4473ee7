//! The account's pace, shared between this machine's runs and carried from one run to the
//! next, through the ledger.
//!
//! - While a run sends, it reads every [`POLL`] how many runs of this machine send to its
//!   account (their live locks), and the gate splits the ceiling between them: two colleagues'
//!   runs start at half the account's rate each instead of both at all of it, and one takes the
//!   other's half within a second of its end. Runs on other machines are not seen: 429s pace
//!   those, as before.
//! - At its end a run remembers the pace the account granted it (account-wide, as measured);
//!   the next `--rate auto` run or `--resume` on that account starts from it instead of 1/s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::events::{Event, Events};
use super::sender::Sender;
use crate::config::{SubmitConfig, Target};
use crate::ledger::store::{self, Account};
use crate::net::Rate;

/// How often a run reads how many runs share its account.
pub const POLL: Duration = Duration::from_secs(1);

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
        let remembered = tokio::task::spawn_blocking(move || store::remembered_pace(&d, &a))
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
    let poll = tokio::spawn(async move {
        loop {
            let (d2, a2) = (d.clone(), a.clone());
            let n = tokio::task::spawn_blocking(move || store::sending_to(&d2, &a2))
                .await
                .unwrap_or(1);
            s.gate.share(u32::try_from(n).unwrap_or(u32::MAX).max(1));
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
