//! The events the users service consumes and emits. Topics and payloads are the
//! shared contracts of [`vigor_common::events`].
//!
//! Consumed (consumer group [`GROUP`], [`handlers`]):
//! - `user.signed_up` (from auth): the profile is made, once per event
//!   ([`UserStore::create_from_signup`] marks the event processed in the same
//!   transaction);
//! - `user.email_changed` (from auth): the copy of the email shown to its owner
//!   is updated.
//!
//! Emitted through the outbox, in the transaction of the change:
//! - `user.roles_changed`: auth copies the roles into the next access tokens;
//! - `user.deactivated`: auth refuses sign-in and ends sessions;
//! - `user.reactivated`: an admin restored the account; auth allows sign-in again;
//! - `user.deleted`: every service erases or anonymises the user's data (auth
//!   deletes the credentials and sessions);
//! - `user.privacy_changed`: the profile's visibility now, whenever a change
//!   sets it; social asks followers of a profile that is not public for approval.
//!
//! `build` joins the group before serving (a group starts with the events
//! published after it exists); the loop runs as a tracked task until shutdown.

use std::sync::Arc;

use chrono::Utc;
use vigor_common::bus::{Event, Handlers};
use vigor_common::events::{
    EmailChanged, PrivacyChanged, RolesChanged, UserRef, UserSignedUp, USER_DEACTIVATED,
    USER_DELETED, USER_EMAIL_CHANGED, USER_PRIVACY_CHANGED, USER_REACTIVATED, USER_ROLES_CHANGED,
    USER_SIGNED_UP,
};
use vigor_common::{Id, IdGenerator};

use crate::domain::Roles;
use crate::store::{Profile, UserStore};

/// The consumer group of the users service.
pub const GROUP: &str = "users";

/// The `user.roles_changed` event.
pub fn roles_changed(ids: &IdGenerator, user_id: Id, roles: &Roles) -> Event {
    let data = RolesChanged {
        user_id,
        roles: roles.to_strings(),
    };
    USER_ROLES_CHANGED.event(ids, &data)
}

/// The `user.deactivated` event.
pub fn deactivated(ids: &IdGenerator, user_id: Id) -> Event {
    USER_DEACTIVATED.event(ids, &UserRef { user_id })
}

/// The `user.reactivated` event.
pub fn reactivated(ids: &IdGenerator, user_id: Id) -> Event {
    USER_REACTIVATED.event(ids, &UserRef { user_id })
}

/// The `user.privacy_changed` event.
pub fn privacy_changed(ids: &IdGenerator, user_id: Id, visibility: &str) -> Event {
    let data = PrivacyChanged {
        user_id,
        profile_visibility: visibility.to_owned(),
    };
    USER_PRIVACY_CHANGED.event(ids, &data)
}

/// The `user.deleted` event.
pub fn deleted(ids: &IdGenerator, user_id: Id) -> Event {
    USER_DELETED.event(ids, &UserRef { user_id })
}

/// The handlers of the events the service consumes, applying them to `store`.
pub fn handlers(store: Arc<dyn UserStore>) -> Handlers {
    let signups = store.clone();
    Handlers::new()
        .on(USER_SIGNED_UP, move |event, data: UserSignedUp| {
            let store = signups.clone();
            async move {
                let profile =
                    Profile::new_account(data.user_id, &data.email, &data.display_name, Utc::now());
                if store.create_from_signup(GROUP, event, &profile).await? {
                    tracing::info!(user_id = %data.user_id, "profile created");
                }
                Ok(())
            }
        })
        .on(USER_EMAIL_CHANGED, move |_, data: EmailChanged| {
            let store = store.clone();
            async move {
                // Setting a value is idempotent: a redelivery does no harm.
                store
                    .set_email(data.user_id, &data.email, Utc::now())
                    .await?;
                Ok(())
            }
        })
}
