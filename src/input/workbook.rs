//! Workbooks read directly: `.xlsx`, `.xlsm`, `.xlsb`, `.xls` and `.ods`, recognised by their
//! content (a zip or an OLE compound file), through `calamine`.
//!
//! A sheet's typed cells become the text the API needs, as Excel shows them: whole numbers as
//! integers (`918069000000`, never `9.18069E+11` or `918069000000.0`), dates and date-times as
//! `yyyy-mm-dd hh:mm:ss` (calamine applies the workbook's 1900 or 1904 date system), booleans
//! and formulas' cached values as they are. An error cell (`#N/A`, `#REF!`) is a row error
//! naming its cell. Each row keeps the sheet's row number as its line.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc;

use calamine::{Data, Range, Reader, Sheets};
use csv::{ByteRecord, Position};

use super::{InputError, InputOptions, NameTracker, RowReader, Source};

/// Whether `head` (a file's first bytes) starts a workbook: a zip (`.xlsx`, `.xlsm`, `.xlsb`,
/// `.ods`) or an OLE compound file (`.xls`).
pub fn is_workbook(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
        || head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
}

/// Whether the file at the start of `file` is a workbook (the file is left at its start).
pub fn sniff(file: &mut File) -> std::io::Result<bool> {
    let mut head = [0u8; 8];
    let n = super::encoding::read_up_to(file, &mut head)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(is_workbook(&head[..n]))
}

/// One sheet's rows, as records of text cells.
pub struct SheetRows {
    inner: Inner,
    /// The name of the sheet read.
    pub sheet: String,
    /// The names of all the workbook's sheets, in order.
    pub sheets: Vec<String>,
    /// About how many rows the sheet has, header included.
    rows: usize,
}

enum Inner {
    /// A sheet read whole (`.xls`, `.xlsb`, `.ods`).
    Range {
        range: Range<Data>,
        /// The next row of the range to hand out.
        next: usize,
        /// The sheet row number of the range's first row.
        first_line: u64,
    },
    /// An `.xlsx` sheet streamed from its XML by a thread of its own, a batch of rows at a
    /// time through a bounded channel: memory follows the batch, not the sheet.
    Stream {
        rx: mpsc::Receiver<Result<Vec<StreamRow>, String>>,
        batch: std::vec::IntoIter<StreamRow>,
        /// The next row with cells, when rows without any come first.
        peeked: Option<StreamRow>,
        /// The line last handed out.
        last_line: Option<u64>,
        width: usize,
    },
}

/// A row as the streaming thread hands it over: its line and its cells by column.
struct StreamRow {
    line: u64,
    cells: Vec<(usize, Result<String, String>)>,
}

/// Rows handed over at a time, and batches in flight.
const STREAM_BATCH: usize = 256;
const STREAM_DEPTH: usize = 4;

/// The most a workbook's table of shared texts may hold once unpacked: a million campaigns'
/// names and descriptions fit, and what it becomes in memory stays far under 256 MB.
const MAX_SHARED_STRINGS: u64 = 100 << 20;

/// A part of a workbook larger than this once unpacked must not unpack more than
/// [`MAX_PACKED_RATIO`] times its packed size.
const MAX_PACKED_RATIO_FROM: u64 = 64 << 20;
const MAX_PACKED_RATIO: u64 = 100;

