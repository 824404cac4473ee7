//! What stops a file from being read at all (anything wrong with a row is in its verdict).

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use super::Field;

/// Problems that stop a file from being read at all.
#[derive(Debug, Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path} has no header line: the first line must name the columns")]
    Empty { path: PathBuf },
    #[error(
        "{path} lacks required column(s): {missing}. Columns found: {found}.{hints} \
         Add the column(s), name a column in your own words with --map \"HEADER=FIELD\", or give a \
         value for every row with --set FIELD=VALUE"
    )]
    MissingColumns {
        path: PathBuf,
        missing: String,
        found: String,
        /// " Did you mean …?" for columns that look like a missing field, or nothing.
        hints: String,
    },
    #[error("{path}: columns {first:?} and {second:?} both mean the field {field}; keep one")]
    DuplicateColumn {
        path: PathBuf,
        field: Field,
        first: String,
        second: String,
    },
    #[error("{path}: {message}")]
    Workbook { path: PathBuf, message: String },
    #[error("reading {path} near line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        source: csv::Error,
    },
}
