//! The runs this machine made, from the ledger (the page's and the terminal's alike), and
//! continuing one that did not finish: `bulkcast submit SHEET -o RESULTS --resume`, which reads
//! the sheet as the stopped run did.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use super::runs::{self, Plan, SendTo};
use super::App;
use crate::engine::claims::local_time;
use crate::engine::plan::who_for_people;
use crate::ledger::outcome::SIMULATION;
use crate::ledger::store::{self, RunInfo};

/// Runs listed at most, newest first.
const LISTED: usize = 50;

#[derive(Serialize)]
pub struct Earlier {
    pub id: i64,
    pub started: String,
    pub sheet: String,
    pub results: String,
    pub account: String,
    pub rehearsal: bool,
    /// In words: running, its counts, or that it did not finish.
    pub state: String,
    pub can_continue: bool,
    pub has_results: bool,
}

/// The runs of the ledger, newest first.
pub fn list(app: &App) -> Result<Vec<Earlier>> {
    let mut runs = store::all_runs(&app.state_dir)?;
    runs.reverse();
    // A results file continued by later runs is listed once, at its latest run.
    let mut seen = std::collections::HashSet::new();
    runs.retain(|r| seen.insert(r.results.clone()));
    Ok(runs
        .into_iter()
        .take(LISTED)
        .map(|r| Earlier {
            id: r.id,
            started: local_time(r.started),
            sheet: r.sheet.clone(),
            results: r.results.clone(),
            account: if r.account.target == SIMULATION {
                "rehearsal (built-in simulation)".into()
            } else {
                format!("{} — {}", r.account.target, who_for_people(&r.account.who))
            },
            rehearsal: r.account.target == SIMULATION,
            state: state(&r),
            can_continue: unfinished(&r) && !r.live && Path::new(&r.sheet).is_file(),
            has_results: Path::new(&r.results).is_file(),
        })
        .collect())
}

/// A run that did not get to its end: killed, closed, or stopped before every row was sent.
fn unfinished(r: &RunInfo) -> bool {
    r.ended.is_none() || r.stopped.is_some()
}

fn state(r: &RunInfo) -> String {
    match (r.ended, r.live) {
        (_, true) => "running now".into(),
        (Some(_), _) if r.stopped.is_some() => format!(
            "stopped ({}): {} created,{} {} not created, {} with no known outcome; it can be continued",
            r.stopped.as_deref().unwrap_or(""),
            r.created.unwrap_or(0),
            crate::cmd::runs::already_there(r),
            r.failed.unwrap_or(0),
            r.uncertain.unwrap_or(0)
        ),
        (Some(_), _) => format!(
            "{} created,{} {} not created, {} with no known outcome",
            r.created.unwrap_or(0),
            crate::cmd::runs::already_there(r),
            r.failed.unwrap_or(0),
            r.uncertain.unwrap_or(0)
        ),
        (None, false) => "did not finish (stopped, closed or killed): it can be continued".into(),
    }
}

/// The ledger's run `id`.
pub fn find(app: &App, id: i64) -> Result<RunInfo> {
    let runs = store::all_runs(&app.state_dir)?;
    match runs.into_iter().find(|r| r.id == id) {
        Some(r) => Ok(r),
        None => bail!("this machine's ledger has no run {id}"),
    }
}

/// Continue the ledger's run `id` where it stopped; the page's run id.
pub async fn continue_run(app: &Arc<App>, id: i64, to: &SendTo) -> Result<String> {
    let r = find(app, id)?;
    if r.live {
        bail!("run {id} is still running (process {})", r.pid);
    }
    if !unfinished(&r) {
        bail!("run {id} finished: every row has its result; fix the failed rows and send them as a new sheet");
    }
    let sheet = PathBuf::from(&r.sheet);
    if !sheet.is_file() {
        bail!(
            "the run's sheet {} is gone: it cannot be continued from here",
            r.sheet
        );
    }
    let rehearsal = r.account.target == SIMULATION;
    if rehearsal != (to.target == "rehearsal") {
        bail!(
            "run {id} was {}: continue it there",
            if rehearsal {
                "a rehearsal"
            } else {
                "sent to an account"
            }
        );
    }
    let title = sheet
        .file_name()
        .map_or(r.sheet.clone(), |n| n.to_string_lossy().into_owned());
    let workbook = super::sheets::is_workbook_file(&sheet);
    let (_, failed) = runs::new_files(app, &title, rehearsal, workbook)?;
    let plan = Plan {
        title,
        input: sheet,
        sheet_flags: Vec::new(),
        results: PathBuf::from(&r.results),
        failed,
        resume: true,
    };
    runs::start(app, plan, to).await
}
