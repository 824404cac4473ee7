//! Which names a file has used: a 64-bit fingerprint of each name's [`name_key`] and the line
//! of first use per row, and nothing else — the one piece of state that grows with the input.
//!
//! A general hash map rounds its table up to a power of two and, while growing, holds the old
//! table beside the new one: for a million names that peaked near 41 MB. This open-addressing
//! table packs a slot into 12 bytes, is sized to the rows expected (estimated from the file's
//! size after its first rows), and so holds a million names in about 14 MB without growing.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// A slot: the fingerprint's two halves and the line of first use; line 0 marks an empty slot
/// (data lines start at 2).
type Slot = [u32; 3];

/// The table is grown before it is fuller than this (per cent).
const MAX_LOAD: usize = 85;

pub struct NameTracker {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for NameTracker {
    fn default() -> Self {
        NameTracker::with_expected(0)
    }
}

impl NameTracker {
    /// A table for about `rows` names.
    pub(super) fn with_expected(rows: u64) -> NameTracker {
        NameTracker {
            slots: vec![[0; 3]; capacity_for(rows)],
            len: 0,
        }
    }

    /// Make room for about `rows` names in all, in one step, if that is more than there is.
    pub(super) fn expect(&mut self, rows: u64) {
        let wanted = capacity_for(rows);
        if wanted > self.slots.len() {
            self.rebuild(wanted);
        }
    }

    /// Record `name` as used on `line`; returns the line of an earlier use. Empty names claim
    /// nothing (they are invalid on their own).
    pub(super) fn claim(&mut self, name: &str, line: u64) -> Option<u64> {
        if name.is_empty() {
            return None;
        }
        self.claim_fingerprint(key_fingerprint(name), line)
    }

    /// Record a name's key by its fingerprint `fp` as used on `line` (a form a server may keep
    /// a name in, for [`NameTracker::contains`]); returns the line of an earlier use.
    pub fn claim_fingerprint(&mut self, fp: u64, line: u64) -> Option<u64> {
        if (self.len + 1) * 100 > self.slots.len() * MAX_LOAD {
            self.rebuild(self.slots.len() * 3 / 2);
        }
        let (hi, lo) = ((fp >> 32) as u32, fp as u32);
        let mut i = slot_of(fp, self.slots.len());
        loop {
            let slot = &mut self.slots[i];
            if slot[2] == 0 {
                *slot = [hi, lo, u32::try_from(line).unwrap_or(u32::MAX).max(1)];
                self.len += 1;
                return None;
            }
            if slot[0] == hi && slot[1] == lo {
                return Some(u64::from(slot[2]));
            }
            i = if i + 1 == self.slots.len() { 0 } else { i + 1 };
        }
    }

    /// Whether `name` was claimed.
    pub fn contains(&self, name: &str) -> bool {
        let fp = key_fingerprint(name);
        let (hi, lo) = ((fp >> 32) as u32, fp as u32);
        let mut i = slot_of(fp, self.slots.len());
        loop {
            let slot = &self.slots[i];
            if slot[2] == 0 {
                return false;
            }
            if slot[0] == hi && slot[1] == lo {
                return true;
            }
            i = if i + 1 == self.slots.len() { 0 } else { i + 1 };
        }
    }

