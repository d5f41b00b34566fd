//! The node's tables: open sessions, and channels with local subscribers.
//!
//! Every connection registers a [`SessionHandle`] (its user once authenticated,
//! and the [`SessionControl`] that closes it) in a `DashMap`, so the hub can count
//! sessions and close a user's sessions from the outside.
//!
//! A channel with local subscribers has exactly one *channel task* on the node
//! ([`fanout`]); the table entry counts the sessions attached to it. The last
//! detach removes the entry, which drops the table's command sender; the task
//! finishes the commands already queued and stops, dropping the broker
//! subscription (so a node subscribes to the broker only for channels with local
//! subscribers). A later attach starts a new task. Attach and detach run under the
//! entry's shard lock and never await.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use axum::extract::ws::Utf8Bytes;
use dashmap::DashMap;
use futures::task::AtomicWaker;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::auth::SessionsEnded;
use vigor_common::broker::Broker;
use vigor_common::Id;

use crate::auth::TokenOrigin;
use crate::channel::Channel;
use crate::history::History;
use crate::metrics;
use crate::presence::PresenceEntry;
use crate::protocol::{close, RequestId};
use fanout::ChannelTask;

mod fanout;

/// Commands a channel task buffers before senders wait.
const COMMAND_QUEUE: usize = 64;

/// Closes a session from anywhere: the first close wins and names the code.
///
/// The writer waits for the close on every wake-up (the hot path of fan-out), so
/// it has its own signal — a flag and one [`AtomicWaker`], a few uncontended
/// atomics per poll — rather than the cancellation token, whose check takes a
/// lock (5 % of the server's CPU at a million deliveries a second). Everyone
/// else waits on the token.
#[derive(Debug, Default)]
pub(crate) struct SessionControl {
    token: CancellationToken,
    reason: OnceLock<(u16, &'static str)>,
    closing: AtomicBool,
    writer: AtomicWaker,
    /// Channels the session must leave because its user lost access to them.
    revoked: std::sync::Mutex<Vec<Arc<str>>>,
    revoked_signal: tokio::sync::Notify,
}

impl SessionControl {
    /// Asks the session to close with `code`; true for the first request.
    pub(crate) fn close(&self, code: u16, reason: &'static str) -> bool {
        let first = self.reason.set((code, reason)).is_ok();
        if first {
            metrics::counter_close(code);
        }
        self.cancel();
        first
    }

    /// Ends the session; answers the client's close with 1000 unless a close
    /// code was already chosen. Not counted as a server close.
    pub(crate) fn finish(&self) {
        let _ = self.reason.set((close::NORMAL, ""));
        self.cancel();
    }

    /// Ends the session without a close frame (the socket failed).
    pub(crate) fn stop(&self) {
        self.cancel();
    }

