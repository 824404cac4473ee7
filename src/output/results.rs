//! The results file as it is written: one row per input data row, in input order, as outcomes
//! arrive. (The columns and how a row reads back are [`crate::ledger::outcome`]'s.)
//!
//! Outcomes arrive in completion order; a small reorder buffer holds those that finished ahead
//! of an earlier row still in flight, so the file is always a complete, ordered prefix of the
//! input. The buffer only ever holds rows completed while an earlier one is still being tried,
//! so its size follows the number of requests in flight, not the size of the input.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::csvio;
use crate::ledger::outcome::{write_outcome, Outcome, HEADER};

pub struct ResultsWriter<W: Write> {
    csv: csv::Writer<W>,
    /// The server every outcome was had from.
    target: String,
    next_seq: u64,
    held_back: BTreeMap<u64, Outcome>,
}

impl ResultsWriter<File> {
    /// Create (or empty) `path` and write the header, after a UTF-8 byte-order mark when `bom`
    /// (the input came from Excel, where the results will be opened).
    pub fn create(path: &Path, target: &str, bom: bool) -> io::Result<ResultsWriter<File>> {
        let mut file = File::create(path)?;
        if bom {
            file.write_all(csvio::BOM)?;
        }
        ResultsWriter::new(file, target)
    }
}

impl<W: Write> ResultsWriter<W> {
    /// Results of a run against `target` (recorded in every row).
    pub fn new(out: W, target: &str) -> io::Result<ResultsWriter<W>> {
        let mut csv = csvio::writer(out);
        csv.write_record(HEADER)?;
        csv.flush()?;
        Ok(ResultsWriter {
            csv,
            target: target.to_owned(),
            next_seq: 0,
            held_back: BTreeMap::new(),
        })
    }

    /// Take one outcome; write it, and any held-back outcomes it unblocks, in input order.
    pub fn push(&mut self, outcome: Outcome) -> io::Result<()> {
        if outcome.seq != self.next_seq {
            self.held_back.insert(outcome.seq, outcome);
            return Ok(());
        }
        self.write(&outcome)?;
        while let Some(next) = self.held_back.remove(&self.next_seq) {
            self.write(&next)?;
        }
        Ok(())
    }

    fn write(&mut self, o: &Outcome) -> io::Result<()> {
        write_outcome(&mut self.csv, None, o, &self.target)?;
        self.next_seq += 1;
        Ok(())
    }

    /// Outcomes waiting for an earlier row.
    #[cfg(test)]
    pub fn held_back(&self) -> usize {
        self.held_back.len()
    }

    /// Rows written.
    pub fn written(&self) -> u64 {
        self.next_seq
    }

    /// Flush and hand back the output. Fails if an outcome is still held back (a row's outcome
    /// never arrived), which would leave a gap.
    pub fn finish(mut self) -> io::Result<W> {
        self.csv.flush()?;
        if !self.held_back.is_empty() {
            return Err(io::Error::other(format!(
                "results incomplete: data row {} has no outcome ({} later rows held back)",
                self.next_seq + 1,
                self.held_back.len()
            )));
        }
        self.csv
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::outcome::Status;

    fn outcome(seq: u64, status: Status) -> Outcome {
        Outcome::sample(seq, status)
    }

    #[test]
    fn out_of_order_outcomes_are_written_in_input_order() {
        let mut w = ResultsWriter::new(Vec::new(), "T").unwrap();
        for seq in [2, 0, 3, 1] {
            w.push(outcome(seq, Status::Created)).unwrap();
        }
        assert_eq!(w.held_back(), 0);
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.join(","));
        assert_eq!(lines[1], "2,B0,true,created,200,,3000,1,12,T");
        assert_eq!(lines[4], "5,B3,true,created,200,,3003,1,12,T");
    }

    #[test]
    fn a_missing_outcome_is_an_error_not_a_gap() {
        let mut w = ResultsWriter::new(Vec::new(), "T").unwrap();
        w.push(outcome(0, Status::Created)).unwrap();
        w.push(outcome(2, Status::Created)).unwrap();
        assert_eq!(w.held_back(), 1);
        assert!(w
            .finish()
            .unwrap_err()
            .to_string()
            .contains("data row 2 has no outcome"));
    }

    #[test]
    fn formula_like_cells_are_written_as_text() {
        let mut w = ResultsWriter::new(Vec::new(), "T").unwrap();
        let mut o = outcome(0, Status::Rejected);
        o.name = "=cmd|' /C calc'!A0".into();
        o.message = "-bad".into();
        w.push(o).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        assert!(
            text.contains("\n2,'=cmd|' /C calc'!A0,false,rejected,200,'-bad,3000,"),
            "{text}"
        );
    }
}
