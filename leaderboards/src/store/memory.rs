//! The all-in-one leaderboard store: every board instance in this process's
//! memory, under one mutex.
//!
//! Each instance is a [`RankedSet`] of sort keys (see `ranked.rs` for why not a
//! `BTreeSet`) plus a map from user to their key, the same pair the Redis store
//! keeps as a sorted set and a hash. Every operation holds the lock for
//! microseconds (no I/O, no `.await` inside); a bulk load sorts its entries
//! outside the lock and swaps the finished set in.
//!
//! Windowed instances expire like Redis keys: one past its period's end plus the
//! grace reads as empty and is dropped when next touched, and a write sweeps all
//! expired instances at most once a minute, so old periods do not pile up
//! without a background task.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigor_common::Id;

use super::ranked::RankedSet;
use super::{
    combine, from_millis, ordered, BoardStore, Entry, Position, Score, Seeds, StoreError,
    Submission,
};
use crate::board::{BoardWindow, Order};

/// How often a write sweeps expired instances.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The sort key of an entry: ordered score, achieved-at (ms), user.
type Key = (i64, i64, Id);

/// One board instance.
#[derive(Debug)]
struct Instance {
    order: Order,
    keys: RankedSet<Key>,
    by_user: HashMap<Id, Key>,
    expires_at: Option<DateTime<Utc>>,
}

impl Instance {
    fn new(board: &BoardWindow, expires_at: Option<DateTime<Utc>>) -> Self {
        Instance {
            order: board.order,
            keys: RankedSet::new(),
            by_user: HashMap::new(),
            expires_at,
        }
    }

    fn entry(&self, rank: usize, key: &Key) -> Entry {
        Entry {
            rank: rank as u64 + 1,
            user: key.2,
            score: ordered(self.order, key.0),
            achieved_at: from_millis(key.1),
        }
    }

    fn entries_from(&self, start: usize, n: usize) -> Vec<Entry> {
        self.keys
            .range(start, n)
            .enumerate()
            .map(|(i, k)| self.entry(start + i, k))
            .collect()
    }
}

#[derive(Debug)]
struct Inner {
    instances: HashMap<String, Instance>,
    last_sweep: DateTime<Utc>,
}

/// The in-memory [`BoardStore`].
#[derive(Debug, Clone)]
pub struct MemoryBoardStore {
    inner: Arc<Mutex<Inner>>,
    grace: chrono::Duration,
}

