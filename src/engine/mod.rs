//! The engine: one run of `submit` as a library. Every valid row becomes one
//! `POST /v1/broadcast`, sent concurrently at exactly the account's rate, with one result per
//! input row — and safe to run again. A run reports everything it does as [`Event`]s on one
//! bounded channel; the terminal is one consumer of them (`output::terminal`), tests another.
//!
//! A run goes through these stages, in this order:
//!
//! 1. **check** ([`Prepared::check`], [`check`]): read the whole input once; what earlier runs
//!    recorded is loaded for `--resume`. A dry run ends here.
//! 2. **authorise** ([`authorise`]): log in if need be, then one cheap listing call, so a bad
//!    token stops the run before anything is created.
//! 3. **send** ([`reader`], [`dispatch`], [`row`], [`collect`]): stream the rows again; the
//!    dispatcher decides what it can without sending ([`decide`]) and sends the rest, every
//!    request through the one [`sender`], every `sent` journaled and every name claimed in the
//!    account's ledger ([`record`], [`claims`]) before its request goes out.
//! 4. **look up** ([`lookup`]): rows that got no answer are looked up on the account by name
//!    before any is sent again.
//! 5. **finish**: the complete results file is renamed into place and the journal removed; the
//!    failed rows are written; the run ends with its summary.
//!
//! Each part owns one resource and is passed where it is needed: the [`sender::Sender`] (client,
//! gate, token, outage), the [`record::Record`] (journal and ledger), the [`counts::Counts`] and the
//! [`stop::Stop`]. Stopping a run is one call on its [`Handle`].

mod account;
mod agree;
mod authorise;
pub(crate) mod check;
pub(crate) mod claims;
mod collect;
mod counts;
mod decide;
mod dispatch;
pub mod errors;
pub mod events;
mod finish;
mod held;
mod ids;
mod ledgered;
mod listing;
mod lookup;
pub(crate) mod plan;
mod reader;
mod record;
mod reply;
mod row;
mod run;
mod sender;
mod share;
mod stop;
mod whose;

pub use account::{Listed, Session};
pub use events::{Event, Events};
pub use plan::{Endpoint, Prepared};
pub use run::{Engine, Handle};
pub use stop::Severity;
