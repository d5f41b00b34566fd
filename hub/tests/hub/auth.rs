//! Authentication: by frame, by subprotocol, timeouts, refresh and expiry.

use std::time::Duration;

use serde_json::json;

use crate::support::{id, test_config, TestHub};
use vigor_hub::HubConfig;

#[tokio::test]
async fn auth_by_frame_acks_the_user_and_session() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect().await;
    let token = app.issuer.token(7, 600);
    let ack = client
        .request(json!({"type": "auth", "token": token}))
        .await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["id"], 1);
    assert_eq!(ack["result"]["user_id"], "7");
    let session: i64 = ack["result"]["session_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(session > 0);
    assert!(ack["result"]["expires_at"].as_u64().unwrap() > 0);
    assert_eq!(client.protocol, None, "no subprotocol was offered");
    // Authenticated: subscribing to one's own channel works.
    assert_eq!(client.subscribe("user:7", None).await["type"], "ack");
}

#[tokio::test]
async fn auth_by_subprotocol_echoes_vigor_v1_and_welcomes() {
    let app = TestHub::spawn(test_config()).await;
    let token = app.issuer.token(8, 600);
    let mut client = app
        .connect_with(Some(&format!("vigor.v1, bearer.{token}")), None)
        .await
        .unwrap();
    assert_eq!(client.protocol.as_deref(), Some("vigor.v1"));
    let welcome = client.next().await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["protocol"], "vigor.v1");
    assert_eq!(welcome["user_id"], "8");
    assert!(welcome["session_id"].as_str().is_some());
    assert_eq!(client.subscribe("user:8", None).await["type"], "ack");
}

#[tokio::test]
async fn an_invalid_subprotocol_token_closes_with_4001() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app
        .connect_with(Some("vigor.v1, bearer.not-a-jwt"), None)
        .await
        .unwrap();
    assert_eq!(client.closed().await.0, 4001);
    let expired = app.issuer.token(8, -60);
    let mut client = app
        .connect_with(Some(&format!("vigor.v1, bearer.{expired}")), None)
        .await
        .unwrap();
    assert_eq!(client.closed().await.0, 4001);
}

#[tokio::test]
async fn subprotocols_without_vigor_v1_are_refused() {
    let app = TestHub::spawn(test_config()).await;
    let token = app.issuer.token(8, 600);
    let refused = app
        .connect_with(Some(&format!("bearer.{token}")), None)
        .await;
    let error = refused.err().expect("the upgrade is refused");
    assert!(error.contains("400"), "{error}");
}

#[tokio::test]
async fn no_authentication_in_time_closes_with_4001() {
    let app = TestHub::spawn(HubConfig {
        auth_timeout_ms: 300,
        ..test_config()
    })
    .await;
    let mut client = app.connect().await;
    // Frames before authentication are answered, but do not count as auth.
    let answer = client
        .request(json!({"type": "subscribe", "channel": "user:1"}))
        .await;
    assert_eq!(answer["code"], "unauthenticated");
    let bad = client
        .request(json!({"type": "auth", "token": "garbage"}))
        .await;
    assert_eq!(bad["code"], "invalid_token");
    assert_eq!(
        client.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
    let started = tokio::time::Instant::now();
    assert_eq!(client.closed().await.0, 4001);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_expired_token_is_refused_in_the_auth_frame() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect().await;
    // Within the verifier's leeway, but past its expiry.
    let token = app.issuer.token(3, -5);
    let answer = client
        .request(json!({"type": "auth", "token": token}))
        .await;
    assert_eq!(answer["code"], "token_expired", "{answer}");
}

#[tokio::test]
async fn a_token_that_expires_closes_the_session_with_4009() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect().await;
    let token = app.issuer.token(4, 2);
    assert_eq!(
        client
            .request(json!({"type": "auth", "token": token}))
            .await["type"],
        "ack"
    );
    let (code, reason) = client.closed_within(Duration::from_secs(4)).await;
    assert_eq!(code, 4009, "{reason}");
}

#[tokio::test]
async fn a_fresh_auth_frame_keeps_the_connection_and_its_subscriptions() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect().await;
    let short = app.issuer.token(5, 2);
    assert_eq!(
        client
            .request(json!({"type": "auth", "token": short}))
            .await["type"],
        "ack"
    );
    assert_eq!(client.subscribe("user:5", None).await["type"], "ack");

    let fresh = app.issuer.token(5, 600);
    let ack = client
        .request(json!({"type": "auth", "token": fresh}))
        .await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["result"]["user_id"], "5");

    // Past the first token's expiry, the session lives on, still subscribed.
    client.silent_for(Duration::from_secs(3)).await;
    let seq = app.publish("user:5", "level.up", json!({"level": 3})).await;
    let event = client.next_event().await;
    assert_eq!(
        (event["seq"].as_u64(), &event["event"]),
        (Some(seq), &json!("level.up"))
    );
    assert_eq!(
        client.request(json!({"type": "ping"})).await["type"],
        "pong"
    );
}

#[tokio::test]
async fn a_token_of_another_user_closes_with_4003() {
    let app = TestHub::spawn(test_config()).await;
    let mut client = app.connect_as(5).await;
    let other = app.issuer.token(6, 600);
    client.send(json!({"type": "auth", "token": other})).await;
    assert_eq!(client.closed().await.0, 4003);
}

#[tokio::test]
async fn the_server_can_disconnect_a_user() {
    let app = TestHub::spawn(test_config()).await;
    let mut first = app.connect_as(9).await;
    let mut second = app.connect_as(9).await;
    let mut other = app.connect_as(10).await;
    assert_eq!(app.hub.disconnect_user(id(9)), 2);
    assert_eq!(first.closed().await.0, 4003);
    assert_eq!(second.closed().await.0, 4003);
    assert_eq!(other.request(json!({"type": "ping"})).await["type"], "pong");
}
