//! What a reply means: the [`Reply`] every request comes to, and how a status and body (or no
//! reply at all) are classified — the same for HTTP and for the simulation's wire.
//!
//! Classification is where the contract's subtleties live: `success` may be the string
//! `"false"`, a 200 can carry `success:false`, `message` may be a string or a field → messages
//! object, an id may come back under three names or not at all, and a failure *after* the body
//! was sent leaves the outcome unknown (the broadcast may exist), which is not the same as a
//! failure to connect (nothing reached the server, safe to send again).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

/// The largest reply body read; more is cut off (a healthy reply is a few hundred bytes).
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// The largest listing page read: 100 broadcasts with long descriptions fit many times over. A
/// larger page is not cut (that would read as garbage) but refused as too large.
pub const MAX_LIST_BODY: usize = 8 * 1024 * 1024;

/// How a listing page over [`MAX_LIST_BODY`] is told apart from other replies: its message.
pub const TOO_LARGE: &str = "the page is larger than";

/// What one request came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub kind: ReplyKind,
    /// The HTTP status, when a reply arrived.
    pub status: Option<u16>,
    /// One readable line: the server's message, or what went wrong on the way.
    pub message: String,
    /// The reply's JSON, when it had any.
    pub body: Option<Value>,
    /// The API could not be reached or its gateway gave up (no connection, a timeout, 502, 503,
    /// 504): a sign of an outage rather than of this request.
    pub unreachable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// 2xx with a truthy `success`.
    Ok,
    /// A final answer: 4xx other than 401/408/429, or 2xx with a false `success`.
    Rejected,
    /// 401: the token is bad or expired.
    Unauthorized,
    /// 429: over the account's rate limit; `retry_after` when the server said.
    TooManyRequests { retry_after: Option<Duration> },
    /// The server certainly did not act (503 or 408; any 5xx or a timeout of a listing or a
    /// login, which are safe to repeat): sent again after a backoff.
    Retryable,
    /// Nothing reached the server (connection refused, DNS): safe to send again.
    NotSent,
    /// The create may have been acted on but no usable reply came: a timeout or a connection
    /// dropped after the body went out, a 5xx other than 503 (a 500 can be raised after the
    /// insert; a 502 or 504 comes from a gateway while the backend may have finished), or a 2xx
    /// whose body says nothing. Never sent blindly again: looked up first.
    Unknown,
}

/// What a reply whose body arrived means.
pub(crate) fn judge(
    status: StatusCode,
    retry_after: Option<Duration>,
    bytes: Vec<u8>,
    idempotent: bool,
    cap: usize,
) -> Reply {
    if status.is_redirection() {
        return Reply {
            kind: ReplyKind::Rejected,
            status: Some(status.as_u16()),
            message: format!("HTTP {status} redirect (not followed: the API does not redirect; check --base-url)"),
            body: None,
            unreachable: false,
        };
    }
    if bytes.len() >= cap && cap == MAX_LIST_BODY {
        return Reply {
            kind: ReplyKind::Rejected,
            status: Some(status.as_u16()),
            message: format!(
                "{TOO_LARGE} {} MiB, the most bulkcast reads of one listing page",
                cap >> 20
            ),
            body: None,
            unreachable: false,
        };
    }
    let body: Option<Value> = serde_json::from_slice(&bytes).ok();
    let message = match &body {
        Some(v) => render_message(&v["message"]),
        None if bytes.is_empty() => String::new(),
        None => format!(
            "non-JSON reply: {}",
            one_line(&String::from_utf8_lossy(&bytes[..bytes.len().min(200)]))
        ),
    };
    let kind = match status {
        s if s.is_success() => match body.as_ref().map(|b| truthy(&b["success"])) {
            Some(Some(true)) => ReplyKind::Ok,
            // "Unable to create the broadcast, please try again.": nothing was created, and
            // there is nothing in the row to fix.
            Some(Some(false)) if super::asks_to_try_again(&message) => ReplyKind::Retryable,
            Some(Some(false)) => ReplyKind::Rejected,
            // A list reply carries its results, not a success flag.
            Some(None) if idempotent => ReplyKind::Ok,
            // A 2xx that does not say whether it worked: the broadcast may exist.
            _ if idempotent => ReplyKind::Retryable,
            _ => ReplyKind::Unknown,
        },
        s => failure_kind(s, retry_after, idempotent),
    };
    let message = match (kind, message.is_empty()) {
        (ReplyKind::Unknown, _) if status.is_success() => {
            format!("HTTP {} without a success flag: {message}", status.as_u16())
        }
        (ReplyKind::Unknown, _) => format!(
            "HTTP {} after the request was sent ({}); the broadcast may have been created",
            status.as_u16(),
            if message.is_empty() {
                "no message"
            } else {
                &message
            }
        ),
        (_, true) => format!("HTTP {}", status),
        (_, false) => message,
    };
    Reply {
        kind,
        status: Some(status.as_u16()),
        message,
        body,
        unreachable: gateway_trouble(status),
    }
}

