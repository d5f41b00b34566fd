//! What the leaderboard benches share: a reproducible board of random XP
//! totals, and percentiles of timed probes.

use std::sync::Arc;
use std::time::Duration;

use criterion::Criterion;
use tokio::runtime::Runtime;
use vigor_leaderboards::{BoardStore, MemoryBoardStore, RedisBoardStore};

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigor_common::Id;
use vigor_leaderboards::{Score, Seed, Seeds};

/// Users 1..=`entries` with XP totals with plenty of ties, as real boards have,
/// reached at random instants of 2026 (the same for every run).
pub fn seeds(entries: i64) -> Seeds {
    let mut rng = StdRng::seed_from_u64(14);
    let base: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().expect("a timestamp");
    let seeds = (1..=entries)
        .map(|u| Seed {
            user: Id::from_i64(u),
            score: Score::new(rng.gen_range(0..200_000)).expect("in range"),
            achieved_at: base + chrono::Duration::seconds(rng.gen_range(0..30_000_000)),
        })
        .collect();
    Seeds::new(seeds).expect("distinct users")
}

/// The 50th and 99th percentiles of `samples`.
pub fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

/// A bench of one store: `(criterion, runtime, store name, store)`.
pub type StoreBench = fn(&mut Criterion, &Runtime, &str, Arc<dyn BoardStore>);

/// Runs `bench` on the memory store, then on Redis under a fresh prefix when
/// `VIGOR_TEST_REDIS_URL` is set.
pub fn on_each_store(c: &mut Criterion, bench: StoreBench) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let grace = Duration::from_secs(3600);
    bench(c, &rt, "memory", Arc::new(MemoryBoardStore::new(grace)));
    match std::env::var("VIGOR_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => {
            let prefix = format!("bench{}:", rand::random::<u32>());
            let store = rt
                .block_on(RedisBoardStore::connect(&url, &prefix, grace))
                .expect("Redis connects");
            bench(c, &rt, "redis", Arc::new(store));
        }
        _ => eprintln!("redis: skipped (VIGOR_TEST_REDIS_URL is not set)"),
    }
}
