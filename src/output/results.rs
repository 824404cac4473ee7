//! The results file: one row per input data row, in input order, written as outcomes arrive.
//!
//! Outcomes arrive in completion order; a small reorder buffer holds those that finished ahead
//! of an earlier row still in flight, so the file is always a complete, ordered prefix of the
//! input. The buffer only ever holds rows completed while an earlier one is still being tried,
//! so its size follows the number of requests in flight, not the size of the input.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::csvio::{self, safe_cell};
use crate::outcome::{Outcome, Status};

/// The results file's header.
pub const HEADER: [&str; 9] = [
    "line",
    "name",
    "success",
    "status",
    "http_status",
    "message",
    "broadcast_id",
    "attempts",
    "elapsed_ms",
];

pub struct ResultsWriter<W: Write> {
    csv: csv::Writer<W>,
    next_seq: u64,
    pending: BTreeMap<u64, Outcome>,
}

impl ResultsWriter<File> {
    /// Create (or empty) `path` and write the header.
    pub fn create(path: &Path) -> io::Result<ResultsWriter<File>> {
        ResultsWriter::new(File::create(path)?)
    }
}

impl<W: Write> ResultsWriter<W> {
    pub fn new(out: W) -> io::Result<ResultsWriter<W>> {
        let mut csv = csvio::writer(out);
        csv.write_record(HEADER)?;
        csv.flush()?;
        Ok(ResultsWriter {
            csv,
            next_seq: 0,
            pending: BTreeMap::new(),
        })
    }

    /// Take one outcome; write it, and any held-back outcomes it unblocks, in input order.
    pub fn push(&mut self, outcome: Outcome) -> io::Result<()> {
        if outcome.seq != self.next_seq {
            self.pending.insert(outcome.seq, outcome);
            return Ok(());
        }
        self.write(&outcome)?;
        while let Some(next) = self.pending.remove(&self.next_seq) {
            self.write(&next)?;
        }
        Ok(())
    }

    fn write(&mut self, o: &Outcome) -> io::Result<()> {
        write_outcome(&mut self.csv, None, o)?;
        self.next_seq += 1;
        Ok(())
    }

