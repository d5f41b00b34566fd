//! The gamification service, black box: training's real workout events drive
//! it (auth, training and gamification behind one test server), and its REST
//! API, live pushes, outbox events and board entries are what is checked — on
//! SQLite and on PostgreSQL. The board store is Redis under a prefix of the
//! test's own, so the test reads the entries the service wrote.

// A failing unwrap here is a failing test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use vigor_common::bus::{Event, EventBus};
use vigor_common::config::{BoardStoreKind, ServiceName};
use vigor_common::events::USER_DELETED;
use vigor_common::testkit::{self, eventually, problem, Backend};
use vigor_common::{Id, IdGenerator};
use vigor_leaderboards::{BoardDef, BoardStore, Scope, Window};

struct App {
    app: testkit::TestApp,
    boards: Arc<dyn BoardStore>,
}

impl std::ops::Deref for App {
    type Target = testkit::TestApp;
    fn deref(&self) -> &testkit::TestApp {
        &self.app
    }
}

impl App {
    async fn spawn(backend: Backend) -> Option<App> {
        let redis = testkit::redis_url();
        let app = vigor_auth::testkit::stack(backend)
            .service(vigor_training::spec())
            .service(vigor_gamification::spec())
            .configure(|c| {
                if let Some(url) = redis {
                    c.leaderboards.store = Some(BoardStoreKind::Redis);
                    c.leaderboards.redis_url = Some(url);
                    c.redis.prefix = testkit::unique_name("gam");
                }
            })
            .spawn()
            .await?;
        let boards = vigor_leaderboards::store::open(&app.config).await.unwrap();
        Some(App { app, boards })
    }

    /// Whether the service's board store is the one the test reads (Redis).
    fn boards_visible(&self) -> bool {
        self.config.leaderboards.store == Some(BoardStoreKind::Redis)
    }

    async fn user(&self, name: &str) -> (String, String) {
        let email = format!("{}@example.com", testkit::unique_name(name));
        let id = self.sign_up(&email, name).await;
        (id, self.access_token(&email).await)
    }

