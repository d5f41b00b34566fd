//! The hub of one node, and the publishing API services use.
//!
//! [`Hub`] ties the parts together: the authenticator and (cached) channel
//! authorizer, the broker, the channel history, the presence store, the registry
//! of sessions and channel tasks, and the shutdown token every task watches. It is
//! shared as `Arc<Hub>`; [`crate::router`] serves its WebSockets.
//!
//! [`Publisher`] is the server-side half on its own: a history (for the seq and the
//! ring) plus a broker. A service in another process builds one from the same
//! Redis and publishes exactly like the hub does, reaching every node's
//! subscribers ("the same through the Broker from any target").

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::auth::SessionsEnded;
use vigor_common::broker::memory::MemoryBroker;
use vigor_common::broker::{Broker, BrokerError};
use vigor_common::digest::sha256_hex;
use vigor_common::live::{LiveError, LivePublisher};
use vigor_common::{Id, IdGenerator};

use crate::auth::Authenticator;
use crate::authz::{CachedAuthorizer, ChannelAuthorizer};
use crate::channel::{Channel, ChannelKind};
use crate::history::memory::MemoryHistory;
use crate::history::{Appended, History, HistoryError};
use crate::metrics;
use crate::presence::memory::MemoryPresence;
use crate::presence::{PresenceEntry, PresenceStore};
use crate::protocol::{self, close, EventName};
use crate::registry::Registry;
use crate::services::ServiceClient;
use crate::wire;
use vigor_common::access::AccessRevoked;
use vigor_common::config::hub::{HubConfig, InvalidHubConfig};

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The event name is not valid.
    #[error("invalid event name: {0}")]
    InvalidEvent(&'static str),
    /// `data` did not serialize to a JSON object.
    #[error("event data must serialize to a JSON object")]
    NotAnObject,
    /// The key of a keyed publish was used before for another event.
    #[error("the key was already used for another event on this channel")]
    KeyReused,
    /// Presence channels carry only the hub's own ephemeral events.
    #[error("{0} keeps no history: only the hub publishes on it")]
    NoHistory(Channel),
    /// `data` could not be serialized.
    #[error("cannot serialize the event data: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The history failed: the event was not published.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The broker failed: the event is in the history (a resume finds it, and the
    /// next event's gap fill delivers it) but was not pushed live.
    #[error("the event got seq {seq} but was not pushed: {source}")]
    Broker {
        /// The seq the event got.
        seq: u64,
        /// The broker's error.
        source: BrokerError,
    },
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The event's seq.
    pub seq: u64,
    /// The key was used before: this is the first publish's seq, nothing new was kept.
    pub repeat: bool,
}

/// Checks an event's name and serializes its data, which must be a JSON object.
fn prepare<T: Serialize + ?Sized>(
    event: &str,
    data: &T,
) -> Result<(EventName, String), PublishError> {
    let event = EventName::parse(event).map_err(PublishError::InvalidEvent)?;
    let data = serde_json::to_string(data)?;
    if !data.starts_with('{') {
        return Err(PublishError::NotAnObject);
    }
    Ok((event, data))
}

/// Publishes events to channels on every node: assigns the seq, keeps the event
/// for resume, hands it to the broker.
#[derive(Clone)]
pub struct Publisher {
    broker: Arc<dyn Broker>,
    history: Arc<dyn History>,
}

impl Publisher {
    /// A publisher over `broker` and `history` (the ones the hubs use).
    pub fn new(broker: Arc<dyn Broker>, history: Arc<dyn History>) -> Publisher {
        Publisher { broker, history }
    }

    /// A publisher over `broker` with its own in-memory history (`config`'s ring),
    /// for a process whose hub, if any, shares that broker and this publisher's
    /// history: all-in-one, and tests of services.
    pub fn in_process(broker: Arc<dyn Broker>, config: &HubConfig) -> Publisher {
        let history = MemoryHistory::new(config.ring_capacity, config.ring_ttl());
        Publisher::new(broker, Arc::new(history))
    }

    /// The history this publisher appends to.
    pub fn history(&self) -> Arc<dyn History> {
        self.history.clone()
    }

