//! The sender: the one part that talks to the account. It owns the client, the gate, the
//! token and the outage breaker, and runs the one loop every request goes through: an outage
//! waited out, the gate, a token renewed when due, the attempt, and a retry after what may be
//! retried (a 401 on a renewable token is logged in again and sent again). Each attempt is
//! announced as an [`Event::Request`] and its reply as an [`Event::Reply`].

mod outage;
mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::counts::Counts;
use super::errors::AccountError;
use super::events::{Call, Event, Events, Renewal};
use super::stop::{Severity, Stop};
use crate::net::client::{Client, Reply, ReplyKind};
use crate::net::gate::{self, Answer, Gate};
use crate::secret::Secret;
use outage::Outage;
use tokens::{After401, Tokens};

/// Backoff for retries: full jitter over `BASE × 2^n`, at most `CAP`.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The longest `Retry-After` obeyed as given; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

pub struct Sender {
    pub client: Client,
    pub gate: Gate,
    tokens: Tokens,
    outage: Outage,
    max_retries: u32,
    stop: Arc<Stop>,
    counts: Arc<Counts>,
    events: Events,
}

/// Whether the caller already passed the gate for a request's first attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstSlot {
    /// The dispatcher took the slot before it started the row's task.
    Taken,
    /// The first attempt waits for the gate like every later one.
    Wait,
}

/// What the sender needs besides the client and the gate.
pub struct Parts {
    pub login: Option<(String, Secret)>,
    pub max_retries: u32,
    /// How long an outage is waited out.
    pub outage_wait: Duration,
    pub stop: Arc<Stop>,
    pub counts: Arc<Counts>,
    pub events: Events,
}

/// What [`Sender::send`] came to.
pub struct Sent {
    /// The last reply; `None` if the run stopped before the first attempt.
    pub reply: Option<Reply>,
    pub attempts: u32,
    /// When the first attempt went out (time waiting for the rate is not the server's).
    pub first_sent: Option<Instant>,
    /// When the last attempt went out.
    pub last_sent: Option<Instant>,
}

impl Sender {
    pub fn new(client: Client, gate: Gate, parts: Parts) -> Sender {
        Sender {
            client,
            gate,
            tokens: Tokens::new(parts.login),
            outage: Outage::new(parts.outage_wait),
            max_retries: parts.max_retries,
            stop: parts.stop,
            counts: parts.counts,
            events: parts.events,
        }
    }

    pub fn events(&self) -> &Events {
        &self.events
    }

    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// From now on, wait outages out (before this, a failure to reach the API stops the run
    /// with nothing sent).
    pub fn arm_outage(&self) {
        self.outage.arm();
    }

    /// Whether the run logs in with an email and password (rather than using a token).
    pub fn logs_in(&self) -> bool {
        self.tokens.logs_in()
    }

    /// Log in with the run's email and password and use the token from now on.
    pub async fn login(&self) -> Result<(), AccountError> {
        let _one = self.tokens.one_at_a_time.lock().await;
        self.login_now().await
    }

    async fn login_now(&self) -> Result<(), AccountError> {
        let Some((email, password)) = self.tokens.credentials() else {
            return Err(AccountError::NoLogin);
        };
        let sent = self
            .send(Call::Login, FirstSlot::Wait, || {
                self.client.login(email, password)
            })
            .await;
        let Some(reply) = sent.reply else {
            return Err(AccountError::StoppedBeforeLogin);
        };
        self.tokens.accept(&reply, &self.client, email)
    }

    /// Before a request: log in again if the token is about to run out.
    async fn renew_if_due(&self) {
        if !self.tokens.due() {
            return;
        }
        let _one = self.tokens.one_at_a_time.lock().await;
        if !self.tokens.due() {
            return; // renewed while this request waited
        }
        self.events.emit(Event::Renewing(Renewal::Expiring)).await;
        if let Err(e) = self.login_now().await {
            self.stop.stop(e.to_string(), Severity::Fatal);
        }
    }

    /// After a 401 on a request sent with token `generation`: whether a fresh token is now in
    /// place to send again with. When not, the run is stopped (fatal) with the reason.
    async fn after_401(&self, generation: u64) -> bool {
        let _one = match self.tokens.logs_in() {
            true => Some(self.tokens.one_at_a_time.lock().await),
            false => None,
        };
        match self.tokens.after_401(generation, self.client.generation()) {
            After401::Renewed => true,
            After401::Stop(why) => {
                self.stop
                    .stop(AccountError::from(why).to_string(), Severity::Fatal);
                false
            }
            After401::LogIn => {
                self.events.emit(Event::Renewing(Renewal::Refused)).await;
                match self.login_now().await {
                    Ok(()) => true,
                    Err(e) => {
                        self.stop.stop(e.to_string(), Severity::Fatal);
                        false
                    }
                }
            }
        }
    }

