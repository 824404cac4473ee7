//! Stages 2 to 5 of a run, in order: authorise, send, look up, finish; and the [`Handle`] that
//! stops it from outside.

use std::sync::Arc;
use tokio::time::Instant;

use anyhow::{Context, Result};
use tokio::sync::{mpsc, Semaphore};

use super::authorise::{self, Stage};
use super::collect::{self, Collected};
use super::counts::Counts;
use super::decide::{Existing, Known};
use super::dispatch;
use super::errors::RecordError;
use super::events::{Ended, Event, Events};
use super::held::Holders;
use super::ledgered;
use super::lookup::{self, Grace};
use super::plan::{Endpoint, Prepared};
use super::reader::{self, Read, Source};
use super::record::Record;
use super::row::{Parts, Uncertain};
use super::sender::{self, Sender};
use super::stop::{Severity, Stop};
use crate::config::SubmitConfig;
use crate::input::InputOptions;
use crate::ledger::files::RunFiles;
use crate::ledger::journal::{self, Journal};
use crate::ledger::prior::Lookup;
use crate::net::client::Client;
use crate::net::gate::Gate;
use crate::output::results::ResultsWriter;
use crate::secret::Auth;
use crate::Exit;

/// Rows dispatched ahead of the oldest row whose outcome is not yet written.
const WINDOW: usize = 4096;

/// One run, ready to go: [`Engine::run`] drives it to the end, and its events arrive on the
/// receiver [`Engine::new`] gave.
pub struct Engine {
    cfg: SubmitConfig,
    prepared: Prepared,
    endpoint: Endpoint,
    stop: Arc<Stop>,
    events: Events,
}

/// Stops a run from outside (Ctrl-C, a signal, a button on a page).
#[derive(Clone)]
pub struct Handle {
    stop: Arc<Stop>,
}

impl Handle {
    /// Stop sending new rows; requests in flight finish (each within `--timeout`) and the
    /// results are complete. The first reason given is the one the summary shows.
    pub fn stop(&self, reason: impl Into<String>) {
        self.stop.stop(reason, Severity::Clean);
    }

    /// Give up on the requests in flight too: their rows are recorded as unknown.
    pub fn abandon(&self) {
        self.stop.abandon();
    }
}

/// A failure of the whole run, split by whether anything had been sent yet.
enum Failure {
    BeforeSending(anyhow::Error),
    AfterSending(anyhow::Error),
}

impl Engine {
    /// A run of `prepared` against `endpoint`, and the receiver of its events.
    pub fn new(
        cfg: SubmitConfig,
        prepared: Prepared,
        endpoint: Endpoint,
    ) -> (Engine, mpsc::Receiver<Event>) {
        let (events, rx) = Events::channel();
        let engine = Engine {
            cfg,
            prepared,
            endpoint,
            stop: Arc::new(Stop::default()),
            events,
        };
        (engine, rx)
    }

    pub fn handle(&self) -> Handle {
        Handle {
            stop: self.stop.clone(),
        }
    }

    /// Stages 2 to 5. A failure before anything was sent leaves no file behind that would
    /// block the next attempt. The events end with [`Event::Ended`] unless this fails.
    pub async fn run(self) -> Result<Exit> {
        let files = self.prepared.files.clone();
        let journal_existed = journal::exists(&files.journal);
        let baseline_existed = files.baseline.exists();
        // The moment the run is stopped is an event of its own.
        let (stop, events) = (self.stop.clone(), self.events.clone());
        let watcher = tokio::spawn(async move {
            stop.stopped().await;
            let reason = stop.reason().unwrap_or_default();
            events.emit(Event::Stopped { reason }).await;
        });
        let (events, outcome) = (self.events.clone(), self.stages().await);
        watcher.abort();
        let _ = watcher.await;
        match outcome {
            Ok(ended) => {
                // Last, after any `Stopped`.
                let exit = ended.exit;
                events.emit(Event::Ended(Box::new(ended))).await;
                Ok(exit)
            }
            Err(Failure::AfterSending(e)) => Err(e),
            Err(Failure::BeforeSending(e)) => {
                let _ = std::fs::remove_file(&files.partial);
                if !journal_existed {
                    let _ = std::fs::remove_file(&files.journal);
                }
                if !baseline_existed {
                    let _ = std::fs::remove_file(&files.baseline);
                }
                Err(e)
            }
        }
    }

