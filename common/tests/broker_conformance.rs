//! The `Broker` conformance suite, run against the in-process broker and against
//! Redis pub/sub on a real Redis (skipped outside the test script, see the testkit).
//!
//! Each test gets two nodes: for Redis two `RedisBroker`s with the same fresh key
//! prefix (two gateway processes), in memory two handles on one broker (one process
//! is the whole cluster). Subscriptions buffer `CAPACITY` messages.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::prelude::{Client, ClientLike, Config, PubsubInterface};
use tokio::time::{timeout, Instant};
use vigor_common::broker::memory::MemoryBroker;
use vigor_common::broker::redis::{RedisBroker, RedisBrokerOptions};
use vigor_common::broker::{Broker, BrokerSubscription, Message};
use vigor_common::testkit;

const CAPACITY: usize = 8;

type Count = Pin<Box<dyn Future<Output = usize> + Send>>;

/// Two nodes of one broker, and a probe of the backend.
struct Nodes {
    a: Arc<dyn Broker>,
    b: Arc<dyn Broker>,
    /// The backend's subscriptions to a channel (Redis: `PUBSUB NUMSUB`, one per node).
    backend_subscriptions: Box<dyn Fn(&str) -> Count + Send + Sync>,
    /// The `backend` label of the drop counter.
    label: &'static str,
}

fn memory_nodes() -> Nodes {
    let broker = MemoryBroker::with_capacity(CAPACITY);
    let probe = broker.clone();
    Nodes {
        a: Arc::new(broker.clone()),
        b: Arc::new(broker),
        backend_subscriptions: Box::new(move |channel| {
            let count = probe.subscriber_count(channel);
            Box::pin(async move { count })
        }),
        label: "memory",
    }
}

async fn raw_client(url: &str) -> Client {
    let client = Client::new(Config::from_url(url).unwrap(), None, None, None);
    client.init().await.unwrap();
    client
}

async fn redis_node(url: &str, prefix: &str) -> RedisBroker {
    let options = RedisBrokerOptions {
        capacity: CAPACITY,
        ..Default::default()
    };
    RedisBroker::connect_with(url, prefix, options)
        .await
        .expect("Redis connects")
}

async fn redis_nodes() -> Option<Nodes> {
    let url = testkit::redis_url()?;
    let prefix = format!("{}:", testkit::unique_name("broker"));
    let a = redis_node(&url, &prefix).await;
    let b = redis_node(&url, &prefix).await;
    let raw = raw_client(&url).await;
    Some(Nodes {
        a: Arc::new(a),
        b: Arc::new(b),
        backend_subscriptions: Box::new(move |channel| {
            let raw = raw.clone();
            let channel = format!("{prefix}{channel}");
            Box::pin(async move { numsub(&raw, &channel).await })
        }),
        label: "redis",
    })
}

async fn numsub(raw: &Client, channel: &str) -> usize {
    let reply: Vec<fred::types::Value> = raw.pubsub_numsub(channel).await.unwrap();
    reply.get(1).and_then(|v| v.as_usize()).unwrap_or(0)
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
                    let Some(nodes) = super::redis_nodes().await else { return };
                    super::$name(nodes).await;
                }
            )+
        }
    };
}

conformance!(
    a_message_reaches_every_subscriber_of_its_channel_and_no_other,
    subscribers_on_another_node_receive_the_message,
    payloads_arrive_byte_for_byte,
    dropping_the_last_subscription_unsubscribes,
    a_slow_reader_drops_and_counts_without_slowing_the_others,
    subscriptions_end_when_the_broker_is_dropped,
);

/// The next message, failing the test after 5 s.
async fn recv(sub: &mut BrokerSubscription) -> Message {
    timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("a message within 5 s")
        .expect("the broker is running")
}

fn text(message: &Message) -> &str {
    std::str::from_utf8(&message.payload).expect("UTF-8 payload")
}

