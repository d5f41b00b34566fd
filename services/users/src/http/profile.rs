//! `GET`/`PATCH /v1/users/me` and `GET /v1/users/{id}`.

use axum::extract::State;
use chrono::Datelike;
use vigor_common::api::ApiJson;
use vigor_common::auth::Caller;
use vigor_common::Problem;

use super::{own_profile, stored_roles, MyProfile, PublicProfile, UserPath};
use crate::domain::{Privacy, ProfileChanges, ProfilePatch, Role, Status};
use crate::service::UsersService;

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/v1/users/me",
    operation_id = "users_me",
    tag = "users",
    security(("bearer" = ["profile:read"])),
    responses(
        (status = 200, description = "The caller's whole profile, email included.", body = MyProfile),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The profile does not exist (yet: it is made moments after sign-up).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(
    State(users): State<UsersService>,
    caller: Caller,
) -> Result<ApiJson<MyProfile>, Problem> {
    Ok(ApiJson(own_profile(&users, &caller).await?.into()))
}

/// Changes the caller's profile: fields absent from the body keep their value,
/// `null` clears a nullable one.
#[utoipa::path(
    patch,
    path = "/v1/users/me",
    tag = "users",
    security(("bearer" = ["profile:write"])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The updated profile.", body = MyProfile),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The caller has no profile.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `errors` names each one.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_me(
    State(users): State<UsersService>,
    caller: Caller,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> Result<ApiJson<MyProfile>, Problem> {
    let changes =
        ProfileChanges::parse(patch, chrono::Utc::now().year()).map_err(Problem::validation)?;
    let profile = users
        .update_profile(caller.user_id, &changes)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found("you have no profile (yet)"))?;
    Ok(ApiJson(profile.into()))
}

/// A user's public profile. Its details show when the profile is public, to its
/// owner, and to moderators and admins; `followers` counts as private until the
/// social service can tell followers. Deactivated accounts are not found, except
/// by their owner and staff.
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "users",
    security(("bearer" = ["profile:read"])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "What the caller may see of the profile; never the email.", body = PublicProfile),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such (active) user.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn user(
    State(users): State<UsersService>,
    UserPath(id): UserPath,
    caller: Caller,
) -> Result<ApiJson<PublicProfile>, Problem> {
    let not_found = || Problem::not_found(format!("no user {id}"));
    let profile = users
        .store
        .profile(id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(not_found)?;
    let own = profile.user_id == caller.user_id;
    let staff = if own {
        false
    } else {
        let roles = stored_roles(&users, &caller).await?;
        roles.contains(Role::Moderator) || roles.contains(Role::Admin)
    };
    if profile.status == Status::Deactivated && !own && !staff {
        return Err(not_found());
    }
    let details = own || staff || profile.profile_visibility == Privacy::Public;
    Ok(ApiJson(PublicProfile::of(profile, details)))
}
