//! The account's lifecycle: deletion, deactivation, export, email and password changes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{eventually, invalid_fields, TestApp, PASSWORD};

crate::on_both_backends!(
    delete_emits_the_event_and_erases_the_account,
    deactivation_hides_the_profile_and_ends_sign_in,
    the_export_gathers_users_and_auth_data,
    a_password_change_ends_the_other_sessions,
    an_email_change_reaches_the_profile,
);

async fn delete_emits_the_event_and_erases_the_account(app: TestApp) {
    let mut ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    let mut deleted = app.listen(&["user.deleted"]).await;

    let response = app.delete("/v1/users/me", &ann).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let delivery = tokio::time::timeout(Duration::from_secs(10), deleted.next())
        .await
        .expect("user.deleted is published")
        .unwrap();
    assert_eq!(delivery.event.name, "user.deleted");
    assert_eq!(delivery.event.data["user_id"], ann.id.as_str());

    // The profile is gone for its owner and for everyone else.
    assert_eq!(
        app.get("/v1/users/me", &ann).await.status(),
        StatusCode::NOT_FOUND
    );
    let path = format!("/v1/users/{}", ann.id);
    assert_eq!(app.get(&path, &bob).await.status(), StatusCode::NOT_FOUND);
    let found = app.get_json("/v1/users?q=ann", &bob).await;
    assert!(found["items"].as_array().unwrap().is_empty());
    assert_eq!(
        app.delete("/v1/users/me", &ann).await.status(),
        StatusCode::NOT_FOUND
    );

    // Auth erases the credentials and sessions on `user.deleted`.
    eventually("the deleted account cannot sign in", || async {
        app.login("ann@example.com", PASSWORD).await.is_err()
    })
    .await;
    assert!(app.refresh(&mut ann).await.is_err());
    // Bob is untouched, and the email can be used again.
    assert_eq!(
        app.get_json("/v1/users/me", &bob).await["id"],
        bob.id.as_str()
    );
    let again = app.user("ann@example.com", "Ann again").await;
    assert_ne!(again.id, ann.id);
}

async fn deactivation_hides_the_profile_and_ends_sign_in(app: TestApp) {
    let mut ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    let response = app.post("/v1/users/me/deactivate", &ann).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_json("/v1/users/me", &ann).await["status"],
        "deactivated"
    );
    let path = format!("/v1/users/{}", ann.id);
    assert_eq!(app.get(&path, &bob).await.status(), StatusCode::NOT_FOUND);
    eventually("a deactivated account cannot sign in", || async {
        app.login("ann@example.com", PASSWORD).await.is_err()
    })
    .await;
    assert!(app.refresh(&mut ann).await.is_err());
    // Again is harmless.
    let response = app.post("/v1/users/me/deactivate", &ann).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    // Only an admin brings it back; then the profile shows and sign-in works.
    let reactivate = format!("/v1/users/{}/reactivate", ann.id);
    assert_eq!(
        app.post(&reactivate, &bob).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&reactivate, &ann).await.status(),
        StatusCode::FORBIDDEN
    );
    let admin = app.user("root@example.com", "Root").await;
    app.make_admin(&admin).await;
    assert_eq!(
        app.post(&reactivate, &admin).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&path, &bob).await.status(), StatusCode::OK);
    eventually("a reactivated account can sign in", || async {
        app.login("ann@example.com", PASSWORD).await.is_ok()
    })
    .await;
    let response = app.post("/v1/users/123456789/reactivate", &admin).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn the_export_gathers_users_and_auth_data(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    let response = app
        .patch("/v1/users/me", &ann, json!({"bio": "Hi", "height_cm": 170}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let follow = format!("/v1/social/following/{}", bob.id);
    assert_eq!(
        app.put(&follow, &ann, json!({})).await.status(),
        StatusCode::OK
    );
    let export = app.get_json("/v1/users/me/export", &ann).await;
    assert_eq!(export["user_id"], ann.id.as_str());
    assert!(export["exported_at"].is_string());
    let profile = &export["users"]["profile"];
    assert_eq!(profile["email"], "ann@example.com");
    assert_eq!(profile["bio"], "Hi");
    assert_eq!(profile["height_cm"], 170.0);
    let auth = &export["auth"];
    assert_eq!(auth["email"], "ann@example.com");
    assert_eq!(auth["roles"], json!(["user"]));
    assert_eq!(auth["status"], "active");
    let sessions = auth["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["client_id"], "vigor-web");
    // The training part, served by the training service.
    let training = &export["training"];
    assert_eq!(training["user_id"], ann.id.as_str());
    assert_eq!(training["workouts"], json!([]));
    // The social part, served by the social service.
    let social = &export["social"];
    assert_eq!(social["user_id"], ann.id.as_str());
    assert_eq!(social["following"][0]["followee_id"], bob.id.as_str());
    // The gamification part, served by the gamification service.
    let game = &export["gamification"];
    assert_eq!(game["user_id"], ann.id.as_str());
    assert_eq!(game["game"]["xp"], 0);
    assert_eq!(game["ledger"], json!([]));
    // Secrets are not data about the user: no password hash, no token hashes.
    let text = export.to_string();
    assert!(!text.contains("argon2"), "{text}");
    assert!(!text.contains("password"), "{text}");
}

async fn a_password_change_ends_the_other_sessions(app: TestApp) {
    let mut ann = app.user("ann@example.com", "Ann").await;
    let other = app.login("ann@example.com", PASSWORD).await.unwrap();
    let mut other_session = ann.clone();
    other_session.refresh = other["refresh_token"].as_str().unwrap().to_owned();

    let new_password = "violet-anchor-77-meadow";
    let response = app
        .put(
            "/v1/auth/me/password",
            &ann,
            json!({"current_password": "wrong-password-123", "new_password": new_password}),
        )
        .await;
    assert_eq!(invalid_fields(response).await, ["current_password"]);
    let response = app
        .put(
            "/v1/auth/me/password",
            &ann,
            json!({"current_password": PASSWORD, "new_password": "password"}),
        )
        .await;
    assert_eq!(invalid_fields(response).await, ["new_password"]);

    let response = app
        .put(
            "/v1/auth/me/password",
            &ann,
            json!({"current_password": PASSWORD, "new_password": new_password}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["ended_sessions"], 1);

    assert!(app.refresh(&mut other_session).await.is_err());
    assert!(app.refresh(&mut ann).await.is_ok(), "this session stays");
    assert!(app.login("ann@example.com", PASSWORD).await.is_err());
    assert!(app.login("ann@example.com", new_password).await.is_ok());
}

async fn an_email_change_reaches_the_profile(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    app.user("bob@example.com", "Bob").await;
    let response = app
        .put(
            "/v1/auth/me/email",
            &ann,
            json!({"current_password": PASSWORD, "email": "bob@example.com"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = app
        .put(
            "/v1/auth/me/email",
            &ann,
            json!({"current_password": PASSWORD, "email": "not-an-email"}),
        )
        .await;
    assert_eq!(invalid_fields(response).await, ["email"]);

    let response = app
        .put(
            "/v1/auth/me/email",
            &ann,
            json!({"current_password": PASSWORD, "email": " Annie@Example.com "}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app.login("annie@example.com", PASSWORD).await.is_ok());
    assert!(app.login("ann@example.com", PASSWORD).await.is_err());
    eventually("the profile's email copy follows", || async {
        app.get_json("/v1/users/me", &ann).await["email"] == "annie@example.com"
    })
    .await;
}
