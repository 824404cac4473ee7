//! An in-memory model of Smartflo, as `shared/smartflo-api.md` says the real service may behave:
//! a fixed-window rate limit (429s), 500/502/504 before and after the insert, 503s, connections
//! refused or dropped before and after the insert, replies slower than the timeout, listings
//! that lag, cap their pages, list newest first and shift when a colleague deletes between
//! pages, names kept in another form, namesakes made by a colleague, tokens that expire, and
//! outages. Every draw comes from the world's seeded generator, on tokio's paused clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bulkcast::net::wire::{Answer, Failure, Pending, Request, Wire};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::time::Instant;

/// How a world's service misbehaves (chances are per request).
#[derive(Debug, Clone)]
pub struct Faults {
    pub limit: u32,
    pub latency_ms: (u64, u64),
    pub p_429: f64,
    pub p_before: f64,
    pub p_after: f64,
    pub p_slow: f64,
    pub p_list_error: f64,
    pub list_lag: Duration,
    pub page_cap: usize,
    pub newest_first: bool,
    pub p_delete_between_pages: f64,
    pub lower_names: bool,
    pub p_colleague_namesake: f64,
    pub token_life: Option<Duration>,
    pub outage: Option<(Duration, Duration)>,
    /// How far the server's clock is behind the world's, in seconds (negative: ahead); its
    /// replies' `Date` and its listing's `created_at` are on its clock.
    pub clock_behind: i64,
    /// The server keeps a name cut to this many characters (a column's width).
    pub name_cut: Option<usize>,
    /// The server keeps each character outside the Basic Multilingual Plane (an emoji) as `?`,
    /// as MySQL's three-byte `utf8` does.
    pub narrow: bool,
}

impl Faults {
    pub fn draw(rng: &mut SmallRng) -> Faults {
        let some = |rng: &mut SmallRng, p: f64| if rng.random_bool(0.6) { p } else { 0.0 };
        Faults {
            limit: rng.random_range(3..=8),
            latency_ms: (rng.random_range(5..60), rng.random_range(60..400)),
            p_429: some(rng, 0.05),
            p_before: some(rng, 0.08),
            p_after: some(rng, 0.10),
            p_slow: some(rng, 0.05),
            p_list_error: some(rng, 0.10),
            list_lag: Duration::from_millis(rng.random_range(0..3000)),
            page_cap: [2, 3, 5, 10, 100][rng.random_range(0..5)],
            newest_first: rng.random_bool(0.5),
            p_delete_between_pages: some(rng, 0.5),
            lower_names: rng.random_bool(0.3),
            p_colleague_namesake: some(rng, 0.02),
            token_life: rng
                .random_bool(0.3)
                .then(|| Duration::from_secs(rng.random_range(3..20))),
            outage: rng.random_bool(0.2).then(|| {
                let from = Duration::from_millis(rng.random_range(0..8000));
                (
                    from,
                    from + Duration::from_millis(rng.random_range(500..20_000)),
                )
            }),
            clock_behind: 0,
            name_cut: None,
            narrow: false,
        }
    }

    /// How the server keeps `sent` as a name: lower-cased, emoji as `?`, cut to a column.
    pub fn kept(&self, sent: &str) -> String {
        let mut name = if self.lower_names {
            sent.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        } else {
            sent.to_owned()
        };
        if self.narrow {
            name = name
                .chars()
                .map(|c| if u32::from(c) > 0xFFFF { '?' } else { c })
                .collect();
        }
        if let Some(n) = self.name_cut {
            name = name.chars().take(n).collect();
        }
        name
    }

    /// The same service with nothing going wrong but its listing's shape and lag (the final
    /// clean run).
    pub fn calm(&self) -> Faults {
        Faults {
            p_429: 0.0,
            p_before: 0.0,
            p_after: 0.0,
            p_slow: 0.0,
            p_list_error: 0.0,
            p_delete_between_pages: 0.0,
            p_colleague_namesake: 0.0,
            outage: None,
            ..self.clone()
        }
    }
}

