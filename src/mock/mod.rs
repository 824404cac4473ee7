//! A faithful local simulation of the parts of Smartflo that bulkcast uses, for trying bulkcast
//! without an account, and for tests and benchmarks that must never touch the internet.
//!
//! [`MockServer`] serves `POST /v1/broadcast`, `GET /v2/broadcasts` and `POST /v1/auth/login` on
//! loopback, with the contract's auth, validation, replies and account-wide rate limit, plus
//! fault injection (5xx, 429, `success:false`, a connection dropped or a reply delayed *after*
//! the broadcast was created) drawn from a seeded generator so a run can be reproduced.
//! [`MockServer::stats`] says what the server saw: requests, broadcasts per name (so a test can
//! assert zero duplicates), 429s sent, the busiest one-second window and the most requests in
//! flight at once.
//!
//! Connections are served with hyper directly (routes with axum) so that a handler can drop the
//! connection without any reply, as a real network failure would.

mod api;
mod creates;
mod replies;

mod validation;

pub use crate::mock_options::{MockOptions, DEFAULT_EMAIL, DEFAULT_PASSWORD, DEFAULT_TOKEN};

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Where the simulation reports its statistics (not rate limited, not counted).
pub const STATS_PATH: &str = "/__mock/stats";

/// What the server has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Every API request received (the stats endpoint excluded).
    pub requests: u64,
    /// Broadcasts created.
    pub created: u64,
    /// Names created more than once, with how many times.
    pub duplicates: BTreeMap<String, u64>,
    /// 429 replies sent, by the rate limit or by fault injection.
    pub too_many_requests: u64,
    /// The most requests received in one fixed one-second window.
    pub busiest_second: u64,
    /// The most requests being handled at once.
    pub max_in_flight: u64,
    /// Login requests, successful or not.
    pub logins: u64,
    /// Injected faults by kind.
    pub faults: Faults,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    pub server_error: u64,
    pub too_many_requests: u64,
    pub success_false: u64,
    pub dropped_after_create: u64,
    pub slow_after_create: u64,
    pub list_error: u64,
    pub garbage_reply: u64,
    pub huge_reply: u64,
    pub slow_body: u64,
    pub error_after_create: u64,
    /// Requests answered 503 during the outage window.
    pub outage: u64,
}

/// A broadcast as the server stored it: its id and the JSON body exactly as received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredBroadcast {
    pub id: u64,
    pub name: String,
    pub body: serde_json::Value,
}

/// A broadcast as kept in memory: the body as its bytes (a million of them must fit).
struct Stored {
    id: u64,
    name: Box<str>,
    body: Box<[u8]>,
    /// When it was created (a listing may show it only some time later).
    created: Instant,
    /// The same, as the listing's `created_at` shows it: seconds since the epoch.
    made_at: u64,
}

/// Now, in seconds since the epoch.
pub(super) fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Stored {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// A running simulated Smartflo. Stops when dropped or on [`MockServer::shutdown`].
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<State>,
    stop: CancellationToken,
}

impl MockServer {
    /// Bind a free port on `127.0.0.1` and start serving on the current tokio runtime.
    pub async fn start(opts: MockOptions) -> std::io::Result<MockServer> {
        MockServer::start_on(0, opts).await
    }

