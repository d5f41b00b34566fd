//! An ordered set with rank queries: a sorted vector cut into chunks
//! (square-root decomposition).
//!
//! The memory store must answer "what is this user's rank" and "who is at rank
//! k" on a 1,000,000-entry board well under 2 ms. A `BTreeSet` finds a key in
//! O(log n) but counts what is before it only by walking, O(n); a single sorted
//! `Vec` ranks by binary search but inserts in O(n) (megabytes moved per score).
//! Chunks of at most [`MAX_CHUNK`] sorted keys, themselves in order, do both
//! in O(n / chunk + chunk): a binary search over the chunks' last keys finds the
//! chunk, a sum of the chunk lengths before it gives the rank, and an insert or
//! remove shifts at most one chunk. At 1,000,000 entries that is ~2,000 chunk
//! lengths to add (a few microseconds) and ≤1,024 keys to move: no tree
//! balancing, cache-friendly, and small enough to read in one sitting.

/// A chunk that grows beyond this splits in two.
const MAX_CHUNK: usize = 1024;
/// Chunks made by a bulk build hold this many (room to grow before splitting).
const BUILD_CHUNK: usize = MAX_CHUNK / 2;

/// An ordered set of distinct keys with rank and select.
#[derive(Debug, Clone)]
pub(crate) struct RankedSet<T> {
    /// Non-empty sorted chunks, each entirely below the next.
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Ord + Clone> RankedSet<T> {
    /// An empty set.
    pub(crate) fn new() -> Self {
        RankedSet {
            chunks: Vec::new(),
            len: 0,
        }
    }

    /// A set of `keys`, which must be sorted and distinct (a bulk load sorts
    /// them once, O(n log n), instead of n inserts).
    pub(crate) fn from_sorted(keys: Vec<T>) -> Self {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let len = keys.len();
        let chunks = keys.chunks(BUILD_CHUNK).map(<[T]>::to_vec).collect();
        RankedSet { chunks, len }
    }

    /// The number of keys.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The index of the chunk that holds `key` or would receive it.
    fn chunk_of(&self, key: &T) -> usize {
        let i = self
            .chunks
            .partition_point(|c| c.last().is_some_and(|last| last < key));
        i.min(self.chunks.len().saturating_sub(1))
    }

    fn before(&self, chunk: usize) -> usize {
        self.chunks[..chunk].iter().map(Vec::len).sum()
    }

    /// Adds `key`; `false` when it was there already.
    pub(crate) fn insert(&mut self, key: T) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(vec![key]);
            self.len = 1;
            return true;
        }
        let c = self.chunk_of(&key);
        let chunk = &mut self.chunks[c];
        match chunk.binary_search(&key) {
            Ok(_) => return false,
            Err(i) => chunk.insert(i, key),
        }
        if chunk.len() > MAX_CHUNK {
            let tail = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(c + 1, tail);
        }
        self.len += 1;
        true
    }

    /// Removes `key`; `false` when it was not there.
    pub(crate) fn remove(&mut self, key: &T) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let c = self.chunk_of(key);
        let chunk = &mut self.chunks[c];
        let Ok(i) = chunk.binary_search(key) else {
            return false;
        };
        chunk.remove(i);
        if chunk.is_empty() {
            self.chunks.remove(c);
        }
        self.len -= 1;
        true
    }

    /// The 0-based rank of `key`, if present.
    pub(crate) fn rank(&self, key: &T) -> Option<usize> {
        if self.chunks.is_empty() {
            return None;
        }
        let c = self.chunk_of(key);
        let i = self.chunks[c].binary_search(key).ok()?;
        Some(self.before(c) + i)
    }

    /// How many keys are less than or equal to `key` (present or not): the
    /// index where a page after `key` starts.
    pub(crate) fn count_le(&self, key: &T) -> usize {
        if self.chunks.is_empty() {
            return 0;
        }
        let c = self.chunk_of(key);
        self.before(c) + self.chunks[c].partition_point(|k| k <= key)
    }

    /// Up to `n` keys from 0-based rank `start` on, in order.
    pub(crate) fn range(&self, start: usize, n: usize) -> impl Iterator<Item = &T> + '_ {
        let mut skip = start;
        let mut first = self.chunks.len();
        for (i, c) in self.chunks.iter().enumerate() {
            if skip < c.len() {
                first = i;
                break;
            }
            skip -= c.len();
        }
        self.chunks[first.min(self.chunks.len())..]
            .iter()
            .flatten()
            .skip(skip)
            .take(n)
    }

    /// Every key, in order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16),
        Remove(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => any::<u16>().prop_map(|k| Op::Insert(k % 4096)),
            1 => any::<u16>().prop_map(|k| Op::Remove(k % 4096)),
        ]
    }

    proptest! {
        // Against a BTreeSet as the model: membership, order, rank, count_le and
        // range agree after any sequence of inserts and removes (enough keys to
        // split chunks several times).
        #[test]
        fn behaves_like_a_sorted_set(ops in proptest::collection::vec(op(), 0..6000), probe in 0u16..4200) {
            let mut set = RankedSet::new();
            let mut model = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(k) => prop_assert_eq!(set.insert(k), model.insert(k)),
                    Op::Remove(k) => prop_assert_eq!(set.remove(&k), model.remove(&k)),
                }
            }
            prop_assert_eq!(set.len(), model.len());
            let keys: Vec<u16> = model.iter().copied().collect();
            prop_assert_eq!(set.iter().copied().collect::<Vec<_>>(), keys.clone());
            prop_assert_eq!(set.rank(&probe), keys.iter().position(|&k| k == probe));
            prop_assert_eq!(set.count_le(&probe), keys.iter().filter(|&&k| k <= probe).count());
            let start = usize::from(probe) % (keys.len() + 2);
            let got: Vec<u16> = set.range(start, 7).copied().collect();
            let want: Vec<u16> = keys.iter().skip(start).take(7).copied().collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_bulk_build_ranks_like_inserts() {
        let keys: Vec<u32> = (0..5000).map(|k| k * 3).collect();
        let set = RankedSet::from_sorted(keys.clone());
        assert_eq!(set.len(), 5000);
        assert_eq!(set.rank(&2997), Some(999));
        assert_eq!(set.rank(&2998), None);
        assert_eq!(set.count_le(&2998), 1000);
        assert_eq!(
            set.range(4998, 5).copied().collect::<Vec<_>>(),
            vec![14994, 14997]
        );
    }
}
