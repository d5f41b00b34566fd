//! What the leaderboards learn from other services about people: whom the
//! caller follows (social), whether the caller is a member of a community
//! (social), and display names (users).
//!
//! The leaderboards own no people data, so they ask the owning service on the
//! caller's behalf, forwarding the caller's own access token: the service
//! decides exactly as it would for the caller's browser (a follow list is the
//! caller's to read; a private community's membership is social's to judge).
//! The transport is the hub's [`ServiceClient`]: the service's router in this
//! process when it runs here ([`Peers`]), else its configured URL
//! (`social.url`, `users.url`).
//!
//! Answers are cached briefly with `moka` (bounded in entries, expiring after a
//! few seconds), because one board page asks for up to 100 names and a busy
//! board is read by many people at once: a name changed or a follow made shows
//! on the boards within [`FOLLOWING_TTL`] / [`NAMES_TTL`].

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use moka::sync::Cache;
use serde::Deserialize;
use vigor_common::config::{Config, ServiceName};
use vigor_common::service::Peers;
use vigor_common::{Id, Problem};
use vigor_hub::{BearerToken, ServiceClient, ServiceReply};

/// How long a caller's follow list is reused.
pub const FOLLOWING_TTL: Duration = Duration::from_secs(10);
/// How long a display name is reused.
pub const NAMES_TTL: Duration = Duration::from_secs(60);
/// How long a community membership answer is reused.
pub const MEMBERSHIP_TTL: Duration = Duration::from_secs(10);
/// The most people a friends board ranks: the caller and up to this many
/// they follow (in followee-id order; the rest are left out).
pub const MAX_FOLLOWING: usize = 1000;
/// How many names one request to the users service asks for.
const NAMES_PER_CALL: usize = 100;
/// How many follows one request to the social service asks for.
const FOLLOWS_PER_CALL: u32 = 100;

/// Reaches social and users for the routes; cheap to clone.
#[derive(Clone)]
pub struct People {
    peers: Peers,
    social_url: Option<String>,
    users_url: Option<String>,
    timeout: Duration,
    following: Cache<Id, std::sync::Arc<Vec<Id>>>,
    names: Cache<Id, String>,
    members: Cache<(Id, Id), bool>,
}

#[derive(Deserialize)]
struct FollowPage {
    items: Vec<Follow>,
    next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct Follow {
    followee_id: Id,
    status: String,
}

#[derive(Deserialize)]
struct NamePage {
    items: Vec<Name>,
}

#[derive(Deserialize)]
struct Name {
    id: Id,
    display_name: String,
}

#[derive(Deserialize)]
struct Access {
    subscribe: bool,
}

impl People {
    /// Asks the services of `config` (in-process through `peers` when they run here).
    pub fn new(config: &Config, peers: Peers) -> People {
        People {
            peers,
            social_url: config.service_url(ServiceName::Social).map(str::to_owned),
            users_url: config.service_url(ServiceName::Users).map(str::to_owned),
            timeout: config.leaderboards.lookup_timeout(),
            following: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(FOLLOWING_TTL)
                .build(),
            names: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(NAMES_TTL)
                .build(),
            members: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(MEMBERSHIP_TTL)
                .build(),
        }
    }

    fn client(&self, service: ServiceName) -> Result<ServiceClient, Problem> {
        if let Some(router) = self.peers.router(service) {
            return Ok(ServiceClient::in_process(router, self.timeout));
        }
        let url = match service {
            ServiceName::Social => self.social_url.as_deref(),
            _ => self.users_url.as_deref(),
        };
        let url = url.ok_or_else(|| {
            unavailable(format!(
                "the {service} service is not reachable from here (set {service}.url)"
            ))
        })?;
        ServiceClient::http(url, self.timeout).map_err(|e| unavailable(e.to_string()))
    }

