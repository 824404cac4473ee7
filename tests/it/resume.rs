//! Running again, always safely: `--resume` after a crash or a finished run, reconciliation of
//! rows with no known outcome, `--failed` and `--skip-existing`.

use std::time::Duration;

use bulkcast::mock::MockOptions;

use crate::util::{
    assert_exactly_once, column, good_csv, names, parse_csv, results_csv, run, sample,
    summary_json, wait_for_created, Dir, Smartflo,
};

#[test]
fn a_resume_after_a_complete_run_sends_nothing() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 5));
    assert_eq!(run(api.submit(&dir, &input).args(["--rate", "0"])).code, 0);
    let first = std::fs::read_to_string(dir.path("in.results.csv")).unwrap();
    let requests = api.server.stats().requests;

    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--resume",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        api.server.stats().requests,
        requests,
        "not even an auth check"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("in.results.csv")).unwrap(),
        first,
        "outcomes kept as recorded"
    );
    let s = summary_json(&dir);
    assert_eq!(
        (s["skipped_done"].as_u64(), s["sent"].as_u64()),
        (Some(5), Some(0)),
        "{s}"
    );
    // Rows settled without a request are not a rate: nothing was sent.
    assert_eq!(s["rows_per_second"].as_f64(), Some(0.0), "{s}");
    assert!(r.stderr.contains("sent 0 rows in"), "{}", r.stderr);
}

#[test]
fn without_resume_an_earlier_run_is_never_overwritten() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    dir.write(
        "in.results.csv.journal",
        "event,line,name,success,status,http_status,message,broadcast_id,attempts,elapsed_ms\n\
         sent,2,Campaign 1\n",
    );
    let r = run(&mut api.submit(&dir, &input));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did not finish") && r.stderr.contains("--resume"),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().requests, 0);
}

#[test]
fn killed_twice_with_sigkill_then_resumed_creates_each_row_exactly_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let all = names(60);
    let input = dir.write("in.csv", good_csv(",", "\n", 60));

    for (kill_at, resume) in [(8, false), (25, true)] {
        let mut cmd = api.submit(&dir, &input);
        // A kill can leave rows sent without an answer (more often on a busy machine); a
        // resume looks them up once their requests can no longer land: a short timeout and
        // no listing lag keep that wait within `wait_for_created`'s.
        cmd.args(["--rate", "10", "--concurrency", "4"])
            .args(["--timeout", "2", "--settle", "0"])
            .stderr(std::process::Stdio::null());
        if resume {
            cmd.arg("--resume");
        }
        let mut child = cmd.spawn().unwrap();
        wait_for_created(&api, kill_at);
        child.kill().unwrap(); // SIGKILL: no chance to tidy up
        child.wait().unwrap();
        assert!(
            dir.path("in.results.csv.journal").exists(),
            "the journal survives the kill"
        );
        assert!(api.server.stats().created < 60, "killed before the end");
    }

    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--resume",
        "--timeout",
        "2",
        "--settle",
        "0",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &all);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "name"), all, "one row per input row, in order");
    assert!(column(&res, "success").iter().all(|s| s == "true"));
    assert!(
        !dir.path("in.results.csv.journal").exists()
            && !dir.path("in.results.csv.partial").exists()
    );
    let s = summary_json(&dir);
    assert!(s["skipped_done"].as_u64().unwrap() > 0, "{s}");
}

#[test]
fn a_run_with_every_fault_plus_resumes_ends_with_exactly_one_broadcast_per_valid_row() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_5xx: 0.15,
        fail_429: 0.1,
        retry_after: Some(0),
        drop_after_create: 0.15,
        slow_after_create: 0.15,
        slow_delay: Duration::from_secs(2),
        seed: 11,
        ..MockOptions::default()
    });
    // 40 valid rows and two invalid ones among them.
    let mut csv = good_csv(",", "\n", 40);
    csv = csv.replacen(
        "Campaign 7,Details of campaign 7,214864,ivr||7926,40",
        "Campaign 7,Details of campaign 7,214864,ivr||7926,30",
        1,
    );
    csv = csv.replacen(
        "Campaign 21,Details of campaign 21,214864,ivr||7926,40",
        "Campaign 21,Details of campaign 21,0,ivr||7926,40",
        1,
    );
    let input = dir.write("in.csv", csv);
    let valid: Vec<String> = names(40)
        .into_iter()
        .filter(|n| n != "Campaign 7" && n != "Campaign 21")
        .collect();

    let args = [
        "--rate",
        "0",
        "--timeout",
        "0.5",
        "--settle",
        "0",
        "--max-retries",
        "2",
    ];
    run(api.submit(&dir, &input).args(args));
    let mut runs = 1;
    while !all_valid_created(&dir) {
        assert!(runs < 6, "still not done after {runs} runs");
        run(api.submit(&dir, &input).args(args).arg("--resume"));
        runs += 1;
    }
    assert_exactly_once(&api.server, &valid);
    assert_eq!(
        api.server.count_named("Campaign 7") + api.server.count_named("Campaign 21"),
        0
    );
    let faults = api.server.stats().faults;
    assert!(
        faults.dropped_after_create > 0 && faults.slow_after_create > 0 && faults.server_error > 0,
        "{faults:?}"
    );
}

