//! The ids the server gave this run's creates, to catch one id given to two rows.
//!
//! Two broadcasts never share an id, so a reply naming an id that an earlier reply of this run
//! named is a server fault (a gateway replaying one reply, a backend handing out a stale id):
//! neither reply can be believed, and both rows are looked up on the account by name, as rows
//! with no answer are. The earlier row may have ended already; its outcome is then withdrawn
//! ([`super::events::Event::Doubted`]) and decided again by the lookup.
//!
//! The last [`REMEMBERED`] created rows are kept, with their bodies (for the lookup's agreement
//! check), so memory stays bounded whatever the input's size; an id repeated from further back
//! is not caught within the run.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// How many of the latest created rows are kept to compare ids with.
pub const REMEMBERED: usize = 4096;

enum Held<T> {
    /// The one row given this id so far.
    First(Box<T>),
    /// Given to two rows or more already: both are being looked up.
    Doubted,
}

struct Window<T> {
    by_id: HashMap<String, Held<T>>,
    order: VecDeque<String>,
}

/// What [`Ids::note`] found.
pub enum Repeat<T> {
    /// No other row of this run (within the window) was given this id.
    New,
    /// Another row was: that row, when it had not been doubted already.
    Again(Option<Box<T>>),
}

/// The latest created rows (each a `T`: what is needed to look it up), by the id given.
pub struct Ids<T>(Mutex<Window<T>>);

impl<T> Default for Ids<T> {
    fn default() -> Self {
        Ids(Mutex::new(Window {
            by_id: HashMap::new(),
            order: VecDeque::new(),
        }))
    }
}

impl<T> Ids<T> {
    /// `row` was created, the server says, as `id`. When no other row was given it, `on_new`
    /// runs before any other row can be told of this one (its `created` is recorded first).
    pub fn note(&self, id: &str, row: T, on_new: impl FnOnce()) -> Repeat<T> {
        let mut w = crate::lock(&self.0);
        if let Some(held) = w.by_id.get_mut(id) {
            return match std::mem::replace(held, Held::Doubted) {
                Held::First(earlier) => Repeat::Again(Some(earlier)),
                Held::Doubted => Repeat::Again(None),
            };
        }
        if w.order.len() >= REMEMBERED {
            if let Some(oldest) = w.order.pop_front() {
                w.by_id.remove(&oldest);
            }
        }
        w.by_id.insert(id.to_owned(), Held::First(Box::new(row)));
        w.order.push_back(id.to_owned());
        on_new();
        Repeat::New
    }
}

impl<T> Ids<T> {
    /// Every id held by one row (not doubted) within the window, with `line`'s answer for it.
    pub fn holders(&self, line: impl Fn(&T) -> u64) -> HashMap<String, u64> {
        let w = crate::lock(&self.0);
        w.by_id
            .iter()
            .filter_map(|(id, held)| match held {
                Held::First(row) => Some((id.clone(), line(row))),
                Held::Doubted => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_given_twice_hands_back_the_first_row_once() {
        let ids = Ids::default();
        assert!(matches!(ids.note("7", 0, || {}), Repeat::New));
        assert!(matches!(ids.note("8", 1, || {}), Repeat::New));
        match ids.note("7", 2, || {}) {
            Repeat::Again(Some(first)) => assert_eq!(*first, 0),
            _ => panic!("the first holder of 7 is handed back"),
        }
        assert!(
            matches!(ids.note("7", 3, || {}), Repeat::Again(None)),
            "a third row with 7 is doubted too, the first is not handed back twice"
        );
    }

    #[test]
    fn the_window_is_bounded() {
        let ids = Ids::default();
        for i in 0..=REMEMBERED as u64 {
            assert!(matches!(ids.note(&i.to_string(), i, || {}), Repeat::New));
        }
        let w = crate::lock(&ids.0);
        assert_eq!(w.by_id.len(), REMEMBERED);
        assert!(!w.by_id.contains_key("0"), "the oldest went first");
    }
}
