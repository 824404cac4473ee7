//! The ledger's tables, created when missing.

pub(super) const CREATE: &str = "
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    who TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    UNIQUE (target, who)
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account INTEGER NOT NULL REFERENCES accounts (id),
    sheet TEXT NOT NULL,
    results TEXT NOT NULL,
    resumed INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    timeout_ms INTEGER NOT NULL,
    started INTEGER NOT NULL,
    ended INTEGER,
    created INTEGER,
    failed INTEGER,
    uncertain INTEGER,
    existing INTEGER,
    stopped TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_results ON runs (results);
CREATE TABLE IF NOT EXISTS baselines (
    results TEXT PRIMARY KEY,
    taken INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS baseline_ids (
    results TEXT NOT NULL,
    key TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (results, key, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (
    results TEXT PRIMARY KEY,
    run INTEGER NOT NULL,
    json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS paces (
    target TEXT NOT NULL,
    who TEXT NOT NULL,
    rate REAL NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (target, who)
);
CREATE TABLE IF NOT EXISTS page_columns (
    header TEXT PRIMARY KEY,
    field TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (
    account INTEGER NOT NULL REFERENCES accounts (id),
    key TEXT NOT NULL,
    id INTEGER NOT NULL,
    run INTEGER NOT NULL REFERENCES runs (id),
    line INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    broadcast_id TEXT,
    namesake INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    done_at INTEGER,
    body INTEGER,
    last_sent INTEGER,
    PRIMARY KEY (account, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS made (
    account INTEGER NOT NULL REFERENCES accounts (id),
    key TEXT NOT NULL,
    body INTEGER NOT NULL,
    run INTEGER NOT NULL,
    line INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    broadcast_id TEXT,
    namesake INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    last_sent INTEGER,
    PRIMARY KEY (account, key, body)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sends_by_broadcast ON sends (broadcast_id);
CREATE INDEX IF NOT EXISTS made_by_broadcast ON made (broadcast_id);
";

/// Bring a ledger of schema `version` (0: new) to the current one, its tables made.
pub(super) fn migrate(conn: &rusqlite::Connection, version: i64) -> rusqlite::Result<()> {
    if version == 1 {
        conn.execute_batch("ALTER TABLE sends ADD COLUMN body INTEGER")?;
    }
    if (1..=2).contains(&version) {
        conn.execute_batch("ALTER TABLE runs ADD COLUMN existing INTEGER")?;
    }
    if (1..=3).contains(&version) {
        conn.execute_batch("ALTER TABLE sends ADD COLUMN last_sent INTEGER")?;
    }
    Ok(())
}