/// Refuse, before any of it is read, a workbook whose table of shared texts would unpack past
/// [`MAX_SHARED_STRINGS`] (tens of millions of texts), or one of whose parts unpacks past the
/// ratio a real sheet packs at (one enormous cell).
pub fn check_sizes(file: &File, path: &Path) -> Result<(), InputError> {
    let Ok(mut f) = file.try_clone() else {
        return Ok(());
    };
    if f.seek(SeekFrom::Start(0)).is_err() {
        return Ok(());
    }
    // Not a zip (an .xls): calamine reads it in its own bounded way.
    let Ok(mut zip) = zip::ZipArchive::new(BufReader::new(f)) else {
        return Ok(());
    };
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        let Ok(name) = entry.name() else {
            continue;
        };
        let shared = name.eq_ignore_ascii_case("xl/sharedStrings.xml")
            || name.eq_ignore_ascii_case("xl/sharedStrings.bin");
        let (size, packed) = (entry.size(), entry.compressed_size().max(1));
        // A part that unpacks a hundred times larger than it is packed, into more than 64 MB,
        // is one enormous repeated cell (a sheet of real campaigns packs five to twenty times).
        if size > MAX_PACKED_RATIO_FROM && size / packed > MAX_PACKED_RATIO {
            return Err(InputError::Workbook {
                path: path.to_owned(),
                message: format!(
                    "its part {name} unpacks to {} MB from {} KB: that is not a sheet of \
                     campaigns but one enormous cell, or a file made to exhaust memory. Check \
                     the sheet, or save it as CSV UTF-8 and give that",
                    size >> 20,
                    packed >> 10
                ),
            });
        }
        if shared && size > MAX_SHARED_STRINGS {
            return Err(InputError::Workbook {
                path: path.to_owned(),
                message: format!(
                    "its table of texts is {} MB once unpacked, more than the {} MB bulkcast \
                     reads (a sheet of campaigns holds far less: a cell of enormous text, or a \
                     damaged file). Check the sheet, or save it as CSV UTF-8 and give that",
                    size >> 20,
                    MAX_SHARED_STRINGS >> 20
                ),
            });
        }
    }
    Ok(())
}

/// Open the workbook in `file` and take the sheet `wanted` (a name, or a position from 1),
/// or the first sheet.
pub fn open(file: &File, path: &Path, wanted: Option<&str>) -> Result<SheetRows, InputError> {
    let bad = |message: String| InputError::Workbook {
        path: path.to_owned(),
        message,
    };
    let reader = || -> Result<BufReader<File>, InputError> {
        let mut f = file.try_clone().map_err(|e| bad(e.to_string()))?;
        f.seek(SeekFrom::Start(0)).map_err(|e| bad(e.to_string()))?;
        Ok(BufReader::with_capacity(256 * 1024, f))
    };
    use calamine::{Ods, Xls, Xlsb, Xlsx};
    let mut book: Sheets<BufReader<File>> = if let Ok(b) =
        calamine::open_workbook_from_rs::<Xlsx<_>, _>(reader()?)
    {
        Sheets::Xlsx(b)
    } else if let Ok(b) = calamine::open_workbook_from_rs::<Xls<_>, _>(reader()?) {
        Sheets::Xls(b)
    } else if let Ok(b) = calamine::open_workbook_from_rs::<Xlsb<_>, _>(reader()?) {
        Sheets::Xlsb(b)
    } else if let Ok(b) = calamine::open_workbook_from_rs::<Ods<_>, _>(reader()?) {
        Sheets::Ods(b)
    } else {
        return Err(bad(
                "it looks like a workbook but is not one bulkcast can read (.xlsx, .xlsm, .xlsb, .xls, .ods)"
                    .into(),
            ));
    };
    let names = book.sheet_names();
    let sheet = match wanted {
        None => names.first().cloned(),
        Some(w) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(w.trim()))
            .cloned()
            .or_else(|| {
                let i: usize = w.trim().parse().ok()?;
                names.get(i.checked_sub(1)?).cloned()
            }),
    };
    let Some(sheet) = sheet else {
        return Err(bad(format!(
            "it has no sheet {:?}; its sheets are {}",
            wanted.unwrap_or(""),
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if let Sheets::Xlsx(xlsx) = book {
        let mut rows = stream(xlsx, sheet);
        rows.sheets = names;
        return Ok(rows);
    }
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| bad(format!("cannot read the sheet {sheet:?}: {e}")))?;
    let first_line = range.start().map_or(1, |(row, _)| u64::from(row) + 1);
    Ok(SheetRows {
        rows: range.height(),
        inner: Inner::Range {
            range,
            next: 0,
            first_line,
        },
        sheet,
        sheets: names,
    })
}

/// Stream the `.xlsx` sheet `sheet` on a thread of its own.
fn stream(mut book: calamine::Xlsx<BufReader<File>>, sheet: String) -> SheetRows {
    let (tx, rx) = mpsc::sync_channel(STREAM_DEPTH);
    let name = sheet.clone();
    let (dims_tx, dims_rx) = mpsc::sync_channel(1);
    std::thread::spawn(move || {
        let mut cells = match book.worksheet_cells_reader(&name) {
            Ok(c) => c,
            Err(e) => {
                let _ = dims_tx.send((0, 0));
                let _ = tx.send(Err(format!("cannot read the sheet {name:?}: {e}")));
                return;
            }
        };
        let d = cells.dimensions();
        let _ = dims_tx.send((
            (d.end.0.saturating_sub(d.start.0) as usize) + 1,
            d.end.1 as usize + 1,
        ));
        let mut batch = Vec::with_capacity(STREAM_BATCH);
        let mut row: Option<StreamRow> = None;
        loop {
            let cell = match cells.next_cell() {
                Ok(Some(cell)) => cell,
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(format!("cannot read the sheet {name:?}: {e}")));
                    return;
                }
            };
            let (r, c) = cell.get_position();
            let line = u64::from(r) + 1;
            if row.as_ref().is_some_and(|row| row.line != line) {
                batch.extend(row.take());
                if batch.len() >= STREAM_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(STREAM_BATCH));
                    if tx.send(Ok(full)).is_err() {
                        return; // the reader went away
                    }
                }
            }
            let data = Data::from(cell.get_value().clone());
            row.get_or_insert_with(|| StreamRow {
                line,
                cells: Vec::new(),
            })
            .cells
            .push((c as usize, text(&data)));
        }
        batch.extend(row);
        let _ = tx.send(Ok(batch));
    });
    let (rows, width) = dims_rx.recv().unwrap_or((0, 0));
    SheetRows {
        inner: Inner::Stream {
            rx,
            batch: Vec::new().into_iter(),
            peeked: None,
            last_line: None,
            width,
        },
        sheet,
        sheets: Vec::new(),
        rows,
    }
}

