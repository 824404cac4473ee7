//! `bulkcast submit` run as a user runs it, against the built-in simulated Smartflo.

use std::process::Command;
use std::time::{Duration, Instant};

use bulkcast::mock::MockOptions;
use serde_json::json;

use crate::util::{
    assert_exactly_once, column, created_names, good_csv, names, results_csv, run, sample,
    summary_json, wait_for_created, Dir, Run, Smartflo,
};

#[test]
fn an_all_valid_file_creates_every_broadcast_once_with_results_in_input_order() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("plan.csv", std::fs::read(sample("campaigns.csv")).unwrap());
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--summary-json", "summary.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);

    let res = results_csv(&dir, "plan.results.csv");
    assert_eq!(
        res.0,
        [
            "line",
            "name",
            "success",
            "status",
            "http_status",
            "message",
            "broadcast_id",
            "attempts",
            "elapsed_ms",
            "target"
        ]
    );
    assert!(column(&res, "target")
        .iter()
        .all(|t| *t == api.server.url()));
    assert_eq!(
        column(&res, "line"),
        (2..=25).map(|l| l.to_string()).collect::<Vec<_>>()
    );
    assert!(column(&res, "success").iter().all(|s| s == "true"));
    assert!(column(&res, "status").iter().all(|s| s == "created"));
    let names = column(&res, "name");
    assert_exactly_once(&api.server, &names);
    // Each row's id is the one the server gave that name.
    let stored = api.server.broadcasts();
    for (name, id) in names.iter().zip(column(&res, "broadcast_id")) {
        let b = stored.iter().find(|b| &b.name == name).unwrap();
        assert_eq!(b.id.to_string(), id);
    }
    let s = summary_json(&dir);
    assert_eq!(
        (s["rows"].as_u64(), s["created"].as_u64()),
        (Some(24), Some(24))
    );
    assert!(s["latency_ms"]["p99"].as_f64().is_some(), "{s}");
}

#[test]
fn invalid_rows_are_never_sent_and_are_recorded_with_their_message() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write(
        "mixed.csv",
        std::fs::read(sample("campaigns-with-mistakes.csv")).unwrap(),
    );
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "mixed.results.csv");
    assert_eq!(
        column(&res, "line"),
        ["2", "3", "4", "5", "6", "7", "10", "11", "12"]
    );
    let status = column(&res, "status");
    assert_eq!(
        status,
        [
            "created", "invalid", "invalid", "invalid", "invalid", "created", "invalid", "invalid",
            "created"
        ]
    );
    assert!(column(&res, "message")[1].starts_with("timeout: found \"30\""));
    let mut sent: Vec<String> = created_names(&api.server);
    sent.sort();
    assert_eq!(
        sent,
        [
            "Diwali offer - Mysuru",
            "Diwali offer - Rajkot",
            "Diwali offer - Surat"
        ]
    );
    assert_eq!(
        api.server.stats().requests,
        6,
        "the auth check, the baseline's two listings and three creates"
    );
}

#[test]
fn the_wire_body_is_exactly_the_contracts() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    // The contract's example, written the way a spreadsheet user would.
    let input = dir.write(
        "one.csv",
        "Name;Description;Phone Number List;Destination;Timeout;Concurrent Limit;Retry After Minutes;Caller ID Number;Number of Retry;Start Date Time;End Date Time;Time Group;Dialstatus;Retry Dialstatus\r\n\
         Campaign 1;Details of campaign 1;214864;ivr|7926;40;5;[5, 10];91 80690 00000;2;2026-12-02 09:00;2026-12-02T18:00:00;1234;1,2,3,4,5;1 3\r\n",
    );
    let r = run(&mut api.submit(&dir, &input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = json!({"name":"Campaign 1","description":"Details of campaign 1","phone_number_list":214864,
        "destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],
        "caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00",
        "end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],
        "retry_dialstatus":[1,3]});
    assert_eq!(api.server.broadcasts()[0].body, expected);
}

#[test]
fn the_rate_is_held_and_in_flight_stays_within_concurrency() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rate_limit: 5,
        latency: Duration::from_millis(150),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 15));
    let started = Instant::now();
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "5/s", "--concurrency", "3"]));
    let wall = started.elapsed();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = api.server.stats();
    assert!(stats.max_in_flight <= 3, "{stats:?}");
    // 16 requests (the auth check too) at 5/s take at least 15 periods of 200 ms. (That no
    // one-second window holds more than 5 is the pacer's, tested on a virtual clock: here the
    // arrivals also carry each disk sync's own delay.)
    assert!(wall >= Duration::from_millis(3000), "{wall:?}");
    let names: Vec<String> = names(15);
    assert_exactly_once(&api.server, &names);
    // Paced first attempts go out in the sheet's order. (A request a disk sync delays into the
    // next one-second window can meet a 429 on a busy machine; its row is then created by a
    // retry, later: the rows created at their first attempt keep the sheet's order.)
    let res = results_csv(&dir, "in.results.csv");
    let first_try: Vec<&String> = column(&res, "name")
        .iter()
        .zip(column(&res, "attempts"))
        .filter(|(_, a)| a == "1")
        .map(|(n, _)| names.iter().find(|m| *m == n).unwrap())
        .collect();
    let created: Vec<String> = created_names(&api.server);
    let created_first: Vec<&String> = created.iter().filter(|n| first_try.contains(n)).collect();
    assert_eq!(created_first, first_try);
    assert!(
        first_try.len() >= 10,
        "most rows at their first attempt: {first_try:?}"
    );
}

