//! Whether a listed broadcast is this row's: a server may keep a name in another form, and a
//! colleague may create the same name, so a namesake found after an uncertain create is this
//! row's broadcast only when what the listing shows of it agrees with what the row sent.
//!
//! Each field the listing carries (the peer copy of `GET /v2/broadcasts` shows `description`,
//! `list_id`, `destination_id` and `caller_id`) that the row also sent must agree: descriptions
//! as names are compared (a server may also cut them short), caller ids by their last ten
//! digits, a destination by the id after `||`. A field the listing does not carry decides
//! nothing.

use serde_json::Value;

use crate::input::name_key;

/// A value as text: strings as they are, numbers written out; `None` for anything else.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn last_digits(s: &str) -> String {
    let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(10)..].iter().collect()
}

/// Whether the listed broadcast `listed` agrees with the body `sent` on every field both carry.
pub fn agrees(listed: &Value, sent: &Value) -> bool {
    let pair = |shown: &str, field: &str| Some((text(&listed[shown])?, text(&sent[field])?));
    if let Some((shown, sent)) = pair("description", "description") {
        let (shown, sent) = (name_key(&shown), name_key(&sent));
        if !sent.starts_with(shown.as_ref()) {
            return false;
        }
    }
    if let Some((shown, sent)) = pair("list_id", "phone_number_list") {
        if shown != sent {
            return false;
        }
    }
    if let Some((shown, sent)) = pair("caller_id", "caller_id_number") {
        if last_digits(&shown) != last_digits(&sent) {
            return false;
        }
    }
    if let Some((shown, sent)) = pair("destination_id", "destination") {
        if sent.rsplit("||").next() != Some(shown.as_str()) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent() -> Value {
        json!({"name": "Diwali - Pune", "description": "Festive  offer", "phone_number_list": 214864,
               "destination": "ivr||7926", "caller_id_number": "918069000000"})
    }

    #[test]
    fn what_the_listing_shows_must_agree_with_what_was_sent() {
        assert!(
            agrees(&json!({"id": "1", "name": "x"}), &sent()),
            "nothing shown decides nothing"
        );
        assert!(agrees(
            &json!({"description": "festive offer", "list_id": "214864", "caller_id": "+91 80 6900 0000", "destination_id": 7926}),
            &sent()
        ));
        assert!(
            agrees(&json!({"description": "Festive"}), &sent()),
            "cut short"
        );
        assert!(!agrees(
            &json!({"description": "Another team's reminder"}),
            &sent()
        ));
        assert!(!agrees(&json!({"list_id": 9}), &sent()));
        assert!(!agrees(&json!({"caller_id": "918069000001"}), &sent()));
        assert!(!agrees(&json!({"destination_id": "1"}), &sent()));
    }
}
