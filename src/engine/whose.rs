//! Whose is a listed broadcast: the one place that decides whether a row's broadcast is on the
//! account. Every path that asks — the lookups during and at the end of a run, the start of a
//! `--resume`, the rows another run of this machine left uncertain — lists the account
//! (`lookup.rs`) and hands what it saw here; the verdict per row and the words of its reason
//! come from [`judge`] alone.
//!
//! **A broadcast is known by what it says, not by its name.** Servers keep names in forms no
//! rule predicts (cut to a column, characters they cannot store written as `?`, case folded),
//! and one name can stand for two campaigns. So a listed broadcast *could be* a row's when:
//!
//! - it is new: not on the account before the run's first create (the baseline), and not listed
//!   as made before the row's first request left (less [`agree::CLOCK_SKEW`]);
//! - it is nobody else's: no other row (of this run, or in this machine's ledger) was given its
//!   id;
//! - what the listing shows of it agrees with what the row sent, on every field both carry
//!   ([`agree::agrees`]);
//! - and its name is the row's in a form a server keeps ([`names_match`]) — or, when its name
//!   is no looked-up row's in any such form, the listing shows its description and the account
//!   was listed whole before the run (then it is judged by what it says alone).
//!
//! A row whose name this machine also sent for a campaign that said something else, with no
//! answer yet (a *rival*, [`Evidence::rivals`]), is found only by a broadcast that shows the
//! row's description whole: one that shows less could be the rival's.
//!
//! **One to one.** A row is given a broadcast only when that broadcast is the one that could be
//! the row's and the row is the one it could belong to. Two broadcasts that could each be the
//! row's, or two rows one broadcast could belong to, leave the row `unknown`, naming the other
//! line or the ids: never guessed.
//!
//! **Absent** is decided per row, never by counts: no new broadcast under any name could be the
//! row's, in listings that prove it ([`Evidence::proven`]: two complete listings in a row, the
//! second of which saw every broadcast the first did, taken after the row's request could no
//! longer land). Otherwise the row stays `unknown` and nothing is sent for it.

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::Value;

use super::agree;

/// A row being looked up: what it sent and when.
#[derive(Debug, Clone)]
pub struct Sought {
    pub line: u64,
    pub name: String,
    /// The JSON body it sent; `None` when it is not known (then only its name can find it).
    pub body: Option<Value>,
    /// The digest of that body as the ledger keeps it (`store::body_digest`), when known.
    pub digest: Option<i64>,
    /// When its first request left, when known.
    pub first_sent: Option<SystemTime>,
    /// A broadcast of its name was on the account before it was sent, and no baseline of that
    /// moment is at hand: only a broadcast listed as made after its first request can be its.
    pub namesake_before: bool,
}

/// The rows being looked up at the start of a run, with what they sent.
#[derive(Default)]
pub struct SentRows {
    rows: Vec<Sought>,
}

/// Rows kept with their bodies for a lookup at the start of a run; past this, a row stays
/// `unknown` until a later resume looks it up, so memory stays bounded.
pub const MAX_SENT_ROWS: usize = 10_000;

impl SentRows {
    /// Keep what the row at `line` named `name` sent (its JSON `body`, `None` when not known);
    /// `false` when [`MAX_SENT_ROWS`] are kept already.
    pub fn add(
        &mut self,
        (line, name): (u64, &str),
        body: Option<&[u8]>,
        (first_sent, namesake_before): (Option<SystemTime>, bool),
    ) -> bool {
        if self.rows.len() >= MAX_SENT_ROWS {
            return false;
        }
        let digest = body.map(crate::ledger::store::body_digest);
        let body = body.and_then(|b| serde_json::from_slice::<Value>(b).ok());
        self.rows.push(Sought {
            line,
            name: name.to_owned(),
            body,
            digest,
            first_sent,
            namesake_before,
        });
        true
    }

    /// The rows kept.
    pub fn rows(&self) -> &[Sought] {
        &self.rows
    }
}

/// A broadcast the listings showed that was not on the account before the run.
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: String,
    pub name: String,
    /// What the listing shows of it.
    pub shown: Value,
}

