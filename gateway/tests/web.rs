//! The edge's own routes for the web app: the built app served at `/` with its
//! SPA fallback and cache policy, and the aggregated `GET /v1/dashboard`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tower::ServiceExt;
use vigor_common::auth::{StaticKeys, Verifier, VerifierConfig};
use vigor_common::config::Config;
use vigor_gateway::{build, dashboard, GatewayParts, Mount};

/// The edge (all-in-one gateway) with `services` mounted and the web app in `web_dir`.
fn edge(web_dir: &Path, services: Router) -> Router {
    let mut config = Config::default();
    config.http.web_dir = web_dir.to_owned();
    config.rate_limit.enabled = false;
    let verifier = Arc::new(Verifier::new(
        VerifierConfig::from_config(&config),
        Arc::new(StaticKeys(Vec::new())),
    ));
    build(GatewayParts {
        config: Arc::new(config),
        mounts: vec![Mount::Local(services)],
        checks: Vec::new(),
        openapi: vigor_gateway::docs::merged([]),
        rate_limiter: None,
        edge: true,
        verifier,
        uploads: Vec::new(),
    })
    .unwrap()
}

/// A built app: `index.html`, a hashed asset, the service worker.
fn built_app() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let dist = root.path().join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Vigor</title>",
    )
    .unwrap();
    std::fs::write(dist.join("assets/index-Ab12Cd.js"), "console.log(1)").unwrap();
    std::fs::write(
        dist.join("sw.js"),
        "self.addEventListener('fetch', () => {})",
    )
    .unwrap();
    std::fs::write(dist.join("manifest.webmanifest"), "{}").unwrap();
    // Beside the app, not in it: must never be served.
    std::fs::write(root.path().join("secret.txt"), "TOP-SECRET-CONTENT").unwrap();
    root
}

struct Answer {
    status: StatusCode,
    content_type: String,
    cache_control: String,
    body: String,
}

async fn call(app: &Router, method: &str, path: &str) -> Answer {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let content_type = header(header::CONTENT_TYPE);
    let cache_control = header(header::CACHE_CONTROL);
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        content_type,
        cache_control,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test]