impl MemoryBoardStore {
    /// An empty store whose windowed instances expire `grace` after their period.
    pub fn new(grace: Duration) -> Self {
        MemoryBoardStore {
            inner: Arc::new(Mutex::new(Inner {
                instances: HashMap::new(),
                last_sweep: Utc::now(),
            })),
            grace: chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under the lock leaves plain data behind, never a broken
        // invariant worth refusing every later request for.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the live instance, if there is one.
    fn read<R>(&self, board: &BoardWindow, f: impl FnOnce(&Instance) -> R) -> Option<R> {
        let mut inner = self.lock();
        let name = board.name();
        let expired = inner
            .instances
            .get(&name)
            .is_some_and(|i| is_expired(i, Utc::now()));
        if expired {
            inner.instances.remove(&name);
            return None;
        }
        inner.instances.get(&name).map(f)
    }
}

fn is_expired(instance: &Instance, now: DateTime<Utc>) -> bool {
    instance.expires_at.is_some_and(|at| at <= now)
}

#[async_trait]
impl BoardStore for MemoryBoardStore {
    async fn submit(
        &self,
        board: &BoardWindow,
        user: Id,
        score: Score,
        at: DateTime<Utc>,
    ) -> Result<Submission, StoreError> {
        let now = Utc::now();
        let expires_at = board.expires_at(self.grace);
        let mut inner = self.lock();
        if now - inner.last_sweep > chrono::Duration::from_std(SWEEP_EVERY).unwrap_or_default() {
            inner.instances.retain(|_, i| !is_expired(i, now));
            inner.last_sweep = now;
        }
        let name = board.name();
        if inner
            .instances
            .get(&name)
            .is_some_and(|i| is_expired(i, now))
        {
            inner.instances.remove(&name);
        }
        let instance = inner
            .instances
            .entry(name)
            .or_insert_with(|| Instance::new(board, expires_at));
        let old = instance
            .by_user
            .get(&user)
            .map(|&(s, at_ms, _)| (ordered(board.order, s), at_ms));
        let ((new, new_at), changed) = combine(
            board.operator,
            board.order,
            old,
            score,
            at.timestamp_millis(),
        )?;
        if changed {
            let key = (ordered(board.order, new), new_at, user);
            if let Some(old_key) = instance.by_user.insert(user, key) {
                instance.keys.remove(&old_key);
            }
            instance.keys.insert(key);
        }
        if expires_at.is_some_and(|e| e <= now) {
            // Written into a period long gone: it expires at once, as in Redis.
            inner.instances.remove(&board.name());
        }
        Ok(Submission {
            old: old.map(|(s, _)| s),
            new,
            changed,
        })
    }

    async fn top(
        &self,
        board: &BoardWindow,
        after: Option<&Position>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .read(board, |i| {
                let start = after.map_or(0, |p| {
                    i.keys
                        .count_le(&(ordered(i.order, p.score), p.achieved_at_ms, p.user))
                });
                i.entries_from(start, limit)
            })
            .unwrap_or_default())
    }

    async fn rank(&self, board: &BoardWindow, user: Id) -> Result<Option<Entry>, StoreError> {
        Ok(self
            .read(board, |i| {
                let key = i.by_user.get(&user)?;
                let rank = i.keys.rank(key)?;
                Some(i.entry(rank, key))
            })
            .flatten())
    }

    async fn around(
        &self,
        board: &BoardWindow,
        user: Id,
        radius: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .read(board, |i| {
                let Some(rank) = i.by_user.get(&user).and_then(|k| i.keys.rank(k)) else {
                    return Vec::new();
                };
                let start = rank.saturating_sub(radius);
                i.entries_from(
                    start,
                    (rank - start).saturating_add(radius).saturating_add(1),
                )
            })
            .unwrap_or_default())
    }