#[test]
fn a_429_storm_is_survived_without_losing_or_doubling_a_row() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_429: 0.3,
        retry_after: Some(0),
        seed: 7,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 30));
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--max-retries",
        "20",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(30));
    let s = summary_json(&dir);
    let injected = api.server.stats().faults.too_many_requests;
    assert!(injected > 0);
    assert_eq!(s["too_many_requests"].as_u64(), Some(injected));
    assert_eq!(s["retries"].as_u64(), Some(injected));
}

#[test]
fn the_account_limit_pauses_everyone_and_the_rate_recovers() {
    // bulkcast is told the account allows more than it does: the server's 429s (with a
    // Retry-After of 1 s) must slow every request down, and every row still gets created once.
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rate_limit: 3,
        retry_after: Some(1),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 8));
    let started = Instant::now();
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--concurrency",
        "4",
        "--max-retries",
        "10",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(8));
    let s = summary_json(&dir);
    assert!(s["too_many_requests"].as_u64().unwrap() > 0, "{s}");
    // 9 accepted requests at 3 per window span at least three windows.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn server_errors_are_retried_until_created_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_5xx: 0.3,
        seed: 3,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 12));
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--max-retries",
        "20",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(12));
    let res = results_csv(&dir, "in.results.csv");
    let attempts: u64 = column(&res, "attempts")
        .iter()
        .map(|a| a.parse::<u64>().unwrap())
        .sum();
    assert_eq!(attempts, 12 + api.server.stats().faults.server_error);
}

#[test]
fn retries_run_out_into_a_failed_row() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_5xx: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--max-retries", "2"]));
    assert_eq!(r.code, 1);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["failed", "failed"]);
    assert_eq!(column(&res, "attempts"), ["3", "3"]);
    assert_eq!(column(&res, "http_status"), ["503", "503"]);
    assert!(column(&res, "message")[0]
        .starts_with("gave up after 3 attempts; last: Service temporarily unavailable."));
}

#[test]
fn success_false_is_a_final_rejection_with_the_servers_message() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_refused: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 1);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["rejected"; 3]);
    assert_eq!(column(&res, "attempts"), ["1"; 3]);
    assert_eq!(
        column(&res, "message")[0],
        "The broadcast limit of this account is reached."
    );
}

/// "Unable to create the broadcast, please try again." created nothing, and nothing in the
/// row is wrong: it is tried again, and if it persists the row says so plainly.
#[test]
fn success_false_asking_to_try_again_is_retried_and_then_said_plainly() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_false: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--max-retries", "1"]));
    assert_eq!(r.code, 1);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["failed"; 2]);
    assert_eq!(column(&res, "attempts"), ["2"; 2]);
    assert_eq!(
        column(&res, "message")[0],
        "the server answered \"Unable to create the broadcast, please try again.\" to each of 2 \
         attempts: it created nothing, and there is nothing in the row to fix; --resume tries \
         again later"
    );
    assert!(
        r.stderr.contains("continue with\n  bulkcast submit"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_rejected_token_is_fatal_before_anything_is_created() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 5));
    let r = run(api
        .submit(&dir, &input)
        .env("SMARTFLO_API_TOKEN", "Bearer not-the-token"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("the API token was rejected (HTTP 401"),
        "{}",
        r.stderr
    );
    let stats = api.server.stats();
    assert_eq!(
        (stats.requests, stats.created),
        (1, 0),
        "one auth check, nothing else"
    );
    assert!(
        !dir.path("in.results.csv").exists(),
        "no results file blocks the next attempt"
    );

    let r = run(api.submit(&dir, &input).env_remove("SMARTFLO_API_TOKEN"));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("SMARTFLO_API_TOKEN"), "{}", r.stderr);
    assert_eq!(api.server.stats().requests, 1);
}

