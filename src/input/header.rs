//! The header line: its cells as found, which column holds which field, and whether every
//! field comes from a column or from `--set`.

use std::path::Path;

use csv::ByteRecord;

use super::{Field, InputError};

/// The header cells as found: the BOM and surrounding space removed.
pub(super) fn header_names(header: &ByteRecord) -> Vec<String> {
    header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = String::from_utf8_lossy(h);
            let h = if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                &h
            };
            h.trim().to_owned()
        })
        .collect()
}

/// For each field, the column that holds it; and the columns that match no field.
pub(super) fn map_columns(
    headers: &[String],
    path: &Path,
) -> Result<([Option<usize>; 14], Vec<String>), InputError> {
    let mut columns: [Option<usize>; 14] = [None; 14];
    let mut unknown = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        match Field::from_header(h) {
            Some(f) => {
                if let Some(first) = columns[f.index()] {
                    return Err(InputError::DuplicateColumn {
                        path: path.to_owned(),
                        field: f,
                        first: headers[first].clone(),
                        second: h.clone(),
                    });
                }
                columns[f.index()] = Some(i);
            }
            None => unknown.push(if h.is_empty() {
                format!("(unnamed column {})", i + 1)
            } else {
                h.clone()
            }),
        }
    }
    Ok((columns, unknown))
}

/// Every field must come from a column or from `--set`.
pub(super) fn check_required(
    columns: &[Option<usize>; 14],
    defaults: &[Option<String>; 14],
    headers: &[String],
    path: &Path,
) -> Result<(), InputError> {
    let missing: Vec<&str> = Field::ALL
        .iter()
        .filter(|f| columns[f.index()].is_none() && defaults[f.index()].is_none())
        .map(|f| f.api_name())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(InputError::MissingColumns {
        path: path.to_owned(),
        missing: missing.join(", "),
        found: headers
            .iter()
            .map(|h| format!("{h:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    })
}
