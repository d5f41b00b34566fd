//! Typing indicators and presence.

use std::time::Duration;

use serde_json::json;

use crate::support::{test_config, TestHub};
use vigor_hub::HubConfig;

#[tokio::test]
async fn typing_reaches_the_other_members_and_is_throttled() {
    let app = TestHub::spawn(HubConfig {
        typing_interval_ms: 500,
        ..test_config()
    })
    .await;
    let mut alice = app.connect_as(1).await;
    let mut bob = app.connect_as(2).await;
    assert_eq!(alice.subscribe("chat:1", None).await["type"], "ack");
    assert_eq!(bob.subscribe("chat:1", None).await["type"], "ack");

    let ack = alice
        .request(json!({"type": "typing", "channel": "chat:1"}))
        .await;
    assert_eq!(ack["result"], json!({"throttled": false}));
    let event = bob.next_event().await;
    assert_eq!(
        event,
        json!({"type": "event", "channel": "chat:1", "event": "typing", "data": {"user_id": "1"}}),
        "typing is ephemeral: no seq"
    );
    // Within the interval: acknowledged, not sent.
    let ack = alice
        .request(json!({"type": "typing", "channel": "chat:1"}))
        .await;
    assert_eq!(ack["result"], json!({"throttled": true}));
    bob.silent_for(Duration::from_millis(200)).await;
    // Alice does not see herself typing.
    alice.silent_for(Duration::from_millis(100)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ack = alice
        .request(json!({"type": "typing", "channel": "chat:1"}))
        .await;
    assert_eq!(ack["result"], json!({"throttled": false}));
    assert_eq!(bob.next_event().await["event"], "typing");

    // Typing is not kept: a resume replays nothing of it.
    let head = app
        .publish("chat:1", "chat.message", json!({"text": "hi"}))
        .await;
    assert_eq!(bob.next_event().await["seq"], head);
    let mut late = app.connect_as(2).await;
    let ack = late.subscribe("chat:1", Some(head - 1)).await;
    assert_eq!(ack["result"]["replayed"], 1);
    assert_eq!(late.next_event().await["event"], "chat.message");
}

#[tokio::test]
async fn typing_needs_a_subscription_and_the_permission() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    let answer = alice
        .request(json!({"type": "typing", "channel": "chat:1"}))
        .await;
    assert_eq!(answer["code"], "not_subscribed");
    assert_eq!(
        alice.subscribe("leaderboard:xp:weekly", None).await["type"],
        "ack"
    );
    let answer = alice
        .request(json!({"type": "typing", "channel": "leaderboard:xp:weekly"}))
        .await;
    assert_eq!(answer["code"], "forbidden");
}

#[tokio::test]
async fn presence_announces_first_joins_and_last_leaves() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    assert_eq!(
        alice.subscribe("presence:chat:1", None).await["type"],
        "ack"
    );
    let event = alice.next_event().await;
    assert_eq!(
        event,
        json!({"type": "event", "channel": "presence:chat:1", "event": "presence.join", "data": {"user_id": "1"}})
    );

    let mut bob = app.connect_as(2).await;
    assert_eq!(bob.subscribe("presence:chat:1", None).await["type"], "ack");
    assert_eq!(alice.next_event().await["data"], json!({"user_id": "2"}));
    assert_eq!(bob.next_event().await["data"], json!({"user_id": "2"}));

    // Bob's second tab is not a new join.
    let mut bob_tab = app.connect_as(2).await;
    assert_eq!(
        bob_tab.subscribe("presence:chat:1", None).await["type"],
        "ack"
    );
    alice.silent_for(Duration::from_millis(200)).await;

    let answer = alice
        .request(json!({"type": "presence", "channel": "chat:1"}))
        .await;
    assert_eq!(answer["result"]["channel"], "presence:chat:1");
    assert_eq!(answer["result"]["total"], 2);
    let mut members: Vec<String> =
        serde_json::from_value(answer["result"]["members"].clone()).unwrap();
    members.sort();
    assert_eq!(members, vec!["1", "2"]);

    // Closing one tab keeps Bob present; the last one leaves.
    bob_tab.close().await;
    alice.silent_for(Duration::from_millis(200)).await;
    bob.close().await;
    let event = alice.next_event().await;
    assert_eq!(event["event"], "presence.leave");
    assert_eq!(event["data"], json!({"user_id": "2"}));
    let answer = alice
        .request(json!({"type": "presence", "channel": "presence:chat:1"}))
        .await;
    assert_eq!(answer["result"]["members"], json!(["1"]));

    // Unsubscribing leaves too.
    let mut carol_as_bob = app.connect_as(2).await;
    assert_eq!(
        carol_as_bob.subscribe("presence:chat:1", None).await["type"],
        "ack"
    );
    assert_eq!(alice.next_event().await["event"], "presence.join");
    carol_as_bob
        .request(json!({"type": "unsubscribe", "channel": "presence:chat:1"}))
        .await;
    assert_eq!(alice.next_event().await["event"], "presence.leave");
}

#[tokio::test]
async fn presence_is_only_shown_to_those_allowed_in() {
    let app = TestHub::spawn(test_config()).await;
    let mut mallory = app.connect_as(3).await;
    let answer = mallory
        .request(json!({"type": "presence", "channel": "chat:1"}))
        .await;
    assert_eq!(answer["code"], "forbidden");
    let answer = mallory
        .request(json!({"type": "presence", "channel": "user:3"}))
        .await;
    assert_eq!(answer["code"], "invalid_channel");
}
