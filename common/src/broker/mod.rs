//! The broker: fan-out of live pushes to WebSocket sessions, at-most-once, fast.
//!
//! The hub on each gateway node subscribes to the channels its local sessions watch,
//! and any node or service publishes to a channel. Nothing is stored: what must not
//! be lost (chat) is persisted by its service first and fetched again on resume.
//!
//! A [`BrokerSubscription`] is a bounded queue; when its reader falls behind and the
//! queue is full, *new* messages for it are dropped and counted (per subscription in
//! [`BrokerSubscription::dropped`], per process in the `vigor_broker_dropped_total`
//! counter), so a slow reader never grows memory and never slows the others: the
//! publisher side only ever does a non-blocking `try_send`. Dropping the subscription
//! unsubscribes; a node holds a backend subscription only while it has local
//! subscribers for the channel.
//!
//! Both implementations share the per-node table of local subscribers
//! (`LocalSubscribers`) and pass the same conformance suite:
//! [`memory::MemoryBroker`] (in-process) and [`redis::RedisBroker`] (Redis pub/sub).

pub mod memory;
pub mod notice;
pub mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

/// Messages a subscription buffers before new ones are dropped, by default.
pub const DEFAULT_SUBSCRIPTION_CAPACITY: usize = 1024;

/// What went wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The backend could not be reached or failed.
    #[error("broker backend: {0}")]
    Backend(String),
    /// The broker was shut down.
    #[error("broker closed")]
    Closed,
}

/// One message on a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel it was published on.
    pub channel: String,
    /// The payload, opaque to the broker.
    pub payload: Bytes,
}

/// The broker.
#[async_trait]
pub trait Broker: Send + Sync + 'static {
    /// Publishes `payload` to every current subscriber of `channel`, on every node.
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<(), BrokerError>;

    /// Subscribes to `channel`. Messages published after this returns are delivered.
    async fn subscribe(&self, channel: &str) -> Result<BrokerSubscription, BrokerError>;

    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), BrokerError>;
}

/// A subscription to one channel; dropping it unsubscribes.
pub struct BrokerSubscription {
    receiver: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
    /// Runs on drop: releases the backend subscription when it was the last.
    _guard: Box<dyn Send + Sync>,
}

impl BrokerSubscription {
    /// Wraps a receiver, the counter its sender bumps for every message dropped
    /// because the receiver was full, and a guard whose drop unsubscribes.
    pub fn new(
        receiver: mpsc::Receiver<Message>,
        dropped: Arc<AtomicU64>,
        guard: Box<dyn Send + Sync>,
    ) -> Self {
        BrokerSubscription {
            receiver,
            dropped,
            _guard: guard,
        }
    }

    /// The next message; `None` when the broker shut down.
    pub async fn recv(&mut self) -> Option<Message> {
        self.receiver.recv().await
    }

    /// The next message if one is already buffered.
    pub fn try_recv(&mut self) -> Option<Message> {
        self.receiver.try_recv().ok()
    }

    /// How many messages were dropped because this subscription's reader lagged.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// One local subscriber: the sending half of its bounded queue.
struct Subscriber {
    id: u64,
    sender: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

/// A node's local subscribers per channel, shared by both backends.
///
/// It lives behind a `std::sync::Mutex` in each backend; every method is
/// synchronous and quick (delivery is `try_send`), so the lock is never held across
/// an `.await` and a slow reader cannot stall a publisher.
#[derive(Default)]
pub(crate) struct LocalSubscribers {
    channels: HashMap<String, Vec<Subscriber>>,
    next_id: u64,
}

impl LocalSubscribers {
    /// Adds a subscriber to `key` with a queue of `capacity`; returns its id, the
    /// receiving half and its drop counter.
    pub(crate) fn add(
        &mut self,
        key: &str,
        capacity: usize,
    ) -> (u64, mpsc::Receiver<Message>, Arc<AtomicU64>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicU64::new(0));
        self.next_id += 1;
        let id = self.next_id;
        self.channels
            .entry(key.to_owned())
            .or_default()
            .push(Subscriber {
                id,
                sender,
                dropped: dropped.clone(),
            });
        (id, receiver, dropped)
    }

    /// Removes subscriber `id` of `key`; true when `key` has no subscriber left.
    pub(crate) fn remove(&mut self, key: &str, id: u64) -> bool {
        let Some(subscribers) = self.channels.get_mut(key) else {
            return false;
        };
        subscribers.retain(|s| s.id != id);
        if subscribers.is_empty() {
            self.channels.remove(key);
            true
        } else {
            false
        }
    }

    /// Whether `key` has local subscribers.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.channels.contains_key(key)
    }

    /// How many local subscribers `key` has.
    pub(crate) fn count(&self, key: &str) -> usize {
        self.channels.get(key).map_or(0, Vec::len)
    }

    /// The keys that have local subscribers.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.channels.keys()
    }

    /// Hands `message` to every subscriber of `key` without waiting: a full queue
    /// drops the message for that subscriber and counts it under `backend`.
    pub(crate) fn deliver(&self, key: &str, message: &Message, backend: &'static str) {
        let Some(subscribers) = self.channels.get(key) else {
            return;
        };
        for subscriber in subscribers {
            match subscriber.sender.try_send(message.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.dropped.fetch_add(1, Ordering::Relaxed);
                    count_dropped(backend, 1);
                }
                // The receiver is gone and its guard is about to remove it.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Drops every subscriber: their `recv` answers `None`.
    pub(crate) fn clear(&mut self) {
        self.channels.clear();
    }
}

/// Counts messages dropped by the broker on this node.
pub(crate) fn count_dropped(backend: &'static str, n: u64) {
    metrics::counter!("vigor_broker_dropped_total", "backend" => backend).increment(n);
}
