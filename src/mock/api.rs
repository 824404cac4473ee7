//! The simulated endpoints: routes, auth, the contract's validation, replies and faults.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State as Extract};
use axum::http::{header, HeaderMap, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::creates::{colleague_namesake, error_after_create, fault_before_create, store};
use super::replies::{dated, json, unauthorized, unavailable};
use super::validation::validate;
use super::{State, Stored};

/// Marks a response that must not be sent: the connection is dropped instead.
#[derive(Clone, Copy)]
pub(super) struct Drop;

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/v1/broadcast", post(create))
        .route("/v2/broadcasts", get(list))
        .route("/v1/auth/login", post(login))
        .route("/v1/ivrs", get(ivrs))
        .fallback(|| async {
            json(
                StatusCode::NOT_FOUND,
                &json!({"success": false, "message": "Not found."}),
            )
        })
        .layer(axum::middleware::map_response_with_state(
            state.opts.clock_behind,
            dated,
        ))
        .with_state(state)
}

/// Whether the request carries the token in force; counts its use toward rotation.
fn authorized(state: &State, headers: &HeaderMap) -> bool {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let mut inner = state.lock();
    if given != Some(format!("Bearer {}", inner.token).as_str()) {
        return false;
    }
    if inner.token_expires.is_some_and(|t| Instant::now() >= t) {
        return false;
    }
    inner.token_uses += 1;
    if state
        .opts
        .rotate_token_after
        .is_some_and(|n| inner.token_uses >= n)
    {
        // The token expires: the next request with it is refused until a new login.
        inner.generation += 1;
        inner.token = format!("{}-{}", state.opts.token, inner.generation);
        inner.token_uses = 0;
    }
    true
}

async fn create(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response<Body> {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let body: Value = match serde_json::from_slice(&raw) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return json(
                StatusCode::BAD_REQUEST,
                &json!({"success": false, "message": "The body must be a JSON object."}),
            )
        }
    };
    if let Some(fault) = fault_before_create(&state) {
        return fault;
    }
    let errors = validate(&body);
    if !errors.is_empty() {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"success": false, "message": errors}),
        );
    }

    let id = store(&state, &body, &raw);
    let opts = &state.opts;
    if opts.colleague_namesake {
        colleague_namesake(&state, id);
    }
    if state.chance(opts.drop_after_create) {
        state.lock().stats.faults.dropped_after_create += 1;
        let mut r = Response::new(Body::empty());
        r.extensions_mut().insert(Drop);
        return r;
    }
    if state.chance(opts.error_after_create) {
        return error_after_create(&state);
    }
    if state.chance(opts.slow_after_create) {
        state.lock().stats.faults.slow_after_create += 1;
        tokio::time::sleep(opts.slow_delay).await;
    }
    let mut reply = json!({"success": true, "message": "Broadcast created successfully."});
    if opts.reply_with_id {
        let said = if opts.same_id {
            state.lock().first_id
        } else {
            id
        };
        reply["broadcast_id"] = json!(said);
    }
    json(StatusCode::OK, &reply)
}

#[derive(Deserialize)]
struct Page {
    limit: Option<String>,
    page: Option<String>,
}

/// The account's IVRs: 7926 "Main menu", and each `--ivr ID=NAME`.
async fn ivrs(Extract(state): Extract<Arc<State>>, headers: HeaderMap) -> Response<Body> {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let mut all = vec![json!({"id": 7926, "name": "Main menu"})];
    for ivr in &state.opts.ivr {
        let (id, name) = ivr.split_once('=').unwrap_or((ivr, ""));
        let id = id
            .trim()
            .parse::<u64>()
            .map_or_else(|_| json!(id.trim()), |n| json!(n));
        all.push(json!({"id": id, "name": name.trim()}));
    }
    json(StatusCode::OK, &json!({ "ivrs": all }))
}