/// Every row of the results is created or invalid.
fn all_valid_created(dir: &Dir) -> bool {
    column(&results_csv(dir, "in.results.csv"), "status")
        .iter()
        .all(|s| s == "created" || s == "invalid")
}

#[test]
fn rows_that_failed_are_sent_again_on_resume() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 4));
    let down = Smartflo::start(MockOptions {
        fail_5xx: 1.0,
        ..MockOptions::default()
    });
    let r = run(down
        .submit(&dir, &input)
        .args(["--rate", "0", "--max-retries", "0"]));
    assert_eq!(r.code, 1);
    assert_eq!(
        column(&results_csv(&dir, "in.results.csv"), "status"),
        ["failed"; 4]
    );

    // The same account, once the outage is over.
    down.server.heal();
    let up = &down;
    let r = run(up.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&up.server, &names(4));
    assert_eq!(
        column(&results_csv(&dir, "in.results.csv"), "status"),
        ["created"; 4]
    );
}

#[test]
fn resume_refuses_an_input_that_changed() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_refused: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    assert_eq!(run(api.submit(&dir, &input).args(["--rate", "0"])).code, 1);
    let requests = api.server.stats().requests;
    dir.write(
        "in.csv",
        good_csv(",", "\n", 3).replace("Campaign 2,", "Campaign Two,"),
    );
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("line 3 is \"Campaign Two\" in the input"),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().requests, requests, "nothing sent");
}

#[test]
fn a_row_sent_by_a_crashed_run_is_looked_up_before_it_is_sent_again() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    // "Campaign 2" exists on the account: a crashed run created it and died before the reply.
    let one = dir.write(
        "one.csv",
        good_csv(",", "\n", 2).replace("Campaign 1,", "Other,"),
    );
    // Made from another machine: this one's ledger knows nothing of it.
    assert_eq!(
        run(api
            .submit(&dir, &one)
            .args(["--rate", "0", "-o", "one.results.csv"])
            .env("BULKCAST_STATE_DIR", dir.path("elsewhere")))
        .code,
        0
    );
    dir.write("in.results.csv.journal", "event,line,name,success,status,http_status,message,broadcast_id,attempts,elapsed_ms\nsent,3,Campaign 2\nsent,4,Campaign 3\n");
    // Before its first create, the crashed run found none of its names on the account.
    dir.write("in.results.csv.baseline", "name,id\n");

    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--timeout",
        "1",
        "--settle",
        "0",
        "--resume",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        api.server.count_named("Campaign 2"),
        1,
        "found, not sent again"
    );
    assert_eq!(api.server.count_named("Campaign 3"), 1, "absent, so sent");
    let res = results_csv(&dir, "in.results.csv");
    assert!(column(&res, "message")[1].starts_with("found on the account"));
    // The ledger learned it too (the crashed run's record had no entry there).
    let r = run(dir.cmd().args(["runs", "--name", "Campaign 2"]));
    assert!(r.stdout.contains("created as broadcast"), "{}", r.stdout);
    assert!(!r.stderr.contains("ledger"), "{}", r.stderr);
    let s = summary_json(&dir);
    assert_eq!(
        (s["reconciled"].as_u64(), s["sent"].as_u64()),
        (Some(1), Some(2)),
        "{s}"
    );
}

