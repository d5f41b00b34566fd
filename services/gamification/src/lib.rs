//! The gamification service: achievement rules, XP and levels, streaks, challenges, and the durable log of leaderboard scores.
//!
//! It owns its own database (`gamification`: PostgreSQL distributed, SQLite embedded) with the
//! shared tables (event outbox, processed events, idempotency keys) already migrated;
//! its routes live under `/v1/gamification` and arrive with the issues that build the service.

use axum::Router;
use vigor_common::config::ServiceName;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Gamification,
        prefixes: &["/v1/gamification"],
        uploads: &[],
        sql: true,
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
