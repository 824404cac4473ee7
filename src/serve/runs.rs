//! A run started on the page: a `bulkcast submit` command line, built from what the person
//! chose and parsed by the same `clap` and [`crate::config`] as a terminal's, so that every flag
//! means what it means there; then the same engine, on a thread of its own, its events folded
//! into a [`Snapshot`] for the page.
//!
//! Credentials typed into the page are held in memory only, for the run: never written, never
//! sent back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Deserialize;
use tokio::sync::watch;

use super::follow::{self, Snapshot};
use super::App;
use crate::cli::{Cli, Command};
use crate::config::Target;
use crate::engine::{Endpoint, Engine, Handle, Prepared};
use crate::secret::{Auth, Secret};

/// Where to send, as the page says it (no `Debug`: it may hold a token or a password).
#[derive(Default, Deserialize)]
pub struct SendTo {
    /// "rehearsal", "token", "login" or "profile".
    pub target: String,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// `3`, `auto`, ...; none: the default (or, continuing, the run's).
    #[serde(default)]
    pub rate: Option<String>,
    /// Rows whose name is already on the account: `skip` (counted as already there when it says the same), `allow`
    /// (created anyway); none: the run stops before sending and says which.
    #[serde(default)]
    pub existing: Option<String>,
}

/// A value typed into the page, unless it is blank.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl SendTo {
    fn rehearsal(&self) -> bool {
        self.target == "rehearsal"
    }

    /// The flags for the target, and the credentials typed into the page.
    fn flags(&self, app: &App, args: &mut Vec<String>) -> Result<Option<Auth>> {
        if let Some(rate) = given(&self.rate) {
            args.push(format!("--rate={rate}"));
        }
        match given(&self.existing) {
            None | Some("stop") => {}
            Some("skip") => args.push("--skip-existing".into()),
            Some("allow") => args.push("--allow-existing-names".into()),
            Some(other) => bail!("{other:?} is not a choice for names already on the account"),
        }
        match self.target.as_str() {
            "rehearsal" => {
                args.push("--mock".into());
                Ok(None)
            }
            "token" | "login" => {
                if let Some(url) = given(&self.base_url) {
                    args.push(format!("--base-url={url}"));
                }
                if self.target == "token" {
                    let Some(token) = given(&self.token) else {
                        bail!("type the account's API token (Smartflo portal → API)");
                    };
                    return Ok(Some(Auth::Token(crate::secret::clean_token(token)?)));
                }
                let (Some(email), Some(password)) = (given(&self.email), self.password.as_deref())
                else {
                    bail!("type the account's email and password");
                };
                if password.is_empty() {
                    bail!("type the account's email and password");
                }
                Ok(Some(Auth::Login {
                    email: email.to_owned(),
                    password: Secret::new(password),
                }))
            }
            "profile" => {
                let Some(name) = given(&self.profile) else {
                    bail!("choose a profile");
                };
                args.push(format!("--profile={name}"));
                if let Some(config) = &app.config {
                    args.push(format!("--config={}", config.display()));
                }
                Ok(None)
            }
            other => bail!("{other:?} is not a place to send to"),
        }
    }
}

