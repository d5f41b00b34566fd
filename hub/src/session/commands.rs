//! Executing client frames: the "apply" half of parse-then-apply.
//!
//! Each frame gets exactly one answer: an `ack` (sent here, or — for subscribe
//! and unsubscribe — by the channel task, so that it is ordered with the channel's
//! events), a `pong`, or an `error`.
//!
//! Execution can be cut short by shutdown or a close request at any `.await`, so
//! every step leaves state that [`Session::cleanup`] can undo: a subscription is
//! recorded *before* the channel task is asked to add the session, hence cleanup
//! always detaches it, and a channel task ignores a leave for a session it does
//! not know.

use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Session, Subscription, TOO_MANY_SESSIONS};
use crate::authz::{Access, ChannelAuthorizer};
use crate::channel::{Channel, ChannelKind};
use crate::hub::PublishError;
use crate::protocol::{
    self, close, events, ClientFrame, ErrorCode, EventName, FrameError, RequestId,
};
use crate::registry::{Command, JoinError};
use crate::social::{self, ChatMessage};

/// The answer to a frame: an ack with this result, or one already queued.
enum Answer {
    Ack(Value),
    Pong,
    Queued,
}

impl Session {
    /// Executes one parsed frame and answers it.
    pub(super) async fn execute(&mut self, frame: Result<ClientFrame, FrameError>) {
        let frame = match frame {
            Ok(frame) => frame,
            Err(error) => return self.send_error(&error),
        };
        let id = frame.id();
        let answer = match frame {
            ClientFrame::Ping { .. } => Ok(Answer::Pong),
            ClientFrame::Auth { token, .. } => self.auth(id, &token).await,
            _ if self.principal.is_none() => Err(FrameError::new(
                Some(id),
                ErrorCode::Unauthenticated,
                "authenticate first: send an `auth` frame",
            )),
            ClientFrame::Subscribe { channel, since, .. } => {
                self.subscribe(id, channel, since).await
            }
            ClientFrame::Unsubscribe { channel, .. } => self.unsubscribe(id, &channel).await,
            ClientFrame::Publish {
                channel,
                event,
                data,
                ..
            } => {
                self.publish(id, &channel, &event, &Value::Object(data))
                    .await
            }
            ClientFrame::Typing { channel, .. } => self.typing(id, &channel).await,
            ClientFrame::Presence { channel, .. } => self.presence(id, &channel).await,
            ClientFrame::ChatSend { message, .. } => self.chat_send(id, &message).await,
        };
        match answer {
            Ok(Answer::Ack(result)) => self.send(protocol::ack_frame(id, result)),
            Ok(Answer::Pong) => self.send(protocol::ServerFrame::Pong { id }.to_text()),
            Ok(Answer::Queued) => {}
            Err(error) => self.send_error(&error),
        }
    }

