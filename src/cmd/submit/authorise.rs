//! Stage 2, before anything is sent: log in if need be, check the credentials with one cheap
//! call, take (or load) the baseline of what was on the account before the first create, stop
//! when rows carry names already there, and look up the rows an earlier run left uncertain.
//!
//! The baseline costs one listing request per 100 broadcasts on the account, at the account's
//! rate, once per results file (a `--resume` reads it back from `<results>.baseline`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{bail, Result};

use super::check::Check;
use super::listing;
use super::reconcile;
use super::state::RunState;
use crate::config::SubmitConfig;
use crate::input::InputOptions;
use crate::ledger::baseline::Baseline;
use crate::ledger::files::RunFiles;
use crate::ledger::prior::{Record, Recorded};
use crate::logging::Terminal;
use crate::net::client::ReplyKind;

/// The start-of-run lookup of uncertain rows: `None` when there were none.
pub type Account = Option<Result<HashMap<String, String>, String>>;

/// Run stage 2; the baseline, and the lookup of rows an earlier run left uncertain.
pub async fn authorise(
    cfg: &SubmitConfig,
    terminal: &Terminal,
    run: &RunState,
    check: &mut Check,
    prior: &Record,
    files: &RunFiles,
    base_url: &str,
) -> Result<(Arc<Baseline>, Account)> {
    let uncertain = check.unknown_before > 0;
    if check.to_send == 0 && !uncertain {
        return Ok((Arc::default(), None)); // nothing will be sent or looked up
    }
    if run.logs_in() {
        run.login().await?;
    }
    check_auth(run, base_url).await?;
    let loaded = if cfg.resume {
        Baseline::load(&files.baseline)?
    } else {
        None
    };
    let baseline = match loaded {
        Some(b) => b,
        None if prior.sent_anything() => bail!(
            "{} records rows that were sent, but not what was on the account before they were \
             (its baseline {} is missing), so a broadcast found by name could be an older one of \
             the same name. Nothing was sent. Start a separate run into a new results file with \
             --skip-existing",
            cfg.results.display(),
            files.baseline.display()
        ),
        None => take_baseline(cfg, run, check, files).await?,
    };
    check.names = None;
    if !baseline.is_empty() && !cfg.skip_existing && !cfg.allow_existing_names {
        refuse_existing_names(cfg, check, prior, &baseline)?;
    }
    let account = if uncertain {
        let ready_at = prior.uncertain_since().map(|t| {
            let left = (t + cfg.timeout + cfg.settle)
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            Instant::now() + left
        });
        let wanted = &check.wanted;
        let pages = cfg.max_listing_pages;
        Some(reconcile::account_at_start(run, terminal, wanted, &baseline, ready_at, pages).await)
    } else {
        None
    };
    Ok((Arc::new(baseline), account))
}

/// List the account once, keeping the broadcasts whose names the sheet uses, and write it
/// down before anything is sent.
async fn take_baseline(
    cfg: &SubmitConfig,
    run: &RunState,
    check: &Check,
    files: &RunFiles,
) -> Result<Baseline> {
    let names = check.names.as_ref();
    let wanted = |n: &str| names.is_none_or(|t| t.contains(n));
    let found = listing::list(run, &wanted, cfg.max_listing_pages)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot list the account to see which of the sheet's names are already there: {e}; \
                 nothing was sent"
            )
        })?;
    let baseline = Baseline::new(found);
    baseline.save(&files.baseline)?;
    tracing::info!(
        "{} of the sheet's names are on the account already",
        baseline.len()
    );
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
        );
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
    bail!(
        "{count} rows carry names already on the account (made before this run), so this run's \
         broadcast could not be told from the older one: {}{more}. Nothing was sent. Add \
         --skip-existing to count them as done, --allow-existing-names to create them anyway, or \
         rename them",
        shown.join("; ")
    )
}

/// One cheap authenticated call before anything else, so a bad token or a wrong address stops
/// the run with nothing created.
async fn check_auth(run: &RunState, base_url: &str) -> Result<()> {
    let Some(reply) = run.send(false, || run.client.list(1, 1)).await.reply else {
        bail!("stopped before the first request");
    };
    match reply.kind {
        ReplyKind::Ok => Ok(()),
        ReplyKind::Unauthorized => bail!(
            "the API token was rejected (HTTP 401: {}); nothing was sent. Check SMARTFLO_API_TOKEN, \
             --token-file, or SMARTFLO_EMAIL and SMARTFLO_PASSWORD",
            reply.message
        ),
        _ if reply.status == Some(403) => bail!(
            "the API token is not allowed to use the broadcast API (HTTP 403: {}); nothing was sent",
            reply.message
        ),
        _ => bail!(
            "cannot use {base_url}: the account check (listing broadcasts) answered {}; nothing \
             was sent",
            reply.message
        ),
    }
}
