//! Criterion benchmarks, each reporting rows per second (`Throughput::Elements`), each checking
//! inside the timed loop that it did the work it claims (a bench that validates or sends
//! nothing fails instead of looking fast):
//!
//! 1. `parse_validate`: an in-memory CSV of realistic rows through the row reader (no I/O);
//! 2. `submit`: end-to-end `submit --rate 0` of N rows against the built-in simulated Smartflo
//!    in-process, with zero added latency, at a few concurrency levels; beside it,
//!    `reqwest_alone`: the same bodies POSTed at concurrency 32 by reqwest configured as bulkcast
//!    configures it and nothing else (no reading, journal, results), the ceiling the HTTP client
//!    itself sets;
//! 3. `results_writer`: outcomes, arriving slightly out of order, into the ordered results CSV.
//!
//! `cargo bench` runs them; `benches/compare.sh` measures the whole binary against a plain load
//! generator.

use std::io::Cursor;
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bulkcast::config::{SubmitConfig, Target};
use bulkcast::input::{InputOptions, RowReader};
use bulkcast::ledger::outcome::{Outcome, Status};
use bulkcast::mock::{MockOptions, MockServer};
use bulkcast::net::Rate;
use bulkcast::output::results::ResultsWriter;
use bulkcast::secret::{Auth, Secret};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// As in the binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HEADER: &str = "name,description,phone_number_list,destination,timeout,concurrent_limit,retry_after_minutes,caller_id_number,number_of_retry,start_date_time,end_date_time,time_group,dialstatus,retry_dialstatus\n";

/// `n` rows as a planning sheet has them: varied names, lists, dates and caller ids.
fn sheet(n: usize) -> String {
    let mut s = String::from(HEADER);
    for i in 0..n {
        s += &format!(
            "Diwali offer {i} - Pune,Festive offer reminder for Pune leads batch {i},{},ivr||7926,{},{},{},+91 80 6900 {:04},{},2026-12-{:02} 09:00,2026-12-{:02} 18:00:00,{},1;2;3;4;5,\"[1, 3]\"\n",
            214000 + i % 5000,
            40 + i % 20,
            1 + i % 8,
            if i % 2 == 0 { "5;10" } else { "10 30 60" },
            i % 10000,
            i % 6,
            1 + i % 28,
            1 + i % 28,
            1234 + i % 3,
        );
    }
    s
}

fn parse_validate(c: &mut Criterion) {
    const ROWS: usize = 10_000;
    let bytes: Arc<[u8]> = sheet(ROWS).into_bytes().into();
    let opts = InputOptions::default();
    let mut group = c.benchmark_group("parse_validate");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("10k_rows", |b| {
        b.iter(|| {
            let input = Box::new(Cursor::new(bytes.clone()));
            let mut rows = RowReader::from_reader(input, Path::new("bench.csv"), &opts).unwrap();
            let mut valid = 0;
            while let Some(row) = rows.next_row() {
                valid += usize::from(row.unwrap().is_valid());
            }
            assert_eq!(valid, ROWS, "every bench row is valid");
        })
    });
    group.finish();
}

