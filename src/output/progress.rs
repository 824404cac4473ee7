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
    started: Instant,
    last_log: Instant,
}

/// What the display shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub done: u64,
    pub created: u64,
    pub failed: u64,
    pub too_many_requests: u64,
}

impl Progress {
    pub fn new(terminal: &Terminal, total: u64) -> Progress {
        let bar = terminal.interactive.then(|| {
            let bar = terminal.bars().add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} rows  {msg}  {per_sec}  ETA {eta}",
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
            started: now,
            last_log: now,
        }
    }

    pub fn update(&mut self, c: Counts) {
        if let Some(bar) = &self.bar {
            bar.set_position(c.done);
            bar.set_message(format!(
                "ok {} · failed {} · 429s {}",
                c.created, c.failed, c.too_many_requests
            ));
        } else if self.log && self.last_log.elapsed() >= LOG_EVERY {
            self.last_log = Instant::now();
            let secs = self.started.elapsed().as_secs_f64();
            let rate = c.done as f64 / secs.max(1e-9);
            let eta = (rate > 0.0)
                .then(|| Duration::from_secs_f64(self.total.saturating_sub(c.done) as f64 / rate));
            tracing::info!(
                "progress: {}/{} rows, {} created, {} failed, {:.2} rows/s, ETA {}",
                c.done,
                self.total,
                c.created,
                c.failed,
                rate,
                eta.map_or("unknown".to_owned(), |d| humantime::format_duration(
                    Duration::from_secs(d.as_secs())
                )
                .to_string())
            );
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
