//! What earlier runs recorded about each input line, for `--resume`: the results file of the last
//! complete run, overlaid with the journal of any run that did not finish.
//!
//! Memory stays bounded however long the record: per line only a small [`Entry`] is kept — its
//! kind, a fingerprint of its name (to check that the input is still the file those lines came
//! from) and, for a created row, where its outcome is written. The outcome itself is read back
//! from there when its row comes up ([`Lookup`]), and copied to the new results unchanged.
//!
//! A record knows its server: every run writes its target (the API's base URL, or the
//! simulation) into the journal and into each results row, and a record made against another
//! target is refused.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use super::files::RunFiles;
use super::journal;
use super::outcome::{Columns, Outcome, Status};
use crate::csvio;
use crate::input::name_fingerprint;

/// What is known of one line from earlier runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Created: keep this outcome, send nothing.
    Created(Outcome),
    /// Sent without a known outcome: look the name up before sending again.
    Unknown,
    /// Anything else (invalid, rejected, failed, not attempted): process again.
    Other,
}

/// What is recorded of a line, in short: [`Prior`] without the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Created,
    Unknown,
    Other,
}

/// Kinds of entry, in the low bits of [`Entry::at`].
const CREATED_IN_RESULTS: u64 = 0;
const CREATED_IN_JOURNAL: u64 = 1;
const UNKNOWN: u64 = 2;
const OTHER: u64 = 3;
/// A `sent` without a `done` (yet): unknown, but it does not undo a creation recorded before.
const SENT: u64 = 4;
const KIND_BITS: u32 = 3;
/// After this many rows of a results file, the table is sized for the whole file.
const ROWS_BEFORE_ESTIMATE: usize = 1024;

/// One recorded line: 24 bytes, so a million lines fit in 24 MB.
#[derive(Debug, Clone, Copy)]
struct Entry {
    line: u64,
    name: u64,
    /// The kind, and for a created row the byte where its outcome's record starts.
    at: u64,
}

impl Entry {
    fn new(line: u64, name: &str, kind: u64, offset: u64) -> Entry {
        Entry {
            line,
            name: name_fingerprint(name),
            at: offset << KIND_BITS | kind,
        }
    }

    fn kind(self) -> u64 {
        self.at & ((1 << KIND_BITS) - 1)
    }

    fn offset(self) -> u64 {
        self.at >> KIND_BITS
    }

    fn is_created(self) -> bool {
        matches!(self.kind(), CREATED_IN_RESULTS | CREATED_IN_JOURNAL)
    }

    /// This entry, overlaid by a later event `next` for the same line.
    fn then(self, next: Entry) -> Entry {
        if next.kind() == SENT && self.is_created() {
            self
        } else {
            next
        }
    }
}

/// Where the outcomes of created rows are read back from.
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    columns: Columns,
}

#[derive(Debug, Default)]
pub struct Record {
    /// One entry per line, sorted by line.
    entries: Vec<Entry>,
    results: Option<Source>,
    journal: Option<Source>,
    /// The latest `sent` the journal records (milliseconds since 1970).
    last_sent_ms: u64,
}

impl Record {
    /// Read what the files of an earlier run hold, for a run against `target`. Neither existing
    /// is not an error: there is nothing to resume and every row is new.
    pub fn load(files: &RunFiles, target: &str) -> Result<Record> {
        let mut record = Record::default();
        let mut seen = Targets::new(target, &files.results);
        if files.results.exists() {
            record.read_results(&files.results, &mut seen)?;
        }
        refuse_a_lost_journal(files)?;
        if std::fs::metadata(&files.journal).is_ok_and(|m| m.len() > 0) {
            record.read_journal(&files.journal, &mut seen)?;
        }
        if seen.unmarked {
            tracing::warn!(
                "{} was written by an earlier version of bulkcast that did not record its server; \
                 make sure it was made against {target}",
                files.results.display()
            );
        }
        Ok(record)
    }