/// A workbook of `rows` rows of [`sheet`], typed as Excel types them: counts as numbers, dates
/// as dates.
fn workbook(path: &Path, rows: usize) {
    let text = sheet(rows);
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    for (r, rec) in csv.records().enumerate() {
        let rec = rec.unwrap();
        for (c, cell) in rec.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            if r > 0 && matches!(c, 2 | 4 | 5 | 8 | 11) {
                ws.write_number(r, c, cell.parse::<f64>().unwrap()).unwrap();
            } else if r > 0 && matches!(c, 9 | 10) {
                let dt = rust_xlsxwriter::ExcelDateTime::parse_from_str(&cell[..16]).unwrap();
                ws.write_datetime_with_format(r, c, &dt, &date).unwrap();
            } else {
                ws.write_string(r, c, cell).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

/// Reading a workbook: `validate`'s work on an `.xlsx` of 10,000 rows (streamed from its XML).
fn workbook_read(c: &mut Criterion) {
    const ROWS: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.xlsx");
    workbook(&path, ROWS);
    let opts = InputOptions::default();
    let mut group = c.benchmark_group("workbook_read");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("xlsx_10k_rows", |b| {
        b.iter(|| {
            let mut rows = RowReader::open(&path, &opts).unwrap();
            let mut valid = 0;
            while let Some(row) = rows.next_row() {
                valid += usize::from(row.unwrap().is_valid());
            }
            assert_eq!(valid, ROWS, "every bench row is valid");
        })
    });
    group.finish();
}

fn submit(c: &mut Criterion) {
    const ROWS: usize = 2_000;
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let server = server_rt
        .block_on(MockServer::start(MockOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sheet.csv");
    std::fs::write(&input, sheet(ROWS)).unwrap();
    let terminal = bulkcast::logging::init(0, true);

    let mut group = c.benchmark_group("submit");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    let mut run = 0u64;
    for concurrency in [8usize, 32, 128] {
        group.bench_with_input(
            BenchmarkId::from_parameter(concurrency),
            &concurrency,
            |b, &concurrency| {
                b.iter(|| {
                    run += 1;
                    let results = dir.path().join(format!("results-{run}.csv"));
                    let cfg = SubmitConfig {
                        input: input.clone(),
                        results: results.clone(),
                        input_opts: InputOptions::default(),
                        target: Some(Target::Remote {
                            base_url: server.url(),
                            auth: Auth::Token(Secret::new(server.token())),
                        }),
                        target_name: server.url(),
                        rate: Rate::Unlimited,
                        burst: NonZeroU32::MIN,
                        concurrency,
                        max_retries: 5,
                        timeout: Duration::from_secs(30),
                        max_errors: None,
                        summary_json: None,
                        resume: false,
                        failed: None,
                        skip_existing: false,
                        allow_existing_names: false,
                        settle: Duration::from_secs(10),
                        outage_wait: Duration::from_secs(900),
                        settings: String::new(),
                        continue_with: String::new(),
                        dry_run_account: None,
                        bodies: None,
                        max_listing_pages: 20_000,
                        // Each iteration is a run of its own, remembered nowhere else.
                        state_dir: Some(dir.path().join(format!("state-{run}"))),
                    };
                    let exit = bulkcast::cmd::submit::run(cfg, &terminal).unwrap();
                    assert_eq!(exit, bulkcast::Exit::Success, "every row created");
                    std::fs::remove_file(results).unwrap();
                })
            },
        );
    }

    // The HTTP client alone, on one thread as bulkcast sends, 32 requests in flight.
    let bodies: Vec<bytes::Bytes> = {
        let input = Box::new(Cursor::new(sheet(ROWS).into_bytes()));
        let mut rows =
            RowReader::from_reader(input, Path::new("bench.csv"), &InputOptions::default())
                .unwrap();
        std::iter::from_fn(|| rows.next_row())
            .map(|row| row.unwrap().verdict.unwrap().to_body())
            .collect()
    };
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = bulkcast::net::client::http_client(Duration::from_secs(30), 32).unwrap();
    let url = reqwest::Url::parse(&format!("{}/v1/broadcast", server.url())).unwrap();
    let auth = format!("Bearer {}", server.token());
    let mut alone = 0u64;
    group.bench_function("reqwest_alone/32", |b| {
        b.iter(|| {
            alone += 1;
            let created = client_rt.block_on(post_all(&http, &url, &auth, &bodies, 32));
            assert_eq!(created, ROWS, "every POST answered 200");
        })
    });
    group.finish();
    assert_eq!(
        server.stats().created,
        ROWS as u64 * (run + alone),
        "each run created every row once"
    );
}

/// POST every body, `concurrency` at a time; how many were answered 200.
async fn post_all(
    http: &reqwest::Client,
    url: &reqwest::Url,
    auth: &str,
    bodies: &[bytes::Bytes],
    concurrency: usize,
) -> usize {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = tokio::task::JoinSet::new();
    for body in bodies {
        let slot = slots.clone().acquire_owned().await.unwrap();
        let request = http
            .post(url.clone())
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(body.clone());
        tasks.spawn(async move {
            let reply = request.send().await.unwrap();
            let ok = reply.status() == 200 && !reply.bytes().await.unwrap().is_empty();
            drop(slot);
            ok
        });
    }
    tasks.join_all().await.into_iter().filter(|&ok| ok).count()
}

fn results_writer(c: &mut Criterion) {
    const ROWS: u64 = 100_000;
    let outcome = |seq: u64| Outcome {
        seq,
        line: seq + 2,
        name: format!("Diwali offer {seq} - Pune"),
        status: Status::Created,
        http_status: Some(200),
        message: "Broadcast created successfully.".into(),
        broadcast_id: Some((3176 + seq).to_string()),
        attempts: 1,
        elapsed: Duration::from_millis(212),
    };
    // Completion order: each group of 8 finishes in reverse, as concurrent requests do.
    let order: Vec<Outcome> = (0..ROWS)
        .map(|i| outcome((i / 8) * 8 + (7 - i % 8)))
        .collect();
    let mut group = c.benchmark_group("results_writer");
    group.throughput(Throughput::Elements(ROWS));
    group.bench_function("100k_rows", |b| {
        b.iter(|| {
            let mut w = ResultsWriter::new(Vec::with_capacity(16 << 20), "bench").unwrap();
            for o in &order {
                w.push(o.clone()).unwrap();
            }
            assert_eq!(w.written(), ROWS);
            std::hint::black_box(w.finish().unwrap().len())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    parse_validate,
    workbook_read,
    submit,
    results_writer
);
criterion_main!(benches);
