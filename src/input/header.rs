//! The header line: its cells as found, which column holds which field, and whether every
//! field comes from a column or from `--set`.

use std::path::Path;

use anyhow::Context;

use csv::ByteRecord;

use super::fields::normalize;
use super::propose::propose;
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

/// A `--map HEADER=FIELD` (or a map file's line): the header squashed as headers are
/// compared, the field, and, for a `--map` typed on the command line, the header as typed (a
/// sheet must have it; a team's map file may name headers of other sheets too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub squashed: String,
    pub field: Field,
    pub required: Option<String>,
}

/// For each field, the column that holds it (by `--map` first, then by name); and the columns
/// that match no field.
pub(super) fn map_columns(
    headers: &[String],
    aliases: &[Alias],
    path: &Path,
) -> Result<([Option<usize>; 14], Vec<String>), InputError> {
    for a in aliases {
        if let Some(typed) = &a.required {
            if !headers.iter().any(|h| normalize(h) == a.squashed) {
                return Err(InputError::NoSuchHeader {
                    path: path.to_owned(),
                    header: typed.clone(),
                    field: a.field,
                    found: listed(headers),
                });
            }
        }
    }
    let mut columns: [Option<usize>; 14] = [None; 14];
    let mut unknown = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let alias = aliases
            .iter()
            .find(|a| !a.squashed.is_empty() && a.squashed == normalize(h))
            .map(|a| a.field);
        match alias.or_else(|| Field::from_header(h)) {
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

/// For each field held by a column under another name, that column's header (named beside the
/// field in row messages).
pub(super) fn labels(columns: &[Option<usize>; 14], headers: &[String]) -> [Option<String>; 14] {
    Field::ALL.map(|f| {
        let col = columns[f.index()]?;
        (Field::from_header(&headers[col]) != Some(f)).then(|| headers[col].clone())
    })
}

/// At most this many headers are named in a message.
const SHOWN: usize = 20;

/// Headers for a message: quoted, at most [`SHOWN`], with how many more there are.
pub(super) fn listed(headers: &[String]) -> String {
    let mut out: Vec<String> = headers
        .iter()
        .take(SHOWN)
        .map(|h| format!("{h:?}"))
        .collect();
    if headers.len() > SHOWN {
        out.push(format!("and {} more", headers.len() - SHOWN));
    }
    out.join(", ")
}

/// The fields that come from neither a column nor `--set`.
pub(super) fn missing(
    columns: &[Option<usize>; 14],
    defaults: &[Option<String>; 14],
) -> Vec<Field> {
    Field::ALL
        .into_iter()
        .filter(|f| columns[f.index()].is_none() && defaults[f.index()].is_none())
        .collect()
}

/// Every field must come from a column or from `--set`; the error proposes, for each field
/// that does not, the column most likely to hold it.
pub(super) fn check_required(
    columns: &[Option<usize>; 14],
    defaults: &[Option<String>; 14],
    headers: &[String],
    path: &Path,
) -> Result<(), InputError> {
    let missing = missing(columns, defaults);
    if missing.is_empty() {
        return Ok(());
    }
    let taken: Vec<usize> = columns.iter().flatten().copied().collect();
    let proposed = propose(&missing, headers, &taken);
    let lines: Vec<String> = missing
        .iter()
        .zip(&proposed)
        .map(|(f, col)| match col {
            Some(c) => {
                let h = &headers[*c];
                format!("  {f}: likely the column {h:?} → --map \"{h}={f}\"")
            }
            None => format!("  {f}: no column looks like it → add one, or --set {f}=VALUE"),
        })
        .collect();
    Err(InputError::MissingColumns {
        path: path.to_owned(),
        count: missing.len(),
        lines: lines.join("\n"),
        found: listed(headers),
    })
}

/// A map file for this sheet: a `HEADER=FIELD` line for each field held by a column under
/// another name or proposed for one (to check), and a comment for each field no column holds.
pub(super) fn map_file(
    columns: &[Option<usize>; 14],
    defaults: &[Option<String>; 14],
    headers: &[String],
) -> String {
    let missing = missing(columns, defaults);
    let taken: Vec<usize> = columns.iter().flatten().copied().collect();
    let proposed = propose(&missing, headers, &taken);
    let mut out = String::from(
        "# bulkcast map file: one HEADER=FIELD line per column named in this sheet's own words.\n\
         # Check every line marked \"proposed\", then use it with --map-file.\n",
    );
    for f in Field::ALL {
        if let Some(c) = columns[f.index()] {
            if Field::from_header(&headers[c]) != Some(f) {
                out += &format!("{}={f}\n", headers[c]);
            }
        } else if let Some(i) = missing.iter().position(|m| *m == f) {
            match proposed[i] {
                Some(c) => out += &format!("{}={f}   # proposed: check it\n", headers[c]),
                None => {
                    out += &format!(
                        "# {f}: no column looks like it; add one, or use --set {f}=VALUE\n"
                    )
                }
            }
        }
    }
    out
}

/// `--map HEADER=FIELD` and the lines of `--map-file`. A header given with `--map` must be in
/// the sheet; a map file may name headers of a team's other sheets too.
pub fn aliases(
    map: &[String],
    map_file: Option<&Path>,
    map_lines: Option<&[String]>,
) -> anyhow::Result<Vec<Alias>> {
    let mut lines: Vec<(String, String, bool)> = map
        .iter()
        .map(|m| (format!("--map {m:?}"), m.clone(), true))
        .collect();
    if let Some(path) = map_file {
        let text = match map_lines {
            Some(lines) => lines.join("\n"),
            None => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the map file {}", path.display()))?,
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                lines.push((
                    format!("{} line {}", path.display(), i + 1),
                    line.to_owned(),
                    false,
                ));
            }
        }
    }
    let mut out: Vec<Alias> = Vec::new();
    for (whence, m, typed) in lines {
        let Some((header, name)) = m.rsplit_once('=') else {
            anyhow::bail!(
                "{whence}: expected HEADER=FIELD, e.g. --map \"Caller ID=caller_id_number\""
            );
        };
        let Some(field) = Field::from_header(name) else {
            let fields: Vec<&str> = Field::ALL.iter().map(|f| f.api_name()).collect();
            anyhow::bail!(
                "{whence}: {name:?} is not a field; fields are {}",
                fields.join(", ")
            );
        };
        let squashed = super::squash(header);
        if squashed.is_empty() {
            anyhow::bail!("{whence}: the header is empty");
        }
        if let Some(other) = out.iter().find(|a| a.squashed == squashed) {
            if other.field != field {
                anyhow::bail!("{whence}: {header:?} is already mapped to {}", other.field);
            }
        }
        out.push(Alias {
            squashed,
            field,
            required: typed.then(|| header.trim().to_owned()),
        });
    }
    Ok(out)
}
