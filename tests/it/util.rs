//! Shared helpers: running the real binary in a scratch directory with a cleaned environment,
//! and reading the CSV files it writes.

use std::path::{Path, PathBuf};

use bulkcast::mock::{MockOptions, MockServer};
use std::process::{Command, Output};

/// A scratch directory for one test, removed when dropped.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Write `contents` to `name` in this directory and return its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).expect("write test file");
        p
    }

    /// The `bulkcast` binary, run in this directory with only PATH and HOME kept.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bulkcast"));
        c.current_dir(self.tmp.path()).env_clear();
        for keep in ["PATH", "HOME"] {
            if let Some(v) = std::env::var_os(keep) {
                c.env(keep, v);
            }
        }
        // What bulkcast remembers between runs stays with the test.
        c.env("BULKCAST_STATE_DIR", self.tmp.path().join("state"));
        c
    }
}

/// The repository's `samples/NAME`.
pub fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

/// A finished run: exit code and its output as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run bulkcast");
    Run {
        code: status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// A CSV text as a header and rows of strings.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = r
        .records()
        .map(|rec| rec.expect("record").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The column `name` of every row.
pub fn column(csv: &(Vec<String>, Vec<Vec<String>>), name: &str) -> Vec<String> {
    let i = csv
        .0
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", csv.0));
    csv.1.iter().map(|r| r[i].clone()).collect()
}

/// The fourteen fields, in the contract's order: a test sheet's header.
pub const FIELDS: [&str; 14] = [
    "name",
    "description",
    "phone_number_list",
    "destination",
    "timeout",
    "concurrent_limit",
    "retry_after_minutes",
    "caller_id_number",
    "number_of_retry",
    "start_date_time",
    "end_date_time",
    "time_group",
    "dialstatus",
    "retry_dialstatus",
];

/// The header and one good row of the contract's example, as CSV lines joined by `nl`, with the
/// delimiter `d`; `rows` more rows are added with names `Campaign 2`, `Campaign 3`, ...
pub fn good_csv(d: &str, nl: &str, rows: usize) -> String {
    let mut out = FIELDS.join(d) + nl;
    for i in 1..=rows {
        let row = [
            format!("Campaign {i}"),
            format!("Details of campaign {i}"),
            "214864".into(),
            "ivr||7926".into(),
            "40".into(),
            "5".into(),
            "5 10".into(),
            "918069000000".into(),
            "2".into(),
            "2026-12-02 09:00:00".into(),
            "2026-12-02 18:00:00".into(),
            "1234".into(),
            "1 2 3 4 5".into(),
            "1 3".into(),
        ];
        out += &(row.join(d) + nl);
    }
    out
}

/// A simulated Smartflo on its own runtime, alive while the test runs the binary against it.
pub struct Smartflo {
    pub server: MockServer,
    _rt: tokio::runtime::Runtime,
}

impl Smartflo {
    pub fn start(opts: MockOptions) -> Smartflo {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start(opts)).unwrap();
        Smartflo { server, _rt: rt }
    }

    /// `bulkcast submit INPUT` aimed at this server, with its token in the environment.
    pub fn submit(&self, dir: &Dir, input: &std::path::Path) -> Command {
        let mut c = dir.cmd();
        c.arg("submit")
            .arg(input)
            .arg("--base-url")
            .arg(self.server.url());
        c.env("SMARTFLO_API_TOKEN", self.server.token());
        c
    }
}

/// A results (or any CSV) file written in `dir`.
pub fn results_csv(dir: &Dir, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    parse_csv(&std::fs::read_to_string(dir.path(name)).expect("results written"))
}

/// The `--summary-json summary.json` a run wrote in `dir`.
pub fn summary_json(dir: &Dir) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.path("summary.json")).expect("summary written"))
        .unwrap()
}

/// The names `good_csv` gives its first `n` rows.
pub fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("Campaign {i}")).collect()
}

