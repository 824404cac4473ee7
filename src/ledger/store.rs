//! The ledger: what this machine has sent to each account, in one SQLite database in the
//! user's state directory, shared by every run whatever its results file.
//!
//! Every name a run is about to create is *claimed* on its account before the request leaves
//! (a row of `sends`, keyed by the account and the name's key, [`crate::input::name_key`]); the
//! claim becomes `created` (with the broadcast's id), `unknown`, or is given up when the create
//! failed. A claim is taken only if the name's entry is still what the run read when it decided
//! to send (compare and swap, in one transaction): of two runs that decide at the same moment,
//! one sends and the other is told who did. So a name this machine created, has in flight, or
//! left uncertain on an account is sent again by no run — however many results files, copies
//! of the sheet or terminals there are.
//!
//! Durability: WAL, claims committed with `synchronous=FULL` (on the disk before the request
//! leaves: a power cut keeps them), outcomes with `synchronous=NORMAL` (in the operating
//! system at once: a killed process keeps them; a power cut may lose the latest, which only
//! leaves those names claimed, that is looked up, never sent blindly). One writer thread takes
//! every command waiting and commits them in one transaction: the claims of rows released
//! together cost one sync.
//!
//! No secret is stored: an account is its server and who proves it (the login email, or a
//! fingerprint of a direct token).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context, Result};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

mod account;
mod errors;
mod queries;
mod schema;
mod sends;
use schema::CREATE;
mod writer;

pub use account::{token_fingerprint, Account};
use errors::{explain, is_busy};
pub use queries::{
    all_runs, default_dir, find_name, holders, load_baseline, path_key, remember_column,
    remember_pace, remembered_columns, remembered_pace, rivals, save_baseline, sending_to,
    sends_of, settings_for, Holding,
};
pub use sends::Claimed;
pub use writer::{blocking, commit_inline, Ledger};

/// The database's file in the state directory.
pub const FILE: &str = "ledger.sqlite3";
/// The schema this version writes; a newer one is refused rather than misread.
/// 2: `sends.body`, the digest of the request sent for a name.
const SCHEMA: i64 = 4;

/// What a claim's name has become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Claimed: its create may be in flight, or its run ended without an answer.
    Sent,
    Created,
    /// Its create got no usable answer.
    Unknown,
}

impl State {
    fn parse(s: &str) -> State {
        match s {
            "created" => State::Created,
            "unknown" => State::Unknown,
            _ => State::Sent,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Sent => "sent",
            State::Created => "created",
            State::Unknown => "unknown",
        }
    }
}

/// A run this machine made, as the ledger has it.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: i64,
    pub account: Account,
    pub sheet: String,
    pub results: String,
    pub resumed: bool,
    pub pid: i64,
    pub timeout_ms: i64,
    pub started: i64,
    pub ended: Option<i64>,
    pub created: Option<i64>,
    pub failed: Option<i64>,
    pub uncertain: Option<i64>,
    /// Rows counted as already on the account (`--skip-existing`), not created by it.
    pub existing: Option<i64>,
    pub stopped: Option<String>,
    /// Still going: its process holds its live lock.
    pub live: bool,
}

/// The entry of a name on an account.
#[derive(Debug, Clone)]
pub struct Claim {
    /// A random number given to each claim: a run sends only if the entry it read is still
    /// the one there (one table, keyed by account and name: one b-tree per insert).
    pub id: i64,
    pub run: i64,
    pub line: u64,
    pub name: String,
    pub state: State,
    pub broadcast_id: Option<String>,
    /// A broadcast of this name was on the account before it was sent (the run was told to
    /// allow or skip such names): finding the name later does not prove this send created it.
    pub namesake: bool,
    pub sent_at: i64,
    /// When its last request left (a row sent again after a lookup): a lookup waits until that
    /// one can no longer land.
    pub last_sent: i64,
    /// The digest of the request sent ([`body_digest`]); `None` from a ledger written before
    /// it was kept.
    pub body: Option<i64>,
}

