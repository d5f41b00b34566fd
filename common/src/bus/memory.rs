//! The in-process event bus, for all-in-one mode.
//!
//! It keeps the semantics of the Redis Streams bus so services behave the same in
//! both modes: each topic is a log of events numbered by a sequence; each consumer
//! group has a cursor into the log (starting at the end when the group is created)
//! and a table of *pending* deliveries (delivered, not yet acked). A member asking
//! for the next delivery first takes over a pending one that has waited longer than
//! its `redelivery_after` (attempt + 1), else takes the event at the group's cursor.
//! So each event goes to one member of each group, and an event whose member died
//! before acking is redelivered to another.
//!
//! Memory is bounded: an event is kept only while some group has not acked it (the
//! log is trimmed up to the oldest event still pending or unread in any group; a
//! topic without groups keeps nothing), and a topic never retains more than
//! `max_retained` events: past that the oldest is dropped with a warning and the
//! `vigor_bus_dropped_total` counter, since an in-process bus cannot spill to disk.
//!
//! Dead letters are kept per topic and group in the same state, at most
//! `max_retained` per group (the oldest dropped first, with a warning): they die
//! with the process, like everything on this bus, so an operator sees them in the
//! logs and the `vigor_bus_dead_letters_total` counter rather than through
//! `vigor admin`, which cannot reach another process's memory.
//!
//! All state lives behind one `std::sync::Mutex`, taken briefly and never across an
//! `.await`; waiting members sleep on a per-topic `Notify` or until the next pending
//! delivery comes due.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::futures::Notified;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{BusError, ConsumerOptions, DeadLetter, Delivery, Event, EventBus, Subscription};

/// Events a topic retains for lagging groups before dropping the oldest, by default.
pub const DEFAULT_MAX_RETAINED: usize = 10_000;

/// In-process bus.
#[derive(Clone)]
pub struct MemoryBus {
    shared: Arc<Shared>,
}

struct Shared {
    topics: Mutex<HashMap<String, Topic>>,
    max_retained: usize,
}

impl Shared {
    fn topics(&self) -> MutexGuard<'_, HashMap<String, Topic>> {
        // Updates under this lock keep the log consistent at every step, so a
        // poisoned lock is still usable.
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One topic's log and its groups.
struct Topic {
    /// Sequence number of `events[0]`.
    first: u64,
    events: VecDeque<Arc<Event>>,
    groups: HashMap<String, Group>,
    /// Woken on every publish to the topic.
    published: Arc<Notify>,
    /// Dead letters by group, oldest first.
    dead: BTreeMap<String, VecDeque<DeadLetter>>,
    /// Number of the next dead letter of the topic.
    next_dead: u64,
}

struct Group {
    /// Sequence number of the next event no member has seen.
    cursor: u64,
    /// Delivered, not yet acked, by sequence number.
    pending: BTreeMap<u64, Pending>,
}

struct Pending {
    delivered_at: Instant,
    attempt: u32,
}

impl Topic {
    fn new() -> Self {
        Topic {
            first: 0,
            events: VecDeque::new(),
            groups: HashMap::new(),
            published: Arc::new(Notify::new()),
            dead: BTreeMap::new(),
            next_dead: 0,
        }
    }

    /// Sequence number the next published event gets.
    fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    fn event(&self, seq: u64) -> Option<&Arc<Event>> {
        let index = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.events.get(index)
    }

    /// Drops events every group has acked.
    fn trim_acked(&mut self) {
        let end = self.end();
        let keep_from = self
            .groups
            .values()
            .map(|g| g.pending.keys().next().copied().unwrap_or(g.cursor))
            .min()
            .unwrap_or(end);
        while self.first < keep_from && self.events.pop_front().is_some() {
            self.first += 1;
        }
    }

