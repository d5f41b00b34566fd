//! `/healthz` (liveness) and `/readyz` (readiness).
//!
//! Liveness only says the process serves HTTP: a load balancer restarting a
//! process because its database is down would not help. Readiness runs every check
//! (each configured store: databases, Redis, the bus and broker) concurrently, each
//! with a deadline, and answers 503 problem+json naming what failed, so a load
//! balancer sends no traffic to a process that cannot serve it.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use vigor_common::service::ReadinessCheck;
use vigor_common::Problem;

/// How long one check may take before it counts as failed.
const CHECK_DEADLINE: Duration = Duration::from_secs(3);

/// The health routes.
pub fn router(checks: Vec<(String, ReadinessCheck)>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(move || ready(checks.clone())))
}

async fn ready(checks: Vec<(String, ReadinessCheck)>) -> Response {
    let results = futures::future::join_all(checks.iter().map(|(name, check)| async move {
        let outcome = match tokio::time::timeout(CHECK_DEADLINE, check()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err(format!("no answer within {}s", CHECK_DEADLINE.as_secs())),
        };
        (name.clone(), outcome)
    }))
    .await;

    let mut report = Map::new();
    let mut failed = Vec::new();
    for (name, outcome) in results {
        match outcome {
            Ok(()) => {
                report.insert(name, Value::from("ok"));
            }
            Err(error) => {
                failed.push(format!("{name}: {error}"));
                report.insert(name, Value::from(error));
            }
        }
    }
    if failed.is_empty() {
        Json(json!({"status": "ready", "checks": report})).into_response()
    } else {
        tracing::warn!(failed = failed.join("; "), "not ready");
        Problem::typed(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready")
            .with_detail(format!("not ready: {}", failed.join("; ")))
            .with_extension("checks", Value::Object(report))
            .into_response()
    }
}
