//! The built-in simulated Smartflo, driven with a plain HTTP client.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use bulkcast::mock::{
    MockOptions, MockServer, DEFAULT_EMAIL, DEFAULT_PASSWORD, DEFAULT_TOKEN, STATS_PATH,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::util::Dir;

fn body(name: &str) -> Value {
    json!({"name":name,"description":"Details","phone_number_list":214864,
        "destination":"ivr||7926","timeout":"40","concurrent_limit":"5","retry_after_minutes":[5,10],
        "caller_id_number":"918069000000","number_of_retry":"2","start_date_time":"2026-12-02 09:00:00",
        "end_date_time":"2026-12-02 18:00:00","time_group":"1234","dialstatus":[1,2,3,4,5],
        "retry_dialstatus":[1,3]})
}

async fn start(opts: MockOptions) -> MockServer {
    MockServer::start(opts)
        .await
        .expect("mock server starts on port 0")
}

async fn create(server: &MockServer, body: &Value) -> reqwest::Result<(StatusCode, Value)> {
    let r = reqwest::Client::new()
        .post(format!("{}/v1/broadcast", server.url()))
        .bearer_auth(DEFAULT_TOKEN)
        .json(body)
        .send()
        .await?;
    let status = r.status();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn creates_with_a_bearer_token_and_rejects_without() {
    let server = start(MockOptions::default()).await;
    let c = reqwest::Client::new();
    let url = format!("{}/v1/broadcast", server.url());
    for auth in [None, Some("Bearer wrong"), Some(DEFAULT_TOKEN)] {
        let mut req = c.post(&url).json(&body("A"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
    }
    let (status, reply) = create(&server, &body("A")).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["success"], json!(true));
    assert_eq!(reply["broadcast_id"], json!(3176));
    let stats = server.stats();
    assert_eq!((stats.requests, stats.created), (4, 1));
    assert_eq!(server.broadcasts()[0].body, body("A"));
}

#[tokio::test]
async fn invalid_bodies_get_400_with_messages_by_field() {
    let server = start(MockOptions::default()).await;
    let mut b = body("A");
    b["timeout"] = json!("30");
    b["phone_number_list"] = json!("214864");
    let (status, reply) = create(&server, &b).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["success"], json!(false));
    assert_eq!(
        reply["message"]["timeout"],
        json!(["The timeout must be at least 40."])
    );
    assert!(reply["message"]["phone_number_list"].is_array());
    assert_eq!(server.stats().created, 0);
}

#[tokio::test]
async fn the_list_pages_through_broadcasts_in_creation_order() {
    let server = start(MockOptions::default()).await;
    for i in 0..25 {
        create(&server, &body(&format!("B{i}"))).await.unwrap();
    }
    let c = reqwest::Client::new();
    let mut names = Vec::new();
    for (page, expect) in [(1, 10), (2, 10), (3, 5), (4, 0)] {
        let r: Value = c
            .get(format!(
                "{}/v2/broadcasts?limit=10&page={page}",
                server.url()
            ))
            .bearer_auth(DEFAULT_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["page"], json!(page));
        assert_eq!(r["size"], json!(expect));
        let results = r["results"].as_array().unwrap();
        assert_eq!(results.len(), expect);
        for b in results {
            assert!(b["id"].is_string(), "ids are strings: {b}");
            names.push(b["name"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(names, (0..25).map(|i| format!("B{i}")).collect::<Vec<_>>());
    let r = c
        .get(format!("{}/v2/broadcasts?limit=101", server.url()))
        .bearer_auth(DEFAULT_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .get(format!("{}/v2/broadcasts", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn login_returns_the_token_for_the_right_credentials_only() {
    let server = start(MockOptions::default()).await;
    let c = reqwest::Client::new();
    let url = format!("{}/v1/auth/login", server.url());
    let r = c
        .post(&url)
        .json(&json!({"email": DEFAULT_EMAIL, "password": DEFAULT_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let reply: Value = r.json().await.unwrap();
    assert_eq!(reply["access_token"], json!(DEFAULT_TOKEN));
    assert_eq!(reply["token_type"], json!("bearer"));
    let r = c
        .post(&url)
        .json(&json!({"email": DEFAULT_EMAIL, "password": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_covers_every_endpoint_and_answers_429_with_string_false() {
    let server = start(MockOptions {
        rate_limit: 5,
        ..MockOptions::default()
    })
    .await;
    let c = reqwest::Client::new();
    // 12 requests of mixed kinds at once: they land in at most two one-second windows.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (c, url) = (c.clone(), server.url());
        tasks.push(tokio::spawn(async move {
            let req = if i % 2 == 0 {
                c.post(format!("{url}/v1/broadcast"))
                    .json(&body(&format!("R{i}")))
            } else {
                c.get(format!("{url}/v2/broadcasts?limit=1&page=1"))
            };
            let r = req.bearer_auth(DEFAULT_TOKEN).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }));
    }
    let mut limited = 0;
    for t in tasks {
        let (status, reply) = t.await.unwrap();
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
            assert_eq!(
                reply,
                json!({"success": "false", "message": "Too many requests."})
            );
        }
    }
    assert!(
        limited >= 2,
        "at most 2 windows x 5 pass: {limited} limited"
    );
    let stats = server.stats();
    assert_eq!(stats.too_many_requests, limited);
    assert!(stats.busiest_second >= 6, "{stats:?}");
}

#[tokio::test]
async fn injected_faults_behave_as_documented() {
    let always = |f: fn(&mut MockOptions)| {
        let mut o = MockOptions::default();
        f(&mut o);
        o
    };

    let server = start(always(|o| o.fail_5xx = 1.0)).await;
    assert_eq!(
        create(&server, &body("A")).await.unwrap().0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(server.stats().created, 0);

    let server = start(always(|o| {
        o.fail_429 = 1.0;
        o.retry_after = Some(7);
    }))
    .await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/broadcast", server.url()))
        .bearer_auth(DEFAULT_TOKEN)
        .json(&body("A"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(server.stats().faults.too_many_requests, 1);

    let server = start(always(|o| o.fail_false = 1.0)).await;
    let (status, reply) = create(&server, &body("A")).await.unwrap();
    assert_eq!((status, &reply["success"]), (StatusCode::OK, &json!(false)));
    assert_eq!(server.stats().created, 0);

    let server = start(always(|o| o.drop_after_create = 1.0)).await;
    let err = create(&server, &body("A")).await.unwrap_err();
    assert!(
        !err.is_status() && !err.is_connect(),
        "dropped after sending: {err:?}"
    );
    assert_eq!(server.count_named("A"), 1, "created before the drop");

    let server = start(always(|o| {
        o.slow_after_create = 1.0;
        o.slow_delay = Duration::from_secs(30);
    }))
    .await;
    let err = reqwest::Client::new()
        .post(format!("{}/v1/broadcast", server.url()))
        .bearer_auth(DEFAULT_TOKEN)
        .timeout(Duration::from_millis(300))
        .json(&body("A"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.count_named("A"), 1, "created before the slow reply");

    let server = start(always(|o| o.reply_with_id = false)).await;
    let (status, reply) = create(&server, &body("A")).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(reply.get("broadcast_id").is_none(), "{reply}");
}

#[tokio::test]
async fn a_seed_reproduces_the_same_faults() {
    let opts = MockOptions {
        fail_5xx: 0.5,
        seed: 42,
        ..MockOptions::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = start(opts.clone()).await;
        let mut statuses = Vec::new();
        for i in 0..20 {
            statuses.push(
                create(&server, &body(&format!("S{i}")))
                    .await
                    .unwrap()
                    .0
                    .as_u16(),
            );
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].contains(&503) && runs[0].contains(&200),
        "{:?}",
        runs[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_replies_and_stats_count_what_overlapped() {
    let server = start(MockOptions {
        latency: Duration::from_millis(1000),
        ..MockOptions::default()
    })
    .await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..5 {
        let server_url = server.url();
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{server_url}/v1/broadcast"))
                .bearer_auth(DEFAULT_TOKEN)
                .json(&body(&format!("L{i}")))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let stats = server.stats();
    assert_eq!(stats.max_in_flight, 5, "{stats:?}");
    create(&server, &body("L0")).await.unwrap();
    assert_eq!(server.stats().duplicates.get("L0"), Some(&2));

    let over_http: bulkcast::mock::Stats = reqwest::get(format!("{}{STATS_PATH}", server.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, server.stats());
}

#[test]
fn the_subcommand_prints_its_real_port_and_serves() {
    let dir = Dir::new();
    let mut child = dir
        .cmd()
        .args(["mock-server", "--port", "0", "--token", "t0k"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{url}/v2/broadcasts"))
            .bearer_auth("t0k")
            .send()
            .await
            .unwrap()
            .status()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn transit_jitter_delays_requests_before_they_reach_the_limiter() {
    let server = start(MockOptions {
        jitter: Duration::from_millis(100),
        seed: 1,
        ..MockOptions::default()
    })
    .await;
    let started = std::time::Instant::now();
    for i in 0..10 {
        let (status, _) = create(&server, &body(&format!("J{i}"))).await.unwrap();
        assert_eq!(status, StatusCode::OK);
    }
    let took = started.elapsed();
    // Ten draws from 0-100 ms, one after the other (the seed makes the draws the same each
    // run, and they add up to more than 200 ms): a lower bound, which no machine's speed moves.
    assert!(took >= Duration::from_millis(200), "{took:?}");
}
