//! Keeping a run authorised: logging in with email and password, renewing the token before it
//! runs out, and deciding what a 401 means.
//!
//! A login token lives as long as the login reply's `expires_in` says (an hour on Smartflo). It
//! is renewed shortly before it runs out — a tenth of its life before, at most a minute — so a
//! token of a few seconds is not renewed before every request, and again after a 401 on a
//! token that had been working. The run stops only when a login itself is refused, or when a
//! freshly issued token is refused at once: repeated failed logins lock Smartflo accounts. A
//! token given directly (environment or file) cannot be renewed: when it stops working
//! mid-run the run stops cleanly and says to log in with email and password for long runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::state::RunState;
use crate::net::client::ReplyKind;
use crate::secret::Secret;

/// The most a token is renewed ahead of its end.
const MAX_MARGIN: Duration = Duration::from_secs(60);

pub struct Tokens {
    /// Email and password, when the run logs in rather than using a token.
    login: Option<(String, Secret)>,
    /// When the token in force should be renewed.
    renew_at: Mutex<Option<Instant>>,
    /// The newest token generation a request succeeded with.
    worked: AtomicU64,
    /// One login at a time.
    logging_in: tokio::sync::Mutex<()>,
}

impl Tokens {
    pub fn new(login: Option<(String, Secret)>) -> Tokens {
        Tokens {
            login,
            renew_at: Mutex::new(None),
            worked: AtomicU64::new(0),
            logging_in: tokio::sync::Mutex::new(()),
        }
    }

    pub fn logs_in(&self) -> bool {
        self.login.is_some()
    }

    /// A request made with token `generation` was answered (not with a 401).
    pub fn worked(&self, generation: u64) {
        self.worked.fetch_max(generation, Ordering::SeqCst);
    }

    /// Log in and use the new token from now on.
    pub async fn login(&self, run: &RunState) -> Result<()> {
        let _one = self.logging_in.lock().await;
        self.login_now(run).await
    }

    async fn login_now(&self, run: &RunState) -> Result<()> {
        let Some((email, password)) = &self.login else {
            bail!("no email and password to log in with");
        };
        let Some(reply) = run
            .send_unauthenticated(|| run.client.login(email, password))
            .await
            .reply
        else {
            bail!("stopped before logging in");
        };
        match reply.kind {
            ReplyKind::Ok => {
                let body = reply.body.as_ref();
                let token = body
                    .and_then(|b| b["access_token"].as_str())
                    .unwrap_or_default();
                if token.is_empty() {
                    bail!("the login reply carried no access_token");
                }
                run.client.set_token(&Secret::new(token))?;
                let life = body
                    .and_then(|b| b["expires_in"].as_f64())
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64);
                *crate::lock(&self.renew_at) = life.map(|life| {
                    let margin = (life / 10).min(MAX_MARGIN);
                    Instant::now() + life - margin
                });
                if let Some(life) = life {
                    tracing::debug!("logged in; the token lives {life:?}");
                }
                Ok(())
            }
            ReplyKind::Unauthorized => bail!(
                "the login for {email} was rejected (HTTP 401: {}); not tried again, as repeated failed \
                 logins lock Smartflo accounts",
                reply.message
            ),
            _ => bail!("logging in failed: {}", reply.message),
        }
    }

    /// Before a request: log in again if the token is about to run out.
    pub async fn refresh_if_due(&self, run: &RunState) {
        if !self.due() {
            return;
        }
        let _one = self.logging_in.lock().await;
        if !self.due() {
            return; // renewed while this request waited
        }
        tracing::info!("the token is about to expire; logging in again");
        if let Err(e) = self.login_now(run).await {
            run.stop(format!("{e:#}"), true);
        }
    }

    /// Whether the token should be renewed before the next request.
    pub fn due(&self) -> bool {
        self.logs_in() && crate::lock(&self.renew_at).is_some_and(|t| Instant::now() >= t)
    }

    /// After a 401 on a request sent with token `generation`: whether a fresh token is now in
    /// place to send again with. When not, the run is stopped (fatal) with the reason.
    pub async fn after_401(&self, run: &RunState, generation: u64) -> bool {
        let had_worked = self.worked.load(Ordering::SeqCst) >= generation && generation > 0;
        if !self.logs_in() {
            run.stop(
                if had_worked {
                    "the API token stopped working during the run (HTTP 401: it expired or was \
                     revoked); stopped. A token from the portal or an earlier login does not renew \
                     itself: for long runs, log in with SMARTFLO_EMAIL and SMARTFLO_PASSWORD, which \
                     bulkcast renews as it runs out"
                } else {
                    "the server rejected the credentials (HTTP 401) during the run; stopped so as not \
                     to lock the account with repeated failures"
                },
                true,
            );
            return false;
        }
        let _one = self.logging_in.lock().await;
        if run.client.generation() > generation {
            return true; // another request already logged in again
        }
        if !had_worked {
            run.stop(
                "a freshly issued token was refused at once (HTTP 401); stopped so as not to lock \
                 the account with repeated logins",
                true,
            );
            return false;
        }
        tracing::info!("the token was rejected (401); logging in again");
        match self.login_now(run).await {
            Ok(()) => true,
            Err(e) => {
                run.stop(format!("{e:#}"), true);
                false
            }
        }
    }
}
