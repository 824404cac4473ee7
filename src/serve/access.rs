//! Who may use the page: only the person who started `bulkcast serve`.
//!
//! - Every request carries the server's access token, as a cookie set from the first address
//!   (`/?token=…`, which then redirects to `/` so the token leaves the address bar). With
//!   `--listen`, the page's password gets the same cookie.
//! - The `Host` header must be the address served: a page of another site that renames itself
//!   to this machine (DNS rebinding) is refused.
//! - A request that changes anything must come from the page itself (`Origin`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::secret::Secret;

/// The largest login form read.
const MAX_LOGIN: usize = 4096;

pub struct Access {
    token: Secret,
    /// The `Host` values the page answers to.
    hosts: Vec<String>,
    /// The origin of the page itself, for each of those.
    origins: Vec<String>,
    /// The password `--listen` needs.
    password: Option<Secret>,
    cookie: String,
}

impl Access {
    pub fn new(addr: SocketAddr, token: Secret, password: Option<Secret>) -> Access {
        let port = addr.port();
        let mut hosts = vec![addr.to_string()];
        if addr.ip().is_loopback() {
            hosts.push(format!("localhost:{port}"));
        }
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Access {
            token,
            hosts,
            origins,
            password,
            // A cookie is not kept per port: two servers on one machine keep one each.
            cookie: format!("bulkcast_{port}"),
        }
    }

    /// The address to open, with the token.
    pub fn first_url(&self) -> String {
        format!("http://{}/?token={}", self.hosts[0], self.token.expose())
    }

    fn session_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie,
            self.token.expose()
        )
    }

    fn has_session(&self, req: &Request) -> bool {
        req.headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .any(|(k, v)| k == self.cookie && same(v, self.token.expose()))
    }
}

/// Equal, in a time that does not say how much of it matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Every request passes here first.
pub async fn guard(State(app): State<std::sync::Arc<App>>, req: Request, next: Next) -> Response {
    let access = &app.access;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !access.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "This page answers only at http://{}/ (the address bulkcast serve printed), not at {host:?}.",
                access.hosts[0]
            ),
        );
    }
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if changes {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|o| o.to_str().ok());
        if !origin.is_some_and(|o| access.origins.iter().any(|ours| ours == o)) {
            return refuse(
                StatusCode::FORBIDDEN,
                "A change must come from bulkcast's own page: this request came from elsewhere (or said not where from).",
            );
        }
    }
    if req.uri().path() == "/" && *req.method() == Method::GET {
        if let Some(given) = token_in_query(req.uri().query()) {
            if same(&given, access.token.expose()) {
                // The token becomes the cookie, and leaves the address bar.
                return Response::builder()
                    .status(StatusCode::SEE_OTHER)
                    .header(header::LOCATION, "/")
                    .header(header::SET_COOKIE, access.session_cookie())
                    .header(header::CACHE_CONTROL, "no-store")
                    .body(Body::empty())
                    .expect("a valid response");
            }
            return refuse(
                StatusCode::UNAUTHORIZED,
                "That address's token is not this server's: open the address bulkcast serve printed last.",
            );
        }
    }
    if req.uri().path() == "/login" && *req.method() == Method::POST && access.password.is_some() {
        return login(access, req).await;
    }
    // The page's style holds nothing: the password form uses it too.
    let style = req.uri().path() == "/app.css";
    if !style && !access.has_session(&req) {
        if access.password.is_some() && req.uri().path() == "/" {
            return login_page(StatusCode::UNAUTHORIZED, "");
        }
        return refuse(
            StatusCode::UNAUTHORIZED,
            "Open the address bulkcast serve printed in its window (it ends with ?token=…).",
        );
    }
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("valid"));
    headers.insert(
        header::X_FRAME_OPTIONS,
        "DENY".parse().expect("a valid header"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; frame-ancestors 'none'"
            .parse()
            .expect("a valid header"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        "nosniff".parse().expect("a valid header"),
    );
    response
}

fn token_in_query(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "token")
        .map(|(_, v)| v.to_owned())
}

/// The password form's answer: the session cookie, or the form again.
async fn login(access: &Access, req: Request) -> Response {
    let Ok(body) = axum::body::to_bytes(req.into_body(), MAX_LOGIN).await else {
        return login_page(StatusCode::PAYLOAD_TOO_LARGE, "That was not a password.");
    };
    let given = form_value(&body, "password").unwrap_or_default();
    let expected = access.password.as_ref().map_or("", |p| p.expose());
    if !given.is_empty() && same(&given, expected) {
        return Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, "/")
            .header(header::SET_COOKIE, access.session_cookie())
            .body(Body::empty())
            .expect("a valid response");
    }
    login_page(
        StatusCode::UNAUTHORIZED,
        "That password is not this page's.",
    )
}

/// `name`'s value in a form body (`application/x-www-form-urlencoded`).
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let (_, v) = text
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)?;
    let v = v.replace('+', " ");
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => {
                let h = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn login_page(status: StatusCode, said: &str) -> Response {
    let page = super::page::LOGIN.replace("{said}", said);
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// A refusal, in words for the person who sees it.
pub fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(
            form_value(b"password=a%20b+c%26", "password").as_deref(),
            Some("a b c&")
        );
        assert_eq!(form_value(b"x=1", "password"), None);
        assert_eq!(form_value(b"password=%zz", "password"), None);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("ab", "abc"));
    }
}
