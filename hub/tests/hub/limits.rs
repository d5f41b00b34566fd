//! Backpressure and limits: rate limit, slow consumers, idle timeout, shutdown,
//! sessions per user.

use std::time::Duration;

use serde_json::json;

use crate::support::{test_config, TestHub};
use vigor_hub::HubConfig;

#[tokio::test]
async fn the_rate_limit_answers_rate_limited_then_closes_with_4008() {
    let app = TestHub::spawn(HubConfig {
        rate_per_sec: 1,
        rate_burst: 5,
        ..test_config()
    })
    .await;
    let mut client = app.connect().await;
    // The burst passes (the auth frame is the first of it).
    let mut answers = Vec::new();
    for _ in 0..6 {
        let id = client.send(json!({"type": "ping"})).await;
        answers.push((id, client.next().await));
    }
    for (id, answer) in &answers[..5] {
        assert_eq!(answer, &json!({"type": "pong", "id": id}));
    }
    assert_eq!(answers[5].1["code"], "rate_limited");
    assert_eq!(answers[5].1["id"], answers[5].0);
    // A client that keeps going is closed.
    for _ in 0..10 {
        client.send(json!({"type": "ping"})).await;
    }
    let (code, _) = client.closed().await;
    assert_eq!(code, 4008);
}

#[tokio::test]
async fn a_slow_consumer_is_closed_with_4008_and_counted() {
    let metrics = vigor_common::telemetry::metrics();
    let app = TestHub::spawn(HubConfig {
        outbound_queue: 16,
        close_grace_ms: 10_000,
        ..test_config()
    })
    .await;
    // A tiny receive buffer, and the client does not read while events pour in.
    let mut slow = app.connect_with(None, Some(4096)).await.unwrap();
    let token = app.issuer.token(1, 600);
    let ack = slow.request(json!({"type": "auth", "token": token})).await;
    assert_eq!(ack["type"], "ack");
    assert_eq!(
        slow.subscribe("leaderboard:xp:weekly", None).await["type"],
        "ack"
    );
    let mut fast = app.connect_as(2).await;
    assert_eq!(fast.subscribe("user:2", None).await["type"], "ack");

    let text = "x".repeat(16 * 1024);
    for n in 0..2_000 {
        app.publish(
            "leaderboard:xp:weekly",
            "leaderboard.update",
            json!({"n": n, "pad": text}),
        )
        .await;
        if n % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    // Draining now, the slow client finds the close after the events it got.
    let (code, reason) = slow.closed_within(Duration::from_secs(20)).await;
    assert_eq!(code, 4008, "{reason}");
    assert!(reason.contains("too slow"), "{reason}");
    let rendered = metrics.render();
    let line = rendered
        .lines()
        .find(|l| l.starts_with("vigor_hub_slow_consumers_total"))
        .unwrap_or_else(|| panic!("the counter is exported:\n{rendered}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    // Other sessions are unaffected.
    app.publish("user:2", "level.up", json!({})).await;
    assert_eq!(fast.next_event().await["event"], "level.up");
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_a_reading_one_is_kept() {
    let app = TestHub::spawn(HubConfig {
        heartbeat_ms: 100,
        idle_timeout_ms: 400,
        ..test_config()
    })
    .await;
    let mut idle = app.connect_as(1).await;
    let mut alive = app.connect_as(2).await;
    // Reading lets the client answer the server's pings; not reading does not.
    alive.silent_for(Duration::from_millis(900)).await;
    assert_eq!(alive.request(json!({"type": "ping"})).await["type"], "pong");
    let closed = idle.closed().await;
    assert_eq!(closed.0, 1001, "{closed:?}");
}

#[tokio::test]
async fn shutdown_closes_every_session_with_1012() {
    let app = TestHub::spawn(test_config()).await;
    let mut alice = app.connect_as(1).await;
    let mut bob = app.connect().await;
    assert_eq!(alice.subscribe("user:1", None).await["type"], "ack");
    assert_eq!(app.hub.session_count(), 2);
    tokio::time::timeout(Duration::from_secs(5), app.hub.shutdown())
        .await
        .expect("every session and task ends");
    assert_eq!(alice.closed().await.0, 1012);
    assert_eq!(bob.closed().await.0, 1012);
    assert_eq!(app.hub.session_count(), 0);
    assert_eq!(app.hub.channel_count(), 0);
    assert!(app.hub.is_shutting_down());
}

#[tokio::test]
async fn a_user_over_the_session_limit_is_refused_until_a_session_closes() {
    let app = TestHub::spawn(HubConfig {
        max_sessions_per_user: 2,
        ..test_config()
    })
    .await;
    let first = app.connect_as(7).await;
    let mut second = app.connect_as(7).await;
    // Another user is not affected.
    let mut other = app.connect_as(8).await;

    // By subprotocol: closed with 4008.
    let token = app.issuer.token(7, 600);
    let mut third = app
        .connect_with(Some(&format!("vigor.v1, bearer.{token}")), None)
        .await
        .unwrap();
    let (code, reason) = third.closed().await;
    assert_eq!(code, 4008);
    assert!(reason.contains("too many"), "{reason}");

    // By frame: an error, and the connection stays unauthenticated.
    let mut fourth = app.connect().await;
    let refused = fourth
        .request(json!({"type": "auth", "token": token}))
        .await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "too_many_sessions");
    let denied = fourth.subscribe("user:7", None).await;
    assert_eq!(denied["code"], "unauthenticated", "{denied}");

    // Renewing the token of a counted session is not a new session.
    let renewed = second
        .request(json!({"type": "auth", "token": app.issuer.token(7, 600)}))
        .await;
    assert_eq!(renewed["type"], "ack", "{renewed}");

    // Once a session closes, the user may open one again, on the waiting
    // connection too.
    first.close().await;
    let mut accepted = json!(null);
    for _ in 0..50 {
        accepted = fourth
            .request(json!({"type": "auth", "token": token}))
            .await;
        if accepted["type"] == "ack" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(accepted["type"], "ack", "{accepted}");
    assert_eq!(fourth.subscribe("user:7", None).await["type"], "ack");
    assert_eq!(other.request(json!({"type": "ping"})).await["type"], "pong");
}
