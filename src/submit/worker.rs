//! The pool: the dispatcher that decides what becomes of each row, the row tasks that send, and
//! the retry loop every request goes through.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::client::{self, Client, Reply, ReplyKind};
use super::gate::{self, Gate};
use super::resume::{Prior, Record};
use crate::config::Secret;
use crate::input::Row;
use crate::outcome::{Outcome, Status};
use crate::output::journal::{Journal, Pending};

/// Backoff for retries: full jitter over `BASE × 2^n`, at most `CAP`.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The longest `Retry-After` obeyed as given; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A row as the dispatcher takes it, with its request already turned into the body that is
/// sent: the reader thread does that, off the thread that sends.
pub struct Job {
    pub seq: u64,
    pub line: u64,
    pub name: String,
    /// The JSON body, or why the row is invalid.
    pub verdict: Result<Bytes, String>,
}

impl From<Row> for Job {
    fn from(row: Row) -> Job {
        Job {
            seq: row.seq,
            line: row.line,
            name: row.name,
            verdict: row.verdict.map(|req| req.to_body()),
        }
    }
}

/// A row whose create got no answer: kept (with its body) to be looked up and, if absent,
/// sent again at the end of the run.
pub struct Unresolved {
    pub seq: u64,
    pub line: u64,
    pub name: String,
    pub body: Bytes,
    pub outcome: Outcome,
}

/// Everything the row tasks share.
pub struct Ctx {
    pub client: Client,
    pub gate: Gate,
    pub journal: Journal,
    pub max_retries: u32,
    pub max_errors: Option<u64>,
    /// Stop sending new rows.
    pub stop: CancellationToken,
    /// Give up on requests in flight (second Ctrl-C).
    pub abandon: CancellationToken,
    stop_reason: Mutex<Option<String>>,
    fatal: AtomicBool,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub too_many_requests: AtomicU64,
    /// Rows sent in this run.
    pub sent: AtomicU64,
    failures: AtomicU64,
    pub latency: Mutex<Histogram<u64>>,
    /// Rows whose outcome is unknown, for the lookup round at the end.
    pub unresolved: Mutex<Vec<Unresolved>>,
    /// Email and password, when the run logs in rather than using a token.
    login: Option<(String, Secret)>,
    /// Logins after the first (at most one, after a 401).
    relogins: tokio::sync::Mutex<u32>,
}

impl Ctx {
    pub fn new(
        login: Option<(String, Secret)>,
        client: Client,
        gate: Gate,
        journal: Journal,
        max_retries: u32,
        max_errors: Option<u64>,
    ) -> Ctx {
        Ctx {
            client,
            gate,
            journal,
            max_retries,
            max_errors,
            stop: CancellationToken::new(),
            abandon: CancellationToken::new(),
            stop_reason: Mutex::new(None),
            fatal: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            too_many_requests: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latency: Mutex::new(crate::output::summary::latency_histogram()),
            unresolved: Mutex::new(Vec::new()),
            login,
            relogins: tokio::sync::Mutex::new(0),
        }
    }

    /// Log in with the run's email and password and use the token from now on. Goes through
    /// the gate like every call; a refusal is not retried (failed logins lock accounts).
    pub async fn login(&self) -> anyhow::Result<()> {
        let Some((email, password)) = &self.login else {
            anyhow::bail!("no email and password to log in with");
        };
        let Some(reply) = self
            .send(false, || self.client.login(email, password))
            .await
            .reply
        else {
            anyhow::bail!("stopped before logging in");
        };
        match reply.kind {
            ReplyKind::Ok => {
                let token = reply.body.as_ref().and_then(|b| b["access_token"].as_str()).unwrap_or_default();
                if token.is_empty() {
                    anyhow::bail!("the login reply carried no access_token");
                }
                self.client.set_token(&Secret::new(token))
            }
            ReplyKind::Unauthorized => anyhow::bail!(
                "the login for {email} was rejected (HTTP 401: {}); not tried again, as repeated failed \
                 logins lock Smartflo accounts",
                reply.message
            ),
            _ => anyhow::bail!("logging in failed: {}", reply.message),
        }
    }

