//! The run's stop signal: one part that every other part may consult and any may pull, with the
//! first reason given kept for the summary.
//!
//! Two levels: [`Stop::stop`] ends dispatching (requests in flight finish, within `--timeout`);
//! [`Stop::abandon`] gives up on those too (their rows are recorded as unknown). A stop is
//! either [`Severity::Clean`] (Ctrl-C, `--max-errors`, an outage waited out: the run ends with
//! complete results and exit 1) or [`Severity::Fatal`] (a journal that cannot be written, an
//! input that changed, credentials that stopped working: exit 2).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

/// How bad the reason for a stop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The run ends early with complete results; the exit code follows the rows.
    Clean,
    /// The run ends with exit 2.
    Fatal,
}

#[derive(Debug, Default)]
pub struct Stop {
    /// Stop sending new rows.
    stopping: CancellationToken,
    /// Give up on requests in flight (a second Ctrl-C).
    abandoning: CancellationToken,
    reason: Mutex<Option<String>>,
    fatal: AtomicBool,
}

impl Stop {
    /// Stop dispatching, remembering the first reason given.
    pub fn stop(&self, reason: impl Into<String>, severity: Severity) {
        let mut r = crate::lock(&self.reason);
        if r.is_none() {
            *r = Some(reason.into());
        }
        if severity == Severity::Fatal {
            self.fatal.store(true, Ordering::SeqCst);
        }
        self.stopping.cancel();
    }

    /// Give up on the requests in flight too.
    pub fn abandon(&self) {
        self.abandoning.cancel();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Resolves once the run is stopped.
    pub async fn stopped(&self) {
        self.stopping.cancelled().await
    }

    /// Resolves once requests in flight are to be given up.
    pub async fn abandoned(&self) {
        self.abandoning.cancelled().await
    }

    pub fn reason(&self) -> Option<String> {
        crate::lock(&self.reason).clone()
    }

    pub fn is_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_kept_and_any_fatal_stop_makes_the_run_fatal() {
        let stop = Stop::default();
        assert!(!stop.is_stopped());
        stop.stop("interrupted (Ctrl-C)", Severity::Clean);
        stop.stop("cannot write the journal", Severity::Fatal);
        assert!(stop.is_stopped());
        assert_eq!(stop.reason().as_deref(), Some("interrupted (Ctrl-C)"));
        assert!(stop.is_fatal());
    }
}
