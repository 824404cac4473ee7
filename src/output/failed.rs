//! `--failed PATH`: the input rows that did not succeed, with their original columns and an
//! `error` column, ready to be fixed in a spreadsheet and submitted as a new input (where the
//! `error` column is ignored as an unknown column).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::csvio;
use crate::input::{InputOptions, RowReader};
use crate::ledger::outcome::Columns;

/// Write the rows of `input` whose result in `results` is not a success. Both are read in
/// input order, side by side; returns how many rows were written.
pub fn write(path: &Path, input: &Path, opts: &InputOptions, results: &Path) -> Result<u64> {
    let mut rows = RowReader::open(input, opts)?;
    let mut res = csvio::reader(
        File::open(results).with_context(|| format!("cannot read {}", results.display()))?,
        b',',
    );
    let Some(columns) = res.headers().ok().and_then(Columns::from_header) else {
        bail!("{} is not a bulkcast results file", results.display());
    };
    let mut out = BufWriter::new(
        File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    if rows.sniffed().is_some_and(|s| s.from_excel()) {
        out.write_all(csvio::BOM)?;
    }
    let mut out = csvio::writer_with(out, rows.delimiter());
    let headers: Vec<String> = rows
        .headers()
        .iter()
        .map(|h| csvio::safe_cell(h).into_owned())
        .collect();
    out.write_record(headers.iter().map(String::as_str).chain(["error"]))?;

    let mut written = 0;
    let mut result = csv::StringRecord::new();
    while let Some(row) = rows.next_row() {
        let row = row?;
        if !res.read_record(&mut result)? {
            bail!("{} ends before input line {}", results.display(), row.line);
        }
        let Some(outcome) = columns.outcome(&result) else {
            bail!(
                "{}: unreadable result for input line {}",
                results.display(),
                row.line
            );
        };
        if outcome.line != row.line {
            bail!(
                "{} does not follow the input (line {} vs {})",
                results.display(),
                outcome.line,
                row.line
            );
        }
        if outcome.success() {
            continue;
        }
        let cells = rows.record().iter().map(csvio::safe_bytes);
        let error =
            csvio::safe_cell(&format!("{}: {}", outcome.status, outcome.message)).into_owned();
        out.write_record(cells.chain([error.into_bytes().into()]))?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}
