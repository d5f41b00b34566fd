//! The feed over HTTP: the caller's feed and community feeds, items, kudos,
//! comments, community posts; and the reports queue of moderation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use vigor_common::api::{ApiJson, ApiQuery, Page, PageParams};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use crate::feed::{
    Comment, CommentBody, FeedItem, Kudos, PostBody, Report, ReportReason, ReportStatus,
};
use crate::service::{Resolution, SocialService};

/// A comment or a post.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextRequest {
    /// The text: a comment 1 to 2000 characters, a post 1 to 4000.
    #[schema(min_length = 1, max_length = 4000)]
    pub body: String,
}

/// A report of a message.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Why, in the reporter's words (up to 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

/// What to do with a report.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `dismiss`, or `remove` the message.
    pub action: Resolution,
}

/// A reports queue's page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Which reports (default `open`).
    pub status: Option<ReportStatus>,
    /// How many at most (1–100, default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn paging(params: &PageParams) -> Result<(u32, Option<&str>), Problem> {
    Ok((params.limit()?, params.cursor.as_deref()))
}

fn field<T>(name: &str, parsed: Result<T, &'static str>) -> Result<T, Problem> {
    parsed.map_err(|e| Problem::invalid_field(name, e))
}

/// The caller's feed: their own items and those of the people they follow and
/// the communities they are in, newest first.
#[utoipa::path(
    get, path = "/v1/social/feed", tag = "social",
    security(("bearer" = ["social:read"])),
    params(PageParams),
    responses(
        (status = 200, description = "Items, newest first.", body = Page<FeedItem>),
        (status = 422, description = "A bad limit or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feed(
    State(service): State<SocialService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<FeedItem>>, Problem> {
    let (limit, cursor) = paging(&params)?;
    Ok(ApiJson(service.feed(caller.user_id, cursor, limit).await?))
}

/// A community's feed (its posts and challenge completions).
#[utoipa::path(
    get, path = "/v1/social/communities/{id}/feed", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community."), PageParams),
    responses(
        (status = 200, description = "Items, newest first.", body = Page<FeedItem>),
        (status = 404, description = "No such community, or invite-only and not a member.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn community_feed(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<FeedItem>>, Problem> {
    let (limit, cursor) = paging(&params)?;
    Ok(ApiJson(
        service
            .community_feed(caller.user_id, id, cursor, limit)
            .await?,
    ))
}

/// Posts in a community (members who are not muted).
#[utoipa::path(
    post, path = "/v1/social/communities/{id}/posts", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The community.")),
    request_body = TextRequest,
    responses(
        (status = 201, description = "The post, as a feed item.", body = FeedItem),
        (status = 403, description = "Muted.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad body.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Posting too fast.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn post(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<TextRequest>,
) -> Result<(StatusCode, ApiJson<FeedItem>), Problem> {
    let body = field("body", PostBody::parse(&request.body))?;
    let item = service.post(caller.user_id, id, body).await?;
    Ok((StatusCode::CREATED, ApiJson(item)))
}

/// One feed item.
#[utoipa::path(
    get, path = "/v1/social/feed/items/{id}", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The item.")),
    responses(
        (status = 200, description = "The item.", body = FeedItem),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn item(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<FeedItem>, Problem> {
    Ok(ApiJson(service.feed_item(caller.user_id, id).await?))
}

/// Deletes a post (its author, or a moderator of its community).
#[utoipa::path(
    delete, path = "/v1/social/feed/items/{id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The post.")),
    responses(
        (status = 204, description = "Deleted with its kudos and comments."),
        (status = 403, description = "Neither its author nor a moderator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a post: it goes with what it shows.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_item(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.delete_item(caller.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives kudos to an item (once; the owner gets `feed.kudos` on `user:{id}`).
#[utoipa::path(
    put, path = "/v1/social/feed/items/{id}/kudos", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The item.")),
    responses(
        (status = 201, description = "Given now; the item with its counts.", body = FeedItem),
        (status = 200, description = "Given before; the item.", body = FeedItem),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "One's own item.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn give_kudos(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<(StatusCode, ApiJson<FeedItem>), Problem> {
    let (item, now) = service.give_kudos(caller.user_id, id).await?;
    let status = if now {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(item)))
}

/// Takes kudos back (idempotent).
#[utoipa::path(
    delete, path = "/v1/social/feed/items/{id}/kudos", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The item.")),
    responses(
        (status = 204, description = "No kudos of the caller's now."),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn take_kudos(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<StatusCode, Problem> {
    service.take_kudos(caller.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who gave kudos to an item.
#[utoipa::path(
    get, path = "/v1/social/feed/items/{id}/kudos", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The item."), PageParams),
    responses(
        (status = 200, description = "Kudos by user id.", body = Page<Kudos>),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn kudos(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<Kudos>>, Problem> {
    let (limit, cursor) = paging(&params)?;
    Ok(ApiJson(
        service.kudos(caller.user_id, id, cursor, limit).await?,
    ))
}

/// Comments on an item (the owner gets `feed.comment` on `user:{id}`).
#[utoipa::path(
    post, path = "/v1/social/feed/items/{id}/comments", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The item.")),
    request_body = TextRequest,
    responses(
        (status = 201, description = "The comment.", body = Comment),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad body.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Commenting too fast.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn comment(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<TextRequest>,
) -> Result<(StatusCode, ApiJson<Comment>), Problem> {
    let body = field("body", CommentBody::parse(&request.body))?;
    let comment = service.add_comment(caller.user_id, id, body).await?;
    Ok((StatusCode::CREATED, ApiJson(comment)))
}

/// An item's comments, oldest first.
#[utoipa::path(
    get, path = "/v1/social/feed/items/{id}/comments", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The item."), PageParams),
    responses(
        (status = 200, description = "Comments, oldest first.", body = Page<Comment>),
        (status = 404, description = "No such item the caller may see.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn comments(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<ApiJson<Page<Comment>>, Problem> {
    let (limit, cursor) = paging(&params)?;
    Ok(ApiJson(
        service.comments(caller.user_id, id, cursor, limit).await?,
    ))
}

/// Deletes a comment (its author or the item's owner).
#[utoipa::path(
    delete, path = "/v1/social/feed/items/{id}/comments/{comment_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The item."), ("comment_id" = Id, Path, description = "The comment.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "Neither its author nor the item's owner.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such comment or item.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_comment(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, comment)): Path<(Id, Id)>,
) -> Result<StatusCode, Problem> {
    service.delete_comment(caller.user_id, id, comment).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Reports a message the caller can read (once per message).
#[utoipa::path(
    post, path = "/v1/social/channels/{id}/messages/{message_id}/report", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel."), ("message_id" = Id, Path, description = "The message.")),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "The report.", body = Report),
        (status = 404, description = "No such message the caller can read.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "One's own message, or a bad reason.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, message)): Path<(Id, Id)>,
    ApiJson(request): ApiJson<ReportRequest>,
) -> Result<(StatusCode, ApiJson<Report>), Problem> {
    let reason = field("reason", ReportReason::parse(&request.reason))?;
    let report = service
        .report_message(caller.user_id, id, message, reason)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(report)))
}

fn report_page(params: &ReportParams) -> Result<(ReportStatus, u32), Problem> {
    let limit = PageParams {
        limit: params.limit,
        cursor: None,
    }
    .limit()?;
    Ok((params.status.unwrap_or(ReportStatus::Open), limit))
}

/// The reports queue of a community's channels (moderators).
#[utoipa::path(
    get, path = "/v1/social/communities/{id}/reports", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The community."), ReportParams),
    responses(
        (status = 200, description = "Reports, oldest first.", body = Page<Report>),
        (status = 403, description = "Not a moderator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such community of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn community_reports(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<ApiJson<Page<Report>>, Problem> {
    let (status, limit) = report_page(&params)?;
    let page = service
        .reports(
            caller.user_id,
            caller.has_role("admin"),
            Some(id),
            status,
            params.cursor.as_deref(),
            limit,
        )
        .await?;
    Ok(ApiJson(page))
}

/// The reports queue of direct and group chats (platform admins).
#[utoipa::path(
    get, path = "/v1/social/reports", tag = "social",
    security(("bearer" = ["social:read"])),
    params(ReportParams),
    responses(
        (status = 200, description = "Reports, oldest first.", body = Page<Report>),
        (status = 403, description = "Not an admin.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn chat_reports(
    State(service): State<SocialService>,
    caller: Caller,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> Result<ApiJson<Page<Report>>, Problem> {
    let (status, limit) = report_page(&params)?;
    let page = service
        .reports(
            caller.user_id,
            caller.has_role("admin"),
            None,
            status,
            params.cursor.as_deref(),
            limit,
        )
        .await?;
    Ok(ApiJson(page))
}

/// Resolves a report, and with it every open report of the same message.
#[utoipa::path(
    post, path = "/v1/social/reports/{id}/resolve", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The report.")),
    request_body = ResolveRequest,
    responses(
        (status = 200, description = "The report, resolved.", body = Report),
        (status = 403, description = "Not a moderator of its community (or an admin, for private chats).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Resolved already.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resolve(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<ResolveRequest>,
) -> Result<ApiJson<Report>, Problem> {
    let report = service
        .resolve_report(caller.user_id, caller.has_role("admin"), id, request.action)
        .await?;
    Ok(ApiJson(report))
}
