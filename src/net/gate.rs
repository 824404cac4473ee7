//! The one gate every request bulkcast makes passes through: the account's rate, learnt from
//! its 429s ([`Pacer`] makes every decision; this waits for them).
//!
//! Smartflo's limit is per account and shared by all calls, so there is one pacer for the
//! whole run. Each caller takes a slot and sleeps until it falls due; a pause that begins while
//! it sleeps (a `Retry-After`, or 429s that keep coming) holds it until the pause ends, and it
//! then takes a new slot. A pause does not reach requests already past the gate: the
//! dispatcher passes the gate before it starts a row's task, so a row released just before the
//! 429 still goes out.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::pacer::Pacer;
use super::Rate;

pub struct Gate {
    pacer: Mutex<Pacer>,
}

/// What the account made of a request, as far as its rate limit goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// Anything but a 429: the request got past the limiter.
    LetThrough,
    /// 429, with the server's `Retry-After` if it gave one.
    TooMany(Option<Duration>),
}

/// The pace a run kept, for the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// How many times a 429 cut the rate.
    pub cuts: u64,
    /// Requests let through per second over the last few dozen: what the account granted.
    pub granted: Option<f64>,
}

impl Gate {
    pub fn new(rate: Rate, burst: NonZeroU32) -> Gate {
        Gate {
            pacer: Mutex::new(Pacer::new(rate, burst.get())),
        }
    }

    /// Wait until a request may go: a slot in the pace, and no pause in force.
    pub async fn ready(&self) {
        loop {
            let now = Instant::now();
            let slot = crate::lock(&self.pacer).reserve(now);
            // A timer, even one already due, costs a tick of the clock (a millisecond): only
            // wait when there is something to wait for.
            if slot > now {
                tokio::time::sleep_until(slot).await;
            }
            // A pause may have begun while this task waited for its slot.
            let paused = crate::lock(&self.pacer).paused(Instant::now());
            match paused {
                None => return,
                Some(until) => tokio::time::sleep_until(until).await,
            }
        }
    }

    /// Tell the pace what became of a request that went out at `sent`.
    pub fn answered(&self, sent: Instant, answer: Answer) {
        let mut pacer = crate::lock(&self.pacer);
        match answer {
            Answer::LetThrough => pacer.let_through(sent),
            Answer::TooMany(retry_after) => pacer.too_many(Instant::now(), sent, retry_after),
        }
    }

    /// The pace now, in requests a second (none when unlimited).
    pub fn rate(&self) -> Option<f64> {
        crate::lock(&self.pacer).rate()
    }

    /// `sharers` runs of this machine now send to the account ([`Pacer::share`]).
    pub fn share(&self, sharers: u32) {
        crate::lock(&self.pacer).share(sharers);
    }

    /// Begin `--rate auto` from a pace the account granted before ([`Pacer::start_from`]).
    pub fn start_from(&self, rate: f64) {
        crate::lock(&self.pacer).start_from(rate);
    }

    /// With `--rate auto`, a lower account rate a neighbour found ([`Pacer::lower_to`]).
    pub fn lower_to(&self, rate: f64) {
        crate::lock(&self.pacer).lower_to(rate);
    }

    /// With `--rate auto`, the account's rate once found ([`Pacer::found`]).
    pub fn found(&self) -> Option<f64> {
        crate::lock(&self.pacer).found()
    }

    /// The pace the account granted, account-wide ([`Pacer::account_pace`]).
    pub fn account_pace(&self) -> Option<f64> {
        crate::lock(&self.pacer).account_pace()
    }

    pub fn pace(&self) -> Pace {
        let pacer = crate::lock(&self.pacer);
        Pace {
            cuts: pacer.cuts(),
            granted: pacer.granted(),
        }
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
    ceiling.mul_f64(draw())
}

thread_local! {
    static SEEDED: RefCell<Option<SmallRng>> = const { RefCell::new(None) };
}

/// Draw backoff jitter on this thread from a generator seeded with `seed` (`None`: from the
/// system's, as normally): the deterministic simulation's worlds replay bit for bit.
pub fn seed_jitter(seed: Option<u64>) {
    SEEDED.with(|s| *s.borrow_mut() = seed.map(SmallRng::seed_from_u64));
}

fn draw() -> f64 {
    SEEDED.with(|s| match &mut *s.borrow_mut() {
        Some(rng) => rng.random::<f64>(),
        None => rand::rng().random::<f64>(),
    })
}

#[cfg(test)]
mod tests {
    use std::future::Future;

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

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_holds_a_caller_already_waiting_for_its_slot() {
        let gate = Gate::new(Rate::PerSecond(1.0), NonZeroU32::MIN);
        let start = Instant::now();
        gate.ready().await; // the first slot is now
        let waiting = gate.ready(); // the next is a second away
        gate.answered(start, Answer::TooMany(Some(Duration::from_secs(5))));
        waiting.await;
        assert!(Instant::now() >= start + Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_slot_that_is_already_due_is_taken_without_waiting_on_a_timer() {
        // Unlimited, and the first slot of a paced gate: ready at the first poll. A timer,
        // even one already due, would return Pending and cost a tick (about 1 ms) per row.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        for gate in [
            Gate::new(Rate::Unlimited, NonZeroU32::MIN),
            Gate::new(Rate::PerSecond(1.0), NonZeroU32::MIN),
        ] {
            let mut ready = std::pin::pin!(gate.ready());
            assert!(ready.as_mut().poll(&mut cx).is_ready());
        }
        let unlimited = Gate::new(Rate::Unlimited, NonZeroU32::MIN);
        for _ in 0..100 {
            let mut ready = std::pin::pin!(unlimited.ready());
            assert!(ready.as_mut().poll(&mut cx).is_ready());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_paces_at_the_rate_after_a_burst_of_one() {
        // 20/s: 5 requests take exactly 4 periods of 50 ms on the virtual clock.
        let gate = Gate::new(Rate::PerSecond(20.0), NonZeroU32::MIN);
        let start = Instant::now();
        for _ in 0..5 {
            gate.ready().await;
        }
        assert_eq!(Instant::now() - start, Duration::from_millis(200));
    }
}
