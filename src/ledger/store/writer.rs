//! The ledger's one writer: a thread that owns the database connection of a run, takes every
//! command waiting and commits them in one transaction (group commit), replying to each claim
//! once it is on the disk.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::sends::{claim, insert, Claimed, Row};
use super::{connect, explain, live_path, now_ms, Commands, NewRun, Settle, State, FILE};

/// Commands a writer thread takes at once, at most.
const BATCH: usize = 4096;

pub(super) enum Cmd {
    Claim {
        key: String,
        line: u64,
        name: String,
        /// The entry's id when the run read it (`None`: there was none).
        seen: Option<i64>,
        namesake: bool,
        body: i64,
        reply: oneshot::Sender<Result<Claimed, String>>,
    },
    /// A claim of this run settled.
    Settle { key: String, to: Settle },
    /// A name found created on the account: the entry `seen` (or a new one) says so.
    Found {
        key: String,
        line: u64,
        name: String,
        id: String,
        seen: Option<i64>,
    },
    /// Wait until everything before is committed.
    Sync(oneshot::Sender<Result<(), String>>),
    End {
        counts: [i64; 4],
        stopped: Option<String>,
    },
}

static INLINE: AtomicBool = AtomicBool::new(false);

/// From now on, each run's ledger commits on the caller's thread rather than on a writer thread
/// of its own. For the deterministic simulation, whose runs share one thread: a commit then
/// takes no time on its paused clock, and every world keeps one order. It groups commands as the
/// writer thread can at worst: outcomes (settled, found) wait, uncommitted, until a command
/// that must be on the disk before its caller goes on (a claim, a sync, the run's end) commits
/// them with it — so a run killed meanwhile loses them, as a killed process loses its writer's
/// queue.
pub fn commit_inline(on: bool) {
    INLINE.store(on, Ordering::Relaxed);
}

/// Run `f`, a blocking call on a run's files or ledger: on tokio's blocking threads, or with
/// [`commit_inline`] here and now, so that the simulation's runs (on one thread, on a paused
/// clock) see its answer at one point of their order every time, not when another thread
/// happens to finish.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if INLINE.load(Ordering::Relaxed) {
        return Ok(f());
    }
    tokio::task::spawn_blocking(f).await
}

/// A run's handle on the ledger: the writer thread, and the live lock that tells other runs
/// this one is still going.
pub struct Ledger {
    tx: Mutex<Option<mpsc::Sender<Cmd>>>,
    /// With [`commit_inline`]: the writer, committing on the caller's thread, and the commands
    /// it has not committed yet.
    inline: Mutex<Option<(Writer, Vec<Cmd>)>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    run: i64,
    live: Option<(File, PathBuf)>,
}

