//! What a create does to the simulated account: the faults drawn around it, the broadcast
//! kept as the server keeps names, and a colleague's namesake made at the same moment.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{Response, StatusCode};
use serde_json::{json, Value};

use super::replies::{json, reply, too_many_requests, unavailable};
use super::{State, Stored};

/// A fault drawn before anything is created (a 429, a 5xx of some shape, `success:false`).
pub(super) fn fault_before_create(state: &State) -> Option<Response<Body>> {
    let opts = &state.opts;
    if state.chance(opts.fail_429) {
        state.lock().stats.faults.too_many_requests += 1;
        return Some(too_many_requests(state));
    }
    if state.chance(opts.fail_5xx) {
        state.lock().stats.faults.server_error += 1;
        return Some(unavailable());
    }
    if state.chance(opts.garbage_reply) {
        state.lock().stats.faults.garbage_reply += 1;
        let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
        return Some(reply(
            StatusCode::BAD_GATEWAY,
            "text/html",
            Body::from(page),
        ));
    }
    if state.chance(opts.huge_reply) {
        state.lock().stats.faults.huge_reply += 1;
        let mut junk = String::from("{\"success\":false,\"message\":\"");
        junk.push_str(&"x".repeat(8 << 20));
        junk.push_str("\"}");
        return Some(reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            Body::from(junk),
        ));
    }
    if state.chance(opts.slow_body) {
        state.lock().stats.faults.slow_body += 1;
        // The status and a first byte at once, the rest after slow_delay.
        let delay = opts.slow_delay;
        let chunks = futures_util::stream::unfold(0u8, move |step| async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(Bytes::from_static(b"{")), 1)),
                1 => {
                    tokio::time::sleep(delay).await;
                    Some((Ok(Bytes::from_static(b"\"success\":false}")), 2))
                }
                _ => None,
            }
        });
        return Some(reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            Body::from_stream(chunks),
        ));
    }
    if state.chance(opts.fail_refused) {
        state.lock().stats.faults.success_false += 1;
        return Some(json(
            StatusCode::OK,
            &json!({"success": false, "message": "The broadcast limit of this account is reached."}),
        ));
    }
    if state.chance(opts.fail_false) {
        state.lock().stats.faults.success_false += 1;
        return Some(json(
            StatusCode::OK,
            &json!({"success": false, "message": "Unable to create the broadcast, please try again."}),
        ));
    }
    None
}

/// Keep a broadcast; its id.
pub(super) fn store(state: &State, body: &Value, raw: &Bytes) -> u64 {
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let mut inner = state.lock();
    let id = inner.next_id;
    inner.next_id += 1;
    inner.stats.created += 1;
    // Counted by the name sent, whatever form the server keeps it in.
    *inner.per_name.entry(name.clone()).or_insert(0) += 1;
    let kept = if state.opts.lower_names {
        name.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    } else {
        name
    };
    let kept = if state.opts.narrow_names {
        kept.chars()
            .map(|c| if c.len_utf8() == 4 { '?' } else { c })
            .collect()
    } else {
        kept
    };
    let kept = match state.opts.cut_names {
        Some(n) => kept.chars().take(n).collect(),
        None => kept,
    };
    if inner.first_id == 0 {
        inner.first_id = id;
    }
    inner.broadcasts.push(Stored {
        id,
        name: kept.into(),
        body: raw.to_vec().into(),
        created: Instant::now(),
        made_at: super::epoch_secs().saturating_sub(state.opts.clock_behind),
    });
    id
}

/// With the first broadcast created (`id`), a colleague's of the same name that says something
/// else, made at the same moment.
pub(super) fn colleague_namesake(state: &State, id: u64) {
    let mut inner = state.lock();
    if inner.first_id != id {
        return;
    }
    let Some(first) = inner.broadcasts.iter().find(|b| b.id == id) else {
        return;
    };
    let mut body: Value = serde_json::from_slice(&first.body).unwrap_or_default();
    body["description"] = json!("A colleague's campaign of the same name");
    let (name, made_at) = (first.name.clone(), first.made_at);
    let colleague = inner.next_id;
    inner.next_id += 1;
    inner.broadcasts.push(Stored {
        id: colleague,
        name,
        body: serde_json::to_vec(&body).unwrap_or_default().into(),
        created: Instant::now(),
        made_at,
    });
}

/// The reply after a create that worked but whose answer a gateway or the backend spoils: 500,
/// 502 and 504 in turn.
pub(super) fn error_after_create(state: &State) -> Response<Body> {
    let n = {
        let mut inner = state.lock();
        inner.stats.faults.error_after_create += 1;
        inner.stats.faults.error_after_create
    };
    let status = match n % 3 {
        1 => StatusCode::INTERNAL_SERVER_ERROR,
        2 => StatusCode::BAD_GATEWAY,
        _ => StatusCode::GATEWAY_TIMEOUT,
    };
    json(
        status,
        &json!({"success": false, "message": "Something went wrong."}),
    )
}
