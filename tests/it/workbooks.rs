//! Workbooks read directly: typed cells, blank rows, a second sheet, the sheet's row numbers,
//! and `submit` end to end with `--failed` and `--resume`.

use bulkcast::mock::MockOptions;
use rust_xlsxwriter::Workbook;

use crate::util::{column, parse_csv, results_csv, run, Dir, Smartflo, FIELDS};

/// The fields, and a column that matches none (typed as a boolean).
fn header() -> impl Iterator<Item = &'static str> {
    FIELDS.into_iter().chain(["Active"])
}

/// A workbook whose first sheet "Plan" has the header on row 1, rows on 2, 3, 5 and 6 (row 4
/// blank; row 5 has a 30-second timeout), typed as Excel types them; and a second sheet
/// "Later" with one row.
fn workbook(dir: &Dir) -> std::path::PathBuf {
    let path = dir.path("plan.xlsx");
    let mut book = Workbook::new();
    let names = [
        "Diwali offer - Pune",
        "दिवाली ऑफ़र मुंबई",
        "Short ring",
        "Café Offer",
    ];
    for (sheet, rows) in [("Plan", &[1u32, 2, 4, 5][..]), ("Later", &[1u32][..])] {
        let ws = book.add_worksheet();
        ws.set_name(sheet).unwrap();
        for (c, h) in header().enumerate() {
            ws.write_string(0, c as u16, h).unwrap();
        }
        for (i, &r) in rows.iter().enumerate() {
            let name = if sheet == "Later" {
                "Later offer"
            } else {
                names[i]
            };
            let timeout = if i == 2 { 30.0 } else { 40.0 };
            crate::util::typed_row(ws, r, name, "Details", timeout);
            ws.write_boolean(r, 14, true).unwrap();
        }
    }
    book.save(&path).unwrap();
    path
}

