//! Stage 1 of a run, and what it needs: where it sends ([`Endpoint`]) and the input checked
//! whole before anything is sent ([`Prepared`]).

use std::sync::Arc;

use anyhow::Result;

use super::check::{self, Check};
use super::events;
use crate::config::SubmitConfig;
use crate::ledger::files::{RunFiles, RunLock};
use crate::ledger::prior::Record;
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
        } else {
            files.refuse_to_overwrite()?;
            Record::default()
        };
        let check = check::check_input(cfg, &prior)?;
        Ok(Prepared {
            files,
            prior: Arc::new(prior),
            check,
            _lock: lock,
        })
    }

    /// What the check pass found.
    pub fn checked(&self) -> events::Checked {
        self.check.counts()
    }

    /// What the check pass found, in full (for a dry run's report).
    pub(crate) fn report(&self) -> &Check {
        &self.check
    }
}