async fn list(
    Extract(state): Extract<Arc<State>>,
    headers: HeaderMap,
    Query(q): Query<Page>,
) -> Response<Body> {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    if state.listing_down.load(std::sync::atomic::Ordering::SeqCst)
        || state.chance(state.opts.fail_list)
    {
        state.lock().stats.faults.list_error += 1;
        return unavailable();
    }
    let limit = q.limit.as_deref().map_or(Some(10), |s| {
        s.parse::<usize>().ok().filter(|n| (1..=100).contains(n))
    });
    let page = q
        .page
        .as_deref()
        .map_or(Some(1), |s| s.parse::<usize>().ok().filter(|n| *n >= 1));
    let (Some(limit), Some(page)) = (limit, page) else {
        return json(
            StatusCode::BAD_REQUEST,
            &json!({"success": false, "message": {"limit": ["The limit must be between 1 and 100."], "page": ["The page must be at least 1."]}}),
        );
    };
    let page = if state.opts.ignore_page { 1 } else { page };
    let results = listing(&state, limit, page);
    if state.opts.delete_while_listing && page == 1 {
        // Someone deletes one of their own broadcasts between this page and the next.
        let mut inner = state.lock();
        if let Some(i) = inner.broadcasts.iter().position(|b| b.body.is_empty()) {
            inner.broadcasts.remove(i);
        }
    }
    if state.opts.no_results_field {
        return json(
            StatusCode::OK,
            &json!({"page": page, "size": results.len(), "limit": limit}),
        );
    }
    let mut reply =
        json!({"page": page, "size": results.len(), "limit": limit, "results": results});
    if let Some(total) = state.opts.stated_total {
        reply["total"] = json!(total);
    }
    json(StatusCode::OK, &reply)
}

/// One page of the account's broadcasts as the listing shows them: those old enough for the
/// listing's lag, oldest or newest first, at most the page cap.
fn listing(state: &State, limit: usize, page: usize) -> Vec<Value> {
    let opts = &state.opts;
    let per_page = opts.page_cap.map_or(limit, |cap| limit.min(cap.max(1)));
    let skip = (page - 1).saturating_mul(per_page);
    let inner = state.lock();
    let now = Instant::now();
    let visible = |b: &&Stored| b.created + opts.list_lag <= now;
    // The fields the peer copy of the API shows.
    let item = |b: &Stored| {
        let body = b.json();
        let destination = body["destination"].as_str().unwrap_or_default();
        let (kind, to) = destination.split_once("||").unwrap_or((destination, ""));
        json!({
            "id": b.id.to_string(),
            "name": b.name,
            "description": body["description"],
            "status": "scheduled",
            "created_at": b.made_at,
            "list_id": body["phone_number_list"],
            "destination_type": kind,
            "destination_id": to,
            "caller_id": body["caller_id_number"],
        })
    };
    let mut out: Vec<Value> = if opts.newest_first {
        let all = inner.broadcasts.iter().rev().filter(visible);
        all.skip(skip).take(per_page).map(item).collect()
    } else {
        let all = inner.broadcasts.iter().filter(visible);
        all.skip(skip).take(per_page).map(item).collect()
    };
    if opts.endless_list && out.is_empty() {
        // Someone else's broadcasts, without end.
        out = (0..per_page)
            .map(|i| {
                let id = 90_000_000 + skip + i;
                json!({"id": id.to_string(), "name": format!("Another team's broadcast {id}"), "status": "scheduled"})
            })
            .collect();
    }
    out
}

#[derive(Deserialize)]
struct Login {
    email: Option<String>,
    password: Option<String>,
}

async fn login(Extract(state): Extract<Arc<State>>, body: Bytes) -> Response<Body> {
    let login: Login = serde_json::from_slice(&body).unwrap_or(Login {
        email: None,
        password: None,
    });
    let ok = login.email.as_deref() == Some(state.opts.email.as_str())
        && login.password.as_deref() == Some(state.opts.password.expose());
    let mut inner = state.lock();
    inner.stats.logins += 1;
    if !ok {
        return json(
            StatusCode::UNAUTHORIZED,
            &json!({"success": false, "message": "Invalid credentials."}),
        );
    }
    // With a token life, every login issues a new token that lives that long.
    let life = state.opts.token_life.unwrap_or(Duration::from_secs(3600));
    if state.opts.token_life.is_some() {
        inner.generation += 1;
        inner.token = format!("{}-{}", state.opts.token, inner.generation);
        inner.token_expires = Some(Instant::now() + life);
        inner.token_uses = 0;
    }
    let token = inner.token.clone();
    drop(inner);
    let expires_in = life.as_secs_f64().ceil().max(1.0) as u64;
    json(
        StatusCode::OK,
        &json!({"success": true, "access_token": token, "token_type": "bearer", "expires_in": expires_in}),
    )
}
