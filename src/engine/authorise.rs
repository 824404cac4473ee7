//! Stage 2, before anything is sent: log in if need be, check the credentials with one cheap
//! call, take (or load) the baseline of what was on the account before the first create, stop
//! when rows carry names already there, and look up the rows an earlier run left uncertain.
//!
//! The baseline costs one listing request per 100 broadcasts on the account, at the account's
//! rate, once per results file; it is kept in the ledger for the results file's path (a
//! `--resume` of a record of an older version reads it from `<results>.baseline`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::time::Instant;

use anyhow::{bail, Result};
use serde_json::Value;

use super::agree;
use super::check::Check;
use super::errors::{AccountError, ListingError};
use super::events::{Call, Event};
use super::listing::{self, Keep};
use super::lookup;
use super::sender::{FirstSlot, Sender};
use super::stop::Stop;
use crate::config::SubmitConfig;
use crate::input::InputOptions;
use crate::ledger::baseline::Baseline;
use crate::ledger::files::RunFiles;
use crate::ledger::prior::{Record, Recorded};
use crate::ledger::store;
use crate::net::client::ReplyKind;

/// The start-of-run lookup of uncertain rows: `None` when there were none.
pub type Account = Option<Result<super::whose::Verdicts, ListingError>>;
/// The start-of-run lookup of names another run left uncertain: every id listed, by name key
/// (and the names whose broadcasts do not agree with what was sent).
pub type Listed = Option<Result<super::whose::Verdicts, ListingError>>;

/// What stage 2 works with.
pub struct Stage<'a> {
    pub cfg: &'a SubmitConfig,
    pub sender: &'a Sender,
    pub stop: &'a Stop,
    pub prior: &'a Record,
    pub files: &'a RunFiles,
    pub base_url: &'a str,
    /// This machine's ledger and the account in it, when the run keeps one.
    pub ledger: super::held::LedgerAt,
}

/// Run stage 2; the baseline, the lookup of rows an earlier run left uncertain, and that of
/// names another run of this machine left uncertain.
pub async fn authorise(
    at: Stage<'_>,
    check: &mut Check,
) -> Result<(Arc<Baseline>, Account, Listed)> {
    let Stage {
        cfg,
        sender,
        stop,
        prior,
        files,
        base_url,
        ledger,
    } = at;
    let other = &check.other_content;
    if other.count > 0 && !cfg.skip_existing && !cfg.allow_existing_names {
        let more = other.count.saturating_sub(other.shown.len() as u64);
        bail!(AccountError::LedgerNamesakes {
            count: other.count,
            shown: other.shown.join("; "),
            more: if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
        });
    }
    let uncertain = !check.wanted.is_empty() || !check.wanted_claimed.is_empty();
    if check.to_send == 0 && !uncertain {
        check.names = None; // its memory is the sheet's: nothing will be listed
        return Ok((Arc::default(), None, None)); // nothing will be sent or looked up
    }
    if sender.logs_in() {
        sender.login().await?;
    }
    check_auth(sender, base_url).await?;
    let loaded = if cfg.resume {
        load_baseline(cfg, files)?
    } else {
        None
    };
    let baseline = match loaded {
        Some(b) if check.to_send > 0 => look_again(cfg, sender, check, b).await?,
        Some(b) => b,
        None if prior.sent_anything() => bail!(AccountError::NoBaseline {
            results: cfg.results.clone(),
            baseline: files.baseline.clone(),
        }),
        None => take_baseline(cfg, sender, check, files).await?,
    };
    check.names = None;
    if !baseline.is_empty() && !cfg.skip_existing && !cfg.allow_existing_names {
        refuse_existing_names(cfg, check, prior, &baseline)?;
    }
    let pages = cfg.max_listing_pages;
    let account = if !check.wanted.is_empty() {
        let ready_at = prior.uncertain_since().map(|t| {
            let left = (t + cfg.timeout + cfg.settle)
                .duration_since(crate::clock::now())
                .unwrap_or_default();
            Instant::now() + left
        });
        let sent = &check.sent;
        let at = (sender, ledger.clone());
        Some(lookup::account_at_start(at, stop, sent, &baseline, ready_at, pages).await)
    } else {
        None
    };
    let listed = if check.wanted_claimed.is_empty() {
        None
    } else {
        let at = UNIX_EPOCH
            + Duration::from_millis(u64::try_from(check.claimed_ready_ms).unwrap_or(0))
            + cfg.settle;
        let left = at.duration_since(crate::clock::now()).unwrap_or_default();
        let ready_at = Some(Instant::now() + left);
        let sent = &check.sent_claimed;
        Some(lookup::listed_at_start((sender, ledger), stop, sent, ready_at, pages).await)
    };
    Ok((Arc::new(baseline), account, listed))
}