    /// Push what is written so far to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.csv.flush()
    }

    /// Outcomes waiting for an earlier row.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }

    /// Rows written.
    pub fn written(&self) -> u64 {
        self.next_seq
    }

    /// Flush and hand back the output. Fails if an outcome is still held back (a row's outcome
    /// never arrived), which would leave a gap.
    pub fn finish(mut self) -> io::Result<W> {
        self.csv.flush()?;
        if !self.pending.is_empty() {
            return Err(io::Error::other(format!(
                "results incomplete: data row {} has no outcome ({} later rows held back)",
                self.next_seq + 1,
                self.pending.len()
            )));
        }
        self.csv
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// Write `o` as one CSV record of the results columns, after an optional leading cell.
pub fn write_outcome<W: Write>(
    csv: &mut csv::Writer<W>,
    lead: Option<&str>,
    o: &Outcome,
) -> io::Result<()> {
    let mut line = itoa::Buffer::new();
    let mut http = itoa::Buffer::new();
    let mut attempts = itoa::Buffer::new();
    let mut elapsed = itoa::Buffer::new();
    let cells = [
        line.format(o.line),
        &safe_cell(&o.name),
        if o.success() { "true" } else { "false" },
        o.status.as_str(),
        o.http_status.map_or("", |s| http.format(s)),
        &safe_cell(&o.message),
        &safe_cell(o.broadcast_id.as_deref().unwrap_or("")),
        attempts.format(o.attempts),
        elapsed.format(o.elapsed.as_millis()),
    ];
    match lead {
        Some(lead) => csv.write_record(std::iter::once(lead).chain(cells))?,
        None => csv.write_record(cells)?,
    }
    Ok(())
}

/// Where each results column is in a file being read back (it may have been reordered or
/// extended in a spreadsheet).
#[derive(Debug, Clone)]
pub struct Columns([Option<usize>; 9]);

impl Columns {
    /// Map a header; `None` unless it has at least `line`, `name` and `status`.
    pub fn from_header(header: &csv::StringRecord) -> Option<Columns> {
        let mut cols = [None; 9];
        for (i, h) in header.iter().enumerate() {
            let h = h.trim_start_matches('\u{feff}').trim();
            if let Some(c) = HEADER.iter().position(|&want| want == h) {
                cols[c].get_or_insert(i);
            }
        }
        (cols[0].is_some() && cols[1].is_some() && cols[3].is_some()).then_some(Columns(cols))
    }

    /// One record back into an [`Outcome`] (with `seq` 0); `None` for a torn or foreign line.
    pub fn outcome(&self, rec: &csv::StringRecord) -> Option<Outcome> {
        let cell = |c: usize| {
            self.0[c]
                .and_then(|i| rec.get(i))
                .map(|v| crate::csvio::unmark_text(v.trim()))
        };
        let number = |c: usize| cell(c).filter(|v| !v.is_empty()).map(str::parse::<u64>);
        Some(Outcome {
            seq: 0,
            line: cell(0)?.parse().ok()?,
            name: cell(1)?.to_owned(),
            status: Status::parse(cell(3)?)?,
            http_status: number(4)
                .transpose()
                .ok()?
                .map(u16::try_from)
                .transpose()
                .ok()?,
            message: cell(5).unwrap_or_default().to_owned(),
            broadcast_id: cell(6).filter(|v| !v.is_empty()).map(str::to_owned),
            attempts: number(7)
                .transpose()
                .ok()?
                .map_or(Ok(0), u32::try_from)
                .ok()?,
            elapsed: std::time::Duration::from_millis(number(8).transpose().ok()?.unwrap_or(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn outcome(seq: u64, status: Status) -> Outcome {
        Outcome {
            seq,
            line: seq + 2,
            name: format!("B{seq}"),
            status,
            http_status: Some(200),
            message: String::new(),
            broadcast_id: Some(format!("{}", 3000 + seq)),
            attempts: 1,
            elapsed: Duration::from_millis(12),
        }
    }

    #[test]
    fn out_of_order_outcomes_are_written_in_input_order() {
        let mut w = ResultsWriter::new(Vec::new()).unwrap();
        for seq in [2, 0, 3, 1] {
            w.push(outcome(seq, Status::Created)).unwrap();
        }
        assert_eq!(w.held_back(), 0);
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.join(","));
        assert_eq!(lines[1], "2,B0,true,created,200,,3000,1,12");
        assert_eq!(lines[4], "5,B3,true,created,200,,3003,1,12");
    }

    #[test]
    fn written_outcomes_read_back_the_same() {
        let mut w = ResultsWriter::new(Vec::new()).unwrap();
        let mut o = outcome(0, Status::Unknown);
        o.name = "=SUM(A1)".into();
        o.http_status = None;
        o.broadcast_id = None;
        w.push(o.clone()).unwrap();
        w.push(outcome(1, Status::Created)).unwrap();
        let text = String::from_utf8(w.finish().unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let cols = Columns::from_header(r.headers().unwrap()).unwrap();
        let back: Vec<Outcome> = r
            .records()
            .map(|rec| cols.outcome(&rec.unwrap()).unwrap())
            .collect();
        assert_eq!(back[0], o);
        assert_eq!(back[1], outcome(1, Status::Created).with_seq(0));
    }

    #[test]
    fn torn_or_foreign_lines_read_as_nothing() {
        let cols = Columns::from_header(&csv::StringRecord::from(HEADER.to_vec())).unwrap();
        for torn in [
            vec!["5", "B", "true", "crea"],
            vec!["x", "B", "true", "created"],
            vec!["5"],
        ] {
            assert_eq!(
                cols.outcome(&csv::StringRecord::from(torn.clone())),
                None,
                "{torn:?}"
            );
        }
        assert!(
            Columns::from_header(&csv::StringRecord::from(vec!["name", "description"])).is_none()
        );
    }

    #[test]
    fn a_missing_outcome_is_an_error_not_a_gap() {
        let mut w = ResultsWriter::new(Vec::new()).unwrap();
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
        let mut w = ResultsWriter::new(Vec::new()).unwrap();
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