impl SheetRows {
    /// Fill `record` with the next row's cells; its sheet row number is the record's line (a
    /// row with no cells between two that have some is handed out empty, so that it counts as
    /// blank). Error cells are handed back in `errors` (column, what the cell shows) and left
    /// empty. `Ok(false)` at the end of the sheet.
    pub fn next_record(
        &mut self,
        record: &mut ByteRecord,
        errors: &mut Vec<(usize, String)>,
    ) -> Result<bool, String> {
        errors.clear();
        record.clear();
        let line = match &mut self.inner {
            Inner::Range {
                range,
                next,
                first_line,
            } => {
                if *next >= range.height() {
                    return Ok(false);
                }
                for col in 0..range.width() {
                    let cell = range.get((*next, col)).unwrap_or(&Data::Empty);
                    push(record, errors, col, text(cell));
                }
                *next += 1;
                *first_line + *next as u64 - 1
            }
            Inner::Stream {
                rx,
                batch,
                peeked,
                last_line,
                width,
            } => {
                let row = match peeked.take().or_else(|| batch.next()) {
                    Some(row) => row,
                    None => match rx.recv() {
                        Ok(Ok(rows)) => {
                            *batch = rows.into_iter();
                            match batch.next() {
                                Some(row) => row,
                                None => return Ok(false),
                            }
                        }
                        Ok(Err(e)) => return Err(e),
                        Err(_) => return Ok(false),
                    },
                };
                let gap = last_line.is_some_and(|last| row.line > last + 1);
                if gap {
                    // A row with no cells: handed out empty.
                    let blank = last_line.map_or(row.line, |l| l + 1);
                    *peeked = Some(row);
                    *last_line = Some(blank);
                    set_line(record, blank);
                    return Ok(true);
                }
                *last_line = Some(row.line);
                let wide = row.cells.iter().map(|(c, _)| c + 1).max().unwrap_or(0);
                *width = (*width).max(wide);
                let mut cells = row.cells.into_iter().peekable();
                for col in 0..*width {
                    match cells.next_if(|(c, _)| *c == col) {
                        Some((_, t)) => push(record, errors, col, t),
                        None => record.push_field(b""),
                    }
                }
                row.line
            }
        };
        set_line(record, line);
        Ok(true)
    }

