//! The text encodings a spreadsheet is saved in: Excel's default "CSV" (Windows-1252), "Unicode
//! Text" (UTF-16 with a mark, tab-separated), UTF-8 with or without a mark.

use bulkcast::mock::MockOptions;

use crate::util::{column, created_names, good_csv, parse_csv, run, Dir, Smartflo};

const NAMES: [&str; 3] = ["Café Offer – Pune", "दिवाली ऑफ़र पुणे", "Señor Müller"];

/// `good_csv`'s three rows with these names, delimited by `d`.
fn sheet(d: &str) -> String {
    let mut csv = good_csv(d, "\r\n", 3);
    for (i, n) in NAMES.iter().enumerate() {
        csv = csv.replacen(&format!("Campaign {}{d}", i + 1), &format!("{n}{d}"), 1);
    }
    csv
}

fn utf16(text: &str, little: bool) -> Vec<u8> {
    let mut out = if little {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for u in text.encode_utf16() {
        out.extend_from_slice(&if little {
            u.to_le_bytes()
        } else {
            u.to_be_bytes()
        });
    }
    out
}

#[test]
fn unicode_text_from_excel_is_read_in_either_byte_order_and_names_reach_the_api_exactly() {
    for little in [true, false] {
        let dir = Dir::new();
        let api = Smartflo::start(MockOptions::default());
        let input = dir.write("in.txt", utf16(&sheet("\t"), little));
        let r = run(dir.cmd().arg("validate").arg(&input));
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains("as UTF-16"), "{}", r.stderr);
        let report = parse_csv(&r.stdout);
        assert_eq!(column(&report, "line"), ["2", "3", "4"]);
        assert_eq!(column(&report, "name"), NAMES);

        let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let mut sent: Vec<String> = created_names(&api.server);
        sent.sort();
        let mut want = NAMES.map(String::from).to_vec();
        want.sort();
        assert_eq!(sent, want, "byte-exact UTF-8 names");
    }
}

#[test]
fn excels_default_csv_in_windows_1252_is_detected_and_sent_as_utf8() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    // Windows-1252 cannot hold Devanagari: the sheet as Excel would save it, without that row.
    let text = sheet(",").replace(NAMES[1], "Diwali offer");
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(&text);
    assert!(!lossy);
    let input = dir.write("in.csv", &bytes);
    let r = run(api.submit(&dir, &input).args(["--rate", "0"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("as windows-1252 (detected)"),
        "{}",
        r.stderr
    );
    let mut sent: Vec<String> = created_names(&api.server);
    sent.sort();
    assert_eq!(sent, ["Café Offer – Pune", "Diwali offer", "Señor Müller"]);

    // --encoding forces one.
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .args(["--encoding", "latin1"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(dir
        .cmd()
        .arg("validate")
        .arg(&input)
        .args(["--encoding", "klingon"]));
    assert_eq!(r.code, 2);
}

#[test]
fn outputs_carry_a_bom_when_the_sheet_came_from_excel_and_resume_reads_them_back() {
    let dir = Dir::new();
    let api = Smartflo::start(MockOptions::default());
    let input = dir.write("in.txt", utf16(&sheet("\t"), true));
    let report = dir.path("report.csv");
    let r = run(dir.cmd().arg("validate").arg(&input).arg("-o").arg(&report));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read(&report).unwrap().starts_with(b"\xEF\xBB\xBF"));
    let r = run(api
        .submit(&dir, &input)
        .args(["--rate", "0", "--failed", "failed.txt"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let results = std::fs::read(dir.path("in.results.csv")).unwrap();
    assert!(results.starts_with(b"\xEF\xBB\xBFline,name,"));
    // A resume reads a marked results file back: nothing is sent again.
    let before = api.server.stats().requests;
    let r = run(api.submit(&dir, &input).args(["--rate", "0", "--resume"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(api.server.stats().requests, before);

    // A plain UTF-8 sheet gets plain UTF-8 outputs.
    let plain = dir.write("plain.csv", sheet(","));
    let r = run(dir.cmd().arg("validate").arg(&plain).arg("-o").arg(&report));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read(&report).unwrap().starts_with(b"line,"));
}
