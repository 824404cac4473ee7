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
    #[error(
        "{path} is not a file (a device, a pipe or a folder): give the path of the saved sheet"
    )]
    NotAFile { path: PathBuf },
    #[error("{path} has no header line: the first line must name the columns")]
    Empty { path: PathBuf },
    #[error(
        "{path} lacks {}. For each, the column that most likely holds it:\n{lines}\nColumns \
         found: {found}.\nRun again with those --map flags, or write them to a map file to check \
         and keep (bulkcast validate {path} --write-map team.map, then --map-file team.map).",
        crate::plural(*count as u64, "required column", "required columns")
    )]
    MissingColumns {
        path: PathBuf,
        count: usize,
        /// One line per missing field: the column proposed and the flag to copy.
        lines: String,
        found: String,
    },
    #[error(
        "--map {header:?}: {path} has no column {header:?} (for {field}). Columns found: {found}"
    )]
    NoSuchHeader {
        path: PathBuf,
        header: String,
        field: Field,
        found: String,
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
