//! The Create-a-Broadcast request body: typed values that serialise to exactly the wire types.
//!
//! The API reference's table mixes wire types: ids and counts that are plain integers in one
//! field are strings of digits in the next (`phone_number_list` is a number, `time_group` is a
//! string). The struct holds each value in its natural type — a count is a `u64`, a date a
//! `NaiveDateTime`, the dial statuses an inline set of at most five — and serde writes each one
//! as the table says, so the JSON is the contract's body and nothing else. Keeping values typed
//! also keeps a validated row to a handful of allocations, which matters on a million rows.

use std::fmt;

use chrono::NaiveDateTime;
use serde::{Serialize, Serializer};

/// One validated broadcast, ready to be sent as the JSON body of `POST /v1/broadcast`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BroadcastRequest {
    pub name: String,
    pub description: String,
    pub phone_number_list: u64,
    /// `ivr||<id>`, `auto_attend||<id>` or `auto_attendant||<id>` on the wire, always with the
    /// double bar.
    #[serde(serialize_with = "as_text")]
    pub destination: Destination,
    /// Seconds a call rings, at least 40; a string of digits on the wire.
    #[serde(serialize_with = "as_digits")]
    pub timeout: u64,
    #[serde(serialize_with = "as_digits")]
    pub concurrent_limit: u64,
    pub retry_after_minutes: Vec<u32>,
    pub caller_id_number: String,
    #[serde(serialize_with = "as_digits")]
    pub number_of_retry: u64,
    /// Account local time; `yyyy-mm-dd hh:mm:ss` on the wire.
    #[serde(serialize_with = "as_wire_date")]
    pub start_date_time: NaiveDateTime,
    #[serde(serialize_with = "as_wire_date")]
    pub end_date_time: NaiveDateTime,
    #[serde(serialize_with = "as_digits")]
    pub time_group: u64,
    pub dialstatus: DialStatuses,
    pub retry_dialstatus: DialStatuses,
}

impl BroadcastRequest {
    /// The JSON body of the `POST /v1/broadcast` that creates this broadcast.
    pub fn to_body(&self) -> bytes::Bytes {
        let mut body = Vec::with_capacity(512);
        // Writing plain fields with string keys into a Vec cannot fail.
        serde_json::to_writer(&mut body, self).expect("a request serialises to JSON");
        body.into()
    }
}

/// Where a broadcast's calls are connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Ivr(u64),
    AutoAttend(u64),
    /// The spelling public clients of this API use.
    AutoAttendant(u64),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Ivr(id) => write!(f, "ivr||{id}"),
            Destination::AutoAttend(id) => write!(f, "auto_attend||{id}"),
            Destination::AutoAttendant(id) => write!(f, "auto_attendant||{id}"),
        }
    }
}

/// Dial statuses 1 to 5, without repeats, in the order given: at most five, kept inline.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct DialStatuses {
    codes: [u8; 5],
    len: u8,
}

impl DialStatuses {
    /// Add `code`; `false` (and no change) when it is not 1 to 5 or is already there.
    pub fn insert(&mut self, code: u8) -> bool {
        if !(1..=5).contains(&code) || self.as_slice().contains(&code) {
            return false;
        }
        self.codes[usize::from(self.len)] = code;
        self.len += 1;
        true
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.codes[..usize::from(self.len)]
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for DialStatuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

impl Serialize for DialStatuses {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.as_slice())
    }
}

fn as_text<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// A count as the wire wants it, a string of digits (with itoa, which skips the formatting
/// machinery that `Display` goes through).
fn as_digits<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(itoa::Buffer::new().format(*n))
}

fn as_wire_date<S: Serializer>(dt: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&wire_date(*dt))
}

/// `dt` as the wire wants it, `yyyy-mm-dd hh:mm:ss` (written by hand: chrono's formatter
/// re-reads its format string each time).
pub fn wire_date(dt: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        return dt.format("%Y-%m-%d %H:%M:%S").to_string();
    }
    let mut out = *b"0000-00-00 00:00:00";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, dt.month());
    put(8, 2, dt.day());
    put(11, 2, dt.hour());
    put(14, 2, dt.minute());
    put(17, 2, dt.second());
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(codes: &[u8]) -> DialStatuses {
        let mut s = DialStatuses::default();
        for &c in codes {
            assert!(s.insert(c));
        }
        s
    }

    #[test]
    fn serialises_to_the_contract_body_with_its_wire_types() {
        let at = |h| {
            chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
                .unwrap()
                .and_hms_opt(h, 0, 0)
                .unwrap()
        };
        let req = BroadcastRequest {
            name: "Campaign 1".into(),
            description: "Details of campaign 1".into(),
            phone_number_list: 214864,
            destination: Destination::Ivr(7926),
            timeout: 40,
            concurrent_limit: 5,
            retry_after_minutes: vec![5, 10],
            caller_id_number: "918069000000".into(),
            number_of_retry: 2,
            start_date_time: at(9),
            end_date_time: at(18),
            time_group: 1234,
            dialstatus: statuses(&[1, 2, 3, 4, 5]),
            retry_dialstatus: statuses(&[1, 3]),
        };
        let expected = r#"{"name":"Campaign 1","description":"Details of campaign 1","phone_number_list":214864,
 "destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],
 "caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00",
 "end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],
 "retry_dialstatus":[1,3]}"#;
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(serde_json::to_value(&req).unwrap(), expected);
        // Field order as in the reference, too.
        let text = serde_json::to_string(&req).unwrap();
        assert!(
            text.starts_with(r#"{"name":"Campaign 1","description":"#),
            "{text}"
        );
    }

    #[test]
    fn dial_statuses_refuse_repeats_and_codes_outside_1_to_5() {
        let mut s = DialStatuses::default();
        assert!(s.is_empty());
        assert!(s.insert(3) && s.insert(1));
        assert!(!s.insert(3) && !s.insert(0) && !s.insert(6));
        assert_eq!(s.as_slice(), [3, 1]);
        assert_eq!(format!("{s:?}"), "[3, 1]");
    }

    #[test]
    fn destinations_print_with_the_double_bar() {
        assert_eq!(Destination::AutoAttend(12).to_string(), "auto_attend||12");
    }

    #[test]
    fn wire_dates_are_zero_padded() {
        let dt = chrono::NaiveDate::from_ymd_opt(987, 1, 2)
            .unwrap()
            .and_hms_opt(3, 4, 5)
            .unwrap();
        assert_eq!(wire_date(dt), "0987-01-02 03:04:05");
    }
}
