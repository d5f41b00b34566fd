//! Records and statistics through HTTP, from workouts logged and imported through
//! HTTP; and stats over a year of daily workouts.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{problem, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use vigor_common::Id;

const RUN_GPX: &[u8] = include_bytes!("fixtures/run-2500m.gpx");

fn lift(exercise: &str, day: &str, weight: f64, reps: u16) -> Value {
    json!({
        "sport": "strength",
        "started_at": format!("{day}T07:00:00Z"),
        "duration_s": 3600,
        "rpe": 7,
        "exercises": [{"exercise_id": exercise, "sets": [
            {"set_type": "warm_up", "weight_kg": 60, "reps": 10},
            {"weight_kg": weight, "reps": reps},
        ]}]
    })
}

async fn get(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn records_come_from_what_was_logged(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let first = app
        .logged(&ann, &lift(&squat, "2024-05-06", 100.0, 5))
        .await;
    let second = app
        .logged(&ann, &lift(&squat, "2024-05-08", 110.0, 3))
        .await;
    let run = app
        .import(&ann, RUN_GPX, &[], None)
        .await
        .json::<Value>()
        .await
        .unwrap();
    // Bob's heavier lift is not Ann's record.
    app.logged(&bob, &lift(&squat, "2024-05-07", 200.0, 1))
        .await;

    let response = get(&app, &ann, "/v1/training/records", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let r: Value = response.json().await.unwrap();
    assert_eq!(r["formula"], "epley");
    let ex = &r["exercises"][0];
    assert_eq!(ex["exercise_id"], squat.as_str());
    assert_eq!(ex["max_weight"]["value"], 110.0);
    assert_eq!(ex["max_weight"]["workout_id"], second["id"]);
    // Epley: 100×5 → 116.67; 110×3 → 121. The warm-ups never count.
    assert!((ex["best_e1rm"]["value_kg"].as_f64().unwrap() - 121.0).abs() < 1e-9);
    assert_eq!(ex["max_session_volume"]["value"], 500.0);
    assert_eq!(ex["max_session_volume"]["workout_id"], first["id"]);
    assert_eq!(r["efforts"][0]["name"], "1k");
    assert!((r["efforts"][0]["duration_s"].as_f64().unwrap() - 240.0).abs() < 0.01);
    assert_eq!(r["efforts"][0]["workout_id"], run["id"]);
    assert_eq!(r["longest"][0]["sport"], "run");

    let r: Value = get(
        &app,
        &ann,
        "/v1/training/records",
        &[("formula", "brzycki")],
    )
    .await
    .json()
    .await
    .unwrap();
    // Brzycki: 100×5 → 112.5; 110×3 → 110 × 36/34 = 116.47.
    assert!(
        (r["exercises"][0]["best_e1rm"]["value_kg"].as_f64().unwrap() - 116.470_588).abs() < 1e-3
    );
    assert_eq!(r["exercises"][0]["best_e1rm"]["formula"], "brzycki");
    problem(
        get(&app, &ann, "/v1/training/records", &[("formula", "guess")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn stats_are_weekly_series_with_the_acwr(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    app.logged(&ann, &lift(&squat, "2024-05-06", 100.0, 5))
        .await;
    app.logged(&ann, &lift(&squat, "2024-05-08", 110.0, 3))
        .await;
    app.import(&ann, RUN_GPX, &[], None).await; // 2024-05-04, a Saturday

    let query = [
        ("from", "2024-04-29"),
        ("to", "2024-05-12"),
        ("bucket", "week"),
    ];
    let response = get(&app, &ann, "/v1/training/stats", &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let s: Value = response.json().await.unwrap();
    let series = s["series"].as_array().unwrap();
    assert_eq!(series.len(), 2);
    // Week of 29 April: the 2.5 km run, unrated and without heart rate (load 0).
    assert_eq!(series[0]["start"], "2024-04-29");
    assert_eq!(series[0]["sessions"], 1);
    assert!((series[0]["distance_m_by_sport"]["run"].as_f64().unwrap() - 2500.0).abs() < 0.01);
    // Week of 6 May: two lifts, 500 + 330 kg, each 60 min at RPE 7 = 420 AU.
    assert_eq!(series[1]["sessions"], 2);
    assert_eq!(series[1]["volume_kg"], 830.0);
    assert_eq!(series[1]["load"], 840.0);
    // Daily ACWR over the 14 days; on 8 May: acute = 840 / 7 = 120,
    // chronic = 840 / 28 = 30, ratio 4.
    let acwr = s["acwr"].as_array().unwrap();
    assert_eq!(acwr.len(), 14);
    let may8 = acwr.iter().find(|p| p["date"] == "2024-05-08").unwrap();
    assert_eq!(
        (may8["acute"].as_f64(), may8["chronic"].as_f64()),
        (Some(120.0), Some(30.0))
    );
    assert_eq!(may8["ratio"], 4.0);
    assert_eq!(acwr[0]["ratio"], Value::Null);

    let bad = [("from", "2024-05-12"), ("to", "2024-05-01")];
    problem(
        get(&app, &ann, "/v1/training/stats", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let bad = [("from", "2020-01-01"), ("to", "2024-05-01")];
    problem(
        get(&app, &ann, "/v1/training/stats", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let bad = [("from", "yesterday")];
    problem(
        get(&app, &ann, "/v1/training/stats", &bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

/// Stats over a year of daily workouts (their speed is measured by
/// `benches/stats.rs`).
async fn a_year_of_daily_workouts_gives_a_year_of_stats(app: TestApp) {
    let (user_id, ann) = app.user("ann").await;
    let owner: Id = user_id.parse().unwrap();
    let squat: Id = app.exercise_id(&ann, "squats").await.parse().unwrap();
    app.seed_daily_year(owner, squat).await;
    let query = [
        ("from", "2023-01-01"),
        ("to", "2023-12-31"),
        ("bucket", "week"),
    ];
    // Its speed is a benchmark's business (BENCHMARKS.md), not a test's.
    let response = get(&app, &ann, "/v1/training/stats", &query).await;
    assert_eq!(response.status(), StatusCode::OK);
    let s: Value = response.json().await.unwrap();
    let sessions: u64 = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sessions"].as_u64().unwrap())
        .sum();
    assert_eq!(sessions, 365);
    assert_eq!(s["acwr"].as_array().unwrap().len(), 365);
    // Every day 45 min at RPE 6 = 270 AU: a steady load has a ratio of 1.
    assert_eq!(s["acwr"][364]["ratio"], 1.0);
}

async fn recommendations_explain_deloads_and_next_targets(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let plan = json!({
        "name": "Linear",
        "days": [{"name": "A", "exercises": [{
            "exercise_id": squat,
            "prescriptions": [{"sets": 3, "reps": {"min": 5}}],
            "progression": {"type": "linear", "increment_kg": 2.5}
        }]}]
    });
    let response = app
        .http
        .post(app.url("/v1/training/plans"))
        .bearer_auth(&ann)
        .json(&plan)
        .send()
        .await
        .unwrap();
    let plan_id = response.json::<Value>().await.unwrap()["id"].clone();

    // Nothing logged: nothing to say but that any start is good.
    let r: Value = get(&app, &ann, "/v1/training/recommendations", &[])
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["train_today"]);
    assert!(r["items"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no sets were logged"));

    // Three hard days in a row from nothing (60 min at RPE 10 = 600 AU each), the
    // last with 3×5 at 100 kg. On each day the ratio is far above 1.5 (today:
    // acute 1800 / 7 = 257.1, chronic 1800 / 28 = 64.3, ratio 4).
    let today = chrono::Utc::now().date_naive();
    for back in (0..3).rev() {
        let day = today - chrono::Days::new(back);
        let body = json!({
            "sport": "strength",
            "started_at": format!("{day}T00:00:01Z"),
            "duration_s": 3600,
            "rpe": 10,
            "exercises": [{"exercise_id": squat, "sets": [
                {"weight_kg": 100, "reps": 5}, {"weight_kg": 100, "reps": 5}, {"weight_kg": 100, "reps": 5}
            ]}]
        });
        app.logged(&ann, &body).await;
    }
    let response = get(&app, &ann, "/v1/training/recommendations", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let r: Value = response.json().await.unwrap();
    let items = r["items"].as_array().unwrap();
    let deload = items.iter().find(|i| i["kind"] == "deload").unwrap();
    assert!(
        (deload["numbers"]["acwr"].as_f64().unwrap() - 4.0).abs() < 1e-9,
        "{deload}"
    );
    assert!(
        deload["reason"].as_str().unwrap().contains("above 1.5"),
        "{deload}"
    );
    let next = items.iter().find(|i| i["kind"] == "next_target").unwrap();
    assert_eq!(next["plan_id"], plan_id);
    assert_eq!(next["exercise_id"], squat.as_str());
    assert_eq!(next["target"]["weight_kg"], 102.5);
    assert_eq!(next["target"]["action"], "increase");
    assert!(
        next["reason"]
            .as_str()
            .unwrap()
            .contains("+2.5 kg to 102.5 kg"),
        "{next}"
    );

    let (_, bob) = app.user("bob").await;
    let plan_id = plan_id.as_str().unwrap();
    let other = get(
        &app,
        &bob,
        "/v1/training/recommendations",
        &[("plan_id", plan_id)],
    )
    .await;
    problem(other, StatusCode::NOT_FOUND).await;
}

/// Exercise `id` as the catalogue has it, and its first primary muscle.
async fn exercise_and_muscle(app: &TestApp, token: &str, id: &str) -> (Value, String) {
    let info: Value = app.exercise(token, id).await.json().await.unwrap();
    let muscle = info["primary_muscles"][0].as_str().unwrap().to_owned();
    (info, muscle)
}

async fn what_to_train_today_follows_the_schedule_then_the_muscles(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let (squat_info, quads) = exercise_and_muscle(&app, &ann, &squat).await;
    // Four hard squat sets yesterday.
    let yesterday = chrono::Utc::now().date_naive() - chrono::Days::new(1);
    app.logged(
        &ann,
        &json!({"sport": "strength", "started_at": format!("{yesterday}T12:00:00Z"), "duration_s": 3600,
                "exercises": [{"exercise_id": squat, "sets": [
                    {"weight_kg": 100, "reps": 5}, {"weight_kg": 100, "reps": 5},
                    {"weight_kg": 100, "reps": 5}, {"weight_kg": 100, "reps": 5},
                    {"weight_kg": 60, "reps": 5, "set_type": "warm_up"}]}]}),
    )
    .await;
    let today_item = |r: Value| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "train_today")
            .cloned()
            .unwrap()
    };
    let r = today_item(app.get_json(&ann, "/v1/training/recommendations").await);
    let reason = r["reason"].as_str().unwrap();
    assert!(reason.contains("nothing is scheduled today"), "{reason}");
    assert!(
        reason.contains(&format!("against 4 sets for {quads}")),
        "{reason}"
    );
    assert_eq!(r["numbers"][format!("sets_{quads}")], 4.0);
    assert_eq!(r["numbers"]["window_days"], 7.0);
    assert!(
        !reason.contains(&format!("{quads} (")),
        "quads are not suggested: {reason}"
    );

    // Bodyweight sets count too: six sets of pull-ups, no load, outweigh the squats.
    let pull_up = app.exercise_id(&ann, "pull-ups").await;
    let (_, back) = exercise_and_muscle(&app, &ann, &pull_up).await;
    assert_ne!(back, quads);
    app.logged(
        &ann,
        &json!({"sport": "strength", "started_at": format!("{yesterday}T18:00:00Z"), "duration_s": 1800,
                "exercises": [{"exercise_id": pull_up, "sets": [
                    {"reps": 8}, {"reps": 8}, {"reps": 7}, {"reps": 6}, {"reps": 6}, {"reps": 5}]}]}),
    )
    .await;
    let r = today_item(app.get_json(&ann, "/v1/training/recommendations").await);
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("against 6 sets for {back}")),
        "{reason}"
    );
    assert_eq!(r["numbers"][format!("sets_{back}")], 6.0);

    // A plan scheduled on every day: today's session is the advice.
    let plan = json!({"name": "Daily", "days": [{"name": "Legs", "exercises": [
        {"exercise_id": squat, "prescriptions": [{"sets": 3, "reps": {"min": 5}}]}]}]});
    let created: Value = app
        .call(
            reqwest::Method::POST,
            &ann,
            "/v1/training/plans",
            Some(&plan),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let schedule = json!({"start_date": "2024-01-01", "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "time_zone": "UTC"});
    let response = app
        .call(
            reqwest::Method::POST,
            &ann,
            &format!("/v1/training/plans/{id}/schedule"),
            Some(&schedule),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let r = today_item(app.get_json(&ann, "/v1/training/recommendations").await);
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("today is day \"Legs\" of your plan \"Daily\""),
        "{reason}"
    );
    assert!(
        reason.contains(squat_info["name"].as_str().unwrap()),
        "{reason}"
    );
    assert_eq!(r["plan_id"], id);
    assert_eq!(r["numbers"]["exercises"], 1.0);
}

async fn progress_is_a_point_per_workout_of_the_exercise(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let bench = app.exercise_id(&ann, "bench press").await;
    let second = app
        .logged(&ann, &lift(&squat, "2024-05-08", 110.0, 3))
        .await;
    let first = app
        .logged(&ann, &lift(&squat, "2024-05-06", 100.0, 5))
        .await;
    app.logged(&ann, &lift(&bench, "2024-05-07", 80.0, 5)).await;
    app.logged(&bob, &lift(&squat, "2024-05-07", 200.0, 1))
        .await;

    let path = format!("/v1/training/exercises/{squat}/progress");
    let response = get(&app, &ann, &path, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let p: Value = response.json().await.unwrap();
    assert_eq!(p["exercise_id"], squat.as_str());
    assert_eq!(p["formula"], "epley");
    // Ann's two squat workouts, oldest first; the warm-ups never count, Bob's
    // heavier single and Ann's bench are not here.
    let points = p["points"].as_array().unwrap();
    assert_eq!(points.len(), 2, "{p}");
    assert_eq!(points[0]["workout_id"], first["id"]);
    assert_eq!(points[1]["workout_id"], second["id"]);
    // Epley: 100×5 → 116.67; 110×3 → 121.
    assert!((points[0]["best_e1rm_kg"].as_f64().unwrap() - 116.666_666).abs() < 1e-3);
    assert!((points[1]["best_e1rm_kg"].as_f64().unwrap() - 121.0).abs() < 1e-9);
    assert_eq!(points[1]["e1rm_weight_kg"], 110.0);
    assert_eq!(points[1]["e1rm_reps"], 3);
    assert_eq!(points[0]["volume_kg"], 500.0);
    assert_eq!(points[0]["sets"], 1);

    let p: Value = get(&app, &ann, &path, &[("formula", "brzycki")])
        .await
        .json()
        .await
        .unwrap();
    // Brzycki: 110×3 → 110 × 36/34 = 116.47.
    assert!((p["points"][1]["best_e1rm_kg"].as_f64().unwrap() - 116.470_588).abs() < 1e-3);
    problem(
        get(&app, &ann, &path, &[("formula", "guess")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        get(&app, &ann, "/v1/training/exercises/12345/progress", &[]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Bob is not Ann's coach: her progress is not his to see.
    problem(
        get(
            &app,
            &bob,
            &format!("/v1/training/athletes/{ann_id}/exercises/{squat}/progress"),
            &[],
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

on_both_backends!(
    progress_is_a_point_per_workout_of_the_exercise,
    what_to_train_today_follows_the_schedule_then_the_muscles,
    recommendations_explain_deloads_and_next_targets,
    records_come_from_what_was_logged,
    stats_are_weekly_series_with_the_acwr,
    a_year_of_daily_workouts_gives_a_year_of_stats,
);
