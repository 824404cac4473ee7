//! Property tests: input the parser never expected, from arbitrary bytes to arbitrary cells,
//! gets a verdict for every row and never a panic.

use std::io::Cursor;
use std::path::Path;

use bulkcast::input::rules::{parse_request, Cells};
use bulkcast::input::{DateFormats, InputOptions, RowReader};
use proptest::prelude::*;

const HEADER: &[u8] = b"name,description,phone_number_list,destination,timeout,concurrent_limit,retry_after_minutes,caller_id_number,number_of_retry,start_date_time,end_date_time,time_group,dialstatus,retry_dialstatus\n";

/// Read every row of `bytes`; the number of rows given a verdict, or the I/O error's line.
fn verdicts(bytes: Vec<u8>, delimiter: Option<u8>) -> Result<u64, TestCaseError> {
    let opts = InputOptions {
        delimiter,
        ..InputOptions::default()
    };
    let Ok(mut rows) =
        RowReader::from_reader(Box::new(Cursor::new(bytes)), Path::new("fuzz.csv"), &opts)
    else {
        return Ok(0); // a header that maps no fields is a clean, fatal error
    };
    let mut seen = 0;
    while let Some(row) = rows.next_row() {
        let row = row.map_err(|e| TestCaseError::fail(format!("only I/O may fail: {e}")))?;
        prop_assert_eq!(row.seq, seen);
        match &row.verdict {
            Ok(req) => prop_assert!(!req.name.is_empty()),
            Err(msg) => prop_assert!(
                !msg.is_empty() && !msg.contains('\n'),
                "one line: {:?}",
                msg
            ),
        }
        seen += 1;
    }
    Ok(seen)
}

/// Cells that look like what spreadsheets hold, to reach past the first rule.
fn plausible_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[0-9]{1,20}",
        "-?[0-9]{1,4}(\\.[0-9]{1,3})?",
        "(ivr|auto_attend|IVR|x)\\|{1,3}[0-9]{0,6}",
        "\\[?[0-9]{1,3}([;, ] ?[0-9]{1,3}){0,6}\\]?[;,]?",
        "20[0-9]{2}-[0-9]{1,2}-[0-9]{1,2}[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2})?",
        "\\+?[0-9 ().-]{0,20}",
        "'?[=+@-].{0,10}",
        "\\PC{0,30}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bytes_after_a_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let newlines = body.iter().filter(|&&b| b == b'\n').count() as u64;
        let mut bytes = HEADER.to_vec();
        bytes.extend(body);
        let rows = verdicts(bytes, None)?;
        prop_assert!(rows <= newlines + 1, "{} rows from {} lines", rows, newlines + 1);
    }

    #[test]
    fn arbitrary_bytes_with_any_delimiter_and_no_header_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
        delimiter in prop_oneof![Just(None), Just(Some(b';')), Just(Some(b'\t')), any::<u8>().prop_map(Some)],
    ) {
        verdicts(bytes, delimiter)?;
    }

    #[test]
    fn rows_of_plausible_cells_each_get_a_verdict(rows in proptest::collection::vec(proptest::collection::vec(plausible_cell(), 12..16), 1..20)) {
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(HEADER.to_vec());
        for row in &rows {
            w.write_record(row).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let blank = |r: &Vec<String>| r.iter().all(|c| c.bytes().all(|b| b.is_ascii_whitespace()));
        prop_assert_eq!(verdicts(bytes, Some(b','))?, rows.iter().filter(|r| !blank(r)).count() as u64);
    }

    #[test]
    fn any_cells_are_judged_without_panicking(cells in proptest::collection::vec(plausible_cell(), 14)) {
        let cells: Cells<'_> = std::array::from_fn(|i| cells[i].trim());
        let dates = DateFormats::with_custom(Some("%d/%m/%Y %H:%M")).unwrap();
        match parse_request(&cells, &dates) {
            Ok(req) => {
                let body = serde_json::to_value(&req).unwrap();
                prop_assert_eq!(body.as_object().unwrap().len(), 14);
            }
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
    }
}
