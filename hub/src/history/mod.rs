//! Channel history: where a channel's `seq` comes from and its recent events are
//! kept for resume.
//!
//! # Why seq and history live together, outside the node
//!
//! A publish on node A must reach node B with the same `seq`, `seq` must grow
//! strictly per channel whichever node publishes, and a client that reconnects to
//! *another* node must be able to resume. So neither the counter nor the ring can
//! be per node: [`History::append`] assigns the next `seq` and stores the event in
//! the channel's bounded ring in one atomic step, in the one place every node
//! shares — an in-process map in all-in-one mode ([`memory::MemoryHistory`]), a Lua
//! script over two Redis keys when distributed ([`redis::RedisHistory`]). Only
//! then is the event handed to the broker.
//!
//! Because append and broker publish are two steps, two publishers of one channel
//! can reach the broker out of order (A appends 5, B appends 6, B's publish
//! arrives first) and the at-most-once broker can drop a message. Each node's
//! channel task (`registry/fanout.rs`) therefore delivers in `seq` order: an event
//! at or below the last one delivered is a duplicate and skipped; an event that
//! skips ahead first fetches the missing ones from the history (they were
//! appended before the later event was published, so they are there).
//!
//! # Epochs
//!
//! A channel's counter does not start at 1 but at the current time in unix
//! microseconds (about 1.7·10¹⁵, exact in a JavaScript number). When a history
//! expires after `ring_ttl` without events, or Redis is flushed, the next append
//! starts a new epoch at the then-current time, which is larger than any seq of
//! the old one unless a channel averaged more than a million events per second.
//! So `seq` never goes backwards, even across a lost Redis; a client whose `since`
//! belongs to a lost epoch simply gets `recovered: false`.

pub mod memory;
pub mod redis;

use async_trait::async_trait;
use bytes::Bytes;

/// Why the history could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel history: {0}")]
pub struct HistoryError(pub String);

/// One kept event: its seq and the opaque body the hub stored with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The event's seq.
    pub seq: u64,
    /// What was appended.
    pub body: Bytes,
}

/// What a channel's history holds after a given seq.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Replay {
    /// The channel's last seq; 0 when it has no history.
    pub head: u64,
    /// The kept events after `since`, oldest first, ending at `head`.
    pub entries: Vec<Entry>,
    /// Whether `entries` is *every* event after `since` (nothing was trimmed, and
    /// `since` belongs to the current epoch).
    pub complete: bool,
}

impl Replay {
    /// Builds a replay from the `kept` bodies ending at `head`, as seen from `since`.
    pub(crate) fn new(head: u64, since: u64, kept: Vec<Bytes>) -> Replay {
        let count = kept.len() as u64;
        let first = head + 1 - count.min(head);
        let entries: Vec<Entry> = kept
            .into_iter()
            .enumerate()
            .map(|(i, body)| Entry {
                seq: first + i as u64,
                body,
            })
            .filter(|entry| entry.seq > since)
            .collect();
        let complete = since <= head && head - since == entries.len() as u64;
        Replay {
            head,
            entries,
            complete,
        }
    }
}

/// How long [`History::append_once`] remembers a key: a publisher's retries come
/// within seconds, and a key must not outlive the memory it costs.
pub const KEY_RETENTION: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// What [`History::append_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The body was appended with this seq.
    New(u64),
    /// The key was used before, for the same fingerprint: nothing was appended,
    /// and this is the seq the first append got.
    Repeat(u64),
    /// The key was used before for another fingerprint: nothing was appended.
    Mismatch,
}

/// A channel's seq counter and bounded ring of recent events.
#[async_trait]
pub trait History: Send + Sync + 'static {
    /// Assigns the next seq of `channel` to `body`, keeps it in the ring, and
    /// returns the seq.
    async fn append(&self, channel: &str, body: Bytes) -> Result<u64, HistoryError>;

    /// Like [`History::append`], but at most once per `key` of `channel` within
    /// [`KEY_RETENTION`], atomically: a publisher retrying after a lost answer gets
    /// the first seq back instead of a duplicate event. `fingerprint` identifies
    /// what was published with the key; the same key with another fingerprint is a
    /// [`Appended::Mismatch`].
    async fn append_once(
        &self,
        channel: &str,
        key: &str,
        fingerprint: &str,
        body: Bytes,
    ) -> Result<Appended, HistoryError>;

    /// The kept events of `channel` after `since`.
    async fn since(&self, channel: &str, since: u64) -> Result<Replay, HistoryError>;

    /// The last seq of `channel`; 0 when it has no history.
    async fn head(&self, channel: &str) -> Result<u64, HistoryError>;

    /// Frees what expired; the hub calls it periodically. Backends that expire
    /// by themselves (Redis) do nothing.
    fn sweep(&self) {}
}