#[test]
fn a_workbook_is_validated_on_its_sheets_row_numbers() {
    let dir = Dir::new();
    let path = workbook(&dir);
    let r = run(dir.cmd().arg("validate").arg(&path));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let text = r.stdout.trim_start_matches('\u{feff}');
    let report = parse_csv(text);
    assert_eq!(column(&report, "line"), ["2", "3", "5", "6"]);
    assert_eq!(
        column(&report, "success"),
        ["true", "true", "false", "true"]
    );
    assert!(column(&report, "message")[2].starts_with("timeout: found \"30\""));
    assert!(r.stderr.contains("1 blank row skipped"), "{}", r.stderr);

    // Another sheet, by name or position; a missing one lists the sheets.
    for which in ["Later", "2", "later"] {
        let r = run(dir
            .cmd()
            .arg("validate")
            .arg(&path)
            .args(["--sheet", which]));
        assert_eq!(r.code, 0, "{which}: {}", r.stderr);
        assert!(r.stdout.contains("Later offer"), "{}", r.stdout);
    }
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&path)
        .args(["--sheet", "Summer"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(r#"its sheets are "Plan", "Later""#),
        "{}",
        r.stderr
    );
}

#[test]
fn a_workbook_is_submitted_end_to_end_with_typed_cells_sent_as_the_api_wants_them() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let path = workbook(&dir);
    // A workbook's failed rows are written as a workbook: a CSV path is refused up front.
    let r = run(api
        .submit(&dir, &path)
        .args(["--rate", "0", "--failed", "failed.csv"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("give a path ending .xlsx"),
        "{}",
        r.stderr
    );
    assert_eq!(api.server.stats().requests, 0, "nothing sent");
    let r = run(api
        .submit(&dir, &path)
        .args(["--rate", "0", "--failed", "failed.xlsx"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mut stored = api.server.broadcasts();
    stored.sort_by_key(|b| b.name.clone());
    assert_eq!(stored.len(), 3);
    let body = &stored
        .iter()
        .find(|b| b.name == "Diwali offer - Pune")
        .unwrap()
        .body;
    assert_eq!(body["caller_id_number"], "918069000000");
    assert_eq!(body["phone_number_list"], 214864);
    assert_eq!(body["timeout"], "40");
    assert_eq!(body["start_date_time"], "2026-12-02 09:00:00");
    assert_eq!(body["end_date_time"], "2026-12-02 18:30:00");
    assert!(stored.iter().any(|b| b.name == "दिवाली ऑफ़र मुंबई"));
    let res = results_csv(&dir, "plan.results.csv");
    assert_eq!(column(&res, "line"), ["2", "3", "5", "6"]);

    // The failed row, as a workbook of text cells (Excel keeps the ids and dates as they
    // were), that re-uploads as it is once its timeout is fixed.
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut failed: Xlsx<_> = open_workbook(dir.path("failed.xlsx")).unwrap();
    let range = failed.worksheet_range("Failed rows").unwrap();
    let rows: Vec<Vec<Data>> = range.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(rows.len(), 2, "the header and the failed row: {rows:?}");
    assert!(
        rows[1].iter().all(|c| matches!(c, Data::String(_))),
        "every cell text: {:?}",
        rows[1]
    );
    let header: Vec<String> = rows[0].iter().map(ToString::to_string).collect();
    let cell = |name: &str| rows[1][header.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(cell("name"), "Short ring");
    assert_eq!(cell("caller_id_number"), "918069000000");
    assert!(
        cell("error").starts_with("invalid: timeout"),
        "{}",
        cell("error")
    );
    let fixed = dir.path("fixed.xlsx");
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let v = v.to_string();
            let v = if r == 1 && header[c] == "timeout" {
                "40".to_owned()
            } else {
                v
            };
            ws.write_string(r as u32, c as u16, v).unwrap();
        }
    }
    book.save(&fixed).unwrap();
    let r = run(api.submit(&dir, &fixed).args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.count_named("Short ring"), 1);

    // A resume of the workbook's run sends nothing twice; the row there is still invalid (an
    // invalid row is never reported created), and says the fixed file's run created its name.
    let r = run(api.submit(&dir, &path).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(api.server.count_named("Diwali offer - Pune"), 1);
    assert_eq!(api.server.count_named("Short ring"), 1);
    let res = results_csv(&dir, "plan.results.csv");
    let messages = column(&res, "message");
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("timeout") && m.contains("was created on this account by run 2")),
        "{messages:?}"
    );
}

#[test]
fn formulas_give_their_cached_values_and_error_cells_are_row_errors_naming_the_column() {
    let dir = Dir::new();
    let path = dir.path("formulas.xlsx");
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    for (c, h) in header().enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    for r in [1u32, 2] {
        let cells = [
            format!("Offer {r}"),
            "d".into(),
            "214864".into(),
            "ivr||7926".into(),
            "40".into(),
            "5".into(),
            "5".into(),
            "918069000000".into(),
            "2".into(),
            "2026-12-02 09:00:00".into(),
            "2026-12-02 18:00:00".into(),
            "1234".into(),
            "1".into(),
            "1".into(),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(r, c as u16, v).unwrap();
        }
    }
    // Row 2: the timeout is a formula (its cached value is read); row 3: the caller id is #N/A.
    ws.write_formula(
        1,
        4,
        rust_xlsxwriter::Formula::new("=20*2").set_result("40"),
    )
    .unwrap();
    ws.write_formula(
        2,
        7,
        rust_xlsxwriter::Formula::new("=NA()").set_result("#N/A"),
    )
    .unwrap();
    book.save(&path).unwrap();
    let r = run(dir.cmd().arg("validate").arg(&path));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report = parse_csv(r.stdout.trim_start_matches('\u{feff}'));
    assert_eq!(column(&report, "success"), ["true", "false"]);
    let msg = &column(&report, "message")[1];
    assert!(
        msg.contains("column \"caller_id_number\": the cell shows the error #N/A"),
        "{msg}"
    );
    assert!(!msg.contains("caller_id_number: empty"), "said once: {msg}");
}
