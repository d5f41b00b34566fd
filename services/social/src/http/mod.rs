//! The REST API under `/v1/social`: communities ([`communities`]), chats and
//! their messages ([`chats`]), the follow graph ([`graph`]), and the feed with
//! kudos, comments, posts and the reports queue ([`feed`]). Every handler
//! takes a [`vigor_common::auth::Caller`], answers problem+json on error and is in
//! the OpenAPI document ([`crate::openapi`]).
//!
//! Every route needs `social:read` to read and `social:write` for anything else
//! ([`scope_policy`]).

pub mod chats;
pub mod communities;
pub mod feed;
pub mod graph;

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;
use serde::Serialize;
use vigor_common::api::{Cursor, Keyset, Page, PageParams};
use vigor_common::auth::scopes::{self, ScopePolicy};
use vigor_common::{Id, Problem};

use crate::service::SocialService;

/// The scope each route needs: `social:read` to read, `social:write` otherwise,
/// `account` for the account export.
pub fn scope_policy() -> ScopePolicy {
    ScopePolicy::new(scopes::SOCIAL_READ, scopes::SOCIAL_WRITE).except(
        axum::http::Method::GET,
        "/v1/social/me/export",
        scopes::ACCOUNT,
    )
}

/// A list of items that is not paged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

/// Lists ordered by a user id (members, followers, following).
pub(crate) const BY_USER: Keyset<()> = Keyset::new("social.by_user");

/// The `limit` and the user id to resume after, from `?limit=&cursor=`.
pub(crate) fn user_page(params: &PageParams) -> Result<(u32, Option<Id>), Problem> {
    let limit = params.limit()?;
    let after = BY_USER.parse(params.cursor.as_deref())?.map(|c| c.id);
    Ok((limit, after))
}

/// The page of `rows` (fetched with `limit + 1`), resuming after `user_of` the last.
pub(crate) fn user_paged<T>(rows: Vec<T>, limit: u32, user_of: impl Fn(&T) -> Id) -> Page<T> {
    BY_USER.page(rows, limit, |row| Cursor::new((), user_of(row)))
}

/// The service's routes, with their state.
pub fn router(service: SocialService) -> Router {
    let policy = Arc::new(scope_policy());
    Router::new()
        .route("/v1/social/communities", post(communities::create))
        .route(
            "/v1/social/communities/{id}",
            get(communities::get)
                .patch(communities::update)
                .delete(communities::delete),
        )
        .route("/v1/social/communities/{id}/join", post(communities::join))
        .route(
            "/v1/social/communities/{id}/leave",
            post(communities::leave),
        )
        .route(
            "/v1/social/communities/{id}/access",
            get(communities::access),
        )
        .route(
            "/v1/social/communities/{id}/channels",
            get(communities::channels).post(communities::create_channel),
        )
        .route(
            "/v1/social/communities/{id}/members",
            get(communities::members),
        )
        .route(
            "/v1/social/communities/{id}/invitations",
            post(communities::invite),
        )
        .route(
            "/v1/social/communities/{id}/members/{user_id}",
            axum::routing::delete(communities::remove_member),
        )
        .route(
            "/v1/social/communities/{id}/members/{user_id}/approve",
            post(communities::approve),
        )
        .route(
            "/v1/social/communities/{id}/members/{user_id}/role",
            put(communities::set_role),
        )
        .route(
            "/v1/social/communities/{id}/members/{user_id}/mute",
            post(communities::mute),
        )
        .route("/v1/social/communities/{id}/bans", post(communities::ban))
        .route(
            "/v1/social/communities/{id}/bans/{user_id}",
            axum::routing::delete(communities::unban),
        )
        .route("/v1/social/communities/{id}/audit", get(communities::audit))
        .route("/v1/social/dms", post(chats::direct))
        .route("/v1/social/groups", post(chats::group))
        .route("/v1/social/groups/{id}/members", post(chats::add_members))
        .route(
            "/v1/social/groups/{id}/members/{user_id}",
            axum::routing::delete(chats::remove_member),
        )
        .route("/v1/social/channels", get(chats::mine))
        .route("/v1/social/channels/{id}/access", get(chats::access))
        .route(
            "/v1/social/channels/{id}/messages",
            get(chats::history).post(chats::send),
        )
        .route(
            "/v1/social/channels/{id}/messages/{message_id}",
            axum::routing::patch(chats::edit).delete(chats::delete),
        )
        .route(
            "/v1/social/channels/{id}/messages/{message_id}/reactions/{emoji}",
            put(chats::react).delete(chats::unreact),
        )
        .route("/v1/social/channels/{id}/read", post(chats::read))
        .route("/v1/social/feed", get(feed::feed))
        .route(
            "/v1/social/feed/items/{id}",
            get(feed::item).delete(feed::delete_item),
        )
        .route(
            "/v1/social/feed/items/{id}/kudos",
            get(feed::kudos)
                .put(feed::give_kudos)
                .delete(feed::take_kudos),
        )
        .route(
            "/v1/social/feed/items/{id}/comments",
            get(feed::comments).post(feed::comment),
        )
        .route(
            "/v1/social/feed/items/{id}/comments/{comment_id}",
            axum::routing::delete(feed::delete_comment),
        )
        .route(
            "/v1/social/communities/{id}/feed",
            get(feed::community_feed),
        )
        .route("/v1/social/communities/{id}/posts", post(feed::post))
        .route(
            "/v1/social/communities/{id}/reports",
            get(feed::community_reports),
        )
        .route(
            "/v1/social/channels/{id}/messages/{message_id}/report",
            post(feed::report),
        )
        .route("/v1/social/reports", get(feed::chat_reports))
        .route("/v1/social/reports/{id}/resolve", post(feed::resolve))
        .route(
            "/v1/social/following/{user_id}",
            put(graph::follow).delete(graph::unfollow),
        )
        .route("/v1/social/following", get(graph::following))
        .route("/v1/social/follow-requests", get(graph::follow_requests))
        .route("/v1/social/me/export", get(graph::export))
        .route(
            "/v1/social/follow-requests/{user_id}/approve",
            post(graph::approve),
        )
        .route(
            "/v1/social/followers/{user_id}",
            axum::routing::delete(graph::remove_follower),
        )
        .route("/v1/social/followers", get(graph::followers))
        .route(
            "/v1/social/blocks/{user_id}",
            put(graph::block).delete(graph::unblock),
        )
        .route("/v1/social/blocks", get(graph::blocks))
        .route_layer(axum::middleware::from_fn_with_state(
            policy,
            scopes::enforce,
        ))
        .with_state(service)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_the_scope_each_operation_needs() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document is JSON");
        let wrong = super::scope_policy().undocumented(&doc);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
