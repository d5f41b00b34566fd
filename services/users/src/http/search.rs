//! `GET /v1/users?q=`: users by display-name prefix, for follows and mentions.
//!
//! Ordered by (lowercased name, id); the cursor is the keyset cursor of that
//! pair of the last item, so pages neither skip nor repeat when names are
//! shared or profiles change or go between requests.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Keyset, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use crate::domain::{name_key, MAX_DISPLAY_NAME};
use crate::service::UsersService;
use crate::store::search_position;

/// The query of a search.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The start of the display name (case-insensitive), 1–64 characters.
    pub q: Option<String>,
    /// How many items at most (1–100, default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page of the same search (opaque).
    pub cursor: Option<String>,
}

/// A user found by search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserHit {
    /// The user's id.
    pub id: Id,
    /// The name other people see.
    pub display_name: String,
    /// Picture URL.
    pub avatar_url: Option<String>,
}

/// The search, ordered by (name key, user id): its cursors carry the name key.
const SEARCH: Keyset<String> = Keyset::new("users.search");

/// Users whose display name starts with `q`, active accounts only.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    security(("bearer" = ["profile:read"])),
    params(SearchParams),
    responses(
        (status = 200, description = "One page of matches.", body = Page<UserHit>),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`q`, `limit` or `cursor` is invalid.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    State(users): State<UsersService>,
    _caller: Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<ApiJson<Page<UserHit>>, Problem> {
    let limit = PageParams {
        limit: params.limit,
        cursor: None,
    }
    .limit()?;
    let prefix = name_key(params.q.as_deref().unwrap_or(""));
    if prefix.is_empty() || prefix.chars().count() > MAX_DISPLAY_NAME {
        return Err(Problem::invalid_field(
            "q",
            format!("must be 1 to {MAX_DISPLAY_NAME} characters"),
        ));
    }
    let after = SEARCH.parse(params.cursor.as_deref())?;
    let rows = users
        .store
        .search(&prefix, after.as_ref(), limit + 1)
        .await
        .map_err(Problem::internal)?;
    let page = SEARCH.page(rows, limit, search_position);
    Ok(ApiJson(Page {
        items: page
            .items
            .into_iter()
            .map(|p| UserHit {
                id: p.user_id,
                display_name: p.display_name,
                avatar_url: p.avatar_url,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}
