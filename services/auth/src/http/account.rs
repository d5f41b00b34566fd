//! `POST /v1/auth/signup` and `POST /v1/auth/logout`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use vigor_common::api::{ApiJson, ApiQuery};
use vigor_common::auth::Caller;
use vigor_common::problem::FieldError;
use vigor_common::{Id, Problem};

use super::ClientAddress;
use crate::accounts::{NewAccount, SignupError};
use crate::domain::{DisplayName, Email, Password};
use crate::service::AuthService;

/// A sign-up.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignupRequest {
    /// The email to sign in with (normalised: trimmed, lowercased).
    #[serde(default)]
    #[schema(required = true, format = Email)]
    pub email: String,
    /// At least 10 characters, and not a commonly used password.
    #[serde(default)]
    #[schema(required = true, min_length = 10, max_length = 256)]
    pub password: String,
    /// The name other people see (1–64 characters).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 64)]
    pub display_name: String,
}

/// The new account.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SignupResponse {
    /// The new user's id.
    pub id: Id,
    /// The normalised email.
    pub email: String,
    /// The display name.
    pub display_name: String,
}

fn parse(request: &SignupRequest) -> Result<NewAccount, Problem> {
    let mut errors = Vec::new();
    let mut field_error = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        })
    };
    let email = Email::parse(&request.email)
        .map_err(|e| field_error("email", e.to_string()))
        .ok();
    let password = if request.password.is_empty() {
        field_error("password", "is required".to_owned());
        None
    } else {
        Password::parse(&request.password)
            .map_err(|e| field_error("password", e.to_string()))
            .ok()
    };
    let display_name = DisplayName::parse(&request.display_name)
        .map_err(|e| field_error("display_name", e.to_string()))
        .ok();
    match (email, password, display_name) {
        (Some(email), Some(password), Some(display_name)) => Ok(NewAccount {
            email,
            password,
            display_name,
        }),
        _ => Err(Problem::validation(errors)),
    }
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/v1/auth/signup",
    tag = "auth",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "The account was created; `user.signed_up` is emitted.", body = SignupResponse),
        (status = 409, description = "An account with this email exists (deliberately said, so apps can offer sign-in; sign-up is limited per address).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `errors` names each one.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ups from this client address; see `Retry-After`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Every password-hashing slot is busy; see `Retry-After`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn signup(
    State(auth): State<AuthService>,
    ClientAddress(address): ClientAddress,
    ApiJson(request): ApiJson<SignupRequest>,
) -> Result<Response, Problem> {
    let account = parse(&request)?;
    match auth.sign_up(account, address).await {
        Ok(credential) => {
            let body = SignupResponse {
                id: credential.user_id,
                email: credential.email,
                display_name: credential.display_name,
            };
            Ok((StatusCode::CREATED, ApiJson(body)).into_response())
        }
        Err(SignupError::EmailTaken) => Err(Problem::conflict(
            "an account with this email already exists",
        )
        .with_extension(
            "errors",
            serde_json::json!([{"field": "email", "message": "is taken"}]),
        )),
        Err(SignupError::TooManyAttempts { retry_after }) => {
            Err(Problem::new(StatusCode::TOO_MANY_REQUESTS)
                .with_detail(
                    "too many sign-ups of existing accounts from this address; try again later",
                )
                .with_retry_after(retry_after))
        }
        Err(SignupError::Busy { retry_after }) => Err(crate::hashing::busy_problem(retry_after)),
        Err(SignupError::Internal(e)) => Err(Problem::internal(e)),
    }
}

/// `POST /v1/auth/logout` parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutParams {
    /// End every session of the caller (every device), not only this one.
    #[serde(default)]
    pub everywhere: bool,
}

/// Signs the caller out: revokes the session (refresh-token family) of the access
/// token — with `everywhere=true`, every session of the caller — so that its
/// refresh tokens stop working, its access tokens are refused from now on by
/// every service, and its open WebSockets are closed with 4003.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    params(LogoutParams),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session (or every session) is revoked."),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `everywhere` value.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    State(auth): State<AuthService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LogoutParams>,
) -> Result<StatusCode, Problem> {
    if params.everywhere {
        auth.end_all_sessions(caller.user_id).await?;
    } else if let Some(session) = caller.session_id {
        auth.end_session(caller.user_id, session).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        use crate::domain::password::{DisplayName, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(SignupRequest::schema()).unwrap();
        let field = |name: &str| schema["properties"][name].clone();
        assert_eq!(field("password")["minLength"], MIN_PASSWORD_CHARS);
        assert_eq!(field("password")["maxLength"], MAX_PASSWORD_CHARS);
        assert_eq!(field("display_name")["maxLength"], DisplayName::MAX_CHARS);
        assert_eq!(
            schema["required"],
            serde_json::json!(["email", "password", "display_name"])
        );
    }

    use super::*;

    #[test]
    fn every_invalid_field_is_named() {
        let request = SignupRequest {
            email: "nope".into(),
            password: "short".into(),
            display_name: " ".into(),
        };
        let problem = parse(&request).unwrap_err();
        assert_eq!(problem.status, 422);
        let fields: Vec<&str> = problem.extensions["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, vec!["email", "password", "display_name"]);
    }
}
