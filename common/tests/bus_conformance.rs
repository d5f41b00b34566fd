//! The `EventBus` conformance suite, run against the in-process bus and against
//! Redis Streams on a real Redis (skipped outside the test script, see the testkit).
//!
//! Each test gets two handles on one bus, as two nodes of a service would hold
//! (for Redis: two connections with the same fresh key prefix).

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::bus::dead_letter::{self, Selection};
use vigor_common::bus::memory::MemoryBus;
use vigor_common::bus::redis::RedisBus;
use vigor_common::bus::{
    spawn_consumer, BusError, ConsumerOptions, DeadLetter, Delivery, Event, EventBus, Subscription,
};
use vigor_common::testkit;
use vigor_common::Id;

/// Two handles on one bus.
struct Nodes {
    a: Arc<dyn EventBus>,
    b: Arc<dyn EventBus>,
}

fn memory_nodes() -> Nodes {
    let bus = Arc::new(MemoryBus::new());
    Nodes {
        a: bus.clone(),
        b: bus,
    }
}

/// Two nodes on a fresh key prefix, with the URL and prefix for cleaning up.
async fn redis_nodes() -> Option<(Nodes, String, String)> {
    let url = testkit::redis_url()?;
    let prefix = format!("{}:", testkit::unique_name("bus"));
    let a = RedisBus::connect(&url, &prefix)
        .await
        .expect("Redis connects");
    let b = RedisBus::connect(&url, &prefix)
        .await
        .expect("Redis connects");
    let nodes = Nodes {
        a: Arc::new(a),
        b: Arc::new(b),
    };
    Some((nodes, url, prefix))
}

/// Deletes the streams a passed test left under `prefix`.
async fn delete_keys(url: &str, prefix: &str) {
    use fred::prelude::{Client, ClientLike, Config, KeysInterface};
    let raw = Client::new(Config::from_url(url).unwrap(), None, None, None);
    raw.init().await.unwrap();
    let keys: Vec<String> = raw
        .custom(fred::cmd!("KEYS"), vec![format!("{prefix}*")])
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = raw.del(keys).await.unwrap();
    }
    let _ = raw.quit().await;
}

/// Instantiates the suite once per backend.
macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::memory_nodes()).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((nodes, url, prefix)) = super::redis_nodes().await else { return };
                    super::$name(nodes).await;
                    super::delete_keys(&url, &prefix).await;
                }
            )+
        }
    };
}

conformance!(
    delivers_a_published_event,
    each_event_reaches_one_member_of_every_group,
    an_unacked_event_is_redelivered_to_another_member_after_the_timeout,
    acked_events_are_not_redelivered,
    events_of_a_topic_arrive_in_publish_order,
    a_new_group_starts_after_the_events_already_published,
    a_subscription_reads_its_topics_and_only_those,
    a_poison_event_is_dead_lettered_once_and_the_group_moves_on,
    an_event_delivered_more_often_than_allowed_is_dead_lettered_unapplied,
    a_replayed_dead_letter_is_applied_and_removed,
);

const REDELIVERY: Duration = Duration::from_millis(300);
const TOPIC: &str = "workout.logged";

fn options(redelivery_after: Duration) -> ConsumerOptions {
    ConsumerOptions {
        redelivery_after,
        ..ConsumerOptions::default()
    }
}

fn event(topic: &str, n: i64) -> Event {
    Event {
        id: Id::from_i64(1_000 + n),
        name: topic.to_owned(),
        occurred_at: chrono::Utc::now(),
        data: serde_json::json!({ "n": n }),
    }
}

async fn subscribe(
    bus: &Arc<dyn EventBus>,
    topics: &[&str],
    group: &str,
    consumer: &str,
    redelivery_after: Duration,
) -> Box<dyn Subscription> {
    bus.subscribe(topics, group, consumer, options(redelivery_after))
        .await
        .expect("subscribe")
}

/// The next delivery, failing the test after 5 s.
async fn next(sub: &mut Box<dyn Subscription>) -> Delivery {
    timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("a delivery within 5 s")
        .expect("the bus delivers")
}

/// Fails when `sub` delivers anything within `wait`.
async fn assert_nothing_within(sub: &mut Box<dyn Subscription>, wait: Duration) {
    if let Ok(delivery) = timeout(wait, sub.next()).await {
        panic!("expected no delivery, got {delivery:?}");
    }
}