/// What the listings say, for [`judge`].
pub struct Evidence<'a> {
    /// Every broadcast listed that was not on the account before the run, once each.
    pub new: &'a [Listed],
    /// Ids given to rows other than those looked up (by a create's reply, or in the ledger),
    /// with the line that holds each.
    pub owned: &'a HashMap<String, u64>,
    /// For each row looked up (or none: an empty slice), another request of other content this
    /// machine sent under its name with no answer, in words: a broadcast of the name may be
    /// that one's, so only what the listing shows of it can make it the row's.
    pub rivals: &'a [Option<String>],
    /// The listings prove absence: whole, two in a row agreeing, after the grace.
    pub proven: bool,
    /// The account was listed whole before the run, so a broadcast under a name no row has may
    /// be judged by what it says ([`Listed`] holds only new ones).
    pub by_content: bool,
    /// How far the server's clock is ahead of this machine's, in seconds, when its replies have
    /// said (`Date`): a row's first request left at this machine's time plus this, on the clock
    /// the listing's `created_at` is read by.
    pub server_ahead: Option<i64>,
}

/// The verdicts of a lookup at a run's start, by the rows' names (unique within a sheet).
pub type Verdicts = HashMap<String, Whose>;

/// The verdict on one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whose {
    /// This broadcast is the row's.
    Found(String),
    /// No broadcast on the account could be the row's: it may be sent again.
    Absent,
    /// It cannot be told: why, for the results.
    Unknown(String),
}

/// Why a row stays unknown when the listings could not prove its absence.
pub const UNPROVEN: &str = "the account's listings did not settle (broadcasts came and went \
     between pages), so its absence cannot be proven: not sent again; resume to check again";

