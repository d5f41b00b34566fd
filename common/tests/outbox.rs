//! The outbox and `processed_events` on SQLite and PostgreSQL: events enqueued in a
//! transaction reach the bus only when it commits, in id order, none lost or doubled
//! while the bus fails; redelivered events are recognised.
//!
//! The relay publishes to a real in-process bus; a wrapper makes it fail on demand.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::bus::memory::MemoryBus;
use vigor_common::bus::outbox::{self, OutboxRelay, RelayOptions};
use vigor_common::bus::{BusError, ConsumerOptions, DeadLetter, Event, EventBus, Subscription};
use vigor_common::db::Database;
use vigor_common::{testkit, Id};

vigor_common::sql_conformance!(None;
    an_event_enqueued_in_a_rolled_back_transaction_is_never_published,
    the_relay_publishes_committed_events_in_id_order,
    events_survive_a_failing_bus_in_order_without_duplicates,
    a_wake_publishes_without_waiting_for_the_poll,
    published_rows_are_deleted_after_the_retention_and_pending_ones_kept,
    the_relay_stops_on_shutdown,
    mark_processed_is_true_only_the_first_time,
    handlers_apply_an_event_once_per_group_and_ignore_other_topics,
);

const TOPIC: &str = "workout.logged";

fn event(n: i64) -> Event {
    Event {
        id: Id::from_i64(10_000 + n),
        name: TOPIC.to_owned(),
        occurred_at: chrono::Utc::now(),
        data: serde_json::json!({ "n": n }),
    }
}

/// Commits one transaction that enqueues `event`.
async fn enqueue_committed(db: &Database, event: &Event) {
    match db {
        Database::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            outbox::enqueue_sqlite(&mut tx, event).await.unwrap();
            tx.commit().await.unwrap();
        }
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            outbox::enqueue_postgres(&mut tx, event).await.unwrap();
            tx.commit().await.unwrap();
        }
    }
}

async fn outbox_rows(db: &Database, published: bool) -> i64 {
    let sql = if published {
        "SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL"
    } else {
        "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"
    };
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

/// Polls until `check` holds, failing after 5 s.
async fn eventually<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A consumer of the bus, joined before anything is published.
async fn consumer(bus: &MemoryBus) -> Box<dyn Subscription> {
    let options = ConsumerOptions {
        redelivery_after: Duration::from_secs(30),
        ..ConsumerOptions::default()
    };
    bus.subscribe(&[TOPIC], "test", "c1", options)
        .await
        .unwrap()
}

/// The next `n` events, acked, failing after 5 s.
async fn receive(sub: &mut Box<dyn Subscription>, n: usize) -> Vec<Id> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let delivery = timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("an event within 5 s")
            .unwrap();
        sub.ack(&delivery).await.unwrap();
        ids.push(delivery.event.id);
    }
    ids
}

async fn assert_nothing_within(sub: &mut Box<dyn Subscription>, wait: Duration) {
    if let Ok(delivery) = timeout(wait, sub.next()).await {
        panic!("expected no event, got {delivery:?}");
    }
}

fn fast() -> RelayOptions {
    RelayOptions {
        poll_interval: Duration::from_millis(50),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(50),
        ..RelayOptions::default()
    }
}

