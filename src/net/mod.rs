//! Talking to Smartflo: the HTTP [`client`] that turns one request into one classified reply,
//! and the [`gate`] every request passes to hold the account's [`Rate`], as the [`pacer`] learns
//! it (promise 3).

pub mod client;
pub(crate) mod gate;
pub(crate) mod pacer;
mod rate;
pub(crate) mod reply;
pub mod wire;

pub use gate::seed_jitter;
pub use rate::{BadRate, Rate};

/// Whether a refusal's message asks for the same request again later.
pub(crate) fn asks_to_try_again(message: &str) -> bool {
    let m = message.to_lowercase();
    ["try again", "please retry", "retry later", "temporarily"]
        .iter()
        .any(|p| m.contains(p))
}
