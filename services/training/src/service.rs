//! [`TrainingService`]: the state the handlers share, and the operations they
//! call — storage, ids, the outbox relay — so handlers stay about HTTP.

use std::sync::Arc;

use chrono::Utc;
use vigor_common::bus::outbox::OutboxRelay;
use vigor_common::db::Database;
use vigor_common::IdGenerator;

use crate::domain::exercise::{catalogue, Exercise};
use crate::store::{SqlStore, TrainingStore};

/// The training service's shared state.
#[derive(Clone)]
pub struct TrainingService {
    /// Storage.
    pub store: Arc<dyn TrainingStore>,
    /// The database (for idempotency keys).
    pub db: Database,
    /// Id generator.
    pub ids: Arc<IdGenerator>,
    relay: Option<OutboxRelay>,
}

impl TrainingService {
    /// The service on a migrated database.
    pub fn new(db: Database, ids: Arc<IdGenerator>) -> Self {
        TrainingService {
            store: Arc::new(SqlStore::new(db.clone())),
            db,
            ids,
            relay: None,
        }
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
}

/// Now, at the millisecond precision timestamps are stored with (so what a
/// create answers equals what a later read answers).
pub fn now() -> vigor_common::api::Timestamp {
    let now = Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
