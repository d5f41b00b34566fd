//! Workouts through HTTP: logging, idempotency, access control, changes,
//! events through the outbox, and GPX/FIT import.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use std::time::Duration;

use common::{problem, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const RUN_GPX: &[u8] = include_bytes!("fixtures/run-2500m.gpx");
const FENIX_FIT: &[u8] = include_bytes!("fixtures/garmin-fenix-5-bike.fit");

fn strength(exercise: &str) -> Value {
    json!({
        "sport": "strength",
        "started_at": "2024-05-04T07:00:00Z",
        "duration_s": 3600,
        "rpe": 8,
        "privacy": "private",
        "exercises": [{
            "exercise_id": exercise,
            "sets": [
                {"set_type": "warm_up", "weight_kg": 60, "reps": 10},
                {"weight_kg": 100, "reps": 5, "rpe": 8},
                {"weight_kg": 100, "reps": 5, "rpe": 9},
                {"set_type": "drop", "weight_kg": 80, "reps": 8},
            ]
        }]
    })
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 0.01)
}

async fn a_strength_workout_is_logged_read_and_announced(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let mut events = app.subscribe().await;
    let response = app.log(&ann, &strength(&squat), None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let w: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/training/workouts/{}", w["id"].as_str().unwrap())
    );
    assert_eq!(w["owner_id"], ann_id.as_str());
    assert_eq!(w["title"], "Strength training");
    assert_eq!(w["duration_s"], 3600.0);
    assert_eq!(w["ended_at"], "2024-05-04T08:00:00Z");
    // Warm-up left out: 100×5 + 100×5 + 80×8 = 500 + 500 + 640 = 1640 kg.
    assert_eq!(w["volume_kg"], 1640.0);
    assert_eq!(w["exercises"][0]["sets"].as_array().unwrap().len(), 4);
    assert_eq!(w["exercises"][0]["sets"][1]["set_type"], "working");
    assert_eq!(w["version"], 1);
    // The first squat session sets every record: heaviest 100 kg (the 80 kg drop
    // set is lighter, the warm-up does not count), e1RM 100 × (1 + 5/30) = 116.67,
    // session volume 1640 kg.
    let records: Vec<(&str, f64)> = w["personal_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0], ("max_weight", 100.0));
    assert_eq!(records[1].0, "best_e1rm");
    assert!((records[1].1 - 116.666_666).abs() < 1e-3);
    assert_eq!(records[2], ("max_session_volume", 1640.0));
    assert!(w["personal_records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["previous"].is_null()));

    let read: Value = app
        .workout(&ann, w["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, w, "what was answered is what is stored");

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].0, "workout.logged");
    let data = &outbox[0].1["data"];
    assert_eq!(data["workout_id"], w["id"]);
    assert_eq!(data["user_id"], ann_id.as_str());
    assert_eq!(data["volume_kg"], 1640.0);
    assert_eq!(data["working_sets"], 3);
    assert_eq!(
        data["personal_records"], w["personal_records"],
        "consumers hear of the records"
    );
    // The relay publishes it to the bus.
    let delivery = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.event.name, "workout.logged");
    assert_eq!(delivery.event.data["workout_id"], w["id"]);
}

async fn a_retry_with_the_same_key_logs_once(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let body = json!({"sport": "run", "started_at": "2024-05-04T07:00:00Z", "duration_s": 1800, "distance_m": 5000});
    let first = app.log(&ann, &body, Some("run-42")).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let second = app.log(&ann, &body, Some("run-42")).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(second.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_eq!(app.workout_count().await, 1);
    assert_eq!(app.outbox().await.len(), 1);
    // The same key for another body is refused.
    let other = json!({"sport": "run", "started_at": "2024-05-04T07:00:00Z", "duration_s": 1900});
    problem(
        app.log(&ann, &other, Some("run-42")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Keys are per user: Bob's "run-42" is his own.
    let (_, bob) = app.user("bob").await;
    let response = app.log(&bob, &body, Some("run-42")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_ne!(response.json::<Value>().await.unwrap()["id"], first["id"]);
}

async fn invalid_workouts_name_every_field_and_store_nothing(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let body = json!({
        "sport": "run",
        "started_at": "2024-05-04T07:00:00Z",
        "ended_at": "2024-05-04T06:00:00Z",
        "rpe": 11,
        "avg_heart_rate": 150,
        "max_heart_rate": 140,
        "distance_m": -5,
    });
    let bad = problem(
        app.log(&ann, &body, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["ended_at", "distance_m", "max_heart_rate", "rpe"]
    );

    // Exercises must exist and be the caller's to use.
    let custom: Value = app
        .create_exercise(
            &bob,
            &json!({"name": "Bob's lift", "primary_muscles": ["traps"]}),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let squat = app.exercise_id(&ann, "squats").await;
    let mut body = strength(&squat);
    body["exercises"]
        .as_array_mut()
        .unwrap()
        .push(json!({"exercise_id": custom["id"], "sets": [{"reps": 5}]}));
    body["exercises"]
        .as_array_mut()
        .unwrap()
        .push(json!({"exercise_id": "999", "sets": [{"reps": 5}]}));
    let bad = problem(
        app.log(&ann, &body, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["exercises.1.exercise_id", "exercises.2.exercise_id"]
    );

    // Not JSON at all.
    let response = app
        .http
        .post(app.url("/v1/training/workouts"))
        .bearer_auth(&ann)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.workout_count().await, 0);
    assert!(app.outbox().await.is_empty());
}

async fn a_private_workout_is_its_owners_only(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let private = app.logged(&ann, &strength(&squat)).await;
    let id = private["id"].as_str().unwrap();
    // To Bob it does not exist: read, change and delete are all 404.
    problem(app.workout(&bob, id).await, StatusCode::NOT_FOUND).await;
    problem(
        app.patch(&bob, id, &json!({"title": "mine"})).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    problem(app.delete(&bob, id).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.workout(&ann, id).await.status(), StatusCode::OK);

    // A followers-only workout stays hidden until the social graph says otherwise.
    let mut body = strength(&squat);
    body["privacy"] = json!("followers");
    let followers = app.logged(&ann, &body).await;
    problem(
        app.workout(&bob, followers["id"].as_str().unwrap()).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // A public one Bob may read but not change.
    body["privacy"] = json!("public");
    let public = app.logged(&ann, &body).await;
    let id = public["id"].as_str().unwrap();
    assert_eq!(app.workout(&bob, id).await.status(), StatusCode::OK);
    problem(
        app.patch(&bob, id, &json!({"title": "mine"})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(app.delete(&bob, id).await, StatusCode::FORBIDDEN).await;
    assert_eq!(
        app.workout(&ann, id).await.json::<Value>().await.unwrap()["title"],
        "Strength training"
    );

    problem(app.workout(&ann, "not-an-id").await, StatusCode::NOT_FOUND).await;
    let response = app
        .http
        .get(app.url(&format!("/v1/training/workouts/{id}")))
        .send()
        .await
        .unwrap();
    problem(response, StatusCode::UNAUTHORIZED).await;
}

async fn changes_and_deletion_are_stored_and_announced(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let w = app.logged(&ann, &strength(&squat)).await;
    let id = w["id"].as_str().unwrap();

    let response = app
        .patch(&ann, id, &json!({"title": "Heavy day", "started_at": "2024-05-05T07:00:00Z", "privacy": "public"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["title"], "Heavy day");
    assert_eq!(
        changed["ended_at"], "2024-05-05T08:00:00Z",
        "moving the start keeps the duration"
    );
    assert_eq!(
        changed["exercises"], w["exercises"],
        "absent members are kept"
    );
    assert_eq!(changed["version"], 2);
    assert_eq!(
        app.workout(&ann, id).await.json::<Value>().await.unwrap(),
        changed
    );

    // Replacing the exercises recomputes the volume: 120 × 3 = 360 kg.
    let response = app
        .patch(&ann, id, &json!({"exercises": [{"exercise_id": squat, "sets": [{"weight_kg": 120, "reps": 3}]}]}))
        .await;
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["volume_kg"], 360.0);
    assert_eq!(changed["version"], 3);
    let bad = problem(
        app.patch(&ann, id, &json!({"rpe": 0})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "rpe");

    assert_eq!(app.delete(&ann, id).await.status(), StatusCode::NO_CONTENT);
    problem(app.workout(&ann, id).await, StatusCode::NOT_FOUND).await;
    problem(app.delete(&ann, id).await, StatusCode::NOT_FOUND).await;

    let topics: Vec<String> = app.outbox().await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        topics,
        vec![
            "workout.logged",
            "workout.updated",
            "workout.updated",
            "workout.deleted"
        ]
    );
    let outbox = app.outbox().await;
    assert_eq!(outbox[2].1["data"]["volume_kg"], 360.0);
    assert_eq!(outbox[3].1["data"]["workout_id"], id);
}

async fn a_gpx_run_is_imported_with_its_analysis(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let response = app
        .import(&ann, RUN_GPX, &[("privacy", "private")], Some("gpx-1"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let w: Value = response.json().await.unwrap();
    // The hand-computed numbers of tests/fixtures/make_run_gpx.py.
    assert_eq!(w["owner_id"], ann_id.as_str());
    assert_eq!(w["sport"], "run");
    assert_eq!(w["title"], "Morning run");
    assert_eq!(w["privacy"], "private");
    assert_eq!(w["source"], "gpx");
    assert_eq!(w["started_at"], "2024-05-04T07:00:00Z");
    assert!(close(&w["distance_m"], 2500.0), "{}", w["distance_m"]);
    assert_eq!(w["duration_s"], 780.0);
    assert_eq!(w["moving_time_s"], 720.0);
    assert_eq!(w["elevation_gain_m"], 20.0);
    // 2500 m / 720 s moving = 3.472 m/s.
    assert!(close(&w["avg_speed_mps"], 2500.0 / 720.0));
    // 720 s / 2.5 km = 288 s per km (4:48 /km).
    assert!(close(&w["avg_pace_s_per_km"], 288.0));
    assert_eq!(
        w["track"]["heart_rate_zones_s"],
        Value::Null,
        "no heart rate in this GPX"
    );
    let records: Vec<(&str, &str)> = w["personal_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["kind"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        records,
        vec![("fastest_effort", "1k"), ("longest_distance", "run")]
    );
    let splits = w["track"]["splits_km"].as_array().unwrap();
    let durations: Vec<f64> = splits
        .iter()
        .map(|s| s["duration_s"].as_f64().unwrap().round())
        .collect();
    assert_eq!(durations, vec![300.0, 300.0, 180.0]);
    assert!(close(
        &w["track"]["splits_mile"][0]["duration_s"],
        506.24256
    ));
    assert_eq!(w["track"]["best_efforts"][0]["name"], "1k");
    assert!(close(&w["track"]["best_efforts"][0]["duration_s"], 240.0));
    assert!(!w["track"]["polyline"].as_str().unwrap().is_empty());

    let read: Value = app
        .workout(&ann, w["id"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read, w);
    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].1["data"]["source"], "gpx");
    assert!(close(&outbox[0].1["data"]["distance_m"], 2500.0));

    // A retried upload with the same key stores nothing new.
    let again = app
        .import(&ann, RUN_GPX, &[("privacy", "private")], Some("gpx-1"))
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], w["id"]);
    assert_eq!(app.workout_count().await, 1);
}

async fn a_fit_ride_is_imported(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let response = app.import(&ann, FENIX_FIT, &[], None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let w: Value = response.json().await.unwrap();
    assert_eq!(w["sport"], "ride");
    assert_eq!(w["source"], "fit");
    assert_eq!(w["privacy"], "followers");
    assert_eq!(w["duration_s"], 61.0);
    // The device said 459.52 m.
    assert!(
        (w["distance_m"].as_f64().unwrap() - 459.52).abs() < 4.6,
        "{}",
        w["distance_m"]
    );
    assert_eq!(w["max_heart_rate"], 114);
    // Zones from the 190 bpm default maximum: the ride stayed between 100 and 114
    // bpm, all below 60 % (114 bpm): every second is in zone 1.
    let zones: Vec<f64> = w["track"]["heart_rate_zones_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_f64().unwrap())
        .collect();
    assert_eq!(zones.len(), 5);
    assert_eq!(zones.iter().sum::<f64>(), 61.0, "{zones:?}");
    assert_eq!(zones[0], 61.0, "{zones:?}");
}

async fn bad_files_are_refused_by_name_and_store_nothing(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let cut = &RUN_GPX[..RUN_GPX.len() / 2];
    let bad = problem(
        app.import(&ann, cut, &[], None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "file");
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("the GPX file cannot be read"),
        "{bad}"
    );

    let cut = &FENIX_FIT[..FENIX_FIT.len() - 100];
    let bad = problem(
        app.import(&ann, cut, &[], None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("the FIT file cannot be read"),
        "{bad}"
    );

    let bad = problem(
        app.import(&ann, b"%PDF-1.4", &[], None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad["detail"]
            .as_str()
            .unwrap()
            .contains("neither GPX nor FIT"),
        "{bad}"
    );

    let untimed = br#"<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg><trkpt lat="45" lon="10"/><trkpt lat="45.01" lon="10"/></trkseg></trk></gpx>"#;
    let bad = problem(
        app.import(&ann, untimed, &[], None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert!(
        bad["detail"].as_str().unwrap().contains("no times"),
        "{bad}"
    );

    let bad = problem(
        app.import(&ann, RUN_GPX, &[("privacy", "secret")], None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "privacy");

    let form = reqwest::multipart::Form::new().text("privacy", "public");
    let response = app
        .http
        .post(app.url("/v1/training/workouts/import"))
        .bearer_auth(&ann)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let bad = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(bad["errors"][0]["field"], "file");

    assert_eq!(app.workout_count().await, 0);
    assert!(app.outbox().await.is_empty());
}

async fn the_workout_list_is_mine_newest_first(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let run = |day: &str| json!({"sport": "run", "started_at": format!("{day}T07:00:00Z"), "duration_s": 1800, "distance_m": 5000, "privacy": "public"});
    let mut ids = Vec::new();
    for day in ["2024-05-02", "2024-05-04", "2024-05-03"] {
        ids.push(
            app.logged(&ann, &run(day)).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    app.logged(&bob, &run("2024-05-05")).await;
    let list = |query: String| {
        let app = &app;
        let ann = ann.clone();
        async move {
            let response = app
                .http
                .get(app.url(&format!("/v1/training/workouts{query}")))
                .bearer_auth(&ann)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let page = list("?limit=2".into()).await;
    let got: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        vec![ids[1].as_str(), ids[2].as_str()],
        "4 May, then 3 May"
    );
    // The first run was the longest so far (5 km), later ones only matched it.
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = list(format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["id"], ids[0].as_str());
    assert_eq!(
        rest["items"][0]["personal_records"][0]["kind"],
        "longest_distance"
    );
    assert!(
        page["items"][0]["personal_records"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a tie is not a record"
    );
    assert_eq!(rest["next_cursor"], Value::Null);
    problem(
        app.http
            .get(app.url("/v1/training/workouts?cursor=x"))
            .bearer_auth(&ann)
            .send()
            .await
            .unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

/// `x` to the gram.
fn g(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The `(kind, value, previous)` of each record flag of workout `id`, to the gram.
async fn flags_of(app: &TestApp, token: &str, id: &str) -> Vec<(String, f64, Option<f64>)> {
    let w = app
        .get_json(token, &format!("/v1/training/workouts/{id}"))
        .await;
    w["personal_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_owned(),
                g(r["value"].as_f64().unwrap()),
                r["previous"].as_f64().map(g),
            )
        })
        .collect()
}

async fn record_flags_follow_edits_and_deletions(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let lift = |day: u32, kg: f64, reps: u32| {
        json!({"sport": "strength", "started_at": format!("2024-05-{day:02}T07:00:00Z"), "duration_s": 3600,
               "exercises": [{"exercise_id": squat, "sets": [{"weight_kg": kg, "reps": reps}]}]})
    };
    let id = |w: Value| w["id"].as_str().unwrap().to_owned();
    let first = id(app.logged(&ann, &lift(1, 100.0, 5)).await);
    let second = id(app.logged(&ann, &lift(2, 110.0, 5)).await);
    let third = id(app.logged(&ann, &lift(3, 105.0, 5)).await);
    let s = |k: &str| k.to_owned();
    // Epley e1RM: 100×5 = 116.67, 110×5 = 128.33; volume 500, 550, 525.
    let e1 = |kg: f64| g(kg * (1.0 + 5.0 / 30.0));
    assert_eq!(
        flags_of(&app, &ann, &second).await,
        vec![
            (s("max_weight"), 110.0, Some(100.0)),
            (s("best_e1rm"), e1(110.0), Some(e1(100.0))),
            (s("max_session_volume"), 550.0, Some(500.0)),
        ]
    );
    assert_eq!(flags_of(&app, &ann, &third).await, vec![]);

    // Deleting the record holder moves its records to the next best after it:
    // day 3 (105 kg) now beats day 1 (100 kg).
    let response = app.delete(&ann, &second).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        flags_of(&app, &ann, &third).await,
        vec![
            (s("max_weight"), 105.0, Some(100.0)),
            (s("best_e1rm"), e1(105.0), Some(e1(100.0))),
            (s("max_session_volume"), 525.0, Some(500.0)),
        ]
    );
    // The deletion's event names the workout the records moved to.
    let outbox = app.outbox().await;
    let (topic, event) = outbox.last().unwrap();
    assert_eq!(topic, "workout.deleted");
    let moved = event["data"]["records_moved"].as_array().unwrap();
    assert_eq!(moved.len(), 1, "{event}");
    assert_eq!(moved[0]["workout_id"], third.as_str());
    assert_eq!(moved[0]["personal_records"][0]["value"], 105.0);

    // Editing the first workout up to 120 kg takes day 3's records away, and the
    // answer of the edit carries the first workout's new flags.
    let response = app
        .patch(
            &ann,
            &first,
            &json!({"exercises": [{"exercise_id": squat, "sets": [{"weight_kg": 120, "reps": 5}]}]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let edited: Value = response.json().await.unwrap();
    assert_eq!(edited["personal_records"][0]["value"], 120.0);
    assert_eq!(flags_of(&app, &ann, &third).await, vec![]);
    assert_eq!(
        flags_of(&app, &ann, &first).await[0],
        (s("max_weight"), 120.0, None)
    );
    // The list shows the same stored flags.
    let list = app.get_json(&ann, "/v1/training/workouts").await;
    let listed: Vec<usize> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["personal_records"].as_array().unwrap().len())
        .collect();
    assert_eq!(listed, vec![0, 3], "newest (day 3) first");
    // The update event carries them too.
    let outbox = app.outbox().await;
    let (topic, event) = outbox.last().unwrap();
    assert_eq!(topic, "workout.updated");
    assert_eq!(event["data"]["personal_records"][0]["value"], 120.0);
    // …and names day 3, which lost its records to it.
    assert_eq!(
        event["data"]["records_moved"],
        json!([{"workout_id": third, "personal_records": []}])
    );
}

on_both_backends!(
    record_flags_follow_edits_and_deletions,
    the_workout_list_is_mine_newest_first,
    a_strength_workout_is_logged_read_and_announced,
    a_retry_with_the_same_key_logs_once,
    invalid_workouts_name_every_field_and_store_nothing,
    a_private_workout_is_its_owners_only,
    changes_and_deletion_are_stored_and_announced,
    a_gpx_run_is_imported_with_its_analysis,
    a_fit_ride_is_imported,
    bad_files_are_refused_by_name_and_store_nothing,
);
