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

/// Why a row whose name's broadcast disagrees with it is not sent again.
pub const DISAGREES: &str = "a broadcast of this name was made on the account meanwhile, but what the listing shows of it (description, list, destination, caller id, or when it was made) is not what this row sent: someone else's, or this one kept otherwise. Not sent again: check the account";

/// What a lookup found under the names it was asked about: the broadcasts that may be the
/// rows' and, by listed key, the names under which a broadcast does not agree with what the
/// row sent (someone else's).
pub type Looked = (Made, HashSet<String>);

/// Whether `name`'s broadcast is listed but does not agree with what the row sent: `others`
/// holds the key (its own, or a cut one) it would be found under before `found` holds one.
pub fn disagrees(found: &Made, others: &HashSet<String>, name: &str) -> bool {
    let keys = std::iter::once(crate::input::name_key(name).into_owned()).chain(cut_keys(name));
    keys.take_while(|k| !found.contains_key(k))
        .any(|k| others.contains(&k))
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