    async fn get(
        &self,
        service: ServiceName,
        path: &str,
        token: &BearerToken,
    ) -> Result<ServiceReply, Problem> {
        let reply = self
            .client(service)?
            .get(path, token)
            .await
            .map_err(|e| unavailable(format!("the {service} service: {e}")))?;
        match reply.status {
            s if s.is_success() => Ok(reply),
            StatusCode::UNAUTHORIZED => Err(Problem::unauthorized(
                reply
                    .problem_message()
                    .unwrap_or_else(|| "the token was refused".to_owned()),
            )),
            StatusCode::FORBIDDEN => Err(Problem::forbidden(format!(
                "the {service} service refused: {}",
                reply.problem_message().unwrap_or_default()
            ))),
            status => Err(unavailable(format!(
                "the {service} service answered {status}"
            ))),
        }
    }

    /// Whom `user` follows (active follows only, at most [`MAX_FOLLOWING`]).
    pub async fn following(&self, user: Id, token: &BearerToken) -> Result<Vec<Id>, Problem> {
        if let Some(cached) = self.following.get(&user) {
            return Ok(cached.as_ref().clone());
        }
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/social/following?limit={FOLLOWS_PER_CALL}");
            if let Some(c) = &cursor {
                path.push_str("&cursor=");
                path.push_str(c);
            }
            let page: FollowPage = decode(&self.get(ServiceName::Social, &path, token).await?)?;
            ids.extend(
                page.items
                    .iter()
                    .filter(|f| f.status == "active")
                    .map(|f| f.followee_id),
            );
            match page.next_cursor {
                Some(next) if ids.len() < MAX_FOLLOWING => cursor = Some(next),
                _ => break,
            }
        }
        ids.truncate(MAX_FOLLOWING);
        self.following
            .insert(user, std::sync::Arc::new(ids.clone()));
        Ok(ids)
    }

    /// Whether `user` may see community `community`'s boards: what social
    /// answers for its hub channel (`subscribe`: members, and anyone for a
    /// public community).
    pub async fn may_see_community(
        &self,
        user: Id,
        community: Id,
        token: &BearerToken,
    ) -> Result<bool, Problem> {
        if let Some(known) = self.members.get(&(user, community)) {
            return Ok(known);
        }
        let path = format!("/v1/social/communities/{community}/access");
        let access: Access = decode(&self.get(ServiceName::Social, &path, token).await?)?;
        self.members.insert((user, community), access.subscribe);
        Ok(access.subscribe)
    }

    /// The display names of `users` that have one (active accounts); a failed
    /// lookup leaves names out rather than failing the board.
    pub async fn names(&self, users: &[Id], token: &BearerToken) -> HashMap<Id, String> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for &user in users {
            match self.names.get(&user) {
                Some(name) => {
                    found.insert(user, name);
                }
                None => missing.push(user),
            }
        }
        for chunk in missing.chunks(NAMES_PER_CALL) {
            let ids: Vec<String> = chunk.iter().map(Id::to_string).collect();
            let path = format!("/v1/users/names?ids={}", ids.join(","));
            let page = match self.get(ServiceName::Users, &path, token).await {
                Ok(reply) => decode::<NamePage>(&reply),
                Err(problem) => Err(problem),
            };
            match page {
                Ok(page) => {
                    for name in page.items {
                        self.names.insert(name.id, name.display_name.clone());
                        found.insert(name.id, name.display_name);
                    }
                }
                Err(problem) => {
                    tracing::warn!(
                        status = %problem.status_code(),
                        "display names not found; the board shows ids only"
                    );
                    break;
                }
            }
        }
        found
    }
}

fn decode<T: serde::de::DeserializeOwned>(reply: &ServiceReply) -> Result<T, Problem> {
    serde_json::from_slice(&reply.body)
        .map_err(|e| unavailable(format!("an answer that does not parse: {e}")))
}

/// 503: a service the answer needs did not answer.
pub fn unavailable(detail: impl Into<String>) -> Problem {
    Problem::typed(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "Service unavailable",
    )
    .with_detail(detail)
}
