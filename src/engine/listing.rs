//! Reading the account's broadcasts through `GET /v2/broadcasts`: complete, or an error.
//!
//! The endpoint has no filter by name, and its reference leaves open the order (oldest or newest
//! first), whether `limit` is honoured up to 100, whether a total is given and how soon a new
//! broadcast appears. So a listing is only trusted when it is whole:
//!
//! - pages are read until an empty page; a total the reply states is never believed (it can
//!   be stale, and a listing that stopped at it would take broadcasts on later pages for absent);
//! - a reply without a `results` array, page 1 again twice in a row (the server ignores
//!   `page`; once is read past: broadcasts made meanwhile at the list's front push a page's
//!   worth back onto the next page), ten pages in a row with nothing new, a listing that goes
//!   past `--max-listing-pages`, is an error;
//! - a page shorter than asked is only the end if the next page is empty; if the next page has
//!   broadcasts, the server caps its pages, and the listing starts again at that size (as it
//!   does when a reply states a smaller `limit` than asked);
//! - broadcasts are de-duplicated by id across pages (pages shift while broadcasts are created
//!   when the list is newest first).
//!
//! Only what a caller asks to keep of each broadcast is kept ([`Keep`]), and what a listing
//! shows of broadcasts is kept for at most [`MAX_SHOWN`] of them.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::errors::ListingError;
use super::events::{Call, Event};
use super::sender::{FirstSlot, Sender};
use super::whose::Listed;
use crate::input::name_fingerprint;
use crate::net::client::{self, broadcast_id, ReplyKind};

/// Page size asked for: the API's maximum.
const PAGE: usize = 100;
/// Pages in a row that are page 1 again before a listing is given up as an API that ignores
/// `page`; and pages in a row with nothing new (broadcasts made meanwhile, or showing late,
/// pushing the list along) before it is given up as repeating itself.
const PAGE_ONE_AGAIN: u32 = 2;
const STALE_PAGES: u32 = 10;

/// The broadcasts with wanted names: the name's key ([`name_key`]) → every id that carries a
/// name with that key, in listing order.
pub type Found = HashMap<String, Vec<String>>;

/// Which broadcasts a complete listing saw: the fingerprints of their ids.
pub type Seen = HashSet<u64>;

/// What a listing keeps of a broadcast, by its name and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Nothing.
    No,
    /// Its name and id.
    Name,
    /// Its name, id, and everything the listing shows of it.
    Shown,
    /// Its name, id, and these fields of what the listing shows (a few: not counted against
    /// [`MAX_SHOWN`]).
    Fields(&'static [&'static str]),
}

/// Broadcasts kept with what the listing shows of them, at most, in one listing: past it the
/// listing is an error rather than memory without end.
pub const MAX_SHOWN: usize = 50_000;

/// List the whole account, keeping what `keep` (by name and id) asks of each broadcast, once
/// each, in listing order; and which broadcasts the listing saw.
pub async fn list_kept(
    sender: &Sender,
    keep: &dyn Fn(&str, &str) -> Keep,
    max_pages: u32,
) -> Result<(Vec<Listed>, Seen), ListingError> {
    let mut limit = PAGE;
    loop {
        match list_at(sender, keep, limit, max_pages).await? {
            Pass::Done(found) => return Ok(found),
            Pass::Smaller(cap) => {
                sender.events().emit(Event::PageCap { cap }).await;
                limit = cap;
            }
        }
    }
}

/// Pages with nothing new. One is the listing shifting under it (broadcasts made meanwhile
/// showing at its front: as many as a page holds make the next page page 1 again), and the
/// next page goes on; an API that ignores `page` answers page 1 every time, and page 1 twice
/// again in a row says so (or many stale pages in a row).
#[derive(Default)]
struct Stale {
    first: Vec<u64>,
    stale: u32,
    again: u32,
}

impl Stale {
    /// Note page `page` (its ids' fingerprints, `new` of them not seen before); whether the
    /// listing repeats itself.
    fn repeats(&mut self, page: u32, ids: Vec<u64>, new: usize) -> bool {
        let again = new == 0 && page > 1 && ids == self.first;
        if page == 1 {
            self.first = ids;
        }
        self.stale = if new == 0 { self.stale + 1 } else { 0 };
        self.again = if again { self.again + 1 } else { 0 };
        self.again >= PAGE_ONE_AGAIN || self.stale >= STALE_PAGES
    }
}

enum Pass {
    Done((Vec<Listed>, Seen)),
    /// The server holds pages to this size: start again with it.
    Smaller(usize),
}

async fn list_at(
    sender: &Sender,
    keep: &dyn Fn(&str, &str) -> Keep,
    limit: usize,
    max_pages: u32,
) -> Result<Pass, ListingError> {
    let (mut kept, mut shown) = (Vec::new(), 0);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut short: Option<usize> = None;
    // How many pages in a row brought nothing new.
    let mut stale = Stale::default();
    for page in 1..=max_pages {
        let asked = u32::try_from(limit).unwrap_or(100);
        let call = Call::List { page };
        let list = || sender.client.list(asked, page);
        let Some(reply) = sender.send(call, FirstSlot::Wait, list).await.reply else {
            return Err(ListingError::Stopped);
        };
        if reply.message.starts_with(client::TOO_LARGE) && reply.body.is_none() {
            // Ask for smaller pages; a page of one that is still too large is an error.
            if limit > 1 {
                return Ok(Pass::Smaller(limit.div_ceil(4)));
            }
            return Err(ListingError::PageTooLarge {
                page,
                mib: client::MAX_LIST_BODY >> 20,
            });
        }
        if reply.kind != ReplyKind::Ok {
            return Err(ListingError::PageFailed {
                page,
                message: reply.message,
            });
        }
        let body = reply.body.unwrap_or(Value::Null);
        let Some(results) = body["results"].as_array() else {
            return Err(ListingError::NoResults { page });
        };
        if let Some(stated) = body["limit"].as_u64().and_then(|l| usize::try_from(l).ok()) {
            if (1..limit).contains(&stated) {
                return Ok(Pass::Smaller(stated));
            }
        }
        if results.is_empty() {
            return Ok(Pass::Done((kept, seen)));
        }
        if let Some(len) = short {
            // The page before was short, yet this one has broadcasts: pages are capped.
            return Ok(Pass::Smaller(len));
        }
        let mut new = 0;
        let mut ids = Vec::with_capacity(results.len());
        for b in results {
            let (Some(name), Some(id)) = (b["name"].as_str(), broadcast_id(b)) else {
                return Err(ListingError::Unnamed { page });
            };
            ids.push(name_fingerprint(&id));
            if seen.insert(name_fingerprint(&id)) {
                new += 1;
                let shows = match keep(name, &id) {
                    Keep::No => continue,
                    Keep::Name => Value::Null,
                    Keep::Shown => {
                        shown += 1;
                        if shown > MAX_SHOWN {
                            return Err(ListingError::TooMany { max: MAX_SHOWN });
                        }
                        b.clone()
                    }
                    Keep::Fields(fields) => fields
                        .iter()
                        .map(|f| ((*f).to_owned(), b[*f].clone()))
                        .collect::<serde_json::Map<_, _>>()
                        .into(),
                };
                kept.push(Listed {
                    id,
                    name: name.to_owned(),
                    shown: shows,
                });
            }
        }
        if stale.repeats(page, ids, new) {
            return Err(ListingError::Repeats { page });
        }
        if results.len() < limit {
            short = Some(results.len());
        }
    }
    Err(ListingError::TooLong { max_pages })
}
