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
//! Two implementations pass the same conformance suite: [`memory::MemoryBus`]
//! (in-process, for all-in-one) and [`redis::RedisBus`] (Redis Streams with consumer
//! groups, for distributed mode).

pub mod memory;
pub mod outbox;
pub mod redis;

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
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            redelivery_after: Duration::from_secs(30),
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
}

/// Runs the consumer loop of the module docs on `tasks` until `shutdown`: each
/// delivery's event goes to `apply`; `Ok` acks it, `Err` leaves it unacked, so the
/// group gets it again after the redelivery timeout. A failed read is logged and
/// retried after a short pause. `consumer` names the loop in logs.
pub fn spawn_consumer<F, Fut>(
    consumer: &'static str,
    mut subscription: Box<dyn Subscription>,
    shutdown: tokio_util::sync::CancellationToken,
    tasks: &tokio_util::task::TaskTracker,
    apply: F,
) where
    F: Fn(Event) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    tasks.spawn(async move {
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                next = subscription.next() => next,
            };
            let delivery = match next {
                Ok(delivery) => delivery,
                Err(BusError::Closed) => break,
                Err(error) => {
                    tracing::warn!(consumer, %error, "reading the bus failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => continue,
                    }
                }
            };
            let event = delivery.event.id;
            match apply(delivery.event.clone()).await {
                Ok(()) => {
                    if let Err(error) = subscription.ack(&delivery).await {
                        tracing::warn!(consumer, %event, %error, "ack failed; the event will come again");
                    }
                }
                Err(error) => tracing::warn!(
                    consumer,
                    %event,
                    error = format!("{error:#}"),
                    "applying an event failed; it will come again"
                ),
            }
        }
    });
}
