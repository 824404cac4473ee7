//! The pace every request keeps, learnt from the account's 429s: the decisions only, on a clock
//! the caller passes in, so that tests drive it on a virtual one. [`super::gate`] does the
//! waiting.
//!
//! **The schedule** is GCRA, the "theoretical arrival time" `governor` keeps: each request takes
//! the next slot, one period after the last, and a caller that is late does not earn a burst
//! (beyond `--burst`). `governor` fixes its quota when the limiter is built; a rate that moves
//! with every reply would mean replacing the limiter, and its schedule, each time. The schedule
//! itself is a few lines, so it lives here with the rate that drives it. With no 429 the rate
//! never moves and the slots are exactly `1/--rate` apart, as before.
//!
//! **The rate** starts at `--rate` (the ceiling, never exceeded) or, with `--rate auto`, at 1/s.
//! - A 429 for a request sent after the last cut cuts it by [`CUT`], or by [`CUT_NEAR`] within
//!   [`NEAR`] of the ceiling; replies to requests sent before the last cut were answered by that
//!   cut. A lone 429 costs nothing more: its row retries at the next slot and nobody else waits.
//!   Behind a fixed-window limit, 0–300 ms of network jitter alone moves a request into the next
//!   window now and then; that is what a lone 429 at the account's own rate mostly is, hence the
//!   smaller cut near the ceiling.
//! - When 429s since the last cut are a large share of the replies (at least [`DEEP_SHARE`] of
//!   [`DEEP_AFTER`] or more), the account is shared or its limit is lower than told: the rate
//!   is cut to the share that got through, at most halved.
//! - [`KEEP_COMING`] 429s in a row, with nothing let through between them, pause every request:
//!   1 s (the limit's window), doubling to 30 s while they continue. A `Retry-After` pauses
//!   every request for what it says.
//! - Each request let through raises the rate by [`GAIN`], more the longer the run of them since
//!   the last 429 (× `1 + (run/GAIN_RUN)²`), plus a small step that is the same for every
//!   process sharing the account ([`SHARE_STEP`] of the ceiling per second): a multiplicative
//!   rise alone keeps whatever split two runs start with, the equal step pulls them toward equal
//!   shares.
//! - After [`PROBE_AFTER`] requests in a row let through below the ceiling it probes: each one
//!   let through raises the rate by [`PROBE`], until the ceiling or a 429, which cuts
//!   [`PROBE_CUT`] or back to what the account let through in its last second, if that is
//!   lower. This is how a run takes back the share a neighbour leaves.
//!
//! - **Runs that know each other** (`share`: how many runs of this machine send to the account,
//!   read from the ledger by `engine::share`) split the ceiling between them, each stopping
//!   [`SHARED_TOP`] short of its share (two independent streams at exactly the limit fill a
//!   fixed window past it far more often than one does): each paces to its share, takes a
//!   leaving neighbour's share at once, probes back after [`PROBE_SHARED_AFTER`] requests when
//!   below its share, and needs [`DEEP_AFTER_SHARED`] replies for a deep cut. The ceiling stays
//!   the account's: with `--rate auto`, what a run finds is its pace times the runs sharing, the
//!   lower of two runs' finds is kept by both (`lower_to`), and a 429 below that ceiling lowers
//!   it with the pace.
//!
//! With these figures the rate settles where about 3.5% of requests get a 429: a cut per 429
//! balances the rises of the requests between. `benches/pace_model.py`, a Monte-Carlo model of
//! this pacer against a 5/s fixed-window limit, chose them: with 0–300 ms jitter one run
//! delivers 93.6% of the limit as creates (20 seeds, worst 91.6%); pacing with no 429 at all
//! tops out at 77%, and never backing off at 95% with 4.6% refused. Two runs sharing the limit
//! with 0–100 ms jitter refuse about 4% of requests, most in the first seconds, when both start
//! at the whole limit. `benches/pace.sh` measures the real thing; docs/performance.md has its figures.
//!
//! **`--rate auto`** climbs from 1/s, × [`CLIMB`] a second of sending, until the first 429; the
//! rate then, less [`PROBE_CUT`] (or what the account let through in its last second, if lower),
//! becomes the ceiling. After [`PROBE_AFTER`] requests in a row at the ceiling it raises the
//! ceiling by [`RAISE`] and probes again, so it settles just under the account's limit and finds
//! a limit that rises. Its ceiling is an estimate, not the user's: a 429 within [`GAIN_RUN`]
//! requests of the last one cuts [`CUT`] even near it (429s in quick succession say the
//! estimate is too high; a lone one near `--rate N` is jitter).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::Rate;

