//! Wiring: from a [`Config`] to running targets.
//!
//! This is the one place that chooses implementations — SQLite or PostgreSQL per
//! service, the in-process or Redis bus and broker, the memory or Redis rate
//! limiter — and decides, per service, whether this process runs it (its router is
//! mounted) or only reaches it (the gateway proxies to its URL).
//!
//! Shutdown order on SIGTERM/SIGINT: stop accepting and let in-flight requests finish
//! within `http.shutdown_grace_secs` (the server), then cancel background tasks and
//! wait for them, then close the database pools.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::auth::{revocation, JwksUrl, KeySource, Verifier, VerifierConfig};
use vigor_common::broker::memory::MemoryBroker;
use vigor_common::broker::redis::RedisBroker;
use vigor_common::broker::Broker;
use vigor_common::bus::memory::MemoryBus;
use vigor_common::bus::redis::RedisBus;
use vigor_common::bus::EventBus;
use vigor_common::config::{Config, ServiceName, Target};
use vigor_common::db::{redact, Database};
use vigor_common::db_replica::Replica;
use vigor_common::live::LivePublisher;
use vigor_common::service::{Peers, ReadinessCheck, ServiceContext, ServiceSpec, Shared};
use vigor_common::{telemetry, IdGenerator};
use vigor_gateway::ratelimit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use vigor_gateway::{GatewayParts, Mount};
use vigor_hub::history::memory::MemoryHistory;
use vigor_hub::history::redis::RedisHistory;
use vigor_hub::presence::memory::MemoryPresence;
use vigor_hub::presence::redis::RedisPresence;
use vigor_hub::{
    History, Hub, HubParts, PresenceStore, Publisher, Rules, ServiceClient, SocialRule,
};

/// Every service, in start-up order.
pub fn specs() -> Vec<ServiceSpec> {
    vec![
        vigor_auth::spec(),
        vigor_users::spec(),
        vigor_training::spec(),
        vigor_social::spec(),
        vigor_gamification::spec(),
        vigor_leaderboards::spec(),
    ]
}

/// `vigor migrate`: applies every SQL service's migrations, and creates the chat
/// keyspace when messages live in CQL.
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(&config.log);
    for spec in specs().into_iter().filter(|s| s.sql) {
        let url = config.database_url(spec.name);
        let db = Database::connect(&url).await?;
        db.migrate(spec.migrations)
            .await
            .with_context(|| format!("{} database {}", spec.name, redact(&url)))?;
        db.close().await;
        println!("{}: migrations applied", spec.name);
    }
    if vigor_social::migrate_messages(&config)
        .await
        .context("social chat keyspace")?
    {
        println!("social: chat keyspace {} ready", config.social.cql.keyspace);
    }
    Ok(())
}

