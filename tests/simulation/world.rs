//! One world: a sheet, a model of the account, and the runs people make of it, in order — then
//! the invariant. Everything is drawn from the world's seed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bulkcast::cli::{Cli, Command};
use bulkcast::engine::{Endpoint, Engine, Prepared};
use bulkcast::secret::{Auth, Secret};
use clap::Parser;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::model::{Faults, Model, EMAIL, PASSWORD, TOKEN};

/// What a world came to.
pub struct Outcome {
    pub violations: Vec<String>,
    /// The runs, the engine's events and the model's requests, in order.
    pub trace: String,
}

/// One run of `submit` in a step.
#[derive(Debug, Clone)]
struct Run {
    label: String,
    sheet: PathBuf,
    results: PathBuf,
    resume: bool,
    /// Run on another machine: a ledger (state directory) of its own, which knows nothing of
    /// this machine's sends; only the account's listing protects its rows.
    elsewhere: bool,
}

struct World {
    rng: SmallRng,
    dir: PathBuf,
    base_url: String,
    model: Model,
    login: bool,
    /// The sheet's rows: (name, description).
    rows: Vec<(String, String)>,
    results_files: Vec<PathBuf>,
    trace: String,
    copies: u32,
    /// `--rate` for every run, and what to do with names already on the account.
    rate: String,
    existing: &'static str,
    /// Next week's sheet (the same names, some saying something else), if the world sends one:
    /// its results file and rows. Drawn from a stream of its own, so that the worlds without
    /// one are the worlds they always were.
    next_week: Option<(PathBuf, Vec<(String, String)>)>,
    side: SmallRng,
    /// Which copies run on another machine: a stream of its own.
    machines: SmallRng,
    /// The last step ran on another machine: the next one starts a while later.
    gap_next: bool,
}

const HEADER: &str = "name,description,phone_number_list,destination,timeout,concurrent_limit,retry_after_minutes,caller_id_number,number_of_retry,start_date_time,end_date_time,time_group,dialstatus,retry_dialstatus";

pub fn run(seed: u64) -> Outcome {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let outcome = run_in(seed, dir.path());
    drop(dir);
    outcome
}

fn run_in(seed: u64, dir: &Path) -> Outcome {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut faults = Faults::draw(&mut rng);
    // How the server keeps names and its clock, from a stream of their own (so the worlds
    // found before these existed keep the rest of their draws).
    let mut forms = SmallRng::seed_from_u64(seed ^ 0x0F0E_A715_C10C_4B1D);
    faults.clock_behind = [0, 0, 0, 0, 0, -90, 240, 900, -1800, 3600][forms.random_range(0..10)];
    let style = forms.random_range(0..10);
    match style {
        6 | 7 => faults.name_cut = Some([20, 30, 50][forms.random_range(0..3)]),
        8 | 9 => faults.narrow = forms.random_bool(0.7),
        _ => {}
    }
    let base_url = format!("http://localhost:1/world-{seed}");
    let model = Model::new(faults.clone(), seed);
    bulkcast::net::wire::register(&base_url, std::sync::Arc::new(model.clone()));
    bulkcast::net::seed_jitter(Some(seed));
    let wall = model.clone();
    bulkcast::clock::set_wall(Some(std::sync::Arc::new(move || wall.lock().wall())));
    let n = rng.random_range(1..=12);
    let rows: Vec<(String, String)> = (0..n)
        .map(|i| {
            let name = match style {
                // One long name each, told apart only past the width a server may cut at.
                6 | 7 => {
                    format!("Diwali festive season reminder for western region customers offer {i}")
                }
                8 | 9 => format!("Sim offer 🎆 {i}"),
                _ => format!("Sim offer {i}"),
            };
            (name, format!("Festive offer reminder batch {i}"))
        })
        .collect();
    let mut w = World {
        login: faults.token_life.is_some(),
        rng,
        dir: dir.to_owned(),
        base_url: base_url.clone(),
        model,
        rows,
        results_files: Vec::new(),
        trace: String::new(),
        copies: 0,
        rate: String::new(),
        existing: "",
        next_week: None,
        side: SmallRng::seed_from_u64(seed ^ 0x005E_ED0F_4E57_3EE4),
        machines: SmallRng::seed_from_u64(seed ^ 0x0A17_0E15_E00F_3A5E),
        gap_next: false,
    };
    w.rate = match w.rng.random_range(0..10) {
        0..7 => faults.limit.to_string(),
        7 | 8 => "auto".into(),
        _ => (faults.limit + 2).to_string(),
    };
    w.existing = if w.rng.random_bool(0.7) {
        "--skip-existing"
    } else {
        "--allow-existing-names"
    };
    let _ = writeln!(w.trace, "world {seed}: {} rows, {faults:?}", w.rows.len());
    w.setup();
    w.play();
    let violations = w.check();
    bulkcast::net::wire::unregister(&base_url);
    bulkcast::net::seed_jitter(None);
    bulkcast::clock::set_wall(None);
    let mut trace = std::mem::take(&mut w.trace);
    trace.push_str("requests the account saw:\n");
    for line in &w.model.lock().log {
        let _ = writeln!(trace, "  {line}");
    }
    Outcome {
        violations,
        trace: normalize(&trace, dir),
    }
}

