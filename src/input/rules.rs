//! The contract's rule for each field: turning one trimmed spreadsheet cell into its wire value,
//! or into a [`Problem`] that says what was found and what is accepted.
//!
//! Every rule runs on every row, so a row's message names all of its failing fields at once and
//! the user fixes the sheet in one pass rather than one error per attempt.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDateTime;

use super::dates::DateFormats;
use super::fields::Field;
use crate::request::{wire_date, BroadcastRequest, Destination, DialStatuses};

/// Why one field of one row was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: Field,
    /// The cell as found (trimmed); `None` when it was empty.
    pub found: Option<String>,
    /// What exactly is wrong, when "found X, accepted Y" alone would not say it.
    pub detail: Option<String>,
    pub accepted: Cow<'static, str>,
}

impl Problem {
    fn new(field: Field, found: &str, accepted: impl Into<Cow<'static, str>>) -> Self {
        Problem {
            field,
            found: (!found.is_empty()).then(|| shorten(found)),
            detail: None,
            accepted: accepted.into(),
        }
    }

    fn because(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl Problem {
    /// The message as a sheet names the field: `Ring Time (timeout): found "30" …` when the
    /// field's column is `header`.
    pub fn with_header(&self, header: &str) -> String {
        let full = self.to_string();
        let rest = full.split_once(": ").map_or(full.as_str(), |(_, r)| r);
        format!("{header} ({}): {rest}", self.field)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.field)?;
        match &self.found {
            None => f.write_str("empty")?,
            Some(v) => write!(f, "found {v:?}")?,
        }
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        write!(f, "; accepted: {}", self.accepted)
    }
}

/// Keep messages one readable line even when a cell holds a novel.
fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// One row's cells, indexed by [`Field::index`]; empty cells and absent columns are `""`.
pub type Cells<'a> = [&'a str; 14];

/// Apply every rule to one row's cells.
pub fn parse_request(
    cells: &Cells<'_>,
    dates: &DateFormats,
) -> Result<Box<BroadcastRequest>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut check = Collect(&mut problems);
    let cell = |f: Field| cells[f.index()];

    let name = check.ok(text(Field::Name, cell(Field::Name)));
    let description = check.ok(text(Field::Description, cell(Field::Description)));
    let phone_number_list = check.ok(positive(
        Field::PhoneNumberList,
        cell(Field::PhoneNumberList),
    ));
    let destination = check.ok(destination(cell(Field::Destination)));
    let timeout = check.ok(at_least(
        Field::Timeout,
        cell(Field::Timeout),
        40,
        "seconds",
    ));
    let concurrent_limit = check.ok(at_least(
        Field::ConcurrentLimit,
        cell(Field::ConcurrentLimit),
        1,
        "channels",
    ));
    let retry_after_minutes = check.ok(minutes_list(cell(Field::RetryAfterMinutes)));
    let caller_id_number = check.ok(caller_id(cell(Field::CallerIdNumber)));
    let number_of_retry = check.ok(retries(cell(Field::NumberOfRetry)));
    let start = check.ok(date(
        Field::StartDateTime,
        cell(Field::StartDateTime),
        dates,
    ));
    let end = check.ok(date(Field::EndDateTime, cell(Field::EndDateTime), dates));
    let time_group = check.ok(positive(Field::TimeGroup, cell(Field::TimeGroup)));
    let dialstatus = check.ok(status_list(Field::Dialstatus, cell(Field::Dialstatus)));
    let retry_dialstatus = check.ok(status_list(
        Field::RetryDialstatus,
        cell(Field::RetryDialstatus),
    ));

    if let (Some(s), Some(e)) = (start, end) {
        check.ok(end_after_start(s, e, cell(Field::EndDateTime)));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Every rule passed, so every value is present.
    let all = "a rule returned neither a value nor a problem";
    Ok(Box::new(BroadcastRequest {
        name: name.expect(all),
        description: description.expect(all),
        phone_number_list: phone_number_list.expect(all),
        destination: destination.expect(all),
        timeout: timeout.expect(all),
        concurrent_limit: concurrent_limit.expect(all),
        retry_after_minutes: retry_after_minutes.expect(all),
        caller_id_number: caller_id_number.expect(all),
        number_of_retry: number_of_retry.expect(all),
        start_date_time: start.expect(all),
        end_date_time: end.expect(all),
        time_group: time_group.expect(all),
        dialstatus: dialstatus.expect(all),
        retry_dialstatus: retry_dialstatus.expect(all),
    }))
}

