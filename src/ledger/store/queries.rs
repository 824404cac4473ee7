//! What `bulkcast runs` reads of the ledger: every run, one run's names, and who sent a name.

use std::path::{Path, PathBuf};

use anyhow::Result;
use rusqlite::params;

use super::{claim, connect, explain, is_live, run_info, Account, Claim, RunInfo, FILE, RUNS};

/// The ledger at `dir`, opened to read; `None` when there is none yet (nothing recorded).
fn existing(dir: &Path) -> Result<Option<rusqlite::Connection>> {
    if !dir.join(FILE).exists() {
        return Ok(None);
    }
    connect(dir, true).map(Some)
}

/// Every run in the ledger at `dir`, newest last (for `bulkcast runs`).
pub fn all_runs(dir: &Path) -> Result<Vec<RunInfo>> {
    let path = dir.join(FILE);
    let Some(conn) = existing(dir)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare(&format!("{RUNS} ORDER BY runs.id"))
        .map_err(|e| explain(&path, e))?;
    let runs = stmt
        .query_map([], |r| run_info(dir, r))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| explain(&path, e))?;
    Ok(runs)
}

/// The names a run claimed that are still in the ledger, in input order: (line, name, state,
/// broadcast id); at most `limit`.
pub fn sends_of(dir: &Path, run: i64, limit: usize) -> Result<Vec<Claim>> {
    let path = dir.join(FILE);
    let conn = connect(dir, true)?;
    let mut stmt = conn
        .prepare(
            "SELECT id, run, line, name, state, broadcast_id, namesake, sent_at, body, last_sent \
             FROM sends WHERE run = ?1 ORDER BY line LIMIT ?2",
        )
        .map_err(|e| explain(&path, e))?;
    let rows = stmt
        .query_map(params![run, limit as i64], |r| claim(r, 0))
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| explain(&path, e))?;
    Ok(rows)
}

/// Every entry whose name has `key`, on any account (for `bulkcast runs --name`).
pub fn find_name(dir: &Path, key: &str) -> Result<Vec<(Account, Claim)>> {
    let path = dir.join(FILE);
    let Some(conn) = existing(dir)? else {
        return Ok(Vec::new());
    };
    let mut stmt = conn
        .prepare(
            "SELECT s.id, s.run, s.line, s.name, s.state, s.broadcast_id, s.namesake, s.sent_at, \
             s.body, s.last_sent, a.target, a.who FROM sends s \
             JOIN accounts a ON a.id = s.account WHERE s.key = ?1",
        )
        .map_err(|e| explain(&path, e))?;
    let rows = stmt
        .query_map([key], |r| {
            let account = Account {
                target: r.get(10)?,
                who: r.get(11)?,
            };
            Ok((account, claim(r, 0)?))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(|e| explain(&path, e))?;
    Ok(rows)
}

/// A path as the ledger names files: absolute, its folder resolved.
pub fn path_key(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let resolved = match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => dir.canonicalize().map_or(abs.clone(), |d| d.join(name)),
        _ => abs,
    };
    resolved.display().to_string()
}

/// The settings the run that started the results file `results` (a [`path_key`]) was given,
/// as JSON; `None` when the ledger holds none (no ledger yet, or a run of an older version).
pub fn settings_for(dir: &Path, results: &str) -> Result<Option<String>> {
    let Some(conn) = existing(dir)? else {
        return Ok(None);
    };
    let json = conn
        .query_row(
            "SELECT json FROM settings WHERE results = ?1",
            [results],
            |r| r.get::<_, String>(0),
        )
        .ok();
    Ok(json)
}

/// Keep the settings of the run `run`, the first into `results` (replacing those of an earlier
/// record of that path, whose results are gone).
pub(super) fn keep_settings(
    tx: &rusqlite::Connection,
    results: &str,
    run: i64,
    json: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO settings (results, run, json) VALUES (?1, ?2, ?3)",
        params![results, run, json],
    )?;
    Ok(())
}