/// The trace without the one thing of it that is not the world's: the temporary directory's
/// name.
fn normalize(trace: &str, dir: &Path) -> String {
    trace.replace(&dir.display().to_string(), "<dir>")
}

impl World {
    fn sheet_text(&self) -> String {
        let mut s = String::from(HEADER);
        s.push('\n');
        for (i, (name, description)) in self.rows.iter().enumerate() {
            let _ = writeln!(
                s,
                "{name},{description},{},ivr||7926,40,2,5;10,+91 80 6900 {:04},1,2026-12-{:02} 09:00,2026-12-{:02} 18:00:00,1234,1;2;3;4;5,\"[1, 3]\"",
                214_000 + i,
                i,
                1 + i % 28,
                1 + i % 28
            );
        }
        s
    }

    fn sheet(&self) -> PathBuf {
        self.dir.join("sheet.csv")
    }

    /// The sheet, a colleague's old broadcasts, and perhaps an old namesake of a row.
    fn setup(&mut self) {
        std::fs::write(self.sheet(), self.sheet_text()).expect("the sheet");
        for i in 0..self.rng.random_range(0..16) {
            self.model.colleague(&format!("Old campaign {i}"));
        }
        if self.rng.random_bool(0.2) {
            let i = self.rng.random_range(0..self.rows.len());
            let name = self.rows[i].0.clone();
            self.model.colleague(&name);
        }
    }

    fn first_results(&self) -> PathBuf {
        self.dir.join("sheet.results.csv")
    }

    /// The runs: a first one, perhaps killed; one to three more as people make them; then one
    /// clean run that finishes the job.
    fn play(&mut self) {
        let first = Run {
            label: "first run".into(),
            sheet: self.sheet(),
            results: self.first_results(),
            resume: false,
            elsewhere: false,
        };
        let kill = self.kill();
        self.step(vec![first], kill, false);
        for _ in 0..self.rng.random_range(1..=3) {
            let runs = match self.rng.random_range(0..5) {
                0 | 1 => vec![self.resume("resume")],
                2 => vec![self.copy_somewhere()],
                3 => vec![self.copy(), self.copy()],
                _ => match self.failed_rows() {
                    Some(run) => vec![run],
                    None => vec![self.resume("resume")],
                },
            };
            let kill = self.kill();
            self.step(runs, kill, false);
        }
        if self.side.random_bool(0.2) {
            let run = self.next_week();
            self.step(vec![run], None, true);
        }
        let calm = self.model.lock().faults.calm();
        self.model.lock().faults = calm;
        let last = self.resume("final clean run");
        self.step(vec![last], None, true);
    }

    /// When to kill the step, if at all: a moment within the first seconds of sending.
    fn kill(&mut self) -> Option<Duration> {
        self.rng
            .random_bool(0.6)
            .then(|| Duration::from_millis(self.rng.random_range(0..6000)))
    }

    fn resume(&self, label: &str) -> Run {
        let results = self.first_results();
        let journal = self.dir.join("sheet.results.csv.journal");
        let resume = results.exists() || journal.exists();
        Run {
            label: label.into(),
            sheet: self.sheet(),
            results,
            resume,
            elsewhere: false,
        }
    }

    /// A copy of the sheet alone, on this machine or (3 in 10) on another one.
    fn copy_somewhere(&mut self) -> Run {
        let mut run = self.copy();
        // Not where --allow-existing-names is the world's flag: it asks for a name on the
        // account to be created again, so a second machine's campaign would be made twice on
        // request.
        if self.machines.random_bool(0.3) && self.existing == "--skip-existing" {
            run.label.push_str(" on another machine");
            run.results = self
                .dir
                .join(format!("copy {} elsewhere.results.csv", self.copies));
            run.elsewhere = true;
        }
        run
    }

