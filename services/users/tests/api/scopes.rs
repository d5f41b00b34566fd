//! Scopes: a token may do what its scopes cover and nothing more, whoever its user.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use vigor_common::testkit::assert_insufficient_scope as assert_insufficient;

use crate::common::{TestApp, User};

crate::on_both_backends!(
    a_profile_read_token_reads_but_cannot_change_or_delete_anything,
    an_api_token_changes_the_profile_but_cannot_end_the_account,
    the_first_party_token_does_everything,
);

/// `method path` as `user` (with an empty JSON body for writes).
async fn call(app: &TestApp, method: Method, path: &str, user: &User) -> Response {
    let mut request = app
        .http
        .request(method.clone(), app.url(path))
        .bearer_auth(&user.access);
    if method != Method::GET {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

async fn a_profile_read_token_reads_but_cannot_change_or_delete_anything(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    app.make_admin(&ann).await;
    let reader = app.with_scopes(&ann, &["profile:read"]).await;
    let bob_path = format!("/v1/users/{}", bob.id);

    for path in ["/v1/users/me", bob_path.as_str(), "/v1/users?q=bo"] {
        let response = call(&app, Method::GET, path, &reader).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    }
    let refused = [
        (Method::PATCH, "/v1/users/me".to_owned(), "profile:write"),
        (Method::DELETE, "/v1/users/me".to_owned(), "account"),
        (
            Method::POST,
            "/v1/users/me/deactivate".to_owned(),
            "account",
        ),
        (Method::GET, "/v1/users/me/export".to_owned(), "account"),
        (Method::PUT, format!("{bob_path}/roles"), "staff"),
        (Method::POST, format!("{bob_path}/reactivate"), "staff"),
        (Method::DELETE, bob_path.clone(), "staff"),
        (Method::PUT, "/v1/auth/me/password".to_owned(), "account"),
        (Method::PUT, "/v1/auth/me/email".to_owned(), "account"),
        (Method::GET, "/v1/auth/me/export".to_owned(), "account"),
        (Method::GET, "/v1/training/me/export".to_owned(), "account"),
    ];
    for (method, path, scope) in refused {
        let what = format!("{method} {path}");
        assert_insufficient(call(&app, method, &path, &reader).await, scope, &what).await;
    }

    // Nothing happened: both accounts are there, unchanged.
    let me = app.get_json("/v1/users/me", &ann).await;
    assert_eq!(me["display_name"], "Ann");
    assert_eq!(me["status"], "active");
    assert_eq!(app.get(&bob_path, &ann).await.status(), StatusCode::OK);
}

async fn an_api_token_changes_the_profile_but_cannot_end_the_account(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let api = app.with_scopes(&ann, &["api"]).await;
    let response = app
        .patch("/v1/users/me", &api, json!({"display_name": "Annie"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_insufficient(app.delete("/v1/users/me", &api).await, "account", "DELETE").await;
    assert_eq!(
        app.get_json("/v1/users/me", &ann).await["display_name"],
        "Annie"
    );
}

async fn the_first_party_token_does_everything(app: TestApp) {
    // `app.user` signs in with vigor-web's default grant.
    let ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    app.make_admin(&ann).await;
    let response = app
        .patch("/v1/users/me", &ann, json!({"display_name": "Annie"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.get("/v1/users/me/export", &ann).await.status(),
        StatusCode::OK
    );
    let roles = app
        .put(
            &format!("/v1/users/{}/roles", bob.id),
            &ann,
            json!({"roles": ["user", "coach"]}),
        )
        .await;
    assert_eq!(roles.status(), StatusCode::OK);
    assert_eq!(
        app.delete("/v1/users/me", &ann).await.status(),
        StatusCode::NO_CONTENT
    );
}