/// One broadcast the model holds.
#[derive(Debug, Clone)]
pub struct Held {
    pub id: u64,
    /// As the listing shows it.
    pub name: String,
    /// As it was sent.
    pub sent_name: String,
    pub body: Value,
    /// Made by a colleague, not by bulkcast.
    pub colleague: bool,
    /// Virtual time it was made; `old`: before the world began.
    at: Duration,
    old: bool,
    created_at: u64,
}

pub struct State {
    pub faults: Faults,
    rng: SmallRng,
    pub held: Vec<Held>,
    next_id: u64,
    /// The fixed window (virtual second) and requests counted in it.
    window: (u64, u32),
    /// The token in force and when it expires (virtual).
    token: (String, Option<Duration>),
    generation: u64,
    /// Virtual time before this step, and the step's tokio start.
    base: Duration,
    start: Instant,
    /// The latest virtual time a request arrived at.
    last: Duration,
    pub log: Vec<String>,
}

pub const EMAIL: &str = "ops@example.com";
pub const PASSWORD: &str = "sim-password";
pub const TOKEN: &str = "sim-token";

#[derive(Clone)]
pub struct Model(pub Arc<Mutex<State>>);

impl Model {
    pub fn new(faults: Faults, seed: u64) -> Model {
        Model(Arc::new(Mutex::new(State {
            faults,
            rng: SmallRng::seed_from_u64(seed ^ 0x005e_ed0f_5a11),
            held: Vec::new(),
            next_id: 5_000,
            window: (0, 0),
            token: (TOKEN.into(), None),
            generation: 0,
            base: Duration::ZERO,
            start: Instant::now(),
            last: Duration::ZERO,
            log: Vec::new(),
        })))
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new step begins on a new runtime (its clock starts again): keep the model's time
    /// going on from where the last step left it, a second later.
    pub fn begin_step(&self) {
        let mut s = self.lock();
        s.base = s.last.max(s.base) + Duration::from_secs(1);
        s.start = Instant::now();
    }

    /// Let `d` pass on the model's clock before the step's runs start.
    pub fn idle(&self, d: Duration) {
        self.lock().base += d;
    }

    /// A colleague's broadcast with `name`, made long before the world began: the listing
    /// shows it from the start.
    pub fn colleague(&self, name: &str) {
        let mut s = self.lock();
        s.colleague_makes(name);
        if let Some(b) = s.held.last_mut() {
            b.old = true;
            b.created_at = epoch_secs() - 86_400;
        }
    }
}

impl State {
    fn now(&self) -> Duration {
        self.base + (Instant::now() - self.start)
    }

    /// The wall clock of the world (bulkcast's too, through `bulkcast::clock`).
    pub fn wall(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(EPOCH_SECS) + self.now()
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.rng.random_bool(p.min(1.0))
    }

    fn colleague_makes(&mut self, name: &str) {
        let id = self.next_id;
        self.next_id += 1;
        let at = self.now();
        self.held.push(Held {
            id,
            name: self.faults.kept(name),
            sent_name: name.to_owned(),
            body: json!({"name": name, "description": "A colleague's own campaign", "phone_number_list": 1}),
            colleague: true,
            at,
            old: false,
            created_at: self.wall_secs(),
        });
    }

    /// The server's clock, in seconds: the world's, less how far it is behind.
    fn wall_secs(&self) -> u64 {
        let secs = self
            .wall()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        secs.saturating_add_signed(-self.faults.clock_behind)
    }

    fn down(&self) -> bool {
        let now = self.now();
        self.faults.outage.is_some_and(|(a, b)| now >= a && now < b)
    }

    fn over_limit(&mut self) -> bool {
        let second = self.now().as_secs();
        if self.window.0 != second {
            self.window = (second, 0);
        }
        self.window.1 += 1;
        self.window.1 > self.faults.limit
    }