    /// Drops the oldest events beyond `max`; returns how many were dropped.
    fn trim_to(&mut self, max: usize) -> u64 {
        let mut dropped = 0;
        while self.events.len() > max && self.events.pop_front().is_some() {
            self.first += 1;
            dropped += 1;
        }
        if dropped > 0 {
            let first = self.first;
            for group in self.groups.values_mut() {
                group.cursor = group.cursor.max(first);
                group.pending.retain(|seq, _| *seq >= first);
            }
        }
        dropped
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        MemoryBus::new()
    }
}

impl MemoryBus {
    /// A bus retaining at most [`DEFAULT_MAX_RETAINED`] unacked events per topic.
    pub fn new() -> Self {
        MemoryBus::with_max_retained(DEFAULT_MAX_RETAINED)
    }

    /// A bus retaining at most `max_retained` unacked events per topic.
    pub fn with_max_retained(max_retained: usize) -> Self {
        MemoryBus {
            shared: Arc::new(Shared {
                topics: Mutex::new(HashMap::new()),
                max_retained: max_retained.max(1),
            }),
        }
    }

    /// How many events `topic` retains right now (unacked by some group).
    pub fn retained(&self, topic: &str) -> usize {
        self.shared
            .topics()
            .get(topic)
            .map_or(0, |topic| topic.events.len())
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let (published, dropped) = {
            let mut topics = self.shared.topics();
            let topic = topics.entry(event.name.clone()).or_insert_with(Topic::new);
            topic.events.push_back(Arc::new(event.clone()));
            topic.trim_acked();
            let dropped = topic.trim_to(self.shared.max_retained);
            (topic.published.clone(), dropped)
        };
        if dropped > 0 {
            tracing::warn!(
                topic = %event.name,
                dropped,
                max_retained = self.shared.max_retained,
                "in-process event bus full: dropped the oldest unacked events"
            );
            metrics::counter!("vigor_bus_dropped_total", "topic" => event.name.clone())
                .increment(dropped);
        }
        published.notify_waiters();
        Ok(())
    }

