//! Dead letters: events a consumer group gave up on.
//!
//! A poison event (one whose handler fails every time) would otherwise come back
//! after every redelivery timeout for ever, and hide the events that are really
//! new in the logs. So the consumer loop stops after
//! `bus.max_delivery_attempts` deliveries: the event goes to the dead letters of
//! its topic and group, with the number of attempts and the last error, and the
//! group moves on. Nothing is lost: the letter keeps the whole event until an
//! operator replays it ([`replay`]: published again on its topic, then removed)
//! or deletes it. Each backend keeps the letters its own way (a Redis stream
//! `<prefix>dead:<topic>:<group>`, or a bounded list in memory); this module holds
//! what is the same for both.

use serde::{Deserialize, Serialize};

use super::{BusError, Event, EventBus};
use crate::api::Timestamp;
use crate::id::Id;

/// An event a consumer group gave up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The event's topic.
    pub topic: String,
    /// The consumer group that gave up.
    pub group: String,
    /// The backend's id of this letter (for removing it).
    pub entry: String,
    /// The event, whole.
    pub event: Event,
    /// How many times it was delivered to the group.
    pub attempts: u32,
    /// The last error applying it.
    pub error: String,
    /// When it was dead-lettered.
    pub dead_at: Timestamp,
}

/// Which dead letters of a topic and group to replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Those of one event.
    Event(Id),
    /// All of them.
    All,
}

/// Publishes the selected dead letters of `topic` and `group` on their topic
/// again, oldest first, removing each once it is published; returns the ids of
/// the events replayed. Every group of the topic gets a replayed event again, so
/// the others skip it by its id (consumers are idempotent); a publish that fails
/// stops the replay with the letter still kept.
pub async fn replay(
    bus: &dyn EventBus,
    topic: &str,
    group: &str,
    selection: Selection,
) -> Result<Vec<Id>, BusError> {
    let letters = bus.dead_letters().await?;
    let mut replayed = Vec::new();
    for letter in letters
        .iter()
        .filter(|l| l.topic == topic && l.group == group)
        .filter(|l| match selection {
            Selection::Event(id) => l.event.id == id,
            Selection::All => true,
        })
    {
        bus.publish(&letter.event).await?;
        bus.remove_dead_letter(letter).await?;
        replayed.push(letter.event.id);
    }
    Ok(replayed)
}
