//! Events the auth service emits (through its outbox, so none is lost).
//!
//! - `user.signed_up` — `{"user_id":"…","email":"…","display_name":"…","roles":["user"]}`
//!   when an account is created; the users service makes the profile from it.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::bus::Event;
use vigor_common::{Id, IdGenerator};

use crate::store::Credential;

/// The topic of [`UserSignedUp`].
pub const USER_SIGNED_UP: &str = "user.signed_up";

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
