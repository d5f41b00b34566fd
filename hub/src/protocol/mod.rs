//! The wire protocol `vigor.v1`: client frames parsed into types, server frames
//! serialized, and the error and close codes. `hub/PROTOCOL.md` is its reference.
//!
//! Like mini-redis's `cmd` module, parsing is separate from doing: [`parse`] turns a
//! text frame into a [`ClientFrame`] — every check of shape, field and channel name
//! happens here — and the session only executes typed frames. A frame that does
//! not parse yields a [`FrameError`] carrying the request `id` when one could be
//! read, so the client gets an `error` frame for it; nothing a client sends can
//! panic the parser (a property test and a cargo-fuzz target hold it to that).
//! What the server sends is built in `server.rs`.

mod server;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::channel::Channel;
use crate::social::ChatMessage;
use vigor_common::Id;

pub use server::{
    ack_frame, ephemeral_frame, error_frame, event_frame, event_prefix, event_suffix, ServerFrame,
};

/// The subprotocol name clients offer in `Sec-WebSocket-Protocol`.
pub const SUBPROTOCOL: &str = "vigor.v1";
/// The prefix of the subprotocol that carries an access token: `bearer.<JWT>`.
pub const BEARER_PREFIX: &str = "bearer.";
/// Longest accepted event name.
pub const MAX_EVENT_LEN: usize = 64;
/// Longest accepted token in an `auth` frame.
pub const MAX_TOKEN_LEN: usize = 8192;
/// Longest accepted `client_msg_id` in a `chat.send` frame, in bytes.
pub const MAX_CLIENT_MSG_ID_LEN: usize = 255;
/// Most members one `chat.send` may mention.
pub const MAX_MENTIONS: usize = 20;

/// A client's request id, echoed in the answer.
pub type RequestId = u64;

/// WebSocket close codes the hub uses.
pub mod close {
    /// Normal closure (the client said goodbye).
    pub const NORMAL: u16 = 1000;
    /// No frame or pong from the client within the idle timeout.
    pub const IDLE: u16 = 1001;
    /// A frame larger than the frame-size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server is restarting: reconnect (elsewhere) and resume.
    pub const SERVER_RESTART: u16 = 1012;
    /// No valid authentication in time, or an invalid `bearer.` subprotocol.
    pub const UNAUTHENTICATED: u16 = 4001;
    /// The session may not continue (a token of another user, or disconnected by the server).
    pub const FORBIDDEN: u16 = 4003;
    /// Rate-limited, or too slow to read what it is sent.
    pub const POLICY: u16 = 4008;
    /// The access token expired and no fresh one was sent.
    pub const TOKEN_EXPIRED: u16 = 4009;
}

/// The `reason` of an `unsubscribed` frame sent because the user lost access.
pub const ACCESS_REVOKED: &str = "access_revoked";

/// Event names the hub itself emits.
pub mod events {
    /// A user came online in a presence channel (first session).
    pub const PRESENCE_JOIN: &str = "presence.join";
    /// A user went offline in a presence channel (last session).
    pub const PRESENCE_LEAVE: &str = "presence.leave";
    /// Someone is typing in a channel.
    pub const TYPING: &str = "typing";
}

/// The `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a JSON object, or a binary frame.
    Malformed,
    /// `type` names no known frame.
    UnknownType,
    /// A field is missing or has the wrong type or value.
    InvalidField,
    /// `channel` is not a valid channel name.
    InvalidChannel,
    /// The frame needs an authenticated session.
    Unauthenticated,
    /// The token does not verify.
    InvalidToken,
    /// The token has expired.
    TokenExpired,
    /// The user may not do this on this channel.
    Forbidden,
    /// The session is not subscribed to the channel.
    NotSubscribed,
    /// The session is already subscribed to the channel.
    AlreadySubscribed,
    /// The session holds the most subscriptions it may.
    TooManySubscriptions,
    /// The user holds the most sessions allowed on the node.
    TooManySessions,
    /// The session sends frames faster than its rate limit.
    RateLimited,
    /// A backend (broker, history, presence, an owning service) is unavailable.
    Unavailable,
    /// What the frame names does not exist (`chat.send` to no chat).
    NotFound,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidChannel => "invalid_channel",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotSubscribed => "not_subscribed",
            ErrorCode::AlreadySubscribed => "already_subscribed",
            ErrorCode::TooManySubscriptions => "too_many_subscriptions",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotFound => "not_found",
        }
    }
}

