//! `bulkcast submit`: every valid row becomes one `POST /v1/broadcast`, sent concurrently at
//! exactly the account's rate, with one result per input row.
//!
//! The shape, one way only:
//!
//! ```text
//! reader thread ──rows──▶ dispatcher ──spawn (≤ concurrency)──▶ row tasks ──outcomes──▶ collector
//!  (RowReader)   bounded   (invalid rows pass                  (Gate → Client,          (results file,
//!                           straight through)                   retries)                  progress)
//! ```
//!
//! Both channels are bounded, so a million-row file never sits in memory; a semaphore caps the
//! requests in flight while the [`Gate`] caps their rate. A stop (Ctrl-C, `--max-errors`, a
//! rejected token) closes the dispatcher's door: rows not yet sent become `not_attempted`, rows
//! in flight finish (or, at a second Ctrl-C, are abandoned as `unknown`), and the results file
//! is still complete.

pub mod client;
pub mod gate;

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use client::{Client, Reply, ReplyKind};
pub use gate::Gate;

use crate::config::{Secret, SubmitConfig, Target};
use crate::input::{InputError, Row, RowReader};
use crate::logging::Terminal;
use crate::mock::{MockOptions, MockServer};
use crate::outcome::{Outcome, Status};
use crate::output::progress::{Counts, Progress};
use crate::output::results::ResultsWriter;
use crate::output::summary::{latency_histogram, Counters, Summary, Tally};
use crate::request::BroadcastRequest;
use crate::validate::warn_unknown_columns;
use crate::Exit;

/// Backoff for retries: full jitter over `BASE × 2^n`, at most `CAP`.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The longest `Retry-After` obeyed as given; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Run `bulkcast submit`.
pub fn run(cfg: SubmitConfig, terminal: &Terminal) -> Result<Exit> {
    let check = check_input(&cfg)?;
    if cfg.target.is_none() {
        return Ok(dry_run_report(&cfg, &check, terminal));
    }
    let results =
        ResultsWriter::create_new(&cfg.results).map_err(|e| results_error(&cfg.results, e))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = rt.block_on(submit_all(&cfg, terminal, &check, results));
    if let Err(RunError::BeforeSending(_)) = &outcome {
        // Nothing was sent: leave no results file behind to block the next attempt.
        let _ = std::fs::remove_file(&cfg.results);
    }
    outcome.map_err(RunError::into_inner)
}

fn results_error(path: &Path, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        anyhow::anyhow!(
            "the results file {} already exists: it is the record of what an earlier run created, \
             so bulkcast will not overwrite it. Choose another path with -o, or move it away once \
             you have checked it",
            path.display()
        )
    } else {
        anyhow::anyhow!("cannot write the results file {}: {e}", path.display())
    }
}

/// What the check pass learned about the input.
struct Check {
    rows: u64,
    invalid: u64,
    /// The first invalid rows, for a dry run: (line, message).
    first_invalid: Vec<(u64, String)>,
}

