//! Live pushes to WebSocket subscribers, as a service sees them.
//!
//! A service publishes an event on a hub channel (`user:{id}`, `chat:{id}`,
//! `community:{id}`, `leaderboard:{board}:{window}`; see `hub/PROTOCOL.md`) through
//! the [`LivePublisher`] in its [`crate::service::ServiceContext`]. The event gets
//! the channel's next `seq`, is kept in the channel's resume ring and reaches the
//! channel's subscribers on every gateway node. The binary builds the publisher in
//! the hub crate over the same history and broker the hubs use — in process when
//! everything runs in one, on Redis otherwise — so a service running as its own
//! target reaches the sessions of every gateway node.
//!
//! Publishing is at-most-once to live sessions and exactly-once into the ring: a
//! client that missed an event while reconnecting gets it by resuming. Data that
//! must never be lost (chat messages) is stored by its service first.

use async_trait::async_trait;
use serde_json::Value;

/// Why a live publish failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// The channel, the event name or the data is not valid: the caller's bug.
    #[error("invalid live event: {0}")]
    Invalid(String),
    /// The history or the broker failed. With `seq`, the event was kept in the
    /// channel's ring (a resume delivers it) but not pushed live.
    #[error("live event not delivered: {message}")]
    Unavailable {
        /// What failed.
        message: String,
        /// The seq the event got, when it got one.
        seq: Option<u64>,
    },
}

/// Publishes events to hub channels, on every node.
#[async_trait]
pub trait LivePublisher: Send + Sync + 'static {
    /// Publishes `event` (a name such as `achievement.unlocked`) with `data` (a
    /// JSON object) on `channel`; returns the seq the event got on that channel.
    async fn publish(&self, channel: &str, event: &str, data: &Value) -> Result<u64, LiveError>;

    /// Like [`LivePublisher::publish`], at most once per `key` of `channel` (for
    /// some minutes): a publish retried after an error or redelivered by the bus
    /// (use the event's or the message's id as the key) answers the first seq and
    /// keeps no second event. The same key with another event is
    /// [`LiveError::Invalid`].
    async fn publish_once(
        &self,
        channel: &str,
        event: &str,
        data: &Value,
        key: &str,
    ) -> Result<u64, LiveError>;
}
