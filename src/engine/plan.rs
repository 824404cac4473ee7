//! Stage 1 of a run, and what it needs: where it sends ([`Endpoint`]) and the input checked
//! whole before anything is sent ([`Prepared`]).

use std::sync::Arc;

use anyhow::Result;

use super::check::{self, Check};
use super::events;
use crate::config::{SubmitConfig, Target};
use crate::ledger::files::{RunFiles, RunLock};
use crate::ledger::prior::Record;
use crate::ledger::store::{self, Account, View};
use crate::secret::Auth;

/// Where a run sends: the API's base URL and how to prove who it is.
pub struct Endpoint {
    pub base_url: String,
    pub auth: Auth,
}

/// A run that has passed the check stage: its files, what earlier runs recorded, and what the
/// check learned about the input.
pub struct Prepared {
    pub(super) files: RunFiles,
    pub(super) prior: Arc<Record>,
    pub(super) check: Check,
    /// Held until the run ends (none for a dry run, which writes nothing).
    pub(super) _lock: Option<RunLock>,
    /// The ledger as this run found it (none for a dry run).
    pub(super) ledger: Option<Ledgered>,
}

/// The ledger of what this machine sent to the run's account.
pub struct Ledgered {
    pub dir: std::path::PathBuf,
    pub account: Account,
    /// The results file, as the ledger names it (absolute).
    pub results: String,
    pub view: View,
}

impl Prepared {
    /// Stage 1: load what earlier runs recorded (with `--resume`; otherwise refuse to start over
    /// their record) and check the whole input.
    pub fn check(cfg: &SubmitConfig) -> Result<Prepared> {
        let files = RunFiles::new(&cfg.results);
        // Before anything is read: a second run into the same results file stops here.
        let lock = cfg.target.is_some().then(|| files.lock()).transpose()?;
        let prior = if cfg.resume {
            let prior = Record::load(&files, &cfg.target_name)?;
            if prior.is_empty() {
                tracing::info!(
                    "nothing recorded at {} yet: every row is new",
                    files.results.display()
                );
            }
            prior
        } else if cfg.target.is_some() {
            files.refuse_to_overwrite()?;
            Record::default()
        } else {
            // A dry run writes nothing: an earlier run's files are no obstacle.
            Record::default()
        };
        let mut ledger = match (&cfg.target, &cfg.state_dir) {
            (Some(target), Some(dir)) => Some(open_ledger(cfg, target, dir)?),
            _ => None,
        };
        let check = check::check_input(cfg, &prior, ledger.as_mut().map(|l| &mut l.view))?;
        if let Some(failed) = &cfg.failed {
            if check.watched.is_workbook() && !crate::output::failed::is_workbook_path(failed) {
                anyhow::bail!(
                    "--failed {}: {} is a workbook, so its failed rows are written as one (every \
                     cell text, so that Excel keeps ids and dates as they were): give a path \
                     ending .xlsx; nothing was sent",
                    failed.display(),
                    cfg.input.display()
                );
            }
        }
        Ok(Prepared {
            files,
            prior: Arc::new(prior),
            check,
            _lock: lock,
            ledger,
        })
    }

    /// What the check pass found.
    pub fn checked(&self) -> events::Checked {
        self.check.counts()
    }

    /// A sheet with a header and no rows: what to say (nothing is sent, and the run exits 1).
    pub fn nothing_to_send(&self, cfg: &SubmitConfig) -> Option<String> {
        (self.checked().rows == 0).then(|| {
            format!(
                "no rows: {} has a header and nothing under it; nothing was sent",
                cfg.input.display()
            )
        })
    }

    /// What the check pass found, in full (for a dry run's report).
    pub(crate) fn report(&self) -> &Check {
        &self.check
    }
}

/// Who the run's account is, as the ledger knows it (never a secret).
fn account(cfg: &SubmitConfig, target: &Target) -> Account {
    let who = match target {
        Target::Mock => format!("rehearsal {}-{}", std::process::id(), store::now_ms()),
        Target::Remote {
            auth: Auth::Login { email, .. },
            ..
        } => format!("login {}", email.trim().to_lowercase()),
        Target::Remote {
            auth: Auth::Token(token),
            ..
        } => format!("token {}", store::token_fingerprint(token.expose())),
    };
    Account {
        target: cfg.target_name.clone(),
        who,
    }
}

pub use crate::ledger::store::path_key as results_key;

/// Open the ledger for this run; a `--resume` with another account's credentials stops here.
fn open_ledger(cfg: &SubmitConfig, target: &Target, dir: &std::path::Path) -> Result<Ledgered> {
    let mut account = account(cfg, target);
    let results = results_key(&cfg.results);
    if cfg.resume && !account.is_rehearsal() {
        if let Some(last) = View::last_run_into(dir, &account.target, &results)? {
            let kind = |who: &str| who.split(' ').next().unwrap_or_default().to_owned();
            if last.account.who != account.who && kind(&last.account.who) != kind(&account.who) {
                // A token and a login cannot be compared: the README's way back from an expired
                // token is to resume with a login. The run goes on as that account.
                tracing::warn!(
                    "run {} into {} used {}; this run uses {}: make sure they are one account",
                    last.id,
                    cfg.results.display(),
                    who_for_people(&last.account.who),
                    who_for_people(&account.who)
                );
                account = last.account;
            } else if last.account.who != account.who && !last.account.is_rehearsal() {
                anyhow::bail!(crate::engine::errors::AccountError::OtherAccount {
                    results: cfg.results.clone(),
                    then: who_for_people(&last.account.who),
                    now: who_for_people(&account.who),
                    run: last.id,
                });
            }
        }
    }
    let view = View::open(dir, &account, &results)?;
    // The lock beside the results can be deleted; the ledger's record of a live run cannot.
    if let Some(live) = view.live_run_into() {
        anyhow::bail!(
            "another bulkcast process (run {}, pid {}) is already running into {}; nothing was sent. \
             Two runs into one results file would write over each other: wait for it to finish \
             (or stop it), then run again (`bulkcast runs {}` shows it)",
            live.id,
            live.pid,
            cfg.results.display(),
            live.id
        );
    }
    Ok(Ledgered {
        dir: dir.to_owned(),
        account,
        results,
        view,
    })
}

/// An account's `who` as a person reads it.
pub fn who_for_people(who: &str) -> String {
    match who.split_once(' ') {
        Some(("login", email)) => format!("the login {email}"),
        Some(("token", fp)) => format!("a token (fingerprint {})", &fp[..fp.len().min(12)]),
        Some(("rehearsal", _)) => "a rehearsal on the built-in simulation".into(),
        _ => who.to_owned(),
    }
}
