//! The journal beside the results file: every event of a run, appended the moment it happens,
//! so that a run killed at any instant (`kill -9`, a closed laptop, a crash) leaves a record the
//! next run can trust.
//!
//! Two events: `sent`, on the file *before* a create request goes out, and `done`, the row's
//! outcome. A `sent` with no `done` after it means the broadcast may exist: the next run looks
//! its name up on the account before sending it again. Each event is one CSV line; lines are
//! appended to a file opened for appending, a buffer at a time, each buffer in one `write`. A
//! line cut short by a crash is the last one and is ignored when the journal is read back. When
//! a run ends normally the results file is complete and the journal is deleted.
//!
//! "On the file" means handed to the operating system with `write`: that survives the process
//! being killed, but the journal is not synced to the disk, so a power cut or an operating
//! system crash can lose its most recent lines.
//!
//! `sent` events are committed in groups: [`Journal::sent`] only appends to the buffer and
//! hands back a [`Pending`], and [`Journal::on_file`] writes the buffer out unless a call for a
//! later event already did. The dispatcher appends the `sent` of every row it releases in one
//! turn, the first of those rows to run writes them all, and each request still goes out only
//! after its own `sent` is on the file. (Why: the README's Performance section.)

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;

use super::outcome::{write_outcome, Columns, Outcome, HEADER};
use crate::csvio;

/// An event read back from a journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Sent { line: u64, name: String },
    Done(Outcome),
}

pub struct Journal {
    inner: Mutex<Inner>,
}

struct Inner {
    /// One writer for every event: its buffer is flushed to the file in one `write` per flush.
    csv: csv::Writer<File>,
    /// Events appended so far, and how many of them are on the file.
    appended: u64,
    on_file: u64,
}

/// A `sent` event appended to the journal but perhaps not yet on its file: pass it to
/// [`Journal::on_file`] before sending the request.
#[must_use = "a request may go out only once its `sent` event is on the file"]
#[derive(Debug)]
pub struct Pending(u64);