/// 502, 503 and 504: the gateway or the service is down, rather than this request wrong.
pub(crate) fn gateway_trouble(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// What a status other than 2xx means, whatever its body says. Only a 503 (and 429, 408)
/// certainly means a create was not acted on.
pub(crate) fn failure_kind(
    status: StatusCode,
    retry_after: Option<Duration>,
    idempotent: bool,
) -> ReplyKind {
    match status {
        StatusCode::UNAUTHORIZED => ReplyKind::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS => ReplyKind::TooManyRequests { retry_after },
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => ReplyKind::Retryable,
        StatusCode::BAD_GATEWAY if crate::mutant::is(crate::mutant::Mutant::BadGatewayNotSent) => {
            ReplyKind::Retryable
        }
        s if s.is_server_error() && idempotent => ReplyKind::Retryable,
        s if s.is_server_error() => ReplyKind::Unknown,
        _ => ReplyKind::Rejected,
    }
}

/// No reply: nothing reached the server (`connect`), it timed out, or the connection failed.
pub(crate) fn no_reply(connect: bool, timeout: bool, idempotent: bool, detail: &str) -> Reply {
    let (kind, what) = if connect {
        (ReplyKind::NotSent, "could not connect")
    } else if idempotent {
        (
            ReplyKind::Retryable,
            if timeout {
                "timed out"
            } else {
                "connection failed"
            },
        )
    } else if timeout {
        (
            ReplyKind::Unknown,
            "timed out after the request was sent; the broadcast may have been created",
        )
    } else {
        (
            ReplyKind::Unknown,
            "connection lost after the request was sent; the broadcast may have been created",
        )
    };
    Reply {
        kind,
        status: None,
        message: format!("{what} ({detail})"),
        body: None,
        unreachable: connect || timeout,
    }
}

/// `success` as the API sends it: a boolean, or sometimes the string `"true"`/`"false"`.
pub(crate) fn truthy(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" | "" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// A `message` as one readable line: a string as it is; a field → messages object as
/// `field: message; field: message`.
pub fn render_message(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::String(s) => return one_line(s),
        Value::Array(items) => items
            .iter()
            .map(render_message)
            .collect::<Vec<_>>()
            .join(" "),
        Value::Object(fields) => fields
            .iter()
            .map(|(field, msgs)| format!("{field}: {}", render_message(msgs)))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    one_line(&text)
}

pub(crate) fn one_line(s: &str) -> String {
    // Most messages already are one line of single spaces: copy those as they are.
    let plain = !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("  ")
        && !s.contains(|c: char| c.is_whitespace() && c != ' ');
    if plain {
        return s.to_owned();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The new broadcast's id from a create reply: `id`, `broadcast_id` or `data.id`.
pub fn broadcast_id(body: &Value) -> Option<String> {
    [&body["id"], &body["broadcast_id"], &body["data"]["id"]]
        .into_iter()
        .find_map(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}