    /// Publishes `event` with `data` (a JSON object) on `channel`; returns its seq.
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        channel: &Channel,
        event: &str,
        data: &T,
    ) -> Result<u64, PublishError> {
        let (event, data) = prepare(event, data)?;
        let published = self.publish_json(channel, &event, &data, None).await?;
        Ok(published.seq)
    }

    /// Like [`Publisher::publish`], at most once per `key` of `channel` (for
    /// [`crate::history::KEY_RETENTION`]): a repeat with the same event appends
    /// nothing and answers the first seq, with `repeat` set.
    pub async fn publish_once<T: Serialize + ?Sized>(
        &self,
        channel: &Channel,
        event: &str,
        data: &T,
        key: &str,
    ) -> Result<Published, PublishError> {
        let (event, data) = prepare(event, data)?;
        self.publish_json(channel, &event, &data, Some(key)).await
    }

    /// Publishes an event whose data is already serialized (a JSON object), once
    /// per `key` when there is one.
    pub(crate) async fn publish_json(
        &self,
        channel: &Channel,
        event: &EventName,
        data: &str,
        key: Option<&str>,
    ) -> Result<Published, PublishError> {
        if !channel.has_history() {
            return Err(PublishError::NoHistory(channel.clone()));
        }
        let suffix = protocol::event_suffix(event.as_str(), data);
        let body = Bytes::from(suffix.clone());
        let published = match key {
            None => Published {
                seq: self.history.append(channel.name(), body).await?,
                repeat: false,
            },
            Some(key) => {
                let fingerprint = sha256_hex(suffix.as_bytes());
                match self
                    .history
                    .append_once(channel.name(), key, &fingerprint, body)
                    .await?
                {
                    Appended::New(seq) => Published { seq, repeat: false },
                    Appended::Repeat(seq) => Published { seq, repeat: true },
                    Appended::Mismatch => return Err(PublishError::KeyReused),
                }
            }
        };
        let seq = published.seq;
        if !published.repeat {
            ::metrics::counter!(metrics::EVENTS_PUBLISHED).increment(1);
        }
        // A repeat is pushed again: its first push may be what failed, and each
        // node's channel task skips a seq it has already delivered.
        self.broker
            .publish(channel.name(), wire::sequenced(seq, suffix.as_bytes()))
            .await
            .map_err(|source| PublishError::Broker { seq, source })?;
        Ok(published)
    }

    /// Publishes an ephemeral event (no seq, not kept); `origin` does not receive it.
    pub(crate) async fn ephemeral(
        &self,
        channel: &Channel,
        event: &str,
        data: &str,
        origin: Option<Id>,
    ) -> Result<(), BrokerError> {
        let frame = protocol::ephemeral_frame(channel, event, data);
        ::metrics::counter!(metrics::EVENTS_PUBLISHED).increment(1);
        self.broker
            .publish(channel.name(), wire::ephemeral(origin, &frame))
            .await
    }
}

/// Services publish through [`vigor_common::live::LivePublisher`] (their
/// `ServiceContext` holds this publisher behind it).
#[async_trait::async_trait]
impl LivePublisher for Publisher {
    async fn publish(
        &self,
        channel: &str,
        event: &str,
        data: &serde_json::Value,
    ) -> Result<u64, LiveError> {
        let channel = live_channel(channel)?;
        Publisher::publish(self, &channel, event, data)
            .await
            .map_err(live_error)
    }

    async fn publish_once(
        &self,
        channel: &str,
        event: &str,
        data: &serde_json::Value,
        key: &str,
    ) -> Result<u64, LiveError> {
        let channel = live_channel(channel)?;
        Publisher::publish_once(self, &channel, event, data, key)
            .await
            .map(|published| published.seq)
            .map_err(live_error)
    }
}

fn live_channel(channel: &str) -> Result<Channel, LiveError> {
    channel
        .parse()
        .map_err(|e| LiveError::Invalid(format!("{e}")))
}

fn live_error(error: PublishError) -> LiveError {
    match error {
        e @ (PublishError::InvalidEvent(_)
        | PublishError::NotAnObject
        | PublishError::NoHistory(_)
        | PublishError::KeyReused
        | PublishError::Serialize(_)) => LiveError::Invalid(e.to_string()),
        PublishError::History(e) => LiveError::Unavailable {
            message: e.to_string(),
            seq: None,
        },
        PublishError::Broker { seq, source } => LiveError::Unavailable {
            message: source.to_string(),
            seq: Some(seq),
        },
    }
}

