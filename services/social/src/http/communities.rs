//! Communities over HTTP: create, read, update, delete; join, leave, invite,
//! approve; roles, mutes, bans and the audit log; channels; and the hub's access
//! question for `community:{id}`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigor_common::api::{ApiJson, ApiQuery, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use super::{user_page, user_paged, Items};
use crate::domain::{
    Ban, Channel, ChannelName, Community, CommunityName, MemberStatus, Membership, Role,
    Visibility, MAX_DESCRIPTION_CHARS,
};
use crate::service::{ChannelAccess, SocialService};
use crate::store::AuditEntry;

/// A new community.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommunity {
    /// 1 to 80 characters.
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    /// Who may join.
    pub visibility: Visibility,
    /// What it is about (at most 2000 characters).
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

/// Changes to a community; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityPatch {
    /// 1 to 80 characters.
    #[schema(min_length = 1, max_length = 80)]
    pub name: Option<String>,
    /// Who may join.
    pub visibility: Option<Visibility>,
    /// What it is about (at most 2000 characters).
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

/// A new channel of a community.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChannel {
    /// 1 to 40 lowercase letters, digits, `-` or `_`.
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    pub name: String,
}

/// Someone to invite.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitee {
    /// The user.
    pub user_id: Id,
}

/// A role to give.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    /// `member`, `moderator` or `admin`.
    pub role: Role,
}

/// A mute.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    /// For how long, 1 second to 30 days.
    #[schema(minimum = 1, maximum = 2592000)]
    pub duration_secs: u64,
}

/// A ban.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Whom.
    pub user_id: Id,
    /// For how long in seconds; absent: until lifted.
    #[schema(minimum = 1)]
    pub duration_secs: Option<u64>,
    /// Why (at most 500 characters).
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// Which memberships to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersParams {
    /// `active` (default), `requested` or `invited` (the last two for admins).
    pub status: Option<MemberStatus>,
    /// How many at most (1–100, default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where the audit log resumes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries older than this id.
    pub before: Option<Id>,
    /// How many at most (1–100, default 20).
    pub limit: Option<u32>,
}

fn name(text: &str) -> Result<CommunityName, Problem> {
    CommunityName::parse(text).map_err(|why| Problem::invalid_field("name", why))
}

fn description(text: Option<String>) -> Result<Option<String>, Problem> {
    match text {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(Problem::invalid_field(
            "description",
            "must be at most 2000 characters",
        )),
        other => Ok(other),
    }
}

const MAX_MUTE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Creates a community; the caller owns it, and it starts with `general`.
#[utoipa::path(
    post, path = "/v1/social/communities", operation_id = "create_community", tag = "social",
    security(("bearer" = ["social:write"])),
    request_body = NewCommunity,
    responses(
        (status = 201, description = "The community.", body = Community),
        (status = 401, description = "No valid access token.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(
    State(service): State<SocialService>,
    caller: Caller,
    ApiJson(new): ApiJson<NewCommunity>,
) -> Result<Response, Problem> {
    let name = name(&new.name)?;
    let description = description(new.description)?.unwrap_or_default();
    let community = service
        .create_community(caller.user_id, name, description, new.visibility)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/v1/social/communities/{}", community.id),
        )],
        ApiJson(community),
    )
        .into_response())
}

