//! `bulkcast serve` over HTTP: every address, and every refusal (no token, a wrong one, a
//! foreign `Host` or `Origin`, an upload too large, a file that is no spreadsheet), and the
//! whole job — upload, map, fix, rehearse, follow, download, continue — through the same
//! requests the page makes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::util::{good_csv, parse_csv, Dir};

/// A `bulkcast serve` on port 0, stopped when dropped.
pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
    pub port: u16,
    http: reqwest::Client,
}

impl Served {
    pub fn start(dir: &Dir, extra: &[&str]) -> Served {
        let mut child = dir
            .cmd()
            .args(["serve", "--port", "0", "--no-open"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start bulkcast serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("serve printed its address before ending")
                .expect("readable");
            if let Some(at) = line.find("http://") {
                break line[at..].trim().to_owned();
            }
        };
        // Keep reading what it says, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (base, token) = url.split_once("/?token=").expect("an address with a token");
        let port = base.rsplit(':').next().unwrap().parse().unwrap();
        Served {
            child,
            base: base.to_owned(),
            token: token.to_owned(),
            port,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn cookie(&self) -> String {
        format!("bulkcast_{}={}", self.port, self.token)
    }

    /// A request as the page makes it: with the session cookie, and its origin when it changes
    /// anything.
    pub fn page(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let changes = method != reqwest::Method::GET;
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie());
        if changes {
            r = r.header(header::ORIGIN, &self.base);
        }
        r
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.page(reqwest::Method::GET, path).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .page(reqwest::Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let r = self
            .page(reqwest::Method::POST, &format!("/api/sheets?name={name}"))
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Follow a run's server-sent events to its end; the last snapshot.
    pub async fn follow(&self, run: &str) -> Value {
        self.follow_until(run, |_| false).await
    }

    /// Follow a run's server-sent events until `enough` says so or the run ends; the last
    /// snapshot.
    pub async fn follow_until(&self, run: &str, enough: impl Fn(&Value) -> bool) -> Value {
        let mut r = self
            .page(reqwest::Method::GET, &format!("/api/runs/{run}/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let mut text = String::new();
        let mut last = Value::Null;
        while let Some(chunk) = r.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    last = serde_json::from_str(data).unwrap();
                }
            }
            if last["ended"] == true || (!last.is_null() && enough(&last)) {
                break;
            }
        }
        last
    }

    pub async fn download(&self, path: &str) -> (StatusCode, String, String) {
        let r = self.page(reqwest::Method::GET, path).send().await.unwrap();
        let disposition = r
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (r.status(), disposition, r.text().await.unwrap())
    }
}

impl Served {
    /// Ctrl-C, as a terminal sends it; then how the server ended.
    pub fn interrupt_and_wait(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
        self.child.wait().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three good rows and one whose timeout is below 40 (line 3).
fn sheet_with_one_bad_row() -> String {
    good_csv(",", "\n", 4).replacen(
        "Campaign 2,Details of campaign 2,214864,ivr||7926,40",
        "Campaign 2,Details of campaign 2,214864,ivr||7926,30",
        1,
    )
}

#[tokio::test]
async fn only_the_person_with_the_printed_address_gets_in() {
    let dir = Dir::new();
    let s = Served::start(&dir, &[]);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", s.base);

    // No token.
    for path in ["/", "/api/setup", "/api/history", "/app.js"] {
        let r = http.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            r.text().await.unwrap().contains("?token="),
            "{path} says where to get in"
        );
    }
    // A wrong token, in the address or as the cookie.
    let r = http.get(url("/?token=0123")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    let wrong = format!("bulkcast_{}={}x", s.port, s.token);
    let r = http
        .get(url("/api/setup"))
        .header(header::COOKIE, wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // The right one becomes a cookie, and leaves the address bar.
    let r = http
        .get(format!("{}/?token={}", s.base, s.token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/");
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with(&s.cookie()), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let r = http
        .get(url("/"))
        .header(header::COOKIE, s.cookie())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("<label for=\"file\">Spreadsheet</label>"));
    assert!(!page.contains(&s.token), "the page never shows the token");

    // A foreign Host (DNS rebinding), even with the cookie.
    let r = http
        .get(url("/api/setup"))
        .header(header::COOKIE, s.cookie())
        .header(header::HOST, format!("rebound.example:{}", s.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("answers only at"));
    // localhost is this machine.
    let r = http
        .get(url("/api/setup"))
        .header(header::COOKIE, s.cookie())
        .header(header::HOST, format!("localhost:{}", s.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // A change from another origin, or from nowhere said.
    for origin in [Some("http://evil.example"), Some("null"), None] {
        let mut r = http
            .post(url("/api/sheets?name=a.csv"))
            .header(header::COOKIE, s.cookie())
            .body(good_csv(",", "\n", 1));
        if let Some(o) = origin {
            r = r.header(header::ORIGIN, o);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{origin:?}");
    }
    assert!(
        !dir.path("state/page/sheets").exists()
            || std::fs::read_dir(dir.path("state/page/sheets"))
                .unwrap()
                .count()
                == 0,
        "nothing refused was kept"
    );
    // An unknown address, with the cookie.
    let (status, body) = s.get("/api/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn uploads_are_bounded_and_a_file_that_is_no_sheet_is_refused_plainly() {
    let dir = Dir::new();
    let s = Served::start(&dir, &["--max-upload", "1"]);
    let big = vec![b'a'; 1_500_000];
    let (status, body) = s.upload("big.csv", big.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("larger than the 1 MB"),
        "{body}"
    );
    // Without a length given up front (streamed), too.
    let stream = futures_util::stream::iter(
        big.chunks(100_000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = s
        .page(reqwest::Method::POST, "/api/sheets?name=big.csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await;
    // Refused while it streams: the reply, or (when the server's refusal closes the connection
    // before the client has read it) a broken upload; either way nothing is kept (below).
    if let Ok(r) = r {
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    // A picture named as a workbook; an empty file; a sheet with no header.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    let (status, body) = s.upload("plan.xlsx", png).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("plan.xlsx does not look like a sheet of broadcasts"),
        "{body}"
    );
    let (status, body) = s.upload("empty.csv", Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("empty"), "{body}");
    let zip = b"PK\x03\x04 not really a workbook".to_vec();
    let (status, body) = s.upload("broken.xlsx", zip).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let kept = std::fs::read_dir(dir.path("state/page/sheets"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(kept, 0, "a refused upload leaves nothing behind");

    // A name from another computer's folders stays one name in the page's folder.
    let (status, body) = s
        .upload("..%2F..%2Fescape.csv", good_csv(",", "\n", 1).into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["file"], "escape.csv");
    assert!(!dir.path("state/escape.csv").exists() && !dir.path("escape.csv").exists());
}

#[tokio::test]
async fn a_sheet_is_checked_mapped_fixed_rehearsed_and_downloaded() {
    let dir = Dir::new();
    let s = Served::start(&dir, &[]);
    let (status, setup) = s.get("/api/setup").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(setup["rehearsal_rate"], 3);

    // The team calls its timeout column "Ring Time".
    let text = sheet_with_one_bad_row().replacen("timeout", "Ring Time", 1);
    let original = text.clone();
    let (status, v) = s.upload("plan.csv", text.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let timeout = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "timeout")
        .unwrap();
    assert_eq!(timeout["column"], Value::Null);
    assert_eq!(timeout["proposed"], "Ring Time");
    assert!(v["problem"].as_str().unwrap().contains("timeout"), "{v}");

    // Mapped with the dropdown; remembered for the next sheet.
    let (status, v) = s
        .post(
            &format!("/api/sheets/{id}/columns"),
            json!({"field": "timeout", "column": "Ring Time"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["problem"], Value::Null);
    assert_eq!(
        (
            v["rows"].as_u64(),
            v["valid"].as_u64(),
            v["invalid"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    let bad: Vec<&Value> = v["shown"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["line"], 3);
    let problem = &bad[0]["problems"][0];
    assert_eq!(problem["column"], 4, "the cell at fault is named");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .starts_with("Ring Time (timeout): found \"30\""),
        "{problem}"
    );

    let (status, again) = s
        .upload("plan again.csv", original.clone().into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["problem"],
        Value::Null,
        "the mapping was remembered: {again}"
    );

    // A wrong fix, then the right one: checked again each time.
    let (status, v) = s
        .post(
            &format!("/api/sheets/{id}/cells"),
            json!({"line": 3, "column": 4, "value": "abc"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["invalid"], 1);
    let (status, v) = s
        .post(
            &format!("/api/sheets/{id}/cells"),
            json!({"line": 3, "column": 4, "value": "60"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            v["valid"].as_u64(),
            v["invalid"].as_u64(),
            v["fixes"].as_u64()
        ),
        (Some(4), Some(0), Some(2))
    );
    let (status, v) = s
        .post(
            &format!("/api/sheets/{id}/cells"),
            json!({"line": 99, "column": 4, "value": "60"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("no row on line 99"));
    let uploaded = std::fs::read_dir(dir.path("state/page/sheets")).unwrap();
    let mut kept_as_given = 0;
    for d in uploaded {
        let p = d.unwrap().path();
        for name in ["plan.csv", "plan again.csv"] {
            if let Ok(t) = std::fs::read_to_string(p.join(name)) {
                assert_eq!(t, original, "an upload is kept as it came");
                kept_as_given += 1;
            }
        }
    }
    assert_eq!(kept_as_given, 2);

    // A bad rate is refused before anything is sent.
    let (status, v) = s
        .post(
            "/api/runs",
            json!({"sheet": id, "target": "rehearsal", "rate": "fast"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("fast"), "{v}");
    // A token target with no token.
    let (status, v) = s
        .post("/api/runs", json!({"sheet": id, "target": "token"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("token"), "{v}");

    // Rehearse, follow it live, download.
    let (status, v) = s
        .post(
            "/api/runs",
            json!({"sheet": id, "target": "rehearsal", "rate": "auto"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let run = v["run"].as_str().unwrap().to_owned();
    let end = s.follow(&run).await;
    assert_eq!(end["phase"], "ended");
    assert_eq!(end["created"], 4, "{end}");
    assert_eq!(end["exit"], 0);
    assert!(end["summary"].as_str().unwrap().contains("4 created"));
    let (status, disposition, results) = s.download(&format!("/api/runs/{run}/results")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        disposition.contains("plan rehearsal results.csv"),
        "{disposition}"
    );
    let csv = parse_csv(&results);
    let (_, held) = s.get("/api/rehearsal").await;
    let held: Vec<(String, String)> = held["broadcasts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_owned(), b["id"].to_string()))
        .collect();
    assert_eq!(held.len(), 4, "the simulation holds one broadcast a row");
    for row in &csv.1 {
        assert_eq!(row[2], "true", "{row:?}");
        let on_server = held
            .iter()
            .find(|(n, _)| *n == row[1])
            .expect("created on the server");
        assert_eq!(on_server.1, row[6], "the results give the server's id");
    }
    assert_eq!(end["failed_rows"], 0, "no row failed");
    let (status, _, failed) = s.download(&format!("/api/runs/{run}/failed")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(parse_csv(&failed).1.len(), 0, "{failed}");

    // The run is one of this machine's, as the terminal's runs are.
    let (_, history) = s.get("/api/history").await;
    let first = &history[0];
    assert_eq!(first["rehearsal"], true);
    assert!(
        first["state"].as_str().unwrap().starts_with("4 created"),
        "{first}"
    );
    assert_eq!(first["can_continue"], false);
    let (status, _, again) = s
        .download(&format!("/api/history/{}/results", first["id"]))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, results);
}

#[tokio::test]
async fn a_stopped_run_is_continued_and_the_terminals_runs_are_listed() {
    let dir = Dir::new();
    let s = Served::start(&dir, &[]);
    let (_, v) = s
        .upload("ten.csv", good_csv(",", "\n", 10).into_bytes())
        .await;
    let id = v["id"].as_str().unwrap();
    let (status, v) = s
        .post(
            "/api/runs",
            json!({"sheet": id, "target": "rehearsal", "rate": "2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let run = v["run"].as_str().unwrap().to_owned();
    let first = s
        .follow_until(&run, |v| v["created"].as_u64() >= Some(1))
        .await;
    assert_eq!(first["ended"], false, "{first}");
    let (status, _) = s.post(&format!("/api/runs/{run}/stop"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let end = s.follow(&run).await;
    assert_eq!(end["ended"], true);
    let created = end["created"].as_u64().unwrap();
    assert!(created < 10, "stopped before the end: {end}");
    assert!(end["failed_rows"].as_u64().unwrap() >= 10 - created);

    let (_, history) = s.get("/api/history").await;
    let stopped = &history[0];
    assert_eq!(stopped["can_continue"], true, "{stopped}");
    // Continued where it was sent: a rehearsal is not continued on an account.
    let ledger_id = stopped["id"].as_i64().unwrap();
    let (status, v) = s
        .post(
            &format!("/api/history/{ledger_id}/continue"),
            json!({"target": "token", "token": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("rehearsal"), "{v}");
    let (status, v) = s
        .post(
            &format!("/api/history/{ledger_id}/continue"),
            json!({"target": "rehearsal", "rate": "3"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let end = s.follow(v["run"].as_str().unwrap()).await;
    assert_eq!(end["created"], 10, "{end}");
    assert!(end["done_before"].as_u64() >= Some(1), "{end}");
    let (_, held) = s.get("/api/rehearsal").await;
    let mut names: Vec<String> = held["broadcasts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 10);
    assert_eq!(
        held["broadcasts"].as_array().unwrap().len(),
        10,
        "no row was created twice"
    );

    // A run from the terminal, into the same ledger, is on the page too.
    let sheet = dir.write("terminal.csv", good_csv(",", "\n", 2));
    let out = crate::util::run(
        dir.cmd()
            .args(["submit", "--mock", "--rate", "0"])
            .arg(&sheet),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (_, history) = s.get("/api/history").await;
    assert!(
        history[0]["sheet"]
            .as_str()
            .unwrap()
            .ends_with("terminal.csv"),
        "{history}"
    );
}

#[tokio::test]
async fn serving_beyond_this_machine_needs_a_password() {
    let dir = Dir::new();
    let out = crate::util::run(
        dir.cmd()
            .args(["serve", "--no-open", "--listen", "192.0.2.1"]),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--password-file"), "{}", out.stderr);
    let out = crate::util::run(
        dir.cmd()
            .args(["serve", "--no-open", "--listen", "0.0.0.0"]),
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not every address"), "{}", out.stderr);

    // On loopback with a password, the form gets the cookie.
    let pw = dir.write("pw", "correct horse battery\n");
    let s = Served::start(
        &dir,
        &[
            "--listen",
            "127.0.0.1",
            "--password-file",
            pw.to_str().unwrap(),
        ],
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("type=\"password\""));
    let login = |pw: &'static str| {
        http.post(format!("{}/login", s.base))
            .header(header::ORIGIN, &s.base)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("password={pw}"))
            .send()
    };
    let r = login("wrong").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().get(header::SET_COOKIE).is_none());
    let r = login("correct+horse+battery").await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with(&s.cookie()));
}

#[tokio::test]
async fn a_workbooks_sheet_is_chosen_and_a_run_is_read_back() {
    use rust_xlsxwriter::Workbook;
    let dir = Dir::new();
    let s = Served::start(&dir, &[]);
    let mut book = Workbook::new();
    let csv = parse_csv(&good_csv(",", "\n", 3));
    for (name, rows) in [("Plan", 3usize), ("Later", 1)] {
        let ws = book.add_worksheet();
        ws.set_name(name).unwrap();
        for (c, h) in csv.0.iter().enumerate() {
            ws.write_string(0, c as u16, h).unwrap();
        }
        for (r, row) in csv.1.iter().take(rows).enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let cell = if name == "Later" && c == 0 {
                    "Later offer"
                } else {
                    cell
                };
                ws.write_string(r as u32 + 1, c as u16, cell).unwrap();
            }
        }
    }
    let bytes = book.save_to_buffer().unwrap();
    let (status, v) = s.upload("book.xlsx", bytes).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["sheets"], json!(["Plan", "Later"]));
    assert_eq!(v["sheet"], "Plan");
    assert_eq!(v["rows"], 3);
    let id = v["id"].as_str().unwrap().to_owned();

    let (status, v) = s
        .post(
            &format!("/api/sheets/{id}/sheet"),
            json!({"sheet": "Later"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (v["sheet"].as_str(), v["rows"].as_u64()),
        (Some("Later"), Some(1))
    );
    assert_eq!(v["shown"][0]["cells"][0], "Later offer");
    let (status, v) = s.get(&format!("/api/sheets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["sheet"], "Later", "the choice is kept");
    let (status, v) = s
        .post(&format!("/api/sheets/{id}/sheet"), json!({"sheet": "Nope"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap().contains("no sheet \"Nope\""),
        "{v}"
    );

    // Once a cell is fixed, the fixed copy is that sheet alone.
    let (status, v) = s
        .post(
            &format!("/api/sheets/{id}/cells"),
            json!({"line": 2, "column": 1, "value": "Later, fixed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["shown"][0]["cells"][1], "Later, fixed");
    let (status, v) = s
        .post(&format!("/api/sheets/{id}/sheet"), json!({"sheet": "Plan"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("upload the workbook again"),
        "{v}"
    );

    let (status, v) = s
        .post("/api/runs", json!({"sheet": id, "target": "rehearsal"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let run = v["run"].as_str().unwrap().to_owned();
    let end = s.follow(&run).await;
    assert_eq!(end["created"], 1, "{end}");
    let (status, v) = s.get(&format!("/api/runs/{run}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["title"], "book.xlsx");
    assert_eq!(v["now"]["ended"], true);
    let (_, setup) = s.get("/api/setup").await;
    assert_eq!(
        setup["runs"][0]["id"],
        run.as_str(),
        "a tab opened again finds the run"
    );

    for path in [
        "/api/sheets/nope",
        "/api/runs/nope",
        "/api/runs/nope/events",
        "/api/runs/nope/results",
    ] {
        let (status, v) = s.get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(v["error"].is_string(), "{path}: {v}");
    }
}

#[tokio::test]
async fn the_page_and_the_terminal_know_what_the_other_sent_to_an_account() {
    let server = bulkcast::mock::MockServer::start(bulkcast::mock::MockOptions {
        rate_limit: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = Dir::new();
    let s = Served::start(&dir, &[]);
    let text = good_csv(",", "\n", 5);
    let (_, v) = s.upload("plan.csv", text.clone().into_bytes()).await;
    let to = json!({"sheet": v["id"], "target": "token", "token": server.token(), "base_url": server.url(), "rate": "0"});
    let (status, v) = s.post("/api/runs", to).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let end = s.follow(v["run"].as_str().unwrap()).await;
    assert_eq!(end["created"], 5, "{end}");
    assert!(
        !serde_json::to_string(&end)
            .unwrap()
            .contains(server.token()),
        "the token is never sent back"
    );

    // A copy of the sheet, from the terminal, into another results file: nothing is sent again.
    let copy = dir.write("copy of plan.csv", &text);
    let mut cmd = dir.cmd();
    cmd.arg("submit").arg(&copy).args([
        "--base-url",
        &server.url(),
        "-o",
        "terminal.csv",
        "--rate",
        "0",
    ]);
    cmd.env("SMARTFLO_API_TOKEN", server.token());
    // The terminal runs while this runtime serves the account.
    let out = tokio::task::spawn_blocking(move || crate::util::run(&mut cmd))
        .await
        .unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("5 rows were created by an earlier run"),
        "{}",
        out.stderr
    );
    assert_eq!(server.stats().created, 5, "each row once");

    // Another machine (another ledger): the names are on the account, made before its run.
    let other = Dir::new();
    let s2 = Served::start(&other, &[]);
    let (_, v) = s2.upload("plan.csv", text.into_bytes()).await;
    let mut to = json!({"sheet": v["id"], "target": "token", "token": server.token(), "base_url": server.url(), "rate": "0"});
    let (_, v) = s2.post("/api/runs", to.clone()).await;
    let end = s2.follow(v["run"].as_str().unwrap()).await;
    assert!(
        end["fatal"]
            .as_str()
            .unwrap()
            .contains("already on the account"),
        "{end}"
    );
    to["existing"] = json!("skip");
    let (_, v) = s2.post("/api/runs", to).await;
    let end = s2.follow(v["run"].as_str().unwrap()).await;
    assert_eq!(
        (
            end["created"].as_u64(),
            end["existing"].as_u64(),
            end["exit"].as_u64()
        ),
        (Some(0), Some(5), Some(0)),
        "found already there, not created: {end}"
    );
    assert!(
        end["summary"]
            .as_str()
            .is_some_and(|s| s.contains("5 already on the account")),
        "{end}"
    );
    assert_eq!(server.stats().created, 5, "skipped, not created again");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_run_a_tab_is_following_and_it_can_be_continued() {
    let server = bulkcast::mock::MockServer::start(bulkcast::mock::MockOptions {
        rate_limit: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = Dir::new();
    let mut s = Served::start(&dir, &[]);
    let (_, v) = s
        .upload("plan.csv", good_csv(",", "\n", 40).into_bytes())
        .await;
    let to = json!({"sheet": v["id"], "target": "token", "token": server.token(), "base_url": server.url(), "rate": "2"});
    let (_, v) = s.post("/api/runs", to).await;
    let run = v["run"].as_str().unwrap().to_owned();
    s.follow_until(&run, |v| v["created"].as_u64() >= Some(1))
        .await;
    // A tab follows the run while the server is stopped: the run stops, the tab is told, and
    // the server ends (it does not wait for the tab, nor the tab for all 40 rows).
    let tab = {
        let r = s
            .page(reqwest::Method::GET, &format!("/api/runs/{run}/events"))
            .send()
            .await
            .unwrap();
        tokio::spawn(async move { r.text().await.unwrap_or_default() })
    };
    let status = tokio::task::block_in_place(|| s.interrupt_and_wait());
    assert!(status.success(), "{status:?}");
    let told = tab.await.unwrap();
    assert!(
        told.contains("stopped early: the page's server was stopped"),
        "{told}"
    );
    let created = server.stats().created;
    assert!(created < 40, "stopped before the end: {created}");

    // Served again on the same ledger, the run is continued where it stopped.
    let s = Served::start(&dir, &[]);
    let (_, history) = s.get("/api/history").await;
    assert_eq!(history[0]["can_continue"], true, "{history}");
    let to = json!({"target": "token", "token": server.token(), "rate": "0"});
    let (status, v) = s
        .post(&format!("/api/history/{}/continue", history[0]["id"]), to)
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let end = s.follow(v["run"].as_str().unwrap()).await;
    assert_eq!(end["created"], 40, "{end}");
    assert_eq!(server.stats().created, 40, "each row once");
}

#[tokio::test]
async fn a_sheet_with_no_rows_sends_nothing_and_says_so_as_submit_does() {
    let dir = Dir::new();
    let s = Served::start(&dir, &[]);
    let (status, v) = s
        .upload("empty.csv", good_csv(",", "\n", 0).into_bytes())
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["rows"], 0);
    let (_, v) = s
        .post(
            "/api/runs",
            json!({"sheet": v["id"], "target": "rehearsal"}),
        )
        .await;
    let end = s.follow(v["run"].as_str().unwrap()).await;
    assert!(
        end["fatal"]
            .as_str()
            .unwrap()
            .contains("has a header and nothing under it"),
        "{end}"
    );
    assert_eq!(end["exit"], 1, "as `submit` exits on such a sheet");
}
