//! What was on the account before a run's first create: the broadcasts whose names the sheet
//! also uses, by name, with their ids.
//!
//! Smartflo takes no idempotency key, so a broadcast is found again by its name. A name that
//! was already on the account — last year's "Diwali offer - Pune" — must never pass for this
//! run's broadcast: during reconciliation a name only counts as found when a broadcast that is
//! not in the baseline carries it. The baseline is taken once, before the first run's first
//! create, and kept with the run's record (`<results>.baseline`) so that every `--resume`
//! judges against it. It is written beside its path, synced, renamed into place and its folder
//! synced before anything is sent.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::csvio;
use crate::input::name_key;

/// Names already on the account, by their key ([`name_key`]: as a server may keep them), each
/// with the ids that carried a name with that key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Baseline {
    ids: HashMap<String, Vec<String>>,
    /// Every id in `ids`, when the baseline holds the whole account.
    all: Option<HashSet<String>>,
    /// What the listing showed of broadcasts under the sheet's names, by id: kept (not saved)
    /// with `--skip-existing`, to tell a row's own campaign from a namesake.
    shown: HashMap<String, serde_json::Value>,
}

/// The key under which a baseline that holds every broadcast of the account (not only those
/// under the sheet's names) says so: no name has it.
const WHOLE: &str = "\u{1}the whole account";

impl Baseline {
    /// A baseline of the listed broadcasts `ids`, by name key → ids (as a listing finds them).
    pub fn new(mut ids: HashMap<String, Vec<String>>) -> Baseline {
        let all = ids
            .remove(WHOLE)
            .map(|_| ids.values().flatten().cloned().collect());
        Baseline {
            ids,
            all,
            shown: HashMap::new(),
        }
    }

    /// A baseline of every broadcast on the account, by name key → ids.
    pub fn whole(ids: HashMap<String, Vec<String>>) -> Baseline {
        let all = Some(ids.values().flatten().cloned().collect());
        Baseline {
            ids,
            all,
            shown: HashMap::new(),
        }
    }

    /// Keep what a listing showed of broadcasts, by id.
    pub fn keep_shown(&mut self, shown: HashMap<String, serde_json::Value>) {
        self.shown.extend(shown);
    }

    /// What a listing showed of the broadcast `id`, if it was kept.
    pub fn shown(&self, id: &str) -> Option<&serde_json::Value> {
        self.shown.get(id)
    }

    /// Whether it holds every broadcast that was on the account (baselines of older versions
    /// hold those under the sheet's names only).
    pub fn is_whole(&self) -> bool {
        self.all.is_some()
    }

    /// Whether the broadcast `id` was made after the baseline was taken, whatever its name;
    /// `None` when the baseline is not whole and the id is under no name it holds.
    pub fn is_new_id(&self, id: &str) -> Option<bool> {
        match &self.all {
            Some(all) => Some(!all.contains(id)),
            None if self.ids.values().flatten().any(|i| i == id) => Some(false),
            None => None,
        }
    }

    /// The ids that carried `name` (or a name with its key, or one of the forms a server may
    /// keep it in: cut at a usual width, emoji as `?`) before the run, if any did.
    pub fn existing(&self, name: &str) -> Option<Vec<String>> {
        let own = self.ids.get(name_key(name).as_ref()).into_iter().flatten();
        let kept = crate::input::kept_keys(name);
        let others = kept.iter().filter_map(|k| self.ids.get(k)).flatten();
        let ids: Vec<String> = own.chain(others).cloned().collect();
        (!ids.is_empty()).then_some(ids)
    }

    /// Whether the broadcast `id`, whose name has the key `key`, was made after the baseline
    /// was taken.
    pub fn is_new(&self, key: &str, id: &str) -> bool {
        !self
            .ids
            .get(key)
            .is_some_and(|ids| ids.iter().any(|i| i == id))
    }

    /// Names on the account before the run.
    /// Add a broadcast found on the account since, under its name's key: from now on it is
    /// an old namesake like the others.
    pub fn add(&mut self, key: String, id: String) {
        if let Some(all) = &mut self.all {
            all.insert(id.clone());
        }
        let ids = self.ids.entry(key).or_default();
        if !ids.contains(&id) {
            ids.push(id);
        }
    }

    /// Name key → ids, as the ledger keeps them (with a mark when the baseline is whole).
    pub fn entries(&self) -> HashMap<String, Vec<String>> {
        let mut ids = self.ids.clone();
        if self.is_whole() {
            ids.insert(WHOLE.to_owned(), vec![String::new()]);
        }
        ids
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Read the baseline at `path`; `None` when there is none.
    pub fn load(path: &Path) -> Result<Option<Baseline>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut csv = csvio::reader(io::BufReader::new(file), b',');
        let header = csv.headers().ok().map(|h| h.iter().collect::<Vec<_>>());
        // Baselines written before names were keyed hold the names as listed.
        let keyed = match header.as_deref() {
            Some(["key", "id"]) => true,
            Some(["name", "id"]) => false,
            _ => bail!("{} is not a bulkcast baseline", path.display()),
        };
        let mut ids: HashMap<String, Vec<String>> = HashMap::new();
        for rec in csv.records() {
            let rec = rec.with_context(|| format!("reading {}", path.display()))?;
            let (Some(name), Some(id)) = (rec.get(0), rec.get(1)) else {
                bail!(
                    "{} is damaged (a row without a name and an id)",
                    path.display()
                );
            };
            let name = csvio::unmark_text(name);
            let key = if keyed { name.into() } else { name_key(name) };
            ids.entry(key.into_owned())
                .or_default()
                .push(csvio::unmark_text(id).to_owned());
        }
        Ok(Some(Baseline::new(ids)))
    }

    /// Write the baseline to `path` so that it survives a power cut before anything is sent.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut staged = path.as_os_str().to_owned();
        staged.push(".new");
        let staged = std::path::PathBuf::from(staged);
        let write = || -> io::Result<()> {
            let mut out = csvio::writer(BufWriter::new(File::create(&staged)?));
            out.write_record(["key", "id"])?;
            let entries = self.entries();
            let mut names: Vec<_> = entries.iter().collect();
            names.sort();
            for (name, ids) in names {
                for id in ids {
                    out.write_record([&*csvio::safe_cell(name), &*csvio::safe_cell(id)])?;
                }
            }
            let file = out
                .into_inner()
                .map_err(|e| io::Error::other(e.to_string()))?
                .into_inner()
                .map_err(|e| e.into_error())?;
            file.sync_all()?;
            std::fs::rename(&staged, path)?;
            super::sync_parent(path)
        };
        write().with_context(|| format!("cannot write the baseline {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_reads_back_as_written_and_tells_old_ids_from_new() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv.baseline");
        assert_eq!(Baseline::load(&path).unwrap(), None);
        let mut ids = HashMap::new();
        ids.insert(
            "Diwali offer - Pune".to_owned(),
            vec!["17".to_owned(), "18".to_owned()],
        );
        ids.insert("=odd, name".to_owned(), vec!["3".to_owned()]);
        let b = Baseline::new(ids);
        b.save(&path).unwrap();
        let back = Baseline::load(&path).unwrap().unwrap();
        assert_eq!(back, b);
        assert!(!back.is_new("Diwali offer - Pune", "17"));
        assert!(back.is_new("Diwali offer - Pune", "3176"));
        assert!(back.is_new("never seen", "17"));
        assert_eq!(back.existing("=odd, name"), Some(vec!["3".to_owned()]));
        assert_eq!(back.existing("never seen"), None);
    }
}
