//! The Smartflo HTTP client: one request in, one classified [`Reply`] out (what each reply
//! means is [`super::reply`]'s).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::StatusCode;

pub use super::reply::{
    broadcast_id, parse_retry_after, render_message, Reply, ReplyKind, MAX_LIST_BODY, TOO_LARGE,
};
use super::reply::{failure_kind, gateway_trouble, judge, no_reply, one_line, MAX_BODY};
use super::wire::{self, Wire};
use crate::secret::Secret;

/// Talks to one Smartflo account.
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    /// Parsed once, not per request.
    create_url: reqwest::Url,
    /// The `Authorization` header in use (marked sensitive, so it never prints), and how many
    /// times it has been replaced by a login.
    auth: Mutex<(Option<HeaderValue>, u64)>,
    /// An in-memory API registered for `base_url` ([`wire`]), called instead of HTTP.
    wire: Option<Arc<dyn Wire>>,
    timeout: Duration,
    /// How far the server's clock is ahead of this machine's, in seconds (behind: negative), as
    /// the last reply's `Date` said.
    server_ahead: Mutex<Option<i64>>,
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
        let wire = wire::find(&base_url);
        let client = Client {
            http,
            base_url,
            create_url,
            auth: Mutex::new((None, 0)),
            wire,
            timeout,
            server_ahead: Mutex::new(None),
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
        if self.wire.is_some() {
            let body = Bytes::from(body.to_string());
            return self
                .over_wire("POST", "/v1/auth/login", body, false, true)
                .await;
        }
        let url = format!("{}/v1/auth/login", self.base_url);
        let sent = self.http.post(url).json(&body).send().await;
        self.note_clock(&sent);
        classify(sent, true, MAX_BODY).await
    }

    /// `POST /v1/broadcast` with a request's body ([`crate::request::BroadcastRequest::to_body`]).
    pub async fn create(&self, body: &Bytes) -> Reply {
        if self.wire.is_some() {
            return self
                .over_wire("POST", "/v1/broadcast", body.clone(), true, false)
                .await;
        }
        let sent = self
            .authorized(self.http.post(self.create_url.clone()))
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.clone())
            .send()
            .await;
        self.note_clock(&sent);
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
        if self.wire.is_some() {
            return self.over_wire("GET", path, Bytes::new(), true, true).await;
        }
        let url = format!("{}{path}", self.base_url);
        let sent = self.authorized(self.http.get(url)).send().await;
        self.note_clock(&sent);
        classify(sent, true, MAX_LIST_BODY).await
    }

    /// Note how far the server's clock is from this machine's, as a reply's `Date` says.
    fn note_clock(&self, sent: &reqwest::Result<reqwest::Response>) {
        let date = sent
            .as_ref()
            .ok()
            .and_then(|r| r.headers().get(reqwest::header::DATE))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        if let Some(date) = date {
            *crate::lock(&self.server_ahead) = Some(seconds_ahead(date, crate::clock::now()));
        }
    }

    /// How far the server's clock is ahead of this machine's, in seconds (negative: behind),
    /// when a reply has said.
    pub fn server_ahead(&self) -> Option<i64> {
        *crate::lock(&self.server_ahead)
    }
}

/// `a - b` in whole seconds.
fn seconds_ahead(a: std::time::SystemTime, b: std::time::SystemTime) -> i64 {
    match a.duration_since(b) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl Client {
    /// A request to the in-memory API, with the timeout HTTP would have, classified as HTTP's
    /// replies are.
    async fn over_wire(
        &self,
        method: &'static str,
        path: &str,
        body: Bytes,
        authorized: bool,
        idempotent: bool,
    ) -> Reply {
        let Some(wire) = &self.wire else {
            unreachable!("over_wire is called only with a wire")
        };
        let authorization = match &crate::lock(&self.auth).0 {
            Some(h) if authorized => h.to_str().ok().map(str::to_owned),
            _ => None,
        };
        let request = wire::Request {
            method,
            path: path.to_owned(),
            authorization,
            body,
        };
        let cap = if method == "GET" {
            MAX_LIST_BODY
        } else {
            MAX_BODY
        };
        match tokio::time::timeout(self.timeout, wire.call(request)).await {
            Err(_) => no_reply(false, true, idempotent, "the simulated API did not answer"),
            Ok(wire::Answer::Failed(f)) => {
                let connect = f == wire::Failure::Connect;
                no_reply(connect, false, idempotent, "the simulated connection")
            }
            Ok(wire::Answer::Reply {
                status,
                retry_after,
                body,
                date,
            }) => {
                if let Some(date) = date {
                    *crate::lock(&self.server_ahead) =
                        Some(seconds_ahead(date, crate::clock::now()));
                }
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let retry_after = retry_after.as_deref().and_then(parse_retry_after);
                let mut body = body;
                body.truncate(cap);
                judge(status, retry_after, body, idempotent, cap)
            }
        }
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
    match read_capped(resp, cap).await {
        Ok(b) => judge(status, retry_after, b, idempotent, cap),
        // The status arrived but the body did not: a 2xx may have acted, anything else did
        // not, and says so by its status alone.
        Err(e) if status.is_success() => {
            let mut r = transport_failure(&e, idempotent);
            r.status = Some(status.as_u16());
            r
        }
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out"
            } else {
                "connection lost"
            };
            let kind = failure_kind(status, retry_after, idempotent);
            let message = format!("HTTP {status} (the reply's body was cut off: {what})");
            Reply {
                kind,
                status: Some(status.as_u16()),
                message,
                body: None,
                unreachable: gateway_trouble(status),
            }
        }
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

/// A request that produced no reply.
fn transport_failure(e: &reqwest::Error, idempotent: bool) -> Reply {
    no_reply(e.is_connect(), e.is_timeout(), idempotent, &error_chain(e))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::reply::truthy;
    use serde_json::{json, Value};

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
