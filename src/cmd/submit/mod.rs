//! `bulkcast submit`: every valid row becomes one `POST /v1/broadcast`, sent concurrently at
//! exactly the account's rate, with one result per input row — and safe to run again.
//!
//! A run goes through these stages, in this order, each in its own function below:
//!
//! 1. **check** ([`check`]): read the whole input once; what earlier runs recorded is loaded
//!    for `--resume`. A dry run ends here.
//! 2. **authorise**: log in if need be, then one cheap listing call, so a bad token stops the
//!    run before anything is created.
//! 3. **send** ([`dispatch`], [`collect`]): stream the rows again; the dispatcher settles what it
//!    can without sending ([`reconcile::settle`]) and sends the rest, every request through the
//!    one gate, every `sent` journaled before its request goes out.
//! 4. **reconcile** ([`reconcile`]): rows that got no answer are looked up on the account by
//!    name before any is sent again.
//! 5. **finish**: the complete results file is renamed into place and the journal removed.
//! 6. **report**: failed rows, the summary, the exit code.
//!
//! The target is always an ordinary URL with credentials: a `--mock` rehearsal starts the
//! simulation in `cmd::rehearsal` and hands its address here.

mod authorise;
mod check;
mod collect;
mod dispatch;
mod listing;
mod outage;
mod reconcile;
mod signals;
mod state;
mod tokens;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use tokio::sync::mpsc;

use crate::config::{Rate, SubmitConfig, Target};
use crate::input::InputOptions;
use crate::ledger::files::{RunFiles, RunLock};
use crate::ledger::journal::{self, Journal};
use crate::ledger::outcome::Status;
use crate::ledger::prior::{Lookup, Record};
use crate::logging::Terminal;
use crate::net::client::Client;
use crate::net::gate::Gate;
use crate::output::failed;
use crate::output::progress::Progress;
use crate::output::results::ResultsWriter;
use crate::output::summary::{Counters, Summary, Tally};
use crate::secret::Auth;
use crate::Exit;
use check::Check;
use reconcile::{Grace, Known};
use state::{Limits, RunState};

/// Where a run sends: the API's base URL and how to prove who it is, plus, for a target that
/// can say what it saw (the simulation), a line for the end of the summary.
pub struct Endpoint<'a> {
    pub base_url: String,
    pub auth: Auth,
    pub describe: Option<&'a dyn Fn() -> String>,
}

/// Run `bulkcast submit` against the configured target (or, with `--dry-run`, against none).
pub fn run(cfg: SubmitConfig, terminal: &Terminal) -> Result<Exit> {
    let prepared = Prepared::check(&cfg)?;
    if let Some(exit) = prepared.nothing_to_do(&cfg, terminal) {
        return Ok(exit);
    }
    match cfg.target.clone() {
        None => Ok(check::dry_run_report(&cfg, &prepared.check, terminal)),
        Some(Target::Remote { base_url, auth }) => {
            let endpoint = Endpoint {
                base_url,
                auth,
                describe: None,
            };
            prepared.send(&cfg, terminal, endpoint)
        }
        Some(Target::Mock) => {
            anyhow::bail!("internal error: a --mock run reached submit without its simulation")
        }
    }
}

/// A run that has passed the check stage: its files, what earlier runs recorded, and what the
/// check learned about the input.
pub struct Prepared {
    files: RunFiles,
    prior: Arc<Record>,
    check: Check,
    /// Held until the run ends (none for a dry run, which writes nothing).
    _lock: Option<RunLock>,
}

