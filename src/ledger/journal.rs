//! The journal beside the results file: every event of a run, appended the moment it happens,
//! so that a run killed at any instant — or a machine that loses power — leaves a record the
//! next run can trust.
//!
//! Three events: `target`, the server this run talks to (written when the journal is opened);
//! `sent`, on the disk *before* a create request goes out; and `done`, the row's outcome. A
//! `sent` with no `done` after it means the broadcast may exist: the next run looks its name up
//! on the account before sending it again. Each event is one CSV line. When a run ends normally
//! the results file is complete and the journal is deleted.
//!
//! What survives what:
//! - A `sent` is written and synced to the disk (`fdatasync`) before its request leaves, so it
//!   survives a killed process and a power cut alike. A new journal's directory is synced too.
//! - `done` events are written (handed to the operating system) as soon as no other outcome is
//!   waiting, and synced with the next `sent`. A killed process keeps them; a power cut can
//!   lose the most recent ones, which only turns those rows back into `sent` without `done`:
//!   looked up, never sent blindly.
//!
//! `sent` events are committed in groups: [`Journal::sent`] only appends to the buffer and
//! hands back a [`Unsynced`], and [`Journal::on_file`] writes and syncs the buffer unless a call
//! for a later event already did. The dispatcher appends the `sent` of every row it releases in
//! one turn, and the first of those rows to run syncs them all. (Why: docs/performance.md
//! says.)
//!
//! Reading back is strict. A last line cut short by a crash is ignored (and cut off when the
//! journal is opened again); anything else that is not an event — an unbalanced quote, NULs, a
//! foreign line — is [`Damaged`], with its line: a damaged record is never read as a smaller one.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use super::escape::{escape, needs_escape, unescape};
use super::outcome::{write_outcome, Columns, Outcome, HEADER};
use crate::csvio;

/// An entry read back from a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A run opened the journal to talk to this server.
    Target(String),
    Sent {
        line: u64,
        name: String,
        /// When it was recorded, in milliseconds since 1970 (`None` in journals of earlier
        /// versions); its request left after that.
        at_ms: Option<u64>,
    },
    /// An outcome, the target it records (`None` from a journal of an earlier version), and
    /// the byte where its record starts in the journal (to read it again later).
    Done {
        outcome: Outcome,
        target: Option<String>,
        at: u64,
    },
}

/// How a journal's writes are made durable: `File::sync_data`, or a test's stand-in.
pub type SyncFn = Box<dyn Fn(&File) -> io::Result<()> + Send + Sync>;

pub struct Journal {
    inner: Mutex<Inner>,
    sync: Arc<SyncFn>,
    /// One sync at a time; the rows that wait for it are all covered by the next.
    syncing: tokio::sync::Mutex<()>,
    /// The server this run talks to, recorded with every outcome.
    target: String,
}

struct Inner {
    /// One writer for every event: its buffer is flushed to the file in one `write` per flush.
    csv: csv::Writer<Guarded>,
    /// Events appended so far, how many of them are written to the file, and how many are
    /// synced to the disk.
    appended: u64,
    written: u64,
    durable: u64,
    /// What made a sync fail: from then on no `sent` counts as on the disk, so no request
    /// leaves (a sync that fails may have lost what earlier writes held).
    sync_failed: Option<String>,
}

/// The journal's file, written through a guard: once a write has failed (a full disk), no
/// other write reaches the file. A write that failed half-way leaves a torn last line, which is
/// cut off when the journal is next opened; writing on would put the start of the buffer again
/// after it (the CSV writer retries its whole buffer), damage in the middle of the journal.
struct Guarded {
    file: File,
    /// What made the first write fail.
    broken: Option<String>,
}

impl Write for Guarded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(why) = &self.broken {
            return Err(io::Error::other(format!(
                "{why} (an earlier write to the journal failed; nothing more is written to it)"
            )));
        }
        self.file
            .write(buf)
            .inspect_err(|e| self.broken = Some(e.to_string()))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A `sent` event appended to the journal but perhaps not yet on the disk: pass it to