    fn cancel(&self) {
        self.closing.store(true, Ordering::Release);
        self.writer.wake();
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

    /// Asks the session to leave `channels` (its user lost access to them).
    pub(crate) fn revoke(&self, channels: &[Arc<str>]) {
        self.revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend(channels.iter().cloned());
        self.revoked_signal.notify_one();
    }

    /// Waits until channels are revoked, and takes them (the session's reader only).
    pub(crate) async fn revoked(&self) -> Vec<Arc<str>> {
        loop {
            let taken = std::mem::take(
                &mut *self
                    .revoked
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
            if !taken.is_empty() {
                return taken;
            }
            self.revoked_signal.notified().await;
        }
    }

    /// The same, for the session's writer only (one waker: a second waiter would
    /// take the first one's place).
    pub(crate) fn writer_closed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.closing.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            self.writer.register(cx.waker());
            // A close between the check and the registration woke no one.
            if self.closing.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
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
                if self
                    .control
                    .close(close::POLICY, "too slow: the outbound queue is full")
                {
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
    /// Where its current token comes from (renewal replaces it).
    pub(crate) token: TokenOrigin,
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
    /// Remove the session, then send it `farewell` (the `unsubscribe` ack, or an
    /// `unsubscribed` notice) when given: after its last event of the channel.
    Leave {
        session: Id,
        farewell: Option<Utf8Bytes>,
    },
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
    /// Open authenticated sessions per user, for `max_sessions_per_user`.
    user_sessions: DashMap<Id, usize>,
    max_sessions_per_user: usize,
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
        max_sessions_per_user: usize,
    ) -> Registry {
        Registry {
            broker,
            history,
            tracker,
            shutdown,
            sessions: DashMap::new(),
            user_sessions: DashMap::new(),
            max_sessions_per_user,
            channels: DashMap::new(),
            present: DashMap::new(),
            next_task: AtomicU64::new(1),
        }
    }

    /// Registers a new session.
    pub(crate) fn add_session(&self, id: Id, control: Arc<SessionControl>) {
        self.sessions.insert(
            id,
            SessionHandle {
                user: None,
                token: TokenOrigin::default(),
                control,
            },
        );
    }

    /// Records the user of session `id` and where its token comes from; false,
    /// recording nothing, when the user already has the most sessions allowed on
    /// this node. A session's user never changes (another user's token closes
    /// it), so renewing is always allowed.
    pub(crate) fn set_user(&self, id: Id, user: Id, token: TokenOrigin) -> bool {
        if let Some(mut session) = self.sessions.get_mut(&id) {
            if session.user == Some(user) {
                session.token = token;
                return true;
            }
        }
        {
            let mut count = self.user_sessions.entry(user).or_insert(0);
            if self.max_sessions_per_user > 0 && *count >= self.max_sessions_per_user {
                return false;
            }
            *count += 1;
        }
        if let Some(mut session) = self.sessions.get_mut(&id) {
            session.user = Some(user);
            session.token = token;
        }
        true
    }

    /// Forgets session `id`.
    pub(crate) fn remove_session(&self, id: Id) {
        let Some((_, session)) = self.sessions.remove(&id) else {
            return;
        };
        if let Some(user) = session.user {
            self.user_sessions.remove_if_mut(&user, |_, count| {
                *count = count.saturating_sub(1);
                *count == 0
            });
        }
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

    /// Closes the sessions whose token `notice` ends, with `code`; returns how many.
    pub(crate) fn close_ended(
        &self,
        notice: &SessionsEnded,
        code: u16,
        reason: &'static str,
    ) -> usize {
        let mut closed = 0;
        for session in self.sessions.iter() {
            if session.user == Some(notice.user_id)
                && notice.ends(session.token.session, session.token.issued_at)
            {
                session.control.close(code, reason);
                closed += 1;
            }
        }
        closed
    }

    /// Asks every session of `user` on this node to leave `channels`; returns how
    /// many sessions were asked.
    pub(crate) fn revoke(&self, user: Id, channels: &[Arc<str>]) -> usize {
        let mut asked = 0;
        for session in self.sessions.iter() {
            if session.user == Some(user) {
                session.control.revoke(channels);
                asked += 1;
            }
        }
        asked
    }

    /// Records a presence entry of this node.
    pub(crate) fn add_presence(&self, entry: PresenceEntry) {
        self.present
            .insert((entry.scope, entry.session), entry.user);
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
        let mut slot = self
            .channels
            .entry(channel.shared_name())
            .or_insert_with(|| {
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
        if self
            .channels
            .remove_if(channel, |_, slot| slot.task == task)
            .is_some()
        {
            ::metrics::gauge!(metrics::CHANNELS).decrement(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn registry(max_sessions_per_user: usize) -> Registry {
        Registry::new(
            Arc::new(vigor_common::broker::memory::MemoryBroker::new()),
            Arc::new(crate::history::memory::MemoryHistory::new(
                4,
                Duration::from_secs(60),
            )),
            TaskTracker::new(),
            CancellationToken::new(),
            max_sessions_per_user,
        )
    }

    #[test]
    fn sessions_per_user_are_counted_until_they_close() {
        let capped = registry(2);
        let user = Id::from_i64(7);
        for session in 1..=3 {
            capped.add_session(Id::from_i64(session), Arc::default());
        }
        assert!(capped.set_user(Id::from_i64(1), user, TokenOrigin::default()));
        assert!(
            capped.set_user(Id::from_i64(1), user, TokenOrigin::default()),
            "a renewal is not counted"
        );
        assert!(capped.set_user(Id::from_i64(2), user, TokenOrigin::default()));
        assert!(
            !capped.set_user(Id::from_i64(3), user, TokenOrigin::default()),
            "the third is refused"
        );
        // An unauthenticated session leaving frees nothing; a counted one does.
        capped.remove_session(Id::from_i64(3));
        capped.add_session(Id::from_i64(4), Arc::default());
        assert!(!capped.set_user(Id::from_i64(4), user, TokenOrigin::default()));
        capped.remove_session(Id::from_i64(1));
        assert!(capped.set_user(Id::from_i64(4), user, TokenOrigin::default()));
        capped.remove_session(Id::from_i64(2));
        capped.remove_session(Id::from_i64(4));
        assert!(capped.user_sessions.is_empty(), "no count left behind");

        let unlimited = registry(0);
        for session in 1..=500 {
            unlimited.add_session(Id::from_i64(session), Arc::default());
            assert!(unlimited.set_user(Id::from_i64(session), user, TokenOrigin::default()));
        }
    }

    #[tokio::test]
    async fn the_writer_signal_fires_on_every_kind_of_close() {
        type Ending = fn(&SessionControl);
        let endings: [(Ending, Option<u16>); 3] = [
            (
                |c| {
                    c.close(close::POLICY, "too slow");
                },
                Some(close::POLICY),
            ),
            (SessionControl::finish, Some(close::NORMAL)),
            (SessionControl::stop, None),
        ];
        for (end, code) in endings {
            let control = Arc::new(SessionControl::default());
            let waiting = tokio::spawn({
                let control = control.clone();
                async move { control.writer_closed().await }
            });
            // Parked on the signal, not finished before the close.
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(!waiting.is_finished());
            end(&control);
            tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .expect("the writer was woken")
                .unwrap();
            assert_eq!(control.reason().map(|(code, _)| code), code);
            // Already closed: resolves at once, and the token agrees.
            control.writer_closed().await;
            control.closed().await;
        }
    }
}
