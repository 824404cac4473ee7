//! How a request reaches the API when it is not over HTTP: an in-memory API registered for a
//! base URL, which the [`super::client::Client`] for that URL calls instead of reqwest. The
//! deterministic simulation (`tests/simulation`) runs the real engine against a model of
//! Smartflo this way, on tokio's paused clock; nothing registers one in the product.
//!
//! The wire carries what HTTP would: the method, path, `Authorization` header and body out;
//! a status, `Retry-After` and body back, or a failure with no reply. Classifying the reply is
//! the client's, the same code for both.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};

use bytes::Bytes;

/// One request as it leaves.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: &'static str,
    /// The path and query, e.g. `/v2/broadcasts?limit=100&page=1`.
    pub path: String,
    /// The `Authorization` header, when the request carries one.
    pub authorization: Option<String>,
    pub body: Bytes,
}

/// What came back.
#[derive(Debug, Clone)]
pub enum Answer {
    Reply {
        status: u16,
        retry_after: Option<String>,
        body: Vec<u8>,
        /// The server's clock when it answered (HTTP's `Date`), when it says.
        date: Option<std::time::SystemTime>,
    },
    /// No reply: nothing reached the server ([`Failure::Connect`]), or the connection was lost
    /// after the request went out ([`Failure::Lost`]). A reply that never comes is a timeout,
    /// which the client applies as it does to HTTP.
    Failed(Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Connect,
    Lost,
}

pub type Pending = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// An API that answers in memory.
pub trait Wire: Send + Sync {
    fn call(&self, request: Request) -> Pending;
}

static WIRES: LazyLock<Mutex<HashMap<String, Arc<dyn Wire>>>> = LazyLock::new(Mutex::default);

/// From now on, clients for `base_url` call `wire`.
pub fn register(base_url: &str, wire: Arc<dyn Wire>) {
    crate::lock(&WIRES).insert(base_url.trim_end_matches('/').to_owned(), wire);
}

/// Clients for `base_url` go back to HTTP.
pub fn unregister(base_url: &str) {
    crate::lock(&WIRES).remove(base_url.trim_end_matches('/'));
}

/// The wire registered for `base_url`, if any.
pub(crate) fn find(base_url: &str) -> Option<Arc<dyn Wire>> {
    crate::lock(&WIRES).get(base_url).cloned()
}