    fn rebuild(&mut self, capacity: usize) {
        let old = std::mem::replace(&mut self.slots, vec![[0; 3]; capacity]);
        for slot in old.into_iter().filter(|s| s[2] != 0) {
            let fp = (u64::from(slot[0]) << 32) | u64::from(slot[1]);
            let mut i = slot_of(fp, capacity);
            while self.slots[i][2] != 0 {
                i = if i + 1 == capacity { 0 } else { i + 1 };
            }
            self.slots[i] = slot;
        }
    }
}

fn capacity_for(rows: u64) -> usize {
    let rows = usize::try_from(rows).unwrap_or(usize::MAX / 200);
    (rows.saturating_mul(100) / MAX_LOAD + 1).max(1024)
}

/// Map a fingerprint onto `0..n` by its high bits (no power-of-two size needed).
fn slot_of(fp: u64, n: usize) -> usize {
    ((u128::from(fp) * n as u128) >> 64) as usize
}

/// A name as a server may keep it: HTML entities decoded, Unicode NFC, zero-width characters
/// dropped, white space (no-break spaces too) trimmed and collapsed to one space, case folded.
/// Two names with one key are one name to bulkcast: within a sheet they are a validation
/// error, and a listed broadcast whose name has a row's key is never taken for "absent".
pub fn name_key(name: &str) -> Cow<'_, str> {
    if name.is_ascii() && !name.contains('&') {
        let plain = !name.starts_with(' ')
            && !name.ends_with(' ')
            && !name.contains("  ")
            && !name
                .bytes()
                .any(|b| b.is_ascii_uppercase() || (b != b' ' && (b as char).is_whitespace()));
        if plain {
            return Cow::Borrowed(name);
        }
        let mut key = Vec::with_capacity(name.len());
        ascii_key(name, |b| key.push(b));
        return Cow::Owned(String::from_utf8(key).expect("ASCII"));
    }
    let decoded = decode_entities(name);
    let composed: String = decoded
        .nfc()
        .filter(|c| {
            !matches!(
                c,
                '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
            )
        })
        .collect();
    let mut key = String::with_capacity(composed.len());
    for word in composed.split_whitespace() {
        if !key.is_empty() {
            key.push(' ');
        }
        key.extend(word.chars().flat_map(char::to_lowercase));
    }
    Cow::Owned(key)
}

/// Widths (in characters) at which servers are seen to cut names short: usual column sizes.
pub const CUTS: [usize; 17] = [
    20, 25, 30, 32, 40, 45, 50, 60, 64, 80, 100, 120, 128, 150, 200, 250, 255,
];

/// The keys a server that cuts names short may list `name` under: its key's first N
/// characters, white space at the end trimmed, for each usual width N shorter than the key;
/// longest first.
fn cut_keys(name: &str) -> Vec<String> {
    let key = name_key(name);
    let mut cuts = Vec::new();
    for &n in CUTS.iter().rev() {
        if let Some((at, _)) = key.char_indices().nth(n) {
            let cut = key[..at].trim_end();
            if !cut.is_empty() && cuts.last().is_none_or(|c: &String| c != cut) {
                cuts.push(cut.to_owned());
            }
        }
    }
    cuts
}

/// The fingerprints of every key a server may list `name` under: its key's, and those of the
/// forms [`kept_keys`] gives.
pub fn match_fingerprints(name: &str) -> impl Iterator<Item = u64> {
    let kept = kept_keys(name);
    std::iter::once(key_fingerprint(name)).chain(kept.into_iter().map(|k| key_fingerprint(&k)))
}

/// Every form other than its key that a server may list `name` under: cut at a usual width,
/// and with each character outside the Basic Multilingual Plane (an emoji) written as `?`, as
/// MySQL's three-byte `utf8` stores it (whole, and cut). Keys, for the baseline's index.
pub fn kept_keys(name: &str) -> Vec<String> {
    let mut keys = cut_keys(name);
    let key = name_key(name);
    if key.chars().any(|c| u32::from(c) > 0xFFFF) {
        let narrow: String = key
            .chars()
            .map(|c| if u32::from(c) > 0xFFFF { '?' } else { c })
            .collect();
        keys.extend(cut_keys(&narrow));
        keys.push(narrow);
    }
    keys
}

/// The fingerprint of `name`'s key, without making the key for most names: the one a sheet's
/// every row costs.
pub fn key_fingerprint(name: &str) -> u64 {
    const SHORT: usize = 256;
    if name.len() <= SHORT && name.is_ascii() && !name.contains('&') {
        let (mut buf, mut len) = ([0u8; SHORT], 0);
        ascii_key(name, |b| {
            buf[len] = b;
            len += 1;
        });
        return super::name_fingerprint(std::str::from_utf8(&buf[..len]).expect("ASCII"));
    }
    super::name_fingerprint(&name_key(name))
}

/// The key of an ASCII name without entities, byte by byte: words split at white space, joined
/// by one space, lower-cased (for such a name the general rules come to this).
fn ascii_key(name: &str, mut push: impl FnMut(u8)) {
    for (i, word) in name.split_whitespace().enumerate() {
        if i > 0 {
            push(b' ');
        }
        word.bytes().for_each(|b| push(b.to_ascii_lowercase()));
    }
}

