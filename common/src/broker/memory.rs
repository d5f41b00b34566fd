//! The in-process broker, for all-in-one mode.
//!
//! One process is the whole cluster, so the table of local subscribers *is* the
//! broker: publishing hands the message to each subscriber's bounded queue with a
//! non-blocking `try_send` under a short lock. Clones share the table, so every
//! component of the process that is given a clone sees the same channels; when the
//! last clone is dropped the subscriptions end (`recv` answers `None`).

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;
use bytes::Bytes;

use super::{
    Broker, BrokerError, BrokerSubscription, LocalSubscribers, Message,
    DEFAULT_SUBSCRIPTION_CAPACITY,
};

/// In-process broker.
#[derive(Clone)]
pub struct MemoryBroker {
    shared: Arc<Shared>,
}

struct Shared {
    local: Mutex<LocalSubscribers>,
    capacity: usize,
}

impl Shared {
    fn local(&self) -> MutexGuard<'_, LocalSubscribers> {
        // A panic while holding the lock cannot leave the table half-updated (every
        // update is one map operation), so a poisoned lock is still usable.
        self.local
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for MemoryBroker {
    fn default() -> Self {
        MemoryBroker::new()
    }
}

impl MemoryBroker {
    /// A broker whose subscriptions buffer [`DEFAULT_SUBSCRIPTION_CAPACITY`] messages.
    pub fn new() -> Self {
        MemoryBroker::with_capacity(DEFAULT_SUBSCRIPTION_CAPACITY)
    }

    /// A broker whose subscriptions buffer `capacity` messages before dropping new ones.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryBroker {
            shared: Arc::new(Shared {
                local: Mutex::new(LocalSubscribers::default()),
                capacity: capacity.max(1),
            }),
        }
    }

    /// How many subscriptions `channel` has right now.
    pub fn subscriber_count(&self, channel: &str) -> usize {
        self.shared.local().count(channel)
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn publish(&self, channel: &str, payload: Bytes) -> Result<(), BrokerError> {
        let message = Message {
            channel: channel.to_owned(),
            payload,
        };
        self.shared.local().deliver(channel, &message, "memory");
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<BrokerSubscription, BrokerError> {
        let (id, receiver, dropped) = self.shared.local().add(channel, self.shared.capacity);
        let guard = Unsubscribe {
            shared: Arc::downgrade(&self.shared),
            channel: channel.to_owned(),
            id,
        };
        Ok(BrokerSubscription::new(receiver, dropped, Box::new(guard)))
    }

    async fn ping(&self) -> Result<(), BrokerError> {
        Ok(())
    }
}

/// Removes its subscriber from the table when the subscription is dropped.
///
/// It holds the table weakly: once every handle of the broker is gone the table
/// (and with it every sender) is dropped, and the subscriptions answer `None`.
struct Unsubscribe {
    shared: Weak<Shared>,
    channel: String,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.local().remove(&self.channel, self.id);
        }
    }
}