/// The share cut from the rate by a 429; [`CUT_NEAR`] within [`NEAR`] of the ceiling, where a
/// lone 429 is most likely jitter.
pub const CUT: f64 = 0.07;
pub const CUT_NEAR: f64 = 0.04;
pub const NEAR: f64 = 0.9;
/// The rise per request let through, before the run bonus.
pub const GAIN: f64 = 0.0012;
/// The run of requests let through at which the rise has doubled.
pub const GAIN_RUN: f64 = 30.0;
/// The additive rise, as a share of the ceiling per second of sending.
pub const SHARE_STEP: f64 = 0.0012;
/// Requests let through in a row, below the ceiling, before probing for more.
pub const PROBE_AFTER: u32 = 80;
/// The same for a run well below its share of a ceiling it knows it shares (a cut that took it
/// there was the window's jitter, not a neighbour it cannot see).
pub const PROBE_SHARED_AFTER: u32 = 10;
/// Runs that share the account each stop this short of their share: two independent streams
/// at exactly the limit fill a fixed window past it far more often than one stream does.
pub const SHARED_TOP: f64 = 0.96;
/// The rise per request let through while probing.
pub const PROBE: f64 = 0.05;
/// The share cut by a 429 that ends a probe.
pub const PROBE_CUT: f64 = 0.10;
/// `--rate auto`: the first rate, the rise per second of sending until the first 429, the
/// rise of the ceiling when probing above it, and the most it climbs to before any 429.
pub const AUTO_START: f64 = 1.0;
pub const CLIMB: f64 = 1.5;
pub const RAISE: f64 = 1.10;
pub const AUTO_MAX: f64 = 100.0;
/// A deep cut: at least this many replies since the last cut, this share of them 429s.
pub const DEEP_AFTER: u32 = 3;
pub const DEEP_SHARE: f64 = 0.30;
/// The replies a deep cut needs when the run knows it shares the account.
pub const DEEP_AFTER_SHARED: u32 = 5;
/// 429s in a row, with nothing let through between, that pause everyone.
pub const KEEP_COMING: u32 = 4;
/// The pause when 429s keep coming, doubling each further 429 up to `MAX_PAUSE`.
pub const PAUSE: Duration = Duration::from_secs(1);
pub const MAX_PAUSE: Duration = Duration::from_secs(30);
/// The slowest pace with `--rate auto`: one request in ten seconds. With `--rate N` it is N/10.
pub const FLOOR: f64 = 0.1;
/// Requests let through that the granted rate is measured over.
const RECENT: usize = 64;

/// The pacer's state: the schedule and the rate that drives it.
#[derive(Debug)]
pub struct Pacer {
    mode: Rate,
    /// Requests per second now (unused when unlimited).
    rate: f64,
    /// The most it may reach: `--rate`; with auto, what the last probe found (none before the
    /// first 429).
    ceiling: Option<f64>,
    /// Slots that may go back to back beyond the first (`--burst` − 1).
    extra_burst: f64,
    /// The theoretical arrival time: when the next slot falls due.
    tat: Option<Instant>,
    probing: bool,
    /// Requests let through since the last 429 (or since auto last raised its ceiling).
    run: u32,
    /// 429s since the last one let through.
    rejected_in_a_row: u32,
    /// When the rate was last cut, and the replies and 429s since to requests sent after it.
    last_cut: Option<Instant>,
    replies_since_cut: u32,
    rejected_since_cut: u32,
    paused_until: Option<Instant>,
    cuts: u64,
    /// When the last [`RECENT`] requests let through were sent.
    recent: VecDeque<Instant>,
    /// Runs of this machine sending to the account, this one included (from the ledger): the
    /// ceiling, which is the account's, is split between them.
    sharers: u32,
}

impl Pacer {
    pub fn new(mode: Rate, burst: u32) -> Pacer {
        let (rate, ceiling, probing) = match mode {
            Rate::Unlimited => (f64::INFINITY, None, false),
            Rate::PerSecond(r) => (r, Some(r), false),
            Rate::Auto => (AUTO_START, None, true),
        };
        Pacer {
            mode,
            rate,
            ceiling,
            extra_burst: f64::from(burst.saturating_sub(1)),
            tat: None,
            probing,
            run: 0,
            rejected_in_a_row: 0,
            last_cut: None,
            replies_since_cut: 0,
            rejected_since_cut: 0,
            paused_until: None,
            cuts: 0,
            recent: VecDeque::with_capacity(RECENT),
            sharers: 1,
        }
    }

