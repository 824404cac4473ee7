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

/// A dry run with credentials asks the account: a refused token stops it (exit 2); names
/// already there and IVRs the account lacks are named, with the IVRs' names beside their ids;
/// every body is written with --bodies; an earlier run's results file is no obstacle; and
/// nothing is created. Without credentials it says it checked offline.
#[test]
fn a_dry_run_with_credentials_checks_the_sheet_against_the_account() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions {
        existing: vec!["Campaign 2".into()],
        ivr: vec!["8001=Sales line".into()],
        ..MockOptions::default()
    });
    let sheet = good_csv(",", "\n", 4).replacen("ivr||7926", "ivr||8001", 1);
    let sheet = sheet.replace(
        "Campaign 4,Details of campaign 4,214864,ivr||7926",
        "Campaign 4,Details of campaign 4,214864,ivr||555",
    );
    let input = dir.write("in.csv", sheet);
    dir.write("in.results.csv", "an earlier run's results");
    let dry = |token: &str, extra: &[&str]| {
        let mut c = dir.cmd();
        c.arg("submit")
            .arg(&input)
            .args(["--base-url", &api.server.url(), "--dry-run"])
            .args(extra)
            .env("SMARTFLO_API_TOKEN", token);
        run(&mut c)
    };
    let r = dry("wrong", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("token was rejected"), "{}", r.stderr);

    let bodies = dir.path("bodies.jsonl");
    let r = dry(api.server.token(), &["--bodies", bodies.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let said = format!("{}{}", r.stdout, r.stderr);
    assert!(
        said.contains("line 3: \"Campaign 2\" is already on the account (id 3176)"),
        "{said}"
    );
    assert!(
        said.contains("a real run would stop before sending"),
        "{said}"
    );
    assert!(
        said.contains("line 5: destination ivr||555 is not an IVR of this account"),
        "{said}"
    );
    assert!(said.contains("ivr||8001 \"Sales line\" (1 row)"), "{said}");
    assert!(said.contains("ivr||7926 \"Main menu\" (2 rows)"), "{said}");
    assert!(said.contains("checked against the account"), "{said}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&bodies)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["name"], "Campaign 1");
    assert_eq!(lines[0]["destination"], "ivr||8001");
    assert_eq!(api.server.stats().created, 0, "nothing created");
    assert_eq!(
        std::fs::read_to_string(dir.path("in.results.csv")).unwrap(),
        "an earlier run's results"
    );
    let r = dry(api.server.token(), &["--bodies", bodies.to_str().unwrap()]);
    assert_eq!(r.code, 2, "--bodies never replaces a file");

    let mut c = dir.cmd();
    c.arg("submit")
        .arg(&input)
        .arg("--dry-run")
        .env_remove("SMARTFLO_API_TOKEN");
    let r = run(&mut c);
    assert!(
        format!("{}{}", r.stdout, r.stderr).contains("checked offline"),
        "{}",
        r.stderr
    );
}

/// Saved settings: a profile of a config file gives the address, where the token is, the rate,
/// the map file and the date layout; `submit` and `broadcasts` take them with `--profile`.
#[test]
fn a_profile_gives_the_address_credentials_rate_map_and_dates() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let mut sheet = String::from("Campaign,Notes,Lead List,IVR,Ring Time,Channels,Retry Gaps,Caller ID,Retries,Start,End,Calling Hours,Dial Status,Retry On\n");
    for i in 1..=3 {
        sheet += &format!("Campaign {i},Offer,214864,ivr||7926,40,5,5 10,918069000000,2,02/12/2026 09:00,02/12/2026 18:00,1234,1 2 3,1 3\n");
    }
    let input = dir.write("team.csv", sheet);
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--write-map")
        .arg(dir.path("team.map")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config = dir.write(
        "config.toml",
        format!(
            "[profile.mumbai]\nbase_url = \"{}\"\ntoken_env = \"MUMBAI_TOKEN\"\nrate = \"0\"\nmap_file = \"team.map\"\ndate_format = [\"%d/%m/%Y %H:%M\"]\n",
            api.server.url()
        ),
    );
    let mut c = dir.cmd();
    c.arg("submit")
        .arg(&input)
        .args(["--profile", "mumbai", "--config"])
        .arg(&config)
        .env("MUMBAI_TOKEN", api.server.token());
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.stats().created, 3);

    let mut c = dir.cmd();
    c.args(["broadcasts", "--csv", "--profile", "mumbai", "--config"])
        .arg(&config)
        .env("MUMBAI_TOKEN", api.server.token());
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut listed = column(&parse_csv(&r.stdout), "name");
    listed.sort();
    assert_eq!(listed, ["Campaign 1", "Campaign 2", "Campaign 3"]);

    let mut c = dir.cmd();
    c.arg("submit")
        .arg(&input)
        .args(["--profile", "delhi", "--config"])
        .arg(&config);
    let r = run(&mut c);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("has no profile \"delhi\"; its profiles are mumbai"),
        "{}",
        r.stderr
    );
}
