//! The `followers` privacy of workouts follows the social graph: training learns
//! it from social's follow events (never by calling social), so a follower sees
//! a `followers` workout, a stranger and an unfollowed or blocked former
//! follower get 404 — on SQLite and on PostgreSQL.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use vigor_common::testkit::{self, eventually, Backend};

async fn spawn(backend: Backend) -> Option<testkit::TestApp> {
    vigor_auth::testkit::stack(backend)
        .service(vigor_social::spec())
        .service(vigor_training::spec())
        .spawn()
        .await
}

async fn person(app: &testkit::TestApp, name: &str) -> (String, String) {
    let email = format!("{name}@example.com");
    let id = app.sign_up(&email, name).await;
    (id, app.access_token(&email).await)
}

async fn status(app: &testkit::TestApp, token: &str, path: &str) -> StatusCode {
    app.call(Method::GET, token, path, None).await.status()
}

async fn a_followers_workout_is_for_followers_only(app: testkit::TestApp) {
    let (ann, ann_token) = person(&app, "ann").await;
    let (bob, bob_token) = person(&app, "bob").await;
    let (_, eve_token) = person(&app, "eve").await;
    let run = json!({
        "sport": "run", "started_at": "2024-05-04T07:00:00Z", "duration_s": 1800,
        "distance_m": 5000, "privacy": "followers"
    });
    let created = app
        .call(
            Method::POST,
            &ann_token,
            "/v1/training/workouts",
            Some(&run),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let workout: Value = created.json().await.unwrap();
    let path = format!("/v1/training/workouts/{}", workout["id"].as_str().unwrap());
    assert_eq!(status(&app, &bob_token, &path).await, StatusCode::NOT_FOUND);

    // Bob follows Ann: the workout shows up for him, never for Eve.
    let follow = format!("/v1/social/following/{ann}");
    let followed = app.call(Method::PUT, &bob_token, &follow, None).await;
    assert_eq!(followed.status(), StatusCode::OK);
    eventually("the follower sees the workout", || async {
        status(&app, &bob_token, &path).await == StatusCode::OK
    })
    .await;
    assert_eq!(status(&app, &eve_token, &path).await, StatusCode::NOT_FOUND);

    // Unfollowed: hidden again.
    let unfollowed = app.call(Method::DELETE, &bob_token, &follow, None).await;
    assert_eq!(unfollowed.status(), StatusCode::NO_CONTENT);
    eventually("the former follower no longer sees it", || async {
        status(&app, &bob_token, &path).await == StatusCode::NOT_FOUND
    })
    .await;

    // Following again, then blocked by Ann: the block ends the follow.
    app.call(Method::PUT, &bob_token, &follow, None).await;
    eventually("the follower sees it again", || async {
        status(&app, &bob_token, &path).await == StatusCode::OK
    })
    .await;
    let blocked = app
        .call(
            Method::PUT,
            &ann_token,
            &format!("/v1/social/blocks/{bob}"),
            None,
        )
        .await;
    assert_eq!(blocked.status(), StatusCode::NO_CONTENT);
    eventually("a blocked follower no longer sees it", || async {
        status(&app, &bob_token, &path).await == StatusCode::NOT_FOUND
    })
    .await;
}

vigor_common::on_both_backends!(crate::spawn; a_followers_workout_is_for_followers_only);