/// `vigor serve`: runs the configured target until SIGTERM or SIGINT.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init_logging(&config.log);
    // Bind first: a busy port fails before anything starts, and with port 0 the
    // real address is known to whatever derives URLs from it (the token issuer).
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let mut config = config;
    config.listen = listener.local_addr()?;
    let config = Arc::new(config);
    vigor_gateway::metrics::describe(&config.target.to_string());
    let shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let ids = Arc::new(IdGenerator::new(config.node_id)?);

    let mut checks: Vec<(String, ReadinessCheck)> = Vec::new();
    let (bus, broker) = messaging(&config).await?;
    {
        let bus = bus.clone();
        checks.push((
            "bus".to_owned(),
            check(move || {
                let bus = bus.clone();
                async move { Ok(bus.ping().await?) }
            }),
        ));
        let broker = broker.clone();
        checks.push((
            "broker".to_owned(),
            check(move || {
                let broker = broker.clone();
                async move { Ok(broker.ping().await?) }
            }),
        ));
    }

    // One history of hub channels per process, shared by the hub (where this
    // process runs one) and the services' live publisher: on Redis when
    // distributed, so every node and target sees one seq per channel.
    let history = hub_history(&config).await?;
    let live: Arc<dyn LivePublisher> = Arc::new(Publisher::new(broker.clone(), history.clone()));

    let mut mounts = Vec::new();
    let mut docs = Vec::new();
    let mut databases = Vec::new();
    let mut auth_db = None;
    let shared = Shared::default();
    let peers = Peers::new();
    let mut peer_routers = Vec::new();
    for spec in specs() {
        if config.target.runs(spec.name) {
            let db = if spec.sql {
                let db = open_database(&config, &spec).await?;
                let pinged = db.clone();
                checks.push((
                    format!("{} database", spec.name),
                    check(move || {
                        let db = pinged.clone();
                        async move { db.ping().await }
                    }),
                ));
                databases.push(db.clone());
                if spec.name == ServiceName::Auth {
                    auth_db = Some(db.clone());
                }
                Some(db)
            } else {
                None
            };
            let replica = match config.database_read_url(spec.name) {
                Some(url) => {
                    let replica =
                        Replica::start(spec.name.to_string(), url, shutdown.clone(), &tasks)
                            .await
                            .with_context(|| format!("{} read replica", spec.name))?;
                    let probed = replica.clone();
                    checks.push((
                        format!("{} read replica", spec.name),
                        check(move || {
                            let outcome = probed.readiness();
                            async move { outcome }
                        }),
                    ));
                    databases.push(replica.database().clone());
                    Some(replica)
                }
                None => None,
            };
            let context = ServiceContext {
                config: config.clone(),
                db,
                replica,
                bus: bus.clone(),
                broker: broker.clone(),
                live: live.clone(),
                ids: ids.clone(),
                shutdown: shutdown.clone(),
                tasks: tasks.clone(),
                shared: shared.clone(),
                peers: peers.clone(),
            };
            let running = (spec.build)(context)
                .await
                .with_context(|| format!("starting the {} service", spec.name))?;
            peer_routers.push((spec.name, running.router.clone()));
            mounts.push(Mount::Local(running.router));
            checks.extend(running.checks);
            docs.push((spec.openapi)());
        } else if config.target == Target::Gateway {
            let url = config
                .service_url(spec.name)
                .context("configuration validation guarantees every service URL")?;
            mounts.push(Mount::Proxy {
                service: spec.name,
                prefixes: spec.prefixes,
                url: url.to_owned(),
            });
            docs.push((spec.openapi)());
        }
    }

    // Tokens are checked locally: against the auth database's keys where this
    // process runs auth, else against the JWKS published by the auth target.
    let keys: Arc<dyn KeySource> = match auth_db {
        Some(db) => vigor_auth::key_source(db),
        None => {
            let url = config
                .auth_jwks_url()
                .context("configuration validation guarantees a JWKS URL")?;
            Arc::new(JwksUrl::new(url)?)
        }
    };
    let verifier = Arc::new(Verifier::new(VerifierConfig::from_config(&config), keys));
    // Services asking each other in-process skip the gateway's layers: the
    // handlers' `Caller` still finds the verifier where the gateway would put it.
    for (name, router) in peer_routers {
        peers.insert(
            name,
            router.layer(vigor_gateway::auth::extension(verifier.clone())),
        );
    }

    let edge = matches!(config.target, Target::All | Target::Gateway);
    // The real-time hub runs where clients connect: all-in-one and gateway nodes.
    let hub = if edge {
        let social = social_client(&config, peers.router(ServiceName::Social))?;
        let hub = start_hub(
            &config,
            broker.clone(),
            history,
            verifier.clone(),
            ids.clone(),
            social,
            &shutdown,
        )
        .await?;
        mounts.push(Mount::Local(vigor_hub::router(hub.clone())));
        docs.push(vigor_hub::openapi());
        Some(hub)
    } else {
        None
    };
    // Ended sessions (sign-out, password change, deactivation, …) reach this
    // process's verifier and hub within a second, from whichever process ended
    // them (`vigor_common::auth::revocation`).
    let listening = {
        let verifier = verifier.clone();
        let hub = hub.clone();
        revocation::listen(&*broker, shutdown.clone(), move |notice| {
            verifier.revocations().record(&notice);
            if let Some(hub) = &hub {
                let closed = hub.end_sessions(&notice);
                tracing::info!(user_id = %notice.user_id, closed, "sessions ended");
            }
        })
        .await
        .context("cannot subscribe to ended-session notices")?
    };
    tasks.spawn(listening);

    let rate_limiter = if edge && config.rate_limit.enabled {
        Some(rate_limiter(&config, &shutdown, &tasks, &mut checks).await?)
    } else {
        None
    };

    let app = vigor_gateway::build(GatewayParts {
        config: config.clone(),
        mounts,
        checks,
        openapi: vigor_gateway::docs::merged(docs),
        rate_limiter,
        edge,
        verifier,
        uploads: specs()
            .iter()
            .flat_map(|spec| spec.uploads)
            .copied()
            .collect(),
    })?;

    let tls = tls(&config)?;
    tracing::info!(
        target_name = %config.target,
        address = %listener.local_addr()?,
        tls = tls.is_some(),
        version = env!("CARGO_PKG_VERSION"),
        "vigor is serving"
    );

    tasks.spawn(stop_on_signal(shutdown.clone()));
    tasks.spawn(telemetry::run_metrics_upkeep(shutdown.clone()));
    let served = vigor_gateway::server::serve(
        listener,
        app,
        tls,
        shutdown.clone(),
        config.shutdown_grace(),
    )
    .await;
    shutdown.cancel();
    if let Some(hub) = hub {
        // Every session has been sent 1012 (the hub watches `shutdown`); wait
        // for the close frames to go out.
        if tokio::time::timeout(Duration::from_secs(5), hub.closed())
            .await
            .is_err()
        {
            tracing::warn!("WebSocket sessions did not close within 5s");
        }
    }
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(5), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop within 5s");
    }
    for db in databases {
        db.close().await;
    }
    tracing::info!("stopped");
    served
}

