//! Where a long run is: a progress bar on a terminal, a log line every few seconds otherwise,
//! nothing with `-q`.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::logging::Terminal;

/// How often a non-terminal run logs its progress.
const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    bar: Option<ProgressBar>,
    log: bool,
    total: u64,
    last_log: Instant,
}

pub use super::tally::Counts;

impl Progress {
    pub fn new(terminal: &Terminal, total: u64) -> Progress {
        let bar = terminal.interactive.then(|| {
            let bar = terminal.bars().add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} rows  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            log: !terminal.interactive && !terminal.quiet,
            total,
            last_log: now,
        }
    }

    pub fn update(&mut self, c: Counts) {
        let rate = c.rate();
        let eta = c
            .time_left(self.total)
            .map(|left| humantime::format_duration(left).to_string());
        let pace = rate.map_or(String::new(), |r| format!(" · {r:.2} sent/s"));
        let left = eta
            .as_ref()
            .map_or(String::new(), |e| format!(" · about {e} left"));
        if let Some(bar) = &self.bar {
            bar.set_position(c.done);
            bar.set_message(format!(
                "ok {} · failed {} · 429s {}{pace}{left}",
                c.created, c.failed, c.too_many_requests
            ));
        } else if self.log && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            tracing::info!(
                "progress: {}/{} rows, {} created, {} failed{pace}{left}",
                c.done,
                self.total,
                c.created,
                c.failed,
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A wait of a known length, shown as a countdown on a terminal until it ends or the next
/// thing happens (dropped).
pub struct Countdown {
    bar: ProgressBar,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Countdown {
    /// Count down `duration`, saying `what` (`{}` in it is the time left); `None` when nothing
    /// is drawn (not a terminal) or the wait is a second or less.
    pub fn start(terminal: &Terminal, what: String, duration: Duration) -> Option<Countdown> {
        if !terminal.interactive || duration <= Duration::from_secs(1) {
            return None;
        }
        let bar = terminal.bars().add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(200));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (b, s, end) = (bar.clone(), stop.clone(), Instant::now() + duration);
        std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                let left = end.saturating_duration_since(Instant::now());
                b.set_message(what.replace("{}", &format!("{} s", left.as_secs() + 1)));
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        Some(Countdown { bar, stop })
    }
}

impl Drop for Countdown {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.bar.finish_and_clear();
    }
}