    async fn subscribe(
        &self,
        topics: &[&str],
        group: &str,
        consumer: &str,
        options: ConsumerOptions,
    ) -> Result<Box<dyn Subscription>, BusError> {
        if topics.is_empty() {
            return Err(BusError::Backend(
                "a subscription needs at least one topic".to_owned(),
            ));
        }
        let mut published = Vec::with_capacity(topics.len());
        {
            let mut all = self.shared.topics();
            for name in topics {
                let topic = all.entry((*name).to_owned()).or_insert_with(Topic::new);
                let end = topic.end();
                topic.groups.entry(group.to_owned()).or_insert(Group {
                    cursor: end,
                    pending: BTreeMap::new(),
                });
                published.push(topic.published.clone());
            }
        }
        Ok(Box::new(MemorySubscription {
            shared: self.shared.clone(),
            topics: topics.iter().map(|t| (*t).to_owned()).collect(),
            published,
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            options,
            start: 0,
        }))
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BusError> {
        let topics = self.shared.topics();
        let mut names: Vec<&String> = topics.keys().collect();
        names.sort();
        Ok(names
            .into_iter()
            .flat_map(|name| topics[name].dead.values().flatten().cloned())
            .collect())
    }

    async fn remove_dead_letter(&self, letter: &DeadLetter) -> Result<bool, BusError> {
        let mut topics = self.shared.topics();
        let Some(dead) = topics
            .get_mut(&letter.topic)
            .and_then(|topic| topic.dead.get_mut(&letter.group))
        else {
            return Ok(false);
        };
        let before = dead.len();
        dead.retain(|l| l.entry != letter.entry);
        Ok(dead.len() < before)
    }
}

/// A member of a group on the in-process bus.
struct MemorySubscription {
    shared: Arc<Shared>,
    topics: Vec<String>,
    /// The topics' publish signals, in `topics` order.
    published: Vec<Arc<Notify>>,
    group: String,
    consumer: String,
    options: ConsumerOptions,
    /// The topic to look at first, rotated so a busy topic cannot starve the others.
    start: usize,
}

impl MemorySubscription {
    /// A due redelivery or a new event, or else when the next redelivery comes due.
    fn take(&mut self) -> Result<Delivery, Option<Instant>> {
        let now = Instant::now();
        let mut topics = self.shared.topics();
        let mut next_due: Option<Instant> = None;
        let count = self.topics.len();
        let order: Vec<usize> = (0..count).map(|i| (self.start + i) % count).collect();
        self.start = (self.start + 1) % count;

        for &i in &order {
            let name = &self.topics[i];
            let Some(topic) = topics.get_mut(name) else {
                continue;
            };
            let end = topic.end();
            let group = topic.groups.entry(self.group.clone()).or_insert(Group {
                cursor: end,
                pending: BTreeMap::new(),
            });
            let mut due_now = None;
            for (seq, pending) in group.pending.iter_mut() {
                let due = pending.delivered_at + self.options.redelivery_after;
                if due <= now {
                    pending.delivered_at = now;
                    pending.attempt += 1;
                    due_now = Some((*seq, pending.attempt));
                    break;
                }
                next_due = Some(next_due.map_or(due, |d| d.min(due)));
            }
            if let Some((seq, attempt)) = due_now {
                if let Some(event) = topic.event(seq) {
                    return Ok(delivery(event, attempt, seq, name));
                }
            }
        }
        for &i in &order {
            let name = &self.topics[i];
            let Some(topic) = topics.get_mut(name) else {
                continue;
            };
            let end = topic.end();
            let Some(group) = topic.groups.get_mut(&self.group) else {
                continue;
            };
            if group.cursor < end {
                let seq = group.cursor;
                group.cursor += 1;
                group.pending.insert(
                    seq,
                    Pending {
                        delivered_at: now,
                        attempt: 1,
                    },
                );
                if let Some(event) = topic.event(seq) {
                    return Ok(delivery(event, 1, seq, name));
                }
            }
        }
        Err(next_due)
    }
}

fn delivery(event: &Event, attempt: u32, seq: u64, topic: &str) -> Delivery {
    Delivery {
        event: event.clone(),
        attempt,
        receipt: format!("{seq}@{topic}"),
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        let signals = self.published.clone();
        loop {
            // Register for publishes *before* looking, so one landing in between
            // still wakes us.
            let mut waits: Vec<Pin<Box<Notified<'_>>>> =
                signals.iter().map(|n| Box::pin(n.notified())).collect();
            for wait in &mut waits {
                wait.as_mut().enable();
            }
            let next_due = match self.take() {
                Ok(delivery) => {
                    tracing::trace!(
                        consumer = %self.consumer,
                        receipt = %delivery.receipt,
                        attempt = delivery.attempt,
                        "delivered"
                    );
                    return Ok(delivery);
                }
                Err(next_due) => next_due,
            };
            let any_publish = futures::future::select_all(waits);
            match next_due {
                Some(due) => {
                    tokio::select! {
                        _ = any_publish => {}
                        _ = tokio::time::sleep_until(due) => {}
                    }
                }
                None => {
                    any_publish.await;
                }
            }
        }
    }

    async fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let (seq, topic) = parse_receipt(delivery)?;
        let mut topics = self.shared.topics();
        if let Some(topic) = topics.get_mut(topic) {
            if let Some(group) = topic.groups.get_mut(&self.group) {
                group.pending.remove(&seq);
            }
            topic.trim_acked();
        }
        Ok(())
    }

    async fn dead_letter(&mut self, delivery: &Delivery, error: &str) -> Result<bool, BusError> {
        let (seq, name) = parse_receipt(delivery)?;
        let max = self.shared.max_retained;
        let mut topics = self.shared.topics();
        let Some(topic) = topics.get_mut(name) else {
            return Ok(false);
        };
        let was_pending = topic
            .groups
            .get_mut(&self.group)
            .and_then(|group| group.pending.remove(&seq))
            .is_some();
        if !was_pending {
            return Ok(false);
        }
        let entry = topic.next_dead.to_string();
        topic.next_dead += 1;
        let dead = topic.dead.entry(self.group.clone()).or_default();
        dead.push_back(DeadLetter {
            topic: name.to_owned(),
            group: self.group.clone(),
            entry,
            event: delivery.event.clone(),
            attempts: delivery.attempt,
            error: error.to_owned(),
            dead_at: chrono::Utc::now(),
        });
        while dead.len() > max {
            if let Some(dropped) = dead.pop_front() {
                tracing::warn!(topic = name, group = %self.group, event = %dropped.event.id, "in-process dead letters full: dropped the oldest");
            }
        }
        topic.trim_acked();
        Ok(true)
    }

