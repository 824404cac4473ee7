//! A server whose word cannot be taken literally: it gives one id to every create, or keeps
//! names cut short. The results file still never claims more than the server holds, and no
//! row is created twice.

use bulkcast::mock::MockOptions;

use crate::util::{assert_exactly_once, claims_agree, column, good_csv, results_csv, run, Dir};
use crate::util::{kill_after, names, Smartflo};

/// `good_csv`'s rows with their names written by `name` (from the row's number).
fn sheet(rows: usize, name: impl Fn(usize) -> String) -> (String, Vec<String>) {
    let mut text = good_csv(",", "\n", rows);
    for i in (1..=rows).rev() {
        // Highest first, so "Campaign 1" does not match inside "Campaign 10".
        text = text.replace(&format!("\nCampaign {i},"), &format!("\n{},", name(i)));
    }
    (text, (1..=rows).map(name).collect())
}

fn submit(api: &Smartflo, dir: &Dir, input: &std::path::Path) -> std::process::Command {
    let mut cmd = api.submit(dir, input);
    cmd.args([
        "--rate",
        "0",
        "--timeout",
        "2",
        "--settle",
        "0",
        "-o",
        "out.csv",
    ]);
    cmd
}

#[test]
fn one_id_in_every_create_reply_is_a_fault_and_each_row_is_looked_up() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        same_id: true,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 30));
    let out = run(&mut submit(&api, &dir, &input));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("the id it gave"), "{}", out.stderr);
    assert_exactly_once(&api.server, &names(30));
    assert_eq!(claims_agree(&api.server, &dir, "out.csv"), 30);
    let ids = column(&results_csv(&dir, "out.csv"), "broadcast_id");
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 30, "every row has its own id: {ids:?}");
}

#[test]
fn names_kept_cut_short_are_found_and_not_sent_again() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        cut_names: Some(50),
        error_after_create: 0.3,
        seed: 5,
        ..MockOptions::default()
    });
    let (text, names) = sheet(40, |i| {
        format!("Wave {i}: festive season offer for the western region's retail customers")
    });
    let input = dir.write("in.csv", text);
    let out = run(&mut submit(&api, &dir, &input));
    assert!(
        api.server.stats().faults.error_after_create > 0,
        "the test needs uncertain rows"
    );
    assert_exactly_once(&api.server, &names);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(claims_agree(&api.server, &dir, "out.csv"), 40);
}

#[test]
fn names_one_once_cut_short_are_told_apart_by_what_they_say() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        cut_names: Some(50),
        error_after_create: 0.3,
        seed: 5,
        ..MockOptions::default()
    });
    // Their first 50 characters are one: only what each says tells them apart on the account.
    let (text, names) = sheet(20, |i| {
        format!("Festive season offer for the western region's retail customers - wave {i}")
    });
    let input = dir.write("in.csv", text);
    let out = run(&mut submit(&api, &dir, &input));
    let faults = api.server.stats().faults.error_after_create;
    assert!(faults > 0, "the test needs uncertain rows: {}", out.stderr);
    assert_exactly_once(&api.server, &names);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(claims_agree(&api.server, &dir, "out.csv"), 20);
}

/// A server that keeps each emoji of a name as `?` (MySQL's three-byte utf8), answering 5xx
/// after some creates, and two rows whose names it makes one: every row is found by what it
/// says, or sent again when nothing on the account could be its; none twice, none claimed
/// with another row's broadcast.
#[test]
fn names_kept_with_question_marks_are_found_by_what_they_say() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        narrow_names: true,
        error_after_create: 0.4,
        seed: 3,
        ..MockOptions::default()
    });
    let (text, names) = sheet(20, |i| match i {
        1 => "Offer ? 1".to_owned(),
        2 => "Offer 🎆 1".to_owned(),
        i => format!("Diwali 🎆 offer 🪔 wave {i}"),
    });
    let input = dir.write("in.csv", text);
    let out = run(&mut submit(&api, &dir, &input));
    assert!(
        api.server.stats().faults.error_after_create > 0,
        "the test needs uncertain rows"
    );
    assert_exactly_once(&api.server, &names);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(claims_agree(&api.server, &dir, "out.csv"), 20);
}

/// Someone deletes one of their broadcasts between two pages of every listing: the pages shift
/// and one listing misses a broadcast that is there. A row whose create got no answer is absent
/// only when two listings both lack it, so none is sent twice.
#[test]
fn a_broadcast_deleted_between_two_pages_makes_no_row_absent() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        existing: (1..=100)
            .map(|i| format!("Another team's broadcast {i}"))
            .collect(),
        delete_while_listing: true,
        error_after_create: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 20));
    let out = run(submit(&api, &dir, &input).arg("--allow-existing-names"));
    assert_exactly_once(&api.server, &names(20));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(claims_agree(&api.server, &dir, "out.csv"), 20);
}

