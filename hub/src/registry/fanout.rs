//! The channel task: fans one channel out to the node's subscribers.
//!
//! It owns the node's broker subscription for the channel and the list of local
//! subscribers, and is the only code that touches that list — sessions join and
//! leave by sending it [`Command`]s — so fan-out needs no lock: for every broker
//! message it builds the frame once and `try_send`s the same bytes into each
//! subscriber's bounded queue. A full queue closes that session with 4008 (a slow
//! consumer is dropped, never buffered without bound).
//!
//! It delivers sequenced events in `seq` order (see [`crate::history`] for why the
//! broker alone cannot promise that): duplicates and stragglers at or below the
//! last delivered seq are skipped, and a jump ahead is first filled from the
//! history. A `Join` with `since` is answered here too: the task queues the `ack`,
//! then the replay, then adds the subscriber — one task, one queue, so the client
//! sees ack, missed events and live events in order, each once (every subscriber
//! remembers the last seq it was given).

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;
use vigor_common::broker::BrokerSubscription;
use vigor_common::Id;

use super::{Command, JoinError, Registry, SessionLink};
use crate::channel::Channel;
use crate::history::History;
use crate::metrics;
use crate::protocol::{self, close, RequestId};
use crate::wire::{self, WireMessage};

struct Subscriber {
    link: SessionLink,
    /// The last seq this subscriber was given.
    delivered: u64,
}

/// The task that fans one channel out to the node's subscribers.
pub(super) struct ChannelTask {
    channel: Channel,
    history: Arc<dyn History>,
    /// `{"type":"event","channel":"…","seq":` for this channel.
    prefix: String,
    /// The last seq delivered (or, at start, the channel's head).
    last: u64,
    subscribers: Vec<Subscriber>,
}

impl ChannelTask {
    pub(super) fn new(channel: Channel, history: Arc<dyn History>) -> ChannelTask {
        ChannelTask {
            prefix: protocol::event_prefix(&channel),
            channel,
            history,
            last: 0,
            subscribers: Vec::new(),
        }
    }

