//! The leaderboards' REST API, black box, with auth, users and social running
//! beside it (real sign-ups, real follows, real display names): the top in
//! pages, around me, friends, the list of boards, and problem+json for bad
//! requests. Every scenario runs once on the in-memory store and once on Redis;
//! the test seeds entries through the same `BoardStore` the service reads.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use vigor_common::testkit::{self, eventually, problem, Backend, TestApp};
use vigor_common::Id;
use vigor_leaderboards::{
    BoardDef, BoardStore, BoardWindow, MemoryBoardStore, RedisBoardStore, Scope, Score, Window,
};

const GRACE: Duration = Duration::from_secs(3600);

struct App {
    app: TestApp,
    store: Arc<dyn BoardStore>,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// A signed-in person.
struct Person {
    id: Id,
    token: String,
}

fn memory() -> Option<Arc<dyn BoardStore>> {
    Some(Arc::new(MemoryBoardStore::new(GRACE)))
}

async fn redis() -> Option<Arc<dyn BoardStore>> {
    let url = testkit::redis_url()?;
    let prefix = format!("{}:", testkit::unique_name("lbapi"));
    Some(Arc::new(
        RedisBoardStore::connect(&url, &prefix, GRACE)
            .await
            .unwrap(),
    ))
}

impl App {
    async fn spawn(store: Arc<dyn BoardStore>) -> App {
        let given = store.clone();
        let app = vigor_auth::testkit::stack(Backend::Sqlite)
            .service(vigor_users::spec())
            .service(vigor_social::spec())
            .service_built_with(
                vigor_leaderboards::spec(),
                Box::new(move |ctx| Box::pin(vigor_leaderboards::start(ctx, given))),
            )
            .configure(|c| c.leaderboards.around_radius = 2)
            .spawn()
            .await
            .unwrap();
        App { app, store }
    }

    /// Signs `name` up and waits until the users service has their profile.
    async fn person(&self, name: &str) -> Person {
        let email = format!("{name}@example.com");
        let id: Id = self.sign_up(&email, name).await.parse().unwrap();
        let token = self.access_token(&email).await;
        eventually("the profile", || async {
            self.call(Method::GET, &token, "/v1/users/me", None)
                .await
                .status()
                == StatusCode::OK
        })
        .await;
        Person { id, token }
    }

    fn weekly(&self) -> BoardWindow {
        BoardDef::xp()
            .window_at(Window::Weekly, Scope::Global, Utc::now())
            .unwrap()
    }

    /// Gives `user` `score` XP this week, reached at `at_ms`.
    async fn seed(&self, user: Id, score: i64, at_ms: i64) {
        let at = chrono::DateTime::from_timestamp_millis(at_ms).unwrap();
        self.store
            .submit(&self.weekly(), user, Score::new(score).unwrap(), at)
            .await
            .unwrap();
    }

    async fn board(&self, who: &Person, query: &str) -> Value {
        self.get_json(&who.token, &format!("/v1/leaderboards/xp?{query}"))
            .await
    }
}

/// `(rank, user_id, score)` of each item.
fn rows(page: &Value) -> Vec<(u64, String, i64)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["rank"].as_u64().unwrap(),
                i["user_id"].as_str().unwrap().to_owned(),
                i["score"].as_i64().unwrap(),
            )
        })
        .collect()
}

macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let store = super::memory().unwrap();
                    super::$name(super::App::spawn(store).await).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = super::redis().await else { return };
                    super::$name(super::App::spawn(store).await).await;
                }
            )+
        }
    };
}

on_both_stores!(
    the_top_comes_in_pages_with_names,
    around_me_shows_the_caller_and_their_neighbours,
    friends_rank_the_caller_and_whom_they_follow,
    the_list_names_every_board_with_windows_and_units,
    bad_requests_are_problems,
);

async fn the_top_comes_in_pages_with_names(app: App) {
    let ann = app.person("ann").await;
    let bob = app.person("bob").await;
    app.seed(ann.id, 50, 1_000).await;
    app.seed(bob.id, 70, 1_000).await;
    // Two strangers without profiles; one ties with ann but got there later.
    app.seed(Id::from_i64(9_001), 50, 2_000).await;
    app.seed(Id::from_i64(9_002), 10, 1_000).await;

    let first = app.board(&ann, "window=weekly&limit=3").await;
    assert_eq!(
        rows(&first),
        vec![
            (1, bob.id.to_string(), 70),
            (2, ann.id.to_string(), 50),
            (3, "9001".to_owned(), 50),
        ]
    );
    assert_eq!(first["items"][0]["display_name"], "bob");
    assert_eq!(first["items"][1]["display_name"], "ann");
    assert!(first["items"][2]["display_name"].is_null());
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .board(&ann, &format!("window=weekly&limit=3&cursor={cursor}"))
        .await;
    assert_eq!(rows(&second), vec![(4, "9002".to_owned(), 10)]);
    assert!(second["next_cursor"].is_null());
    // Weekly is the default window; another window is another board.
    assert_eq!(rows(&app.board(&ann, "limit=3").await), rows(&first));
    assert!(rows(&app.board(&ann, "window=daily").await).is_empty());
}