/// How many runs of this machine are sending to `account` now (their process holds its live
/// lock), the asking run included: 0 when there is no ledger yet, `None` when it cannot be
/// read now (busy, damaged): the caller keeps the last count it knew, never "alone".
pub fn sending_to(dir: &Path, account: &Account) -> Option<usize> {
    let conn = match existing(dir) {
        Ok(Some(conn)) => conn,
        Ok(None) => return Some(0),
        Err(_) => return None,
    };
    let ids = conn
        .prepare(
            "SELECT runs.id FROM runs JOIN accounts ON runs.account = accounts.id \
             WHERE accounts.target = ?1 AND accounts.who = ?2 AND runs.ended IS NULL",
        )
        .and_then(|mut s| {
            s.query_map(params![account.target, account.who], |r| r.get::<_, i64>(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()
        })
        .ok()?;
    Some(ids.into_iter().filter(|&id| is_live(dir, id)).count())
}

/// A broadcast id this machine's ledger holds: the request it was created for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    /// The name's key ([`crate::input::name_key`]).
    pub key: String,
    /// The digest of the body sent ([`super::body_digest`]); `None` in a ledger older than that.
    pub body: Option<i64>,
    /// The line of the run's sheet it came from.
    pub line: u64,
}

/// Which of `ids` the ledger at `dir` holds on `account` as a broadcast some request of this
/// machine created (its current claims and the ones that passed to another request), by id.
pub fn holders(dir: &Path, account: &Account, ids: &[String]) -> Result<Vec<(String, Holding)>> {
    let path = dir.join(FILE);
    let Some(conn) = existing(dir)? else {
        return Ok(Vec::new());
    };
    let mut held = Vec::new();
    for table in ["sends", "made"] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT t.key, t.body, t.line FROM {table} t JOIN accounts a ON t.account = a.id \
                 WHERE t.broadcast_id = ?1 AND a.target = ?2 AND a.who = ?3"
            ))
            .map_err(|e| explain(&path, e))?;
        for id in ids {
            let rows = stmt
                .query_map(params![id, account.target, account.who], |r| {
                    Ok(Holding {
                        key: r.get(0)?,
                        body: r.get(1)?,
                        line: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    })
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| explain(&path, e))?;
            held.extend(rows.into_iter().map(|h| (id.clone(), h)));
        }
    }
    Ok(held)
}

/// For each (name key, body digest) of `sent`: a request of another content this machine sent
/// under that name on `account` whose broadcast, if it made one, has no id in the ledger (no
/// answer yet, or a "created" with no id): its run and line, if any.
pub fn rivals(
    dir: &Path,
    account: &Account,
    sent: &[(String, i64)],
) -> Result<Vec<Option<(i64, u64)>>> {
    let path = dir.join(FILE);
    let Some(conn) = existing(dir)? else {
        return Ok(vec![None; sent.len()]);
    };
    let mut found = vec![None; sent.len()];
    for table in ["sends", "made"] {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT t.run, t.line FROM {table} t JOIN accounts a ON t.account = a.id \
                 WHERE t.key = ?1 AND a.target = ?2 AND a.who = ?3 AND t.broadcast_id IS NULL \
                 AND t.body IS NOT NULL AND t.body != ?4 LIMIT 1"
            ))
            .map_err(|e| explain(&path, e))?;
        for (i, (key, body)) in sent.iter().enumerate() {
            if found[i].is_some() {
                continue;
            }
            let mut rows = stmt
                .query(params![key, account.target, account.who, body])
                .map_err(|e| explain(&path, e))?;
            if let Some(r) = rows.next().map_err(|e| explain(&path, e))? {
                let line: i64 = r.get(1).map_err(|e| explain(&path, e))?;
                found[i] = Some((
                    r.get(0).map_err(|e| explain(&path, e))?,
                    u64::try_from(line).unwrap_or(0),
                ));
            }
        }
    }
    Ok(found)
}

/// Remember the pace `account` granted a run (requests a second, account-wide), for the next
/// `--rate auto`.
pub fn remember_pace(dir: &Path, account: &Account, rate: f64) -> Result<()> {
    let conn = connect(dir, false)?;
    conn.execute(
        "INSERT OR REPLACE INTO paces (target, who, rate, at) VALUES (?1, ?2, ?3, ?4)",
        params![account.target, account.who, rate, super::now_ms()],
    )
    .map_err(|e| explain(&dir.join(FILE), e))?;
    Ok(())
}

