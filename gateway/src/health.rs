//! `/healthz` (liveness) and `/readyz` (readiness).
//!
//! Liveness only says the process serves HTTP: a load balancer restarting a
//! process because its database is down would not help. Readiness runs every check
//! (each configured store: databases, Redis, the bus and broker) concurrently, each
//! with a deadline, and answers 503 problem+json naming what failed, so a load
//! balancer sends no traffic to a process that cannot serve it. A check that
//! fails with [`Degraded`] (a read replica that is down, whose reads the primary
//! serves meanwhile) is reported as `degraded: …` and listed under `degraded`,
//! but the answer stays 200: the process serves everything.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use vigor_common::service::{Degraded, ReadinessCheck};
use vigor_common::Problem;

/// How long one check may take before it counts as failed.
const CHECK_DEADLINE: Duration = Duration::from_secs(3);

/// The health routes.
pub fn router(checks: Vec<(String, ReadinessCheck)>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(move || ready(checks.clone())))
}

/// What one check found.
enum Outcome {
    Ok,
    Degraded(String),
    Failed(String),
}

async fn ready(checks: Vec<(String, ReadinessCheck)>) -> Response {
    let results = futures::future::join_all(checks.iter().map(|(name, check)| async move {
        let outcome = match tokio::time::timeout(CHECK_DEADLINE, check()).await {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(e)) => match e.downcast_ref::<Degraded>() {
                Some(degraded) => Outcome::Degraded(degraded.to_string()),
                None => Outcome::Failed(format!("{e:#}")),
            },
            Err(_) => Outcome::Failed(format!("no answer within {}s", CHECK_DEADLINE.as_secs())),
        };
        (name.clone(), outcome)
    }))
    .await;

    let mut report = Map::new();
    let mut failed = Vec::new();
    let mut degraded = Vec::new();
    for (name, outcome) in results {
        match outcome {
            Outcome::Ok => {
                report.insert(name, Value::from("ok"));
            }
            Outcome::Degraded(detail) => {
                report.insert(name.clone(), Value::from(format!("degraded: {detail}")));
                degraded.push(name);
            }
            Outcome::Failed(error) => {
                failed.push(format!("{name}: {error}"));
                report.insert(name, Value::from(error));
            }
        }
    }
    if failed.is_empty() && degraded.is_empty() {
        Json(json!({"status": "ready", "checks": report})).into_response()
    } else if failed.is_empty() {
        Json(json!({"status": "ready", "checks": report, "degraded": degraded})).into_response()
    } else {
        tracing::warn!(failed = failed.join("; "), "not ready");
        Problem::typed(StatusCode::SERVICE_UNAVAILABLE, "not-ready", "Not ready")
            .with_detail(format!("not ready: {}", failed.join("; ")))
            .with_extension("checks", Value::Object(report))
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn check(outcome: fn() -> anyhow::Result<()>) -> ReadinessCheck {
        Arc::new(move || Box::pin(async move { outcome() }))
    }

    async fn readyz(checks: Vec<(String, ReadinessCheck)>) -> (StatusCode, Value) {
        let response = ready(checks).await;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn a_degraded_check_is_reported_without_failing_readiness() {
        let (status, body) = readyz(vec![
            ("training database".into(), check(|| Ok(()))),
            (
                "training read replica".into(),
                check(|| Err(Degraded("replica down".into()).into())),
            ),
        ])
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ready");
        assert_eq!(body["checks"]["training database"], "ok");
        assert_eq!(
            body["checks"]["training read replica"],
            "degraded: replica down"
        );
        assert_eq!(body["degraded"], json!(["training read replica"]));

        // Any other failure still fails readiness, degraded checks or not.
        let (status, body) = readyz(vec![
            (
                "training read replica".into(),
                check(|| Err(Degraded("replica down".into()).into())),
            ),
            (
                "training database".into(),
                check(|| Err(anyhow::anyhow!("refused"))),
            ),
        ])
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["checks"]["training database"], "refused");
    }
}
