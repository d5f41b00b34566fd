//! In-process channel history, for all-in-one mode (and as the reference the Redis
//! backend is tested against).
//!
//! One `DashMap` entry per channel holds its counter and ring; append and read run
//! under that entry's shard lock, which is held for a few pointer moves and never
//! across an `.await`. Keys of [`History::append_once`] live in a second map,
//! whose entry is held while the event is appended, so a key appends once even
//! under concurrent uses; they are swept with the channels. Every hub of the process shares one instance, which is what
//! makes it the all-in-one "shared counter".

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use dashmap::DashMap;
use tokio::time::Instant;

use super::{epoch_start, Appended, History, HistoryError, Replay, KEY_RETENTION};

struct Ring {
    head: u64,
    /// The last events, oldest first; the last one has seq `head`.
    bodies: VecDeque<Bytes>,
    touched: Instant,
}

/// What a key of `append_once` remembers.
struct KeyUse {
    seq: u64,
    fingerprint: String,
    at: Instant,
}

/// In-process history.
pub struct MemoryHistory {
    channels: DashMap<String, Ring>,
    /// `(channel, key)` → its first append.
    keys: DashMap<(String, String), KeyUse>,
    capacity: usize,
    ttl: Duration,
}

impl MemoryHistory {
    /// Rings keep `capacity` events and are forgotten after `ttl` without an append.
    pub fn new(capacity: usize, ttl: Duration) -> MemoryHistory {
        MemoryHistory {
            channels: DashMap::new(),
            keys: DashMap::new(),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// How many channels have a history.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    fn expired(&self, ring: &Ring, now: Instant) -> bool {
        now.duration_since(ring.touched) >= self.ttl
    }

    fn append_now(&self, channel: &str, body: Bytes, now: Instant) -> u64 {
        let mut ring = self
            .channels
            .entry(channel.to_owned())
            .or_insert_with(|| Ring {
                head: epoch_start(),
                bodies: VecDeque::new(),
                touched: now,
            });
        if self.expired(&ring, now) {
            // A new epoch, never below the old one even if the clock stepped back.
            ring.head = epoch_start().max(ring.head + 1);
            ring.bodies.clear();
        }
        ring.head += 1;
        ring.bodies.push_back(body);
        while ring.bodies.len() > self.capacity {
            ring.bodies.pop_front();
        }
        ring.touched = now;
        ring.head
    }
}

#[async_trait]
impl History for MemoryHistory {
    async fn append(&self, channel: &str, body: Bytes) -> Result<u64, HistoryError> {
        Ok(self.append_now(channel, body, Instant::now()))
    }

    async fn append_once(
        &self,
        channel: &str,
        key: &str,
        fingerprint: &str,
        body: Bytes,
    ) -> Result<Appended, HistoryError> {
        let now = Instant::now();
        let mut entry = self
            .keys
            .entry((channel.to_owned(), key.to_owned()))
            .or_insert_with(|| KeyUse {
                seq: 0,
                fingerprint: String::new(),
                at: now,
            });
        if entry.seq != 0 && now.duration_since(entry.at) < KEY_RETENTION {
            return Ok(if entry.fingerprint == fingerprint {
                Appended::Repeat(entry.seq)
            } else {
                Appended::Mismatch
            });
        }
        // The key's entry stays locked while appending: a concurrent use waits.
        let seq = self.append_now(channel, body, now);
        *entry = KeyUse {
            seq,
            fingerprint: fingerprint.to_owned(),
            at: now,
        };
        Ok(Appended::New(seq))
    }

    async fn since(&self, channel: &str, since: u64) -> Result<Replay, HistoryError> {
        let now = Instant::now();
        let Some(ring) = self
            .channels
            .get(channel)
            .filter(|ring| !self.expired(ring, now))
        else {
            return Ok(Replay::new(0, since, Vec::new()));
        };
        let missing = ring
            .head
            .saturating_sub(since)
            .min(ring.bodies.len() as u64) as usize;
        let kept: Vec<Bytes> = ring
            .bodies
            .iter()
            .skip(ring.bodies.len() - missing)
            .cloned()
            .collect();
        Ok(Replay::new(ring.head, since, kept))
    }

    async fn head(&self, channel: &str) -> Result<u64, HistoryError> {
        let now = Instant::now();
        Ok(self
            .channels
            .get(channel)
            .filter(|ring| !self.expired(ring, now))
            .map_or(0, |ring| ring.head))
    }

    fn sweep(&self) {
        let now = Instant::now();
        self.channels.retain(|_, ring| !self.expired(ring, now));
        self.keys
            .retain(|_, used| now.duration_since(used.at) < KEY_RETENTION);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::history::conformance::{CAPACITY, TTL};
    use crate::history::History;

    fn make() -> Option<Arc<dyn History>> {
        Some(Arc::new(MemoryHistory::new(CAPACITY, TTL)))
    }

    crate::history_conformance!(make());

    #[tokio::test]
    async fn sweeping_frees_idle_channels() {
        let history = MemoryHistory::new(4, Duration::from_millis(50));
        history.append("chat:1", Bytes::from("x")).await.unwrap();
        assert_eq!(history.channel_count(), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        history.sweep();
        assert_eq!(history.channel_count(), 0);
    }
}
