//! The Smartflo HTTP client: one request in, one classified [`Reply`] out.
//!
//! Classification is where the contract's subtleties live: `success` may be the string
//! `"false"`, a 200 can carry `success:false`, `message` may be a string or a field → messages
//! object, an id may come back under three names or not at all, and a failure *after* the body
//! was sent leaves the outcome unknown (the broadcast may exist), which is not the same as a
//! failure to connect (nothing reached the server, safe to send again).

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;

use crate::secret::Secret;

/// The largest reply body read; more is cut off (a healthy reply is a few hundred bytes).
const MAX_BODY: usize = 256 * 1024;
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

/// Talks to one Smartflo account.
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    /// Parsed once, not per request.
    create_url: reqwest::Url,
    /// The `Authorization` header in use (marked sensitive, so it never prints), and how many
    /// times it has been replaced by a login.
    auth: Mutex<(Option<HeaderValue>, u64)>,
}

impl Client {
    /// A client for `base_url`, authenticating with `token` (or with none until
    /// [`Client::set_token`]); every request times out after `timeout`.
    pub fn new(
        base_url: &str,
        token: Option<&Secret>,
        timeout: Duration,
        pool: usize,
    ) -> anyhow::Result<Client> {
        let http = http_client(timeout, pool)?;
        let base_url = base_url.trim_end_matches('/').to_owned();
        let create_url = reqwest::Url::parse(&format!("{base_url}/v1/broadcast"))?;
        let client = Client {
            http,
            base_url,
            create_url,
            auth: Mutex::new((None, 0)),
        };
        if let Some(token) = token {
            client.set_token(token)?;
        }
        Ok(client)
    }

    /// Use `token` from now on.
    pub fn set_token(&self, token: &Secret) -> anyhow::Result<()> {
        let mut header =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                anyhow::anyhow!("the API token has characters that cannot be sent in a header")
            })?;
        header.set_sensitive(true);
        let mut auth = crate::lock(&self.auth);
        *auth = (Some(header), auth.1 + 1);
        Ok(())
    }

    /// How many tokens have been set; a request sent with an older one may be retried with the
    /// new one after a 401.
    pub fn generation(&self) -> u64 {
        crate::lock(&self.auth).1
    }

    fn authorized(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &crate::lock(&self.auth).0 {
            Some(header) => req.header(AUTHORIZATION, header.clone()),
            None => req,
        }
    }

    /// `POST /v1/auth/login`; the token is the reply body's `access_token`.
    pub async fn login(&self, email: &str, password: &Secret) -> Reply {
        let body = serde_json::json!({"email": email, "password": password.expose()});
        let url = format!("{}/v1/auth/login", self.base_url);
        classify(self.http.post(url).json(&body).send().await, true, MAX_BODY).await
    }

    /// `POST /v1/broadcast` with a request's body ([`crate::request::BroadcastRequest::to_body`]).
    pub async fn create(&self, body: &Bytes) -> Reply {
        let sent = self
            .authorized(self.http.post(self.create_url.clone()))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.clone())
            .send()
            .await;
        classify(sent, false, MAX_BODY).await
    }

    /// `GET /v1/ivrs`: the account's IVRs, the ids a destination `ivr||ID` may name.
    pub async fn ivrs(&self) -> Reply {
        self.get("/v1/ivrs").await
    }

    /// `GET /v2/broadcasts?limit=&page=`. A list is safe to repeat, so a timeout is retryable.
    pub async fn list(&self, limit: u32, page: u32) -> Reply {
        self.get(&format!("/v2/broadcasts?limit={limit}&page={page}"))
            .await
    }

    /// A `GET` of the API's, safe to repeat.
    async fn get(&self, path: &str) -> Reply {
        let url = format!("{}{path}", self.base_url);
        let sent = self.authorized(self.http.get(url)).send().await;
        classify(sent, true, MAX_LIST_BODY).await
    }
}