impl Prepared {
    /// Stage 1: load what earlier runs recorded (with `--resume`; otherwise refuse to start over
    /// their record) and check the whole input.
    pub fn check(cfg: &SubmitConfig) -> Result<Prepared> {
        let files = RunFiles::new(&cfg.results);
        // Before anything is read: a second run into the same results file stops here.
        let lock = cfg.target.is_some().then(|| files.lock()).transpose()?;
        let prior = if cfg.resume {
            let prior = Record::load(&files, &cfg.target_name)?;
            if prior.is_empty() {
                tracing::info!(
                    "nothing recorded at {} yet: every row is new",
                    files.results.display()
                );
            }
            prior
        } else {
            files.refuse_to_overwrite()?;
            Record::default()
        };
        let check = check::check_input(cfg, &prior)?;
        Ok(Prepared {
            files,
            prior: Arc::new(prior),
            check,
            _lock: lock,
        })
    }

    /// A sheet with a header and no rows: said, and exit 1; nothing is written.
    pub fn nothing_to_do(&self, cfg: &SubmitConfig, terminal: &Terminal) -> Option<Exit> {
        (self.check.rows == 0).then(|| {
            terminal.error(&format!(
                "no rows: {} has a header and nothing under it; nothing was sent",
                cfg.input.display()
            ));
            Exit::SomeFailed
        })
    }

    /// Stages 2 to 6, against `endpoint`. A failure before anything was sent leaves no file
    /// behind that would block the next attempt.
    pub fn send(self, cfg: &SubmitConfig, terminal: &Terminal, endpoint: Endpoint) -> Result<Exit> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let files = self.files.clone();
        let journal_existed = journal::exists(&files.journal);
        let baseline_existed = files.baseline.exists();
        let outcome = rt.block_on(submit_all(cfg, terminal, self, endpoint));
        if let Err(RunError::BeforeSending(_)) = &outcome {
            let _ = std::fs::remove_file(&files.partial);
            if !journal_existed {
                let _ = std::fs::remove_file(&files.journal);
            }
            if !baseline_existed {
                let _ = std::fs::remove_file(&files.baseline);
            }
        }
        outcome.map_err(RunError::into_inner)
    }
}

/// A failure of the whole run, split by whether anything had been sent yet.
enum RunError {
    BeforeSending(anyhow::Error),
    AfterSending(anyhow::Error),
}

impl RunError {
    fn into_inner(self) -> anyhow::Error {
        match self {
            RunError::BeforeSending(e) | RunError::AfterSending(e) => e,
        }
    }
}

async fn submit_all(
    cfg: &SubmitConfig,
    terminal: &Terminal,
    prepared: Prepared,
    endpoint: Endpoint<'_>,
) -> Result<Exit, RunError> {
    let Prepared {
        files,
        prior,
        mut check,
        _lock,
    } = prepared;
    let (run, mut results) = open_run(cfg, &files, &endpoint, check.watched.sniffed().from_excel())
        .map_err(RunError::BeforeSending)?;
    let started = Instant::now();
    // From here on Ctrl-C, SIGTERM and SIGHUP stop the run cleanly, even while logging in or
    // listing the account.
    signals::watch(run.clone(), terminal.clone());
    let (baseline, account) = authorise::authorise(
        cfg,
        terminal,
        &run,
        &mut check,
        &prior,
        &files,
        &endpoint.base_url,
    )
    .await
    .map_err(RunError::BeforeSending)?;
    announce(cfg, &check, &endpoint.base_url);

    let known = Arc::new(Known {
        baseline: baseline.clone(),
        account,
        skip_existing: cfg.skip_existing,
        allow_existing: cfg.allow_existing_names,
    });
    let mut tally = send_rows(cfg, terminal, &run, &check, known, prior, &mut results)
        .await
        .map_err(RunError::AfterSending)?;

    // Rows that got no answer: look them up, send the absent ones again.
    let mut patches = HashMap::new();
    let grace = Grace {
        timeout: cfg.timeout,
        settle: cfg.settle,
    };
    let pages = cfg.max_listing_pages;
    reconcile::resolve_unknowns(
        &run,
        terminal,
        grace,
        cfg.concurrency,
        &baseline,
        pages,
        |o| {
            tally.replace(Status::Unknown, o.status);
            patches.insert(o.seq, o);
        },
    )
    .await;

    let written = results
        .finish()
        .with_context(|| format!("writing {}", files.partial.display()))
        .map_err(RunError::AfterSending)?;
    files
        .finish(written, &patches, &cfg.target_name)
        .map_err(RunError::AfterSending)?;
    // The results file now holds everything the journal did.
    if let Err(e) = std::fs::remove_file(&files.journal) {
        tracing::warn!("cannot remove the journal {}: {e}", files.journal.display());
    }
    write_failed_rows(cfg, terminal, &files);
    Ok(report(cfg, terminal, &run, &tally, started, &endpoint))
}

