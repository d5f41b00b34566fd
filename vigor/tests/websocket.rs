//! The real-time hub as mounted by `vigor serve`: authenticated sessions at
//! `/v1/ws`, and 1012 to every session when the process is told to stop.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use support::{sign_up_and_get_token, Vigor};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

async fn next_json(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> serde_json::Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("the connection is open")
            .expect("a valid frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON frames");
        }
    }
}

#[tokio::test]
async fn sessions_authenticate_subscribe_and_get_1012_on_sigterm() {
    let mut vigor = Vigor::serve(&[], &[]);
    let token = sign_up_and_get_token(&vigor.url, "websocket@example.org").await;
    let ws_url = format!("{}/v1/ws", vigor.url.replacen("http", "ws", 1));

    // Subprotocol authentication, as browsers do it.
    let mut request = ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("vigor.v1, bearer.{token}").parse().unwrap(),
    );
    let (mut by_protocol, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "vigor.v1");
    let welcome = next_json(&mut by_protocol).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let user_id = welcome["user_id"].as_str().unwrap().to_owned();

    // First-frame authentication, then a subscription to the user's own channel.
    let (mut by_frame, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    by_frame
        .send(Message::text(
            serde_json::json!({"type":"auth","id":1,"token":token}).to_string(),
        ))
        .await
        .unwrap();
    let ack = next_json(&mut by_frame).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["result"]["user_id"], user_id.as_str());
    by_frame
        .send(Message::text(
            serde_json::json!({"type":"subscribe","id":2,"channel":format!("user:{user_id}")})
                .to_string(),
        ))
        .await
        .unwrap();
    let ack = next_json(&mut by_frame).await;
    assert_eq!(
        (ack["type"].as_str(), ack["id"].as_u64()),
        (Some("ack"), Some(2)),
        "{ack}"
    );

    // Someone else's channel is forbidden.
    by_frame
        .send(Message::text(
            serde_json::json!({"type":"subscribe","id":3,"channel":"user:1"}).to_string(),
        ))
        .await
        .unwrap();
    let refused = next_json(&mut by_frame).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // SIGTERM: every session is closed with 1012 (clients reconnect elsewhere).
    let pid = vigor.pid();
    let waiter = tokio::task::spawn_blocking(move || {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    });
    waiter.await.unwrap();
    for ws in [&mut by_protocol, &mut by_frame] {
        let code = loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Close(Some(frame))))) => break frame.code,
                Ok(Some(Ok(_))) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(code, CloseCode::Restart);
    }
    let status = vigor
        .terminate(Duration::from_secs(10))
        .expect("vigor exits");
    assert!(status.success(), "{status:?}");
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A session authenticated by subprotocol, past its `welcome`.
async fn open(base: &str, token: &str) -> Socket {
    let ws_url = format!("{}/v1/ws", base.replacen("http", "ws", 1));
    let mut request = ws_url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("vigor.v1, bearer.{token}").parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let welcome = next_json(&mut ws).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    ws
}

/// The close code the server sends next (heartbeats and events are skipped).
async fn closed_with(ws: &mut Socket) -> CloseCode {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame.code,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame within 3 s, got {other:?}"),
        }
    }
}

/// The status of `GET /v1/users/me` with `token`.
async fn me_status(base: &str, token: &str) -> u16 {
    support::http()
        .get(format!("{base}/v1/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn ended_sessions_stop_their_tokens_and_websockets_at_once() {
    let vigor = Vigor::serve(&[], &[]);
    let base = vigor.url.as_str();
    let email = "ended-sessions@example.org";
    let phone = sign_up_and_get_token(base, email).await;
    let laptop = support::password_token(base, email).await;
    let tablet = support::password_token(base, email).await;
    let mut on_laptop = open(base, &laptop).await;
    let mut on_tablet = open(base, &tablet).await;
    assert_eq!(me_status(base, &laptop).await, 200);

    // Signing out on the laptop ends that session alone: its WebSocket is closed
    // with 4003 and its access token is refused, though it has not expired.
    let logout = support::http()
        .post(format!("{base}/v1/auth/logout"))
        .bearer_auth(&laptop)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_eq!(closed_with(&mut on_laptop).await, CloseCode::from(4003));
    assert_eq!(me_status(base, &laptop).await, 401);
    assert_eq!(me_status(base, &phone).await, 200);
    assert_eq!(me_status(base, &tablet).await, 200);

    // A password change on the phone ends every other session, and keeps its own.
    let changed = support::http()
        .put(format!("{base}/v1/auth/me/password"))
        .bearer_auth(&phone)
        .json(&serde_json::json!({
            "current_password": support::PASSWORD,
            "new_password": "another long passphrase",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
    assert_eq!(closed_with(&mut on_tablet).await, CloseCode::from(4003));
    assert_eq!(me_status(base, &tablet).await, 401);
    assert_eq!(me_status(base, &phone).await, 200);

    // Signing out everywhere ends the phone's session too.
    let mut on_phone = open(base, &phone).await;
    let everywhere = support::http()
        .post(format!("{base}/v1/auth/logout?everywhere=true"))
        .bearer_auth(&phone)
        .send()
        .await
        .unwrap();
    assert_eq!(everywhere.status(), 204);
    assert_eq!(closed_with(&mut on_phone).await, CloseCode::from(4003));
    assert_eq!(me_status(base, &phone).await, 401);
}

/// Sends `frame` with request id `id` and returns the answer to it.
async fn answer(ws: &mut Socket, id: u64, mut frame: serde_json::Value) -> serde_json::Value {
    frame["id"] = id.into();
    ws.send(Message::text(frame.to_string())).await.unwrap();
    loop {
        let reply = next_json(ws).await;
        if reply["id"] == id {
            return reply;
        }
    }
}

/// A session at `base` finds the social service answering for the hub: its
/// `chat.send` reaches social with the session's token (social has no chat 1:
/// `not_found`; a hub without social would answer `forbidden`), and chat and
/// community subscriptions are social's decision (no such channels: refused).
async fn social_answers_the_hub(base: &str, email: &str) {
    let token = sign_up_and_get_token(base, email).await;
    let mut ws = open(base, &token).await;
    let sent = answer(
        &mut ws,
        1,
        serde_json::json!({"type":"chat.send","channel_id":"1","body":"hi"}),
    )
    .await;
    assert_eq!(sent["type"], "error", "{sent}");
    assert_eq!(sent["code"], "not_found", "{sent}");
    for (id, channel) in [(2, "chat:1"), (3, "community:1")] {
        let refused = answer(
            &mut ws,
            id,
            serde_json::json!({"type":"subscribe","channel":channel}),
        )
        .await;
        assert_eq!(refused["code"], "forbidden", "{refused}");
    }
}

#[tokio::test]
async fn all_in_one_the_hub_asks_the_social_service_in_process() {
    let vigor = Vigor::serve(&[], &[]);
    social_answers_the_hub(&vigor.url, "chat-wiring@example.org").await;
}

#[tokio::test]
async fn a_gateway_node_asks_the_social_target_over_http() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let (_services, gateway) = support::cluster(&redis, "http://vigor.test");
    social_answers_the_hub(&gateway.url, "chat-cluster@example.org").await;
}
