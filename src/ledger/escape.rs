//! How the journal keeps every cell on one line: a backslash, a line break, a carriage return
//! and a NUL are written as `\\`, `\n`, `\r` and `\0`, and read back as they were.

use std::borrow::Cow;

/// Whether `s` holds a character the journal escapes.
pub fn needs_escape(s: &str) -> bool {
    s.contains(['\\', '\n', '\r', '\0'])
}

/// A cell as the journal writes it: on one line, without NULs (`\` `\n` `\r` `\0`).
pub fn escape(s: &str) -> Cow<'_, str> {
    if !needs_escape(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The cell [`escape`] was given.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}
