//! `bulkcast validate` and `bulkcast template`, run as a user runs them.

use crate::util::{column, good_csv, parse_csv, run, sample, Dir};

#[test]
fn the_all_valid_sample_validates_with_exit_0() {
    let dir = Dir::new();
    let r = run(dir.cmd().arg("validate").arg(sample("campaigns.csv")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = parse_csv(&r.stdout);
    assert_eq!(report.0, ["line", "name", "success", "message"]);
    assert_eq!(report.1.len(), 24);
    assert!(column(&report, "success").iter().all(|s| s == "true"));
    let lines: Vec<String> = (2..=25).map(|l| l.to_string()).collect();
    assert_eq!(column(&report, "line"), lines);
}

#[test]
fn the_mistakes_sample_names_every_failing_field_with_exit_1() {
    let dir = Dir::new();
    let report_path = dir.path("report.csv");
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(sample("campaigns-with-mistakes.csv"))
        .arg("-o")
        .arg(&report_path));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "the report went to -o, not stdout");
    let report = parse_csv(&std::fs::read_to_string(&report_path).unwrap());
    assert_eq!(
        column(&report, "line"),
        ["2", "3", "4", "5", "6", "7", "10", "11", "12"]
    );
    assert_eq!(
        column(&report, "success"),
        ["true", "false", "false", "false", "false", "true", "false", "false", "true"]
    );
    let msg = column(&report, "message");
    assert!(msg[1].starts_with("timeout: found \"30\""), "{}", msg[1]);
    assert!(
        msg[2].contains("caller_id_number") && msg[2].contains("scientific notation"),
        "{}",
        msg[2]
    );
    assert!(
        msg[3].contains("number_of_retry") && msg[3].contains("start_date_time"),
        "{}",
        msg[3]
    );
    assert!(msg[4].contains("already used on line 2"), "{}", msg[4]);
    for field in [
        "destination",
        "concurrent_limit",
        "dialstatus",
        "retry_dialstatus",
        "end_date_time",
    ] {
        assert!(
            msg[6].contains(&format!("{field}: ")),
            "{field} missing from {}",
            msg[6]
        );
    }
    assert!(msg[7].starts_with("name: empty"), "{}", msg[7]);
    // The extra "Notes" column is reported once and otherwise ignored.
    assert_eq!(r.stderr.matches("\"Notes\"").count(), 1, "{}", r.stderr);
}

#[test]
fn bom_crlf_and_aliased_headers_are_read() {
    let dir = Dir::new();
    let csv = good_csv(",", "\r\n", 2)
        .replacen("number_of_retry", "Number of Retry", 1)
        .replacen("phone_number_list", "PHONE NUMBER LIST", 1)
        .replacen("retry_dialstatus", "Retry-Dialstatus", 1)
        .replacen("name", "Name", 1);
    let input = dir.write("in.csv", format!("\u{feff}{csv}"));
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = parse_csv(&r.stdout);
    assert_eq!(column(&report, "line"), ["2", "3"]);
    assert_eq!(column(&report, "name"), ["Campaign 1", "Campaign 2"]);
    assert!(
        !r.stderr.contains("ignoring"),
        "no column is unknown: {}",
        r.stderr
    );
}

