//! Chats over HTTP: direct and group chats, the caller's channels with unread
//! counts, a channel's history, sending, editing, deleting, reactions and read
//! state; and the hub's access question for `chat:{id}`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vigor_common::api::{ApiJson, ApiQuery, Page};
use vigor_common::auth::Caller;
use vigor_common::{Id, Problem};

use super::Items;
use crate::domain::Channel;
use crate::messages::{ClientMsgId, Emoji, HistoryQuery, Message, MessageBody, ReadState};
use crate::service::{ChannelAccess, MyChannel, SocialService};

/// Whom to message directly.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectRequest {
    /// The other person.
    pub user_id: Id,
}

/// A new group chat.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    /// The others in it (with the caller, at most 50 people).
    pub user_ids: Vec<Id>,
}

/// A message to send.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The text, 1 to 4096 bytes.
    #[schema(min_length = 1, max_length = 4096)]
    pub body: String,
    /// The sender's own id for this send (1–64 visible ASCII): a retry with the
    /// same id returns the stored message instead of sending it again.
    #[schema(min_length = 1, max_length = 64)]
    pub client_msg_id: Option<String>,
    /// The message this one answers, in the same channel.
    pub reply_to: Option<Id>,
    /// Up to 20 members to notify with `chat.mention` on their `user:` channel
    /// (those who cannot read the channel, or have a block with the sender, are
    /// skipped).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub mentions: Vec<Id>,
}

/// A new text for a message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// The text, 1 to 4096 bytes.
    #[schema(min_length = 1, max_length = 4096)]
    pub body: String,
}

/// How far the caller has read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The last message read.
    pub message_id: Id,
}

/// Which history page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Messages on the page (1–100, default 20).
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Messages older than this one.
    pub before: Option<Id>,
    /// Messages newer than this one (the oldest of them first in time, the page
    /// itself newest first).
    pub after: Option<Id>,
}

fn body(text: String) -> Result<MessageBody, Problem> {
    MessageBody::parse(text).map_err(|e| Problem::invalid_field("body", e.to_string()))
}

/// The direct-message channel with someone (201 when made now, 200 after).
#[utoipa::path(
    post, path = "/v1/social/dms", tag = "social",
    security(("bearer" = ["social:write"])),
    request_body = DirectRequest,
    responses(
        (status = 200, description = "The pair's channel, made before.", body = Channel),
        (status = 201, description = "The pair's channel, made now.", body = Channel),
        (status = 403, description = "A block between them.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Oneself.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn direct(
    State(service): State<SocialService>,
    caller: Caller,
    ApiJson(request): ApiJson<DirectRequest>,
) -> Result<Response, Problem> {
    let (channel, created) = service
        .direct_channel(caller.user_id, request.user_id)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, ApiJson(channel)).into_response())
}

/// Makes a group chat.
#[utoipa::path(
    post, path = "/v1/social/groups", tag = "social",
    security(("bearer" = ["social:write"])),
    request_body = GroupRequest,
    responses(
        (status = 201, description = "The group chat.", body = Channel),
        (status = 403, description = "A block with someone named.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nobody else, or more than 50 people.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn group(
    State(service): State<SocialService>,
    caller: Caller,
    ApiJson(request): ApiJson<GroupRequest>,
) -> Result<Response, Problem> {
    let channel = service
        .group_channel(caller.user_id, request.user_ids)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(channel)).into_response())
}

