//! Rank and around-me on a 1,000,000-entry board, in memory and on Redis (when
//! `VIGOR_TEST_REDIS_URL` is set). Issue 14's budget: p99 under 2 ms for both.
//!
//! `cargo bench -p vigor-leaderboards --bench ranks`
//!
//! Criterion reports the mean of each query; since the budget is a p99, each
//! store is also probed with 10,000 queries for random users, one at a time,
//! and the 50th/99th percentiles are printed, as is the time of the bulk load
//! that fills the board (the rebuild path). Point the Redis URL at a
//! throwaway server: the load writes 1,000,000 entries plus one index key per
//! user under a fresh prefix, and the bench deletes the board but not the
//! index keys.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]
// criterion_group! makes an undocumented public function; a bench is no library.
#![allow(missing_docs)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigor_common::Id;
use vigor_leaderboards::{BoardDef, BoardStore, BoardWindow, Scope, Score, Window};

const ENTRIES: i64 = 1_000_000;
const PROBES: usize = 10_000;
const RADIUS: usize = 5;

fn bench_store(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn BoardStore>,
) {
    let board: BoardWindow = BoardDef::xp()
        .window_at(Window::AllTime, Scope::Global, Utc::now())
        .expect("xp keeps all_time");
    let seeds = support::seeds(ENTRIES);
    let started = Instant::now();
    rt.block_on(store.load(&board, seeds)).expect("the load");
    eprintln!(
        "{name}: bulk load of {ENTRIES} entries took {:?}",
        started.elapsed()
    );
    assert_eq!(
        rt.block_on(store.count(&board)).expect("count"),
        ENTRIES as u64
    );

    let mut rng = StdRng::seed_from_u64(7);
    for (what, around) in [("rank", false), ("around_me", true)] {
        let samples: Vec<Duration> = (0..PROBES)
            .map(|_| {
                let user = Id::from_i64(rng.gen_range(1..=ENTRIES));
                let started = Instant::now();
                if around {
                    let rows = rt
                        .block_on(store.around(&board, user, RADIUS))
                        .expect("around");
                    assert!(!rows.is_empty());
                } else {
                    let entry = rt.block_on(store.rank(&board, user)).expect("rank");
                    assert!(entry.is_some());
                }
                started.elapsed()
            })
            .collect();
        let (p50, p99) = support::percentiles(samples);
        eprintln!("{name}: {what} over {PROBES} random users: p50 {p50:?}, p99 {p99:?}");
    }

    let mut group = c.benchmark_group(format!("{name}_1m"));
    group.sample_size(20);
    group.bench_function("rank", |b| {
        b.iter(|| {
            let user = Id::from_i64(rng.gen_range(1..=ENTRIES));
            rt.block_on(store.rank(&board, user)).expect("rank")
        })
    });
    group.bench_function("around_me_5", |b| {
        b.iter(|| {
            let user = Id::from_i64(rng.gen_range(1..=ENTRIES));
            rt.block_on(store.around(&board, user, RADIUS))
                .expect("around")
        })
    });
    group.bench_function("submit_incr", |b| {
        b.iter(|| {
            let user = Id::from_i64(rng.gen_range(1..=ENTRIES));
            let xp = Score::new(rng.gen_range(1..500)).expect("in range");
            rt.block_on(store.submit(&board, user, xp, Utc::now()))
                .expect("submit")
        })
    });
    group.finish();
    rt.block_on(store.drop_board(&board)).expect("drop");
}

fn ranks(c: &mut Criterion) {
    support::on_each_store(c, bench_store);
}

criterion_group!(benches, ranks);
criterion_main!(benches);
