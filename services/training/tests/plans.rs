//! Plans through HTTP: create, read, list, validation and privacy.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

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

async fn the_calendar_shows_planned_and_done_days_in_local_time(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let bench = app.exercise_id(&ann, "bench press").await;
    let plan: Value = post(&app, &ann, &plan(&squat, &bench), None)
        .await
        .json()
        .await
        .unwrap();
    let id = plan["id"].as_str().unwrap();
    let schedule = json!({"start_date": "2024-05-06", "weekdays": ["fri", "mon", "wed"], "time_zone": "Europe/Berlin"});
    let path = format!("/v1/training/plans/{id}/schedule");
    let response = app
        .http
        .post(app.url(&path))
        .bearer_auth(&ann)
        .json(&schedule)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["weekdays"], json!(["mon", "wed", "fri"]));
    assert_eq!(created["time_zone"], "Europe/Berlin");

    // 22:30 UTC on Monday 6 May is 00:30 on Tuesday in Berlin (CEST, UTC+2): it
    // counts for Tuesday. 06:00 UTC on Wednesday is Wednesday.
    for started in ["2024-05-06T22:30:00Z", "2024-05-08T06:00:00Z"] {
        app.logged(
            &ann,
            &json!({"sport": "run", "started_at": started, "duration_s": 1800, "distance_m": 5000}),
        )
        .await;
    }
    let response = get(
        &app,
        &ann,
        "/v1/training/schedule?from=2024-05-06&to=2024-05-12",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let c: Value = response.json().await.unwrap();
    assert_eq!(c["time_zone"], "Europe/Berlin");
    let days: Vec<(String, Vec<String>, usize)> = c["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let planned = d["planned"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["day_name"].as_str().unwrap().to_owned());
            (
                d["date"].as_str().unwrap().to_owned(),
                planned.collect(),
                d["done"].as_array().unwrap().len(),
            )
        })
        .collect();
    // The two-day plan (A, B) cycles over Mon/Wed/Fri: A on the 6th, B on the 8th, A on the 10th.
    assert_eq!(
        days,
        vec![
            ("2024-05-06".to_owned(), vec!["A".to_owned()], 0),
            ("2024-05-07".to_owned(), vec![], 1),
            ("2024-05-08".to_owned(), vec!["B".to_owned()], 1),
            ("2024-05-10".to_owned(), vec!["A".to_owned()], 0),
        ]
    );
    // Three planned days, one kept: 33.3 %.
    assert_eq!(
        (c["planned_to_date"].as_u64(), c["kept_to_date"].as_u64()),
        (Some(3), Some(1))
    );
    assert!((c["adherence_percent"].as_f64().unwrap() - 100.0 / 3.0).abs() < 1e-9);

    // Only the owner schedules a plan; bad fields are named.
    let response = app
        .http
        .post(app.url(&path))
        .bearer_auth(&bob)
        .json(&schedule)
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::NOT_FOUND).await;
    let bad = json!({"start_date": "2024-05-06", "weekdays": ["mon", "someday"], "time_zone": "Nowhere/City"});
    let response = app
        .http
        .post(app.url(&path))
        .bearer_auth(&ann)
        .json(&bad)
        .send()
        .await
        .unwrap();
    let bad = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["weekdays.1", "time_zone"]);
    // Bob's calendar is empty and in UTC.
    let c: Value = get(
        &app,
        &bob,
        "/v1/training/schedule?from=2024-05-06&to=2024-05-12",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        (c["time_zone"].as_str(), c["days"].as_array().map(Vec::len)),
        (Some("UTC"), Some(0))
    );
    assert_eq!(c["adherence_percent"], Value::Null);
    problem(
        get(
            &app,
            &ann,
            "/v1/training/schedule?from=2024-05-12&to=2024-05-06",
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn a_plan_is_replaced_and_deleted_by_its_owner_only(app: TestApp) {
    use reqwest::Method;
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let bench = app.exercise_id(&ann, "bench press").await;
    let created: Value = post(&app, &ann, &plan(&squat, &bench), None)
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/training/plans/{id}");
    let schedule =
        json!({"start_date": "2024-05-06", "weekdays": ["mon", "thu"], "time_zone": "UTC"});
    let response = app
        .call(
            Method::POST,
            &ann,
            &format!("{path}/schedule"),
            Some(&schedule),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    // A workout logged on a planned day.
    let workout = app
        .logged(
            &ann,
            &json!({"sport": "strength", "started_at": "2024-05-06T07:00:00Z", "duration_s": 3600,
                    "exercises": [{"exercise_id": squat, "sets": [{"weight_kg": 100, "reps": 5}]}]}),
        )
        .await;

    // Replace: one day now, new name.
    let new = json!({"name": "Squat only", "days": [{"name": "S", "exercises": [
        {"exercise_id": squat, "prescriptions": [{"sets": 5, "reps": {"min": 3}}]}]}]});
    let response = app.call(Method::PUT, &ann, &path, Some(&new)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let replaced: Value = response.json().await.unwrap();
    assert_eq!(replaced["id"], id.as_str());
    assert_eq!(replaced["name"], "Squat only");
    assert_eq!(replaced["days"].as_array().unwrap().len(), 1);
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_eq!(app.get_json(&ann, &path).await, replaced);
    // The schedule follows the new days.
    let calendar = app
        .get_json(&ann, "/v1/training/schedule?from=2024-05-06&to=2024-05-09")
        .await;
    let names: Vec<&str> = calendar["days"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["planned"].as_array().unwrap())
        .map(|p| p["day_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["S", "S"]);

    // Invalid content is refused as on create, and changes nothing.
    let bad = json!({"name": "Bad", "days": [{"name": "X", "exercises": [
        {"exercise_id": "123", "prescriptions": [{"sets": 1, "reps": {"min": 1}}]}]}]});
    let body = problem(
        app.call(Method::PUT, &ann, &path, Some(&bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "days.0.exercises.0.exercise_id");
    assert_eq!(app.get_json(&ann, &path).await["name"], "Squat only");

    // Someone else can neither see, replace nor delete it: 404, as if absent.
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = (method == Method::PUT).then_some(&new);
        problem(
            app.call(method, &bob, &path, body).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }

    // Delete: the plan and its schedule go, the workout stays whole.
    let response = app.call(Method::DELETE, &ann, &path, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    problem(
        app.call(Method::GET, &ann, &path, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(
        app.call(Method::DELETE, &ann, &path, None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let calendar = app
        .get_json(&ann, "/v1/training/schedule?from=2024-05-06&to=2024-05-09")
        .await;
    assert!(calendar["days"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["planned"] == json!([])));
    assert_eq!(calendar["planned_to_date"], 0);
    let kept = app
        .get_json(
            &ann,
            &format!("/v1/training/workouts/{}", workout["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(kept["exercises"], workout["exercises"]);
}

on_both_backends!(
    a_plan_is_replaced_and_deleted_by_its_owner_only,
    a_plan_is_created_read_and_listed,
    impossible_plans_are_refused,
    the_calendar_shows_planned_and_done_days_in_local_time,
);