/// The reqwest client bulkcast sends with: every request times out after `timeout`, and up to
/// `pool` connections are kept alive. (Public for the benchmark that measures reqwest alone.)
pub fn http_client(timeout: Duration, pool: usize) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("bulkcast/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        // Every attempt is bulkcast's own: counted, journaled, paced by the gate. reqwest's
        // hidden resend of protocol NACKs would be none of those, and its readiness to
        // resend copied every request's headers (a measurable cost at full speed).
        .retry(reqwest::retry::never().max_retries_per_request(0))
        // A 3xx is answered as a final error naming where it points, never followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Turn a request's result into a [`Reply`].
async fn classify(sent: reqwest::Result<reqwest::Response>, idempotent: bool, cap: usize) -> Reply {
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) => return transport_failure(&e, idempotent),
    };
    let status = resp.status();
    if status.is_redirection() {
        return redirect(&resp);
    }
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    let bytes = match read_capped(resp, cap).await {
        Ok(b) if b.len() >= cap && cap == MAX_LIST_BODY => {
            return Reply {
                kind: ReplyKind::Rejected,
                status: Some(status.as_u16()),
                message: format!(
                    "{TOO_LARGE} {} MiB, the most bulkcast reads of one listing page",
                    cap >> 20
                ),
                body: None,
                unreachable: false,
            }
        }
        Ok(b) => b,
        // The status arrived but the body did not: a 2xx may have acted, anything else did
        // not, and says so by its status alone.
        Err(e) if status.is_success() => {
            let mut r = transport_failure(&e, idempotent);
            r.status = Some(status.as_u16());
            return r;
        }
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "connection lost"
            };
            let kind = failure_kind(status, retry_after, idempotent);
            let message = format!("HTTP {status} (the reply's body was cut off: {what})");
            return Reply {
                kind,
                status: Some(status.as_u16()),
                message,
                body: None,
                unreachable: gateway_trouble(status),
            };
        }
    };
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

/// A 3xx, never followed: a create body or a token is not sent on to wherever it points.
fn redirect(resp: &reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let to = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("nowhere stated");
    Reply {
        kind: ReplyKind::Rejected,
        status: Some(status),
        message: format!(
            "HTTP {status} redirect to {} (not followed: the API does not redirect; check --base-url)",
            one_line(to)
        ),
        body: None,
        unreachable: false,
    }
}

/// 502, 503 and 504: the gateway or the service is down, rather than this request wrong.
fn gateway_trouble(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// What a status other than 2xx means, whatever its body says. Only a 503 (and 429, 408)
/// certainly means a create was not acted on.
fn failure_kind(status: StatusCode, retry_after: Option<Duration>, idempotent: bool) -> ReplyKind {
    match status {
        StatusCode::UNAUTHORIZED => ReplyKind::Unauthorized,
        StatusCode::TOO_MANY_REQUESTS => ReplyKind::TooManyRequests { retry_after },
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => ReplyKind::Retryable,
        s if s.is_server_error() && idempotent => ReplyKind::Retryable,
        s if s.is_server_error() => ReplyKind::Unknown,
        _ => ReplyKind::Rejected,
    }
}

/// A request that produced no reply.
fn transport_failure(e: &reqwest::Error, idempotent: bool) -> Reply {
    let (kind, what) = if e.is_connect() {
        (ReplyKind::NotSent, "could not connect")
    } else if idempotent {
        (
            ReplyKind::Retryable,
            if e.is_timeout() {
                "timed out"
            } else {
                "connection failed"
            },
        )
    } else if e.is_timeout() {
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
        message: format!("{what} ({})", error_chain(e)),
        body: None,
        unreachable: e.is_connect() || e.is_timeout(),
    }
}

/// The error's causes on one line (the error itself only repeats the URL).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

async fn read_capped(mut resp: reqwest::Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = cap.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= cap {
            break;
        }
    }
    Ok(out)
}

/// `success` as the API sends it: a boolean, or sometimes the string `"true"`/`"false"`.
fn truthy(v: &Value) -> Option<bool> {
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

fn one_line(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_render_as_one_line() {
        assert_eq!(
            render_message(&json!("Too many\nrequests.")),
            "Too many requests."
        );
        assert_eq!(
            render_message(
                &json!({"timeout": ["The timeout must be at least 40."], "name": ["Required.", "Too short."]})
            ),
            "name: Required. Too short.; timeout: The timeout must be at least 40."
        );
        assert_eq!(render_message(&Value::Null), "");
        for (raw, line) in [
            (
                "Broadcast created successfully.",
                "Broadcast created successfully.",
            ),
            (" a  b\t c\u{a0}d ", "a b c d"),
            ("", ""),
        ] {
            assert_eq!(one_line(raw), line, "{raw:?}");
        }
    }

    #[test]
    fn success_may_be_a_string() {
        assert_eq!(truthy(&json!(true)), Some(true));
        assert_eq!(truthy(&json!("false")), Some(false));
        assert_eq!(truthy(&json!("true")), Some(true));
        assert_eq!(truthy(&json!(0)), Some(false));
        assert_eq!(truthy(&Value::Null), None);
        assert_eq!(truthy(&json!("maybe")), None);
    }

    #[test]
    fn ids_come_from_any_of_three_places() {
        assert_eq!(broadcast_id(&json!({"id": 7})), Some("7".into()));
        assert_eq!(
            broadcast_id(&json!({"broadcast_id": "3176"})),
            Some("3176".into())
        );
        assert_eq!(
            broadcast_id(&json!({"data": {"id": 12}})),
            Some("12".into())
        );
        assert_eq!(broadcast_id(&json!({"success": true})), None);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let d = parse_retry_after(&later).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