/// [`Journal::on_file`] before sending the request.
#[must_use = "a request may go out only once its `sent` event is on the disk"]
#[derive(Debug)]
pub struct Unsynced(u64);

impl Journal {
    /// Open `path` for appending, creating it with a header if new (and syncing its directory),
    /// and record that this run talks to `target`. A last line left incomplete by a crash is
    /// cut off first, so the next event starts on a line of its own.
    pub fn open(path: &Path, target: &str) -> io::Result<Journal> {
        Journal::open_with_sync(path, target, Box::new(|f: &File| f.sync_data()))
    }

    /// [`Journal::open`], making writes durable with `sync` (tests count or fail syncs).
    pub fn open_with_sync(path: &Path, target: &str, sync: SyncFn) -> io::Result<Journal> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            file.write_all(&header_line())?;
            sync(&file)?;
            super::sync_parent(path)?;
        } else {
            let whole = complete_lines(&mut file, len)?;
            if whole < len {
                file.set_len(whole)?;
            }
        }
        let mut csv = csvio::writer(Guarded { file, broken: None });
        csv.write_record(["target", "", &csvio::safe_cell(&escape(target))])?;
        Ok(Journal {
            inner: Mutex::new(Inner {
                csv,
                appended: 1,
                written: 0,
                durable: 0,
                sync_failed: None,
            }),
            sync: Arc::new(sync),
            syncing: tokio::sync::Mutex::new(()),
            target: escape(target).into_owned(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::lock(&self.inner)
    }

    /// Record that a create request for this row is about to be sent. The event is on the disk
    /// once [`Journal::on_file`] has returned for it.
    pub fn sent(&self, line: u64, name: &str) -> io::Result<Unsynced> {
        let mut j = self.lock();
        let (mut n, mut t) = (itoa::Buffer::new(), itoa::Buffer::new());
        let now = crate::clock::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        j.csv.write_record([
            "sent",
            n.format(line),
            &csvio::safe_cell(&escape(name)),
            t.format(now),
        ])?;
        j.appended += 1;
        Ok(Unsynced(j.appended))
    }

    /// Make sure the `sent` event behind `unsynced` is on the disk: write out and sync everything
    /// appended so far, unless that has been done since it was appended. The sync runs off the
    /// async thread, so replies keep being handled meanwhile, and rows released while one sync
    /// runs are all covered by the next.
    pub async fn on_file(&self, unsynced: Unsynced) -> io::Result<()> {
        {
            let j = self.lock();
            j.refuse_after_failed_sync()?;
            if j.durable >= unsynced.0 {
                return Ok(());
            }
        }
        let _turn = self.syncing.lock().await;
        let (file, upto) = {
            let mut j = self.lock();
            j.refuse_after_failed_sync()?;
            if j.durable >= unsynced.0 {
                return Ok(()); // synced while this row waited for its turn
            }
            j.write()?;
            (j.csv.get_ref().file.try_clone()?, j.written)
        };
        let sync = self.sync.clone();
        let synced = crate::ledger::store::blocking(move || sync(&file))
            .await
            .map_err(io::Error::other)
            .and_then(|r| r);
        let mut j = self.lock();
        if let Err(e) = synced {
            j.sync_failed = Some(e.to_string());
            return Err(e);
        }
        j.durable = j.durable.max(upto);
        Ok(())
    }

    /// Record a row's outcome. It reaches the file at the next
    /// [`Journal::flush`] (or [`Journal::on_file`]): an outcome lost to a crash before that is
    /// only a `sent` without a `done`, which the next run looks up rather than sends.
    pub fn done(&self, o: &Outcome) -> io::Result<()> {
        let mut j = self.lock();
        let escaped;
        let o = if [&o.name, &o.message].iter().any(|s| needs_escape(s))
            || o.broadcast_id.as_deref().is_some_and(needs_escape)
        {
            escaped = Outcome {
                name: escape(&o.name).into_owned(),
                message: escape(&o.message).into_owned(),
                broadcast_id: o.broadcast_id.as_deref().map(|s| escape(s).into_owned()),
                ..o.clone()
            };
            &escaped
        } else {
            o
        };
        write_outcome(&mut j.csv, Some("done"), o, &self.target)?;
        j.appended += 1;
        Ok(())
    }

    /// Write every event recorded so far to the file (not synced).
    pub fn flush(&self) -> io::Result<()> {
        self.lock().write()
    }

    /// Events on the disk so far (tests).
    #[cfg(test)]
    pub fn durable(&self) -> u64 {
        self.lock().durable
    }
}

impl Inner {
    /// After a sync failed, nothing is on the disk for sure: every row waiting to be sent is
    /// refused, those released with the failing one included.
    fn refuse_after_failed_sync(&self) -> io::Result<()> {
        match &self.sync_failed {
            Some(why) => Err(io::Error::other(format!(
                "{why} (an earlier sync of the journal failed; nothing more is sent)"
            ))),
            None => Ok(()),
        }
    }

    fn write(&mut self) -> io::Result<()> {
        self.csv.flush()?;
        self.written = self.appended;
        Ok(())
    }
}

/// Where the last complete line of `file` (of `len` bytes) ends.
fn complete_lines(file: &mut File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut tail = [0u8; 4096];
    while end > 0 {
        let from = end.saturating_sub(tail.len() as u64);
        file.seek(SeekFrom::Start(from))?;
        let chunk = &mut tail[..(end - from) as usize];
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(from + i as u64 + 1);
        }
        end = from;
    }
    Ok(0)
}

