//! `bulkcast runs`: what this machine's ledger holds — the runs it made, per account, and what
//! one run sent — so a person can answer "did we already send this?" without opening a
//! database.

use anyhow::{bail, Context, Result};

use crate::cli::RunsArgs;
use crate::engine::claims::{describe, local_time};
use crate::engine::plan::who_for_people;
use crate::input::name_key;
use crate::ledger::store::{self, RunInfo, State};
use crate::Exit;

/// Names of a run shown at most by `bulkcast runs N`.
const SHOWN: usize = 200;

pub fn run(args: &RunsArgs) -> Result<Exit> {
    let dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => store::default_dir()
            .context("no state directory: set BULKCAST_STATE_DIR (or HOME), or give --state-dir")?,
    };
    let runs = store::all_runs(&dir)?;
    if let Some(name) = &args.name {
        return find(&dir, &runs, name);
    }
    if let Some(id) = args.run {
        let Some(r) = runs.iter().find(|r| r.id == id) else {
            bail!(
                "the ledger {} has no run {id} (`bulkcast runs` lists them)",
                dir.join(store::FILE).display()
            );
        };
        return one(&dir, r);
    }
    if runs.is_empty() {
        println!(
            "no runs recorded in {} yet",
            dir.join(store::FILE).display()
        );
        return Ok(Exit::Success);
    }
    let mut account = None;
    for r in &runs {
        let this = (&r.account.target, &r.account.who);
        if account != Some(this) {
            println!(
                "\n{} — {}",
                r.account.target,
                who_for_people(&r.account.who)
            );
            account = Some(this);
        }
        println!(
            "  run {:<4} {}  {}  {} → {}",
            r.id,
            local_time(r.started),
            state(r),
            r.sheet,
            r.results
        );
    }
    println!(
        "\n`bulkcast runs N` shows one run; `bulkcast runs --name NAME` finds a broadcast's name"
    );
    Ok(Exit::Success)
}

/// A run's state and counts, in a few words.
fn state(r: &RunInfo) -> String {
    match (r.ended, r.live) {
        (_, true) => "running now".into(),
        (Some(_), _) => format!(
            "{} created,{} {} not, {} uncertain",
            r.created.unwrap_or(0),
            already_there(r),
            r.failed.unwrap_or(0),
            r.uncertain.unwrap_or(0)
        ),
        (None, false) => "did not finish (stopped or killed): resume it with --resume".into(),
    }
}

/// " N already on the account," when a run counted rows as already there (`--skip-existing`).
pub fn already_there(r: &RunInfo) -> String {
    match r.existing.unwrap_or(0) {
        0 => String::new(),
        n => format!(" {n} already on the account,"),
    }
}

fn one(dir: &std::path::Path, r: &RunInfo) -> Result<Exit> {
    println!("run {}", r.id);
    println!(
        "  account   {} — {}",
        r.account.target,
        who_for_people(&r.account.who)
    );
    println!("  sheet     {}", r.sheet);
    println!(
        "  results   {}{}",
        r.results,
        if r.resumed { " (resumed)" } else { "" }
    );
    println!("  started   {}", local_time(r.started));
    match r.ended {
        Some(t) => println!("  ended     {}", local_time(t)),
        None if r.live => println!("  ended     not yet: it is running now (process {})", r.pid),
        None => println!("  ended     never: the process stopped first (resume it with --resume)"),
    }
    println!("  outcome   {}", state(r));
    if let Some(why) = &r.stopped {
        println!("  stopped   {why}");
    }
    let sends = store::sends_of(dir, r.id, SHOWN + 1)?;
    if !sends.is_empty() {
        println!("  names this machine holds for this run (line, state, broadcast id):");
    }
    for c in sends.iter().take(SHOWN) {
        println!(
            "    line {:<6} {:<8} {:<10} {}",
            c.line,
            c.state.as_str(),
            c.broadcast_id.as_deref().unwrap_or("-"),
            c.name
        );
    }
    if sends.len() > SHOWN {
        println!("    … and more");
    }
    Ok(Exit::Success)
}

fn find(dir: &std::path::Path, runs: &[RunInfo], name: &str) -> Result<Exit> {
    let found = store::find_name(dir, &name_key(name))?;
    if found.is_empty() {
        println!("no run on this machine sent a broadcast named {name:?}");
        return Ok(Exit::Success);
    }
    for (account, c) in found {
        let run = runs.iter().find(|r| r.id == c.run);
        let what = match c.state {
            State::Created => format!(
                "created as broadcast {}",
                c.broadcast_id.as_deref().unwrap_or("?")
            ),
            State::Sent | State::Unknown => "sent, outcome unknown (a resume looks it up)".into(),
        };
        println!(
            "{:?} on {} — {}: {what}, by {}, line {}, at {}",
            c.name,
            account.target,
            who_for_people(&account.who),
            describe(run, c.run),
            c.line,
            local_time(c.sent_at)
        );
    }
    Ok(Exit::Success)
}
