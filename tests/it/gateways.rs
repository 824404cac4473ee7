//! Never guess what the server did: servers that behave as real gateways, listings and accounts
//! do — a 5xx after the create, old namesakes, listings that lag, shift, cap or misbehave,
//! tokens that expire, an outage, a redirect.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use bulkcast::mock::MockOptions;

use crate::util::{
    assert_exactly_once, column, good_csv, names, results_csv, run, summary_json, wait_for_created,
    Dir, Smartflo,
};

/// Fast lookups: no listing lag is simulated unless a test says so.
const QUICK: [&str; 6] = ["--rate", "0", "--timeout", "1", "--settle", "0"];

#[test]
fn a_5xx_after_the_create_is_looked_up_not_sent_again() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        error_after_create: 0.4,
        seed: 3,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 30));
    let r = run(api
        .submit(&dir, &input)
        .args(QUICK)
        .args(["--summary-json", "summary.json"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(30));
    let res = results_csv(&dir, "in.results.csv");
    assert!(column(&res, "status").iter().all(|s| s == "created"));
    let faults = api.server.stats().faults.error_after_create;
    assert!(faults > 0);
    assert_eq!(summary_json(&dir)["reconciled"].as_u64(), Some(faults));
}

#[test]
fn old_namesakes_stop_the_run_unless_skipped_or_allowed() {
    let existing = || MockOptions {
        existing: vec!["Campaign 2".into(), "Something else".into()],
        ..MockOptions::default()
    };
    // By default: refused before anything is sent, naming the row.
    let dir = Dir::new();
    let api = Smartflo::start(existing());
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(api.submit(&dir, &input).args(QUICK));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("line 3 \"Campaign 2\""), "{}", r.stderr);
    assert_eq!(api.server.stats().created, 0);

    // --skip-existing: that row counts as done, with the old id.
    let r = run(api.submit(&dir, &input).args(QUICK).arg("--skip-existing"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.count_named("Campaign 2"), 0);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "broadcast_id")[1], "3176");
    assert!(column(&res, "message")[1].contains("already on the account"));

    // --allow-existing-names: created once each, even when every reply is lost: the old
    // namesake does not pass for the new broadcast.
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        drop_after_create: 1.0,
        ..existing()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(api
        .submit(&dir, &input)
        .args(QUICK)
        .arg("--allow-existing-names"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(3));
    let res = results_csv(&dir, "in.results.csv");
    assert!(column(&res, "status").iter().all(|s| s == "created"));
    assert_ne!(column(&res, "broadcast_id")[1], "3176", "not the old one");
}

#[test]
fn a_listing_that_lags_shifts_caps_its_pages_or_states_a_stale_total_still_finds_every_row_once() {
    for (what, opts, settle) in [
        (
            "lags 2 s",
            MockOptions {
                list_lag: Duration::from_secs(2),
                ..MockOptions::default()
            },
            "3",
        ),
        (
            "newest first",
            MockOptions {
                newest_first: true,
                ..MockOptions::default()
            },
            "0",
        ),
        (
            "caps pages at 7",
            MockOptions {
                page_cap: Some(7),
                ..MockOptions::default()
            },
            "0",
        ),
        (
            // 150 broadcasts by the time rows are looked up, the rows' on page 2.
            "states a stale total of 100",
            MockOptions {
                stated_total: Some(100),
                ..MockOptions::default()
            },
            "0",
        ),
    ] {
        let dir = Dir::new();
        let api = Smartflo::start(MockOptions {
            drop_after_create: 1.0,
            existing: (0..130).map(|i| format!("Old broadcast {i}")).collect(),
            ..opts
        });
        let input = dir.write("in.csv", good_csv(",", "\n", 20));
        let r = run(api.submit(&dir, &input).args([
            "--rate",
            "0",
            "--timeout",
            "1",
            "--settle",
            settle,
        ]));
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        assert_exactly_once(&api.server, &names(20));
        let res = results_csv(&dir, "in.results.csv");
        assert!(
            column(&res, "status").iter().all(|s| s == "created"),
            "{what}"
        );
    }
}

#[test]
fn a_listing_that_cannot_be_trusted_sends_nothing_more() {
    // Ignores `page`, has no `results`, or never ends: the baseline cannot be taken.
    for (what, opts) in [
        (
            "ignores page",
            MockOptions {
                ignore_page: true,
                existing: (0..150).map(|i| format!("Old broadcast {i}")).collect(),
                ..MockOptions::default()
            },
        ),
        (
            "no results",
            MockOptions {
                no_results_field: true,
                ..MockOptions::default()
            },
        ),
        (
            "endless",
            MockOptions {
                endless_list: true,
                ..MockOptions::default()
            },
        ),
    ] {
        let dir = Dir::new();
        let api = Smartflo::start(opts);
        let input = dir.write("in.csv", good_csv(",", "\n", 3));
        let r = run(api
            .submit(&dir, &input)
            .args(QUICK)
            .args(["--max-listing-pages", "5"]));
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("nothing was sent"),
            "{what}: {}",
            r.stderr
        );
        assert_eq!(api.server.stats().created, 0, "{what}");
    }
}