#[test]
fn the_failed_rows_file_keeps_the_original_columns_and_reads_back_as_input() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let original = std::fs::read_to_string(sample("campaigns-with-mistakes.csv")).unwrap();
    // A formula-like cell in a row that will fail must come back as it was.
    let input = dir.write(
        "mixed.csv",
        original.replacen("Festive offer reminder for Vadodara leads", "=1+1", 1),
    );
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--failed", "failed.csv"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let text = std::fs::read_to_string(dir.path("failed.csv")).unwrap();
    let failed = parse_csv(&text);
    let mut header: Vec<String> = parse_csv(&original).0;
    header.push("error".into());
    assert_eq!(failed.0, header);
    assert_eq!(failed.1.len(), 6, "the six invalid rows");
    assert_eq!(failed.1[0][1], "'=1+1", "written as text");
    assert_eq!(failed.1[1][7], "9.18069E+11", "cells as they were");
    assert!(column(&failed, "error")[0].starts_with("invalid: timeout: found \"30\""));

    // Sent again as an input: the error column is ignored and the cells read as before.
    let r = run(dir.cmd().arg("validate").arg(dir.path("failed.csv")));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("\"error\""),
        "the error column is reported as ignored: {}",
        r.stderr
    );
    let report = parse_csv(&r.stdout);
    assert_eq!(report.1.len(), 6);
    assert!(
        column(&report, "message")[0].starts_with("timeout: found \"30\""),
        "{:?}",
        column(&report, "message")
    );
}

/// `--skip-existing` (issue 31): a row whose name was on the account counts as already there,
/// with its own status, only when that broadcast says what the row says; a namesake that says
/// something else is not its campaign: the row is not sent and says why.
#[test]
fn skip_existing_counts_rows_already_there_only_when_they_say_the_same() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let theirs = good_csv(",", "\n", 3).replace("Details of campaign 3", "Their own campaign");
    let first = dir.write("first.csv", theirs);
    // A colleague's machine, whose ledger this one does not see.
    let colleague = dir.path("colleague");
    let mut cmd = api.submit(&dir, &first);
    cmd.args(["--rate", "0"])
        .env("BULKCAST_STATE_DIR", &colleague);
    assert_eq!(run(&mut cmd).code, 0);
    // The same sheet, grown, is submitted here.
    let input = dir.write("in.csv", good_csv(",", "\n", 6));
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--skip-existing",
        "--summary-json",
        "summary.json",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("6 rows: 3 created, 2 already on the account, 1 not attempted"),
        "{}",
        r.stderr
    );
    assert_exactly_once(&api.server, &names(6));
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(
        column(&res, "status"),
        [
            "existing",
            "existing",
            "not_attempted",
            "created",
            "created",
            "created"
        ]
    );
    assert_eq!(
        column(&res, "success"),
        ["true", "true", "false", "true", "true", "true"]
    );
    assert!(column(&res, "message")[0].contains("saying what this row says"));
    assert!(column(&res, "message")[2].contains("says something else"));
    assert_eq!(
        column(&res, "broadcast_id")[2],
        "",
        "never another campaign's id"
    );
    let stored = api
        .server
        .broadcasts()
        .into_iter()
        .find(|b| b.name == "Campaign 1")
        .unwrap();
    assert_eq!(column(&res, "broadcast_id")[0], stored.id.to_string());
    let summary = summary_json(&dir);
    assert_eq!(summary["existing"].as_u64(), Some(2));
    assert_eq!(summary["created"].as_u64(), Some(3));

    // A resume keeps them as they were: nothing is sent again.
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--resume", "--skip-existing"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status")[..2], ["existing", "existing"]);
    assert_eq!(api.server.stats().created, 6);
}

/// A resume that stops early because the sheet was saved again under it keeps every earlier
/// outcome: the record is not rewritten with only the rows before the stop, so the next resume
/// sends nothing twice.
#[test]
fn a_resume_cut_short_by_a_saved_sheet_loses_no_earlier_outcome() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_refused: 0.5,
        seed: 21,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 300));
    let first = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(first.code, 1, "{}", first.stderr);
    let created_first = api.server.stats().created;
    assert!(created_first > 50 && created_first < 250, "{created_first}");

    // The resume sends the refused rows again, slowly; the sheet is saved (same content) once a
    // few are in.
    let child = api
        .submit(&dir, &input)
        .args(["--rate", "5", "--resume"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_created(&api, created_first + 2);
    let text = std::fs::read(&input).unwrap();
    std::fs::write(&input, &text).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("was not rewritten"), "{stderr}");

    api.server.heal();
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(300));
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "name"), names(300));
    assert!(column(&res, "status").iter().all(|s| s == "created"));
}

