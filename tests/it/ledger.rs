//! One ledger per account: whatever results file, copy of the sheet or terminal a run uses,
//! what this machine sent to an account is created once, and no results file claims more
//! than the server holds. Each test is a row of issue 20's table, with real processes.

use bulkcast::mock::MockOptions;

use crate::util::{
    assert_exactly_once, claims_agree, column, good_csv, kill_after, names, results_csv, run,
    wait_for_created, Dir, Smartflo,
};

/// `--resume` of `input` with short waits for an earlier run's requests (no listing lag here).
fn resume_quickly(api: &Smartflo, dir: &Dir, input: &std::path::Path) -> std::process::Command {
    let mut cmd = api.submit(dir, input);
    cmd.args(["--rate", "0", "--resume", "--timeout", "2", "--settle", "0"]);
    cmd
}

#[test]
fn two_results_files_started_together_create_each_row_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let spawn = |out: &str| {
        let mut cmd = api.submit(&dir, &input);
        cmd.args(["--rate", "20", "--timeout", "2", "--settle", "0", "-o", out])
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    let (mut a, mut b) = (spawn("a.csv"), spawn("b.csv"));
    let (ca, cb) = (a.wait().unwrap(), b.wait().unwrap());
    assert_exactly_once(&api.server, &names(40));
    let claimed =
        claims_agree(&api.server, &dir, "a.csv") + claims_agree(&api.server, &dir, "b.csv");
    assert!(claimed >= 40, "every row is one run's ({claimed})");
    // At most one of them can say "all created" before the other has finished.
    assert!(
        ca.code() != Some(0) || cb.code() != Some(0) || claimed == 80,
        "{ca:?} {cb:?}"
    );
    // Resumed, each reports every row created, by whichever run made it.
    for out in ["a.csv", "b.csv"] {
        let r = run(api
            .submit(&dir, &input)
            .args(["--rate", "0", "--resume", "-o", out]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(claims_agree(&api.server, &dir, out), 40);
    }
    assert_exactly_once(&api.server, &names(40));
}

#[test]
fn the_failed_rows_file_sent_then_the_first_run_resumed_creates_each_row_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_429: 0.4,
        retry_after: Some(0),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 60));
    let few = ["--rate", "0", "--max-retries", "0"];
    let r = run(api
        .submit(&dir, &input)
        .args(few)
        .args(["--failed", "failed.csv"]));
    assert_eq!(r.code, 1, "some rows gave up: {}", r.stderr);
    // The README's two ways back, one after the other.
    let failed = dir.path("failed.csv");
    run(api.submit(&dir, &failed).args(few));
    let mut left = 10;
    loop {
        let r = run(api.submit(&dir, &input).args(few).arg("--resume"));
        if r.code == 0 {
            break;
        }
        left -= 1;
        assert!(left > 0, "{}", r.stderr);
    }
    assert_exactly_once(&api.server, &names(60));
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 60);
}

#[test]
fn killed_then_a_renamed_copy_sends_nothing_twice() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        list_lag: std::time::Duration::from_secs(2),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 100));
    let mut cmd = api.submit(&dir, &input);
    cmd.args(["--rate", "20", "--concurrency", "8", "--timeout", "2"]);
    kill_after(&api, cmd, 40);
    let copy = dir.write("copy of in.csv", std::fs::read(&input).unwrap());
    let r = run(api
        .submit(&dir, &copy)
        .args(["--rate", "0", "--timeout", "2", "--settle", "3"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(100));
    assert_eq!(
        claims_agree(&api.server, &dir, "copy of in.results.csv"),
        100
    );
    let res = results_csv(&dir, "copy of in.results.csv");
    assert!(
        column(&res, "message")[0].contains("already created on this account by run 1"),
        "{:?}",
        column(&res, "message")[0]
    );
}

#[test]
fn killed_then_the_journal_lost_then_resumed_sends_nothing_twice() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 60));
    let mut cmd = api.submit(&dir, &input);
    cmd.args(["--rate", "20", "--concurrency", "4", "--timeout", "2"]);
    kill_after(&api, cmd, 30);
    std::fs::remove_file(dir.path("in.results.csv.journal")).unwrap();
    let _ = std::fs::remove_file(dir.path("in.results.csv.partial"));
    let r = run(&mut resume_quickly(&api, &dir, &input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(60));
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 60);
}