async fn a_message_reaches_every_subscriber_of_its_channel_and_no_other(nodes: Nodes) {
    let mut first = nodes.a.subscribe("chat:1").await.unwrap();
    let mut second = nodes.a.subscribe("chat:1").await.unwrap();
    let mut elsewhere = nodes.a.subscribe("chat:2").await.unwrap();
    nodes
        .a
        .publish("chat:1", Bytes::from_static(b"hello"))
        .await
        .unwrap();
    for sub in [&mut first, &mut second] {
        let message = recv(sub).await;
        assert_eq!(message.channel, "chat:1");
        assert_eq!(text(&message), "hello");
    }
    // Had chat:2 got "hello", it would come before this (one connection, in order).
    nodes
        .a
        .publish("chat:2", Bytes::from_static(b"second"))
        .await
        .unwrap();
    let message = recv(&mut elsewhere).await;
    assert_eq!(
        (message.channel.as_str(), text(&message)),
        ("chat:2", "second")
    );
    assert!(first.try_recv().is_none() && second.try_recv().is_none());
}

async fn subscribers_on_another_node_receive_the_message(nodes: Nodes) {
    let mut on_a = nodes.a.subscribe("user:42").await.unwrap();
    let mut on_b = nodes.b.subscribe("user:42").await.unwrap();
    nodes
        .b
        .publish("user:42", Bytes::from_static(b"from b"))
        .await
        .unwrap();
    assert_eq!(text(&recv(&mut on_a).await), "from b");
    assert_eq!(text(&recv(&mut on_b).await), "from b");
    nodes
        .a
        .publish("user:42", Bytes::from_static(b"from a"))
        .await
        .unwrap();
    assert_eq!(text(&recv(&mut on_a).await), "from a");
    assert_eq!(text(&recv(&mut on_b).await), "from a");
    nodes.a.ping().await.unwrap();
    nodes.b.ping().await.unwrap();
}

async fn payloads_arrive_byte_for_byte(nodes: Nodes) {
    let mut sub = nodes.a.subscribe("bin").await.unwrap();
    let payload = Bytes::from(vec![0u8, 159, 146, 150, 255, b'\n', 0]);
    nodes.b.publish("bin", payload.clone()).await.unwrap();
    assert_eq!(recv(&mut sub).await.payload, payload);
    nodes.b.publish("bin", Bytes::new()).await.unwrap();
    assert_eq!(recv(&mut sub).await.payload, Bytes::new());
}