/// The pace [`remember_pace`] kept for `account`, and when (ms since the epoch).
pub fn remembered_pace(dir: &Path, account: &Account) -> Option<(f64, i64)> {
    let conn = existing(dir).ok()??;
    conn.query_row(
        "SELECT rate, at FROM paces WHERE target = ?1 AND who = ?2",
        params![account.target, account.who],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

/// Remember that a column headed `header` (squashed) holds `field`, as a person chose on the
/// page, for the next sheet with that header.
pub fn remember_column(dir: &Path, header: &str, field: &str) -> Result<()> {
    let conn = connect(dir, false)?;
    conn.execute(
        "INSERT OR REPLACE INTO page_columns (header, field) VALUES (?1, ?2)",
        params![header, field],
    )
    .map_err(|e| explain(&dir.join(FILE), e))?;
    Ok(())
}

/// The columns remembered with [`remember_column`]: squashed header → field.
pub fn remembered_columns(dir: &Path) -> Vec<(String, String)> {
    let Ok(Some(conn)) = existing(dir) else {
        return Vec::new();
    };
    let rows = conn
        .prepare("SELECT header, field FROM page_columns")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, String)>>>()
        });
    rows.unwrap_or_default()
}

/// Keep, for the results file `results` (a [`path_key`]), what was on the account before its
/// first run's first create — name key → ids — on the disk before anything is sent, in place
/// of any earlier record of that path.
pub fn save_baseline(
    dir: &Path,
    results: &str,
    ids: &std::collections::HashMap<String, Vec<String>>,
) -> Result<()> {
    let conn = connect(dir, false)?;
    let save = || -> rusqlite::Result<()> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.execute("DELETE FROM baseline_ids WHERE results = ?1", [results])?;
        conn.execute(
            "INSERT OR REPLACE INTO baselines (results, taken) VALUES (?1, ?2)",
            params![results, super::now_ms()],
        )?;
        {
            let mut insert = conn.prepare_cached(
                "INSERT OR IGNORE INTO baseline_ids (results, key, id) VALUES (?1, ?2, ?3)",
            )?;
            for (key, list) in ids {
                for id in list {
                    insert.execute(params![results, key, id])?;
                }
            }
        }
        conn.execute_batch("COMMIT")
    };
    save().map_err(|e| explain(&dir.join(FILE), e))
}

/// What [`save_baseline`] kept for `results`; `None` when it kept nothing (no ledger yet, or
/// a record of an older version, whose baseline is a file beside the results).
pub fn load_baseline(
    dir: &Path,
    results: &str,
) -> Result<Option<std::collections::HashMap<String, Vec<String>>>> {
    let Some(conn) = existing(dir)? else {
        return Ok(None);
    };
    let taken = conn
        .query_row(
            "SELECT taken FROM baselines WHERE results = ?1",
            [results],
            |r| r.get::<_, i64>(0),
        )
        .ok();
    if taken.is_none() {
        return Ok(None);
    }
    let mut ids: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut rows = conn
        .prepare("SELECT key, id FROM baseline_ids WHERE results = ?1")
        .map_err(|e| explain(&dir.join(FILE), e))?;
    let all = rows
        .query_map([results], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(|e| explain(&dir.join(FILE), e))?;
    for row in all {
        let (key, id) = row.map_err(|e| explain(&dir.join(FILE), e))?;
        ids.entry(key).or_default().push(id);
    }
    Ok(Some(ids))
}

/// The state directory: `--state-dir`, else `BULKCAST_STATE_DIR`, else
/// `$XDG_STATE_HOME/bulkcast`, else `~/.local/state/bulkcast`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BULKCAST_STATE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("bulkcast"));
    }
    let home = std::env::var_os("HOME").filter(|d| !d.is_empty())?;
    Some(PathBuf::from(home).join(".local/state/bulkcast"))
}