#[test]
fn tokens_that_expire_every_second_are_renewed_through_a_longer_run() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        email: "ops@example.com".into(),
        token_life: Some(Duration::from_secs(1)),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    let r = run(dir
        .cmd()
        .arg("submit")
        .arg(&input)
        .arg("--base-url")
        .arg(api.server.url())
        .env("SMARTFLO_EMAIL", "ops@example.com")
        .env("SMARTFLO_PASSWORD", bulkcast::mock::DEFAULT_PASSWORD)
        .args(["--rate", "10"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(40));
    let logins = api.server.stats().logins;
    assert!(logins >= 3, "renewed as it ran out: {logins} logins");
}

#[test]
fn an_outage_is_waited_out_without_spending_retries() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        outage_after: Some(Duration::from_millis(1500)),
        outage_for: Duration::from_secs(5),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 40));
    // Five failures in a row hold every row: a row can meet at most five before it waits, so
    // with five retries none runs out, whenever the outage starts against its requests.
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "10",
        "--max-retries",
        "5",
        "--timeout",
        "1",
        "--settle",
        "0",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("API unreachable since"), "{}", r.stderr);
    assert_exactly_once(&api.server, &names(40));
    let during = api.server.stats().faults.outage;
    assert!(
        during <= 15,
        "only a handful of requests during the outage: {during}"
    );
}

/// A server on loopback that lists an empty account and answers every create with a redirect.
fn redirecting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let posts = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = posts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let reply = if head.starts_with("POST") {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
            } else {
                let body = r#"{"page":1,"size":0,"limit":100,"results":[]}"#;
                format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            };
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    (url, posts)
}

#[test]
fn a_redirect_is_a_final_error_naming_where_it_points() {
    let dir = Dir::new();
    let (url, posts) = redirecting_server();
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    let r = run(dir
        .cmd()
        .arg("submit")
        .arg(&input)
        .args(["--base-url", &url, "--rate", "0"])
        .env("SMARTFLO_API_TOKEN", "t"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let res = results_csv(&dir, "in.results.csv");
    assert_eq!(column(&res, "status"), ["rejected"]);
    assert!(
        column(&res, "message")[0].contains("redirect to http://127.0.0.1:9/elsewhere"),
        "{:?}",
        column(&res, "message")
    );
    assert_eq!(
        posts.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not re-posted"
    );
}

#[cfg(unix)]
#[test]
fn a_resume_right_after_a_kill_waits_for_the_dead_runs_requests_before_judging_them_absent() {
    let dir = Dir::new();
    // Creates are stored at once but answered late, and the listing shows them 2 s late.
    let api = Smartflo::start(MockOptions {
        slow_after_create: 1.0,
        slow_delay: Duration::from_secs(3),
        list_lag: Duration::from_secs(2),
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 60));
    let mut child = api
        .submit(&dir, &input)
        .args(["--rate", "20", "--timeout", "1"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_created(&api, 10);
    child.kill().unwrap(); // rows created on the server, their replies not yet in
    child.wait().unwrap();
    api.server.heal();
    let r = run(api.submit(&dir, &input).args([
        "--rate",
        "0",
        "--timeout",
        "1",
        "--settle",
        "3",
        "--resume",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(60));
}

/// A server that keeps names in another form (lower case, spaces collapsed) and answers 5xx
/// after some creates: the rows are found under their names as kept, never sent again.
#[test]
fn a_server_that_keeps_names_in_another_form_still_gets_each_row_once() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        lower_names: true,
        error_after_create: 0.3,
        drop_after_create: 0.2,
        seed: 20,
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 60));
    let r = run(api.submit(&dir, &input).args(QUICK));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_exactly_once(&api.server, &names(60));
    let res = results_csv(&dir, "in.results.csv");
    assert!(column(&res, "status").iter().all(|s| s == "created"));
    let found = column(&res, "message")
        .iter()
        .filter(|m| m.starts_with("found on the account"))
        .count();
    assert!(found > 0, "some rows were looked up: {}", r.stderr);
}

/// An old broadcast whose name differs from a row's only in case and spacing is that name
/// already on the account: the run refuses to create it again.
#[test]
fn an_old_namesake_in_another_form_is_refused_like_the_same_name() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        existing: vec!["campaign  2".into()],
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    let r = run(api.submit(&dir, &input).args(QUICK));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("line 3 \"Campaign 2\""),
        "names the row: {}",
        r.stderr
    );
    assert_eq!(api.server.stats().created, 0);
}