/// Unix time in microseconds: the first seq of a new epoch.
pub(crate) fn epoch_start() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64)
}

/// The conformance suite every [`History`] backend passes.
///
/// Each function takes a fresh backend whose rings keep [`conformance::CAPACITY`]
/// events and expire after [`conformance::TTL`] without an append.
#[doc(hidden)]
// Test code shipped for the backends' tests: a panic there is a failing test.
#[allow(clippy::unwrap_used)]
pub mod conformance {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// Events each ring of the backend under test keeps.
    pub const CAPACITY: usize = 4;
    /// Idle time after which the backend under test forgets a channel.
    pub const TTL: Duration = Duration::from_millis(400);

    fn body(n: u64) -> Bytes {
        Bytes::from(format!("event {n}"))
    }

    /// A fresh channel starts an epoch at the current time and counts up by one.
    pub async fn seqs_start_at_the_epoch_and_count_up(history: Arc<dyn History>) {
        let channel = "chat:1";
        assert_eq!(history.head(channel).await.unwrap(), 0);
        let before = epoch_start();
        let first = history.append(channel, body(1)).await.unwrap();
        assert!(first > before, "first seq {first} starts after {before}");
        for n in 1..=3 {
            assert_eq!(
                history.append(channel, body(n + 1)).await.unwrap(),
                first + n
            );
        }
        assert_eq!(history.head(channel).await.unwrap(), first + 3);
        // Another channel has its own counter.
        assert_eq!(history.head("chat:2").await.unwrap(), 0);
    }

    /// `since` within the ring replays exactly what followed, in order.
    pub async fn since_within_the_ring_is_complete(history: Arc<dyn History>) {
        let channel = "user:7";
        let first = history.append(channel, body(0)).await.unwrap();
        for n in 1..CAPACITY as u64 {
            history.append(channel, body(n)).await.unwrap();
        }
        let head = first + CAPACITY as u64 - 1;

        let replay = history.since(channel, head).await.unwrap();
        assert_eq!(
            (replay.head, replay.complete, replay.entries.len()),
            (head, true, 0)
        );

        let replay = history.since(channel, first).await.unwrap();
        assert!(replay.complete);
        let seqs: Vec<u64> = replay.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (first + 1..=head).collect::<Vec<_>>());
        assert_eq!(replay.entries[0].body, body(1));