/// One run started on the page.
pub struct PageRun {
    pub id: String,
    /// The sheet's file name, for people.
    pub title: String,
    pub results: PathBuf,
    pub failed: PathBuf,
    pub rehearsal: bool,
    pub snapshot: watch::Receiver<Snapshot>,
    handle: Mutex<Option<Handle>>,
    stop_asked: Mutex<Option<String>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl PageRun {
    /// Stop sending: rows in flight finish, and the results are complete.
    pub fn stop(&self, reason: &str) {
        *self.stop_asked.lock().expect("not poisoned") = Some(reason.to_owned());
        if let Some(h) = &*self.handle.lock().expect("not poisoned") {
            h.stop(reason);
        }
    }
}

/// What a new run is: its sheet, where its files go, and whether it continues an earlier one.
pub struct Plan {
    pub title: String,
    pub input: PathBuf,
    /// `--map` and `--sheet` flags (none when continuing: the run's own are remembered).
    pub sheet_flags: Vec<String>,
    pub results: PathBuf,
    pub failed: PathBuf,
    pub resume: bool,
}

/// Where a new run of the sheet `file` keeps its results and failed rows: a new folder of the
/// page's.
pub fn new_files(
    app: &App,
    file: &str,
    rehearsal: bool,
    workbook: bool,
) -> Result<(PathBuf, PathBuf)> {
    let dir = app.work.join("runs").join(format!(
        "{}-{}",
        chrono::Local::now().format("%Y%m%d-%H%M%S"),
        super::random_hex(3)
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot make {}", dir.display()))?;
    let stem = Path::new(file)
        .file_stem()
        .map_or("sheet".into(), |s| s.to_string_lossy().into_owned());
    let kind = if rehearsal {
        "rehearsal results"
    } else {
        "results"
    };
    let ext = if workbook { "xlsx" } else { "csv" };
    Ok((
        dir.join(format!("{stem} {kind}.csv")),
        dir.join(format!("{stem} failed rows.{ext}")),
    ))
}

/// Start a run of `plan` to `to`; its id.
pub async fn start(app: &Arc<App>, plan: Plan, to: &SendTo) -> Result<String> {
    let mut args: Vec<String> = vec!["bulkcast".into(), "submit".into()];
    args.push(plan.input.display().to_string());
    args.extend(["-o".into(), plan.results.display().to_string()]);
    args.extend(["--failed".into(), plan.failed.display().to_string()]);
    args.extend(["--state-dir".into(), app.state_dir.display().to_string()]);
    args.extend(plan.sheet_flags.iter().cloned());
    if plan.resume {
        args.push("--resume".into());
    }
    let typed = to.flags(app, &mut args)?;
    let cli = Cli::try_parse_from(&args).map_err(|e| {
        let text = e.to_string();
        anyhow::anyhow!(
            "{}",
            text.lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
        )
    })?;
    let Command::Submit(mut submit) = cli.command else {
        bail!("internal error: not a submit");
    };
    if typed.is_some() {
        submit.profile_auth = typed;
    }
    let cfg = crate::config::submit(*submit)?;
    let endpoint = match &cfg.target {
        Some(Target::Mock) => {
            let mock = app.rehearsal().await?;
            Endpoint {
                base_url: mock.url(),
                auth: Auth::Token(Secret::new(mock.token())),
            }
        }
        Some(Target::Remote { base_url, auth }) => Endpoint {
            base_url: base_url.clone(),
            auth: auth.clone(),
        },
        None => bail!("internal error: a run from the page is never a dry run"),
    };
    let (tx, rx) = watch::channel(Snapshot {
        phase: "checking",
        ..Snapshot::default()
    });
    let run = Arc::new(PageRun {
        id: super::random_hex(8),
        title: plan.title,
        results: plan.results,
        failed: plan.failed,
        rehearsal: to.rehearsal(),
        snapshot: rx,
        handle: Mutex::new(None),
        stop_asked: Mutex::new(None),
        thread: Mutex::new(None),
    });
    let (r, id) = (run.clone(), run.id.clone());
    let thread = std::thread::Builder::new()
        .name(format!("run {id}"))
        .spawn(move || drive(cfg, endpoint, &r, tx))
        .context("cannot start the run")?;
    *run.thread.lock().expect("not poisoned") = Some(thread);
    app.runs.lock().expect("not poisoned").push(run);
    Ok(id)
}

/// The run, from its check to its end, on this thread.
fn drive(
    cfg: crate::config::SubmitConfig,
    endpoint: Endpoint,
    run: &PageRun,
    tx: watch::Sender<Snapshot>,
) {
    let prepared = match Prepared::check(&cfg) {
        Ok(p) => p,
        Err(e) => {
            tx.send_modify(|s| s.fatal(format!("{e:#}")));
            return;
        }
    };
    if let Some(why) = prepared.nothing_to_send(&cfg) {
        tx.send_modify(|s| {
            s.fatal(why);
            s.exit = Some(crate::Exit::SomeFailed as u8);
        });
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tx.send_modify(|s| s.fatal(format!("cannot start the run: {e}")));
            return;
        }
    };
    rt.block_on(async {
        let (engine, events) = Engine::new(cfg, prepared, endpoint);
        let handle = engine.handle();
        *run.handle.lock().expect("not poisoned") = Some(handle.clone());
        if let Some(reason) = run.stop_asked.lock().expect("not poisoned").clone() {
            handle.stop(reason);
        }
        let (result, ()) = tokio::join!(engine.run(), follow::follow(events, tx.clone()));
        if let Err(e) = result {
            tx.send_modify(|s| s.fatal(format!("{e:#}")));
        }
    });
}

/// Stop every run (without waiting).
pub fn stop_every(app: &App, reason: &str) {
    for r in app.runs.lock().expect("not poisoned").iter() {
        r.stop(reason);
    }
}

/// Stop every run and wait for each to write its results.
pub async fn stop_all(app: &App, reason: &str) {
    stop_every(app, reason);
    let runs: Vec<Arc<PageRun>> = app.runs.lock().expect("not poisoned").clone();
    for r in runs {
        let thread = r.thread.lock().expect("not poisoned").take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}
