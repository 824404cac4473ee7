//! Finding broadcasts on the account by name, through `GET /v2/broadcasts`.
//!
//! The list endpoint has no name filter, so a lookup reads every page (100 broadcasts each)
//! through the same rate gate as every other call, once per lookup round, and answers for all
//! the names of that round together.

use std::collections::{HashMap, HashSet};

use super::client::{broadcast_id, ReplyKind};
use super::worker::Ctx;

/// Page size for listing: the API's maximum.
const PAGE: u32 = 100;

/// Every broadcast on the account, name → id (the first id listed for a name). `Err` says why
/// the account could not be read to the end.
pub async fn names(ctx: &Ctx) -> Result<HashMap<String, String>, String> {
    let mut names = HashMap::new();
    let mut seen_ids = HashSet::new();
    for page in 1.. {
        let Some(reply) = ctx.send(false, || ctx.client.list(PAGE, page)).await.reply else {
            return Err("the run stopped".into());
        };
        if reply.kind != ReplyKind::Ok {
            return Err(format!("listing page {page} failed: {}", reply.message));
        }
        let results = reply
            .body
            .as_ref()
            .and_then(|b| b["results"].as_array())
            .cloned()
            .unwrap_or_default();
        let mut new = 0;
        for b in &results {
            let (Some(name), Some(id)) = (b["name"].as_str(), broadcast_id(b)) else {
                continue;
            };
            if seen_ids.insert(id.clone()) {
                new += 1;
                names.entry(name.trim().to_owned()).or_insert(id);
            }
        }
        // A short page is the last; a page of nothing new means the server ignores `page`.
        if results.len() < PAGE as usize || new == 0 {
            break;
        }
    }
    tracing::debug!("the account has {} broadcasts", names.len());
    Ok(names)
}