    fn read_results(&mut self, path: &Path, seen: &mut Targets) -> Result<()> {
        let mut input =
            csvio::open_input(path).with_context(|| format!("cannot read {}", path.display()))?;
        let delimiter = csvio::detect_delimiter(&mut input)?;
        let mut csv = csvio::reader(input, delimiter);
        let Some(columns) = csv.headers().ok().and_then(Columns::from_header) else {
            bail!(
                "{} is not a bulkcast results file (no line, name and status columns)",
                path.display()
            );
        };
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let mut rec = csv::StringRecord::new();
        while csv
            .read_record(&mut rec)
            .with_context(|| format!("reading {}", path.display()))?
        {
            let at = rec.position().map_or(0, |p| p.byte());
            if self.entries.len() == ROWS_BEFORE_ESTIMATE {
                // Size the table once for the whole file (a little over), rather than letting
                // it double: the doubling would briefly hold half as much again.
                let per_row = (at / ROWS_BEFORE_ESTIMATE as u64).max(1);
                self.entries
                    .reserve(usize::try_from(size / per_row * 21 / 20).unwrap_or(0));
            }
            let Some(o) = columns.outcome(&rec) else {
                let line = rec.position().map_or(0, |p| p.line());
                bail!("{} line {line}: not a results row", path.display());
            };
            seen.check(columns.target(&rec))?;
            let kind = match o.status {
                Status::Created | Status::Existing => CREATED_IN_RESULTS,
                Status::Unknown => UNKNOWN,
                _ => OTHER,
            };
            let entry = Entry::new(o.line, &o.name, kind, at);
            match self.entries.last() {
                Some(last) if last.line >= o.line => {
                    bail!(
                        "{} line {}: input line {} comes after line {}; the results are not in input order",
                        path.display(),
                        rec.position().map_or(0, |p| p.line()),
                        o.line,
                        last.line
                    )
                }
                _ => self.entries.push(entry),
            }
        }
        self.results = Some(Source {
            path: path.to_owned(),
            columns,
        });
        Ok(())
    }

    fn read_journal(&mut self, path: &Path, seen: &mut Targets) -> Result<()> {
        // Lines the results file does not have, in the order their events came. A line's
        // events come close together, so a short look back finds most of them.
        let mut extra: Vec<Entry> = Vec::new();
        let mut failed = Ok(());
        let columns = journal::read(path, |event| {
            if failed.is_err() {
                return;
            }
            let entry = match event {
                journal::Entry::Target(t) => {
                    failed = seen.check(Some(&t));
                    return;
                }
                journal::Entry::Sent { line, name, at_ms } => {
                    if let Some(ms) = at_ms {
                        self.last_sent_ms = self.last_sent_ms.max(ms);
                    }
                    Entry::new(line, &name, SENT, 0)
                }
                journal::Entry::Done {
                    outcome,
                    target,
                    at,
                } => {
                    if let Err(e) = seen.check(target.as_deref()) {
                        failed = Err(e);
                        return;
                    }
                    let kind = match outcome.status {
                        Status::Created | Status::Existing => CREATED_IN_JOURNAL,
                        Status::Unknown => UNKNOWN,
                        _ => OTHER,
                    };
                    Entry::new(outcome.line, &outcome.name, kind, at)
                }
            };
            if let Ok(i) = self.entries.binary_search_by_key(&entry.line, |e| e.line) {
                self.entries[i] = self.entries[i].then(entry);
            } else if let Some(e) = extra
                .iter_mut()
                .rev()
                .take(256)
                .find(|e| e.line == entry.line)
            {
                *e = e.then(entry);
            } else {
                extra.push(entry);
            }
        })
        .with_context(|| format!("reading the journal {}", path.display()))?;
        failed?;
        if !extra.is_empty() {
            // A stable sort keeps each line's entries in the order their events came.
            extra.sort_by_key(|e| e.line);
            extra.dedup_by(|later, earlier| {
                let same = later.line == earlier.line;
                if same {
                    *earlier = earlier.then(*later);
                }
                same
            });
            if self.entries.is_empty() {
                self.entries = extra;
            } else {
                // No line is in both (the results' lines were overlaid in place).
                self.entries.extend(extra);
                self.entries.sort_unstable_by_key(|e| e.line);
            }
        }
        self.entries.shrink_to_fit();
        self.journal = Some(Source {
            path: path.to_owned(),
            columns,
        });
        Ok(())
    }

    fn entry(&self, line: u64) -> Option<Entry> {
        let i = self.entries.binary_search_by_key(&line, |e| e.line).ok()?;
        Some(self.entries[i])
    }

    /// What is known of `line`, without reading a created row's outcome back.
    pub fn kind(&self, line: u64) -> Option<Recorded> {
        let e = self.entry(line)?;
        Some(match e.kind() {
            CREATED_IN_RESULTS | CREATED_IN_JOURNAL => Recorded::Created,
            UNKNOWN | SENT => Recorded::Unknown,
            _ => Recorded::Other,
        })
    }

