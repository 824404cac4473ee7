//! The one gate every request bulkcast makes passes through: the account's rate, and a pause
//! for everyone after a 429.
//!
//! Smartflo's limit is per account and shared by all calls, so the limiter is one GCRA
//! (`governor`) for the whole run with an explicit burst (default 1, so the first second does
//! not overshoot). A 429 means the account is over its limit whatever this process believes,
//! so it pauses every request that has not yet passed the gate, not just the task that saw it.
//! A pause does not reach requests already past the gate: the dispatcher passes the gate before
//! it starts a row's task, so a row released just before the 429 still goes out during the
//! pause. Tasks whose slot fell inside the pause wait for its end and then take new slots from
//! the limiter, at most `burst` at once.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rand::Rng;
use tokio::time::Instant;

use crate::config::Rate;

pub struct Gate {
    limiter: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
}

impl Gate {
    pub fn new(rate: Rate, burst: NonZeroU32) -> Gate {
        let limiter = rate
            .period()
            .and_then(Quota::with_period)
            .map(|q| RateLimiter::direct(q.allow_burst(burst)));
        Gate {
            limiter,
            paused_until: Mutex::new(None),
        }
    }

    /// Wait until a request may go: no pause in force and a slot in the rate.
    pub async fn ready(&self) {
        loop {
            if let Some(until) = self.paused() {
                tokio::time::sleep_until(until).await;
                continue;
            }
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            // A 429 may have arrived while this task waited for its slot.
            if self.paused().is_none() {
                return;
            }
        }
    }

    /// Hold every request back for `d` from now (a longer pause already in force stays).
    pub fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = crate::lock(&self.paused_until);
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
    }

    fn paused(&self) -> Option<Instant> {
        let p = *crate::lock(&self.paused_until);
        p.filter(|&until| until > Instant::now())
    }
}

/// How long to wait before retry number `retry` (1-based): "full jitter" exponential backoff,
/// a uniform draw between zero and `base × 2^(retry-1)`, capped — it spreads the retries of many
/// tasks instead of having them collide again.
pub fn backoff(retry: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(cap);
    ceiling.mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_exponential_ceiling() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(2);
        for retry in 1..40 {
            let d = backoff(retry, base, cap);
            let ceiling = (base * 2u32.saturating_pow(retry - 1).min(1 << 20)).min(cap);
            assert!(d <= ceiling, "retry {retry}: {d:?} > {ceiling:?}");
        }
        // Full jitter: draws spread over the range rather than sitting at the ceiling.
        let draws: Vec<Duration> = (0..200).map(|_| backoff(5, base, cap)).collect();
        assert!(draws.iter().any(|d| *d < Duration::from_millis(800)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(800)));
    }

    #[tokio::test]
    async fn a_pause_holds_every_caller_and_a_shorter_one_does_not_shorten_it() {
        let gate = Gate::new(Rate::UNLIMITED, NonZeroU32::MIN);
        gate.pause_for(Duration::from_millis(200));
        gate.pause_for(Duration::from_millis(10));
        let started = std::time::Instant::now();
        gate.ready().await;
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
        assert!(gate.paused().is_none());
    }

    #[tokio::test]
    async fn the_limiter_paces_at_the_rate_after_a_burst_of_one() {
        // 20/s: 5 requests need at least 4 periods of 50 ms.
        let gate = Gate::new(Rate::per_second(20.0), NonZeroU32::MIN);
        let started = std::time::Instant::now();
        for _ in 0..5 {
            gate.ready().await;
        }
        assert!(
            started.elapsed() >= Duration::from_millis(195),
            "{:?}",
            started.elapsed()
        );
    }
}
