//! Stage 5, the end of a run: the failed rows written for the user, and the summary with the
//! exit code.

use tokio::time::Instant;

use super::collect::Collected;
use super::counts::Counts;
use super::events::{Ended, Event, Events};
use super::row::Parts;
use crate::config::SubmitConfig;
use crate::ledger::files::RunFiles;
use crate::net::Rate;
use crate::output::failed;
use crate::output::summary::{Counters, Summary};
use crate::Exit;

/// `--failed PATH`: the rows that did not succeed, for the user to fix and send again.
pub(super) async fn write_failed_rows(cfg: &SubmitConfig, files: &RunFiles, events: &Events) {
    let Some(path) = &cfg.failed else {
        return;
    };
    let written = failed::write(path, &cfg.input, &cfg.input_opts, &files.results)
        .map_err(|e| format!("{e:#}"));
    let path = path.clone();
    events.emit(Event::FailedRows { path, written }).await;
}

/// The end of the run: the summary and the exit code.
pub(super) fn ended(
    cfg: &SubmitConfig,
    parts: &Parts,
    collected: &Collected,
    started: Instant,
) -> Ended {
    let tally = &collected.tally;
    let counts = &parts.counts;
    let (creates, sending) = counts.creates();
    let pace = parts.sender.gate.pace();
    let unsent = &counts.unsent;
    let summary = Summary::new(
        &cfg.input.display().to_string(),
        &cfg.results.display().to_string(),
        tally,
        Counters {
            creates,
            sending,
            requests: Counts::get(&counts.requests),
            retries: Counts::get(&counts.retries),
            too_many_requests: Counts::get(&counts.too_many_requests),
            rate_mode: match cfg.rate {
                Rate::PerSecond(_) => "fixed",
                Rate::Auto => "auto",
                Rate::Unlimited => "unlimited",
            },
            rate_cuts: pace.cuts,
            granted: pace.granted,
            sent: Counts::get(&counts.sent),
            done_before: Counts::get(&unsent.done_before),
            reconciled: Counts::get(&unsent.found),
            already_existing: Counts::get(&unsent.already_existing),
        },
        &counts.latency(),
        started.elapsed(),
        parts.stop.reason(),
    );
    let fatal = parts.stop.is_fatal();
    let exit = if fatal {
        Exit::Fatal
    } else if tally.unsuccessful() > 0 {
        Exit::SomeFailed
    } else {
        Exit::Success
    };
    Ended {
        summary,
        exit,
        fatal: parts.stop.reason().filter(|_| fatal),
        left: tally.unsuccessful(),
        continue_with: cfg.continue_with.clone(),
    }
}
