//! Sign-up through HTTP: accounts, duplicates, the password policy, the event.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use std::time::Duration;

use common::{count, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use vigor_common::bus::ConsumerOptions;

async fn a_sign_up_creates_an_account_and_emits_user_signed_up(app: TestApp) {
    let mut events = app
        .event_bus()
        .subscribe(
            &["user.signed_up"],
            "users",
            "test",
            ConsumerOptions::default(),
        )
        .await
        .unwrap();
    let response = app
        .signup("  Ann.Lee@Example.ORG ", PASSWORD, " Ann Lee ")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], "ann.lee@example.org");
    assert_eq!(body["display_name"], "Ann Lee");
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(
        id.parse::<i64>().unwrap() > 0,
        "ids travel as decimal strings"
    );
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");

    let delivery = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("user.signed_up arrives through the outbox relay")
        .unwrap();
    assert_eq!(delivery.event.name, "user.signed_up");
    assert_eq!(delivery.event.data["user_id"], id.as_str());
    assert_eq!(delivery.event.data["email"], "ann.lee@example.org");
    assert_eq!(delivery.event.data["display_name"], "Ann Lee");
    assert_eq!(delivery.event.data["roles"], serde_json::json!(["user"]));

    // The new account can sign in.
    let tokens = app.password_login("ann.lee@example.org").await;
    assert_eq!(
        app.verify(tokens["access_token"].as_str().unwrap())
            .await
            .sub,
        id
    );
}

async fn a_second_account_with_the_same_email_is_a_conflict(app: TestApp) {
    assert_eq!(
        app.signup("ann@example.org", PASSWORD, "Ann")
            .await
            .status(),
        StatusCode::CREATED
    );
    let response = app
        .signup("ANN@example.org", "another-long-password-9", "Ann B")
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 409);
    assert_eq!(body["errors"][0]["field"], "email");
}

async fn weak_passwords_and_bad_fields_are_named(app: TestApp) {
    for (password, fragment) in [
        ("short1!", "at least 10"),
        ("password123", "too common"),
        ("QWERTYUIOP", "too common"),
    ] {
        let response = app.signup("bob@example.org", password, "Bob").await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "password", "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(fragment),
            "{body}"
        );
    }
    let response = app.signup("not-an-email", PASSWORD, "").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["email", "display_name"]);

    let response = app
        .http
        .post(app.url("/v1/auth/signup"))
        .json(&serde_json::json!({"email": "bob@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    // Nothing was stored: the email is still free.
    assert_eq!(
        app.signup("bob@example.org", PASSWORD, "Bob")
            .await
            .status(),
        StatusCode::CREATED
    );
}

on_both_backends!(
    a_sign_up_creates_an_account_and_emits_user_signed_up,
    a_second_account_with_the_same_email_is_a_conflict,
    weak_passwords_and_bad_fields_are_named,
);

/// With one hashing slot and no queue, a burst of sign-ups is partly refused
/// with 503 problem+json and `Retry-After` instead of hashing all at once; the
/// accepted ones are stored and the refused ones can sign up later.
#[tokio::test]
async fn a_saturated_hashing_pool_answers_503_with_retry_after() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |config| {
        config.auth.hash_concurrency = Some(1);
        config.auth.hash_queue_wait_ms = 0;
    })
    .await
    .unwrap();
    let emails: Vec<String> = (0..12).map(|i| format!("user{i}@example.org")).collect();
    let responses = futures::future::join_all(
        emails
            .iter()
            .map(|email| app.signup(email, PASSWORD, "Ann")),
    )
    .await;
    let (mut created, mut busy) = (Vec::new(), Vec::new());
    for (i, response) in responses.into_iter().enumerate() {
        match response.status() {
            StatusCode::CREATED => created.push(i),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_eq!(
                    response.headers()["content-type"],
                    "application/problem+json"
                );
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["status"], 503);
                busy.push(i);
            }
            other => panic!("sign-up {i}: {other}"),
        }
    }
    assert!(
        !created.is_empty() && !busy.is_empty(),
        "{created:?} {busy:?}"
    );
    assert_eq!(app.auth.hasher().memory_blocks_allocated(), 1);
    // A refused sign-up stored nothing: it succeeds when retried.
    let retried = app.signup(&emails[busy[0]], PASSWORD, "Ann").await;
    assert_eq!(retried.status(), StatusCode::CREATED);
}

/// Sign-up says 409 for a taken email (apps offer sign-in instead), but only a
/// few times per client address and window: then every sign-up from that
/// address is refused with 429, even when many probes arrive at once. Sign-ups
/// that create accounts do not count, and other addresses are not affected.
async fn taken_email_answers_are_limited_per_address(backend: common::Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.http.trust_forwarded_for = true;
        config.auth.max_taken_signups_per_address = 2;
    })
    .await
    else {
        return;
    };
    let signup = |from: &'static str, email: String| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/v1/auth/signup"))
                .header("x-forwarded-for", from)
                .json(&serde_json::json!({
                    "email": email, "password": PASSWORD, "display_name": "Ann"
                }))
                .send()
                .await
                .unwrap()
        }
    };
    // New accounts from one address never count.
    for i in 0..4 {
        let created = signup("198.51.100.7", format!("new{i}@example.org")).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    // Ten probes of a taken email at once: at most two learn that it is taken.
    let probes = futures::future::join_all(
        (0..10).map(|_| signup("203.0.113.9", "new0@example.org".to_owned())),
    )
    .await;
    let statuses: Vec<StatusCode> = probes.iter().map(|r| r.status()).collect();
    let taken = count(&statuses, StatusCode::CONFLICT);
    let limited = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert!(taken <= 2, "{statuses:?}");
    assert_eq!(taken + limited, 10, "{statuses:?}");
    // The address is now refused even for a free email, with problem+json.
    let refused = signup("203.0.113.9", "fresh@example.org".to_owned()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    // Another address still signs up, and still hears that an email is taken.
    let created = signup("192.0.2.1", "fresh@example.org".to_owned()).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let taken = signup("192.0.2.1", "new1@example.org".to_owned()).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn taken_email_answers_are_limited_per_address_on_sqlite() {
    taken_email_answers_are_limited_per_address(common::Backend::Sqlite).await;
}

#[tokio::test]
async fn taken_email_answers_are_limited_per_address_on_postgres() {
    taken_email_answers_are_limited_per_address(common::Backend::Postgres).await;
}
