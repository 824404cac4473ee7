//! Which listed broadcasts this machine's ledger holds for other requests.
//!
//! A broadcast another row of this machine created — in an earlier run, last week's sheet, a
//! copy of this one — is that row's, whatever its name and however late the listing shows it:
//! when the listing lags, the baseline of a run can miss it, and then it looks new. So before
//! [`super::whose::judge`] decides, the ids a lookup listed are asked of the ledger, and one
//! held for a request other than a looked-up row's (another name, or the same name with other
//! content) is nobody's to take.

use std::collections::HashMap;
use std::path::PathBuf;

use super::whose::Sought;
use crate::ledger::store::{self, Account, Holding};

/// Where this machine's ledger is and the run's account in it, when the run keeps one.
pub type LedgerAt = Option<(PathBuf, Account)>;

/// This machine's ledger of the run's account, when the run keeps one.
#[derive(Debug, Clone, Default)]
pub struct Holders {
    at: LedgerAt,
    /// What the ledger said of each id asked so far (an empty list: it holds it for nobody).
    known: HashMap<String, Vec<Holding>>,
}

/// Read the ledger with `f`, off the async thread ([`store::blocking`]); why not, in words.
async fn in_ledger<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, String> {
    store::blocking(f)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{e:#}"))
}

/// How a row's message names a rival: another request of this machine, of other content, sent
/// under the row's name with no answer yet.
fn rival_words((run, line): (i64, u64)) -> String {
    format!("line {line} of run {run} (`bulkcast runs` shows it)")
}

impl Holders {
    pub fn new(at: LedgerAt) -> Holders {
        Holders {
            at,
            known: HashMap::new(),
        }
    }

    /// Ask the ledger about the ids of `listed` not asked yet.
    pub async fn ask<'a>(&mut self, listed: impl Iterator<Item = &'a str>) -> Result<(), String> {
        let Some((dir, account)) = self.at.clone() else {
            return Ok(());
        };
        let ids: Vec<String> = listed
            .filter(|id| !self.known.contains_key(*id))
            .map(str::to_owned)
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let asked = ids.clone();
        let held = in_ledger(move || store::holders(&dir, &account, &asked)).await?;
        for id in ids {
            self.known.entry(id).or_default();
        }
        for (id, h) in held {
            self.known.entry(id).or_default().push(h);
        }
        Ok(())
    }

    /// For each of `rows`: a request of other content this machine sent under its name with no
    /// answer yet, in words, if any (it may have made a broadcast of the name too).
    pub async fn rivals(&self, rows: &[Sought]) -> Result<Vec<Option<String>>, String> {
        let Some((dir, account)) = self.at.clone() else {
            return Ok(vec![None; rows.len()]);
        };
        let sent: Vec<(usize, (String, i64))> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let key = crate::input::name_key(&r.name).into_owned();
                r.digest.map(|d| (i, (key, d)))
            })
            .collect();
        let asked: Vec<(String, i64)> = sent.iter().map(|(_, s)| s.clone()).collect();
        let found = in_ledger(move || store::rivals(&dir, &account, &asked)).await?;
        let mut words = vec![None; rows.len()];
        for ((i, _), f) in sent.iter().zip(found) {
            words[*i] = f.map(rival_words);
        }
        Ok(words)
    }

    /// `owned` and every id the ledger holds for a request none of `rows` sent, with the line
    /// that holds it.
    pub fn owned_with(
        &self,
        owned: &HashMap<String, u64>,
        rows: &[Sought],
    ) -> HashMap<String, u64> {
        // The rows' requests by name key: what each sent, when known.
        let mut sent: HashMap<String, Vec<Option<i64>>> = HashMap::new();
        for r in rows {
            let key = crate::input::name_key(&r.name).into_owned();
            sent.entry(key).or_default().push(r.digest);
        }
        // Whether a row may have sent the request the ledger holds `h` for: its name, and its
        // content when both are known.
        let may_be = |h: &Holding| {
            sent.get(&h.key).is_some_and(|bodies| {
                bodies.iter().any(|b| match (*b, h.body) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                })
            })
        };
        let mut all = owned.clone();
        for (id, held) in &self.known {
            if let (false, Some(h)) = (held.iter().any(may_be), held.first()) {
                all.entry(id.clone()).or_insert(h.line);
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, digest: i64) -> Sought {
        Sought {
            line: 2,
            name: name.into(),
            body: None,
            digest: Some(digest),
            first_sent: None,
            namesake_before: false,
        }
    }

    fn holding(key: &str, body: Option<i64>, line: u64) -> Holding {
        Holding {
            key: key.into(),
            body,
            line,
        }
    }

    #[test]
    fn an_id_held_for_other_content_or_another_name_is_nobodys_to_take() {
        let mut h = Holders::default();
        h.known
            .insert("7".into(), vec![holding("offer 2", Some(1), 4)]);
        h.known
            .insert("8".into(), vec![holding("offer 3", Some(2), 5)]);
        h.known
            .insert("9".into(), vec![holding("offer 2", Some(2), 9)]);
        h.known.insert("10".into(), vec![]);
        h.known
            .insert("11".into(), vec![holding("offer 2", None, 6)]);
        let owned = h.owned_with(&HashMap::new(), &[row("Offer 2", 2)]);
        // Last week's "Offer 2" said something else; "offer 3" is another row's.
        assert_eq!(owned.get("7"), Some(&4));
        assert_eq!(owned.get("8"), Some(&5));
        // The row's own request, an id held for nobody, one of a ledger that kept no content.
        assert!(!owned.contains_key("9"));
        assert!(!owned.contains_key("10"));
        assert!(!owned.contains_key("11"));
    }
}
