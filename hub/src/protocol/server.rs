//! Frames the server sends: answers (`ack`, `error`, `pong`, `welcome`) through
//! serde, and event frames built as bytes.
//!
//! Event frames are the hot path — one frame goes to thousands of sessions — so
//! they are not built through serde values: [`event_prefix`] (which depends only on
//! the channel) and [`event_suffix`] (the event and its data, which is also what
//! the history keeps) are concatenated around the `seq` once per event and node,
//! and every session's queue shares the resulting bytes.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use super::{ErrorCode, RequestId};
use crate::channel::Channel;

/// Frames the server sends, other than events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// `{"type":"ack","id":N,"result":{…}}`: request `id` succeeded.
    Ack {
        /// The request answered.
        id: RequestId,
        /// What it produced.
        result: Value,
    },
    /// `{"type":"error","id":N|null,"code":C,"message":M}`: request `id` failed.
    Error {
        /// The request answered; `null` when the frame had no readable id.
        id: Option<RequestId>,
        /// The error code.
        code: ErrorCode,
        /// What went wrong, for people.
        message: String,
    },
    /// `{"type":"pong","id":N}`: the answer to `ping`.
    Pong {
        /// The request answered.
        id: RequestId,
    },
    /// `{"type":"welcome",…}`: the session authenticated through the subprotocol.
    Welcome {
        /// The protocol version, `vigor.v1`.
        protocol: &'static str,
        /// The user.
        user_id: String,
        /// The session.
        session_id: String,
        /// When the token expires, unix seconds.
        expires_at: u64,
    },
    /// `{"type":"unsubscribed","channel":C,"reason":R}`: the server ended the
    /// session's subscription (the user lost access); no event of it follows.
    Unsubscribed {
        /// The channel.
        channel: String,
        /// Why, e.g. `access_revoked`.
        reason: &'static str,
    },
}

impl ServerFrame {
    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("server frames serialize: plain maps with string keys")
    }
}

/// An `ack` frame.
pub fn ack_frame(id: RequestId, result: Value) -> String {
    ServerFrame::Ack { id, result }.to_text()
}

/// An `error` frame.
pub fn error_frame(id: Option<RequestId>, code: ErrorCode, message: &str) -> String {
    ServerFrame::Error {
        id,
        code,
        message: message.to_owned(),
    }
    .to_text()
}

/// `{"type":"event","channel":"<C>","seq":` — the part of an event frame before its seq.
///
/// Channel names are restricted to characters that need no JSON escaping.
pub fn event_prefix(channel: &Channel) -> String {
    format!(
        "{{\"type\":\"event\",\"channel\":\"{}\",\"seq\":",
        channel.name()
    )
}

/// `,"event":"<E>","data":<D>}` — the part of an event frame after its seq.
///
/// `data_json` must be serialized JSON; event names need no escaping.
pub fn event_suffix(event: &str, data_json: &str) -> String {
    format!(",\"event\":\"{event}\",\"data\":{data_json}}}")
}

/// A complete event frame with a seq.
pub fn event_frame(prefix: &str, seq: u64, suffix: &str) -> String {
    let mut frame = String::with_capacity(prefix.len() + 20 + suffix.len());
    frame.push_str(prefix);
    // Writing to a String cannot fail.
    let _ = write!(frame, "{seq}");
    frame.push_str(suffix);
    frame
}

/// An ephemeral event frame (typing, presence): no seq, never replayed.
pub fn ephemeral_frame(channel: &Channel, event: &str, data_json: &str) -> String {
    format!(
        "{{\"type\":\"event\",\"channel\":\"{}\",\"event\":\"{event}\",\"data\":{data_json}}}",
        channel.name()
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::events;

    #[test]
    fn server_frames_have_the_documented_shape() {
        assert_eq!(
            serde_json::from_str::<Value>(&ack_frame(1, json!({"user_id":"5"}))).unwrap(),
            json!({"type":"ack","id":1,"result":{"user_id":"5"}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&error_frame(
                None,
                ErrorCode::TooManySubscriptions,
                "no"
            ))
            .unwrap(),
            json!({"type":"error","id":null,"code":"too_many_subscriptions","message":"no"})
        );
        assert_eq!(
            ServerFrame::Pong { id: 9 }.to_text(),
            r#"{"type":"pong","id":9}"#
        );
        let channel: Channel = "chat:5".parse().unwrap();
        let frame = event_frame(
            &event_prefix(&channel),
            42,
            &event_suffix("chat.message", r#"{"text":"hi"}"#),
        );
        assert_eq!(
            serde_json::from_str::<Value>(&frame).unwrap(),
            json!({"type":"event","channel":"chat:5","seq":42,"event":"chat.message","data":{"text":"hi"}})
        );
        assert_eq!(
            serde_json::from_str::<Value>(
                &ServerFrame::Unsubscribed {
                    channel: "chat:5".into(),
                    reason: "access_revoked"
                }
                .to_text()
            )
            .unwrap(),
            json!({"type":"unsubscribed","channel":"chat:5","reason":"access_revoked"})
        );
        let typing = ephemeral_frame(&channel, events::TYPING, r#"{"user_id":"3"}"#);
        assert_eq!(
            serde_json::from_str::<Value>(&typing).unwrap(),
            json!({"type":"event","channel":"chat:5","event":"typing","data":{"user_id":"3"}})
        );
    }

    #[test]
    fn error_codes_serialize_as_their_wire_names() {
        for code in [
            ErrorCode::Malformed,
            ErrorCode::UnknownType,
            ErrorCode::InvalidField,
            ErrorCode::InvalidChannel,
            ErrorCode::Unauthenticated,
            ErrorCode::InvalidToken,
            ErrorCode::TokenExpired,
            ErrorCode::Forbidden,
            ErrorCode::NotSubscribed,
            ErrorCode::AlreadySubscribed,
            ErrorCode::TooManySubscriptions,
            ErrorCode::RateLimited,
            ErrorCode::Unavailable,
            ErrorCode::NotFound,
        ] {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
    }
}