async fn the_app_is_served_at_the_root_with_a_fallback_for_its_own_routes() {
    let root = built_app();
    let app = edge(&root.path().join("dist"), Router::new());
    for path in [
        "/",
        "/training",
        "/workouts/139611232583749632",
        "/settings/profile",
    ] {
        let answer = call(&app, "GET", path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert!(answer.content_type.starts_with("text/html"), "{path}");
        assert_eq!(answer.cache_control, "no-cache", "{path}");
        assert!(answer.body.contains("<title>Vigor</title>"), "{path}");
    }
    let head = call(&app, "HEAD", "/training").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_the_rest_is_revalidated() {
    let root = built_app();
    let app = edge(&root.path().join("dist"), Router::new());
    let asset = call(&app, "GET", "/assets/index-Ab12Cd.js").await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(asset.content_type.starts_with("text/javascript"));
    assert_eq!(asset.cache_control, "public, max-age=31536000, immutable");
    assert_eq!(asset.body, "console.log(1)");

    let worker = call(&app, "GET", "/sw.js").await;
    assert_eq!(worker.status, StatusCode::OK);
    assert!(worker.content_type.starts_with("text/javascript"));
    assert_eq!(worker.cache_control, "no-cache");

    let manifest = call(&app, "GET", "/manifest.webmanifest").await;
    assert_eq!(manifest.content_type, "application/manifest+json");
    assert_eq!(manifest.cache_control, "no-cache");
}

#[tokio::test]
async fn server_paths_missing_files_and_escapes_are_problem_json_404s() {
    let root = built_app();
    let services = Router::new().route("/v1/users/me", get(|| async { "me" }));
    let app = edge(&root.path().join("dist"), services);
    for path in [
        "/v1/nothing/here",
        "/v1",
        "/docs/nothing",
        "/.well-known/nothing",
        "/assets/index-Gone99.js",
        "/favicon-missing.png",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
    ] {
        let answer = call(&app, "GET", path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.content_type, "application/problem+json", "{path}");
        assert!(!answer.body.contains("TOP-SECRET-CONTENT"), "{path}");
    }
    // Other methods never reach the app.
    let post = call(&app, "POST", "/training").await;
    assert_eq!(post.status, StatusCode::NOT_FOUND);
    assert_eq!(post.content_type, "application/problem+json");
    // The server's own routes still answer.
    assert_eq!(call(&app, "GET", "/v1/users/me").await.body, "me");
    assert_eq!(call(&app, "GET", "/healthz").await.status, StatusCode::OK);
    assert_eq!(call(&app, "GET", "/metrics").await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_built_app_the_root_is_a_404() {
    let root = tempfile::tempdir().unwrap();
    let app = edge(&root.path().join("missing"), Router::new());
    for path in ["/", "/training"] {
        let answer = call(&app, "GET", path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.content_type, "application/problem+json");
    }
}

#[tokio::test]
async fn the_dashboard_needs_a_token_and_is_in_the_openapi_document() {
    let root = built_app();
    let app = edge(&root.path().join("dist"), Router::new());
    let answer = call(&app, "GET", "/v1/dashboard").await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.content_type, "application/problem+json");
    let doc: Value =
        serde_json::from_str(&call(&app, "GET", "/v1/openapi.json").await.body).unwrap();
    assert!(doc["paths"]["/v1/dashboard"]["get"].is_object());
}

/// Fake services: the profile echoes the caller's token, the schedule answers,
/// after 3 s, the advice fails, the stats never answer in time, the game answers.
fn services() -> Router {
    Router::new()
        .route(
            "/v1/users/me",
            get(|headers: axum::http::HeaderMap| async move {
                let token = headers[header::AUTHORIZATION].to_str().unwrap().to_owned();
                if token == "Bearer refused" {
                    return vigor_common::Problem::unauthorized("bad token").into_response();
                }
                Json(json!({"display_name": "Ann", "token": token})).into_response()
            }),
        )
        .route(
            "/v1/training/schedule",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Json(json!({"days": [{"date": "2026-12-06"}]}))
            }),
        )
        .route(
            "/v1/training/recommendations",
            get(|| async { vigor_common::Problem::internal(anyhow::anyhow!("store down")) }),
        )
        .route(
            "/v1/training/stats",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "too late"
            }),
        )
        .route(
            "/v1/gamification/me",
            get(|| async { Json(json!({"xp": 120, "level": 2, "next_level_xp": 300})) }),
        )
}

async fn dashboard_as(token: &str) -> (StatusCode, Value) {
    let request = Request::builder()
        .uri("/v1/dashboard")
        .header(header::AUTHORIZATION, token)
        .body(Body::empty())
        .unwrap();
    let response = dashboard::router(services())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(start_paused = true)]
async fn the_dashboard_answers_every_part_at_once_and_degrades_per_part() {
    let (status, body) = dashboard_as("Bearer t1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["profile"]["ok"], true);
    assert_eq!(body["profile"]["data"]["display_name"], "Ann");
    // Each part is asked with the caller's own token.
    assert_eq!(body["profile"]["data"]["token"], "Bearer t1");
    assert_eq!(body["schedule"]["ok"], true);
    assert_eq!(body["schedule"]["data"]["days"][0]["date"], "2026-12-06");
    assert_eq!(body["recommendations"]["ok"], false);
    assert_eq!(body["recommendations"]["status"], 500);
    assert_eq!(body["recommendations"]["data"]["status"], 500);
    assert_eq!(body["stats"]["ok"], false);
    assert_eq!(body["stats"]["status"], 504);
    assert!(body["stats"].get("data").is_none());
    // The game (XP, level, streaks) is a part of the same one request.
    assert_eq!(body["game"]["ok"], true);
    assert_eq!(body["game"]["data"]["level"], 2);
}

#[tokio::test(start_paused = true)]
async fn parts_are_asked_in_parallel() {
    // The schedule takes 3 s and the stats hang for an hour: asked one after the
    // other that is 8 s; together, one part timeout.
    let started = tokio::time::Instant::now();
    let (status, _) = dashboard_as("Bearer t1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() <= dashboard::PART_TIMEOUT + Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn a_refused_token_is_the_dashboards_own_401() {
    let (status, body) = dashboard_as("Bearer refused").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["status"], 401);
}
