//! The users service: profiles, privacy, roles and access control, account export
//! and deletion.
//!
//! It owns its own database (`users`: PostgreSQL distributed, SQLite embedded).
//! A profile is made when auth's `user.signed_up` arrives ([`events`]); after that
//! the service is the authority on profiles and roles, and tells the others about
//! changes through its outbox: `user.roles_changed` (auth puts the roles in the
//! next access tokens), `user.deactivated` and `user.deleted` (every service
//! erases its part). The export gathers every service's part ([`export`]).
//!
//! Layout: [`domain`] holds the types and rules without I/O, [`store`] the storage
//! trait and its SQL backend, [`http`] the handlers; [`UsersService`] is the state
//! they share.

pub mod domain;
pub mod events;
pub mod export;
pub mod http;
pub mod service;
pub mod store;

use utoipa::OpenApi;
use vigor_common::api::BearerSecurity;
use vigor_common::bus::ServiceEvents;
use vigor_common::config::ServiceName;
use vigor_common::db::Migrations;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

pub use service::UsersService;

/// The service's own migrations (versions from 1000).
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Users,
        prefixes: &["/v1/users"],
        uploads: &[],
        sql: true,
        migrations: Some(&MIGRATIONS),
        openapi,
        build: |ctx| Box::pin(build(ctx)),
    }
}

/// Starts the service: the outbox relay and the `user.signed_up` consumer.
async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    let events = ServiceEvents::start(&ctx);
    let exporter = export::Exporter::from_config(&ctx.config)?;
    let users =
        UsersService::new(ctx.reads(), ctx.ids.clone(), exporter).with_relay(events.relay());
    events
        .consume(events::GROUP, events::handlers(users.store().clone()))
        .await?;
    Ok(RunningService {
        router: http::router(users),
        checks: Vec::new(),
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::profile::me,
        http::profile::update_me,
        http::profile::user,
        http::search::search,
        http::names::names,
        http::roles::set_roles,
        http::roles::reactivate,
        http::roles::delete_user,
        http::account::deactivate,
        http::account::delete_me,
        http::account::export,
    ),
    components(schemas(
        http::MyProfile,
        http::PublicProfile,
        http::search::UserHit,
        http::names::UserName,
        http::names::UserNames,
        http::roles::RolesRequest,
        http::roles::RolesResponse,
        domain::ProfilePatch,
        domain::Units,
        domain::Privacy,
        domain::Role,
        domain::Status,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "users", description = "Profiles, privacy, roles, search, and the account's lifecycle: deactivation, deletion, export."),
    )
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_every_route() {
        let doc = super::openapi();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        for path in [
            "/v1/users",
            "/v1/users/me",
            "/v1/users/me/deactivate",
            "/v1/users/me/export",
            "/v1/users/{id}",
            "/v1/users/{id}/roles",
            "/v1/users/{id}/reactivate",
        ] {
            assert!(paths.contains(&path), "{path} missing from {paths:?}");
        }
    }
}