    /// This run's part of the ceiling: the ceiling split between the runs sharing it, less
    /// [`SHARED_TOP`]'s margin when there are several.
    fn top(&self) -> Option<f64> {
        self.ceiling.map(|c| c * self.part())
    }

    /// The account's rate for which `rate` is this run's part ([`Pacer::top`]'s inverse).
    fn account(&self, rate: f64) -> f64 {
        rate / self.part()
    }

    /// This run's part of the account's rate: a share of it, less the margin when shared.
    fn part(&self) -> f64 {
        let margin = if self.sharers > 1 { SHARED_TOP } else { 1.0 };
        margin / f64::from(self.sharers)
    }

    /// `sharers` runs of this machine now send to the account, this one included. The ceiling
    /// is split between them at once: a run that a neighbour joins slows to its share before
    /// 429s say so, and a run whose neighbour left takes the share it left in one step
    /// (429s then say whether the account had it to give).
    pub fn share(&mut self, sharers: u32) {
        let sharers = sharers.max(1);
        if self.mode == Rate::Unlimited || sharers == self.sharers {
            return;
        }
        let (was, fewer) = (self.top(), sharers < self.sharers);
        self.sharers = sharers;
        if let (Some(was), Some(top)) = (was, self.top()) {
            if fewer {
                self.rate *= top / was;
                self.probing = false;
            }
            self.rate = self.rate.min(top);
        }
    }

    /// With `--rate auto`: begin from `rate`, the pace the account granted an earlier run
    /// (account-wide), as though this run had found it, instead of climbing from
    /// [`AUTO_START`]. It probes above it as usual.
    pub fn start_from(&mut self, rate: f64) {
        if self.mode != Rate::Auto || self.ceiling.is_some() || !(rate.is_finite() && rate > 0.0) {
            return;
        }
        let rate = rate.clamp(FLOOR, AUTO_MAX);
        self.ceiling = Some(rate);
        self.rate = self.top().unwrap_or(rate);
        self.probing = false;
        self.run = 0;
    }

    /// With `--rate auto`, once found: a neighbour found the account's rate lower than this run
    /// did. Keep the lower, and this run's share of it.
    pub fn lower_to(&mut self, rate: f64) {
        if let (Rate::Auto, Some(c)) = (self.mode, self.ceiling) {
            if rate.is_finite() && rate >= FLOOR && rate < c {
                self.ceiling = Some(rate);
                self.rate = self.rate.min(self.top().unwrap_or(rate));
            }
        }
    }

    /// With `--rate auto`, the account's rate once found (the ceiling); `None` while it climbs.
    pub fn found(&self) -> Option<f64> {
        self.ceiling.filter(|_| self.mode == Rate::Auto)
    }

    /// The pace the account granted this run, account-wide: what it let through lately times
    /// the runs sharing it; `None` before there are a few, or when unlimited.
    pub fn account_pace(&self) -> Option<f64> {
        if self.mode == Rate::Unlimited {
            return None;
        }
        let granted = self.granted()? * f64::from(self.sharers);
        Some(match self.ceiling {
            Some(c) if self.mode != Rate::Auto => granted.min(c),
            _ => granted,
        })
    }

    /// Take the next slot: when a request asking at `now` may go.
    pub fn reserve(&mut self, now: Instant) -> Instant {
        let earliest = self.paused(now).unwrap_or(now);
        if self.mode == Rate::Unlimited {
            return earliest;
        }
        let period = Duration::from_secs_f64(1.0 / self.rate);
        let slot = match self.tat {
            Some(tat) => tat
                .checked_sub(period.mul_f64(self.extra_burst))
                .unwrap_or(tat)
                .max(earliest),
            None => earliest,
        };
        self.tat = Some(self.tat.map_or(slot, |tat| tat.max(slot)) + period);
        slot
    }

