//! Two gateway nodes sharing one real Redis: an event published on node A reaches a
//! WebSocket subscriber on node B with the same `seq`, and a client that resumes
//! on node A gets what it missed — the deployment `compose/` describes, as
//! processes.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use support::{http, sign_up_and_get_token, Vigor};
use tokio_tungstenite::tungstenite::Message;
use vigor_common::config::{env_name, ServiceName};

const ISSUER: &str = "http://vigor.test";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Socket) -> serde_json::Value {
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

async fn send(ws: &mut Socket, frame: serde_json::Value) {
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

async fn session(base: &str, token: &str) -> Socket {
    let url = format!("{}/v1/ws", base.replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    send(
        &mut ws,
        serde_json::json!({"type":"auth","id":1,"token":token}),
    )
    .await;
    let ack = next_json(&mut ws).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ws
}

#[tokio::test]
async fn an_event_published_on_one_node_reaches_the_other() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", vigor_common::testkit::unique_name("cluster"));
    let shared = [
        ("VIGOR_REDIS_URL", redis.as_str()),
        ("VIGOR_REDIS_PREFIX", prefix.as_str()),
        ("VIGOR_AUTH_ISSUER", ISSUER),
    ];

    // A backend allowed to push, registered the way an operator does it.
    let auth_data = tempfile::tempdir().unwrap();
    let output = support::command()
        .args(["admin", "--data-dir"])
        .arg(auth_data.path())
        .args([
            "clients",
            "create",
            "pusher",
            "--name",
            "Pusher",
            "--confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "hub.publish",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_secret="))
        .unwrap()
        .to_owned();

    let mut auth_env = shared.to_vec();
    auth_env.push(("VIGOR_HTTP_TRUST_FORWARDED_FOR", "true"));
    let auth = Vigor::serve_in(
        auth_data.path(),
        &["--target", "auth", "--node-id", "1"],
        &auth_env,
    );

    // Two gateway nodes; only auth is needed behind them for this test.
    let urls: Vec<(String, String)> = ServiceName::ALL
        .into_iter()
        .map(|s| (env_name(&format!("{s}.url")), auth.url.clone()))
        .collect();
    let mut gateway_env: Vec<(&str, &str)> = shared.to_vec();
    gateway_env.extend(urls.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let node_a = Vigor::serve(&["--target", "gateway", "--node-id", "11"], &gateway_env);
    let node_b = Vigor::serve(&["--target", "gateway", "--node-id", "12"], &gateway_env);

    let token = sign_up_and_get_token(&node_a.url, "cluster@example.org").await;
    let mut on_b = session(&node_b.url, &token).await;
    let user_id = {
        let claims = token.split('.').nth(1).unwrap();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["sub"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let channel = format!("user:{user_id}");
    send(
        &mut on_b,
        serde_json::json!({"type":"subscribe","id":2,"channel":channel}),
    )
    .await;
    let ack = next_json(&mut on_b).await;
    assert_eq!(ack["type"], "ack", "{ack}");

    // The backend publishes through node A's server API.
    let grant: serde_json::Value = http()
        .post(format!("{}/v1/oauth/token", node_a.url))
        .basic_auth("pusher", Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "hub.publish"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let service_token = grant["access_token"]
        .as_str()
        .expect("a client token")
        .to_owned();
    let published = http()
        .post(format!("{}/v1/hub/publish", node_a.url))
        .bearer_auth(&service_token)
        .json(&serde_json::json!({
            "channel": channel,
            "event": "achievement.unlocked",
            "data": {"achievement": "first-workout", "xp": 50},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        published.status(),
        202,
        "{}",
        published.text().await.unwrap()
    );
    let published: serde_json::Value = published.json().await.unwrap();
    let seq = published["seq"].as_str().unwrap().to_owned();

    let event = next_json(&mut on_b).await;
    assert_eq!(event["type"], "event", "{event}");
    assert_eq!(event["channel"], channel.as_str());
    assert_eq!(event["event"], "achievement.unlocked");
    assert_eq!(event["data"]["xp"], 50);
    assert_eq!(event["seq"].to_string().trim_matches('"'), seq);

    // A publisher that retries with the same Idempotency-Key gets the first seq
    // back and makes no duplicate: the next event node B sees is the next one.
    let keyed = |data: serde_json::Value| {
        http()
            .post(format!("{}/v1/hub/publish", node_a.url))
            .bearer_auth(&service_token)
            .header("idempotency-key", "award-7")
            .json(&serde_json::json!({"channel": channel, "event": "level.up", "data": data}))
    };
    let first = keyed(serde_json::json!({"level": 2})).send().await.unwrap();
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();
    let retried = keyed(serde_json::json!({"level": 2})).send().await.unwrap();
    assert_eq!(retried.status(), 202);
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    let retried: serde_json::Value = retried.json().await.unwrap();
    assert_eq!(retried["seq"], first["seq"]);
    let reused = keyed(serde_json::json!({"level": 3})).send().await.unwrap();
    assert_eq!(reused.status(), 422);
    let level = next_json(&mut on_b).await;
    assert_eq!(level["event"], "level.up", "{level}");
    assert_eq!(level["seq"].to_string().trim_matches('"'), first["seq"]);
    let after = http()
        .post(format!("{}/v1/hub/publish", node_a.url))
        .bearer_auth(&service_token)
        .json(&serde_json::json!({"channel": channel, "event": "level.up", "data": {"level": 4}}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 202);
    let next = next_json(&mut on_b).await;
    assert_eq!(
        next["data"]["level"], 4,
        "the retry was not delivered twice: {next}"
    );

    // A user token cannot use the server API.
    let refused = http()
        .post(format!("{}/v1/hub/publish", node_a.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"channel": channel, "event": "level.up", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Resuming on node A from before the event replays it: the ring is shared.
    let mut on_a = session(&node_a.url, &token).await;
    let since: u64 = seq.parse::<u64>().unwrap() - 1;
    send(
        &mut on_a,
        serde_json::json!({"type":"subscribe","id":2,"channel":channel,"since":since}),
    )
    .await;
    let mut replayed = None;
    for _ in 0..3 {
        let frame = next_json(&mut on_a).await;
        if frame["type"] == "event" {
            replayed = Some(frame);
            break;
        }
    }
    let replayed = replayed.expect("the missed event is replayed");
    assert_eq!(replayed["event"], "achievement.unlocked");
    assert_eq!(replayed["seq"].to_string().trim_matches('"'), seq);
}
