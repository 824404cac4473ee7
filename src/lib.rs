//! bulkcast creates Smartflo voice-broadcast campaigns in bulk from a spreadsheet.
//!
//! Data flows one way, and the modules follow it (`docs/architecture.md` draws it):
//!
//! - [`cli`] is clap's view of the flags; [`config`] turns them into validated configurations,
//!   and [`secret`] holds the credentials.
//! - [`input`] streams rows into typed [`request`]s, each with a verdict (promise 1: every row is
//!   judged before anything is sent).
//! - [`engine`] runs a submission: it sends the valid rows through [`net`] (the HTTP client and
//!   the rate gate: promise 3), records every step in the [`ledger`] (promise 2: each broadcast
//!   is created exactly once; `engine::lookup` decides every uncertain row), and reports all it
//!   does as typed events.
//! - [`cmd`] holds one module per command; `cmd::submit` is the terminal's face of the engine.
//! - [`output`] writes what a person reads: the ordered results file, failed rows, the summary
//!   and the terminal's display of a run's events.
//! - [`mock`] is a local simulation of the Smartflo API for rehearsals, tests and benchmarks;
//!   only the command layer starts it.

pub mod cli;
pub mod clock;
pub mod cmd;
pub mod config;
pub(crate) mod csvio;
pub mod engine;
pub mod input;
pub mod ledger;
pub mod logging;
pub mod mock;
pub mod mock_options;
pub mod mutant;
pub mod net;
pub mod output;
pub mod profile;
pub mod remembered;
pub mod request;
pub mod secret;
pub mod serve;

use std::sync::{Mutex, MutexGuard};

/// What a finished command tells the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every row succeeded (or validated).
    Success = 0,
    /// The run finished but some rows failed, were invalid or were not attempted.
    SomeFailed = 1,
    /// Nothing useful could be done: bad flags, unreadable input, unwritable output, auth rejected.
    Fatal = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e as u8)
    }
}

/// Lock `m`, going on after a panic in another holder: every value bulkcast guards with a
/// mutex (counters, a histogram, a buffer of events) stays usable when a holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `n` and the noun for it: "1 row", "2 rows", "0 rows".
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}
