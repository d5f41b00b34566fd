//! The REST API under `/v1/training`: one module per resource, each with its
//! handlers; [`router`] merges them. Every handler takes a [`vigor_common::auth::Caller`]
//! (the gateway provides the verifier), answers problem+json on error and is in
//! the OpenAPI document ([`crate::openapi`]).
//!
//! Every route needs the scope [`scope_policy`] names: `training:read` to read,
//! `training:write` for everything else, `account` for the account export.

pub mod analysis;
pub mod coaching;
pub mod exercises;
pub mod import;
pub mod me;
pub mod plans;
pub mod schedule;
pub mod workouts;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{delete, get, post, put};
use axum::Router;
use vigor_common::auth::scopes::{self, ScopePolicy};
use vigor_common::problem::{FieldError, Problem};

use crate::domain::workout::DraftProblem;
use crate::service::TrainingService;
use crate::store::StoreError;

/// The import route: it takes file uploads (`ServiceSpec::uploads`).
pub const IMPORT_PATH: &str = "/v1/training/workouts/import";

/// The scope each route needs: the service's read or write scope, except the
/// account export.
pub fn scope_policy() -> ScopePolicy {
    ScopePolicy::new(scopes::TRAINING_READ, scopes::TRAINING_WRITE).except(
        Method::GET,
        "/v1/training/me/export",
        scopes::ACCOUNT,
    )
}

/// The service's routes, with their state.
pub fn router(service: TrainingService) -> Router {
    // A FIT or GPX file plus the multipart framing.
    let import_limit = service.imports.max_bytes() + 64 * 1024;
    Router::new()
        .route(
            "/v1/training/exercises",
            get(exercises::list).post(exercises::create),
        )
        .route("/v1/training/exercises/{id}", get(exercises::get))
        .route(
            "/v1/training/workouts",
            get(workouts::list).post(workouts::create),
        )
        .route("/v1/training/plans", get(plans::list).post(plans::create))
        .route(
            "/v1/training/plans/{id}",
            get(plans::get).put(plans::replace).delete(plans::delete),
        )
        .route("/v1/training/plans/{id}/schedule", post(schedule::create))
        .route("/v1/training/schedule", get(schedule::calendar))
        .route("/v1/training/me/export", get(me::export))
        .route(
            "/v1/training/me/settings",
            get(me::settings).put(me::put_settings),
        )
        .route("/v1/training/coaching", get(coaching::list))
        .route("/v1/training/coaching/athletes", post(coaching::invite))
        .route("/v1/training/coaching/{id}", delete(coaching::end))
        .route("/v1/training/coaching/{id}/accept", post(coaching::accept))
        .route(
            "/v1/training/coaching/{id}/decline",
            post(coaching::decline),
        )
        .route(
            "/v1/training/athletes/{id}/workouts",
            get(coaching::workouts),
        )
        .route("/v1/training/athletes/{id}/records", get(coaching::records))
        .route(
            "/v1/training/athletes/{id}/exercises/{exercise_id}/progress",
            get(coaching::progress),
        )
        .route("/v1/training/athletes/{id}/stats", get(coaching::stats))
        .route(
            "/v1/training/athletes/{id}/schedule",
            get(coaching::schedule),
        )
        .route(
            "/v1/training/athletes/{id}/plans",
            get(coaching::assigned).post(coaching::assign),
        )
        .route(
            "/v1/training/athletes/{id}/plans/{plan_id}",
            put(coaching::update_assigned),
        )
        .route("/v1/training/records", get(analysis::records))
        .route(
            "/v1/training/exercises/{id}/progress",
            get(analysis::progress),
        )
        .route("/v1/training/stats", get(analysis::stats))
        .route(
            "/v1/training/recommendations",
            get(analysis::recommendations),
        )
        .route(
            IMPORT_PATH,
            post(import::import).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/v1/training/workouts/{id}",
            get(workouts::get)
                .patch(workouts::update)
                .delete(workouts::delete),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(scope_policy()),
            scopes::enforce,
        ))
        .with_state(service)
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        Problem::internal(error)
    }
}

/// A 422 naming every invalid field of a draft.
pub fn invalid(problems: Vec<DraftProblem>) -> Problem {
    Problem::validation(
        problems
            .into_iter()
            .map(|p| FieldError {
                field: p.field,
                message: p.message,
            })
            .collect(),
    )
}

/// Runs `create` once per `Idempotency-Key` of `user` on `route` (see
/// [`vigor_common::idempotency`]): `fingerprint` stands for the request's
/// content, computed before the body moves into `create`.
pub(crate) async fn create_once<F, Fut, R>(
    db: vigor_common::db::Database,
    user: vigor_common::Id,
    route: &str,
    key: vigor_common::idempotency::IdempotencyKey,
    fingerprint: &[u8],
    create: F,
) -> axum::response::Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = R>,
    R: axum::response::IntoResponse,
{
    let scope = format!("{user}:{route}");
    vigor_common::idempotency::idempotent(&db, &scope, key, fingerprint, create).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_the_scope_each_operation_needs() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document is JSON");
        let wrong = super::scope_policy().undocumented(&doc);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
