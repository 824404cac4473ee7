//! The input side: a spreadsheet's CSV export streamed row by row into typed broadcast requests,
//! each with a verdict.
//!
//! [`RowReader`] owns the file, maps its header onto the API fields once, and then reuses one
//! `ByteRecord` for every row, so memory stays flat however long the file is. The only thing it
//! keeps per row is a 64-bit fingerprint of the name and its line (to catch a name used twice):
//! 12 bytes a row in `names.rs`, about 14 MB for a million rows. A second pass over a file
//! (`submit` sends in one after checking in another) is handed the first pass's duplicates
//! instead, and keeps nothing per row.

mod cells;
mod dates;
pub mod encoding;
mod error;
pub mod fields;
mod header;
mod judge;
mod names;
mod propose;
pub mod rules;
mod watch;
pub mod workbook;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

pub use dates::DateFormats;
pub use error::InputError;
pub use fields::Field;
/// A 64-bit fingerprint of a name's [`name_key`]: names a server may keep as one have one.
pub use names::key_fingerprint;
pub use names::{kept_keys, match_fingerprints, name_key, NameTracker, CUTS};
pub use rules::Problem;
pub use watch::Watched;

use crate::csvio;
use crate::request::BroadcastRequest;
pub use header::{aliases, Alias};
use header::{check_required, header_names, map_columns};

/// How to read an input file; built once from the command line by `config`.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// The delimiter, or `None` to detect it from the header line.
    pub delimiter: Option<u8>,
    pub dates: DateFormats,
    /// `--set FIELD=VALUE`: a value for rows whose cell is empty or whose column is absent.
    pub defaults: Vec<(Field, String)>,
    /// `--map HEADER=FIELD`: a column header in the team's own words, and the field it holds.
    pub aliases: Vec<Alias>,
    /// `--encoding NAME`: read the file in this encoding, whatever it looks like.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// `--sheet NAME|N`: the workbook sheet to read (the first by default).
    pub sheet: Option<String>,
    /// An earlier pass over the same file already checked its names: the line of each row
    /// whose name repeats an earlier row's, with that row's line ([`Row::duplicate_of`]). The
    /// names are then not tracked again.
    pub known_duplicates: Option<Arc<HashMap<u64, u64>>>,
    /// Open a sheet that lacks required columns too (to write a map file for it).
    pub lenient: bool,
}

/// One data row of the input and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 0-based position among the data rows (blank rows excluded).
    pub seq: u64,
    /// The line on which the record starts; the header is line 1.
    pub line: u64,
    /// The name cell as found (trimmed), even when the row is invalid.
    pub name: String,
    /// The request, boxed: rows travel through channels, and a request is a few hundred bytes.
    pub verdict: Result<Box<BroadcastRequest>, String>,
    /// The line of an earlier row with the same name, when there is one (the row is invalid).
    pub duplicate_of: Option<u64>,
}

impl Row {
    pub fn is_valid(&self) -> bool {
        self.verdict.is_ok()
    }
}

/// Streams an input file into [`Row`]s.
pub struct RowReader {
    path: PathBuf,
    source: Source,
    /// Error cells of the current workbook row: (column, what the cell shows).
    cell_errors: Vec<(usize, String)>,
    delimiter: u8,
    /// For each field, the column that holds it.
    columns: [Option<usize>; 14],
    /// For each field held by a column under another name, that column's header.
    labels: [Option<String>; 14],
    width: usize,
    headers: Vec<String>,
    unknown: Vec<String>,
    defaults: [Option<String>; 14],
    dates: DateFormats,
    record: ByteRecord,
    seq: u64,
    blank_rows: u64,
    /// Every name so far, or `None` when the duplicates are known from an earlier pass.
    names: Option<NameTracker>,
    known_duplicates: Arc<HashMap<u64, u64>>,
    /// The input's size, to estimate its row count from the first rows; `None` when unknown
    /// (standard input) or when no names are tracked (duplicates known from an earlier pass).
    size_for_estimate: Option<u64>,
    /// How the file's bytes were read (none for standard input).
    sniffed: Option<encoding::Sniffed>,
    /// The problems of the row last judged, each with the column at fault where one is.
    problems: Vec<(Option<usize>, String)>,
}

