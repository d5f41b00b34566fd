//! The exercise catalogue through HTTP: search, paging, custom exercises.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{problem, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn the_catalogue_is_searchable_by_name_muscle_and_equipment(app: TestApp) {
    let (_, token) = app.user("ann").await;
    let response = app.exercises(&token, &[("q", "bench press")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        let name = item["name"].as_str().unwrap().to_lowercase();
        assert!(name.contains("bench") && name.contains("press"), "{name}");
        assert_eq!(item["owner_id"], Value::Null);
        assert!(
            item["source"]["license"]
                .as_str()
                .unwrap()
                .starts_with("CC"),
            "{item}"
        );
    }

    let body: Value = app
        .exercises(
            &token,
            &[
                ("muscle", "chest"),
                ("equipment", "barbell"),
                ("limit", "100"),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        let muscles: Vec<&Value> = item["primary_muscles"]
            .as_array()
            .unwrap()
            .iter()
            .chain(item["secondary_muscles"].as_array().unwrap())
            .collect();
        assert!(muscles.contains(&&json!("chest")), "{item}");
        assert!(
            item["equipment"]
                .as_array()
                .unwrap()
                .contains(&json!("barbell")),
            "{item}"
        );
    }

    let bad = problem(
        app.exercises(&token, &[("muscle", "wings")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "muscle");
    let bad = problem(
        app.exercises(&token, &[("limit", "0")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "limit");
    problem(
        app.exercises(&token, &[("cursor", "abc")]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

async fn cursors_of_other_lists_or_edited_ones_are_refused(app: TestApp) {
    let (_, token) = app.user("ann").await;
    let body: Value = app
        .exercises(&token, &[("limit", "2")])
        .await
        .json()
        .await
        .unwrap();
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let first_id = body["items"][0]["id"].as_str().unwrap().to_owned();
    // The search's own cursor works; the same cursor on the workout list, a
    // bare id (the old cursor format) and an edited cursor are refused.
    let next = app
        .exercises(&token, &[("limit", "2"), ("cursor", &cursor)])
        .await;
    assert_eq!(next.status(), StatusCode::OK);
    let mut edited = cursor.clone().into_bytes();
    let at = edited.len() / 2;
    edited[at] = if edited[at] == b'A' { b'B' } else { b'A' };
    let edited = String::from_utf8(edited).unwrap();
    for bad in [&first_id, &edited] {
        let refused = problem(
            app.exercises(&token, &[("cursor", bad)]).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(refused["errors"][0]["field"], "cursor", "{bad}");
    }
    let foreign = app
        .http
        .get(app.url("/v1/training/workouts"))
        .query(&[("cursor", &cursor)])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let refused = problem(foreign, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(refused["errors"][0]["field"], "cursor");
}

async fn pages_walk_the_whole_catalogue(app: TestApp) {
    let (_, token) = app.user("ann").await;
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "100")];
        if let Some(c) = cursor.as_deref() {
            query.push(("cursor", c));
        }
        let body: Value = app.exercises(&token, &query).await.json().await.unwrap();
        ids.extend(
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(
        ids.len() >= 150,
        "the catalogue has {} exercises",
        ids.len()
    );
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "no exercise twice across pages");
}

async fn custom_exercises_are_their_owners_only(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (_, bob) = app.user("bob").await;
    let body = json!({
        "name": "Zercher Squat",
        "primary_muscles": ["quads"],
        "secondary_muscles": ["glutes", "quads", "abs"],
        "equipment": ["barbell"],
    });
    let response = app.create_exercise(&ann, &body, Some("zercher-1")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["owner_id"], ann_id.as_str());
    assert_eq!(
        created["secondary_muscles"],
        json!(["abs", "glutes"]),
        "primary ones are not repeated"
    );
    assert_eq!(created["mechanics"], "compound");
    let id = created["id"].as_str().unwrap();

    // A retry with the same key gets the same exercise.
    let again = app.create_exercise(&ann, &body, Some("zercher-1")).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], id);

    assert_eq!(app.exercise(&ann, id).await.status(), StatusCode::OK);
    problem(app.exercise(&bob, id).await, StatusCode::NOT_FOUND).await;
    let mine: Value = app
        .exercises(&ann, &[("q", "zercher")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let theirs: Value = app
        .exercises(&bob, &[("q", "zercher")])
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs["items"].as_array().unwrap().is_empty());

    let bad = problem(
        app.create_exercise(&ann, &json!({"name": " ", "equipment": ["spoon"]}), None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["equipment", "name"]);
}

async fn a_request_without_a_token_is_refused(app: TestApp) {
    let response = app
        .http
        .get(app.url("/v1/training/exercises"))
        .send()
        .await
        .unwrap();
    let body = problem(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["status"], 401);
    let response = app
        .http
        .get(app.url("/v1/training/exercises"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

on_both_backends!(
    the_catalogue_is_searchable_by_name_muscle_and_equipment,
    pages_walk_the_whole_catalogue,
    cursors_of_other_lists_or_edited_ones_are_refused,
    custom_exercises_are_their_owners_only,
    a_request_without_a_token_is_refused,
);
