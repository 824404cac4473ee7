//! The engine's event stream, consumed whole by a test as the terminal consumes it: a run
//! against the in-process simulation with faults on keeps the stream's grammar.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use bulkcast::config::{SubmitConfig, Target};
use bulkcast::engine::events::{Call, Ended, Event};
use bulkcast::engine::{Endpoint, Engine, Prepared};
use bulkcast::input::InputOptions;
use bulkcast::ledger::outcome::Status;
use bulkcast::mock::MockOptions;
use bulkcast::net::client::ReplyKind;
use bulkcast::net::Rate;
use bulkcast::secret::{Auth, Secret};
use bulkcast::Exit;

use crate::util::{good_csv, Dir, Smartflo};

fn config(api: &Smartflo, input: &Path, results: &Path) -> SubmitConfig {
    SubmitConfig {
        input: input.to_owned(),
        results: results.to_owned(),
        input_opts: InputOptions::default(),
        target: Some(Target::Remote {
            base_url: api.server.url(),
            auth: Auth::Token(Secret::new(api.server.token())),
        }),
        target_name: api.server.url(),
        rate: Rate::Unlimited,
        burst: NonZeroU32::MIN,
        concurrency: 4,
        max_retries: 3,
        timeout: Duration::from_secs(5),
        max_errors: None,
        summary_json: None,
        resume: false,
        failed: None,
        skip_existing: false,
        allow_existing_names: false,
        settle: Duration::ZERO,
        outage_wait: Duration::from_secs(60),
        settings: String::new(),
        continue_with: String::new(),
        dry_run_account: None,
        bodies: None,
        max_listing_pages: 20_000,
        state_dir: Some(results.with_file_name("state")),
    }
}

/// Run the engine to its end, keeping every event it reports.
fn run_collecting(cfg: SubmitConfig) -> (Exit, Vec<Event>) {
    let prepared = Prepared::check(&cfg).expect("the input checks");
    let endpoint = match cfg.target.clone() {
        Some(Target::Remote { base_url, auth }) => Endpoint { base_url, auth },
        _ => unreachable!(),
    };
    let (engine, mut rx) = Engine::new(cfg, prepared, endpoint);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let consume = async {
            let mut all = Vec::new();
            while let Some(e) = rx.recv().await {
                all.push(e);
            }
            all
        };
        let (exit, all) = tokio::join!(engine.run(), consume);
        (exit.expect("the run ends"), all)
    })
}

