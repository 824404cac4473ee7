//! A run's entries in the `sends` table: a name claimed before its request leaves, and the
//! entries written for it since. Called by the ledger's writer, inside its transactions.

use rusqlite::{params, OptionalExtension};

use super::State;

/// What became of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The name is this run's: its request may leave.
    Ours,
    /// Another run holds it (or changed it since this run read it): not sent.
    Taken { run: i64 },
}

/// A name to claim.
pub(super) struct Row<'a> {
    pub(super) key: &'a str,
    pub(super) line: u64,
    pub(super) name: &'a str,
    pub(super) namesake: bool,
    /// The digest of the request sent ([`super::body_digest`]).
    pub(super) body: Option<i64>,
}

/// Claim `row`'s name for `run` on `account` (at `now`), if its entry is still `seen`.
pub(super) fn claim(
    tx: &rusqlite::Transaction<'_>,
    (account, run, now): (i64, i64, i64),
    row: &Row<'_>,
    seen: Option<i64>,
) -> rusqlite::Result<Claimed> {
    let insert = || insert(tx, (account, run, now), row, State::Sent, None);
    // The common case first: a name nobody holds, one statement.
    if seen.is_none() && insert()? == 1 {
        return Ok(Claimed::Ours);
    }
    let current: Option<(i64, i64)> = tx
        .prepare_cached("SELECT id, run FROM sends WHERE account = ?1 AND key = ?2")?
        .query_row(params![account, row.key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match current {
        // Already this run's (a row sent again after the lookup): it last left now.
        Some((_, owner)) if owner == run => {
            tx.prepare_cached("UPDATE sends SET last_sent = ?1 WHERE account = ?2 AND key = ?3")?
                .execute(params![now, account, row.key])?;
            Ok(Claimed::Ours)
        }
        // Still what the run read: the name passes to it.
        Some((id, _)) if Some(id) == seen => {
            // What the name was created (or sent, with no outcome) for stays known (`made`):
            // a copy of that row is still its campaign, not a new one.
            tx.prepare_cached(
                "INSERT OR REPLACE INTO made (account, key, body, run, line, name, state, \
                 broadcast_id, namesake, sent_at, last_sent) SELECT account, key, body, run, \
                 line, name, state, broadcast_id, namesake, sent_at, last_sent FROM sends \
                 WHERE account = ?1 AND key = ?2 AND body IS NOT NULL",
            )?
            .execute(params![account, row.key])?;
            tx.prepare_cached("DELETE FROM sends WHERE account = ?1 AND key = ?2")?
                .execute(params![account, row.key])?;
            insert()?;
            Ok(Claimed::Ours)
        }
        None if seen.is_none() => {
            insert()?;
            Ok(Claimed::Ours)
        }
        // Gone since it was read (settled elsewhere): look again on the next run.
        None => Ok(Claimed::Taken { run: 0 }),
        Some((_, owner)) => Ok(Claimed::Taken { run: owner }),
    }
}

/// Add `row`'s entry for `run` in `state` (unless the name has one): how many were added.
/// Every entry is made here, with its claim id.
pub(super) fn insert(
    tx: &rusqlite::Transaction<'_>,
    (account, run, now): (i64, i64, i64),
    row: &Row<'_>,
    state: State,
    broadcast_id: Option<&str>,
) -> rusqlite::Result<usize> {
    let done_at = (state != State::Sent).then_some(now);
    tx.prepare_cached(
        "INSERT OR IGNORE INTO sends (account, key, id, run, line, name, state, broadcast_id, \
         namesake, sent_at, done_at, body, last_sent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
         ?10, ?11, ?12, ?10)",
    )?
    .execute(params![
        account,
        row.key,
        new_id(),
        run,
        row.line as i64,
        row.name,
        state.as_str(),
        broadcast_id,
        i64::from(row.namesake),
        now,
        done_at,
        row.body
    ])
}

/// A claim's id: random, so that two processes writing the ledger never give the same one.
fn new_id() -> i64 {
    rand::random::<i64>() & i64::MAX
}
