//! The REST API under `/v1/gamification`: the caller's game ([`me`]: XP,
//! level, streaks, achievements, challenges, ledger, settings, export), the
//! achievement catalogue and challenges ([`challenges`]). Every handler takes a
//! [`vigor_common::auth::Caller`], answers problem+json on error and is in the
//! OpenAPI document ([`crate::openapi`]).
//!
//! Every route needs `gamification:read` to read and `gamification:write` for
//! anything else, and the account export `account` ([`scope_policy`]).

pub mod challenges;
pub mod me;

use std::sync::Arc;

use axum::http::Method;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use vigor_common::auth::scopes::{self, ScopePolicy};
use vigor_common::problem::FieldError;
use vigor_common::Problem;

use crate::service::GamificationService;
use crate::store::StoreError;

/// The path of the gamification part of the account export.
pub const EXPORT_PATH: &str = "/v1/gamification/me/export";

/// The scope each route needs.
pub fn scope_policy() -> ScopePolicy {
    ScopePolicy::new(scopes::GAMIFICATION_READ, scopes::GAMIFICATION_WRITE).except(
        Method::GET,
        EXPORT_PATH,
        scopes::ACCOUNT,
    )
}

/// A list of items that is not paged.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    /// The items.
    pub items: Vec<T>,
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Problem {
        Problem::internal(e)
    }
}

/// A 422 listing every field problem.
pub(crate) fn invalid(errors: Vec<FieldError>) -> Problem {
    Problem::validation(errors)
}

/// The service's routes, with their state.
pub fn router(service: GamificationService) -> Router {
    let policy = Arc::new(scope_policy());
    Router::new()
        .route("/v1/gamification/me", get(me::me))
        .route(
            "/v1/gamification/me/settings",
            get(me::settings).put(me::put_settings),
        )
        .route("/v1/gamification/me/ledger", get(me::ledger))
        .route(EXPORT_PATH, get(me::export))
        .route("/v1/gamification/achievements", get(me::catalogue))
        .route(
            "/v1/gamification/challenges",
            get(challenges::list).post(challenges::create),
        )
        .route("/v1/gamification/challenges/{id}", get(challenges::get))
        .route(
            "/v1/gamification/challenges/{id}/join",
            post(challenges::join),
        )
        .route(
            "/v1/gamification/challenges/{id}/leave",
            post(challenges::leave),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            policy,
            scopes::enforce,
        ))
        .with_state(service)
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
