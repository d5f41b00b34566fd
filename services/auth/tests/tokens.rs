//! The token endpoint and its companions, through HTTP: password grant, refresh
//! rotation and reuse, client credentials, revocation, introspection, logout, key
//! rotation and the brute-force limits.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::{count, oauth_error, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;
use vigor_auth::domain::GrantType;
use vigor_auth::NewClient;
use vigor_common::auth::VerifyError;

async fn the_password_grant_issues_verifiable_tokens(app: TestApp) {
    let user = app.new_user("ann@example.org").await;
    let response = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", "vigor-web"),
            ("username", "Ann@Example.org"),
            ("password", PASSWORD),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "api account staff");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);

    let claims = app.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.sub, user);
    assert_eq!(claims.iss, app.base);
    assert_eq!(claims.aud, "vigor");
    assert_eq!(claims.client_id, "vigor-web");
    assert_eq!(claims.roles, vec!["user".to_owned()]);
    assert_eq!(claims.scope, "api account staff");
    assert!(claims.exp - claims.iat <= 900);
    assert!(claims.sid.is_some());
    assert!(!claims.jti.is_empty());
}

async fn wrong_passwords_and_unknown_emails_get_the_same_answer(app: TestApp) {
    app.new_user("ann@example.org").await;
    let mut answers = Vec::new();
    for (email, password) in [
        ("ann@example.org", "wrong-password-123"),
        ("nobody@example.org", PASSWORD),
    ] {
        let response = app
            .token(&[
                ("grant_type", "password"),
                ("client_id", "vigor-web"),
                ("username", email),
                ("password", password),
            ])
            .await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, StatusCode::BAD_REQUEST);
    assert_eq!(answers[0].1["error"], "invalid_grant");
    assert_eq!(
        answers[0], answers[1],
        "the answers must not tell which emails exist"
    );
}

