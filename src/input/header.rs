//! The header line: its cells as found, which column holds which field, and whether every
//! field comes from a column or from `--set`.

use std::path::Path;

use csv::ByteRecord;

use super::fields::normalize;
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

/// For each field, the column that holds it (by `--map` first, then by name); and the columns
/// that match no field.
pub(super) fn map_columns(
    headers: &[String],
    aliases: &[(String, Field)],
    path: &Path,
) -> Result<([Option<usize>; 14], Vec<String>), InputError> {
    let mut columns: [Option<usize>; 14] = [None; 14];
    let mut unknown = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let alias = aliases
            .iter()
            .find(|(a, _)| !a.is_empty() && *a == normalize(h))
            .map(|(_, f)| *f);
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
    let unmatched: Vec<&String> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| !columns.contains(&Some(*i)))
        .map(|(_, h)| h)
        .collect();
    let hints: Vec<String> = Field::ALL
        .iter()
        .filter(|f| columns[f.index()].is_none() && defaults[f.index()].is_none())
        .filter_map(|f| {
            let h = closest(f.api_name(), &unmatched)?;
            Some(format!(
                " Did you mean {h:?} for {f}? Add --map \"{h}={f}\"."
            ))
        })
        .collect();
    Err(InputError::MissingColumns {
        path: path.to_owned(),
        missing: missing.join(", "),
        found: headers
            .iter()
            .map(|h| format!("{h:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        hints: hints.concat(),
    })
}

/// The header among `candidates` that most looks like `field`, if one looks enough like it:
/// the share of the field's words it has (`Caller ID` has two of `caller_id_number`'s three),
/// with the edit distance of the squashed names to break ties and to catch typos.
fn closest<'a>(field: &str, candidates: &[&'a String]) -> Option<&'a String> {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let field_words = words(field);
    let squashed = normalize(field);
    candidates
        .iter()
        .filter_map(|c| {
            let cw = words(c);
            let shared = field_words.iter().filter(|w| cw.contains(w)).count();
            let share = shared as f64 / field_words.len().max(1) as f64;
            let n = normalize(c);
            let distance =
                levenshtein(&squashed, &n) as f64 / squashed.len().max(n.len()).max(1) as f64;
            (share >= 0.5 || distance <= 0.34).then_some((share, distance, *c))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c)
}

/// The edit distance between two strings, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_field_is_matched_to_the_column_that_looks_like_it() {
        let cols: Vec<String> = ["Campaign Name", "Caller ID", "Notes", "Tiemout"]
            .map(String::from)
            .to_vec();
        let refs: Vec<&String> = cols.iter().collect();
        assert_eq!(closest("caller_id_number", &refs).unwrap(), "Caller ID");
        assert_eq!(closest("name", &refs).unwrap(), "Campaign Name");
        assert_eq!(closest("timeout", &refs).unwrap(), "Tiemout");
        assert_eq!(closest("dialstatus", &refs), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