/// A running relay and what stops it.
struct Relay {
    handle: OutboxRelay,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Relay {
    fn start(db: &Database, bus: Arc<dyn EventBus>, options: RelayOptions) -> Relay {
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let handle = OutboxRelay::spawn_with(db.clone(), bus, options, shutdown.clone(), &tasks);
        Relay {
            handle,
            shutdown,
            tasks,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.tasks.close();
        timeout(Duration::from_secs(5), self.tasks.wait())
            .await
            .expect("the relay stops within 5 s");
    }
}

async fn an_event_enqueued_in_a_rolled_back_transaction_is_never_published(db: Database) {
    let bus = MemoryBus::new();
    let mut sub = consumer(&bus).await;
    let rolled_back = event(1);
    match &db {
        Database::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            outbox::enqueue_sqlite(&mut tx, &rolled_back).await.unwrap();
            tx.rollback().await.unwrap();
        }
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            outbox::enqueue_postgres(&mut tx, &rolled_back)
                .await
                .unwrap();
            tx.rollback().await.unwrap();
        }
    }
    let committed = event(2);
    enqueue_committed(&db, &committed).await;
    let relay = Relay::start(&db, Arc::new(bus.clone()), fast());
    assert_eq!(receive(&mut sub, 1).await, vec![committed.id]);
    assert_nothing_within(&mut sub, Duration::from_millis(300)).await;
    assert_eq!(
        outbox_rows(&db, true).await + outbox_rows(&db, false).await,
        1
    );
    relay.stop().await;
}

async fn the_relay_publishes_committed_events_in_id_order(db: Database) {
    let bus = MemoryBus::new();
    let mut sub = consumer(&bus).await;
    // Committed out of id order, over several batches.
    let mut numbers: Vec<i64> = (0..25).collect();
    numbers.reverse();
    numbers.swap(3, 17);
    for n in &numbers {
        enqueue_committed(&db, &event(*n)).await;
    }
    let options = RelayOptions {
        batch_size: 10,
        ..fast()
    };
    let relay = Relay::start(&db, Arc::new(bus.clone()), options);
    let expected: Vec<Id> = (0..25).map(|n| event(n).id).collect();
    assert_eq!(receive(&mut sub, 25).await, expected);
    eventually("marking every row published", || async {
        outbox_rows(&db, false).await == 0
    })
    .await;
    assert_eq!(outbox_rows(&db, true).await, 25);
    assert_nothing_within(&mut sub, Duration::from_millis(300)).await;
    relay.stop().await;
}

/// A bus that accepts `ok_first` events, then fails `failures` times, then works.
struct FailingBus {
    inner: MemoryBus,
    ok_first: u32,
    failures: u32,
    calls: AtomicU32,
    failed: AtomicU32,
}

#[async_trait]
impl EventBus for FailingBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call >= self.ok_first && call < self.ok_first.saturating_add(self.failures) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(BusError::Backend("the bus is down".to_owned()));
        }
        self.inner.publish(event).await
    }

    async fn subscribe(
        &self,
        topics: &[&str],
        group: &str,
        consumer: &str,
        options: ConsumerOptions,
    ) -> Result<Box<dyn Subscription>, BusError> {
        self.inner.subscribe(topics, group, consumer, options).await
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.inner.ping().await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BusError> {
        self.inner.dead_letters().await
    }

    async fn remove_dead_letter(&self, letter: &DeadLetter) -> Result<bool, BusError> {
        self.inner.remove_dead_letter(letter).await
    }
}

async fn events_survive_a_failing_bus_in_order_without_duplicates(db: Database) {
    let memory = MemoryBus::new();
    let mut sub = consumer(&memory).await;
    // Two go through, then the bus fails five times: mid-batch, and on retries.
    let bus = Arc::new(FailingBus {
        inner: memory.clone(),
        ok_first: 2,
        failures: 5,
        calls: AtomicU32::new(0),
        failed: AtomicU32::new(0),
    });
    for n in 0..8 {
        enqueue_committed(&db, &event(n)).await;
    }
    let relay = Relay::start(&db, bus.clone(), fast());
    let expected: Vec<Id> = (0..8).map(|n| event(n).id).collect();
    assert_eq!(receive(&mut sub, 8).await, expected);
    assert_nothing_within(&mut sub, Duration::from_millis(300)).await;
    assert_eq!(bus.failed.load(Ordering::SeqCst), 5);
    assert_eq!(bus.calls.load(Ordering::SeqCst), 8 + 5);
    assert_eq!(outbox_rows(&db, false).await, 0);
    relay.stop().await;
}

