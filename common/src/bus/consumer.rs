//! Consuming events: the one consumer loop every service runs, and the helper
//! that starts a service's event plumbing.
//!
//! A service needs the same four things: an [`OutboxRelay`] publishing what it
//! commits, a subscription of its consumer group made *before* it serves (a
//! group starts with the events published after it exists), a loop that applies
//! each event once in effect, and an end to that loop on shutdown.
//! [`ServiceEvents`] does all four, so the services only say which topic goes to
//! which handler ([`Handlers`]); the payload types and topic names come from
//! [`crate::events`].
//!
//! The loop ([`spawn_consumer`]) acks what applied, leaves what failed unacked
//! (the group gets it again after the redelivery timeout), and gives up on an
//! event at its `max_delivery_attempts`-th delivery: the event goes to the dead
//! letters of its topic and group with the last error ([`super::dead_letter`]),
//! counted in `vigor_bus_dead_letters_total{topic,group}` and logged at error
//! level, and the group moves on. An event whose data does not match its
//! contract is dead-lettered at once: retrying cannot fix it. An event that
//! arrives with more deliveries than allowed (its consumers crashed or timed out
//! while applying it, so none of them saw it fail) is dead-lettered unapplied.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::outbox::{self, OutboxRelay};
use super::{BusError, ConsumerOptions, Delivery, Event, Subscription};
use crate::config::Config;
use crate::db::Database;
use crate::events::Topic;
use crate::id::Id;
use crate::service::ServiceContext;

/// An event whose data does not decode as its topic's payload: the consumer loop
/// dead-letters it at once instead of retrying.
#[derive(Debug, thiserror::Error)]
#[error("the data of {topic} event {event} does not match its contract: {reason}")]
pub struct Undecodable {
    /// The topic.
    pub topic: String,
    /// The event.
    pub event: Id,
    /// What serde said.
    pub reason: String,
}

/// Runs the consumer loop of the module docs on `tasks` until `shutdown`: each
/// delivery's event goes to `apply`; `Ok` acks it, `Err` leaves it unacked, so the
/// group gets it again after the redelivery timeout, until its
/// `max_delivery_attempts`-th delivery dead-letters it. A failed read is logged
/// and retried after a short pause.
pub fn spawn_consumer<F, Fut>(
    mut subscription: Box<dyn Subscription>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
    apply: F,
) where
    F: Fn(Event) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    tasks.spawn(async move {
        let max_attempts = subscription.options().max_delivery_attempts.max(1);
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => break,
                next = subscription.next() => next,
            };
            let delivery = match next {
                Ok(delivery) => delivery,
                Err(BusError::Closed) => break,
                Err(error) => {
                    let group = subscription.group();
                    tracing::warn!(group, %error, "reading the bus failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    }
                }
            };
            if delivery.attempt > max_attempts {
                let error = format!(
                    "delivered {} times without an outcome: its consumers stopped or timed out while applying it",
                    delivery.attempt
                );
                dead_letter(subscription.as_mut(), &delivery, &error).await;
                continue;
            }
            let event = delivery.event.id;
            match apply(delivery.event.clone()).await {
                Ok(()) => {
                    if let Err(error) = subscription.ack(&delivery).await {
                        let group = subscription.group();
                        tracing::warn!(group, %event, %error, "ack failed; the event will come again");
                    }
                }
                Err(error)
                    if delivery.attempt >= max_attempts
                        || error.downcast_ref::<Undecodable>().is_some() =>
                {
                    dead_letter(subscription.as_mut(), &delivery, &format!("{error:#}")).await;
                }
                Err(error) => {
                    let group = subscription.group();
                    tracing::warn!(
                        group,
                        %event,
                        attempt = delivery.attempt,
                        max_attempts,
                        error = format!("{error:#}"),
                        "applying an event failed; it will come again"
                    );
                }
            }
        }
    });
}

/// Moves `delivery` to the dead letters, counting and logging it.
async fn dead_letter(subscription: &mut dyn Subscription, delivery: &Delivery, error: &str) {
    let topic = delivery.event.name.as_str();
    let event = delivery.event.id;
    let attempts = delivery.attempt;
    match subscription.dead_letter(delivery, error).await {
        Ok(true) => {
            let group = subscription.group();
            metrics::counter!(
                "vigor_bus_dead_letters_total",
                "topic" => topic.to_owned(),
                "group" => group.to_owned()
            )
            .increment(1);
            tracing::error!(
                topic,
                group,
                %event,
                attempts,
                error,
                "event dead-lettered: the group moves on (list and replay with `vigor admin events dead-letters`)"
            );
        }
        Ok(false) => {
            let group = subscription.group();
            tracing::debug!(topic, group, %event, "already acked or dead-lettered by another member");
        }
        Err(failure) => {
            let group = subscription.group();
            tracing::warn!(topic, group, %event, error = %failure, "dead-lettering failed; the event will come again");
        }
    }
}