    /// `auth`: authenticates, or renews the token of an authenticated session.
    async fn auth(&mut self, id: RequestId, token: &str) -> Result<Answer, FrameError> {
        let principal = self
            .hub
            .authenticator
            .authenticate(token)
            .await
            .map_err(|e| FrameError::new(Some(id), e.code(), e.to_string()))?;
        if principal.expires_at <= SystemTime::now() {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::TokenExpired,
                "the token has expired",
            ));
        }
        if let Some(current) = &self.principal {
            if current.user_id != principal.user_id {
                self.control()
                    .close(close::FORBIDDEN, "a session belongs to one user");
                return Err(FrameError::new(
                    Some(id),
                    ErrorCode::Forbidden,
                    "the token belongs to another user",
                ));
            }
        }
        let result = json!({
            "user_id": principal.user_id,
            "session_id": self.link.id,
            "expires_at": principal.expires_at_unix(),
        });
        // The session stays unauthenticated (its auth deadline still runs): the
        // client may close another session and try again.
        if !self
            .hub
            .registry
            .set_user(self.link.id, principal.user_id, principal.token)
        {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::TooManySessions,
                TOO_MANY_SESSIONS,
            ));
        }
        self.principal = Some(principal);
        Ok(Answer::Ack(result))
    }

    /// What the session's user may do on `channel`.
    async fn access(&self, id: RequestId, channel: &Channel) -> Result<Access, FrameError> {
        let Some(principal) = &self.principal else {
            return Ok(Access::DENY);
        };
        self.hub
            .authorizer
            .access(principal, channel)
            .await
            .map_err(|e| FrameError::new(Some(id), ErrorCode::Unavailable, e.to_string()))
    }

    fn forbidden(id: RequestId, what: &str, channel: &Channel) -> FrameError {
        FrameError::new(
            Some(id),
            ErrorCode::Forbidden,
            format!("you may not {what} `{channel}`"),
        )
    }

    /// `subscribe`: the channel task acks, replays and then delivers live events.
    async fn subscribe(
        &mut self,
        id: RequestId,
        channel: Channel,
        since: Option<u64>,
    ) -> Result<Answer, FrameError> {
        let name = channel.shared_name();
        if self.subscriptions.contains_key(&name) {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::AlreadySubscribed,
                format!("already subscribed to `{channel}`"),
            ));
        }
        if self.subscriptions.len() >= self.hub.config.max_subscriptions {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::TooManySubscriptions,
                format!(
                    "a session may hold {} subscriptions",
                    self.hub.config.max_subscriptions
                ),
            ));
        }
        if !self.access(id, &channel).await?.subscribe {
            return Err(Self::forbidden(id, "subscribe to", &channel));
        }
        let membership = self.hub.registry.attach(&channel);
        self.subscriptions.insert(
            name.clone(),
            Subscription {
                channel: channel.clone(),
                membership: membership.clone(),
            },
        );
        let (reply, outcome) = oneshot::channel();
        let join = Command::Join {
            link: self.link.clone(),
            since,
            request: id,
            reply,
        };
        let outcome = match membership.commands.send(join).await {
            Ok(()) => outcome
                .await
                .unwrap_or_else(|_| Err(JoinError::Unavailable("the channel task stopped".into()))),
            Err(_) => Err(JoinError::Unavailable("the channel task stopped".into())),
        };
        if let Err(error) = outcome {
            self.subscriptions.remove(&name);
            self.hub.registry.detach(&name, membership.task);
            let code = match error {
                JoinError::AlreadySubscribed => ErrorCode::AlreadySubscribed,
                JoinError::Unavailable(_) => ErrorCode::Unavailable,
            };
            return Err(FrameError::new(Some(id), code, error.to_string()));
        }
        if let (ChannelKind::Presence(_), Some(principal)) = (channel.kind(), &self.principal) {
            let user = principal.user_id;
            self.hub.join_presence(&channel, user, self.link.id).await;
        }
        Ok(Answer::Queued)
    }

    /// `unsubscribe`: the channel task acks after the session's last event.
    async fn unsubscribe(
        &mut self,
        id: RequestId,
        channel: &Channel,
    ) -> Result<Answer, FrameError> {
        let Some(subscription) = self.subscriptions.remove(&channel.shared_name()) else {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::NotSubscribed,
                format!("not subscribed to `{channel}`"),
            ));
        };
        let result = json!({ "channel": channel.name() });
        let ack = protocol::ack_frame(id, result.clone()).into();
        if self.leave(subscription, Some(ack)).await {
            Ok(Answer::Queued)
        } else {
            Ok(Answer::Ack(result))
        }
    }

    /// `publish`: only where the channel's owner allows clients to publish.
    async fn publish(
        &mut self,
        id: RequestId,
        channel: &Channel,
        event: &EventName,
        data: &Value,
    ) -> Result<Answer, FrameError> {
        if event.is_reserved() || !channel.has_history() || !self.access(id, channel).await?.publish
        {
            return Err(Self::forbidden(
                id,
                &format!("publish `{}` on", event.as_str()),
                channel,
            ));
        }
        let seq = self
            .hub
            .publisher
            .publish_json(channel, event, &data.to_string(), None)
            .await
            .map_err(|error| match error {
                // The backend's words stay in the log: they are not the client's business.
                PublishError::Broker { .. } | PublishError::History(_) => {
                    tracing::warn!(%error, channel = channel.name(), "a client publish failed");
                    FrameError::new(
                        Some(id),
                        ErrorCode::Unavailable,
                        "the event could not be published: try again",
                    )
                }
                other => FrameError::new(Some(id), ErrorCode::InvalidField, other.to_string()),
            })?
            .seq;
        Ok(Answer::Ack(
            json!({ "channel": channel.name(), "seq": seq }),
        ))
    }

    /// `chat.send`: stored by the social service, which also publishes it on the
    /// chat's channel; the ack carries the stored message.
    async fn chat_send(
        &mut self,
        id: RequestId,
        message: &ChatMessage,
    ) -> Result<Answer, FrameError> {
        let (Some(client), Some(principal)) = (&self.hub.social, &self.principal) else {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::Forbidden,
                "chat is not served here",
            ));
        };
        social::send(client, principal, message)
            .await
            .map(Answer::Ack)
            .map_err(|(code, text)| FrameError::new(Some(id), code, text))
    }

    /// `typing`: an ephemeral event to the channel's other subscribers, at most one
    /// per channel and typing interval.
    async fn typing(&mut self, id: RequestId, channel: &Channel) -> Result<Answer, FrameError> {
        let name = channel.shared_name();
        if !self.subscriptions.contains_key(&name) {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::NotSubscribed,
                format!("subscribe to `{channel}` before typing in it"),
            ));
        }
        if !self.access(id, channel).await?.typing {
            return Err(Self::forbidden(id, "type in", channel));
        }
        let now = Instant::now();
        let interval = self.hub.config.typing_interval();
        if self
            .typing
            .get(&name)
            .is_some_and(|last| now.duration_since(*last) < interval)
        {
            return Ok(Answer::Ack(json!({ "throttled": true })));
        }
        self.typing.insert(name, now);
        let user = self.principal.as_ref().map(|p| p.user_id);
        let data = json!({ "user_id": user }).to_string();
        self.hub
            .publisher
            .ephemeral(channel, events::TYPING, &data, Some(self.link.id))
            .await
            .map_err(|e| FrameError::new(Some(id), ErrorCode::Unavailable, e.to_string()))?;
        Ok(Answer::Ack(json!({ "throttled": false })))
    }

    /// `presence`: the users online in a chat or community.
    async fn presence(&mut self, id: RequestId, channel: &Channel) -> Result<Answer, FrameError> {
        let Some(scope) = channel.presence_channel() else {
            return Err(FrameError::new(
                Some(id),
                ErrorCode::InvalidChannel,
                "presence is tracked for `chat:` and `community:` channels",
            ));
        };
        if !self.access(id, &scope).await?.subscribe {
            return Err(Self::forbidden(id, "see who is in", channel));
        }
        let members = self
            .hub
            .presence
            .members(scope.name(), self.hub.config.presence_members_limit)
            .await
            .map_err(|e| FrameError::new(Some(id), ErrorCode::Unavailable, e.to_string()))?;
        Ok(Answer::Ack(json!({
            "channel": scope.name(),
            "members": members.users,
            "total": members.total,
        })))
    }
}
