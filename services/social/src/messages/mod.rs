//! Chat messages: the [`MessageStore`] trait, its types, and its three backends.
//!
//! The model is the one that scales for chat: a message belongs to one channel and
//! is named by a time-ordered [`Id`] made when it is sent, so "newest first" is
//! "highest id first", a history cursor is just an id, and `created_at` is read off
//! the id instead of stored. Everything after the send is a further write that
//! needs no read first: an edit sets the body and `edited_at`, a delete leaves a
//! tombstone (the body is gone, the row and its place in history stay), a reaction
//! is one row per (message, emoji, user) so "one per user per emoji" is the key
//! itself and counts are summed on read, and a member's read state is the last
//! message id they read, which only moves forward.
//!
//! A send may carry a `client_msg_id`: the client's own name for that send, unique
//! per author in a channel, so a retried send (a lost ack, a reconnect) returns the
//! message already stored instead of storing a second one — also when the retries
//! race each other.
//!
//! Backends, chosen by `social.messages`:
//! - [`sql::SqlMessages`]: the service's SQLite or PostgreSQL database (all-in-one,
//!   and small deployments);
//! - [`cql::CqlMessages`]: a ScyllaDB (or Cassandra) keyspace, partitioned by
//!   `(channel_id, bucket)` with a bucket a fixed window of the id's time
//!   ([`bucket`]), clustered by id descending; history walks buckets backwards.
//!
//! One conformance suite (`conformance.rs`) pins the behaviour of all three.

pub mod bucket;
pub mod cql;
pub mod sql;

#[cfg(test)]
mod conformance;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use vigor_common::api::{Cursor, Keyset, Page, Timestamp, DEFAULT_PAGE, MAX_PAGE};
use vigor_common::{Id, Problem};

/// Longest message body, in bytes of UTF-8.
pub const MAX_BODY_BYTES: usize = 4096;
/// Longest `client_msg_id`, in bytes.
pub const MAX_CLIENT_MSG_ID_BYTES: usize = 64;
/// Longest reaction, in bytes of UTF-8 (an emoji with modifiers and joiners).
pub const MAX_EMOJI_BYTES: usize = 32;
/// Unread counts stop here: a badge shows "1000+", and counting a channel a
/// member never opened does not read its whole history.
pub const UNREAD_CAP: u32 = 1000;

/// A stored message, as clients see it (REST, hub acks and `chat.message` events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Message {
    /// The message id (time-ordered; the history cursor).
    pub id: Id,
    /// The channel it was sent to.
    pub channel_id: Id,
    /// Who sent it.
    pub author_id: Id,
    /// The text; empty once deleted.
    pub body: String,
    /// When it was sent (the time of its id).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it was last edited.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<Timestamp>,
    /// Deleted: a tombstone that keeps its place in history, without its body.
    pub deleted: bool,
    /// The message this one replies to.
    pub reply_to: Option<Id>,
    /// How many members reacted with each emoji.
    pub reactions: BTreeMap<String, u32>,
    /// The sender's own id for this send, which made retries idempotent.
    pub client_msg_id: Option<String>,
}

/// A message body: 1 to [`MAX_BODY_BYTES`] bytes, not only whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageBody(String);

/// A sender's id for one send: 1 to [`MAX_CLIENT_MSG_ID_BYTES`] visible ASCII bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientMsgId(String);

/// A reaction: 1 to [`MAX_EMOJI_BYTES`] bytes, no whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emoji(String);

/// Why a message field was refused (the message names the rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidField(&'static str);