    pub(super) async fn run(
        mut self,
        registry: Arc<Registry>,
        task: u64,
        mut commands: mpsc::Receiver<Command>,
    ) {
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
            self.last = self
                .history
                .head(self.channel.name())
                .await
                .map_err(|e| e.to_string())?;
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
            Command::Leave { session, farewell } => {
                let Some(index) = self.subscribers.iter().position(|s| s.link.id == session) else {
                    return;
                };
                let subscriber = self.subscribers.swap_remove(index);
                if let Some(frame) = farewell {
                    subscriber.link.push(frame);
                }
            }
        }
    }

    async fn join(
        &mut self,
        link: SessionLink,
        since: Option<u64>,
        request: RequestId,
    ) -> Result<(), JoinError> {
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
        // A jump ahead: the events in between were appended before this one was
        // published, so the history has them (unless trimmed). A task that started
        // on a channel without history (`last` 0) reads what the channel has.
        if seq > self.last + 1 {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use serde_json::Value;
    use tokio::sync::oneshot;
    use tokio_util::sync::CancellationToken;
    use tokio_util::task::TaskTracker;
    use vigor_common::broker::memory::MemoryBroker;
    use vigor_common::broker::Broker;

    use super::*;
    use crate::history::memory::MemoryHistory;
    use crate::registry::{Membership, SessionControl};

    struct Node {
        broker: Arc<MemoryBroker>,
        history: Arc<MemoryHistory>,
        registry: Arc<Registry>,
        channel: Channel,
    }

    fn node() -> Node {
        let broker = Arc::new(MemoryBroker::new());
        let history = Arc::new(MemoryHistory::new(16, Duration::from_secs(60)));
        let registry = Arc::new(Registry::new(
            broker.clone(),
            history.clone(),
            TaskTracker::new(),
            CancellationToken::new(),
            0,
        ));
        Node {
            broker,
            history,
            registry,
            channel: "chat:1".parse().unwrap(),
        }
    }

    /// A session as the channel task sees it, and what its queue receives.
    fn session(id: i64, capacity: usize) -> (SessionLink, mpsc::Receiver<Utf8Bytes>) {
        let (queue, frames) = mpsc::channel(capacity);
        let link = SessionLink {
            id: Id::from_i64(id),
            queue,
            control: Arc::new(SessionControl::default()),
        };
        (link, frames)
    }

    impl Node {
        async fn join(&self, link: SessionLink, since: Option<u64>) -> Membership {
            let membership = self.registry.attach(&self.channel);
            let (reply, outcome) = oneshot::channel();
            let join = Command::Join {
                link,
                since,
                request: 1,
                reply,
            };
            membership.commands.send(join).await.unwrap();
            outcome.await.unwrap().unwrap();
            membership
        }

        /// Appends to the history without telling the broker; returns the seq.
        async fn append(&self, n: u64) -> u64 {
            self.history.append("chat:1", suffix(n)).await.unwrap()
        }

        async fn broadcast(&self, seq: u64, n: u64) {
            let payload = wire::sequenced(seq, &suffix(n));
            self.broker.publish("chat:1", payload).await.unwrap();
        }
    }

    fn suffix(n: u64) -> Bytes {
        Bytes::from(protocol::event_suffix(
            "chat.message",
            &format!("{{\"n\":{n}}}"),
        ))
    }

    async fn next(frames: &mut mpsc::Receiver<Utf8Bytes>) -> Value {
        let frame = tokio::time::timeout(Duration::from_secs(2), frames.recv())
            .await
            .expect("a frame in time")
            .expect("the queue is open");
        serde_json::from_str(&frame).unwrap()
    }

    async fn nothing_more(frames: &mut mpsc::Receiver<Utf8Bytes>) {
        let more = tokio::time::timeout(Duration::from_millis(100), frames.recv()).await;
        assert!(more.is_err(), "unexpected frame: {more:?}");
    }

    #[tokio::test]
    async fn out_of_order_duplicated_and_dropped_broker_messages_come_out_in_order_once() {
        let node = node();
        let (link, mut frames) = session(1, 64);
        node.join(link, None).await;
        assert_eq!(next(&mut frames).await["type"], "ack");

        let seqs = [
            node.append(0).await,
            node.append(1).await,
            node.append(2).await,
            node.append(3).await,
        ];
        // The broker delivers the third first, then the first twice, drops the
        // second and delivers the fourth late.
        node.broadcast(seqs[2], 2).await;
        node.broadcast(seqs[0], 0).await;
        node.broadcast(seqs[0], 0).await;
        node.broadcast(seqs[3], 3).await;
        for (n, seq) in seqs.iter().enumerate() {
            let event = next(&mut frames).await;
            assert_eq!(
                (event["seq"].as_u64(), event["data"]["n"].as_u64()),
                (Some(*seq), Some(n as u64))
            );
        }
        nothing_more(&mut frames).await;
    }

    #[tokio::test]
    async fn a_join_with_since_replays_and_skips_what_the_broker_brings_later() {
        let node = node();
        // Another subscriber keeps the task running.
        let (first, mut first_frames) = session(1, 64);
        node.join(first, None).await;
        let seen = node.append(0).await;
        node.broadcast(seen, 0).await;
        assert_eq!(next(&mut first_frames).await["type"], "ack");
        assert_eq!(next(&mut first_frames).await["seq"], seen);

        // Two events are in the history but not yet through the broker.
        let missed = [node.append(1).await, node.append(2).await];
        let (late, mut frames) = session(2, 64);
        node.join(late, Some(seen)).await;
        let ack = next(&mut frames).await;
        assert_eq!(ack["result"]["recovered"], true);
        assert_eq!(ack["result"]["replayed"], 2);
        assert_eq!(ack["result"]["seq"], missed[1]);
        for seq in missed {
            assert_eq!(next(&mut frames).await["seq"], seq);
        }
        node.broadcast(missed[0], 1).await;
        node.broadcast(missed[1], 2).await;
        nothing_more(&mut frames).await;
        // The first subscriber gets them live.
        for seq in missed {
            assert_eq!(next(&mut first_frames).await["seq"], seq);
        }
    }

    #[tokio::test]
    async fn a_full_queue_closes_only_that_session() {
        let node = node();
        let (slow, _slow_frames) = session(1, 2);
        let slow_control = slow.control.clone();
        let (fast, mut fast_frames) = session(2, 64);
        node.join(slow, None).await;
        node.join(fast, None).await;
        assert_eq!(next(&mut fast_frames).await["type"], "ack");
        for n in 0..3 {
            let seq = node.append(n).await;
            node.broadcast(seq, n).await;
            assert_eq!(next(&mut fast_frames).await["data"]["n"], n);
        }
        assert_eq!(
            slow_control.reason(),
            Some((close::POLICY, "too slow: the outbound queue is full"))
        );
    }

    #[tokio::test]
    async fn ephemeral_events_skip_their_origin_and_the_last_detach_stops_the_task() {
        let node = node();
        let (alice, mut alice_frames) = session(1, 64);
        let (bob, mut bob_frames) = session(2, 64);
        let alice_membership = node.join(alice, None).await;
        let bob_membership = node.join(bob, None).await;
        next(&mut alice_frames).await;
        next(&mut bob_frames).await;
        let frame = protocol::ephemeral_frame(&node.channel, "typing", r#"{"user_id":"1"}"#);
        node.broker
            .publish("chat:1", wire::ephemeral(Some(Id::from_i64(1)), &frame))
            .await
            .unwrap();
        assert_eq!(next(&mut bob_frames).await["event"], "typing");
        nothing_more(&mut alice_frames).await;

        assert_eq!(node.broker.subscriber_count("chat:1"), 1);
        node.registry.detach("chat:1", alice_membership.task);
        assert_eq!(node.registry.channel_count(), 1);
        node.registry.detach("chat:1", bob_membership.task);
        assert_eq!(node.registry.channel_count(), 0);
        drop((alice_membership, bob_membership));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            node.broker.subscriber_count("chat:1"),
            0,
            "the broker subscription is gone"
        );
    }
}