/// Waits until the backend holds `expected` subscriptions to `channel`.
async fn wait_for_backend(nodes: &Nodes, channel: &str, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let count = (nodes.backend_subscriptions)(channel).await;
        if count == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the backend still holds {count} subscriptions to {channel}, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn dropping_the_last_subscription_unsubscribes(nodes: Nodes) {
    let first = nodes.a.subscribe("community:7").await.unwrap();
    let mut second = nodes.a.subscribe("community:7").await.unwrap();
    assert!((nodes.backend_subscriptions)("community:7").await >= 1);
    drop(first);
    // The other local subscriber keeps the channel.
    nodes
        .b
        .publish("community:7", Bytes::from_static(b"still here"))
        .await
        .unwrap();
    assert_eq!(text(&recv(&mut second).await), "still here");
    assert!((nodes.backend_subscriptions)("community:7").await >= 1);
    drop(second);
    wait_for_backend(&nodes, "community:7", 0).await;

    // And the channel can be subscribed again.
    let mut again = nodes.a.subscribe("community:7").await.unwrap();
    nodes
        .b
        .publish("community:7", Bytes::from_static(b"back"))
        .await
        .unwrap();
    assert_eq!(text(&recv(&mut again).await), "back");
}

/// The value of the drop counter for `label` in the Prometheus text.
fn dropped_metric(label: &str) -> u64 {
    let rendered = vigor_common::telemetry::metrics().render();
    let series = format!("vigor_broker_dropped_total{{backend=\"{label}\"}} ");
    rendered
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

async fn a_slow_reader_drops_and_counts_without_slowing_the_others(nodes: Nodes) {
    // Install the recorder before anything is counted.
    let before = dropped_metric(nodes.label);
    let mut slow = nodes.a.subscribe("leaderboard:weekly").await.unwrap();
    let mut fast = nodes.a.subscribe("leaderboard:weekly").await.unwrap();
    let total = 5 * CAPACITY;
    for i in 0..total {
        nodes
            .b
            .publish("leaderboard:weekly", Bytes::from(i.to_string()))
            .await
            .unwrap();
        // The fast reader gets every message, in order, while the slow one sleeps.
        assert_eq!(text(&recv(&mut fast).await), i.to_string());
    }
    // The slow reader kept the oldest CAPACITY messages; the newer ones were dropped.
    let mut kept = Vec::new();
    while let Some(message) = slow.try_recv() {
        kept.push(text(&message).to_owned());
    }
    let expected: Vec<String> = (0..CAPACITY).map(|i| i.to_string()).collect();
    assert_eq!(kept, expected);
    let dropped = (total - CAPACITY) as u64;
    assert_eq!(slow.dropped(), dropped);
    assert_eq!(fast.dropped(), 0);
    assert!(
        dropped_metric(nodes.label) >= before + dropped,
        "vigor_broker_dropped_total did not count the drops"
    );
    // Once it catches up, the slow reader gets new messages again.
    nodes
        .b
        .publish("leaderboard:weekly", Bytes::from_static(b"fresh"))
        .await
        .unwrap();
    assert_eq!(text(&recv(&mut slow).await), "fresh");
}

async fn subscriptions_end_when_the_broker_is_dropped(nodes: Nodes) {
    let Nodes {
        a,
        b,
        backend_subscriptions,
        ..
    } = nodes;
    let mut sub = a.subscribe("presence:1").await.unwrap();
    // Every handle goes, the probe's too.
    drop((a, b, backend_subscriptions));
    let end = timeout(Duration::from_secs(5), sub.recv())
        .await
        .expect("the subscription ends within 5 s");
    assert_eq!(end, None);
}

/// Behaviour only the Redis backend can show: connections and reconnects.
mod redis_only {
    use super::*;

    #[tokio::test]
    async fn a_node_holds_one_redis_subscription_per_channel() {
        let Some(url) = testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", testkit::unique_name("broker"));
        let a = redis_node(&url, &prefix).await;
        let b = redis_node(&url, &prefix).await;
        let raw = raw_client(&url).await;
        let channel = format!("{prefix}chat:9");
        let _subs = [
            a.subscribe("chat:9").await.unwrap(),
            a.subscribe("chat:9").await.unwrap(),
            a.subscribe("chat:9").await.unwrap(),
        ];
        assert_eq!(a.subscriber_count("chat:9"), 3);
        assert_eq!(numsub(&raw, &channel).await, 1);
        let on_b = b.subscribe("chat:9").await.unwrap();
        assert_eq!(numsub(&raw, &channel).await, 2);
        drop(on_b);
        let deadline = Instant::now() + Duration::from_secs(3);
        while numsub(&raw, &channel).await != 1 {
            assert!(Instant::now() < deadline, "node b did not unsubscribe");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn subscriptions_survive_a_lost_connection() {
        let Some(url) = testkit::redis_url() else {
            return;
        };
        let prefix = format!("{}:", testkit::unique_name("broker"));
        let node = redis_node(&url, &prefix).await;
        let raw = raw_client(&url).await;
        // Give this node's subscriber connection a channel count no other test uses,
        // so it can be found in CLIENT LIST.
        const CHANNELS: usize = 13;
        let mut subs = Vec::new();
        for i in 0..CHANNELS {
            subs.push(node.subscribe(&format!("reconnect:{i}")).await.unwrap());
        }
        let clients: String = raw
            .custom(fred::cmd!("CLIENT"), vec!["LIST", "TYPE", "pubsub"])
            .await
            .unwrap();
        let id = clients
            .lines()
            .find(|line| line.contains(&format!(" sub={CHANNELS} ")))
            .and_then(|line| line.split(' ').find_map(|kv| kv.strip_prefix("id=")))
            .unwrap_or_else(|| panic!("the node's subscriber connection is not listed:\n{clients}"))
            .to_owned();
        let killed: i64 = raw
            .custom(fred::cmd!("CLIENT"), vec!["KILL", "ID", id.as_str()])
            .await
            .unwrap();
        assert_eq!(killed, 1);

        // fred reconnects and the broker subscribes its channels again.
        let deadline = Instant::now() + Duration::from_secs(10);
        let last = subs.last_mut().expect("subscriptions");
        loop {
            node.publish(
                &format!("reconnect:{}", CHANNELS - 1),
                Bytes::from_static(b"ping"),
            )
            .await
            .unwrap();
            match timeout(Duration::from_millis(200), last.recv()).await {
                Ok(Some(message)) => {
                    assert_eq!(text(&message), "ping");
                    break;
                }
                Ok(None) => panic!("the subscription ended on a lost connection"),
                Err(_) => assert!(Instant::now() < deadline, "not resubscribed after 10 s"),
            }
        }
        let channel = format!("{prefix}reconnect:0");
        assert_eq!(numsub(&raw, &channel).await, 1);
    }
}
