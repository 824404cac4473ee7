//! Talking to Smartflo: the HTTP [`client`] that turns one request into one classified reply,
//! and the [`gate`] every request passes to hold the account's [`Rate`], as the [`pacer`] learns
//! it (promise 3).

pub mod client;
pub(crate) mod gate;
pub(crate) mod pacer;
mod rate;

pub use rate::{BadRate, Rate};
