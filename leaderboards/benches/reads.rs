//! The read side of issue 14's leaderboards beyond rank and around-me (see
//! `ranks.rs`): a top page, a friends board (the ranks of 100 people), and a
//! live update reaching many subscribers, in memory and on Redis (when
//! `VIGOR_TEST_REDIS_URL` is set).
//!
//! `cargo bench -p vigor-leaderboards --bench reads`
//!
//! The board holds 100,000 entries (loaded in one bulk load under a fresh
//! prefix, dropped at the end). The live probe runs the service's own `Live`
//! (note one score change, flush) over the hub's in-process publisher with
//! 1,000 broker subscribers on the board's channel, and times until the last
//! subscriber has the update: p50/p99 over 200 rounds are printed.

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
use vigor_common::broker::memory::MemoryBroker;
use vigor_common::broker::Broker;
use vigor_common::events::ScoresChanged;
use vigor_common::Id;
use vigor_leaderboards::http::Boards;
use vigor_leaderboards::live::{score_change, Live, LiveSettings};
use vigor_leaderboards::store::top_page;
use vigor_leaderboards::{BoardDef, BoardStore, BoardWindow, Scope, Score, Window};

const ENTRIES: i64 = 100_000;
const FRIENDS: usize = 100;
const SUBSCRIBERS: usize = 1_000;
const LIVE_ROUNDS: usize = 200;

fn bench_store(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn BoardStore>,
) {
    let board: BoardWindow = BoardDef::xp()
        .window_at(Window::Weekly, Scope::Global, Utc::now())
        .unwrap();
    rt.block_on(store.load(&board, support::seeds(ENTRIES)))
        .unwrap();
    let mut rng = StdRng::seed_from_u64(7);

    let mut group = c.benchmark_group(format!("{name}_100k"));
    group.sample_size(20);
    group.bench_function("top_page_20", |b| {
        b.iter(|| {
            rt.block_on(top_page(store.as_ref(), &board, 20, None))
                .unwrap()
        })
    });
    group.bench_function("friends_100", |b| {
        b.iter(|| {
            let friends: Vec<Id> = (0..FRIENDS)
                .map(|_| Id::from_i64(rng.gen_range(1..=ENTRIES)))
                .collect();
            rt.block_on(store.ranks_of(&board, &friends)).unwrap()
        })
    });
    group.finish();

    // Live: one change noted and flushed, until the last of 1,000 subscribers has it.
    let broker: Arc<dyn Broker> = Arc::new(MemoryBroker::new());
    let publisher = Arc::new(vigor_hub::Publisher::in_process(
        broker.clone(),
        &Default::default(),
    ));
    let live = Live::new(
        store.clone(),
        Boards::new(BoardDef::builtins()),
        publisher,
        LiveSettings {
            interval: Duration::from_millis(500),
            top: 10,
        },
    );
    let mut subscribers = rt.block_on(async {
        let mut subs = Vec::new();
        for _ in 0..SUBSCRIBERS {
            subs.push(broker.subscribe("leaderboard:xp:weekly").await.unwrap());
        }
        subs
    });
    let samples: Vec<Duration> = (0..LIVE_ROUNDS)
        .map(|round| {
            // A new leader each round, so the top changes and a push is due.
            let leader = Id::from_i64(1 + round as i64);
            let now = Utc::now();
            let submitted = rt
                .block_on(store.submit(&board, leader, Score::new(1_000_000).unwrap(), now))
                .unwrap();
            let started = Instant::now();
            live.note(&ScoresChanged {
                user_id: leader,
                changes: vec![score_change(&board, &submitted, now)],
            });
            rt.block_on(async {
                live.flush().await;
                for sub in &mut subscribers {
                    sub.recv().await.unwrap();
                }
            });
            started.elapsed()
        })
        .collect();
    let (p50, p99) = support::percentiles(samples);
    eprintln!(
        "{name}: live update to {SUBSCRIBERS} subscribers over {LIVE_ROUNDS} rounds: p50 {p50:?}, p99 {p99:?}"
    );
    rt.block_on(store.drop_board(&board)).unwrap();
}

fn reads(c: &mut Criterion) {
    support::on_each_store(c, bench_store);
}

criterion_group!(benches, reads);
criterion_main!(benches);
