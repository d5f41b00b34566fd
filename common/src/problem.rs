//! RFC 9457 problem details: the one error type every REST handler returns.
//!
//! A [`Problem`] *is* the HTTP response: handlers return `Result<_, Problem>` and use
//! `?` everywhere. Internal errors are logged with their whole cause chain and shown
//! to the client only as a generic 500, never with their details.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details object (RFC 9457). Boxed, so that `Result<T, Problem>` stays
/// small; its fields are read and written through `Deref` to [`ProblemDetails`].
#[derive(Debug, Clone, PartialEq)]
pub struct Problem(Box<ProblemDetails>);

/// The members of a [`Problem`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ProblemDetails {
    /// A URI that names the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a human.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path this occurrence was about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members (for example `errors` naming invalid fields).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: Map<String, Value>,
    /// `Retry-After` in seconds, for 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// Handlers' result type.
pub type ProblemResult<T> = Result<T, Problem>;

/// One invalid field, for the `errors` extension of a validation problem.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a JSON pointer-ish dotted path (`sets.0.reps`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

const TYPE_BASE: &str = "https://vigor.fitness/problems/";

impl Problem {
    /// A problem with the given status whose type is `about:blank` and title the
    /// status's reason phrase.
    pub fn new(status: StatusCode) -> Self {
        Problem(Box::new(ProblemDetails {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: None,
            instance: None,
            extensions: Map::new(),
            retry_after: None,
        }))
    }

    /// A problem of a named kind (`https://vigor.fitness/problems/{slug}`).
    pub fn typed(status: StatusCode, slug: &str, title: impl Into<String>) -> Self {
        let mut problem = Problem::new(status);
        problem.kind = format!("{TYPE_BASE}{slug}");
        problem.title = title.into();
        problem
    }

    /// Sets the detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets the instance (the request path).
    pub fn with_instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds an extension member.
    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// Sets `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// 400, the request could not be read.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::typed(StatusCode::BAD_REQUEST, "bad-request", "Bad request").with_detail(detail)
    }

    /// 422 naming every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Problem::typed(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The request has invalid fields",
        )
        .with_detail(detail)
        .with_extension(
            "errors",
            serde_json::to_value(errors).expect("field errors serialize"),
        )
    }

    /// 422 for one invalid field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// 401.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::typed(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized").with_detail(detail)
    }

    /// 403.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::typed(StatusCode::FORBIDDEN, "forbidden", "Forbidden").with_detail(detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::typed(StatusCode::NOT_FOUND, "not-found", "Not found").with_detail(detail)
    }

    /// 409.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::typed(StatusCode::CONFLICT, "conflict", "Conflict").with_detail(detail)
    }

    /// 500 for an error whose details must not reach the client: logs the chain.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        let error = error.into();
        tracing::error!(error = format!("{error:#}"), "internal error");
        Problem::typed(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail("The server failed to handle the request; it has been logged.")
    }

    /// The status code.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl Deref for Problem {
    type Target = ProblemDetails;

    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

impl Serialize for Problem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ProblemDetails::deserialize(deserializer).map(|d| Problem(Box::new(d)))
    }
}

impl utoipa::PartialSchema for Problem {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <ProblemDetails as utoipa::PartialSchema>::schema()
    }
}

impl utoipa::ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&*self.0).expect("a problem always serializes");
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<sqlx::Error> for Problem {
    fn from(error: sqlx::Error) -> Self {
        Problem::internal(error)
    }
}

impl From<anyhow::Error> for Problem {
    fn from(error: anyhow::Error) -> Self {
        Problem::internal(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_problem_is_a_problem_json_response() {
        let response = Problem::invalid_field("email", "is not an email address")
            .with_instance("/v1/auth/signup")
            .into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = body_json(response).await;
        assert_eq!(body["status"], 422);
        assert_eq!(body["type"], "https://vigor.fitness/problems/validation");
        assert_eq!(body["instance"], "/v1/auth/signup");
        assert_eq!(body["errors"][0]["field"], "email");
        assert_eq!(body["detail"], "email: is not an email address");
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let response =
            Problem::internal(anyhow::anyhow!("password=hunter2 leaked")).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_json(response).await;
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn retry_after_becomes_a_header() {
        let response = Problem::new(StatusCode::TOO_MANY_REQUESTS)
            .with_retry_after(3)
            .into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }
}