/// The baseline of the results file's first run: the ledger's, else (a record of an older
/// version) the file beside the results.
fn load_baseline(cfg: &SubmitConfig, files: &RunFiles) -> Result<Option<Baseline>> {
    if let Some(dir) = &cfg.state_dir {
        if let Some(ids) = store::load_baseline(dir, &store::path_key(&cfg.results))? {
            return Ok(Some(Baseline::new(ids)));
        }
    }
    Baseline::load(&files.baseline)
}

/// List the account once, keeping every broadcast's name and id (a row's broadcast is then
/// known as new whatever name the server keeps it under), and write it down before anything
/// is sent.
async fn take_baseline(
    cfg: &SubmitConfig,
    sender: &Sender,
    check: &Check,
    files: &RunFiles,
) -> Result<Baseline> {
    let (found, shown, settled) = list_names(cfg, sender, check, &|_| true).await?;
    let names = check.names.as_ref();
    let existing = found
        .keys()
        .filter(|key| names.is_none_or(|t| t.contains(key)))
        .count();
    // Listings that never agreed may have missed a broadcast: then the baseline is not taken
    // as the whole account (a broadcast under a name no row has is not judged by what it says).
    let mut baseline = if settled {
        Baseline::whole(found)
    } else {
        tracing::warn!(
            "the account's listings kept changing while it was noted (broadcasts deleted between pages); rows with no answer will be found by their names only"
        );
        Baseline::new(found)
    };
    // In the ledger, not beside the results: the results file is the user's alone.
    match &cfg.state_dir {
        Some(dir) => {
            store::save_baseline(dir, &store::path_key(&cfg.results), &baseline.entries())?
        }
        None => baseline.save(&files.baseline)?,
    }
    baseline.keep_shown(shown);
    sender.events().emit(Event::Baseline { existing }).await;
    Ok(baseline)
}