    /// Bind `127.0.0.1:port` (0 = any free port) and start serving on the current tokio runtime.
    pub async fn start_on(port: u16, opts: MockOptions) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(opts));
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, state.clone(), stop.clone()));
        Ok(MockServer { addr, state, stop })
    }

    /// The base URL to give bulkcast, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token this server accepts.
    pub fn token(&self) -> &str {
        &self.state.opts.token
    }

    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// Every broadcast created so far, in creation order.
    pub fn broadcasts(&self) -> Vec<StoredBroadcast> {
        let inner = self.state.lock();
        inner
            .broadcasts
            .iter()
            .map(|b| StoredBroadcast {
                id: b.id,
                name: b.name.to_string(),
                body: b.json(),
            })
            .collect()
    }

    /// End the injected faults from now on: the same account, back to health (an outage
    /// that is over).
    pub fn heal(&self) {
        self.state.healed.store(true, Ordering::SeqCst);
    }

    /// Make every listing answer 503 from now on (creates still work).
    pub fn break_listing(&self) {
        self.state.listing_down.store(true, Ordering::SeqCst);
    }

    /// How many broadcasts this server created with `name` (those on the account before it
    /// started are not counted).
    pub fn count_named(&self, name: &str) -> u64 {
        self.state.lock().per_name.get(name).copied().unwrap_or(0)
    }

    /// Stop accepting and close every connection.
    pub fn shutdown(&self) {
        self.stop.cancel();
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    let router = api::router(state.clone());
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("mock server: accept failed: {e}");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (state, router, stop) = (state.clone(), router.clone(), stop.clone());
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| handle(state.clone(), router.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

/// Returned instead of a response to make hyper close the connection without replying.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// Every request passes here: counting, the account-wide rate limit, latency, then the route.
async fn handle(
    state: Arc<State>,
    router: axum::Router,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, DropConnection> {
    if req.uri().path() == STATS_PATH {
        return Ok(replies::json(StatusCode::OK, &state.stats()));
    }
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    if let Some(delay) = state.jitter() {
        tokio::time::sleep(delay).await;
    }
    let _in_flight = state.arrive();
    let response = if state.in_outage() {
        state.lock().stats.faults.outage += 1;
        replies::unavailable()
    } else if state.over_rate_limit() {
        replies::too_many_requests(&state)
    } else {
        if !state.opts.latency.is_zero() {
            tokio::time::sleep(state.opts.latency).await;
        }
        let response: Result<Response<Body>, Infallible> = router.oneshot(req.map(Body::new)).await;
        let Ok(response) = response;
        response
    };
    if response.extensions().get::<api::Drop>().is_some() {
        tracing::debug!(
            "mock: {method} {path} -> connection dropped after {:?}",
            started.elapsed()
        );
        return Err(DropConnection);
    }
    tracing::debug!(
        "mock: {method} {path} -> {} in {:?}",
        response.status(),
        started.elapsed()
    );
    Ok(response)
}

/// The server's shared state.
struct State {
    opts: MockOptions,
    started: Instant,
    in_flight: AtomicU64,
    /// The outage is over: no more faults are injected.
    healed: AtomicBool,
    /// Every listing answers 503 from now on.
    listing_down: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rng: Option<StdRng>,
    broadcasts: Vec<Stored>,
    per_name: std::collections::HashMap<String, u64>,
    next_id: u64,
    /// The id of the first broadcast created (what `--same-id` answers every create with).
    first_id: u64,
    stats: Stats,
    /// The current fixed window (seconds since start) and the requests counted in it.
    window: (u64, u64),
    /// The token in force, when it expires, its uses, and how many times it was rotated.
    token: String,
    token_expires: Option<Instant>,
    token_uses: u64,
    generation: u64,
}

impl State {
    fn new(opts: MockOptions) -> State {
        let started = Instant::now();
        let mut inner = Inner {
            rng: Some(StdRng::seed_from_u64(opts.seed)),
            token: opts.token.clone(),
            token_expires: opts.token_life.map(|life| started + life),
            next_id: 3176,
            ..Inner::default()
        };
        // Broadcasts someone made before: on the account, visible at once, not counted as
        // created by this server.
        let long_ago = started.checked_sub(opts.list_lag).unwrap_or(started);
        for name in &opts.existing {
            let id = inner.next_id;
            inner.next_id += 1;
            inner.broadcasts.push(Stored {
                id,
                name: name.as_str().into(),
                body: Box::default(),
                created: long_ago,
                made_at: epoch_secs().saturating_sub(86_400),
            });
        }
        State {
            opts,
            started,
            in_flight: AtomicU64::new(0),
            healed: AtomicBool::new(false),
            listing_down: AtomicBool::new(false),
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        crate::lock(&self.inner)
    }

    /// Count a request in, and in the current one-second window; the guard counts it out.
    fn arrive(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let second = self.started.elapsed().as_secs();
        let mut inner = self.lock();
        inner.stats.requests += 1;
        inner.stats.max_in_flight = inner.stats.max_in_flight.max(now);
        if inner.window.0 != second {
            inner.window = (second, 0);
        }
        inner.window.1 += 1;
        inner.stats.busiest_second = inner.stats.busiest_second.max(inner.window.1);
        InFlight(&self.in_flight)
    }

    /// Whether the API is down now (the outage window).
    fn in_outage(&self) -> bool {
        let Some(after) = self.opts.outage_after else {
            return false;
        };
        let t = self.started.elapsed();
        t >= after && t < after + self.opts.outage_for
    }

    /// Whether the request just counted is over the account's limit for this second.
    fn over_rate_limit(&self) -> bool {
        let limit = u64::from(self.opts.rate_limit);
        limit > 0 && self.lock().window.1 > limit
    }

    /// A transit delay drawn from 0 up to `--jitter`, if there is any jitter.
    fn jitter(&self) -> Option<std::time::Duration> {
        let max = self.opts.jitter;
        if max.is_zero() {
            return None;
        }
        let share = self
            .lock()
            .rng
            .as_mut()
            .map_or(0.0, |rng| rng.random::<f64>());
        Some(max.mul_f64(share))
    }

    /// Draw whether a fault of probability `p` happens now.
    fn chance(&self, p: f64) -> bool {
        p > 0.0
            && !self.healed.load(Ordering::SeqCst)
            && self
                .lock()
                .rng
                .as_mut()
                .is_some_and(|rng| rng.random::<f64>() < p)
    }

    fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        stats.duplicates = inner
            .per_name
            .iter()
            .filter(|(_, &n)| n > 1)
            .map(|(k, &n)| (k.clone(), n))
            .collect();
        stats
    }
}

struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