/// One id in every reply, while some creates get no answer (502, nothing created): rows sent
/// again after the lookup are given that id too. No row is created twice, no results row
/// claims an id the server does not hold for it, and the counts add up.
#[test]
fn one_id_in_every_reply_while_rows_are_sent_again_after_the_lookup() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        same_id: true,
        garbage_reply: 0.3,
        seed: 11,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 30));
    let out = run(submit(&api, &dir, &input).args([
        "--max-retries",
        "0",
        "--summary-json",
        "summary.json",
    ]));
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    assert!(
        api.server.stats().faults.garbage_reply > 0,
        "the test needs rows sent again"
    );
    let stats = api.server.stats();
    assert!(stats.duplicates.is_empty(), "{:?}", stats.duplicates);
    let claimed = claims_agree(&api.server, &dir, "out.csv");
    let s = crate::util::summary_json(&dir);
    assert_eq!(s["created"].as_u64(), Some(claimed as u64), "{s}");
    let total: u64 = [
        "created",
        "unknown",
        "failed",
        "rejected",
        "not_attempted",
        "invalid",
    ]
    .iter()
    .map(|k| s[*k].as_u64().unwrap())
    .sum();
    assert_eq!(total, 30, "{s}");
}

/// Issue 31: a server whose clock is 10 minutes behind lists each broadcast as made before the
/// row's request left, by this machine's clock. Its replies' `Date` says how far behind it is:
/// the lookups (at the end of the run, and at a resume's start) read `created_at` by its
/// clock, and find each row's broadcast once rather than taking it for an older one.
#[test]
fn a_server_whose_clock_is_behind_still_has_each_rows_broadcast_found() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        clock_behind: 600,
        drop_after_create: 1.0,
        ..MockOptions::default()
    });
    let quick = ["--rate", "0", "--timeout", "1", "--settle", "0"];
    let input = dir.write("in.csv", good_csv(",", "\n", 4));
    let r = run(api.submit(&dir, &input).args(quick));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(4));
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 4);

    // Killed while every reply is awaited: the resume's opening lookup finds those rows by the
    // server's clock too.
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        clock_behind: 600,
        drop_after_create: 1.0,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 6));
    let mut first = api.submit(&dir, &input);
    first.args(["--rate", "20", "--timeout", "60"]);
    kill_after(&api, first, 3);
    let r = run(api.submit(&dir, &input).args(quick).arg("--resume"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(6));
    assert_eq!(claims_agree(&api.server, &dir, "in.results.csv"), 6);
}

/// Issue 31's first table row: the creates land but no reply comes, a colleague makes a
/// namesake of row 1 that says something else at the same moment, and each listing loses one
/// of the account's older broadcasts between its pages. The lookup used to add up the names it
/// found and stop after one listing, so a row the shifted page hid was sent again. Each row is
/// judged on its own now: every row's broadcast exists once, and no row is given the
/// colleague's.
#[test]
fn no_reply_a_colleagues_namesake_and_a_deletion_between_pages_make_no_duplicate() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        drop_after_create: 1.0,
        colleague_namesake: true,
        delete_while_listing: true,
        existing: (0..150).map(|i| format!("Old broadcast {i}")).collect(),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--timeout", "1", "--settle", "0"]));
    assert!(r.code <= 1, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(3));
    let colleague = api
        .server
        .broadcasts()
        .into_iter()
        .find(|b| {
            b.body["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("A colleague"))
        })
        .expect("the colleague's namesake");
    let res = results_csv(&dir, "in.results.csv");
    assert!(
        !column(&res, "broadcast_id").contains(&colleague.id.to_string()),
        "{res:?}"
    );
    let created = claims_agree(&api.server, &dir, "in.results.csv");
    // A row is unknown only where the evidence cannot tell: here it can, so each is found.
    assert_eq!(created, 3, "{:?}", column(&res, "message"));
    assert_eq!(r.code, 0);
}

/// A second machine (a ledger of its own, so only the account's listing protects its rows)
/// sends a copy of a sheet the first one created, on a server that keeps emoji as `?` and cuts
/// names at 30 characters: the names it lists are in forms no row has, yet each is known as a
/// row's name already on the account. Nothing is created twice: with `--skip-existing` each row
/// is `existing` (it says what the row says), and without it the run stops before sending.
#[test]
fn a_second_machine_knows_names_the_server_kept_its_own_way() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        narrow_names: true,
        cut_names: Some(30),
        ..MockOptions::default()
    });
    let (text, names) = sheet(8, |i| match i % 2 {
        0 => format!("Diwali 🎆 offer {i}"),
        _ => format!("Festive season reminder for the western region wave {i}"),
    });
    let input = dir.write("in.csv", &text);
    let first = run(&mut submit(&api, &dir, &input));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_exactly_once(&api.server, &names);

    let copy = dir.write("copy.csv", &text);
    let elsewhere = dir.path("elsewhere");
    let elsewhere_submit = |more: &[&str]| {
        let mut cmd = api.submit(&dir, &copy);
        cmd.env("BULKCAST_STATE_DIR", &elsewhere)
            .args(["--rate", "0", "-o", "copy.results.csv"])
            .args(more);
        run(&mut cmd)
    };
    let refused = elsewhere_submit(&[]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("already on the account"),
        "{}",
        refused.stderr
    );
    let skipped = elsewhere_submit(&["--skip-existing"]);
    assert_exactly_once(&api.server, &names);
    let res = results_csv(&dir, "copy.results.csv");
    // The long names are one name on the server (cut at 30): each row's is found by what it says.
    assert!(
        column(&res, "status").iter().all(|s| s == "existing"),
        "{:?}\n{}",
        column(&res, "message"),
        skipped.stderr
    );
    assert_eq!(skipped.code, 0, "{}", skipped.stderr);
}
