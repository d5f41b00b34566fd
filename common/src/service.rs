//! What a service gives the binary, and what the binary gives a service.
//!
//! A service crate exports one [`ServiceSpec`]: its name, the URL prefixes it owns,
//! its migrations, its OpenAPI document, and a `build` function that turns a
//! [`ServiceContext`] (the wired dependencies) into a [`RunningService`] — its
//! `axum::Router`, its readiness checks and its background tasks. The service never
//! learns whether it runs all-in-one or as its own target: `vigor serve` wires the
//! context from configuration, and the gateway either mounts the router or proxies
//! the prefixes to the service's URL.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use axum::Router;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::broker::Broker;
use crate::bus::EventBus;
use crate::config::{Config, ServiceName};
use crate::db::{Database, Migrations};
use crate::db_replica::{Reads, Replica};
use crate::id::IdGenerator;
use crate::live::LivePublisher;

/// Everything a service is given at start.
#[derive(Clone)]
pub struct ServiceContext {
    /// The whole configuration (a service reads its own section).
    pub config: Arc<Config>,
    /// The service's database, migrated; `None` for services without SQL.
    pub db: Option<Database>,
    /// A read replica of that database (`<service>.database_read_url`), for the
    /// reads that tolerate lag ([`ServiceContext::reads`]).
    pub replica: Option<Replica>,
    /// Service-to-service events.
    pub bus: Arc<dyn EventBus>,
    /// Live pushes to WebSocket sessions, raw (the hub's own transport).
    pub broker: Arc<dyn Broker>,
    /// Publishes events on hub channels, reaching subscribers on every gateway
    /// node with a seq and a place in the channel's resume ring: what services use
    /// for live pushes (`achievement.unlocked`, `chat.message`, …).
    pub live: Arc<dyn LivePublisher>,
    /// Id generator of this process.
    pub ids: Arc<IdGenerator>,
    /// Cancelled on shutdown; every background task watches it.
    pub shutdown: CancellationToken,
    /// Background tasks; the binary waits for them on shutdown.
    pub tasks: TaskTracker,
    /// What the services of one process share (one per process).
    pub shared: Shared,
    /// The routers of the services this process runs, for a service that asks
    /// another one in-process (filled once every service is built).
    pub peers: Peers,
}

/// Resources that every service of one process shares, one per type, made by
/// whichever service asks first: in all-in-one mode the gamification and the
/// leaderboards services use one board store (an in-memory store must be the
/// same instance for both to see the same boards). `vigor-common` cannot name
/// the types of the crates that depend on it, so the slot is keyed by type.
#[derive(Clone, Default)]
pub struct Shared(Arc<tokio::sync::Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>>);

impl Shared {
    /// The shared `T`, made with `make` the first time (`make` runs at most
    /// once per process when it succeeds; an error is returned and not kept).
    pub async fn get_or_try_init<T, E, F, Fut>(&self, make: F) -> Result<T, E>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // A tokio mutex, held across `make`: the services of a process start one
        // after another, and a second asker must wait for the first one's value.
        let mut slots = self.0.lock().await;
        if let Some(value) = slots
            .get(&TypeId::of::<T>())
            .and_then(|v| v.downcast_ref::<T>())
        {
            return Ok(value.clone());
        }
        let value = make().await?;
        slots.insert(TypeId::of::<T>(), Box::new(value.clone()));
        Ok(value)
    }
}

/// The routers of the services running in this process, ready to be called
/// in-process by another service (with what their extractors need, e.g. the
/// token verifier, already layered on).
///
/// Services are built one after the other and the verifier exists only once
/// auth is built, so the binary fills this after building them all; a service
/// looks a peer up when it calls it, never while it is being built. A service
/// not running here is absent: the caller reaches it at its URL instead.
#[derive(Clone, Default)]
pub struct Peers {
    routers: Arc<RwLock<HashMap<ServiceName, Router>>>,
}

impl Peers {
    /// No peers yet.
    pub fn new() -> Peers {
        Peers::default()
    }

    /// Makes `router` the in-process entry of `service`.
    pub fn insert(&self, service: ServiceName, router: Router) {
        self.routers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(service, router);
    }

    /// The router of `service`, when it runs in this process.
    pub fn router(&self, service: ServiceName) -> Option<Router> {
        self.routers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&service)
            .cloned()
    }
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<ServiceName> = self
            .routers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .keys()
            .copied()
            .collect();
        f.debug_struct("Peers").field("routers", &names).finish()
    }
}

impl ServiceContext {
    /// The database; services with `sql: true` always get one.
    pub fn database(&self) -> &Database {
        self.db
            .as_ref()
            .expect("a service with `sql: true` is always given its database")
    }

    /// The database with its replica, for a store that sends lag-tolerant
    /// reads to the replica ([`crate::db_replica`]).
    pub fn reads(&self) -> Reads {
        Reads::new(self.database().clone(), self.replica.clone())
    }
}

/// What a [`ReadinessCheck`] fails with when the process serves, with less:
/// `/readyz` reports it (`degraded: …`) and still answers 200 (a read replica
/// that is down: the primary serves its reads).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Degraded(pub String);

/// What a service's `build` returns.
pub type BuildFuture = Pin<Box<dyn Future<Output = anyhow::Result<RunningService>> + Send>>;

/// A readiness check: `Err` names what is not ready (or, a [`Degraded`], what
/// serves with less).
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>> + Send + Sync>;

/// A started service.
pub struct RunningService {
    /// The routes, with their state applied.
    pub router: Router,
    /// Named checks for `/readyz` beyond the database (which is always checked).
    pub checks: Vec<(String, ReadinessCheck)>,
}

/// A service's description, exported by its crate.
pub struct ServiceSpec {
    /// The service.
    pub name: ServiceName,
    /// URL path prefixes it owns (`/v1/auth`, `/.well-known/jwks.json`, …): in
    /// distributed mode the gateway proxies these to the service.
    pub prefixes: &'static [&'static str],
    /// Paths that take file uploads: their bodies may reach
    /// `http.upload_limit_bytes` instead of `http.body_limit_bytes`, at the
    /// gateway and in the service.
    pub uploads: &'static [&'static str],
    /// Whether it keeps SQL data (and so gets a migrated [`Database`]).
    pub sql: bool,
    /// Its own SQL migrations, applied after the shared ones.
    pub migrations: Option<&'static Migrations>,
    /// Its OpenAPI document (paths and schemas), merged by the gateway.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// Starts it.
    pub build: fn(ServiceContext) -> BuildFuture,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_shared_value_is_made_once_per_type() {
        let shared = Shared::default();
        let first: Result<Arc<u32>, ()> =
            shared.get_or_try_init(|| async { Ok(Arc::new(1)) }).await;
        let again: Result<Arc<u32>, ()> =
            shared.get_or_try_init(|| async { Ok(Arc::new(2)) }).await;
        assert!(Arc::ptr_eq(&first.unwrap(), &again.unwrap()));
        let failed: Result<String, &str> = shared.get_or_try_init(|| async { Err("no") }).await;
        assert_eq!(failed, Err("no"));
        let other: Result<String, &str> = shared
            .get_or_try_init(|| async { Ok("made".to_owned()) })
            .await;
        assert_eq!(other.unwrap(), "made");
    }
}