    async fn json(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let response = self.call(method, token, path, body).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn me(&self, token: &str) -> Value {
        self.get_json(token, "/v1/gamification/me").await
    }

    async fn log(&self, token: &str, minutes: i64, metres: i64) -> String {
        let started =
            (Utc::now() - chrono::Duration::hours(3)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let body = json!({"sport": "run", "started_at": started, "duration_s": minutes * 60, "distance_m": metres});
        let (status, workout) = self
            .json(Method::POST, token, "/v1/training/workouts", Some(&body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{workout}");
        workout["id"].as_str().unwrap().to_owned()
    }

    async fn xp_becomes(&self, token: &str, xp: i64) {
        eventually(&format!("XP {xp}"), || async {
            self.me(token).await["xp"] == xp
        })
        .await;
    }

    /// The user's entry on this week's `board`, as the board store holds it.
    async fn weekly(&self, board: &str, user: &str) -> Option<i64> {
        let user: Id = user.parse().unwrap();
        self.boards
            .rank(&this_week(board), user)
            .await
            .unwrap()
            .map(|e| e.score)
    }

    /// This week's `board` as the board store holds it: (user, score), in order.
    async fn weekly_top(&self, board: &str) -> Vec<(String, i64)> {
        self.boards
            .top(&this_week(board), None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.user.to_string(), e.score))
            .collect()
    }

    /// Waits until the user's entry on this week's `board` is `score`.
    async fn board_becomes(&self, board: &str, user: &str, score: Option<i64>) {
        if !self.boards_visible() {
            return;
        }
        let what = format!("{board} of {user} to be {score:?}");
        eventually(&what, || async { self.weekly(board, user).await == score }).await;
    }

    /// The gamification service's own state, for what only it can do (rebuild).
    fn service(&self) -> vigor_gamification::GamificationService {
        let db = self.database(ServiceName::Gamification).database.clone();
        let ids = Arc::new(IdGenerator::new(7).unwrap());
        vigor_gamification::service(&self.config, db, self.boards.clone(), ids).unwrap()
    }
}

/// The weekly instance of `board` that holds the workouts [`App::log`] logs.
fn this_week(board: &str) -> vigor_leaderboards::BoardWindow {
    BoardDef::known(board)
        .unwrap()
        .window_at(
            Window::Weekly,
            Scope::Global,
            Utc::now() - chrono::Duration::hours(3),
        )
        .unwrap()
}

fn achievement<'a>(me: &'a Value, key: &str) -> &'a Value {
    me["achievements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == key)
        .unwrap()
}

/// Pushes received on a broker subscription within `wait`, as text.
async fn pushes(sub: &mut vigor_common::broker::BrokerSubscription, wait: Duration) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(wait, sub.recv()).await {
        out.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    out
}

async fn a_logged_workout_earns_xp_and_unlocks_first_workout_once(app: App) {
    let (id, token) = app.user("ann").await;
    let mut live = app.broker.subscribe(&format!("user:{id}")).await.unwrap();
    let mut logged = app.listen(&["workout.logged"]).await;
    let mut unlocked = app.listen(&["gamification.achievement_unlocked"]).await;
    let mut scores = app.listen(&["leaderboard.scores_changed"]).await;

    app.log(&token, 30, 5000).await;
    // 10 for the workout, 30 minutes, 5 km × 5.
    app.xp_becomes(&token, 65).await;
    let me = app.me(&token).await;
    assert_eq!(me["level"], 1);
    assert_eq!(me["next_level_xp"], 100);
    assert_eq!(me["streak"]["daily"]["current"], 1);
    let first = achievement(&me, "first_workout");
    assert_eq!(
        (first["earned"].clone(), first["tier"].clone()),
        (json!(true), json!(1))
    );
    let regular = achievement(&me, "workouts");
    assert_eq!(
        (
            regular["earned"].clone(),
            regular["progress"].clone(),
            regular["next_threshold"].clone()
        ),
        (json!(false), json!(1), json!(10))
    );
    assert_eq!(me["challenges"], json!([]));
    let ledger = app.get_json(&token, "/v1/gamification/me/ledger").await;
    // First workout, and a first personal record (the longest run so far).
    let sources: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources.iter().filter(|s| **s == "first_workout:1").count(),
        1,
        "{sources:?}"
    );
    assert!(sources.contains(&"record_breaker:1"), "{sources:?}");

    // The same event again changes nothing: no XP, no second unlock, no push.
    let event: Event = logged.next().await.unwrap().event;
    app.bus.publish(&event).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.me(&token).await["xp"], 65);
    let pushed = pushes(&mut live, Duration::from_millis(300)).await;
    // Each unlock pushed once: first_workout and the first record.
    let unlocks = |key: &str| {
        let needle = format!("\"achievement\":\"{key}\"");
        pushed
            .iter()
            .filter(|p| p.contains("achievement.unlocked") && p.contains(&needle))
            .count()
    };
    assert_eq!(
        (unlocks("first_workout"), unlocks("record_breaker")),
        (1, 1),
        "{pushed:?}"
    );
    // The feed events (outbox), each once; unacked ones would come again.
    let mut feed = Vec::new();
    while let Ok(Ok(d)) = tokio::time::timeout(Duration::from_millis(300), unlocked.next()).await {
        unlocked.ack(&d).await.unwrap();
        feed.push(d.event.data["achievement"].as_str().unwrap().to_owned());
    }
    feed.sort();
    assert_eq!(feed, vec!["first_workout", "record_breaker"]);
    if app.boards_visible() {
        app.board_becomes("xp", &id, Some(65)).await;
        app.board_becomes("distance", &id, Some(5000)).await;
    }

    // The changed entries are announced for live updates: every window of both boards.
    if app.boards_visible() {
        let changed = scores.next().await.unwrap().event;
        assert_eq!(changed.data["user_id"], id.as_str());
        let changes = changed.data["changes"].as_array().unwrap();
        // xp, distance, workouts and fastest_5k (a run of exactly 5 km).
        assert_eq!(changes.len(), 16, "{changed:?}");
        let weekly_xp = changes
            .iter()
            .find(|c| c["board"] == "xp" && c["window"] == "weekly")
            .unwrap();
        assert_eq!(
            (
                weekly_xp["old"].clone(),
                weekly_xp["new"].clone(),
                weekly_xp["scope"].clone()
            ),
            (Value::Null, json!(65), json!("global"))
        );
    }

    // A long run: 10 + 120 + 150 = 280 XP more, 345 in all: level 3, pushed.
    app.log(&token, 120, 30_000).await;
    app.xp_becomes(&token, 345).await;
    assert_eq!(app.me(&token).await["level"], 3);
    let pushed = pushes(&mut live, Duration::from_millis(500)).await;
    assert_eq!(
        pushed.iter().filter(|p| p.contains("level.up")).count(),
        1,
        "{pushed:?}"
    );
}

