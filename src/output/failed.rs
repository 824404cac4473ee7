//! `--failed PATH`: the input rows that did not succeed, with their original columns and an
//! `error` column, ready to be fixed in a spreadsheet and submitted as a new input (where the
//! `error` column is ignored as an unknown column). A path ending `.xlsx` (the only kind a
//! workbook's rows are written to) gets a workbook whose every cell is text, so that Excel
//! keeps caller ids, list ids and dates exactly as they were; any other path gets CSV.

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
    let mut out = Out::create(path, &rows, "Failed rows")?;
    let headers: Vec<String> = rows.headers().to_vec();
    out.row(headers.iter().map(|h| h.as_bytes()).chain([&b"error"[..]]))?;

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
        let error = format!("{}: {}", outcome.status, outcome.message);
        out.row(rows.record().iter().chain([error.as_bytes()]))?;
        written += 1;
    }
    out.finish(path)?;
    Ok(written)
}

/// Whether `path` names a workbook to write.
pub fn is_workbook_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// Where rows of a sheet are written (the failed rows; a sheet fixed on the page): CSV
/// (formula-safe cells, the input's delimiter, a BOM for Excel), or a workbook of text cells.
pub(crate) enum Out {
    Csv(csv::Writer<BufWriter<File>>),
    Xlsx {
        book: Box<rust_xlsxwriter::Workbook>,
        text: rust_xlsxwriter::Format,
        row: u32,
    },
}

impl Out {
    /// A new file at `path` for rows read by `rows`; `sheet` names a workbook's one sheet.
    pub(crate) fn create(path: &Path, rows: &RowReader, sheet: &str) -> Result<Out> {
        if is_workbook_path(path) {
            let mut book = Box::new(rust_xlsxwriter::Workbook::new());
            book.add_worksheet_with_constant_memory()?.set_name(sheet)?;
            let text = rust_xlsxwriter::Format::new().set_num_format("@");
            return Ok(Out::Xlsx { book, text, row: 0 });
        }
        let mut out = BufWriter::new(
            File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        );
        if rows.sniffed().is_some_and(|s| s.from_excel()) {
            out.write_all(csvio::BOM)?;
        }
        Ok(Out::Csv(csvio::writer_with(out, rows.delimiter())))
    }

    pub(crate) fn row<'a>(&mut self, cells: impl Iterator<Item = &'a [u8]>) -> Result<()> {
        match self {
            Out::Csv(csv) => csv.write_record(cells.map(csvio::safe_bytes))?,
            Out::Xlsx { book, text, row } => {
                let sheet = book.worksheet_from_index(0)?;
                for (col, cell) in cells.enumerate() {
                    let col = u16::try_from(col).context("more columns than a workbook holds")?;
                    let cell = String::from_utf8_lossy(cell);
                    sheet.write_string_with_format(*row, col, cell.as_ref(), text)?;
                }
                *row += 1;
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self, path: &Path) -> Result<()> {
        match self {
            Out::Csv(mut csv) => csv.flush()?,
            Out::Xlsx { mut book, .. } => book
                .save(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        }
        Ok(())
    }
}
