//! Access control: nobody reads or changes what is not theirs; admins manage roles.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{invalid_fields, TestApp};

crate::on_both_backends!(
    another_user_cannot_change_delete_or_export_mine,
    a_non_admin_cannot_change_roles,
    an_admin_changes_roles_and_the_next_token_carries_them,
    staff_see_deactivated_and_private_profiles,
);

async fn another_user_cannot_change_delete_or_export_mine(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    let ann_path = format!("/v1/users/{}", ann.id);
    let before = app.get_json("/v1/users/me", &ann).await;

    // There is no way to address someone else's profile for writing.
    let response = app.patch(&ann_path, &bob, json!({"bio": "pwned"})).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let response = app.delete(&ann_path, &bob).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app
        .put(
            &format!("{ann_path}/roles"),
            &bob,
            json!({"roles": ["user"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = app.get(&format!("{ann_path}/export"), &bob).await;
    assert!(response.status().is_client_error());

    // Bob's /me endpoints act on Bob only.
    let response = app
        .patch("/v1/users/me", &bob, json!({"bio": "Bob's"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let export = app.get_json("/v1/users/me/export", &bob).await;
    assert_eq!(export["users"]["profile"]["id"], bob.id.as_str());
    assert_eq!(export["auth"]["email"], "bob@example.com");
    assert!(!export.to_string().contains("ann@example.com"));

    // Ann's profile is as it was.
    assert_eq!(app.get_json("/v1/users/me", &ann).await, before);
}

async fn a_non_admin_cannot_change_roles(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let mut bob = app.user("bob@example.com", "Bob").await;
    for target in [&ann.id, &bob.id] {
        let response = app
            .put(
                &format!("/v1/users/{target}/roles"),
                &bob,
                json!({"roles": ["admin"]}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.get_json("/v1/users/me", &bob).await["roles"],
        json!(["user"])
    );
    let claims = app.refresh(&mut bob).await.unwrap();
    assert_eq!(claims.roles, ["user"]);
}

async fn an_admin_changes_roles_and_the_next_token_carries_them(app: TestApp) {
    let mut admin = app.user("root@example.com", "Root").await;
    let mut bob = app.user("bob@example.com", "Bob").await;
    app.make_admin(&admin).await;
    // The operator's change reaches auth through `user.roles_changed`.
    app.refresh_until_roles(&mut admin, &["user", "admin"])
        .await;

    let path = format!("/v1/users/{}/roles", bob.id);
    let response = app
        .put(&path, &admin, json!({"roles": ["coach", "moderator"]}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": bob.id, "roles": ["user", "coach", "moderator"]})
    );
    assert_eq!(
        app.get_json("/v1/users/me", &bob).await["roles"],
        json!(["user", "coach", "moderator"])
    );
    app.refresh_until_roles(&mut bob, &["user", "coach", "moderator"])
        .await;
    // The new token works, and carries them to every service.
    let me = app.get_json("/v1/users/me", &bob).await;
    assert_eq!(me["id"], bob.id.as_str());

    // Unknown roles name the field; an admin cannot demote themselves.
    let response = app.put(&path, &admin, json!({"roles": ["root"]})).await;
    assert_eq!(invalid_fields(response).await, ["roles"]);
    let own = format!("/v1/users/{}/roles", admin.id);
    let response = app.put(&own, &admin, json!({"roles": ["user"]})).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = app
        .put(
            "/v1/users/123456789/roles",
            &admin,
            json!({"roles": ["coach"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // Taking roles away works the same way.
    let response = app.put(&path, &admin, json!({"roles": []})).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.refresh_until_roles(&mut bob, &["user"]).await;
}

async fn staff_see_deactivated_and_private_profiles(app: TestApp) {
    let admin = app.user("root@example.com", "Root").await;
    let ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    app.make_admin(&admin).await;
    let response = app
        .patch(
            "/v1/users/me",
            &ann,
            json!({"bio": "secret", "profile_visibility": "private"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let path = format!("/v1/users/{}", ann.id);
    assert!(app.get_json(&path, &bob).await.get("bio").is_none());
    assert_eq!(app.get_json(&path, &admin).await["bio"], "secret");

    let response = app.post("/v1/users/me/deactivate", &ann).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, &bob).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&path, &admin).await.status(), StatusCode::OK);
    // Even staff never see the email on the public view.
    assert!(!app
        .get_json(&path, &admin)
        .await
        .to_string()
        .contains("ann@example.com"));
}
