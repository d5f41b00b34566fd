//! [`UsersService`]: the state every handler shares, and the operations that emit events.

use std::sync::Arc;

use chrono::Utc;
use vigor_common::bus::outbox::OutboxRelay;
use vigor_common::{Id, IdGenerator};

use crate::domain::{ProfileChanges, Roles, Status};
use crate::events;
use crate::export::Exporter;
use crate::store::{Profile, SqlStore, StoreResult, UserStore};

/// The users service's state. Cheap to clone.
#[derive(Clone)]
pub struct UsersService {
    pub(crate) store: Arc<dyn UserStore>,
    pub(crate) ids: Arc<IdGenerator>,
    pub(crate) exporter: Arc<Exporter>,
    relay: Option<OutboxRelay>,
}

impl UsersService {
    /// The service on a migrated users database.
    pub fn new(
        db: impl Into<vigor_common::db_replica::Reads>,
        ids: Arc<IdGenerator>,
        exporter: Exporter,
    ) -> UsersService {
        UsersService {
            store: Arc::new(SqlStore::new(db)),
            ids,
            exporter: Arc::new(exporter),
            relay: None,
        }
    }

    /// Wakes `relay` after writing events to the outbox.
    pub fn with_relay(mut self, relay: OutboxRelay) -> UsersService {
        self.relay = Some(relay);
        self
    }

    /// The storage.
    pub fn store(&self) -> &Arc<dyn UserStore> {
        &self.store
    }

    fn events_written(&self) {
        if let Some(relay) = &self.relay {
            relay.wake();
        }
    }

    /// Applies the owner's `changes` to their profile; a change that sets the
    /// profile's visibility emits `user.privacy_changed`. `None` when there is
    /// no profile.
    pub async fn update_profile(
        &self,
        user_id: Id,
        changes: &ProfileChanges,
    ) -> StoreResult<Option<Profile>> {
        let events: Vec<_> = changes
            .profile_visibility
            .map(|v| events::privacy_changed(&self.ids, user_id, v.as_str()))
            .into_iter()
            .collect();
        let profile = self
            .store
            .update_profile(user_id, changes, &events, Utc::now())
            .await?;
        if profile.is_some() && !events.is_empty() {
            self.events_written();
        }
        Ok(profile)
    }

    /// Replaces a user's roles and emits `user.roles_changed`, so auth puts them in
    /// the user's next access tokens; `None` when there is no such user. (Also for
    /// operators making the first admin.)
    pub async fn set_roles(&self, user_id: Id, roles: &Roles) -> StoreResult<Option<Profile>> {
        let event = events::roles_changed(&self.ids, user_id, roles);
        let profile = self
            .store
            .set_roles(user_id, roles, &[event], Utc::now())
            .await?;
        if profile.is_some() {
            self.events_written();
            tracing::info!(%user_id, roles = ?roles.to_strings(), "roles changed");
        }
        Ok(profile)
    }

    /// Deactivates an account and emits `user.deactivated`; `false` when there is
    /// no such account or it was deactivated already.
    pub async fn deactivate(&self, user_id: Id) -> StoreResult<bool> {
        let event = events::deactivated(&self.ids, user_id);
        let changed = self
            .store
            .set_status(user_id, Status::Deactivated, &[event], Utc::now())
            .await?;
        if changed {
            self.events_written();
            tracing::info!(%user_id, "account deactivated");
        }
        Ok(changed)
    }

    /// Reactivates a deactivated account and emits `user.reactivated`; `false`
    /// when there is no such account or it was active.
    pub async fn reactivate(&self, user_id: Id) -> StoreResult<bool> {
        let event = events::reactivated(&self.ids, user_id);
        let changed = self
            .store
            .set_status(user_id, Status::Active, &[event], Utc::now())
            .await?;
        if changed {
            self.events_written();
            tracing::info!(%user_id, "account reactivated");
        }
        Ok(changed)
    }

    /// Erases a user's profile and emits `user.deleted`, so every service erases
    /// its part; `false` when there was no profile.
    pub async fn delete(&self, user_id: Id) -> StoreResult<bool> {
        let event = events::deleted(&self.ids, user_id);
        let deleted = self.store.delete(user_id, &[event]).await?;
        if deleted {
            self.events_written();
            tracing::info!(%user_id, "account deleted");
        }
        Ok(deleted)
    }
}