impl Ledger {
    /// Record a new run in the ledger at `dir` and start its writer.
    pub fn begin(dir: &Path, new: &NewRun<'_>) -> Result<Ledger> {
        let conn = connect(dir, false)?;
        let path = dir.join(FILE);
        // One write transaction taken up front, as in `connect`: it waits for another run's.
        let register = || -> rusqlite::Result<(i64, i64)> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let tx = &conn;
            tx.execute(
                "INSERT OR IGNORE INTO accounts (target, who, first_seen) VALUES (?1, ?2, ?3)",
                params![new.account.target, new.account.who, now_ms()],
            )?;
            let account: i64 = tx.query_row(
                "SELECT id FROM accounts WHERE target = ?1 AND who = ?2",
                params![new.account.target, new.account.who],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO runs (account, sheet, results, resumed, pid, timeout_ms, started) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    account,
                    new.sheet,
                    new.results,
                    i64::from(new.resumed),
                    i64::from(std::process::id()),
                    new.timeout_ms,
                    now_ms()
                ],
            )?;
            let run = tx.last_insert_rowid();
            if !new.resumed {
                super::queries::keep_settings(tx, new.results, run, new.settings)?;
            }
            tx.execute_batch("COMMIT")?;
            Ok((account, run))
        };
        let (account, run) = register().map_err(|e| explain(&path, e))?;
        let live_at = live_path(dir, run);
        let live = File::create(&live_at)
            .and_then(|f| f.lock().map(|()| f))
            .with_context(|| format!("cannot create {}", live_at.display()))?;
        let live = Some((live, live_at));
        if INLINE.load(Ordering::Relaxed) {
            return Ok(Ledger {
                tx: Mutex::new(None),
                inline: Mutex::new(Some((Writer::new(conn, path, account, run), Vec::new()))),
                thread: Mutex::new(None),
                run,
                live,
            });
        }
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ledger".into())
            .spawn(move || Writer::new(conn, path, account, run).serve(rx))
            .context("cannot start the ledger's writer")?;
        Ok(Ledger {
            tx: Mutex::new(Some(tx)),
            inline: Mutex::new(None),
            thread: Mutex::new(Some(thread)),
            run,
            live,
        })
    }

    pub fn run(&self) -> i64 {
        self.run
    }

    fn send(&self, cmd: Cmd) -> bool {
        if let Some((writer, pending)) = &mut *crate::lock(&self.inline) {
            let waits = matches!(cmd, Cmd::Settle { .. } | Cmd::Found { .. });
            pending.push(cmd);
            if !waits {
                writer.commit(std::mem::take(pending));
            }
            return true;
        }
        match &*crate::lock(&self.tx) {
            Some(tx) => tx.send(cmd).is_ok(),
            None => false,
        }
    }

    /// Claim the name `key` for a row about to be sent; the answer comes once it is on the
    /// disk.
    pub fn claim(
        &self,
        key: String,
        (line, name): (u64, &str),
        seen: Option<i64>,
        (namesake, body): (bool, i64),
    ) -> oneshot::Receiver<Result<Claimed, String>> {
        let (reply, rx) = oneshot::channel();
        let cmd = Cmd::Claim {
            key,
            line,
            name: name.to_owned(),
            seen,
            namesake,
            body,
            reply,
        };
        self.send(cmd);
        rx
    }

    pub fn settle(&self, key: String, to: Settle) {
        self.send(Cmd::Settle { key, to });
    }

    pub fn found(&self, key: String, (line, name): (u64, &str), id: String, seen: Option<i64>) {
        let name = name.to_owned();
        self.send(Cmd::Found {
            key,
            line,
            name,
            id,
            seen,
        });
    }

    /// Wait until every command before this one is committed.
    pub async fn synced(&self) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        if !self.send(Cmd::Sync(reply)) {
            return Err("the ledger is closed".into());
        }
        rx.await
            .unwrap_or_else(|_| Err("the ledger's writer stopped".into()))
    }

    /// Record the run's end (its counts: created, failed, uncertain, already on the account)
    /// and close.
    pub fn end(&self, counts: [i64; 4], stopped: Option<String>) {
        self.send(Cmd::End { counts, stopped });
        self.close();
    }

    fn close(&self) {
        crate::lock(&self.inline).take();
        crate::lock(&self.tx).take();
        if let Some(t) = crate::lock(&self.thread).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        self.close();
        if let Some((file, path)) = self.live.take() {
            let _ = std::fs::remove_file(&path);
            let _ = file.unlock();
        }
    }
}

struct Writer {
    conn: Connection,
    path: PathBuf,
    account: i64,
    run: i64,
    /// The mode of the last commit: claims are committed with FULL, outcomes with NORMAL.
    full: bool,
    /// What made a commit fail: from then on no claim is given.
    broken: Option<Arc<str>>,
}

impl Writer {
    fn new(conn: Connection, path: PathBuf, account: i64, run: i64) -> Writer {
        Writer {
            conn,
            path,
            account,
            run,
            full: true,
            broken: None,
        }
    }

