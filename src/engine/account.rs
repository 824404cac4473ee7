//! The account, asked without creating anything: for `bulkcast broadcasts` and a dry run that
//! checks its sheet against the account. The same sender as a run's — its pace, retries,
//! login and token renewal — and the same listing, so no rule is written twice.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;

use super::counts::Counts;
use super::events::{Call, Events};
use super::listing;
use super::plan::Endpoint;
use super::sender::{self, FirstSlot, Sender};
use super::stop::Stop;
use crate::net::client::{Client, ReplyKind};
use crate::net::gate::Gate;
use crate::net::Rate;
use crate::secret::Auth;

/// A broadcast as the account lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub status: String,
    pub list_id: String,
    /// Seconds since 1970, when the listing says.
    pub created_at: Option<u64>,
}

/// A session with the account: logged in (if need be) and its credentials checked.
pub struct Session {
    sender: Sender,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Session {
    /// Log in (with email and password) and check the credentials with one cheap listing call.
    pub async fn open(endpoint: &Endpoint, rate: Rate, timeout: Duration) -> Result<Session> {
        let (token, login) = match endpoint.auth.clone() {
            Auth::Token(token) => (Some(token), None),
            Auth::Login { email, password } => (None, Some((email, password))),
        };
        let client = Client::new(&endpoint.base_url, token.as_ref(), timeout, 4)?;
        // Nobody listens: the events of a session are not shown.
        let (events, _) = Events::channel();
        let sender = Sender::new(
            client,
            Gate::new(rate, NonZeroU32::MIN),
            sender::Parts {
                login,
                max_retries: 5,
                outage_wait: Duration::from_secs(120),
                stop: Arc::new(Stop::default()),
                counts: Arc::new(Counts::default()),
                events,
            },
        );
        if sender.logs_in() {
            sender.login().await?;
        }
        super::authorise::check_auth(&sender, &endpoint.base_url).await?;
        Ok(Session { sender })
    }

    /// The account's IVRs (id, name), or why they could not be listed.
    pub async fn ivrs(&self) -> Result<Vec<(String, String)>, String> {
        let call = Call::List { page: 0 };
        let ivrs = || self.sender.client.ivrs();
        let reply = self.sender.send(call, FirstSlot::Wait, ivrs).await.reply;
        let reply = reply.ok_or_else(|| "the run stopped".to_owned())?;
        if reply.kind != ReplyKind::Ok {
            return Err(reply.message);
        }
        let body = reply.body.unwrap_or(Value::Null);
        let Some(all) = body["ivrs"].as_array() else {
            return Err("the reply holds no \"ivrs\" list".into());
        };
        Ok(all
            .iter()
            .map(|i| (text(&i["id"]), text(&i["name"])))
            .collect())
    }

    /// Every broadcast on the account, by id, through a listing that is complete or an error.
    pub async fn broadcasts(&self, max_pages: u32) -> Result<Vec<Listed>> {
        const FIELDS: &[&str] = &["status", "list_id", "created_at"];
        let keep = |_: &str, _: &str| listing::Keep::Fields(FIELDS);
        let (kept, _) = listing::list_kept(&self.sender, &keep, max_pages).await?;
        let mut seen: BTreeMap<String, Listed> = BTreeMap::new();
        for b in kept {
            let created_at = &b.shown["created_at"];
            let listed = Listed {
                id: b.id.clone(),
                name: b.name,
                status: text(&b.shown["status"]),
                list_id: text(&b.shown["list_id"]),
                created_at: created_at
                    .as_u64()
                    .or_else(|| created_at.as_str().and_then(|s| s.parse().ok())),
            };
            seen.insert(b.id, listed);
        }
        let mut all: Vec<Listed> = seen.into_values().collect();
        all.sort_by_key(|b| (b.id.parse::<u64>().unwrap_or(u64::MAX), b.id.clone()));
        Ok(all)
    }
}