/// A valid event name: 1–64 characters, dot-separated segments of `a-z 0-9 _`,
/// starting with a letter (`chat.message`, `leaderboard.update`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventName(String);

impl EventName {
    /// Checks `name` against the grammar.
    pub fn parse(name: &str) -> Result<EventName, &'static str> {
        if name.is_empty() || name.len() > MAX_EVENT_LEN {
            return Err("an event name is 1 to 64 characters");
        }
        let valid_segments = name.split('.').all(|segment| {
            segment.starts_with(|c: char| c.is_ascii_lowercase())
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
        if !valid_segments {
            return Err("an event name is dot-separated segments of `a-z 0-9 _`, each starting with a letter");
        }
        Ok(EventName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether only the hub may emit it (`typing`, `presence.*`).
    pub fn is_reserved(&self) -> bool {
        self.0 == events::TYPING || self.0.starts_with("presence.")
    }
}

/// A frame from the client, parsed and validated.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    /// `{"type":"auth","id":N,"token":T}`: authenticate, or refresh the token.
    Auth {
        /// Request id.
        id: RequestId,
        /// The access token (JWT).
        token: String,
    },
    /// `{"type":"subscribe","id":N,"channel":C,"since":S?}`.
    Subscribe {
        /// Request id.
        id: RequestId,
        /// The channel.
        channel: Channel,
        /// The last `seq` the client saw, to replay what it missed.
        since: Option<u64>,
    },
    /// `{"type":"unsubscribe","id":N,"channel":C}`.
    Unsubscribe {
        /// Request id.
        id: RequestId,
        /// The channel.
        channel: Channel,
    },
    /// `{"type":"publish","id":N,"channel":C,"event":E,"data":{…}}`.
    Publish {
        /// Request id.
        id: RequestId,
        /// The channel.
        channel: Channel,
        /// The event name.
        event: EventName,
        /// The payload, a JSON object.
        data: Map<String, Value>,
    },
    /// `{"type":"typing","id":N,"channel":C}`.
    Typing {
        /// Request id.
        id: RequestId,
        /// The channel.
        channel: Channel,
    },
    /// `{"type":"presence","id":N,"channel":C}`: who is online.
    Presence {
        /// Request id.
        id: RequestId,
        /// The channel (`chat:…`, `community:…` or their `presence:` channel).
        channel: Channel,
    },
    /// `{"type":"chat.send","id":N,"channel_id":C,"body":B,"client_msg_id":K?,"reply_to":R?,"mentions":[U]?}`:
    /// a chat message, stored by the social service before anyone receives it.
    ChatSend {
        /// Request id.
        id: RequestId,
        /// The message.
        message: ChatMessage,
    },
    /// `{"type":"ping","id":N}`.
    Ping {
        /// Request id.
        id: RequestId,
    },
}

impl ClientFrame {
    /// The request id.
    pub fn id(&self) -> RequestId {
        match self {
            ClientFrame::Auth { id, .. }
            | ClientFrame::Subscribe { id, .. }
            | ClientFrame::Unsubscribe { id, .. }
            | ClientFrame::Publish { id, .. }
            | ClientFrame::Typing { id, .. }
            | ClientFrame::Presence { id, .. }
            | ClientFrame::ChatSend { id, .. }
            | ClientFrame::Ping { id } => *id,
        }
    }

    /// The frame's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Auth { .. } => "auth",
            ClientFrame::Subscribe { .. } => "subscribe",
            ClientFrame::Unsubscribe { .. } => "unsubscribe",
            ClientFrame::Publish { .. } => "publish",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::Presence { .. } => "presence",
            ClientFrame::ChatSend { .. } => "chat.send",
            ClientFrame::Ping { .. } => "ping",
        }
    }

