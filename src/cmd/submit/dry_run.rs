//! `submit --dry-run`: everything checked, nothing created. Offline, the sheet's rows; with
//! credentials, also the account: the credentials themselves, the rows whose names are already
//! on it, and each `ivr||ID` against the account's IVRs (named beside their ids). `--bodies`
//! writes every body that would be sent, one JSON object a line.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use anyhow::Result;

use crate::config::SubmitConfig;
use crate::engine::check::Check;
use crate::engine::{Endpoint, Session};
use crate::input::{name_key, InputOptions};
use crate::logging::Terminal;
use crate::request::Destination;
use crate::Exit;

/// At most this many rows are named per kind of problem.
const SHOWN: usize = 10;

/// What the second pass over the sheet found, against the account when there is one.
#[derive(Default)]
struct Found {
    /// Rows whose names are on the account: (line, name, ids).
    on_account: Vec<(u64, String, Vec<String>)>,
    on_account_count: u64,
    /// Rows naming an IVR the account lacks: (line, id).
    unknown_ivr: Vec<(u64, u64)>,
    unknown_ivr_count: u64,
    /// IVRs used, by id: how many rows.
    ivrs_used: BTreeMap<u64, u64>,
    bodies: u64,
}

/// The dry run's report; its exit code.
pub fn report(cfg: &SubmitConfig, check: &Check, terminal: &Terminal) -> Result<Exit> {
    for (line, msg) in &check.first_invalid {
        terminal.say(&format!("line {line}: {msg}"));
    }
    if check.invalid > check.first_invalid.len() as u64 {
        terminal.say(&format!(
            "… and {} more invalid rows: `bulkcast validate {}` lists them all",
            check.invalid - check.first_invalid.len() as u64,
            cfg.input.display()
        ));
    }
    let account = match &cfg.dry_run_account {
        Some((base_url, auth)) => Some(ask_account(cfg, base_url, auth.clone())?),
        None => None,
    };
    let ivrs: Option<HashMap<u64, String>> = account.as_ref().and_then(|a| match &a.1 {
        Ok(list) => Some(
            list.iter()
                .filter_map(|(id, name)| Some((id.parse().ok()?, name.clone())))
                .collect(),
        ),
        Err(_) => None,
    });
    let names = account.as_ref().map(|a| &a.0);
    let found = second_pass(cfg, check, names, ivrs.as_ref())?;
    let problems = say(
        cfg,
        check,
        &found,
        account.as_ref(),
        ivrs.as_ref(),
        terminal,
    );
    Ok(if check.invalid == 0 && problems == 0 {
        Exit::Success
    } else {
        Exit::SomeFailed
    })
}

type Account = (
    HashMap<String, Vec<String>>,
    Result<Vec<(String, String)>, String>,
);

/// Log in, check the credentials, list the account's broadcasts (by name key) and its IVRs.
fn ask_account(cfg: &SubmitConfig, base_url: &str, auth: crate::secret::Auth) -> Result<Account> {
    let endpoint = Endpoint {
        base_url: base_url.to_owned(),
        auth,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let session = Session::open(&endpoint, cfg.rate, cfg.timeout).await?;
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for b in session.broadcasts(cfg.max_listing_pages).await? {
            names
                .entry(name_key(&b.name).into_owned())
                .or_default()
                .push(b.id);
        }
        Ok((names, session.ivrs().await))
    })
}