type Handler = Arc<
    dyn Fn(Id, serde_json::Value) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>
        + Send
        + Sync,
>;

/// Which handler applies the events of which topic.
#[derive(Clone, Default)]
pub struct Handlers {
    by_topic: HashMap<&'static str, Handler>,
}

impl Handlers {
    /// No handlers yet.
    pub fn new() -> Self {
        Handlers::default()
    }

    /// Applies the events of `topic` with `handler`, given the event id and the
    /// decoded payload. `Err` means "try again later".
    pub fn on<T, F, Fut>(mut self, topic: Topic<T>, handler: F) -> Self
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Id, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let name = topic.name();
        self.by_topic.insert(
            name,
            Arc::new(move |id, data| {
                let handler = handler.clone();
                Box::pin(async move {
                    let data = serde_json::from_value::<T>(data).map_err(|e| Undecodable {
                        topic: name.to_owned(),
                        event: id,
                        reason: e.to_string(),
                    })?;
                    handler(id, data).await
                })
            }),
        );
        self
    }

    /// The topics with a handler.
    pub fn topics(&self) -> Vec<&'static str> {
        let mut topics: Vec<&'static str> = self.by_topic.keys().copied().collect();
        topics.sort_unstable();
        topics
    }

    /// Applies `event` once for `group` in `db`: skipped when already processed,
    /// marked processed after its handler succeeded; an event of a topic without
    /// a handler is ignored.
    pub async fn apply(&self, db: &Database, group: &str, event: Event) -> anyhow::Result<()> {
        let Some(handler) = self.by_topic.get(event.name.as_str()) else {
            tracing::debug!(topic = %event.name, group, "ignoring an event of another topic");
            return Ok(());
        };
        if outbox::is_processed(db, group, event.id).await? {
            tracing::debug!(topic = %event.name, group, event = %event.id, "already applied");
            return Ok(());
        }
        handler(event.id, event.data).await?;
        outbox::mark_processed(db, group, event.id).await?;
        Ok(())
    }
}

/// A service's event plumbing: its outbox relay, and its consumer group once
/// [`ServiceEvents::consume`] is called.
pub struct ServiceEvents {
    relay: OutboxRelay,
    ctx: ServiceContext,
}

impl ServiceEvents {
    /// Starts the relay of the service's outbox (in `ctx`'s database) to the bus;
    /// it stops on shutdown.
    pub fn start(ctx: &ServiceContext) -> ServiceEvents {
        let relay = OutboxRelay::spawn(
            ctx.database().clone(),
            ctx.bus.clone(),
            ctx.shutdown.clone(),
            &ctx.tasks,
        );
        ServiceEvents {
            relay,
            ctx: ctx.clone(),
        }
    }

    /// The relay, to wake after committing an outbox row.
    pub fn relay(&self) -> OutboxRelay {
        self.relay.clone()
    }

    /// Joins consumer group `group` on the topics of `handlers` (as member
    /// `<group>-<node_id>`) and runs the consumer loop on the service's tasks until
    /// shutdown. Call it before serving, so no event is missed.
    pub async fn consume(&self, group: &'static str, handlers: Handlers) -> anyhow::Result<()> {
        let ctx = &self.ctx;
        let topics = handlers.topics();
        let consumer = format!("{group}-{}", ctx.config.node_id);
        let subscription = ctx
            .bus
            .subscribe(&topics, group, &consumer, consumer_options(&ctx.config))
            .await?;
        let db = ctx.database().clone();
        let handlers = Arc::new(handlers);
        spawn_consumer(
            subscription,
            ctx.shutdown.clone(),
            &ctx.tasks,
            move |event| {
                let handlers = handlers.clone();
                let db = db.clone();
                async move { handlers.apply(&db, group, event).await }
            },
        );
        Ok(())
    }
}

/// The consumer options `config` asks for.
pub fn consumer_options(config: &Config) -> ConsumerOptions {
    ConsumerOptions {
        max_delivery_attempts: config.bus.max_delivery_attempts,
        ..ConsumerOptions::default()
    }
}