/// A community.
#[utoipa::path(
    get, path = "/v1/social/communities/{id}", operation_id = "get_community", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community.")),
    responses(
        (status = 200, description = "The community.", body = Community),
        (status = 404, description = "No such community.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(
    State(service): State<SocialService>,
    _caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<Community>, Problem> {
    Ok(ApiJson(service.community(id).await?))
}

/// Changes a community (admins).
#[utoipa::path(
    patch, path = "/v1/social/communities/{id}", operation_id = "update_community", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    request_body = CommunityPatch,
    responses(
        (status = 200, description = "The community.", body = Community),
        (status = 403, description = "Not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(patch): ApiJson<CommunityPatch>,
) -> Result<ApiJson<Community>, Problem> {
    let name = patch.name.as_deref().map(name).transpose()?;
    let description = description(patch.description)?;
    Ok(ApiJson(
        service
            .update_community(caller.user_id, id, name, description, patch.visibility)
            .await?,
    ))
}

/// Deletes a community with its channels (its owner).
#[utoipa::path(
    delete, path = "/v1/social/communities/{id}", operation_id = "delete_community", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "Not the owner.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.delete_community(caller.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins a public community or accepts an invitation (200, active), or asks to
/// join an invite-only one (202, requested).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/join", operation_id = "join_community", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    responses(
        (status = 200, description = "A member now (or already).", body = Membership),
        (status = 202, description = "Asked to join; an admin decides.", body = Membership),
        (status = 403, description = "Banned.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn join(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<Response, Problem> {
    let membership = service.join(caller.user_id, id).await?;
    let status = if membership.is_active() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, ApiJson(membership)).into_response())
}

/// Leaves a community (or withdraws a request).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/leave", operation_id = "leave_community", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    responses(
        (status = 204, description = "Left."),
        (status = 404, description = "Not in it.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The owner cannot leave.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn leave(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.leave(caller.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the caller may do on the hub channel `community:{id}` (asked by the hub).
#[utoipa::path(
    get, path = "/v1/social/communities/{id}/access", operation_id = "community_access", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community.")),
    responses((status = 200, description = "The caller's access.", body = ChannelAccess))
)]
pub async fn access(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<ChannelAccess>, Problem> {
    Ok(ApiJson(service.community_access(caller.user_id, id).await?))
}

/// A community's channels (its members).
#[utoipa::path(
    get, path = "/v1/social/communities/{id}/channels", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community.")),
    responses(
        (status = 200, description = "Its channels, oldest first (`general` first).", body = Items<Channel>),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn channels(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<Items<Channel>>, Problem> {
    let items = service.community_channels(caller.user_id, id).await?;
    Ok(ApiJson(Items { items }))
}

/// Adds a channel to a community (admins).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/channels", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    request_body = NewChannel,
    responses(
        (status = 201, description = "The channel.", body = Channel),
        (status = 403, description = "Not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad name.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_channel(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(new): ApiJson<NewChannel>,
) -> Result<Response, Problem> {
    let name = ChannelName::parse(&new.name).map_err(|why| Problem::invalid_field("name", why))?;
    let channel = service
        .create_community_channel(caller.user_id, id, name)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(channel)).into_response())
}

/// A community's members (members), or its requests and invitations (admins).
#[utoipa::path(
    get, path = "/v1/social/communities/{id}/members", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community."), MembersParams),
    responses(
        (status = 200, description = "Memberships by user id.", body = Page<Membership>),
        (status = 403, description = "Requests and invitations are for admins.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn members(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<MembersParams>,
) -> Result<ApiJson<Page<Membership>>, Problem> {
    let (limit, after) = user_page(&PageParams {
        limit: params.limit,
        cursor: params.cursor,
    })?;
    let status = params.status.unwrap_or(MemberStatus::Active);
    let rows = service
        .members(caller.user_id, id, status, after, limit + 1)
        .await?;
    Ok(ApiJson(user_paged(rows, limit, |m| m.user_id)))
}

/// Invites someone (admins).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/invitations", operation_id = "invite_to_community", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    request_body = Invitee,
    responses(
        (status = 200, description = "The invitation (or their membership).", body = Membership),
        (status = 403, description = "Not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn invite(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(invitee): ApiJson<Invitee>,
) -> Result<ApiJson<Membership>, Problem> {
    Ok(ApiJson(
        service.invite(caller.user_id, id, invitee.user_id).await?,
    ))
}

/// Approves a request to join (admins).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/members/{user_id}/approve", operation_id = "approve_member", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community."), ("user_id" = Id, Path, description = "Who asked.")),
    responses(
        (status = 200, description = "A member now.", body = Membership),
        (status = 403, description = "Not an admin.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, user)): Path<(Id, Id)>,
) -> Result<ApiJson<Membership>, Problem> {
    Ok(ApiJson(service.approve(caller.user_id, id, user).await?))
}

/// Sets a member's role (admins, below their own).
#[utoipa::path(
    put, path = "/v1/social/communities/{id}/members/{user_id}/role", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community."), ("user_id" = Id, Path, description = "The member.")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The membership.", body = Membership),
        (status = 403, description = "Beyond the caller's role.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_role(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, user)): Path<(Id, Id)>,
    ApiJson(change): ApiJson<RoleChange>,
) -> Result<ApiJson<Membership>, Problem> {
    Ok(ApiJson(
        service
            .set_role(caller.user_id, id, user, change.role)
            .await?,
    ))
}

/// Mutes a member for a while: they read, but do not write (moderators).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/members/{user_id}/mute", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community."), ("user_id" = Id, Path, description = "The member.")),
    request_body = MuteRequest,
    responses(
        (status = 200, description = "The membership.", body = Membership),
        (status = 403, description = "Beyond the caller's role.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad duration.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn mute(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, user)): Path<(Id, Id)>,
    ApiJson(mute): ApiJson<MuteRequest>,
) -> Result<ApiJson<Membership>, Problem> {
    let duration = Duration::from_secs(mute.duration_secs);
    if duration.is_zero() || duration > MAX_MUTE {
        return Err(Problem::invalid_field(
            "duration_secs",
            "must be 1 second to 30 days",
        ));
    }
    Ok(ApiJson(
        service.mute(caller.user_id, id, user, duration).await?,
    ))
}

/// Removes a member (moderators, over members below them).
#[utoipa::path(
    delete, path = "/v1/social/communities/{id}/members/{user_id}", operation_id = "remove_community_member", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community."), ("user_id" = Id, Path, description = "The member.")),
    responses(
        (status = 204, description = "Removed."),
        (status = 403, description = "Beyond the caller's role.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, user)): Path<(Id, Id)>,
) -> Result<StatusCode, Problem> {
    service.remove_member(caller.user_id, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Bans a member, for a while or until lifted (moderators).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/bans", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    request_body = BanRequest,
    responses(
        (status = 201, description = "The ban.", body = Ban),
        (status = 403, description = "Beyond the caller's role.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad duration or reason.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ban(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<BanRequest>,
) -> Result<Response, Problem> {
    let reason = request.reason.unwrap_or_default();
    if reason.chars().count() > 500 {
        return Err(Problem::invalid_field(
            "reason",
            "must be at most 500 characters",
        ));
    }
    let duration = match request.duration_secs {
        Some(0) => {
            return Err(Problem::invalid_field(
                "duration_secs",
                "must be at least 1",
            ))
        }
        other => other.map(Duration::from_secs),
    };
    let ban = service
        .ban(caller.user_id, id, request.user_id, duration, reason)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(ban)).into_response())
}

/// Lifts a ban (moderators).
#[utoipa::path(
    delete, path = "/v1/social/communities/{id}/bans/{user_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community."), ("user_id" = Id, Path, description = "Who was banned.")),
    responses(
        (status = 204, description = "Lifted."),
        (status = 403, description = "Not a moderator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such ban.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unban(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, user)): Path<(Id, Id)>,
) -> Result<StatusCode, Problem> {
    service.unban(caller.user_id, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The community's audit log, newest first (moderators).
#[utoipa::path(
    get, path = "/v1/social/communities/{id}/audit", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community."), AuditParams),
    responses(
        (status = 200, description = "Entries, newest first.", body = Items<AuditEntry>),
        (status = 403, description = "Not a moderator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audit(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<ApiJson<Items<AuditEntry>>, Problem> {
    let limit = PageParams {
        limit: params.limit,
        cursor: None,
    }
    .limit()?;
    let items = service
        .audit_log(caller.user_id, id, params.before, limit)
        .await?;
    Ok(ApiJson(Items { items }))
}
