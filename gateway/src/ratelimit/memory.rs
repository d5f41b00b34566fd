//! The in-process rate limiter, for all-in-one mode (one process sees every request).
//!
//! Buckets live in a `DashMap` keyed by client; a check locks only its key's shard,
//! for a few arithmetic operations, so concurrent checks of one key are serialised
//! (never over-admit) and checks of different keys rarely contend. A bucket is
//! one GCRA timestamp (see the parent module); once it lies in the past the bucket
//! is full, which is exactly the state of a client never seen. A sweep task removes
//! those buckets periodically, so memory holds only clients active within the last
//! `burst / per_second` seconds plus one sweep interval. The task stops on the
//! shutdown token or when the limiter is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use dashmap::DashMap;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use vigor_common::ratelimit::{Gcra, NANOS_PER_SECOND};

use super::{Decision, RateLimitError, RateLimiter};

/// How often idle buckets are swept by default.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// In-memory token buckets.
pub struct MemoryRateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    gcra: Gcra,
    /// Times are nanoseconds since `epoch`.
    epoch: Instant,
    /// Theoretical arrival time per key.
    buckets: DashMap<String, u64>,
}

impl Inner {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Removes full buckets; returns how many.
    fn sweep(&self) -> usize {
        let now = self.now();
        let before = self.buckets.len();
        self.buckets.retain(|_, tat| *tat > now);
        before.saturating_sub(self.buckets.len())
    }
}

impl MemoryRateLimiter {
    /// Buckets of `burst` tokens refilled at `per_second`, swept every
    /// [`DEFAULT_SWEEP_INTERVAL`] by a task on `tasks` that stops with `shutdown`.
    pub fn new(
        per_second: u32,
        burst: u32,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Self {
        Self::with_sweep_interval(per_second, burst, DEFAULT_SWEEP_INTERVAL, shutdown, tasks)
    }

    /// [`MemoryRateLimiter::new`] with another sweep interval.
    pub fn with_sweep_interval(
        per_second: u32,
        burst: u32,
        sweep_interval: Duration,
        shutdown: CancellationToken,
        tasks: &TaskTracker,
    ) -> Self {
        let inner = Arc::new(Inner {
            gcra: Gcra::new(per_second, burst, NANOS_PER_SECOND),
            epoch: Instant::now(),
            buckets: DashMap::new(),
        });
        tasks.spawn(sweep(Arc::downgrade(&inner), sweep_interval, shutdown));
        MemoryRateLimiter { inner }
    }

    /// How many clients have a bucket that is not full.
    pub fn tracked_clients(&self) -> usize {
        self.inner.buckets.len()
    }
}

async fn sweep(inner: Weak<Inner>, every: Duration, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticks.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                let removed = inner.sweep();
                if removed > 0 {
                    tracing::trace!(removed, left = inner.buckets.len(), "swept idle rate-limit buckets");
                }
            }
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, cost: u32) -> Result<Decision, RateLimitError> {
        let inner = &self.inner;
        let gcra = inner.gcra;
        // The shard lock is held for the arithmetic only, never across an await.
        let outcome = {
            let now = inner.now();
            if let Some(mut tat) = inner.buckets.get_mut(key) {
                let outcome = gcra.check(Some(*tat), now, cost);
                *tat = outcome.tat;
                outcome
            } else {
                let outcome = gcra.check(None, now, cost);
                if outcome.allowed && outcome.tat > now {
                    // A concurrent first check of the same key may have inserted
                    // meanwhile: redo it under the entry lock.
                    let mut entry = inner.buckets.entry(key.to_owned()).or_insert(now);
                    let outcome = gcra.check(Some(*entry), now, cost);
                    *entry = outcome.tat;
                    outcome
                } else {
                    outcome
                }
            }
        };
        Ok(Decision {
            allowed: outcome.allowed,
            limit: gcra.burst(),
            remaining: outcome.remaining,
            retry_after: Duration::from_nanos(outcome.retry_after),
            reset: Duration::from_nanos(outcome.reset),
        })
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_sweep_drops_full_buckets_only_and_stops_on_shutdown() {
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        // 10 per second, burst 2: a drained bucket is full again after 200 ms.
        let limiter = MemoryRateLimiter::with_sweep_interval(
            10,
            2,
            Duration::from_secs(1),
            shutdown.clone(),
            &tasks,
        );
        limiter.check("busy", 2).await.unwrap();
        limiter.check("idle", 1).await.unwrap();
        assert_eq!(limiter.tracked_clients(), 2);

        tokio::time::sleep(Duration::from_millis(150)).await;
        limiter.inner.sweep();
        assert_eq!(
            limiter.tracked_clients(),
            1,
            "the half-used bucket refilled and went"
        );
        assert!(
            !limiter.check("busy", 2).await.unwrap().allowed,
            "the drained one kept its state"
        );

        // The task sweeps on its own.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(limiter.tracked_clients(), 0);

        shutdown.cancel();
        tasks.close();
        tokio::time::timeout(Duration::from_secs(1), tasks.wait())
            .await
            .expect("the sweep task stops on shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn the_sweep_stops_when_the_limiter_is_dropped() {
        let tasks = TaskTracker::new();
        let limiter = MemoryRateLimiter::with_sweep_interval(
            1,
            1,
            Duration::from_millis(10),
            CancellationToken::new(),
            &tasks,
        );
        drop(limiter);
        tasks.close();
        tokio::time::timeout(Duration::from_secs(1), tasks.wait())
            .await
            .expect("the sweep task stops with its limiter");
    }

    #[tokio::test(start_paused = true)]
    async fn a_denied_first_check_leaves_no_bucket() {
        let tasks = TaskTracker::new();
        let limiter = MemoryRateLimiter::new(1, 2, CancellationToken::new(), &tasks);
        assert!(!limiter.check("k", 3).await.unwrap().allowed);
        assert!(limiter.check("k", 0).await.unwrap().allowed);
        assert_eq!(limiter.tracked_clients(), 0);
    }
}
