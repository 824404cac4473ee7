//! `bulkcast serve`: the whole job in a browser page on this machine.
//!
//! The page drives the same engine, rules, ledger and files as `bulkcast submit`: a run
//! started here is a `submit` command line ([`runs`]) whose events are folded by the same
//! [`crate::output::tally`] the terminal uses and streamed to the page as server-sent events.
//! A sheet is uploaded into a folder of its own and checked by the same reader as `validate`
//! ([`sheets`]); a cell fixed on the page makes a fixed copy, never a change to a file the
//! person gave. Only the person at the keyboard gets in ([`access`]).

mod access;
mod follow;
mod history;
mod page;
mod routes;
mod runs;
mod sheets;
mod upload;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};

use crate::cli::ServeArgs;
use crate::logging::Terminal;
use crate::mock::{MockOptions, MockServer};
use crate::secret::Secret;
use crate::Exit;

/// The port tried first when none is given.
pub const DEFAULT_PORT: u16 = 8750;

/// The rehearsal's account allows this many requests a second, like a typical account.
pub const REHEARSAL_RATE: u32 = 3;

/// What the server holds while it runs.
pub struct App {
    access: access::Access,
    /// The ledger's folder (shared with every `bulkcast submit` on this machine).
    state_dir: PathBuf,
    /// The page's own folder in it: uploaded sheets and the results of its runs.
    work: PathBuf,
    max_upload: u64,
    config: Option<PathBuf>,
    sheets: Mutex<HashMap<String, Arc<Mutex<sheets::Sheet>>>>,
    runs: Mutex<Vec<Arc<runs::PageRun>>>,
    /// The built-in simulated Smartflo, started at the first rehearsal and kept for the server's
    /// life, so that a rehearsal continued later finds what it created.
    rehearsal: tokio::sync::OnceCell<MockServer>,
}

impl App {
    fn sheet(&self, id: &str) -> Option<Arc<Mutex<sheets::Sheet>>> {
        self.sheets.lock().expect("not poisoned").get(id).cloned()
    }

    fn run(&self, id: &str) -> Option<Arc<runs::PageRun>> {
        let runs = self.runs.lock().expect("not poisoned");
        runs.iter().find(|r| r.id == id).cloned()
    }

    async fn rehearsal(&self) -> Result<&MockServer> {
        self.rehearsal
            .get_or_try_init(|| async {
                MockServer::start(MockOptions {
                    rate_limit: REHEARSAL_RATE,
                    ..MockOptions::default()
                })
                .await
                .map_err(|e| anyhow::anyhow!("cannot start the simulated Smartflo: {e}"))
            })
            .await
    }
}

/// What every handler is given.
type Shared = axum::extract::State<Arc<App>>;

/// A refusal, as JSON: `{"error": "…"}`.
fn refused(
    status: axum::http::StatusCode,
    why: impl std::fmt::Display,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = serde_json::json!({ "error": why.to_string() });
    (status, axum::Json(body)).into_response()
}

/// A new random id, as hex: `bytes` of randomness.
fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `bulkcast serve` until Ctrl-C.
pub fn run(args: ServeArgs, terminal: &Terminal) -> Result<Exit> {
    let state_dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => crate::ledger::store::default_dir().context(
            "no state directory for the ledger: set BULKCAST_STATE_DIR (or HOME), or give --state-dir",
        )?,
    };
    let ip = args.listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let password = password(&args, ip)?;
    if args.max_upload == 0 {
        bail!("--max-upload must be at least 1 (MB)");
    }
    let work = state_dir.join("page");
    std::fs::create_dir_all(&work)
        .with_context(|| format!("cannot make the page's folder {}", work.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let listener = bind(ip, args.port).await?;
        let addr = listener.local_addr()?;
        let app = Arc::new(App {
            access: access::Access::new(addr, Secret::new(random_hex(24)), password),
            state_dir,
            work,
            max_upload: args.max_upload.saturating_mul(1 << 20),
            config: args.config.clone(),
            sheets: Mutex::default(),
            runs: Mutex::default(),
            rehearsal: tokio::sync::OnceCell::new(),
        });
        let url = app.access.first_url();
        // Said even with -q: without it the page cannot be opened.
        eprintln!(
            "bulkcast's page is at\n  {url}\nOpen that address in your browser (it holds this server's \
             access key: share it with no one). Ctrl-C stops the server; a run it stops can be \
             continued from the page later."
        );
        if !ip.is_loopback() {
            tracing::warn!(
                "serving beyond this machine over plain http: the password, the access key and \
                 every sheet cross the network unencrypted; use it only on a network you trust"
            );
        }
        if !args.no_open {
            open_browser(&url, terminal);
        }
        let router = routes::router(app.clone());
        // At Ctrl-C every run is stopped at once: a tab following one holds its connection
        // open until that run ends, and the server waits for its connections.
        let stopping = app.clone();
        let shutdown = async move {
            stopped().await;
            runs::stop_every(&stopping, "the page's server was stopped");
        };
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the page's server failed")?;
        runs::stop_all(&app, "the page's server was stopped").await;
        terminal.say("the page's server has stopped");
        Ok(Exit::Success)
    })
}

/// The password `--listen` needs: refused without one beyond this machine.
fn password(args: &ServeArgs, ip: IpAddr) -> Result<Option<Secret>> {
    if ip.is_unspecified() {
        bail!(
            "--listen {ip}: give the address people will type to reach this machine (e.g. \
             192.168.1.20), not every address: the page answers only at the address it is given"
        );
    }
    let Some(path) = &args.password_file else {
        if !ip.is_loopback() {
            bail!(
                "--listen {ip}: a page others can reach needs a password: put one in a file \
                 readable only by you and give --password-file PATH"
            );
        }
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the password file {}", path.display()))?;
    let text = text.trim_end_matches(['\r', '\n']);
    if text.chars().count() < 8 {
        bail!(
            "the password in {} is shorter than 8 characters: choose a longer one",
            path.display()
        );
    }
    Ok(Some(Secret::new(text)))
}

/// Listen on `port`, or on the default (any free port when it is taken).
async fn bind(ip: IpAddr, port: Option<u16>) -> Result<tokio::net::TcpListener> {
    let at = |port| SocketAddr::new(ip, port);
    match port {
        Some(p) => tokio::net::TcpListener::bind(at(p)).await.with_context(|| {
            format!(
                "cannot serve at {}: is another server using it? --port 0 picks a free port",
                at(p)
            )
        }),
        None => match tokio::net::TcpListener::bind(at(DEFAULT_PORT)).await {
            Ok(l) => Ok(l),
            Err(_) => tokio::net::TcpListener::bind(at(0))
                .await
                .with_context(|| format!("cannot serve at {ip}")),
        },
    }
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Open `url` in the default browser; say so when that cannot be done.
fn open_browser(url: &str, terminal: &Terminal) {
    let mut command = if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    let opened = command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if opened.is_err() {
        terminal.say("(no browser could be opened from here: open the address above yourself)");
    }
}
