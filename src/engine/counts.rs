//! The run's counts for the summary: requests, retries, 429s, rows sent, creates and their
//! span, failures, latency, and rows decided without sending. One part, written by whoever
//! does the thing counted, read once at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

use hdrhistogram::Histogram;

use crate::output::summary::latency_histogram;

#[derive(Debug)]
pub struct Counts {
    /// Every HTTP request made.
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub too_many_requests: AtomicU64,
    /// Rows sent in this run.
    pub sent: AtomicU64,
    /// Broadcasts this run's replies said were created: how many, and when the first and the
    /// last of their requests went out.
    creates: Mutex<(u64, Option<Instant>, Option<Instant>)>,
    /// Rows sent that did not succeed.
    failures: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    /// Rows decided without sending, by why.
    pub unsent: Unsent,
}

/// Rows decided without sending a request, by why.
#[derive(Debug, Default)]
pub struct Unsent {
    /// Created by an earlier run.
    pub done_before: AtomicU64,
    /// Found on the account by name after an attempt with no answer.
    pub found: AtomicU64,
    /// Their name was on the account before (`--skip-existing`).
    pub already_existing: AtomicU64,
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            too_many_requests: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            creates: Mutex::new((0, None, None)),
            failures: AtomicU64::new(0),
            latency: Mutex::new(latency_histogram()),
            unsent: Unsent::default(),
        }
    }
}

impl Counts {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
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

    /// Count a row that was sent and did not succeed; the failures so far.
    pub fn row_failed(&self) -> u64 {
        self.failures.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        crate::lock(&self.latency).saturating_record(us);
    }

    pub fn latency(&self) -> Histogram<u64> {
        crate::lock(&self.latency).clone()
    }
}
