//! Waiting out an API that does not answer.
//!
//! After [`FAILURES`] requests in a row fail as an outage does — no connection, a timeout, a
//! 502, 503 or 504 — with no answer in between, the API counts as down: no new row is
//! released, and rows waiting to be retried do not spend their retries. One task probes with
//! one cheap call at a time (a one-broadcast listing) with a capped backoff, saying "API
//! unreachable since …, retrying in …", and everything goes on at the normal rate once it
//! answers. After `--outage-wait` the run stops, leaving the rows not yet sent `not_attempted`
//! for `--resume`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use tokio::sync::Notify;

use crate::engine::events::{Event, Events, Wait};
use crate::engine::stop::{Severity, Stop};
use crate::net::client::Reply;

/// Outage-like failures in a row before the API counts as down.
pub const FAILURES: u32 = 5;
/// The first wait between probes, and the longest.
const PROBE_FIRST: Duration = Duration::from_secs(1);
const PROBE_CAP: Duration = Duration::from_secs(30);

pub struct Outage {
    /// Outage-like failures since the last answer.
    failures: AtomicU32,
    /// Since when the API counts as down, if it does.
    since: Mutex<Option<Instant>>,
    /// Whether the API is down, and its waking for the tasks that wait on it. (A `Notify` wakes
    /// them in the order they came; a `watch` spreads them over shards at random, so that the
    /// simulation's worlds would not replay.)
    down: AtomicBool,
    up_again: Notify,
    /// A task is probing.
    probing: AtomicBool,
    /// How long to wait it out.
    wait: Duration,
    /// Counting from the first row sent: before that, a failure to reach the API stops the
    /// run with nothing sent.
    armed: AtomicBool,
}

impl Outage {
    pub fn new(wait: Duration) -> Outage {
        Outage {
            failures: AtomicU32::new(0),
            since: Mutex::new(None),
            down: AtomicBool::new(false),
            up_again: Notify::new(),
            probing: AtomicBool::new(false),
            wait,
            armed: AtomicBool::new(false),
        }
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// From now on, wait outages out.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Count a reply: an outage-like failure, or an answer. The event says when the API has just
    /// gone down.
    pub fn observe(&self, reply: &Reply) -> Option<Event> {
        if !self.armed.load(Ordering::SeqCst) {
            return None;
        }
        if !reply.unreachable {
            self.failures.store(0, Ordering::SeqCst);
            return None;
        }
        let n = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= FAILURES && !self.is_down() {
            let mut since = crate::lock(&self.since);
            if since.is_none() {
                *since = Some(Instant::now());
                self.down.store(true, Ordering::SeqCst);
                return Some(Event::Down {
                    failures: n,
                    last: reply.message.clone(),
                });
            }
        }
        None
    }

    /// Wait until the API answers again (one waiting task probes it with `probe`, which passes
    /// the gate and makes the one cheap call); `false` when the run stopped meanwhile, or gave up.
    pub async fn wait_up<F, Fut>(&self, stop: &Stop, events: &Events, probe: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<Reply>>,
    {
        loop {
            // Waiting before looking: an "up" between the two is not missed.
            let up_again = self.up_again.notified();
            tokio::pin!(up_again);
            up_again.as_mut().enable();
            if !self.is_down() {
                return !stop.is_stopped();
            }
            if !self.probing.swap(true, Ordering::SeqCst) {
                let up = self.probe(stop, events, probe).await;
                self.probing.store(false, Ordering::SeqCst);
                return up;
            }
            tokio::select! {
                biased;
                _ = stop.stopped() => return false,
                () = &mut up_again => {}
            }
        }
    }

    /// Probe until the API answers or the wait runs out.
    async fn probe<F, Fut>(&self, stop: &Stop, events: &Events, mut probe: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<Reply>>,
    {
        let since = crate::lock(&self.since).unwrap_or_else(Instant::now);
        let mut pause = PROBE_FIRST;
        loop {
            let down_for = since.elapsed();
            if down_for >= self.wait {
                stop.stop(
                    format!(
                        "the API did not answer for {} (--outage-wait); stopped. Rows not sent are \
                         recorded as not attempted: --resume carries on once it answers",
                        humantime::format_duration(Duration::from_secs(down_for.as_secs()))
                    ),
                    Severity::Clean,
                );
                return false;
            }
            let pause_now = pause.min(self.wait - down_for);
            events
                .emit(Event::Waiting {
                    wait: Wait::Outage { down_for },
                    duration: pause_now,
                })
                .await;
            tokio::select! {
                biased;
                _ = stop.stopped() => return false,
                _ = tokio::time::sleep(pause_now) => {}
            }
            pause = (pause * 2).min(PROBE_CAP);
            let Some(reply) = probe().await else {
                return false; // stopped while waiting for the gate
            };
            if !reply.unreachable {
                events
                    .emit(Event::Up {
                        after: since.elapsed(),
                    })
                    .await;
                self.failures.store(0, Ordering::SeqCst);
                *crate::lock(&self.since) = None;
                self.down.store(false, Ordering::SeqCst);
                self.up_again.notify_waiters();
                return true;
            }
        }
    }
}
