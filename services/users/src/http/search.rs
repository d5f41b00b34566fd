//! `GET /v1/users?q=`: users by display-name prefix, for follows and mentions.
//!
//! Ordered by (lowercased name, id); the cursor is that pair of the last item
//! (`<hex of the name key>.<id>`), so pages neither skip nor repeat when names
//! are shared or profiles change between requests.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use crate::domain::{name_key, MAX_DISPLAY_NAME};
use crate::service::UsersService;
use crate::store::SearchAfter;

/// The query of a search.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The start of the display name (case-insensitive), 1–64 characters.
    pub q: Option<String>,
    /// How many items at most (1–100, default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
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

fn encode_cursor(after: &SearchAfter) -> String {
    let hex: String = after.name_key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{}", after.user_id)
}

fn decode_cursor(raw: &str) -> Option<SearchAfter> {
    let (hex, id) = raw.split_once('.')?;
    if hex.len() % 2 != 0 || !hex.is_ascii() {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(SearchAfter {
        name_key: String::from_utf8(bytes).ok()?,
        user_id: id.parse().ok()?,
    })
}

/// Users whose display name starts with `q`, active accounts only.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    security(("bearer" = [])),
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
    let after = match params.cursor.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            decode_cursor(raw)
                .ok_or_else(|| Problem::invalid_field("cursor", "is not a cursor of this list"))?,
        ),
    };
    let rows = users
        .store
        .search(&prefix, after.as_ref(), limit + 1)
        .await
        .map_err(Problem::internal)?;
    let page = Page::from_overfetch(rows, limit, |p| {
        encode_cursor(&SearchAfter {
            name_key: name_key(&p.display_name),
            user_id: p.user_id,
        })
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let after = SearchAfter {
            name_key: "zoë. x".to_owned(),
            user_id: "123456789".parse().unwrap(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&after)), Some(after));
        for bad in ["", "zz.1", "abc.1", "61.x", "61", "ff.1"] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
