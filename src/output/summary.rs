//! The end-of-run summary: counts by outcome, time, throughput, latency and retries, for the
//! terminal and (with `--summary-json`) for scripts.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::ledger::outcome::Status;

/// Counts of outcomes, kept by the collector as results are written.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    counts: [u64; Status::ALL.len()],
}

impl Tally {
    pub fn add(&mut self, status: Status) {
        self.counts[status as usize] += 1;
    }
    /// A row counted as `old` turned out to be `new`.
    pub fn replace(&mut self, old: Status, new: Status) {
        self.counts[old as usize] -= 1;
        self.counts[new as usize] += 1;
    }
    pub fn get(&self, status: Status) -> u64 {
        self.counts[status as usize]
    }
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    /// Rows that reached the server.
    pub fn sent(&self) -> u64 {
        Status::ALL
            .iter()
            .filter(|s| s.was_sent())
            .map(|&s| self.get(s))
            .sum()
    }
    /// Rows that did not end as created (or found on the account already, as asked).
    pub fn unsuccessful(&self) -> u64 {
        self.total() - self.get(Status::Created) - self.get(Status::Existing)
    }
}

/// `n` per second of `d`: with two or more, the `n - 1` gaps over `d`, so that `n` creates
/// spread evenly at rate `r` measure `r`; 0 when there is nothing to measure.
fn per_second(n: u64, d: Duration) -> f64 {
    let secs = d.as_secs_f64();
    if n < 2 || secs <= 0.0 {
        return 0.0;
    }
    (n - 1) as f64 / secs
}

/// Request latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    /// From a histogram of microseconds; `None` when nothing was recorded.
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        let ms = |us: u64| us as f64 / 1000.0;
        (!h.is_empty()).then(|| Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        })
    }
}

/// A histogram of request latencies in microseconds, from 1 µs to an hour, 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub input: String,
    pub results: String,
    pub rows: u64,
    pub created: u64,
    /// Rows not sent because a broadcast of their name saying what they say was on the account
    /// before the run (`--skip-existing`).
    pub existing: u64,
    pub invalid: u64,
    pub rejected: u64,
    pub failed: u64,
    pub unknown: u64,
    pub not_attempted: u64,
    pub wall_seconds: f64,
    /// Rows this run sent, per second of wall time.
    pub rows_per_second: f64,
    /// Broadcasts this run created, per second from the first of their requests to the last:
    /// the rate the account granted while sending.
    pub creates_per_second: f64,
    /// 429s as a share of every request made (0 to 1).
    pub too_many_requests_share: f64,
    /// How the pace was set: `fixed` (`--rate N`), `auto` or `unlimited`.
    pub rate_mode: &'static str,
    /// How many times a 429 cut the pace.
    pub rate_cuts: u64,
    /// The rate settled on, with `--rate auto` or once 429s cut the pace: requests the account
    /// let through per second over the last few dozen. `null` otherwise.
    pub rate_settled: Option<f64>,
    /// Every HTTP request made, the auth check and retries included.
    pub requests: u64,
    pub retries: u64,
    pub too_many_requests: u64,
    /// Rows sent in this run (each may have taken several requests).
    pub sent: u64,
    /// Rows recorded as created by an earlier run, not sent again.
    pub skipped_done: u64,
    /// Rows found on the account by name after an attempt with no answer.
    pub reconciled: u64,
    /// Rows whose name was already on the account (`--skip-existing`).
    pub already_on_account: u64,
    pub latency_ms: Option<Latency>,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Broadcasts this run created, and the time from the first of their requests to the last.
    pub creates: u64,
    pub sending: Duration,
    pub requests: u64,
    pub retries: u64,
    pub too_many_requests: u64,
    /// `fixed`, `auto` or `unlimited`; the 429s that cut the pace; what the account granted
    /// lately, when known.
    pub rate_mode: &'static str,
    pub rate_cuts: u64,
    pub granted: Option<f64>,
    pub sent: u64,
    pub done_before: u64,
    pub reconciled: u64,
    pub already_existing: u64,
}

impl Summary {
    pub fn new(
        input: &str,
        results: &str,
        tally: &Tally,
        counters: Counters,
        latency: &Histogram<u64>,
        wall: Duration,
        stopped: Option<String>,
    ) -> Summary {
        let secs = wall.as_secs_f64();
        Summary {
            input: input.to_owned(),
            results: results.to_owned(),
            rows: tally.total(),
            created: tally.get(Status::Created),
            existing: tally.get(Status::Existing),
            invalid: tally.get(Status::Invalid),
            rejected: tally.get(Status::Rejected),
            failed: tally.get(Status::Failed),
            unknown: tally.get(Status::Unknown),
            not_attempted: tally.get(Status::NotAttempted),
            wall_seconds: (secs * 1000.0).round() / 1000.0,
            // Rows this run sent, not rows it settled without a request.
            rows_per_second: if secs > 0.0 {
                counters.sent as f64 / secs
            } else {
                0.0
            },
            creates_per_second: per_second(counters.creates, counters.sending),
            too_many_requests_share: if counters.requests > 0 {
                counters.too_many_requests as f64 / counters.requests as f64
            } else {
                0.0
            },
            rate_mode: counters.rate_mode,
            rate_cuts: counters.rate_cuts,
            rate_settled: counters
                .granted
                .filter(|_| counters.rate_mode == "auto" || counters.rate_cuts > 0)
                .map(|r| (r * 100.0).round() / 100.0),
            requests: counters.requests,
            retries: counters.retries,
            too_many_requests: counters.too_many_requests,
            sent: counters.sent,
            skipped_done: counters.done_before,
            reconciled: counters.reconciled,
            already_on_account: counters.already_existing,
            latency_ms: Latency::from_histogram(latency),
            stopped,
        }
    }

