//! The HTTP interface: one module per endpoint group, merged by [`router`].
//!
//! - [`profile`]: `GET`/`PATCH /v1/users/me`, `GET /v1/users/{id}`;
//! - [`search`]: `GET /v1/users?q=`;
//! - [`names`]: `GET /v1/users/names?ids=` (display names of many users at once);
//! - [`roles`]: `PUT /v1/users/{id}/roles`, `POST /v1/users/{id}/reactivate`,
//!   `DELETE /v1/users/{id}` (admins);
//! - [`account`]: `POST /v1/users/me/deactivate`, `DELETE /v1/users/me`,
//!   `GET /v1/users/me/export`.
//!
//! Every endpoint needs an access token ([`Caller`]) with the scope [`scopes`]
//! names: `profile:read` to read, `profile:write` to change the profile,
//! `account` for the caller's export, deactivation and deletion, `staff` for the
//! admins' actions on other accounts. What the caller may see or
//! change is decided here, from the stored profile, never from the gateway alone.
//! Staff rights (moderator, admin) are read from the stored roles, not from the
//! token, so a revoked admin loses them at once rather than when the token expires.

pub mod account;
pub mod names;
pub mod profile;
pub mod roles;
pub mod search;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use std::sync::Arc;

use axum::http::Method;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, Utc};
use serde::Serialize;
use vigor_common::auth::scopes::{self, ScopePolicy};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use crate::domain::{Privacy, Role, Roles, Status, Units};
use crate::service::UsersService;
use crate::store::Profile;

/// The scope each route needs: reads and writes of the profile, except the
/// account's lifecycle and the staff's actions.
pub fn scope_policy() -> ScopePolicy {
    ScopePolicy::new(scopes::PROFILE_READ, scopes::PROFILE_WRITE)
        .except(Method::DELETE, "/v1/users/me", scopes::ACCOUNT)
        .except(Method::POST, "/v1/users/me/deactivate", scopes::ACCOUNT)
        .except(Method::GET, "/v1/users/me/export", scopes::ACCOUNT)
        .except(Method::PUT, "/v1/users/{id}/roles", scopes::STAFF)
        .except(Method::POST, "/v1/users/{id}/reactivate", scopes::STAFF)
        .except(Method::DELETE, "/v1/users/{id}", scopes::STAFF)
}

/// Every route of the service, with its state applied.
pub fn router(users: UsersService) -> Router {
    Router::new()
        .route("/v1/users", get(search::search))
        .route("/v1/users/names", get(names::names))
        .route(
            "/v1/users/me",
            get(profile::me)
                .patch(profile::update_me)
                .delete(account::delete_me),
        )
        .route("/v1/users/me/deactivate", post(account::deactivate))
        .route("/v1/users/me/export", get(account::export))
        .route(
            "/v1/users/{id}",
            get(profile::user).delete(roles::delete_user),
        )
        .route("/v1/users/{id}/roles", put(roles::set_roles))
        .route("/v1/users/{id}/reactivate", post(roles::reactivate))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(scope_policy()),
            scopes::enforce,
        ))
        .with_state(users)
}

/// The caller's own profile, with everything in it but nothing of anyone else's.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MyProfile {
    /// The user's id.
    pub id: Id,
    /// The sign-in email (only ever shown to its owner).
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
    /// Height in centimetres.
    pub height_cm: Option<f64>,
    /// Body weight in kilograms.
    pub weight_kg: Option<f64>,
    /// Who sees the profile's details (bio, member since) on the public view.
    pub profile_visibility: Privacy,
    /// The default privacy of new activities.
    pub activity_privacy: Privacy,
    /// Roles.
    pub roles: Vec<Role>,
    /// Active or deactivated.
    pub status: Status,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When the profile last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Profile> for MyProfile {
    fn from(p: Profile) -> Self {
        MyProfile {
            id: p.user_id,
            email: p.email,
            display_name: p.display_name,
            avatar_url: p.avatar_url,
            bio: p.bio,
            units: p.units,
            time_zone: p.time_zone,
            birth_year: p.birth_year,
            height_cm: p.height_cm,
            weight_kg: p.weight_kg,
            profile_visibility: p.profile_visibility,
            activity_privacy: p.activity_privacy,
            roles: p.roles.iter().collect(),
            status: p.status,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// What another user sees of a profile. Never the email, body metrics, birth year
/// or time zone; the details (bio, member since) only when the profile is visible
/// to the viewer.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PublicProfile {
    /// The user's id.
    pub id: Id,
    /// The name other people see.
    pub display_name: String,
    /// Picture URL.
    pub avatar_url: Option<String>,
    /// Roles (so people can tell coaches and moderators).
    pub roles: Vec<Role>,
    /// Bio; absent when the profile's details are not visible to the viewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    /// When the account was made; absent when the details are not visible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_since: Option<DateTime<Utc>>,
}

impl PublicProfile {
    /// The view of `profile`; `details` says whether the viewer may see its details.
    pub fn of(profile: Profile, details: bool) -> PublicProfile {
        PublicProfile {
            id: profile.user_id,
            display_name: profile.display_name,
            avatar_url: profile.avatar_url,
            roles: profile.roles.iter().collect(),
            bio: if details { profile.bio } else { None },
            member_since: details.then_some(profile.created_at),
        }
    }
}

/// The caller's stored profile, or 404 when it does not exist (yet: it is made
/// when `user.signed_up` arrives, moments after sign-up).
pub(crate) async fn own_profile(users: &UsersService, caller: &Caller) -> Result<Profile, Problem> {
    users
        .store
        .profile(caller.user_id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found("you have no profile (yet)"))
}

/// The caller's stored roles (none when they have no profile).
pub(crate) async fn stored_roles(users: &UsersService, caller: &Caller) -> Result<Roles, Problem> {
    Ok(users
        .store
        .profile(caller.user_id)
        .await
        .map_err(Problem::internal)?
        .map(|p| p.roles)
        .unwrap_or_else(Roles::new_account))
}

/// The `{id}` of a user path. A segment that is not an id is answered 404 before
/// anything else (authentication included): `/v1/users/whatever` is no resource,
/// like any unknown route. Handlers take it before [`Caller`].
#[derive(Debug, Clone, Copy)]
pub struct UserPath(pub Id);

impl<S: Send + Sync> FromRequestParts<S> for UserPath {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let not_found = |path: &str| {
            Problem::not_found(format!("no route or user for {path}")).with_instance(path)
        };
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found(parts.uri.path()))?;
        raw.parse()
            .map(UserPath)
            .map_err(|_| not_found(parts.uri.path()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_names_the_scope_each_operation_needs() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document is JSON");
        let wrong = super::scope_policy().undocumented(&doc);
        assert!(wrong.is_empty(), "{wrong:#?}");
    }
}
