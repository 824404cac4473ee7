//! `bulkcast submit`: every valid row becomes one `POST /v1/broadcast`, sent concurrently at
//! exactly the account's rate, with one result per input row — and safe to run again.
//!
//! The shape, one way only:
//!
//! ```text
//! reader thread ──rows──▶ dispatcher ──spawn (≤ concurrency)──▶ row tasks ──outcomes──▶ collector
//!  (RowReader)   bounded   (settles rows it can:               (journal "sent", Gate,    (journal "done",
//!                           invalid, done before,               Client, retries)          results, progress)
//!                           found on the account)
//! ```
//!
//! Both channels are bounded, so a million-row file never sits in memory; a semaphore caps the
//! requests in flight while the [`Gate`] caps their rate. Every event is in the journal the
//! moment it happens ([`crate::output::journal`]), so a run killed at any instant can be resumed;
//! a row sent without a known outcome is looked up by name on the account before it is ever
//! sent again. A normal end (Ctrl-C and `--max-errors` included) writes the complete results
//! file atomically and removes the journal.

pub mod account;
pub mod client;
pub mod gate;
pub mod resume;
pub mod worker;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

pub use client::{Client, Reply, ReplyKind};
pub use gate::Gate;

use crate::config::{Auth, Secret, SubmitConfig, Target};
use crate::input::{InputError, InputOptions, RowReader};
use crate::logging::Terminal;
use crate::mock::{MockOptions, MockServer};
use crate::outcome::{Outcome, Status};
use crate::output::journal::{self, Journal};
use crate::output::progress::{Counts, Progress};
use crate::output::results::{write_outcome, ResultsWriter};
use crate::output::summary::{Counters, Summary, Tally};
use crate::output::{failed, results};
use crate::validate::warn_unknown_columns;
use crate::Exit;
use resume::{Prior, Record, RunFiles};
use worker::{Ctx, Job, Known, Settled};

/// Rounds of looking up rows that got no answer (and sending the absent ones again).
const LOOKUP_ROUNDS: usize = 2;

