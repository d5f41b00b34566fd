//! The training service: exercise catalogue, plans, schedule, workout logs, analysis and recommendations.
//!
//! It owns its own database (`training`: PostgreSQL distributed, SQLite embedded) with the
//! shared tables (event outbox, processed events, idempotency keys) already migrated;
//! its routes live under `/v1/training` and arrive with the issues that build the service.

use axum::Router;
use vigor_common::config::ServiceName;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Training,
        prefixes: &["/v1/training"],
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
