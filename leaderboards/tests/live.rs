//! Live updates, service level: `leaderboard.scores_changed` events on the bus
//! (as gamification publishes them, after writing the store) become coalesced
//! `leaderboard.update` pushes on the board's hub channel and
//! `leaderboard.rank` pushes on the changed users' channels, observed through
//! broker subscriptions. On the in-memory store and on Redis.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use vigor_common::broker::BrokerSubscription;
use vigor_common::bus::EventBus;
use vigor_common::events::{ScoresChanged, SCORES_CHANGED};
use vigor_common::testkit::{self, Backend, TestApp};
use vigor_common::Id;
use vigor_leaderboards::live::score_change;
use vigor_leaderboards::{
    BoardDef, BoardStore, BoardWindow, MemoryBoardStore, RedisBoardStore, Scope, Score, Window,
};

const GRACE: Duration = Duration::from_secs(3600);
const INTERVAL: Duration = Duration::from_millis(300);

async fn spawn(store: Arc<dyn BoardStore>) -> TestApp {
    vigor_auth::testkit::stack(Backend::Sqlite)
        .service_built_with(
            vigor_leaderboards::spec(),
            Box::new(move |ctx| Box::pin(vigor_leaderboards::start(ctx, store))),
        )
        .configure(|c| {
            c.leaderboards.live_interval_ms = INTERVAL.as_millis() as u64;
            c.leaderboards.live_top = 3;
        })
        .spawn()
        .await
        .unwrap()
}

fn weekly() -> BoardWindow {
    BoardDef::xp()
        .window_at(Window::Weekly, Scope::Global, Utc::now())
        .unwrap()
}

/// What gamification does for one XP gain: the store first, then the event.
async fn gain(app: &TestApp, store: &dyn BoardStore, user: Id, xp: i64) {
    let board = weekly();
    let now = Utc::now();
    let submitted = store
        .submit(&board, user, Score::new(xp).unwrap(), now)
        .await
        .unwrap();
    let data = ScoresChanged {
        user_id: user,
        changes: vec![score_change(&board, &submitted, now)],
    };
    app.bus
        .publish(&SCORES_CHANGED.event(&app.ids, &data))
        .await
        .unwrap();
}

/// The `(event, data)` of every hub event buffered on `subscription`. A hub
/// broker message is a 9-byte header (kind, seq) and the frame's tail
/// `,"event":…,"data":…}`.
fn events(subscription: &mut BrokerSubscription) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    while let Some(message) = subscription.try_recv() {
        let tail = std::str::from_utf8(&message.payload[9..]).unwrap();
        let frame: Value = serde_json::from_str(&format!("{{\"seq\":0{tail}")).unwrap();
        out.push((
            frame["event"].as_str().unwrap().to_owned(),
            frame["data"].clone(),
        ));
    }
    out
}

async fn scenario(store: Arc<dyn BoardStore>) {
    let app = spawn(store.clone()).await;
    let mut board = app.broker.subscribe("leaderboard:xp:weekly").await.unwrap();
    let watched = Id::from_i64(7_001);
    let mut mine = app.broker.subscribe("user:7001").await.unwrap();

    // About 200 score changes over a second, among 20 people.
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(1) {
        let user = Id::from_i64(7_000 + (sent % 20));
        gain(&app, store.as_ref(), user, 1 + sent % 7).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(INTERVAL * 3).await;

    let updates = events(&mut board);
    assert!(updates.iter().all(|(e, _)| e == "leaderboard.update"));
    let bound = (elapsed.as_millis() / INTERVAL.as_millis()) as usize + 2;
    assert!(
        !updates.is_empty() && updates.len() <= bound,
        "{} changes gave {} updates, at most {bound} expected",
        sent,
        updates.len()
    );
    // The last update is the board as it is now.
    let top: Vec<(String, i64)> = store
        .top(&weekly(), None, 3)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.user.to_string(), e.score))
        .collect();
    let (_, last) = updates.last().unwrap();
    let pushed: Vec<(String, i64)> = last["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user_id"].as_str().unwrap().to_owned(),
                e["score"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pushed, top);
    assert_eq!(last["period"], weekly().period.label.as_str());
    assert_eq!(last["window"], "weekly");

    // The watched user heard their own rank; after a last change of theirs
    // (nobody else moving), the last one pushed is their rank now.
    gain(&app, store.as_ref(), watched, 1).await;
    tokio::time::sleep(INTERVAL * 3).await;
    let ranks = events(&mut mine);
    events(&mut board); // whatever that last change did to the top
    assert!(!ranks.is_empty());
    assert!(ranks.iter().all(|(e, _)| e == "leaderboard.rank"));
    let now = store.rank(&weekly(), watched).await.unwrap().unwrap();
    assert_eq!(ranks.last().unwrap().1["rank"].as_u64(), Some(now.rank));

    // A change below the top N pushes nothing on the board, only to its owner.
    let low = Id::from_i64(9_999);
    let mut lows = app.broker.subscribe("user:9999").await.unwrap();
    gain(&app, store.as_ref(), low, 1).await;
    tokio::time::sleep(INTERVAL * 3).await;
    assert!(events(&mut board).is_empty(), "the top 3 did not change");
    let own = events(&mut lows);
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].1["rank"].as_u64(), Some(21));
    assert!(own[0].1["previous_rank"].is_null());
}

#[tokio::test]
async fn memory_score_changes_are_coalesced_into_few_pushes() {
    scenario(Arc::new(MemoryBoardStore::new(GRACE))).await;
}

#[tokio::test]
async fn redis_score_changes_are_coalesced_into_few_pushes() {
    let Some(url) = testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", testkit::unique_name("lblive"));
    let store = RedisBoardStore::connect(&url, &prefix, GRACE)
        .await
        .unwrap();
    scenario(Arc::new(store)).await;
}
