//! Two nodes sharing one broker, history and presence store: in-process, and over
//! a real Redis.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use vigor_common::broker::redis::RedisBroker;
use vigor_common::testkit;
use vigor_hub::history::redis::RedisHistory;
use vigor_hub::presence::redis::RedisPresence;

use crate::support::{test_config, Backends, Issuer, TestHub};
use vigor_hub::HubConfig;

async fn memory_nodes() -> (TestHub, TestHub) {
    let config = test_config();
    let backends = Backends::memory(&config);
    let issuer = Arc::new(Issuer::new());
    let a = TestHub::spawn_node(config.clone(), backends.clone(), issuer.clone(), 1).await;
    let b = TestHub::spawn_node(config, backends, issuer, 2).await;
    (a, b)
}

/// Backends of one node on the test Redis: its own connections, a shared prefix;
/// histories expire soon after the test.
pub async fn redis_backends(url: &str, prefix: &str) -> Backends {
    let config = HubConfig {
        ring_ttl_secs: 60,
        ..test_config()
    };
    Backends {
        broker: Arc::new(RedisBroker::connect(url, prefix).await.unwrap()),
        history: Arc::new(
            RedisHistory::connect(url, prefix, config.ring_capacity, config.ring_ttl())
                .await
                .unwrap(),
        ),
        presence: Arc::new(
            RedisPresence::connect(url, prefix, config.presence_ttl())
                .await
                .unwrap(),
        ),
    }
}

async fn redis_nodes() -> Option<(TestHub, TestHub)> {
    let url = testkit::redis_url()?;
    let prefix = format!("{}:", testkit::unique_name("hub_cluster"));
    let issuer = Arc::new(Issuer::new());
    let a = TestHub::spawn_node(
        test_config(),
        redis_backends(&url, &prefix).await,
        issuer.clone(),
        1,
    )
    .await;
    let b = TestHub::spawn_node(
        test_config(),
        redis_backends(&url, &prefix).await,
        issuer,
        2,
    )
    .await;
    Some((a, b))
}

async fn publish_on_one_node_reaches_the_other((a, b): (TestHub, TestHub)) {
    let mut on_b = b.connect_as(1).await;
    let mut on_a = a.connect_as(1).await;
    assert_eq!(on_b.subscribe("user:1", None).await["type"], "ack");
    assert_eq!(on_a.subscribe("user:1", None).await["type"], "ack");
    let mut seqs = Vec::new();
    for n in 0..3 {
        let node = if n % 2 == 0 { &a } else { &b };
        seqs.push(
            node.publish("user:1", "achievement.unlocked", json!({"n": n}))
                .await,
        );
    }
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "one counter for both nodes: {seqs:?}"
    );
    for client in [&mut on_a, &mut on_b] {
        for (n, seq) in seqs.iter().enumerate() {
            let event = client.next_event().await;
            assert_eq!(event["seq"], *seq);
            assert_eq!(event["data"]["n"], n);
        }
        client.silent_for(Duration::from_millis(200)).await;
    }
}

async fn resume_works_on_the_other_node((a, b): (TestHub, TestHub)) {
    let mut client = a.connect_as(1).await;
    assert_eq!(client.subscribe("user:1", None).await["type"], "ack");
    let seen = a.publish("user:1", "level.up", json!({"level": 1})).await;
    assert_eq!(client.next_event().await["seq"], seen);
    client.close().await;
    // Node B has no local subscriber, hence no broker subscription, while these happen.
    let missed = [
        a.publish("user:1", "level.up", json!({"level": 2})).await,
        b.publish("user:1", "level.up", json!({"level": 3})).await,
    ];
    let mut client = b.connect_as(1).await;
    let ack = client.subscribe("user:1", Some(seen)).await;
    assert_eq!(ack["result"]["recovered"], true, "{ack}");
    assert_eq!(ack["result"]["replayed"], 2);
    for seq in missed {
        assert_eq!(client.next_event().await["seq"], seq);
    }
    let live = a.publish("user:1", "level.up", json!({"level": 4})).await;
    assert_eq!(client.next_event().await["seq"], live);
}

async fn presence_is_cluster_wide((a, b): (TestHub, TestHub)) {
    let mut alice = a.connect_as(1).await;
    assert_eq!(
        alice.subscribe("presence:chat:1", None).await["type"],
        "ack"
    );
    assert_eq!(alice.next_event().await["event"], "presence.join");
    let mut bob = b.connect_as(2).await;
    assert_eq!(bob.subscribe("presence:chat:1", None).await["type"], "ack");
    let join = alice.next_event().await;
    assert_eq!(
        (&join["event"], &join["data"]),
        (&json!("presence.join"), &json!({"user_id": "2"}))
    );

    let answer = alice
        .request(json!({"type": "presence", "channel": "chat:1"}))
        .await;
    assert_eq!(answer["result"]["total"], 2, "{answer}");

    // Typing crosses nodes too, and skips the typist.
    assert_eq!(alice.subscribe("chat:1", None).await["type"], "ack");
    assert_eq!(bob.subscribe("chat:1", None).await["type"], "ack");
    assert_eq!(
        bob.next_event().await["event"],
        "presence.join",
        "Bob saw his own join"
    );
    let ack = bob
        .request(json!({"type": "typing", "channel": "chat:1"}))
        .await;
    assert_eq!(ack["result"]["throttled"], false);
    let typing = alice.next_event().await;
    assert_eq!(
        (&typing["event"], &typing["data"]),
        (&json!("typing"), &json!({"user_id": "2"}))
    );

    bob.close().await;
    let leave = alice.next_event().await;
    assert_eq!(
        (&leave["event"], &leave["data"]),
        (&json!("presence.leave"), &json!({"user_id": "2"}))
    );
    let answer = alice
        .request(json!({"type": "presence", "channel": "chat:1"}))
        .await;
    assert_eq!(answer["result"]["members"], json!(["1"]));
}

mod memory {
    use super::*;

    #[tokio::test]
    async fn publish_on_one_node_reaches_the_other() {
        super::publish_on_one_node_reaches_the_other(memory_nodes().await).await;
    }

    #[tokio::test]
    async fn resume_works_on_the_other_node() {
        super::resume_works_on_the_other_node(memory_nodes().await).await;
    }

    #[tokio::test]
    async fn presence_is_cluster_wide() {
        super::presence_is_cluster_wide(memory_nodes().await).await;
    }
}

mod redis {
    use super::*;

    #[tokio::test]
    async fn publish_on_one_node_reaches_the_other() {
        let Some(nodes) = redis_nodes().await else {
            return;
        };
        super::publish_on_one_node_reaches_the_other(nodes).await;
    }

    #[tokio::test]
    async fn resume_works_on_the_other_node() {
        let Some(nodes) = redis_nodes().await else {
            return;
        };
        super::resume_works_on_the_other_node(nodes).await;
    }

    #[tokio::test]
    async fn presence_is_cluster_wide() {
        let Some(nodes) = redis_nodes().await else {
            return;
        };
        super::presence_is_cluster_wide(nodes).await;
    }
}