    fn authorized(&self, r: &Request) -> bool {
        let Some(given) = r.authorization.as_deref() else {
            return false;
        };
        let (token, expires) = &self.token;
        given == format!("Bearer {token}") && expires.is_none_or(|e| self.now() < e)
    }

    fn insert(&mut self, body: &Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let sent = body["name"].as_str().unwrap_or_default().to_owned();
        let name = self.faults.kept(&sent);
        let at = self.now();
        self.held.push(Held {
            id,
            name,
            sent_name: sent,
            body: body.clone(),
            colleague: false,
            at,
            old: false,
            created_at: self.wall_secs(),
        });
        id
    }
}

/// The world's wall clock: a fixed day, and the virtual time since the world began.
const EPOCH_SECS: u64 = 1_796_000_000;

fn epoch_secs() -> u64 {
    EPOCH_SECS
}

fn reply(status: u16, body: Value) -> Answer {
    Answer::Reply {
        status,
        retry_after: None,
        body: body.to_string().into_bytes(),
        date: None,
    }
}

/// What the model does with a request on arrival, and how long its answer takes after that.
enum Then {
    Answer(Answer),
    /// Answered after the client's timeout has long passed.
    Never,
}

impl Wire for Model {
    fn call(&self, request: Request) -> Pending {
        let model = self.clone();
        Box::pin(async move {
            let (there, back) = {
                let mut s = model.lock();
                let (lo, hi) = s.faults.latency_ms;
                let total = s.rng.random_range(lo..=hi);
                let there = s.rng.random_range(0..=total);
                (
                    Duration::from_millis(there),
                    Duration::from_millis(total - there),
                )
            };
            tokio::time::sleep(there).await;
            let then = model.lock().arrive(&request);
            match then {
                Then::Answer(mut a) => {
                    tokio::time::sleep(back).await;
                    if let Answer::Reply { date, .. } = &mut a {
                        // HTTP dates are whole seconds, on the server's clock.
                        *date = Some(UNIX_EPOCH + Duration::from_secs(model.lock().wall_secs()));
                    }
                    a
                }
                Then::Never => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Answer::Failed(Failure::Lost)
                }
            }
        })
    }
}

impl State {
    fn arrive(&mut self, r: &Request) -> Then {
        let what = format!("{} {}", r.method, r.path);
        let then = self.answer(r);
        let said = match &then {
            Then::Answer(Answer::Reply { status, .. }) => status.to_string(),
            Then::Answer(Answer::Failed(f)) => format!("{f:?}"),
            Then::Never => "no reply".into(),
        };
        let now = self.now();
        self.last = self.last.max(now);
        self.log
            .push(format!("{:>9.3}s {what} -> {said}", now.as_secs_f64()));
        then
    }

    fn answer(&mut self, r: &Request) -> Then {
        if self.down() {
            return Then::Answer(if self.rng.random_bool(0.5) {
                Answer::Failed(Failure::Connect)
            } else {
                reply(
                    503,
                    json!({"success": false, "message": "Service temporarily unavailable."}),
                )
            });
        }
        if self.over_limit() || self.chance(self.faults.p_429) {
            return Then::Answer(reply(
                429,
                json!({"success": "false", "message": "Too many requests."}),
            ));
        }
        match (r.method, r.path.split('?').next().unwrap_or_default()) {
            ("POST", "/v1/auth/login") => Then::Answer(self.login(r)),
            _ if !self.authorized(r) => Then::Answer(reply(
                401,
                json!({"success": false, "message": "Unauthenticated."}),
            )),
            ("POST", "/v1/broadcast") => self.create(r),
            ("GET", "/v2/broadcasts") => Then::Answer(self.list(&r.path)),
            ("GET", "/v1/ivrs") => {
                Then::Answer(reply(200, json!([{"id": 7926, "name": "Main menu"}])))
            }
            _ => Then::Answer(reply(
                404,
                json!({"success": false, "message": "Not found."}),
            )),
        }
    }

