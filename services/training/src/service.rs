//! [`TrainingService`]: the state the handlers share, and the operations they
//! call — storage, ids, the outbox relay — so handlers stay about HTTP.

use std::sync::Arc;

use chrono::Utc;
use vigor_common::bus::outbox::OutboxRelay;
use vigor_common::db::Database;
use vigor_common::IdGenerator;

use vigor_common::Id;

use crate::domain::exercise::{catalogue, Exercise};
use crate::http::import::{ImportGate, DEFAULT_UPLOAD_LIMIT};
use crate::store::{Erased, FlagMap, SqlStore, StoreResult, TrainingStore};

/// The training service's shared state.
#[derive(Clone)]
pub struct TrainingService {
    /// Storage.
    pub store: Arc<dyn TrainingStore>,
    /// The database (for idempotency keys).
    pub db: Database,
    /// Id generator.
    pub ids: Arc<IdGenerator>,
    /// Bounds on GPX/FIT imports: size, per user, per process.
    pub imports: Arc<ImportGate>,
    relay: Option<OutboxRelay>,
}

impl TrainingService {
    /// The service on a migrated database (and its read replica, when `db` is
    /// a [`Reads`](vigor_common::db_replica::Reads) that has one).
    pub fn new(db: impl Into<vigor_common::db_replica::Reads>, ids: Arc<IdGenerator>) -> Self {
        let reads = db.into();
        TrainingService {
            db: reads.primary().clone(),
            store: Arc::new(SqlStore::new(reads)),
            ids,
            imports: Arc::new(ImportGate::new(DEFAULT_UPLOAD_LIMIT)),
            relay: None,
        }
    }

    /// Takes import files of up to `bytes` (`http.upload_limit_bytes`).
    pub fn with_upload_limit(mut self, bytes: u64) -> Self {
        self.imports = Arc::new(ImportGate::new(
            usize::try_from(bytes).unwrap_or(usize::MAX),
        ));
        self
    }

    /// Wakes `relay` after every committed event.
    pub fn with_relay(mut self, relay: OutboxRelay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// Tells the relay that an event was committed.
    pub fn events_committed(&self) {
        if let Some(relay) = &self.relay {
            relay.wake();
        }
    }

    /// Seeds the embedded exercise catalogue; entries already stored (by slug)
    /// are kept. Returns how many were added.
    pub async fn seed_catalogue(&self) -> anyhow::Result<u64> {
        let now = Utc::now();
        let exercises: Vec<Exercise> = catalogue()?
            .into_iter()
            .map(|e| e.into_exercise(self.ids.next_id(), now))
            .collect();
        Ok(self.store.seed_catalogue(&exercises).await?)
    }

    /// The record flags of `owner`'s workouts `ids`: as stored, or computed from
    /// the history for workouts stored before flags were.
    pub async fn flags_of(&self, owner: Id, ids: &[Id]) -> StoreResult<FlagMap> {
        let mut flags = self.store.record_flags(ids).await?;
        if ids.iter().any(|id| !flags.contains_key(id)) {
            let mut computed = self.store.history(owner).await?.flags();
            for id in ids {
                if !flags.contains_key(id) {
                    flags.insert(*id, computed.remove(id).unwrap_or_default());
                }
            }
        }
        Ok(flags)
    }

    /// Erases all of `user`'s training data for event `event_id` (`user.deleted`);
    /// `None` when that event was applied before.
    pub async fn erase_user(
        &self,
        event_id: vigor_common::Id,
        user: vigor_common::Id,
    ) -> StoreResult<Option<Erased>> {
        self.store
            .erase_user(crate::events::GROUP, event_id, user)
            .await
    }

    /// Applies a follow event (`following`: started, else ended) once.
    pub async fn set_follow(
        &self,
        event_id: vigor_common::Id,
        change: vigor_common::events::FollowChanged,
        following: bool,
    ) -> StoreResult<bool> {
        self.store
            .set_follow(
                crate::events::GROUP,
                event_id,
                change.followee_id,
                change.follower_id,
                following,
            )
            .await
    }
}

/// Now, at the millisecond precision timestamps are stored with (so what a
/// create answers equals what a later read answers).
pub fn now() -> vigor_common::api::Timestamp {
    let now = Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