    fn group(&self) -> &str {
        &self.group
    }

    fn options(&self) -> &ConsumerOptions {
        &self.options
    }
}

/// The sequence number and topic of a receipt made by [`delivery`].
fn parse_receipt(delivery: &Delivery) -> Result<(u64, &str), BusError> {
    delivery
        .receipt
        .split_once('@')
        .and_then(|(seq, topic)| Some((seq.parse::<u64>().ok()?, topic)))
        .ok_or_else(|| {
            BusError::Malformed(format!(
                "receipt {:?} is not from this bus",
                delivery.receipt
            ))
        })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::id::Id;

    fn event(n: i64) -> Event {
        Event {
            id: Id::from_i64(n),
            name: "test.happened".to_owned(),
            occurred_at: chrono::Utc::now(),
            data: serde_json::json!({ "n": n }),
        }
    }

    fn options() -> ConsumerOptions {
        ConsumerOptions {
            redelivery_after: Duration::from_secs(60),
            ..ConsumerOptions::default()
        }
    }

    #[tokio::test]
    async fn a_topic_without_groups_retains_nothing() {
        let bus = MemoryBus::new();
        bus.publish(&event(1)).await.unwrap();
        assert_eq!(bus.retained("test.happened"), 0);
    }

    #[tokio::test]
    async fn acked_events_are_trimmed_once_every_group_passed_them() {
        let bus = MemoryBus::new();
        let mut a = bus
            .subscribe(&["test.happened"], "a", "a1", options())
            .await
            .unwrap();
        let mut b = bus
            .subscribe(&["test.happened"], "b", "b1", options())
            .await
            .unwrap();
        for n in 1..=3 {
            bus.publish(&event(n)).await.unwrap();
        }
        assert_eq!(bus.retained("test.happened"), 3);
        for _ in 0..3 {
            let d = a.next().await.unwrap();
            a.ack(&d).await.unwrap();
        }
        // Group b has read nothing yet: everything stays.
        assert_eq!(bus.retained("test.happened"), 3);
        let first = b.next().await.unwrap();
        let second = b.next().await.unwrap();
        b.ack(&second).await.unwrap();
        // The first is still pending in b, so it and everything after it stay.
        assert_eq!(bus.retained("test.happened"), 3);
        b.ack(&first).await.unwrap();
        assert_eq!(bus.retained("test.happened"), 1);
        let third = b.next().await.unwrap();
        b.ack(&third).await.unwrap();
        assert_eq!(bus.retained("test.happened"), 0);
    }

    #[tokio::test]
    async fn a_full_topic_drops_its_oldest_events() {
        let bus = MemoryBus::with_max_retained(3);
        let mut sub = bus
            .subscribe(&["test.happened"], "g", "c1", options())
            .await
            .unwrap();
        let first = {
            bus.publish(&event(1)).await.unwrap();
            sub.next().await.unwrap()
        };
        assert_eq!(first.event.id, Id::from_i64(1));
        for n in 2..=6 {
            bus.publish(&event(n)).await.unwrap();
        }
        assert_eq!(bus.retained("test.happened"), 3);
        // Event 1 (pending) and events 2 and 3 (unread) were dropped.
        for n in 4..=6 {
            let d = sub.next().await.unwrap();
            assert_eq!(d.event.id, Id::from_i64(n));
            sub.ack(&d).await.unwrap();
        }
        sub.ack(&first).await.unwrap();
        assert_eq!(bus.retained("test.happened"), 0);
    }

    #[tokio::test]
    async fn a_foreign_receipt_is_rejected() {
        let bus = MemoryBus::new();
        let mut sub = bus
            .subscribe(&["test.happened"], "g", "c1", options())
            .await
            .unwrap();
        let bogus = Delivery {
            event: event(1),
            attempt: 1,
            receipt: "not-a-receipt".to_owned(),
        };
        assert!(matches!(sub.ack(&bogus).await, Err(BusError::Malformed(_))));
    }
}