    /// A copy of the sheet, sent with a results file of its own.
    fn copy(&mut self) -> Run {
        self.copies += 1;
        let sheet = self.dir.join(format!("copy {}.csv", self.copies));
        std::fs::write(&sheet, self.sheet_text()).expect("a copy of the sheet");
        Run {
            label: format!("copy {}", self.copies),
            results: self.dir.join(format!("copy {}.results.csv", self.copies)),
            sheet,
            resume: false,
            elsewhere: false,
        }
    }

    /// Next week's sheet: the same names, one or more saying something else, sent as a new
    /// sheet with a results file of its own (`--allow-existing-names` creates those again, on
    /// purpose; `--skip-existing` refuses them while this machine made their names).
    fn next_week(&mut self) -> Run {
        let mut rows = self.rows.clone();
        let first = self.side.random_range(0..rows.len());
        for (i, (_, description)) in rows.iter_mut().enumerate() {
            if i == first || self.side.random_bool(0.3) {
                description.push_str(" next week");
            }
        }
        let (kept, saved) = (
            std::mem::replace(&mut self.rows, rows.clone()),
            self.sheet_text(),
        );
        self.rows = kept;
        let sheet = self.dir.join("next week.csv");
        std::fs::write(&sheet, saved).expect("next week's sheet");
        let results = self.dir.join("next week.results.csv");
        self.next_week = Some((results.clone(), rows));
        Run {
            label: "next week".into(),
            sheet,
            results,
            resume: false,
            elsewhere: false,
        }
    }

    /// The rows a results file reports on: next week's, or the sheet's (its copies are the
    /// same).
    fn rows_of(&self, results: &Path) -> &[(String, String)] {
        match &self.next_week {
            Some((file, rows)) if file == results => rows,
            _ => &self.rows,
        }
    }

    /// The failed rows of the first results file, sent as a new sheet.
    fn failed_rows(&mut self) -> Option<Run> {
        let failed = self.dir.join("sheet.failed.csv");
        if !failed.exists() {
            return None;
        }
        self.copies += 1;
        let sheet = self.dir.join(format!("failed {}.csv", self.copies));
        std::fs::copy(&failed, &sheet).ok()?;
        Some(Run {
            label: format!("failed rows {}", self.copies),
            results: self.dir.join(format!("failed {}.results.csv", self.copies)),
            sheet,
            resume: false,
            elsewhere: false,
        })
    }