    /// Whether an earlier run sent anything (rows created, uncertain or sent).
    pub fn sent_anything(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(
                e.kind(),
                CREATED_IN_RESULTS | CREATED_IN_JOURNAL | UNKNOWN | SENT
            )
        })
    }

    /// The latest moment an earlier run may have sent a create whose outcome is not known: a
    /// request it still had in flight may land on the server until that moment plus its
    /// timeout. `None` when no row is uncertain.
    pub fn uncertain_since(&self) -> Option<SystemTime> {
        let mtime = |s: &Option<Source>| {
            s.as_ref()
                .and_then(|s| std::fs::metadata(&s.path).ok()?.modified().ok())
        };
        let mut latest: Option<SystemTime> = None;
        for e in &self.entries {
            let t = match e.kind() {
                SENT if self.last_sent_ms > 0 => {
                    Some(UNIX_EPOCH + Duration::from_millis(self.last_sent_ms))
                }
                SENT => mtime(&self.journal),
                // An outcome recorded as unknown: its request ended before the file was last
                // written.
                UNKNOWN => mtime(&self.journal).or_else(|| mtime(&self.results)),
                _ => continue,
            };
            latest = latest.max(t);
        }
        latest
    }

    /// Lines recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Check that the input row on `line` is the one recorded there; the message says how
    /// they differ.
    pub fn matches(&self, line: u64, name: &str) -> Result<(), String> {
        match self.entry(line) {
            Some(e) if e.name != name_fingerprint(name) => Err(format!(
                "line {line} is {name:?} in the input but another name in the results"
            )),
            _ => Ok(()),
        }
    }
}

/// The record read back line by line, as the sending pass comes to each row: a created row's
/// outcome is read from where it was written.
pub struct Lookup {
    record: Arc<Record>,
    results: Option<File>,
    journal: Option<File>,
}

impl Lookup {
    pub fn new(record: Arc<Record>) -> Result<Lookup> {
        let open = |p: &Path| File::open(p).with_context(|| format!("cannot read {}", p.display()));
        let results = record.results.as_ref().map(|s| open(&s.path)).transpose()?;
        let journal = record.journal.as_ref().map(|s| open(&s.path)).transpose()?;
        Ok(Lookup {
            record,
            results,
            journal,
        })
    }

    /// What is known of `line`, a created row's outcome included.
    pub fn get(&mut self, line: u64) -> Result<Option<Prior>> {
        let Some(e) = self.record.entry(line) else {
            return Ok(None);
        };
        let outcome = match (e.kind(), &mut self.results, &mut self.journal) {
            (CREATED_IN_RESULTS, Some(file), _) => {
                let source = self.record.results.as_ref().expect("results were read");
                file.seek(SeekFrom::Start(e.offset()))?;
                let mut csv = csvio::record_reader(BufReader::with_capacity(4096, &mut *file));
                let mut rec = csv::StringRecord::new();
                csv.read_record(&mut rec)?;
                source.columns.outcome(&rec)
            }
            (CREATED_IN_JOURNAL, _, Some(file)) => {
                let source = self.record.journal.as_ref().expect("the journal was read");
                journal::outcome_at(file, &source.columns, e.offset())?
            }
            (CREATED_IN_RESULTS | CREATED_IN_JOURNAL, ..) => None,
            (UNKNOWN | SENT, ..) => return Ok(Some(Prior::Unknown)),
            _ => return Ok(Some(Prior::Other)),
        };
        match outcome {
            Some(o) if o.line == line => Ok(Some(Prior::Created(o))),
            _ => bail!("the recorded outcome of line {line} can no longer be read back"),
        }
    }
}

/// The targets a record names, checked against this run's.
struct Targets<'a> {
    want: &'a str,
    results: &'a Path,
    /// Some rows or events name no target (an earlier version of bulkcast wrote them).
    unmarked: bool,
}

impl<'a> Targets<'a> {
    fn new(want: &'a str, results: &'a Path) -> Targets<'a> {
        Targets {
            want,
            results,
            unmarked: false,
        }
    }

    fn check(&mut self, found: Option<&str>) -> Result<()> {
        match found {
            None | Some("") => {
                self.unmarked = true;
                Ok(())
            }
            Some(t) if t == self.want => Ok(()),
            Some(t) => bail!(
                "{} records a run against {t}, and this run is against {}: resuming it there would \
                 count rows created on {t} as created on {}. Nothing was sent. To submit this sheet \
                 to {}, start a separate run with its own results file (-o)",
                self.results.display(),
                self.want,
                self.want,
                self.want
            ),
        }
    }
}

