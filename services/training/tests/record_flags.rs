//! Personal-record flags under concurrent writes of one user's workouts,
//! through HTTP: whatever order the writes land in, the stored flags, what the
//! API shows and what the `workout.*` events told consumers equal a judgement
//! of the final history made afresh.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{json, Value};
use vigor_common::Id;
use vigor_training::store::{SqlStore, TrainingStore};

/// The flags of `owner`'s workouts judged afresh from the stored history, as
/// JSON by workout id.
async fn fresh_flags(app: &TestApp, owner: Id) -> BTreeMap<String, Value> {
    let store = SqlStore::new(app.db().database.clone());
    let history = store.history(owner).await.unwrap();
    history
        .flags()
        .into_iter()
        .map(|(id, records)| (id.to_string(), serde_json::to_value(records).unwrap()))
        .collect()
}

/// The flags a consumer holds after applying every `workout.*` event in the
/// outbox in order: each event's own records and its `records_moved`.
async fn flags_told(app: &TestApp) -> BTreeMap<String, Value> {
    let mut held = BTreeMap::new();
    for (topic, event) in app.outbox().await {
        let data = &event["data"];
        let id = data["workout_id"].as_str().unwrap().to_owned();
        if topic == "workout.deleted" {
            held.remove(&id);
        } else {
            held.insert(id, data["personal_records"].clone());
        }
        for moved in data["records_moved"].as_array().unwrap() {
            held.insert(
                moved["workout_id"].as_str().unwrap().to_owned(),
                moved["personal_records"].clone(),
            );
        }
    }
    held
}

async fn concurrent_writes_leave_the_flags_of_the_final_history(app: TestApp) {
    let app = Arc::new(app);
    let (ann_id, ann) = app.user("ann").await;
    let owner: Id = ann_id.parse().unwrap();
    let squat = app.exercise_id(&ann, "squats").await;
    let lift = |hour: u32, kg: f64| {
        json!({"sport": "strength",
               "started_at": format!("2024-05-{:02}T{:02}:00:00Z", 1 + hour / 24, hour % 24),
               "duration_s": 1800,
               "exercises": [{"exercise_id": squat, "sets": [{"weight_kg": kg, "reps": 5}]}]})
    };
    // Six workouts to change while new ones come in, lighter as they go.
    let mut early = Vec::new();
    for i in 0..6 {
        let w = app
            .logged(&ann, &lift(6 * i + 1, 150.0 - f64::from(i)))
            .await;
        early.push(w["id"].as_str().unwrap().to_owned());
    }

    // All at once: 20 new workouts with rising loads, three deletions and three
    // edits up to loads above everything.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let (app, ann, body) = (
            app.clone(),
            ann.clone(),
            lift(2 * i, 100.0 + 5.0 * f64::from(i)),
        );
        tasks.spawn(async move {
            (
                app.log(&ann, &body, None).await.status(),
                StatusCode::CREATED,
            )
        });
    }
    for (i, id) in early.into_iter().enumerate() {
        let (app, ann) = (app.clone(), ann.clone());
        let heavier = json!({"exercises": [{"exercise_id": squat,
                             "sets": [{"weight_kg": 300.0 - i as f64, "reps": 5}]}]});
        tasks.spawn(async move {
            if i % 2 == 0 {
                (app.delete(&ann, &id).await.status(), StatusCode::NO_CONTENT)
            } else {
                (
                    app.patch(&ann, &id, &heavier).await.status(),
                    StatusCode::OK,
                )
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (status, expected) = done.unwrap();
        assert_eq!(status, expected);
    }

    let fresh = fresh_flags(&app, owner).await;
    assert_eq!(fresh.len(), 23, "20 new and 3 edited workouts");
    // Stored: every workout has its flags, exactly those of the final history.
    let stored: BTreeMap<String, Value> = SqlStore::new(app.db().database.clone())
        .record_flags_of(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, records)| (id.to_string(), serde_json::to_value(records).unwrap()))
        .collect();
    assert_eq!(stored, fresh, "stored flags");
    // Shown: the list answers the same.
    let list = app.get_json(&ann, "/v1/training/workouts?limit=100").await;
    let shown: BTreeMap<String, Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["id"].as_str().unwrap().to_owned(),
                w["personal_records"].clone(),
            )
        })
        .collect();
    assert_eq!(shown, fresh, "flags the API shows");
    // Told: the events, applied in order, leave a consumer with the same.
    assert_eq!(flags_told(&app).await, fresh, "flags the events told");
}

on_both_backends!(concurrent_writes_leave_the_flags_of_the_final_history);
