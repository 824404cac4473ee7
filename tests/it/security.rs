//! Hardening: where credentials come from and where they never go, logins that cannot lock an
//! account, plain http, spreadsheet formula injection, an unwritable results file, and replies
//! that are not what the API promises.

use std::time::{Duration, Instant};

use bulkcast::mock::MockOptions;
use bulkcast::secret::Secret;

use crate::util::{assert_exactly_once, column, good_csv, names, results_csv, run, Dir, Smartflo};

const TOKEN: &str = "tok-5ecret-Q7mZ2";
const PASSWORD: &str = "pw-5ecret-X9kL4";
const EMAIL: &str = "ops@example.com";

fn with_login(opts: MockOptions) -> MockOptions {
    MockOptions {
        token: TOKEN.into(),
        email: EMAIL.into(),
        password: Secret::new(PASSWORD),
        ..opts
    }
}

/// `submit` that logs in with email and password instead of a token.
fn login_submit(api: &Smartflo, dir: &Dir, input: &std::path::Path) -> std::process::Command {
    let mut c = api.submit(dir, input);
    c.env_remove("SMARTFLO_API_TOKEN")
        .env("SMARTFLO_EMAIL", EMAIL)
        .env("SMARTFLO_PASSWORD", PASSWORD);
    c
}

#[test]
fn secrets_never_reach_output_logs_results_or_summaries_at_any_verbosity() {
    let dir = Dir::new();
    let api = Smartflo::start(with_login(MockOptions {
        drop_after_create: 0.3,
        fail_5xx: 0.2,
        seed: 5,
        ..MockOptions::default()
    }));
    let input = dir.write("in.csv", good_csv(",", "\n", 6));
    let mut everything = String::new();
    let mut record = |r: crate::util::Run| {
        everything += &r.stdout;
        everything += &r.stderr;
    };
    // A token run, a login run, a dry run, and a rejected token, all at full verbosity.
    record(run(api
        .submit(&dir, &input)
        .env("SMARTFLO_API_TOKEN", TOKEN)
        .env("RUST_LOG", "trace")
        .args(["-vvv", "--rate", "0", "--summary-json", "s1.json"])
        .args(["--timeout", "1", "--settle", "0"])));
    record(run(login_submit(&api, &dir, &input)
        .env("RUST_LOG", "trace")
        .args([
            "-vvv",
            "--rate",
            "0",
            "-o",
            "r2.csv",
            "--summary-json",
            "s2.json",
            "--failed",
            "f2.csv",
            // The same names again, on purpose.
            "--allow-existing-names",
            "--timeout",
            "1",
            "--settle",
            "0",
        ])));
    record(run(api
        .submit(&dir, &input)
        .env("SMARTFLO_API_TOKEN", TOKEN)
        .args(["-vvv", "--dry-run"])));
    record(run(api
        .submit(&dir, &input)
        .env("SMARTFLO_API_TOKEN", format!("{TOKEN}x"))
        .args(["-vvv", "-o", "r3.csv"])));
    assert!(
        everything.contains("TRACE") || everything.contains("DEBUG"),
        "the runs did log at full verbosity"
    );
    for file in ["in.results.csv", "r2.csv", "s1.json", "s2.json"] {
        everything +=
            &std::fs::read_to_string(dir.path(file)).unwrap_or_else(|_| panic!("{file} written"));
    }
    assert!(!everything.contains(TOKEN), "the token leaked");
    assert!(!everything.contains(PASSWORD), "the password leaked");
    assert!(!everything.contains("5ecret"), "a part of a secret leaked");
}

