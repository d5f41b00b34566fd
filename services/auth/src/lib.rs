//! The auth service: Vigor's OAuth 2.0 authorization server.
//!
//! It is the one place that issues tokens; the gateway and every service verify
//! them locally ([`vigor_common::auth`]) against the keys published at
//! `/.well-known/jwks.json`. What it does:
//!
//! - sign-up credentials (`POST /v1/auth/signup`): normalised unique emails,
//!   argon2id hashes, a password policy checked against a shipped common-password
//!   list; `user.signed_up` goes out through the outbox ([`events`]);
//! - the token endpoint with the `authorization_code` (+ PKCE S256),
//!   `refresh_token` (rotated, reuse revokes the family), `password` (first-party
//!   clients only) and `client_credentials` grants ([`tokens`]);
//! - the authorization endpoint's login page ([`http::authorize`]), revocation
//!   (RFC 7009), introspection (RFC 7662), metadata (RFC 8414), logout;
//! - Ed25519 signing keys in the database, rotated without downtime ([`keys`]);
//! - brute-force limits per account and per client address ([`login`]);
//! - email and password changes that end other sessions, the auth part of the
//!   account export, and the users service's events — roles for the next access
//!   tokens, deactivation, deletion ([`lifecycle`]);
//! - the client registry and key rotation for `vigor admin` ([`admin`]).
//!
//! Layout: [`domain`] holds the types and rules without I/O, [`store`] the storage
//! trait and its SQL backend, [`http`] the handlers; [`AuthService`] is the state
//! they share.

pub mod accounts;
pub mod admin;
pub mod domain;
pub mod error;
pub mod events;
pub mod hashing;
pub mod http;
pub mod keys;
pub mod lifecycle;
pub mod login;
pub mod service;
pub mod settings;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;
use vigor_common::api::BearerSecurity;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::OpenApi;
use vigor_common::auth::KeySource;
use vigor_common::bus::ServiceEvents;
use vigor_common::config::ServiceName;
use vigor_common::db::{Database, Migrations};
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

pub use admin::{ClientError, CreatedClient, NewClient};
pub use service::AuthService;

/// The service's own migrations (versions from 1000).
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Auth,
        prefixes: &["/v1/auth", "/v1/oauth", "/.well-known"],
        uploads: &[],
        sql: true,
        migrations: Some(&MIGRATIONS),
        openapi,
        build: |ctx| Box::pin(build(ctx)),
    }
}

async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    Ok(start(ctx).await?.1)
}

/// Starts the service: the outbox relay, an active signing key, housekeeping,
/// and the consumer of the users service's events. Returns the state it serves
/// with (tests read its counters) and the running service.
pub async fn start(ctx: ServiceContext) -> anyhow::Result<(AuthService, RunningService)> {
    let events = ServiceEvents::start(&ctx);
    let auth = AuthService::new(ctx.database().clone(), &ctx.config, ctx.ids.clone())?
        .with_relay(events.relay())
        .with_broker(ctx.broker.clone());
    auth.key_ring().ensure_active().await?;
    spawn_housekeeping(auth.clone(), ctx.shutdown.clone(), &ctx.tasks);
    events
        .consume(events::GROUP, auth.user_event_handlers())
        .await?;
    let running = RunningService {
        router: http::router(auth.clone()),
        checks: Vec::new(),
    };
    Ok((auth, running))
}

/// The public keys in the auth database `db`, for a verifier in the same process
/// (all-in-one mode, or the auth target verifying its own tokens).
pub fn key_source(db: Database) -> Arc<dyn KeySource> {
    Arc::new(keys::KeyRing::new(Arc::new(store::SqlStore::new(db))))
}

/// How often expired codes, refresh tokens and failure counts are deleted.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(600);

/// Deletes what can no longer be used, every [`HOUSEKEEPING_INTERVAL`], until
/// `shutdown`.
fn spawn_housekeeping(auth: AuthService, shutdown: CancellationToken, tasks: &TaskTracker) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            if let Err(e) = housekeeping(&auth).await {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "auth housekeeping failed; retrying later"
                );
            }
        }
    });
}

async fn housekeeping(auth: &AuthService) -> anyhow::Result<()> {
    let now = Utc::now();
    // Keep spent and expired rows a while: a reused code or token is still
    // recognised (and its family revoked) for a day after it expired.
    let grace = chrono::Duration::days(1);
    let codes = auth.store.delete_expired_codes(now - grace).await?;
    let tokens = auth
        .store
        .delete_expired_refresh_tokens(now - grace)
        .await?;
    let failures = auth
        .store
        .delete_stale_login_failures(now - auth.settings.failed_window)
        .await?;
    tracing::debug!(codes, tokens, failures, "auth housekeeping done");
    Ok(())
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::account::signup,
        http::account::logout,
        http::me::change_password,
        http::me::change_email,
        http::me::export,
        http::me::reauthenticate,
        http::authorize::page,
        http::authorize::submit,
        http::token::token,
        http::token::revoke,
        http::token::introspect,
        http::wellknown::jwks,
        http::wellknown::metadata,
    ),
    components(schemas(
        http::account::SignupRequest,
        http::account::SignupResponse,
        http::me::PasswordChange,
        http::me::EmailChange,
        http::me::ChangeResponse,
        http::me::Reauthentication,
        lifecycle::AccountExport,
        lifecycle::SessionExport,
        http::token::TokenRequest,
        http::token::TokenOnlyRequest,
        tokens::TokenResponse,
        tokens::Introspection,
        error::OAuthErrorBody,
        http::wellknown::ServerMetadata,
        vigor_common::auth::Jwks,
        vigor_common::auth::Jwk,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "auth", description = "Accounts: sign-up, sign-out, email and password changes, the auth part of the account export."),
        (name = "oauth", description = "The OAuth 2.0 authorization server: authorization, tokens, revocation, introspection, keys and metadata."),
    )
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
