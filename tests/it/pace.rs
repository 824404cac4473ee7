//! The pace against an account's limit: network jitter, two runs sharing one account, and
//! `--rate auto`. These assert counts (every row once, 429s bounded, what the summary says),
//! never how long anything took.

use std::process::{Child, Stdio};
use std::time::Duration;

use bulkcast::mock::MockOptions;

use crate::util::{assert_exactly_once, good_csv, names, run, summary_json, Dir, Smartflo};

fn share_of_429s(summary: &serde_json::Value) -> f64 {
    summary["too_many_requests"].as_f64().unwrap() / summary["requests"].as_f64().unwrap()
}

#[test]
fn network_jitter_costs_429s_only_a_retry_and_every_row_is_created_once() {
    // Requests reach the limiter 0-300 ms after they leave: now and then one lands in the next
    // window beside that window's own, and is refused.
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rate_limit: 8,
        jitter: Duration::from_millis(300),
        latency: Duration::from_millis(50),
        seed: 5,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 60));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "8", "--summary-json", "summary.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(60));
    let s = summary_json(&dir);
    assert_eq!(s["rate_mode"], "fixed", "{s}");
    assert!(share_of_429s(&s) <= 0.15, "{s}");
    let (tmr, cuts) = (
        s["too_many_requests"].as_u64().unwrap(),
        s["rate_cuts"].as_u64().unwrap(),
    );
    assert!(cuts <= tmr, "{s}");
    // Once a 429 has cut the pace, the summary says what the account granted.
    assert_eq!(cuts > 0, s["rate_settled"].is_number(), "{s}");
    // Every 429 the server sent is in the summary, and each cost one retry, of its own row.
    assert_eq!(api.server.stats().too_many_requests, tmr);
    assert_eq!(s["retries"].as_u64(), Some(tmr), "{s}");
}