    /// The frame as JSON, as a client sends it (clients and tests build frames with it).
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), self.kind().into());
        object.insert("id".into(), self.id().into());
        match self {
            ClientFrame::Auth { token, .. } => {
                object.insert("token".into(), token.as_str().into());
            }
            ClientFrame::Subscribe { channel, since, .. } => {
                object.insert("channel".into(), channel.name().into());
                if let Some(since) = since {
                    object.insert("since".into(), (*since).into());
                }
            }
            ClientFrame::Publish {
                channel,
                event,
                data,
                ..
            } => {
                object.insert("channel".into(), channel.name().into());
                object.insert("event".into(), event.as_str().into());
                object.insert("data".into(), Value::Object(data.clone()));
            }
            ClientFrame::Unsubscribe { channel, .. }
            | ClientFrame::Typing { channel, .. }
            | ClientFrame::Presence { channel, .. } => {
                object.insert("channel".into(), channel.name().into());
            }
            ClientFrame::ChatSend { message, .. } => {
                object.insert("channel_id".into(), message.channel_id.to_string().into());
                if let Value::Object(body) = message.request_body() {
                    object.extend(body);
                }
            }
            ClientFrame::Ping { .. } => {}
        }
        Value::Object(object)
    }
}

/// Why a client frame was refused: the content of the `error` frame answering it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The request id, when the frame had a readable one.
    pub id: Option<RequestId>,
    /// The error code.
    pub code: ErrorCode,
    /// What is wrong, for people.
    pub message: String,
}

impl FrameError {
    /// An error answering request `id`.
    pub fn new(id: Option<RequestId>, code: ErrorCode, message: impl Into<String>) -> FrameError {
        FrameError {
            id,
            code,
            message: message.into(),
        }
    }

    /// The `error` frame.
    pub fn to_frame(&self) -> String {
        error_frame(self.id, self.code, &self.message)
    }
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text) else {
        return Err(FrameError::new(
            None,
            ErrorCode::Malformed,
            "a frame is a JSON object",
        ));
    };
    let id = match object.get("id") {
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    let invalid = |message: &str| FrameError::new(id, ErrorCode::InvalidField, message);
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        _ => return Err(invalid("`type` must be a string")),
    };
    let known = matches!(
        kind.as_str(),
        "auth"
            | "subscribe"
            | "unsubscribe"
            | "publish"
            | "typing"
            | "presence"
            | "chat.send"
            | "ping"
    );
    if !known {
        let shown: String = kind.chars().take(40).collect();
        return Err(FrameError::new(
            id,
            ErrorCode::UnknownType,
            format!("unknown frame type `{shown}`"),
        ));
    }
    let Some(id) = id else {
        return Err(invalid("`id` must be a non-negative integer"));
    };
    let frame = match kind.as_str() {
        "auth" => {
            let token = match object.remove("token") {
                Some(Value::String(token)) if !token.is_empty() && token.len() <= MAX_TOKEN_LEN => {
                    token
                }
                _ => return Err(invalid("`token` must be a non-empty string")),
            };
            ClientFrame::Auth { id, token }
        }
        "subscribe" => {
            let since = match object.get("since") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(since) => Some(since),
                    None => return Err(invalid("`since` must be a non-negative integer")),
                },
                Some(_) => return Err(invalid("`since` must be a non-negative integer")),
            };
            ClientFrame::Subscribe {
                id,
                channel: channel(&object, id)?,
                since,
            }
        }
        "unsubscribe" => ClientFrame::Unsubscribe {
            id,
            channel: channel(&object, id)?,
        },
        "publish" => {
            let channel = channel(&object, id)?;
            let event = match object.get("event") {
                Some(Value::String(event)) => EventName::parse(event).map_err(&invalid)?,
                _ => return Err(invalid("`event` must be a string")),
            };
            let data = match object.remove("data") {
                Some(Value::Object(data)) => data,
                _ => return Err(invalid("`data` must be a JSON object")),
            };
            ClientFrame::Publish {
                id,
                channel,
                event,
                data,
            }
        }
        "typing" => ClientFrame::Typing {
            id,
            channel: channel(&object, id)?,
        },
        "presence" => ClientFrame::Presence {
            id,
            channel: channel(&object, id)?,
        },
        "chat.send" => {
            let channel_id = match object.get("channel_id").map(id_field) {
                Some(Some(channel_id)) => channel_id,
                _ => return Err(invalid("`channel_id` must be a chat id")),
            };
            let body = match object.remove("body") {
                Some(Value::String(body)) => body,
                _ => return Err(invalid("`body` must be a string")),
            };
            let client_msg_id = match object.remove("client_msg_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(key))
                    if !key.is_empty() && key.len() <= MAX_CLIENT_MSG_ID_LEN =>
                {
                    Some(key)
                }
                Some(_) => {
                    return Err(invalid(
                        "`client_msg_id` must be a string of 1 to 255 bytes",
                    ))
                }
            };
            let reply_to = match object.get("reply_to") {
                None | Some(Value::Null) => None,
                Some(value) => match id_field(value) {
                    Some(reply_to) => Some(reply_to),
                    None => return Err(invalid("`reply_to` must be a message id")),
                },
            };
            let mentions = match object.get("mentions") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) if items.len() <= MAX_MENTIONS => {
                    match items.iter().map(id_field).collect::<Option<Vec<Id>>>() {
                        Some(ids) => ids,
                        None => return Err(invalid("`mentions` must be user ids")),
                    }
                }
                Some(_) => {
                    return Err(invalid(
                        "`mentions` must be an array of at most 20 user ids",
                    ))
                }
            };
            ClientFrame::ChatSend {
                id,
                message: ChatMessage {
                    channel_id,
                    body,
                    client_msg_id,
                    reply_to,
                    mentions,
                },
            }
        }
        _ => ClientFrame::Ping { id },
    };
    Ok(frame)
}