/// Read the whole input once before anything is sent: header problems stop the run here, and
/// the row count gives the progress display its total.
fn check_input(cfg: &SubmitConfig) -> Result<Check> {
    let mut rows = RowReader::open(&cfg.input, &cfg.input_opts)?;
    warn_unknown_columns(&rows);
    let mut check = Check {
        rows: 0,
        invalid: 0,
        first_invalid: Vec::new(),
    };
    let mut shown = 0;
    while let Some(row) = rows.next_row() {
        let row = row?;
        check.rows += 1;
        match &row.verdict {
            Ok(req) => {
                if shown < 3 && cfg.target.is_none() {
                    shown += 1;
                    tracing::debug!(
                        "line {} would be sent as {}",
                        row.line,
                        serde_json::to_string(req)?
                    );
                }
            }
            Err(msg) => {
                check.invalid += 1;
                if check.first_invalid.len() < 20 {
                    check.first_invalid.push((row.line, msg.clone()));
                }
            }
        }
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
    terminal.say(&format!(
        "dry run: {} rows; {} would be sent, {} invalid would not; nothing was sent (-v shows the first bodies)",
        check.rows,
        check.rows - check.invalid,
        check.invalid
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

/// Everything the row tasks share.
struct Ctx {
    client: Client,
    gate: Gate,
    max_retries: u32,
    max_errors: Option<u64>,
    /// Stop sending new rows.
    stop: CancellationToken,
    /// Give up on requests in flight (second Ctrl-C).
    abandon: CancellationToken,
    stop_reason: Mutex<Option<String>>,
    fatal: AtomicBool,
    requests: AtomicU64,
    retries: AtomicU64,
    too_many_requests: AtomicU64,
    failures: AtomicU64,
    latency: Mutex<Histogram<u64>>,
}

impl Ctx {
    /// Stop dispatching, remembering the first reason given.
    fn stop(&self, reason: impl Into<String>, fatal: bool) {
        let mut r = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        if fatal {
            self.fatal.store(true, Ordering::SeqCst);
        }
        self.stop.cancel();
    }

    fn stop_reason(&self) -> Option<String> {
        self.stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut h = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        h.saturating_record(us);
    }

    /// Wait for the gate unless the run stops first; `false` when it stopped.
    async fn cleared(&self) -> bool {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            _ = self.gate.ready() => true,
        }
    }

    /// Send until a final reply, retrying what may be retried. Every attempt passes the gate;
    /// `cleared` says the caller already passed it for the first one.
    async fn send<F, Fut>(&self, mut cleared: bool, mut attempt: F) -> Sent
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Reply>,
    {
        let mut sent = Sent {
            reply: None,
            attempts: 0,
            first_sent: None,
        };
        loop {
            if !std::mem::take(&mut cleared) && !self.cleared().await {
                return sent;
            }
            sent.attempts += 1;
            let attempts = sent.attempts;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let reply = tokio::select! {
                biased;
                _ = self.abandon.cancelled() => Reply {
                    kind: ReplyKind::Unknown,
                    status: None,
                    message: "abandoned at the second Ctrl-C while in flight; the broadcast may have been created".into(),
                    body: None,
                },
                reply = attempt() => reply,
            };
            self.record_latency(started.elapsed());
            sent.first_sent.get_or_insert(started);
            let wait = match reply.kind {
                ReplyKind::TooManyRequests { retry_after } => {
                    self.too_many_requests.fetch_add(1, Ordering::Relaxed);
                    // The account is over its limit: everyone waits, at least the limit's window.
                    let pause = retry_after.map_or_else(
                        || {
                            Duration::from_secs(1)
                                + gate::backoff(attempts, BACKOFF_BASE, BACKOFF_CAP)
                        },
                        |d| d.min(MAX_RETRY_AFTER),
                    );
                    self.gate.pause_for(pause);
                    tracing::debug!("429: pausing all requests for {pause:?}");
                    Duration::ZERO
                }
                ReplyKind::Retryable | ReplyKind::NotSent => {
                    gate::backoff(attempts, BACKOFF_BASE, BACKOFF_CAP)
                }
                _ => {
                    sent.reply = Some(reply);
                    return sent;
                }
            };
            tracing::debug!("attempt {attempts}: {}", reply.message);
            sent.reply = Some(reply);
            if attempts > self.max_retries {
                return sent;
            }
            self.retries.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => return sent,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// What [`Ctx::send`] came to.
struct Sent {
    /// The last reply; `None` if the run stopped before the first attempt.
    reply: Option<Reply>,
    attempts: u32,
    /// When the first attempt went out (time waiting for the rate is not the server's).
    first_sent: Option<Instant>,
}

async fn submit_all(
    cfg: &SubmitConfig,
    terminal: &Terminal,
    check: &Check,
    mut results: ResultsWriter<std::fs::File>,
) -> Result<Exit, RunError> {
    let before = RunError::BeforeSending;
    // The built-in simulation, when asked for, enforces the same limit the run paces itself to.
    let mut mock = None;
    let (base_url, token) = match cfg.target.as_ref().expect("not a dry run") {
        Target::Remote { base_url, token } => (base_url.clone(), token.clone()),
        Target::Mock => {
            let rate_limit = cfg.rate.per_sec().map_or(0, |r| r.ceil() as u32);
            let server = MockServer::start(MockOptions {
                rate_limit,
                ..MockOptions::default()
            })
            .await
            .map_err(|e| before(anyhow::anyhow!("cannot start the simulated Smartflo: {e}")))?;
            let target = (server.url(), Secret::new(server.token()));
            terminal.say(&format!(
                "using the built-in simulated Smartflo at {}",
                server.url()
            ));
            mock = Some(server);
            target
        }
    };
    let client = Client::new(&base_url, &token, cfg.timeout, cfg.concurrency).map_err(before)?;
    let ctx = Arc::new(Ctx {
        client,
        gate: Gate::new(cfg.rate, cfg.burst),
        max_retries: cfg.max_retries,
        max_errors: cfg.max_errors,
        stop: CancellationToken::new(),
        abandon: CancellationToken::new(),
        stop_reason: Mutex::new(None),
        fatal: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        too_many_requests: AtomicU64::new(0),
        failures: AtomicU64::new(0),
        latency: Mutex::new(latency_histogram()),
    });
    let started = Instant::now();
    let valid = check.rows - check.invalid;
    if valid > 0 {
        check_auth(&ctx, &base_url).await.map_err(before)?;
    }
    if check.invalid > 0 {
        tracing::warn!(
            "{} invalid rows will not be sent; the results file says why for each",
            check.invalid
        );
    }
    tracing::info!(
        "sending {valid} rows to {base_url} at {} (up to {} at once); results: {}",
        cfg.rate,
        cfg.concurrency,
        cfg.results.display()
    );
    watch_ctrl_c(ctx.clone(), terminal.clone());

    let capacity = cfg.concurrency.saturating_mul(2).clamp(64, 4096);
    let (rows_tx, rows_rx) = mpsc::channel(capacity);
    let (out_tx, mut out_rx) = mpsc::channel::<Outcome>(capacity);
    let reader = RowReader::open(&cfg.input, &cfg.input_opts)
        .map_err(|e| RunError::AfterSending(e.into()))?;
    let reader_thread = std::thread::spawn(move || read_rows(reader, rows_tx));
    let dispatcher = tokio::spawn(dispatch(ctx.clone(), rows_rx, out_tx, cfg.concurrency));

    let mut tally = Tally::default();
    let mut progress = Progress::new(terminal, check.rows);
    let mut write_error = None;
    while let Some(outcome) = out_rx.recv().await {
        tally.add(outcome.status);
        if write_error.is_none() {
            let written = results.push(outcome).and_then(|()| {
                if out_rx.is_empty() {
                    results.flush()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = written {
                ctx.stop(format!("cannot write the results file: {e}"), true);
                write_error = Some(e);
            }
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

    let wall = started.elapsed();
    if let Some(e) = write_error {
        return Err(RunError::AfterSending(anyhow::anyhow!(
            "cannot write the results file {}: {e}. Rows sent after line {} may have been created without a record",
            cfg.results.display(),
            results.written()
        )));
    }
    let results_finished = results.finish();
    if let Ok(Err(e)) = read {
        return Err(RunError::AfterSending(
            anyhow::Error::from(e).context("the input could not be read to the end"),
        ));
    }
    dispatched.map_err(|e| RunError::AfterSending(anyhow::anyhow!("internal error: {e}")))?;
    results_finished
        .with_context(|| format!("writing {}", cfg.results.display()))
        .map_err(RunError::AfterSending)?;

    let summary = Summary::new(
        &cfg.input.display().to_string(),
        &cfg.results.display().to_string(),
        &tally,
        Counters {
            requests: ctx.requests.load(Ordering::Relaxed),
            retries: ctx.retries.load(Ordering::Relaxed),
            too_many_requests: ctx.too_many_requests.load(Ordering::Relaxed),
        },
        &ctx.latency.lock().unwrap_or_else(|e| e.into_inner()),
        wall,
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
    if ctx.stop.is_cancelled() && tally.get(Status::NotAttempted) > 0 {
        terminal.say(&format!(
            "{} rows were not attempted: fix what stopped the run, then send the rows whose success is false again",
            tally.get(Status::NotAttempted)
        ));
    }
    Ok(if ctx.fatal.load(Ordering::SeqCst) {
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

/// One cheap authenticated call before the first create, so a bad token stops the run with
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

/// The reader thread: stream rows into the bounded channel until the input ends.
fn read_rows(mut reader: RowReader, tx: mpsc::Sender<Row>) -> Result<(), InputError> {
    while let Some(row) = reader.next_row() {
        if tx.blocking_send(row?).is_err() {
            break; // the run stopped
        }
    }
    Ok(())
}

/// Turn rows into outcomes: invalid rows directly, valid rows through a row task, at most
/// `concurrency` at once; after a stop, every remaining row is `not_attempted`.
///
/// The dispatcher is the pacer for first attempts: it takes a slot and passes the gate before it
/// spawns a row's task, so broadcasts are created in the sheet's order (retries then take their
/// turn at the same gate).
async fn dispatch(
    ctx: Arc<Ctx>,
    mut rows: mpsc::Receiver<Row>,
    out: mpsc::Sender<Outcome>,
    concurrency: usize,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    while let Some(row) = rows.recv().await {
        let Row {
            seq,
            line,
            name,
            verdict,
        } = row;
        let req = match verdict {
            Ok(req) => req,
            Err(msg) => {
                let _ = out
                    .send(Outcome::unsent(seq, line, name, Status::Invalid, msg))
                    .await;
                continue;
            }
        };
        let slot = tokio::select! {
            biased;
            _ = ctx.stop.cancelled() => None,
            slot = slots.clone().acquire_owned() => slot.ok(),
        };
        let cleared = slot.is_some() && ctx.cleared().await;
        let Some(slot) = slot.filter(|_| cleared) else {
            let why = ctx
                .stop_reason()
                .unwrap_or_else(|| "the run stopped".into());
            let msg = format!("not sent: {why}");
            let _ = out
                .send(Outcome::unsent(seq, line, name, Status::NotAttempted, msg))
                .await;
            continue;
        };
        let (ctx, out) = (ctx.clone(), out.clone());
        tasks.spawn(async move {
            let outcome = process(&ctx, seq, line, name, req).await;
            drop(slot);
            let _ = out.send(outcome).await;
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Create one broadcast and say what became of it.
async fn process(ctx: &Ctx, seq: u64, line: u64, name: String, req: BroadcastRequest) -> Outcome {
    let Sent {
        reply,
        attempts,
        first_sent,
    } = ctx.send(true, || ctx.client.create(&req)).await;
    let Some(reply) = reply else {
        let why = ctx
            .stop_reason()
            .unwrap_or_else(|| "the run stopped".into());
        return Outcome::unsent(
            seq,
            line,
            name,
            Status::NotAttempted,
            format!("not sent: {why}"),
        );
    };
    let (status, message) = match reply.kind {
        ReplyKind::Ok => (Status::Created, reply.message.clone()),
        ReplyKind::Rejected => (Status::Rejected, reply.message.clone()),
        ReplyKind::Unauthorized => {
            ctx.stop(
                "the server rejected the API token (HTTP 401) during the run",
                true,
            );
            (Status::Failed, format!("HTTP 401: {}", reply.message))
        }
        ReplyKind::Unknown => (
            Status::Unknown,
            format!(
                "{}; not sent again, as that could create it twice",
                reply.message
            ),
        ),
        ReplyKind::TooManyRequests { .. } | ReplyKind::Retryable | ReplyKind::NotSent => {
            let stopped = ctx.stop.is_cancelled() && attempts <= ctx.max_retries;
            let why = if stopped {
                "the run stopped before the next retry"
            } else {
                "gave up"
            };
            (
                Status::Failed,
                format!("{why} after {attempts} attempts; last: {}", reply.message),
            )
        }
    };
    if status != Status::Created {
        let failures = ctx.failures.fetch_add(1, Ordering::SeqCst) + 1;
        if ctx.max_errors.is_some_and(|max| failures >= max) {
            ctx.stop(
                format!("--max-errors reached ({failures} rows failed)"),
                false,
            );
        }
    }
    Outcome {
        seq,
        line,
        name,
        status,
        http_status: reply.status,
        message,
        broadcast_id: reply
            .body
            .as_ref()
            .and_then(client::broadcast_id)
            .filter(|_| status == Status::Created),
        attempts,
        elapsed: first_sent.map_or(Duration::ZERO, |t| t.elapsed()),
    }
}
