//! The page's files, embedded in the binary: plain HTML, CSS and JavaScript, no build step, no
//! download at build or run time.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const APP_CSS: &str = include_str!("page/app.css");

/// The password form (`--listen`); `{said}` is replaced by why it is shown again.
pub const LOGIN: &str = include_str!("page/login.html");

/// One of the page's files.
pub async fn serve(name: &str) -> Response {
    let (kind, body) = match name {
        "index.html" => ("text/html; charset=utf-8", INDEX),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}
