//! The run's records on disk, where the promise "every broadcast is created exactly once" is
//! written down: what became of a row ([`outcome`], with the codec the results file and the
//! journal share), the crash-safe event log ([`journal`]), what earlier runs recorded
//! ([`prior`], for `--resume`), what was on the account before the first create
//! ([`baseline`]), the files of one run with their lifecycle ([`files`]), and, across runs and
//! results files, what this machine sent to each account ([`store`], the ledger).

pub(crate) mod baseline;
mod escape;
pub(crate) mod files;
pub(crate) mod journal;
pub mod outcome;
pub(crate) mod prior;
pub mod store;

use std::io;
use std::path::Path;

/// Sync the directory that holds `path`, so that a file created or renamed there survives a
/// power cut (syncing the file alone does not make its name durable).
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