/// A member adds people to a group chat.
#[utoipa::path(
    post, path = "/v1/social/groups/{id}/members", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The group chat.")),
    request_body = GroupRequest,
    responses(
        (status = 200, description = "Its members now, by id.", body = Items<Id>),
        (status = 403, description = "A block with someone named.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a group chat.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than 50 members.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_members(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<GroupRequest>,
) -> Result<ApiJson<Items<Id>>, Problem> {
    let items = service
        .add_group_members(caller.user_id, id, request.user_ids)
        .await?;
    Ok(ApiJson(Items { items }))
}

/// Leaves a group chat (oneself), or takes someone out (the one who made it).
#[utoipa::path(
    delete, path = "/v1/social/groups/{id}/members/{user_id}", operation_id = "remove_group_member", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The group chat."), ("user_id" = Id, Path, description = "The member.")),
    responses(
        (status = 204, description = "Out of the group; they stop receiving it."),
        (status = 403, description = "Someone else, and the caller did not make the group.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat or member.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a group chat.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, user)): Path<(Id, Id)>,
) -> Result<StatusCode, Problem> {
    service
        .remove_group_member(caller.user_id, id, user)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's channels, with how much is unread in each.
#[utoipa::path(
    get, path = "/v1/social/channels", tag = "social",
    security(("bearer" = ["social:read"])),
    responses((status = 200, description = "Every channel the caller is in, oldest first.", body = Items<MyChannel>))
)]
pub async fn mine(
    State(service): State<SocialService>,
    caller: Caller,
) -> Result<ApiJson<Items<MyChannel>>, Problem> {
    let items = service.my_channels(caller.user_id).await?;
    Ok(ApiJson(Items { items }))
}

/// What the caller may do on the hub channel `chat:{id}` (asked by the hub).
#[utoipa::path(
    get, path = "/v1/social/channels/{id}/access", operation_id = "channel_access", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The channel.")),
    responses(
        (status = 200, description = "The caller's access.", body = ChannelAccess),
        (status = 404, description = "No such channel.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn access(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
) -> Result<ApiJson<ChannelAccess>, Problem> {
    Ok(ApiJson(service.channel_access(caller.user_id, id).await?))
}

/// A page of the channel's history, newest first.
#[utoipa::path(
    get, path = "/v1/social/channels/{id}/messages", tag = "social",
    security(("bearer" = ["social:read"])),
    params(("id" = Id, Path, description = "The channel."), HistoryParams),
    responses(
        (status = 200, description = "Messages, newest first; `next_cursor` null on the last page.", body = Page<Message>),
        (status = 404, description = "No such channel of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad limit or cursor, or more than one of cursor, before and after.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn history(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiQuery(params): ApiQuery<HistoryParams>,
) -> Result<ApiJson<Page<Message>>, Problem> {
    let query = HistoryQuery::parse(
        params.limit,
        params.cursor.as_deref(),
        params.before,
        params.after,
    )?;
    Ok(ApiJson(service.history(caller.user_id, id, query).await?))
}

/// Sends a message: stored, then pushed as `chat.message` on `chat:{id}`.
#[utoipa::path(
    post, path = "/v1/social/channels/{id}/messages", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel.")),
    request_body = SendRequest,
    responses(
        (status = 201, description = "The stored message.", body = Message),
        (status = 200, description = "The message stored before under the same `client_msg_id`.", body = Message),
        (status = 403, description = "Muted, banned or blocked.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such channel of the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad body, client_msg_id or reply_to.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Sending too fast.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<SendRequest>,
) -> Result<Response, Problem> {
    let text = body(request.body)?;
    let client_msg_id = request
        .client_msg_id
        .map(ClientMsgId::parse)
        .transpose()
        .map_err(|e| Problem::invalid_field("client_msg_id", e.to_string()))?;
    let (message, created) = service
        .send(
            caller.user_id,
            id,
            text,
            client_msg_id,
            request.reply_to,
            &request.mentions,
        )
        .await?;
    let location = format!("/v1/social/channels/{id}/messages/{}", message.id);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, [(header::LOCATION, location)], ApiJson(message)).into_response())
}

/// Edits one's own message.
#[utoipa::path(
    patch, path = "/v1/social/channels/{id}/messages/{message_id}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel."), ("message_id" = Id, Path, description = "The message.")),
    request_body = EditRequest,
    responses(
        (status = 200, description = "The edited message.", body = Message),
        (status = 403, description = "Not its author.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad body.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn edit(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, message_id)): Path<(Id, Id)>,
    ApiJson(request): ApiJson<EditRequest>,
) -> Result<ApiJson<Message>, Problem> {
    let text = body(request.body)?;
    Ok(ApiJson(
        service.edit(caller.user_id, id, message_id, text).await?,
    ))
}

/// Deletes a message: its author, or a moderator of its community.
#[utoipa::path(
    delete, path = "/v1/social/channels/{id}/messages/{message_id}", operation_id = "delete_message", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel."), ("message_id" = Id, Path, description = "The message.")),
    responses(
        (status = 204, description = "Deleted; a tombstone keeps its place."),
        (status = 403, description = "Neither its author nor a moderator.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such message.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(service): State<SocialService>,
    caller: Caller,
    Path((id, message_id)): Path<(Id, Id)>,
) -> Result<StatusCode, Problem> {
    service
        .delete_message(caller.user_id, id, message_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds (`true`) or takes back the caller's reaction named in the path.
async fn reaction(
    service: SocialService,
    caller: Caller,
    (id, message_id, raw): (Id, Id, String),
    add: bool,
) -> Result<ApiJson<Message>, Problem> {
    let emoji = Emoji::parse(raw).map_err(|e| Problem::invalid_field("emoji", e.to_string()))?;
    Ok(ApiJson(
        service
            .react(caller.user_id, id, message_id, emoji, add)
            .await?,
    ))
}

/// Reacts to a message (once per emoji).
#[utoipa::path(
    put, path = "/v1/social/channels/{id}/messages/{message_id}/reactions/{emoji}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel."), ("message_id" = Id, Path, description = "The message."), ("emoji" = String, Path, description = "The reaction.")),
    responses(
        (status = 200, description = "The message with its counts.", body = Message),
        (status = 404, description = "No such message.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad emoji.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn react(
    State(service): State<SocialService>,
    caller: Caller,
    Path(path): Path<(Id, Id, String)>,
) -> Result<ApiJson<Message>, Problem> {
    reaction(service, caller, path, true).await
}

/// Takes back a reaction.
#[utoipa::path(
    delete, path = "/v1/social/channels/{id}/messages/{message_id}/reactions/{emoji}", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel."), ("message_id" = Id, Path, description = "The message."), ("emoji" = String, Path, description = "The reaction.")),
    responses(
        (status = 200, description = "The message with its counts.", body = Message),
        (status = 404, description = "No such message.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unreact(
    State(service): State<SocialService>,
    caller: Caller,
    Path(path): Path<(Id, Id, String)>,
) -> Result<ApiJson<Message>, Problem> {
    reaction(service, caller, path, false).await
}

/// Records how far the caller has read; their other sessions hear `chat.read`
/// on `user:{id}`.
#[utoipa::path(
    post, path = "/v1/social/channels/{id}/read", tag = "social",
    security(("bearer" = ["social:write"])),
    params(("id" = Id, Path, description = "The channel.")),
    request_body = ReadRequest,
    responses(
        (status = 200, description = "The read state.", body = ReadState),
        (status = 404, description = "No such channel of the caller's.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn read(
    State(service): State<SocialService>,
    caller: Caller,
    Path(id): Path<Id>,
    ApiJson(request): ApiJson<ReadRequest>,
) -> Result<ApiJson<ReadState>, Problem> {
    Ok(ApiJson(
        service
            .mark_read(caller.user_id, id, request.message_id)
            .await?,
    ))
}
