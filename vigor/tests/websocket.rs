//! The real-time hub as mounted by `vigor serve`: authenticated sessions at
//! `/v1/ws`, and 1012 to every session when the process is told to stop.

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