    /// The end of the pause in force at `now`, if any.
    pub fn paused(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|&until| until > now)
    }

    /// A request sent at `sent` got past the account's limiter (any reply but a 429).
    pub fn let_through(&mut self, sent: Instant) {
        self.rejected_in_a_row = 0;
        if self.mode == Rate::Unlimited {
            return; // no pace to raise, nothing to report of it
        }
        self.run = self.run.saturating_add(1);
        if self.last_cut.is_none_or(|cut| sent >= cut) {
            self.replies_since_cut += 1;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(sent);
        if self.probing && self.ceiling.is_none() {
            // × CLIMB a second: the rise per request is its root by the requests in a second.
            // With n runs of this machine climbing together, each climbs × CLIMB^(1/n) a
            // second: gentler, so that together they overshoot the limit less before their
            // 429s come back.
            self.rate *= CLIMB.powf(1.0 / (self.rate * f64::from(self.sharers)));
        } else if self.probing {
            self.rate *= 1.0 + PROBE;
        } else {
            let bonus = f64::from(self.run) / GAIN_RUN;
            self.rate *= 1.0 + GAIN * (1.0 + bonus * bonus);
            let reference = self.top().unwrap_or(self.rate);
            self.rate += SHARE_STEP * reference / self.rate;
            let below = self.sharers > 1 && self.top().is_some_and(|t| self.rate < t);
            let after = if below {
                PROBE_SHARED_AFTER
            } else {
                PROBE_AFTER
            };
            if self.run >= after {
                match (self.top(), self.ceiling) {
                    (Some(top), _) if self.rate < top => self.probing = true,
                    (Some(_), Some(c)) if self.mode == Rate::Auto => {
                        self.ceiling = Some(c * RAISE);
                        self.probing = true;
                        self.run = 0;
                    }
                    _ => {}
                }
            }
        }
        let top = self.top().unwrap_or(AUTO_MAX);
        if self.rate >= top {
            self.rate = top;
            self.probing = self.probing && self.ceiling.is_none();
        }
    }

    /// A request sent at `sent` was answered 429 at `now`.
    pub fn too_many(&mut self, now: Instant, sent: Instant, retry_after: Option<Duration>) {
        let since_last = std::mem::take(&mut self.run);
        self.rejected_in_a_row += 1;
        if let Some(wait) = retry_after {
            self.pause_until(now + wait);
        } else if self.rejected_in_a_row >= KEEP_COMING {
            let doublings = (self.rejected_in_a_row - KEEP_COMING).min(5);
            self.pause_until(now + (PAUSE * (1 << doublings)).min(MAX_PAUSE));
        }
        if self.mode == Rate::Unlimited {
            // Nothing to slow but everyone: for the limit's window, unless the server said.
            if retry_after.is_none() {
                self.pause_until(now + PAUSE);
            }
            return;
        }
        if self.last_cut.is_some_and(|cut| sent < cut) {
            return;
        }
        self.replies_since_cut += 1;
        self.rejected_since_cut += 1;
        let share = f64::from(self.rejected_since_cut) / f64::from(self.replies_since_cut);
        // Runs that know their neighbours need more to believe in one they cannot see.
        let deep_after = if self.sharers > 1 {
            DEEP_AFTER_SHARED
        } else {
            DEEP_AFTER
        };
        let keep = if self.replies_since_cut >= deep_after && share >= DEEP_SHARE {
            (1.0 - share).max(0.5)
        } else if self.probing {
            // A probe went past the limit: back to what the account let through in its last
            // second, if that is lower.
            let granted = self.last_second().map_or(1.0, |n| n / self.rate);
            (1.0 - PROBE_CUT).min(granted).max(0.5)
        } else if self.top().is_some_and(|top| self.rate >= NEAR * top)
            && !(self.mode == Rate::Auto && f64::from(since_last) < GAIN_RUN)
        {
            // Near a ceiling a lone 429 is most likely jitter; with `--rate auto` the ceiling
            // is an estimate, and 429s in quick succession say it is too high.
            1.0 - CUT_NEAR
        } else {
            1.0 - CUT
        };
        self.rate = (self.rate * keep).max(self.floor());
        if let (Rate::Auto, false, Some(c)) = (self.mode, self.probing, self.ceiling) {
            // What auto found was too much: a 429 below it lowers it with the pace (of all the
            // runs sharing it together); probing at the ceiling raises it again.
            self.ceiling = Some(c.min(self.account(self.rate)));
        }
        if self.probing && self.mode == Rate::Auto {
            if self.ceiling.is_none() {
                // The climb is over: what the account grants is measured from here on.
                self.recent.clear();
            }
            // The account's, as the ceiling always is: this run's pace times the runs sharing.
            self.ceiling = Some(self.rate * f64::from(self.sharers));
        }
        self.probing = false;
        self.last_cut = Some(now);
        self.replies_since_cut = 0;
        self.rejected_since_cut = 0;
        self.cuts += 1;
    }

    /// The slowest pace: a tenth of `--rate`, or [`FLOOR`] with `--rate auto`. 429s that have
    /// nothing to do with the pace (a server refusing for another reason) would otherwise
    /// take it to nothing.
    fn floor(&self) -> f64 {
        match self.mode {
            Rate::PerSecond(r) => (r / 10.0).max(FLOOR).min(r),
            _ => FLOOR,
        }
    }

    fn pause_until(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|old| old < until) {
            self.paused_until = Some(until);
        }
    }

    /// Requests per second now; `None` when unlimited.
    pub fn rate(&self) -> Option<f64> {
        (self.mode != Rate::Unlimited).then_some(self.rate)
    }

    /// How many times a 429 cut the rate.
    pub fn cuts(&self) -> u64 {
        self.cuts
    }

    /// Requests let through in the second before the last one let through was sent; `None`
    /// until there is a second of them.
    fn last_second(&self) -> Option<f64> {
        let last = *self.recent.iter().max()?;
        let first = *self.recent.iter().min()?;
        let from = last.checked_sub(Duration::from_secs(1))?;
        (first <= from).then(|| self.recent.iter().filter(|&&t| t > from).count() as f64)
    }

    /// What the account granted lately: requests let through per second over the last
    /// [`RECENT`] of them; `None` before there are a few.
    pub fn granted(&self) -> Option<f64> {
        let first = self.recent.iter().min()?;
        let last = self.recent.iter().max()?;
        let span = (*last - *first).as_secs_f64();
        (self.recent.len() >= 8 && span > 0.0).then(|| (self.recent.len() - 1) as f64 / span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// A virtual clock: instants are `origin + offset`; nothing sleeps.
    struct Clock {
        origin: Instant,
        now: Duration,
    }

    impl Clock {
        fn new() -> Clock {
            Clock {
                origin: Instant::now(),
                now: Duration::ZERO,
            }
        }
        fn now(&self) -> Instant {
            self.origin + self.now
        }
        fn at(&self, i: Instant) -> Duration {
            i - self.origin
        }
    }

    /// Send `n` requests back to back through `pacer`, each answered by `answer` (true: let
    /// through) as soon as it goes; the slots taken, as offsets from the origin.
    fn drive(
        pacer: &mut Pacer,
        clock: &mut Clock,
        n: usize,
        mut answer: impl FnMut(usize, f64) -> bool,
    ) -> Vec<Duration> {
        let mut slots = Vec::new();
        for i in 0..n {
            let slot = pacer.reserve(clock.now());
            clock.now = clock.now.max(clock.at(slot));
            slots.push(clock.at(slot));
            if answer(i, pacer.rate().unwrap_or(f64::INFINITY)) {
                pacer.let_through(slot);
            } else {
                pacer.too_many(slot, slot, None);
            }
        }
        slots
    }

    #[test]
    fn with_no_429_the_slots_are_exactly_one_period_apart() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        let slots = drive(&mut pacer, &mut clock, 500, |_, _| true);
        for pair in slots.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(gap.abs_diff(200 * MS) < Duration::from_micros(1), "{gap:?}");
        }
        assert_eq!(pacer.rate(), Some(5.0));
        assert_eq!(pacer.cuts(), 0);
    }

    #[test]
    fn runs_sharing_the_account_split_its_ceiling_and_one_takes_back_what_another_leaves() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        pacer.share(2);
        let half = 2.5 * SHARED_TOP;
        assert_eq!(
            pacer.rate(),
            Some(half),
            "a neighbour joins: half each (less the margin), before any 429"
        );
        let slots = drive(&mut pacer, &mut clock, 50, |_, _| true);
        let period = Duration::from_secs_f64(1.0 / half);
        assert!(slots[49] - slots[48] >= period - Duration::from_micros(1));
        assert_eq!(pacer.rate(), Some(half), "no rise past the share");
        pacer.share(1);
        assert_eq!(
            pacer.rate(),
            Some(5.0),
            "the neighbour's share is taken in one step"
        );
        pacer.share(0);
        assert_eq!(pacer.rate(), Some(5.0), "never fewer than this run");

        // Below its share (after 429s), a run whose neighbour left scales up, within the ceiling.
        pacer.share(2);
        pacer.rate = 0.8 * half;
        pacer.share(1);
        assert!((pacer.rate().unwrap() - 4.0).abs() < 1e-9);
        let mut unlimited = Pacer::new(Rate::Unlimited, 1);
        unlimited.share(3);
        assert_eq!(unlimited.rate(), None);
    }

    #[test]
    fn auto_finds_the_accounts_rate_whoever_shares_it_and_starts_from_a_remembered_one() {
        let (mut pacer, clock) = (Pacer::new(Rate::Auto, 1), Clock::new());
        pacer.share(2);
        pacer.rate = 2.0;
        let t = clock.now();
        pacer.too_many(t, t, None);
        let found = pacer.rate().unwrap();
        assert!(
            (pacer.ceiling.unwrap() - 2.0 * found).abs() < 1e-9,
            "the account's, not the share"
        );
        pacer.share(1);
        assert!((pacer.rate().unwrap() - 2.0 * found).abs() < 1e-9);

        let mut again = Pacer::new(Rate::Auto, 1);
        again.start_from(4.5);
        assert_eq!(again.rate(), Some(4.5), "no climb from 1/s");
        again.share(3);
        assert!((again.rate().unwrap() - 1.5 * SHARED_TOP).abs() < 1e-9);
        let mut fixed = Pacer::new(Rate::PerSecond(3.0), 1);
        fixed.start_from(9.0);
        assert_eq!(
            fixed.rate(),
            Some(3.0),
            "--rate N is the user's: nothing remembered moves it"
        );
        let mut bad = Pacer::new(Rate::Auto, 1);
        bad.start_from(f64::NAN);
        assert_eq!(bad.rate(), Some(AUTO_START));
    }

    #[test]
    fn auto_sharing_keeps_the_lower_find_and_lowers_it_by_the_cut_alone() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::Auto, 1), Clock::new());
        pacer.share(2);
        pacer.start_from(6.0);
        pacer.lower_to(7.0);
        assert_eq!(pacer.found(), Some(6.0), "a higher find is not taken");
        pacer.lower_to(5.0);
        assert_eq!(pacer.found(), Some(5.0), "the neighbour's lower find is");
        assert!((pacer.rate().unwrap() - 2.5 * SHARED_TOP).abs() < 1e-9);
        Pacer::new(Rate::PerSecond(5.0), 1).lower_to(1.0); // nothing to lower: no panic

        // Two 429s in quick succession at the share: each cuts CUT (the find was too high),
        // and the account's rate falls with the pace, not by the margin as well.
        drive(&mut pacer, &mut clock, 2, |_, _| false);
        let rate = pacer.rate().unwrap();
        let expected = 2.5 * SHARED_TOP * (1.0 - CUT) * (1.0 - CUT);
        assert!((rate - expected).abs() < 1e-9, "{rate} vs {expected}");
        let found = pacer.found().unwrap();
        assert!((found - rate * 2.0 / SHARED_TOP).abs() < 1e-9, "{found}");
    }

    #[test]
    fn the_pace_remembered_is_what_was_let_through_account_wide() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        assert_eq!(pacer.account_pace(), None, "nothing measured yet");
        pacer.share(2);
        drive(&mut pacer, &mut clock, 100, |_, _| true);
        let pace = pacer.account_pace().unwrap();
        assert!(
            (pace - 5.0 * SHARED_TOP).abs() < 0.01,
            "2.4 let through, times two runs: {pace}"
        );
    }

    #[test]
    fn a_late_caller_earns_no_burst_beyond_the_configured_one() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        drive(&mut pacer, &mut clock, 3, |_, _| true);
        clock.now += Duration::from_secs(10);
        let slots = drive(&mut pacer, &mut clock, 3, |_, _| true);
        assert_eq!(slots[1] - slots[0], 200 * MS);

        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(5.0), 3), Clock::new());
        clock.now += Duration::from_secs(10);
        let slots = drive(&mut pacer, &mut clock, 4, |_, _| true);
        assert_eq!(slots[2], slots[0], "a burst of 3 goes at once");
        assert_eq!(slots[3] - slots[0], 200 * MS);
    }

    #[test]
    fn the_rate_never_exceeds_the_ceiling_whatever_the_replies() {
        let mut pacer = Pacer::new(Rate::PerSecond(4.0), 1);
        let mut clock = Clock::new();
        let slots = drive(&mut pacer, &mut clock, 5000, |i, _| i % 97 != 0);
        for pair in slots.windows(2) {
            assert!(pair[1] - pair[0] >= 250 * MS - Duration::from_micros(1));
        }
        assert!(pacer.rate().unwrap() <= 4.0);
    }

    #[test]
    fn a_lone_429_cuts_the_rate_a_little_and_pauses_nobody() {
        let (mut pacer, clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        let t = clock.now();
        pacer.too_many(t, t, None);
        assert!((pacer.rate().unwrap() - 5.0 * (1.0 - CUT_NEAR)).abs() < 1e-9);
        assert_eq!(pacer.paused(t), None);
        assert_eq!(pacer.reserve(t), t, "the next slot is not held back");
    }

    #[test]
    fn far_below_the_ceiling_a_429_cuts_more_than_near_it() {
        let (mut pacer, clock) = (Pacer::new(Rate::PerSecond(10.0), 1), Clock::new());
        let t = clock.now();
        pacer.too_many(t, t, None);
        assert!((pacer.rate().unwrap() - 9.6).abs() < 1e-9, "near: 4%");
        pacer.rate = 5.0;
        pacer.too_many(t + MS, t + MS, None);
        assert!((pacer.rate().unwrap() - 4.65).abs() < 1e-9, "far: 7%");
    }

    #[test]
    fn replies_to_requests_sent_before_a_cut_do_not_cut_again() {
        let (mut pacer, clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        let t = clock.now();
        pacer.too_many(t + 100 * MS, t, None);
        pacer.too_many(t + 150 * MS, t + 50 * MS, None);
        assert_eq!(pacer.cuts(), 1);
        pacer.too_many(t + 400 * MS, t + 200 * MS, None);
        assert_eq!(pacer.cuts(), 2);
    }

    #[test]
    fn a_stream_of_429s_backs_off_multiplicatively_then_pauses_everyone() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(10.0), 1), Clock::new());
        // Every other request refused: the account grants half of what is sent.
        drive(&mut pacer, &mut clock, 40, |i, _| i % 2 == 0);
        let rate = pacer.rate().unwrap();
        assert!(rate < 10.0 * 0.5, "{rate}");
        assert_eq!(pacer.paused(clock.now()), None, "429s between successes");

        // Four in a row: everyone waits a second, then two, then four.
        let t = clock.now();
        pacer.let_through(t);
        for i in 1..=3 {
            pacer.too_many(t + i * MS, t + i * MS, None);
        }
        assert_eq!(pacer.paused(t + 3 * MS), None);
        pacer.too_many(t + 4 * MS, t + 4 * MS, None);
        assert_eq!(pacer.paused(t + 4 * MS), Some(t + 4 * MS + PAUSE));
        pacer.too_many(t + 5 * MS, t + 5 * MS, None);
        assert_eq!(pacer.paused(t + 5 * MS), Some(t + 5 * MS + 2 * PAUSE));
        let slot = pacer.reserve(t + 6 * MS);
        assert!(slot >= t + 5 * MS + 2 * PAUSE);
        assert!(
            pacer.rate().unwrap() >= 1.0,
            "never below a tenth of --rate"
        );
    }

    #[test]
    fn retry_after_pauses_everyone_for_what_it_says() {
        let (mut pacer, clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        let t = clock.now();
        pacer.too_many(t, t, Some(Duration::from_secs(7)));
        assert_eq!(pacer.paused(t), Some(t + Duration::from_secs(7)));
        assert!(pacer.reserve(t + MS) >= t + Duration::from_secs(7));
        // A shorter one later does not shorten it.
        pacer.too_many(t + MS, t + MS, Some(Duration::from_secs(1)));
        assert_eq!(pacer.paused(t + MS), Some(t + Duration::from_secs(7)));
    }

    #[test]
    fn after_backing_off_it_recovers_to_the_ceiling_while_no_429_comes() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::PerSecond(5.0), 1), Clock::new());
        drive(&mut pacer, &mut clock, 60, |i, _| i % 10 != 0);
        let low = pacer.rate().unwrap();
        assert!(low < 4.0, "{low}");
        let started = clock.now;
        let mut sent = 0;
        while pacer.rate() < Some(5.0) && sent < 1000 {
            drive(&mut pacer, &mut clock, 1, |_, _| true);
            sent += 1;
        }
        assert_eq!(pacer.rate(), Some(5.0));
        // The run bonus and then probing bring it back within about half a minute of sending.
        let took = clock.now - started;
        assert!(took < Duration::from_secs(30), "{took:?} from {low}/s");
    }

    /// A fixed one-second-window limit, as Smartflo's and the simulation's: a request is let
    /// through when its window has room.
    struct Window {
        limit: u32,
        second: u64,
        count: u32,
    }

    impl Window {
        fn admit(&mut self, at: Duration) -> bool {
            if at.as_secs() != self.second {
                (self.second, self.count) = (at.as_secs(), 0);
            }
            self.count += 1;
            self.count <= self.limit
        }
    }

    #[test]
    fn auto_climbs_from_one_per_second_and_settles_just_under_the_limit() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::Auto, 1), Clock::new());
        assert_eq!(pacer.rate(), Some(AUTO_START));
        let mut window = Window {
            limit: 5,
            second: 0,
            count: 0,
        };
        let mut let_through_after_15s = 0;
        let mut rejected = 0;
        for _ in 0..400 {
            let slot = pacer.reserve(clock.now());
            clock.now = clock.now.max(clock.at(slot));
            if window.admit(clock.now) {
                pacer.let_through(slot);
                if clock.now >= Duration::from_secs(15) {
                    let_through_after_15s += 1;
                }
            } else {
                rejected += 1;
                pacer.too_many(slot, slot, None);
            }
        }
        let after = (clock.now - Duration::from_secs(15)).as_secs_f64();
        let granted = f64::from(let_through_after_15s) / after;
        // Each window lets 5 through; counted from a moment inside one, a hair over 5.
        assert!((4.5..=5.05).contains(&granted), "{granted}");
        assert!(rejected <= 20, "{rejected} of 400");
        let measured = pacer.granted().unwrap();
        assert!((4.5..=5.05).contains(&measured), "{measured}");
    }

    #[test]
    fn auto_finds_a_limit_that_rises() {
        let (mut pacer, mut clock) = (Pacer::new(Rate::Auto, 1), Clock::new());
        let mut window = Window {
            limit: 3,
            second: 0,
            count: 0,
        };
        for i in 0..2000 {
            if i == 300 {
                window.limit = 8;
            }
            let slot = pacer.reserve(clock.now());
            clock.now = clock.now.max(clock.at(slot));
            if window.admit(clock.now) {
                pacer.let_through(slot);
            } else {
                pacer.too_many(slot, slot, None);
            }
        }
        let rate = pacer.rate().unwrap();
        assert!(rate > 6.5, "{rate}");
    }

    #[test]
    fn two_pacers_sharing_one_limit_settle_into_sharing_it() {
        let mut a = (Pacer::new(Rate::PerSecond(5.0), 1), 0u32);
        let mut b = (Pacer::new(Rate::PerSecond(5.0), 1), 0u32);
        let mut window = Window {
            limit: 5,
            second: 0,
            count: 0,
        };
        let origin = Instant::now();
        let (mut next_a, mut next_b) = (a.0.reserve(origin), b.0.reserve(origin));
        let (mut requests, mut rejected, mut created_after_20s) = (0u32, 0u32, 0u32);
        let end = origin + Duration::from_secs(300);
        while next_a.min(next_b) < end {
            let (pacer, next) = if next_a <= next_b {
                (&mut a, &mut next_a)
            } else {
                (&mut b, &mut next_b)
            };
            let at = *next;
            requests += 1;
            if window.admit(at - origin) {
                pacer.0.let_through(at);
                pacer.1 += 1;
                if at - origin >= Duration::from_secs(20) {
                    created_after_20s += 1;
                }
            } else {
                rejected += 1;
                pacer.0.too_many(at, at, None);
            }
            *next = pacer.0.reserve(at);
        }
        let together = f64::from(created_after_20s) / 280.0;
        assert!(together >= 4.5, "{together}/s");
        assert!(
            f64::from(rejected) / f64::from(requests) <= 0.05,
            "{rejected} of {requests}"
        );
        let (ra, rb) = (a.0.rate().unwrap(), b.0.rate().unwrap());
        assert!(ra + rb < 6.0 && ra > 1.0 && rb > 1.0, "{ra} + {rb}");
    }

    #[test]
    fn unlimited_sends_at_once_and_a_429_pauses_everyone_for_the_window() {
        let (mut pacer, clock) = (Pacer::new(Rate::Unlimited, 1), Clock::new());
        let t = clock.now();
        assert_eq!(pacer.reserve(t), t);
        assert_eq!(pacer.reserve(t), t);
        pacer.too_many(t, t, None);
        assert_eq!(pacer.reserve(t), t + PAUSE);
        assert_eq!(pacer.rate(), None);
        // Unless the server says how long.
        let (mut pacer, t) = (Pacer::new(Rate::Unlimited, 1), t + PAUSE);
        pacer.too_many(t, t, Some(Duration::ZERO));
        assert_eq!(pacer.reserve(t), t);
    }
}
