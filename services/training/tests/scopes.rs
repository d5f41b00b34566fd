//! Scopes through HTTP: a token reaches exactly the operations its scopes cover.
//! The routes come from the service's OpenAPI document, so a new operation is
//! covered here as soon as it is documented.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::TestApp;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use vigor_common::testkit::assert_insufficient_scope as assert_insufficient;

/// Every documented operation: `(method, path with ids filled in)`.
fn operations() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(vigor_training::openapi()).unwrap();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let filled = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        "1"
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            operations.push((method, filled));
        }
    }
    assert!(operations.len() > 20, "{operations:?}");
    operations
}

async fn call(app: &TestApp, method: &Method, path: &str, token: &str) -> Response {
    let mut request = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(token);
    if *method != Method::GET {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

fn squat_session(exercise: &str) -> Value {
    json!({
        "sport": "strength",
        "started_at": "2024-05-04T07:00:00Z",
        "duration_s": 3600,
        "exercises": [{"exercise_id": exercise, "sets": [{"reps": 5, "weight_kg": 100.0}]}],
    })
}

async fn a_read_token_reads_but_every_write_is_refused(app: TestApp) {
    let (_, email) = app.signup("ann").await;
    let owner = app.token(&email).await;
    let reader = app.token_with_scopes(&email, &["training:read"]).await;
    let squat = app.exercise_id(&owner, "squat").await;
    let workout = app.logged(&owner, &squat_session(&squat)).await;
    let workout_id = workout["id"].as_str().unwrap();

    for (method, path) in operations() {
        let what = format!("{method} {path}");
        let response = call(&app, &method, &path, &reader).await;
        if path == "/v1/training/me/export" {
            assert_insufficient(response, "account", &what).await;
        } else if method == Method::GET {
            // Allowed through; some ids do not exist.
            assert_ne!(response.status(), StatusCode::FORBIDDEN, "{what}");
            assert_ne!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
        } else {
            assert_insufficient(response, "training:write", &what).await;
        }
    }

    // The reader sees the workout but cannot log, change or delete one.
    assert_eq!(
        app.workout(&reader, workout_id).await.status(),
        StatusCode::OK
    );
    let deleted = app.delete(&reader, workout_id).await;
    assert_insufficient(deleted, "training:write", "DELETE workout").await;
    let logged = app.log(&reader, &squat_session(&squat), None).await;
    assert_insufficient(logged, "training:write", "POST workout").await;
    assert_eq!(
        app.workout(&owner, workout_id).await.status(),
        StatusCode::OK
    );
    let list = app.get_json(&owner, "/v1/training/workouts").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn a_token_of_another_service_reaches_nothing_here(app: TestApp) {
    let (_, email) = app.signup("ann").await;
    let profile = app.token_with_scopes(&email, &["profile:read"]).await;
    for (method, path) in operations() {
        let what = format!("{method} {path}");
        let needs = if path == "/v1/training/me/export" {
            "account"
        } else if method == Method::GET {
            "training:read"
        } else {
            "training:write"
        };
        assert_insufficient(call(&app, &method, &path, &profile).await, needs, &what).await;
    }
}

async fn the_first_party_token_logs_and_exports(app: TestApp) {
    let (_, email) = app.signup("ann").await;
    let owner = app.token(&email).await;
    let squat = app.exercise_id(&owner, "squat").await;
    let response = app.log(&owner, &squat_session(&squat), None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let export = call(&app, &Method::GET, "/v1/training/me/export", &owner).await;
    assert_eq!(export.status(), StatusCode::OK);
}

on_both_backends!(
    a_read_token_reads_but_every_write_is_refused,
    a_token_of_another_service_reaches_nothing_here,
    the_first_party_token_logs_and_exports,
);