async fn delivers_a_published_event(nodes: Nodes) {
    let mut sub = subscribe(&nodes.b, &[TOPIC], "gamification", "g1", REDELIVERY).await;
    let sent = event(TOPIC, 1);
    nodes.a.publish(&sent).await.unwrap();
    let delivery = next(&mut sub).await;
    assert_eq!(delivery.event, sent);
    assert_eq!(delivery.attempt, 1);
    sub.ack(&delivery).await.unwrap();
    nodes.a.ping().await.unwrap();
}

/// Runs a member in a task that acks and reports every delivery until stopped.
fn spawn_member(
    mut sub: Box<dyn Subscription>,
    member: &'static str,
    report: tokio::sync::mpsc::Sender<(&'static str, Delivery)>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let delivery = tokio::select! {
                _ = stop.cancelled() => return,
                delivery = sub.next() => delivery.expect("the bus delivers"),
            };
            sub.ack(&delivery).await.expect("ack");
            if report.send((member, delivery)).await.is_err() {
                return;
            }
        }
    })
}

async fn each_event_reaches_one_member_of_every_group(nodes: Nodes) {
    let long = Duration::from_secs(30);
    let (tx, mut rx) = tokio::sync::mpsc::channel(100);
    let stop = CancellationToken::new();
    let members = vec![
        spawn_member(
            subscribe(&nodes.a, &[TOPIC], "social", "s1", long).await,
            "social",
            tx.clone(),
            stop.clone(),
        ),
        spawn_member(
            subscribe(&nodes.b, &[TOPIC], "social", "s2", long).await,
            "social",
            tx.clone(),
            stop.clone(),
        ),
        spawn_member(
            subscribe(&nodes.a, &[TOPIC], "gamification", "g1", long).await,
            "gamification",
            tx.clone(),
            stop.clone(),
        ),
    ];
    drop(tx);
    let sent: Vec<Event> = (0..20).map(|n| event(TOPIC, n)).collect();
    for (i, e) in sent.iter().enumerate() {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        node.publish(e).await.unwrap();
    }

    let mut social = Vec::new();
    let mut gamification = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while social.len() < 20 || gamification.len() < 20 {
        let (group, delivery) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("every event reaches both groups within 10 s")
            .expect("members run");
        match group {
            "social" => social.push(delivery.event.id),
            _ => gamification.push(delivery.event.id),
        }
    }
    // Nothing more arrives: no member of a group got an event another one had.
    if let Ok(Some((group, extra))) = timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("{group} got an extra delivery {extra:?}");
    }
    stop.cancel();
    for member in members {
        member.await.unwrap();
    }
    let all: HashSet<Id> = sent.iter().map(|e| e.id).collect();
    assert_eq!(social.iter().copied().collect::<HashSet<_>>(), all);
    assert_eq!(social.len(), 20, "no duplicates within a group");
    let in_order: Vec<Id> = sent.iter().map(|e| e.id).collect();
    assert_eq!(
        gamification, in_order,
        "a single member sees the topic's order"
    );
}

async fn an_unacked_event_is_redelivered_to_another_member_after_the_timeout(nodes: Nodes) {
    let mut first = subscribe(&nodes.a, &[TOPIC], "social", "node-a", REDELIVERY).await;
    let sent = event(TOPIC, 1);
    nodes.a.publish(&sent).await.unwrap();
    let delivery = next(&mut first).await;
    assert_eq!((delivery.event.id, delivery.attempt), (sent.id, 1));
    let delivered_at = Instant::now();
    // The member dies before acking.
    drop(first);

    let mut second = subscribe(&nodes.b, &[TOPIC], "social", "node-b", REDELIVERY).await;
    let again = next(&mut second).await;
    assert_eq!(again.event, sent);
    assert_eq!(again.attempt, 2);
    let waited = delivered_at.elapsed();
    assert!(
        waited >= REDELIVERY - Duration::from_millis(50),
        "redelivered after {waited:?}, before the {REDELIVERY:?} timeout"
    );

    // It dies too: the third member gets attempt 3, and acks.
    drop(second);
    let mut third = subscribe(&nodes.a, &[TOPIC], "social", "node-c", REDELIVERY).await;
    let third_time = next(&mut third).await;
    assert_eq!((third_time.event.id, third_time.attempt), (sent.id, 3));
    third.ack(&third_time).await.unwrap();
    assert_nothing_within(&mut third, REDELIVERY * 2).await;
}