/// How the hub reaches the social service (chat membership, `chat.send`): its
/// router in this process when it runs here, its URL from a gateway node, and
/// not at all otherwise (chats and communities stay denied).
fn social_client(
    config: &Config,
    router: Option<axum::Router>,
) -> anyhow::Result<Option<ServiceClient>> {
    let timeout = config.hub.service_timeout();
    if let Some(router) = router {
        return Ok(Some(ServiceClient::in_process(router, timeout)));
    }
    match config.service_url(ServiceName::Social) {
        Some(url) if config.target == Target::Gateway => Ok(Some(
            ServiceClient::http(url, timeout).context("the hub's client of the social service")?,
        )),
        _ => Ok(None),
    }
}

async fn start_hub(
    config: &Config,
    broker: Arc<dyn Broker>,
    history: Arc<dyn History>,
    verifier: Arc<Verifier>,
    ids: Arc<IdGenerator>,
    social: Option<ServiceClient>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Arc<Hub>> {
    let hub_config = config.hub.clone();
    // Channel rules: `user:` and `leaderboard:` are the hub's own; chats and
    // communities are the social service's, wherever it runs.
    let rules = Arc::new(Rules::new());
    if let Some(client) = &social {
        SocialRule::register(&rules, client.clone());
    }
    let presence: Arc<dyn PresenceStore> = match &config.redis.url {
        Some(url) => {
            let prefix = format!("{}hub:", config.redis.prefix);
            let presence = RedisPresence::connect(url, &prefix, hub_config.presence_ttl())
                .await
                .context("hub presence on Redis")?;
            Arc::new(presence)
        }
        None => Arc::new(MemoryPresence::new()),
    };
    let parts = HubParts {
        authenticator: verifier,
        authorizer: rules,
        broker,
        history,
        presence,
        ids,
        social,
    };
    let hub = Hub::new(hub_config, parts, shutdown.clone())?;
    // Members removed, banned or gone stop receiving at once, on every node.
    hub.follow_revocations()
        .await
        .context("cannot subscribe to access-revoked notices")?;
    Ok(hub)
}

/// The history of hub channels: seqs and resume rings.
async fn hub_history(config: &Config) -> anyhow::Result<Arc<dyn History>> {
    let hub = &config.hub;
    Ok(match &config.redis.url {
        Some(url) => {
            let prefix = format!("{}hub:", config.redis.prefix);
            let history = RedisHistory::connect(url, &prefix, hub.ring_capacity, hub.ring_ttl())
                .await
                .context("hub history on Redis")?;
            Arc::new(history)
        }
        None => Arc::new(MemoryHistory::new(hub.ring_capacity, hub.ring_ttl())),
    })
}

async fn open_database(config: &Config, spec: &ServiceSpec) -> anyhow::Result<Database> {
    let url = config.database_url(spec.name);
    let db = Database::connect(&url)
        .await
        .with_context(|| format!("{} database", spec.name))?;
    if config.migrate_on_start {
        db.migrate(spec.migrations)
            .await
            .with_context(|| format!("{} database {}", spec.name, redact(&url)))?;
    }
    Ok(db)
}

async fn messaging(config: &Config) -> anyhow::Result<(Arc<dyn EventBus>, Arc<dyn Broker>)> {
    match &config.redis.url {
        Some(url) => {
            let bus = RedisBus::connect(url, &config.redis.prefix)
                .await
                .context("event bus on Redis")?;
            let broker = RedisBroker::connect(url, &config.redis.prefix)
                .await
                .context("broker on Redis")?;
            Ok((Arc::new(bus), Arc::new(broker)))
        }
        None => {
            if config.target != Target::All {
                tracing::warn!(
                    "redis.url is not set: events and live pushes stay inside this process, \
                     so other targets will not see them"
                );
            }
            Ok((Arc::new(MemoryBus::new()), Arc::new(MemoryBroker::new())))
        }
    }
}

async fn rate_limiter(
    config: &Config,
    shutdown: &CancellationToken,
    tasks: &TaskTracker,
    checks: &mut Vec<(String, ReadinessCheck)>,
) -> anyhow::Result<Arc<dyn RateLimiter>> {
    let limits = &config.rate_limit;
    match &config.redis.url {
        Some(url) => {
            let limiter = RedisRateLimiter::connect(
                url,
                &config.redis.prefix,
                limits.per_second,
                limits.burst,
            )
            .await
            .context("rate limiter on Redis")?;
            let limiter = Arc::new(limiter);
            let pinged = limiter.clone();
            checks.push((
                "rate limiter".to_owned(),
                check(move || {
                    let limiter = pinged.clone();
                    async move { limiter.ping().await }
                }),
            ));
            Ok(limiter)
        }
        None => Ok(Arc::new(MemoryRateLimiter::new(
            limits.per_second,
            limits.burst,
            shutdown.clone(),
            tasks,
        ))),
    }
}

fn tls(config: &Config) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
    if let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) {
        return Ok(Some(vigor_gateway::tls::load(cert, key)?));
    }
    if config.tls.self_signed {
        let (server, _pem) = vigor_gateway::tls::self_signed(&[])?;
        tracing::warn!("serving HTTPS with a self-signed certificate: for development only");
        return Ok(Some(server));
    }
    Ok(None)
}

