//! Gamification and leaderboards end to end in the distributed topology:
//! every service its own `vigor serve --target …` process behind a gateway
//! (`support::cluster_with`, as `compose/local-cluster` runs them), events and
//! live pushes through the real Redis, the board store in Redis under this
//! test's own key prefix.
//!
//! A workout logged through the gateway changes XP and streak, unlocks
//! `first_workout` exactly once and puts the user on the weekly `xp` board; a
//! WebSocket subscribed to `user:{id}` and `leaderboard:xp:weekly` receives
//! both pushes within a second. Deleting the workout takes all of it back.
//! Then the Redis keys of the test's prefix are deleted mid-test and `vigor
//! admin leaderboards rebuild` (on the gamification target's database) brings
//! every entry back.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use futures::SinkExt;
use serde_json::{json, Value};
use support::{next_frame, rest, sign_up_and_get_token, Socket};
use tokio_tungstenite::tungstenite::Message;

/// Frames until `done` holds for what arrived, or `wait` passes; all of them.
async fn frames_until(
    ws: &mut Socket,
    wait: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut frames = Vec::new();
    while !done(&frames) {
        let left = deadline.saturating_duration_since(Instant::now());
        match next_frame(ws, left).await {
            Some(frame) => frames.push(frame),
            None => break,
        }
    }
    frames
}

fn is_event(frame: &Value, channel: &str, event: &str) -> bool {
    frame["type"] == "event" && frame["channel"] == channel && frame["event"] == event
}

