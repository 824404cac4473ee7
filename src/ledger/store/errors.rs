//! What a database error means for a person, and which errors are worth trying again.

use std::path::Path;

/// A message for a database error, naming the file and what to do when it is damaged.
pub(super) fn explain(path: &Path, e: rusqlite::Error) -> anyhow::Error {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    let damaged = matches!(e.sqlite_error_code(), Some(DatabaseCorrupt | NotADatabase));
    if damaged {
        anyhow::anyhow!(
            "the ledger {} is damaged ({e}); nothing was sent. It is what keeps rows from being \
             created twice across runs: move it aside (do not delete it), then run again — rows \
             already on the account are then found by name (see --skip-existing)",
            path.display()
        )
    } else if matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::DiskFull)
    ) {
        anyhow::anyhow!(
            "the ledger {}: {e} (the disk may be full, or a file-size limit reached)",
            path.display()
        )
    } else {
        anyhow::anyhow!("the ledger {}: {e}", path.display())
    }
}

pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    matches!(e.sqlite_error_code(), Some(DatabaseBusy | DatabaseLocked))
}