fn check<F, Fut>(f: F) -> ReadinessCheck
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    Arc::new(move || Box::pin(f()))
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = shutdown.cancelled() => {}
    }
    shutdown.cancel();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(client: Option<ServiceClient>) -> Option<String> {
        client.map(|client| format!("{client:?}"))
    }

    #[test]
    fn the_hub_reaches_social_where_it_runs() {
        let mut config = Config::default();
        let router = || Some(axum::Router::new());
        // All-in-one: social's router, in-process.
        let local = social_client(&config, router()).unwrap();
        assert!(transport(local).unwrap().contains("in-process"));
        // A gateway node: social's URL.
        config.target = Target::Gateway;
        config.social.url = Some("http://social.internal:8084".into());
        let remote = social_client(&config, None).unwrap();
        assert!(transport(remote)
            .unwrap()
            .contains("http://social.internal:8084"));
        // Neither (a service target, or no URL): no client, chats stay denied.
        config.target = Target::Service(ServiceName::Training);
        assert!(social_client(&config, None).unwrap().is_none());
        config.target = Target::Gateway;
        config.social.url = None;
        assert!(social_client(&config, None).unwrap().is_none());
    }

    #[test]
    fn the_documents_merged_at_the_gateway_name_their_schemas_apart() {
        let mut docs: Vec<_> = specs().iter().map(|spec| (spec.openapi)()).collect();
        docs.push(vigor_hub::openapi());
        docs.push(vigor_gateway::dashboard::openapi());
        docs.push(vigor_gateway::docs::gateway());
        assert_eq!(
            vigor_gateway::docs::schema_conflicts(&docs),
            Vec::<String>::new()
        );
    }
}