async fn an_edited_or_deleted_workout_moves_xp_and_scores_back(app: App) {
    let (id, token) = app.user("bo").await;
    let mut live = app.broker.subscribe(&format!("user:{id}")).await.unwrap();
    let mut revoked = app.listen(&["gamification.achievement_revoked"]).await;
    let workout = app.log(&token, 30, 5000).await;
    app.xp_becomes(&token, 65).await;
    let path = format!("/v1/training/workouts/{workout}");
    let (status, _) = app
        .json(
            Method::PATCH,
            &token,
            &path,
            Some(&json!({"distance_m": 10000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.xp_becomes(&token, 90).await;
    if app.boards_visible() {
        app.board_becomes("distance", &id, Some(10_000)).await;
        app.board_becomes("xp", &id, Some(90)).await;
    }
    let response = app.call(Method::DELETE, &token, &path, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.xp_becomes(&token, 0).await;
    // No 0-score leftovers: the entries go from the boards and the score log.
    if app.boards_visible() {
        app.board_becomes("xp", &id, None).await;
        app.board_becomes("distance", &id, None).await;
    }
    let service = app.service();
    for key in service.store.score_instances().await.unwrap() {
        let rows = service.store.scores_of(&key).await.unwrap();
        assert!(
            rows.iter().all(|r| r.user_id.to_string() != id),
            "{key:?}: {rows:?}"
        );
    }
    let me = app.me(&token).await;
    assert_eq!(achievement(&me, "workouts")["progress"], 0);
    // The unlocks the workout earned are taken back, their points with them:
    // pushed, announced, and reversed in the ledger by a row of their own.
    assert_eq!(achievement(&me, "first_workout")["earned"], false);
    assert_eq!(achievement(&me, "record_breaker")["earned"], false);
    assert_eq!(me["points"], 0);
    let ledger = app.get_json(&token, "/v1/gamification/me/ledger").await;
    let rows: Vec<(String, String, i64)> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["source"].as_str().unwrap().to_owned(),
                e["points"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(
        rows.contains(&("revocation".into(), "first_workout:1".into(), -10)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&("achievement".into(), "first_workout:1".into(), 10)),
        "{rows:?}"
    );
    assert_eq!(rows.iter().map(|r| r.2).sum::<i64>(), 0, "{rows:?}");
    let mut feed = Vec::new();
    while let Ok(Ok(d)) = tokio::time::timeout(Duration::from_millis(500), revoked.next()).await {
        revoked.ack(&d).await.unwrap();
        feed.push(d.event.data["achievement"].as_str().unwrap().to_owned());
    }
    feed.sort();
    assert_eq!(feed, vec!["first_workout", "record_breaker"]);
    let pushed = pushes(&mut live, Duration::from_millis(300)).await;
    let count = |event: &str, key: &str| {
        let needle = format!("\"achievement\":\"{key}\"");
        pushed
            .iter()
            .filter(|p| p.contains(event) && p.contains(&needle))
            .count()
    };
    assert_eq!(
        count("achievement.revoked", "first_workout"),
        1,
        "{pushed:?}"
    );
    assert_eq!(
        count("achievement.unlocked", "first_workout"),
        1,
        "{pushed:?}"
    );

    // Earned again with the next workout: unlocked again, once.
    app.log(&token, 30, 5000).await;
    app.xp_becomes(&token, 65).await;
    let me = app.me(&token).await;
    assert_eq!(achievement(&me, "first_workout")["earned"], true);
    assert_eq!(me["points"], 20);
    let pushed = pushes(&mut live, Duration::from_millis(500)).await;
    let again = pushed
        .iter()
        .filter(|p| p.contains("achievement.unlocked") && p.contains("first_workout"))
        .count();
    assert_eq!(again, 1, "{pushed:?}");

    // An edit that takes a condition away takes that unlock back, and only it.
    let long = app.log(&token, 60, 100_000).await;
    eventually("run_100k earned", || async {
        achievement(&app.me(&token).await, "run_100k")["earned"] == true
    })
    .await;
    let (status, _) = app
        .json(
            Method::PATCH,
            &token,
            &format!("/v1/training/workouts/{long}"),
            Some(&json!({"distance_m": 50_000})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("run_100k taken back", || async {
        achievement(&app.me(&token).await, "run_100k")["earned"] == false
    })
    .await;
    assert_eq!(
        achievement(&app.me(&token).await, "first_workout")["earned"],
        true
    );
}

async fn the_workouts_and_fastest_5k_boards_rank_and_give_back(app: App) {
    if !app.boards_visible() {
        return;
    }
    let (ann, ann_token) = app.user("ann").await;
    let (bob, bob_token) = app.user("bob").await;
    // Runs of exactly 5 km count with their own time; a 10 km run has no known
    // 5 km time (events carry no splits) and counts only as a workout.
    let fast = app.log(&ann_token, 25, 5000).await;
    app.log(&ann_token, 28, 5000).await;
    app.log(&ann_token, 40, 10_000).await;
    let only = app.log(&bob_token, 27, 5000).await;
    app.board_becomes("workouts", &ann, Some(3)).await;
    app.board_becomes("workouts", &bob, Some(1)).await;
    app.board_becomes("fastest_5k", &ann, Some(25 * 60)).await;
    app.board_becomes("fastest_5k", &bob, Some(27 * 60)).await;
    // Ascending: the smallest time ranks first.
    assert_eq!(
        app.weekly_top("fastest_5k").await,
        vec![(ann.clone(), 25 * 60), (bob.clone(), 27 * 60)]
    );
    assert_eq!(
        app.weekly_top("workouts").await,
        vec![(ann.clone(), 3), (bob.clone(), 1)]
    );

    // Deleting the best run gives it back: the next best counts, and ranks move.
    let response = app
        .call(
            Method::DELETE,
            &ann_token,
            &format!("/v1/training/workouts/{fast}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.board_becomes("fastest_5k", &ann, Some(28 * 60)).await;
    app.board_becomes("workouts", &ann, Some(2)).await;
    assert_eq!(
        app.weekly_top("fastest_5k").await,
        vec![(bob.clone(), 27 * 60), (ann.clone(), 28 * 60)]
    );
    // Deleting the only one takes the entry away (no leftover).
    let response = app
        .call(
            Method::DELETE,
            &bob_token,
            &format!("/v1/training/workouts/{only}"),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.board_becomes("fastest_5k", &bob, None).await;
    app.board_becomes("workouts", &bob, None).await;

    // Both boards are in the score log: a flushed store is rebuilt with them.
    let week = this_week("fastest_5k");
    app.boards.drop_board(&week).await.unwrap();
    let service = app.service();
    service
        .rebuild(true, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        app.weekly_top("fastest_5k").await,
        vec![(ann.clone(), 28 * 60)]
    );
    // The backfill writes the entries the workouts make, as for a board added
    // after they were logged (here: its entries gone from the log and the store).
    let db = app.database(ServiceName::Gamification).database.clone();
    vigor_common::on_pool!(&db, pool => {
        sqlx::query("DELETE FROM scores WHERE board = 'workouts'")
            .execute(pool)
            .await
            .map(drop)
            .unwrap()
    });
    app.boards.drop_board(&this_week("workouts")).await.unwrap();
    service.backfill().await.unwrap();
    assert_eq!(app.weekly_top("workouts").await, vec![(ann.clone(), 2)]);
}

async fn a_flushed_board_store_is_rebuilt_from_the_score_log(app: App) {
    if !app.boards_visible() {
        return;
    }
    let (ann, ann_token) = app.user("ann").await;
    let (bob, bob_token) = app.user("bob").await;
    app.log(&ann_token, 30, 5000).await;
    app.log(&bob_token, 60, 12_000).await;
    app.xp_becomes(&bob_token, 10 + 60 + 60).await;
    app.xp_becomes(&ann_token, 65).await;
    let service = app.service();
    let instances = service.store.score_instances().await.unwrap();
    // Four boards, four windows; a 12 km run has no 5 km time.
    assert_eq!(instances.len(), 16, "{instances:?}");
    let def = BoardDef::xp();
    let weekly = def
        .window_at(
            Window::Weekly,
            Scope::Global,
            Utc::now() - chrono::Duration::hours(3),
        )
        .unwrap();
    let before = app.boards.top(&weekly, None, 10).await.unwrap();
    assert_eq!(
        before
            .iter()
            .map(|e| e.user.to_string())
            .collect::<Vec<_>>(),
        vec![bob.clone(), ann.clone()]
    );
    // Flush this test's keys (the Redis is shared with other tests).
    for key in &instances {
        let window = vigor_gamification::service::board_window(key).unwrap();
        app.boards.drop_board(&window).await.unwrap();
    }
    app.board_becomes("xp", &ann, None).await;
    let rebuilt = service
        .rebuild(true, app.config.leaderboards.window_grace())
        .await
        .unwrap();
    assert_eq!((rebuilt.instances, rebuilt.entries), (16, 16 + 12));
    assert_eq!(app.boards.top(&weekly, None, 10).await.unwrap(), before);
    // A new in-memory store (an all-in-one start) is filled the same way.
    let memory: Arc<dyn BoardStore> = Arc::new(vigor_leaderboards::MemoryBoardStore::new(
        app.config.leaderboards.window_grace(),
    ));
    let db = app.database(ServiceName::Gamification).database.clone();
    let ids = Arc::new(IdGenerator::new(9).unwrap());
    let at_start = vigor_gamification::service(&app.config, db, memory.clone(), ids).unwrap();
    let filled = at_start
        .rebuild(true, app.config.leaderboards.window_grace())
        .await
        .unwrap();
    assert_eq!((filled.instances, filled.entries), (16, 16 + 12));
    assert_eq!(memory.top(&weekly, None, 10).await.unwrap(), before);
    // A store that holds its entries is left alone at start.
    let again = service
        .rebuild(true, app.config.leaderboards.window_grace())
        .await
        .unwrap();
    assert_eq!((again.instances, again.skipped), (0, 16));
}

async fn a_backfill_applies_rules_added_later_once(app: App) {
    let (_, token) = app.user("gus").await;
    app.log(&token, 30, 5000).await;
    app.xp_becomes(&token, 65).await;
    // A deployment adds an achievement the user already qualifies for.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let rules = format!(
        "{}\n[[achievements]]\nkey = \"five_k\"\nname = \"Five k\"\nmetric = \"distance_m\"\ntiers = [{{ threshold = 5000, points = 25 }}]\n",
        vigor_gamification::domain::rules::BUILTIN
    );
    std::fs::write(&path, rules).unwrap();
    let mut config = (*app.config).clone();
    config.gamification.rules_file = Some(path.display().to_string());
    let db = app.database(ServiceName::Gamification).database.clone();
    let ids = Arc::new(IdGenerator::new(8).unwrap());
    let service = vigor_gamification::service(&config, db, app.boards.clone(), ids).unwrap();
    assert_eq!(service.backfill().await.unwrap(), 1);
    assert_eq!(service.backfill().await.unwrap(), 0);
    let ledger = app.get_json(&token, "/v1/gamification/me/ledger").await;
    let sources: Vec<&str> = ledger["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources.iter().filter(|s| **s == "five_k:1").count(),
        1,
        "{sources:?}"
    );
}

async fn a_deleted_user_s_game_and_entries_go(app: App) {
    let (id, token) = app.user("cy").await;
    app.log(&token, 30, 5000).await;
    app.xp_becomes(&token, 65).await;
    let event = USER_DELETED.event(
        &app.ids,
        &vigor_common::events::UserRef {
            user_id: id.parse().unwrap(),
        },
    );
    app.bus.publish(&event).await.unwrap();
    eventually("the game erased", || async {
        let me = app.me(&token).await;
        me["xp"] == 0 && achievement(&me, "first_workout")["earned"] == false
    })
    .await;
    if app.boards_visible() {
        app.board_becomes("xp", &id, None).await;
    }
    let service = app.service();
    assert!(service.store.score_instances().await.unwrap().is_empty());
}

async fn challenges_are_made_joined_and_completed(app: App) {
    let (_, token) = app.user("dee").await;
    let admin_email = format!("{}@example.com", testkit::unique_name("admin"));
    let admin_id = app.sign_up(&admin_email, "Admin").await;
    let sql = format!("UPDATE credentials SET roles = 'user admin' WHERE user_id = {admin_id}");
    vigor_common::on_pool!(&app.database(ServiceName::Auth).database, pool => sqlx::query(&sql).execute(pool).await.map(drop)).unwrap();
    let admin = app.access_token(&admin_email).await;
    let now = Utc::now();
    let draft = json!({
        "name": "10 km this week", "metric": "distance_m", "goal": 10000,
        "starts_at": (now - chrono::Duration::days(1)).to_rfc3339(), "ends_at": (now + chrono::Duration::days(6)).to_rfc3339(),
        "points": 50,
    });
    // Only admins make global challenges; bad fields are named.
    problem(
        app.call(
            Method::POST,
            &token,
            "/v1/gamification/challenges",
            Some(&draft),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let bad = problem(
        app.call(
            Method::POST,
            &admin,
            "/v1/gamification/challenges",
            Some(
                &json!({"name": "", "metric": "laps", "goal": 0, "starts_at": now, "ends_at": now}),
            ),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(bad.to_string().contains("metric"), "{bad}");
    // A community's challenge: only its members (as social announced) make it.
    let community = json!({"name": "Club run", "metric": "workouts", "goal": 2, "starts_at": now, "ends_at": now + chrono::Duration::days(3), "community_id": "77"});
    problem(
        app.call(
            Method::POST,
            &token,
            "/v1/gamification/challenges",
            Some(&community),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;

    let (status, created) = app
        .json(
            Method::POST,
            &admin,
            "/v1/gamification/challenges",
            Some(&draft),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let cid = created["id"].as_str().unwrap();
    assert_eq!(created["board"], "challenge-distance");
    let list = app.get_json(&token, "/v1/gamification/challenges").await;
    assert_eq!(list["items"][0]["id"], cid);
    let (status, joined) = app
        .json(
            Method::POST,
            &token,
            &format!("/v1/gamification/challenges/{cid}/join"),
            None,
        )
        .await;
    assert_eq!(
        (status, joined["joined"].clone(), joined["progress"].clone()),
        (StatusCode::OK, json!(true), json!(0))
    );

    app.log(&token, 60, 12_000).await;
    eventually("the challenge completed", || async {
        let c = app
            .get_json(&token, &format!("/v1/gamification/challenges/{cid}"))
            .await;
        c["progress"] == 12_000 && c["completed_at"].is_string()
    })
    .await;
    let me = app.me(&token).await;
    assert_eq!(me["challenges"][0]["challenge_id"], cid);
    let ledger = app.get_json(&token, "/v1/gamification/me/ledger").await;
    assert!(
        ledger["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "challenge" && e["points"] == 50),
        "{ledger}"
    );
    let (status, left) = app
        .json(
            Method::POST,
            &token,
            &format!("/v1/gamification/challenges/{cid}/leave"),
            None,
        )
        .await;
    assert_eq!(
        (status, left["joined"].clone()),
        (StatusCode::OK, json!(false))
    );
    problem(
        app.call(Method::GET, &token, "/v1/gamification/challenges/5", None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

async fn settings_are_checked_and_shape_streaks(app: App) {
    let (_, token) = app.user("eve").await;
    let bad = problem(
        app.call(
            Method::PUT,
            &token,
            "/v1/gamification/me/settings",
            Some(&json!({"time_zone": "Mars/Olympus", "rest_days": 9})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad.to_string().contains("time_zone") && bad.to_string().contains("rest_days"),
        "{bad}"
    );
    let good = json!({"time_zone": "Pacific/Auckland", "rest_days": 2});
    let (status, saved) = app
        .json(
            Method::PUT,
            &token,
            "/v1/gamification/me/settings",
            Some(&good),
        )
        .await;
    assert_eq!((status, saved), (StatusCode::OK, good.clone()));
    assert_eq!(
        app.get_json(&token, "/v1/gamification/me/settings").await,
        good
    );
    assert_eq!(app.me(&token).await["streak"]["rest_days"], 2);
    // Without the gamification scopes, nothing.
    let email = format!("{}@example.com", testkit::unique_name("fay"));
    app.sign_up(&email, "Fay").await;
    let narrow = testkit::app::access(&app.token_with_scopes(&email, &["training:read"]).await);
    testkit::assert_insufficient_scope(
        app.call(Method::GET, &narrow, "/v1/gamification/me", None)
            .await,
        "gamification:read",
        "me",
    )
    .await;
}

vigor_common::on_both_backends!(crate::App::spawn;
    a_logged_workout_earns_xp_and_unlocks_first_workout_once,
    an_edited_or_deleted_workout_moves_xp_and_scores_back,
    the_workouts_and_fastest_5k_boards_rank_and_give_back,
    a_flushed_board_store_is_rebuilt_from_the_score_log,
    a_deleted_user_s_game_and_entries_go,
    a_backfill_applies_rules_added_later_once,
    challenges_are_made_joined_and_completed,
    settings_are_checked_and_shape_streaks,
);
