//! `bulkcast submit` on the terminal: the engine ([`crate::engine`]) runs the job, and this
//! command is its terminal face — the dry run's report, signals that stop the run, and the
//! events shown as they come ([`crate::output::terminal`]).
//!
//! The target is always an ordinary URL with credentials: a `--mock` rehearsal starts the
//! simulation in `cmd::rehearsal` and hands its address here.

mod dry_run;
mod signals;

use anyhow::Result;

use crate::config::{SubmitConfig, Target};
use crate::engine::{Endpoint, Engine, Prepared};
use crate::logging::Terminal;
use crate::output::terminal::{self, Face};
use crate::Exit;

/// Run `bulkcast submit` against the configured target (or, with `--dry-run`, against none).
pub fn run(cfg: SubmitConfig, terminal: &Terminal) -> Result<Exit> {
    let prepared = Prepared::check(&cfg)?;
    if let Some(exit) = nothing_to_do(&cfg, &prepared, terminal) {
        return Ok(exit);
    }
    match cfg.target.clone() {
        None => dry_run::report(&cfg, prepared.report(), terminal),
        Some(Target::Remote { base_url, auth }) => {
            let endpoint = Endpoint { base_url, auth };
            send(cfg, prepared, endpoint, terminal, None)
        }
        Some(Target::Mock) => {
            anyhow::bail!("internal error: a --mock run reached submit without its simulation")
        }
    }
}

/// A sheet with a header and no rows: said, and exit 1; nothing is written.
pub fn nothing_to_do(cfg: &SubmitConfig, prepared: &Prepared, terminal: &Terminal) -> Option<Exit> {
    prepared.nothing_to_send(cfg).map(|why| {
        terminal.error(&why);
        Exit::SomeFailed
    })
}

/// Run the engine against `endpoint`, showing its events on the terminal; `after_summary` adds
/// a line to the end of the summary.
pub fn send(
    cfg: SubmitConfig,
    prepared: Prepared,
    endpoint: Endpoint,
    terminal: &Terminal,
    after_summary: Option<&dyn Fn() -> String>,
) -> Result<Exit> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let face = Face {
        terminal,
        summary_json: cfg.summary_json.clone(),
        after_summary,
    };
    let (engine, events) = Engine::new(cfg, prepared, endpoint);
    let handle = engine.handle();
    rt.block_on(async {
        // From here on Ctrl-C, SIGTERM and SIGHUP stop the run cleanly, even while logging in
        // or listing the account.
        signals::watch(handle, terminal.clone());
        let (exit, ()) = tokio::join!(engine.run(), terminal::show(events, face));
        exit
    })
}