async fn a_wake_publishes_without_waiting_for_the_poll(db: Database) {
    let bus = MemoryBus::new();
    let mut sub = consumer(&bus).await;
    let options = RelayOptions {
        poll_interval: Duration::from_secs(3600),
        ..fast()
    };
    let relay = Relay::start(&db, Arc::new(bus.clone()), options);
    // Let its first round find the outbox empty and go to sleep.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = event(1);
    enqueue_committed(&db, &sent).await;
    // Without a wake it waits for the (hour-long) poll.
    assert_nothing_within(&mut sub, Duration::from_millis(300)).await;
    relay.handle.wake();
    assert_eq!(receive(&mut sub, 1).await, vec![sent.id]);
    relay.stop().await;
}

async fn published_rows_are_deleted_after_the_retention_and_pending_ones_kept(db: Database) {
    let bus = MemoryBus::new();
    let mut sub = consumer(&bus).await;
    enqueue_committed(&db, &event(1)).await;
    assert!(outbox::mark_processed(&db, "test", event(1).id)
        .await
        .unwrap());
    let options = RelayOptions {
        retention: Duration::ZERO,
        processed_retention: Duration::ZERO,
        cleanup_interval: Duration::from_millis(50),
        ..fast()
    };
    let relay = Relay::start(&db, Arc::new(bus.clone()), options.clone());
    receive(&mut sub, 1).await;
    eventually("deleting the published row", || async {
        outbox_rows(&db, true).await == 0
    })
    .await;
    // The processed id was pruned too, so it counts as new again.
    eventually("pruning processed_events", || async {
        let count: i64 = match &db {
            Database::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM processed_events")
                .fetch_one(pool)
                .await
                .unwrap(),
            Database::Postgres(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM processed_events")
                .fetch_one(pool)
                .await
                .unwrap(),
        };
        count == 0
    })
    .await;
    relay.stop().await;

    // While the bus is down, a row is never deleted, however old.
    let down = Arc::new(FailingBus {
        inner: bus.clone(),
        ok_first: 0,
        failures: u32::MAX,
        calls: AtomicU32::new(0),
        failed: AtomicU32::new(0),
    });
    let relay = Relay::start(&db, down.clone(), options);
    enqueue_committed(&db, &event(2)).await;
    relay.handle.wake();
    eventually("retrying the failing bus", || async {
        down.failed.load(Ordering::SeqCst) >= 3
    })
    .await;
    assert_eq!(outbox_rows(&db, false).await, 1);
    relay.stop().await;
}

async fn the_relay_stops_on_shutdown(db: Database) {
    let bus = MemoryBus::new();
    let relay = Relay::start(&db, Arc::new(bus), RelayOptions::default());
    tokio::time::sleep(Duration::from_millis(50)).await;
    relay.stop().await;
}

async fn mark_processed_is_true_only_the_first_time(db: Database) {
    let id = event(1).id;
    assert!(!outbox::is_processed(&db, "gamification", id).await.unwrap());
    assert!(outbox::mark_processed(&db, "gamification", id)
        .await
        .unwrap());
    assert!(outbox::is_processed(&db, "gamification", id).await.unwrap());
    assert!(!outbox::mark_processed(&db, "gamification", id)
        .await
        .unwrap());
    // Groups are independent.
    assert!(!outbox::is_processed(&db, "social", id).await.unwrap());
    assert!(outbox::mark_processed(&db, "social", id).await.unwrap());

    // Marked inside a transaction that rolls back, it was not processed.
    let other = event(2).id;
    match &db {
        Database::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            assert!(outbox::mark_processed_sqlite(&mut tx, "social", other)
                .await
                .unwrap());
            assert!(!outbox::mark_processed_sqlite(&mut tx, "social", other)
                .await
                .unwrap());
            tx.rollback().await.unwrap();
        }
        Database::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            assert!(outbox::mark_processed_postgres(&mut tx, "social", other)
                .await
                .unwrap());
            assert!(!outbox::mark_processed_postgres(&mut tx, "social", other)
                .await
                .unwrap());
            tx.rollback().await.unwrap();
        }
    }
    assert!(outbox::mark_processed(&db, "social", other).await.unwrap());
}