#[test]
fn a_login_happens_once_and_its_token_is_used_for_the_run() {
    let dir = Dir::new();
    let api = Smartflo::start(with_login(MockOptions::default()));
    let input = dir.write("in.csv", good_csv(",", "\n", 5));
    let r = run(login_submit(&api, &dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = api.server.stats();
    assert_eq!((stats.logins, stats.created), (1, 5));
}

#[test]
fn a_rejected_login_is_not_tried_again_and_nothing_is_sent() {
    let dir = Dir::new();
    let api = Smartflo::start(with_login(MockOptions::default()));
    let input = dir.write("in.csv", good_csv(",", "\n", 5));
    let r = run(login_submit(&api, &dir, &input)
        .env("SMARTFLO_PASSWORD", "wrong")
        .args(["--rate", "0"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("login for ops@example.com was rejected") && r.stderr.contains("lock"),
        "{}",
        r.stderr
    );
    let stats = api.server.stats();
    assert_eq!((stats.requests, stats.logins, stats.created), (1, 1, 0));
    assert!(!dir.path("in.results.csv").exists());
}

#[test]
fn an_expired_token_is_renewed_by_logging_in_again_once() {
    let dir = Dir::new();
    let api = Smartflo::start(with_login(MockOptions {
        rotate_token_after: Some(4),
        ..MockOptions::default()
    }));
    let input = dir.write("in.csv", good_csv(",", "\n", 6));
    let r = run(login_submit(&api, &dir, &input).args(["--rate", "0", "--concurrency", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = api.server.stats();
    // Every 4 requests: the auth check, the baseline's two listings, six creates.
    assert_eq!((stats.logins, stats.created), (3, 6), "{stats:?}");
    assert!(stats.duplicates.is_empty());
}

#[test]
fn a_token_that_keeps_expiring_is_renewed_each_time_it_stops_working() {
    let dir = Dir::new();
    // The token expires after every 2 uses; each expiry is met by a new login.
    let api = Smartflo::start(with_login(MockOptions {
        rotate_token_after: Some(2),
        ..MockOptions::default()
    }));
    let input = dir.write("in.csv", good_csv(",", "\n", 8));
    let r = run(login_submit(&api, &dir, &input).args(["--rate", "0", "--concurrency", "1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(8));
    assert!(api.server.stats().logins >= 4, "{:?}", api.server.stats());
}

#[test]
fn a_freshly_issued_token_refused_at_once_stops_without_logging_in_again() {
    let dir = Dir::new();
    // Every login's token is dead on arrival.
    let api = Smartflo::start(with_login(MockOptions {
        token_life: Some(Duration::ZERO),
        ..MockOptions::default()
    }));
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(login_submit(&api, &dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 401"), "{}", r.stderr);
    let stats = api.server.stats();
    assert_eq!((stats.logins, stats.created), (1, 0), "one login, no more");
}

#[test]
fn a_token_given_directly_that_expires_mid_run_stops_cleanly_and_says_to_log_in() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        rotate_token_after: Some(4),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 5));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--concurrency", "1"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("stopped working during the run"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("SMARTFLO_EMAIL"), "{}", r.stderr);
    assert_eq!(api.server.stats().logins, 0);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(res.1.len(), 5, "every row recorded");
    let created = column(&res, "status")
        .iter()
        .filter(|s| *s == "created")
        .count() as u64;
    assert_eq!(created, api.server.stats().created);
}

#[test]
fn a_token_on_the_command_line_is_refused_without_echoing_it() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    let r = run(dir.cmd().arg("submit").arg(&input).args(["--token", TOKEN]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("SMARTFLO_API_TOKEN") && r.stderr.contains("--token-file"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(TOKEN));
}

#[cfg(unix)]
#[test]
fn a_token_file_others_can_read_draws_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    let token_file = dir.write("token", api.server.token());
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(api
        .submit(&dir, &input)
        .env_remove("SMARTFLO_API_TOKEN")
        .arg("--token-file")
        .arg(&token_file)
        .args(["-o", "a.csv"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("can be read by other users (mode 644)"),
        "{}",
        r.stderr
    );

    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = run(api
        .submit(&dir, &input)
        .env_remove("SMARTFLO_API_TOKEN")
        .arg("--token-file")
        .arg(&token_file)
        .args(["-o", "b.csv", "--allow-existing-names"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("other users"), "{}", r.stderr);
}

#[test]
fn plain_http_to_another_host_is_refused() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    let r = run(dir
        .cmd()
        .arg("submit")
        .arg(&input)
        .args(["--base-url", "http://api-smartflo.tatateleservices.com"])
        .env("SMARTFLO_API_TOKEN", TOKEN));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("plain http") && r.stderr.contains("--allow-insecure-http"),
        "{}",
        r.stderr
    );
}

#[test]
fn formula_like_cells_are_written_as_text_and_read_back_on_resume() {
    let dir = Dir::new();
    let names = [
        "=HYPERLINK(\"http://x\";\"y\")",
        "+91 promo",
        "-5% off",
        "@home",
    ];
    let mut csv = good_csv(",", "\n", 4);
    for (i, n) in names.iter().enumerate() {
        csv = csv.replacen(
            &format!("Campaign {},", i + 1),
            &format!("\"{}\",", n.replace('"', "\"\"")),
            1,
        );
    }
    let input = dir.write("in.csv", csv);
    let down = Smartflo::start(MockOptions {
        fail_refused: 1.0,
        ..MockOptions::default()
    });
    assert_eq!(run(down.submit(&dir, &input).args(["--rate", "0"])).code, 1);
    let text = std::fs::read_to_string(dir.path("in.results.csv")).unwrap();
    for line in text.lines().skip(1) {
        let name_cell = line.split(',').nth(1).unwrap();
        assert!(
            name_cell.starts_with('\'') || name_cell.starts_with("\"'"),
            "{line}"
        );
    }

    // The same account, once it accepts creates again.
    down.server.heal();
    let up = &down;
    let r = run(up.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(
        r.code, 0,
        "the input still matches the recorded names: {}",
        r.stderr
    );
    for n in names {
        assert_eq!(
            up.server.count_named(n),
            1,
            "{n} sent as it is in the sheet"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_results_file_that_cannot_be_written_stops_sending_at_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.csv", good_csv(",", "\n", 1500));
    // A disk that fills up: files may not grow past 128 KiB (SIGXFSZ ignored, so writes fail).
    // The results or the ledger reach it first: either stops sending at once.
    let bin = env!("CARGO_BIN_EXE_bulkcast");
    let script = format!("trap '' XFSZ; ulimit -f 128; exec {bin} submit in.csv --base-url {} --rate 0 --concurrency 4", api.server.url());
    let mut sh = std::process::Command::new("bash");
    sh.current_dir(dir.path(""))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("SMARTFLO_API_TOKEN", api.server.token())
        .env("BULKCAST_STATE_DIR", dir.path("state"))
        .args(["-c", &script]);
    let r = run(&mut sh);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write")
            && (r.stderr.contains("File too large") || r.stderr.contains("disk may be full")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("ending stopped at once"), "{}", r.stderr);
    assert!(r.stderr.contains("--resume"), "{}", r.stderr);
    let created = api.server.stats().created;
    assert!(created < 1500, "sending stopped: {created} created");

    // With room again, a resume finishes the job without doubling anything.
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--resume",
        "--timeout",
        "1",
        "--settle",
        "0",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = api.server.stats();
    assert!(stats.duplicates.is_empty(), "{:?}", stats.duplicates);
    assert_eq!(stats.created, 1500);
}

#[test]
fn replies_that_are_not_json_are_capped_and_classified_by_status() {
    // One retry, short waits, no listing lag: each reply's kind is seen quickly.
    const FEW_QUICK: [&str; 8] = [
        "--rate",
        "0",
        "--max-retries",
        "1",
        "--timeout",
        "1",
        "--settle",
        "0",
    ];
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 2));

    let api = Smartflo::start(MockOptions {
        garbage_reply: 1.0,
        ..MockOptions::default()
    });
    let r = run(api
        .submit(&dir, &input)
        .args(FEW_QUICK)
        .args(["-o", "garbage.csv"]));
    assert_eq!(r.code, 1);
    let res = results_csv(&dir, "garbage.csv");
    // A 502 from a gateway may follow a create that succeeded: looked up, never resent blindly
    // (here nothing was created, so each is looked up, sent again, and stays uncertain).
    assert_eq!(column(&res, "status"), ["unknown"; 2]);
    assert_eq!(column(&res, "http_status"), ["502"; 2]);
    assert!(
        column(&res, "message")[0].contains("non-JSON reply: <html>"),
        "{:?}",
        column(&res, "message")
    );

    let api = Smartflo::start(MockOptions {
        huge_reply: 1.0,
        ..MockOptions::default()
    });
    let r = run(api
        .submit(&dir, &input)
        .args(FEW_QUICK)
        .args(["-o", "huge.csv"]));
    assert_eq!(r.code, 1);
    let res = results_csv(&dir, "huge.csv");
    assert_eq!(column(&res, "status"), ["unknown"; 2]);
    assert!(
        column(&res, "message").iter().all(|m| m.len() < 400),
        "messages stay one short line"
    );
    assert_eq!(api.server.stats().created, 0);
}

#[test]
fn a_reply_body_that_trickles_does_not_hang_past_the_timeout() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 2));
    let api = Smartflo::start(MockOptions {
        slow_body: 1.0,
        slow_delay: Duration::from_secs(120),
        ..MockOptions::default()
    });
    let started = Instant::now();
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--max-retries",
        "1",
        "--timeout",
        "0.5",
    ]));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded by the timeout, not the server"
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(
        column(&res, "status"),
        ["failed"; 2],
        "a 503 is not a creation, even cut short"
    );
    assert!(
        column(&res, "message")[0].contains("cut off: timed out"),
        "{:?}",
        column(&res, "message")
    );
}
