//! The caller's account lifecycle: deactivate, delete, export. Each needs a
//! sign-in (or a password confirmation at `POST /v1/auth/reauthenticate`) of the
//! last 5 minutes ([`RecentSignIn`]): a token alone is not enough.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::{json, Value};
use vigor_common::api::ApiJson;
use vigor_common::auth::{bearer_token, RecentSignIn};
use vigor_common::Problem;

use super::{own_profile, MyProfile};
use crate::service::UsersService;

/// Deactivates the caller's account: the profile is hidden from others and auth
/// refuses sign-in and ends every session (`user.deactivated`).
#[utoipa::path(
    post,
    path = "/v1/users/me/deactivate",
    tag = "users",
    security(("bearer" = ["account"])),
    responses(
        (status = 204, description = "The account is deactivated (or was already)."),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes (`insufficient-user-authentication`: confirm the password at `POST /v1/auth/reauthenticate` and retry with its token).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no profile.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deactivate(
    State(users): State<UsersService>,
    RecentSignIn(caller): RecentSignIn,
) -> Result<StatusCode, Problem> {
    own_profile(&users, &caller).await?;
    users
        .deactivate(caller.user_id)
        .await
        .map_err(Problem::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the caller's account: the profile is erased now, and `user.deleted`
/// tells every other service to erase its part (auth: credentials and sessions).
#[utoipa::path(
    delete,
    path = "/v1/users/me",
    tag = "users",
    security(("bearer" = ["account"])),
    responses(
        (status = 204, description = "The account is deleted; `user.deleted` is emitted."),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes (`insufficient-user-authentication`: confirm the password at `POST /v1/auth/reauthenticate` and retry with its token).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no profile (deleted already?).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_me(
    State(users): State<UsersService>,
    RecentSignIn(caller): RecentSignIn,
) -> Result<StatusCode, Problem> {
    if users
        .delete(caller.user_id)
        .await
        .map_err(Problem::internal)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found("you have no profile"))
    }
}

/// Everything Vigor holds about the caller, as JSON: the profile from this
/// service, and each other service's part (see the `export` module), keyed by
/// service name.
#[utoipa::path(
    get,
    path = "/v1/users/me/export",
    operation_id = "export_account",
    tag = "users",
    security(("bearer" = ["account"])),
    responses(
        (status = 200, description = "`{\"exported_at\", \"users\": {...}, \"auth\": {...}, ...}`.", body = Object),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes (`insufficient-user-authentication`: confirm the password at `POST /v1/auth/reauthenticate` and retry with its token).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no profile.", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "Another service's part could not be fetched.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(users): State<UsersService>,
    RecentSignIn(caller): RecentSignIn,
    headers: HeaderMap,
) -> Result<ApiJson<Value>, Problem> {
    let profile: MyProfile = own_profile(&users, &caller).await?.into();
    // The Caller extractor verified this very token.
    let token = bearer_token(&headers)
        .ok_or_else(|| Problem::unauthorized("an access token is required"))?;
    let parts = users.exporter.gather(token).await.map_err(|e| {
        tracing::warn!(error = %e, "export incomplete");
        Problem::new(StatusCode::BAD_GATEWAY).with_detail(e.to_string())
    })?;
    let mut body = serde_json::Map::new();
    body.insert("exported_at".to_owned(), json!(Utc::now()));
    body.insert("user_id".to_owned(), json!(caller.user_id));
    body.insert("users".to_owned(), json!({ "profile": profile }));
    body.extend(parts);
    Ok(ApiJson(Value::Object(body)))
}
