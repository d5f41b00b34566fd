//! Leaderboards: boards, windows, ranks, around-me, friends and community boards,
//! live top-N.
//!
//! [`board`] defines boards and their windows; [`store`] keeps the ranked
//! entries behind one trait, [`BoardStore`], in memory (all-in-one) or in Redis
//! sorted sets (distributed, also on a Redis Cluster). The store is a cache
//! rebuilt from the durable score log in the gamification database, so this crate
//! keeps no SQL of its own; its routes live under `/v1/leaderboards`.

pub mod board;
pub mod store;

pub use board::{
    BoardDef, BoardError, BoardId, BoardWindow, Metric, Operator, Order, Scope, Window,
};
pub use store::{
    BoardStore, Entry, MemoryBoardStore, Position, RedisBoardStore, Score, Seed, Seeds, StoreError,
    Submission,
};

use axum::Router;
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