/// The run's state, with its client, journal and results file open (nothing is sent yet).
fn open_run(
    cfg: &SubmitConfig,
    files: &RunFiles,
    endpoint: &Endpoint,
    bom: bool,
) -> Result<(Arc<RunState>, ResultsWriter<std::fs::File>)> {
    let (token, login) = match endpoint.auth.clone() {
        Auth::Token(token) => (Some(token), None),
        Auth::Login { email, password } => (None, Some((email, password))),
    };
    let client = Client::new(
        &endpoint.base_url,
        token.as_ref(),
        cfg.timeout,
        cfg.concurrency,
    )?;
    let journal = Journal::open(&files.journal, &cfg.target_name)
        .with_context(|| format!("cannot write the journal {}", files.journal.display()))?;
    let results = ResultsWriter::create(&files.partial, &cfg.target_name, bom)
        .with_context(|| format!("cannot write {}", files.partial.display()))?;
    let run = RunState::new(
        login,
        client,
        Gate::new(cfg.rate, cfg.burst),
        journal,
        Limits {
            max_retries: cfg.max_retries,
            max_errors: cfg.max_errors,
            outage_wait: cfg.outage_wait,
        },
    );
    Ok((Arc::new(run), results))
}

/// Say what is about to happen.
fn announce(cfg: &SubmitConfig, check: &Check, base_url: &str) {
    if check.invalid > 0 {
        tracing::warn!(
            "{} invalid rows will not be sent; the results file says why for each",
            check.invalid
        );
    }
    if check.done_before > 0 {
        tracing::info!(
            "{} rows were created by an earlier run and will not be sent again",
            check.done_before
        );
    }
    tracing::info!(
        "sending up to {} rows to {base_url} at {} (up to {} at once); results: {}",
        check.to_send + check.unknown_before,
        cfg.rate,
        cfg.concurrency,
        cfg.results.display()
    );
}

/// Stage 3: stream the input again through the dispatcher, collecting every outcome.
async fn send_rows(
    cfg: &SubmitConfig,
    terminal: &Terminal,
    run: &Arc<RunState>,
    check: &Check,
    known: Arc<Known>,
    prior: Arc<Record>,
    results: &mut ResultsWriter<std::fs::File>,
) -> Result<Tally> {
    let capacity = cfg.concurrency.saturating_mul(2).clamp(64, 4096);
    let batches = capacity.div_ceil(dispatch::ROW_BATCH).max(2);
    let (rows_tx, rows_rx) = mpsc::channel(batches);
    let (out_tx, out_rx) = mpsc::channel(capacity);
    // The check pass found the repeated names: the sending pass keeps no table of names (its
    // memory would otherwise grow with the file).
    let checked = InputOptions {
        known_duplicates: Some(Arc::new(check.duplicates.clone())),
        ..cfg.input_opts.clone()
    };
    let (reader, watch) = check.watched.reopen(&checked)?;
    if let Some(how) = watch.changed() {
        anyhow::bail!(
            "{} changed after it was checked ({how}); nothing was sent. Check the sheet, then run \
             again",
            cfg.input.display()
        );
    }
    let source = dispatch::Source {
        reader,
        watch,
        digest: check.digest,
        prior: Lookup::new(prior)?,
    };
    run.outage.arm();
    let reading = run.clone();
    let reader_thread = std::thread::spawn(move || source.read(&reading, rows_tx));
    let dispatcher = tokio::spawn(dispatch::dispatch(
        run.clone(),
        known,
        rows_rx,
        out_tx,
        cfg.concurrency,
    ));
    let mut progress = Progress::new(terminal, check.rows);
    let collected = collect::collect(run, out_rx, results, &mut progress).await;
    let dispatched = dispatcher.await;
    let read = reader_thread.join();
    let journal = RunFiles::new(&cfg.results).journal;
    if let Some(w) = collected.write_error {
        anyhow::bail!(
            "cannot write the results for {}: {}. Sending stopped at once. Rows created (or maybe \
             created) whose outcome is not on disk: lines {}. The journal {} holds \
             everything recorded before: free the disk, then run again with --resume (rows it cannot \
             place are looked up on the account by name before anything is sent)",
            cfg.results.display(),
            w.error,
            w.lines(),
            journal.display()
        );
    }
    if let Ok(Err(e)) = read {
        return Err(e.context(format!(
            "the input could not be read to the end; run again with --resume once it can ({} holds what was done)",
            journal.display()
        )));
    }
    dispatched.map_err(|e| anyhow::anyhow!("internal error: {e}"))?;
    Ok(collected.tally)
}