/// The HTML entities a web form may have stored a name with: `&amp;` `&lt;` `&gt;` `&quot;`
/// `&apos;` `&#39;` `&nbsp;` and numeric ones.
fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let entity = rest[1..].find(';').map(|end| &rest[1..=end]);
        let decoded = entity.and_then(|e| match e {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{A0}'),
            _ => {
                let n = e.strip_prefix('#')?;
                let code = match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => n.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (entity, decoded) {
            (Some(e), Some(c)) => {
                out.push(c);
                rest = &rest[e.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_cut_short_is_listed_under_its_cut_keys() {
        let long = "Diwali Offer  for the Western Region, Retail Customers - batch 2";
        let cuts = super::cut_keys(long);
        assert_eq!(
            cuts.first().map(String::as_str),
            Some("diwali offer for the western region, retail customers - batc")
        );
        assert!(cuts.contains(&"diwali offer for the western region, retail custom".to_owned()));
        assert!(
            cuts.contains(&"diwali offer for the".to_owned()),
            "{cuts:?}"
        );
        assert!(super::cut_keys("Campaign 1").is_empty());
        assert_eq!(super::match_fingerprints(long).count(), 1 + cuts.len());
    }

    use super::*;

    #[test]
    fn names_a_server_may_keep_otherwise_have_one_key() {
        let same = [
            ("Diwali Offer", "diwali offer"),
            ("Diwali  offer", "diwali offer"),
            (" Diwali offer\t", "diwali offer"),
            ("Diwali\u{A0}offer", "diwali offer"),
            ("Diwali\u{200B} offer", "diwali offer"),
            ("Caf\u{E9}", "Cafe\u{301}"),
            ("Tom &amp; Jerry", "Tom & Jerry"),
            ("Tom &#38; Jerry", "tom &#x26; jerry"),
            ("\u{130}stanbul", "i\u{307}stanbul"),
        ];
        for (a, b) in same {
            assert_eq!(name_key(a), name_key(b), "{a:?} ~ {b:?}");
        }
        for (a, b) in [
            ("Offer 1", "Offer 2"),
            ("Caf\u{E9}", "Cafe"),
            ("a&b", "a b"),
        ] {
            assert_ne!(name_key(a), name_key(b), "{a:?} !~ {b:?}");
        }
        assert!(
            matches!(name_key("diwali offer 12"), Cow::Borrowed(_)),
            "plain names cost nothing"
        );
        assert_eq!(name_key("R&D &unknown; &"), "r&d &unknown; &");
        // The short path and the general one agree.
        for name in [
            "Diwali  Offer - PUNE ",
            "a\tb",
            "x\u{b}y",
            "plain name",
            "Caf\u{e9} X",
        ] {
            assert_eq!(
                key_fingerprint(name),
                crate::input::name_fingerprint(&name_key(name)),
                "{name:?}"
            );
        }
        assert_eq!(
            key_fingerprint("Diwali Offer"),
            key_fingerprint("diwali   offer")
        );
    }

    #[test]
    fn claimed_names_are_contained() {
        let mut t = NameTracker::default();
        t.claim("a", 2);
        assert!(t.contains("a"));
        assert!(!t.contains("b"));
    }

    #[test]
    fn the_first_line_of_a_name_is_remembered() {
        let mut t = NameTracker::default();
        assert_eq!(t.claim("A", 2), None);
        assert_eq!(t.claim("B", 3), None);
        assert_eq!(t.claim("A", 7), Some(2));
        assert_eq!(t.claim("A", 9), Some(2));
        assert_eq!(t.claim("", 10), None);
        assert_eq!(t.claim("", 11), None, "empty names are not claimed");
    }

    #[test]
    fn growing_and_presizing_keep_every_name() {
        for mut t in [NameTracker::default(), NameTracker::with_expected(50_000)] {
            for i in 0..50_000u64 {
                assert_eq!(t.claim(&format!("name {i}"), i + 2), None, "{i}");
            }
            t.expect(200_000);
            for i in (0..50_000u64).step_by(997) {
                assert_eq!(t.claim(&format!("name {i}"), 1_000_000), Some(i + 2));
            }
            assert_eq!(t.len, 50_000);
        }
    }

    #[test]
    fn a_million_expected_names_take_about_fourteen_megabytes() {
        let t = NameTracker::with_expected(1_000_000);
        let bytes = t.slots.len() * std::mem::size_of::<Slot>();
        assert!(bytes < 15_000_000, "{bytes}");
    }
}
