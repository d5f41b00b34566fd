//! The athlete's settings (`/v1/training/me/settings`) and what they change:
//! heart-rate zones of imports and TRIMP loads in stats.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{problem, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FENIX_FIT: &[u8] = include_bytes!("fixtures/garmin-fenix-5-bike.fit");

async fn put(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.call(Method::PUT, token, "/v1/training/me/settings", Some(&body))
        .await
}

async fn zones(app: &TestApp, token: &str) -> Vec<f64> {
    let response = app.import(token, FENIX_FIT, &[], None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let w: Value = response.json().await.unwrap();
    w["track"]["heart_rate_zones_s"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z.as_f64().unwrap())
        .collect()
}

async fn settings_are_validated_saved_and_per_user(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let unset = app.get_json(&ann, "/v1/training/me/settings").await;
    assert_eq!(
        unset,
        json!({"max_hr": null, "resting_hr": null, "effective_max_hr": 190, "effective_resting_hr": 60})
    );
    let body = problem(
        put(&app, &ann, json!({"max_hr": 99, "resting_hr": 130})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["max_hr", "resting_hr"]);
    problem(
        put(&app, &ann, json!({"max_hr": 150, "resting_hr": 150})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let response = put(&app, &ann, json!({"max_hr": 182, "resting_hr": 48})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let saved = app.get_json(&ann, "/v1/training/me/settings").await;
    assert_eq!(
        saved,
        json!({"max_hr": 182, "resting_hr": 48, "effective_max_hr": 182, "effective_resting_hr": 48})
    );
    // Unsetting one falls back to its default.
    let response = put(&app, &ann, json!({"max_hr": null, "resting_hr": 48})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.get_json(&ann, "/v1/training/me/settings").await["effective_max_hr"],
        190
    );
    assert_eq!(app.get_json(&bob, "/v1/training/me/settings").await, unset);
    assert_eq!(
        app.get_json(&ann, "/v1/training/me/export").await["settings"]["resting_hr"],
        48
    );
}

async fn zones_follow_the_athletes_maximum_heart_rate(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    // Default maximum 190: the ride's 61 s (at most 114 bpm, below 60 % = 114)
    // are all in zone 1.
    let default = zones(&app, &ann).await;
    assert_eq!(default, vec![61.0, 0.0, 0.0, 0.0, 0.0]);
    // Maximum 120: zone 5 starts at 108 bpm, zone 2 at 72: time moves up.
    assert_eq!(
        put(&app, &ann, json!({"max_hr": 120})).await.status(),
        StatusCode::OK
    );
    let own = zones(&app, &ann).await;
    assert_eq!(own.iter().sum::<f64>(), 61.0, "{own:?}");
    assert!(own[0] < 61.0, "{own:?}");
    assert!(own[4] > 0.0, "{own:?}");
    // Back to the default: as at first.
    put(&app, &ann, json!({"max_hr": null})).await;
    assert_eq!(zones(&app, &ann).await, default);
}

async fn trimp_loads_follow_the_athletes_heart_rates(app: TestApp) {
    let (_, ann) = app.user("ann").await;
    // An unrated hour at 150 bpm: its load is TRIMP from the average heart rate.
    app.logged(
        &ann,
        &json!({"sport": "run", "started_at": "2024-05-06T07:00:00Z", "duration_s": 3600,
                "avg_heart_rate": 150}),
    )
    .await;
    let load = |s: Value| s["series"][0]["load"].as_f64().unwrap();
    let path = "/v1/training/stats?from=2024-05-06&to=2024-05-06&bucket=day";
    // Defaults 60/190: x = 90/130 = 0.6923; 60 × x × 0.64 e^(1.92 x) = 100.44.
    let default = load(app.get_json(&ann, path).await);
    assert!((default - 100.44).abs() < 0.01, "{default}");
    // Own 50/170: x = 100/120 = 0.8333; 60 × x × 0.64 e^(1.92 x) = 158.50.
    put(&app, &ann, json!({"max_hr": 170, "resting_hr": 50})).await;
    let own = load(app.get_json(&ann, path).await);
    assert!((own - 158.50).abs() < 0.01, "{own}");
}

on_both_backends!(
    settings_are_validated_saved_and_per_user,
    zones_follow_the_athletes_maximum_heart_rate,
    trimp_loads_follow_the_athletes_heart_rates,
);
