//! The page in a real browser: headless Chromium driven over WebDriver (`chromedriver`).
//! A workbook with one bad row is chosen in the file input labelled "Spreadsheet"; its message
//! is read; the cell is fixed on the page; the sheet is rehearsed; the run is waited for; the
//! results are downloaded by the browser and checked against what the simulation holds.
//!
//! Where Chromium or chromedriver is missing the test says so and passes (a fresh machine with
//! only Rust); `.ci/run` installs both, and on CI (`CI` set) a missing browser fails the test.
//! Screenshots are kept in `target/browser/` to be looked at.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use rust_xlsxwriter::Workbook;
use serde_json::{json, Value};

use crate::serve::Served;
use crate::util::{parse_csv, Dir, FIELDS};

/// How long the page may take to show something (a rehearsal of three rows takes a second or
/// two; this is a bound for a busy machine, not a pace).
const PATIENCE: Duration = Duration::from_secs(120);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let mut child = Command::new(program)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines.next().expect("chromedriver said its port").unwrap();
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three rows on the sheet "Plan" of a workbook typed as Excel types it; line 3's timeout is
/// 30 (below 40). A second sheet "Notes" holds nothing to send.
fn workbook(path: &Path) {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("Plan").unwrap();
    for (c, h) in FIELDS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (i, name) in [
        "Diwali offer - Pune",
        "Diwali offer - Nashik",
        "Diwali offer - Goa",
    ]
    .into_iter()
    .enumerate()
    {
        let r = i as u32 + 1;
        let timeout = if r == 2 { 30.0 } else { 40.0 };
        crate::util::typed_row(ws, r, name, "Festive offer", timeout);
    }
    book.add_worksheet().set_name("Notes").unwrap();
    book.save(path).unwrap();
}

/// Wait until `css` matches an element for which `ready` holds.
async fn until(c: &Client, css: &str, what: &str, ready: impl Fn(&str) -> bool) -> Element {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(text) = e.text().await {
                if ready(&text) {
                    return e;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "the page never showed {what} ({css})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test]
async fn a_workbook_is_fixed_on_the_page_rehearsed_and_its_results_downloaded() {
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_program(&["chromedriver", "chromium-driver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium and chromedriver (.ci/run installs them)"
        );
        eprintln!(
            "skipped: no Chromium or chromedriver here (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let dir = Dir::new();
    let sheet = dir.path("plan.xlsx");
    workbook(&sheet);
    let served = Served::start(&dir, &[]);
    let driver = Driver::start(&driver);
    let profile = dir.path("chromium-profile");
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                format!("--user-data-dir={}", profile.display()), "--window-size=1280,800",
            ],
        }
    });
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("a browser session");
    let result = journey(&c, &served, &sheet).await;
    let _ = c.close().await;
    result
}

async fn journey(c: &Client, served: &Served, sheet: &Path) {
    c.goto(&format!("{}/?token={}", served.base, served.token))
        .await
        .unwrap();
    let url = c.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("token"),
        "the token leaves the address bar: {url}"
    );

    // Choose the workbook in the input labelled "Spreadsheet".
    let label = c.find(Locator::Css("label[for=file]")).await.unwrap();
    assert_eq!(label.text().await.unwrap(), "Spreadsheet");
    let input = c.find(Locator::Id("file")).await.unwrap();
    input.send_keys(sheet.to_str().unwrap()).await.unwrap();

    // The bad row's message, beside its highlighted cell.
    until(c, "#rows-summary", "the check", |t| t.contains("3 rows")).await;
    let problems = until(
        c,
        "tr.has-problem td.problems",
        "the bad row's message",
        |t| !t.is_empty(),
    )
    .await;
    let message = problems.text().await.unwrap();
    assert!(
        message.contains("timeout: found \"30\" (below 40)"),
        "{message}"
    );
    let cell = c
        .find(Locator::Css("tr.has-problem td.bad input"))
        .await
        .unwrap();
    assert_eq!(cell.prop("value").await.unwrap().as_deref(), Some("30"));
    assert_eq!(
        cell.attr("aria-label").await.unwrap().as_deref(),
        Some("Line 3, timeout")
    );
    let sheets = c.find(Locator::Id("sheet")).await.unwrap();
    assert!(
        sheets.is_displayed().await.unwrap(),
        "a workbook of two sheets offers them"
    );
    c.execute(
        "document.getElementById('step-columns').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(c, "1-checked.png").await;

    // Every control has a label a screen reader can say.
    let unlabelled = c
        .execute(
            "return [...document.querySelectorAll('input, select, button')]
                .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
                .map(e => e.id || e.outerHTML)",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(unlabelled, json!([]), "controls without a label");

    // Fix the cell in place (Enter): the sheet is checked again.
    c.execute(
        "arguments[0].scrollIntoView({block: 'center', inline: 'center'})",
        vec![serde_json::to_value(&cell).unwrap()],
    )
    .await
    .unwrap();
    cell.click().await.unwrap();
    // End, two backspaces, then the new value and Enter: as a person types it.
    cell.send_keys("\u{E010}\u{E003}\u{E003}60\u{E007}")
        .await
        .unwrap();
    until(c, "#rows-summary", "the row checked again", |t| {
        t.contains("3 ready to send, 0 with problems")
    })
    .await;

    // Rehearse (the default), and wait for the end.
    let rehearsal = c
        .find(Locator::Css("input[name=target][value=rehearsal]"))
        .await
        .unwrap();
    assert!(rehearsal.is_selected().await.unwrap());
    c.find(Locator::Id("send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(c, "#summary-text", "the summary", |t| {
        t.contains("3 created")
    })
    .await;
    screenshot(c, "2-rehearsed.png").await;
    let created = c
        .find(Locator::Id("c-created"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(created, "3");

    // Download the results, as the browser does.
    let link = c.find(Locator::LinkText("Download results")).await.unwrap();
    let href = link.attr("href").await.unwrap().expect("a link");
    let failed = c.find(Locator::Id("dl-failed")).await.unwrap();
    assert_eq!(
        failed.text().await.unwrap_or_default(),
        "",
        "no failed rows to download"
    );
    let text = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(r => r.text()).then(done, e => done('failed: ' + e))",
            vec![json!(href)],
        )
        .await
        .unwrap();
    let results = parse_csv(text.as_str().expect("the file's text"));
    assert_eq!(results.1.len(), 3, "{text}");
    let (_, held) = served.get("/api/rehearsal").await;
    let held: &Vec<Value> = held["broadcasts"].as_array().unwrap();
    assert_eq!(held.len(), 3, "the simulation holds one broadcast a row");
    for row in &results.1 {
        assert_eq!(row[2], "true", "{row:?}");
        let b = held
            .iter()
            .find(|b| b["name"] == row[1].as_str())
            .expect("on the server");
        assert_eq!(
            b["id"].to_string(),
            row[6],
            "the results give the server's id"
        );
    }

    // Readable in a narrow window: nothing but the tables scrolls sideways.
    c.set_window_size(420, 800).await.unwrap();
    screenshot(c, "3-narrow.png").await;
    let wide = c
        .execute(
            "const w = document.documentElement.clientWidth;
             return [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.scroll'))
                .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)",
            vec![],
        )
        .await
        .unwrap();
    let overflow = c
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 1,
        "the page is wider than a narrow window by {overflow}: {wide}"
    );
}
