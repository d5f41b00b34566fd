//! The gamification service: achievement rules, XP and levels, streaks,
//! challenges, rewards, and the durable log of leaderboard scores.
//!
//! It owns its own database (`gamification`: PostgreSQL distributed, SQLite
//! embedded) and its routes live under `/v1/gamification`. Layout:
//!
//! - [`domain`]: XP, the level curve, streaks, the achievement rules file and
//!   challenges, as pure functions of what a user did;
//! - [`store`]: the storage trait and its SQL backends (per-workout
//!   contributions, unlocks, ledger, challenges, the score log);
//! - [`service`]: applying a change and carrying out its consequences (board
//!   store, `leaderboard.scores_changed`, live pushes), the rebuild and the
//!   backfill;
//! - [`events`]: what it consumes and emits;
//! - [`http`]: the REST API.
//!
//! At start it loads the rules (`gamification.rules_file`, else the built-in
//! ones; a bad file stops the start), opens the board store it shares with the
//! leaderboards service in one process, fills the instances that store lacks
//! from the score log (all of them for a new in-memory store), and joins its
//! consumer group.

pub mod domain;
pub mod events;
pub mod http;
pub mod service;
pub mod store;

use std::sync::Arc;

use anyhow::Context;
use utoipa::OpenApi;
use vigor_common::api::BearerSecurity;
use vigor_common::bus::ServiceEvents;
use vigor_common::config::{Config, ServiceName};
use vigor_common::db::Migrations;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

pub use service::GamificationService;

/// The service's own migrations (versions from 1000).
pub static MIGRATIONS: Migrations = Migrations {
    sqlite: sqlx::migrate!("migrations/sqlite"),
    postgres: sqlx::migrate!("migrations/postgres"),
};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Gamification,
        prefixes: &["/v1/gamification"],
        uploads: &[],
        sql: true,
        migrations: Some(&MIGRATIONS),
        openapi,
        build: |ctx| Box::pin(build(ctx)),
    }
}

/// The achievement rules `config` names: `gamification.rules_file`, else the
/// built-in ones.
pub fn rules(config: &Config) -> anyhow::Result<domain::Rules> {
    match &config.gamification.rules_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the achievement rules {path}"))?;
            Ok(domain::Rules::parse(&text, path)?)
        }
        None => Ok(domain::Rules::builtin()?),
    }
}

/// The service on `db` (with its read replica for the rebuild, when it is a
/// `Reads` that has one) as `config` sets it up, submitting to `boards`, without
/// notifications (`vigor admin`; `build` adds them).
pub fn service(
    config: &Config,
    db: impl Into<vigor_common::db_replica::Reads>,
    boards: Arc<dyn vigor_leaderboards::BoardStore>,
    ids: Arc<vigor_common::IdGenerator>,
) -> anyhow::Result<GamificationService> {
    Ok(GamificationService::new(
        Arc::new(store::SqlStore::new(db)),
        rules(config)?,
        boards,
        ids,
        config.gamification.streak_rest_days,
    ))
}

/// Starts the service.
async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    let boards = vigor_leaderboards::store::shared(&ctx).await?;
    let events = ServiceEvents::start(&ctx);
    let service = service(&ctx.config, ctx.reads(), boards.clone(), ctx.ids.clone())?
        .with_notifications(ctx.bus.clone(), ctx.live.clone())
        .with_relay(events.relay());
    let rebuilt = service
        .rebuild(true, ctx.config.leaderboards.window_grace())
        .await
        .context("filling the board store from the score log")?;
    if rebuilt.instances > 0 {
        tracing::info!(?rebuilt, "board store filled from the score log");
    }
    events
        .consume(events::GROUP, events::handlers(service.clone()))
        .await?;
    Ok(RunningService {
        router: http::router(service),
        checks: vec![(
            "board store".to_owned(),
            vigor_leaderboards::store::readiness_check(boards),
        )],
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(
        http::me::me,
        http::me::catalogue,
        http::me::ledger,
        http::me::settings,
        http::me::put_settings,
        http::me::export,
        http::challenges::create,
        http::challenges::list,
        http::challenges::get,
        http::challenges::join,
        http::challenges::leave,
    ),
    components(schemas(
        http::me::Me,
        http::me::AchievementView,
        http::me::ChallengeProgress,
        http::me::Settings,
        http::me::GamificationExport,
        http::challenges::ChallengeView,
        domain::challenge::Challenge,
        domain::challenge::ChallengeDraft,
        domain::challenge::ChallengeMetric,
        domain::rules::Achievement,
        domain::rules::Tier,
        domain::rules::Metric,
        domain::Streak,
        domain::StreakSummary,
        store::LedgerEntry,
        vigor_common::problem::Problem,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "gamification", description = "XP and levels, streaks, achievements, challenges and rewards."),
    )
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