/// Read the sheet again: its rows' names against the account, its IVRs, and the bodies.
fn second_pass(
    cfg: &SubmitConfig,
    check: &Check,
    names: Option<&HashMap<String, Vec<String>>>,
    ivrs: Option<&HashMap<u64, String>>,
) -> Result<Found> {
    let mut bodies = match &cfg.bodies {
        Some(path) => Some(std::io::BufWriter::new(crate::output::new_file(
            path, "--bodies",
        )?)),
        None => None,
    };
    let mut found = Found::default();
    if names.is_none() && ivrs.is_none() && bodies.is_none() {
        return Ok(found);
    }
    let opts = InputOptions {
        known_duplicates: Some(Arc::new(check.duplicates.clone())),
        ..cfg.input_opts.clone()
    };
    let (mut rows, _) = check.watched.reopen(&opts)?;
    while let Some(row) = rows.next_row() {
        let row = row?;
        let Ok(req) = &row.verdict else { continue };
        if let Some(ids) = names.and_then(|n| n.get(name_key(&row.name).as_ref())) {
            found.on_account_count += 1;
            if found.on_account.len() < SHOWN {
                found
                    .on_account
                    .push((row.line, row.name.clone(), ids.clone()));
            }
        }
        if let Destination::Ivr(id) = req.destination {
            *found.ivrs_used.entry(id).or_default() += 1;
            if ivrs.is_some_and(|known| !known.contains_key(&id)) {
                found.unknown_ivr_count += 1;
                if found.unknown_ivr.len() < SHOWN {
                    found.unknown_ivr.push((row.line, id));
                }
            }
        }
        if let Some(out) = &mut bodies {
            out.write_all(&req.to_body())?;
            out.write_all(b"\n")?;
            found.bodies += 1;
        }
    }
    if let Some(mut out) = bodies {
        out.flush()?;
    }
    Ok(found)
}

/// Say what was found; the number of problems a real run would stop at or fail on.
fn say(
    cfg: &SubmitConfig,
    check: &Check,
    found: &Found,
    account: Option<&Account>,
    ivrs: Option<&HashMap<u64, String>>,
    terminal: &Terminal,
) -> u64 {
    let mut problems = 0;
    for (line, name, ids) in &found.on_account {
        terminal.say(&format!(
            "line {line}: {name:?} is already on the account (id {})",
            ids.join(", ")
        ));
    }
    if found.on_account_count > 0 {
        let then = if cfg.skip_existing {
            "with --skip-existing they would be recorded as there, not sent"
        } else if cfg.allow_existing_names {
            "with --allow-existing-names they would be created again"
        } else {
            problems += found.on_account_count;
            "a real run would stop before sending: add --skip-existing to count them as done, or --allow-existing-names to create them anyway"
        };
        terminal.say(&format!(
            "{} already on the account; {then}",
            crate::plural(found.on_account_count, "row's name is", "rows' names are")
        ));
    }
    for (line, id) in &found.unknown_ivr {
        terminal.say(&format!(
            "line {line}: destination ivr||{id} is not an IVR of this account"
        ));
    }
    problems += found.unknown_ivr_count;
    if let Some(known) = ivrs {
        let used: Vec<String> = found
            .ivrs_used
            .iter()
            .map(|(id, n)| match known.get(id) {
                Some(name) => format!(
                    "ivr||{id} \"{name}\" ({})",
                    crate::plural(*n, "row", "rows")
                ),
                None => format!(
                    "ivr||{id} (not on the account; {})",
                    crate::plural(*n, "row", "rows")
                ),
            })
            .collect();
        if !used.is_empty() {
            terminal.say(&format!("IVRs the rows name: {}", used.join(", ")));
        }
    }
    if let Some(Err(e)) = account.map(|a| &a.1) {
        terminal.say(&format!(
            "the account's IVRs could not be listed ({e}): destinations not checked"
        ));
    }
    if let Some(path) = &cfg.bodies {
        terminal.say(&format!(
            "{} written to {} (one JSON object a line)",
            crate::plural(found.bodies, "body", "bodies"),
            path.display()
        ));
    }
    let mut earlier = String::new();
    if check.done_before + check.unknown_before > 0 {
        earlier = format!(
            "; {} created by an earlier run would be skipped, {} with no known outcome would be looked up first",
            check.done_before, check.unknown_before
        );
    }
    let against = match &cfg.dry_run_account {
        Some((url, _)) => format!("checked against the account at {url} (credentials accepted)"),
        None => "checked offline: no credentials, so not against the account (set SMARTFLO_API_TOKEN to check names and IVRs there)".into(),
    };
    terminal.say(&format!(
        "dry run, {against}: {}; {} would be sent, {} invalid would not{earlier}; nothing was sent",
        crate::plural(check.rows, "row", "rows"),
        check.to_send,
        check.invalid
    ));
    problems
}
