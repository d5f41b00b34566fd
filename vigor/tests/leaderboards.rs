//! Leaderboards end to end through the real binary, all-in-one on Redis (the
//! bus, the broker and the boards): a score change, written to the board store
//! and announced on the bus as gamification does, reaches a WebSocket client
//! subscribed to `leaderboard:xp:weekly` as a `leaderboard.update` and the
//! user's own `user:{id}` as a `leaderboard.rank`; the REST board shows it with
//! the user's display name (looked up in the users service in-process).

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::SinkExt;
use serde_json::{json, Value};
use support::{next_frame, sign_up_and_get_token, Socket, Vigor};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use vigor_common::bus::redis::RedisBus;
use vigor_common::bus::EventBus;
use vigor_common::events::{ScoresChanged, SCORES_CHANGED};
use vigor_common::{testkit, Id, IdGenerator};
use vigor_leaderboards::live::score_change;
use vigor_leaderboards::{BoardDef, BoardStore, RedisBoardStore, Scope, Score, Window};

/// The first event `event` on `channel` within `wait`.
async fn event_on(ws: &mut Socket, channel: &str, event: &str, wait: Duration) -> Option<Value> {
    let deadline = Instant::now() + wait;
    while let Some(frame) = next_frame(ws, deadline.saturating_duration_since(Instant::now())).await
    {
        if frame["type"] == "event" && frame["channel"] == channel && frame["event"] == event {
            return Some(frame["data"].clone());
        }
    }
    None
}

#[tokio::test]
async fn a_score_change_reaches_the_board_channel_the_user_and_the_rest_board() {
    let Some(redis) = testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", testkit::unique_name("lbe2e"));
    let vigor = Vigor::serve(
        &[],
        &[
            ("VIGOR_REDIS_URL", redis.as_str()),
            ("VIGOR_REDIS_PREFIX", prefix.as_str()),
            ("VIGOR_LEADERBOARDS_LIVE_INTERVAL_MS", "200"),
        ],
    );
    let base = vigor.url.clone();
    let token = sign_up_and_get_token(&base, "runner@example.org").await;

    let url = format!("{}/v1/ws", base.replacen("http", "ws", 1));
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        format!("vigor.v1, bearer.{token}").parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let welcome = next_frame(&mut ws, Duration::from_secs(10)).await.unwrap();
    let me: Id = welcome["user_id"].as_str().unwrap().parse().unwrap();
    let mine = format!("user:{me}");
    for (id, channel) in [(1, "leaderboard:xp:weekly"), (2, mine.as_str())] {
        ws.send(Message::text(
            json!({"type": "subscribe", "channel": channel, "id": id}).to_string(),
        ))
        .await
        .unwrap();
        let ack = next_frame(&mut ws, Duration::from_secs(10)).await.unwrap();
        assert_eq!(ack["type"], "ack", "{ack}");
    }

    // What gamification does for 120 XP: the store, then the event.
    let store = RedisBoardStore::connect(&redis, &prefix, Duration::from_secs(3600))
        .await
        .unwrap();
    let now = Utc::now();
    let board = BoardDef::xp()
        .window_at(Window::Weekly, Scope::Global, now)
        .unwrap();
    let submitted = store
        .submit(&board, me, Score::new(120).unwrap(), now)
        .await
        .unwrap();
    let bus = RedisBus::connect(&redis, &prefix).await.unwrap();
    let ids = IdGenerator::new(900).unwrap();
    let changed = ScoresChanged {
        user_id: me,
        changes: vec![score_change(&board, &submitted, now)],
    };
    bus.publish(&SCORES_CHANGED.event(&ids, &changed))
        .await
        .unwrap();

    let update = event_on(
        &mut ws,
        "leaderboard:xp:weekly",
        "leaderboard.update",
        Duration::from_secs(5),
    )
    .await
    .expect("a leaderboard.update within 5 s");
    assert_eq!(update["period"], board.period.label.as_str());
    assert_eq!(update["top"][0]["user_id"], me.to_string());
    assert_eq!(update["top"][0]["score"], 120);
    let rank = event_on(&mut ws, &mine, "leaderboard.rank", Duration::from_secs(5))
        .await
        .expect("a leaderboard.rank within 5 s");
    assert_eq!(rank["rank"], 1);
    assert_eq!(rank["score"], 120);

    // The profile is made from the sign-up event: wait for its name.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, page) = support::rest(
            &token,
            reqwest::Method::GET,
            &format!("{base}/v1/leaderboards/xp?window=weekly"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["items"][0]["user_id"], me.to_string());
        assert_eq!(page["items"][0]["score"], 120);
        if page["items"][0]["display_name"] == "Test Athlete" {
            break;
        }
        assert!(Instant::now() < deadline, "no display name: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
