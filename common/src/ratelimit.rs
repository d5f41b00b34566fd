//! One rate-limit algorithm for every limit in Vigor: GCRA, the "generic cell
//! rate algorithm".
//!
//! A bucket of `burst` tokens refilled at `per_second` is one number, the
//! *theoretical arrival time* (TAT) at which it would be full again, in whole time
//! units, so the arithmetic is exact — a burst of 50 admits exactly 50 — and a
//! bucket that is full is the same as no bucket at all (which lets idle buckets be
//! dropped without changing any decision). The gateway's per-client limit keeps
//! TATs in memory (nanoseconds) or in Redis (microseconds; its Lua script mirrors
//! [`Gcra::check`]); the hub keeps one per connection.

/// A token bucket of `burst` tokens refilled at `per_second`, as GCRA over whole
/// time units.
#[derive(Debug, Clone, Copy)]
pub struct Gcra {
    /// Time units per token (rounded up, so the rate never exceeds `per_second`).
    interval: u64,
    burst: u32,
}

/// What [`Gcra::check`] decided, in time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcraOutcome {
    /// Whether the cost was taken.
    pub allowed: bool,
    /// The TAT to store (unchanged when denied).
    pub tat: u64,
    /// Whole tokens left.
    pub remaining: u32,
    /// When denied, time units until the same cost would be allowed (a cost above
    /// the burst: until the bucket is full); zero when allowed.
    pub retry_after: u64,
    /// Time units until the bucket is full again.
    pub reset: u64,
}

impl Gcra {
    /// `units_per_second`: 1e9 for nanoseconds, 1e6 for microseconds.
    pub fn new(per_second: u32, burst: u32, units_per_second: u64) -> Gcra {
        let per_second = u64::from(per_second.max(1));
        Gcra {
            interval: units_per_second.div_ceil(per_second),
            burst: burst.max(1),
        }
    }

    /// Time units per token.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// The bucket size.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Checks `cost` against a bucket whose TAT is `tat` (`None`: no bucket, i.e. full).
    pub fn check(&self, tat: Option<u64>, now: u64, cost: u32) -> GcraOutcome {
        let tolerance = u64::from(self.burst).saturating_mul(self.interval);
        let tat = tat.unwrap_or(now).max(now);
        let new_tat = tat.saturating_add(u64::from(cost).saturating_mul(self.interval));
        if new_tat - now <= tolerance {
            GcraOutcome {
                allowed: true,
                tat: new_tat,
                remaining: self.whole_tokens(tolerance - (new_tat - now)),
                retry_after: 0,
                reset: new_tat - now,
            }
        } else {
            let debt = tat - now;
            let retry_after = if cost <= self.burst {
                new_tat - now - tolerance
            } else {
                debt
            };
            GcraOutcome {
                allowed: false,
                tat,
                remaining: self.whole_tokens(tolerance.saturating_sub(debt)),
                retry_after,
                reset: debt,
            }
        }
    }

    fn whole_tokens(&self, units: u64) -> u32 {
        u32::try_from(units / self.interval).unwrap_or(u32::MAX)
    }
}

/// One caller's bucket kept in process, timed by tokio's clock (so paused-time
/// tests can drive it).
#[derive(Debug, Clone)]
pub struct LocalBucket {
    gcra: Gcra,
    origin: tokio::time::Instant,
    tat: Option<u64>,
}

impl LocalBucket {
    /// A full bucket of `burst` tokens refilled at `per_second`.
    pub fn new(per_second: u32, burst: u32) -> LocalBucket {
        LocalBucket {
            gcra: Gcra::new(per_second, burst, NANOS_PER_SECOND),
            origin: tokio::time::Instant::now(),
            tat: None,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self) -> bool {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let outcome = self.gcra.check(self.tat, now, 1);
        self.tat = Some(outcome.tat);
        outcome.allowed
    }
}

/// Nanoseconds per second, the unit of in-process buckets.
pub const NANOS_PER_SECOND: u64 = 1_000_000_000;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECOND: u64 = NANOS_PER_SECOND;

    #[test]
    fn gcra_admits_exactly_the_burst_then_refills() {
        let gcra = Gcra::new(10, 3, SECOND);
        let mut tat = None;
        for expected_remaining in [2, 1, 0] {
            let outcome = gcra.check(tat, 0, 1);
            assert!(outcome.allowed);
            assert_eq!(outcome.remaining, expected_remaining);
            tat = Some(outcome.tat);
        }
        let denied = gcra.check(tat, 0, 1);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, SECOND / 10);
        assert_eq!(denied.reset, 3 * SECOND / 10);
        assert_eq!(denied.tat, tat.unwrap(), "a denial takes nothing");

        // 40 ms later: still 60 ms to wait.
        let later = gcra.check(tat, 40_000_000, 1);
        assert!(!later.allowed);
        assert_eq!(later.retry_after, 60_000_000);
        // After one interval, one token.
        let refilled = gcra.check(tat, SECOND / 10, 1);
        assert!(refilled.allowed);
        assert_eq!(refilled.remaining, 0);
        // Long idle: full again, never more than the burst.
        let idle = gcra.check(tat, 100 * SECOND, 1);
        assert_eq!(idle.remaining, 2);
    }

    #[test]
    fn gcra_costs_and_oversized_requests() {
        let gcra = Gcra::new(1, 5, SECOND);
        let first = gcra.check(None, 0, 3);
        assert!(first.allowed && first.remaining == 2);
        let second = gcra.check(Some(first.tat), 0, 3);
        assert!(!second.allowed);
        assert_eq!(second.retry_after, SECOND);
        let third = gcra.check(Some(first.tat), 0, 2);
        assert!(third.allowed && third.remaining == 0);
        // More than the bucket holds: never allowed; told when the bucket is full.
        let huge = gcra.check(None, 0, 6);
        assert!(!huge.allowed);
        assert_eq!(huge.retry_after, 0);
    }

    #[test]
    fn the_interval_rounds_up() {
        assert_eq!(Gcra::new(3, 1, 1_000_000).interval(), 333_334);
        assert_eq!(Gcra::new(50, 1, 1_000_000).interval(), 20_000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_local_bucket_admits_the_burst_then_the_rate() {
        let mut bucket = LocalBucket::new(10, 3);
        assert!((0..3).all(|_| bucket.take()));
        assert!(!bucket.take(), "the burst is spent");
        tokio::time::advance(Duration::from_millis(99)).await;
        assert!(!bucket.take(), "not yet a whole token");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(bucket.take());
        assert!(!bucket.take());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!((0..3).all(|_| bucket.take()), "never more than the burst");
        assert!(!bucket.take());
    }
}
