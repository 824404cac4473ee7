//! What became of one input row: the record that travels from the submitter to the results
//! file, and the vocabulary of the results file's `status` column.

use std::fmt;
use std::time::Duration;

/// The fate of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// The broadcast was created.
    Created,
    /// The row failed validation and was never sent.
    Invalid,
    /// The server answered with a final refusal (a 4xx, or `success: false`); not retried.
    Rejected,
    /// Every attempt failed with a retryable error (429, 5xx, connection) and retries ran out.
    Failed,
    /// The request was sent but no answer came back: the broadcast may or may not exist.
    Unknown,
    /// The run stopped (Ctrl-C, `--max-errors`, a fatal error) before this row was sent.
    NotAttempted,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Created,
        Status::Invalid,
        Status::Rejected,
        Status::Failed,
        Status::Unknown,
        Status::NotAttempted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
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

    pub fn success(&self) -> bool {
        self.status == Status::Created
    }

    /// The same outcome placed at another position among the rows.
    pub fn with_seq(mut self, seq: u64) -> Outcome {
        self.seq = seq;
        self
    }
}
