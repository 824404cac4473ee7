//! The date layouts a date cell may be written in: the three standard forms, read by a fast
//! path, and the user's own layouts from `--date-format` (repeatable, tried in order after the
//! standard forms), each checked once at startup.

use std::fmt::Write as _;

use chrono::format::{Item, StrftimeItems};
use chrono::NaiveDateTime;

/// The date layouts accepted in date cells.
#[derive(Debug, Clone)]
pub struct DateFormats {
    /// User-given chrono/strftime layouts, tried in order after the standard ones.
    custom: Vec<String>,
    accepted: String,
}

const STANDARD_DATE_TEXT: &str = "yyyy-mm-dd hh:mm:ss, yyyy-mm-dd hh:mm or yyyy-mm-ddThh:mm:ss";

impl Default for DateFormats {
    /// The standard forms only.
    fn default() -> Self {
        DateFormats::with_layouts(&[]).expect("no layouts to check")
    }
}

impl DateFormats {
    /// Accept `custom` (a strftime layout such as `%d/%m/%Y %H:%M`) besides the standard forms.
    pub fn with_custom(custom: Option<&str>) -> Result<Self, String> {
        let layouts: Vec<String> = custom.into_iter().map(str::to_owned).collect();
        DateFormats::with_layouts(&layouts)
    }

    /// Accept each of `layouts` besides the standard forms, in order. A layout must name a whole
    /// date and time: it is checked by writing a sample date with it and reading it back.
    pub fn with_layouts(layouts: &[String]) -> Result<Self, String> {
        if layouts.is_empty() {
            return Ok(DateFormats {
                custom: Vec::new(),
                accepted: format!("{STANDARD_DATE_TEXT} (or give --date-format)"),
            });
        }
        for layout in layouts {
            check_layout(layout)?;
        }
        Ok(DateFormats {
            custom: layouts.to_vec(),
            accepted: format!(
                "{} (from --date-format) or {STANDARD_DATE_TEXT}",
                layouts.join(" or ")
            ),
        })
    }

    /// What a date cell may hold, for messages.
    pub fn accepted(&self) -> &str {
        &self.accepted
    }

    /// A date cell's value, in a standard layout or one of the user's.
    pub fn parse(&self, s: &str) -> Option<NaiveDateTime> {
        if let Some(dt) = standard_forms(s) {
            return Some(dt);
        }
        self.custom
            .iter()
            .find_map(|layout| NaiveDateTime::parse_from_str(s, layout).ok())
    }
}

/// The standard forms: the fast path takes the usual shapes; chrono's parser takes the looser
/// ones it also accepts for these layouts (a one-digit hour, say).
fn standard_forms(s: &str) -> Option<NaiveDateTime> {
    standard_date(s).or_else(|| {
        ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
            .into_iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    })
}

/// A user's layout must be valid strftime and name a whole date and time.
fn check_layout(layout: &str) -> Result<(), String> {
    if StrftimeItems::new(layout).any(|i| matches!(i, Item::Error)) {
        return Err(format!(
            "--date-format {layout:?} is not a valid layout; use strftime codes such as %d/%m/%Y %H:%M"
        ));
    }
    let sample = chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 58, 0))
        .expect("a fixed valid date");
    let mut written = String::new();
    let round_trips = write!(written, "{}", sample.format(layout)).is_ok()
        && NaiveDateTime::parse_from_str(&written, layout) == Ok(sample);
    if !round_trips {
        return Err(format!(
            "--date-format {layout:?} does not name a whole date and time (year, month, day, hour and minute), e.g. %d/%m/%Y %H:%M"
        ));
    }
    Ok(())
}

/// The standard forms (`yyyy-mm-dd hh:mm[:ss]`, `yyyy-mm-ddThh:mm:ss`) read straight from the
/// bytes — chrono's general parser re-reads its format string for every cell, and dates are
/// two of every row's fourteen cells. chrono still decides what is a real date and time.
fn standard_date(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    let num = |at: usize, len: usize| -> Option<u32> {
        let digits = b.get(at..at + len)?;
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    let seconds = match b.len() {
        16 if b[10] == b' ' => 0,
        19 if (b[10] == b' ' || b[10] == b'T') && sep(16, b':') => num(17, 2)?,
        _ => return None,
    };
    if !(sep(4, b'-') && sep(7, b'-') && sep(13, b':')) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    date.and_hms_opt(num(11, 2)?, num(14, 2)?, seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_date_path_agrees_with_chrono() {
        let dates = DateFormats::with_custom(None).unwrap();
        for s in [
            "2026-12-02 09:00:00",
            "2026-12-02 09:00",
            "2026-12-02T23:59:59",
            "2024-02-29 00:00",
            "2026-12-02 9:00",
            "2025-02-29 10:00",
            "2026-12-02 24:00",
            "2026-12-02 10:60",
            "2026-12-02x10:00:00",
            "2026-12-02T10:00",
            "2026/12/02 10:00",
            "2026-12-02 10:00:0",
            "२०२६-१२-०२ ०९:००",
        ] {
            let slow = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
                .into_iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok());
            assert_eq!(dates.parse(s), slow, "{s}");
        }
    }

    #[test]
    fn a_custom_date_format_must_be_valid_and_whole() {
        assert!(DateFormats::with_custom(Some("%Q"))
            .unwrap_err()
            .contains("not a valid layout"));
        assert!(DateFormats::with_custom(Some("%d/%m/%Y"))
            .unwrap_err()
            .contains("whole date and time"));
        assert!(DateFormats::with_custom(Some("%d/%m/%Y %H:%M:%S")).is_ok());
    }
}
