//! Asking the account without creating anything: `bulkcast broadcasts`, and a dry run that
//! checks the sheet against the account.

use bulkcast::mock::MockOptions;

use crate::util::{column, good_csv, parse_csv, run, Dir, Smartflo};

#[test]
fn broadcasts_lists_what_is_on_the_account_as_a_table_or_csv() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        existing: vec!["Diwali offer - Pune".into()],
        ..MockOptions::default()
    });
    let input = dir.write("in.csv", good_csv(",", "\n", 3));
    assert_eq!(run(api.submit(&dir, &input).args(["--rate", "0"])).code, 0);
    let list = |extra: &[&str]| {
        let mut c = dir.cmd();
        c.args(["broadcasts", "--base-url", &api.server.url(), "--rate", "0"])
            .args(extra)
            .env("SMARTFLO_API_TOKEN", api.server.token());
        run(&mut c)
    };
    let r = list(&["--csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let csv = parse_csv(&r.stdout);
    let held: Vec<String> = api
        .server
        .broadcasts()
        .iter()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(column(&csv, "id"), held);
    let names: Vec<String> = api
        .server
        .broadcasts()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(
        column(&csv, "name"),
        names,
        "by id, as the server holds them"
    );
    assert_eq!(names[0], "Diwali offer - Pune");
    assert!(
        r.stderr.contains("4 broadcasts on the account"),
        "{}",
        r.stderr
    );

    let r = list(&["--name", "DIWALI"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("id "), "a table: {}", r.stdout);
    assert!(r.stdout.contains("Diwali offer - Pune") && !r.stdout.contains("Campaign 1"));

    let out = dir.write("mine.csv", "keep me");
    let r = list(&["-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 2, "an existing file is never replaced");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let requests = api.server.stats().requests;
    let r = list(&["-o", dir.path("new.csv").to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert_eq!(
        column(&crate::util::results_csv(&dir, "new.csv"), "id"),
        held
    );
    assert!(api.server.stats().requests > requests);

    let mut c = dir.cmd();
    c.args(["broadcasts", "--base-url", &api.server.url()])
        .env("SMARTFLO_API_TOKEN", "not-the-token");
    let r = run(&mut c);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("token was rejected"), "{}", r.stderr);
    assert!(!r.stderr.contains("not-the-token"), "no secret in messages");
}