#[test]
fn a_pasted_bearer_prefix_is_not_sent_twice() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    let token_file = dir.write("token", format!("Bearer {}\n", api.server.token()));
    let r = run(api
        .submit(&dir, &input)
        .env_remove("SMARTFLO_API_TOKEN")
        .arg("--token-file")
        .arg(&token_file));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn an_existing_results_file_is_never_overwritten() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    dir.write("in.results.csv", "line,name\n2,precious\n");
    let r = run(&mut api.submit(&dir, &input));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("already exists") && r.stderr.contains("-o"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("in.results.csv")).unwrap(),
        "line,name\n2,precious\n"
    );
    assert_eq!(api.server.stats().requests, 0);

    let r = run(api.submit(&dir, &input).args(["-o", "second.csv"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(results_csv(&dir, "second.csv").1.len(), 2);
}

#[test]
fn a_connection_dropped_after_sending_is_looked_up_not_sent_again() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        drop_after_create: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--timeout",
        "1",
        "--settle",
        "0",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "found on the account: {}", r.stderr);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["created"; 3]);
    assert!(
        column(&res, "message")[0].starts_with("found on the account"),
        "{:?}",
        column(&res, "message")
    );
    assert_exactly_once(&api.server, &names(3));
    for (name, id) in column(&res, "name")
        .iter()
        .zip(column(&res, "broadcast_id"))
    {
        let stored = api
            .server
            .broadcasts()
            .into_iter()
            .find(|b| &b.name == name)
            .unwrap();
        assert_eq!(stored.id.to_string(), id);
    }
    assert_eq!(summary_json(&dir)["reconciled"].as_u64(), Some(3));
}

#[test]
fn a_reply_slower_than_the_timeout_is_looked_up_not_sent_again() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        slow_after_create: 1.0,
        slow_delay: Duration::from_secs(20),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    let r =
        run(api
            .submit(&dir, &input)
            .args(["--rate", "0", "--timeout", "0.5s", "--settle", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["created"; 2]);
    assert_exactly_once(&api.server, &names(2));
}

#[test]
fn an_answerless_row_stays_unknown_when_the_account_cannot_be_listed() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        drop_after_create: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    let child = api
        .submit(&dir, &input)
        .args(["--rate", "0", "--timeout", "0.5", "--settle", "5"])
        .args(["--max-retries", "1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The account could be listed at the start; once both creates are in, it cannot (the
    // lookup waits 5.5 s for them, time enough to break it on any machine).
    wait_for_created(&api, 2);
    api.server.break_listing();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["unknown"; 2]);
    assert!(
        column(&res, "message")[0].contains("the account could not be checked"),
        "{:?}",
        column(&res, "message")
    );
    assert_exactly_once(&api.server, &names(2));
}

#[test]
fn max_errors_stops_sending_and_records_the_rest_as_not_attempted() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_refused: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 10));
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--concurrency",
        "1",
        "--max-errors",
        "2",
    ]));
    assert_eq!(r.code, 1);
    let res = results_csv(&dir, "in.results.csv");
    let status = column(&res, "status");
    assert_eq!(&status[..2], ["rejected", "rejected"]);
    assert!(
        status[2..].iter().all(|s| s == "not_attempted"),
        "{status:?}"
    );
    assert_eq!(res.1.len(), 10);
    assert!(column(&res, "message")[2].contains("--max-errors"));
    assert_eq!(
        api.server.stats().requests,
        5,
        "the auth check, the baseline's two listings and two creates"
    );
}