/// A journal that cannot be trusted to the end: `line` is its first line that is not an event.
#[derive(Debug, thiserror::Error)]
#[error(
    "the journal {path} is damaged at line {line} ({why}). bulkcast will not guess what it \
     recorded, so nothing was sent. Keep the file as it is; to go on without it, move it away and \
     submit the sheet again to a new results file with --skip-existing (rows whose names are \
     already on the account are then not sent again)"
)]
pub struct Damaged {
    pub path: PathBuf,
    pub line: u64,
    pub why: String,
}

/// Read every event of the journal at `path`, in the order they happened, handing each to
/// `each`; the columns of its `done` events. A last line cut short by a crash is ignored; any
/// other line that is not an event is an error.
pub fn read(path: &Path, mut each: impl FnMut(Entry)) -> Result<Columns, ReadError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let end = complete_lines(&mut file, len)?;
    file.seek(SeekFrom::Start(0))?;
    let mut csv = csvio::reader(BufReader::new(file).take(end), b',');
    let damaged = |line: u64, why: String| Damaged {
        path: path.to_owned(),
        line,
        why,
    };
    let header = csv.headers().map_err(|e| damaged(1, e.to_string()))?;
    let columns = Columns::from_header(&csv::StringRecord::from_iter(header.iter().skip(1)))
        .filter(|_| header.get(0) == Some("event"))
        .ok_or_else(|| damaged(1, "not a bulkcast journal's header".into()))?;
    let mut rec = csv::StringRecord::new();
    loop {
        let (line, at) = {
            let p = csv.position();
            (p.line(), p.byte())
        };
        match csv.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => return Ok(columns),
            Err(e) => return Err(damaged(line, one_line(&e.to_string())).into()),
        }
        // Every event is one line (line breaks and NULs in cells are escaped): a record that
        // runs on, as after an unbalanced quote, or that holds a NUL, is damage.
        if csv.position().line() != line + 1 {
            return Err(damaged(line, "a record runs over several lines".into()).into());
        }
        if rec.as_slice().contains('\0') {
            return Err(damaged(line, "NUL bytes".into()).into());
        }
        let cell = |i: usize| rec.get(i).map(|c| unescape(csvio::unmark_text(c.trim())));
        let event = match rec.get(0) {
            Some("target") => cell(2).map(|t| Entry::Target(t.into_owned())),
            Some("sent") => {
                rec.get(1)
                    .and_then(|l| l.parse().ok())
                    .zip(cell(2))
                    .map(|(line, name)| Entry::Sent {
                        line,
                        name: name.into_owned(),
                        at_ms: rec.get(3).and_then(|t| t.parse().ok()),
                    })
            }
            Some("done") => {
                let rest = csv::StringRecord::from_iter(rec.iter().skip(1));
                columns.outcome(&rest).map(|outcome| Entry::Done {
                    target: columns.target(&rest).map(|t| unescape(t).into_owned()),
                    outcome: unescape_outcome(outcome),
                    at,
                })
            }
            _ => None,
        };
        match event {
            Some(e) => each(e),
            None => {
                let shown: String = rec.as_slice().chars().take(40).collect();
                return Err(damaged(line, format!("not an event: {shown:?}")).into());
            }
        }
    }
}