#[test]
fn a_semicolon_export_is_detected_and_delimiter_can_be_forced() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(";", "\n", 3).replace("5 10", "5,10"));
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(parse_csv(&r.stdout).1.len(), 3);

    let tabbed = dir.write("tab.csv", good_csv("\t", "\n", 1));
    let r = run(dir
        .cmd()
        .args(["validate", "--delimiter", "tab"])
        .arg(&tabbed));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Forcing the wrong delimiter leaves one column: every field is missing.
    let r = run(dir
        .cmd()
        .args(["validate", "--delimiter", ";"])
        .arg(&tabbed));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(
            "lacks 14 required columns. For each, the column that most likely holds it:\n  name: "
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn a_row_that_is_not_utf8_is_invalid_and_its_neighbours_are_judged() {
    let dir = Dir::new();
    // A UTF-8 sheet (its names use accents) with one byte of another encoding pasted in: the
    // file stays UTF-8, and only the damaged cell is refused. (A file whose non-ASCII bytes
    // are all of a legacy code page is read in it: see encodings.rs.)
    let mut bytes = good_csv(",", "\n", 3)
        .replacen("Campaign 1,", "Campaña uno,", 1)
        .replacen("Campaign 3,", "Campaña très,", 1)
        .into_bytes();
    let at = bytes
        .windows(20)
        .position(|w| w == b"Details of campaign ".as_slice())
        .unwrap();
    let second_row = String::from_utf8_lossy(&bytes)
        .match_indices("Details of campaign 2")
        .next()
        .unwrap()
        .0;
    assert!(second_row > at);
    bytes[second_row] = 0xE9; // Latin-1 "é", as an old Excel export writes it
    let input = dir.write("in.csv", bytes);
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 1);
    let report = parse_csv(&r.stdout);
    assert_eq!(column(&report, "success"), ["true", "false", "true"]);
    let msg = &column(&report, "message")[1];
    assert!(
        msg.starts_with("description: column \"description\" is not valid UTF-8"),
        "{msg}"
    );
    assert!(!msg.contains("description: empty"), "said once: {msg}");
}

#[test]
fn a_ragged_row_is_invalid_and_its_neighbours_are_judged() {
    let dir = Dir::new();
    let csv = good_csv(",", "\n", 3);
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen(",40,", ",40,,", 1);
    let input = dir.write("in.csv", lines.join("\n"));
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 1);
    let report = parse_csv(&r.stdout);
    assert_eq!(column(&report, "success"), ["true", "false", "true"]);
    assert_eq!(column(&report, "name")[1], "Campaign 2");
    assert!(column(&report, "message")[1].starts_with("row has 15 cells but the header has 14"));
}

#[test]
fn lines_after_a_multi_line_cell_are_counted_right() {
    let dir = Dir::new();
    let csv = good_csv(",", "\r\n", 4).replacen(
        "Details of campaign 2",
        "\"Details\r\nover\r\nthree lines\"",
        1,
    );
    let input = dir.write(
        "in.csv",
        csv.replacen("Campaign 4,", "Campaign 4 ,", 1)
            .replacen(",40,5,", ",30,5,", 4),
    );
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 1, "every row has timeout 30");
    let report = parse_csv(&r.stdout);
    assert_eq!(column(&report, "line"), ["2", "3", "6", "7"]);
    assert_eq!(
        column(&report, "name"),
        ["Campaign 1", "Campaign 2", "Campaign 3", "Campaign 4"]
    );
}

#[test]
fn missing_columns_are_fatal_and_listed_with_the_columns_found() {
    let dir = Dir::new();
    let input = dir.write("in.csv", "Name,Description,Colour\nx,y,red\n");
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty(), "no row is reported: {}", r.stdout);
    assert!(
        r.stderr.contains("\n  phone_number_list: no column looks like it → add one, or --set phone_number_list=VALUE\n  destination: "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("Columns found: \"Name\", \"Description\", \"Colour\""),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--set"), "{}", r.stderr);
}

#[test]
fn set_fills_absent_columns_and_empty_cells_but_a_cell_in_the_file_wins() {
    let dir = Dir::new();
    // Drop the time_group column entirely; blank the timeout of row 2; row 1 keeps timeout 40.
    let csv = good_csv(",", "\n", 2)
        .replace(",1234,", ",")
        .replace("end_date_time,time_group,", "end_date_time,");
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    lines[2] = lines[2].replacen(",40,", ",,", 1);
    let input = dir.write("in.csv", lines.join("\n"));

    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 2, "time_group is missing: {}", r.stderr);
    assert!(
        r.stderr.contains("lacks 1 required column. For each")
            && r.stderr.contains(
                "\n  time_group: no column looks like it → add one, or --set time_group=VALUE\n"
            ),
        "{}",
        r.stderr
    );

    let r = run(dir
        .cmd()
        .args(["validate", "--set", "Time Group=77", "--set", "timeout=20"])
        .arg(&input));
    let report = parse_csv(&r.stdout);
    // Row 1's timeout (40) wins over --set; row 2's empty cell takes --set timeout=20, which fails.
    assert_eq!(
        column(&report, "success"),
        ["true", "false"],
        "{}",
        r.stderr
    );
    assert!(column(&report, "message")[1].starts_with("timeout: found \"20\""));
}

