//! `bulkcast validate`: judging every row of a spreadsheet without sending anything, and writing
//! a report with one row per data row.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};

use crate::config::ValidateConfig;
use crate::csvio;
use crate::input::RowReader;
use crate::Exit;

/// Write a map file for the sheet at `path` (never over an existing file).
fn write_map(cfg: &ValidateConfig, path: &std::path::Path) -> Result<Exit> {
    let opts = crate::input::InputOptions {
        lenient: true,
        ..cfg.input_opts.clone()
    };
    let rows = RowReader::open(&cfg.input, &opts)?;
    let text = rows.map_file();
    let mut file = crate::output::new_file(path, "the map file")?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the map file {}", path.display()))?;
    let proposed = text.lines().filter(|l| l.contains("# proposed")).count();
    let absent = text
        .lines()
        .filter(|l| l.starts_with("# ") && l.contains(": no column"))
        .count();
    eprintln!(
        "wrote {}: {proposed} proposed line(s) to check, {absent} field(s) no column holds. \
         Check it, then: bulkcast submit {} --map-file {}",
        path.display(),
        cfg.input.display(),
        path.display()
    );
    Ok(Exit::Success)
}

/// Validate every row of the input and write the report: `line,name,success,message`, one row per
/// data row in input order.
pub fn run(cfg: &ValidateConfig) -> Result<Exit> {
    if let Some(path) = &cfg.write_map {
        return write_map(cfg, path);
    }
    // Open the report first: an unwritable report is fatal before any row is read.
    let out: Box<dyn Write> = match &cfg.report {
        Some(path) => Box::new(
            File::create(path)
                .with_context(|| format!("cannot write the report {}", path.display()))?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let mut rows = RowReader::open(&cfg.input, &cfg.input_opts)?;
    warn_unknown_columns(&rows);

    let mut out = BufWriter::new(out);
    // A report meant to open in Excel beside a sheet that came from Excel carries a BOM (into
    // the buffer: a closed pipe shows when it is written out).
    if bom_first(&rows) {
        out.write_all(csvio::BOM)?;
    }
    let mut report = csvio::writer(out);
    let outcome = (|| -> Result<(u64, u64)> {
        report.write_record(["line", "name", "success", "message"])?;
        let (mut valid, mut invalid) = (0u64, 0u64);
        let mut line_buf = itoa::Buffer::new();
        while let Some(row) = rows.next_row() {
            let row = row?;
            let (success, message) = match &row.verdict {
                Ok(_) => {
                    valid += 1;
                    ("true", "")
                }
                Err(m) => {
                    invalid += 1;
                    ("false", m.as_str())
                }
            };
            report.write_record([
                line_buf.format(row.line).as_bytes(),
                csvio::safe_cell(&row.name).as_bytes(),
                success.as_bytes(),
                csvio::safe_cell(message).as_bytes(),
            ])?;
        }
        report.flush()?;
        Ok((valid, invalid))
    })();
    let (valid, invalid) = match outcome {
        Ok(counts) => counts,
        Err(e) if is_broken_pipe(&e) => return Ok(Exit::Success),
        Err(e) => return Err(e),
    };
    if valid + invalid == 0 {
        tracing::error!(
            "no rows: {} has a header and nothing under it",
            cfg.input.display()
        );
        return Ok(Exit::SomeFailed);
    }
    let blank = rows.blank_rows();
    tracing::info!(
        "{}: {valid} valid, {invalid} invalid{}",
        crate::plural(valid + invalid, "row", "rows"),
        if blank > 0 {
            format!(
                " ({} skipped)",
                crate::plural(blank, "blank row", "blank rows")
            )
        } else {
            String::new()
        }
    );
    Ok(if invalid == 0 {
        Exit::Success
    } else {
        Exit::SomeFailed
    })
}

/// Whether files written for this input should start with a UTF-8 byte-order mark.
fn bom_first(rows: &RowReader) -> bool {
    rows.sniffed().is_some_and(|s| s.from_excel())
}

/// Say once which encoding the file was read in (when not plain UTF-8), and which columns are
/// ignored.
pub fn warn_unknown_columns(rows: &RowReader) {
    if let Some(note) = rows.encoding_note() {
        tracing::info!("{note}");
    }
    let unknown = rows.unknown_columns();
    if !unknown.is_empty() {
        let mut named: Vec<String> = unknown.iter().take(10).map(|c| format!("{c:?}")).collect();
        if unknown.len() > 10 {
            named.push(format!("and {} more", unknown.len() - 10));
        }
        tracing::warn!(
            "ignoring {} that match no field: {}",
            crate::plural(unknown.len() as u64, "column", "columns"),
            named.join(", ")
        );
    }
}

/// A reader of standard output went away (`bulkcast validate x | head`): not an error.
pub(super) fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io = cause.downcast_ref::<io::Error>().or_else(|| {
            match cause.downcast_ref::<csv::Error>()?.kind() {
                csv::ErrorKind::Io(io) => Some(io),
                _ => None,
            }
        });
        io.is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
