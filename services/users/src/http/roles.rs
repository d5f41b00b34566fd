//! Admin endpoints: `PUT /v1/users/{id}/roles`, `POST /v1/users/{id}/reactivate`
//! and `DELETE /v1/users/{id}`.
//!
//! Only admins (by their stored roles) may use them. A role change is emitted as
//! `user.roles_changed`, which auth copies into the user's next access tokens.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use vigor_common::api::ApiJson;
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use super::{stored_roles, UserPath};
use crate::domain::{Role, Roles};
use crate::service::UsersService;

/// The body of `PUT /v1/users/{id}/roles`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    /// The user's roles from now on; `user` is always kept.
    pub roles: Vec<String>,
}

/// A user's roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RolesResponse {
    /// The user.
    pub id: Id,
    /// The roles now.
    pub roles: Vec<Role>,
}

async fn require_admin(users: &UsersService, caller: &Caller) -> Result<(), Problem> {
    if stored_roles(users, caller).await?.contains(Role::Admin) {
        Ok(())
    } else {
        Err(Problem::forbidden("only admins may do this"))
    }
}

/// Replaces a user's roles (admins only); the user's next access token carries them.
#[utoipa::path(
    put,
    path = "/v1/users/{id}/roles",
    tag = "users",
    security(("bearer" = ["staff"])),
    params(("id" = String, Path, description = "The user's id.")),
    request_body = RolesRequest,
    responses(
        (status = 200, description = "The roles were replaced; `user.roles_changed` is emitted.", body = RolesResponse),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An admin cannot take away their own admin role.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown role; `errors` names `roles`.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_roles(
    State(users): State<UsersService>,
    UserPath(id): UserPath,
    caller: Caller,
    ApiJson(request): ApiJson<RolesRequest>,
) -> Result<ApiJson<RolesResponse>, Problem> {
    require_admin(&users, &caller).await?;
    let roles = Roles::parse(request.roles.iter().map(String::as_str)).map_err(|e| {
        Problem::invalid_field(
            "roles",
            format!("{e}: roles are user, coach, moderator, admin"),
        )
    })?;
    // The last word on admins stays with an admin: nobody locks themselves out.
    if id == caller.user_id && !roles.contains(Role::Admin) {
        return Err(Problem::conflict(
            "you cannot take away your own admin role; ask another admin",
        ));
    }
    let profile = users
        .set_roles(id, &roles)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no user {id}")))?;
    Ok(ApiJson(RolesResponse {
        id,
        roles: profile.roles.iter().collect(),
    }))
}

/// Deletes another user's account (admins only, for moderation); like the
/// owner's own deletion it emits `user.deleted`.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}",
    tag = "users",
    security(("bearer" = ["staff"])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "The account is deleted; `user.deleted` is emitted."),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_user(
    State(users): State<UsersService>,
    UserPath(id): UserPath,
    caller: Caller,
) -> Result<StatusCode, Problem> {
    require_admin(&users, &caller).await?;
    if users.delete(id).await.map_err(Problem::internal)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!("no user {id}")))
    }
}

/// Reactivates a deactivated account (admins only): the profile shows again and
/// auth allows sign-in (`user.reactivated`).
#[utoipa::path(
    post,
    path = "/v1/users/{id}/reactivate",
    tag = "users",
    security(("bearer" = ["staff"])),
    params(("id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "The account is active (again)."),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reactivate(
    State(users): State<UsersService>,
    UserPath(id): UserPath,
    caller: Caller,
) -> Result<StatusCode, Problem> {
    require_admin(&users, &caller).await?;
    if users
        .store
        .profile(id)
        .await
        .map_err(Problem::internal)?
        .is_none()
    {
        return Err(Problem::not_found(format!("no user {id}")));
    }
    users.reactivate(id).await.map_err(Problem::internal)?;
    Ok(StatusCode::NO_CONTENT)
}
