//! The REST conventions every service follows, as types.
//!
//! - Lists answer [`Page`] (`{"items":[…],"next_cursor":"…"|null}`) and take
//!   [`PageParams`] (`limit`, `cursor`); every cursor is a keyset [`Cursor`] of
//!   the list's [`Keyset`] (see `cursor.rs` for why).
//! - Bodies and queries are read with [`ApiJson`] and [`ApiQuery`], whose rejections
//!   are problem+json like every other error (axum's own are plain text).
//! - Timestamps are RFC 3339 UTC ([`Timestamp`]).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::problem::Problem;

mod cursor;

pub use cursor::{Cursor, CursorError, Keyset};

/// A UTC timestamp; serialises as RFC 3339.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items of this page, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from `limit + 1` fetched rows: the extra row only tells that there is
    /// more, and `cursor_of` makes the cursor from the last row kept.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> String) -> Self {
        let limit = limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor_of)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// `limit` and `cursor` query parameters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items at most (1–100, default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (opaque; absent or empty: the first page).
    pub cursor: Option<String>,
}

/// The largest page any list serves.
pub const MAX_PAGE: u32 = 100;
/// The page size when `limit` is absent.
pub const DEFAULT_PAGE: u32 = 20;

impl PageParams {
    /// The validated limit: 1..=100, 20 when absent.
    pub fn limit(&self) -> Result<u32, Problem> {
        match self.limit {
            None => Ok(DEFAULT_PAGE),
            Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            Some(_) => Err(Problem::invalid_field(
                "limit",
                format!("must be between 1 and {MAX_PAGE}"),
            )),
        }
    }
}

/// `axum::Json`, with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(e) => Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields",
        )
        .with_detail(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => Problem::bad_request(e.body_text()),
        JsonRejection::MissingJsonContentType(_) => Problem::typed(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .with_detail("expected a body with `Content-Type: application/json`"),
        JsonRejection::BytesRejection(e) => {
            let status = e.status();
            Problem::new(status).with_detail(e.body_text())
        }
        other => Problem::new(other.status()).with_detail(other.body_text()),
    }
}

/// `axum::extract::Query`, with problem+json rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Problem::typed(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The request has invalid fields",
            )
            .with_detail(e.body_text())),
            Err(other) => Err(Problem::new(other.status()).with_detail(other.body_text())),
        }
    }
}

/// Declares the `bearer` security scheme (a JWT access token) in a service's
/// OpenAPI document: `#[openapi(modifiers(&BearerSecurity))]`.
pub struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An OAuth access token. Each operation lists the scope it needs; \
                         `api` covers every read and write scope but not `account` or \
                         `staff`. A token without it gets 403 `insufficient_scope` \
                         (RFC 6750).",
                    ))
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overfetch_makes_the_cursor_from_the_last_kept_row() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_overfetch(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn the_documented_limit_is_the_enforced_one() {
        use utoipa::IntoParams;
        let params = PageParams::into_params(|| None);
        let limit = params.iter().find(|p| p.name == "limit").unwrap();
        let schema = serde_json::to_value(&limit.schema).unwrap();
        assert_eq!(schema["minimum"], 1);
        assert_eq!(schema["maximum"], MAX_PAGE);
    }

    #[test]
    fn limit_is_bounded() {
        let p = |limit| PageParams {
            limit,
            cursor: None,
        };
        assert_eq!(p(None).limit().unwrap(), DEFAULT_PAGE);
        assert_eq!(p(Some(100)).limit().unwrap(), 100);
        assert!(p(Some(0)).limit().is_err());
        assert!(p(Some(101)).limit().is_err());
    }
}