/// The names of the broadcasts the server holds, in the order they were created.
pub fn created_names(server: &MockServer) -> Vec<String> {
    server.broadcasts().into_iter().map(|b| b.name).collect()
}

/// The server holds exactly one broadcast per name, and nothing else.
pub fn assert_exactly_once(server: &MockServer, names: &[String]) {
    let stats = server.stats();
    assert!(
        stats.duplicates.is_empty(),
        "duplicates: {:?}",
        stats.duplicates
    );
    for n in names {
        assert_eq!(server.count_named(n), 1, "{n}");
    }
    assert_eq!(stats.created, names.len() as u64, "{stats:?}");
}

/// Wait (bounded) until the server has created at least `n` broadcasts.
pub fn wait_for_created(api: &Smartflo, n: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while api.server.stats().created < n {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never reached {n} broadcasts"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Every row a results file reports created names a broadcast the server holds under its name
/// (never one it does not hold, nor one given to two rows); the number of rows so reported.
pub fn claims_agree(server: &bulkcast::mock::MockServer, dir: &Dir, results: &str) -> usize {
    let res = results_csv(dir, results);
    let (names, statuses, ids) = (
        column(&res, "name"),
        column(&res, "status"),
        column(&res, "broadcast_id"),
    );
    let held = server.broadcasts();
    let mut created = 0;
    let mut given = std::collections::HashSet::new();
    for ((name, status), id) in names.iter().zip(&statuses).zip(&ids) {
        if status != "created" {
            continue;
        }
        created += 1;
        // By the name sent: a server may keep it in another form. A colleague's namesake may
        // be there too: the id reported must be one the server holds under this row's name,
        // and no other row's.
        let ours = held
            .iter()
            .find(|b| b.id.to_string() == *id)
            .unwrap_or_else(|| panic!("{results}: {name} reported created as {id}, not held"));
        assert_eq!(
            ours.body["name"].as_str(),
            Some(name.as_str()),
            "{results}: {name} reported created as {id}, another name's broadcast"
        );
        assert!(
            given.insert(id.clone()),
            "{results}: {id} reported for two rows"
        );
    }
    created
}

/// Row `r` of a worksheet, its fourteen fields typed as Excel types them (numbers, dates with
/// a date format, text), named `name`, with this description and timeout.
pub fn typed_row(
    ws: &mut rust_xlsxwriter::Worksheet,
    r: u32,
    name: &str,
    description: &str,
    timeout: f64,
) {
    use rust_xlsxwriter::{ExcelDateTime, Format};
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    ws.write_string(r, 0, name).unwrap();
    ws.write_string(r, 1, description).unwrap();
    ws.write_number(r, 2, 214864.0).unwrap();
    ws.write_string(r, 3, "ivr||7926").unwrap();
    ws.write_number(r, 4, timeout).unwrap();
    ws.write_number(r, 5, 5.0).unwrap();
    ws.write_string(r, 6, "5;10").unwrap();
    ws.write_number(r, 7, 918069000000.0).unwrap();
    ws.write_number(r, 8, 2.0).unwrap();
    let start = ExcelDateTime::parse_from_str("2026-12-02 09:00:00").unwrap();
    let end = ExcelDateTime::parse_from_str("2026-12-02 18:30:00").unwrap();
    ws.write_datetime_with_format(r, 9, &start, &date).unwrap();
    ws.write_datetime_with_format(r, 10, &end, &date).unwrap();
    ws.write_number(r, 11, 1234.0).unwrap();
    ws.write_string(r, 12, "1;2;3;4;5").unwrap();
    ws.write_string(r, 13, "1;3").unwrap();
}

/// Start `cmd` quietly, and `kill -9` it once the server has created `n` broadcasts.
pub fn kill_after(api: &Smartflo, mut cmd: Command, n: u64) {
    let mut child = cmd.stderr(std::process::Stdio::null()).spawn().unwrap();
    wait_for_created(api, n);
    child.kill().unwrap();
    child.wait().unwrap();
}
