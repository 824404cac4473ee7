//! What became of one input row: the record that travels from the submitter to the results
//! file, the vocabulary of its `status` column, and the codec that writes an outcome as a CSV
//! record and reads it back (the results file and the journal share it).

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use crate::csvio::{self, safe_cell};

/// The fate of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The broadcast was created.
    Created,
    /// Not sent: a broadcast of the row's name that says what the row says was on the account
    /// before the run (`--skip-existing`), so the row counts as done, with that broadcast's id.
    Existing,
    /// The row failed validation and was never sent.
    Invalid,
    /// The server answered with a final refusal (a 4xx, or `success: false`); not retried.
    Rejected,
    /// Every attempt failed with an error that is retried (429, 5xx, 408, no connection) and the
    /// retries ran out, or the run stopped before the next one. No attempt was seen to create
    /// the broadcast; but a 500, 502 or 504 can come after the broadcast was created, so a row
    /// that met one of those may exist.
    Failed,
    /// The request was sent but no answer came back: the broadcast may or may not exist.
    Unknown,
    /// The run stopped (Ctrl-C, `--max-errors`, a fatal error) before this row was sent.
    NotAttempted,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Created,
        Status::Existing,
        Status::Invalid,
        Status::Rejected,
        Status::Failed,
        Status::Unknown,
        Status::NotAttempted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Existing => "existing",
            Status::Invalid => "invalid",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::NotAttempted => "not_attempted",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the row reached the server.
    pub fn was_sent(self) -> bool {
        matches!(
            self,
            Status::Created | Status::Rejected | Status::Failed | Status::Unknown
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row's result, as written to the results file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Position among the input's data rows; results are written in this order.
    pub seq: u64,
    pub line: u64,
    pub name: String,
    pub status: Status,
    /// The HTTP status of the last reply, if one came.
    pub http_status: Option<u16>,
    pub message: String,
    pub broadcast_id: Option<String>,
    /// Requests sent for this row.
    pub attempts: u32,
    /// From the first attempt to the outcome.
    pub elapsed: Duration,
}

impl Outcome {
    /// An outcome with no request behind it (invalid, not attempted).
    pub fn unsent(seq: u64, line: u64, name: String, status: Status, message: String) -> Outcome {
        Outcome {
            seq,
            line,
            name,
            status,
            http_status: None,
            message,
            broadcast_id: None,
            attempts: 0,
            elapsed: Duration::ZERO,
        }
    }

    /// Whether the row's campaign is on the account: created, or found there already.
    pub fn success(&self) -> bool {
        matches!(self.status, Status::Created | Status::Existing)
    }

    /// A created-looking outcome for tests: row `seq` on line `seq + 2`, named `B{seq}`.
    #[cfg(test)]
    pub fn sample(seq: u64, status: Status) -> Outcome {
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

    /// The same outcome placed at another position among the rows.
    pub fn with_seq(mut self, seq: u64) -> Outcome {
        self.seq = seq;
        self
    }
}

/// The results file's header. `target` is the server the row's outcome was had from: the API's
/// base URL, or [`SIMULATION`] for a `--mock` rehearsal.
pub const HEADER: [&str; 10] = [
    "line",
    "name",
    "success",
    "status",
    "http_status",
    "message",
    "broadcast_id",
    "attempts",
    "elapsed_ms",
    "target",
];

/// The target recorded for a `--mock` rehearsal.
pub const SIMULATION: &str = "the built-in simulation";

/// Write `o`, had from `target`, as one CSV record of the results columns, after an optional
/// leading cell.
pub fn write_outcome<W: Write>(
    csv: &mut csv::Writer<W>,
    lead: Option<&str>,
    o: &Outcome,
    target: &str,
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
        &safe_cell(target),
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
pub struct Columns([Option<usize>; 10]);

impl Columns {
    /// Map a header; `None` unless it has at least `line`, `name` and `status`.
    pub fn from_header(header: &csv::StringRecord) -> Option<Columns> {
        let mut cols = [None; 10];
        for (i, h) in header.iter().enumerate() {
            let h = h.trim_start_matches('\u{feff}').trim();
            if let Some(c) = HEADER.iter().position(|&want| want == h) {
                cols[c].get_or_insert(i);
            }
        }
        (cols[0].is_some() && cols[1].is_some() && cols[3].is_some()).then_some(Columns(cols))
    }

    /// The record's `target` cell; `None` when the file has no such column (a file written by an
    /// earlier version of bulkcast).
    pub fn target<'r>(&self, rec: &'r csv::StringRecord) -> Option<&'r str> {
        let i = self.0[9]?;
        Some(csvio::unmark_text(rec.get(i).unwrap_or_default().trim()))
    }

    /// One record back into an [`Outcome`] (with `seq` 0); `None` for a torn or foreign line.
    pub fn outcome(&self, rec: &csv::StringRecord) -> Option<Outcome> {
        let cell = |c: usize| {
            self.0[c]
                .and_then(|i| rec.get(i))
                .map(|v| csvio::unmark_text(v.trim()))
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
    use crate::output::results::ResultsWriter;

    fn outcome(seq: u64, status: Status) -> Outcome {
        Outcome::sample(seq, status)
    }

    #[test]
    fn written_outcomes_read_back_the_same() {
        let mut w = ResultsWriter::new(Vec::new(), "T").unwrap();
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
}