fn end_after_start(start: NaiveDateTime, end: NaiveDateTime, cell: &str) -> Result<(), Problem> {
    if end > start {
        return Ok(());
    }
    Err(Problem::new(
        Field::EndDateTime,
        cell,
        "a date and time after start_date_time",
    )
    .because(format!("not after start_date_time {}", wire_date(start))))
}

/// Gathers the problems of one row while its rules run.
struct Collect<'a>(&'a mut Vec<Problem>);

impl Collect<'_> {
    fn ok<T>(&mut self, r: Result<T, Problem>) -> Option<T> {
        r.map_err(|p| self.0.push(p)).ok()
    }
}

fn text(field: Field, s: &str) -> Result<String, Problem> {
    if s.is_empty() {
        return Err(Problem::new(field, s, "any non-empty text"));
    }
    Ok(s.to_owned())
}

/// `9.18069E+11`, or `9,18069E+11` as a European Excel writes it: a number a spreadsheet showed
/// in scientific notation because its column was narrow.
fn looks_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['E', 'e']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = mantissa.split_once(['.', ',']).unwrap_or((mantissa, "0"));
    digits(int) && digits(frac) && digits(exponent)
}

/// A whole number written with digits only: no sign, no decimals, no thousands separators.
fn whole(s: &str) -> Result<u64, Option<String>> {
    if s.is_empty() {
        return Err(None);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        let why = if looks_scientific(s) {
            "looks like scientific notation: format the column as Text in the spreadsheet"
        } else if s.contains('.') || s.contains(',') {
            "not a whole number"
        } else {
            "not a number"
        };
        return Err(Some(why.to_owned()));
    }
    s.parse::<u64>().map_err(|_| Some("too large".to_owned()))
}

fn positive(field: Field, s: &str) -> Result<u64, Problem> {
    const ACCEPTED: &str = "a whole number of at least 1 (an id)";
    match whole(s) {
        Ok(0) => Err(Problem::new(field, s, ACCEPTED)),
        Ok(n) => Ok(n),
        Err(detail) => Err(with_detail(Problem::new(field, s, ACCEPTED), detail)),
    }
}

fn at_least(field: Field, s: &str, min: u64, unit: &'static str) -> Result<u64, Problem> {
    let accepted = || format!("a whole number of {unit}, at least {min}");
    match whole(s) {
        Ok(n) if n >= min => Ok(n),
        Ok(_) => Err(Problem::new(field, s, accepted()).because(format!("below {min}"))),
        Err(detail) => Err(with_detail(Problem::new(field, s, accepted()), detail)),
    }
}

fn retries(s: &str) -> Result<u64, Problem> {
    const ACCEPTED: &str = "a whole number from 0 to 5";
    match whole(s) {
        Ok(n) if n <= 5 => Ok(n),
        Ok(_) => Err(Problem::new(Field::NumberOfRetry, s, ACCEPTED)),
        Err(detail) => Err(with_detail(
            Problem::new(Field::NumberOfRetry, s, ACCEPTED),
            detail,
        )),
    }
}

fn with_detail(p: Problem, detail: Option<String>) -> Problem {
    match detail {
        Some(d) => p.because(d),
        None => p,
    }
}