/// The outcome of the `done` event whose record starts at byte `at` of the journal `file`, whose
/// columns are `columns` (as [`read`] returned them).
pub fn outcome_at(file: &mut File, columns: &Columns, at: u64) -> io::Result<Option<Outcome>> {
    file.seek(SeekFrom::Start(at))?;
    let mut csv = csvio::record_reader(BufReader::with_capacity(4096, &mut *file));
    let mut rec = csv::StringRecord::new();
    if !csv.read_record(&mut rec)? || rec.get(0) != Some("done") {
        return Ok(None);
    }
    let rest = csv::StringRecord::from_iter(rec.iter().skip(1));
    Ok(columns.outcome(&rest).map(unescape_outcome))
}

fn unescape_outcome(o: Outcome) -> Outcome {
    Outcome {
        name: unescape(&o.name).into_owned(),
        message: unescape(&o.message).into_owned(),
        broadcast_id: o.broadcast_id.as_deref().map(|s| unescape(s).into_owned()),
        ..o
    }
}

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Damaged(#[from] Damaged),
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn header_line() -> Vec<u8> {
    let mut header = csvio::writer(Vec::new());
    let _ = header.write_record(std::iter::once("event").chain(HEADER));
    header.into_inner().unwrap_or_default()
}

/// Whether the journal at `path` records anything but its header and targets; used to refuse
/// starting over an interrupted run. A file that cannot be read, or whose lines are not
/// bulkcast's, counts as recording something.
pub fn exists(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut head = Vec::new();
    if file.take(64 * 1024).read_to_end(&mut head).is_err() {
        return true;
    }
    head.split(|&b| b == b'\n')
        .skip(1)
        .any(|l| !l.is_empty() && !l.starts_with(b"target,"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::outcome::Status;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    fn created(line: u64) -> Outcome {
        Outcome {
            seq: 0,
            line,
            name: format!("B{line}"),
            status: Status::Created,
            http_status: Some(200),
            message: "ok".into(),
            broadcast_id: Some("77".into()),
            attempts: 1,
            elapsed: Duration::from_millis(5),
        }
    }

    fn events(path: &Path) -> Result<Vec<Entry>, ReadError> {
        let mut out = Vec::new();
        read(path, |e| out.push(e)).map(|_| out)
    }

    /// The events without where `done` records start and when `sent` was recorded.
    fn plain(events: Vec<Entry>) -> Vec<Entry> {
        events
            .into_iter()
            .map(|e| match e {
                Entry::Done {
                    outcome, target, ..
                } => Entry::Done {
                    outcome,
                    target,
                    at: 0,
                },
                Entry::Sent { line, name, at_ms } => {
                    assert!(at_ms.is_some(), "a sent event says when");
                    Entry::Sent {
                        line,
                        name,
                        at_ms: None,
                    }
                }
                e => e,
            })
            .collect()
    }

    fn done(line: u64) -> Entry {
        Entry::Done {
            outcome: created(line),
            target: Some("T".into()),
            at: 0,
        }
    }

    fn sent(line: u64, name: &str) -> Entry {
        Entry::Sent {
            line,
            name: name.into(),
            at_ms: None,
        }
    }

    #[tokio::test]
    async fn events_read_back_in_order_and_a_torn_last_line_is_ignored_then_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let j = Journal::open(&path, "T").unwrap();
        j.on_file(j.sent(2, "+B2").unwrap()).await.unwrap();
        j.done(&created(2)).unwrap();
        j.on_file(j.sent(3, "B3").unwrap()).await.unwrap();
        j.done(&created(3)).unwrap();
        // A crash now: the last outcome was never flushed.
        std::mem::forget(j);
        // A crash in the middle of writing the next event, inside a quoted cell.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"done,4,\"B4,tr")
            .unwrap();
        let expected = vec![
            Entry::Target("T".into()),
            sent(2, "+B2"),
            done(2),
            sent(3, "B3"),
        ];
        assert_eq!(plain(events(&path).unwrap()), expected);

        // Opening again cuts the torn line off; what follows reads back.
        let j = Journal::open(&path, "T").unwrap();
        j.done(&created(3)).unwrap();
        j.flush().unwrap();
        drop(j);
        let all = plain(events(&path).unwrap());
        assert_eq!(all[..4], expected[..]);
        assert_eq!(all[4..], [Entry::Target("T".into()), done(3)]);
    }

    #[tokio::test]
    async fn a_done_event_says_where_it_starts_so_it_can_be_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let j = Journal::open(&path, "T").unwrap();
        j.on_file(j.sent(2, "B2").unwrap()).await.unwrap();
        j.done(&created(2)).unwrap();
        j.flush().unwrap();
        let at = events(&path)
            .unwrap()
            .into_iter()
            .find_map(|e| match e {
                Entry::Done { at, .. } => Some(at),
                _ => None,
            })
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[at as usize..].starts_with(b"done,2,B2,true,created"));
    }

    #[tokio::test]
    async fn anything_unreadable_before_the_end_is_damage_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        for (name, junk) in [
            ("quote", &b"sent,9,\"B9\n"[..]),
            ("nuls", &[0u8; 300][..]),
            ("foreign", &b"hello,world\n"[..]),
        ] {
            let path = dir.path().join(name);
            let j = Journal::open(&path, "T").unwrap();
            j.on_file(j.sent(2, "B2").unwrap()).await.unwrap();
            drop(j);
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(junk).unwrap();
            f.write_all(b"\nsent,3,B3\n").unwrap();
            drop(f);
            match events(&path) {
                Err(ReadError::Damaged(d)) => {
                    assert_eq!(d.line, 4, "{name}: {d}");
                    assert!(d.to_string().contains("line 4"), "{d}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn sent_events_are_synced_in_groups_before_on_file_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = syncs.clone();
        let j = Journal::open_with_sync(
            &path,
            "T",
            Box::new(move |f: &File| {
                counted.fetch_add(1, Ordering::SeqCst);
                f.sync_data()
            }),
        )
        .unwrap();
        let new_file_syncs = syncs.load(Ordering::SeqCst);
        assert_eq!(new_file_syncs, 1, "a new journal's header is synced");
        let on_file = || events(&path).unwrap().len();
        let (a, b) = (j.sent(2, "B2").unwrap(), j.sent(3, "B3").unwrap());
        assert_eq!(on_file(), 0, "appending alone writes nothing");
        j.on_file(b).await.unwrap();
        assert_eq!(
            on_file(),
            3,
            "the later event takes the earlier ones with it"
        );
        assert_eq!(syncs.load(Ordering::SeqCst), 2, "one sync for the group");
        assert_eq!(j.durable(), 3);
        j.done(&created(3)).unwrap();
        j.on_file(a).await.unwrap();
        assert_eq!(on_file(), 3, "already on the disk: nothing is written");
        assert_eq!(syncs.load(Ordering::SeqCst), 2, "and nothing is synced");
        let c = j.sent(4, "B4").unwrap();
        j.on_file(c).await.unwrap();
        assert_eq!(
            on_file(),
            5,
            "a new event is written, with the outcome before it"
        );
        assert_eq!(syncs.load(Ordering::SeqCst), 3);
    }

    #[cfg(unix)]
    #[test]
    fn after_a_failed_write_nothing_more_reaches_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        std::fs::write(&path, header_line()).unwrap();
        // A full disk: /dev/full answers every write with ENOSPC.
        let mut g = Guarded {
            file: OpenOptions::new().write(true).open("/dev/full").unwrap(),
            broken: None,
        };
        assert!(g.write_all(b"sent,2,B2\n").is_err());
        // Room again (the same guard, now on a file that takes writes): still nothing.
        g.file = OpenOptions::new().append(true).open(&path).unwrap();
        let e = g.write_all(b"sent,2,B2\n").unwrap_err();
        assert!(e.to_string().contains("No space left"), "says why: {e}");
        assert_eq!(std::fs::read(&path).unwrap(), header_line());
    }

    #[tokio::test]
    async fn a_failed_sync_leaves_the_entry_unsynced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        std::fs::write(&path, header_line()).unwrap();
        let j = Journal::open_with_sync(
            &path,
            "T",
            Box::new(|_: &File| Err(io::Error::other("disk gone"))),
        )
        .unwrap();
        let p = j.sent(2, "B2").unwrap();
        assert!(j.on_file(p).await.is_err());
        assert_eq!(j.durable(), 0);
    }

    /// Rows released together: once the first one's sync fails, none of the others counts as
    /// on the disk, even if a later sync would succeed.
    #[tokio::test]
    async fn a_failed_sync_refuses_every_row_released_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = calls.clone();
        let j = Journal::open_with_sync(
            &path,
            "T",
            Box::new(move |f: &File| {
                // The journal's header, then one failure, then the disk "works" again.
                match counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    1 => Err(io::Error::other("I/O error")),
                    _ => f.sync_data(),
                }
            }),
        )
        .unwrap();
        let released: Vec<Unsynced> = (2..6).map(|line| j.sent(line, "B").unwrap()).collect();
        let mut refused = 0;
        for unsynced in released {
            refused += usize::from(j.on_file(unsynced).await.is_err());
        }
        assert_eq!(refused, 4, "every row released together is refused");
        let later = j.sent(7, "B7").unwrap();
        let e = j.on_file(later).await.unwrap_err();
        assert!(e.to_string().contains("I/O error"), "says why: {e}");
        assert_eq!(j.durable(), 0);
        assert_eq!(
            calls.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "not tried again"
        );
    }

    #[tokio::test]
    async fn a_journal_with_only_its_header_and_targets_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        assert!(!exists(&path));
        let j = Journal::open(&path, "T").unwrap();
        j.flush().unwrap();
        assert!(!exists(&path));
        j.on_file(j.sent(2, "B2").unwrap()).await.unwrap();
        assert!(exists(&path));
    }

    #[tokio::test]
    async fn names_with_line_breaks_nuls_and_backslashes_stay_on_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let j = Journal::open(&path, "T").unwrap();
        let odd = "a\nb\r\\n\0=c";
        let mut o = created(2);
        o.name = odd.into();
        j.on_file(j.sent(2, odd).unwrap()).await.unwrap();
        j.done(&o).unwrap();
        j.flush().unwrap();
        let all = plain(events(&path).unwrap());
        assert_eq!(all[1], sent(2, odd));
        assert!(matches!(&all[2], Entry::Done { outcome, .. } if outcome.name == odd));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(matches!(events(&path), Err(ReadError::Damaged(d)) if d.line == 1));
    }
}
