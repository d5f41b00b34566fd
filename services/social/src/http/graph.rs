//! The follow graph over HTTP: follow and unfollow, followers and following,
//! follow requests to profiles that are not public, block and unblock; and the
//! caller's social data for the account export.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use vigor_common::api::{ApiJson, ApiQuery, Page, PageParams};
use vigor_common::auth::{Caller, RecentSignIn};
use vigor_common::{Id, Problem};

use super::{user_page, user_paged, Items};
use crate::domain::{Follow, FollowStatus};
use crate::service::{SocialExport, SocialService};

/// Follows someone.
#[utoipa::path(
    put, path = "/v1/social/following/{user_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("user_id" = Id, Path, description = "Whom to follow.")),
    responses(
        (status = 200, description = "The follow (as it was, when it existed).", body = Follow),
        (status = 403, description = "A block between them.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Oneself.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn follow(
    State(service): State<SocialService>,
    caller: Caller,
    Path(user): Path<Id>,
) -> Result<ApiJson<Follow>, Problem> {
    Ok(ApiJson(service.follow(caller.user_id, user).await?))
}

/// Stops following someone (or withdraws a request); idempotent.
#[utoipa::path(
    delete, path = "/v1/social/following/{user_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("user_id" = Id, Path, description = "Whom to stop following.")),
    responses((status = 204, description = "Not following now."))
)]
pub async fn unfollow(
    State(service): State<SocialService>,
    caller: Caller,
    Path(user): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.unfollow(caller.user_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whom the caller follows.
#[utoipa::path(
    get, path = "/v1/social/following", tag = "social",
    security(("bearer" = ["social:read"])),
    params(PageParams),
    responses((status = 200, description = "Follows by followee id.", body = Page<Follow>))
)]
pub async fn following(
    State(service): State<SocialService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<Follow>>, Problem> {
    let (limit, after) = user_page(&params)?;
    let rows = service
        .store()
        .following(caller.user_id, after, limit + 1)
        .await?;
    Ok(ApiJson(user_paged(rows, limit, |f| f.followee_id)))
}

/// Who follows the caller.
#[utoipa::path(
    get, path = "/v1/social/followers", tag = "social",
    security(("bearer" = ["social:read"])),
    params(PageParams),
    responses((status = 200, description = "Follows by follower id.", body = Page<Follow>))
)]
pub async fn followers(
    State(service): State<SocialService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<Follow>>, Problem> {
    let (limit, after) = user_page(&params)?;
    let rows = service
        .store()
        .followers(caller.user_id, FollowStatus::Active, after, limit + 1)
        .await?;
    Ok(ApiJson(user_paged(rows, limit, |f| f.follower_id)))
}

/// Who asks to follow the caller (whose profile is not public).
#[utoipa::path(
    get, path = "/v1/social/follow-requests", tag = "social",
    security(("bearer" = ["social:read"])),
    params(PageParams),
    responses((status = 200, description = "Pending follows by follower id.", body = Page<Follow>))
)]
pub async fn follow_requests(
    State(service): State<SocialService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<Follow>>, Problem> {
    let (limit, after) = user_page(&params)?;
    let rows = service
        .store()
        .followers(caller.user_id, FollowStatus::Pending, after, limit + 1)
        .await?;
    Ok(ApiJson(user_paged(rows, limit, |f| f.follower_id)))
}

/// Approves a request to follow the caller.
#[utoipa::path(
    post, path = "/v1/social/follow-requests/{user_id}/approve", operation_id = "approve_follow_request", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("user_id" = Id, Path, description = "Who asked.")),
    responses(
        (status = 204, description = "They follow the caller now."),
        (status = 404, description = "No such request.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve(
    State(service): State<SocialService>,
    caller: Caller,
    Path(user): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.approve_follower(caller.user_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a follower of the caller, or declines their request; idempotent.
#[utoipa::path(
    delete, path = "/v1/social/followers/{user_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("user_id" = Id, Path, description = "The follower.")),
    responses((status = 204, description = "They do not follow (or ask to follow) the caller now."))
)]
pub async fn remove_follower(
    State(service): State<SocialService>,
    caller: Caller,
    Path(user): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.remove_follower(caller.user_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Blocks someone: they cannot follow, message or see the caller, and follows
/// between them end.
#[utoipa::path(
    put, path = "/v1/social/blocks/{user_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("user_id" = Id, Path, description = "Whom to block.")),
    responses(
        (status = 204, description = "Blocked."),
        (status = 422, description = "Oneself.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn block(
    State(service): State<SocialService>,
    caller: Caller,
    Path(user): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.block(caller.user_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts a block; idempotent.
#[utoipa::path(
    delete, path = "/v1/social/blocks/{user_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("user_id" = Id, Path, description = "Whom to unblock.")),
    responses((status = 204, description = "Not blocked now."))
)]
pub async fn unblock(
    State(service): State<SocialService>,
    caller: Caller,
    Path(user): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.store().unblock(caller.user_id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whom the caller blocks.
#[utoipa::path(
    get, path = "/v1/social/blocks", tag = "social",
    security(("bearer" = ["social:read"])),
    responses((status = 200, description = "Blocked user ids.", body = Items<Id>))
)]
pub async fn blocks(
    State(service): State<SocialService>,
    caller: Caller,
) -> Result<ApiJson<Items<Id>>, Problem> {
    let items = service.store().blocks_of(caller.user_id).await?;
    Ok(ApiJson(Items { items }))
}

/// All of the caller's social data, for the account export.
#[utoipa::path(
    get, path = "/v1/social/me/export", operation_id = "export_social", tag = "social",
    security(("bearer" = ["account"])),
    responses(
        (status = 200, description = "The caller's follows, blocks, memberships, feed items, comments, kudos, reports and chat messages.", body = SocialExport),
        (status = 401, description = "No valid access token, or no sign-in within 5 minutes (`insufficient-user-authentication`).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export(
    State(service): State<SocialService>,
    RecentSignIn(caller): RecentSignIn,
) -> Result<ApiJson<SocialExport>, Problem> {
    Ok(ApiJson(service.export(caller.user_id).await?))
}
