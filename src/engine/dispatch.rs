//! The dispatcher of the sending pass: it decides what becomes of each row the reader thread
//! hands it, and starts a task for each row to be created.
//!
//! ```text
//! reader thread ──rows──▶ dispatcher ──spawn (≤ concurrency)──▶ row tasks ──verdicts──▶ collector
//!  (reader.rs)  bounded   (decide.rs: rows it can decide         (row.rs: journal "sent",  (collect.rs)
//!                          without sending)                       sender, retries)
//! ```
//!
//! Both channels are bounded, so a million-row file never sits in memory; a semaphore caps the
//! requests in flight while the gate caps their rate.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

use super::decide::{self, Decision, Known};
use super::row::{self, Job, Parts, Verdict};
use super::sender::FirstSlot;

/// Turn rows into verdicts, at most `concurrency` creates at once; after a stop, every
/// remaining row is `not_attempted`. Each row first takes a place in `window`, which the
/// collector gives back as rows are written in order: rows decided without sending (an earlier
/// run's, say) cannot run ahead of a row in back-off without bound, so neither can the results'
/// reorder buffer.
///
/// The dispatcher is the pacer for first attempts: it takes a slot and passes the gate before it
/// spawns a row's task, so broadcasts are created in the sheet's order (retries then take their
/// turn at the same gate).
pub async fn dispatch(
    parts: Parts,
    known: Arc<Known>,
    (mut batches, window): (mpsc::Receiver<Vec<Job>>, Arc<Semaphore>),
    out: mpsc::Sender<Verdict>,
    concurrency: usize,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut rows = Vec::new().into_iter();
    loop {
        let Some(row) = rows.next() else {
            match batches.recv().await {
                Some(batch) => rows = batch.into_iter(),
                None => break,
            }
            continue;
        };
        match window.acquire().await {
            Ok(place) => place.forget(),
            Err(_) => break, // the results cannot be written: nothing more is dispatched
        }
        let row = match decide::decide(&known, &parts.counts.unsent, row) {
            Decision::Unsent(outcome) => {
                let _ = out.send(Verdict::Final(outcome)).await;
                continue;
            }
            Decision::Send(row) => row,
        };
        let slot = tokio::select! {
            biased;
            _ = parts.stop.stopped() => None,
            slot = slots.clone().acquire_owned() => slot.ok(),
        };
        let cleared = slot.is_some() && parts.sender.cleared().await;
        // Appended here, written by the first of the rows released together to run.
        let released = slot.filter(|_| cleared).and_then(|slot| {
            Some((
                slot,
                parts
                    .record
                    .sent((row.line, &row.name), row.entry, (row.namesake, &row.body))?,
            ))
        });
        let Some((slot, unsynced)) = released else {
            let outcome = row::not_attempted(&parts.stop, row);
            let _ = out.send(Verdict::Final(outcome)).await;
            continue;
        };
        let (parts, out) = (parts.clone(), out.clone());
        // A row's task holds its slot until its verdict is handed on. (Plain tasks, not a
        // JoinSet: the slots already say when all are done.)
        tokio::spawn(async move {
            let verdict = row::create(&parts, row, unsynced, FirstSlot::Taken).await;
            let _ = out.send(verdict).await;
            drop(slot);
        });
    }
    // Every row's task has finished once every slot is free again.
    let all = u32::try_from(concurrency).expect("concurrency fits the semaphore");
    let _ = slots.acquire_many(all).await;
}
