//! The contract's rules as the simulated server applies them to a create's JSON body, with
//! Laravel-style messages (field → list of messages), as Smartflo answers a 400.

use serde_json::{Map, Value};

/// The contract's rules on the wire body, with Laravel-style messages: field → messages.
pub(super) fn validate(body: &Value) -> Map<String, Value> {
    let mut errors = Errors(Map::new());
    errors.texts_and_ids(body);
    errors.digit_strings(body);
    errors.lists(body);
    errors.dates(body);
    errors.0
}

/// The messages of one body, by field.
struct Errors(Map<String, Value>);

fn human(field: &str) -> String {
    field.replace('_', " ")
}

impl Errors {
    fn fail(&mut self, field: &str, msg: String) {
        if let Value::Array(list) = self
            .0
            .entry(field.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            list.push(Value::String(msg));
        }
    }

    /// `name`, `description`, `phone_number_list`, `destination` and `caller_id_number`.
    fn texts_and_ids(&mut self, body: &Value) {
        for field in ["name", "description"] {
            match &body[field] {
                Value::String(s) if !s.trim().is_empty() => {}
                Value::Null => self.fail(field, format!("The {} field is required.", human(field))),
                _ => self.fail(
                    field,
                    format!("The {} must be a non-empty string.", human(field)),
                ),
            }
        }
        match body["phone_number_list"].as_u64() {
            Some(n) if n > 0 => {}
            _ => self.fail(
                "phone_number_list",
                "The phone number list must be a positive integer.".into(),
            ),
        }
        let dest_ok = body["destination"]
            .as_str()
            .and_then(|s| s.split_once("||"))
            .is_some_and(|(kind, id)| {
                matches!(kind, "ivr" | "auto_attend" | "auto_attendant")
                    && id.parse::<u64>().is_ok_and(|n| n > 0)
                    && id.bytes().all(|b| b.is_ascii_digit())
            });
        if !dest_ok {
            self.fail(
                "destination",
                "The destination must be ivr||<id>, auto_attend||<id> or auto_attendant||<id>."
                    .into(),
            );
        }
        let caller_ok = body["caller_id_number"].as_str().is_some_and(|s| {
            let d = s.strip_prefix('+').unwrap_or(s);
            (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
        });
        if !caller_ok {
            self.fail(
                "caller_id_number",
                "The caller id number must be 8 to 15 digits.".into(),
            );
        }
    }

    /// The counts sent as strings of digits, each within its range.
    fn digit_strings(&mut self, body: &Value) {
        let digits = |v: &Value| {
            v.as_str()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
        };
        for (field, min, max) in [
            ("timeout", 40, u64::MAX),
            ("concurrent_limit", 1, u64::MAX),
            ("number_of_retry", 0, 5),
            ("time_group", 1, u64::MAX),
        ] {
            match digits(&body[field]) {
                None => self.fail(
                    field,
                    format!("The {} must be a string of digits.", human(field)),
                ),
                Some(n) if n < min => self.fail(
                    field,
                    format!("The {} must be at least {min}.", human(field)),
                ),
                Some(n) if n > max => self.fail(
                    field,
                    format!("The {} may not be greater than {max}.", human(field)),
                ),
                Some(_) => {}
            }
        }
    }

    /// The three arrays of integers.
    fn lists(&mut self, body: &Value) {
        let ints = |v: &Value| -> Option<Vec<u64>> {
            v.as_array()
                .filter(|a| !a.is_empty())?
                .iter()
                .map(Value::as_u64)
                .collect()
        };
        match ints(&body["retry_after_minutes"]) {
            Some(v) if v.iter().all(|&n| n >= 1) => {}
            _ => self.fail(
                "retry_after_minutes",
                "The retry after minutes must be a non-empty array of integers of at least 1."
                    .into(),
            ),
        }
        for field in ["dialstatus", "retry_dialstatus"] {
            let ok = ints(&body[field]).is_some_and(|v| {
                v.iter().all(|n| (1..=5).contains(n))
                    && v.iter().enumerate().all(|(i, n)| !v[..i].contains(n))
            });
            if !ok {
                self.fail(
                    field,
                    format!(
                        "The {} must be a non-empty array of distinct integers from 1 to 5.",
                        human(field)
                    ),
                );
            }
        }
    }

    /// Start and end: the wire format, and the end after the start.
    fn dates(&mut self, body: &Value) {
        let date = |v: &Value| {
            v.as_str()
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok())
        };
        match (date(&body["start_date_time"]), date(&body["end_date_time"])) {
            (Some(s), Some(e)) if e <= s => self.fail(
                "end_date_time",
                "The end date time must be a date after start date time.".into(),
            ),
            (s, e) => {
                if s.is_none() {
                    self.fail(
                        "start_date_time",
                        "The start date time does not match the format Y-m-d H:i:s.".into(),
                    );
                }
                if e.is_none() {
                    self.fail(
                        "end_date_time",
                        "The end date time does not match the format Y-m-d H:i:s.".into(),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> Value {
        json!({"name":"Campaign 1","description":"Details of campaign 1","phone_number_list":214864,
            "destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],
            "caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00",
            "end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],
            "retry_dialstatus":[1,3]})
    }

    #[test]
    fn the_contract_example_is_valid() {
        assert!(
            validate(&example()).is_empty(),
            "{:?}",
            validate(&example())
        );
    }

    #[test]
    fn wrong_wire_types_are_rejected_by_field() {
        let cases = [
            ("timeout", json!(40)),
            ("phone_number_list", json!("214864")),
            ("time_group", json!(1234)),
            ("retry_after_minutes", json!("5,10")),
            ("dialstatus", json!([1, 1])),
            ("destination", json!("ivr|7926")),
            ("start_date_time", json!("2026-12-02T09:00:00")),
            ("number_of_retry", json!("6")),
            ("caller_id_number", json!("1234")),
            ("name", json!("")),
        ];
        for (field, value) in cases {
            let mut body = example();
            body[field] = value.clone();
            let errors = validate(&body);
            assert_eq!(
                errors.keys().collect::<Vec<_>>(),
                [field],
                "{field}={value}"
            );
        }
        let mut body = example();
        body.as_object_mut().unwrap().remove("description");
        assert_eq!(
            validate(&body)["description"],
            json!(["The description field is required."])
        );
    }
}