/// A run that was under way (its partial results are there) but whose journal is gone or
/// empty: what it sent cannot be known, so nothing may be sent on its account.
fn refuse_a_lost_journal(files: &RunFiles) -> Result<()> {
    // A header and at least one row: two line ends within the first bytes (a row is short).
    let partial_rows = File::open(&files.partial).is_ok_and(|f| {
        let mut head = Vec::new();
        let _ = f.take(64 * 1024).read_to_end(&mut head);
        head.iter().filter(|&&c| c == b'\n').count() > 1
    });
    let journal_empty = std::fs::metadata(&files.journal).map_or(true, |m| m.len() == 0);
    if partial_rows && journal_empty {
        bail!(
            "{} shows a run was under way, but its journal {} is missing or empty, so what that run \
             sent cannot be known; nothing was sent. To go on, submit the sheet again to a new \
             results file with --skip-existing (rows whose names are already on the account are \
             then not sent again)",
            files.partial.display(),
            files.journal.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::journal::Journal;
    use crate::output::results::ResultsWriter;
    use std::time::Duration;

    fn outcome(line: u64, status: Status) -> Outcome {
        Outcome {
            seq: line - 2,
            line,
            name: format!("B{line}"),
            status,
            http_status: None,
            message: format!("m{line}"),
            broadcast_id: Some(format!("{}", 3000 + line)),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    fn results(files: &RunFiles, target: &str, rows: &[(u64, Status)]) {
        let mut w = ResultsWriter::create(&files.results, target, false).unwrap();
        for &(line, status) in rows {
            w.push(outcome(line, status)).unwrap();
        }
        w.finish().unwrap();
    }

    #[tokio::test]
    async fn the_journal_overlays_the_results_and_sent_without_done_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("plan.results.csv"));
        assert_eq!(
            files.journal.file_name().unwrap(),
            "plan.results.csv.journal"
        );
        results(
            &files,
            "T",
            &[
                (2, Status::Created),
                (3, Status::Failed),
                (4, Status::Unknown),
                (5, Status::NotAttempted),
            ],
        );
        let j = Journal::open(&files.journal, "T").unwrap();
        j.on_file(j.sent(3, "B3").unwrap()).await.unwrap();
        j.done(&outcome(3, Status::Created)).unwrap();
        j.on_file(j.sent(5, "B5").unwrap()).await.unwrap();
        j.on_file(j.sent(2, "B2").unwrap()).await.unwrap();
        j.on_file(j.sent(9, "B9").unwrap()).await.unwrap();
        j.on_file(j.sent(7, "B7").unwrap()).await.unwrap();
        j.done(&outcome(7, Status::Rejected)).unwrap();
        j.flush().unwrap();
        drop(j);

        let r = Arc::new(Record::load(&files, "T").unwrap());
        let mut lookup = Lookup::new(r.clone()).unwrap();
        assert_eq!(
            lookup.get(2).unwrap(),
            Some(Prior::Created(outcome(2, Status::Created).with_seq(0))),
            "created stays created, its outcome read back from the results"
        );
        assert_eq!(
            lookup.get(3).unwrap(),
            Some(Prior::Created(outcome(3, Status::Created).with_seq(0))),
            "read back from the journal"
        );
        assert_eq!(lookup.get(4).unwrap(), Some(Prior::Unknown));
        assert_eq!(
            lookup.get(5).unwrap(),
            Some(Prior::Unknown),
            "sent, then the crash"
        );
        assert_eq!(lookup.get(7).unwrap(), Some(Prior::Other));
        assert_eq!(lookup.get(9).unwrap(), Some(Prior::Unknown));
        assert_eq!(lookup.get(6).unwrap(), None);
        assert!(r.matches(4, "B4").is_ok());
        assert!(r.matches(2, "other").unwrap_err().contains("line 2"));
        assert!(r.matches(9, "B9").is_ok());
        assert!(r.matches(11, "anything").is_ok());
        assert_eq!(r.len(), 6);
    }

    #[tokio::test]
    async fn a_record_made_against_another_target_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("r.csv"));
        results(&files, "the built-in simulation", &[(2, Status::Created)]);
        let err = Record::load(&files, "https://api.example").unwrap_err();
        assert!(
            err.to_string()
                .contains("records a run against the built-in simulation"),
            "{err}"
        );
        std::fs::remove_file(&files.results).unwrap();
        let j = Journal::open(&files.journal, "https://other.example").unwrap();
        j.on_file(j.sent(2, "B2").unwrap()).await.unwrap();
        drop(j);
        let err = Record::load(&files, "https://api.example").unwrap_err();
        assert!(err.to_string().contains("https://other.example"), "{err}");
    }

    #[test]
    fn partial_results_without_a_journal_are_damage() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("r.csv"));
        let mut w = ResultsWriter::create(&files.partial, "T", false).unwrap();
        w.push(outcome(2, Status::Created)).unwrap();
        w.finish().unwrap();
        let err = Record::load(&files, "T").unwrap_err();
        assert!(err.to_string().contains("missing or empty"), "{err}");
        std::fs::write(&files.journal, "").unwrap();
        assert!(Record::load(&files, "T").is_err());
    }

    #[test]
    fn nothing_recorded_is_an_empty_record() {
        let dir = tempfile::tempdir().unwrap();
        let r = Record::load(&RunFiles::new(&dir.path().join("r.csv")), "T").unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn a_file_that_is_not_results_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("r.csv"));
        std::fs::write(&files.results, "name,description\nx,y\n").unwrap();
        assert!(Record::load(&files, "T")
            .unwrap_err()
            .to_string()
            .contains("not a bulkcast results file"));
    }

    #[test]
    fn an_entry_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }
}
