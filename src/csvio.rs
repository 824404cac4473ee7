//! Every CSV reader and writer bulkcast makes is built here, so that dialect settings (delimiter,
//! quoting, flexible row lengths, line endings) are decided in one place.
//!
//! It also owns the one rule for cells bulkcast *writes*: a cell that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) is written with a leading
//! apostrophe, as OWASP's CSV-injection guidance advises; the input side strips that apostrophe
//! again, so every file bulkcast writes can be read back unchanged.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

/// A source of CSV bytes: a file, or standard input for `-`.
pub fn open_input(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    const BUF: usize = 256 * 1024;
    if path.as_os_str() == "-" {
        Ok(Box::new(BufReader::with_capacity(BUF, io::stdin())))
    } else {
        Ok(Box::new(BufReader::with_capacity(BUF, File::open(path)?)))
    }
}

/// Guess the delimiter from the header line: whichever of `,` `;` and tab occurs most often
/// outside quotes in the first line; a comma when none does.
pub fn detect_delimiter(input: &mut dyn BufRead) -> io::Result<u8> {
    let head = input.fill_buf()?;
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delims = [b',', b';', b'\t'];
    let best = (0..3)
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    Ok(if counts[best] == 0 {
        b','
    } else {
        delims[best]
    })
}

/// The reader for input spreadsheets and for bulkcast's own files read back. Rows of any length
/// are passed through so that a ragged row is judged as a row instead of ending the file.
///
/// Records end at `\n` only: with csv's default CRLF handling a record after `\r\n` reports the
/// line before its own, and every row message would point one line up. The `\r` this leaves at
/// the end of a CRLF file's last cell is white space, which every reader of cells trims.
pub fn reader<R: Read>(input: R, delimiter: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(true)
        .flexible(true)
        .buffer_capacity(256 * 1024)
        .from_reader(input)
}

/// A reader of single records of bulkcast's own files, started at a record's first byte (no
/// header): how an earlier run's outcome is read back from where it was recorded.
pub fn record_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(4 * 1024)
        .from_reader(input)
}

/// The UTF-8 byte-order mark: written first in files meant to open in Excel beside a sheet that
/// came from Excel, which then reads them as UTF-8 (without it, Excel reads a CSV in the
/// machine's legacy code page and garbles every accent).
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The writer for every CSV bulkcast writes (reports, results, journals).
pub fn writer<W: Write>(output: W) -> csv::Writer<W> {
    writer_with(output, b',')
}

/// A writer with another delimiter: the failed-rows file keeps the input's.
pub fn writer_with<W: Write>(output: W, delimiter: u8) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .from_writer(output)
}

/// Whether a spreadsheet would take `cell` for a formula.
fn looks_like_formula(cell: &[u8]) -> bool {
    matches!(
        cell.first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

/// `cell` as it must be written so that a spreadsheet shows it as text.
pub fn safe_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_formula(cell.as_bytes()) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// [`safe_cell`] for a raw input cell, which may not be UTF-8.
pub fn safe_bytes(cell: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if looks_like_formula(cell) {
        [b"'".as_slice(), cell].concat().into()
    } else {
        cell.into()
    }
}

/// Undo [`safe_cell`] (and a spreadsheet's own text marker) on a trimmed input cell: an
/// apostrophe followed by `=`, `+`, `-` or `@` is dropped.
pub fn unmark_text(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if matches!(rest.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@')) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(s: &str) -> u8 {
        detect_delimiter(&mut s.as_bytes()).unwrap()
    }

    #[test]
    fn delimiter_is_detected_from_the_header_line() {
        assert_eq!(detect("name,description,timeout\n"), b',');
        assert_eq!(detect("name;description;timeout\r\nx,y,z,w,v\n"), b';');
        assert_eq!(detect("name\tdescription\ttimeout\n"), b'\t');
        assert_eq!(detect("\"a,b\";\"c,d\";e\n"), b';');
        assert_eq!(detect("name\n"), b',');
        assert_eq!(detect(""), b',');
    }

    #[test]
    fn formula_cells_are_marked_and_unmarked() {
        for (raw, safe) in [
            ("=1+2", "'=1+2"),
            ("+91 80", "'+91 80"),
            ("-5", "'-5"),
            ("@x", "'@x"),
            ("\tx", "'\tx"),
        ] {
            assert_eq!(safe_cell(raw), safe);
        }
        assert_eq!(safe_cell("Campaign 1"), "Campaign 1");
        assert_eq!(unmark_text("'=1+2"), "=1+2");
        assert_eq!(unmark_text("'+918069000000"), "+918069000000");
        assert_eq!(unmark_text("'hello"), "'hello");
        assert_eq!(unmark_text("it's"), "it's");
    }
}
