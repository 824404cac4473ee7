//! `bulkcast submit --mock`: a rehearsal against the built-in simulated Smartflo. The simulation
//! is started here, on a runtime of its own, after the input has been checked, and `submit`
//! is handed its address and token like any other target; `submit` never knows it is a mock.
//! The simulation enforces the same limit the run paces itself to; with `--rate auto` it is an
//! account of [`AUTO_ACCOUNT`] requests a second, for the run to find.

use anyhow::Result;

use super::submit;
use crate::config::SubmitConfig;
use crate::engine::{Endpoint, Prepared};
use crate::logging::Terminal;
use crate::mock::{MockOptions, MockServer};
use crate::net::Rate;
use crate::secret::{Auth, Secret};
use crate::Exit;

/// The simulated account's limit when the run is to find it (`--rate auto`): a typical CPS.
const AUTO_ACCOUNT: u32 = 3;

/// Check the input, start the simulation, and submit to it.
pub fn run(cfg: SubmitConfig, terminal: &Terminal) -> Result<Exit> {
    let prepared = Prepared::check(&cfg)?;
    if let Some(exit) = submit::nothing_to_do(&cfg, &prepared, terminal) {
        return Ok(exit);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let rate_limit = match cfg.rate {
        Rate::PerSecond(r) => r.ceil() as u32,
        Rate::Auto => AUTO_ACCOUNT,
        Rate::Unlimited => 0,
    };
    let server = rt
        .block_on(MockServer::start(MockOptions {
            rate_limit,
            ..MockOptions::default()
        }))
        .map_err(|e| anyhow::anyhow!("cannot start the simulated Smartflo: {e}"))?;
    terminal.say(&format!(
        "using the built-in simulated Smartflo at {}",
        server.url()
    ));
    if cfg.rate == Rate::Auto {
        terminal.say(&format!(
            "the simulated account allows {AUTO_ACCOUNT} requests/s, for --rate auto to find"
        ));
    }
    let describe = || {
        let s = server.stats();
        format!(
            "simulated Smartflo saw {}: {} created, {} created twice, busiest second {}\n\
             this was a rehearsal on the built-in simulation: nothing reached Smartflo (its record is {})",
            crate::plural(s.requests, "request", "requests"),
            crate::plural(s.created, "broadcast", "broadcasts"),
            crate::plural(s.duplicates.len() as u64, "name", "names"),
            crate::plural(s.busiest_second, "request", "requests"),
            cfg.results.display()
        )
    };
    let endpoint = Endpoint {
        base_url: server.url(),
        auth: Auth::Token(Secret::new(server.token())),
    };
    submit::send(cfg.clone(), prepared, endpoint, terminal, Some(&describe))
}