#[test]
fn bad_flags_are_fatal() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    for args in [
        vec!["--set", "colour=red"],
        vec!["--date-format", "%d/%m/%Y"],
        vec!["--delimiter", "ab"],
    ] {
        let r = run(dir.cmd().arg("validate").arg(&input).args(&args));
        assert_eq!(r.code, 2, "{args:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
    }
    let r = run(dir.cmd().arg("validate").arg(dir.path("absent.csv")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
}

#[test]
fn an_unwritable_report_is_fatal_before_reading() {
    let dir = Dir::new();
    let input = dir.write("in.csv", good_csv(",", "\n", 1));
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("-o")
        .arg(dir.path("no/such/dir/report.csv")));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot write the report"), "{}", r.stderr);
}

#[test]
fn a_date_format_option_reads_other_layouts() {
    let dir = Dir::new();
    let csv = good_csv(",", "\n", 1)
        .replace("2026-12-02 09:00:00", "02/12/2026 09:00")
        .replace("2026-12-02 18:00:00", "02/12/2026 18:00");
    let input = dir.write("in.csv", csv);
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 1);
    let msg = &column(&parse_csv(&r.stdout), "message")[0];
    assert!(
        msg.starts_with("start_date_time: found \"02/12/2026 09:00\""),
        "{msg}"
    );
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .args(["--date-format", "%d/%m/%Y %H:%M"]));
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn apostrophe_marked_cells_and_blank_rows_are_read_as_a_spreadsheet_means_them() {
    let dir = Dir::new();
    let csv =
        good_csv(",", "\n", 2).replacen("918069000000", "'+918069000000", 1) + ",,,,,,,,,,,,,\n\n";
    let input = dir.write("in.csv", csv);
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(
        parse_csv(&r.stdout).1.len(),
        2,
        "blank rows are not data rows"
    );
    assert!(
        r.stderr.contains("1 blank row skipped") || r.stderr.contains("2 blank rows skipped"),
        "{}",
        r.stderr
    );
}

#[test]
fn cells_that_look_like_formulas_are_written_as_text() {
    let dir = Dir::new();
    let input = dir.write(
        "in.csv",
        good_csv(",", "\n", 1).replacen("Campaign 1", "=HYPERLINK(\"x\")", 1),
    );
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(
        column(&parse_csv(&r.stdout), "name"),
        ["'=HYPERLINK(\"x\")"]
    );
}

#[test]
fn the_template_validates() {
    let dir = Dir::new();
    let path = dir.path("template.csv");
    let r = run(dir.cmd().arg("template").arg("-o").arg(&path));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let header = std::fs::read_to_string(&path).unwrap();
    assert!(
        header.starts_with("name,description,phone_number_list,destination,timeout,"),
        "{header}"
    );
    let r = run(dir.cmd().arg("validate").arg(&path));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(parse_csv(&r.stdout).1.len(), 1);
}