/// Run `bulkcast submit`.
pub fn run(cfg: SubmitConfig, terminal: &Terminal) -> Result<Exit> {
    let files = RunFiles::new(&cfg.results);
    let prior = if cfg.resume {
        let prior = Record::load(&files)?;
        if prior.is_empty() {
            tracing::info!(
                "nothing recorded at {} yet: every row is new",
                files.results.display()
            );
        }
        prior
    } else {
        refuse_to_overwrite(&files)?;
        Record::default()
    };
    let check = check_input(&cfg, &prior)?;
    if cfg.target.is_none() {
        return Ok(dry_run_report(&cfg, &check, terminal));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let journal_existed = journal::exists(&files.journal);
    let outcome = rt.block_on(submit_all(&cfg, terminal, &check, prior, &files));
    if let Err(RunError::BeforeSending(_)) = &outcome {
        // Nothing was sent: leave nothing behind that would block the next attempt.
        let _ = std::fs::remove_file(&files.partial);
        if !journal_existed {
            let _ = std::fs::remove_file(&files.journal);
        }
    }
    outcome.map_err(RunError::into_inner)
}

fn refuse_to_overwrite(files: &RunFiles) -> Result<()> {
    if files.results.exists() {
        anyhow::bail!(
            "the results file {} already exists: it is the record of what an earlier run created, so \
             bulkcast will not overwrite it. To continue that run (rows created are not sent again) add \
             --resume; to start a separate run choose another path with -o",
            files.results.display()
        );
    }
    if journal::exists(&files.journal) {
        anyhow::bail!(
            "an earlier run into {} did not finish (its journal {} is there): add --resume to continue it \
             without creating anything twice, or choose another path with -o",
            files.results.display(),
            files.journal.display()
        );
    }
    Ok(())
}

/// What the check pass learned about the input.
struct Check {
    rows: u64,
    invalid: u64,
    /// Valid rows not created before: what may be sent.
    to_send: u64,
    /// Rows created by an earlier run.
    done_before: u64,
    /// Rows an earlier run sent without learning the outcome: looked up before anything else.
    unknown_before: u64,
    /// The first invalid rows, for a dry run: (line, message).
    first_invalid: Vec<(u64, String)>,
    /// Rows whose name repeats an earlier row's: line → that row's line. The main pass takes
    /// them from here instead of tracking every name again.
    duplicates: HashMap<u64, u64>,
}

/// Read the whole input once before anything is sent: header problems stop the run here, a
/// resumed input must still be the file the results describe, and the row count gives the
/// progress display its total.
fn check_input(cfg: &SubmitConfig, prior: &Record) -> Result<Check> {
    let mut rows = RowReader::open(&cfg.input, &cfg.input_opts)?;
    warn_unknown_columns(&rows);
    let mut check = Check {
        rows: 0,
        invalid: 0,
        to_send: 0,
        done_before: 0,
        unknown_before: 0,
        first_invalid: Vec::new(),
        duplicates: HashMap::new(),
    };
    let (mut shown, mut recorded) = (0, 0usize);
    let mut mismatches = Vec::new();
    while let Some(row) = rows.next_row() {
        let row = row?;
        check.rows += 1;
        if let Some(first) = row.duplicate_of {
            check.duplicates.insert(row.line, first);
        }
        if let Err(m) = prior.matches(row.line, &row.name) {
            mismatches.push(m);
        }
        let before = prior.get(row.line);
        recorded += usize::from(before.is_some());
        match (before, &row.verdict) {
            (Some(Prior::Created(_)), _) => check.done_before += 1,
            (Some(Prior::Unknown { .. }), _) => check.unknown_before += 1,
            (_, Ok(req)) => {
                check.to_send += 1;
                if shown < 3 && cfg.target.is_none() {
                    shown += 1;
                    tracing::debug!(
                        "line {} would be sent as {}",
                        row.line,
                        serde_json::to_string(req)?
                    );
                }
            }
            (_, Err(_)) => {}
        }
        if let Err(msg) = &row.verdict {
            check.invalid += 1;
            if check.first_invalid.len() < 20 {
                check.first_invalid.push((row.line, msg.clone()));
            }
        }
    }
    let missing = prior.len() - recorded;
    if !mismatches.is_empty() || missing > 0 {
        let mut why: Vec<String> = mismatches.iter().take(5).cloned().collect();
        if mismatches.len() > 5 {
            why.push(format!("and {} more lines differ", mismatches.len() - 5));
        }
        if missing > 0 {
            why.push(format!("{missing} recorded lines are not in the input"));
        }
        anyhow::bail!(
            "{} does not match what {} records ({}). Resume only with the file that run read; \
             to send a changed file, start a separate run with -o",
            cfg.input.display(),
            cfg.results.display(),
            why.join("; ")
        );
    }
    Ok(check)
}

fn dry_run_report(cfg: &SubmitConfig, check: &Check, terminal: &Terminal) -> Exit {
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
    let mut earlier = String::new();
    if check.done_before + check.unknown_before > 0 {
        earlier = format!(
            "; {} created by an earlier run would be skipped, {} with no known outcome would be looked up first",
            check.done_before, check.unknown_before
        );
    }
    terminal.say(&format!(
        "dry run: {} rows; {} would be sent, {} invalid would not{earlier}; nothing was sent (-v shows the first bodies)",
        check.rows, check.to_send, check.invalid
    ));
    if check.invalid == 0 {
        Exit::Success
    } else {
        Exit::SomeFailed
    }
}

/// A failure of the whole run, split by whether anything had been sent yet.
enum RunError {
    BeforeSending(anyhow::Error),
    AfterSending(anyhow::Error),
}

impl RunError {
    fn into_inner(self) -> anyhow::Error {
        match self {
            RunError::BeforeSending(e) | RunError::AfterSending(e) => e,
        }
    }
}

async fn submit_all(
    cfg: &SubmitConfig,
    terminal: &Terminal,
    check: &Check,
    prior: Record,
    files: &RunFiles,
) -> Result<Exit, RunError> {
    let before = RunError::BeforeSending;
    let after = RunError::AfterSending;
    // The built-in simulation, when asked for, enforces the same limit the run paces itself to.
    let mut mock = None;
    let (base_url, auth) = match cfg.target.as_ref().expect("not a dry run") {
        Target::Remote { base_url, auth } => (base_url.clone(), auth.clone()),
        Target::Mock => {
            let rate_limit = cfg.rate.per_sec().map_or(0, |r| r.ceil() as u32);
            let server = MockServer::start(MockOptions {
                rate_limit,
                ..MockOptions::default()
            })
            .await
            .map_err(|e| before(anyhow::anyhow!("cannot start the simulated Smartflo: {e}")))?;
            let target = (server.url(), Auth::Token(Secret::new(server.token())));
            terminal.say(&format!(
                "using the built-in simulated Smartflo at {}",
                server.url()
            ));
            mock = Some(server);
            target
        }
    };
    let (token, login) = match auth {
        Auth::Token(token) => (Some(token), None),
        Auth::Login { email, password } => (None, Some((email, password))),
    };
    let client =
        Client::new(&base_url, token.as_ref(), cfg.timeout, cfg.concurrency).map_err(before)?;
    let journal = Journal::open(&files.journal)
        .with_context(|| format!("cannot write the journal {}", files.journal.display()))
        .map_err(before)?;
    let mut results = ResultsWriter::create(&files.partial)
        .with_context(|| format!("cannot write {}", files.partial.display()))
        .map_err(before)?;
    let logs_in = login.is_some();
    let ctx = Arc::new(Ctx::new(
        login,
        client,
        Gate::new(cfg.rate, cfg.burst),
        journal,
        cfg.max_retries,
        cfg.max_errors,
    ));
    let started = Instant::now();
    // From here on Ctrl-C stops the run cleanly, even while logging in or listing the account.
    watch_ctrl_c(ctx.clone(), terminal.clone());

    let need_account = check.unknown_before > 0 || cfg.skip_existing;
    if check.to_send > 0 || need_account {
        if logs_in {
            ctx.login().await.map_err(before)?;
        }
        check_auth(&ctx, &base_url).await.map_err(before)?;
    }
    let account = if need_account {
        let names = account::names(&ctx).await;
        match &names {
            Err(e) if cfg.skip_existing => {
                return Err(before(anyhow::anyhow!(
                    "--skip-existing: cannot list the account's broadcasts: {e}; nothing was sent"
                )));
            }
            Err(e) => {
                tracing::warn!("cannot list the account to check rows with no known outcome: {e}")
            }
            Ok(names) => tracing::info!("the account has {} broadcasts", names.len()),
        }
        Some(names)
    } else {
        None
    };
    if check.invalid > 0 {
        tracing::warn!(
            "{} invalid rows will not be sent; the results file says why for each",
            check.invalid
        );
    }
    if check.done_before > 0 {
        tracing::info!(
            "{} rows were created by an earlier run and will not be sent again",
            check.done_before
        );
    }
    tracing::info!(
        "sending up to {} rows to {base_url} at {} (up to {} at once); results: {}",
        check.to_send + check.unknown_before,
        cfg.rate,
        cfg.concurrency,
        cfg.results.display()
    );

    // The main pass.
    let known = Arc::new(Known {
        prior,
        account,
        skip_existing: cfg.skip_existing,
    });
    let settled = Arc::new(Settled::default());
    let capacity = cfg.concurrency.saturating_mul(2).clamp(64, 4096);
    let (rows_tx, rows_rx) = mpsc::channel(capacity.div_ceil(ROW_BATCH).max(2));
    let (out_tx, mut out_rx) = mpsc::channel::<Outcome>(capacity);
    // The check pass found the repeated names: the main pass keeps no table of names (its
    // memory would otherwise grow with the file).
    let checked = InputOptions {
        known_duplicates: Some(Arc::new(check.duplicates.clone())),
        ..cfg.input_opts.clone()
    };
    let reader = RowReader::open(&cfg.input, &checked).map_err(|e| after(e.into()))?;
    let reader_thread = std::thread::spawn(move || read_rows(reader, rows_tx));
    let dispatcher = tokio::spawn(worker::dispatch(
        ctx.clone(),
        known,
        settled.clone(),
        rows_rx,
        out_tx,
        cfg.concurrency,
    ));

    let mut tally = Tally::default();
    let mut progress = Progress::new(terminal, check.rows);
    let mut write_error = None;
    // After a write failure: rows created (or maybe created) that no file records.
    let mut unrecorded = Vec::new();
    while let Some(outcome) = out_rx.recv().await {
        tally.add(outcome.status);
        let (line, status) = (outcome.line, outcome.status);
        if write_error.is_none() {
            let written = ctx
                .journal
                .done(&outcome)
                .and_then(|()| results.push(outcome))
                .and_then(|()| {
                    // Outcomes reach the journal's file as soon as nothing else is waiting (the
                    // partial results need no flushing: the journal is what a crash leaves).
                    if out_rx.is_empty() {
                        ctx.journal.flush()
                    } else {
                        Ok(())
                    }
                });
            if let Err(e) = written {
                ctx.stop(format!("cannot write the results: {e}"), true);
                write_error = Some(e);
            }
        }
        if write_error.is_some() && matches!(status, Status::Created | Status::Unknown) {
            unrecorded.push(line);
        }
        progress.update(Counts {
            done: tally.total(),
            created: tally.get(Status::Created),
            failed: tally.unsuccessful() - tally.get(Status::Invalid),
            too_many_requests: ctx.too_many_requests.load(Ordering::Relaxed),
        });
    }
    progress.finish();
    let dispatched = dispatcher.await;
    let read = reader_thread.join();
    if let Some(e) = write_error {
        unrecorded.sort_unstable();
        let lines = if unrecorded.is_empty() {
            "none".to_owned()
        } else {
            unrecorded
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(after(anyhow::anyhow!(
            "cannot write the results for {}: {e}. Sending stopped at once. Rows created (or maybe \
             created) whose outcome is not on disk: lines {lines}. The journal {} holds \
             everything recorded before: free the disk, then run again with --resume (rows it cannot \
             place are looked up on the account by name before anything is sent)",
            cfg.results.display(),
            files.journal.display()
        )));
    }
    if let Ok(Err(e)) = read {
        return Err(after(anyhow::Error::from(e).context(format!(
            "the input could not be read to the end; run again with --resume once it can ({} holds what was done)",
            files.journal.display()
        ))));
    }
    dispatched.map_err(|e| after(anyhow::anyhow!("internal error: {e}")))?;

    // Rows that got no answer: look them up, send the absent ones again.
    let mut patches = HashMap::new();
    let settle = cfg.timeout.min(Duration::from_secs(5));
    resolve_unknowns(
        &ctx,
        terminal,
        settle,
        cfg.concurrency,
        &settled,
        &mut tally,
        &mut patches,
    )
    .await;

    finish_results(files, results, &patches).map_err(after)?;
    // The results file now holds everything the journal did.
    if let Err(e) = std::fs::remove_file(&files.journal) {
        tracing::warn!("cannot remove the journal {}: {e}", files.journal.display());
    }
    if let Some(path) = &cfg.failed {
        match failed::write(path, &cfg.input, &cfg.input_opts, &files.results) {
            Ok(n) => tracing::info!(
                "{n} rows that did not succeed written to {}",
                path.display()
            ),
            Err(e) => terminal.error(&format!(
                "cannot write the failed rows to {}: {e:#}",
                path.display()
            )),
        }
    }

    let summary = Summary::new(
        &cfg.input.display().to_string(),
        &cfg.results.display().to_string(),
        &tally,
        Counters {
            requests: ctx.requests.load(Ordering::Relaxed),
            retries: ctx.retries.load(Ordering::Relaxed),
            too_many_requests: ctx.too_many_requests.load(Ordering::Relaxed),
            sent: ctx.sent.load(Ordering::Relaxed),
            done_before: settled.done_before.load(Ordering::Relaxed),
            reconciled: settled.reconciled.load(Ordering::Relaxed),
            already_existing: settled.already_existing.load(Ordering::Relaxed),
        },
        &ctx.latency.lock().unwrap_or_else(|e| e.into_inner()),
        started.elapsed(),
        ctx.stop_reason(),
    );
    terminal.say(&summary.render());
    if let Some(server) = &mock {
        let s = server.stats();
        terminal.say(&format!(
            "simulated Smartflo saw {} requests: {} broadcasts created, {} names created twice, busiest second {} requests",
            s.requests,
            s.created,
            s.duplicates.len(),
            s.busiest_second
        ));
    }
    if let Some(path) = &cfg.summary_json {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
        if let Err(e) = std::fs::write(path, json) {
            tracing::warn!("cannot write the summary to {}: {e}", path.display());
        }
    }
    let left = tally.unsuccessful() - tally.get(Status::Invalid);
    if left > 0 {
        terminal.say(&format!(
            "{left} rows did not succeed: once the cause is fixed, `--resume` sends them again (rows created are skipped)"
        ));
    }
    Ok(if ctx.is_fatal() {
        if let Some(why) = ctx.stop_reason() {
            terminal.error(&why);
        }
        Exit::Fatal
    } else if tally.unsuccessful() > 0 {
        Exit::SomeFailed
    } else {
        Exit::Success
    })
}

/// One cheap authenticated call before anything else, so a bad token stops the run with
/// nothing created.
async fn check_auth(ctx: &Ctx, base_url: &str) -> Result<()> {
    let Some(reply) = ctx.send(false, || ctx.client.list(1, 1)).await.reply else {
        anyhow::bail!("stopped before the first request");
    };
    match reply.kind {
        ReplyKind::Ok => Ok(()),
        ReplyKind::Unauthorized => anyhow::bail!(
            "the API token was rejected (HTTP 401: {}); nothing was sent. Check SMARTFLO_API_TOKEN or --token-file",
            reply.message
        ),
        _ if reply.status == Some(403) => {
            anyhow::bail!("the API token is not allowed to use the broadcast API (HTTP 403: {}); nothing was sent", reply.message)
        }
        ReplyKind::NotSent => anyhow::bail!("cannot reach {base_url}: {}; nothing was sent", reply.message),
        _ => {
            tracing::warn!("the account check (listing broadcasts) answered: {}; going on", reply.message);
            Ok(())
        }
    }
}

/// First Ctrl-C: stop sending, let requests in flight finish. Second: abandon them too.
fn watch_ctrl_c(ctx: Arc<Ctx>, terminal: Terminal) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        ctx.stop("interrupted (Ctrl-C)", false);
        terminal.say("stopping: no new rows will be sent; waiting for requests in flight (Ctrl-C again to abandon them)");
        if tokio::signal::ctrl_c().await.is_ok() {
            ctx.abandon.cancel();
        }
    });
}

