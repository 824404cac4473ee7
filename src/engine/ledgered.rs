//! A run's place in the ledger: recorded when it starts (its claims then go through the
//! [`record::Record`]), and its counts when it ends.

use std::sync::Arc;

use anyhow::Result;

use super::collect::Collected;
use super::plan::Ledgered;
use super::record;
use super::row::Parts;
use crate::config::SubmitConfig;
use crate::ledger::outcome::Status;
use crate::ledger::store::{Ledger, NewRun};

/// Record the run in the ledger and claim every name there before it is sent.
pub fn with_ledger(
    mut parts: Parts,
    l: &Ledgered,
    cfg: &SubmitConfig,
) -> Result<(Parts, Arc<Ledger>)> {
    let new = NewRun {
        account: &l.account,
        sheet: &super::plan::results_key(&cfg.input),
        results: &l.results,
        resumed: cfg.resume,
        timeout_ms: i64::try_from(cfg.timeout.as_millis()).unwrap_or(i64::MAX),
        settings: &cfg.settings,
    };
    let writer = Arc::new(Ledger::begin(&l.dir, &new)?);
    let record = Arc::try_unwrap(parts.record)
        .map_err(|_| anyhow::anyhow!("internal error: the record is shared before the run"))?;
    let describe = record::describer(l.dir.clone(), l.account.clone());
    parts.record = Arc::new(record.with_ledger(writer.clone(), describe));
    Ok((parts, writer))
}

/// The run's end in the ledger: its counts (none when it failed) and why it stopped.
pub fn end_ledger(writer: Option<&Ledger>, collected: Option<&Collected>, stopped: Option<String>) {
    let Some(writer) = writer else {
        return;
    };
    let counts = collected.map_or([0; 4], |c| {
        let t = &c.tally;
        let uncertain = t.get(Status::Unknown);
        [
            t.get(Status::Created) as i64,
            (t.unsuccessful() - uncertain) as i64,
            uncertain as i64,
            t.get(Status::Existing) as i64,
        ]
    });
    writer.end(counts, stopped);
}
