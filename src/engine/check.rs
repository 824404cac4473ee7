//! The check pass: the whole input read once before anything is sent. Header problems stop the
//! run here, a resumed input must still be the file the results describe, repeated names are
//! found (the sending pass takes them from here), and the row count gives the progress display
//! its total. A dry run ends here (its report is the command's).

use std::collections::{HashMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;

use super::claims::{self, Held};
use super::events::Checked;
use super::whose::SentRows;
use crate::cmd::validate::warn_unknown_columns;
use crate::config::SubmitConfig;
use crate::input::{match_fingerprints, NameTracker, Row, RowReader, Watched};
use crate::ledger::prior::{Record, Recorded};
use crate::ledger::store::{body_digest, State, View};

/// What the check pass learned about the input.
pub struct Check {
    pub rows: u64,
    pub invalid: u64,
    /// Valid rows not created before: what may be sent.
    pub to_send: u64,
    /// Rows created by an earlier run.
    pub done_before: u64,
    /// Rows an earlier run sent without learning the outcome: looked up before anything else.
    pub unknown_before: u64,
    /// The first invalid rows, for a dry run: (line, message).
    pub first_invalid: Vec<(u64, String)>,
    /// Rows whose name repeats an earlier row's: line → that row's line. The main pass takes
    /// them from here instead of tracking every name again.
    pub duplicates: HashMap<u64, u64>,
    /// The input file as checked, watched while it is sent, and the hash of what was read.
    pub watched: Watched,
    pub digest: u64,
    /// The names (by fingerprint) of rows an earlier run left uncertain: looked up first.
    pub wanted: HashSet<u64>,
    /// Every name in the sheet, to take the baseline with (dropped once it is taken).
    pub names: Option<NameTracker>,
    /// The names (by fingerprint) another run of this machine left uncertain: looked up first,
    /// and found whatever the baseline holds (the ledger says this machine sent them).
    pub wanted_claimed: HashSet<u64>,
    /// When the last of those requests can no longer land (milliseconds since 1970).
    pub claimed_ready_ms: i64,
    /// The names (by fingerprint) the ledger decides: this machine's, never an old namesake.
    pub held: HashSet<u64>,
    /// What the rows looked up at the start sent, to tell their broadcasts from namesakes.
    pub sent: SentRows,
    /// What the rows another run of this machine left uncertain sent.
    pub sent_claimed: SentRows,
    /// Rows whose name this machine created from a row that said something else.
    pub other_content: Namesakes,
}

/// Rows whose name this machine already created for another campaign (the request it sent
/// differs): the first few, described for a person, and how many.
#[derive(Debug, Default)]
pub struct Namesakes {
    pub count: u64,
    pub shown: Vec<String>,
}

/// Read the whole input once before anything is sent: header problems stop the run here, a
/// resumed input must still be the file the results describe, and the row count gives the
/// progress display its total.
pub fn check_input(
    cfg: &SubmitConfig,
    prior: &Record,
    mut ledger: Option<&mut View>,
) -> Result<Check> {
    let (mut rows, watched) = RowReader::open_watched(&cfg.input, &cfg.input_opts)?;
    warn_unknown_columns(&rows);
    let mut check = Check {
        rows: 0,
        invalid: 0,
        to_send: 0,
        done_before: 0,
        unknown_before: 0,
        first_invalid: Vec::new(),
        duplicates: HashMap::new(),
        watched,
        digest: 0,
        wanted: HashSet::new(),
        names: None,
        wanted_claimed: HashSet::new(),
        claimed_ready_ms: 0,
        held: HashSet::new(),
        sent: SentRows::default(),
        sent_claimed: SentRows::default(),
        other_content: Namesakes::default(),
    };
    let (mut shown, mut recorded) = (0, 0usize);
    let (mut mismatches, mut more_mismatches) = (Vec::new(), 0usize);
    // The forms a server may keep the sheet's names in, for the baseline (few: only long names
    // and names with emoji have any).
    let mut kept_forms = Vec::new();
    while let Some(row) = rows.next_row() {
        let row = row?;
        check.rows += 1;
        kept_forms.extend(
            crate::input::kept_keys(&row.name)
                .iter()
                .map(|k| crate::input::key_fingerprint(k)),
        );
        if let Some(first) = row.duplicate_of {
            check.duplicates.insert(row.line, first);
        }
        if let Err(m) = prior.matches(row.line, &row.name) {
            if mismatches.len() < 5 {
                mismatches.push(m);
            } else {
                more_mismatches += 1;
            }
        }
        let before = prior.kind(row.line);
        recorded += usize::from(before.is_some());
        if held_by_ledger(&mut check, ledger.as_deref_mut(), &row, before, cfg)? {
            continue;
        }
        if before == Some(Recorded::Unknown) {
            keep_uncertain(&mut check, ledger.as_deref_mut(), &row);
        }
        match (before, &row.verdict) {
            (Some(Recorded::Created), _) => check.done_before += 1,
            (Some(Recorded::Unknown), _) => check.unknown_before += 1,
            (_, Ok(req)) => {
                check.to_send += 1;
                if shown < 3 && cfg.target.is_none() {
                    shown += 1;
                    tracing::debug!(
                        "line {} would be sent as {}",
                        row.line,
                        serde_json::to_string(req)?
                    );
                }
            }
            (_, Err(_)) => {}
        }
        if let Err(msg) = &row.verdict {
            check.invalid += 1;
            if check.first_invalid.len() < 20 {
                check.first_invalid.push((row.line, msg.clone()));
            }
        }
    }
    if let Some(how) = check.watched.changed() {
        anyhow::bail!(
            "{} changed while it was being checked ({how}); nothing was sent. Run again once the \
             sheet is saved",
            cfg.input.display()
        );
    }
    check.digest = check.watched.digest();
    check.names = rows.take_names();
    if let Some(names) = &mut check.names {
        for fp in kept_forms {
            names.claim_fingerprint(fp, 1);
        }
    }
    let missing = prior.len() - recorded;
    refuse_other_input(cfg, (mismatches, more_mismatches), missing)?;
    Ok(check)
}

/// A resumed input must be the file its record describes: refused, saying how it differs
/// (`mismatches`, the first lines that differ, and how many more; `missing` recorded lines).
fn refuse_other_input(
    cfg: &SubmitConfig,
    (mismatches, more_mismatches): (Vec<String>, usize),
    missing: usize,
) -> Result<()> {
    if mismatches.is_empty() && missing == 0 {
        return Ok(());
    }
    let mut why = mismatches;
    if more_mismatches > 0 {
        why.push(format!("and {more_mismatches} more lines differ"));
    }
    if missing > 0 {
        why.push(format!("{missing} recorded lines are not in the input"));
    }
    anyhow::bail!(
        "{} does not match what {} records ({}). Resume only with the file that run read; to \
         send a changed file, start a separate run with -o",
        cfg.input.display(),
        cfg.results.display(),
        why.join("; ")
    );
}

/// Count a valid row the ledger decides (another run of this machine created its name, is
/// sending it, or left it uncertain); `true` when it does. A name created for a row that said
/// something else is a namesake: noted, and sent only with `--allow-existing-names`.
fn held_by_ledger(
    check: &mut Check,
    ledger: Option<&mut View>,
    row: &Row,
    before: Option<Recorded>,
    cfg: &SubmitConfig,
) -> Result<bool> {
    let allow = cfg.allow_existing_names;
    let name = row.name.as_str();
    let (Some(view), Ok(req)) = (ledger, &row.verdict) else {
        return Ok(false);
    };
    let digest = || Some(body_digest(&req.to_body()));
    let Some(held) = claims::seen(view, (name, &digest), before, None)?.held else {
        return Ok(false);
    };
    // Another request's send with no outcome: if it landed, its broadcast is a namesake on the
    // account like any other (the baseline's to judge); if not, the row may be sent.
    if let Held::Other(claim, ..) = &held {
        if claim.state != State::Created {
            check.to_send += 1;
            return Ok(true);
        }
    }
    // Under any form a server may keep it in: a listed broadcast under one is this machine's.
    check.held.extend(match_fingerprints(name));
    match held {
        Held::Other(claim, by, own) => {
            let n = &mut check.other_content;
            n.count += 1;
            if n.shown.len() < 10 {
                n.shown.push(format!(
                    "line {} {name:?} ({} by {by}, from its line {})",
                    row.line,
                    claims::what_became(&claim),
                    claim.line
                ));
            }
            check.to_send += u64::from(allow && !own);
        }
        Held::Created(..) => check.done_before += 1,
        Held::Busy(..) => check.unknown_before += 1,
        Held::Uncertain(claim, _) => {
            check.unknown_before += 1;
            check.wanted_claimed.extend(match_fingerprints(name));
            let sent_at = u64::try_from(claim.sent_at).unwrap_or(0);
            let first = UNIX_EPOCH + std::time::Duration::from_millis(sent_at);
            keep_sent(&mut check.sent_claimed, row, (Some(first), claim.namesake));
            let timeout = view.run(claim.run).map_or(0, |r| r.timeout_ms);
            check.claimed_ready_ms = check.claimed_ready_ms.max(claim.last_sent + timeout);
        }
    }
    Ok(true)
}

/// Keep a row an earlier run of this record left uncertain, to be looked up at the start, with
/// when its first request left as this machine's ledger has it: a broadcast listed as made
/// before then is not its, at a resume's start as at a run's end.
fn keep_uncertain(check: &mut Check, ledger: Option<&mut View>, row: &Row) {
    check.wanted.extend(match_fingerprints(&row.name));
    let first = ledger.and_then(|view| own_first_send(view, &row.name));
    keep_sent(&mut check.sent, row, (first, false));
}

/// When this record's own claim on `name` was sent, if the ledger holds one.
fn own_first_send(view: &mut View, name: &str) -> Option<SystemTime> {
    let claim = view.get(&crate::input::name_key(name)).ok().flatten()?;
    let at = u64::try_from(claim.sent_at).ok().filter(|&ms| ms > 0)?;
    view.is_own(claim.run)
        .then(|| UNIX_EPOCH + std::time::Duration::from_millis(at))
}

/// Keep what a valid row looked up at the start sends, to judge its name's broadcasts by.
/// `namesake_before`: an old namesake was on the account when it was sent ([`super::whose::Sought`]).
fn keep_sent(sent: &mut SentRows, row: &Row, when: (Option<SystemTime>, bool)) {
    let body = row.verdict.as_ref().ok().map(|req| req.to_body());
    sent.add((row.line, &row.name), body.as_deref(), when);
}

impl Check {
    /// The counts, as the [`super::events::Event::Checked`] event carries them.
    pub fn counts(&self) -> Checked {
        Checked {
            rows: self.rows,
            invalid: self.invalid,
            to_send: self.to_send,
            done_before: self.done_before,
            unknown_before: self.unknown_before,
        }
    }
}