async fn acked_events_are_not_redelivered(nodes: Nodes) {
    let (tx, mut rx) = tokio::sync::mpsc::channel(10);
    let stop = CancellationToken::new();
    let members = vec![
        spawn_member(
            subscribe(&nodes.a, &[TOPIC], "social", "s1", REDELIVERY).await,
            "s1",
            tx.clone(),
            stop.clone(),
        ),
        spawn_member(
            subscribe(&nodes.b, &[TOPIC], "social", "s2", REDELIVERY).await,
            "s2",
            tx,
            stop.clone(),
        ),
    ];
    let sent = event(TOPIC, 7);
    nodes.a.publish(&sent).await.unwrap();
    let (_, delivery) = timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a delivery within 5 s")
        .expect("members run");
    assert_eq!((delivery.event, delivery.attempt), (sent, 1));
    // It was acked at once: well past the redelivery timeout, no member sees it again.
    if let Ok(Some((member, again))) = timeout(REDELIVERY * 3, rx.recv()).await {
        panic!("{member} got an acked event again: {again:?}");
    }
    stop.cancel();
    for member in members {
        member.await.unwrap();
    }
}

async fn events_of_a_topic_arrive_in_publish_order(nodes: Nodes) {
    let mut sub = subscribe(&nodes.b, &[TOPIC], "leaderboards", "l1", REDELIVERY).await;
    let sent: Vec<Event> = (0..50).map(|n| event(TOPIC, n)).collect();
    for e in &sent {
        nodes.a.publish(e).await.unwrap();
    }
    let mut received = Vec::new();
    for _ in 0..sent.len() {
        let delivery = next(&mut sub).await;
        sub.ack(&delivery).await.unwrap();
        received.push(delivery.event);
    }
    assert_eq!(received, sent);
}

async fn a_new_group_starts_after_the_events_already_published(nodes: Nodes) {
    // An older group makes the topic exist with history.
    let _old = subscribe(&nodes.a, &[TOPIC], "social", "s1", REDELIVERY).await;
    nodes.a.publish(&event(TOPIC, 1)).await.unwrap();
    nodes.a.publish(&event(TOPIC, 2)).await.unwrap();

    let mut late = subscribe(&nodes.b, &[TOPIC], "late", "l1", REDELIVERY).await;
    let after = event(TOPIC, 3);
    nodes.a.publish(&after).await.unwrap();
    let delivery = next(&mut late).await;
    assert_eq!(delivery.event, after);
    late.ack(&delivery).await.unwrap();
    assert_nothing_within(&mut late, REDELIVERY).await;
}

async fn a_subscription_reads_its_topics_and_only_those(nodes: Nodes) {
    let mut sub = subscribe(
        &nodes.a,
        &["workout.logged", "achievement.unlocked"],
        "social",
        "s1",
        REDELIVERY,
    )
    .await;
    let other = event("level.up", 1);
    let workout = event("workout.logged", 2);
    let achievement = event("achievement.unlocked", 3);
    nodes.b.publish(&other).await.unwrap();
    nodes.b.publish(&workout).await.unwrap();
    nodes.b.publish(&achievement).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let delivery = next(&mut sub).await;
        sub.ack(&delivery).await.unwrap();
        got.push(delivery.event.id);
    }
    got.sort();
    assert_eq!(got, vec![workout.id, achievement.id]);
    assert_nothing_within(&mut sub, REDELIVERY).await;
}

/// How many times each event (by `n`) was handed to a handler.
#[derive(Clone, Default)]
struct Applied(Arc<Mutex<HashMap<i64, u32>>>);

impl Applied {
    fn record(&self, event: &Event) -> i64 {
        let n = event.id.as_i64() - 1_000;
        *self.0.lock().unwrap().entry(n).or_default() += 1;
        n
    }

    fn count(&self, n: i64) -> u32 {
        self.0.lock().unwrap().get(&n).copied().unwrap_or(0)
    }
}

/// Consumer loops of group `group` on both nodes, with `max_attempts`; `fails`
/// says which events (by `n`) the handler fails.
async fn spawn_loops(
    nodes: &Nodes,
    group: &str,
    max_attempts: u32,
    applied: &Applied,
    fails: impl Fn(i64) -> bool + Clone + Send + Sync + 'static,
) -> (CancellationToken, TaskTracker) {
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    for (bus, member) in [(&nodes.a, "m1"), (&nodes.b, "m2")] {
        let options = ConsumerOptions {
            redelivery_after: REDELIVERY,
            max_delivery_attempts: max_attempts,
        };
        let sub = bus
            .subscribe(&[TOPIC], group, member, options)
            .await
            .unwrap();
        let applied = applied.clone();
        let fails = fails.clone();
        spawn_consumer(sub, stop.clone(), &tasks, move |event| {
            let n = applied.record(&event);
            let fail = fails(n);
            async move {
                if fail {
                    anyhow::bail!("event {n} is poison");
                }
                Ok(())
            }
        });
    }
    (stop, tasks)
}