/// A stable digest of a request's body (FNV-1a, 64 bits): the same row sent from a copy of the
/// sheet or from its failed rows has the same one.
pub fn body_digest(body: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

pub fn now_ms() -> i64 {
    crate::clock::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Open (creating it if new) the database at `dir`, ready for WAL and full syncs.
fn connect(dir: &Path, read_only: bool) -> Result<Connection> {
    let path = dir.join(FILE);
    if !read_only {
        create_private_dir(dir)?;
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(&path, flags).map_err(|e| explain(&path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| explain(&path, e))?;
    // Point lookups and appends: a small page cache is enough, and memory stays bounded.
    conn.pragma_update(None, "cache_size", -512)
        .map_err(|e| explain(&path, e))?;
    if !read_only {
        let setup = || -> rusqlite::Result<i64> {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            // One write transaction taken up front (it waits its turn): statements that read
            // first and then write would be refused at once, without waiting, when another
            // process committed in between (two runs started together on a new ledger).
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if version <= SCHEMA {
                conn.execute_batch(CREATE)?;
                schema::migrate(&conn, version)?;
                conn.pragma_update(None, "user_version", SCHEMA)?;
            }
            conn.execute_batch("COMMIT")?;
            Ok(version)
        };
        // Turning a new ledger to WAL needs it alone for a moment, and SQLite says "locked" at
        // once rather than wait when a second run opens it then: try again for a while.
        let mut tries = 0;
        let version = loop {
            match setup() {
                Err(e) if is_busy(&e) && tries < 600 => {
                    let _ = conn.execute_batch("ROLLBACK");
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other.map_err(|e| explain(&path, e))?,
            }
        };
        if version > SCHEMA {
            bail!(
                "the ledger {} was written by a newer version of bulkcast; nothing was sent. Use \
                 that version",
                path.display()
            );
        }
    }
    Ok(conn)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir.join("live"))
        .with_context(|| format!("cannot create the state directory {}", dir.display()))
}

/// Whether the run `id`'s process still holds its live lock.
pub(crate) fn is_live(dir: &Path, id: i64) -> bool {
    let Ok(file) = File::open(live_path(dir, id)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

fn live_path(dir: &Path, id: i64) -> PathBuf {
    dir.join("live").join(format!("run-{id}"))
}

fn run_info(dir: &Path, r: &rusqlite::Row<'_>) -> rusqlite::Result<RunInfo> {
    let id: i64 = r.get("id")?;
    Ok(RunInfo {
        id,
        account: Account {
            target: r.get("target")?,
            who: r.get("who")?,
        },
        sheet: r.get("sheet")?,
        results: r.get("results")?,
        resumed: r.get::<_, i64>("resumed")? != 0,
        pid: r.get("pid")?,
        timeout_ms: r.get("timeout_ms")?,
        started: r.get("started")?,
        ended: r.get("ended")?,
        created: r.get("created")?,
        failed: r.get("failed")?,
        uncertain: r.get("uncertain")?,
        existing: r.get("existing")?,
        stopped: r.get("stopped")?,
        live: is_live(dir, id),
    })
}

/// The claim in the columns from `at` on: id, run, line, name, state, broadcast id, namesake,
/// sent at, body, last sent.
fn claim(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Claim> {
    Ok(Claim {
        id: r.get(at)?,
        run: r.get(at + 1)?,
        line: u64::try_from(r.get::<_, i64>(at + 2)?).unwrap_or(0),
        name: r.get(at + 3)?,
        state: State::parse(&r.get::<_, String>(at + 4)?),
        broadcast_id: r.get(at + 5)?,
        namesake: r.get::<_, i64>(at + 6)? != 0,
        sent_at: r.get(at + 7)?,
        body: r.get(at + 8)?,
        last_sent: r.get::<_, Option<i64>>(at + 9)?.unwrap_or(r.get(at + 7)?),
    })
}

const RUNS: &str = "SELECT runs.*, accounts.target, accounts.who FROM runs \
                    JOIN accounts ON accounts.id = runs.account";

/// The ledger read by one run before it sends, and by `bulkcast runs`.
pub struct View {
    dir: PathBuf,
    conn: Option<Connection>,
    account: Option<i64>,
    /// Runs of this account, by id (few: one per run ever made).
    runs: HashMap<i64, RunInfo>,
    /// The earlier runs into the same results file (a `--resume` continues them).
    chain: HashSet<i64>,
}

impl View {
    /// The ledger at `dir` as `account` sees it; `results` is the run's results file (its
    /// earlier runs are the run's own). A ledger not made yet is an empty view.
    pub fn open(dir: &Path, account: &Account, results: &str) -> Result<View> {
        let path = dir.join(FILE);
        let mut view = View {
            dir: dir.to_owned(),
            conn: None,
            account: None,
            runs: HashMap::new(),
            chain: HashSet::new(),
        };
        if !path.exists() {
            return Ok(view);
        }
        let conn = connect(dir, false)?;
        let load = || -> rusqlite::Result<(Option<i64>, Vec<RunInfo>)> {
            let account_id = conn
                .query_row(
                    "SELECT id FROM accounts WHERE target = ?1 AND who = ?2",
                    params![account.target, account.who],
                    |r| r.get(0),
                )
                .optional()?;
            let mut stmt = conn.prepare(&format!("{RUNS} WHERE runs.account = ?1"))?;
            let runs = stmt
                .query_map([account_id.unwrap_or(-1)], |r| run_info(dir, r))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok((account_id, runs))
        };
        let (account_id, runs) = load().map_err(|e| explain(&path, e))?;
        view.account = account_id;
        for r in runs {
            if r.results == results {
                view.chain.insert(r.id);
            }
            view.runs.insert(r.id, r);
        }
        view.conn = Some(conn);
        Ok(view)
    }

    /// The last run into `results` on `target`, with any account: a `--resume` must be made
    /// with the same account.
    pub fn last_run_into(dir: &Path, target: &str, results: &str) -> Result<Option<RunInfo>> {
        let path = dir.join(FILE);
        if !path.exists() {
            return Ok(None);
        }
        let conn = connect(dir, false)?;
        conn.query_row(
            &format!(
                "{RUNS} WHERE runs.results = ?1 AND accounts.target = ?2 ORDER BY runs.id DESC LIMIT 1"
            ),
            params![results, target],
            |r| run_info(dir, r),
        )
        .optional()
        .map_err(|e| explain(&path, e))
    }

    /// The entry of the name whose key is `key`, if this machine sent it to the account.
    pub fn get(&self, key: &str) -> Result<Option<Claim>> {
        let (Some(conn), Some(account)) = (&self.conn, self.account) else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, run, line, name, state, broadcast_id, namesake, sent_at, body, \
                 last_sent FROM sends WHERE account = ?1 AND key = ?2",
            )
            .map_err(|e| explain(&self.dir.join(FILE), e))?;
        stmt.query_row(params![account, key], |r| claim(r, 0))
            .optional()
            .map_err(|e| explain(&self.dir.join(FILE), e))
    }

    /// What became of the request whose digest is `body` under the name `key` (created, or sent
    /// without an outcome), when the name's claim has since passed to a request that said
    /// something else.
    pub fn made(&self, key: &str, body: i64) -> Result<Option<Claim>> {
        let (Some(conn), Some(account)) = (&self.conn, self.account) else {
            return Ok(None);
        };
        let explain = |e| explain(&self.dir.join(FILE), e);
        let mut stmt = conn
            .prepare_cached(
                "SELECT run, line, name, state, broadcast_id, namesake, sent_at, last_sent \
                 FROM made WHERE account = ?1 AND key = ?2 AND body = ?3",
            )
            .map_err(explain)?;
        stmt.query_row(params![account, key, body], |r| {
            Ok(Claim {
                id: 0,
                run: r.get(0)?,
                line: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                name: r.get(2)?,
                state: State::parse(&r.get::<_, String>(3)?),
                broadcast_id: r.get(4)?,
                namesake: r.get::<_, i64>(5)? != 0,
                sent_at: r.get(6)?,
                last_sent: r.get::<_, Option<i64>>(7)?.unwrap_or(r.get(6)?),
                body: Some(body),
            })
        })
        .optional()
        .map_err(explain)
    }

    /// A run into this run's results file that is still going.
    pub fn live_run_into(&self) -> Option<&RunInfo> {
        self.chain
            .iter()
            .filter_map(|id| self.runs.get(id))
            .find(|r| r.live)
    }

    /// Whether `run` is one of the earlier runs into this run's results file.
    pub fn is_own(&self, run: i64) -> bool {
        self.chain.contains(&run)
    }

    /// The run `id`, read again if it began after this view was opened (`None` if the
    /// ledger does not know it).
    pub fn run(&mut self, id: i64) -> Option<RunInfo> {
        if let Some(r) = self.runs.get(&id) {
            return Some(r.clone());
        }
        let conn = self.conn.as_ref()?;
        let r = conn
            .query_row(&format!("{RUNS} WHERE runs.id = ?1"), [id], |r| {
                run_info(&self.dir, r)
            })
            .ok()?;
        self.runs.insert(id, r.clone());
        Some(r)
    }
}

/// What a row's claim becomes.
#[derive(Debug, Clone)]
pub enum Settle {
    Created(Option<String>),
    Unknown,
    /// The create failed: the name is free again.
    Free,
}

/// A run about to start, for [`Ledger::begin`].
pub struct NewRun<'a> {
    pub account: &'a Account,
    pub sheet: &'a str,
    pub results: &'a str,
    pub resumed: bool,
    pub timeout_ms: i64,
    /// How it reads its sheet and where it sends ([`crate::remembered::Settings`], as JSON):
    /// kept for the results file when the run is not a resume.
    pub settings: &'a str,
}

/// The channel the writer thread reads.
type Commands = mpsc::Receiver<writer::Cmd>;
