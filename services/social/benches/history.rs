//! A history page of 50 messages with 1,000,000 messages stored, on SQLite, on
//! PostgreSQL (when `VIGOR_TEST_POSTGRES_URL` is set) and on a CQL server (when
//! `VIGOR_TEST_CQL_URI` is set). Issue 13's budget: p99 under 5 ms.
//!
//! `cargo bench -p vigor-social --bench history`
//!
//! The store is filled through `MessageStore::append`, the path a send takes:
//! 1,000 channels of 1,000 messages each, spread over 30 days (on CQL, day-wide
//! buckets: a channel's history spans 30 partitions, so a page walks buckets).
//! Each store is then probed with 10,000 pages, one at a time, each of a random
//! channel: half its newest 50, half the 50 before a random message of it; the
//! 50th and 99th percentiles are printed, and criterion reports the mean of the
//! same query. `VIGOR_BENCH_MESSAGES` sets a smaller total for a quick run.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]
// criterion_group! makes an undocumented public function; a bench is no library.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vigor_common::config::social::Replication;
use vigor_common::id::EPOCH_MS;
use vigor_common::{testkit, Id};
use vigor_social::messages::bucket::BucketWidth;
use vigor_social::messages::cql::{CqlMessages, CqlSettings};
use vigor_social::messages::sql::SqlMessages;
use vigor_social::messages::{HistoryQuery, MessageBody, MessageStore, NewMessage, Position};

const CHANNELS: i64 = 1_000;
const PROBES: usize = 10_000;
const PAGE: u32 = 50;
/// 30 days, in milliseconds.
const SPAN_MS: i64 = 30 * 24 * 3_600_000;

fn per_channel() -> i64 {
    let total: i64 = std::env::var("VIGOR_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    (total / CHANNELS).max(1)
}

/// Message `j` of channel `c`: its id, time-ordered within the channel and
/// spread over the 30 days before 2026-11-01.
fn message_id(c: i64, j: i64, per_channel: i64) -> Id {
    let start = 1_761_955_200_000 - SPAN_MS; // 2026-11-01 minus 30 days
    let at = start + j * (SPAN_MS / per_channel) + c;
    let since_epoch = (at as u64 - EPOCH_MS) as i64;
    Id::from_i64((since_epoch << 22) | (1 << 12))
}

async fn fill(store: &dyn MessageStore, per_channel: i64) -> Duration {
    let started = Instant::now();
    let body = MessageBody::parse("a message of about the length people write in a chat").unwrap();
    futures::stream::iter(0..CHANNELS * per_channel)
        .map(|n| {
            let (c, j) = (n % CHANNELS, n / CHANNELS);
            let message = NewMessage {
                id: message_id(c, j, per_channel),
                channel_id: Id::from_i64(c + 1),
                author_id: Id::from_i64(j % 10 + 1),
                body: body.clone(),
                client_msg_id: None,
                reply_to: None,
            };
            async move { store.append(message).await.unwrap() }
        })
        .buffer_unordered(64)
        .for_each(|_| async {})
        .await;
    started.elapsed()
}

fn query(rng: &mut StdRng, per_channel: i64) -> (Id, HistoryQuery) {
    let c = rng.gen_range(0..CHANNELS);
    let position = if rng.gen_bool(0.5) {
        Position::Latest
    } else {
        Position::Before(message_id(c, rng.gen_range(0..per_channel), per_channel))
    };
    (
        Id::from_i64(c + 1),
        HistoryQuery {
            position,
            limit: PAGE,
        },
    )
}

fn bench_store(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: Arc<dyn MessageStore>,
) {
    let per_channel = per_channel();
    let took = rt.block_on(fill(store.as_ref(), per_channel));
    println!(
        "{name}: stored {} messages in {:.1} s",
        CHANNELS * per_channel,
        took.as_secs_f64()
    );
    let mut rng = StdRng::seed_from_u64(13);
    let mut samples = Vec::with_capacity(PROBES);
    rt.block_on(async {
        for _ in 0..PROBES {
            let (channel, q) = query(&mut rng, per_channel);
            let started = Instant::now();
            let page = store.history(channel, q).await.unwrap();
            samples.push(started.elapsed());
            assert!(!page.items.is_empty() || matches!(q.position, Position::Before(_)));
        }
    });
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "{name}: a page of {PAGE}, {PROBES} probes: p50 {:?}, p99 {:?}",
        at(0.50),
        at(0.99)
    );
    c.bench_function(&format!("history/{name}/page_of_50"), |b| {
        b.to_async(rt).iter(|| {
            let (channel, q) = query(&mut rng, per_channel);
            let store = store.clone();
            async move { store.history(channel, q).await.unwrap() }
        })
    });
}

fn history(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sqlite = rt.block_on(testkit::sqlite(Some(&vigor_social::MIGRATIONS)));
    bench_store(
        c,
        &rt,
        "sqlite",
        Arc::new(SqlMessages::new(sqlite.database.clone())),
    );
    if let Some(pg) = rt.block_on(testkit::postgres(Some(&vigor_social::MIGRATIONS))) {
        bench_store(
            c,
            &rt,
            "postgres",
            Arc::new(SqlMessages::new(pg.database.clone())),
        );
    }
    if let Some(target) = testkit::cql_keyspace() {
        let settings = CqlSettings {
            nodes: vec![target.uri],
            keyspace: target.keyspace,
            replication: Replication::Simple(1),
            consistency: scylla::statement::Consistency::One,
            bucket_width: BucketWidth::new(Duration::from_secs(86_400)).unwrap(),
        };
        let store = rt.block_on(CqlMessages::open(settings, true)).unwrap();
        bench_store(c, &rt, "cql", Arc::new(store));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(200).measurement_time(Duration::from_secs(5));
    targets = history
}
criterion_main!(benches);