/// Where rows come from: a CSV (any encoding, decoded to UTF-8), or a workbook's sheet.
pub(super) enum Source {
    Csv(csv::Reader<Box<dyn BufRead + Send>>),
    Sheet(workbook::SheetRows),
}

/// After this many rows, the name table is sized for the whole file from their average length.
const ROWS_BEFORE_ESTIMATE: u64 = 1024;

impl RowReader {
    /// Open `path` (`-` for standard input), detect its delimiter and map its header. Fails when
    /// a required column is neither in the file nor given with `--set`.
    pub fn open(path: &Path, opts: &InputOptions) -> Result<Self, InputError> {
        let open = |source| InputError::Open {
            path: path.to_owned(),
            source,
        };
        if path.as_os_str() == "-" {
            // Standard input cannot be read twice: taken as UTF-8 (a byte-order mark is dropped).
            let input = csvio::open_input(path).map_err(open)?;
            return RowReader::from_reader(input, path, opts);
        }
        let mut file = watch::open_file(path)?;
        if workbook::sniff(&mut file).map_err(open)? {
            workbook::check_sizes(&file, path)?;
            return RowReader::from_sheet(
                workbook::open(&file, path, opts.sheet.as_deref())?,
                path,
                opts,
            );
        }
        let sniffed = encoding::sniff(&mut file, opts.encoding).map_err(open)?;
        let input = std::io::BufReader::with_capacity(256 * 1024, encoding::decoded(file, sniffed));
        let mut reader = RowReader::from_reader(Box::new(input), path, opts)?;
        reader.sniffed = Some(sniffed);
        if opts.known_duplicates.is_none() {
            reader.size_for_estimate = std::fs::metadata(path).ok().map(|m| m.len());
        }
        Ok(reader)
    }

    /// Read CSV from `input`; `path` only names it in messages.
    pub fn from_reader(
        mut input: Box<dyn BufRead + Send>,
        path: &Path,
        opts: &InputOptions,
    ) -> Result<Self, InputError> {
        let open_err = |source| InputError::Open {
            path: path.to_owned(),
            source,
        };
        let delimiter = match opts.delimiter {
            Some(d) => d,
            None => csvio::detect_delimiter(&mut input).map_err(open_err)?,
        };
        let mut csv = csvio::reader(input, delimiter);
        let header = csv
            .byte_headers()
            .map_err(|source| InputError::Read {
                path: path.to_owned(),
                line: 1,
                source,
            })?
            .clone();
        RowReader::build(Source::Csv(csv), &header, delimiter, path, opts)
    }

    pub(super) fn build(
        source: Source,
        header: &ByteRecord,
        delimiter: u8,
        path: &Path,
        opts: &InputOptions,
    ) -> Result<Self, InputError> {
        if header.is_empty() || header.iter().all(|h| h.is_empty()) {
            return Err(InputError::Empty {
                path: path.to_owned(),
            });
        }
        let headers = header_names(header);
        let (columns, unknown) = map_columns(&headers, &opts.aliases, path)?;
        let mut defaults: [Option<String>; 14] = Default::default();
        for (f, v) in &opts.defaults {
            defaults[f.index()] = Some(v.trim().to_owned());
        }
        if !opts.lenient {
            check_required(&columns, &defaults, &headers, path)?;
        }
        let labels = header::labels(&columns, &headers);

        Ok(RowReader {
            path: path.to_owned(),
            source,
            cell_errors: Vec::new(),
            delimiter,
            columns,
            labels,
            width: headers.len(),
            headers,
            unknown,
            defaults,
            dates: opts.dates.clone(),
            record: ByteRecord::new(),
            seq: 0,
            blank_rows: 0,
            names: opts.known_duplicates.is_none().then(NameTracker::default),
            known_duplicates: opts.known_duplicates.clone().unwrap_or_default(),
            size_for_estimate: None,
            sniffed: None,
            problems: Vec::new(),
        })
    }

    /// A map file for this sheet ([`header::map_file`]).
    pub fn map_file(&self) -> String {
        header::map_file(&self.columns, &self.defaults, &self.headers)
    }