    async fn stages(self) -> Result<Ended, Failure> {
        let Engine {
            cfg,
            prepared,
            endpoint,
            stop,
            events,
        } = self;
        let Prepared {
            files,
            prior,
            mut check,
            _lock,
            ledger,
        } = prepared;
        let started = Instant::now();
        events.emit(Event::Checked(check.counts())).await;
        let bom = check.watched.sniffed().from_excel();
        let (parts, mut results) =
            open(&cfg, &files, &endpoint, bom, &stop, &events).map_err(Failure::BeforeSending)?;
        let shared = ledger.as_ref().map(|l| (l.dir.clone(), l.account.clone()));
        let (parts, view, writer) = match ledger {
            Some(l) => {
                let (parts, writer) =
                    ledgered::with_ledger(parts, &l, &cfg).map_err(Failure::BeforeSending)?;
                (parts, Some(l.view), Some(writer))
            }
            None => (parts, None, None),
        };
        let stage = Stage {
            cfg: &cfg,
            sender: &parts.sender,
            stop: &stop,
            prior: &prior,
            files: &files,
            base_url: &endpoint.base_url,
            ledger: shared.clone(),
        };
        let (baseline, account, listed) = authorise::authorise(stage, &mut check)
            .await
            .map_err(Failure::BeforeSending)?;
        let rows = check.to_send + check.unknown_before;
        let sending = Event::Sending {
            rows,
            base_url: endpoint.base_url.clone(),
            rate: cfg.rate,
            concurrency: cfg.concurrency,
            results: cfg.results.clone(),
        };
        events.emit(sending).await;
        let sharing = super::share::begin(&cfg, shared.clone(), &parts.sender, &events).await;

        let known = Arc::new(Known {
            baseline: baseline.clone(),
            account,
            listed,
            existing: Existing::from_flags(cfg.skip_existing, cfg.allow_existing_names),
            record: parts.record.clone(),
        });
        // An earlier run's outcomes for rows this one may not reach must not be written over.
        let resumed = !prior.is_empty();
        let me = writer.as_ref().map(|w| w.run());
        let source = reopen(&cfg, &check, prior, view.zip(me)).map_err(Failure::AfterSending)?;
        let sent = send_rows(&cfg, &parts, source, known, &mut results, resumed).await;
        let mut collected = match sent {
            Ok(c) => c,
            Err(e) => {
                ledgered::end_ledger(writer.as_deref(), None, Some(format!("{e:#}")));
                return Err(Failure::AfterSending(e));
            }
        };

        // Rows that got no answer: look them up, send the absent ones again.
        let resolved = look_up(&cfg, &parts, (&baseline, Holders::new(shared))).await;
        if let Some(s) = sharing {
            s.end();
        }
        let patches = resolved.last;
        collected
            .finish_uncertain(&patches, &resolved.withdrawn, &events)
            .await;

        let written = results
            .finish()
            .with_context(|| format!("writing {}", files.partial.display()))
            .map_err(Failure::AfterSending)?;
        files
            .finish(written, &patches, &cfg.target_name)
            .map_err(Failure::AfterSending)?;
        // The results file now holds everything the journal did.
        if let Err(e) = std::fs::remove_file(&files.journal) {
            tracing::warn!("cannot remove the journal {}: {e}", files.journal.display());
        }
        if let Err(e) = parts.record.synced().await {
            tracing::warn!("the ledger: {e}");
        }
        super::finish::write_failed_rows(&cfg, &files, &events).await;
        ledgered::end_ledger(writer.as_deref(), Some(&collected), parts.stop.reason());
        Ok(super::finish::ended(&cfg, &parts, &collected, started))
    }
}

/// Look up the rows that got no answer, and send the absent ones again.
async fn look_up(
    cfg: &SubmitConfig,
    parts: &Parts,
    (baseline, held): (&Arc<crate::ledger::baseline::Baseline>, Holders),
) -> lookup::Resolved {
    let grace = Grace {
        timeout: cfg.timeout,
        settle: cfg.settle,
    };
    let (concurrency, pages) = (cfg.concurrency, cfg.max_listing_pages);
    lookup::resolve_unknowns(parts, grace, concurrency, (baseline, held), pages).await
}

