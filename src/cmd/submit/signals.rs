//! Stopping a run from outside: Ctrl-C, SIGTERM (`timeout`, `docker stop`, systemd) and SIGHUP
//! (a closed terminal) all stop it the same way.

use crate::engine::Handle;
use crate::logging::Terminal;

/// The first Ctrl-C, SIGTERM or SIGHUP: stop sending, let requests in flight finish (each
/// within `--timeout`), write complete results. The second: abandon the requests in flight
/// too. A third is not swallowed: the process ends at once (the journal already holds what a
/// `--resume` needs).
pub(super) fn watch(run: Handle, terminal: Terminal) {
    tokio::spawn(async move {
        let mut signals = match Signals::new() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot watch for signals: {e}");
                return;
            }
        };
        let Some(first) = signals.next().await else {
            return;
        };
        run.stop(format!("interrupted ({first})"));
        terminal.say(&format!(
            "stopping ({first}): no new rows will be sent; waiting for requests in flight (again to abandon them)"
        ));
        let Some(second) = signals.next().await else {
            return;
        };
        terminal.say(&format!(
            "{second}: abandoning the requests in flight; their rows are recorded as unknown (again to quit at once)"
        ));
        run.abandon();
        if let Some(third) = signals.next().await {
            terminal.error(&format!(
                "{third}: quitting at once; --resume continues the run"
            ));
            std::process::exit(third.exit_code());
        }
    });
}

/// A signal that stops a run.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Interrupt,
    Terminate,
    HangUp,
}

impl Stop {
    /// What a shell reports for a process ended by this signal.
    fn exit_code(self) -> i32 {
        match self {
            Stop::Interrupt => 130,
            Stop::Terminate => 143,
            Stop::HangUp => 129,
        }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::Interrupt => "Ctrl-C",
            Stop::Terminate => "SIGTERM",
            Stop::HangUp => "SIGHUP",
        })
    }
}

/// The signals a run listens to, from the moment the first is registered to the end of the
/// process.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn next(&mut self) -> Option<Stop> {
        #[cfg(unix)]
        {
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.ok().map(|()| Stop::Interrupt),
                Some(()) = self.term.recv() => Some(Stop::Terminate),
                Some(()) = self.hup.recv() => Some(Stop::HangUp),
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c().await.ok().map(|()| Stop::Interrupt)
    }
}