/// Rows handed from the reader thread to the dispatcher at a time: one wake-up per batch rather
/// than per row.
const ROW_BATCH: usize = 64;

/// The reader thread: stream rows, in batches, into the bounded channel until the input ends.
fn read_rows(mut reader: RowReader, tx: mpsc::Sender<Vec<Job>>) -> Result<(), InputError> {
    let mut batch = Vec::with_capacity(ROW_BATCH);
    while let Some(row) = reader.next_row() {
        batch.push(Job::from(row?));
        if batch.len() == ROW_BATCH
            && tx
                .blocking_send(std::mem::replace(&mut batch, Vec::with_capacity(ROW_BATCH)))
                .is_err()
        {
            return Ok(()); // the run stopped
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(batch);
    }
    Ok(())
}

/// Look up, by name on the account, the rows whose create got no answer in this run; record
/// the ones found as created and send the absent ones again, for a few rounds. A request the
/// server was still working on gets `settle` to finish first.
async fn resolve_unknowns(
    ctx: &Arc<Ctx>,
    terminal: &Terminal,
    settle: Duration,
    concurrency: usize,
    settled: &Settled,
    tally: &mut Tally,
    patches: &mut HashMap<u64, Outcome>,
) {
    let mut patch = |o: Outcome, tally: &mut Tally, old: Status| {
        tally.replace(old, o.status);
        if let Err(e) = ctx.journal.done(&o).and_then(|()| ctx.journal.flush()) {
            ctx.stop(format!("cannot write the journal: {e}"), true);
        }
        patches.insert(o.seq, o);
    };
    for _ in 0..LOOKUP_ROUNDS {
        let pending =
            std::mem::take(&mut *ctx.unresolved.lock().unwrap_or_else(|e| e.into_inner()));
        if pending.is_empty() || ctx.stop.is_cancelled() {
            return;
        }
        terminal.say(&format!(
            "{} rows got no answer; looking their names up on the account before sending any again",
            pending.len()
        ));
        tokio::select! {
            _ = ctx.stop.cancelled() => return,
            _ = tokio::time::sleep(settle) => {}
        }
        let names = match account::names(ctx).await {
            Ok(names) => names,
            Err(e) => {
                for u in pending {
                    let mut o = u.outcome;
                    o.message = format!(
                        "{}; the account could not be checked ({e}): resume to check again",
                        o.message
                    );
                    patch(o, tally, Status::Unknown);
                }
                return;
            }
        };
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut resent = JoinSet::new();
        for u in pending {
            if let Some(id) = names.get(&u.name) {
                settled.reconciled.fetch_add(1, Ordering::Relaxed);
                patch(
                    worker::reconciled(u.seq, u.line, u.name, id.clone()),
                    tally,
                    Status::Unknown,
                );
                continue;
            }
            let (ctx, slots) = (ctx.clone(), slots.clone());
            resent.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let Some(pending) = ctx.record_sent(u.line, &u.name) else {
                    return u.outcome;
                };
                worker::process(&ctx, u.seq, u.line, u.name, u.body, pending, false).await
            });
        }
        while let Some(done) = resent.join_next().await {
            if let Ok(o) = done {
                patch(o, tally, Status::Unknown);
            }
        }
    }
}

