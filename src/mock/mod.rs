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
mod validation;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::secret::Secret;

pub const DEFAULT_TOKEN: &str = "mock-token";
pub const DEFAULT_EMAIL: &str = "ops@example.com";
pub const DEFAULT_PASSWORD: &str = "mock-password";
/// Where the simulation reports its statistics (not rate limited, not counted).
pub const STATS_PATH: &str = "/__mock/stats";

/// How the simulated server behaves. Declared once, here: these are also the `mock-server`
/// command's flags, and [`Default`] is what those flags default to.
#[derive(Debug, Clone, clap::Args)]
pub struct MockOptions {
    /// The bearer token the server accepts
    #[arg(long, default_value = DEFAULT_TOKEN)]
    pub token: String,
    /// The login email accepted by /v1/auth/login
    #[arg(long, default_value = DEFAULT_EMAIL)]
    pub email: String,
    /// The login password accepted by /v1/auth/login
    #[arg(long, default_value = DEFAULT_PASSWORD, value_parser = secret)]
    pub password: Secret,
    /// Account-wide requests per second over all endpoints, in fixed one-second windows (0 = none)
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Added latency before every reply, e.g. `50ms`
    #[arg(long, default_value = "0ms", value_parser = humantime::parse_duration)]
    pub latency: Duration,
    /// Probability that a create answers 5xx (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_5xx: f64,
    /// Probability that a create answers 429 (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_429: f64,
    /// Probability that a create answers HTTP 200 with `success: false` (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_false: f64,
    /// Probability that a create succeeds but the connection is dropped before the reply
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub drop_after_create: f64,
    /// Probability that a create succeeds but the reply is held back by --slow-delay
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub slow_after_create: f64,
    /// Probability that a list of broadcasts answers 503
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub fail_list: f64,
    /// Probability that a create answers 502 with an HTML page instead of JSON (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub garbage_reply: f64,
    /// Probability that a create answers 500 with a body of several megabytes (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub huge_reply: f64,
    /// Probability that a create answers 503 and its body then trickles for --slow-delay
    /// (nothing created)
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = probability)]
    pub slow_body: f64,
    /// How long a slow reply is held back
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub slow_delay: Duration,
    /// Leave the broadcast id out of create replies
    #[arg(long = "no-id", action = clap::ArgAction::SetFalse)]
    pub reply_with_id: bool,
    /// Send `Retry-After: SECS` with every 429 (Smartflo documents none)
    #[arg(long, value_name = "SECS")]
    pub retry_after: Option<u64>,
    /// Seed for fault injection, so a run's faults can be reproduced
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Expire the token after this many authorized requests: the next request with it gets 401
    /// and a login hands out a new one. (Tests only; not a flag.)
    #[arg(skip)]
    pub rotate_token_after: Option<u64>,
}

impl Default for MockOptions {
    /// The flags' defaults, read from their one declaration above.
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            options: MockOptions,
        }
        <Defaults as clap::Parser>::try_parse_from(["mock-server"])
            .expect("the mock's flag defaults parse")
            .options
    }
}

fn secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(s))
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s}: a probability is between 0 and 1")),
    }
}

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

    /// How many broadcasts carry `name`.
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
        return Ok(api::json(StatusCode::OK, &state.stats()));
    }
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let _in_flight = state.arrive();
    let response = if state.over_rate_limit() {
        api::too_many_requests(&state)
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
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rng: Option<StdRng>,
    broadcasts: Vec<Stored>,
    per_name: std::collections::HashMap<String, u64>,
    next_id: u64,
    stats: Stats,
    /// The current fixed window (seconds since start) and the requests counted in it.
    window: (u64, u64),
    /// The token in force, its uses, and how many times it was rotated.
    token: String,
    token_uses: u64,
    generation: u64,
}

impl State {
    fn new(opts: MockOptions) -> State {
        let inner = Inner {
            rng: Some(StdRng::seed_from_u64(opts.seed)),
            token: opts.token.clone(),
            next_id: 3176,
            ..Inner::default()
        };
        State {
            opts,
            started: Instant::now(),
            in_flight: AtomicU64::new(0),
            healed: AtomicBool::new(false),
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

    /// Whether the request just counted is over the account's limit for this second.
    fn over_rate_limit(&self) -> bool {
        let limit = u64::from(self.opts.rate_limit);
        limit > 0 && self.lock().window.1 > limit
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        options: MockOptions,
    }

    #[test]
    fn the_defaults_are_the_flags_defaults() {
        let o = MockOptions::default();
        assert_eq!(o.token, DEFAULT_TOKEN);
        assert_eq!(o.email, DEFAULT_EMAIL);
        assert_eq!(o.password.expose(), DEFAULT_PASSWORD);
        assert_eq!((o.rate_limit, o.latency, o.seed), (0, Duration::ZERO, 0));
        assert_eq!(o.slow_delay, Duration::from_secs(5));
        assert!(o.reply_with_id, "ids are sent unless --no-id");
        assert_eq!((o.retry_after, o.rotate_token_after), (None, None));
        assert_eq!(o.fail_5xx + o.fail_429 + o.drop_after_create, 0.0);
    }

    #[test]
    fn flags_set_the_options_and_probabilities_are_checked() {
        let o = Flags::try_parse_from(["m", "--no-id", "--fail-5xx", "0.5", "--latency", "50ms"])
            .unwrap()
            .options;
        assert!(!o.reply_with_id);
        assert_eq!(o.fail_5xx, 0.5);
        assert_eq!(o.latency, Duration::from_millis(50));
        let err = Flags::try_parse_from(["m", "--fail-429", "1.5"])
            .err()
            .expect("1.5 is not a probability");
        assert!(err.to_string().contains("between 0 and 1"), "{err}");
    }
}