impl Journal {
    /// Open `path` for appending, creating it with a header if new. A last line left incomplete
    /// by a crash is closed off first, so the next event starts on a line of its own.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let len = file.metadata()?.len();
        if len == 0 {
            file.write_all(&header_line())?;
        } else {
            let mut last = [0u8];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
            }
        }
        Ok(Journal {
            inner: Mutex::new(Inner {
                csv: csvio::writer(file),
                appended: 0,
                on_file: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        crate::lock(&self.inner)
    }

    /// Record that a create request for this row is about to be sent. The event is on the file
    /// once [`Journal::on_file`] has returned for it.
    pub fn sent(&self, line: u64, name: &str) -> io::Result<Pending> {
        let mut j = self.lock();
        let mut n = itoa::Buffer::new();
        j.csv
            .write_record(["sent", n.format(line), &csvio::safe_cell(name)])?;
        j.appended += 1;
        Ok(Pending(j.appended))
    }

    /// Make sure the `sent` event behind `pending` is on the file, writing out everything
    /// appended so far unless that has been done since it was appended.
    pub fn on_file(&self, pending: Pending) -> io::Result<()> {
        let mut j = self.lock();
        if j.on_file >= pending.0 {
            return Ok(());
        }
        j.flush()
    }

    /// Record a row's outcome. It reaches the file at the next [`Journal::flush`] (or
    /// [`Journal::on_file`]): an outcome lost to a crash before that is only a `sent` without a
    /// `done`, which the next run looks up rather than sends.
    pub fn done(&self, o: &Outcome) -> io::Result<()> {
        let mut j = self.lock();
        write_outcome(&mut j.csv, Some("done"), o)?;
        j.appended += 1;
        Ok(())
    }

    /// Put every event recorded so far on the file.
    pub fn flush(&self) -> io::Result<()> {
        self.lock().flush()
    }
}

impl Inner {
    fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()?;
        self.on_file = self.appended;
        Ok(())
    }
}

/// Read every complete event of the journal at `path`, in the order they happened. Lines that
/// are not events (a torn last line, foreign text) are skipped and counted.
pub fn read(path: &Path) -> io::Result<(Vec<Event>, usize)> {
    let mut file = File::open(path)?;
    // Only whole lines: a crash can leave the last one cut short.
    let len = file.metadata()?.len();
    let mut end = len;
    let mut tail = [0u8; 4096];
    while end > 0 {
        let from = end.saturating_sub(tail.len() as u64);
        file.seek(SeekFrom::Start(from))?;
        let chunk = &mut tail[..(end - from) as usize];
        file.read_exact(chunk)?;
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                end = from + i as u64 + 1;
                break;
            }
            None => end = from,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let mut csv = csvio::reader(BufReader::new(file).take(end), b',');
    let columns = csv
        .headers()
        .ok()
        .and_then(|h| Columns::from_header(&csv::StringRecord::from_iter(h.iter().skip(1))))
        .ok_or_else(|| io::Error::other(format!("{} is not a bulkcast journal", path.display())))?;
    let mut events = Vec::new();
    let mut skipped = 0;
    for rec in csv.records() {
        let Ok(rec) = rec else {
            skipped += 1;
            continue;
        };
        let event = match rec.get(0) {
            Some("sent") => {
                rec.get(1)
                    .and_then(|l| l.parse().ok())
                    .zip(rec.get(2))
                    .map(|(line, name)| Event::Sent {
                        line,
                        name: csvio::unmark_text(name.trim()).to_owned(),
                    })
            }
            Some("done") => columns
                .outcome(&csv::StringRecord::from_iter(rec.iter().skip(1)))
                .map(Event::Done),
            _ => None,
        };
        match event {
            Some(e) => events.push(e),
            None => skipped += 1,
        }
    }
    Ok((events, skipped))
}

/// The journal's first line.
fn header_line() -> Vec<u8> {
    let mut header = csvio::writer(Vec::new());
    let _ = header.write_record(std::iter::once("event").chain(HEADER));
    header.into_inner().unwrap_or_default()
}

/// Whether the journal at `path` records any event; used to refuse starting over an
/// interrupted run (a journal with only its header recorded nothing).
pub fn exists(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > header_line().len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::outcome::Status;
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

    #[test]
    fn events_read_back_in_order_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let j = Journal::open(&path).unwrap();
        j.on_file(j.sent(2, "+B2").unwrap()).unwrap();
        j.done(&created(2)).unwrap();
        j.on_file(j.sent(3, "B3").unwrap()).unwrap();
        j.done(&created(3)).unwrap();
        // A crash now: the last outcome was never flushed.
        std::mem::forget(j);
        // A crash in the middle of writing the next event.
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"done,4,B4,tr")
            .unwrap();
        let (events, skipped) = read(&path).unwrap();
        assert_eq!(
            events,
            [
                Event::Sent {
                    line: 2,
                    name: "+B2".into()
                },
                Event::Done(created(2)),
                Event::Sent {
                    line: 3,
                    name: "B3".into()
                }
            ]
        );
        assert_eq!(skipped, 0, "the torn line is not even read");

        // Appending after the crash starts a fresh line.
        let j = Journal::open(&path).unwrap();
        j.done(&created(3)).unwrap();
        j.flush().unwrap();
        drop(j);
        let (events, skipped) = read(&path).unwrap();
        assert_eq!(events.last(), Some(&Event::Done(created(3))));
        assert_eq!(skipped, 1, "the torn line, now closed, is skipped");
    }

    #[test]
    fn sent_events_are_committed_in_groups_and_each_is_on_the_file_before_on_file_returns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        let j = Journal::open(&path).unwrap();
        let on_file = || read(&path).unwrap().0.len();
        let (a, b) = (j.sent(2, "B2").unwrap(), j.sent(3, "B3").unwrap());
        assert_eq!(on_file(), 0, "appending alone writes nothing");
        j.on_file(b).unwrap();
        assert_eq!(
            on_file(),
            2,
            "the later event takes the earlier one with it"
        );
        j.done(&created(3)).unwrap();
        j.on_file(a).unwrap();
        assert_eq!(on_file(), 2, "already on the file: nothing is written");
        let c = j.sent(4, "B4").unwrap();
        j.on_file(c).unwrap();
        assert_eq!(
            on_file(),
            4,
            "a new event is written, with the outcome before it"
        );
    }

    #[test]
    fn a_journal_with_only_its_header_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.journal");
        assert!(!exists(&path));
        let j = Journal::open(&path).unwrap();
        assert!(!exists(&path));
        j.on_file(j.sent(2, "B2").unwrap()).unwrap();
        assert!(exists(&path));
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(read(&path).is_err());
    }
}
