//! The profile: round trip, validation, privacy of the public view.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{invalid_fields, TestApp};

crate::on_both_backends!(
    a_new_account_has_a_profile_with_defaults,
    the_profile_round_trips_and_null_clears,
    validation_names_every_invalid_field,
    the_public_view_honours_privacy_and_never_shows_the_email,
    requests_without_a_token_are_refused,
    setting_the_visibility_tells_the_other_services,
);

async fn setting_the_visibility_tells_the_other_services(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let mut changed = app.listen(&["user.privacy_changed"]).await;
    // A change that does not touch the visibility emits nothing.
    let response = app
        .patch("/v1/users/me", &ann, json!({"bio": "Runs."}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .patch(
            "/v1/users/me",
            &ann,
            json!({"profile_visibility": "private"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), changed.next())
        .await
        .expect("user.privacy_changed is published")
        .unwrap();
    assert_eq!(
        delivery.event.data,
        json!({"user_id": ann.id, "profile_visibility": "private"})
    );
    // A refused change emits nothing either.
    let response = app
        .patch(
            "/v1/users/me",
            &ann,
            json!({"profile_visibility": "friends"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let more = tokio::time::timeout(std::time::Duration::from_millis(300), changed.next()).await;
    assert!(more.is_err(), "one event for one change: {more:?}");
}

async fn a_new_account_has_a_profile_with_defaults(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let me = app.get_json("/v1/users/me", &ann).await;
    assert_eq!(me["id"], ann.id.as_str());
    assert_eq!(me["email"], "ann@example.com");
    assert_eq!(me["display_name"], "Ann");
    assert_eq!(me["units"], "metric");
    assert_eq!(me["time_zone"], "UTC");
    assert_eq!(me["activity_privacy"], "public");
    assert_eq!(me["profile_visibility"], "public");
    assert_eq!(me["roles"], json!(["user"]));
    assert_eq!(me["status"], "active");
    assert!(me["birth_year"].is_null() && me["height_cm"].is_null());
}

async fn the_profile_round_trips_and_null_clears(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let changes = json!({
        "display_name": "  Ann Runner ",
        "avatar_url": "https://img.example.com/ann.png",
        "bio": "Marathons and mountains.",
        "units": "imperial",
        "time_zone": "America/New_York",
        "birth_year": 1990,
        "height_cm": 170.5,
        "weight_kg": 61.2,
        "profile_visibility": "followers",
        "activity_privacy": "private",
    });
    let response = app.patch("/v1/users/me", &ann, changes).await;
    assert_eq!(response.status(), StatusCode::OK);
    let patched: serde_json::Value = response.json().await.unwrap();
    let me = app.get_json("/v1/users/me", &ann).await;
    assert_eq!(patched, me);
    assert_eq!(me["display_name"], "Ann Runner");
    assert_eq!(me["avatar_url"], "https://img.example.com/ann.png");
    assert_eq!(me["bio"], "Marathons and mountains.");
    assert_eq!(me["units"], "imperial");
    assert_eq!(me["time_zone"], "America/New_York");
    assert_eq!(me["birth_year"], 1990);
    assert_eq!(me["height_cm"], 170.5);
    assert_eq!(me["weight_kg"], 61.2);
    assert_eq!(me["profile_visibility"], "followers");
    assert_eq!(me["activity_privacy"], "private");

    // Absent fields stay; null clears a nullable one.
    let response = app
        .patch(
            "/v1/users/me",
            &ann,
            json!({"bio": null, "weight_kg": null}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me = app.get_json("/v1/users/me", &ann).await;
    assert!(me["bio"].is_null() && me["weight_kg"].is_null());
    assert_eq!(me["height_cm"], 170.5);
    assert_eq!(me["display_name"], "Ann Runner");
}

async fn validation_names_every_invalid_field(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let response = app
        .patch(
            "/v1/users/me",
            &ann,
            json!({
                "display_name": "",
                "avatar_url": "ftp://example.com/a.png",
                "units": "stones",
                "time_zone": "Europe/Atlantis",
                "birth_year": 1800,
                "height_cm": 1000,
                "weight_kg": 5,
                "activity_privacy": "friends",
            }),
        )
        .await;
    let fields = invalid_fields(response).await;
    assert_eq!(
        fields,
        [
            "display_name",
            "avatar_url",
            "units",
            "time_zone",
            "birth_year",
            "height_cm",
            "weight_kg",
            "activity_privacy"
        ]
    );
    // Nothing was changed by the refused request.
    let me = app.get_json("/v1/users/me", &ann).await;
    assert_eq!(me["display_name"], "Ann");
    assert_eq!(me["units"], "metric");

    // Fields that are not the profile's (the email belongs to auth) are refused.
    let response = app
        .patch("/v1/users/me", &ann, json!({"email": "x@example.com"}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = app
        .patch("/v1/users/me", &ann, json!({"time_zone": "Asia/Tokyo"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn the_public_view_honours_privacy_and_never_shows_the_email(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let bob = app.user("bob@example.com", "Bob").await;
    let response = app
        .patch(
            "/v1/users/me",
            &ann,
            json!({"bio": "Hi", "birth_year": 1990, "weight_kg": 60, "time_zone": "Europe/Paris"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let path = format!("/v1/users/{}", ann.id);

    let public = app.get_json(&path, &bob).await;
    assert_eq!(public["id"], ann.id.as_str());
    assert_eq!(public["display_name"], "Ann");
    assert_eq!(public["bio"], "Hi");
    assert!(public["member_since"].is_string());
    let text = public.to_string();
    for private in [
        "ann@example.com",
        "email",
        "birth_year",
        "weight_kg",
        "time_zone",
    ] {
        assert!(!text.contains(private), "{private} leaked: {text}");
    }

    // Private (and followers-only, until follows exist) hides the details.
    for visibility in ["private", "followers"] {
        let response = app
            .patch(
                "/v1/users/me",
                &ann,
                json!({"profile_visibility": visibility}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let hidden = app.get_json(&path, &bob).await;
        assert_eq!(hidden["display_name"], "Ann");
        assert!(hidden.get("bio").is_none(), "{hidden}");
        assert!(hidden.get("member_since").is_none(), "{hidden}");
    }
    // Its owner still sees the details (and never the email on this view).
    let own = app.get_json(&path, &ann).await;
    assert_eq!(own["bio"], "Hi");
    assert!(!own.to_string().contains("ann@example.com"));

    // Unknown and malformed ids are not found.
    let response = app.get("/v1/users/123456789", &bob).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.get("/v1/users/not-an-id", &bob).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn requests_without_a_token_are_refused(app: TestApp) {
    let ann = app.user("ann@example.com", "Ann").await;
    let forged = crate::common::User {
        access: "not.a.token".to_owned(),
        ..ann.clone()
    };
    let paths = [
        "/v1/users/me".to_owned(),
        format!("/v1/users/{}", ann.id),
        "/v1/users?q=a".to_owned(),
        "/v1/users/me/export".to_owned(),
    ];
    for path in &paths {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let response = app.get(path, &forged).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let response = app
        .patch("/v1/users/me", &forged, json!({"bio": "x"}))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.delete("/v1/users/me", &forged).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // A path that is no user id is no resource: 404 before authentication.
    let response = app
        .http
        .get(app.url("/v1/users/no-such-route"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["instance"], "/v1/users/no-such-route");
    assert_eq!(
        app.get_json("/v1/users/me", &ann).await["bio"],
        serde_json::Value::Null
    );
}
