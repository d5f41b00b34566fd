//! Resume after a reconnect: replay without gaps or duplicates, or `recovered: false`.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;

use crate::support::{test_config, TestHub};
use vigor_hub::HubConfig;

#[tokio::test]
async fn resume_replays_what_was_missed_in_order_then_goes_live() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect_as(1).await;
    let ack = client.subscribe("user:1", None).await;
    assert_eq!(ack["result"]["seq"], 0, "a channel without history");
    let mut seen = Vec::new();
    for n in 0..3 {
        app.publish("user:1", "achievement.unlocked", json!({"n": n}))
            .await;
        seen.push(client.next_event().await["seq"].as_u64().unwrap());
    }
    client.close().await;

    let mut missed = Vec::new();
    for n in 3..6 {
        missed.push(
            app.publish("user:1", "achievement.unlocked", json!({"n": n}))
                .await,
        );
    }
    let mut client = app.connect_as(1).await;
    let last = *seen.last().unwrap();
    let ack = client.subscribe("user:1", Some(last)).await;
    assert_eq!(ack["result"]["recovered"], true, "{ack}");
    assert_eq!(ack["result"]["replayed"], 3);
    assert_eq!(ack["result"]["seq"], missed[2]);
    for (n, seq) in (3..6).zip(&missed) {
        let event = client.next_event().await;
        assert_eq!(
            (event["seq"].as_u64().unwrap(), &event["data"]["n"]),
            (*seq, &json!(n))
        );
    }
    let live = app.publish("user:1", "level.up", json!({})).await;
    assert_eq!(live, missed[2] + 1);
    let event = client.next_event().await;
    assert_eq!(event["seq"], live);
    client
        .silent_for(std::time::Duration::from_millis(200))
        .await;

    // Nothing missed: recovered, nothing replayed.
    let mut again = app.connect_as(1).await;
    let ack = again.subscribe("user:1", Some(live)).await;
    assert_eq!(
        (&ack["result"]["recovered"], &ack["result"]["replayed"]),
        (&json!(true), &json!(0))
    );
    again
        .silent_for(std::time::Duration::from_millis(200))
        .await;
}

#[tokio::test]
async fn resume_older_than_the_ring_is_not_recovered() {
    let app = TestHub::spawn(HubConfig {
        ring_capacity: 4,
        ..test_config()
    })
    .await;
    let first = app.publish("user:1", "level.up", json!({"n": 0})).await;
    for n in 1..10 {
        app.publish("user:1", "level.up", json!({"n": n})).await;
    }
    let mut client = app.connect_as(1).await;
    let ack = client.subscribe("user:1", Some(first)).await;
    assert_eq!(ack["result"]["recovered"], false, "{ack}");
    assert_eq!(ack["result"]["replayed"], 0);
    client
        .silent_for(std::time::Duration::from_millis(200))
        .await;
    // The subscription is live anyway.
    let seq = app.publish("user:1", "level.up", json!({"n": 10})).await;
    assert_eq!(client.next_event().await["seq"], seq);

    // A `since` from another epoch (ahead of the channel) is not recovered either.
    let mut other = app.connect_as(1).await;
    let ack = other.subscribe("user:1", Some(seq + 100)).await;
    assert_eq!(ack["result"]["recovered"], false);
}

#[tokio::test]
async fn concurrent_publishers_yield_one_gapless_increasing_sequence() {
    let app = Arc::new(TestHub::spawn(test_config()).await);
    let mut client = app.connect_as(1).await;
    assert_eq!(
        client.subscribe("leaderboard:xp:weekly", None).await["type"],
        "ack"
    );
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..25 {
                    seqs.push(
                        app.publish(
                            "leaderboard:xp:weekly",
                            "leaderboard.update",
                            json!({"t": t, "n": n}),
                        )
                        .await,
                    );
                }
                seqs
            })
        })
        .collect();
    let mut published = BTreeSet::new();
    for task in tasks {
        published.extend(task.await.unwrap());
    }
    let mut received = Vec::new();
    for _ in 0..200 {
        received.push(client.next_event().await["seq"].as_u64().unwrap());
    }
    assert!(
        received.windows(2).all(|w| w[1] == w[0] + 1),
        "strictly increasing without gaps"
    );
    assert_eq!(received.into_iter().collect::<BTreeSet<_>>(), published);
    client
        .silent_for(std::time::Duration::from_millis(200))
        .await;
}
