//! Integration tests, built as one binary: each module drives one command end to end.

mod account;
mod browser;
mod edges;
mod encodings;
mod events;
mod gateways;
mod ledger;
mod lies;
mod mock;
mod pace;
mod props;
mod resume;
mod security;
mod serve;
mod submit;
mod util;
mod validate;
mod workbooks;
