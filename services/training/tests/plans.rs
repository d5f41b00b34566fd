//! Plans through HTTP: create, read, list, validation and privacy.

mod common;

use common::{problem, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn plan(squat: &str, bench: &str) -> Value {
    json!({
        "name": "Strength base",
        "description": "Three months of 5×5",
        "days": [
            {"name": "A", "exercises": [
                {"exercise_id": squat, "prescriptions": [
                    {"sets": 2, "reps": {"min": 5}, "load": {"type": "percent_of_1rm", "percent": 50}, "set_type": "warm_up"},
                    {"sets": 5, "reps": {"min": 5}, "load": {"type": "absolute", "kg": 100}, "rest_s": 180}
                ], "progression": {"type": "linear", "increment_kg": 2.5}},
                {"exercise_id": bench, "superset": 1, "prescriptions": [
                    {"sets": 3, "reps": {"min": 8, "max": 12}, "load": {"type": "rpe", "rpe": 8}}
                ], "progression": {"type": "double_progression", "increment_kg": 2}}
            ]},
            {"name": "B", "exercises": [
                {"exercise_id": squat, "prescriptions": [{"sets": 3, "reps": {"min": 5}, "load": {"type": "rir", "rir": 2}}]}
            ]}
        ]
    })
}

async fn post(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/v1/training/plans"))
        .bearer_auth(token)
        .json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn a_plan_is_created_read_and_listed(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let bench = app.exercise_id(&ann, "bench press").await;
    let response = post(&app, &ann, &plan(&squat, &bench), Some("plan-1")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["owner_id"], ann_id.as_str());
    assert_eq!(created["name"], "Strength base");
    let first = &created["days"][0]["exercises"][0];
    assert_eq!(
        first["prescriptions"][1]["set_type"], "working",
        "the default set type"
    );
    assert_eq!(
        first["prescriptions"][1]["reps"],
        json!({"min": 5, "max": 5})
    );
    assert_eq!(
        first["progression"],
        json!({"type": "linear", "increment_kg": 2.5})
    );
    assert_eq!(
        created["days"][1]["exercises"][0]["progression"],
        json!({"type": "none"})
    );
    let id = created["id"].as_str().unwrap();

    let again = post(&app, &ann, &plan(&squat, &bench), Some("plan-1")).await;
    assert_eq!(
        again.json::<Value>().await.unwrap()["id"],
        id,
        "a retry is the same plan"
    );

    let read: Value = get(&app, &ann, &format!("/v1/training/plans/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, created);
    problem(
        get(&app, &bob, &format!("/v1/training/plans/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let second = post(&app, &ann, &plan(&squat, &bench), None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let page: Value = get(&app, &ann, "/v1/training/plans?limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"][0]["id"], id);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = get(
        &app,
        &ann,
        &format!("/v1/training/plans?limit=1&cursor={cursor}"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(next["items"][0]["id"], second["id"]);
    assert_eq!(next["next_cursor"], Value::Null);
    let bobs: Value = get(&app, &bob, "/v1/training/plans")
        .await
        .json()
        .await
        .unwrap();
    assert!(bobs["items"].as_array().unwrap().is_empty());
}

async fn impossible_plans_are_refused(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let bench = app.exercise_id(&ann, "bench press").await;

    let mut body = plan(&squat, &bench);
    body["days"][0]["exercises"][0]["prescriptions"][1]["reps"] = json!({"min": 8, "max": 5});
    let bad = problem(
        post(&app, &ann, &body, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("days[0].exercises[0].prescriptions[1].reps"),
        "{bad}"
    );

    let mut body = plan(&squat, &bench);
    body["name"] = json!("  ");
    body["days"][1]["exercises"][0]["exercise_id"] = json!("12345");
    let bad = problem(
        post(&app, &ann, &body, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "name");

    let mut body = plan(&squat, &bench);
    body["days"][1]["exercises"][0]["exercise_id"] = json!("12345");
    let bad = problem(
        post(&app, &ann, &body, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "days.1.exercises.0.exercise_id");

    let page: Value = get(&app, &ann, "/v1/training/plans")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        page["items"].as_array().unwrap().is_empty(),
        "nothing was stored"
    );
}

on_both_backends!(
    a_plan_is_created_read_and_listed,
    impossible_plans_are_refused
);
