//! The event bus: service-to-service events, at-least-once.
//!
//! A producer publishes an [`Event`] to a topic (the event's name, e.g.
//! `workout.logged`). Each consumer *group* (e.g. `gamification`) gets every event of
//! the topics it subscribes to once among its members; a member that dies before
//! acking has the event redelivered to the group after the redelivery timeout. So
//! delivery is at-least-once and consumers are idempotent by [`Event::id`]: see
//! [`outbox`] for producing through a transactional outbox, and
//! [`outbox::mark_processed`] for applying each event once in effect.
//!
//! Events of one topic reach a member in publish order; a redelivered event comes
//! again later, out of that order, with a higher [`Delivery::attempt`]. A consumer
//! loop is: `next`, apply (skipping ids already processed), `ack`; on an error from
//! `next`, log it and call `next` again.
//!
//! An event that keeps failing is not retried forever: after
//! [`ConsumerOptions::max_delivery_attempts`] deliveries the consumer loop
//! ([`consumer`]) moves it to a *dead-letter* list of its topic and group
//! ([`Subscription::dead_letter`]) and goes on with the next. An operator lists
//! and replays dead letters with `vigor admin events dead-letters`
//! ([`dead_letter`]).
//!
//! Two implementations pass the same conformance suite: [`memory::MemoryBus`]
//! (in-process, for all-in-one) and [`redis::RedisBus`] (Redis Streams with consumer
//! groups, for distributed mode).

pub mod consumer;
pub mod dead_letter;
pub mod memory;
pub mod outbox;
pub mod redis;

pub use consumer::{spawn_consumer, Handlers, ServiceEvents};
pub use dead_letter::DeadLetter;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::api::Timestamp;
use crate::id::Id;

/// A domain event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique id; consumers deduplicate by it.
    pub id: Id,
    /// The event's name, e.g. `workout.logged`; also its topic.
    pub name: String,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The event's data.
    pub data: serde_json::Value,
}

/// One delivery of an event to a consumer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The event.
    pub event: Event,
    /// 1 on first delivery, more on redeliveries.
    pub attempt: u32,
    /// Backend handle for [`Subscription::ack`], opaque to consumers.
    pub receipt: String,
}

/// What went wrong talking to the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The backend could not be reached or failed.
    #[error("event bus backend: {0}")]
    Backend(String),
    /// An entry on the bus could not be decoded (it has been skipped), or a
    /// receipt passed to `ack` is not one this subscription issued.
    #[error("malformed event on the bus: {0}")]
    Malformed(String),
    /// The bus was shut down.
    #[error("event bus closed")]
    Closed,
}

/// Options of a consumer.
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Unacked deliveries older than this are redelivered to the group.
    pub redelivery_after: Duration,
    /// Deliveries of one event after which the consumer loop dead-letters it
    /// (`bus.max_delivery_attempts`).
    pub max_delivery_attempts: u32,
}

/// Deliveries of one event before it is dead-lettered, by default.
pub const DEFAULT_MAX_DELIVERY_ATTEMPTS: u32 = 10;

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            redelivery_after: Duration::from_secs(30),
            max_delivery_attempts: DEFAULT_MAX_DELIVERY_ATTEMPTS,
        }
    }
}

/// The bus.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes `event` on the topic `event.name`.
    async fn publish(&self, event: &Event) -> Result<(), BusError>;

    /// Joins consumer group `group` on `topics` as member `consumer`. The group is
    /// created when missing and starts with events published after its creation.
    /// `consumer` names the member (e.g. service and node); it need not be unique,
    /// but distinct names make the backend's view readable.
    async fn subscribe(
        &self,
        topics: &[&str],
        group: &str,
        consumer: &str,
        options: ConsumerOptions,
    ) -> Result<Box<dyn Subscription>, BusError>;

    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), BusError>;

    /// Every dead letter of every topic and group, oldest first within each.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BusError>;

    /// Deletes one dead letter; `false` when it was not there (any more).
    async fn remove_dead_letter(&self, letter: &DeadLetter) -> Result<bool, BusError>;
}

/// A consumer's stream of deliveries.
#[async_trait]
pub trait Subscription: Send {
    /// The next delivery: an unacked one whose timeout passed (taken over from
    /// whichever member held it), else a new event. Waits until one is available.
    ///
    /// Errors concern one call: [`BusError::Malformed`] reports an undecodable entry
    /// that was skipped, [`BusError::Backend`] a failed round trip (the next call
    /// waits a little first); call `next` again after either. Dropping the future
    /// loses nothing: what it had taken is redelivered after the timeout.
    async fn next(&mut self) -> Result<Delivery, BusError>;

    /// Acknowledges a delivery: the group will not see it again. Acking twice, or
    /// after the event was redelivered to another member, is harmless.
    async fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError>;

    /// Gives up on a delivery: records it with `error` in the dead letters of its
    /// topic and this group, and acks it, in one step. `Ok(false)` when it was no
    /// longer pending (another member acked or dead-lettered it first), so an event
    /// is dead-lettered at most once per group.
    async fn dead_letter(&mut self, delivery: &Delivery, error: &str) -> Result<bool, BusError>;

    /// The consumer group this subscription reads for.
    fn group(&self) -> &str;

    /// The options it was made with.
    fn options(&self) -> &ConsumerOptions;
}
