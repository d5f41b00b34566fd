//! The caller's data as a whole: the export (`GET /v1/training/me/export`) and
//! the erasure on `user.deleted`.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{problem, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use vigor_common::bus::{Event, EventBus};
use vigor_common::Id;

/// Ann's data of every kind: a workout, a custom exercise, a plan on a schedule.
/// Returns (workout id, exercise id, plan id).
async fn some_of_everything(app: &TestApp, token: &str) -> (String, String, String) {
    let squat = app.exercise_id(token, "squats").await;
    let response = app
        .create_exercise(
            token,
            &json!({"name": "Secret Squat", "category": "strength", "primary_muscles": ["quads"],
                    "mechanics": "compound", "measurement": "weight_reps"}),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let exercise = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let workout = app
        .logged(
            token,
            &json!({"sport": "strength", "privacy": "private",
                    "started_at": "2024-05-06T07:00:00Z", "ended_at": "2024-05-06T08:00:00Z",
                    "exercises": [{"exercise_id": exercise, "sets": [{"weight_kg": 100, "reps": 5}]}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plan = json!({"name": "Base", "days": [{"name": "A", "exercises": [
        {"exercise_id": squat, "prescriptions": [{"sets": 3, "reps": {"min": 5}}]}]}]});
    let response = app
        .call(Method::POST, token, "/v1/training/plans", Some(&plan))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let plan = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let schedule =
        json!({"start_date": "2024-05-06", "weekdays": ["mon"], "time_zone": "Europe/Berlin"});
    let response = app
        .call(
            Method::POST,
            token,
            &format!("/v1/training/plans/{plan}/schedule"),
            Some(&schedule),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    (workout, exercise, plan)
}

async fn the_export_holds_all_of_the_callers_data(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let (workout, exercise, plan) = some_of_everything(&app, &ann).await;
    let (bobs_workout, _, _) = some_of_everything(&app, &bob).await;

    let export = app.get_json(&ann, "/v1/training/me/export").await;
    assert_eq!(export["user_id"], ann_id.as_str());
    assert!(export["exported_at"].is_string());
    let ids = |key: &str| -> Vec<String> {
        export[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids("workouts"), vec![workout.clone()]);
    assert_eq!(ids("exercises"), vec![exercise]);
    assert_eq!(ids("plans"), vec![plan.clone()]);
    assert_eq!(export["schedules"][0]["plan_id"], plan.as_str());
    // The workout comes whole: sets and the records it set.
    let w = &export["workouts"][0];
    assert_eq!(w["exercises"][0]["sets"][0]["weight_kg"], 100.0);
    assert_eq!(w["personal_records"][0]["kind"], "max_weight");
    assert!(!export.to_string().contains(&bobs_workout));

    let response = app
        .http
        .get(app.url("/v1/training/me/export"))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED).await;
}

fn user_deleted(id: i64, user: &str) -> Event {
    Event {
        id: Id::from_i64(id),
        name: "user.deleted".into(),
        occurred_at: chrono::Utc::now(),
        data: json!({"user_id": user}),
    }
}

async fn processed(app: &TestApp) -> i64 {
    let sql = "SELECT COUNT(*) FROM processed_events WHERE consumer_group = 'training'";
    vigor_common::on_pool!(&app.db().database, pool => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap())
}

async fn a_deleted_users_training_data_is_erased(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let (workout, exercise, plan) = some_of_everything(&app, &ann).await;
    let (bobs_workout, _, _) = some_of_everything(&app, &bob).await;

    let event = user_deleted(1, &ann_id);
    app.bus.publish(&event).await.unwrap();
    app.eventually("ann's data to be erased", || async {
        app.workout_count().await == 1
    })
    .await;
    // Ann's token is still a valid JWT until it expires: it finds nothing.
    let export = app.get_json(&ann, "/v1/training/me/export").await;
    for key in ["workouts", "plans", "schedules", "exercises"] {
        assert_eq!(export[key], json!([]), "{key}");
    }
    for path in [
        format!("/v1/training/workouts/{workout}"),
        format!("/v1/training/plans/{plan}"),
        format!("/v1/training/exercises/{exercise}"),
    ] {
        let response = app.call(Method::GET, &ann, &path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    // Bob's data is untouched.
    let response = app.workout(&bob, &bobs_workout).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(processed(&app).await, 1);

    // A redelivery of the same event is recognised and changes nothing.
    app.bus.publish(&event).await.unwrap();
    let other = user_deleted(2, "123456789");
    app.bus.publish(&other).await.unwrap();
    app.eventually("both events to be processed", || async {
        processed(&app).await == 2
    })
    .await;
    assert_eq!(app.workout_count().await, 1);
}

on_both_backends!(
    the_export_holds_all_of_the_callers_data,
    a_deleted_users_training_data_is_erased,
);