/// Judge every row of `rows` against `ev`, one verdict per row, in order.
pub fn judge(rows: &[Sought], ev: &Evidence) -> Vec<Whose> {
    let names = Keyed::new(rows.iter().map(|r| Some(r.name.as_str())));
    let says = Keyed::new(rows.iter().map(|r| {
        r.body
            .as_ref()
            .and_then(|b| b["description"].as_str())
            .filter(|d| !d.trim().is_empty())
    }));
    // For each listed broadcast, the rows it could be, by index.
    let mut could: Vec<Vec<usize>> = Vec::with_capacity(ev.new.len());
    for b in ev.new {
        if ev.owned.contains_key(&b.id) {
            could.push(Vec::new());
            continue;
        }
        let named = names.rows_of(&b.name);
        let fits = |r: &usize| fits(b, &rows[*r], ev.server_ahead);
        let rows_of_b: Vec<usize> = if named.is_empty() {
            // Under a name no row has: by what it says alone, if it shows that.
            let shown = b.shown["description"]
                .as_str()
                .filter(|d| !d.trim().is_empty());
            match shown.filter(|_| ev.by_content) {
                Some(d) => says.rows_of(d).into_iter().filter(fits).collect(),
                None => Vec::new(),
            }
        } else {
            named.into_iter().filter(fits).collect()
        };
        could.push(rows_of_b);
    }
    let mut candidates: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for (b, rs) in could.iter().enumerate() {
        for &r in rs {
            candidates[r].push(b);
        }
    }
    candidates
        .iter()
        .enumerate()
        .map(|(r, bs)| {
            let rival = match bs.as_slice() {
                [b] => rival_unseparated(ev, (r, &rows[r]), &ev.new[*b].shown),
                _ => None,
            };
            match bs.as_slice() {
                [] if ev.proven => Whose::Absent,
                [] => Whose::Unknown(UNPROVEN.into()),
                [b] if rows[r].namesake_before && !agree::made_at_known(&ev.new[*b].shown) => {
                    Whose::Unknown(format!(
                    "broadcast {id} on the account could be it, but a broadcast of this name was \
                     there before it was sent, and the listing does not say when {id} was made: \
                     which is its cannot be told; not sent again. Check the account",
                    id = ev.new[*b].id
                ))
                }
                [b] if rival.is_some() => Whose::Unknown(format!(
                    "broadcast {id} on the account could be it, or the campaign of the same name \
                     that {rival} sent with no answer (it said something else, and the listing \
                     does not show what {id} says): which is its cannot be told; not sent again. \
                     Check the account",
                    id = ev.new[*b].id,
                    rival = rival.unwrap_or_default()
                )),
                [b] if could[*b].len() == 1 => Whose::Found(ev.new[*b].id.clone()),
                [b] => {
                    let others: Vec<String> = could[*b]
                        .iter()
                        .filter(|&&o| o != r)
                        .map(|&o| rows[o].line.to_string())
                        .collect();
                    Whose::Unknown(format!(
                    "broadcast {} on the account could be this row's or line {}'s (their names \
                     or what they say cannot be told apart there): not sent again; check the \
                     account",
                    ev.new[*b].id,
                    others.join(", line ")
                ))
                }
                bs => Whose::Unknown(format!(
                    "{} broadcasts made on the account since this run began could each be this \
                 row's (ids {}): which is its cannot be told; not sent again. Check the account",
                    bs.len(),
                    bs.iter()
                        .take(5)
                        .map(|&b| ev.new[b].id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        })
        .collect()
}

/// The rival of row `r` (see [`Evidence::rivals`]), when what the listing shows of a broadcast
/// (`shown`) cannot tell the two apart: it does not show the row's description whole (none, or
/// one only loosely the row's, as a server cuts them, which the rival's may be too).
fn rival_unseparated(ev: &Evidence, row: (usize, &Sought), shown: &Value) -> Option<String> {
    let text = |v: &Value| {
        v.as_str()
            .filter(|d| !d.trim().is_empty())
            .map(str::to_owned)
    };
    let (r, row) = row;
    let sent = row.body.as_ref().and_then(|b| text(&b["description"]));
    let whole = matches!((text(&shown["description"]), sent), (Some(a), Some(b)) if agree::is_whole(&a, &b));
    ev.rivals.get(r).cloned().flatten().filter(|_| !whole)
}

/// Whether a listed name may be one of `rows`' names, as a server keeps names: the rule
/// [`judge`] applies, for a listing that keeps only such broadcasts.
pub fn named_by(rows: &[Sought]) -> impl Fn(&str) -> bool {
    let names = Keyed::new(rows.iter().map(|r| Some(r.name.as_str())));
    move |listed| !names.rows_of(listed).is_empty()
}

/// One text of each row (its name, or what it says) under [`crate::input::name_key`], indexed,
/// to find the rows a listed text could stand for without comparing it with every row: a key
/// that can only stand for itself is looked up; one that may stand for another (a `?`, or cut
/// at a usual width) is compared with each row ([`agree::keys_loosely_start`]).
struct Keyed {
    keys: Vec<Option<String>>,
    index: HashMap<String, Vec<usize>>,
}

impl Keyed {
    fn new<'a>(texts: impl Iterator<Item = Option<&'a str>>) -> Keyed {
        let keys: Vec<Option<String>> = texts
            .map(|t| t.map(|t| crate::input::name_key(t).into_owned()))
            .collect();
        let mut index: HashMap<String, Vec<usize>> = HashMap::new();
        for (r, k) in keys.iter().enumerate() {
            if let Some(k) = k {
                index.entry(k.clone()).or_default().push(r);
            }
        }
        Keyed { keys, index }
    }

    /// The rows whose text `listed` may be a form of, by index, in order.
    fn rows_of(&self, listed: &str) -> Vec<usize> {
        let key = crate::input::name_key(listed);
        if !agree::may_stand_for_another(&key) {
            return self.index.get(key.as_ref()).cloned().unwrap_or_default();
        }
        let loose = |r: &usize| {
            self.keys[*r]
                .as_deref()
                .is_some_and(|k| agree::keys_loosely_start(&key, k))
        };
        (0..self.keys.len()).filter(loose).collect()
    }
}

/// Whether what the listing shows of `b` could be what `row` sent, and made after it was sent.
fn fits(b: &Listed, row: &Sought, server_ahead: Option<i64>) -> bool {
    let shift = |t: SystemTime| {
        let by = std::time::Duration::from_secs(server_ahead.unwrap_or(0).unsigned_abs());
        match server_ahead {
            Some(s) if s < 0 => t.checked_sub(by).unwrap_or(t),
            _ => t.checked_add(by).unwrap_or(t),
        }
    };
    if !agree::not_older(&b.shown, row.first_sent.map(shift)) {
        return false;
    }
    row.body
        .as_ref()
        .is_none_or(|sent| agree::agrees(&b.shown, sent))
}

/// Whether the name `listed` may be how a server kept the name `sent` (for one pair; [`judge`]
/// indexes the rows' names to the same effect): the same under
/// [`crate::input::name_key`] (case, white space, entities, Unicode forms), with characters the
/// server could not store shown as `?` or `�`, or cut short at a usual column width.
#[cfg(test)]
pub fn names_match(listed: &str, sent: &str) -> bool {
    agree::loosely_starts(listed, sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::{Duration, UNIX_EPOCH};

    fn row(line: u64, name: &str, description: &str) -> Sought {
        Sought {
            line,
            name: name.into(),
            body: Some(json!({"name": name, "description": description, "phone_number_list": 7})),
            digest: None,
            first_sent: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            namesake_before: false,
        }
    }

    fn listed(id: &str, name: &str, description: &str) -> Listed {
        Listed {
            id: id.into(),
            name: name.into(),
            shown: json!({"id": id, "name": name, "description": description, "list_id": 7,
                          "created_at": 1_800_000_005}),
        }
    }

    fn ev<'a>(new: &'a [Listed], owned: &'a HashMap<String, u64>) -> Evidence<'a> {
        Evidence {
            new,
            owned,
            rivals: &[],
            proven: true,
            by_content: true,
            server_ahead: None,
        }
    }

    #[test]
    fn a_rival_send_of_the_name_leaves_a_broadcast_that_shows_nothing_unknown() {
        let rows = [row(2, "Offer 1", "Fireworks sale")];
        let owned = HashMap::new();
        let rivals = [Some("line 4 of run 2".to_owned())];
        let mut blind = listed("9", "Offer 1", "Fireworks sale");
        blind.shown["description"] = Value::Null;
        let mut e = ev(std::slice::from_ref(&blind), &owned);
        e.rivals = &rivals;
        let verdict = judge(&rows, &e);
        assert!(
            matches!(&verdict[0], Whose::Unknown(why) if why.contains("line 4 of run 2")),
            "{verdict:?}"
        );
        // Only loosely what it says (cut short, as the rival's may be): still unknown.
        let mut cut = listed("9", "Offer 1", "Fireworks");
        cut.shown["description"] = "Fireworks sale for the western".into();
        let long = [row(2, "Offer 1", "Fireworks sale for the western region")];
        let mut e = ev(std::slice::from_ref(&cut), &owned);
        e.rivals = &rivals;
        assert!(matches!(&judge(&long, &e)[0], Whose::Unknown(_)));
        e.rivals = &[];
        assert_eq!(judge(&long, &e), [Whose::Found("9".into())]);
        // What it says tells them apart; and with no rival, its name and time do.
        let new = [listed("9", "Offer 1", "Fireworks sale")];
        let mut e = ev(&new, &owned);
        e.rivals = &rivals;
        assert_eq!(judge(&rows, &e), [Whose::Found("9".into())]);
        let e = ev(std::slice::from_ref(&blind), &owned);
        assert_eq!(judge(&rows, &e), [Whose::Found("9".into())]);
    }

    #[test]
    fn after_an_old_namesake_only_a_broadcast_listed_as_made_later_is_the_rows() {
        let mut rows = [row(2, "Offer 1", "Fireworks sale")];
        rows[0].namesake_before = true;
        let owned = HashMap::new();
        let new = [listed("9", "Offer 1", "Fireworks sale")];
        assert_eq!(judge(&rows, &ev(&new, &owned)), [Whose::Found("9".into())]);
        // A listing that does not say when it was made cannot tell it from the old one.
        let mut untimed = listed("9", "Offer 1", "Fireworks sale");
        untimed.shown["created_at"] = Value::Null;
        let verdict = judge(&rows, &ev(std::slice::from_ref(&untimed), &owned));
        assert!(
            matches!(&verdict[0], Whose::Unknown(why) if why.contains("does not say when 9 was made")),
            "{verdict:?}"
        );
        rows[0].namesake_before = false;
        let verdict = judge(&rows, &ev(std::slice::from_ref(&untimed), &owned));
        assert_eq!(
            verdict,
            [Whose::Found("9".into())],
            "a baseline separates them"
        );
    }

    #[test]
    fn a_row_is_found_by_what_it_says_under_a_name_kept_otherwise() {
        let rows = [
            row(2, "Offer 🎆 1", "Fireworks sale"),
            row(3, "Offer 2", "Other"),
        ];
        let new = [listed("9", "Offer ? 1", "Fireworks sale")];
        let owned = HashMap::new();
        assert_eq!(
            judge(&rows, &ev(&new, &owned)),
            [Whose::Found("9".into()), Whose::Absent]
        );
        // A name no rule predicts: found by its description alone.
        let new = [listed("9", "BRDCST-0001", "Fireworks sale")];
        assert_eq!(judge(&rows, &ev(&new, &owned))[0], Whose::Found("9".into()));
    }

    #[test]
    fn a_namesake_that_says_something_else_is_not_the_rows() {
        let rows = [row(2, "Diwali", "Festive offer")];
        let new = [listed("9", "Diwali", "Another team's reminder")];
        let owned = HashMap::new();
        assert_eq!(judge(&rows, &ev(&new, &owned)), [Whose::Absent]);
        let mut unproven = ev(&new, &owned);
        unproven.proven = false;
        assert_eq!(judge(&rows, &unproven), [Whose::Unknown(UNPROVEN.into())]);
    }

    #[test]
    fn one_broadcast_is_given_to_one_row_at_most() {
        // The server keeps both names as "Offer ? 1"; both rows say the same.
        let rows = [row(2, "Offer ? 1", "Sale"), row(3, "Offer 🎆 1", "Sale")];
        let new = [listed("9", "Offer ? 1", "Sale")];
        let mut owned = HashMap::new();
        let v = judge(&rows, &ev(&new, &owned));
        assert!(
            matches!(&v[0], Whose::Unknown(m) if m.contains("line 3")),
            "{v:?}"
        );
        assert!(
            matches!(&v[1], Whose::Unknown(m) if m.contains("line 2")),
            "{v:?}"
        );
        // Row 3 was given 9 by its reply: row 2 has nothing on the account.
        owned.insert("9".to_owned(), 3);
        assert_eq!(judge(&rows[..1], &ev(&new, &owned)), [Whose::Absent]);
    }

    #[test]
    fn two_broadcasts_that_could_each_be_the_rows_leave_it_unknown() {
        let rows = [row(2, "Diwali", "Sale")];
        let new = [
            listed("9", "Diwali", "Sale"),
            listed("10", "diwali", "Sale"),
        ];
        let owned = HashMap::new();
        let v = judge(&rows, &ev(&new, &owned));
        assert!(
            matches!(&v[0], Whose::Unknown(m) if m.contains("9, 10")),
            "{v:?}"
        );
    }

    #[test]
    fn a_broadcast_made_before_the_row_was_sent_is_not_its() {
        let rows = [row(2, "Diwali", "Sale")];
        let mut old = listed("9", "Diwali", "Sale");
        old.shown["created_at"] = json!(1_700_000_000);
        let owned = HashMap::new();
        assert_eq!(judge(&rows, &ev(&[old], &owned)), [Whose::Absent]);
    }

    #[test]
    fn without_a_whole_baseline_only_names_find_a_row() {
        let rows = [row(2, "Diwali", "Sale")];
        let new = [listed("9", "Something else", "Sale")];
        let owned = HashMap::new();
        let mut e = ev(&new, &owned);
        e.by_content = false;
        assert_eq!(judge(&rows, &e), [Whose::Absent]);
    }

    #[test]
    fn names_kept_otherwise_match() {
        assert!(names_match("offer ? 1", "Offer 🎆 1"));
        assert!(names_match("Diwali  Offer", "diwali offer"));
        assert!(names_match(
            "Diwali offer - Pune ",
            "Diwali offer - Pune and Nashik"
        ));
        assert!(
            !names_match("Diwali", "Diwali offer"),
            "not a column's width"
        );
        assert!(
            !names_match("Campaign 1", "Campaign 10"),
            "not a column's width"
        );
        assert!(!names_match("Offer 2", "Offer 1"));
        let long = "दिवाली ऑफ़र पुणे और नासिक के लिए";
        let mut at = 50;
        while !long.is_char_boundary(at) {
            at -= 1;
        }
        assert!(names_match(&long[..at], long), "cut at 50 bytes");
        assert!(
            names_match(&format!("{}\u{FFFD}", &long[..at]), long),
            "and a half character shown"
        );
    }
}