/// `--failed PATH`: the rows that did not succeed, for the user to fix and send again.
fn write_failed_rows(cfg: &SubmitConfig, terminal: &Terminal, files: &RunFiles) {
    let Some(path) = &cfg.failed else {
        return;
    };
    match failed::write(path, &cfg.input, &cfg.input_opts, &files.results) {
        Ok(n) => tracing::info!(
            "{n} rows that did not succeed written to {}",
            path.display()
        ),
        Err(e) => terminal.error(&format!(
            "cannot write the failed rows to {}: {e:#}",
            path.display()
        )),
    }
}

/// Stage 6: the summary (and `--summary-json`), and the exit code.
fn report(
    cfg: &SubmitConfig,
    terminal: &Terminal,
    run: &RunState,
    tally: &Tally,
    started: Instant,
    endpoint: &Endpoint,
) -> Exit {
    let (creates, sending) = run.creates();
    let pace = run.gate.pace();
    let summary = Summary::new(
        &cfg.input.display().to_string(),
        &cfg.results.display().to_string(),
        tally,
        Counters {
            creates,
            sending,
            requests: run.requests.load(Ordering::Relaxed),
            retries: run.retries.load(Ordering::Relaxed),
            too_many_requests: run.too_many_requests.load(Ordering::Relaxed),
            rate_mode: match cfg.rate {
                Rate::PerSecond(_) => "fixed",
                Rate::Auto => "auto",
                Rate::Unlimited => "unlimited",
            },
            rate_cuts: pace.cuts,
            granted: pace.granted,
            sent: run.sent.load(Ordering::Relaxed),
            done_before: run.settled.done_before.load(Ordering::Relaxed),
            reconciled: run.settled.reconciled.load(Ordering::Relaxed),
            already_existing: run.settled.already_existing.load(Ordering::Relaxed),
        },
        &crate::lock(&run.latency),
        started.elapsed(),
        run.stop_reason(),
    );
    terminal.say(&summary.render());
    if let Some(describe) = endpoint.describe {
        terminal.say(&describe());
    }
    if let Some(path) = &cfg.summary_json {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
        if let Err(e) = std::fs::write(path, json) {
            tracing::warn!("cannot write the summary to {}: {e}", path.display());
        }
    }
    let left = tally.unsuccessful() - tally.get(Status::Invalid);
    if left > 0 {
        terminal.say(&format!(
            "{left} rows did not succeed: once the cause is fixed, `--resume` sends them again (rows created are skipped)"
        ));
    }
    if run.is_fatal() {
        if let Some(why) = run.stop_reason() {
            terminal.error(&why);
        }
        Exit::Fatal
    } else if tally.unsuccessful() > 0 {
        Exit::SomeFailed
    } else {
        Exit::Success
    }
}
