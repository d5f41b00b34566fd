//! Coaching through HTTP: invitations, answers, ending, and what an accepted
//! coach may see and do — and that nobody else may (404, never 403, so neither
//! the workout nor the relationship leaks).

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{problem, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn invite(app: &TestApp, coach: &str, athlete_id: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        coach,
        "/v1/training/coaching/athletes",
        Some(&json!({"athlete_id": athlete_id})),
    )
    .await
}

/// Invites and returns the relationship's id.
async fn invited(app: &TestApp, coach: &str, athlete_id: &str) -> String {
    let response = invite(app, coach, athlete_id).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let link: Value = response.json().await.unwrap();
    assert_eq!(link["status"], "pending");
    link["id"].as_str().unwrap().to_owned()
}

async fn act(app: &TestApp, token: &str, link: &str, what: &str) -> reqwest::Response {
    let (method, path) = match what {
        "end" => (Method::DELETE, format!("/v1/training/coaching/{link}")),
        other => (
            Method::POST,
            format!("/v1/training/coaching/{link}/{other}"),
        ),
    };
    app.call(method, token, &path, None).await
}

async fn private_workout(app: &TestApp, token: &str) -> String {
    app.logged(
        token,
        &json!({"sport": "run", "privacy": "private", "started_at": "2024-05-04T07:00:00Z",
                "duration_s": 1800, "distance_m": 5000}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What a coach may read of `athlete`: every path answers `status`.
async fn coach_reads(app: &TestApp, coach: &str, athlete: &str, workout: &str, status: StatusCode) {
    for path in [
        format!("/v1/training/workouts/{workout}"),
        format!("/v1/training/athletes/{athlete}/workouts"),
        format!("/v1/training/athletes/{athlete}/records"),
        format!("/v1/training/athletes/{athlete}/stats"),
        format!("/v1/training/athletes/{athlete}/schedule"),
        format!("/v1/training/athletes/{athlete}/plans"),
    ] {
        let response = app.call(Method::GET, coach, &path, None).await;
        assert_eq!(response.status(), status, "GET {path}");
        if status == StatusCode::NOT_FOUND {
            problem(response, status).await;
        }
    }
}

async fn a_private_workout_is_its_owners_and_their_accepted_coachs_only(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (_, coach) = app.coach("cora").await;
    let (_, other_coach) = app.coach("otto").await;
    let (_, stranger) = app.user("sam").await;
    let workout = private_workout(&app, &ann).await;

    // Before any relationship: a coach is a stranger.
    coach_reads(&app, &coach, &ann_id, &workout, StatusCode::NOT_FOUND).await;
    // Pending: still nothing.
    let link = invited(&app, &coach, &ann_id).await;
    coach_reads(&app, &coach, &ann_id, &workout, StatusCode::NOT_FOUND).await;
    // Accepted: the coach reads everything, private workouts included.
    let response = act(&app, &ann, &link, "accept").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "accepted"
    );
    coach_reads(&app, &coach, &ann_id, &workout, StatusCode::OK).await;
    let list = app
        .get_json(&coach, &format!("/v1/training/athletes/{ann_id}/workouts"))
        .await;
    assert_eq!(list["items"][0]["id"], workout.as_str());
    assert_eq!(list["items"][0]["privacy"], "private");
    let records = app
        .get_json(&coach, &format!("/v1/training/athletes/{ann_id}/records"))
        .await;
    assert_eq!(records["longest"][0]["workout_id"], workout.as_str());
    let squat = app.exercise_id(&ann, "squats").await;
    let progress = app
        .get_json(
            &coach,
            &format!("/v1/training/athletes/{ann_id}/exercises/{squat}/progress"),
        )
        .await;
    assert_eq!(progress["exercise_id"], squat.as_str());
    assert_eq!(progress["points"], json!([]));
    // Reading is not changing: the coach may not edit or delete it.
    problem(
        app.patch(&coach, &workout, &json!({"title": "mine now"}))
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    problem(app.delete(&coach, &workout).await, StatusCode::FORBIDDEN).await;
    // Another coach, a non-coach and a stranger see nothing.
    for token in [&other_coach, &stranger] {
        coach_reads(&app, token, &ann_id, &workout, StatusCode::NOT_FOUND).await;
    }
    // Ended (by either side): nothing again.
    let response = act(&app, &ann, &link, "end").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ended");
    coach_reads(&app, &coach, &ann_id, &workout, StatusCode::NOT_FOUND).await;
    // Declined: nothing either.
    let link = invited(&app, &coach, &ann_id).await;
    let response = act(&app, &ann, &link, "decline").await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "declined"
    );
    coach_reads(&app, &coach, &ann_id, &workout, StatusCode::NOT_FOUND).await;
    // The owner still reads it.
    assert_eq!(app.workout(&ann, &workout).await.status(), StatusCode::OK);
}

async fn a_non_coach_with_an_accepted_relationship_sees_nothing(app: TestApp) {
    // The role is checked on every read: a coach who loses it sees nothing, even
    // with an accepted relationship in the store.
    let (ann_id, ann) = app.user("ann").await;
    let (cora_id, cora_email) = app.signup("cora").await;
    app.set_roles(&cora_id, "user coach").await;
    let coach = app.token(&cora_email).await;
    let workout = private_workout(&app, &ann).await;
    let link = invited(&app, &coach, &ann_id).await;
    assert_eq!(
        act(&app, &ann, &link, "accept").await.status(),
        StatusCode::OK
    );
    coach_reads(&app, &coach, &ann_id, &workout, StatusCode::OK).await;
    app.set_roles(&cora_id, "user").await;
    let no_longer = app.token(&cora_email).await;
    coach_reads(&app, &no_longer, &ann_id, &workout, StatusCode::NOT_FOUND).await;
    problem(
        invite(&app, &no_longer, &ann_id).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

async fn invitations_are_answered_by_the_athlete_and_ended_by_either(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (cora_id, coach) = app.coach("cora").await;
    let (_, stranger) = app.user("sam").await;
    // Only one open relationship per pair; not oneself.
    let link = invited(&app, &coach, &ann_id).await;
    problem(invite(&app, &coach, &ann_id).await, StatusCode::CONFLICT).await;
    problem(
        invite(&app, &coach, &cora_id).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // The coach cannot accept for the athlete; a stranger cannot touch it at all.
    problem(
        act(&app, &coach, &link, "accept").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    for what in ["accept", "decline", "end"] {
        problem(
            act(&app, &stranger, &link, what).await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    // Both sides list it.
    for token in [&ann, &coach] {
        let list = app.get_json(token, "/v1/training/coaching").await;
        assert_eq!(list["items"][0]["id"], link.as_str());
        assert_eq!(list["items"][0]["coach_id"], cora_id.as_str());
        assert_eq!(list["items"][0]["athlete_id"], ann_id.as_str());
    }
    assert_eq!(
        app.get_json(&stranger, "/v1/training/coaching").await["items"],
        json!([])
    );
    // The coach withdraws the invitation; it cannot be answered any more.
    assert_eq!(
        act(&app, &coach, &link, "end").await.status(),
        StatusCode::OK
    );
    problem(act(&app, &ann, &link, "accept").await, StatusCode::CONFLICT).await;
    problem(act(&app, &ann, &link, "end").await, StatusCode::CONFLICT).await;
    // A new invitation is a new relationship; accepted, it is ended by the coach.
    let again = invited(&app, &coach, &ann_id).await;
    assert_ne!(again, link);
    assert_eq!(
        act(&app, &ann, &again, "accept").await.status(),
        StatusCode::OK
    );
    problem(
        act(&app, &ann, &again, "decline").await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        act(&app, &coach, &again, "end").await.status(),
        StatusCode::OK
    );
    // The athlete's export holds both.
    let export = app.get_json(&ann, "/v1/training/me/export").await;
    assert_eq!(export["coaching"].as_array().unwrap().len(), 2);
}

async fn a_coach_assigns_and_updates_plans_of_an_accepted_athlete(app: TestApp) {
    let (ann_id, ann) = app.user("ann").await;
    let (cora_id, coach) = app.coach("cora").await;
    let squat = app.exercise_id(&ann, "squats").await;
    let plan = json!({"name": "Block 1", "days": [{"name": "A", "exercises": [
        {"exercise_id": squat, "prescriptions": [{"sets": 5, "reps": {"min": 5}}]}]}]});
    let path = format!("/v1/training/athletes/{ann_id}/plans");
    // Not before she accepts.
    problem(
        app.call(Method::POST, &coach, &path, Some(&plan)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let link = invited(&app, &coach, &ann_id).await;
    problem(
        app.call(Method::POST, &coach, &path, Some(&plan)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        act(&app, &ann, &link, "accept").await.status(),
        StatusCode::OK
    );
    // Assigned with an idempotency key: a retry answers the same plan, stored once.
    let keyed = || {
        app.http
            .post(app.url(&path))
            .bearer_auth(&coach)
            .header("Idempotency-Key", "block-1")
            .json(&plan)
            .send()
    };
    let response = keyed().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let assigned: Value = response.json().await.unwrap();
    let retried: Value = keyed().await.unwrap().json().await.unwrap();
    assert_eq!(retried, assigned);
    assert_eq!(assigned["owner_id"], ann_id.as_str());
    assert_eq!(assigned["assigned_by"], cora_id.as_str());
    let id = assigned["id"].as_str().unwrap().to_owned();
    // The athlete has it among her plans, marked as assigned.
    let mine = app.get_json(&ann, "/v1/training/plans").await;
    assert_eq!(mine["items"][0]["id"], id.as_str());
    assert_eq!(mine["items"][0]["assigned_by"], cora_id.as_str());
    // The coach sees and updates what they assigned.
    let listed = app.get_json(&coach, &path).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let changed = json!({"name": "Block 2", "days": [{"name": "A", "exercises": [
        {"exercise_id": squat, "prescriptions": [{"sets": 3, "reps": {"min": 3}}]}]}]});
    let response = app
        .call(Method::PUT, &coach, &format!("{path}/{id}"), Some(&changed))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.get_json(&ann, &format!("/v1/training/plans/{id}"))
            .await["name"],
        "Block 2"
    );
    // Not the athlete's own plans.
    let own: Value = app
        .call(Method::POST, &ann, "/v1/training/plans", Some(&plan))
        .await
        .json()
        .await
        .unwrap();
    let own_id = own["id"].as_str().unwrap();
    assert_eq!(own["assigned_by"], Value::Null);
    problem(
        app.call(
            Method::PUT,
            &coach,
            &format!("{path}/{own_id}"),
            Some(&changed),
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // A custom exercise the athlete cannot see is refused.
    let response = app
        .create_exercise(&coach, &json!({"name": "Coach's Secret Lift"}), None)
        .await;
    let secret = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad = json!({"name": "X", "days": [{"name": "A", "exercises": [
        {"exercise_id": secret, "prescriptions": [{"sets": 1, "reps": {"min": 1}}]}]}]});
    problem(
        app.call(Method::POST, &coach, &path, Some(&bad)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    // Once ended, the coach can no longer change it; the athlete keeps it.
    assert_eq!(act(&app, &ann, &link, "end").await.status(), StatusCode::OK);
    problem(
        app.call(Method::PUT, &coach, &format!("{path}/{id}"), Some(&plan))
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        app.get_json(&ann, &format!("/v1/training/plans/{id}"))
            .await["name"],
        "Block 2"
    );
}

on_both_backends!(
    a_private_workout_is_its_owners_and_their_accepted_coachs_only,
    a_non_coach_with_an_accepted_relationship_sees_nothing,
    invitations_are_answered_by_the_athlete_and_ended_by_either,
    a_coach_assigns_and_updates_plans_of_an_accepted_athlete,
);