/// Make the results file complete: the ordered file written during the run, with the outcomes
/// settled after it (`patches`, by position), written in full and renamed into place.
fn finish_results(
    files: &RunFiles,
    written: ResultsWriter<std::fs::File>,
    patches: &HashMap<u64, Outcome>,
) -> Result<()> {
    let file = written
        .finish()
        .with_context(|| format!("writing {}", files.partial.display()))?;
    let staged = if patches.is_empty() {
        file.sync_all()?;
        files.partial.clone()
    } else {
        drop(file);
        let staged = files.partial.with_extension("patched");
        patch_results(&files.partial, &staged, patches)
            .with_context(|| format!("writing {}", staged.display()))?;
        std::fs::remove_file(&files.partial)?;
        staged
    };
    std::fs::rename(&staged, &files.results)
        .with_context(|| format!("moving {} to {}", staged.display(), files.results.display()))?;
    Ok(())
}

/// Copy the results at `from` to `to`, replacing the rows at the positions in `patches`.
fn patch_results(from: &Path, to: &Path, patches: &HashMap<u64, Outcome>) -> Result<()> {
    let mut csv = crate::csvio::reader(std::fs::File::open(from)?, b',');
    let mut out = crate::csvio::writer(std::fs::File::create(to)?);
    out.write_record(results::HEADER)?;
    let mut rec = csv::ByteRecord::new();
    let mut seq = 0u64;
    while csv.read_byte_record(&mut rec)? {
        match patches.get(&seq) {
            Some(o) => write_outcome(&mut out, None, o)?,
            None => out.write_byte_record(&rec)?,
        }
        seq += 1;
    }
    let file = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    file.sync_all()?;
    Ok(())
}
