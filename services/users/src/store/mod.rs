//! Storage of the users service: one trait, [`UserStore`], and its SQL backend.
//!
//! The trait is the seam between the handlers and the database. Its one
//! implementation, [`SqlStore`], speaks both dialects (the schema keeps instants as
//! unix milliseconds and roles as space-separated text, so the statements are the
//! same), and the one conformance suite (`conformance.rs`) runs against each.
//!
//! Changes that other services must hear about take their events: the rows and the
//! outbox entries are written in one transaction, so an event goes out exactly when
//! its change committed. Every write is a single statement (plus outbox inserts),
//! never a read followed by a write, so concurrent requests cannot interleave.

#[cfg(test)]
mod conformance;
mod sql;

use async_trait::async_trait;
use vigor_common::api::{Cursor, Timestamp};
use vigor_common::bus::Event;
use vigor_common::Id;

use crate::domain::{name_key, Privacy, ProfileChanges, Roles, Status, Units, UnknownValue};

pub use sql::SqlStore;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row that the code cannot have written.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(#[from] sqlx::Error),
}

impl From<UnknownValue> for StoreError {
    fn from(error: UnknownValue) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A user's profile: everything the users service holds about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The user.
    pub user_id: Id,
    /// Copy of the sign-in email; shown only to its owner.
    pub email: String,
    /// The name other people see.
    pub display_name: String,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// A few words about the user.
    pub bio: Option<String>,
    /// Units the user sees.
    pub units: Units,
    /// IANA time zone name.
    pub time_zone: String,
    /// Year of birth.
    pub birth_year: Option<i32>,
    /// Height, centimetres.
    pub height_cm: Option<f64>,
    /// Body weight, kilograms.
    pub weight_kg: Option<f64>,
    /// Who sees the profile's details.
    pub profile_visibility: Privacy,
    /// Default privacy of new activities.
    pub activity_privacy: Privacy,
    /// Roles (always including `user`).
    pub roles: Roles,
    /// Active or deactivated.
    pub status: Status,
    /// When the account was made.
    pub created_at: Timestamp,
    /// When the profile last changed.
    pub updated_at: Timestamp,
}

impl Profile {
    /// The profile of a new account, with defaults.
    pub fn new_account(user_id: Id, email: &str, display_name: &str, now: Timestamp) -> Profile {
        Profile {
            user_id,
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            avatar_url: None,
            bio: None,
            units: Units::Metric,
            time_zone: "UTC".to_owned(),
            birth_year: None,
            height_cm: None,
            weight_kg: None,
            profile_visibility: Privacy::Public,
            activity_privacy: Privacy::Public,
            roles: Roles::new_account(),
            status: Status::Active,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Where `profile` stands in the order of [`UserStore::search`]: after its
/// (name key, user id).
pub fn search_position(profile: &Profile) -> Cursor<String> {
    Cursor::new(name_key(&profile.display_name), profile.user_id)
}

/// The users service's storage.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates `profile` from the sign-up event `event_id`, at most once per event
    /// and per user (consumer group `group`); `true` when it was created now.
    async fn create_from_signup(
        &self,
        group: &str,
        event_id: Id,
        profile: &Profile,
    ) -> StoreResult<bool>;
    /// Replaces the copy of the sign-in email; `false` when there is no profile.
    async fn set_email(&self, user_id: Id, email: &str, now: Timestamp) -> StoreResult<bool>;
    /// A profile.
    async fn profile(&self, user_id: Id) -> StoreResult<Option<Profile>>;
    /// Applies `changes` and enqueues `events`; the new profile, or `None` (and
    /// nothing enqueued) when there is none.
    async fn update_profile(
        &self,
        user_id: Id,
        changes: &ProfileChanges,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<Option<Profile>>;
    /// Replaces the roles and enqueues `events`; the new profile, or `None` (and
    /// nothing enqueued) when there is none.
    async fn set_roles(
        &self,
        user_id: Id,
        roles: &Roles,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<Option<Profile>>;
    /// Sets the status and enqueues `events`; `false` (and nothing enqueued) when
    /// there is no profile or it had that status already.
    async fn set_status(
        &self,
        user_id: Id,
        status: Status,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Active profiles whose lowercased display name starts with `prefix`, ordered
    /// by (name key, user id), after the position `after` (see
    /// [`search_position`]; that profile may have changed or gone since), at
    /// most `limit`.
    async fn search(
        &self,
        prefix: &str,
        after: Option<&Cursor<String>>,
        limit: u32,
    ) -> StoreResult<Vec<Profile>>;
    /// Erases a profile and enqueues `events`; `false` (and nothing enqueued) when
    /// there was none.
    async fn delete(&self, user_id: Id, events: &[Event]) -> StoreResult<bool>;
}
