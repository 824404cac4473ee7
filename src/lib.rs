//! bulkcast creates Smartflo voice-broadcast campaigns in bulk from a spreadsheet's CSV export.
//!
//! Data flows one way, and the modules follow it: [`cli`] parses flags into a [`config`], the
//! [`input`] reader turns rows into typed [`request`]s with a verdict each, the [`submit`] pool
//! sends the valid ones through one rate limiter, and [`output`] writes one result per row and the
//! summary. [`mock`] is a local simulation of the Smartflo API for trying bulkcast, for tests and
//! for benchmarks.

pub mod cli;
pub mod config;
pub mod csvio;
pub mod input;
pub mod logging;
pub mod mock;
pub mod outcome;
pub mod output;
pub mod request;
pub mod submit;
pub mod validate;

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
