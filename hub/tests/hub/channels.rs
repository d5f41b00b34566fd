//! Subscribing, publishing and the answers to bad frames.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::support::{test_config, TestHub};
use vigor_common::live::{LiveError, LivePublisher};
use vigor_hub::HubConfig;

#[tokio::test]
async fn subscribe_is_authorized_per_channel_and_denied_by_default() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    for channel in ["user:2", "community:1", "chat:3", "presence:community:1"] {
        let answer = alice.subscribe(channel, None).await;
        assert_eq!(answer["type"], "error", "{channel}: {answer}");
        assert_eq!(answer["code"], "forbidden", "{channel}: {answer}");
    }
    for channel in [
        "user:1",
        "leaderboard:xp:weekly",
        "chat:1",
        "presence:chat:1",
    ] {
        let ack = alice.subscribe(channel, None).await;
        assert_eq!(ack["type"], "ack", "{channel}: {ack}");
        assert_eq!(ack["result"]["channel"], channel);
    }
    let mut mallory = app.connect_as(3).await;
    assert_eq!(mallory.subscribe("chat:1", None).await["code"], "forbidden");
    // The connection stays usable after a refusal.
    assert_eq!(
        mallory.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
}

#[tokio::test]
async fn server_side_publishes_reach_subscribers_in_seq_order() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    let mut bob = app.connect_as(2).await;
    assert_eq!(
        alice.subscribe("leaderboard:xp:weekly", None).await["type"],
        "ack"
    );
    assert_eq!(
        bob.subscribe("leaderboard:xp:weekly", None).await["type"],
        "ack"
    );
    let mut seqs = Vec::new();
    for rank in 1..=5 {
        seqs.push(
            app.publish(
                "leaderboard:xp:weekly",
                "leaderboard.update",
                json!({"rank": rank}),
            )
            .await,
        );
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    for client in [&mut alice, &mut bob] {
        for (rank, seq) in (1..=5).zip(&seqs) {
            let event = client.next_event().await;
            assert_eq!(
                event,
                json!({"type": "event", "channel": "leaderboard:xp:weekly", "seq": seq,
                       "event": "leaderboard.update", "data": {"rank": rank}})
            );
        }
    }
}

#[tokio::test]
async fn services_publish_through_the_live_publisher_and_bad_events_are_refused() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    assert_eq!(alice.subscribe("user:1", None).await["type"], "ack");
    // What a service holds in its context.
    let live: Arc<dyn LivePublisher> = Arc::new(app.hub.publisher().clone());
    let badge = json!({"badge": "first-run"});
    let seq = live
        .publish("user:1", "achievement.unlocked", &badge)
        .await
        .unwrap();
    assert_eq!(
        alice.next_event().await,
        json!({"type": "event", "channel": "user:1", "seq": seq,
               "event": "achievement.unlocked", "data": badge})
    );

    for (channel, event, data) in [
        ("user:007", "achievement.unlocked", json!({})),
        ("user:1", "Not An Event!", json!({})),
        ("user:1", "achievement.unlocked", json!([1, 2])),
        ("presence:chat:1", "presence.join", json!({})),
    ] {
        let refused = live.publish(channel, event, &data).await;
        assert!(
            matches!(refused, Err(LiveError::Invalid(_))),
            "{channel} {event} {data}: {refused:?}"
        );
    }
    // The refused events took no seq and reached no one.
    let next = live
        .publish("user:1", "level.up", &json!({"level": 2}))
        .await
        .unwrap();
    assert_eq!(next, seq + 1);
    let event = alice.next_event().await;
    assert_eq!(
        (event["seq"].as_u64(), &event["event"]),
        (Some(next), &json!("level.up"))
    );
}

