//! The social service: follows, feed, kudos, comments, communities, chat channels and moderation.
//!
//! It owns its own database (`social`: PostgreSQL distributed, SQLite embedded) with the
//! shared tables (event outbox, processed events, idempotency keys) already migrated;
//! its routes live under `/v1/social` and arrive with the issues that build the service.
//!
//! - [`messages`]: chat messages, reactions and read state behind the
//!   [`messages::MessageStore`] trait, on SQL or on ScyllaDB/Cassandra.

pub mod domain;
pub mod messages;
pub mod store;

use axum::Router;
use vigor_common::config::ServiceName;
use vigor_common::db::Migrations;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

/// The service's own migrations (versions from 1000).
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Social,
        prefixes: &["/v1/social"],
        uploads: &[],
        sql: true,
        migrations: Some(&MIGRATIONS),
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
