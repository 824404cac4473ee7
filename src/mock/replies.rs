//! The simulated API's replies: JSON with its status, the 429, 401 and 503 it gives, and the
//! `Date` every reply carries.

use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use serde_json::json;

use super::State;

/// Every reply says the server's time (`Date`), on a clock `behind` seconds behind this one.
pub(super) async fn dated(
    axum::extract::State(behind): axum::extract::State<u64>,
    mut response: Response<Body>,
) -> Response<Body> {
    let now = std::time::SystemTime::now() - std::time::Duration::from_secs(behind);
    if let Ok(v) = header::HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        response.headers_mut().insert(header::DATE, v);
    }
    response
}

pub(super) fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    reply(status, "application/json", Body::from(bytes))
}

pub(super) fn reply(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap_or_default()
}

/// Smartflo's 429: `success` is the *string* "false".
pub(super) fn too_many_requests(state: &State) -> Response<Body> {
    state.lock().stats.too_many_requests += 1;
    let mut r = json(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"success": "false", "message": "Too many requests."}),
    );
    if let Some(secs) = state.opts.retry_after {
        r.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    r
}

pub(super) fn unauthorized() -> Response<Body> {
    json(
        StatusCode::UNAUTHORIZED,
        &json!({"success": false, "message": "Unauthenticated."}),
    )
}

/// An injected server failure: nothing was done.
pub(super) fn unavailable() -> Response<Body> {
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({"success": false, "message": "Service temporarily unavailable."}),
    )
}
