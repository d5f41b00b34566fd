//! Events the users service consumes and emits.
//!
//! Consumed (consumer group [`GROUP`]):
//! - `user.signed_up` (from auth) — `{"user_id","email","display_name","roles"}`:
//!   the profile is made, once per event ([`UserStore::create_from_signup`] marks
//!   the event processed in the same transaction);
//! - `user.email_changed` (from auth) — `{"user_id","email"}`: the copy of the
//!   email shown to its owner is updated.
//!
//! Emitted through the outbox, in the transaction of the change:
//! - `user.roles_changed` — `{"user_id","roles"}`: auth copies the roles into the
//!   next access tokens;
//! - `user.deactivated` — `{"user_id"}`: auth refuses sign-in and ends sessions;
//! - `user.reactivated` — `{"user_id"}`: an admin restored the account; auth
//!   allows sign-in again;
//! - `user.deleted` — `{"user_id"}`: every service erases or anonymises the user's
//!   data (auth deletes the credentials and sessions).
//!
//! The consumer subscribes before `build` returns (a group starts with the events
//! published after it exists), then runs as a tracked task until shutdown.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::bus::{ConsumerOptions, Event, EventBus, Subscription};
use vigor_common::{Id, IdGenerator};

use crate::domain::Roles;
use crate::store::{Profile, UserStore};

/// The consumer group of the users service.
pub const GROUP: &str = "users";
/// Topic of an account's creation (emitted by auth).
pub const USER_SIGNED_UP: &str = "user.signed_up";
/// Topic of a sign-in email change (emitted by auth).
pub const USER_EMAIL_CHANGED: &str = "user.email_changed";
/// Topic of [`RolesChanged`].
pub const USER_ROLES_CHANGED: &str = "user.roles_changed";
/// Topic of [`UserRef`] when an account is deactivated.
pub const USER_DEACTIVATED: &str = "user.deactivated";
/// Topic of [`UserRef`] when an admin reactivates an account.
pub const USER_REACTIVATED: &str = "user.reactivated";
/// Topic of [`UserRef`] when an account is deleted.
pub const USER_DELETED: &str = "user.deleted";

/// The data of `user.signed_up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUp {
    /// The new user.
    pub user_id: Id,
    /// The normalised email.
    pub email: String,
    /// The display name given at sign-up.
    pub display_name: String,
}

/// The data of `user.email_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChanged {
    /// The user.
    pub user_id: Id,
    /// The new sign-in email.
    pub email: String,
}

/// The data of `user.roles_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesChanged {
    /// The user.
    pub user_id: Id,
    /// The user's roles now (all of them, not a difference).
    pub roles: Vec<String>,
}

/// The data of `user.deactivated`, `user.reactivated` and `user.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The user.
    pub user_id: Id,
}

fn event(ids: &IdGenerator, name: &str, data: impl Serialize) -> Event {
    Event {
        id: ids.next_id(),
        name: name.to_owned(),
        occurred_at: Utc::now(),
        data: serde_json::to_value(data).expect("event data of ids and strings serialises"),
    }
}

/// The `user.roles_changed` event.
pub fn roles_changed(ids: &IdGenerator, user_id: Id, roles: &Roles) -> Event {
    let data = RolesChanged {
        user_id,
        roles: roles.to_strings(),
    };
    event(ids, USER_ROLES_CHANGED, data)
}

/// The `user.deactivated` event.
pub fn deactivated(ids: &IdGenerator, user_id: Id) -> Event {
    event(ids, USER_DEACTIVATED, UserRef { user_id })
}

/// The `user.reactivated` event.
pub fn reactivated(ids: &IdGenerator, user_id: Id) -> Event {
    event(ids, USER_REACTIVATED, UserRef { user_id })
}

/// The `user.deleted` event.
pub fn deleted(ids: &IdGenerator, user_id: Id) -> Event {
    event(ids, USER_DELETED, UserRef { user_id })
}

/// The data of `event`, or `None` (logged) when it is malformed: retrying
/// cannot fix that, so such an event is acked and dropped.
fn decode<T: serde::de::DeserializeOwned>(event: &Event) -> Option<T> {
    match serde_json::from_value(event.data.clone()) {
        Ok(data) => Some(data),
        Err(error) => {
            tracing::error!(event = %event.id, topic = %event.name, %error, "malformed event");
            None
        }
    }
}

/// Applies one consumed event; `Err` leaves it unacked, so it comes again.
pub async fn apply(store: &dyn UserStore, event: &Event) -> anyhow::Result<()> {
    match event.name.as_str() {
        USER_SIGNED_UP => {
            let Some(data) = decode::<SignedUp>(event) else {
                return Ok(());
            };
            let profile =
                Profile::new_account(data.user_id, &data.email, &data.display_name, Utc::now());
            if store.create_from_signup(GROUP, event.id, &profile).await? {
                tracing::info!(user_id = %data.user_id, "profile created");
            }
            Ok(())
        }
        USER_EMAIL_CHANGED => {
            // Setting a value is idempotent: a redelivery does no harm.
            if let Some(data) = decode::<EmailChanged>(event) {
                store
                    .set_email(data.user_id, &data.email, Utc::now())
                    .await?;
            }
            Ok(())
        }
        other => {
            tracing::debug!(topic = other, "ignoring an event of another topic");
            Ok(())
        }
    }
}

/// Joins the consumer group; call before serving, so no sign-up is missed.
pub async fn subscribe(
    bus: &dyn EventBus,
    consumer: &str,
) -> anyhow::Result<Box<dyn Subscription>> {
    Ok(bus
        .subscribe(
            &[USER_SIGNED_UP, USER_EMAIL_CHANGED],
            GROUP,
            consumer,
            ConsumerOptions::default(),
        )
        .await?)
}
