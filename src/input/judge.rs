//! Judging one row: its cells against the field rules, the spreadsheet's limits and the names
//! before it, into a [`Row`] whose verdict names every problem (and the column at fault).

use super::cells::{spreadsheet_limits, MAX_CELL_CHARS};
use super::{rules, trim, Field, Row, RowReader};
use crate::csvio;

impl RowReader {
    pub(super) fn judge(&mut self, line: u64) -> Row {
        let record = &self.record;
        // One UTF-8 check for the whole row (the cells lie end to end in it); a cell is checked
        // on its own only when the row fails, to say which.
        let text = std::str::from_utf8(record.as_slice()).ok();
        let cell = |col: usize| -> Result<&str, std::str::Utf8Error> {
            match text.zip(record.range(col)).and_then(|(t, r)| t.get(r)) {
                Some(s) => Ok(s),
                None => std::str::from_utf8(&record[col]),
            }
        };
        let name = self.name_cell(record, &cell);
        let mut row = Row {
            seq: self.seq,
            line,
            name,
            verdict: Err(String::new()),
            duplicate_of: None,
        };

        self.problems.clear();
        if record.len() != self.width {
            row.verdict = Err(format!(
                "row has {} cells but the header has {}: a delimiter is missing or extra (or a quote is unbalanced); \
                 the row was not judged further",
                record.len(),
                self.width
            ));
            self.claim(&row.name, line);
            self.problems
                .extend(row.verdict.clone().err().map(|m| (None, m)));
            return row;
        }

        let mut messages = Vec::new();
        let mut not_utf8 = [false; 14];
        let mut cells: rules::Cells<'_> = [""; 14];
        let mut refused = spreadsheet_limits(record, &self.headers, &mut messages);
        // The column of each message, where one is at fault.
        let mut at: Vec<Option<usize>> = vec![None; messages.len()];
        for (col, shown) in &self.cell_errors {
            let column = self.headers.get(*col).map_or("(unnamed)", String::as_str);
            messages.push(format!(
                "column {column:?}: the cell shows the error {shown}; accepted: a value (fix the formula or type the value)"
            ));
            refused.push(*col);
            at.push(Some(*col));
        }
        for f in Field::ALL {
            let from_file = match self.columns[f.index()] {
                Some(col) if refused.contains(&col) => {
                    not_utf8[f.index()] = true;
                    continue;
                }
                Some(col) => match cell(col) {
                    Ok(s) => csvio::unmark_text(trim(s)),
                    Err(_) => {
                        not_utf8[f.index()] = true;
                        messages.push(format!(
                            "{f}: column {:?} is not valid UTF-8 text; accepted: UTF-8 (save the sheet as \"CSV UTF-8\")",
                            self.headers[col]
                        ));
                        at.push(Some(col));
                        continue;
                    }
                },
                None => "",
            };
            cells[f.index()] = match (&self.defaults[f.index()], from_file) {
                (Some(default), "") => default.as_str(),
                (_, cell) => cell,
            };
        }
        let verdict = rules::parse_request(&cells, &self.dates).map_err(|problems| {
            // A cell that was not UTF-8 was judged as empty; its message above says why.
            let real = problems.iter().filter(|p| !not_utf8[p.field.index()]);
            for p in real {
                messages.push(match &self.labels[p.field.index()] {
                    Some(header) => p.with_header(header),
                    None => p.to_string(),
                });
                at.push(self.columns[p.field.index()]);
            }
        });
        row.duplicate_of = self.claim(&row.name, line);
        if let Some(first) = row.duplicate_of {
            messages.push(format!(
                "name: {:?} is already used on line {first} (names are compared as Smartflo may keep them: case, spacing and accents' Unicode form aside); accepted: a name unique within the file",
                row.name
            ));
            at.push(self.columns[Field::Name.index()]);
        }
        row.verdict = match verdict {
            Ok(req) if messages.is_empty() => Ok(req),
            _ => Err(messages.join("; ")),
        };
        self.problems = at.into_iter().zip(messages).collect();
        row
    }

    /// The name cell as found (trimmed), at most a cell's worth of it: a name too long for a
    /// cell is refused by the rules. `cell` reads a cell out of the row's one UTF-8 check.
    fn name_cell<'r>(
        &self,
        record: &'r csv::ByteRecord,
        cell: &impl Fn(usize) -> Result<&'r str, std::str::Utf8Error>,
    ) -> String {
        let name = match self.columns[Field::Name.index()].filter(|&i| i < record.len()) {
            Some(i) => match cell(i) {
                Ok(s) => csvio::unmark_text(trim(s)).to_owned(),
                Err(_) => csvio::unmark_text(String::from_utf8_lossy(&record[i]).trim()).to_owned(),
            },
            None => String::new(),
        };
        match name.char_indices().nth(MAX_CELL_CHARS) {
            Some((cut, _)) => name[..cut].to_owned(),
            None => name,
        }
    }

    /// Claim `name` for `line`; the line of an earlier row that has it, if any.
    fn claim(&mut self, name: &str, line: u64) -> Option<u64> {
        match &mut self.names {
            Some(names) => names.claim(name, line),
            None => self.known_duplicates.get(&line).copied(),
        }
    }
}
