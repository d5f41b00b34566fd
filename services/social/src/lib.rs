//! The social service: follows, feed, kudos, comments, communities, chat channels and moderation.
//!
//! It owns its own database (`social`: PostgreSQL distributed, SQLite embedded) with the
//! shared tables (event outbox, processed events, idempotency keys) already migrated;
//! its routes live under `/v1/social` and arrive with the issues that build the service.
//!
//! - [`messages`]: chat messages, reactions and read state behind the
//!   [`messages::MessageStore`] trait, on SQL or on ScyllaDB/Cassandra.

pub mod messages;

use std::sync::Arc;

use axum::Router;
use messages::MessageStore;
use vigor_common::config::social::MessageBackend;
use vigor_common::config::{Config, ServiceName};
use vigor_common::db::Migrations;
use vigor_common::service::{ReadinessCheck, RunningService, ServiceContext, ServiceSpec};

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

/// The service's state: what its routes work on.
#[derive(Clone)]
pub struct Social {
    /// Chat messages, on the backend `social.messages` names.
    pub messages: Arc<dyn MessageStore>,
}

async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    let config = &ctx.config;
    let messages = messages::open(&config.social, ctx.database(), config.migrate_on_start).await?;
    let pinged = messages.clone();
    let check: ReadinessCheck = Arc::new(move || {
        let messages = pinged.clone();
        Box::pin(async move { Ok(messages.ping().await?) })
    });
    let state = Social { messages };
    Ok(RunningService {
        router: Router::new().with_state(state),
        checks: vec![("social messages".to_owned(), check)],
    })
}

/// `vigor migrate`'s part beyond SQL: with `social.messages = "cql"`, creates the
/// chat keyspace (replicated as `social.cql.replication`) and its tables when
/// missing. Returns whether there was anything to do.
pub async fn migrate_messages(config: &Config) -> anyhow::Result<bool> {
    if config.social.messages != MessageBackend::Cql {
        return Ok(false);
    }
    let settings = messages::cql::CqlSettings::from_config(&config.social)?;
    messages::cql::CqlMessages::open(settings, true).await?;
    Ok(true)
}
