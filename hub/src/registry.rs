//! The node's tables: open sessions, and channels with local subscribers.
//!
//! # Sessions
//!
//! Every connection registers a [`SessionHandle`] (its user once authenticated,
//! and the [`SessionControl`] that closes it) in a `DashMap`, so the hub can count
//! sessions and close a user's sessions from the outside.
//!
//! # Channels
//!
//! A channel with local subscribers has exactly one *channel task* on the node. It
//! owns the node's broker subscription for the channel and the list of local
//! subscribers, and is the only code that touches that list — subscribers join and
//! leave by sending it [`Command`]s — so fan-out needs no lock: for every broker
//! message it builds the frame once and `try_send`s the same bytes into each
//! subscriber's bounded queue. A full queue closes that session with 4008 (a slow
//! consumer is dropped, never buffered without bound).
//!
//! The task delivers sequenced events in `seq` order (see [`crate::history`] for
//! why the broker alone cannot promise that): duplicates and stragglers at or below
//! the last delivered seq are skipped, and a jump ahead is first filled from the
//! history. A `Join` with `since` is answered by the task too: it enqueues the
//! `ack`, then the replay, then adds the subscriber — one task, one queue, so the
//! client sees ack, missed events and live events in order, each once (every
//! subscriber remembers the last seq it was given).
//!
//! The table entry counts the sessions attached to the task. The last detach
//! removes the entry, which drops the table's command sender; the task finishes the
//! commands already queued and stops, dropping the broker subscription (so a node
//! subscribes to the broker only for channels with local subscribers). A later
//! attach starts a new task. Attach/detach run under the entry's shard lock and
//! never await.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use dashmap::DashMap;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::broker::{Broker, BrokerSubscription};
use vigor_common::Id;

use crate::channel::Channel;
use crate::history::History;
use crate::metrics;
use crate::presence::PresenceEntry;
use crate::protocol::{self, close, RequestId};
use crate::wire::{self, WireMessage};

/// Commands a channel task buffers before senders wait.
const COMMAND_QUEUE: usize = 64;

/// Closes a session from anywhere: the first close wins and names the code.
#[derive(Debug, Default)]
pub(crate) struct SessionControl {
    token: CancellationToken,
    reason: OnceLock<(u16, &'static str)>,
}

impl SessionControl {
    /// Asks the session to close with `code`; true for the first request.
    pub(crate) fn close(&self, code: u16, reason: &'static str) -> bool {
        let first = self.reason.set((code, reason)).is_ok();
        if first {
            metrics::counter_close(code);
        }
        self.token.cancel();
        first
    }

    /// Ends the session without a close frame (the socket failed).
    pub(crate) fn stop(&self) {
        self.token.cancel();
    }

    /// The close code and reason, once closed.
    pub(crate) fn reason(&self) -> Option<(u16, &'static str)> {
        self.reason.get().copied()
    }