/// A run reading a team's sheet through a map file and a date layout, stopped by Ctrl-C
/// (SIGINT), resumes with a bare `--resume`: the mapping, the layout and the target come from
/// the run's record. A flag that says otherwise is refused, naming both values.
#[test]
fn a_bare_resume_reads_the_sheet_as_the_stopped_run_did() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let mut sheet = String::from("Campaign,Notes,Lead List,IVR,Ring Time,Channels,Retry Gaps,Caller ID,Retries,Start,End,Calling Hours,Dial Status,Retry On\n");
    for i in 1..=20 {
        sheet += &format!("Campaign {i},Offer,214864,ivr||7926,40,5,5 10,918069000000,2,02/12/2026 09:00,02/12/2026 18:00,1234,1 2 3,1 3\n");
    }
    let input = dir.write("team.csv", sheet);
    let map = dir.path("team.map");
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--write-map")
        .arg(&map));
    assert_eq!(r.code, 0, "{}", r.stderr);

    let mut first = api.submit(&dir, &input);
    first
        .arg("--map-file")
        .arg(&map)
        .args([
            "--date-format",
            "%d/%m/%Y %H:%M",
            "--rate",
            "4",
            "--failed",
            "left.csv",
        ])
        .stderr(std::process::Stdio::piped());
    let child = first.spawn().unwrap();
    wait_for_created(&api, 2);
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "stopped with rows left");
    let made = api.server.stats().created;
    assert!(made < 20, "stopped early ({made})");
    // One count everywhere: the closing line, the summary and the failed-rows file agree.
    let said = String::from_utf8_lossy(&out.stderr);
    let left = 20 - made;
    assert!(
        said.contains(&format!("{left} rows did not succeed")),
        "{said}"
    );
    assert!(
        said.contains(&format!("{made} created, {left} not attempted")),
        "{said}"
    );
    let failed = crate::util::results_csv(&dir, "left.csv");
    assert_eq!(
        failed.1.len() as u64,
        left,
        "the failed-rows file holds those rows"
    );
    assert!(said.contains("continue with\n  bulkcast submit"), "{said}");

    let bare = || {
        let mut c = dir.cmd();
        c.arg("submit")
            .arg(&input)
            .arg("--resume")
            .env("SMARTFLO_API_TOKEN", api.server.token());
        c
    };
    let r = run(bare().args(["--date-format", "%m/%d/%Y %H:%M"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(
            r#"--date-format "%m/%d/%Y %H:%M": this run was started with "%d/%m/%Y %H:%M""#
        ),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().created, made, "nothing sent");

    let r = run(bare().args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(20));
}

/// Issue 31: "Count them as created" with a sheet of rows with problems said "40 created". A
/// row with a problem is invalid whether its name is on the account from a colleague (the
/// baseline) or from this machine (the ledger), with --skip-existing as without.
#[test]
fn skip_existing_never_counts_an_invalid_row_as_done() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let colleague = dir.path("colleague");
    let first = dir.write("first.csv", good_csv(",", "\n", 2));
    let mut cmd = api.submit(&dir, &first);
    cmd.args(["--rate", "0"])
        .env("BULKCAST_STATE_DIR", &colleague);
    assert_eq!(run(&mut cmd).code, 0);
    let mine = dir.write("mine.csv", good_csv(",", "\n", 4));
    assert_eq!(
        run(api
            .submit(&dir, &mine)
            .args(["--rate", "0", "--skip-existing"]))
        .code,
        0
    );
    // Rows 2 (a colleague's name) and 4 (this machine's) now have a timeout below 40.
    let broken: String = good_csv(",", "\n", 4)
        .lines()
        .enumerate()
        .map(|(i, l)| match i {
            2 | 4 => l.replacen(",40,", ",30,", 1) + "\n",
            _ => format!("{l}\n"),
        })
        .collect();
    let input = dir.write("broken.csv", broken);
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--skip-existing"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "broken.results.csv");
    assert_eq!(
        column(&res, "status"),
        ["existing", "invalid", "created", "invalid"],
        "{:?}",
        column(&res, "message")
    );
    assert_eq!(column(&res, "success"), ["true", "false", "true", "false"]);
    assert_eq!(column(&res, "broadcast_id")[1], "");
    assert_eq!(column(&res, "broadcast_id")[3], "");
    assert_eq!(api.server.stats().created, 4, "nothing sent twice");
}