#[tokio::test]
async fn client_publishes_need_the_owners_permission() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    let mut bob = app.connect_as(2).await;
    assert_eq!(bob.subscribe("chat:2", None).await["type"], "ack");

    let ack = alice
        .request(json!({"type": "publish", "channel": "chat:2", "event": "chat.reaction", "data": {"emoji": "💪"}}))
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let event = bob.next_event().await;
    assert_eq!(event["seq"], ack["result"]["seq"]);
    assert_eq!(event["data"], json!({"emoji": "💪"}));

    // chat:1 lets members subscribe and type, not publish; user channels are push-only.
    for (channel, event) in [
        ("chat:1", "chat.message"),
        ("user:1", "level.up"),
        ("chat:2", "typing"),
        ("chat:2", "presence.join"),
    ] {
        let answer = alice
            .request(json!({"type": "publish", "channel": channel, "event": event, "data": {}}))
            .await;
        assert_eq!(answer["code"], "forbidden", "{channel} {event}: {answer}");
    }
    bob.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn unsubscribe_stops_events_after_its_ack() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    assert_eq!(alice.subscribe("user:1", None).await["type"], "ack");
    let ack = alice
        .request(json!({"type": "unsubscribe", "channel": "user:1"}))
        .await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["result"]["channel"], "user:1");
    app.publish("user:1", "level.up", json!({"level": 2})).await;
    alice.silent_for(Duration::from_millis(300)).await;
    let again = alice
        .request(json!({"type": "unsubscribe", "channel": "user:1"}))
        .await;
    assert_eq!(again["code"], "not_subscribed");
    // The channel task stopped with its last subscriber.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(app.hub.channel_count(), 0);
}

#[tokio::test]
async fn subscribing_twice_or_too_often_is_refused() {
    let app = TestHub::spawn(HubConfig {
        max_subscriptions: 2,
        ..test_config()
    })
    .await;
    let mut alice = app.connect_as(1).await;
    assert_eq!(alice.subscribe("user:1", None).await["type"], "ack");
    assert_eq!(
        alice.subscribe("user:1", None).await["code"],
        "already_subscribed"
    );
    assert_eq!(
        alice.subscribe("leaderboard:xp:weekly", None).await["type"],
        "ack"
    );
    assert_eq!(
        alice.subscribe("leaderboard:xp:daily", None).await["code"],
        "too_many_subscriptions"
    );
}

#[tokio::test]
async fn malformed_frames_get_error_frames_and_the_connection_stays() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect_as(1).await;
    let cases = [
        ("not json", json!(null), "malformed"),
        ("[1, 2]", json!(null), "malformed"),
        (r#"{"type": 5, "id": 3}"#, json!(3), "invalid_field"),
        (r#"{"type": "dance", "id": 4}"#, json!(4), "unknown_type"),
        (r#"{"type": "ping"}"#, json!(null), "invalid_field"),
        (
            r#"{"type": "subscribe", "id": 6, "channel": "room:1"}"#,
            json!(6),
            "invalid_channel",
        ),
        (
            r#"{"type": "subscribe", "id": 7, "channel": "user:1", "since": "x"}"#,
            json!(7),
            "invalid_field",
        ),
        (
            r#"{"type": "publish", "id": 8, "channel": "chat:2", "event": "x", "data": 1}"#,
            json!(8),
            "invalid_field",
        ),
    ];
    for (text, id, code) in cases {
        client.send_text(text).await;
        let error = client.next().await;
        assert_eq!(error["type"], "error", "{text}: {error}");
        assert_eq!(error["id"], id, "{text}: {error}");
        assert_eq!(error["code"], code, "{text}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    client.send_binary(vec![1, 2, 3]).await;
    assert_eq!(client.next().await["code"], "malformed");
    let pong = client.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong", "{pong}");
}

#[tokio::test]
async fn a_frame_over_the_size_limit_closes_with_1009() {
    let app = TestHub::spawn(HubConfig {
        max_frame_bytes: 4096,
        ..test_config()
    })
    .await;
    let mut client = app.connect_as(1).await;
    let big = json!({"type": "publish", "id": 2, "channel": "chat:2", "event": "x", "data": {"text": "a".repeat(5000)}});
    client.send_text(&big.to_string()).await;
    assert_eq!(client.closed().await.0, 1009);
}
