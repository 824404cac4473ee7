//! What a lookup found that this run may call its own: the broadcasts made since the baseline,
//! and which of them is a row's, when its name may have been kept cut short.

use std::collections::{HashMap, HashSet};

use crate::input::{cut_keys, listed_as};

/// The broadcasts made since the baseline, by their listed name's key: their ids, in listing
/// order.
pub type Made = HashMap<String, Vec<String>>;

/// The broadcast `made` holds for `name`: under its own key, the first listed; under a key
/// cut short (a server that keeps names to a column's width), only one that no other name
/// could be: `Err(why)` when several broadcasts, or another of the names looked up
/// (`shared_cuts`), share that cut.
pub fn made_for(
    made: &Made,
    name: &str,
    shared_cuts: &HashSet<String>,
) -> Result<Option<String>, String> {
    match listed_as(made, name) {
        None => Ok(None),
        Some((ids, None)) => Ok(ids.first().cloned()),
        Some((ids, Some(cut))) if ids.len() == 1 && !shared_cuts.contains(&cut) => {
            Ok(Some(ids[0].clone()))
        }
        Some((ids, Some(cut))) => Err(format!(
            "the account keeps names cut short, and {} under \"{cut}\" (this name's first {} \
             characters) cannot be told apart from another row's: not sent again; check the \
             account",
            if ids.len() == 1 {
                "the broadcast".to_owned()
            } else {
                format!("{} broadcasts", ids.len())
            },
            cut.chars().count()
        )),
    }
}

/// The cut keys ([`crate::input::cut_keys`]) that two or more of `names` share.
pub fn shared_cuts<'a>(names: impl Iterator<Item = &'a str>) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut shared = HashSet::new();
    for name in names {
        for cut in cut_keys(name) {
            if !seen.insert(cut.clone()) {
                shared.insert(cut);
            }
        }
    }
    shared
}
