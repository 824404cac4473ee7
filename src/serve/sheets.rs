//! A sheet on the page: uploaded into a folder of its own, checked by the same reader as
//! `bulkcast validate`, its columns mapped and its cells fixed.
//!
//! A fixed cell never changes a file the person gave: each fix writes a fixed copy of the
//! sheet beside the upload (`NAME (fixed 1).csv`, every cell text for a workbook, as the failed
//! rows are), and the copy is what is checked and sent from then on.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::input::{Field, InputError, InputOptions, RowReader};

/// Rows with problems shown at most (the counts cover every row).
const SHOWN_PROBLEMS: usize = 500;
/// Rows shown from the top of the sheet, problems or not.
const SHOWN_FIRST: u64 = 50;

/// One uploaded sheet.
#[derive(Clone)]
pub struct Sheet {
    pub dir: PathBuf,
    /// The file's name, as the person's computer gave it.
    pub file: String,
    /// What is checked and sent: the upload, or its latest fixed copy.
    pub current: PathBuf,
    pub fixes: u32,
    /// The workbook sheet chosen (`None`: the first).
    pub sheet: Option<String>,
    /// The columns mapped on the page: header → field.
    pub map: Vec<(String, Field)>,
}

impl Sheet {
    /// The `--map` values of the page's mapping.
    pub fn map_args(&self) -> Vec<String> {
        self.map.iter().map(|(h, f)| format!("{h}={f}")).collect()
    }

    /// The flags that read the sheet as the page does.
    pub fn flags(&self) -> Vec<String> {
        let mut flags: Vec<String> = self
            .map_args()
            .iter()
            .map(|m| format!("--map={m}"))
            .collect();
        flags.extend(self.sheet.iter().map(|s| format!("--sheet={s}")));
        flags
    }

    fn options(&self, lenient: bool) -> Result<InputOptions> {
        Ok(InputOptions {
            aliases: crate::input::aliases(&self.map_args(), None, None)?,
            sheet: self.sheet.clone(),
            lenient,
            ..InputOptions::default()
        })
    }