    fn login(&mut self, r: &Request) -> Answer {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if body["email"] != EMAIL || body["password"] != PASSWORD {
            return reply(
                401,
                json!({"success": false, "message": "Invalid credentials."}),
            );
        }
        let life = self.faults.token_life.unwrap_or(Duration::from_secs(3600));
        self.generation += 1;
        self.token = (
            format!("{TOKEN}-{}", self.generation),
            Some(self.now() + life),
        );
        reply(
            200,
            json!({"success": true, "access_token": self.token.0, "token_type": "bearer",
                   "expires_in": life.as_secs().max(1)}),
        )
    }

    fn create(&mut self, r: &Request) -> Then {
        let Ok(body) = serde_json::from_slice::<Value>(&r.body) else {
            return Then::Answer(reply(
                400,
                json!({"success": false, "message": "Not JSON."}),
            ));
        };
        if self.chance(self.faults.p_colleague_namesake) {
            // A colleague makes a broadcast of the same name at the same moment.
            let name = body["name"].as_str().unwrap_or_default().to_owned();
            self.colleague_makes(&name);
        }
        if self.chance(self.faults.p_before) {
            return Then::Answer(match self.rng.random_range(0..5) {
                0 => reply(500, json!({"success": false, "message": "Server Error"})),
                1 => reply(502, json!({"message": "Bad Gateway"})),
                2 => reply(504, json!({"message": "Gateway Timeout"})),
                3 => reply(
                    503,
                    json!({"success": false, "message": "Service temporarily unavailable."}),
                ),
                _ => Answer::Failed(if self.rng.random_bool(0.5) {
                    Failure::Connect
                } else {
                    Failure::Lost
                }),
            });
        }
        let id = self.insert(&body);
        if self.chance(self.faults.p_slow) {
            return Then::Never;
        }
        if self.chance(self.faults.p_after) {
            return Then::Answer(match self.rng.random_range(0..4) {
                0 => reply(500, json!({"success": false, "message": "Server Error"})),
                1 => reply(502, json!({"message": "Bad Gateway"})),
                2 => reply(504, json!({"message": "Gateway Timeout"})),
                _ => Answer::Failed(Failure::Lost),
            });
        }
        Then::Answer(reply(
            200,
            json!({"success": true, "message": "Broadcast created successfully.", "broadcast_id": id}),
        ))
    }

    fn list(&mut self, path: &str) -> Answer {
        if self.chance(self.faults.p_list_error) {
            return reply(500, json!({"success": false, "message": "Server Error"}));
        }
        let query: HashMap<&str, usize> = path
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
            .collect();
        let limit = query.get("limit").copied().unwrap_or(10).clamp(1, 100);
        let page = query.get("page").copied().unwrap_or(1).max(1);
        let per_page = limit.min(self.faults.page_cap);
        let now = self.now();
        let lag = self.faults.list_lag;
        let mut visible: Vec<&Held> = self
            .held
            .iter()
            .filter(|b| b.old || b.at + lag <= now)
            .collect();
        if self.faults.newest_first {
            visible.reverse();
        }
        let results: Vec<Value> = visible
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|b| {
                json!({
                    "id": b.id.to_string(),
                    "name": b.name,
                    "description": b.body["description"],
                    "status": "scheduled",
                    "created_at": b.created_at,
                    "list_id": b.body["phone_number_list"],
                    "caller_id": b.body["caller_id_number"],
                })
            })
            .collect();
        if self.chance(self.faults.p_delete_between_pages) {
            // A colleague deletes one of their own broadcasts between this page and the next:
            // the pages after it shift by one.
            let theirs: Vec<usize> = (0..self.held.len())
                .filter(|&i| self.held[i].colleague && self.held[i].sent_name.starts_with("Old"))
                .collect();
            if !theirs.is_empty() {
                let i = theirs[self.rng.random_range(0..theirs.len())];
                self.held.remove(i);
            }
        }
        reply(
            200,
            json!({"page": page, "size": results.len(), "limit": limit, "results": results}),
        )
    }
}