    /// The summary as a few lines for the terminal.
    pub fn render(&self) -> String {
        use crate::plural;
        let mut counts = vec![format!("{} created", self.created)];
        for (n, what) in [
            (self.existing, "already on the account"),
            (self.invalid, "invalid"),
            (self.rejected, "rejected"),
            (self.failed, "failed"),
            (self.unknown, "unknown"),
            (self.not_attempted, "not attempted"),
        ] {
            if n > 0 {
                counts.push(format!("{n} {what}"));
            }
        }
        let mut out = format!(
            "{}: {}\n",
            plural(self.rows, "row", "rows"),
            counts.join(", ")
        );
        let answered_429 = match self.too_many_requests {
            0 => "none answered 429".to_owned(),
            n => format!("{n} answered 429"),
        };
        out += &format!(
            "sent {} in {:.1} s ({:.2} a second): {} ({}, {})\n",
            plural(self.sent, "row", "rows"),
            self.wall_seconds,
            self.rows_per_second,
            plural(self.requests, "request", "requests"),
            plural(self.retries, "retry", "retries"),
            answered_429
        );
        if self.creates_per_second > 0.0 {
            out += &format!(
                "while sending: {:.2} creates a second, first to last\n",
                self.creates_per_second
            );
        }
        match (self.rate_mode, self.rate_settled) {
            ("auto", Some(r)) => {
                out += &format!(
                    "--rate auto: the account let through about {r:.1} requests a second over the \
                     run's last requests ({} after 429s)\n",
                    plural(self.rate_cuts, "cut", "cuts")
                );
            }
            ("auto", None) if self.creates_per_second > 0.0 => {
                out +=
                    "--rate auto: the run ended before its pace settled, so no rate was measured\n";
            }
            (_, Some(r)) => {
                out += &format!(
                    "429s cut the pace {}; over the run's last requests the account let through \
                     about {r:.1} a second\n",
                    plural(self.rate_cuts, "time", "times")
                );
            }
            _ => {}
        }
        if self.skipped_done + self.reconciled + self.already_on_account > 0 {
            out += &format!(
                "not sent: {} created by an earlier run, {} found on the account after no answer, \
                 {} already on the account\n",
                self.skipped_done, self.reconciled, self.already_on_account
            );
        }
        if let Some(l) = self.latency_ms {
            out += &format!(
                "latency p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n",
                l.p50, l.p90, l.p99, l.max
            );
        }
        if let Some(why) = &self.stopped {
            out += &format!("stopped early: {why}\n");
        }
        out += &format!("results: {}", self.results);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_and_renders() {
        let mut tally = Tally::default();
        for s in [
            Status::Created,
            Status::Created,
            Status::Invalid,
            Status::Unknown,
            Status::NotAttempted,
        ] {
            tally.add(s);
        }
        let mut h = latency_histogram();
        for us in [10_000, 20_000, 30_000, 400_000] {
            h.record(us).unwrap();
        }
        let counters = Counters {
            requests: 6,
            retries: 2,
            too_many_requests: 1,
            sent: 3,
            rate_mode: "auto",
            rate_cuts: 4,
            granted: Some(4.8312),
            ..Counters::default()
        };
        let s = Summary::new(
            "in.csv",
            "in.results.csv",
            &tally,
            counters,
            &h,
            Duration::from_secs(2),
            None,
        );
        assert_eq!(
            (s.rows, s.created, s.invalid, s.unknown, s.not_attempted),
            (5, 2, 1, 1, 1)
        );
        assert_eq!(s.rows_per_second, 1.5, "the 3 rows sent, over 2 s");
        let l = s.latency_ms.unwrap();
        assert!(
            (l.p50 - 20.0).abs() < 0.1 && (l.max - 400.0).abs() < 1.0,
            "{l:?}"
        );
        let text = s.render();
        assert!(
            text.starts_with("5 rows: 2 created, 1 invalid, 1 unknown, 1 not attempted\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "sent 3 rows in 2.0 s (1.50 a second): 6 requests (2 retries, 1 answered 429)"
            ),
            "{text}"
        );
        assert!(
            text.contains("--rate auto: the account let through about 4.8 requests a second"),
            "{text}"
        );
        assert_eq!(s.rate_settled, Some(4.83));
        assert_eq!(tally.unsuccessful(), 3);
    }
}
