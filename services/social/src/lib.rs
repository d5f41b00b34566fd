//! The social service: follows, feed, kudos, comments, communities, chat channels and moderation.
//!
//! It owns its own database (`social`: PostgreSQL distributed, SQLite embedded) with the
//! shared tables (event outbox, processed events, idempotency keys) already migrated;
//! its routes live under `/v1/social` and arrive with the issues that build the service.

use axum::Router;
use vigor_common::config::ServiceName;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Social,
        prefixes: &["/v1/social"],
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
