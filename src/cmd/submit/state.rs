//! The run's shared state ([`RunState`]) and the one loop every request goes through: an
//! outage waited out, the gate, a token renewed when due, the attempt, and a retry after what
//! may be retried (a 401 on a renewable token is logged in again and sent again).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio_util::sync::CancellationToken;

use super::outage::Outage;
use super::reconcile::{Settled, Unresolved};
use super::tokens::Tokens;
use crate::ledger::journal::{Journal, Pending};
use crate::net::client::{Client, Reply, ReplyKind};
use crate::net::gate::{self, Answer, Gate};
use crate::output::summary::latency_histogram;
use crate::secret::Secret;

/// Backoff for retries: full jitter over `BASE × 2^n`, at most `CAP`.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The longest `Retry-After` obeyed as given; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Everything the stages and row tasks of one run share: the client and the gate every
/// request goes through, the journal, the stop signals, and the counts for the summary.
pub struct RunState {
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
    /// Broadcasts this run's replies said were created: how many, and when the first and the
    /// last of their requests went out.
    creates: Mutex<(u64, Option<Instant>, Option<Instant>)>,
    failures: AtomicU64,
    pub latency: Mutex<Histogram<u64>>,
    /// Rows settled without sending, by why.
    pub settled: Settled,
    /// Rows whose outcome is unknown, for the lookup round at the end.
    pub unresolved: Mutex<Vec<Unresolved>>,
    pub tokens: Tokens,
    pub outage: Outage,
}

impl RunState {
    pub fn new(
        login: Option<(String, Secret)>,
        client: Client,
        gate: Gate,
        journal: Journal,
        limits: Limits,
    ) -> RunState {
        let Limits {
            max_retries,
            max_errors,
            outage_wait,
        } = limits;
        RunState {
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
            creates: Mutex::new((0, None, None)),
            failures: AtomicU64::new(0),
            latency: Mutex::new(latency_histogram()),
            settled: Settled::default(),
            unresolved: Mutex::new(Vec::new()),
            tokens: Tokens::new(login),
            outage: Outage::new(outage_wait),
        }
    }

    /// Whether the run logs in with an email and password (rather than using a token).
    pub fn logs_in(&self) -> bool {
        self.tokens.logs_in()
    }

    /// Log in with the run's email and password and use the token from now on.
    pub async fn login(&self) -> anyhow::Result<()> {
        self.tokens.login(self).await
    }

    /// Append the `sent` event of a row about to be sent; `None` (and the run stopped) when the
    /// journal cannot be written.
    pub fn record_sent(&self, line: u64, name: &str) -> Option<Pending> {
        self.journal
            .sent(line, name)
            .map_err(|e| self.journal_failed(&e))
            .ok()
    }

    pub fn journal_failed(&self, e: &std::io::Error) {
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
        let mut r = crate::lock(&self.stop_reason);
        if r.is_none() {
            *r = Some(reason.into());
        }
        if fatal {
            self.fatal.store(true, Ordering::SeqCst);
        }
        self.stop.cancel();
    }

    /// Count a broadcast created by a request that went out `at`.
    pub fn created(&self, at: Instant) {
        let mut c = crate::lock(&self.creates);
        c.0 += 1;
        c.1 = Some(c.1.map_or(at, |t| t.min(at)));
        c.2 = Some(c.2.map_or(at, |t| t.max(at)));
    }

    /// Broadcasts created, and the time from the first of their requests to the last.
    pub fn creates(&self) -> (u64, Duration) {
        let c = crate::lock(&self.creates);
        let span = match (c.1, c.2) {
            (Some(a), Some(b)) => b - a,
            _ => Duration::ZERO,
        };
        (c.0, span)
    }

    /// Count a row that was sent and did not succeed; stop dispatching at `--max-errors`.
    pub fn row_failed(&self) {
        let failures = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
        if self.max_errors.is_some_and(|max| failures >= max) {
            self.stop(
                format!("--max-errors reached ({failures} rows failed)"),
                false,
            );
        }
    }

    pub fn stop_reason(&self) -> Option<String> {
        crate::lock(&self.stop_reason).clone()
    }