/// `(user_id, score)` of the entries of `board`'s `window` over REST.
async fn board(base: &str, token: &str, board: &str, window: &str) -> Vec<(String, i64)> {
    let (status, page) = rest(
        token,
        reqwest::Method::GET,
        &format!("{base}/v1/leaderboards/{board}?window={window}&limit=100"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap().to_owned(),
                e["score"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn me(base: &str, token: &str) -> Value {
    let (status, me) = rest(
        token,
        reqwest::Method::GET,
        &format!("{base}/v1/gamification/me"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{me}");
    me
}

fn earned(me: &Value, key: &str) -> bool {
    me["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["key"] == key && a["earned"] == true)
}

async fn log_run(base: &str, token: &str, metres: i64) -> String {
    // Started half an hour ago: this week's instance, unless the week turned
    // in that half hour.
    let started = chrono::Utc::now() - chrono::Duration::minutes(31);
    let (status, workout) = rest(
        token,
        reqwest::Method::POST,
        &format!("{base}/v1/training/workouts"),
        Some(json!({"sport": "run", "started_at": started.to_rfc3339(), "duration_s": 1800, "distance_m": metres})),
    )
    .await;
    assert_eq!(status, 201, "{workout}");
    workout["id"].as_str().unwrap().to_owned()
}

/// Deletes every Redis key under `prefix` (only this test's), with `redis-cli`.
fn flush_prefix(redis: &str, prefix: &str) -> usize {
    let keys = std::process::Command::new("redis-cli")
        .args(["-u", redis, "--scan", "--pattern", &format!("{prefix}*")])
        .output()
        .expect("redis-cli runs");
    let keys: Vec<String> = String::from_utf8(keys.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    for chunk in keys.chunks(100) {
        let status = std::process::Command::new("redis-cli")
            .args(["-u", redis, "DEL"])
            .args(chunk)
            .output()
            .expect("redis-cli runs")
            .status;
        assert!(status.success());
    }
    keys.len()
}

#[tokio::test]
async fn a_workout_reaches_gamification_and_leaderboards_in_their_own_processes() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", vigor_common::testkit::unique_name("gam-cluster"));
    let data = tempfile::tempdir().unwrap();
    let (_services, gateway) =
        support::cluster_with(&redis, "http://vigor.test", &prefix, Some(data.path()));
    let base = gateway.url.as_str();
    let token = sign_up_and_get_token(base, "gam-cluster@example.org").await;
    let (mut ws, welcome) = support::connect(base, &token).await;
    let user = welcome["user_id"].as_str().unwrap().to_owned();
    let mine = format!("user:{user}");
    let weekly = "leaderboard:xp:weekly";
    for (id, channel) in [(1, mine.as_str()), (2, weekly)] {
        ws.send(Message::text(
            json!({"type": "subscribe", "channel": channel, "id": id}).to_string(),
        ))
        .await
        .unwrap();
        let ack = next_frame(&mut ws, Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (ack["type"].as_str(), ack["id"].as_u64()),
            (Some("ack"), Some(id)),
            "{ack}"
        );
    }

    // Logged: both pushes within a second of the answer.
    let workout = log_run(base, &token, 5000).await;
    let logged_at = Instant::now();
    let frames = frames_until(&mut ws, Duration::from_secs(1), |frames| {
        frames
            .iter()
            .any(|f| is_event(f, &mine, "achievement.unlocked"))
            && frames
                .iter()
                .any(|f| is_event(f, weekly, "leaderboard.update"))
    })
    .await;
    let took = logged_at.elapsed();
    let unlocked = |frames: &[Value]| {
        frames
            .iter()
            .filter(|f| {
                is_event(f, &mine, "achievement.unlocked")
                    && f["data"]["achievement"] == "first_workout"
            })
            .count()
    };
    assert_eq!(unlocked(&frames), 1, "after {took:?}: {frames:#?}");
    let update = frames
        .iter()
        .find(|f| is_event(f, weekly, "leaderboard.update"))
        .unwrap_or_else(|| panic!("no board update after {took:?}: {frames:#?}"));
    assert!(
        update["data"]["top"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["user_id"] == user.as_str() && e["score"] == 65),
        "{update}"
    );
    assert!(took <= Duration::from_secs(1), "{took:?}");
    let game = me(base, &token).await;
    assert_eq!(
        (
            game["xp"].clone(),
            game["streak"]["daily"]["current"].clone()
        ),
        (json!(65), json!(1)),
        "{game}"
    );
    assert!(earned(&game, "first_workout"), "{game}");
    assert_eq!(
        board(base, &token, "xp", "weekly").await,
        vec![(user.clone(), 65)]
    );
    // Exactly once: nothing more arrives for it.
    let later = frames_until(&mut ws, Duration::from_secs(1), |_| false).await;
    assert_eq!(unlocked(&later), 0, "{later:#?}");

    // Deleted: XP, streak, the unlock and the board entry go, live too.
    let (status, _) = rest(
        &token,
        reqwest::Method::DELETE,
        &format!("{base}/v1/training/workouts/{workout}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let frames = frames_until(&mut ws, Duration::from_secs(5), |frames| {
        frames
            .iter()
            .any(|f| is_event(f, &mine, "achievement.revoked"))
            && frames
                .iter()
                .any(|f| is_event(f, weekly, "leaderboard.update"))
    })
    .await;
    let revoked = frames
        .iter()
        .filter(|f| {
            is_event(f, &mine, "achievement.revoked") && f["data"]["achievement"] == "first_workout"
        })
        .count();
    assert_eq!(revoked, 1, "{frames:#?}");
    let update = frames
        .iter()
        .find(|f| is_event(f, weekly, "leaderboard.update"))
        .unwrap_or_else(|| panic!("{frames:#?}"));
    assert_eq!(update["data"]["left"], json!([user]), "{update}");
    let game = me(base, &token).await;
    assert_eq!(
        (
            game["xp"].clone(),
            game["streak"]["daily"]["current"].clone()
        ),
        (json!(0), json!(0)),
        "{game}"
    );
    assert!(!earned(&game, "first_workout"), "{game}");
    assert_eq!(board(base, &token, "xp", "weekly").await, vec![]);

    // Entries on every built-in board, for two people, then Redis loses them.
    log_run(base, &token, 5000).await;
    let other = sign_up_and_get_token(base, "gam-cluster-2@example.org").await;
    log_run(base, &other, 8000).await;
    let boards = [
        ("xp", "weekly"),
        ("xp", "all_time"),
        ("distance", "weekly"),
        ("workouts", "monthly"),
        ("fastest_5k", "daily"),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let before = loop {
        let mut all = Vec::new();
        for (b, w) in boards {
            all.push(board(base, &token, b, w).await);
        }
        // Both on every board but fastest_5k (8 km has no 5 km time).
        if all.iter().take(4).all(|entries| entries.len() == 2) && all[4].len() == 1 {
            break all;
        }
        assert!(Instant::now() < deadline, "{all:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(flush_prefix(&redis, &prefix) > 0);
    assert_eq!(board(base, &token, "xp", "weekly").await, vec![]);

    let rebuilt = support::command()
        .arg("admin")
        .arg("--data-dir")
        .arg(data.path().join("gamification"))
        .args(["leaderboards", "rebuild"])
        .env("VIGOR_REDIS_URL", &redis)
        .env("VIGOR_REDIS_PREFIX", &prefix)
        .output()
        .unwrap();
    assert!(
        rebuilt.status.success(),
        "{}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let mut after = Vec::new();
    for (b, w) in boards {
        after.push(board(base, &token, b, w).await);
    }
    assert_eq!(after, before);
}