    /// After a 401 on a request sent with token generation `used`: whether a fresh token is now
    /// in place to send again with. Logs in again at most once per run.
    pub async fn relogin(&self, used: u64) -> bool {
        if self.login.is_none() {
            return false;
        }
        let mut done = self.relogins.lock().await;
        if self.client.generation() > used {
            return true; // another task already logged in again
        }
        if *done >= 1 {
            return false;
        }
        *done += 1;
        tracing::info!("the token was rejected (401); logging in again, once");
        match self.login().await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!("{e:#}");
                false
            }
        }
    }

    /// Append the `sent` event of a row about to be sent; `None` (and the run stopped) when the
    /// journal cannot be written.
    pub fn record_sent(&self, line: u64, name: &str) -> Option<Pending> {
        self.journal
            .sent(line, name)
            .map_err(|e| self.journal_failed(&e))
            .ok()
    }

    fn journal_failed(&self, e: &std::io::Error) {
        self.stop(
            format!(
                "cannot write the journal: {e}. Sending stopped at once; free the disk, then run again \
                 with --resume (rows with no known outcome are looked up on the account first)"
            ),
            true,
        );
    }

    /// Stop dispatching, remembering the first reason given.
    pub fn stop(&self, reason: impl Into<String>, fatal: bool) {
        let mut r = self.stop_reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(reason.into());
        }
        if fatal {
            self.fatal.store(true, Ordering::SeqCst);
        }
        self.stop.cancel();
    }

    pub fn stop_reason(&self) -> Option<String> {
        self.stop_reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn is_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }

    fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .saturating_record(us);
    }

    /// Wait for the gate unless the run stops first; `false` when it stopped.
    pub async fn cleared(&self) -> bool {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            _ = self.gate.ready() => true,
        }
    }

    /// Send until a final reply, retrying what may be retried. Every attempt passes the gate;
    /// `cleared` says the caller already passed it for the first one.
    pub async fn send<F, Fut>(&self, mut cleared: bool, mut attempt: F) -> Sent
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
pub struct Sent {
    /// The last reply; `None` if the run stopped before the first attempt.
    pub reply: Option<Reply>,
    pub attempts: u32,
    /// When the first attempt went out (time waiting for the rate is not the server's).
    pub first_sent: Option<Instant>,
}

/// What the dispatcher knows besides the rows: earlier runs, and the account's names when
/// they were listed at the start.
pub struct Known {
    pub prior: Record,
    /// `None`: not listed; `Some(Err)`: listing failed.
    pub account: Option<Result<HashMap<String, String>, String>>,
    /// `--skip-existing`: a name already on the account counts as created.
    pub skip_existing: bool,
}

/// Counts of rows settled without sending, for the summary.
#[derive(Debug, Default)]
pub struct Settled {
    pub done_before: AtomicU64,
    pub reconciled: AtomicU64,
    pub already_existing: AtomicU64,
}

/// Turn rows into outcomes, at most `concurrency` sends at once; after a stop, every remaining
/// row is `not_attempted`.
///
/// The dispatcher is the pacer for first attempts: it takes a slot and passes the gate before it
/// spawns a row's task, so broadcasts are created in the sheet's order (retries then take their
/// turn at the same gate).
pub async fn dispatch(
    ctx: Arc<Ctx>,
    known: Arc<Known>,
    settled: Arc<Settled>,
    mut batches: mpsc::Receiver<Vec<Job>>,
    out: mpsc::Sender<Outcome>,
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
        let (seq, line, name, body) = match settle(&known, &settled, row) {
            Decision::Settled(outcome) => {
                let _ = out.send(outcome).await;
                continue;
            }
            Decision::Send {
                seq,
                line,
                name,
                body,
            } => (seq, line, name, body),
        };
        let slot = tokio::select! {
            biased;
            _ = ctx.stop.cancelled() => None,
            slot = slots.clone().acquire_owned() => slot.ok(),
        };
        let cleared = slot.is_some() && ctx.cleared().await;
        // Appended here, written by the first of the rows released together to run.
        let pending = slot
            .filter(|_| cleared)
            .and_then(|slot| Some((slot, ctx.record_sent(line, &name)?)));
        let Some((slot, pending)) = pending else {
            let _ = out.send(not_attempted(&ctx, seq, line, name)).await;
            continue;
        };
        let (ctx, out) = (ctx.clone(), out.clone());
        // A row's task holds its slot until its outcome is handed on. (Plain tasks: a JoinSet's
        // bookkeeping was 12% of this loop's cost, and the slots already say when all are done.)
        tokio::spawn(async move {
            let outcome = process(&ctx, seq, line, name, body, pending, true).await;
            let _ = out.send(outcome).await;
            drop(slot);
        });
    }
    // Every row's task has finished once every slot is free again.
    let all = u32::try_from(concurrency).expect("concurrency fits the semaphore");
    let _ = slots.acquire_many(all).await;
}

/// What the dispatcher does with a row.
enum Decision {
    /// Its outcome is known without sending.
    Settled(Outcome),
    Send {
        seq: u64,
        line: u64,
        name: String,
        body: Bytes,
    },
}

