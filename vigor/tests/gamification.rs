//! Gamification end to end through the real binary, all-in-one: a workout
//! logged over REST reaches the gamification service through training's
//! outbox and the bus, unlocks `first_workout` once, pushes
//! `achievement.unlocked` to a WebSocket subscribed to `user:{id}`, and puts
//! the user on the weekly `xp` board of the board store (Redis under a prefix
//! of this test's own, which the test reads). Deleting the workout takes the
//! XP, the unlock (pushed as `achievement.revoked`) and the weekly board entry
//! back.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use futures::SinkExt;
use serde_json::{json, Value};
use support::{next_frame, rest, sign_up_and_get_token, Vigor};
use tokio_tungstenite::tungstenite::Message;
use vigor_common::config::{BoardStoreKind, Config};
use vigor_common::Id;
use vigor_leaderboards::{BoardDef, Scope, Window};

#[tokio::test]
async fn a_logged_workout_unlocks_first_workout_live_and_ranks_on_the_xp_board() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let prefix = vigor_common::testkit::unique_name("gam-e2e");
    let vigor = Vigor::serve(
        &[],
        &[
            ("VIGOR_LEADERBOARDS_STORE", "redis"),
            ("VIGOR_LEADERBOARDS_REDIS_URL", &redis),
            ("VIGOR_REDIS_PREFIX", &prefix),
        ],
    );
    let base = &vigor.url;
    let token = sign_up_and_get_token(base, "gam-e2e@example.org").await;
    let (mut ws, welcome) = support::connect(base, &token).await;
    let user = welcome["user_id"].as_str().unwrap().to_owned();
    let channel = format!("user:{user}");
    ws.send(Message::text(
        json!({"type": "subscribe", "channel": channel, "id": 1}).to_string(),
    ))
    .await
    .unwrap();
    let ack = next_frame(&mut ws, Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        (ack["type"].as_str(), ack["id"].as_u64()),
        (Some("ack"), Some(1)),
        "{ack}"
    );

    let started = chrono::Utc::now() - chrono::Duration::hours(2);
    let (status, workout) = rest(
        &token,
        reqwest::Method::POST,
        &format!("{base}/v1/training/workouts"),
        Some(json!({"sport": "run", "started_at": started.to_rfc3339(), "duration_s": 1800, "distance_m": 5000})),
    )
    .await;
    assert_eq!(status, 201, "{workout}");

    // The unlock arrives once, live.
    let mut frames = Vec::new();
    while let Some(frame) = next_frame(&mut ws, Duration::from_secs(3)).await {
        frames.push(frame);
    }
    let first: Vec<&Value> = frames
        .iter()
        .filter(|f| {
            f["type"] == "event"
                && f["channel"] == channel.as_str()
                && f["event"] == "achievement.unlocked"
                && f["data"]["achievement"] == "first_workout"
        })
        .collect();
    assert_eq!(first.len(), 1, "{frames:#?}");

    let (status, me) = rest(
        &token,
        reqwest::Method::GET,
        &format!("{base}/v1/gamification/me"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["xp"], 65);

    // The weekly xp board of the board store holds the user.
    let mut config = Config::default();
    config.leaderboards.store = Some(BoardStoreKind::Redis);
    config.leaderboards.redis_url = Some(redis.clone());
    config.redis.prefix = prefix.clone();
    let boards = vigor_leaderboards::store::open(&config).await.unwrap();
    let weekly = BoardDef::xp()
        .window_at(Window::Weekly, Scope::Global, started)
        .unwrap();
    let id: Id = user.parse().unwrap();
    let entry = boards.rank(&weekly, id).await.unwrap().unwrap();
    assert_eq!((entry.rank, entry.score), (1, 65));

    // Deleting the workout takes the XP and the score back.
    let id_path = format!(
        "{base}/v1/training/workouts/{}",
        workout["id"].as_str().unwrap()
    );
    let (status, _) = rest(&token, reqwest::Method::DELETE, &id_path, None).await;
    assert_eq!(status, 204);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, me) = rest(
            &token,
            reqwest::Method::GET,
            &format!("{base}/v1/gamification/me"),
            None,
        )
        .await;
        let score = boards.rank(&weekly, id).await.unwrap().map(|e| e.score);
        let earned = me["achievements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["key"] == "first_workout" && a["earned"] == true);
        if me["xp"] == 0 && score.is_none() && !earned {
            assert_eq!(me["points"], 0, "{me}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{me} {score:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The weekly board over REST has no entry of theirs left, not even a 0.
    let (status, board) = rest(
        &token,
        reqwest::Method::GET,
        &format!("{base}/v1/leaderboards/xp?window=weekly"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{board}");
    assert!(
        board["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["user_id"] != user.as_str()),
        "{board}"
    );
    // The unlock taken back is pushed, once.
    let mut frames = Vec::new();
    while let Some(frame) = next_frame(&mut ws, Duration::from_secs(2)).await {
        frames.push(frame);
    }
    let revoked = frames
        .iter()
        .filter(|f| {
            f["channel"] == channel.as_str()
                && f["event"] == "achievement.revoked"
                && f["data"]["achievement"] == "first_workout"
        })
        .count();
    assert_eq!(revoked, 1, "{frames:#?}");
}