    fn open(&self) -> Result<(RowReader, Option<String>)> {
        match RowReader::open(&self.current, &self.options(false)?) {
            Ok(rows) => Ok((rows, None)),
            Err(e @ InputError::MissingColumns { .. }) => {
                let rows = RowReader::open(&self.current, &self.options(true)?)?;
                Ok((rows, Some(e.to_string())))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// What the page shows of a sheet.
#[derive(Serialize)]
pub struct View {
    pub id: String,
    pub file: String,
    /// A workbook's sheets, and the one read.
    pub sheets: Vec<String>,
    pub sheet: Option<String>,
    pub fixes: u32,
    pub headers: Vec<String>,
    pub fields: Vec<FieldView>,
    /// What keeps the sheet from being read as it is (columns missing).
    pub problem: Option<String>,
    pub notes: Vec<String>,
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    pub blank: u64,
    pub shown: Vec<RowView>,
}

#[derive(Serialize)]
pub struct FieldView {
    pub field: &'static str,
    /// The column that holds it, by header.
    pub column: Option<String>,
    /// The column that most likely holds it, when none does.
    pub proposed: Option<String>,
}

#[derive(Serialize)]
pub struct RowView {
    pub line: u64,
    pub ok: bool,
    pub cells: Vec<String>,
    pub problems: Vec<ProblemView>,
}

#[derive(Serialize)]
pub struct ProblemView {
    /// The column at fault, by position among the headers.
    pub column: Option<usize>,
    pub message: String,
}

/// Check every row of `sheet`.
pub fn view(id: &str, sheet: &Sheet) -> Result<View> {
    let (mut rows, problem) = sheet.open()?;
    let headers = rows.headers().to_vec();
    let columns = *rows.field_columns();
    let proposed = rows.proposed_columns();
    let name = |c: Option<usize>| c.and_then(|c| headers.get(c).cloned());
    let fields = Field::ALL
        .iter()
        .map(|f| FieldView {
            field: f.api_name(),
            column: name(columns[f.index()]),
            proposed: name(proposed[f.index()]),
        })
        .collect();
    let (sheets, chosen) = match rows.sheets() {
        Some((all, chosen)) => (all.to_vec(), Some(chosen.to_owned())),
        None => (Vec::new(), None),
    };
    let mut notes: Vec<String> = rows.encoding_note().into_iter().collect();
    if !rows.unknown_columns().is_empty() {
        notes.push(format!(
            "not sent (no field): {}",
            rows.unknown_columns().join(", ")
        ));
    }
    let (mut valid, mut invalid, mut shown, mut problems_shown) = (0, 0, Vec::new(), 0);
    while let Some(row) = rows.next_row() {
        let row = row?;
        let ok = row.is_valid();
        if ok {
            valid += 1;
        } else {
            invalid += 1;
        }
        let show = row.seq < SHOWN_FIRST || (!ok && problems_shown < SHOWN_PROBLEMS);
        if !show {
            continue;
        }
        if !ok {
            problems_shown += 1;
        }
        shown.push(RowView {
            line: row.line,
            ok,
            cells: rows
                .record()
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect(),
            problems: rows
                .problems()
                .iter()
                .map(|(column, message)| ProblemView {
                    column: *column,
                    message: message.clone(),
                })
                .collect(),
        });
    }
    Ok(View {
        id: id.to_owned(),
        file: sheet.file.clone(),
        sheets,
        sheet: chosen,
        fixes: sheet.fixes,
        headers,
        fields,
        problem,
        notes,
        rows: valid + invalid,
        valid,
        invalid,
        blank: rows.blank_rows(),
        shown,
    })
}

/// Whether the file at `path` is a workbook (by its first bytes, as the reader decides).
pub fn is_workbook_file(path: &Path) -> bool {
    std::fs::File::open(path)
        .and_then(|mut f| crate::input::workbook::sniff(&mut f))
        .unwrap_or(false)
}

/// A file name from a person's computer, safe as one name in a folder of ours.
pub fn safe_name(given: &str) -> String {
    let base = given.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || " ._()-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_owned();
    if clean.is_empty() {
        "sheet.csv".into()
    } else {
        clean
    }
}

/// Take the column headed `header` (`None`: no column) for `field`, and check again.
pub fn map_column(sheet: &mut Sheet, field: Field, header: Option<String>) -> Result<()> {
    sheet
        .map
        .retain(|(h, f)| *f != field && Some(h) != header.as_ref());
    if let Some(h) = header {
        if Field::from_header(&h) != Some(field) {
            sheet.map.push((h, field));
        }
    }
    Ok(())
}

/// Apply what this machine remembers of the page's earlier mappings to a new sheet: a header
/// once mapped to a field is mapped again, unless another column is named for that field.
pub fn remembered(sheet: &mut Sheet, remembered: &[(String, String)]) -> Result<()> {
    let (rows, _) = sheet.open()?;
    let headers = rows.headers().to_vec();
    let named: Vec<Field> = headers
        .iter()
        .filter_map(|h| Field::from_header(h))
        .collect();
    for h in &headers {
        let squashed = crate::input::squash(h);
        let Some((_, f)) = remembered.iter().find(|(k, _)| *k == squashed) else {
            continue;
        };
        let Some(field) = Field::from_header(f) else {
            continue;
        };
        let taken = sheet.map.iter().any(|(_, g)| *g == field);
        if Field::from_header(h).is_none() && !named.contains(&field) && !taken {
            sheet.map.push((h.clone(), field));
        }
    }
    Ok(())
}

/// Fix the cell of `column` on `line` to `value`: a fixed copy of the sheet becomes current.
pub fn fix_cell(sheet: &mut Sheet, line: u64, column: usize, value: &str) -> Result<()> {
    let (mut rows, _) = sheet.open()?;
    if column >= rows.headers().len() {
        bail!("the sheet has no column {}", column + 1);
    }
    let workbook = rows.sheets().map(|(_, chosen)| chosen.to_owned());
    let ext = if workbook.is_some() { "xlsx" } else { "csv" };
    let stem = Path::new(&sheet.file)
        .file_stem()
        .map_or("sheet".into(), |s| s.to_string_lossy().into_owned());
    let fixes = sheet.fixes + 1;
    let path = sheet.dir.join(format!("{stem} (fixed {fixes}).{ext}"));
    let mut out =
        crate::output::failed::Out::create(&path, &rows, workbook.as_deref().unwrap_or("Sheet1"))?;
    out.row(rows.headers().iter().map(|h| h.as_bytes()))?;
    let mut found = false;
    while let Some(row) = rows.next_row() {
        let row = row?;
        if row.line == line {
            found = true;
            let cells: Vec<&[u8]> = rows
                .record()
                .iter()
                .enumerate()
                .map(|(i, c)| if i == column { value.as_bytes() } else { c })
                .collect();
            out.row(cells.into_iter())?;
        } else {
            out.row(rows.record().iter())?;
        }
    }
    if !found {
        let _ = std::fs::remove_file(&path);
        bail!("the sheet has no row on line {line} (it may have changed: reload the page)");
    }
    out.finish(&path)
        .with_context(|| format!("cannot write the fixed copy {}", path.display()))?;
    sheet.current = path;
    sheet.fixes = fixes;
    if workbook.is_some() {
        sheet.sheet = workbook;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn names_from_a_computer_stay_one_name_in_our_folder() {
        assert_eq!(safe_name("campaigns.xlsx"), "campaigns.xlsx");
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\Users\\a\\Plan (May).csv"), "Plan (May).csv");
        assert_eq!(safe_name(".."), "sheet.csv");
        assert_eq!(safe_name("a\0b;c.csv"), "a_b_c.csv");
        assert_eq!(safe_name(""), "sheet.csv");
    }
}
