//! OAuth 2.0 error responses (RFC 6749 §5.2): `{"error","error_description"}`.
//!
//! The token, revocation and introspection endpoints answer these, not
//! problem+json: OAuth client libraries parse exactly this shape. Internal errors
//! are logged with their cause and shown only as `server_error`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An OAuth error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error code (`invalid_grant`, …).
    pub error: &'static str,
    /// What went wrong, for the developer.
    pub description: String,
    /// Seconds to wait before retrying (too many failed sign-ins).
    pub retry_after: Option<u64>,
}

/// The body of an OAuth error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `insufficient_scope`,
    /// `temporarily_unavailable` or `server_error`.
    pub error: String,
    /// What went wrong, for the developer.
    pub error_description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    /// A parameter is missing, repeated or malformed.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Client authentication failed (answered 401 with a `Basic` challenge).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// The grant (code, refresh token, credentials) is invalid, expired or revoked.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// The client may not use this grant.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "unauthorized_client", description)
    }

    /// The grant type is unknown.
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            description,
        )
    }

    /// The scope is malformed or exceeds what the client or grant allows.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    /// The client authenticated but may not use this endpoint (403, RFC 6750 §3.1).
    pub fn insufficient_scope(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::FORBIDDEN, "insufficient_scope", description)
    }

    /// Too many failed sign-ins: 429 with `Retry-After`.
    pub fn too_many_attempts(retry_after: u64) -> Self {
        OAuthError {
            retry_after: Some(retry_after.max(1)),
            ..OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "invalid_grant",
                "too many failed sign-in attempts; try again later",
            )
        }
    }

    /// Every password-hashing slot is busy: 503 `temporarily_unavailable` with
    /// `Retry-After` (the OAuth endpoints keep their RFC 6749 error shape).
    pub fn busy(retry_after: u64) -> Self {
        OAuthError {
            retry_after: Some(retry_after.max(1)),
            ..OAuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the server is busy checking passwords; try again shortly",
            )
        }
    }

    /// An internal failure: logged with its cause, shown as `server_error`.
    pub fn server_error(error: impl Into<anyhow::Error>) -> Self {
        let error = error.into();
        tracing::error!(
            error = format!("{error:#}"),
            "internal error in an OAuth endpoint"
        );
        OAuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server failed to handle the request; it has been logged",
        )
    }
}

impl From<anyhow::Error> for OAuthError {
    fn from(error: anyhow::Error) -> Self {
        OAuthError::server_error(error)
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> Self {
        OAuthError::server_error(error)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = OAuthErrorBody {
            error: self.error.to_owned(),
            error_description: self.description,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"vigor\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