    /// Resolves when the session is asked to close.
    pub(crate) async fn closed(&self) {
        self.token.cancelled().await;
    }
}

/// How a channel task reaches one session: its id, its outbound queue, its control.
#[derive(Clone)]
pub(crate) struct SessionLink {
    pub(crate) id: Id,
    pub(crate) queue: mpsc::Sender<Utf8Bytes>,
    pub(crate) control: Arc<SessionControl>,
}

impl SessionLink {
    /// Queues `frame` without waiting; a full queue closes the session as too slow.
    /// False when the frame was not queued.
    pub(crate) fn push(&self, frame: Utf8Bytes) -> bool {
        match self.queue.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                if self.control.close(close::POLICY, "too slow: the outbound queue is full") {
                    ::metrics::counter!(metrics::SLOW_CONSUMERS).increment(1);
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

/// A session as the registry sees it.
pub(crate) struct SessionHandle {
    pub(crate) user: Option<Id>,
    pub(crate) control: Arc<SessionControl>,
}

/// Why a join failed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum JoinError {
    /// The broker or the history failed.
    #[error("{0}")]
    Unavailable(String),
    /// The session is already a subscriber.
    #[error("already subscribed")]
    AlreadySubscribed,
}

/// What a session asks of a channel task.
pub(crate) enum Command {
    /// Add the session: ack request `request`, replay after `since`, then deliver live.
    Join {
        link: SessionLink,
        since: Option<u64>,
        request: RequestId,
        reply: oneshot::Sender<Result<(), JoinError>>,
    },
    /// Remove the session; ack request `ack` when given.
    Leave { session: Id, ack: Option<RequestId> },
}

/// A session's attachment to a channel task.
#[derive(Clone)]
pub(crate) struct Membership {
    pub(crate) task: u64,
    pub(crate) commands: mpsc::Sender<Command>,
}

struct ChannelSlot {
    task: u64,
    commands: mpsc::Sender<Command>,
    members: usize,
}

/// The node's sessions and channels.
pub(crate) struct Registry {
    broker: Arc<dyn Broker>,
    history: Arc<dyn History>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    sessions: DashMap<Id, SessionHandle>,
    channels: DashMap<Arc<str>, ChannelSlot>,
    /// This node's presence entries, (scope, session) → user, renewed periodically.
    present: DashMap<(Arc<str>, Id), Id>,
    next_task: AtomicU64,
}

impl Registry {
    pub(crate) fn new(
        broker: Arc<dyn Broker>,
        history: Arc<dyn History>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Registry {
        Registry {
            broker,
            history,
            tracker,
            shutdown,
            sessions: DashMap::new(),
            channels: DashMap::new(),
            present: DashMap::new(),
            next_task: AtomicU64::new(1),
        }
    }

    /// Registers a new session.
    pub(crate) fn add_session(&self, id: Id, control: Arc<SessionControl>) {
        self.sessions.insert(id, SessionHandle { user: None, control });
    }

    /// Records the user of session `id`.
    pub(crate) fn set_user(&self, id: Id, user: Id) {
        if let Some(mut session) = self.sessions.get_mut(&id) {
            session.user = Some(user);
        }
    }

    /// Forgets session `id`.
    pub(crate) fn remove_session(&self, id: Id) {
        self.sessions.remove(&id);
    }

    /// How many sessions are open.
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Closes every session of `user` with `code`; returns how many.
    pub(crate) fn close_user(&self, user: Id, code: u16, reason: &'static str) -> usize {
        let mut closed = 0;
        for session in self.sessions.iter() {
            if session.user == Some(user) {
                session.control.close(code, reason);
                closed += 1;
            }
        }
        closed
    }

    /// Records a presence entry of this node.
    pub(crate) fn add_presence(&self, entry: PresenceEntry) {
        self.present.insert((entry.scope, entry.session), entry.user);
    }

    /// Forgets a presence entry of this node.
    pub(crate) fn remove_presence(&self, scope: &Arc<str>, session: Id) {
        self.present.remove(&(scope.clone(), session));
    }

    /// This node's presence entries.
    pub(crate) fn presence_entries(&self) -> Vec<PresenceEntry> {
        self.present
            .iter()
            .map(|entry| PresenceEntry {
                scope: entry.key().0.clone(),
                session: entry.key().1,
                user: *entry.value(),
            })
            .collect()
    }

    /// How many channels have a task on this node.
    pub(crate) fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// Attaches a session to `channel`'s task, starting the task if needed.
    pub(crate) fn attach(self: &Arc<Self>, channel: &Channel) -> Membership {
        let mut slot = self.channels.entry(channel.shared_name()).or_insert_with(|| {
            let task = self.next_task.fetch_add(1, Ordering::Relaxed);
            let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
            let runner = ChannelTask::new(channel.clone(), self.history.clone());
            self.tracker.spawn(runner.run(self.clone(), task, receiver));
            ::metrics::gauge!(metrics::CHANNELS).increment(1.0);
            ChannelSlot {
                task,
                commands,
                members: 0,
            }
        });
        slot.members += 1;
        Membership {
            task: slot.task,
            commands: slot.commands.clone(),
        }
    }

    /// Detaches a session from task `task` of `channel`; the last detach retires it.
    pub(crate) fn detach(&self, channel: &str, task: u64) {
        let removed = self.channels.remove_if_mut(channel, |_, slot| {
            if slot.task != task {
                return false;
            }
            slot.members = slot.members.saturating_sub(1);
            slot.members == 0
        });
        if removed.is_some() {
            ::metrics::gauge!(metrics::CHANNELS).decrement(1.0);
        }
    }

    /// Removes task `task`'s entry after it failed, whoever is attached.
    fn retire(&self, channel: &str, task: u64) {
        if self.channels.remove_if(channel, |_, slot| slot.task == task).is_some() {
            ::metrics::gauge!(metrics::CHANNELS).decrement(1.0);
        }
    }
}

struct Subscriber {
    link: SessionLink,
    /// The last seq this subscriber was given.
    delivered: u64,
}

/// The task that fans one channel out to the node's subscribers.
struct ChannelTask {
    channel: Channel,
    history: Arc<dyn History>,
    /// `{"type":"event","channel":"…","seq":` for this channel.
    prefix: String,
    /// The last seq delivered (or, at start, the channel's head).
    last: u64,
    subscribers: Vec<Subscriber>,
}

impl ChannelTask {
    fn new(channel: Channel, history: Arc<dyn History>) -> ChannelTask {
        ChannelTask {
            prefix: protocol::event_prefix(&channel),
            channel,
            history,
            last: 0,
            subscribers: Vec::new(),
        }
    }

    async fn run(mut self, registry: Arc<Registry>, task: u64, mut commands: mpsc::Receiver<Command>) {
        let mut subscription = match self.start(&registry).await {
            Ok(subscription) => subscription,
            Err(error) => {
                tracing::warn!(channel = %self.channel, %error, "cannot start the channel task");
                registry.retire(self.channel.name(), task);
                // Answer the joins already queued; later sends see the task gone.
                commands.close();
                while let Some(command) = commands.recv().await {
                    if let Command::Join { reply, .. } = command {
                        let _ = reply.send(Err(JoinError::Unavailable(error.clone())));
                    }
                }
                return;
            }
        };
        loop {
            tokio::select! {
                biased;
                _ = registry.shutdown.cancelled() => break,
                command = commands.recv() => match command {
                    Some(command) => self.command(command).await,
                    None => break,
                },
                message = subscription.recv() => match message {
                    Some(message) => self.message(&message.payload).await,
                    None => {
                        // The broker shut down: nothing more will arrive here.
                        registry.retire(self.channel.name(), task);
                        for subscriber in &self.subscribers {
                            subscriber.link.control.close(close::SERVER_RESTART, "the broker stopped");
                        }
                        break;
                    }
                },
            }
        }
    }

    /// Subscribes to the broker, then reads where the channel stands: events at or
    /// below that head were published before this node listened.
    async fn start(&mut self, registry: &Registry) -> Result<BrokerSubscription, String> {
        let subscription = registry
            .broker
            .subscribe(self.channel.name())
            .await
            .map_err(|e| e.to_string())?;
        if self.channel.has_history() {
            self.last = self.history.head(self.channel.name()).await.map_err(|e| e.to_string())?;
        }
        Ok(subscription)
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Join {
                link,
                since,
                request,
                reply,
            } => {
                let outcome = self.join(link, since, request).await;
                let _ = reply.send(outcome);
            }
            Command::Leave { session, ack } => {
                let Some(index) = self.subscribers.iter().position(|s| s.link.id == session) else {
                    return;
                };
                let subscriber = self.subscribers.swap_remove(index);
                if let Some(request) = ack {
                    let result = json!({ "channel": self.channel.name() });
                    subscriber.link.push(protocol::ack_frame(request, result).into());
                }
            }
        }
    }

    async fn join(&mut self, link: SessionLink, since: Option<u64>, request: RequestId) -> Result<(), JoinError> {
        if self.subscribers.iter().any(|s| s.link.id == link.id) {
            return Err(JoinError::AlreadySubscribed);
        }
        let mut result = json!({ "channel": self.channel.name() });
        let mut delivered = self.last;
        let mut replay = Vec::new();
        if let Some(since) = since {
            let recovered = if self.channel.has_history() {
                let history = self
                    .history
                    .since(self.channel.name(), since)
                    .await
                    .map_err(|e| JoinError::Unavailable(e.to_string()))?;
                if history.complete {
                    // The history may be ahead of this task: those events arrive
                    // later through the broker and are skipped for this subscriber.
                    delivered = delivered.max(history.head);
                    replay = history.entries;
                }
                history.complete
            } else {
                false
            };
            result["recovered"] = recovered.into();
            result["replayed"] = replay.len().into();
        }
        result["seq"] = delivered.into();
        if !link.push(protocol::ack_frame(request, result).into()) {
            return Ok(());
        }
        for entry in &replay {
            let Ok(suffix) = std::str::from_utf8(&entry.body) else {
                continue;
            };
            if !link.push(protocol::event_frame(&self.prefix, entry.seq, suffix).into()) {
                return Ok(());
            }
        }
        self.subscribers.push(Subscriber { link, delivered });
        Ok(())
    }

    async fn message(&mut self, payload: &Bytes) {
        match wire::decode(payload) {
            Some(WireMessage::Sequenced { seq, suffix }) => self.sequenced(seq, &suffix).await,
            Some(WireMessage::Ephemeral { origin, frame }) => match Utf8Bytes::try_from(frame) {
                Ok(frame) => self.deliver(&frame, None, origin),
                Err(_) => ::metrics::counter!(metrics::UNDECODABLE).increment(1),
            },
            None => ::metrics::counter!(metrics::UNDECODABLE).increment(1),
        }
    }

    async fn sequenced(&mut self, seq: u64, suffix: &Bytes) {
        if seq <= self.last {
            // Already delivered (a gap fill got it first), or from before this task.
            return;
        }
        if self.last != 0 && seq > self.last + 1 {
            match self.history.since(self.channel.name(), self.last).await {
                Ok(history) => {
                    for entry in history.entries {
                        if entry.seq > self.last && entry.seq < seq {
                            ::metrics::counter!(metrics::GAP_FILLS).increment(1);
                            self.deliver_event(entry.seq, &entry.body);
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(channel = %self.channel, %error, "cannot fill a gap from the history");
                }
            }
        }
        self.deliver_event(seq, suffix);
    }

    fn deliver_event(&mut self, seq: u64, suffix: &[u8]) {
        let Ok(suffix) = std::str::from_utf8(suffix) else {
            ::metrics::counter!(metrics::UNDECODABLE).increment(1);
            return;
        };
        let frame: Utf8Bytes = protocol::event_frame(&self.prefix, seq, suffix).into();
        self.last = seq;
        self.deliver(&frame, Some(seq), None);
    }

    /// Queues `frame` to every subscriber (but `skip`), once per seq each; drops
    /// subscribers whose session is gone or too slow.
    fn deliver(&mut self, frame: &Utf8Bytes, seq: Option<u64>, skip: Option<Id>) {
        let mut queued = 0u64;
        self.subscribers.retain_mut(|subscriber| {
            if let Some(seq) = seq {
                if seq <= subscriber.delivered {
                    return true;
                }
                subscriber.delivered = seq;
            }
            if Some(subscriber.link.id) == skip {
                return true;
            }
            let kept = subscriber.link.push(frame.clone());
            queued += u64::from(kept);
            kept
        });
        ::metrics::counter!(metrics::DELIVERIES).increment(queued);
    }
}