/// Decide a row without sending, or hand it back to be sent.
fn settle(known: &Known, settled: &Settled, job: Job) -> Decision {
    use Decision::{Send, Settled as Done};
    let Job {
        seq,
        line,
        name,
        verdict,
    } = job;
    let on_account = |name: &str| match &known.account {
        Some(Ok(names)) => Ok(names.get(name).cloned()),
        Some(Err(e)) => Err(e.clone()),
        None => Ok(None),
    };
    match (known.prior.get(line), verdict) {
        (Some(Prior::Created(o)), _) => {
            settled.done_before.fetch_add(1, Ordering::Relaxed);
            Done(o.clone().with_seq(seq))
        }
        (Some(Prior::Unknown { .. }), verdict) => match on_account(&name) {
            Ok(Some(id)) => {
                settled.reconciled.fetch_add(1, Ordering::Relaxed);
                Done(reconciled(seq, line, name, id))
            }
            Err(e) => Done(Outcome::unsent(
                seq,
                line,
                name,
                Status::Unknown,
                format!("an earlier attempt may have created it, and the account could not be checked ({e}); not sent. Resume again to retry the check"),
            )),
            Ok(None) => match verdict {
                Ok(body) => Send { seq, line, name, body },
                Err(msg) => Done(Outcome::unsent(seq, line, name, Status::Invalid, msg)),
            },
        },
        (_, Err(msg)) => Done(Outcome::unsent(seq, line, name, Status::Invalid, msg)),
        (_, Ok(body)) => match known.skip_existing.then(|| on_account(&name)) {
            Some(Ok(Some(id))) => {
                settled.already_existing.fetch_add(1, Ordering::Relaxed);
                let mut o = Outcome::unsent(
                    seq,
                    line,
                    name,
                    Status::Created,
                    "already on the account (--skip-existing); not sent".into(),
                );
                o.broadcast_id = Some(id);
                Done(o)
            }
            _ => Send { seq, line, name, body },
        },
    }
}

/// A row found on the account after an unknown outcome.
pub fn reconciled(seq: u64, line: u64, name: String, id: String) -> Outcome {
    let mut o = Outcome::unsent(
        seq,
        line,
        name,
        Status::Created,
        "found on the account by name after an attempt with no answer; not sent again".into(),
    );
    o.broadcast_id = Some(id);
    o
}

fn not_attempted(ctx: &Ctx, seq: u64, line: u64, name: String) -> Outcome {
    let why = ctx
        .stop_reason()
        .unwrap_or_else(|| "the run stopped".into());
    Outcome::unsent(
        seq,
        line,
        name,
        Status::NotAttempted,
        format!("not sent: {why}"),
    )
}

/// Create one broadcast and say what became of it. The row's `sent` event (`pending`, from
/// [`Ctx::record_sent`]) is on the journal's file before the first request goes out.
pub async fn process(
    ctx: &Ctx,
    seq: u64,
    line: u64,
    name: String,
    body: Bytes,
    pending: Pending,
    cleared: bool,
) -> Outcome {
    if let Err(e) = ctx.journal.on_file(pending) {
        ctx.journal_failed(&e);
        return not_attempted(ctx, seq, line, name);
    }
    ctx.sent.fetch_add(1, Ordering::Relaxed);
    let (mut attempts, mut first_sent, mut cleared) = (0, None, cleared);
    let reply = loop {
        let token = ctx.client.generation();
        let sent = ctx.send(cleared, || ctx.client.create(&body)).await;
        attempts += sent.attempts;
        first_sent = first_sent.or(sent.first_sent);
        match sent.reply {
            // A token that expired mid-run: log in again (once per run) and send again.
            Some(r) if r.kind == ReplyKind::Unauthorized && ctx.relogin(token).await => {
                cleared = false
            }
            other => break other,
        }
    };
    let Some(reply) = reply else {
        return not_attempted(ctx, seq, line, name);
    };
    let (status, message) = match reply.kind {
        ReplyKind::Ok => (Status::Created, reply.message.clone()),
        ReplyKind::Rejected => (Status::Rejected, reply.message.clone()),
        ReplyKind::Unauthorized => {
            ctx.stop(
                "the server rejected the credentials (HTTP 401) during the run; stopped so as not \
                 to lock the account with repeated failures",
                true,
            );
            (Status::Failed, format!("HTTP 401: {}", reply.message))
        }
        ReplyKind::Unknown => (
            Status::Unknown,
            format!(
                "{}; not sent again before checking the account for its name",
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
    let outcome = Outcome {
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
    };
    if status == Status::Unknown {
        let name = outcome.name.clone();
        ctx.unresolved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Unresolved {
                seq,
                line,
                name,
                body,
                outcome: outcome.clone(),
            });
    }
    outcome
}