#[test]
fn a_dry_run_creates_nothing_and_writes_no_results() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write(
        "mixed.csv",
        std::fs::read(sample("campaigns-with-mistakes.csv")).unwrap(),
    );
    let r = run(api.submit(&dir, &input).args(["--dry-run", "-v"]));
    assert_eq!(r.code, 1, "invalid rows: {}", r.stderr);
    assert!(
        r.stderr
            .contains("(credentials accepted): 9 rows; 3 would be sent, 6 invalid"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("line 3: timeout: found \"30\""),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(r#""destination":"ivr||7926""#),
        "-v shows a body: {}",
        r.stderr
    );
    assert_eq!(api.server.stats().created, 0);
    assert!(!dir.path("mixed.results.csv").exists());
}

#[test]
fn bad_flags_are_fatal_before_anything_is_sent() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    for args in [
        ["--rate", "fast"],
        ["--timeout", "0"],
        ["--concurrency", "0"],
        ["--concurrency", "4611686018427387904"],
        ["--burst", "0"],
        ["--base-url", "not a url"],
    ] {
        let r: Run = run(api.submit(&dir, &input).args(args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
    }
    assert_eq!(api.server.stats().requests, 0);
    assert!(!dir.path("in.results.csv").exists());
}

#[test]
fn mock_runs_the_sample_end_to_end() {
    let dir = Dir::new();
    let input = dir.write(
        "campaigns.csv",
        std::fs::read(sample("campaigns.csv")).unwrap(),
    );
    let r = run(dir
        .cmd()
        .arg("submit")
        .arg(&input)
        .args(["--mock", "--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("24 rows: 24 created"), "{}", r.stderr);
    assert!(r.stderr.contains("0 names created twice"), "{}", r.stderr);
    // A rehearsal's record has its own name, out of the real run's way.
    assert_eq!(results_csv(&dir, "campaigns.mock-results.csv").1.len(), 24);
    assert!(!dir.path("campaigns.results.csv").exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_sending_and_still_writes_every_row() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let child = api
        .submit(&dir, &input)
        .args(["--rate", "10"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the run is under way, then interrupt it: frozen while the signal is
    // sent, it takes it with most rows unsent, however busy the machine.
    wait_for_created(&api, 3);
    for sig in ["-STOP", "-INT", "-CONT"] {
        let kill = Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(res.1.len(), 40, "one row per input row");
    let status = column(&res, "status");
    let created = status.iter().filter(|s| *s == "created").count() as u64;
    assert_eq!(
        created,
        api.server.stats().created,
        "every created broadcast is recorded"
    );
    assert!(created < 40, "{status:?}");
    assert!(
        status
            .iter()
            .all(|s| s == "created" || s == "not_attempted"),
        "{status:?}"
    );
    assert!(stderr.contains("interrupted (Ctrl-C)"), "{stderr}");
}

#[test]
fn a_repeated_name_is_invalid_in_the_results_and_the_first_row_is_created_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let mut csv = good_csv(",", "\n", 4);
    // Line 5 takes line 2's name; the sending pass must say so as the checking pass did.
    csv = csv.replacen("Campaign 4,", "Campaign 1,", 1);
    let input = dir.write("dups.csv", csv);
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let results = results_csv(&dir, "dups.results.csv");
    assert_eq!(
        column(&results, "status"),
        ["created", "created", "created", "invalid"]
    );
    let msg = &column(&results, "message")[3];
    assert!(msg.contains("already used on line 2"), "{msg}");
    let stats = api.server.stats();
    assert_eq!(stats.created, 3);
    assert!(stats.duplicates.is_empty(), "{:?}", stats.duplicates);
}

#[test]
fn auto_attendant_destinations_are_sent_as_written() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write(
        "in.csv",
        good_csv(",", "\n", 1).replace("ivr||7926", "auto_attendant||55"),
    );
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        api.server.broadcasts()[0].body["destination"],
        "auto_attendant||55"
    );
}

#[test]
fn the_summary_reports_the_rate_achieved_while_sending_and_the_share_of_429s() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rate_limit: 5,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 15));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "5", "--summary-json", "summary.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("creates a second"), "{}", r.stderr);
    let s = summary_json(&dir);
    // Never above the rate (the gate's slots are 200 ms apart); how close to it depends on the
    // machine, and so does whether a disk sync pushes a request into the next window (a 429):
    // the share is checked against the counts it is made of.
    let rate = s["creates_per_second"].as_f64().unwrap();
    assert!(rate > 0.0 && rate <= 5.3, "{s}");
    let (too_many, requests) = (s["too_many_requests"].as_f64(), s["requests"].as_f64());
    let share = s["too_many_requests_share"].as_f64().unwrap();
    assert_eq!(
        Some(share),
        too_many.zip(requests).map(|(t, r)| t / r),
        "{s}"
    );
    assert!(share <= 0.2, "{s}");
}