/// The run's parts, with its client, journal and results file open (nothing is sent yet).
fn open(
    cfg: &SubmitConfig,
    files: &RunFiles,
    endpoint: &Endpoint,
    bom: bool,
    stop: &Arc<Stop>,
    events: &Events,
) -> Result<(Parts, ResultsWriter<std::fs::File>)> {
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
    // With the ledger, a row's claim there is what a power cut cannot take (a claim with no
    // outcome is looked up, never sent blindly); the journal is written at once, for a killed
    // process, but not synced: one sync per group of rows instead of two.
    let journal = if cfg.state_dir.is_some() {
        Journal::open_with_sync(&files.journal, &cfg.target_name, Box::new(|_| Ok(())))
    } else {
        Journal::open(&files.journal, &cfg.target_name)
    }
    .with_context(|| format!("cannot write the journal {}", files.journal.display()))?;
    let results = ResultsWriter::create(&files.partial, &cfg.target_name, bom)
        .with_context(|| format!("cannot write {}", files.partial.display()))?;
    let counts = Arc::new(Counts::default());
    let sender = Sender::new(
        client,
        Gate::new(cfg.rate, cfg.burst),
        sender::Parts {
            login,
            max_retries: cfg.max_retries,
            outage_wait: cfg.outage_wait,
            stop: stop.clone(),
            counts: counts.clone(),
            events: events.clone(),
        },
    );
    let parts = Parts {
        sender: Arc::new(sender),
        record: Arc::new(Record::new(journal, stop.clone())),
        stop: stop.clone(),
        counts,
        uncertain: Arc::new(Uncertain::default()),
        ids: Arc::default(),
        max_errors: cfg.max_errors,
    };
    Ok((parts, results))
}

/// The input opened again for the sending pass, still the file that was checked.
fn reopen(
    cfg: &SubmitConfig,
    check: &super::check::Check,
    prior: Arc<crate::ledger::prior::Record>,
    ledger: Option<(crate::ledger::store::View, i64)>,
) -> Result<Source> {
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
    Ok(Source {
        reader,
        watch,
        digest: check.digest,
        prior: Lookup::new(prior)?,
        ledger,
    })
}

/// Stage 3: stream the input again through the dispatcher, collecting every verdict.
async fn send_rows(
    cfg: &SubmitConfig,
    parts: &Parts,
    source: Source,
    known: Arc<Known>,
    results: &mut ResultsWriter<std::fs::File>,
    resumed: bool,
) -> Result<Collected> {
    let capacity = cfg.concurrency.saturating_mul(2).clamp(64, 4096);
    let batches = capacity.div_ceil(reader::ROW_BATCH).max(2);
    let (rows_tx, rows_rx) = mpsc::channel(batches);
    let (out_tx, out_rx) = mpsc::channel(capacity);
    parts.sender.arm_outage();
    let stop = parts.stop.clone();
    // A blocking task rather than a thread of its own: on tokio's paused clock (the
    // simulation's) the clock waits for it instead of jumping ahead while it reads.
    let reader_thread = tokio::task::spawn_blocking(move || source.read(&stop, rows_tx));
    // Rows ahead of the oldest one not yet written: the reorder buffer's bound (a few thousand
    // outcomes, about a megabyte, however long line 2 is in back-off).
    let window = Arc::new(Semaphore::new(WINDOW + cfg.concurrency));
    let dispatcher = tokio::spawn(dispatch::dispatch(
        parts.clone(),
        known,
        (rows_rx, window.clone()),
        out_tx,
        cfg.concurrency,
    ));
    let events = parts.sender.events();
    let collected = collect::collect(parts, events, out_rx, results, &window).await;
    events.emit(Event::SendingDone).await;
    let dispatched = dispatcher.await;
    let read = reader_thread.await;
    let journal = RunFiles::new(&cfg.results).journal;
    if let Some(w) = &collected.write_error {
        return Err(RecordError::ResultsLost {
            results: cfg.results.clone(),
            error: w.error.to_string(),
            lines: w.lines(),
            journal,
        }
        .into());
    }
    match read {
        Ok(Err(e)) => return Err(e.context(RecordError::InputUnreadable { journal })),
        Ok(Ok(Read::CutShort)) if resumed => {
            let why = parts.stop.reason().unwrap_or_default();
            let results = cfg.results.clone();
            return Err(
                anyhow::Error::new(RecordError::CutShort { results, journal }).context(why),
            );
        }
        _ => {}
    }
    dispatched.map_err(|e| anyhow::anyhow!("internal error: {e}"))?;
    Ok(collected)
}