    fn args(&self, run: &Run) -> Vec<String> {
        let mut args: Vec<String> = [
            "bulkcast",
            "-q",
            "submit",
            &run.sheet.display().to_string(),
            "--base-url",
            &self.base_url,
            "-o",
            &run.results.display().to_string(),
            "--state-dir",
            &self
                .dir
                .join(if run.elsewhere { "state-2" } else { "state" })
                .display()
                .to_string(),
            "--rate",
            &self.rate,
            "--concurrency",
            "4",
            "--timeout",
            "5",
            "--settle",
            "4",
            "--outage-wait",
            "2m",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        args.push(self.existing.into());
        if run.results == self.first_results() {
            args.extend([
                "--failed".into(),
                self.dir.join("sheet.failed.csv").display().to_string(),
            ]);
        }
        if run.resume {
            args.push("--resume".into());
        }
        args
    }

    /// The runs of one step, at once, on a fresh runtime with a paused clock; killed at `kill`
    /// (the runtime and all it holds dropped, as a process is), or to their end. Unless the
    /// step is `clean`, the sheet may be saved again while it runs.
    fn step(&mut self, runs: Vec<Run>, kill: Option<Duration>, clean: bool) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let model = self.model.clone();
        let elsewhere = runs.iter().any(|r| r.elsewhere);
        let gap = std::mem::replace(&mut self.gap_next, elsewhere) || elsewhere;
        let prepared = rt.block_on(async {
            model.begin_step();
            if gap {
                // Between this machine's runs and another's, time passes: nothing of one is
                // still on its way to the account, and the listing has caught up, when the
                // other starts. (Within the listing's lag, neither machine can know.)
                model.idle(Duration::from_secs(5));
            }
            let mut prepared = Vec::new();
            for run in &runs {
                let killed = kill
                    .map(|k| format!(" (killed at {k:?})"))
                    .unwrap_or_default();
                let _ = writeln!(
                    self.trace,
                    "{}: {}{killed}",
                    run.label,
                    self.args(run)[2..].join(" ")
                );
                match self.prepare(run) {
                    Ok(p) => prepared.push((run.clone(), p)),
                    Err(e) => {
                        let _ =
                            writeln!(self.trace, "  {}: refused before sending: {e:#}", run.label);
                    }
                }
            }
            prepared
        });
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let shared = lines.clone();
        // Excel saves the sheet again while a run reads it: the same cells, a new file.
        let resave = (!clean && self.rng.random_bool(0.25)).then(|| {
            let at = Duration::from_millis(self.rng.random_range(0..4000));
            (at, self.sheet(), self.sheet_text(), shared.clone())
        });
        rt.block_on(async move {
            if let Some((at, sheet, text, said)) = resave {
                tokio::spawn(async move {
                    tokio::time::sleep(at).await;
                    let tmp = sheet.with_extension("saving");
                    if std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &sheet)).is_ok() {
                        said.lock().unwrap().push(format!("  the sheet saved again at {at:?}"));
                    }
                });
            }
            let all = futures_util::future::join_all(
                prepared
                    .into_iter()
                    .map(|(run, (cfg, endpoint, p))| drive(run.label, cfg, endpoint, p, shared.clone())),
            );
            match kill {
                Some(k) => {
                    tokio::select! {
                        biased;
                        _ = all => {}
                        () = tokio::time::sleep(k) => shared.lock().unwrap().push("  killed".into()),
                    }
                }
                None => {
                    all.await;
                }
            }
        });
        // The files were last written by the end of the step, on the world's clock (the
        // engine reads a journal's or results file's time when it has no better record).
        let end = rt.block_on(async { self.model.lock().wall() });
        drop(rt);
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if let Ok(f) = std::fs::File::options().append(true).open(entry.path()) {
                let _ = f.set_modified(end);
            }
        }
        // Each run's lines together, in the order of the runs: two runs at once interleave as
        // their threads happen to (a reader thread is the operating system's to schedule), and
        // the trace says what each did, not which of two equal moments came first.
        let mut lines = std::mem::take(&mut *lines.lock().unwrap());
        let of_run = |l: &String| {
            runs.iter()
                .position(|r| l.starts_with(&format!("  {}: ", r.label)))
                .unwrap_or(runs.len())
        };
        lines.sort_by_key(of_run);
        for l in lines {
            let _ = writeln!(self.trace, "{l}");
        }
        for run in runs {
            if run.results.exists() && !self.results_files.contains(&run.results) {
                self.results_files.push(run.results);
            }
        }
    }

    fn prepare(
        &self,
        run: &Run,
    ) -> anyhow::Result<(bulkcast::config::SubmitConfig, Endpoint, Prepared)> {
        let cli = Cli::try_parse_from(self.args(run))?;
        let Command::Submit(mut submit) = cli.command else {
            anyhow::bail!("not a submit");
        };
        submit.profile_auth = Some(match self.login {
            true => Auth::Login {
                email: EMAIL.into(),
                password: Secret::new(PASSWORD),
            },
            false => Auth::Token(Secret::new(TOKEN)),
        });
        let cfg = bulkcast::config::submit(*submit)?;
        let auth = match &cfg.target {
            Some(bulkcast::config::Target::Remote { auth, .. }) => auth.clone(),
            _ => anyhow::bail!("not a run to an account"),
        };
        let endpoint = Endpoint {
            base_url: self.base_url.clone(),
            auth,
        };
        let prepared = Prepared::check(&cfg)?;
        Ok((cfg, endpoint, prepared))
    }

    /// The invariant, over what the model holds and every results file the world left.
    fn check(&self) -> Vec<String> {
        let mut v = Vec::new();
        let model = self.model.lock();
        let key = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        let week = self.next_week.iter().flat_map(|(_, rows)| rows);
        let mut campaigns: Vec<&(String, String)> = self.rows.iter().chain(week).collect();
        campaigns.sort();
        campaigns.dedup();
        for (name, description) in campaigns {
            let ours: Vec<u64> = model
                .held
                .iter()
                .filter(|b| !b.colleague && key(&b.sent_name) == key(name))
                .filter(|b| b.body["description"] == description.as_str())
                .map(|b| b.id)
                .collect();
            if ours.len() > 1 {
                v.push(format!(
                    "{name:?} exists {} times on the account (ids {ours:?})",
                    ours.len()
                ));
            }
        }
        for file in &self.results_files {
            let label = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let Ok(mut csv) = csv::Reader::from_path(file) else {
                v.push(format!("{label}: unreadable"));
                continue;
            };
            let headers = csv.headers().cloned().unwrap_or_default();
            let col = |h: &str| headers.iter().position(|x| x == h);
            let (Some(name_c), Some(status_c), Some(id_c), Some(msg_c)) = (
                col("name"),
                col("status"),
                col("broadcast_id"),
                col("message"),
            ) else {
                v.push(format!(
                    "{label}: no name/status/broadcast_id/message columns"
                ));
                continue;
            };
            let mut seen = Vec::new();
            for record in csv.records().flatten() {
                let (name, status, id) = (&record[name_c], &record[status_c], &record[id_c]);
                seen.push((name.to_owned(), status.to_owned(), record[msg_c].to_owned()));
                let row = self.rows_of(file).iter().find(|(n, _)| key(n) == key(name));
                let held = model.held.iter().find(|b| b.id.to_string() == id);
                if status == "existing" {
                    // What --skip-existing asks for: a namesake that says what the row says
                    // stands for it (one the listing shows nothing of, by its name).
                    // (Whoever made it: a colleague, another machine, or this one.)
                    let stands = |b: &&crate::model::Held, d: &str| {
                        key(&b.sent_name) == key(name)
                            && (b.body["description"].is_null() || b.body["description"] == d)
                    };
                    if !matches!((row, held), (Some((_, d)), Some(b)) if stands(&b, d)) {
                        v.push(format!("{label}: {name:?} reported existing as {id:?}, which is not a namesake saying what it says"));
                    }
                    continue;
                }
                if status != "created" {
                    continue;
                }
                match (row, held) {
                    (_, None) => v.push(format!("{label}: {name:?} reported created as {id:?}, which the account does not hold")),
                    (None, _) => v.push(format!("{label}: {name:?} is not a row of the sheet")),
                    (Some((n, d)), Some(b)) => {
                        if b.colleague || key(&b.sent_name) != key(n) || b.body["description"] != d.as_str() {
                            v.push(format!("{label}: {name:?} reported created as {id}, which holds another broadcast ({:?}: {:?})", b.sent_name, b.body["description"]));
                        }
                    }
                }
            }
            if *file == self.first_results() {
                // After the final clean run: every row created exactly once, or an honest reason.
                for (name, description) in &self.rows {
                    let ours = model
                        .held
                        .iter()
                        .filter(|b| !b.colleague && key(&b.sent_name) == key(name))
                        .filter(|b| b.body["description"] == description.as_str())
                        .count();
                    let said = seen.iter().find(|(n, _, _)| key(n) == key(name));
                    // A colleague's namesake, old or made meanwhile: a row may honestly end
                    // not created beside it (refused, or unknown: "check the account").
                    // Or next week's campaign of the same name, which --skip-existing does not
                    // take for this row's, and does not create beside.
                    // (A namesake as the server keeps names: cut short, several rows' names
                    // are one.)
                    let kept = model.faults.kept(name);
                    let namesake = model.held.iter().any(|b| {
                        (key(&b.sent_name) == key(name) || key(&b.name) == key(&kept))
                            && (b.colleague || b.body["description"] != description.as_str())
                    });
                    match said {
                        None => v.push(format!("{label}: no result for {name:?}")),
                        Some((_, s, _)) if s == "created" && ours == 1 => {}
                        Some((_, s, _)) if s == "existing" && ours == 0 && namesake => {}
                        // Its campaign, made by another machine's run (or an earlier one of
                        // this record), counted as already there.
                        Some((_, s, _)) if s == "existing" && ours == 1 => {}
                        Some((_, s, _)) if s != "created" && ours == 0 && namesake => {}
                        Some((_, s, m)) => v.push(format!(
                            "after the final clean run {name:?} is {s:?} ({m}) with {ours} on the account"
                        )),
                    }
                }
            }
        }
        if !self.results_files.contains(&self.first_results()) {
            v.push("the final clean run left no results file".into());
        }
        v
    }
}

/// One run from its check to its end (or its kill), its events written to `lines` as they come.
async fn drive(
    label: String,
    cfg: bulkcast::config::SubmitConfig,
    endpoint: Endpoint,
    prepared: Prepared,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    let (engine, mut events) = Engine::new(cfg, prepared, endpoint);
    let collect = async {
        while let Some(e) = events.recv().await {
            lines.lock().unwrap().push(format!("  {label}: {e:?}"));
        }
    };
    let (result, ()) = tokio::join!(engine.run(), collect);
    let line = match result {
        Ok(exit) => format!("  {label}: exit {exit:?}"),
        Err(e) => format!("  {label}: failed: {e:#}"),
    };
    lines.lock().unwrap().push(line);
}
