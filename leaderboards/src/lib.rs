//! Leaderboards: boards, windows, ranks, around-me, friends and community boards,
//! live top-N.
//!
//! [`board`] defines boards and their windows; [`store`] keeps the ranked
//! entries behind one trait, [`BoardStore`], in memory (all-in-one) or in Redis
//! sorted sets (distributed, also on a Redis Cluster). The store is a cache
//! rebuilt from the durable score log in the gamification database, so this crate
//! keeps no SQL of its own. [`http`] serves the boards under `/v1/leaderboards`
//! (asking social and users about people through [`people`]), and [`live`] turns
//! gamification's score changes into coalesced pushes on the hub's leaderboard
//! and user channels.

pub mod board;
pub mod http;
pub mod live;
pub mod people;
pub mod store;

pub use board::{
    BoardDef, BoardError, BoardId, BoardWindow, Metric, Operator, Order, Scope, Window,
};
pub use store::{
    BoardStore, Entry, MemoryBoardStore, Position, RedisBoardStore, Score, Seed, Seeds, StoreError,
    Submission,
};

use std::sync::Arc;

use utoipa::OpenApi;
use vigor_common::api::BearerSecurity;
use vigor_common::bus::consumer::consumer_options;
use vigor_common::config::ServiceName;
use vigor_common::service::{RunningService, ServiceContext, ServiceSpec};

/// The service's description for `vigor serve`.
pub fn spec() -> ServiceSpec {
    ServiceSpec {
        name: ServiceName::Leaderboards,
        prefixes: &["/v1/leaderboards"],
        uploads: &[],
        sql: false,
        migrations: None,
        openapi,
        build: |ctx| Box::pin(build(ctx)),
    }
}

/// Starts the service on the configured store: the one this process shares
/// with gamification ([`store::shared`]), so that all-in-one both see one
/// in-memory store.
async fn build(ctx: ServiceContext) -> anyhow::Result<RunningService> {
    let store = store::shared(&ctx).await?;
    start(ctx, store).await
}

/// Starts the service on `store`: the built-in boards, their routes, and the
/// live updates (its consumer group joined before it serves).
pub async fn start(
    ctx: ServiceContext,
    store: Arc<dyn BoardStore>,
) -> anyhow::Result<RunningService> {
    let config = &ctx.config;
    let boards = http::Boards::new(BoardDef::all_known());
    let settings = live::LiveSettings {
        interval: config.leaderboards.live_interval(),
        top: config.leaderboards.live_top as usize,
    };
    let live = live::Live::new(store.clone(), boards.clone(), ctx.live.clone(), settings);
    live.start(
        ctx.bus.as_ref(),
        &format!("{}-{}", live::GROUP, config.node_id),
        consumer_options(config),
        ctx.shutdown.clone(),
        &ctx.tasks,
    )
    .await?;
    let state = http::ApiState {
        store: store.clone(),
        boards,
        people: people::People::new(config, ctx.peers.clone()),
        around_radius: config.leaderboards.around_radius as usize,
    };
    Ok(RunningService {
        router: http::router(state),
        checks: vec![(
            "leaderboard store".to_owned(),
            store::readiness_check(store),
        )],
    })
}

#[derive(OpenApi)]
#[openapi(
    paths(http::list, http::board),
    components(schemas(
        http::BoardInfo,
        http::BoardList,
        http::RankedEntry,
        vigor_common::problem::Problem,
    )),
    modifiers(&BearerSecurity),
    tags(
        (name = "leaderboards", description = "Boards and ranks: the top, around me, friends, communities and challenges."),
    )
)]
struct ApiDoc;

/// The service's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
