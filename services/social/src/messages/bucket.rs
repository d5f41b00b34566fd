//! Time buckets of a channel's messages, and the order in which history visits them.
//!
//! The CQL store partitions messages by `(channel_id, bucket)`: a bucket is a fixed
//! window of time (`social.chat_bucket_hours`) derived from the message id alone
//! (ids are time-ordered), so a writer never reads to learn where a message goes
//! and a partition stops growing when its window ends. History then walks buckets:
//! newest first from where the page starts (`before`), oldest first for `after`,
//! never past the channel's first and last recorded buckets, so a walk is bounded
//! even in a channel that went quiet for months.
//!
//! This module is pure arithmetic, shared by the CQL store and pinned by property
//! tests: every message of the range lies in a bucket the walk visits, in order,
//! each bucket once.

use std::time::Duration;

use vigor_common::Id;

/// The width of a bucket: a whole number of milliseconds, at least one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketWidth(u64);

/// Why a bucket width is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a chat bucket must be at least one millisecond wide")]
pub struct ZeroWidth;

impl BucketWidth {
    /// A width of `width` (sub-millisecond parts are dropped); zero is refused.
    pub fn new(width: Duration) -> Result<Self, ZeroWidth> {
        match u64::try_from(width.as_millis()) {
            Ok(0) => Err(ZeroWidth),
            Ok(ms) => Ok(BucketWidth(ms)),
            Err(_) => Ok(BucketWidth(u64::MAX)),
        }
    }

    /// A width of `hours` hours (at least one).
    pub fn hours(hours: u32) -> Result<Self, ZeroWidth> {
        Self::new(Duration::from_secs(u64::from(hours) * 3600))
    }

    /// The width in milliseconds.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// The bucket that holds the message with id `id`.
    pub fn bucket_of(self, id: Id) -> Bucket {
        // Ids sort by time, so buckets sort like ids. Negative ids never come
        // from a generator; clamp them to the first bucket instead of wrapping.
        let millis = if id.as_i64() < 0 { 0 } else { id.unix_millis() };
        Bucket((millis / self.0) as i64)
    }
}

/// One time window of one channel; a number that grows with time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(pub i64);

/// Which way a walk goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Newest first: for the latest page and `before` an id.
    Older,
    /// Oldest first: for `after` an id.
    Newer,
}

/// The buckets to visit, in order, for messages strictly on `direction`'s side of
/// the message in bucket `from`, in a channel whose messages lie in buckets
/// `first..=last` (its first and last recorded buckets).
///
/// `from` may lie outside the channel's range (a cursor from before the first
/// message, the latest page starting at the end of time): the walk is clamped to
/// the range and is empty when the range lies wholly on the other side.
pub fn walk(
    from: Bucket,
    direction: Direction,
    first: Bucket,
    last: Bucket,
) -> impl Iterator<Item = Bucket> {
    let (mut lo, mut hi) = match direction {
        Direction::Older => (first.0, from.0.min(last.0)),
        Direction::Newer => (from.0.max(first.0), last.0),
    };
    let mut done = lo > hi;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let next = match direction {
            Direction::Older => hi,
            Direction::Newer => lo,
        };
        if lo == hi {
            done = true;
        } else if direction == Direction::Older {
            hi -= 1;
        } else {
            lo += 1;
        }
        Some(Bucket(next))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vigor_common::id::EPOCH_MS;

    use super::*;

    /// An id made at `millis` after the id epoch with sequence `seq`.
    fn id_at(millis: u64, seq: u64) -> Id {
        Id::from_i64(((millis << 22) | (seq & 0xfff)) as i64)
    }

    #[test]
    fn a_bucket_is_the_window_of_the_id_time() {
        let hour = BucketWidth::hours(1).unwrap();
        let a = id_at(0, 0);
        let b = id_at(3_599_999, 4095);
        let c = id_at(3_600_000, 0);
        assert_eq!(hour.bucket_of(a), hour.bucket_of(b));
        assert_eq!(hour.bucket_of(c).0, hour.bucket_of(a).0 + 1);
        assert_eq!(hour.bucket_of(a).0, (EPOCH_MS / 3_600_000) as i64);
        assert_eq!(BucketWidth::new(Duration::ZERO), Err(ZeroWidth));
        assert_eq!(BucketWidth::hours(0), Err(ZeroWidth));
    }

    #[test]
    fn walks_are_clamped_to_the_channel() {
        let b = Bucket;
        let older: Vec<_> = walk(b(100), Direction::Older, b(3), b(5)).collect();
        assert_eq!(older, vec![b(5), b(4), b(3)]);
        let newer: Vec<_> = walk(b(0), Direction::Newer, b(3), b(5)).collect();
        assert_eq!(newer, vec![b(3), b(4), b(5)]);
        assert_eq!(walk(b(2), Direction::Older, b(3), b(5)).count(), 0);
        assert_eq!(walk(b(6), Direction::Newer, b(3), b(5)).count(), 0);
    }

    proptest! {
        /// Whatever the width, the ids and the channel's range: every message of
        /// the channel strictly older (newer) than the start lies in a bucket the
        /// walk visits; the walk visits each bucket once, in the direction's order,
        /// only buckets of the channel, and no bucket beyond the start.
        #[test]
        fn a_walk_covers_every_message_in_order_once(
            width_ms in 1u64..10_000_000,
            start in 0u64..1_000_000_000,
            messages in proptest::collection::vec((0u64..1_000_000_000, 0u64..4096), 1..40),
            older in any::<bool>(),
        ) {
            let width = BucketWidth::new(Duration::from_millis(width_ms)).unwrap();
            let ids: Vec<Id> = messages.iter().map(|&(t, s)| id_at(t, s)).collect();
            let first = ids.iter().map(|&i| width.bucket_of(i)).min().unwrap();
            let last = ids.iter().map(|&i| width.bucket_of(i)).max().unwrap();
            let from_id = id_at(start, 2048);
            let from = width.bucket_of(from_id);
            let direction = if older { Direction::Older } else { Direction::Newer };
            let visited: Vec<Bucket> = walk(from, direction, first, last).collect();

            // Each bucket once, in order.
            for pair in visited.windows(2) {
                match direction {
                    Direction::Older => prop_assert!(pair[0].0 == pair[1].0 + 1),
                    Direction::Newer => prop_assert!(pair[0].0 + 1 == pair[1].0),
                }
            }
            // Only the channel's buckets, never beyond the start.
            for b in &visited {
                prop_assert!(first <= *b && *b <= last);
                match direction {
                    Direction::Older => prop_assert!(*b <= from),
                    Direction::Newer => prop_assert!(*b >= from),
                }
            }
            // Every message on the far side of the start is covered.
            for id in ids {
                let wanted = match direction {
                    Direction::Older => id < from_id,
                    Direction::Newer => id > from_id,
                };
                if wanted {
                    prop_assert!(visited.contains(&width.bucket_of(id)), "{id:?} missed");
                }
            }
        }
    }
}