    /// About how many rows the sheet has, header included.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

fn push(
    record: &mut ByteRecord,
    errors: &mut Vec<(usize, String)>,
    col: usize,
    t: Result<String, String>,
) {
    match t {
        Ok(t) => record.push_field(t.as_bytes()),
        Err(shown) => {
            errors.push((col, shown));
            record.push_field(b"");
        }
    }
}

fn set_line(record: &mut ByteRecord, line: u64) {
    let mut pos = Position::new();
    pos.set_line(line);
    record.set_position(Some(pos));
}

impl super::RowReader {
    /// Read the rows of a workbook's sheet; its first row is the header.
    pub fn from_sheet(
        mut sheet: SheetRows,
        path: &Path,
        opts: &InputOptions,
    ) -> Result<Self, InputError> {
        let mut header = ByteRecord::new();
        let mut errors = Vec::new();
        let found = sheet
            .next_record(&mut header, &mut errors)
            .map_err(|message| InputError::Workbook {
                path: path.to_owned(),
                message,
            })?;
        if !found {
            return Err(InputError::Empty {
                path: path.to_owned(),
            });
        }
        let rows = sheet.rows() as u64;
        tracing::debug!("reading the sheet {:?} of {}", sheet.sheet, path.display());
        let mut reader = RowReader::build(Source::Sheet(sheet), &header, b',', path, opts)?;
        // A workbook came from a spreadsheet program: files written for it carry a BOM.
        reader.sniffed = Some(super::encoding::Sniffed {
            encoding: encoding_rs::UTF_8,
            bom: true,
            guessed: false,
        });
        if opts.known_duplicates.is_none() {
            reader.names = Some(NameTracker::with_expected(rows));
        }
        Ok(reader)
    }
}

/// A cell as Excel shows it; `Err` with what an error cell shows.
fn text(cell: &Data) -> Result<String, String> {
    Ok(match cell {
        Data::Empty => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => whole_or_shortest(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => whole_or_shortest(dt.as_f64()),
        },
        Data::Error(e) => return Err(e.to_string()),
    })
}

/// A number as the API wants it: a whole number as an integer (a double holds every integer up
/// to 2^53 exactly, beyond Excel's 15 significant digits), anything else in its shortest form.
fn whole_or_shortest(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_excel_shows_them() {
        assert_eq!(whole_or_shortest(918_069_000_000.0), "918069000000");
        assert_eq!(whole_or_shortest(40.0), "40");
        assert_eq!(whole_or_shortest(2.5), "2.5");
        assert_eq!(text(&Data::Bool(true)).unwrap(), "TRUE");
        assert_eq!(
            text(&Data::Error(calamine::CellErrorType::NA)).unwrap_err(),
            "#N/A"
        );
    }

    #[test]
    fn workbooks_are_told_by_their_first_bytes() {
        assert!(is_workbook(b"PK\x03\x04rest"));
        assert!(is_workbook(&[
            0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1
        ]));
        assert!(!is_workbook(b"name,description"));
    }
}

#[cfg(test)]
mod size_tests {
    use std::io::Write;

    /// A zip holding one part `name` of `mb` megabytes of one letter, packed by `method`.
    fn zip_of(
        name: &str,
        mb: u64,
        method: zip::CompressionMethod,
    ) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("book.xlsx");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(false);
        zip.start_file(name, options).unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..mb {
            zip.write_all(&chunk).unwrap();
        }
        zip.finish().unwrap();
        (dir, path)
    }

    /// A part that unpacks a hundredfold past 64 MB (one enormous cell, a zip bomb) is refused
    /// before calamine reads it, whichever part it is.
    #[test]
    fn a_workbook_part_that_unpacks_a_hundredfold_is_refused() {
        for part in ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"] {
            let (_dir, path) = zip_of(part, 101, zip::CompressionMethod::Deflated);
            let file = std::fs::File::open(&path).unwrap();
            let e = super::check_sizes(&file, &path).unwrap_err().to_string();
            assert!(
                e.contains(&format!("its part {part} unpacks to 101 MB")),
                "{e}"
            );
            assert!(
                std::fs::metadata(&path).unwrap().len() < 2 << 20,
                "a small file"
            );
        }
    }

    /// A table of shared texts past 100 MB is refused even when it packs like a real one.
    #[test]
    fn a_table_of_texts_past_the_cap_is_refused() {
        let (_dir, path) = zip_of("xl/sharedStrings.xml", 101, zip::CompressionMethod::Stored);
        let file = std::fs::File::open(&path).unwrap();
        let e = super::check_sizes(&file, &path).unwrap_err().to_string();
        assert!(
            e.contains("its table of texts is 101 MB once unpacked"),
            "{e}"
        );
        let (_dir, path) = zip_of("xl/sharedStrings.xml", 2, zip::CompressionMethod::Deflated);
        let file = std::fs::File::open(&path).unwrap();
        assert!(
            super::check_sizes(&file, &path).is_ok(),
            "a small table passes"
        );
    }
}