/// Start `bulkcast submit` on `input` in `dir` against `api`, not waiting for it.
fn spawn(api: &Smartflo, dir: &Dir, input: &std::path::Path, args: &[&str]) -> Child {
    api.submit(dir, input)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_runs_sharing_one_account_settle_into_sharing_it_and_create_every_row_once() {
    let api = Smartflo::start(MockOptions {
        rate_limit: 5,
        jitter: Duration::from_millis(100),
        latency: Duration::from_millis(50),
        seed: 9,
        ..MockOptions::default()
    });
    let (a, b) = (Dir::new(), Dir::new());
    let rows = 80;
    let sheet_a = a.write("a.csv", good_csv(",", "\n", rows));
    let sheet_b = b.write(
        "b.csv",
        good_csv(",", "\n", rows).replace("Campaign ", "Team B "),
    );
    let args = ["--rate", "5", "--summary-json", "summary.json"];
    let runs = [
        spawn(&api, &a, &sheet_a, &args),
        spawn(&api, &b, &sheet_b, &args),
    ];
    for child in runs {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut all = names(rows);
    all.extend((1..=rows).map(|i| format!("Team B {i}")));
    assert_exactly_once(&api.server, &all);

    let (sa, sb) = (summary_json(&a), summary_json(&b));
    let requests = sa["requests"].as_u64().unwrap() + sb["requests"].as_u64().unwrap();
    let refused = api.server.stats().too_many_requests;
    assert_eq!(
        refused,
        sa["too_many_requests"].as_u64().unwrap() + sb["too_many_requests"].as_u64().unwrap()
    );
    // Both start at the whole limit, so the first seconds refuse about half of what arrives;
    // after that each holds about its share. Pausing everyone at each 429 refused 21% of 254.
    assert!(
        refused as f64 / requests as f64 <= 0.15,
        "{refused} of {requests}: {sa} {sb}"
    );
    // Each backed off from --rate, and says so.
    for s in [&sa, &sb] {
        assert!(s["rate_cuts"].as_u64().unwrap() > 0, "{s}");
        assert!(s["rate_settled"].as_f64().unwrap() <= 5.5, "{s}");
    }
}

#[test]
fn rate_auto_climbs_from_one_a_second_and_reports_what_the_account_granted() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rate_limit: 8,
        latency: Duration::from_millis(50),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 80));
    let r =
        run(api
            .submit(&dir, &input)
            .args(["--rate", "auto", "--summary-json", "summary.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(80));
    let s = summary_json(&dir);
    assert_eq!(s["rate_mode"], "auto", "{s}");
    // It found the limit: 429s said where it was, and not many of them.
    let tmr = s["too_many_requests"].as_u64().unwrap();
    assert!(tmr > 0 && share_of_429s(&s) <= 0.15, "{s}");
    let granted = s["rate_settled"].as_f64().unwrap();
    assert!((6.0..=8.5).contains(&granted), "{s}");
    assert!(
        r.stderr
            .contains("--rate auto: the account let through about"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_rehearsal_with_rate_auto_finds_the_simulated_accounts_rate() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 30));
    let r = run(dir.cmd().arg("submit").arg(&input).args([
        "--mock",
        "--rate",
        "auto",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the simulated account allows 3 requests/s, for --rate auto to find"),
        "{}",
        r.stderr
    );
    let s = summary_json(&dir);
    assert_eq!(s["created"].as_u64(), Some(30), "{s}");
    assert_eq!(s["rate_mode"], "auto", "{s}");
}

#[test]
fn the_ledger_counts_the_runs_sending_to_an_account_and_keeps_the_pace_it_granted() {
    use bulkcast::ledger::store::{self, Account, Ledger, NewRun};
    let dir = Dir::new();
    let state = dir.path("state");
    let account = Account {
        target: "https://api.example".into(),
        who: "token abc".into(),
    };
    let other = Account {
        target: "https://api.example".into(),
        who: "token xyz".into(),
    };
    assert_eq!(
        store::sending_to(&state, &account).unwrap(),
        0,
        "no ledger yet"
    );
    let run = |results: &'static str| NewRun {
        account: &account,
        sheet: "plan.csv",
        results,
        resumed: false,
        timeout_ms: 1000,
        settings: "{}",
    };
    let a = Ledger::begin(&state, &run("a.csv")).unwrap();
    let b = Ledger::begin(&state, &run("b.csv")).unwrap();
    assert_eq!(store::sending_to(&state, &account).unwrap(), 2);
    assert_eq!(
        store::sending_to(&state, &other).unwrap(),
        0,
        "another account's runs are not its"
    );
    b.end([1, 0, 0, 0], None);
    drop(b);
    assert_eq!(
        store::sending_to(&state, &account).unwrap(),
        1,
        "an ended run no longer shares"
    );
    drop(a);
    assert_eq!(
        store::sending_to(&state, &account).unwrap(),
        0,
        "nor one whose process let go"
    );

    assert_eq!(store::remembered_pace(&state, &account), None);
    store::remember_pace(&state, &account, 4.6).unwrap();
    store::remember_pace(&state, &account, 4.8).unwrap();
    assert_eq!(
        store::remembered_pace(&state, &account).map(|p| p.0),
        Some(4.8)
    );
    assert_eq!(store::remembered_pace(&state, &other), None);

    std::fs::write(state.join(store::FILE), b"not a database, for a moment").unwrap();
    assert_eq!(
        store::sending_to(&state, &account),
        None,
        "a ledger that cannot be read says nothing, not \"alone\""
    );
}

#[test]
fn a_run_remembers_the_accounts_pace_and_the_next_auto_run_starts_from_it() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rate_limit: 0,
        ..MockOptions::default()
    });
    let first = dir.write("first.csv", good_csv(",", "\n", 30));
    let r = run(api.submit(&dir, &first).args(["--rate", "20"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let account = bulkcast::ledger::store::Account {
        target: api.server.url(),
        who: format!(
            "token {}",
            bulkcast::ledger::store::token_fingerprint(api.server.token())
        ),
    };
    let (pace, _) = bulkcast::ledger::store::remembered_pace(&dir.path("state"), &account)
        .expect("the pace is remembered");
    assert!(
        pace > 1.0 && pace <= 20.0,
        "as measured, never past --rate: {pace}"
    );

    let second = dir.write(
        "second.csv",
        good_csv(",", "\n", 10).replace("Campaign ", "Second "),
    );
    let r = run(api.submit(&dir, &second).args(["--rate", "auto"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let said = format!("--rate auto: starting at {pace:.2} requests/s");
    assert!(r.stderr.contains(&said), "{said:?} in {}", r.stderr);
}