    async fn ranks_of(&self, board: &BoardWindow, users: &[Id]) -> Result<Vec<Entry>, StoreError> {
        let mut entries = self
            .read(board, |i| {
                let mut keys: Vec<&Key> = users.iter().filter_map(|u| i.by_user.get(u)).collect();
                keys.sort_unstable();
                keys.dedup();
                keys.into_iter()
                    .filter_map(|k| Some(i.entry(i.keys.rank(k)?, k)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        entries.sort_by_key(|e| e.rank);
        Ok(entries)
    }

    async fn remove(&self, board: &BoardWindow, user: Id) -> Result<Option<i64>, StoreError> {
        let mut inner = self.lock();
        let Some(instance) = inner.instances.get_mut(&board.name()) else {
            return Ok(None);
        };
        let Some(key) = instance.by_user.remove(&user) else {
            return Ok(None);
        };
        instance.keys.remove(&key);
        let score = ordered(instance.order, key.0);
        if instance.by_user.is_empty() {
            // Like a Redis key whose last member went.
            inner.instances.remove(&board.name());
        }
        Ok(Some(score))
    }

    async fn remove_user(&self, user: Id) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let mut removed = 0;
        for instance in inner.instances.values_mut() {
            if let Some(key) = instance.by_user.remove(&user) {
                instance.keys.remove(&key);
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn count(&self, board: &BoardWindow) -> Result<u64, StoreError> {
        Ok(self.read(board, |i| i.keys.len() as u64).unwrap_or(0))
    }

    async fn expires_at(&self, board: &BoardWindow) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.read(board, |i| i.expires_at).flatten())
    }

    async fn drop_board(&self, board: &BoardWindow) -> Result<(), StoreError> {
        self.lock().instances.remove(&board.name());
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn load(&self, board: &BoardWindow, seeds: Seeds) -> Result<(), StoreError> {
        let mut instance = Instance::new(board, board.expires_at(self.grace));
        let mut keys: Vec<Key> = Vec::with_capacity(seeds.len());
        instance.by_user.reserve(seeds.len());
        for seed in seeds.as_slice() {
            let key = (
                ordered(board.order, seed.score.get()),
                seed.achieved_at.timestamp_millis(),
                seed.user,
            );
            keys.push(key);
            instance.by_user.insert(seed.user, key);
        }
        keys.sort_unstable();
        instance.keys = RankedSet::from_sorted(keys);
        let mut inner = self.lock();
        if seeds.is_empty() || is_expired(&instance, Utc::now()) {
            inner.instances.remove(&board.name());
        } else {
            inner.instances.insert(board.name(), instance);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::board::{BoardDef, Operator, Scope, Window};

    fn board(order: Order, operator: Operator) -> BoardWindow {
        let mut def = BoardDef::xp();
        def.order = order;
        def.operator = operator;
        def.window_at(Window::AllTime, Scope::Global, Utc::now())
            .expect("xp keeps all_time")
    }

    proptest! {
        // Against a naive model (a map of user to (score, achieved-at), sorted in
        // full for every question): after any submissions with any operator and
        // order, the store lists the same entries in the same order with ranks
        // 1..n, and rank, around-me and friends agree with that list.
        #[test]
        fn ranks_match_a_naive_model(
            ascending in any::<bool>(),
            op in 0..3u8,
            subs in proptest::collection::vec((0..30i64, -50..50i64, 0..5i64), 1..300),
            probe in 0..30i64,
            radius in 0..6usize,
        ) {
            let order = if ascending { Order::Ascending } else { Order::Descending };
            let operator = [Operator::Best, Operator::Set, Operator::Incr][usize::from(op)];
            let b = board(order, operator);
            let store = MemoryBoardStore::new(Duration::from_secs(60));
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let mut model: HashMap<i64, (i64, i64)> = HashMap::new();
            let mut clock = 0;
            for (u, score, dt) in subs {
                clock += dt;
                let at = from_millis(1_764_000_000_000 + clock);
                rt.block_on(store.submit(&b, Id::from_i64(u), Score::new(score).unwrap(), at)).unwrap();
                let ms = at.timestamp_millis();
                let next = match (model.get(&u), operator) {
                    (None, _) => Some(score),
                    (Some(&(old, _)), Operator::Incr) => (score != 0).then_some(old + score),
                    (Some(&(old, _)), Operator::Set) => (score != old).then_some(score),
                    (Some(&(old, _)), Operator::Best) => {
                        (ordered(order, score) < ordered(order, old)).then_some(score)
                    }
                };
                if let Some(s) = next {
                    model.insert(u, (s, ms));
                }
            }
            let mut want: Vec<(i64, i64, i64)> =
                model.iter().map(|(&u, &(s, at))| (ordered(order, s), at, u)).collect();
            want.sort_unstable();
            let want: Vec<(u64, i64, i64)> = want
                .iter()
                .enumerate()
                .map(|(i, &(o, _, u))| (i as u64 + 1, u, ordered(order, o)))
                .collect();
            let row = |e: &Entry| (e.rank, e.user.as_i64(), e.score);
            let got = rt.block_on(store.top(&b, None, 1000)).unwrap();
            prop_assert_eq!(got.iter().map(row).collect::<Vec<_>>(), want.clone());

            let mine = want.iter().position(|w| w.1 == probe);
            let rank = rt.block_on(store.rank(&b, Id::from_i64(probe))).unwrap();
            prop_assert_eq!(rank.as_ref().map(row), mine.map(|i| want[i]));
            let around = rt.block_on(store.around(&b, Id::from_i64(probe), radius)).unwrap();
            let want_around: Vec<_> = match mine {
                Some(i) => want[i.saturating_sub(radius)..(i + radius + 1).min(want.len())].to_vec(),
                None => Vec::new(),
            };
            prop_assert_eq!(around.iter().map(row).collect::<Vec<_>>(), want_around);
            let friends: Vec<Id> = (probe..probe + 5).map(Id::from_i64).collect();
            let got = rt.block_on(store.ranks_of(&b, &friends)).unwrap();
            let want_friends: Vec<_> =
                want.iter().copied().filter(|w| (probe..probe + 5).contains(&w.1)).collect();
            prop_assert_eq!(got.iter().map(row).collect::<Vec<_>>(), want_friends);
        }
    }
}
