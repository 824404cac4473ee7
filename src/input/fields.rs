//! The fourteen fields of Smartflo's Create-a-Broadcast request, and how a spreadsheet's column
//! headers are matched to them.
//!
//! Spreadsheet users write `Number of Retry`, `number_of_retry` or `NUMBEROF RETRY` for the same
//! column, so a header is reduced to its lower-case letters and digits before it is compared with
//! the API field names reduced the same way.

use std::fmt;

/// One field of the request body, named as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Name,
    Description,
    PhoneNumberList,
    Destination,
    Timeout,
    ConcurrentLimit,
    RetryAfterMinutes,
    CallerIdNumber,
    NumberOfRetry,
    StartDateTime,
    EndDateTime,
    TimeGroup,
    Dialstatus,
    RetryDialstatus,
}

impl Field {
    /// Every field, in the order of the API reference (and of `bulkcast template`).
    pub const ALL: [Field; 14] = [
        Field::Name,
        Field::Description,
        Field::PhoneNumberList,
        Field::Destination,
        Field::Timeout,
        Field::ConcurrentLimit,
        Field::RetryAfterMinutes,
        Field::CallerIdNumber,
        Field::NumberOfRetry,
        Field::StartDateTime,
        Field::EndDateTime,
        Field::TimeGroup,
        Field::Dialstatus,
        Field::RetryDialstatus,
    ];

    /// The field's name in the JSON body.
    pub fn api_name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Description => "description",
            Field::PhoneNumberList => "phone_number_list",
            Field::Destination => "destination",
            Field::Timeout => "timeout",
            Field::ConcurrentLimit => "concurrent_limit",
            Field::RetryAfterMinutes => "retry_after_minutes",
            Field::CallerIdNumber => "caller_id_number",
            Field::NumberOfRetry => "number_of_retry",
            Field::StartDateTime => "start_date_time",
            Field::EndDateTime => "end_date_time",
            Field::TimeGroup => "time_group",
            Field::Dialstatus => "dialstatus",
            Field::RetryDialstatus => "retry_dialstatus",
        }
    }

    /// Position in [`Field::ALL`], for per-field arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Match a column header (or a `--set` name) to a field, ignoring case, spaces, underscores
    /// and punctuation. A UTF-8 byte-order mark in front of the header is ignored too.
    pub fn from_header(header: &str) -> Option<Field> {
        let wanted = normalize(header);
        if wanted.is_empty() {
            return None;
        }
        Field::ALL
            .into_iter()
            .find(|f| normalize(f.api_name()) == wanted)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.api_name())
    }
}

/// Lower-case letters and digits of `s`, everything else dropped.
pub(super) fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_ignoring_case_spaces_underscores_and_punctuation() {
        for h in [
            "number_of_retry",
            "Number of Retry",
            "NUMBEROF RETRY",
            "number-of-retry",
            " Number.Of.Retry ",
        ] {
            assert_eq!(Field::from_header(h), Some(Field::NumberOfRetry), "{h}");
        }
        assert_eq!(Field::from_header("\u{feff}name"), Some(Field::Name));
        assert_eq!(Field::from_header("Dial Status"), Some(Field::Dialstatus));
        assert_eq!(
            Field::from_header("Caller ID Number"),
            Some(Field::CallerIdNumber)
        );
    }

    #[test]
    fn unknown_and_empty_headers_match_nothing() {
        assert_eq!(Field::from_header("error"), None);
        assert_eq!(Field::from_header(""), None);
        assert_eq!(Field::from_header("__"), None);
        assert_eq!(Field::from_header("retry"), None);
    }

    #[test]
    fn every_api_name_maps_back_to_its_field() {
        for f in Field::ALL {
            assert_eq!(Field::from_header(f.api_name()), Some(f));
            assert_eq!(Field::ALL[f.index()], f);
        }
    }
}