    /// Wait for the API to be up and for the gate, unless the run stops first; `false` when it
    /// stopped.
    pub async fn cleared(&self) -> bool {
        if self.outage.is_down() {
            let probe = || self.probe();
            if !self.outage.wait_up(&self.stop, &self.events, probe).await {
                return false;
            }
        }
        tokio::select! {
            biased;
            _ = self.stop.stopped() => false,
            _ = self.gate.ready() => true,
        }
    }

    /// One cheap call through the gate to see whether a down API answers; `None` when the run
    /// stopped first.
    async fn probe(&self) -> Option<Reply> {
        tokio::select! {
            biased;
            _ = self.stop.stopped() => return None,
            _ = self.gate.ready() => {}
        }
        Counts::bump(&self.counts.requests);
        self.events
            .emit(Event::Request {
                call: Call::Probe,
                attempt: 1,
            })
            .await;
        let reply = self.client.list(1, 1).await;
        self.emit_reply(Call::Probe, 1, &reply).await;
        Some(reply)
    }

    async fn emit_reply(&self, call: Call, attempt: u32, reply: &Reply) {
        self.events
            .emit(Event::Reply {
                call,
                attempt,
                status: reply.status,
                kind: reply.kind,
                message: reply.message.clone(),
            })
            .await;
    }

    /// Send `call` until a final reply, retrying what may be retried. Every attempt passes the
    /// gate, the first too unless `first` says the caller already did.
    pub async fn send<F, Fut>(&self, call: Call, first: FirstSlot, mut attempt: F) -> Sent
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Reply>,
    {
        // Logging in is the one call that carries no token.
        let authorized = call != Call::Login;
        let mut sent = Sent {
            reply: None,
            attempts: 0,
            first_sent: None,
            last_sent: None,
        };
        let mut cleared = first == FirstSlot::Taken;
        // Retries spent (a fresh token's second try after a 401 is not one).
        let mut spent = 0u32;
        loop {
            if !std::mem::take(&mut cleared) && !self.cleared().await {
                return sent;
            }
            if authorized && self.tokens.due() {
                // Boxed: renewing sends a login, through this same loop.
                Box::pin(self.renew_if_due()).await;
            }
            let generation = self.client.generation();
            sent.attempts += 1;
            let (reply, started, gate_sent) = self.attempt(call, sent.attempts, &mut attempt).await;
            sent.first_sent.get_or_insert(started);
            sent.last_sent = Some(started);
            let wait = match reply.kind {
                ReplyKind::Unauthorized if authorized => {
                    if Box::pin(self.after_401(generation)).await {
                        continue; // a fresh token: send again at once, no retry spent
                    }
                    sent.reply = Some(reply);
                    return sent;
                }
                ReplyKind::TooManyRequests { retry_after } => {
                    Counts::bump(&self.counts.too_many_requests);
                    // The pace learns from it; the row takes the next slot it is given.
                    let retry_after = retry_after.map(|d| d.min(MAX_RETRY_AFTER));
                    self.gate.answered(gate_sent, Answer::TooMany(retry_after));
                    if let Some(rate) = self.gate.rate() {
                        self.events.emit(Event::Pace { rate }).await;
                    }
                    Duration::ZERO
                }
                ReplyKind::Retryable | ReplyKind::NotSent => {
                    gate::backoff(spent + 1, BACKOFF_BASE, BACKOFF_CAP)
                }
                ReplyKind::Unknown
                    if matches!(call, Call::Create { .. })
                        && crate::mutant::is(crate::mutant::Mutant::ResendBlind) =>
                {
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
            sent.reply = Some(reply);
            // While the API is down, a row waits in `cleared` without trying (or spending its
            // retries) until it answers again.
            spent += 1;
            if spent > self.max_retries {
                return sent;
            }
            Counts::bump(&self.counts.retries);
            tokio::select! {
                biased;
                _ = self.stop.stopped() => return sent,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt: announced, made (or abandoned at the second signal), timed, and its reply
    /// told to the outage breaker and the pace. The reply, when it went out, and the gate's
    /// clock then.
    async fn attempt<F, Fut>(
        &self,
        call: Call,
        n: u32,
        attempt: &mut F,
    ) -> (Reply, Instant, tokio::time::Instant)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Reply>,
    {
        Counts::bump(&self.counts.requests);
        self.events.emit(Event::Request { call, attempt: n }).await;
        let started = Instant::now();
        let gate_sent = tokio::time::Instant::now();
        let reply = tokio::select! {
            biased;
            _ = self.stop.abandoned() => Reply {
                kind: ReplyKind::Unknown,
                status: None,
                message: "abandoned at the second signal while in flight; the broadcast may have been created".into(),
                body: None,
                unreachable: false,
            },
            reply = attempt() => reply,
        };
        self.counts.record_latency(started.elapsed());
        self.emit_reply(call, n, &reply).await;
        if let Some(down) = self.outage.observe(&reply) {
            self.events.emit(down).await;
        }
        if reply.status.is_some_and(|s| s != 429) {
            self.gate.answered(gate_sent, Answer::LetThrough);
        }
        (reply, started, gate_sent)
    }
}
