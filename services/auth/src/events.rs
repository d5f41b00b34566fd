//! Events the auth service emits (through its outbox, so none is lost), and the
//! users service's events it consumes.
//!
//! Emitted:
//! - `user.signed_up` — `{"user_id":"…","email":"…","display_name":"…","roles":["user"]}`
//!   when an account is created; the users service makes the profile from it.
//! - `user.email_changed` — `{"user_id":"…","email":"…"}` when the owner changed
//!   their sign-in email; the users service updates its copy.
//!
//! Consumed (group [`GROUP`], see [`crate::lifecycle`]): `user.roles_changed`
//! (`{"user_id","roles"}`: the copy that access tokens carry), `user.deactivated`,
//! `user.reactivated` and `user.deleted` (`{"user_id"}`).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::bus::Event;
use vigor_common::{Id, IdGenerator};

use crate::store::Credential;

/// The topic of [`UserSignedUp`].
pub const USER_SIGNED_UP: &str = "user.signed_up";
/// The topic of [`EmailChanged`].
pub const USER_EMAIL_CHANGED: &str = "user.email_changed";
/// The users service changed a user's roles ([`RolesChanged`]).
pub const USER_ROLES_CHANGED: &str = "user.roles_changed";
/// The owner deactivated their account ([`UserRef`]).
pub const USER_DEACTIVATED: &str = "user.deactivated";
/// An admin reactivated the account ([`UserRef`]).
pub const USER_REACTIVATED: &str = "user.reactivated";
/// The account was deleted ([`UserRef`]).
pub const USER_DELETED: &str = "user.deleted";
/// The consumer group of the auth service.
pub const GROUP: &str = "auth";

/// The owner changed their sign-in email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailChanged {
    /// The user.
    pub user_id: Id,
    /// The new normalised email.
    pub email: String,
}

/// The data of `user.roles_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolesChanged {
    /// The user.
    pub user_id: Id,
    /// All of the user's roles now.
    pub roles: Vec<String>,
}

/// The data of `user.deactivated`, `user.reactivated` and `user.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The user.
    pub user_id: Id,
}

/// The `user.email_changed` event.
pub fn email_changed(ids: &IdGenerator, user_id: Id, email: &str) -> Event {
    let data = EmailChanged {
        user_id,
        email: email.to_owned(),
    };
    Event {
        id: ids.next_id(),
        name: USER_EMAIL_CHANGED.to_owned(),
        occurred_at: Utc::now(),
        data: serde_json::to_value(data).expect("a struct of strings serialises"),
    }
}

/// An account was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSignedUp {
    /// The new user.
    pub user_id: Id,
    /// The normalised email.
    pub email: String,
    /// The display name given at sign-up.
    pub display_name: String,
    /// The initial roles.
    pub roles: Vec<String>,
}

/// The `user.signed_up` event of `credential`.
pub fn user_signed_up(ids: &IdGenerator, credential: &Credential) -> Event {
    let data = UserSignedUp {
        user_id: credential.user_id,
        email: credential.email.clone(),
        display_name: credential.display_name.clone(),
        roles: credential.roles.clone(),
    };
    Event {
        id: ids.next_id(),
        name: USER_SIGNED_UP.to_owned(),
        occurred_at: Utc::now(),
        data: serde_json::to_value(data).expect("a struct of strings serialises"),
    }
}
