//! For each field a sheet lacks, the column that most likely holds it: teams name columns in
//! their own words ("Ring Time", "Lead List", "Channels"), so each field has the words teams are
//! seen to use for it, and a header is scored by how closely it matches one of them (or the
//! field's own name). Each column is proposed for one field at most, best matches first.

use super::fields::{normalize, Field};

/// The words teams use for a field's column, besides the field's own name.
const SYNONYMS: [(Field, &[&str]); 14] = [
    (
        Field::Name,
        &[
            "campaign",
            "campaign name",
            "broadcast",
            "broadcast name",
            "title",
        ],
    ),
    (
        Field::Description,
        &["details", "notes", "desc", "about", "purpose", "remarks"],
    ),
    (
        Field::PhoneNumberList,
        &[
            "list",
            "list id",
            "lead list",
            "leads",
            "lead list id",
            "contact list",
            "phone list",
            "number list",
            "audience",
        ],
    ),
    (
        Field::Destination,
        &["ivr", "route", "connect to", "queue", "flow", "ivr id"],
    ),
    (
        Field::Timeout,
        &[
            "ring time",
            "ring duration",
            "ringing time",
            "ring timeout",
            "ring seconds",
            "ring secs",
            "call timeout",
        ],
    ),
    (
        Field::ConcurrentLimit,
        &[
            "channels",
            "concurrency",
            "concurrent calls",
            "parallel calls",
            "simultaneous calls",
            "max calls",
            "lines",
        ],
    ),
    (
        Field::RetryAfterMinutes,
        &[
            "retry after",
            "retry gap",
            "retry gaps",
            "retry interval",
            "retry intervals",
            "retry delay",
            "retry minutes",
            "gap between retries",
        ],
    ),
    (
        Field::CallerIdNumber,
        &[
            "caller id",
            "cli",
            "did",
            "from number",
            "caller number",
            "display number",
            "caller",
        ],
    ),
    (
        Field::NumberOfRetry,
        &[
            "retries",
            "attempts",
            "retry count",
            "max retries",
            "no of retries",
            "number of retries",
            "redials",
        ],
    ),
    (
        Field::StartDateTime,
        &[
            "start",
            "start time",
            "start date",
            "starts",
            "begin",
            "begins",
            "from",
            "launch",
            "go live",
        ],
    ),
    (
        Field::EndDateTime,
        &[
            "end", "end time", "end date", "ends", "finish", "until", "stop", "to",
        ],
    ),
    (
        Field::TimeGroup,
        &[
            "time group",
            "schedule",
            "business hours",
            "calling hours",
            "time window",
            "hours",
        ],
    ),
    (
        Field::Dialstatus,
        &[
            "dial status",
            "dial statuses",
            "statuses",
            "call status",
            "call statuses",
            "outcomes",
        ],
    ),
    (
        Field::RetryDialstatus,
        &[
            "retry status",
            "retry statuses",
            "retry dial status",
            "retry on",
            "retry for",
            "retry outcomes",
        ],
    ),
];

fn synonyms(field: Field) -> &'static [&'static str] {
    SYNONYMS
        .iter()
        .find(|(f, _)| *f == field)
        .map_or(&[], |(_, words)| words)
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How much `header` looks like one of the names of `field`, from 0 (not at all) to 1 (one of
/// them, case and punctuation aside).
fn score(field: Field, header: &str) -> f64 {
    let squashed = normalize(header);
    if squashed.is_empty() {
        return 0.0;
    }
    let header_words = words(header);
    let own = field.api_name();
    let mut best: f64 = 0.0;
    for (i, name) in std::iter::once(own)
        .chain(synonyms(field).iter().copied())
        .enumerate()
    {
        let n = normalize(name);
        if n == squashed {
            return 1.0;
        }
        let name_words = words(name);
        // "Ring Time (sec)" holds every word of "ring time".
        if name_words.iter().all(|w| header_words.contains(w)) {
            let extra = header_words.len().saturating_sub(name_words.len()) as f64;
            best = best.max(0.9 - 0.1 * extra.min(4.0));
        }
        // A typo, or most of the field's own words ("Caller ID" for caller_id_number).
        let distance = levenshtein(&squashed, &n) as f64 / squashed.len().max(n.len()) as f64;
        if distance <= 0.34 {
            best = best.max(0.8 - distance);
        }
        if i == 0 {
            let shared = name_words
                .iter()
                .filter(|w| header_words.contains(w))
                .count();
            let share = shared as f64 / name_words.len().max(1) as f64;
            if share >= 0.5 {
                best = best.max(0.5 + 0.3 * share);
            }
        }
    }
    best
}

/// The least score at which a column is proposed.
const ENOUGH: f64 = 0.5;

/// For each of `missing`, in order, the column among `headers` (by index) that most likely
/// holds it, if one looks enough like it; `taken` columns already hold a field.
pub fn propose(missing: &[Field], headers: &[String], taken: &[usize]) -> Vec<Option<usize>> {
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for (m, &field) in missing.iter().enumerate() {
        for (col, header) in headers.iter().enumerate() {
            if taken.contains(&col) {
                continue;
            }
            let s = score(field, header);
            if s >= ENOUGH {
                candidates.push((s, m, col));
            }
        }
    }
    // Best first; on a tie, the field and column that come first.
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out = vec![None; missing.len()];
    let mut used = Vec::new();
    for (_, m, col) in candidates {
        if out[m].is_none() && !used.contains(&col) {
            out[m] = Some(col);
            used.push(col);
        }
    }
    out
}

/// The edit distance between two strings, by characters.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_teams_own_words_are_proposed_for_the_fields_they_hold() {
        let sheet = headers(&[
            "Campaign",
            "Notes",
            "Lead List",
            "IVR",
            "Ring Time",
            "Channels",
            "Retry Gaps",
            "Caller ID",
            "Retries",
            "Start",
            "End",
            "Calling Hours",
            "Dial Status",
            "Retry On",
            "Owner",
        ]);
        let got = propose(&Field::ALL, &sheet, &[]);
        for (i, field) in Field::ALL.iter().enumerate() {
            assert_eq!(got[i], Some(i), "{field} ← {:?}", got[i].map(|c| &sheet[c]));
        }
    }

    #[test]
    fn typos_and_extra_words_are_caught_and_nothing_is_proposed_twice() {
        let sheet = headers(&[
            "Tiemout",
            "Caller ID Number (DID)",
            "Start Date",
            "Start Time",
        ]);
        let fields = [
            Field::Timeout,
            Field::CallerIdNumber,
            Field::StartDateTime,
            Field::EndDateTime,
        ];
        let got = propose(&fields, &sheet, &[]);
        assert_eq!(got[0], Some(0));
        assert_eq!(got[1], Some(1));
        assert!(matches!(got[2], Some(2 | 3)));
        assert_eq!(got[3], None, "a start column is not proposed for the end");
        assert_eq!(
            propose(&[Field::Dialstatus], &headers(&["Owner", "Region"]), &[]),
            [None]
        );
        assert_eq!(
            propose(&[Field::Timeout], &headers(&["Ring Time"]), &[0]),
            [None],
            "a column that holds a field already is not proposed"
        );
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