async fn the_password_grant_is_for_first_party_clients_only(app: TestApp) {
    app.new_user("ann@example.org").await;
    app.auth
        .create_client(NewClient {
            id: "partner-app".into(),
            name: "Partner".into(),
            confidential: false,
            redirect_uris: vec!["https://partner.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["api".into()],
            first_party: false,
        })
        .await
        .unwrap();
    let response = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", "partner-app"),
            ("username", "ann@example.org"),
            ("password", PASSWORD),
        ])
        .await;
    assert_eq!(
        oauth_error(response).await,
        (StatusCode::BAD_REQUEST, "unauthorized_client".into())
    );

    let unknown_grant = app
        .token(&[("grant_type", "magic"), ("client_id", "vigor-web")])
        .await;
    assert_eq!(
        oauth_error(unknown_grant).await,
        (StatusCode::BAD_REQUEST, "unsupported_grant_type".into())
    );
    let no_client = app.token(&[("grant_type", "password")]).await;
    assert_eq!(
        oauth_error(no_client).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let repeated = app
        .token(&[
            ("grant_type", "password"),
            ("grant_type", "password"),
            ("client_id", "vigor-web"),
        ])
        .await;
    assert_eq!(
        oauth_error(repeated).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family(app: TestApp) {
    app.new_user("ann@example.org").await;
    let first = app.password_login("ann@example.org").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();

    let response = app.refresh(&r1).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "every use rotates the refresh token");
    let claims = app.verify(second["access_token"].as_str().unwrap()).await;
    let first_claims = app.verify(first["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.sid, first_claims.sid, "the session carries on");

    let third: Value = app.refresh(&r2).await.json().await.unwrap();
    let r3 = third["refresh_token"].as_str().unwrap().to_owned();

    // r1 was rotated: presenting it again is theft or a bug; the whole family dies.
    assert_eq!(
        oauth_error(app.refresh(&r1).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        oauth_error(app.refresh(&r3).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );

    // Another sign-in is another family and unaffected.
    let other = app.password_login("ann@example.org").await;
    assert_eq!(
        app.refresh(other["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

async fn sessions_end_at_their_absolute_lifetime_however_often_rotated(app: TestApp) {
    const MAX_AGE: i64 = 90 * 24 * 3600;
    app.new_user("ann@example.org").await;
    let secret = app.service_client("api-gateway", &["introspect"]).await;
    let mut refresh = app.password_login("ann@example.org").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A minute before the end, a rotation still works, but the new token
    // expires with the session, not 30 days later.
    app.age_sessions(MAX_AGE - 60).await;
    let response = app.refresh(&refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let state: Value = app.introspection(("api-gateway", &secret), &refresh).await;
    let left = state["exp"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((0..=61).contains(&left), "{left} s left");
    // Past the end, the refresh is refused.
    app.age_sessions(61).await;
    assert_eq!(
        oauth_error(app.refresh(&refresh).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
}

async fn account_actions_need_a_recent_sign_in_that_reauthentication_renews(app: TestApp) {
    app.new_user("ann@example.org").await;
    let tokens = app.password_login("ann@example.org").await;
    let fresh = tokens["access_token"].as_str().unwrap().to_owned();
    let export = |token: String| {
        let app = &app;
        async move {
            app.http
                .get(app.url("/v1/auth/me/export"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    // Just signed in: allowed.
    assert_eq!(export(fresh).await.status(), StatusCode::OK);
    // Ten minutes later, a refreshed token still works for everything else, but
    // not for the account's export: that needs the password again.
    app.age_sessions(600).await;
    let refreshed: Value = app
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let stale = refreshed["access_token"].as_str().unwrap().to_owned();
    let refused = export(stale.clone()).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("insufficient_user_authentication"),
        "{challenge}"
    );
    let reauthenticate = |password: &'static str| {
        let app = &app;
        let stale = stale.clone();
        async move {
            app.http
                .post(app.url("/v1/auth/reauthenticate"))
                .bearer_auth(stale)
                .json(&serde_json::json!({ "password": password }))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        reauthenticate("not the password").await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let renewed = reauthenticate(PASSWORD).await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let renewed: Value = renewed.json().await.unwrap();
    assert!(renewed.get("refresh_token").is_none());
    let token = renewed["access_token"].as_str().unwrap().to_owned();
    let claims = app.verify(&token).await;
    let stale_claims = app.verify(&stale).await;
    assert_eq!(claims.sid, stale_claims.sid, "the same session");
    assert_eq!(claims.scope, stale_claims.scope);
    assert!(claims.auth_time.unwrap() > stale_claims.auth_time.unwrap());
    assert_eq!(export(token).await.status(), StatusCode::OK);
}

async fn a_refresh_can_narrow_but_not_widen_the_scope(app: TestApp) {
    app.new_user("ann@example.org").await;
    let tokens = app.password_login("ann@example.org").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let widened = app
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", "vigor-web"),
            ("refresh_token", refresh_token),
            ("scope", "api admin"),
        ])
        .await;
    assert_eq!(
        oauth_error(widened).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    // The refused request did not spend the token.
    assert_eq!(app.refresh(refresh_token).await.status(), StatusCode::OK);
}

async fn roles_changed_since_sign_in_reach_the_next_access_token(app: TestApp) {
    let user = app.new_user("ann@example.org").await;
    let tokens = app.password_login("ann@example.org").await;
    let id = vigor_common::Id::from_i64(user.parse().unwrap());
    assert!(app
        .auth
        .set_roles(id, &["user".into(), "coach".into()])
        .await
        .unwrap());
    let refreshed: Value = app
        .refresh(tokens["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let claims = app
        .verify(refreshed["access_token"].as_str().unwrap())
        .await;
    assert_eq!(claims.roles, vec!["user".to_owned(), "coach".to_owned()]);
}

async fn client_credentials_give_service_tokens_with_scopes(app: TestApp) {
    let secret = app
        .service_client("reporting", &["profile:read", "training:read"])
        .await;
    let response = app
        .token_basic(
            "reporting",
            &secret,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "profile:read"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["scope"], "profile:read");
    let claims = app.verify(body["access_token"].as_str().unwrap()).await;
    assert_eq!(claims.sub, "reporting");
    assert_eq!(claims.client_id, "reporting");
    assert!(claims.roles.is_empty());
    assert!(claims.user_id().is_none());

    // client_secret_post works too, and without a scope the client gets all of its own.
    let response = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "reporting"),
            ("client_secret", &secret),
        ])
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "profile:read training:read");

    let wrong = app
        .token_basic(
            "reporting",
            "not-the-secret",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(wrong.headers()["www-authenticate"], "Basic realm=\"vigor\"");
    assert_eq!(
        oauth_error(wrong).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let too_wide = app
        .token_basic(
            "reporting",
            &secret,
            &[("grant_type", "client_credentials"), ("scope", "admin")],
        )
        .await;
    assert_eq!(
        oauth_error(too_wide).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let public = app
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "vigor-web"),
        ])
        .await;
    assert_eq!(
        oauth_error(public).await,
        (StatusCode::BAD_REQUEST, "unauthorized_client".into())
    );
}

async fn revocation_ends_the_session(app: TestApp) {
    app.new_user("ann@example.org").await;
    let tokens = app.password_login("ann@example.org").await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let response = app.revoke(refresh_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        oauth_error(app.refresh(refresh_token).await).await.1,
        "invalid_grant"
    );
    // Unknown tokens are fine (RFC 7009 §2.2).
    assert_eq!(app.revoke("no-such-token").await.status(), StatusCode::OK);

    // Revoking an access token ends its session too.
    let tokens = app.password_login("ann@example.org").await;
    assert_eq!(
        app.revoke(tokens["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        oauth_error(app.refresh(tokens["refresh_token"].as_str().unwrap()).await)
            .await
            .1,
        "invalid_grant"
    );

    // A client cannot revoke another client's tokens.
    let tokens = app.password_login("ann@example.org").await;
    let secret = app.service_client("reporting", &["profile:read"]).await;
    let response = app
        .http
        .post(app.url("/v1/oauth/revoke"))
        .basic_auth("reporting", Some(&secret))
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(tokens["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

async fn introspection_reports_what_a_token_grants(app: TestApp) {
    let user = app.new_user("ann@example.org").await;
    let secret = app.service_client("api-gateway", &["introspect"]).await;
    let client = ("api-gateway", secret.as_str());
    let tokens = app.password_login("ann@example.org").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let body: Value = app.introspection(client, access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], user.as_str());
    assert_eq!(body["client_id"], "vigor-web");
    assert_eq!(body["scope"], "api account staff");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], app.base.as_str());
    let body: Value = app.introspection(client, refresh).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["sub"], user.as_str());

    for garbage in ["garbage", "a.b.c"] {
        let body: Value = app.introspection(client, garbage).await;
        assert_eq!(body, serde_json::json!({"active": false}));
    }
    // After revocation both tokens are inactive (the access token's session ended).
    app.revoke(refresh).await;
    for token in [access, refresh] {
        let body: Value = app.introspection(client, token).await;
        assert_eq!(body, serde_json::json!({"active": false}));
    }

    // Only authenticated confidential clients may introspect.
    let public = app
        .http
        .post(app.url("/v1/oauth/introspect"))
        .form(&[("client_id", "vigor-web"), ("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        oauth_error(public).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let wrong = app.introspect(("api-gateway", "wrong"), access).await;
    assert_eq!(oauth_error(wrong).await.1, "invalid_client");
}

async fn only_resource_servers_may_introspect(app: TestApp) {
    app.new_user("ann@example.org").await;
    let access = app.password_login("ann@example.org").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A confidential client without the introspect scope: refused, and told nothing.
    let secret = app.service_client("reporting", &["api"]).await;
    let refused = app.introspect(("reporting", &secret), &access).await;
    assert_eq!(
        oauth_error(refused).await,
        (StatusCode::FORBIDDEN, "insufficient_scope".into())
    );
    // The same token, asked by a resource server.
    let secret = app.service_client("api-gateway", &["introspect"]).await;
    let body: Value = app.introspection(("api-gateway", &secret), &access).await;
    assert_eq!(body["active"], true);
}

async fn logout_revokes_the_callers_session(app: TestApp) {
    app.new_user("ann@example.org").await;
    let tokens = app.password_login("ann@example.org").await;
    let other = app.password_login("ann@example.org").await;
    let response = app
        .http
        .post(app.url("/v1/auth/logout"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        oauth_error(app.refresh(tokens["refresh_token"].as_str().unwrap()).await)
            .await
            .1,
        "invalid_grant"
    );
    // Only that session: the other sign-in goes on.
    assert_eq!(
        app.refresh(other["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );

    let anonymous = app
        .http
        .post(app.url("/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_eq!(
        anonymous.headers()["content-type"],
        "application/problem+json"
    );
}

async fn rotated_keys_keep_old_tokens_valid(app: TestApp) {
    app.new_user("ann@example.org").await;
    let verifier = app.remote_verifier();
    let before = app.password_login("ann@example.org").await;
    let old = verifier
        .verify(before["access_token"].as_str().unwrap())
        .await
        .unwrap();

    let new_kid = app.auth.rotate_keys().await.unwrap();
    let after = app.password_login("ann@example.org").await;
    let after_token = after["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(after_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(new_kid.as_str()));
    assert_eq!(format!("{:?}", header.alg), "EdDSA");

    // The verifier has never seen the new kid: it re-reads the JWKS and accepts it,
    // and tokens signed by the old key still verify.
    assert!(verifier.verify(after_token).await.is_ok());
    assert_eq!(
        verifier
            .verify(before["access_token"].as_str().unwrap())
            .await
            .unwrap(),
        old
    );
    let jwks: Value = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);

    // The keys live in the database: another instance on it (a restart, another
    // node) publishes the same two.
    let kids: Vec<String> = app
        .auth
        .key_ring()
        .published()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0], new_kid);
    assert_eq!(jwks["keys"][0]["kid"], new_kid.as_str());
}

async fn forged_tokens_are_refused_by_the_remote_verifier(app: TestApp) {
    app.new_user("ann@example.org").await;
    let tokens = app.password_login("ann@example.org").await;
    let token = tokens["access_token"].as_str().unwrap();
    let verifier = app.remote_verifier();
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged_payload = base64_url(&serde_json::json!({"sub": "1", "roles": ["admin"]}));
    parts[1] = &forged_payload;
    assert_eq!(
        verifier.verify(&parts.join(".")).await.unwrap_err(),
        VerifyError::BadSignature
    );
}

fn base64_url(value: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

async fn failed_sign_ins_are_limited_per_account(app: TestApp) {
    app.new_user("ann@example.org").await;
    let attempt = |password: &'static str, email: &'static str| {
        let app = &app;
        async move {
            app.token(&[
                ("grant_type", "password"),
                ("client_id", "vigor-web"),
                ("username", email),
                ("password", password),
            ])
            .await
        }
    };
    for _ in 0..5 {
        assert_eq!(
            attempt("wrong-password-1", "ann@example.org")
                .await
                .status(),
            StatusCode::BAD_REQUEST
        );
    }
    // Locked: even the right password is refused for the rest of the window.
    let locked = attempt(PASSWORD, "ann@example.org").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    // An email without an account locks the same way, so locking reveals nothing.
    for _ in 0..5 {
        attempt("wrong-password-1", "nobody@example.org").await;
    }
    assert_eq!(
        attempt(PASSWORD, "nobody@example.org").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out_but_a_spread_guess_is_capped() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |config| {
        config.http.trust_forwarded_for = true;
        config.auth.max_failed_logins_per_account_total = 12;
    })
    .await
    .unwrap();
    app.new_user("ann@example.org").await;
    let attempt = |from: String, password: &'static str| {
        let app = &app;
        async move {
            app.password_attempt_from(&from, "ann@example.org", password)
                .await
        }
    };
    // Five wrong guesses from the stranger's address lock that address out…
    for _ in 0..5 {
        let status = attempt("203.0.113.9".into(), "wrong-password-1").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        attempt("203.0.113.9".into(), PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …and not the owner, who signs in from hers.
    assert_eq!(
        attempt("198.51.100.7".into(), PASSWORD).await,
        StatusCode::OK
    );
    // A guess spread over addresses, each under its own limit, stops at the
    // account's total (12 here): the stranger's 5, then 4 and 3 from two more.
    for (guesser, guesses) in [(1, 4), (2, 3)] {
        for _ in 0..guesses {
            let status = attempt(format!("192.0.2.{guesser}"), "wrong-password-1").await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
    assert_eq!(
        attempt("198.51.100.7".into(), PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// 100 wrong passwords for one account sent at once from one address: at most
/// the per-account limit of them is verified (the attempts are reserved in the
/// database before verifying), and the owner still signs in from her address.
async fn concurrent_guesses_verify_at_most_the_limit(backend: common::Backend) {
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.http.trust_forwarded_for = true;
    })
    .await
    else {
        return;
    };
    app.new_user("ann@example.org").await;
    let attempt = |from, password| app.password_attempt_from(from, "ann@example.org", password);
    let before = app.auth.hasher().verifications();
    let statuses =
        futures::future::join_all((0..100).map(|_| attempt("203.0.113.9", "wrong-password-1")))
            .await;
    let verified = app.auth.hasher().verifications() - before;
    let wrong = count(&statuses, StatusCode::BAD_REQUEST);
    let limited = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    assert!(verified <= 5, "{verified} passwords verified");
    assert!(wrong <= 5, "{wrong} guesses answered invalid_grant");
    assert_eq!(wrong + limited, 100, "{statuses:?}");
    // The refused guesses did not count against the account as a whole.
    assert_eq!(attempt("198.51.100.7", PASSWORD).await, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_guesses_verify_at_most_the_limit_on_sqlite() {
    concurrent_guesses_verify_at_most_the_limit(common::Backend::Sqlite).await;
}

#[tokio::test]
async fn concurrent_guesses_verify_at_most_the_limit_on_postgres() {
    concurrent_guesses_verify_at_most_the_limit(common::Backend::Postgres).await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_address() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |config| {
        config.auth.max_failed_logins_per_address = 3;
    })
    .await
    .unwrap();
    app.new_user("ann@example.org").await;
    // Three guesses at three different accounts from one address…
    for email in ["a@example.org", "b@example.org", "c@example.org"] {
        let response = app
            .token(&[
                ("grant_type", "password"),
                ("client_id", "vigor-web"),
                ("username", email),
                ("password", "guess-guess-1"),
            ])
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    // …and the address is refused, whatever account it tries next.
    let response = app
        .token(&[
            ("grant_type", "password"),
            ("client_id", "vigor-web"),
            ("username", "ann@example.org"),
            ("password", PASSWORD),
        ])
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

on_both_backends!(
    the_password_grant_issues_verifiable_tokens,
    wrong_passwords_and_unknown_emails_get_the_same_answer,
    the_password_grant_is_for_first_party_clients_only,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_family,
    a_refresh_can_narrow_but_not_widen_the_scope,
    sessions_end_at_their_absolute_lifetime_however_often_rotated,
    account_actions_need_a_recent_sign_in_that_reauthentication_renews,
    roles_changed_since_sign_in_reach_the_next_access_token,
    client_credentials_give_service_tokens_with_scopes,
    revocation_ends_the_session,
    introspection_reports_what_a_token_grants,
    only_resource_servers_may_introspect,
    logout_revokes_the_callers_session,
    rotated_keys_keep_old_tokens_valid,
    forged_tokens_are_refused_by_the_remote_verifier,
    failed_sign_ins_are_limited_per_account,
);