impl MessageBody {
    /// `text` as a body, if it is one.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidField> {
        let text = text.into();
        if text.trim().is_empty() {
            Err(InvalidField("must not be empty"))
        } else if text.len() > MAX_BODY_BYTES {
            Err(InvalidField("must be at most 4096 bytes"))
        } else {
            Ok(MessageBody(text))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ClientMsgId {
    /// `text` as a client message id, if it is one.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidField> {
        let text = text.into();
        if text.is_empty() || text.len() > MAX_CLIENT_MSG_ID_BYTES {
            Err(InvalidField("must be 1 to 64 bytes"))
        } else if !text.bytes().all(|b| b.is_ascii_graphic()) {
            Err(InvalidField("must be visible ASCII without spaces"))
        } else {
            Ok(ClientMsgId(text))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Emoji {
    /// `text` as a reaction, if it is one.
    pub fn parse(text: impl Into<String>) -> Result<Self, InvalidField> {
        let text = text.into();
        if text.is_empty() || text.len() > MAX_EMOJI_BYTES {
            Err(InvalidField("must be 1 to 32 bytes"))
        } else if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Err(InvalidField(
                "must not contain spaces or control characters",
            ))
        } else {
            Ok(Emoji(text))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// A fresh id from the service's generator (ignored when `client_msg_id`
    /// names a send already stored).
    pub id: Id,
    /// The channel.
    pub channel_id: Id,
    /// The sender.
    pub author_id: Id,
    /// The text.
    pub body: MessageBody,
    /// The sender's id for this send, for idempotent retries.
    pub client_msg_id: Option<ClientMsgId>,
    /// The message replied to (the caller checked it is in the channel).
    pub reply_to: Option<Id>,
}

/// Where a history page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The newest messages.
    Latest,
    /// Messages older than this id, newest first.
    Before(Id),
    /// The messages just after this id (the oldest of them), newest first.
    After(Id),
}

/// Which side of its id a history cursor continues on (the cursor's key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    /// Older messages: the next page of `Latest`/`before`.
    #[serde(rename = "b")]
    Before,
    /// Newer messages: the next page of `after`.
    #[serde(rename = "a")]
    After,
}

/// The cursors of a channel's history.
pub const HISTORY: Keyset<Side> = Keyset::new("social.messages");

/// One history request, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Where the page starts.
    pub position: Position,
    /// Messages on the page, 1 to 100.
    pub limit: u32,
}

impl HistoryQuery {
    /// The newest `limit` messages.
    pub fn latest(limit: u32) -> Self {
        HistoryQuery {
            position: Position::Latest,
            limit,
        }
    }

    /// The query of `?limit=&cursor=` or `?before=` or `?after=`: at most one of
    /// the three positions; a 422 naming the field otherwise.
    pub fn parse(
        limit: Option<u32>,
        cursor: Option<&str>,
        before: Option<Id>,
        after: Option<Id>,
    ) -> Result<Self, Problem> {
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(n) if (1..=MAX_PAGE).contains(&n) => n,
            Some(_) => {
                return Err(Problem::invalid_field(
                    "limit",
                    format!("must be between 1 and {MAX_PAGE}"),
                ))
            }
        };
        let cursor = HISTORY.parse(cursor)?;
        let position = match (cursor, before, after) {
            (None, None, None) => Position::Latest,
            (Some(c), None, None) => match c.key {
                Side::Before => Position::Before(c.id),
                Side::After => Position::After(c.id),
            },
            (None, Some(id), None) => Position::Before(id),
            (None, None, Some(id)) => Position::After(id),
            _ => {
                return Err(Problem::invalid_field(
                    "cursor",
                    "give at most one of cursor, before and after",
                ))
            }
        };
        Ok(HistoryQuery { position, limit })
    }

    /// The page of `rows`: up to `limit + 1` messages fetched from the start
    /// position outward (newest first for `Latest`/`Before`, oldest first for
    /// `After`). The extra row only tells that there is more; the page is
    /// newest first either way, and its cursor goes on in the same direction.
    pub fn page(&self, mut rows: Vec<Message>) -> Page<Message> {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        // The row the next page continues from: the farthest from the start.
        let next_cursor = match (more, rows.last()) {
            (true, Some(edge)) => {
                let side = match self.position {
                    Position::After(_) => Side::After,
                    _ => Side::Before,
                };
                Some(HISTORY.encode(&Cursor::new(side, edge.id)))
            }
            _ => None,
        };
        if matches!(self.position, Position::After(_)) {
            rows.reverse();
        }
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// A member's read state in one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadState {
    /// The last message they read; `None` before they read any.
    pub last_read: Option<Id>,
    /// Messages after it by others, not deleted (at most [`UNREAD_CAP`]).
    pub unread: u32,
}

/// A failure of the message store (never a client's fault: input is parsed first).
#[derive(Debug, thiserror::Error)]
pub enum MessageStoreError {
    /// The SQL database failed.
    #[error("the message database failed")]
    Sql(#[from] sqlx::Error),
    /// The CQL cluster failed.
    #[error("the CQL message store failed: {0}")]
    Cql(String),
    /// A stored row does not hold a valid message.
    #[error("a stored message is corrupt: {0}")]
    Corrupt(String),
}

/// The storage of chat messages, reactions and read state.
///
/// Edits, deletes and reactions are blind writes: the caller has read the
/// message (to check who may change it) and the store does not read again, so
/// one naming an id that is not in the channel changes nothing visible.
#[async_trait::async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores `message`, or, when its `client_msg_id` was already used by its
    /// author in its channel, returns the message stored then (and stores nothing).
    async fn append(&self, message: NewMessage) -> Result<Message, MessageStoreError>;

    /// The message `id` of `channel`.
    async fn get(&self, channel: Id, id: Id) -> Result<Option<Message>, MessageStoreError>;

    /// A page of `channel`'s history, newest first.
    async fn history(
        &self,
        channel: Id,
        query: HistoryQuery,
    ) -> Result<Page<Message>, MessageStoreError>;

    /// Replaces the body of a message (not of a deleted one) and sets `edited_at`.
    async fn edit(
        &self,
        channel: Id,
        id: Id,
        body: &MessageBody,
        at: Timestamp,
    ) -> Result<(), MessageStoreError>;

    /// Deletes a message: its body is gone, a tombstone keeps its place.
    async fn delete(&self, channel: Id, id: Id) -> Result<(), MessageStoreError>;

    /// `user` reacts to a message with `emoji` (again: no change).
    async fn add_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError>;

    /// `user` takes back their `emoji` reaction (none: no change).
    async fn remove_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError>;

    /// `member` has read up to message `last_read`; an older id than the one
    /// recorded changes nothing (read state only moves forward).
    async fn mark_read(
        &self,
        channel: Id,
        member: Id,
        last_read: Id,
    ) -> Result<(), MessageStoreError>;

    /// `member`'s last read message and unread count in `channel`.
    async fn read_state(&self, channel: Id, member: Id) -> Result<ReadState, MessageStoreError>;
}

/// The time of an id, as `created_at`.
pub(crate) fn created_at(id: Id) -> Timestamp {
    millis_to_time(id.unix_millis() as i64)
}

/// Milliseconds since the Unix epoch as a timestamp (out of range: the epoch).
pub(crate) fn millis_to_time(millis: i64) -> Timestamp {
    chrono::DateTime::from_timestamp_millis(millis).unwrap_or_default()
}

/// A timestamp as milliseconds since the Unix epoch, as stored.
pub(crate) fn time_to_millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_parsed_at_the_edge() {
        assert!(MessageBody::parse("hi").is_ok());
        assert!(MessageBody::parse("  \n").is_err());
        assert!(MessageBody::parse("x".repeat(MAX_BODY_BYTES)).is_ok());
        assert!(MessageBody::parse("x".repeat(MAX_BODY_BYTES + 1)).is_err());
        // 4 KiB of bytes, not of characters.
        assert!(MessageBody::parse("é".repeat(MAX_BODY_BYTES / 2 + 1)).is_err());
        assert!(ClientMsgId::parse("c-1").is_ok());
        assert!(ClientMsgId::parse("").is_err());
        assert!(ClientMsgId::parse("a b").is_err());
        assert!(ClientMsgId::parse("x".repeat(65)).is_err());
        assert!(Emoji::parse("👍🏽").is_ok());
        assert!(Emoji::parse("👨‍👩‍👧").is_ok());
        assert!(Emoji::parse("a b").is_err());
        assert!(Emoji::parse("").is_err());
    }

    #[test]
    fn a_query_takes_one_position_and_a_bounded_limit() {
        let id = Id::from_i64(42);
        let q = HistoryQuery::parse(None, None, None, None).unwrap();
        assert_eq!(q, HistoryQuery::latest(DEFAULT_PAGE));
        let q = HistoryQuery::parse(Some(5), None, Some(id), None).unwrap();
        assert_eq!(q.position, Position::Before(id));
        let q = HistoryQuery::parse(Some(5), None, None, Some(id)).unwrap();
        assert_eq!(q.position, Position::After(id));
        let cursor = HISTORY.encode(&Cursor::new(Side::After, id));
        let q = HistoryQuery::parse(None, Some(&cursor), None, None).unwrap();
        assert_eq!(q.position, Position::After(id));
        assert!(HistoryQuery::parse(None, Some(&cursor), Some(id), None).is_err());
        assert!(HistoryQuery::parse(None, None, Some(id), Some(id)).is_err());
        assert!(HistoryQuery::parse(Some(0), None, None, None).is_err());
        assert!(HistoryQuery::parse(Some(101), None, None, None).is_err());
        assert!(HistoryQuery::parse(None, Some("nonsense"), None, None).is_err());
    }

    #[test]
    fn a_message_serialises_as_the_fixed_json() {
        let m = Message {
            id: Id::from_i64(7),
            channel_id: Id::from_i64(8),
            author_id: Id::from_i64(9),
            body: "hi".into(),
            created_at: millis_to_time(1_700_000_000_000),
            edited_at: None,
            deleted: false,
            reply_to: None,
            reactions: BTreeMap::from([("👍".to_owned(), 2)]),
            client_msg_id: Some("c1".into()),
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            serde_json::json!({
                "id": "7", "channel_id": "8", "author_id": "9", "body": "hi",
                "created_at": "2023-11-14T22:13:20Z", "edited_at": null, "deleted": false,
                "reply_to": null, "reactions": {"👍": 2}, "client_msg_id": "c1"
            })
        );
    }
}