    /// Header cells that match no field; they are read past and otherwise ignored.
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown
    }

    /// The header as found (BOM and surrounding space removed).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The delimiter in use (given or detected).
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The names read so far (none when the duplicates came from an earlier pass).
    pub fn take_names(&mut self) -> Option<NameTracker> {
        self.names.take()
    }

    /// For each field ([`Field::index`]), the column that holds it.
    pub fn field_columns(&self) -> &[Option<usize>; 14] {
        &self.columns
    }

    /// For each field no column holds and no `--set` gives, the column that most likely holds
    /// it (as the missing-columns error and the map file propose).
    pub fn proposed_columns(&self) -> [Option<usize>; 14] {
        let missing = header::missing(&self.columns, &self.defaults);
        let taken: Vec<usize> = self.columns.iter().flatten().copied().collect();
        let mut out = [None; 14];
        for (f, col) in missing
            .iter()
            .zip(propose::propose(&missing, &self.headers, &taken))
        {
            out[f.index()] = col;
        }
        out
    }

    /// The problems of the row last returned by [`RowReader::next_row`], in the order its
    /// message gives them, each with the column at fault where there is one; empty for a
    /// valid row.
    pub fn problems(&self) -> &[(Option<usize>, String)] {
        &self.problems
    }

    /// A workbook's sheets, and the one read; `None` for a CSV.
    pub fn sheets(&self) -> Option<(&[String], &str)> {
        match &self.source {
            Source::Sheet(s) => Some((&s.sheets, &s.sheet)),
            Source::Csv(_) => None,
        }
    }

    /// The raw cells of the row last returned by [`RowReader::next_row`].
    pub fn record(&self) -> &ByteRecord {
        &self.record
    }

    /// Rows whose every cell was empty; skipped without a verdict.
    pub fn blank_rows(&self) -> u64 {
        self.blank_rows
    }

    /// The next data row with its verdict; `None` at the end of the file. Only an I/O failure is
    /// an error: anything wrong with a row's content is in its verdict.
    pub fn next_row(&mut self) -> Option<Result<Row, InputError>> {
        loop {
            let read = match &mut self.source {
                Source::Csv(csv) => csv.read_byte_record(&mut self.record),
                Source::Sheet(sheet) => {
                    match sheet.next_record(&mut self.record, &mut self.cell_errors) {
                        Ok(more) => Ok(more),
                        Err(message) => {
                            return Some(Err(InputError::Workbook {
                                path: self.path.clone(),
                                message,
                            }))
                        }
                    }
                }
            };
            match read {
                Ok(false) => return None,
                Ok(true) => {}
                Err(source) => {
                    let line = source.position().map_or(0, |p| p.line());
                    return Some(Err(InputError::Read {
                        path: self.path.clone(),
                        line,
                        source,
                    }));
                }
            }
            if self
                .record
                .iter()
                .all(|c| c.iter().all(u8::is_ascii_whitespace))
            {
                self.blank_rows += 1;
                continue;
            }
            let line = self.record.position().map_or(0, |p| p.line());
            let row = self.judge(line);
            self.seq += 1;
            if self.seq == ROWS_BEFORE_ESTIMATE {
                if let (Some(size), Some(pos), Some(names)) = (
                    self.size_for_estimate,
                    self.record.position(),
                    self.names.as_mut(),
                ) {
                    let per_row = (pos.byte() / self.seq).max(1);
                    // A little over the estimate, so that a file of even rows never grows.
                    names.expect(size / per_row * 21 / 20);
                }
            }
            return Some(Ok(row));
        }
    }
}

/// A header squashed as headers are compared: letters and digits, lower-case.
pub fn squash(header: &str) -> String {
    fields::normalize(header)
}

/// `str::trim`, without looking at characters when the cell plainly starts and ends with
/// neither white space nor anything beyond ASCII (most cells; 14 of them per row).
fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        [only] if only.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// A 64-bit fingerprint of a string: what is kept per row when a whole file must be remembered.
pub fn name_fingerprint(name: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    name.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_quick_trim_is_str_trim() {
        for s in [
            "",
            "a",
            " ",
            "ab",
            " a",
            "a ",
            "\ta\r",
            "a\u{a0}",
            "\u{a0}a",
            "\u{3000}",
            "ऑफर",
            "Pune ऑफर",
            "ऑ x",
            "'=1",
            "5;10;",
        ] {
            assert_eq!(super::trim(s), s.trim(), "{s:?}");
        }
    }
}