/// A 64-bit id sent as a decimal string (as the REST API writes them) or a number.
fn id_field(value: &Value) -> Option<Id> {
    match value {
        Value::String(text) => text.parse().ok(),
        Value::Number(n) => n.as_i64().filter(|n| *n > 0).map(Id::from_i64),
        _ => None,
    }
}

fn channel(object: &Map<String, Value>, id: RequestId) -> Result<Channel, FrameError> {
    match object.get("channel") {
        Some(Value::String(name)) => name.parse().map_err(|e: crate::channel::InvalidChannel| {
            FrameError::new(Some(id), ErrorCode::InvalidChannel, e.to_string())
        }),
        _ => Err(FrameError::new(
            Some(id),
            ErrorCode::InvalidField,
            "`channel` must be a string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn code(text: &str) -> (Option<RequestId>, ErrorCode) {
        let error = parse(text).unwrap_err();
        (error.id, error.code)
    }

    #[test]
    fn every_frame_type_parses() {
        let frames = [
            json!({"type":"auth","id":1,"token":"abc.def.ghi"}),
            json!({"type":"subscribe","id":2,"channel":"chat:5","since":17}),
            json!({"type":"subscribe","id":3,"channel":"user:5"}),
            json!({"type":"unsubscribe","id":4,"channel":"chat:5"}),
            json!({"type":"publish","id":5,"channel":"chat:5","event":"chat.message","data":{"text":"hi"}}),
            json!({"type":"typing","id":6,"channel":"chat:5"}),
            json!({"type":"presence","id":7,"channel":"presence:chat:5"}),
            json!({"type":"ping","id":8}),
            json!({"type":"chat.send","id":9,"channel_id":"5","body":"hi","client_msg_id":"c1","reply_to":"77"}),
        ];
        for (i, frame) in frames.iter().enumerate() {
            let parsed = parse(&frame.to_string()).unwrap();
            assert_eq!(parsed.id(), i as u64 + 1);
            assert_eq!(parsed.kind(), frame["type"]);
            assert_eq!(&parsed.to_json(), frame);
        }
        let ClientFrame::Subscribe { since, .. } = parse(&frames[1].to_string()).unwrap() else {
            panic!("a subscribe frame");
        };
        assert_eq!(since, Some(17));
    }

    #[test]
    fn long_decimals_survive_a_parse_and_print() {
        // Found by the fuzzer: without correctly rounded parsing this comes back
        // one ulp off, so subscribers would get another number than was published.
        let text = r#"{"type":"publish","id":5,"channel":"chat:2","event":"x","data":{"n":2.184467440737095516155}}"#;
        let frame = parse(text).unwrap();
        assert_eq!(parse(&frame.to_json().to_string()).unwrap(), frame);
    }

    #[test]
    fn chat_send_takes_ids_as_strings_or_numbers_and_checks_its_fields() {
        let frame = parse(r#"{"type":"chat.send","id":1,"channel_id":42,"body":"yo"}"#).unwrap();
        let ClientFrame::ChatSend { message, .. } = frame else {
            panic!("a chat.send frame");
        };
        assert_eq!(message.channel_id, Id::from_i64(42));
        assert_eq!(message.client_msg_id, None);
        assert_eq!(message.reply_to, None);
        assert_eq!(message.request_body(), json!({"body":"yo"}));
        for bad in [
            r#"{"type":"chat.send","id":2,"body":"yo"}"#,
            r#"{"type":"chat.send","id":2,"channel_id":"007x","body":"yo"}"#,
            r#"{"type":"chat.send","id":2,"channel_id":0,"body":"yo"}"#,
            r#"{"type":"chat.send","id":2,"channel_id":"5"}"#,
            r#"{"type":"chat.send","id":2,"channel_id":"5","body":3}"#,
            r#"{"type":"chat.send","id":2,"channel_id":"5","body":"yo","client_msg_id":""}"#,
            r#"{"type":"chat.send","id":2,"channel_id":"5","body":"yo","client_msg_id":7}"#,
            r#"{"type":"chat.send","id":2,"channel_id":"5","body":"yo","reply_to":"x"}"#,
        ] {
            assert_eq!(code(bad), (Some(2), ErrorCode::InvalidField), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_null_since_is_absent() {
        let frame = parse(r#"{"type":"subscribe","id":1,"channel":"user:1","since":null,"x":[1]}"#)
            .unwrap();
        assert!(matches!(frame, ClientFrame::Subscribe { since: None, .. }));
    }

    #[test]
    fn malformed_frames_get_codes_and_keep_their_id_when_readable() {
        assert_eq!(code("not json"), (None, ErrorCode::Malformed));
        assert_eq!(code("[1,2]"), (None, ErrorCode::Malformed));
        assert_eq!(code(r#""auth""#), (None, ErrorCode::Malformed));
        assert_eq!(code(r#"{"id":3}"#), (Some(3), ErrorCode::InvalidField));
        assert_eq!(
            code(r#"{"type":"dance","id":4}"#),
            (Some(4), ErrorCode::UnknownType)
        );
        assert_eq!(code(r#"{"type":"ping"}"#), (None, ErrorCode::InvalidField));
        assert_eq!(
            code(r#"{"type":"ping","id":-1}"#),
            (None, ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"ping","id":"1"}"#),
            (None, ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"auth","id":5}"#),
            (Some(5), ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"auth","id":5,"token":""}"#),
            (Some(5), ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"subscribe","id":6}"#),
            (Some(6), ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"subscribe","id":6,"channel":"room:1"}"#),
            (Some(6), ErrorCode::InvalidChannel)
        );
        assert_eq!(
            code(r#"{"type":"subscribe","id":6,"channel":"user:1","since":-4}"#),
            (Some(6), ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"subscribe","id":6,"channel":"user:1","since":"4"}"#),
            (Some(6), ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"publish","id":7,"channel":"chat:1","event":"Bad Name","data":{}}"#),
            (Some(7), ErrorCode::InvalidField)
        );
        assert_eq!(
            code(r#"{"type":"publish","id":7,"channel":"chat:1","event":"a.b","data":[1]}"#),
            (Some(7), ErrorCode::InvalidField)
        );
    }

    #[test]
    fn event_names_follow_the_grammar() {
        for good in [
            "typing",
            "chat.message",
            "level.up",
            "a1_b.c2",
            "leaderboard.update",
        ] {
            assert!(EventName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Chat",
            "chat.",
            ".chat",
            "chat..message",
            "1chat",
            "chat.1x",
            "chat message",
            "chat-message",
        ] {
            assert!(EventName::parse(bad).is_err(), "{bad}");
        }
        assert!(EventName::parse(&"a".repeat(MAX_EVENT_LEN + 1)).is_err());
        assert!(EventName::parse("presence.join").unwrap().is_reserved());
        assert!(EventName::parse("typing").unwrap().is_reserved());
        assert!(!EventName::parse("chat.message").unwrap().is_reserved());
    }

    fn channel_strategy() -> impl Strategy<Value = Channel> {
        prop_oneof![
            (1i64..=i64::MAX).prop_map(|id| Channel::user(vigor_common::Id::from_i64(id))),
            (1i64..=i64::MAX).prop_map(|id| Channel::chat(vigor_common::Id::from_i64(id))),
            (1i64..1000).prop_map(|id| format!("presence:community:{id}").parse().unwrap()),
            ("[a-z0-9_.-]{1,64}", "[a-z0-9_.-]{1,64}")
                .prop_map(|(b, w)| Channel::leaderboard(&b, &w).unwrap()),
        ]
    }

    fn data_strategy() -> impl Strategy<Value = Map<String, Value>> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::from),
        ];
        let value = leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        proptest::collection::btree_map("\\PC{0,8}", value, 0..4)
            .prop_map(|m| m.into_iter().collect())
    }

    fn frame_strategy() -> impl Strategy<Value = ClientFrame> {
        let id = any::<u64>();
        prop_oneof![
            (id, "[A-Za-z0-9._-]{1,200}").prop_map(|(id, token)| ClientFrame::Auth { id, token }),
            (id, channel_strategy(), proptest::option::of(any::<u64>()))
                .prop_map(|(id, channel, since)| ClientFrame::Subscribe { id, channel, since }),
            (id, channel_strategy())
                .prop_map(|(id, channel)| ClientFrame::Unsubscribe { id, channel }),
            (
                id,
                channel_strategy(),
                "[a-z][a-z0-9_]{0,10}(\\.[a-z][a-z0-9_]{0,10}){0,3}",
                data_strategy()
            )
                .prop_map(|(id, channel, event, data)| ClientFrame::Publish {
                    id,
                    channel,
                    event: EventName::parse(&event).unwrap(),
                    data,
                }),
            (id, channel_strategy()).prop_map(|(id, channel)| ClientFrame::Typing { id, channel }),
            (id, channel_strategy())
                .prop_map(|(id, channel)| ClientFrame::Presence { id, channel }),
            (
                id,
                1i64..=i64::MAX,
                "\\PC{0,40}",
                proptest::option::of("[A-Za-z0-9-]{1,40}"),
                proptest::option::of(1i64..=i64::MAX),
                proptest::collection::vec(1i64..=i64::MAX, 0..=3)
            )
                .prop_map(|(id, channel, body, client_msg_id, reply_to, mentions)| {
                    ClientFrame::ChatSend {
                        id,
                        message: ChatMessage {
                            channel_id: Id::from_i64(channel),
                            body,
                            client_msg_id,
                            reply_to: reply_to.map(Id::from_i64),
                            mentions: mentions.into_iter().map(Id::from_i64).collect(),
                        },
                    }
                }),
            id.prop_map(|id| ClientFrame::Ping { id }),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn arbitrary_json_objects_never_panic(
            kind in "(auth|subscribe|unsubscribe|publish|typing|presence|chat\\.send|ping|\\PC{0,10})",
            id in prop_oneof![Just(json!(1)), Just(json!(-1)), Just(json!(1.5)), Just(json!("1")), Just(Value::Null)],
            fields in data_strategy(),
        ) {
            let mut object = fields;
            object.insert("type".into(), kind.into());
            object.insert("id".into(), id);
            if let Err(error) = parse(&Value::Object(object).to_string()) {
                // The error frame itself is valid JSON.
                let frame: Value = serde_json::from_str(&error.to_frame()).unwrap();
                prop_assert_eq!(&frame["type"], "error");
            }
        }

        #[test]
        fn valid_frames_round_trip(frame in frame_strategy()) {
            let text = frame.to_json().to_string();
            prop_assert_eq!(parse(&text).unwrap(), frame);
        }
    }
}