        // The oldest kept event is `first`, so `since = first - 1` is still complete.
        let replay = history.since(channel, first - 1).await.unwrap();
        assert!(replay.complete);
        assert_eq!(replay.entries.len(), CAPACITY);
        assert_eq!(replay.entries[0].body, body(0));
    }

    /// `since` older than the ring is incomplete but offers what is kept.
    pub async fn since_older_than_the_ring_is_incomplete(history: Arc<dyn History>) {
        let channel = "leaderboard:xp:weekly";
        let first = history.append(channel, body(0)).await.unwrap();
        for n in 1..(CAPACITY as u64 + 3) {
            history.append(channel, body(n)).await.unwrap();
        }
        let head = first + CAPACITY as u64 + 2;
        let replay = history.since(channel, first).await.unwrap();
        assert!(!replay.complete);
        assert_eq!(replay.head, head);
        let seqs: Vec<u64> = replay.entries.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (head + 1 - CAPACITY as u64..=head).collect::<Vec<_>>()
        );
        assert_eq!(
            replay.entries.last().unwrap().body,
            body(CAPACITY as u64 + 2)
        );
    }

    /// A `since` the channel never reached (another epoch) or a channel without
    /// history is handled without inventing events.
    pub async fn unknown_positions_are_incomplete(history: Arc<dyn History>) {
        let empty = history.since("chat:9", 0).await.unwrap();
        assert_eq!(
            empty,
            Replay {
                head: 0,
                entries: vec![],
                complete: true
            }
        );
        let ahead = history.since("chat:9", 12).await.unwrap();
        assert!(!ahead.complete && ahead.entries.is_empty());

        let head = history.append("chat:9", body(1)).await.unwrap();
        let ahead = history.since("chat:9", head + 5).await.unwrap();
        assert!(!ahead.complete && ahead.entries.is_empty());
        assert_eq!(ahead.head, head);
    }

    /// Concurrent appends get distinct, contiguous seqs.
    pub async fn concurrent_appends_get_distinct_seqs(history: Arc<dyn History>) {
        let tasks: Vec<_> = (0..32)
            .map(|n| {
                let history = history.clone();
                tokio::spawn(async move { history.append("community:3", body(n)).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 32);
        assert_eq!(seqs[31] - seqs[0], 31);
        assert_eq!(history.head("community:3").await.unwrap(), seqs[31]);
    }

    /// An idle channel is forgotten; its next event starts a later epoch.
    pub async fn a_key_appends_once(history: Arc<dyn History>) {
        let first = history
            .append_once("chat:1", "k1", "fp", body(1))
            .await
            .unwrap();
        let Appended::New(seq) = first else {
            panic!("the first use of a key appends: {first:?}")
        };
        assert_eq!(
            history
                .append_once("chat:1", "k1", "fp", body(1))
                .await
                .unwrap(),
            Appended::Repeat(seq)
        );
        assert_eq!(
            history
                .append_once("chat:1", "k1", "other", body(2))
                .await
                .unwrap(),
            Appended::Mismatch
        );
        // Nothing was appended by the repeats; another key, or the same key on
        // another channel, appends.
        assert_eq!(history.head("chat:1").await.unwrap(), seq);
        let replay = history.since("chat:1", seq - 1).await.unwrap();
        assert_eq!(replay.entries.len(), 1);
        assert_eq!(
            history
                .append_once("chat:1", "k2", "fp", body(3))
                .await
                .unwrap(),
            Appended::New(seq + 1)
        );
        assert!(matches!(
            history
                .append_once("chat:2", "k1", "fp", body(4))
                .await
                .unwrap(),
            Appended::New(_)
        ));
    }

    pub async fn concurrent_uses_of_a_key_append_once(history: Arc<dyn History>) {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let history = history.clone();
                tokio::spawn(async move {
                    history
                        .append_once("chat:1", "k", "fp", body(1))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut new = Vec::new();
        let mut repeats = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Appended::New(seq) => new.push(seq),
                Appended::Repeat(seq) => repeats.push(seq),
                Appended::Mismatch => panic!("same fingerprint"),
            }
        }
        assert_eq!(new.len(), 1, "exactly one append");
        assert!(repeats.iter().all(|seq| *seq == new[0]));
        let replay = history.since("chat:1", 0).await.unwrap();
        assert_eq!(replay.head, new[0]);
    }

    pub async fn idle_channels_expire_into_a_later_epoch(history: Arc<dyn History>) {
        let channel = "chat:5";
        history.append(channel, body(1)).await.unwrap();
        let old_head = history.append(channel, body(2)).await.unwrap();
        tokio::time::sleep(TTL + Duration::from_millis(200)).await;
        history.sweep();
        assert_eq!(history.head(channel).await.unwrap(), 0);
        let replay = history.since(channel, old_head).await.unwrap();
        assert!(!replay.complete, "the old epoch is gone");
        let new = history.append(channel, body(3)).await.unwrap();
        assert!(
            new > old_head + 1,
            "a new epoch ({new}) starts after the old one ({old_head})"
        );
        let replay = history.since(channel, old_head).await.unwrap();
        assert!(!replay.complete);
        assert_eq!(replay.entries.len(), 1);
    }

    /// Instantiates the suite for a backend: `$make` is an async expression
    /// giving `Option<Arc<dyn History>>` (`None` skips).
    #[macro_export]
    #[doc(hidden)]
    macro_rules! history_conformance {
        ($make:expr) => {
            $crate::history_conformance!(@tests $make;
                seqs_start_at_the_epoch_and_count_up,
                since_within_the_ring_is_complete,
                since_older_than_the_ring_is_incomplete,
                unknown_positions_are_incomplete,
                concurrent_appends_get_distinct_seqs,
                a_key_appends_once,
                concurrent_uses_of_a_key_append_once,
                idle_channels_expire_into_a_later_epoch,
            );
        };
        (@tests $make:expr; $($name:ident),+ $(,)?) => {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(history) = $make else { return };
                    $crate::history::conformance::$name(history).await;
                }
            )+
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_number_their_entries_back_from_the_head() {
        let kept = vec![Bytes::from("a"), Bytes::from("b"), Bytes::from("c")];
        let replay = Replay::new(10, 8, kept.clone());
        assert!(replay.complete);
        assert_eq!(
            replay.entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![9, 10]
        );
        let replay = Replay::new(10, 5, kept.clone());
        assert!(!replay.complete);
        assert_eq!(replay.entries.len(), 3);
        let replay = Replay::new(10, 7, kept);
        assert!(replay.complete);
        assert_eq!(replay.entries.len(), 3);
    }
}