/// The backends and policies a hub is built from.
pub struct HubParts {
    /// Verifies access tokens.
    pub authenticator: Arc<dyn Authenticator>,
    /// Decides channel access (usually [`crate::Rules`]); the hub caches its grants.
    pub authorizer: Arc<dyn ChannelAuthorizer>,
    /// Carries events between nodes.
    pub broker: Arc<dyn Broker>,
    /// Channel seqs and rings, shared by every node.
    pub history: Arc<dyn History>,
    /// Who is online, shared by every node.
    pub presence: Arc<dyn PresenceStore>,
    /// Makes session ids; its node id must be unique in the cluster.
    pub ids: Arc<IdGenerator>,
    /// The social service, for `chat.send` (`None`: chats are not served here,
    /// and `chat.send` is refused).
    pub social: Option<ServiceClient>,
}

impl HubParts {
    /// All-in-one parts: an in-process broker, history and presence table.
    pub fn in_process(
        config: &HubConfig,
        authenticator: Arc<dyn Authenticator>,
        authorizer: Arc<dyn ChannelAuthorizer>,
        ids: Arc<IdGenerator>,
    ) -> HubParts {
        HubParts {
            authenticator,
            authorizer,
            broker: Arc::new(MemoryBroker::new()),
            history: Arc::new(MemoryHistory::new(config.ring_capacity, config.ring_ttl())),
            presence: Arc::new(MemoryPresence::new()),
            ids,
            social: None,
        }
    }
}

/// The real-time hub of one node.
pub struct Hub {
    pub(crate) config: HubConfig,
    pub(crate) authenticator: Arc<dyn Authenticator>,
    pub(crate) authorizer: CachedAuthorizer,
    pub(crate) presence: Arc<dyn PresenceStore>,
    pub(crate) publisher: Publisher,
    pub(crate) registry: Arc<Registry>,
    pub(crate) ids: Arc<IdGenerator>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
    pub(crate) social: Option<ServiceClient>,
    history: Arc<dyn History>,
}

impl Hub {
    /// Starts a hub; it stops when `shutdown` is cancelled (or [`Hub::shutdown`]).
    /// Must be called inside a Tokio runtime (it starts its maintenance task).
    pub fn new(
        config: HubConfig,
        parts: HubParts,
        shutdown: CancellationToken,
    ) -> Result<Arc<Hub>, InvalidHubConfig> {
        config.validate()?;
        metrics::describe();
        let tracker = TaskTracker::new();
        let registry = Arc::new(Registry::new(
            parts.broker.clone(),
            parts.history.clone(),
            tracker.clone(),
            shutdown.clone(),
            config.max_sessions_per_user,
        ));
        let hub = Arc::new(Hub {
            authorizer: CachedAuthorizer::new(
                parts.authorizer,
                config.authz_cache_ttl(),
                config.authz_cache_capacity,
            ),
            authenticator: parts.authenticator,
            presence: parts.presence,
            publisher: Publisher::new(parts.broker, parts.history.clone()),
            history: parts.history,
            registry,
            ids: parts.ids,
            social: parts.social,
            shutdown,
            tracker,
            config,
        });
        hub.tracker
            .spawn(maintain(Arc::downgrade(&hub), hub.shutdown.clone()));
        Ok(hub)
    }

    /// The configuration.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Publishes `event` with `data` (a JSON object) on `channel` to its
    /// subscribers on every node; returns the event's seq.
    pub async fn publish<T: Serialize + ?Sized>(
        &self,
        channel: &Channel,
        event: &str,
        data: &T,
    ) -> Result<u64, PublishError> {
        self.publisher.publish(channel, event, data).await
    }

    /// The publisher this hub uses.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Open sessions on this node.
    pub fn session_count(&self) -> usize {
        self.registry.session_count()
    }

    /// Channels with subscribers on this node.
    pub fn channel_count(&self) -> usize {
        self.registry.channel_count()
    }

    /// Closes every session of `user` on this node with 4003 (e.g. the account was
    /// disabled or its tokens revoked); returns how many.
    pub fn disconnect_user(&self, user: Id) -> usize {
        self.registry
            .close_user(user, close::FORBIDDEN, "disconnected by the server")
    }