#[test]
fn standard_input_can_be_validated() {
    use std::io::Write;
    let dir = Dir::new();
    let mut child = dir
        .cmd()
        .args(["validate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(good_csv(",", "\n", 2).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(parse_csv(&String::from_utf8_lossy(&out.stdout)).1.len(), 2);
}

#[test]
fn cells_no_spreadsheet_can_hold_are_refused_naming_their_column() {
    let dir = Dir::new();
    let mut csv = good_csv(",", "\n", 3);
    csv = csv.replacen("Campaign 1,", "Camp\u{0}aign 1,", 1);
    csv = csv.replacen("Details of campaign 2", &"x".repeat(40_000), 1);
    let input = dir.write("in.csv", csv);
    let r = run(dir.cmd().args(["validate"]).arg(&input));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = parse_csv(&r.stdout);
    assert_eq!(column(&report, "success"), ["false", "false", "true"]);
    let messages = column(&report, "message");
    assert!(
        messages[0].contains("column \"name\": a control character (byte 0x00)"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("a cell of 40000 characters; accepted: at most 32767"),
        "{}",
        messages[1]
    );
    assert!(
        messages[1].len() < 400,
        "the message does not repeat the cell"
    );
}

#[test]
fn a_sheet_with_only_a_header_says_no_rows_and_exits_1() {
    let dir = Dir::new();
    let only_header = good_csv(",", "\n", 0);
    let input = dir.write("in.csv", &only_header);
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no rows"), "{}", r.stderr);
    let r = run(dir.cmd().arg("submit").arg(&input).arg("--mock"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no rows"), "{}", r.stderr);
    assert!(!dir.path("in.mock-results.csv").exists());
}

#[test]
fn date_formats_can_be_given_more_than_once_and_are_tried_in_order() {
    let dir = Dir::new();
    let csv = good_csv(",", "\n", 3)
        .replacen("2026-12-02 09:00:00", "02/12/2026 09:00", 1)
        .replacen("2026-12-02 09:00:00", "2026.12.02 09.00", 1);
    let input = dir.write("in.csv", csv);
    let r = run(dir.cmd().arg("validate").arg(&input).args([
        "--date-format",
        "%d/%m/%Y %H:%M",
        "--date-format",
        "%Y.%m.%d %H.%M",
    ]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .args(["--date-format", "%d/%m/%Y %H:%M"]));
    assert_eq!(r.code, 1);
    let report = parse_csv(&r.stdout);
    assert!(
        column(&report, "message")[1].contains("%d/%m/%Y %H:%M (from --date-format)"),
        "{:?}",
        column(&report, "message")
    );
}

#[test]
fn headers_in_the_teams_own_words_get_a_hint_and_can_be_mapped() {
    let dir = Dir::new();
    let csv = good_csv(",", "\n", 2)
        .replacen("name,", "Campaign Name,", 1)
        .replacen("caller_id_number", "Caller ID", 1);
    let input = dir.write("in.csv", csv);
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(r#"  name: likely the column "Campaign Name" → --map "Campaign Name=name""#),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(r#"  caller_id_number: likely the column "Caller ID" → --map "Caller ID=caller_id_number""#),
        "{}",
        r.stderr
    );
    let r = run(dir.cmd().arg("validate").arg(&input).args([
        "--map",
        "Campaign Name=name",
        "--map",
        "caller id=Caller ID Number",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let map = dir.write(
        "team.map",
        "# our sheet's headers\nCampaign Name = name\nCaller ID=caller_id_number\n",
    );
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--map-file")
        .arg(&map));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .args(["--map", "Campaign Name=colour"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not a field"), "{}", r.stderr);
}

/// Names that are one name as a server may keep them — Unicode form, a no-break or zero-width
/// space, case, a double space — are one name within a sheet: every later one is invalid and
/// names the first.
#[test]
fn names_that_differ_only_as_a_server_might_keep_them_are_one_name() {
    let dir = Dir::new();
    let csv = good_csv(",", "\n", 6);
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let forms = [
        "Caf\u{e9} Offer",
        "Cafe\u{301} Offer",
        "Caf\u{e9}\u{a0}Offer",
        "Caf\u{e9}\u{200b} Offer",
        "CAF\u{c9} offer",
        "Caf\u{e9}  Offer",
    ];
    for (line, name) in lines.iter_mut().skip(1).zip(forms) {
        *line = line.replacen(line.split(',').next().unwrap(), name, 1);
    }
    let input = dir.write("in.csv", lines.join("\n") + "\n");
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = parse_csv(&r.stdout);
    assert_eq!(
        column(&report, "success"),
        ["true", "false", "false", "false", "false", "false"]
    );
    for message in &column(&report, "message")[1..] {
        assert!(message.contains("already used on line 2"), "{message}");
    }
}

/// A sheet under a team's own headers: every missing field gets its likeliest column on a line
/// of its own, `--write-map` writes them to a file to check (never over one), the map file then
/// reads the sheet, a row's error names the sheet's header beside the field, and a `--map` for a
/// header the sheet lacks is an error.
#[test]
fn a_teams_headers_are_proposed_written_to_a_map_file_and_named_in_errors() {
    let dir = Dir::new();
    let team = "Campaign,Notes,Lead List,IVR,Ring Time,Channels,Retry Gaps,Caller ID,Retries,Start,End,Calling Hours,Dial Status,Retry On,Owner\n\
                Diwali Pune,Festive offer,214864,ivr||7926,30,5,5 10,918069000000,2,2026-12-02 09:00:00,2026-12-02 18:00:00,1234,1 2 3,1 3,Asha\n";
    let input = dir.write("team.csv", team);
    let r = run(dir.cmd().arg("validate").arg(&input));
    assert_eq!(r.code, 2, "{}", r.stderr);
    for line in [
        r#"  name: likely the column "Campaign" → --map "Campaign=name""#,
        r#"  phone_number_list: likely the column "Lead List" → --map "Lead List=phone_number_list""#,
        r#"  timeout: likely the column "Ring Time" → --map "Ring Time=timeout""#,
        r#"  concurrent_limit: likely the column "Channels" → --map "Channels=concurrent_limit""#,
        r#"  number_of_retry: likely the column "Retries" → --map "Retries=number_of_retry""#,
        r#"  start_date_time: likely the column "Start" → --map "Start=start_date_time""#,
        r#"  end_date_time: likely the column "End" → --map "End=end_date_time""#,
    ] {
        assert!(r.stderr.contains(line), "{line}\n{}", r.stderr);
    }
    assert!(!r.stderr.contains("Owner\" →"), "{}", r.stderr);

    let map = dir.path("team.map");
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--write-map")
        .arg(&map));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let written = std::fs::read_to_string(&map).unwrap();
    assert!(
        written.contains("Ring Time=timeout   # proposed: check it\n"),
        "{written}"
    );
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--write-map")
        .arg(&map));
    assert_eq!(r.code, 2, "an existing map file is never replaced");
    assert_eq!(std::fs::read_to_string(&map).unwrap(), written);

    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--map-file")
        .arg(&map));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let message = &column(&parse_csv(&r.stdout), "message")[0];
    assert!(
        message.starts_with(r#"Ring Time (timeout): found "30" (below 40)"#),
        "{message}"
    );

    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .arg("--map-file")
        .arg(&map)
        .args(["--map", "Ring Duration=timeout"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(r#"--map "Ring Duration": "#)
            && r.stderr
                .contains(r#"has no column "Ring Duration" (for timeout)"#),
        "{}",
        r.stderr
    );
}

/// An input that is not a regular file (a device that never ends, a folder) is refused at
/// once, by every command that reads one.
#[test]
fn an_input_that_is_not_a_file_is_refused() {
    let dir = Dir::new();
    for input in ["/dev/zero", "/tmp"] {
        let r = run(dir.cmd().args(["validate", input]));
        assert_eq!(r.code, 2, "{input}: {}", r.stderr);
        assert!(r.stderr.contains("is not a file"), "{}", r.stderr);
        let r = run(dir.cmd().args(["submit", input, "--dry-run"]));
        assert_eq!(r.code, 2, "{input}: {}", r.stderr);
    }
}

/// A header of 100,000 columns that match no field is warned about in a few names, not a
/// megabyte of them.
#[test]
fn a_huge_header_is_warned_about_in_a_few_names() {
    let dir = Dir::new();
    let csv = good_csv(",", "\n", 1);
    let extra: Vec<String> = (0..100_000).map(|i| format!("extra{i}")).collect();
    let mut lines = csv.lines();
    let (header, row) = (lines.next().unwrap(), lines.next().unwrap());
    let cells = vec![""; extra.len()].join(",");
    let wide = format!("{header},{}\n{row},{cells}\n", extra.join(","));
    let input = dir.write("wide.csv", wide);
    let r = run(dir.cmd().arg("validate").arg(&input));
    let head = &r.stderr[..r.stderr.len().min(500)];
    assert_eq!(r.code, 0, "{head}");
    assert!(
        r.stderr
            .contains("ignoring 100000 columns that match no field"),
        "{head}"
    );
    assert!(r.stderr.contains("and 99990 more"), "{head}");
    assert!(
        r.stderr.len() < 2_000,
        "{} bytes of warnings",
        r.stderr.len()
    );
}

/// The README is read in five minutes: under 20,000 bytes, the rest is in docs/.
#[test]
fn the_readme_stays_short() {
    let readme = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.len() < 20_000, "README.md is {} bytes", readme.len());
}