/// Every row ends in exactly one final event, no create is answered before it was sent, and the
/// summary's counts are the final events' counts.
#[test]
fn a_whole_runs_events_keep_their_grammar_with_faults_on() {
    let api = Smartflo::start(MockOptions {
        fail_5xx: 0.15,
        fail_429: 0.1,
        fail_false: 0.05,
        error_after_create: 0.1,
        drop_after_create: 0.1,
        seed: 19,
        ..MockOptions::default()
    });
    let dir = Dir::new();
    let mut sheet = good_csv(",", "\n", 80);
    // Two rows that fail validation: they end without a request.
    sheet += "Bad 1,d,not-a-list,ivr||7926,40,5,5 10,918069000000,2,2026-12-02 09:00:00,2026-12-02 18:00:00,1234,1 2 3,1 3\n";
    sheet += "Bad 2,d,214864,ivr||7926,40,5,5 10,918069000000,2,2026-12-31 09:00:00,2026-12-02 18:00:00,1234,1 2 3,1 3\n";
    let input = dir.write("in.csv", sheet);
    let mut cfg = config(&api, &input, &dir.path("out.csv"));
    // Uncertain rows are looked up once their requests can no longer land: keep that short.
    cfg.timeout = Duration::from_secs(2);
    let (exit, events) = run_collecting(cfg);

    assert!(matches!(events.first(), Some(Event::Checked(c)) if c.rows == 82 && c.invalid == 2));
    let Some(Event::Ended(ended)) = events.last() else {
        panic!("the last event is the end: {:?}", events.last());
    };
    let ended: &Ended = ended;
    assert_eq!(exit, ended.exit);

    // Requests and replies pair up: each reply follows its own request.
    // Requests sent and not yet answered (a listing's page 1 is asked more than once a run).
    let mut in_flight: HashMap<(Call, u32), u32> = HashMap::new();
    let mut creates_sent: HashSet<(u64, u32)> = HashSet::new();
    let mut answered_creates: HashMap<u64, u32> = HashMap::new();
    let mut finals: HashMap<u64, Status> = HashMap::new();
    let mut uncertain: HashSet<u64> = HashSet::new();
    let mut too_many = 0;
    for e in &events {
        match e {
            Event::Request { call, attempt } => {
                *in_flight.entry((*call, *attempt)).or_default() += 1;
                if let Call::Create { seq, .. } = call {
                    assert!(
                        creates_sent.insert((*seq, *attempt)),
                        "row {seq} attempt {attempt} twice"
                    );
                }
            }
            Event::Reply {
                call,
                attempt,
                kind,
                ..
            } => {
                let waiting = in_flight.entry((*call, *attempt)).or_default();
                assert!(
                    *waiting > 0,
                    "{call:?} attempt {attempt} answered before it was sent"
                );
                *waiting -= 1;
                if let Call::Create { seq, .. } = call {
                    *answered_creates.entry(*seq).or_default() += 1;
                }
                too_many += u64::from(matches!(kind, ReplyKind::TooManyRequests { .. }));
            }
            Event::Uncertain { seq, .. } => {
                assert!(
                    !finals.contains_key(seq),
                    "row {seq} uncertain after its end"
                );
                assert!(uncertain.insert(*seq), "row {seq} uncertain twice");
            }
            Event::Row(o) => {
                assert!(
                    finals.insert(o.seq, o.status).is_none(),
                    "row {} ended twice",
                    o.seq
                );
                if o.status == Status::Invalid {
                    assert!(
                        !answered_creates.contains_key(&o.seq),
                        "an invalid row was sent"
                    );
                }
            }
            _ => {}
        }
    }
    assert!(
        in_flight.values().all(|n| *n == 0),
        "every request answered"
    );
    assert_eq!(
        finals.len(),
        82,
        "every row ends in exactly one final event"
    );
    assert!(uncertain.iter().all(|seq| finals.contains_key(seq)));
    for status in Status::ALL {
        let events = finals.values().filter(|s| **s == status).count() as u64;
        assert_eq!(
            ended.count(status),
            events,
            "{status:?}: summary against events"
        );
    }
    assert_eq!(ended.summary.too_many_requests, too_many);
    let requests = events
        .iter()
        .filter(|e| matches!(e, Event::Request { .. }))
        .count() as u64;
    assert_eq!(ended.summary.requests, requests);
    // The faults were felt, so the grammar was tested where it is hard to keep.
    assert!(too_many > 0 && !uncertain.is_empty(), "{:?}", ended.summary);
    // And what the rows claim, the server holds.
    let created = finals.values().filter(|s| **s == Status::Created).count() as u64;
    let stats = api.server.stats();
    assert!(stats.duplicates.is_empty(), "{:?}", stats.duplicates);
    assert!(
        created <= stats.created,
        "{created} claimed, {} held",
        stats.created
    );
}

/// Stopping a run is one call on its handle: the rows not yet sent end `not_attempted`, every
/// row still ends once, and the stop is an event of its own.
#[test]
fn a_run_stopped_through_its_handle_ends_every_row_once() {
    let api = Smartflo::start(MockOptions::default());
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let mut cfg = config(&api, &input, &dir.path("out.csv"));
    // One a second: once the first create has left, the next is a second away, however busy
    // the machine.
    cfg.rate = Rate::PerSecond(1.0);
    let prepared = Prepared::check(&cfg).unwrap();
    let endpoint = Endpoint {
        base_url: api.server.url(),
        auth: Auth::Token(Secret::new(api.server.token())),
    };
    let (engine, mut rx) = Engine::new(cfg, prepared, endpoint);
    let handle = engine.handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (exit, events) = rt.block_on(async {
        let consume = async {
            let mut all = Vec::new();
            while let Some(e) = rx.recv().await {
                // Stop as the first create leaves.
                if matches!(
                    &e,
                    Event::Request {
                        call: Call::Create { .. },
                        ..
                    }
                ) {
                    handle.stop("stopped from the test");
                }
                all.push(e);
            }
            all
        };
        tokio::join!(engine.run(), consume)
    });
    assert_eq!(exit.unwrap(), Exit::SomeFailed);
    let rows: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Row(o) => Some(o),
            _ => None,
        })
        .collect();
    assert_eq!(rows.len(), 40);
    let seqs: HashSet<u64> = rows.iter().map(|o| o.seq).collect();
    assert_eq!(seqs.len(), 40, "every row once");
    let not_attempted = rows.iter().filter(|o| o.status == Status::NotAttempted);
    assert_eq!(not_attempted.count(), 39, "all but the row in flight");
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Stopped { reason } if reason == "stopped from the test")));
    let created = rows.iter().filter(|o| o.status == Status::Created).count() as u64;
    assert_eq!(created, api.server.stats().created);
}