    fn serve(mut self, rx: Commands) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<Cmd>) {
        let wants_full = batch
            .iter()
            .any(|c| matches!(c, Cmd::Claim { .. } | Cmd::Sync(_) | Cmd::End { .. }));
        let mut answers = Vec::new();
        let result = match &self.broken {
            Some(why) => Err(why.to_string()),
            None => self
                .apply(&batch, wants_full, &mut answers)
                .map_err(|e| format!("{:#}", explain(&self.path, e))),
        };
        if let Err(why) = &result {
            self.broken.get_or_insert_with(|| Arc::from(why.as_str()));
        }
        let mut answers = answers.into_iter();
        for cmd in batch {
            match cmd {
                Cmd::Claim { reply, .. } => {
                    let answer = match &result {
                        Ok(()) => Ok(answers.next().unwrap_or(Claimed::Taken { run: 0 })),
                        Err(why) => Err(why.clone()),
                    };
                    let _ = reply.send(answer);
                }
                Cmd::Sync(reply) => {
                    let _ = reply.send(result.clone());
                }
                _ => {}
            }
        }
    }

    fn apply(
        &mut self,
        batch: &[Cmd],
        full: bool,
        answers: &mut Vec<Claimed>,
    ) -> rusqlite::Result<()> {
        if full != self.full {
            let mode = if full { "FULL" } else { "NORMAL" };
            self.conn.pragma_update(None, "synchronous", mode)?;
            self.full = full;
        }
        let (account, run, now) = (self.account, self.run, now_ms());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for cmd in batch {
            match cmd {
                Cmd::Claim {
                    key,
                    line,
                    name,
                    seen,
                    namesake,
                    body,
                    ..
                } => {
                    let row = Row {
                        key,
                        line: *line,
                        name,
                        namesake: *namesake,
                        body: Some(*body),
                    };
                    answers.push(claim(&tx, (account, run, now), &row, *seen)?);
                }
                Cmd::Settle { key, to } => {
                    let set = |state: State, id: Option<&str>| {
                        tx.prepare_cached(
                            "UPDATE sends SET state = ?1, broadcast_id = ?2, done_at = ?3 \
                             WHERE account = ?4 AND key = ?5 AND run = ?6",
                        )?
                        .execute(params![
                            state.as_str(),
                            id,
                            now,
                            account,
                            key,
                            run
                        ])
                    };
                    match to {
                        Settle::Created(id) => set(State::Created, id.as_deref())?,
                        Settle::Unknown => set(State::Unknown, None)?,
                        Settle::Free => tx
                            .prepare_cached(
                                "DELETE FROM sends WHERE account = ?1 AND key = ?2 AND run = ?3",
                            )?
                            .execute(params![account, key, run])?,
                    };
                }
                Cmd::Found {
                    key,
                    line,
                    name,
                    id,
                    seen,
                } => {
                    let updated = tx
                        .prepare_cached(
                            "UPDATE sends SET state = 'created', broadcast_id = ?1, done_at = ?2 \
                             WHERE account = ?3 AND key = ?4 AND (id = ?5 OR run = ?6)",
                        )?
                        .execute(params![id, now, account, key, seen.unwrap_or(-1), run])?;
                    if updated == 0 && seen.is_none() {
                        let row = Row {
                            key,
                            line: *line,
                            name,
                            namesake: false,
                            body: None,
                        };
                        insert(&tx, (account, run, now), &row, State::Created, Some(id))?;
                    }
                }
                Cmd::End { counts, stopped } => {
                    tx.prepare_cached(
                        "UPDATE runs SET ended = ?1, created = ?2, failed = ?3, uncertain = ?4, \
                         existing = ?5, stopped = ?6 WHERE id = ?7",
                    )?
                    .execute(params![
                        now, counts[0], counts[1], counts[2], counts[3], stopped, run
                    ])?;
                }
                Cmd::Sync(_) => {}
            }
        }
        tx.commit()
    }
}
