//! Every error is RFC 9457 problem+json, whoever produced it.
//!
//! Handlers return [`Problem`] themselves. This module covers the rest: unknown
//! routes, wrong methods, and error answers made by layers and by axum itself (the
//! body limit's 413, a rejected extractor) that come as plain text. JSON errors are
//! left alone: services answer problem+json already, and the OAuth token endpoint
//! must answer RFC 6749's own JSON error bodies.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vigor_common::Problem;

/// The largest plain-text error body carried over into `detail`.
const MAX_DETAIL: usize = 512;

/// Fallback for unknown routes.
pub async fn not_found(uri: Uri) -> Problem {
    Problem::not_found(format!("no route for {}", uri.path())).with_instance(uri.path())
}

/// Fallback for a known route with another method.
pub async fn method_not_allowed(uri: Uri) -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED)
        .with_detail(format!("{} does not accept this method", uri.path()))
        .with_instance(uri.path())
}

/// Middleware: rewrites non-JSON error responses as problem+json.
pub async fn normalize(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let detail = match axum::body::to_bytes(body, MAX_DETAIL).await {
        Ok(bytes) if !bytes.is_empty() => Some(String::from_utf8_lossy(&bytes).trim().to_owned()),
        _ => None,
    };
    let mut problem = Problem::new(status).with_instance(path);
    if let Some(detail) = detail.filter(|d| !d.is_empty()) {
        problem = problem.with_detail(detail);
    }
    if let Some(retry) = parts
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
    {
        problem = problem.with_retry_after(retry);
    }
    let mut normalized = problem.into_response();
    // Keep the original's other headers (Allow, WWW-Authenticate, request id, CORS…).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            normalized
                .headers_mut()
                .entry(name)
                .or_insert(value.clone());
        }
    }
    normalized
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        })
}
