//! `bulkcast mock-server`: the built-in simulated Smartflo, served until Ctrl-C.

use std::io::Write;

use anyhow::Result;

use crate::mock::{MockOptions, MockServer, STATS_PATH};
use crate::Exit;

/// Serve on `127.0.0.1:port` until Ctrl-C, then print the statistics.
pub fn run(port: u16, opts: MockOptions) -> Result<Exit> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let server = MockServer::start_on(port, opts)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on port {port}: {e}"))?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", server.url())?;
            out.flush()?;
        }
        tracing::info!(
            "token {:?}; statistics at {}{STATS_PATH}; Ctrl-C stops",
            server.token(),
            server.url()
        );
        tokio::signal::ctrl_c().await?;
        let stats = serde_json::to_string_pretty(&server.stats())?;
        eprintln!("{stats}");
        Ok(Exit::Success)
    })
}
