//! The hub's side of chat: membership and sends answered by the social service.
//!
//! Chats and communities belong to the social service, which may run in another
//! process (ARCHITECTURE.md: authorization is checked where the data lives). The
//! hub asks it through its REST contract with the session's own token:
//!
//! - [`SocialRule`] decides `chat:{id}` and `community:{id}` with
//!   `GET /v1/social/channels/{id}/access` and `GET /v1/social/communities/{id}/access`
//!   (`{"subscribe":bool,"typing":bool}`; a 404 is a channel that does not exist,
//!   denied). The hub's [`crate::CachedAuthorizer`] keeps its grants briefly.
//! - [`send`] executes a `chat.send` frame as `POST /v1/social/channels/{id}/messages`;
//!   social stores the message, publishes it on `chat:{id}` itself, and answers
//!   the stored message, which the hub acknowledges. Social's problem statuses
//!   become the frame's error codes ([`send_error`]).
//!
//! Removal takes effect at once: social announces an
//! [`vigor_common::access::AccessRevoked`] notice, and every hub forgets the grants
//! and drops the subscriptions it names ([`crate::Hub::revoke_access`]).

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use vigor_common::Id;

use crate::auth::Principal;
use crate::authz::{Access, AuthzError, ChannelRule, RuleKind, Rules};
use crate::channel::{Channel, ChannelKind};
use crate::protocol::ErrorCode;
use crate::services::{ServiceClient, ServiceReply};

/// What social's access endpoints answer.
#[derive(Debug, Deserialize)]
struct AccessAnswer {
    subscribe: bool,
    typing: bool,
}

/// The rule for `chat:` and `community:` channels: asks the social service.
#[derive(Debug, Clone)]
pub struct SocialRule {
    client: ServiceClient,
}

impl SocialRule {
    /// A rule asking social through `client`.
    pub fn new(client: ServiceClient) -> SocialRule {
        SocialRule { client }
    }

    /// Registers a rule asking social through `client` for chats and communities.
    pub fn register(rules: &Rules, client: ServiceClient) {
        let rule = Arc::new(SocialRule::new(client));
        rules.register(RuleKind::Chat, rule.clone());
        rules.register(RuleKind::Community, rule);
    }
}

#[async_trait]
impl ChannelRule for SocialRule {
    async fn access(&self, principal: &Principal, channel: &Channel) -> Result<Access, AuthzError> {
        let path = match channel.kind() {
            ChannelKind::Chat(id) => format!("/v1/social/channels/{id}/access"),
            ChannelKind::Community(id) => format!("/v1/social/communities/{id}/access"),
            _ => return Ok(Access::DENY),
        };
        let reply = self
            .client
            .get(&path, &principal.bearer)
            .await
            .map_err(|e| AuthzError(e.to_string()))?;
        match reply.status {
            StatusCode::OK => {
                let answer: AccessAnswer = serde_json::from_slice(&reply.body)
                    .map_err(|e| AuthzError(format!("the social service's access answer: {e}")))?;
                Ok(Access {
                    subscribe: answer.subscribe,
                    publish: false,
                    typing: answer.typing,
                })
            }
            // No such channel, or the service refused the user outright.
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                Ok(Access::DENY)
            }
            status => Err(AuthzError(format!(
                "the social service answered {status} to an access check"
            ))),
        }
    }
}

/// A `chat.send` frame's message, as social's send endpoint takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// The chat channel.
    pub channel_id: Id,
    /// The text.
    pub body: String,
    /// The client's id of this send: a retry with the same one stores nothing new.
    pub client_msg_id: Option<String>,
    /// The message this one answers.
    pub reply_to: Option<Id>,
    /// Members to notify (`chat.mention`), at most 20.
    pub mentions: Vec<Id>,
}

impl ChatMessage {
    /// The request body of `POST /v1/social/channels/{id}/messages`.
    pub fn request_body(&self) -> Value {
        let mut body = Map::new();
        body.insert("body".into(), self.body.as_str().into());
        if let Some(client_msg_id) = &self.client_msg_id {
            body.insert("client_msg_id".into(), client_msg_id.as_str().into());
        }
        if let Some(reply_to) = self.reply_to {
            body.insert("reply_to".into(), reply_to.to_string().into());
        }
        if !self.mentions.is_empty() {
            let ids = self.mentions.iter().map(|id| Value::from(id.to_string()));
            body.insert("mentions".into(), Value::Array(ids.collect()));
        }
        Value::Object(body)
    }
}

/// Why a send was refused: the `error` frame's code and message.
pub type SendError = (ErrorCode, String);

/// Sends `message` as `principal` through social; the stored message on success.
pub async fn send(
    client: &ServiceClient,
    principal: &Principal,
    message: &ChatMessage,
) -> Result<Value, SendError> {
    let path = format!("/v1/social/channels/{}/messages", message.channel_id);
    let reply = client
        .post_json(&path, &principal.bearer, &message.request_body())
        .await
        .map_err(|error| {
            tracing::warn!(%error, channel_id = %message.channel_id, "chat.send: social unreachable");
            (
                ErrorCode::Unavailable,
                "the chat service is unavailable: try again".to_owned(),
            )
        })?;
    if reply.status == StatusCode::OK || reply.status == StatusCode::CREATED {
        return reply.json().ok_or_else(|| {
            tracing::warn!(status = %reply.status, "chat.send: social answered no JSON");
            (
                ErrorCode::Unavailable,
                "the chat service gave no readable answer: try again".to_owned(),
            )
        });
    }
    Err(send_error(&reply))
}

/// The error frame for one of social's problem answers to a send.
pub fn send_error(reply: &ServiceReply) -> SendError {
    let said = reply.problem_message();
    let client_error = |fallback: &str| said.clone().unwrap_or_else(|| fallback.to_owned());
    match reply.status {
        StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::CONFLICT
        | StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::InvalidField,
            client_error("the message is not valid"),
        ),
        StatusCode::UNAUTHORIZED => (
            ErrorCode::InvalidToken,
            client_error("the chat service refused the session's token"),
        ),
        StatusCode::FORBIDDEN => (
            ErrorCode::Forbidden,
            client_error("you may not send to this chat"),
        ),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, client_error("no such chat")),
        StatusCode::TOO_MANY_REQUESTS => {
            let wait = reply
                .retry_after
                .map(|secs| format!(": retry after {secs} s"))
                .unwrap_or_default();
            (ErrorCode::RateLimited, format!("too many messages{wait}"))
        }
        status => {
            // A server error's words are the service's business, not the client's.
            tracing::warn!(%status, "chat.send: social failed");
            (
                ErrorCode::Unavailable,
                "the chat service is unavailable: try again".to_owned(),
            )
        }
    }
}