/// List the whole account, keeping the name and id of every broadcast `wanted` accepts (by
/// name key → ids), and with `--skip-existing` what the listing shows of those under the
/// sheet's names (by id): a row counts as already there only if one of them says what it says.
async fn list_names(
    cfg: &SubmitConfig,
    sender: &Sender,
    check: &Check,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<(listing::Found, HashMap<String, Value>, bool), AccountError> {
    let names = check.names.as_ref();
    let keep = |name: &str, _: &str| {
        if cfg.skip_existing && names.is_none_or(|t| t.contains(name)) {
            Keep::Fields(agree::COMPARED)
        } else if wanted(name) {
            Keep::Name
        } else {
            Keep::No
        }
    };
    let list = || async {
        listing::list_kept(sender, &keep, cfg.max_listing_pages)
            .await
            .map_err(AccountError::Baseline)
    };
    // Settled as a lookup's absence is (`lookup.rs`): a listing whose pages shifted while it
    // was read (a broadcast deleted before them) skips one, which a second listing that misses
    // nothing the first saw proves did not happen. What any listing saw is kept.
    let (mut kept, mut seen) = list().await?;
    let mut ids: HashSet<String> = kept.iter().map(|b| b.id.clone()).collect();
    let mut settled = false;
    for _ in 1..BASELINE_LISTINGS {
        let (more, next) = list().await?;
        kept.extend(more.into_iter().filter(|b| ids.insert(b.id.clone())));
        settled = seen.is_subset(&next);
        seen = next;
        if settled {
            break;
        }
    }
    let (mut found, mut shown) = (listing::Found::new(), HashMap::new());
    for b in kept {
        let key = crate::input::name_key(&b.name).into_owned();
        if !b.shown.is_null() {
            shown.insert(b.id.clone(), b.shown);
        }
        found.entry(key).or_default().push(b.id);
    }
    Ok((found, shown, settled))
}

/// Complete listings taken for a baseline, at most, waiting for two in a row to agree.
const BASELINE_LISTINGS: u32 = 4;

/// The account's word at a resume's start: list it again, and take every broadcast under the
/// sheet's names that appeared since the baseline, and that is not this machine's (the ledger's,
/// or a row this record left uncertain), as an old namesake: someone else made it.
async fn look_again(
    cfg: &SubmitConfig,
    sender: &Sender,
    check: &Check,
    mut baseline: Baseline,
) -> Result<Baseline> {
    let names = check.names.as_ref();
    let sheet = |n: &str| names.is_none_or(|t| t.contains(n));
    let (found, shown, _) = list_names(cfg, sender, check, &sheet).await?;
    baseline.keep_shown(shown);
    let mut appeared = 0;
    for (key, ids) in found {
        let fp = crate::input::key_fingerprint(&key);
        if check.held.contains(&fp) || check.wanted.contains(&fp) {
            continue;
        }
        for id in ids {
            if baseline.is_new(&key, &id) {
                baseline.add(key.clone(), id);
                appeared += 1;
            }
        }
    }
    if appeared > 0 {
        tracing::info!(
            "{appeared} broadcasts under the sheet's names appeared on the account since the first run's start, made elsewhere"
        );
    }
    Ok(baseline)
}

/// Stop before sending when rows to be sent carry names already on the account (other than
/// rows this record made), naming them: their broadcast could not be told from an older one.
fn refuse_existing_names(
    cfg: &SubmitConfig,
    check: &Check,
    prior: &Record,
    baseline: &Baseline,
) -> Result<()> {
    let opts = InputOptions {
        known_duplicates: Some(Arc::new(check.duplicates.clone())),
        ..cfg.input_opts.clone()
    };
    let (mut rows, _) = check.watched.reopen(&opts)?;
    let (mut shown, mut count) = (Vec::new(), 0u64);
    while let Some(row) = rows.next_row() {
        let row = row?;
        let ours = matches!(
            prior.kind(row.line),
            Some(Recorded::Created | Recorded::Unknown)
        ) || check
            .held
            .contains(&crate::input::key_fingerprint(&row.name));
        let Some(ids) = baseline
            .existing(&row.name)
            .filter(|_| row.is_valid() && !ours)
        else {
            continue;
        };
        count += 1;
        if shown.len() < 10 {
            shown.push(format!(
                "line {} {:?} (broadcast {})",
                row.line,
                row.name,
                ids.join(", ")
            ));
        }
    }
    if count == 0 {
        return Ok(());
    }
    let more = if count > shown.len() as u64 {
        format!(" and {} more", count - shown.len() as u64)
    } else {
        String::new()
    };
    bail!(AccountError::ExistingNames {
        count,
        shown: shown.join("; "),
        more,
    })
}

/// One cheap authenticated call before anything else, so a bad token or a wrong address stops
/// the run with nothing created.
pub(super) async fn check_auth(sender: &Sender, base_url: &str) -> Result<(), AccountError> {
    let list = || sender.client.list(1, 1);
    let sent = sender
        .send(Call::List { page: 1 }, FirstSlot::Wait, list)
        .await;
    let Some(reply) = sent.reply else {
        return Err(AccountError::StoppedBeforeFirst);
    };
    match reply.kind {
        ReplyKind::Ok => Ok(()),
        ReplyKind::Unauthorized => Err(AccountError::TokenRejected(reply.message)),
        _ if reply.status == Some(403) => Err(AccountError::Forbidden(reply.message)),
        _ => Err(AccountError::Unusable {
            base_url: base_url.to_owned(),
            message: reply.message,
        }),
    }
}