/// The dead letters of `group`, once there are `count` of them (after 10 s: fails).
async fn wait_for_dead_letters(
    bus: &Arc<dyn EventBus>,
    group: &str,
    count: usize,
) -> Vec<DeadLetter> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let letters: Vec<DeadLetter> = bus
            .dead_letters()
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.group == group)
            .collect();
        if letters.len() >= count {
            return letters;
        }
        assert!(
            Instant::now() < deadline,
            "{count} dead letters within 10 s, got {letters:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop_loops((stop, tasks): (CancellationToken, TaskTracker)) {
    stop.cancel();
    tasks.close();
    timeout(Duration::from_secs(5), tasks.wait())
        .await
        .expect("the consumer loops stop");
}

async fn a_poison_event_is_dead_lettered_once_and_the_group_moves_on(nodes: Nodes) {
    let applied = Applied::default();
    let loops = spawn_loops(&nodes, "social", 3, &applied, |n| n == 1).await;
    let poison = event(TOPIC, 1);
    nodes.a.publish(&poison).await.unwrap();
    for n in 2..=4 {
        nodes.b.publish(&event(TOPIC, n)).await.unwrap();
    }

    let letters = wait_for_dead_letters(&nodes.a, "social", 1).await;
    // Well past more redelivery timeouts: still once, and never applied again.
    tokio::time::sleep(REDELIVERY * 4).await;
    let letters_later = nodes.b.dead_letters().await.unwrap();
    stop_loops(loops).await;

    assert_eq!(letters_later, letters, "dead-lettered exactly once");
    let letter = &letters[0];
    assert_eq!(letter.topic, TOPIC);
    assert_eq!(letter.event, poison);
    assert_eq!(letter.attempts, 3);
    assert!(letter.error.contains("event 1 is poison"), "{letter:?}");
    assert_eq!(applied.count(1), 3, "applied once per allowed attempt");
    for n in 2..=4 {
        assert_eq!(applied.count(n), 1, "later event {n} was processed once");
    }
}

