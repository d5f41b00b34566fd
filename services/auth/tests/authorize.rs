//! The authorization code flow with PKCE, through HTTP: the login page, the
//! redirect, the exchange, and every way it must fail.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{
    login_form_token, oauth_error, redirect_params, TestApp, PASSWORD, VERIFIER, WEB_REDIRECT,
};
use reqwest::header::LOCATION;
use reqwest::StatusCode;
use serde_json::Value;
use vigor_auth::domain::pkce::s256;
use vigor_auth::domain::GrantType;
use vigor_auth::NewClient;

fn authorize_params(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "vigor-web".into()),
        ("redirect_uri", WEB_REDIRECT.into()),
        ("scope", "api".into()),
        ("state", "s<t>\"ate".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn pairs<'a>(params: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    params.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn exchange(
    app: &TestApp,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> reqwest::Response {
    app.token(&[
        ("grant_type", "authorization_code"),
        ("client_id", "vigor-web"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ])
    .await
}

async fn the_code_flow_with_pkce_signs_a_user_in(app: TestApp) {
    let user = app.new_user("ann@example.org").await;
    let challenge = s256(VERIFIER);
    let params = authorize_params(&challenge);

    let page = app.authorize_page(&pairs(&params)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/v1/oauth/authorize\">"),
        "{html}"
    );
    assert!(html.contains("name=\"password\""));
    assert!(html.contains(&format!("value=\"{challenge}\"")));
    assert!(
        html.contains("value=\"s&lt;t&gt;&quot;ate\""),
        "the state is escaped: {html}"
    );
    assert!(!html.contains("s<t>"));

    // The browser posts the form back with the credentials.
    let mut form = pairs(&params);
    form.push(("email", "ann@example.org"));
    form.push(("password", PASSWORD));
    let response = app.authorize_submit(&form).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:5173/callback?"),
        "{location}"
    );
    let query = redirect_params(response.headers());
    assert_eq!(query["state"], "s<t>\"ate");
    assert_eq!(query["iss"], app.base);
    let code = &query["code"];

    let response = exchange(&app, code, WEB_REDIRECT, VERIFIER).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let claims = app.verify(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.sub, user);
    assert_eq!(claims.scope, "api");
    assert_eq!(
        app.refresh(tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

async fn a_wrong_verifier_is_refused_and_spends_the_code(app: TestApp) {
    app.new_user("ann@example.org").await;
    let code = app
        .authorization_code("ann@example.org", WEB_REDIRECT)
        .await;
    let wrong = "x".repeat(43);
    assert_eq!(
        oauth_error(exchange(&app, &code, WEB_REDIRECT, &wrong).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    // The right verifier cannot be tried afterwards: codes are single-use.
    assert_eq!(
        oauth_error(exchange(&app, &code, WEB_REDIRECT, VERIFIER).await)
            .await
            .1,
        "invalid_grant"
    );
}

async fn a_reused_code_is_refused_and_revokes_what_it_issued(app: TestApp) {
    app.new_user("ann@example.org").await;
    let code = app
        .authorization_code("ann@example.org", WEB_REDIRECT)
        .await;
    let first: Value = exchange(&app, &code, WEB_REDIRECT, VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();

    let again = exchange(&app, &code, WEB_REDIRECT, VERIFIER).await;
    assert_eq!(
        oauth_error(again).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    // The code leaked: the session it started is revoked (RFC 6749 §4.1.2).
    assert_eq!(
        oauth_error(app.refresh(refresh_token).await).await.1,
        "invalid_grant"
    );
}

async fn a_code_is_bound_to_its_client_and_redirect_uri(app: TestApp) {
    app.new_user("ann@example.org").await;
    let code = app
        .authorization_code("ann@example.org", WEB_REDIRECT)
        .await;
    let other_redirect = exchange(&app, &code, "http://127.0.0.1:5173/other", VERIFIER).await;
    assert_eq!(oauth_error(other_redirect).await.1, "invalid_grant");

    app.auth
        .create_client(NewClient {
            id: "mobile".into(),
            name: "Mobile".into(),
            confidential: false,
            redirect_uris: vec![WEB_REDIRECT.into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec!["api".into()],
            first_party: false,
        })
        .await
        .unwrap();
    let code = app
        .authorization_code("ann@example.org", WEB_REDIRECT)
        .await;
    let stolen = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", "mobile"),
            ("code", &code),
            ("redirect_uri", WEB_REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(oauth_error(stolen).await.1, "invalid_grant");
}

async fn a_foreign_redirect_uri_is_never_redirected_to(app: TestApp) {
    app.new_user("ann@example.org").await;
    let challenge = s256(VERIFIER);
    for evil in [
        "https://evil.example/cb",
        "http://127.0.0.1.evil.example/cb",
        "javascript:alert(1)",
    ] {
        let mut params = authorize_params(&challenge);
        params[2].1 = evil.into();
        let page = app.authorize_page(&pairs(&params)).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{evil}");
        assert!(page.headers().get(LOCATION).is_none());
        assert!(page.text().await.unwrap().contains("not registered"));

        let mut form = pairs(&params);
        form.push(("email", "ann@example.org"));
        form.push(("password", PASSWORD));
        let submit = app.authorize_submit(&form).await;
        assert_eq!(submit.status(), StatusCode::BAD_REQUEST, "{evil}");
        assert!(submit.headers().get(LOCATION).is_none());
    }
    let mut params = authorize_params(&challenge);
    params[1].1 = "nobody".into();
    let unknown_client = app.authorize_page(&pairs(&params)).await;
    assert_eq!(unknown_client.status(), StatusCode::BAD_REQUEST);
    assert!(unknown_client.headers().get(LOCATION).is_none());
}

async fn later_errors_go_back_to_the_client(app: TestApp) {
    let challenge = s256(VERIFIER);
    let mut no_pkce = authorize_params(&challenge);
    no_pkce.retain(|(k, _)| !k.starts_with("code_challenge"));
    let response = app.authorize_page(&pairs(&no_pkce)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let query = redirect_params(response.headers());
    assert_eq!(query["error"], "invalid_request");
    assert_eq!(query["state"], "s<t>\"ate");

    let mut plain = authorize_params(&challenge);
    plain[6].1 = "plain".into();
    let query = redirect_params(app.authorize_page(&pairs(&plain)).await.headers());
    assert_eq!(query["error"], "invalid_request");

    let mut token_flow = authorize_params(&challenge);
    token_flow[0].1 = "token".into();
    let query = redirect_params(app.authorize_page(&pairs(&token_flow)).await.headers());
    assert_eq!(query["error"], "unsupported_response_type");

    let mut scope = authorize_params(&challenge);
    scope[3].1 = "api admin".into();
    let query = redirect_params(app.authorize_page(&pairs(&scope)).await.headers());
    assert_eq!(query["error"], "invalid_scope");
}

async fn wrong_credentials_show_the_page_again(app: TestApp) {
    app.new_user("ann@example.org").await;
    let params = authorize_params(&s256(VERIFIER));
    let mut form = pairs(&params);
    form.push(("email", "ann@example.org"));
    form.push(("password", "not-my-password"));
    let response = app.authorize_submit(&form).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(LOCATION).is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("Wrong email or password."));
    assert!(
        html.contains("value=\"ann@example.org\""),
        "the email is kept"
    );
}

/// A post of the login form is refused with 403, before the password is even
/// checked, unless it carries the token of a page shown in the same browser (its
/// cookie) for the same request.
async fn the_login_form_refuses_posts_without_its_anti_csrf_token(app: TestApp) {
    app.new_user("ann@example.org").await;
    let params = authorize_params(&s256(VERIFIER));
    let (token, cookie) = login_form_token(app.authorize_page(&pairs(&params)).await).await;
    let (token, cookie) = (token.unwrap(), cookie.unwrap());
    assert!(cookie.starts_with("vigor_login="), "{cookie}");
    // Another browser's page for another request (the attacker's own).
    let mut other = authorize_params(&s256(VERIFIER));
    other[4].1 = "another state".into();
    let (other_token, other_cookie) =
        login_form_token(app.authorize_page(&pairs(&other)).await).await;
    let (other_token, other_cookie) = (other_token.unwrap(), other_cookie.unwrap());

    let mut credentials = pairs(&params);
    credentials.push(("email", "ann@example.org"));
    credentials.push(("password", PASSWORD));
    let with_token = |token| {
        let mut form = credentials.clone();
        form.push(("csrf_token", token));
        form
    };
    let verifications = app.auth.hasher().verifications();
    for (what, form, cookie) in [
        ("no token, no cookie", credentials.clone(), None),
        ("no token", credentials.clone(), Some(cookie.as_str())),
        ("no cookie", with_token(&token), None),
        (
            "another browser's cookie",
            with_token(&token),
            Some(other_cookie.as_str()),
        ),
        (
            "another request's token",
            with_token(&other_token),
            Some(cookie.as_str()),
        ),
        (
            "a tampered token",
            with_token("9999999999.AAAA"),
            Some(cookie.as_str()),
        ),
    ] {
        let response = app.authorize_post(&form, cookie).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(response.headers().get(LOCATION).is_none(), "{what}");
        let html = response.text().await.unwrap();
        assert!(html.contains("was not opened in this browser"), "{what}");
    }
    // Nothing happened: no password was checked.
    assert_eq!(app.auth.hasher().verifications(), verifications);

    // The page's own token and cookie sign in.
    let response = app
        .authorize_post(&with_token(&token), Some(cookie.as_str()))
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(redirect_params(response.headers()).contains_key("code"));
}

async fn codes_expire_after_sixty_seconds(app: TestApp) {
    app.new_user("ann@example.org").await;
    let code = app
        .authorization_code("ann@example.org", WEB_REDIRECT)
        .await;
    app.expire_codes().await;
    assert_eq!(
        oauth_error(exchange(&app, &code, WEB_REDIRECT, VERIFIER).await)
            .await
            .1,
        "invalid_grant"
    );
}

async fn a_third_party_login_page_lists_the_scopes_in_plain_words(app: TestApp) {
    app.auth
        .create_client(NewClient {
            id: "strava-sync".into(),
            name: "Strava sync".into(),
            confidential: false,
            redirect_uris: vec![WEB_REDIRECT.into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: vec!["profile:read".into(), "training:write".into()],
            first_party: false,
        })
        .await
        .unwrap();
    let mut params = authorize_params(&s256(VERIFIER));
    params[1].1 = "strava-sync".into();
    params[3].1 = "profile:read training:write".into();
    let html = app
        .authorize_page(&pairs(&params))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(
            "<p>Strava sync will be able to:</p><ul class=\"scopes\">\
             <li>See your profile and search for people</li>\
             <li>Log, change and delete your workouts, plans, schedule and coaching</li></ul>"
        ),
        "{html}"
    );

    // Vigor's own app asks nobody for consent.
    let html = app
        .authorize_page(&pairs(&authorize_params(&s256(VERIFIER))))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("will be able to"), "{html}");
}

on_both_backends!(
    a_third_party_login_page_lists_the_scopes_in_plain_words,
    the_code_flow_with_pkce_signs_a_user_in,
    a_wrong_verifier_is_refused_and_spends_the_code,
    a_reused_code_is_refused_and_revokes_what_it_issued,
    a_code_is_bound_to_its_client_and_redirect_uri,
    a_foreign_redirect_uri_is_never_redirected_to,
    later_errors_go_back_to_the_client,
    wrong_credentials_show_the_page_again,
    the_login_form_refuses_posts_without_its_anti_csrf_token,
    codes_expire_after_sixty_seconds,
);