async fn around_me_shows_the_caller_and_their_neighbours(app: App) {
    let me = app.person("mia").await;
    for i in 1..=9 {
        app.seed(Id::from_i64(8_000 + i), 100 - i, 1_000).await;
    }
    // Nobody around a caller without an entry.
    let empty = app.board(&me, "around=me").await;
    assert!(rows(&empty).is_empty());
    app.seed(me.id, 95, 1_000).await; // between 8004 (96) and 8005 (95, earlier? no: same instant, smaller id first)
    let around = app.board(&me, "around=me").await;
    let ranks: Vec<u64> = rows(&around).iter().map(|r| r.0).collect();
    let mine = rows(&around)
        .into_iter()
        .find(|r| r.1 == me.id.to_string())
        .unwrap();
    assert_eq!(ranks.len(), 5, "radius 2 each side: {around}");
    assert_eq!(ranks, ((mine.0 - 2)..=(mine.0 + 2)).collect::<Vec<_>>());
    assert_eq!(around["items"][2]["display_name"], "mia");
    assert!(around["next_cursor"].is_null());
}

async fn friends_rank_the_caller_and_whom_they_follow(app: App) {
    let me = app.person("fay").await;
    let ann = app.person("ana").await;
    let bob = app.person("ben").await;
    let eve = app.person("eva").await;
    app.seed(eve.id, 1_000, 1_000).await; // first on the board, not followed
    app.seed(ann.id, 300, 1_000).await;
    app.seed(me.id, 200, 1_000).await;
    app.seed(bob.id, 100, 1_000).await;
    for who in [&ann, &bob] {
        let response = app
            .call(
                Method::PUT,
                &me.token,
                &format!("/v1/social/following/{}", who.id),
                None,
            )
            .await;
        assert!(response.status().is_success(), "{}", response.status());
    }
    let friends = app.board(&me, "scope=friends").await;
    assert_eq!(
        rows(&friends),
        vec![
            (1, ann.id.to_string(), 300),
            (2, me.id.to_string(), 200),
            (3, bob.id.to_string(), 100),
        ]
    );
    assert_eq!(friends["items"][0]["display_name"], "ana");
    // Pages of the friends board resume where they stopped.
    let first = app.board(&me, "scope=friends&limit=2").await;
    assert_eq!(rows(&first).len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app
        .board(&me, &format!("scope=friends&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rows(&rest), vec![(3, bob.id.to_string(), 100)]);
    // Eve, who follows nobody, is alone on hers.
    assert_eq!(
        rows(&app.board(&eve, "scope=friends").await),
        vec![(1, eve.id.to_string(), 1_000)]
    );
}

async fn the_list_names_every_board_with_windows_and_units(app: App) {
    let me = app.person("lia").await;
    let list = app.get_json(&me.token, "/v1/leaderboards").await;
    let items = list["items"].as_array().unwrap();
    let xp = items.iter().find(|b| b["id"] == "xp").unwrap();
    assert_eq!(xp["unit"], "xp");
    assert_eq!(
        xp["windows"],
        serde_json::json!(["daily", "weekly", "monthly", "all_time"])
    );
    let distance = items.iter().find(|b| b["id"] == "distance").unwrap();
    assert_eq!(distance["unit"], "m");
    assert_eq!(distance["scope"], "global");
}

async fn bad_requests_are_problems(app: App) {
    let me = app.person("zed").await;
    let (app, token) = (&app, me.token.as_str());
    let get = |path: String| async move { app.call(Method::GET, token, &path, None).await };
    let missing = problem(
        get("/v1/leaderboards/nope".to_owned()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(missing["detail"].as_str().unwrap().contains("nope"));
    problem(
        get("/v1/leaderboards/NOPE!".to_owned()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    for (query, field) in [
        ("window=yearly", "window"),
        ("scope=team:1", "scope"),
        ("scope=community:1", "scope"),
        ("around=you", "around"),
        ("around=me&scope=friends", "around"),
        ("around=me&cursor=abc", "cursor"),
        ("limit=0", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let body = problem(
            get(format!("/v1/leaderboards/xp?{query}")).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert!(body.to_string().contains(field), "{query}: {body}");
    }
    // No token; a token without the scope.
    let anonymous = app
        .http
        .get(app.url("/v1/leaderboards/xp"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let narrow = testkit::app::access(
        &app.token_with_scopes("zed@example.com", &["profile:read"])
            .await,
    );
    let refused = app
        .call(Method::GET, &narrow, "/v1/leaderboards/xp", None)
        .await;
    problem(refused, StatusCode::FORBIDDEN).await;
}
