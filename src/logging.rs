//! Everything bulkcast prints on stderr: tracing's log lines, progress bars, and the plain
//! messages a user reads (errors, summaries).
//!
//! Log lines are routed through indicatif's [`MultiProgress`], so a line printed while a bar is
//! drawn appears above it instead of tearing it. Bars are drawn only when stderr is a terminal
//! and `-q` is not given; otherwise they are hidden and commands report progress as log lines.

use std::io::{self, IsTerminal, Write};

use indicatif::{MultiProgress, ProgressDrawTarget};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// The stderr side of a run.
#[derive(Clone)]
pub struct Terminal {
    multi: MultiProgress,
    /// Bars are drawn (stderr is a terminal, not `-q`).
    pub interactive: bool,
    /// `-q`: nothing but errors.
    pub quiet: bool,
}

impl Terminal {
    /// The bars' home; a bar added here is drawn only when the terminal is interactive.
    pub fn bars(&self) -> &MultiProgress {
        &self.multi
    }

    /// Print `msg` as an error, whatever the verbosity.
    pub fn error(&self, msg: &str) {
        self.print(&format!("error: {msg}"));
    }

    /// Print `text` for the user unless `-q`.
    pub fn say(&self, text: &str) {
        if !self.quiet {
            self.print(text);
        }
    }

    fn print(&self, text: &str) {
        self.multi.suspend(|| {
            let mut err = io::stderr().lock();
            let _ = writeln!(err, "{text}");
        });
    }
}

/// Set up tracing and the progress area for this process. Safe to call more than once (tests
/// run commands in-process): later calls keep the first subscriber.
pub fn init(verbose: u8, quiet: bool) -> Terminal {
    let interactive = !quiet && io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if interactive {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,bulkcast=info",
        (false, 1) => "info,bulkcast=debug",
        (false, 2) => "debug,bulkcast=trace",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ThroughBars(multi.clone()))
        .with_target(verbose > 0)
        .with_ansi(io::stderr().is_terminal())
        .without_time()
        .try_init();
    Terminal {
        multi,
        interactive,
        quiet,
    }
}

/// A `MakeWriter` that prints above the progress bars.
#[derive(Clone)]
struct ThroughBars(MultiProgress);

impl Write for ThroughBars {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.suspend(|| io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for ThroughBars {
    type Writer = ThroughBars;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