async fn an_event_delivered_more_often_than_allowed_is_dead_lettered_unapplied(nodes: Nodes) {
    // A member takes the event and dies before acking, as a crash while
    // applying it would: the loops allow one delivery, so the redelivery is the
    // second one and goes straight to the dead letters.
    let mut crashing = subscribe(&nodes.a, &[TOPIC], "social", "crashing", REDELIVERY).await;
    nodes.a.publish(&event(TOPIC, 1)).await.unwrap();
    let taken = next(&mut crashing).await;
    assert_eq!(taken.attempt, 1);
    drop(crashing);

    let applied = Applied::default();
    let loops = spawn_loops(&nodes, "social", 1, &applied, |_| false).await;
    let letters = wait_for_dead_letters(&nodes.b, "social", 1).await;
    nodes.a.publish(&event(TOPIC, 2)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while applied.count(2) == 0 {
        assert!(Instant::now() < deadline, "the next event is applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_loops(loops).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].event.id, letters[0].attempts),
        (taken.event.id, 2)
    );
    assert!(
        letters[0].error.contains("without an outcome"),
        "{letters:?}"
    );
    assert_eq!(applied.count(1), 0, "never handed to the handler");
}

async fn a_replayed_dead_letter_is_applied_and_removed(nodes: Nodes) {
    let healed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let applied = Applied::default();
    let fails = {
        let healed = healed.clone();
        move |n| n != 3 && !healed.load(std::sync::atomic::Ordering::SeqCst)
    };
    let loops = spawn_loops(&nodes, "social", 2, &applied, fails).await;
    for n in 1..=3 {
        nodes.a.publish(&event(TOPIC, n)).await.unwrap();
    }
    let letters = wait_for_dead_letters(&nodes.a, "social", 2).await;
    assert_eq!(applied.count(1), 2);

    // The handler is fixed; event 1 alone is replayed.
    healed.store(true, std::sync::atomic::Ordering::SeqCst);
    let first = event(TOPIC, 1).id;
    let replayed = dead_letter::replay(nodes.b.as_ref(), TOPIC, "social", Selection::Event(first))
        .await
        .unwrap();
    assert_eq!(replayed, vec![first]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while applied.count(1) < 3 {
        assert!(Instant::now() < deadline, "the replayed event is applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = nodes.a.dead_letters().await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].event.id, event(TOPIC, 2).id);
    assert!(letters.iter().any(|l| l.entry == left[0].entry));

    // The rest, for a group with no letters, replays nothing.
    let none = dead_letter::replay(nodes.a.as_ref(), TOPIC, "other", Selection::All)
        .await
        .unwrap();
    assert!(none.is_empty());
    let rest = dead_letter::replay(nodes.a.as_ref(), TOPIC, "social", Selection::All)
        .await
        .unwrap();
    assert_eq!(rest, vec![event(TOPIC, 2).id]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while applied.count(2) < 3 {
        assert!(Instant::now() < deadline, "the replayed event is applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(nodes.b.dead_letters().await.unwrap().is_empty());
    stop_loops(loops).await;
}

/// Behaviour only the Redis backend can show: what is on the wire.
mod redis_only {
    use fred::prelude::{Client, ClientLike, Config, KeysInterface, StreamsInterface, Value};

    use super::*;

    async fn raw_client(url: &str) -> Client {
        let client = Client::new(Config::from_url(url).unwrap(), None, None, None);
        client.init().await.unwrap();
        client
    }

    #[tokio::test]
    async fn malformed_entries_are_reported_once_and_skipped() {
        let Some(url) = testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", testkit::unique_name("bus"));
        let bus: Arc<dyn EventBus> = Arc::new(RedisBus::connect(&url, &prefix).await.unwrap());
        let mut sub = subscribe(&bus, &[TOPIC], "social", "s1", REDELIVERY).await;
        let raw = raw_client(&url).await;
        let key = format!("{prefix}events:{TOPIC}");
        let _: Value = raw
            .xadd(&key, false, None, "*", ("event", "not json"))
            .await
            .unwrap();
        let _: Value = raw
            .xadd(&key, false, None, "*", ("other", "field"))
            .await
            .unwrap();
        let good = event(TOPIC, 1);
        bus.publish(&good).await.unwrap();

        for _ in 0..2 {
            let result = timeout(Duration::from_secs(5), sub.next()).await.unwrap();
            assert!(
                matches!(result, Err(BusError::Malformed(_))),
                "got {result:?}"
            );
        }
        let delivery = next(&mut sub).await;
        assert_eq!(delivery.event, good);
        sub.ack(&delivery).await.unwrap();
        // The malformed entries were acked: never redelivered, nothing pending.
        assert_nothing_within(&mut sub, REDELIVERY * 3).await;
        let pending: Value = raw.xpending(&key, "social", ()).await.unwrap();
        assert_eq!(
            pending.into_array().first().and_then(Value::as_u64),
            Some(0)
        );
        let _: i64 = raw.del(&key).await.unwrap();
    }

    #[tokio::test]
    async fn streams_are_capped() {
        let Some(url) = testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", testkit::unique_name("bus"));
        let options = vigor_common::bus::redis::RedisBusOptions {
            max_len: 10,
            ..Default::default()
        };
        let bus = RedisBus::connect_with(&url, &prefix, options)
            .await
            .unwrap();
        for n in 0..1_000 {
            bus.publish(&event(TOPIC, n)).await.unwrap();
        }
        let raw = raw_client(&url).await;
        let key = bus.stream_key(TOPIC);
        let len: u64 = raw.xlen(&key).await.unwrap();
        // MAXLEN ~ trims whole nodes (100 entries by default), so "about 10".
        assert!(len < 250, "the stream kept {len} entries");
        let _: i64 = raw.del(&key).await.unwrap();
    }

    #[tokio::test]
    async fn a_group_that_vanished_is_created_again() {
        let Some(url) = testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", testkit::unique_name("bus"));
        let bus = Arc::new(RedisBus::connect(&url, &prefix).await.unwrap());
        let dyn_bus: Arc<dyn EventBus> = bus.clone();
        let mut sub = subscribe(&dyn_bus, &[TOPIC], "social", "s1", REDELIVERY).await;
        let raw = raw_client(&url).await;
        let key = bus.stream_key(TOPIC);
        // As after a flushed Redis.
        let _: i64 = raw.del(&key).await.unwrap();
        let reader =
            tokio::spawn(async move { timeout(Duration::from_secs(10), sub.next()).await });
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let groups: Value = raw.xinfo_groups(&key).await.unwrap_or(Value::Null);
            if matches!(&groups, Value::Array(groups) if !groups.is_empty()) {
                break;
            }
            assert!(Instant::now() < deadline, "the group was not created again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = event(TOPIC, 1);
        bus.publish(&sent).await.unwrap();
        let delivery = reader.await.unwrap().expect("a delivery within 10 s");
        assert_eq!(delivery.expect("the bus delivers").event, sent);
        let _: i64 = raw.del(&key).await.unwrap();
    }
}
