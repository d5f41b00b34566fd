//! `GET /v1/dashboard`: the web app's Today page in one request.
//!
//! The page needs the profile (users), this week's schedule, the advice of the
//! day and the training stats (training), and the caller's XP, level and
//! streaks (gamification). Instead of the browser making one round
//! trip per part, the gateway asks every part at once and answers them together.
//! Each part is asked through the gateway's own routes — the service's router
//! in-process, or the proxy to its target — so the aggregation is the same code
//! all-in-one and distributed, and each service still checks the caller's token
//! itself (the request's `Authorization` and extensions travel with each part).
//!
//! A part that fails (a 5xx, a service that is down, one that takes longer than
//! [`PART_TIMEOUT`]) does not fail the page: it is answered as
//! `{"ok":false,"status":…}` beside the parts that worked, and the page shows
//! what it has. Only an answer that concerns the caller as a whole — no or an
//! invalid token (401) on the profile — is the answer of the dashboard itself.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::join_all;
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt;
use vigor_common::Problem;

/// How long one part may take before it is reported unavailable.
pub const PART_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer of one part that is read.
const PART_LIMIT: usize = 1024 * 1024;

/// The parts of the dashboard: name and the route that answers it.
const PARTS: &[(&str, &str)] = &[
    ("profile", "/v1/users/me"),
    ("schedule", "/v1/training/schedule"),
    ("recommendations", "/v1/training/recommendations"),
    ("stats", "/v1/training/stats"),
    ("game", "/v1/gamification/me"),
];

/// One part of the dashboard, as answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Part {
    /// Whether the part could be had.
    pub ok: bool,
    /// The status its service answered (504 when it took too long, 502 when it
    /// could not be asked).
    pub status: u16,
    /// The service's answer: the resource when `ok`, its problem+json otherwise
    /// (absent when there was none).
    #[schema(value_type = Object)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// The Today page's data, one part per service answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    /// `GET /v1/users/me`.
    pub profile: Part,
    /// `GET /v1/training/schedule` (today and the six days after).
    pub schedule: Part,
    /// `GET /v1/training/recommendations`.
    pub recommendations: Part,
    /// `GET /v1/training/stats` (the last twelve weeks).
    pub stats: Part,
    /// `GET /v1/gamification/me` (XP, level, streaks, achievements).
    pub game: Part,
}

/// What the web app's Today page shows, from every service at once.
#[utoipa::path(
    get,
    path = "/v1/dashboard",
    tag = "gateway",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every part; a part that failed says so on its own (`ok: false`).", body = Dashboard),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn dashboard(
    axum::extract::State(routes): axum::extract::State<Router>,
    request: Request,
) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return Problem::unauthorized("the dashboard needs an access token").into_response();
    }
    let (head, _) = request.into_parts();
    let answers = join_all(PARTS.iter().map(|(_, path)| {
        let routes = routes.clone();
        let mut part = Request::new(Body::empty());
        *part.uri_mut() = path.parse().expect("the parts' paths are valid URIs");
        *part.extensions_mut() = head.extensions.clone();
        for name in [header::AUTHORIZATION, header::ACCEPT_LANGUAGE] {
            if let Some(value) = head.headers.get(&name) {
                part.headers_mut().insert(name, value.clone());
            }
        }
        if let Some(id) = head.headers.get("x-request-id") {
            part.headers_mut().insert("x-request-id", id.clone());
        }
        ask(routes, part)
    }))
    .await;
    let mut parts = answers.into_iter();
    let mut next = || parts.next().expect("one answer per part");
    let dashboard = Dashboard {
        profile: next(),
        schedule: next(),
        recommendations: next(),
        stats: next(),
        game: next(),
    };
    if dashboard.profile.status == StatusCode::UNAUTHORIZED.as_u16() {
        return Problem::unauthorized("the access token was refused").into_response();
    }
    let mut response = Json(dashboard).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-store"),
    );
    response
}

/// Asks `routes` for one part, within [`PART_TIMEOUT`].
async fn ask(routes: Router, request: Request) -> Part {
    let answer = match tokio::time::timeout(PART_TIMEOUT, routes.oneshot(request)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(never)) => match never {},
        Err(_) => return unavailable(StatusCode::GATEWAY_TIMEOUT),
    };
    let status = answer.status();
    let body = match tokio::time::timeout(
        PART_TIMEOUT,
        axum::body::to_bytes(answer.into_body(), PART_LIMIT),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return unavailable(StatusCode::BAD_GATEWAY),
        Err(_) => return unavailable(StatusCode::GATEWAY_TIMEOUT),
    };
    Part {
        ok: status.is_success(),
        status: status.as_u16(),
        data: serde_json::from_slice(&body).ok(),
    }
}

fn unavailable(status: StatusCode) -> Part {
    Part {
        ok: false,
        status: status.as_u16(),
        data: None,
    }
}

/// `GET /v1/dashboard`, answered from `routes` (the services' routes of this
/// gateway, in-process or proxied).
pub fn router(routes: Router) -> Router {
    Router::new()
        .route("/v1/dashboard", get(dashboard))
        .with_state(routes)
}

/// The endpoint's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    #[derive(utoipa::OpenApi)]
    #[openapi(paths(dashboard), components(schemas(Dashboard, Part)))]
    struct Doc;
    <Doc as utoipa::OpenApi>::openapi()
}