/// `ivr||<id>`, `auto_attend||<id>` or `auto_attendant||<id>` (each sent as written); a single
/// bar is accepted and sent as the double bar.
fn destination(s: &str) -> Result<Destination, Problem> {
    const ACCEPTED: &str =
        "ivr||<id>, auto_attend||<id> or auto_attendant||<id>, id a whole number of at least 1";
    let bad = || Problem::new(Field::Destination, s, ACCEPTED);
    let (kind, id) = s
        .split_once("||")
        .or_else(|| s.split_once('|'))
        .ok_or_else(bad)?;
    let kind = kind.trim();
    let make: fn(u64) -> Destination = if kind.eq_ignore_ascii_case("ivr") {
        Destination::Ivr
    } else if kind.eq_ignore_ascii_case("auto_attend") {
        Destination::AutoAttend
    } else if kind.eq_ignore_ascii_case("auto_attendant") {
        Destination::AutoAttendant
    } else {
        return Err(bad().because(format!(
            "unknown destination type {:?}",
            kind.to_ascii_lowercase()
        )));
    };
    match whole(id.trim()) {
        Ok(n) if n > 0 => Ok(make(n)),
        _ => Err(bad()),
    }
}

/// Digits with an optional leading `+`, 8 to 15 digits; spaces, dashes, dots and brackets dropped.
fn caller_id(s: &str) -> Result<String, Problem> {
    const ACCEPTED: &str = "8 to 15 digits, optionally with a leading +";
    let dropped = |c: char| matches!(c, ' ' | '-' | '.' | '(' | ')' | '[' | ']');
    let mut cleaned = String::with_capacity(s.len());
    s.split(dropped).for_each(|part| cleaned.push_str(part));
    let digits = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    if looks_scientific(s) {
        return Err(Problem::new(Field::CallerIdNumber, s, ACCEPTED).because(
            "looks like scientific notation: format the column as Text in the spreadsheet",
        ));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::new(Field::CallerIdNumber, s, ACCEPTED));
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(Problem::new(Field::CallerIdNumber, s, ACCEPTED)
            .because(format!("{} digits", digits.len())));
    }
    Ok(cleaned)
}

const LIST_FORMS: &str = "written 5;10, 5,10, 5 10 or [5, 10]";

/// Split an array cell written `5;10;15`, `5,10,15`, `5 10 15` or `[5, 10, 15]` into its items.
/// `Err` carries what is wrong with the cell's shape. Nothing is allocated: this runs on three
/// cells of every row.
fn list_items(s: &str) -> Result<impl Iterator<Item = &str>, String> {
    let inner = match (s.strip_prefix('['), s.strip_suffix(']')) {
        (Some(_), Some(_)) if s.len() >= 2 => &s[1..s.len() - 1],
        (None, None) => s,
        _ => return Err("unbalanced brackets".to_owned()),
    };
    // A trailing separator ("5;10;") is a harmless habit; an empty item anywhere else is not.
    let mut parts = inner.split([',', ';']).peekable();
    let mut first = true;
    while let Some(part) = parts.next() {
        if part.trim().is_empty() && (first || parts.peek().is_some()) {
            return Err("empty item".to_owned());
        }
        first = false;
    }
    // The items: what lies between separators and white space, in one pass.
    Ok(inner
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|item| !item.is_empty()))
}

fn minutes_list(s: &str) -> Result<Vec<u32>, Problem> {
    const ACCEPTED: &str = "one or more whole numbers of minutes, each at least 1, written 5;10, 5,10, 5 10 or [5, 10]";
    let field = Field::RetryAfterMinutes;
    if s.is_empty() {
        return Err(Problem::new(field, s, ACCEPTED));
    }
    let items = list_items(s).map_err(|why| Problem::new(field, s, ACCEPTED).because(why))?;
    items
        .map(|item| match whole(item).map(u32::try_from) {
            Ok(Ok(n)) if n >= 1 => Ok(n),
            _ => Err(Problem::new(field, s, ACCEPTED).because(format!("item {item:?}"))),
        })
        .collect()
}