#[test]
fn with_the_lock_file_deleted_a_second_run_into_the_same_results_is_still_refused() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 100));
    let mut cmd = api.submit(&dir, &input);
    cmd.args(["--rate", "10", "--timeout", "2"])
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    wait_for_created(&api, 5);
    std::fs::remove_file(dir.path("in.results.csv.lock")).unwrap();
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    if still_running {
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("already running into"), "{}", r.stderr);
    }
    let r = run(&mut resume_quickly(&api, &dir, &input));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(100));
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 100);
}

#[test]
fn a_resume_with_another_accounts_token_stops_before_sending() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        fail_429: 0.5,
        retry_after: Some(0),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 30));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--max-retries", "0"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let requests = api.server.stats().requests;
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--resume"])
        .env("SMARTFLO_API_TOKEN", "a-colleagues-token"));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("another account"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("a-colleagues-token"),
        "no secret in messages"
    );
    assert_eq!(api.server.stats().requests, requests, "nothing was sent");
}

#[test]
fn runs_lists_what_this_machine_sent_and_finds_a_name() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    assert_eq!(run(api.submit(&dir, &input).args(["--rate", "0"])).code, 0);
    let r = run(dir.cmd().arg("runs"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("run 1") && r.stdout.contains("3 created"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("in.csv") && r.stdout.contains("in.results.csv"),
        "{}",
        r.stdout
    );
    assert!(
        !r.stdout.contains(api.server.token()),
        "no secret: {}",
        r.stdout
    );
    let r = run(dir.cmd().args(["runs", "1"]));
    assert!(r.stdout.contains("Campaign 2"), "{}", r.stdout);
    let r = run(dir.cmd().args(["runs", "--name", "  campaign   3 "]));
    assert!(r.stdout.contains("created as broadcast"), "{}", r.stdout);
    let r = run(dir.cmd().args(["runs", "--name", "Campaign 9"]));
    assert!(r.stdout.contains("no run on this machine"), "{}", r.stdout);
}

#[test]
fn a_resume_looks_at_the_account_again_for_names_made_elsewhere_since() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    // Campaign 2 is invalid at first (a timeout below 40): not sent.
    let good = good_csv(",", "\n", 4);
    let bad = good.replace(
        "Campaign 2,Details of campaign 2,214864,ivr||7926,40,",
        "Campaign 2,Details of campaign 2,214864,ivr||7926,30,",
    );
    assert_ne!(good, bad);
    let input = dir.write("in.csv", &bad);
    assert_eq!(run(api.submit(&dir, &input).args(["--rate", "0"])).code, 1);
    // Meanwhile a colleague, on another machine, creates a broadcast named Campaign 2.
    let theirs = dir.write(
        "theirs.csv",
        good_csv(",", "\n", 2).replace("Campaign 1,", "Their own,"),
    );
    let mut cmd = api.submit(&dir, &theirs);
    cmd.args(["--rate", "0"])
        .env("BULKCAST_STATE_DIR", dir.path("colleague"));
    assert_eq!(run(&mut cmd).code, 0);
    assert_eq!(api.server.count_named("Campaign 2"), 1);
    // The row is fixed and the run resumed: the account's word stops it.
    std::fs::write(&input, &good).unwrap();
    let requests = api.server.stats().requests;
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Campaign 2"), "{}", r.stderr);
    assert_eq!(api.server.stats().created, 5, "nothing more created");
    assert!(
        api.server.stats().requests > requests,
        "the account was looked at"
    );
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--resume", "--skip-existing"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.count_named("Campaign 2"), 1, "not sent twice");
}

#[test]
fn a_colleagues_namesake_made_while_a_create_was_uncertain_is_not_taken_for_it() {
    let dir = Dir::new();
    // Every create answers 502 (a gateway that gave up) and creates nothing, until healed.
    let api = Smartflo::start(MockOptions {
        garbage_reply: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    let mut cmd = api.submit(&dir, &input);
    cmd.args([
        "--rate",
        "0",
        "--max-retries",
        "0",
        "--timeout",
        "1",
        "--settle",
        "1",
    ])
    .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api.server.stats().faults.garbage_reply < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the creates never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Held still while a colleague, elsewhere, creates "Campaign 1" for another purpose.
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    api.server.heal();
    let theirs = dir.write(
        "theirs.csv",
        good_csv(",", "\n", 1).replace("Details of campaign 1", "Another team's reminder"),
    );
    let mut colleague = api.submit(&dir, &theirs);
    colleague
        .args(["--rate", "0"])
        .env("BULKCAST_STATE_DIR", dir.path("colleague"));
    assert_eq!(run(&mut colleague).code, 0);
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    // The colleague's broadcast says something else: it is not the row's, whose create never
    // landed, so the row is absent and sent again (a broadcast is known by what it says).
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        api.server.count_named("Campaign 1"),
        2,
        "the colleague's, and the row's own"
    );
    assert_eq!(
        api.server.count_named("Campaign 2"),
        1,
        "absent, so sent again"
    );
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["created", "created"]);
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 2);
}

