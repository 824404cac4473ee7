//! What the run knows of its token: whether it logs in, when the token in force is due for
//! renewal, and what a 401 means. The sending itself is the [`super::Sender`]'s.
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
use std::time::Duration;
use tokio::time::Instant;

use crate::engine::errors::AccountError;
use crate::net::client::{Client, Reply, ReplyKind};
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
    pub one_at_a_time: tokio::sync::Mutex<()>,
}

/// What a 401 on a request made with a given token means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After401 {
    /// Another request logged in again meanwhile: send again with the new token.
    Renewed,
    /// Log in again, then send again.
    LogIn,
    /// Stop the run: this is why.
    Stop(Refusal),
}

/// Why a 401 stops the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A direct token that had worked stopped working.
    TokenStopped,
    /// A direct token refused mid-run without having worked.
    RejectedMidRun,
    /// A token just issued by a login was refused at once.
    FreshTokenRefused,
}

impl From<Refusal> for AccountError {
    fn from(r: Refusal) -> AccountError {
        match r {
            Refusal::TokenStopped => AccountError::TokenStopped,
            Refusal::RejectedMidRun => AccountError::RejectedMidRun,
            Refusal::FreshTokenRefused => AccountError::FreshTokenRefused,
        }
    }
}

impl Tokens {
    pub fn new(login: Option<(String, Secret)>) -> Tokens {
        Tokens {
            login,
            renew_at: Mutex::new(None),
            worked: AtomicU64::new(0),
            one_at_a_time: tokio::sync::Mutex::new(()),
        }
    }

    pub fn logs_in(&self) -> bool {
        self.login.is_some()
    }

    /// The email and password to log in with.
    pub fn credentials(&self) -> Option<(&str, &Secret)> {
        self.login.as_ref().map(|(e, p)| (e.as_str(), p))
    }

    /// A request made with token `generation` was answered (not with a 401).
    pub fn worked(&self, generation: u64) {
        self.worked.fetch_max(generation, Ordering::SeqCst);
    }

    /// Whether the token should be renewed before the next request.
    pub fn due(&self) -> bool {
        self.logs_in() && crate::lock(&self.renew_at).is_some_and(|t| Instant::now() >= t)
    }

    /// Take a login's reply: put its token in `client` and note when to renew it.
    pub fn accept(&self, reply: &Reply, client: &Client, email: &str) -> Result<(), AccountError> {
        match reply.kind {
            ReplyKind::Ok => {
                let body = reply.body.as_ref();
                let token = body
                    .and_then(|b| b["access_token"].as_str())
                    .unwrap_or_default();
                if token.is_empty() {
                    return Err(AccountError::NoAccessToken);
                }
                client
                    .set_token(&Secret::new(token))
                    .map_err(|e| AccountError::UnusableToken(format!("{e:#}")))?;
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
            ReplyKind::Unauthorized => Err(AccountError::LoginRejected {
                email: email.to_owned(),
                message: reply.message.clone(),
            }),
            _ => Err(AccountError::LoginFailed(reply.message.clone())),
        }
    }

    /// What a 401 on a request sent with token `generation` means, the client's token now
    /// being `current`. Call with [`Tokens::one_at_a_time`] held when the run logs in.
    pub fn after_401(&self, generation: u64, current: u64) -> After401 {
        let had_worked = self.worked.load(Ordering::SeqCst) >= generation && generation > 0;
        if !self.logs_in() {
            return After401::Stop(if had_worked {
                Refusal::TokenStopped
            } else {
                Refusal::RejectedMidRun
            });
        }
        if current > generation {
            return After401::Renewed;
        }
        if !had_worked {
            return After401::Stop(Refusal::FreshTokenRefused);
        }
        After401::LogIn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_401_stops_a_direct_token_and_renews_a_login_that_had_worked() {
        let direct = Tokens::new(None);
        assert_eq!(
            direct.after_401(0, 0),
            After401::Stop(Refusal::RejectedMidRun)
        );
        direct.worked(1);
        assert_eq!(
            direct.after_401(1, 1),
            After401::Stop(Refusal::TokenStopped)
        );

        let login = Tokens::new(Some(("ops@example.com".into(), Secret::new("pw"))));
        assert_eq!(
            login.after_401(1, 1),
            After401::Stop(Refusal::FreshTokenRefused),
            "a token that never worked"
        );
        login.worked(1);
        assert_eq!(login.after_401(1, 1), After401::LogIn);
        assert_eq!(
            login.after_401(1, 2),
            After401::Renewed,
            "renewed meanwhile"
        );
    }
}
