//! The signed-in user's credentials: `PUT /v1/auth/me/password`,
//! `PUT /v1/auth/me/email` (both end every other session) and
//! `GET /v1/auth/me/export` (the auth part of the account export gathered by
//! `GET /v1/users/me/export`).
//!
//! All three are the account itself: they need the `account` scope, which the
//! broad `api` scope of apps does not include.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::Router;
use serde::{Deserialize, Serialize};
use vigor_common::api::ApiJson;
use vigor_common::auth::{scopes, Caller, RecentSignIn, ScopePolicy};
use vigor_common::{Id, Problem};

use super::ClientAddress;
use crate::domain::{Email, Password};
use crate::lifecycle::{AccountExport, ChangeError};
use crate::service::AuthService;
use crate::tokens::TokenResponse;

/// The routes, each needing the `account` scope.
pub fn router() -> Router<AuthService> {
    Router::new()
        .route("/v1/auth/me/password", put(change_password))
        .route("/v1/auth/me/email", put(change_email))
        .route("/v1/auth/me/export", get(export))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(ScopePolicy::only(scopes::ACCOUNT)),
            scopes::enforce,
        ))
}

/// A password change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    /// The password now.
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    pub current_password: String,
    /// The new password: at least 10 characters, not a commonly used one.
    #[serde(default)]
    #[schema(required = true, min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// An email change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct EmailChange {
    /// The password now.
    #[serde(default)]
    pub current_password: String,
    /// The new sign-in email.
    #[serde(default)]
    pub email: String,
}

/// The outcome of a credentials change.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChangeResponse {
    /// The user.
    pub id: Id,
    /// How many other sessions were ended.
    pub ended_sessions: u64,
}

fn problem(error: ChangeError) -> Problem {
    match error {
        ChangeError::NoAccount => Problem::forbidden("the account is not active"),
        ChangeError::WrongPassword => Problem::invalid_field("current_password", "is wrong"),
        ChangeError::TooManyAttempts { retry_after } => Problem::new(StatusCode::TOO_MANY_REQUESTS)
            .with_detail("too many failed attempts; try again later")
            .with_retry_after(retry_after),
        ChangeError::EmailTaken => Problem::conflict("an account with this email already exists")
            .with_extension(
                "errors",
                serde_json::json!([{"field": "email", "message": "is taken"}]),
            ),
        ChangeError::Busy { retry_after } => crate::hashing::busy_problem(retry_after),
        ChangeError::Internal(e) => Problem::internal(e),
    }
}

fn required(field: &str, value: &str) -> Result<(), Problem> {
    if value.is_empty() {
        Err(Problem::invalid_field(field, "is required"))
    } else {
        Ok(())
    }
}

/// Changes the caller's password; every other session ends.
#[utoipa::path(
    put,
    path = "/v1/auth/me/password",
    tag = "auth",
    security(("bearer" = ["account"])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "The password is changed; other sessions are ended.", body = ChangeResponse),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is not active, or the token lacks the `account` scope (`insufficient_scope`).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong, or the new one too weak; `errors` names the field.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_password(
    State(auth): State<AuthService>,
    ClientAddress(address): ClientAddress,
    caller: Caller,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<ApiJson<ChangeResponse>, Problem> {
    required("current_password", &request.current_password)?;
    let new = Password::parse(&request.new_password)
        .map_err(|e| Problem::invalid_field("new_password", e.to_string()))?;
    let ended = auth
        .change_password(
            caller.user_id,
            caller.session_id,
            &request.current_password,
            new,
            address,
        )
        .await
        .map_err(problem)?;
    Ok(ApiJson(ChangeResponse {
        id: caller.user_id,
        ended_sessions: ended,
    }))
}

/// Changes the caller's sign-in email; every other session ends and
/// `user.email_changed` is emitted.
#[utoipa::path(
    put,
    path = "/v1/auth/me/email",
    tag = "auth",
    security(("bearer" = ["account"])),
    request_body = EmailChange,
    responses(
        (status = 200, description = "The email is changed; other sessions are ended.", body = ChangeResponse),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is not active, or the token lacks the `account` scope (`insufficient_scope`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another account has this email.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong, or the email invalid; `errors` names the field.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_email(
    State(auth): State<AuthService>,
    ClientAddress(address): ClientAddress,
    caller: Caller,
    ApiJson(request): ApiJson<EmailChange>,
) -> Result<ApiJson<ChangeResponse>, Problem> {
    required("current_password", &request.current_password)?;
    let email =
        Email::parse(&request.email).map_err(|e| Problem::invalid_field("email", e.to_string()))?;
    let ended = auth
        .change_email(
            caller.user_id,
            caller.session_id,
            &request.current_password,
            email,
            address,
        )
        .await
        .map_err(problem)?;
    Ok(ApiJson(ChangeResponse {
        id: caller.user_id,
        ended_sessions: ended,
    }))
}

/// What the auth service holds about the caller (never the password hash).
#[utoipa::path(
    get,
    path = "/v1/auth/me/export",
    operation_id = "export_auth",
    tag = "auth",
    security(("bearer" = ["account"])),
    responses(
        (status = 200, description = "The caller's credentials (without the password hash) and sessions.", body = AccountExport),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes (`insufficient-user-authentication`: confirm the password at `POST /v1/auth/reauthenticate`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No credentials for the caller.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(auth): State<AuthService>,
    RecentSignIn(caller): RecentSignIn,
) -> Result<ApiJson<AccountExport>, Problem> {
    auth.export_account(caller.user_id)
        .await?
        .map(ApiJson)
        .ok_or_else(|| Problem::not_found("no credentials for you"))
}

/// A password confirmation, for [`reauthenticate`].
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Reauthentication {
    /// The caller's password.
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    pub password: String,
}

/// Confirms the caller's password and answers a new access token of the same
/// session whose `auth_time` is now (RFC 9470 step-up): deleting, deactivating
/// or exporting the account needs a sign-in of the last 5 minutes.
#[utoipa::path(
    post,
    path = "/v1/auth/reauthenticate",
    tag = "auth",
    security(("bearer" = [])),
    request_body = Reauthentication,
    responses(
        (status = 200, description = "A fresh access token (no refresh token: keep the one you have).", body = TokenResponse),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The account is not active.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is wrong or missing.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every password hasher is busy.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reauthenticate(
    State(auth): State<AuthService>,
    ClientAddress(address): ClientAddress,
    caller: Caller,
    ApiJson(request): ApiJson<Reauthentication>,
) -> Result<ApiJson<TokenResponse>, Problem> {
    required("password", &request.password)?;
    auth.reauthenticate(&caller, &request.password, address)
        .await
        .map(ApiJson)
        .map_err(|error| match error {
            ChangeError::WrongPassword => Problem::invalid_field("password", "is wrong"),
            other => problem(other),
        })
}
