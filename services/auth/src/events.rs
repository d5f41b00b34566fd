//! The events the auth service emits (through its outbox, so none is lost) and
//! the consumer group it reads the users service's events in. Topics and payloads
//! are the shared contracts of [`vigor_common::events`].
//!
//! Emitted:
//! - `user.signed_up` ([`UserSignedUp`]) when an account is created; the users
//!   service makes the profile from it;
//! - `user.email_changed` ([`EmailChanged`]) when the owner changed their sign-in
//!   email; the users service updates its copy.
//!
//! Consumed (group [`GROUP`], see [`crate::lifecycle`]): `user.roles_changed`
//! (the copy that access tokens carry), `user.deactivated`, `user.reactivated`
//! and `user.deleted`.

use vigor_common::bus::Event;
use vigor_common::events::{EmailChanged, UserSignedUp, USER_EMAIL_CHANGED, USER_SIGNED_UP};
use vigor_common::{Id, IdGenerator};

use crate::store::Credential;

/// The consumer group of the auth service.
pub const GROUP: &str = "auth";

/// The `user.email_changed` event.
pub fn email_changed(ids: &IdGenerator, user_id: Id, email: &str) -> Event {
    let data = EmailChanged {
        user_id,
        email: email.to_owned(),
    };
    USER_EMAIL_CHANGED.event(ids, &data)
}

/// The `user.signed_up` event of `credential`.
pub fn user_signed_up(ids: &IdGenerator, credential: &Credential) -> Event {
    let data = UserSignedUp {
        user_id: credential.user_id,
        email: credential.email.clone(),
        display_name: credential.display_name.clone(),
        roles: credential.roles.clone(),
    };
    USER_SIGNED_UP.event(ids, &data)
}