fn status_list(field: Field, s: &str) -> Result<DialStatuses, Problem> {
    let accepted = || {
        Cow::Owned(format!(
            "one or more of the dial statuses 1 to 5, no repeats, {LIST_FORMS}"
        ))
    };
    if s.is_empty() {
        return Err(Problem::new(field, s, accepted()));
    }
    let items = list_items(s).map_err(|why| Problem::new(field, s, accepted()).because(why))?;
    let mut out = DialStatuses::default();
    for item in items {
        let n = match whole(item) {
            Ok(n @ 1..=5) => n as u8,
            _ => return Err(Problem::new(field, s, accepted()).because(format!("item {item:?}"))),
        };
        if !out.insert(n) {
            return Err(Problem::new(field, s, accepted()).because(format!("{n} repeats")));
        }
    }
    Ok(out)
}

fn date(field: Field, s: &str, dates: &DateFormats) -> Result<NaiveDateTime, Problem> {
    dates
        .parse(s)
        .ok_or_else(|| Problem::new(field, s, dates.accepted().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_dates() -> DateFormats {
        DateFormats::with_custom(None).unwrap()
    }

    fn good_cells() -> Cells<'static> {
        [
            "Campaign 1",
            "Details of campaign 1",
            "214864",
            "ivr||7926",
            "40",
            "5",
            "5;10",
            "918069000000",
            "2",
            "2026-12-02 09:00:00",
            "2026-12-02 18:00:00",
            "1234",
            "1;2;3;4;5",
            "1;3",
        ]
    }

    fn with(field: Field, value: &'static str) -> Cells<'static> {
        let mut c = good_cells();
        c[field.index()] = value;
        c
    }

    /// The problems of a row whose only change from a good row is `field = value`.
    fn problems(field: Field, value: &'static str) -> Vec<Problem> {
        parse_request(&with(field, value), &std_dates()).expect_err(value)
    }

    fn accepts(field: Field, value: &'static str) -> Box<BroadcastRequest> {
        parse_request(&with(field, value), &std_dates())
            .unwrap_or_else(|p| panic!("{field}={value:?} rejected: {p:?}"))
    }

    #[test]
    fn a_good_row_gives_the_contract_example() {
        let r = parse_request(&good_cells(), &std_dates()).unwrap();
        assert_eq!(r.phone_number_list, 214864);
        assert_eq!(r.destination, Destination::Ivr(7926));
        assert_eq!(r.retry_after_minutes, vec![5, 10]);
        assert_eq!(r.dialstatus.as_slice(), [1, 2, 3, 4, 5]);
        assert_eq!(r.retry_dialstatus.as_slice(), [1, 3]);
        assert_eq!(wire_date(r.start_date_time), "2026-12-02 09:00:00");
    }

    #[test]
    fn every_empty_field_is_named() {
        let empty: Cells<'static> = [""; 14];
        let p = parse_request(&empty, &std_dates()).unwrap_err();
        let named: Vec<Field> = p.iter().map(|p| p.field).collect();
        assert_eq!(named, Field::ALL.to_vec());
        assert!(p.iter().all(|p| p.found.is_none()));
        assert_eq!(
            p[4].to_string(),
            "timeout: empty; accepted: a whole number of seconds, at least 40"
        );
    }

    #[test]
    fn name_and_description_must_not_be_empty() {
        assert_eq!(problems(Field::Name, "")[0].field, Field::Name);
        assert_eq!(
            problems(Field::Description, "")[0].field,
            Field::Description
        );
        assert_eq!(
            accepts(Field::Name, "Déjà vu — Diwali").name,
            "Déjà vu — Diwali"
        );
    }

    #[test]
    fn ids_are_positive_whole_numbers() {
        for field in [Field::PhoneNumberList, Field::TimeGroup] {
            for bad in ["0", "-3", "12.5", "abc", "1,234"] {
                assert_eq!(problems(field, bad)[0].field, field, "{bad}");
            }
        }
        assert_eq!(accepts(Field::TimeGroup, "0042").time_group, 42);
        let p = &problems(Field::PhoneNumberList, "2.14864E+05")[0];
        assert!(p.to_string().contains("scientific notation"), "{p}");
        let p = &problems(Field::PhoneNumberList, "99999999999999999999999")[0];
        assert!(p.to_string().contains("too large"), "{p}");
    }

    #[test]
    fn a_european_scientific_number_gets_the_same_hint() {
        for v in ["9,18069E+11", "9.18069E+11", "9E11"] {
            let p = &problems(Field::CallerIdNumber, v)[0];
            assert!(p.to_string().contains("scientific notation"), "{v}: {p}");
        }
        let p = &problems(Field::PhoneNumberList, "2,14864E+05")[0];
        assert!(p.to_string().contains("scientific notation"), "{p}");
        assert!(!looks_scientific("12E"));
        assert!(!looks_scientific("+91 80 6900"));
    }

    #[test]
    fn auto_attendant_is_sent_as_written() {
        let r = accepts(Field::Destination, "auto_attendant||55");
        assert_eq!(r.destination.to_string(), "auto_attendant||55");
    }

    #[test]
    fn destination_takes_ivr_or_auto_attend_with_one_or_two_bars() {
        assert_eq!(
            accepts(Field::Destination, "ivr|7926")
                .destination
                .to_string(),
            "ivr||7926"
        );
        assert_eq!(
            accepts(Field::Destination, "IVR || 7926")
                .destination
                .to_string(),
            "ivr||7926"
        );
        assert_eq!(
            accepts(Field::Destination, "auto_attend||12")
                .destination
                .to_string(),
            "auto_attend||12"
        );
        for bad in ["ivr", "7926", "queue||5", "ivr||0", "ivr||x", "ivr|||5", ""] {
            let p = problems(Field::Destination, bad);
            assert_eq!(p[0].field, Field::Destination, "{bad}");
            assert!(p[0]
                .to_string()
                .contains("ivr||<id>, auto_attend||<id> or auto_attendant||<id>"));
        }
    }

    #[test]
    fn timeout_is_at_least_40_seconds() {
        assert_eq!(accepts(Field::Timeout, "40").timeout, 40);
        assert_eq!(accepts(Field::Timeout, "120").timeout, 120);
        let p = &problems(Field::Timeout, "30")[0];
        assert_eq!(
            p.to_string(),
            "timeout: found \"30\" (below 40); accepted: a whole number of seconds, at least 40"
        );
        assert_eq!(problems(Field::Timeout, "40s")[0].field, Field::Timeout);
    }

    #[test]
    fn concurrent_limit_is_at_least_1() {
        assert_eq!(accepts(Field::ConcurrentLimit, "1").concurrent_limit, 1);
        assert_eq!(
            problems(Field::ConcurrentLimit, "0")[0].field,
            Field::ConcurrentLimit
        );
    }

    #[test]
    fn number_of_retry_is_0_to_5() {
        assert_eq!(accepts(Field::NumberOfRetry, "0").number_of_retry, 0);
        assert_eq!(accepts(Field::NumberOfRetry, "5").number_of_retry, 5);
        for bad in ["6", "-1", "two"] {
            assert_eq!(
                problems(Field::NumberOfRetry, bad)[0].field,
                Field::NumberOfRetry
            );
        }
    }

    #[test]
    fn caller_id_drops_punctuation_and_counts_digits() {
        assert_eq!(
            accepts(Field::CallerIdNumber, "+91 80-6900.0000").caller_id_number,
            "+918069000000"
        );
        assert_eq!(
            accepts(Field::CallerIdNumber, "(080) 6900 0000").caller_id_number,
            "08069000000"
        );
        assert_eq!(
            accepts(Field::CallerIdNumber, "12345678").caller_id_number,
            "12345678"
        );
        for bad in [
            "1234567",
            "1234567890123456",
            "91806900000x",
            "++918069000000",
            "+",
        ] {
            assert_eq!(
                problems(Field::CallerIdNumber, bad)[0].field,
                Field::CallerIdNumber,
                "{bad}"
            );
        }
        let p = &problems(Field::CallerIdNumber, "9.18069E+11")[0];
        assert!(p.to_string().contains("scientific notation"), "{p}");
    }

    #[test]
    fn array_cells_take_every_documented_form() {
        for form in [
            "5;10;15",
            "5,10,15",
            "5 10 15",
            "[5, 10, 15]",
            "[5;10;15]",
            "5; 10; 15;",
        ] {
            assert_eq!(
                accepts(Field::RetryAfterMinutes, form).retry_after_minutes,
                vec![5, 10, 15],
                "{form}"
            );
        }
        assert_eq!(
            accepts(Field::RetryAfterMinutes, "7").retry_after_minutes,
            vec![7]
        );
        for bad in ["", "[]", "5,,10", "[5,10", "5;0", "five", "5;-1"] {
            assert_eq!(
                problems(Field::RetryAfterMinutes, bad)[0].field,
                Field::RetryAfterMinutes,
                "{bad}"
            );
        }
    }

    #[test]
    fn dial_statuses_are_1_to_5_without_repeats() {
        assert_eq!(
            accepts(Field::Dialstatus, "[1, 2, 3, 4, 5]")
                .dialstatus
                .as_slice(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            accepts(Field::RetryDialstatus, "3 1")
                .retry_dialstatus
                .as_slice(),
            [3, 1]
        );
        let p = &problems(Field::RetryDialstatus, "1;3;1")[0];
        assert!(p.to_string().contains("1 repeats"), "{p}");
        for bad in ["0", "6", "1;x", ""] {
            assert_eq!(
                problems(Field::Dialstatus, bad)[0].field,
                Field::Dialstatus,
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_take_the_three_standard_forms() {
        assert_eq!(
            wire_date(accepts(Field::StartDateTime, "2026-12-02 09:00").start_date_time),
            "2026-12-02 09:00:00"
        );
        assert_eq!(
            wire_date(accepts(Field::StartDateTime, "2026-12-02T09:00:00").start_date_time),
            "2026-12-02 09:00:00"
        );
        let p = &problems(Field::StartDateTime, "02/12/2026 09:00")[0];
        assert_eq!(
            p.to_string(),
            "start_date_time: found \"02/12/2026 09:00\"; accepted: yyyy-mm-dd hh:mm:ss, yyyy-mm-dd hh:mm or yyyy-mm-ddThh:mm:ss (or give --date-format)"
        );
        for bad in ["2026-02-30 09:00:00", "2026-12-02", "2026-12-02 25:00:00"] {
            assert_eq!(
                problems(Field::StartDateTime, bad)[0].field,
                Field::StartDateTime,
                "{bad}"
            );
        }
    }

    #[test]
    fn end_must_be_after_start() {
        let p = problems(Field::EndDateTime, "2026-12-02 09:00:00");
        assert_eq!(p.len(), 1);
        assert!(
            p[0].to_string()
                .contains("not after start_date_time 2026-12-02 09:00:00"),
            "{}",
            p[0]
        );
        assert_eq!(
            problems(Field::EndDateTime, "2026-12-01 18:00:00")[0].field,
            Field::EndDateTime
        );
    }

    #[test]
    fn a_custom_date_format_is_accepted_besides_the_standard_ones() {
        let dates = DateFormats::with_custom(Some("%d/%m/%Y %H:%M")).unwrap();
        let mut c = good_cells();
        c[Field::StartDateTime.index()] = "02/12/2026 09:30";
        let r = parse_request(&c, &dates).unwrap();
        assert_eq!(wire_date(r.start_date_time), "2026-12-02 09:30:00");
        c[Field::StartDateTime.index()] = "12/31/2026 09:30";
        let p = parse_request(&c, &dates).unwrap_err();
        assert!(
            p[0].accepted
                .contains("%d/%m/%Y %H:%M (from --date-format)"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn all_failing_fields_are_reported_together() {
        let mut c = good_cells();
        c[Field::Timeout.index()] = "30";
        c[Field::NumberOfRetry.index()] = "9";
        let p = parse_request(&c, &std_dates()).unwrap_err();
        assert_eq!(
            p.iter().map(|p| p.field).collect::<Vec<_>>(),
            [Field::Timeout, Field::NumberOfRetry]
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(500);
        let p = Problem::new(Field::Timeout, &long, "a number");
        assert!(p.to_string().len() < 120, "{p}");
    }
}
