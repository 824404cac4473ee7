//! What earlier runs recorded about each input line, for `--resume`: the results file of the last
//! complete run, overlaid with the journal of any run that did not finish.
//!
//! Per line only what the next run needs is kept: the whole outcome of a row that was created
//! (it is copied to the new results unchanged), and a fingerprint of the name of every other row
//! (to check that the input is still the file those lines came from).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::files::RunFiles;
use super::journal::{self, Event};
use super::outcome::{Columns, Outcome, Status};
use crate::csvio;
use crate::input::name_fingerprint;

/// What is known of one line from earlier runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Created: keep this outcome, send nothing.
    Created(Outcome),
    /// Sent without a known outcome: look the name up before sending again.
    Unknown { name: u64 },
    /// Anything else (invalid, rejected, failed, not attempted): process again.
    Other { name: u64 },
}

impl Prior {
    fn name(&self) -> u64 {
        match self {
            Prior::Created(o) => name_fingerprint(&o.name),
            Prior::Unknown { name } | Prior::Other { name } => *name,
        }
    }
}

#[derive(Debug, Default)]
pub struct Record {
    lines: HashMap<u64, Prior>,
}

impl Record {
    /// Read what the files of an earlier run hold. Neither existing is not an error: there is
    /// nothing to resume and every row is new.
    pub fn load(files: &RunFiles) -> Result<Record> {
        let mut record = Record::default();
        if files.results.exists() {
            record.read_results(&files.results)?;
        }
        if journal::exists(&files.journal) {
            let (events, skipped) = journal::read(&files.journal)
                .with_context(|| format!("reading the journal {}", files.journal.display()))?;
            if skipped > 0 {
                tracing::warn!(
                    "{}: skipped {skipped} unreadable lines",
                    files.journal.display()
                );
            }
            for event in events {
                match event {
                    Event::Sent { line, name } => {
                        // A row sent again after being created earlier stays created.
                        if !matches!(record.lines.get(&line), Some(Prior::Created(_))) {
                            record.lines.insert(
                                line,
                                Prior::Unknown {
                                    name: name_fingerprint(&name),
                                },
                            );
                        }
                    }
                    Event::Done(o) => record.insert(o),
                }
            }
        }
        Ok(record)
    }

    fn read_results(&mut self, path: &Path) -> Result<()> {
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
        for (i, rec) in csv.records().enumerate() {
            let rec = rec.with_context(|| format!("reading {}", path.display()))?;
            let Some(o) = columns.outcome(&rec) else {
                bail!("{} line {}: not a results row", path.display(), i + 2);
            };
            self.insert(o);
        }
        Ok(())
    }

    fn insert(&mut self, o: Outcome) {
        let line = o.line;
        let prior = match o.status {
            Status::Created => Prior::Created(o),
            Status::Unknown => Prior::Unknown {
                name: name_fingerprint(&o.name),
            },
            _ => Prior::Other {
                name: name_fingerprint(&o.name),
            },
        };
        self.lines.insert(line, prior);
    }

    pub fn get(&self, line: u64) -> Option<&Prior> {
        self.lines.get(&line)
    }

    /// Lines recorded.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Check that the input row on `line` is the one recorded there; the message says how
    /// they differ.
    pub fn matches(&self, line: u64, name: &str) -> Result<(), String> {
        match self.lines.get(&line) {
            Some(p) if p.name() != name_fingerprint(name) => Err(match p {
                Prior::Created(o) => format!(
                    "line {line} is {name:?} in the input but {:?} in the results",
                    o.name
                ),
                _ => {
                    format!("line {line} is {name:?} in the input but another name in the results")
                }
            }),
            _ => Ok(()),
        }
    }
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
            message: String::new(),
            broadcast_id: None,
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn the_journal_overlays_the_results_and_sent_without_done_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("plan.results.csv"));
        assert_eq!(
            files.journal.file_name().unwrap(),
            "plan.results.csv.journal"
        );
        let mut w = ResultsWriter::create(&files.results).unwrap();
        for (line, status) in [
            (2, Status::Created),
            (3, Status::Failed),
            (4, Status::Unknown),
            (5, Status::NotAttempted),
        ] {
            w.push(outcome(line, status)).unwrap();
        }
        w.finish().unwrap();
        let j = Journal::open(&files.journal).unwrap();
        j.on_file(j.sent(3, "B3").unwrap()).unwrap();
        j.done(&outcome(3, Status::Created)).unwrap();
        j.on_file(j.sent(5, "B5").unwrap()).unwrap();
        j.on_file(j.sent(2, "B2").unwrap()).unwrap();
        drop(j);

        let r = Record::load(&files).unwrap();
        assert!(
            matches!(r.get(2), Some(Prior::Created(_))),
            "created stays created"
        );
        assert!(matches!(r.get(3), Some(Prior::Created(o)) if o.line == 3));
        assert!(matches!(r.get(4), Some(Prior::Unknown { .. })));
        assert!(
            matches!(r.get(5), Some(Prior::Unknown { .. })),
            "sent, then the crash"
        );
        assert!(r.matches(4, "B4").is_ok());
        assert!(r
            .matches(2, "other")
            .unwrap_err()
            .contains("\"B2\" in the results"));
        assert!(r.matches(9, "anything").is_ok());
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn nothing_recorded_is_an_empty_record() {
        let dir = tempfile::tempdir().unwrap();
        let r = Record::load(&RunFiles::new(&dir.path().join("r.csv"))).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn a_file_that_is_not_results_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = RunFiles::new(&dir.path().join("r.csv"));
        std::fs::write(&files.results, "name,description\nx,y\n").unwrap();
        assert!(Record::load(&files)
            .unwrap_err()
            .to_string()
            .contains("not a bulkcast results file"));
    }
}