#[test]
fn a_damaged_ledger_stops_every_run_before_anything_is_sent() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    std::fs::create_dir_all(dir.path("state")).unwrap();
    dir.write(
        "state/ledger.sqlite3",
        "this is not a database, but it is where one was",
    );
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("is damaged") && r.stderr.contains("move it aside"),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().requests, 0, "nothing was sent");
    let r = run(dir.cmd().arg("runs"));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// A run killed while two creates were uncertain (502, nothing created); a colleague then
/// creates "Campaign 1" for another purpose; the next run (a `--resume`, or a copy of the
/// sheet into another results file) looks the names up at its start. The colleague's
/// broadcast is not taken for the row's: the row stays unknown, and only the absent row is
/// sent.
#[test]
fn a_colleagues_namesake_found_at_the_next_start_is_not_taken_for_the_rows() {
    for copy in [false, true] {
        let dir = Dir::new();
        let api = Smartflo::start(MockOptions {
            garbage_reply: 1.0,
            ..MockOptions::default()
        });
        let input = dir.write("in.csv", good_csv(",", "\n", 2));
        let mut cmd = api.submit(&dir, &input);
        cmd.args(["--rate", "0", "--max-retries", "0", "--timeout", "1"])
            .args(["--settle", "60"])
            .stderr(std::process::Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while api.server.stats().faults.garbage_reply < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the creates never came"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        api.server.heal();
        let theirs = dir.write(
            "theirs.csv",
            good_csv(",", "\n", 1).replace("Details of campaign 1", "Another team's reminder"),
        );
        let mut colleague = api.submit(&dir, &theirs);
        colleague
            .args(["--rate", "0"])
            .env("BULKCAST_STATE_DIR", dir.path("colleague"));
        assert_eq!(run(&mut colleague).code, 0);

        let (mut next, results) = if copy {
            let copied = dir.write("copy.csv", std::fs::read(&input).unwrap());
            let mut c = api.submit(&dir, &copied);
            c.args(["--rate", "0", "--timeout", "2", "--settle", "0"]);
            (c, "copy.results.csv")
        } else {
            (resume_quickly(&api, &dir, &input), "in.results.csv")
        };
        let r = run(&mut next);
        assert_eq!(r.code, 0, "copy {copy}: {}", r.stderr);
        assert_eq!(
            api.server.count_named("Campaign 1"),
            2,
            "the colleague's (which says something else), and the row's own, sent again"
        );
        assert_eq!(api.server.count_named("Campaign 2"), 1, "absent, so sent");
        let res = results_csv(&dir, results);
        assert_eq!(
            column(&res, "status"),
            ["created", "created"],
            "copy {copy}"
        );
        assert_eq!(claims_agree(&api.server, &dir, results), 2, "copy {copy}");
    }
}

/// What was on the account before a results file's first run is kept in the ledger, not
/// beside the results: nothing but the results is left in the user's folder, and a resume after
/// `kill -9` still tells an old namesake from the row's own broadcast.
#[test]
fn the_baseline_lives_in_the_ledger_and_a_resume_judges_by_it() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        existing: vec!["Campaign 3".into()],
        error_after_create: 0.3,
        seed: 8,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let mut first = api.submit(&dir, &input);
    first.args([
        "--rate",
        "20",
        "--allow-existing-names",
        "--timeout",
        "2",
        "--settle",
        "0",
    ]);
    kill_after(&api, first, 10);
    assert!(
        !dir.path("in.results.csv.baseline").exists(),
        "no baseline file beside the results"
    );
    let r = run(resume_quickly(&api, &dir, &input).arg("--allow-existing-names"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(40));
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 40);
    let left: Vec<String> = std::fs::read_dir(dir.path(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("in.results.csv"))
        .collect();
    assert_eq!(left, ["in.results.csv"], "only the results");
}

/// Found by the simulation (seeds 70 and 389): `--allow-existing-names`, given for an old
/// namesake, made a copy of a sheet already sent create every row again. A row that says what
/// was sent is the same campaign: reported created by the earlier run, not sent. A row that
/// says something else is still created again, as the flag asks.
#[test]
fn allow_existing_names_does_not_create_a_copy_of_the_sheet_again() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 4));
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let copy = dir.write("copy.csv", std::fs::read(&input).unwrap());
    let r = run(api
        .submit(&dir, &copy)
        .args(["--rate", "0", "--allow-existing-names"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(4));
    let res = results_csv(&dir, "copy.results.csv");
    assert!(
        column(&res, "message")
            .iter()
            .all(|m| m.contains("already created on this account by run 1")
                && m.contains("with the same content")),
        "{:?}",
        column(&res, "message")
    );
    assert_eq!(claims_agree(&api.server, &dir, "copy.results.csv"), 4);

    // The same names with other descriptions: created again, on purpose.
    let changed = std::fs::read_to_string(&input)
        .unwrap()
        .replace("Details of campaign", "Next week's campaign");
    let again = dir.write("next week.csv", changed);
    let r = run(api
        .submit(&dir, &again)
        .args(["--rate", "0", "--allow-existing-names"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.stats().created, 8, "four more, on purpose");
}

/// Issue 31 (the team's line 27): two rows of one name that say different things. The second
/// is invalid as a duplicate and is never reported created, on a resume or anywhere; sent on
/// its own (its failed rows as a new sheet), the name this machine created for the first row
/// is a namesake, not its broadcast: the run stops naming both, `--skip-existing` leaves it
/// out, `--allow-existing-names` creates it.
#[test]
fn a_namesake_this_machine_made_with_other_content_is_not_the_rows() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let hyderabad = good_csv(",", "\n", 2)
        .lines()
        .nth(2)
        .unwrap()
        .replace("Details of campaign 2", "Hyderabad launch");
    let sheet = format!("{}{hyderabad}\n", good_csv(",", "\n", 3));
    let input = dir.write("in.csv", &sheet);
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status")[3], "invalid", "{res:?}");
    assert_eq!(column(&res, "broadcast_id")[3], "");
    assert_eq!(api.server.stats().created, 3);

    let alone = dir.write(
        "line 5.csv",
        format!("{}{hyderabad}\n", good_csv(",", "\n", 0)),
    );
    let r = run(api.submit(&dir, &alone).args(["--rate", "0"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("line 2 \"Campaign 2\"") && r.stderr.contains("from its line 3"),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().created, 3, "nothing sent");

    let r =
        run(api
            .submit(&dir, &alone)
            .args(["--rate", "0", "--skip-existing", "-o", "skipped.csv"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "skipped.csv");
    assert_eq!(column(&res, "success"), ["false"]);
    assert!(column(&res, "message")[0].contains("said something else"));
    assert_eq!(api.server.stats().created, 3);

    let r = run(api.submit(&dir, &alone).args([
        "--rate",
        "0",
        "--allow-existing-names",
        "-o",
        "allowed.csv",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        api.server.stats().created,
        4,
        "the Hyderabad campaign, on purpose"
    );
    assert_eq!(claims_agree(&api.server, &dir, "allowed.csv"), 1);
}

/// A sheet sent, then next week's version of it (same names, new descriptions) created on
/// purpose with --allow-existing-names, then a copy of the first sheet again: the ledger still
/// knows the first campaigns, so the copy creates nothing.
#[test]
fn a_name_created_for_two_campaigns_knows_both() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    assert_eq!(run(api.submit(&dir, &input).args(["--rate", "0"])).code, 0);
    let next = good_csv(",", "\n", 3).replace("Details of campaign", "Next week's campaign");
    let next = dir.write("next.csv", next);
    let r = run(api
        .submit(&dir, &next)
        .args(["--rate", "0", "--allow-existing-names"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.stats().created, 6);
    for flags in [&["--allow-existing-names"][..], &["--skip-existing"], &[]] {
        let copy = dir.write("copy.csv", std::fs::read(&input).unwrap());
        let out = format!(
            "copy{}.csv",
            flags.len() + flags.first().map_or(0, |f| f.len())
        );
        let r = run(api
            .submit(&dir, &copy)
            .args(["--rate", "0", "-o", &out])
            .args(flags));
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
        assert_eq!(
            api.server.stats().created,
            6,
            "{flags:?}: nothing created again"
        );
        let res = results_csv(&dir, &out);
        assert_eq!(column(&res, "status"), ["created"; 3], "{flags:?}");
    }
}
