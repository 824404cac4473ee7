//! Whether a listed broadcast is this row's: a server may keep a name in another form, and a
//! colleague may create the same name, so a namesake found after an uncertain create is this
//! row's broadcast only when what the listing shows of it agrees with what the row sent.
//!
//! Each field the listing carries (the peer copy of `GET /v2/broadcasts` shows `description`,
//! `list_id`, `destination_id` and `caller_id`) that the row also sent must agree: descriptions
//! as names are compared (a server may also cut them short), caller ids by their last ten
//! digits, a destination by the id after `||`. A field the listing does not carry decides
//! nothing.
//!
//! And a broadcast the listing says was created (`created_at`, epoch seconds) before the row's
//! first request left is not the row's, with [`CLOCK_SKEW`] allowed between the two clocks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// How far the server's clock may be behind this machine's.
pub const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Whether the listing says when `listed` was made.
pub fn made_at_known(listed: &Value) -> bool {
    created_at(listed).is_some()
}

/// When the listing says `listed` was created.
fn created_at(listed: &Value) -> Option<SystemTime> {
    let v = &listed["created_at"];
    let n = v
        .as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    // Epoch milliseconds, from a server that counts so.
    let secs = if n > 100_000_000_000 { n / 1000 } else { n };
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// [`agrees`], and not created before `first_sent` (when known), less [`CLOCK_SKEW`].
#[cfg(test)]
fn agrees_since(listed: &Value, sent: &Value, first_sent: Option<SystemTime>) -> bool {
    not_older(listed, first_sent) && agrees(listed, sent)
}

/// Whether `listed` is not listed as made before `first_sent` (less [`CLOCK_SKEW`]); a time
/// not known decides nothing.
pub fn not_older(listed: &Value, first_sent: Option<SystemTime>) -> bool {
    match (created_at(listed), first_sent) {
        (Some(made), Some(first)) => made + CLOCK_SKEW >= first,
        _ => true,
    }
}

/// Whether the text `shown` may be how a server kept `sent`: the same under [`name_key`], with
/// any character shown as `?` or `\u{FFFD}` (one the server could not store), and either whole
/// or cut short at a usual column width ([`crate::input::CUTS`], in characters or in bytes, a
/// half character at the end dropped or shown as `\u{FFFD}`, white space at the end trimmed).
pub fn loosely_starts(shown: &str, sent: &str) -> bool {
    keys_loosely_start(&name_key(shown), &name_key(sent))
}

/// [`loosely_starts`] for texts already under [`name_key`].
pub fn keys_loosely_start(shown: &str, sent: &str) -> bool {
    if shown == sent {
        return true;
    }
    let (mut shown_chars, mut sent_chars) = (shown.chars(), sent.chars());
    loop {
        match (shown_chars.next(), sent_chars.next()) {
            (None, None) => return true,
            (None, Some(_)) => return cut_at_a_width(shown),
            (Some(_), None) => return false,
            (Some(a), Some(b)) if a == b || a == '?' || a == '\u{FFFD}' => {}
            (Some(_), Some(_)) => return false,
        }
    }
}

/// Whether the key `shown` can stand for another text than itself under
/// [`keys_loosely_start`]: it holds a character a server writes for one it could not store,
/// or it is as long as a text cut at a usual width. Any other key stands only for itself.
pub fn may_stand_for_another(shown: &str) -> bool {
    shown.contains(['?', '\u{FFFD}']) || cut_at_a_width(shown)
}

/// Whether `key` is as long as a text cut at one of the usual widths.
fn cut_at_a_width(key: &str) -> bool {
    let (chars, bytes) = (key.chars().count(), key.len());
    // In bytes, a character of several cut in half is dropped (up to three bytes short) or
    // shown as U+FFFD (up to two bytes over).
    let by_bytes = |w: usize| !key.is_ascii() && bytes + 3 >= w && bytes <= w + 2;
    crate::input::CUTS
        .iter()
        .any(|&w| chars == w || chars + 1 == w || by_bytes(w))
}

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

/// [`agrees`], and the description, when the listing shows one, the same whole (under
/// [`name_key`]), not only as a server may cut it: for counting a broadcast this run did not
/// make as the row's, where a cut description could be another campaign's ("… batch 0" and
/// "… batch 0 next week").
pub fn agrees_whole(listed: &Value, sent: &Value) -> bool {
    let whole = match (text(&listed["description"]), text(&sent["description"])) {
        (Some(shown), Some(sent)) => is_whole(&shown, &sent),
        _ => true,
    };
    whole && agrees(listed, sent)
}

/// Whether the text `shown` is `sent` whole: the same under [`name_key`].
pub fn is_whole(shown: &str, sent: &str) -> bool {
    name_key(shown) == name_key(sent)
}

/// The fields of a listed broadcast [`agrees`] compares.
pub const COMPARED: &[&str] = &["description", "list_id", "caller_id", "destination_id"];

/// Whether the listed broadcast `listed` agrees with the body `sent` on every field both carry.
pub fn agrees(listed: &Value, sent: &Value) -> bool {
    let pair = |shown: &str, field: &str| Some((text(&listed[shown])?, text(&sent[field])?));
    if let Some((shown, sent)) = pair("description", "description") {
        if !loosely_starts(&shown, &sent) {
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
            !agrees(&json!({"description": "Festive"}), &sent()),
            "cut short, but at no column's width: another description"
        );
        let long = json!({"description": "Festive offer for the western region"});
        assert!(
            agrees(&json!({"description": "Festive offer for th"}), &long),
            "cut at 20 characters"
        );
        assert!(
            agrees(
                &json!({"description": "Festive offer ? for"}),
                &json!({"description": "Festive offer 🎆 for"})
            ),
            "a character the server could not store"
        );
        assert!(!agrees(
            &json!({"description": "Another team's reminder"}),
            &sent()
        ));
        assert!(!agrees(&json!({"list_id": 9}), &sent()));
        assert!(!agrees(&json!({"caller_id": "918069000001"}), &sent()));
        assert!(!agrees(&json!({"destination_id": "1"}), &sent()));
    }

    #[test]
    fn a_broadcast_made_before_the_rows_first_send_is_not_the_rows() {
        let first = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |secs: u64| json!({"created_at": secs});
        assert!(agrees_since(&at(1_800_000_010), &sent(), Some(first)));
        assert!(
            agrees_since(&at(1_800_000_000 - 60), &sent(), Some(first)),
            "clock skew"
        );
        assert!(!agrees_since(&at(1_700_000_000), &sent(), Some(first)));
        assert!(!agrees_since(
            &json!({"created_at": "1700000000"}),
            &sent(),
            Some(first)
        ));
        assert!(
            !agrees_since(
                &json!({"created_at": 1_700_000_000_000u64}),
                &sent(),
                Some(first)
            ),
            "ms"
        );
        assert!(
            agrees_since(&at(1_700_000_000), &sent(), None),
            "first send unknown"
        );
        assert!(agrees_since(
            &json!({"created_at": "yesterday"}),
            &sent(),
            Some(first)
        ));
    }
}
