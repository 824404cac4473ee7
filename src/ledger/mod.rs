//! The run's records on disk, where the promise "every broadcast is created exactly once" is
//! written down: what became of a row ([`outcome`], with the codec the results file and the
//! journal share), the crash-safe event log ([`journal`]), what earlier runs recorded
//! ([`prior`], for `--resume`), and the files of one run with their lifecycle ([`files`]).

pub(crate) mod files;
pub(crate) mod journal;
pub mod outcome;
pub(crate) mod prior;