    /// Closes this node's sessions whose token `notice` ends (sign-out, password
    /// change, deactivation, …) with 4003; returns how many.
    pub fn end_sessions(&self, notice: &SessionsEnded) -> usize {
        self.registry
            .close_ended(notice, close::FORBIDDEN, "the session has ended")
    }

    /// `notice`'s user lost access to its channels: forgets the cached grants and
    /// makes the user's sessions on this node leave those channels (and their
    /// presence channels), each told with an `unsubscribed` frame. Returns how
    /// many sessions were asked; names that are not chat or community channels
    /// are skipped.
    pub fn revoke_access(&self, notice: &AccessRevoked) -> usize {
        let channels: Vec<Channel> = notice
            .channels
            .iter()
            .filter_map(|name| name.parse::<Channel>().ok())
            .filter(|channel| {
                matches!(
                    channel.kind(),
                    ChannelKind::Chat(_) | ChannelKind::Community(_)
                )
            })
            .collect();
        if channels.is_empty() {
            return 0;
        }
        self.authorizer.forget(notice.user_id, &channels);
        let names: Vec<Arc<str>> = channels
            .iter()
            .flat_map(|channel| [Some(channel.clone()), channel.presence_channel()])
            .flatten()
            .map(|channel| channel.shared_name())
            .collect();
        self.registry.revoke(notice.user_id, &names)
    }

    /// Listens for [`AccessRevoked`] notices on the hub's broker and applies each
    /// ([`Hub::revoke_access`]) in a task of the hub's own, which stops on its
    /// shutdown. Returns once subscribed: no notice published after it is missed.
    pub async fn follow_revocations(self: &Arc<Self>) -> Result<(), BrokerError> {
        let hub = Arc::downgrade(self);
        let listening = vigor_common::access::listen(
            &*self.publisher.broker,
            self.shutdown.clone(),
            move |notice| {
                if let Some(hub) = hub.upgrade() {
                    let asked = hub.revoke_access(&notice);
                    tracing::info!(user_id = %notice.user_id, sessions = asked, "channel access revoked");
                }
            },
        )
        .await?;
        self.tracker.spawn(listening);
        Ok(())
    }

    /// Whether shutdown has begun (new connections are refused).
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Closes every session with 1012 and waits for every session and task to end.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Waits until every session and task has ended (after the token is cancelled).
    pub async fn closed(&self) {
        self.shutdown.cancelled().await;
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Records a session's presence in `channel` and announces a first join.
    pub(crate) async fn join_presence(&self, channel: &Channel, user: Id, session: Id) {
        match self.presence.join(channel.name(), user, session).await {
            Ok(true) => {
                self.announce(channel, protocol::events::PRESENCE_JOIN, user)
                    .await
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%channel, %error, "cannot record presence"),
        }
        self.registry.add_presence(PresenceEntry {
            scope: channel.shared_name(),
            user,
            session,
        });
    }

    /// Removes a session's presence from `channel` and announces a last leave.
    pub(crate) async fn leave_presence(&self, channel: &Channel, user: Id, session: Id) {
        self.registry
            .remove_presence(&channel.shared_name(), session);
        match self.presence.leave(channel.name(), user, session).await {
            Ok(true) => {
                self.announce(channel, protocol::events::PRESENCE_LEAVE, user)
                    .await
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%channel, %error, "cannot remove presence"),
        }
    }

    async fn announce(&self, channel: &Channel, event: &str, user: Id) {
        let data = json!({ "user_id": user }).to_string();
        if let Err(error) = self.publisher.ephemeral(channel, event, &data, None).await {
            tracing::warn!(%channel, %error, event, "cannot announce presence");
        }
    }
}

/// Periodic upkeep: renew this node's presence entries, free idle histories.
async fn maintain(hub: std::sync::Weak<Hub>, shutdown: CancellationToken) {
    let period = match hub.upgrade() {
        Some(hub) => (hub.config.presence_ttl() / 3).max(Duration::from_millis(500)),
        None => return,
    };
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let Some(hub) = hub.upgrade() else { return };
        let entries = hub.registry.presence_entries();
        if let Err(error) = hub.presence.refresh(&entries).await {
            tracing::warn!(%error, "cannot renew presence entries");
        }
        hub.history.sweep();
    }
}