    pub fn is_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }

    fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        crate::lock(&self.latency).saturating_record(us);
    }

    /// Wait for the API to be up and for the gate, unless the run stops first; `false` when it
    /// stopped.
    pub async fn cleared(&self) -> bool {
        if self.outage.is_down() && !self.outage.wait_up(self).await {
            return false;
        }
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => false,
            _ = self.gate.ready() => true,
        }
    }

    /// [`RunState::send`] for the one call that carries no token: logging in.
    pub async fn send_unauthenticated<F, Fut>(&self, attempt: F) -> Sent
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Reply>,
    {
        self.send_as(false, false, attempt).await
    }

    /// Send until a final reply, retrying what may be retried. Every attempt passes the gate;
    /// `cleared` says the caller already passed it for the first one.
    pub async fn send<F, Fut>(&self, cleared: bool, attempt: F) -> Sent
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Reply>,
    {
        self.send_as(cleared, true, attempt).await
    }

    async fn send_as<F, Fut>(&self, mut cleared: bool, authorized: bool, mut attempt: F) -> Sent
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Reply>,
    {
        let mut sent = Sent {
            reply: None,
            attempts: 0,
            first_sent: None,
            last_sent: None,
        };
        // Retries spent (a fresh token's second try after a 401 is not one).
        let mut spent = 0u32;
        loop {
            if !std::mem::take(&mut cleared) && !self.cleared().await {
                return sent;
            }
            if authorized && self.tokens.due() {
                // Boxed: renewing sends a login, through this same loop.
                Box::pin(self.tokens.refresh_if_due(self)).await;
            }
            let generation = self.client.generation();
            sent.attempts += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let gate_sent = tokio::time::Instant::now();
            let reply = tokio::select! {
                biased;
                _ = self.abandon.cancelled() => Reply {
                    kind: ReplyKind::Unknown,
                    status: None,
                    message: "abandoned at the second signal while in flight; the broadcast may have been created".into(),
                    body: None,
                    unreachable: false,
                },
                reply = attempt() => reply,
            };
            self.record_latency(started.elapsed());
            sent.first_sent.get_or_insert(started);
            sent.last_sent = Some(started);
            self.outage.observe(&reply);
            if reply.status.is_some_and(|s| s != 429) {
                self.gate.answered(gate_sent, Answer::LetThrough);
            }
            let wait = match reply.kind {
                ReplyKind::Unauthorized if authorized => {
                    if Box::pin(self.tokens.after_401(self, generation)).await {
                        continue; // a fresh token: send again at once, no retry spent
                    }
                    sent.reply = Some(reply);
                    return sent;
                }
                ReplyKind::TooManyRequests { retry_after } => {
                    self.too_many_requests.fetch_add(1, Ordering::Relaxed);
                    // The pace learns from it; the row takes the next slot it is given.
                    let retry_after = retry_after.map(|d| d.min(MAX_RETRY_AFTER));
                    self.gate.answered(gate_sent, Answer::TooMany(retry_after));
                    Duration::ZERO
                }
                ReplyKind::Retryable | ReplyKind::NotSent => {
                    gate::backoff(spent + 1, BACKOFF_BASE, BACKOFF_CAP)
                }
                _ => {
                    if reply.status.is_some() {
                        self.tokens.worked(generation);
                    }
                    sent.reply = Some(reply);
                    return sent;
                }
            };
            tracing::debug!("attempt {}: {}", sent.attempts, reply.message);
            sent.reply = Some(reply);
            // While the API is down, a row waits in `cleared` without trying (or spending its
            // retries) until it answers again.
            spent += 1;
            if spent > self.max_retries {
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

/// The limits a run keeps to.
pub struct Limits {
    pub max_retries: u32,
    pub max_errors: Option<u64>,
    /// How long an outage is waited out.
    pub outage_wait: Duration,
}

/// What [`RunState::send`] came to.
pub struct Sent {
    /// The last reply; `None` if the run stopped before the first attempt.
    pub reply: Option<Reply>,
    pub attempts: u32,
    /// When the first attempt went out (time waiting for the rate is not the server's).
    pub first_sent: Option<Instant>,
    /// When the last attempt went out.
    pub last_sent: Option<Instant>,
}
