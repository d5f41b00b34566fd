//! Leaderboards: boards, windows, ranks, around-me, friends and community boards,
//! live top-N.
//!
//! Its store is Redis sorted sets (in-memory sorted sets embedded), a cache rebuilt
//! from the durable score log in the gamification database, so it keeps no SQL of
//! its own; its routes live under `/v1/leaderboards` and arrive with the issue that
//! builds it.

use axum::Router;
use vigor_common::config::ServiceName;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Leaderboards,
        prefixes: &["/v1/leaderboards"],
        uploads: &[],
        sql: false,
        migrations: None,
        openapi: || utoipa::openapi::OpenApiBuilder::new().build(),
        build: |ctx| Box::pin(build(ctx)),
    }
}

async fn build(_ctx: ServiceContext) -> anyhow::Result<RunningService> {
    Ok(RunningService {
        router: Router::new(),
        checks: Vec::new(),
    })
}
