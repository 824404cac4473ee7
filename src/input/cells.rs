//! Cells no spreadsheet can hold: longer than a cell's limit, or with control characters.

use csv::ByteRecord;

/// The most characters a spreadsheet cell holds (Excel's limit).
pub(super) const MAX_CELL_CHARS: usize = 32_767;

/// Cells no spreadsheet can hold: over [`MAX_CELL_CHARS`], or with control characters other
/// than tab and line breaks (a NUL, say). Their messages are added to `messages`; the columns
/// are returned (their cells are not judged further).
pub(super) fn spreadsheet_limits(
    record: &ByteRecord,
    headers: &[String],
    messages: &mut Vec<String>,
) -> Vec<usize> {
    let control = |b: &u8| (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || *b == 0x7f;
    let long = |c: &[u8]| {
        c.len() > MAX_CELL_CHARS && String::from_utf8_lossy(c).chars().count() > MAX_CELL_CHARS
    };
    // Most rows have neither: one pass over the row's bytes says so (a fold over short chunks,
    // which the compiler turns into vector compares, rather than a byte-at-a-time search).
    let bytes = record.as_slice();
    let suspicious = bytes.len() > MAX_CELL_CHARS
        || bytes.chunks(64).any(|c| {
            c.iter()
                .fold(false, |any, &b| any | (b < 0x20) | (b == 0x7f))
        });
    if !suspicious {
        return Vec::new();
    }
    let mut refused = Vec::new();
    for (col, c) in record.iter().enumerate() {
        let column = headers.get(col).map_or("(unnamed)", String::as_str);
        let why = if long(c) {
            format!(
                "column {column:?}: a cell of {} characters; accepted: at most {MAX_CELL_CHARS} (a spreadsheet cell's limit)",
                String::from_utf8_lossy(c).chars().count()
            )
        } else if let Some(&b) = c.iter().find(|b| control(b)) {
            format!(
                "column {column:?}: a control character (byte {b:#04x}) in the cell; accepted: text with no control characters but tab and line breaks"
            )
        } else {
            continue;
        };
        messages.push(why);
        refused.push(col);
    }
    refused
}