/// On PostgreSQL several nodes of a service run a relay on one database: one
/// publishes at a time, so each event goes out once and in order.
#[tokio::test]
async fn two_relays_on_one_postgres_database_publish_each_event_once_in_order() {
    let Some(test_db) = testkit::postgres(None).await else {
        return;
    };
    let db = test_db.database.clone();
    let bus = MemoryBus::new();
    let mut sub = consumer(&bus).await;
    let first = Relay::start(&db, Arc::new(bus.clone()), fast());
    let second = Relay::start(&db, Arc::new(bus.clone()), fast());
    for n in 0..30 {
        enqueue_committed(&db, &event(n)).await;
        first.handle.wake();
        second.handle.wake();
    }
    let expected: Vec<Id> = (0..30).map(|n| event(n).id).collect();
    assert_eq!(receive(&mut sub, 30).await, expected);
    assert_nothing_within(&mut sub, Duration::from_millis(300)).await;
    first.stop().await;
    second.stop().await;
}

async fn handlers_apply_an_event_once_per_group_and_ignore_other_topics(db: Database) {
    use std::sync::atomic::AtomicBool;
    use vigor_common::bus::consumer::Undecodable;
    use vigor_common::bus::Handlers;
    use vigor_common::events::{UserRef, USER_DELETED};

    let calls = Arc::new(AtomicU32::new(0));
    let failing = Arc::new(AtomicBool::new(true));
    let handlers = {
        let (calls, failing) = (calls.clone(), failing.clone());
        Handlers::new().on(USER_DELETED, move |_, UserRef { user_id }| {
            calls.fetch_add(1, Ordering::SeqCst);
            let fail = failing.load(Ordering::SeqCst);
            async move {
                anyhow::ensure!(!fail, "the store is down");
                assert_eq!(user_id, Id::from_i64(7));
                Ok(())
            }
        })
    };
    let ids = vigor_common::IdGenerator::new(1).unwrap();
    let deleted = USER_DELETED.event(
        &ids,
        &UserRef {
            user_id: Id::from_i64(7),
        },
    );

    // A failure leaves the event unprocessed, so it is applied when it comes again.
    assert!(handlers
        .apply(&db, "training", deleted.clone())
        .await
        .is_err());
    assert!(!outbox::is_processed(&db, "training", deleted.id)
        .await
        .unwrap());
    failing.store(false, Ordering::SeqCst);
    handlers
        .apply(&db, "training", deleted.clone())
        .await
        .unwrap();
    assert!(outbox::is_processed(&db, "training", deleted.id)
        .await
        .unwrap());
    // A redelivery after success is skipped; another group applies it for itself.
    handlers
        .apply(&db, "training", deleted.clone())
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    handlers.apply(&db, "auth", deleted.clone()).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // Another topic is ignored (and not marked).
    let other = event(1);
    handlers
        .apply(&db, "training", other.clone())
        .await
        .unwrap();
    assert!(!outbox::is_processed(&db, "training", other.id)
        .await
        .unwrap());
    // Data that does not match the contract is reported as such, unapplied.
    let mut malformed = USER_DELETED.event(
        &ids,
        &UserRef {
            user_id: Id::from_i64(7),
        },
    );
    malformed.data = serde_json::json!({ "user": 7 });
    let error = handlers
        .apply(&db, "training", malformed.clone())
        .await
        .unwrap_err();
    assert!(error.downcast_ref::<Undecodable>().is_some(), "{error:#}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(!outbox::is_processed(&db, "training", malformed.id)
        .await
        .unwrap());
}
