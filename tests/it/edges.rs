//! Exactly once at the edges: a second process, a rehearsal before the real run, signals, a
//! damaged journal, an input that changes under a run, and outputs that would destroy the input.

use std::process::{Child, Command, Stdio};

use bulkcast::mock::MockOptions;

use crate::util::{
    assert_exactly_once, column, good_csv, names, results_csv, run, wait_for_created, Dir, Smartflo,
};

fn signal(child: &Child, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn finish(child: Child) -> (i32, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_second_run_into_the_same_results_is_refused_while_the_first_is_going() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let first = api
        .submit(&dir, &input)
        .args(["--rate", "20"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_created(&api, 3);
    // Frozen, the first run holds its lock for as long as the test needs, however busy the
    // machine.
    signal(&first, "STOP");
    for extra in [&[][..], &["--resume"][..]] {
        let r = run(api.submit(&dir, &input).args(["--rate", "0"]).args(extra));
        assert_eq!(r.code, 2, "{extra:?}: {}", r.stderr);
        assert!(r.stderr.contains("already running"), "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!("pid {}", first.id())),
            "{}",
            r.stderr
        );
    }
    signal(&first, "CONT");
    let (code, stderr) = finish(first);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(&api.server, &names(40));
    assert!(!dir.path("in.results.csv.lock").exists());
}

#[test]
fn a_rehearsal_never_stands_in_for_the_real_run() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 10));
    let r = run(dir
        .cmd()
        .arg("submit")
        .arg(&input)
        .args(["--mock", "--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("nothing reached Smartflo"),
        "{}",
        r.stderr
    );
    assert_eq!(results_csv(&dir, "in.mock-results.csv").1.len(), 10);

    // The real run is not in the rehearsal's way, and creates every row.
    let api = Smartflo::start(MockOptions::default());
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(10));

    // A rehearsal's record given to the real account with --resume is refused.
    let r = run(dir.cmd().arg("submit").arg(&input).args([
        "--mock",
        "--rate",
        "0",
        "-o",
        "shared.csv",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let before = api.server.stats().requests;
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "-o", "shared.csv", "--resume"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("records a run against the built-in simulation"),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().requests, before, "nothing was sent");
}

#[test]
fn a_record_made_against_one_server_is_not_resumed_against_another() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let one = Smartflo::start(MockOptions::default());
    assert_eq!(run(one.submit(&dir, &input).args(["--rate", "0"])).code, 0);
    let two = Smartflo::start(MockOptions::default());
    let r = run(two.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains(&one.server.url()), "{}", r.stderr);
    assert_eq!(two.server.stats().requests, 0);
}

#[cfg(unix)]
#[test]
fn sigterm_and_sighup_stop_a_run_cleanly_with_complete_results() {
    for sig in ["TERM", "HUP"] {
        let dir = Dir::new();
        let api = Smartflo::start(MockOptions::default());
        let input = dir.write("in.csv", good_csv(",", "\n", 40));
        let child = api
            .submit(&dir, &input)
            .args(["--rate", "5"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_created(&api, 3);
        // The signal is delivered as the frozen run resumes: it arrives with most rows unsent,
        // however busy the machine.
        signal(&child, "STOP");
        signal(&child, sig);
        signal(&child, "CONT");
        let (code, stderr) = finish(child);
        assert_eq!(code, 1, "SIG{sig}: {stderr}");
        assert!(
            stderr.contains(&format!("interrupted (SIG{sig})")),
            "{stderr}"
        );
        let res = results_csv(&dir, "in.results.csv");
        assert_eq!(res.1.len(), 40, "one row per input row");
        let status = column(&res, "status");
        let created = status.iter().filter(|s| *s == "created").count() as u64;
        assert_eq!(created, api.server.stats().created, "SIG{sig}");
        assert!(created < 40);
        assert!(status
            .iter()
            .all(|s| s == "created" || s == "not_attempted"));
        for left in ["journal", "partial", "lock"] {
            assert!(
                !dir.path(&format!("in.results.csv.{left}")).exists(),
                "{left}"
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn a_damaged_journal_stops_resume_with_its_line_and_sends_nothing() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let mut child = api
        .submit(&dir, &input)
        .args(["--rate", "5"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_created(&api, 5);
    child.kill().unwrap();
    child.wait().unwrap();
    let journal = dir.path("in.results.csv.journal");
    let text = std::fs::read(&journal).unwrap();
    let created = api.server.stats().created;
    for (what, junk) in [
        ("an unbalanced quote", &b"sent,99,\"Campaign 99\n"[..]),
        ("NULs", &[0u8; 64][..]),
        ("a foreign line", &b"hello\n"[..]),
    ] {
        // The junk goes in as line 4, with the journal's events after it.
        let at = text
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .nth(2)
            .unwrap()
            .0
            + 1;
        let mut damaged = text[..at].to_vec();
        damaged.extend_from_slice(junk);
        if !junk.ends_with(b"\n") {
            damaged.push(b'\n');
        }
        damaged.extend_from_slice(&text[at..]);
        std::fs::write(&journal, damaged).unwrap();
        let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("damaged at line 4"),
            "{what}: {}",
            r.stderr
        );
        assert_eq!(api.server.stats().created, created, "{what}: nothing sent");
    }
    // The journal as the crash left it resumes to exactly one broadcast per row.
    std::fs::write(&journal, &text).unwrap();
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(40));
}

#[test]
fn an_input_that_changes_under_a_run_stops_sending() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 400));
    let child = api
        .submit(&dir, &input)
        .args(["--rate", "50", "--concurrency", "2"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_created(&api, 10);
    // The sheet is re-exported in place, shorter.
    std::fs::write(&input, good_csv(",", "\n", 250)).unwrap();
    let (code, stderr) = finish(child);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("changed while the run was going"),
        "{stderr}"
    );
    let res = results_csv(&dir, "in.results.csv");
    let rows = res.1.len();
    assert!(
        rows < 400,
        "rows read after the change are not sent: {rows}"
    );
    let status = column(&res, "status");
    let created = status.iter().filter(|s| *s == "created").count() as u64;
    let stats = api.server.stats();
    assert_eq!(created, stats.created, "every broadcast is recorded");
    assert!(stats.duplicates.is_empty());
    assert_eq!(column(&res, "name"), names(rows), "rows in input order");
}

#[cfg(unix)]
#[test]
fn no_command_writes_over_its_input_however_it_is_spelled() {
    let dir = Dir::new();
    let sheet = good_csv(",", "\n", 3);
    let input = dir.write("in.csv", &sheet);
    std::fs::create_dir(dir.path("sub")).unwrap();
    std::os::unix::fs::symlink(&input, dir.path("link.csv")).unwrap();
    std::fs::hard_link(&input, dir.path("hard.csv")).unwrap();
    let unchanged = || assert_eq!(std::fs::read_to_string(&input).unwrap(), sheet);

    for same in [
        "in.csv",
        "./in.csv",
        "sub/../in.csv",
        "link.csv",
        "hard.csv",
    ] {
        let r = run(dir.cmd().args(["validate", "in.csv", "-o", same]));
        assert_eq!(r.code, 2, "validate -o {same}: {}", r.stderr);
        unchanged();
        let r = run(dir.cmd().args(["template", "-o", same]));
        assert_eq!(r.code, 2, "template -o {same}: {}", r.stderr);
        unchanged();
    }
    let api = Smartflo::start(MockOptions::default());
    for flags in [
        &["-o", "./in.csv"][..],
        &["--failed", "link.csv"][..],
        &["--summary-json", "sub/../in.csv"][..],
        &["-o", "r.csv", "--failed", "r.csv"][..],
    ] {
        let r = run(api.submit(&dir, &input).args(flags));
        assert_eq!(r.code, 2, "{flags:?}: {}", r.stderr);
        unchanged();
    }
    assert_eq!(api.server.stats().requests, 0);

    // template: a new file is written, an existing one only with --force.
    let r = run(dir.cmd().args(["template", "-o", "t.csv"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(dir.path("t.csv"), "my filled sheet").unwrap();
    let r = run(dir.cmd().args(["template", "-o", "t.csv"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path("t.csv")).unwrap(),
        "my filled sheet"
    );
    let r = run(dir.cmd().args(["template", "-o", "t.csv", "--force"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(dir.path("t.csv"))
        .unwrap()
        .starts_with("name,"));
}
