//! Access tokens checked at the edge: a token that does not verify is refused by
//! the gateway itself, whatever route it is sent to.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use support::{http, sign_up_and_get_token, Vigor};

const ISSUER: &str = "http://vigor.test";

async fn status_with(base: &str, token: &str) -> (u16, String) {
    let response = http()
        .get(format!("{base}/v1/openapi.json"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

fn parts(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

fn decode(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn the_gateway_refuses_forged_tokens() {
    let vigor = Vigor::serve(&[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    let token = sign_up_and_get_token(&vigor.url, "forger@example.org").await;
    assert_eq!(status_with(&vigor.url, &token).await.0, 200);

    // A payload changed after signing: the signature no longer matches.
    let p = parts(&token);
    let mut claims = decode(&p[1]);
    claims["roles"] = serde_json::json!(["admin"]);
    let tampered = format!("{}.{}.{}", p[0], encode(&claims), p[2]);
    let (status, challenge) = status_with(&vigor.url, &tampered).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("invalid_token") && challenge.contains("signature"),
        "{challenge}"
    );

    // `alg: none` with no signature.
    let mut header = decode(&p[0]);
    header["alg"] = serde_json::json!("none");
    let unsigned = format!("{}.{}.", encode(&header), p[1]);
    let (status, challenge) = status_with(&vigor.url, &unsigned).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("algorithm"), "{challenge}");

    // Not a JWT at all.
    assert_eq!(status_with(&vigor.url, "not-a-token").await.0, 401);

    // Without a token, public routes still answer.
    let response = http()
        .get(format!("{}/v1/openapi.json", vigor.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_oauth_endpoints_answer_a_stale_bearer_token_themselves() {
    let vigor = Vigor::serve(&[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    support::sign_up_and_get_token(&vigor.url, "refresher@example.org").await;
    let grant = support::password_grant(&vigor.url, "vigor-web", "refresher@example.org").await;
    let refresh = grant["refresh_token"].as_str().unwrap();
    // A client that attaches its (here: no longer verifying) access token to
    // every request, the token endpoint included.
    let p = parts(grant["access_token"].as_str().unwrap());
    let stale = format!("{}.{}.{}x", p[0], p[1], p[2]);
    assert_eq!(status_with(&vigor.url, &stale).await.0, 401);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", "vigor-web"),
        ("refresh_token", refresh),
    ];
    let response = http()
        .post(format!("{}/v1/oauth/token", vigor.url))
        .bearer_auth(&stale)
        .form(&form)
        .send()
        .await
        .unwrap();
    // The token endpoint's own answer, in OAuth's error format (RFC 6749 §5.2),
    // not the edge's problem+json: only Basic authenticates a client there.
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["content-type"], "application/json");
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"], "invalid_client", "{error}");
    // Without the stray header, the refresh token works.
    let response = http()
        .post(format!("{}/v1/oauth/token", vigor.url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let renewed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        status_with(&vigor.url, renewed["access_token"].as_str().unwrap())
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    // Same keys (same data dir), but a deployment that expects another audience.
    let data = tempfile::tempdir().unwrap();
    let first = Vigor::serve_in(data.path(), &[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    let token = sign_up_and_get_token(&first.url, "audience@example.org").await;
    assert_eq!(status_with(&first.url, &token).await.0, 200);
    drop(first);

    let other = Vigor::serve_in(
        data.path(),
        &[],
        &[
            ("VIGOR_AUTH_ISSUER", ISSUER),
            ("VIGOR_AUTH_AUDIENCE", "someone-else"),
        ],
    );
    let (status, challenge) = status_with(&other.url, &token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("audience"), "{challenge}");

    let elsewhere = Vigor::serve_in(
        data.path(),
        &[],
        &[("VIGOR_AUTH_ISSUER", "http://elsewhere.test")],
    );
    let (status, challenge) = status_with(&elsewhere.url, &token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("issued by someone else"), "{challenge}");
}

#[tokio::test]
async fn a_client_registered_with_vigor_admin_gets_client_credentials_tokens() {
    let data = tempfile::tempdir().unwrap();
    let admin = |args: &[&str]| support::admin(data.path(), args);
    let created = admin(&[
        "clients",
        "create",
        "reporting",
        "--name",
        "Reporting job",
        "--confidential",
        "--grant",
        "client_credentials",
        "--scope",
        "training:read",
    ]);
    let secret = support::client_secret(&created);
    assert!(admin(&["clients", "list"]).contains("reporting"));

    let vigor = Vigor::serve_in(data.path(), &[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    let grant = |secret: String| {
        let url = vigor.url.clone();
        async move {
            http()
                .post(format!("{url}/v1/oauth/token"))
                .basic_auth("reporting", Some(secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", "training:read"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let response = grant(secret.clone()).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&vigor.url, &token).await.0, 200);

    let wrong = grant("not-the-secret".to_owned()).await;
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // Rotating keys keeps the token issued before valid.
    let rotated = admin(&["rotate-keys"]);
    assert!(rotated.contains("new signing key"), "{rotated}");
    drop(vigor);
    let vigor = Vigor::serve_in(data.path(), &[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    assert_eq!(status_with(&vigor.url, &token).await.0, 200);
    let jwks: serde_json::Value = http()
        .get(format!("{}/.well-known/jwks.json", vigor.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks}");

    admin(&["clients", "delete", "reporting"]);
    assert!(!admin(&["clients", "list"]).contains("reporting"));
}

#[tokio::test]
async fn vigor_admin_makes_the_first_admin_and_the_next_token_says_so() {
    let data = tempfile::tempdir().unwrap();
    let vigor = Vigor::serve_in(data.path(), &[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    let token = sign_up_and_get_token(&vigor.url, "first-admin@example.org").await;
    let claims = decode(&parts(&token)[1]);
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    let user_id = claims["sub"].as_str().unwrap().to_owned();

    // The profile is made from the sign-up event; wait for it.
    for _ in 0..100 {
        let me = http()
            .get(format!("{}/v1/users/me", vigor.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if me.status() == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let output = support::command()
        .args(["admin", "--data-dir"])
        .arg(data.path())
        .args(["users", "set-roles", &user_id, "admin"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let token = support::password_token(&vigor.url, "first-admin@example.org").await;
    let roles = decode(&parts(&token)[1])["roles"].clone();
    assert!(
        roles
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("admin")),
        "{roles}"
    );

    // An unknown user is an error, not a silent success.
    let output = support::command()
        .args(["admin", "--data-dir"])
        .arg(data.path())
        .args(["users", "set-roles", "123456789", "admin"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

#[tokio::test]
async fn the_gateway_refuses_an_expired_token() {
    // One-second tokens; the verifier allows 30 s of clock skew, no more.
    let vigor = Vigor::serve(
        &[],
        &[
            ("VIGOR_AUTH_ISSUER", ISSUER),
            ("VIGOR_AUTH_ACCESS_TOKEN_TTL_SECS", "1"),
        ],
    );
    let token = sign_up_and_get_token(&vigor.url, "expiring@example.org").await;
    assert_eq!(status_with(&vigor.url, &token).await.0, 200);
    let exp = decode(&parts(&token)[1])["exp"].as_u64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    tokio::time::sleep(std::time::Duration::from_secs(
        (exp + 31).saturating_sub(now),
    ))
    .await;
    let (status, challenge) = status_with(&vigor.url, &token).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("expired"), "{challenge}");
}

/// Issue 12: a first-party client registered with `--scope profile:read` got a
/// token that could delete the account. Through the real binary: the CLI refuses
/// a scope Vigor does not know, the narrow token reads the profile, and every
/// change — the account's deletion above all — is refused with 403
/// `insufficient_scope`, leaving the account as it was.
#[tokio::test]
async fn a_profile_read_token_cannot_delete_the_account() {
    let data = tempfile::tempdir().unwrap();
    let admin = |args: &[&str]| {
        support::command()
            .arg("admin")
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .output()
            .unwrap()
    };
    let create = |id: &str, scope: &str| {
        admin(&[
            "clients",
            "create",
            id,
            "--name",
            id,
            "--grant",
            "password",
            "--first-party",
            "--scope",
            scope,
        ])
    };
    let unknown = create("typo-app", "profile:raed");
    assert!(!unknown.status.success());
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("unknown scope \"profile:raed\""),
        "{stderr}"
    );
    let narrow = create("narrow-app", "profile:read");
    assert!(
        narrow.status.success(),
        "{}",
        String::from_utf8_lossy(&narrow.stderr)
    );

    let vigor = Vigor::serve_in(data.path(), &[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    let full = sign_up_and_get_token(&vigor.url, "ann@example.org").await;
    let client = http();
    let me = format!("{}/v1/users/me", vigor.url);
    let mut profile_made = false;
    for _ in 0..100 {
        let response = client.get(&me).bearer_auth(&full).send().await.unwrap();
        if response.status() == 200 {
            profile_made = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(profile_made, "the profile is made from user.signed_up");

    let tokens = support::password_grant(&vigor.url, "narrow-app", "ann@example.org").await;
    assert_eq!(tokens["scope"], "profile:read");
    let narrow = tokens["access_token"].as_str().unwrap();

    let read = client.get(&me).bearer_auth(narrow).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let delete = client.delete(&me).bearer_auth(narrow).send().await.unwrap();
    assert_eq!(delete.status(), 403);
    assert_eq!(
        delete.headers()["www-authenticate"],
        "Bearer realm=\"vigor\", error=\"insufficient_scope\", scope=\"account\""
    );
    let problem: serde_json::Value = delete.json().await.unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/insufficient_scope"),
        "{problem}"
    );
    let patch = client
        .patch(&me)
        .bearer_auth(narrow)
        .json(&serde_json::json!({"display_name": "Mallory"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 403);
    let log = client
        .post(format!("{}/v1/training/workouts", vigor.url))
        .bearer_auth(narrow)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(log.status(), 403);

    let still: serde_json::Value = client
        .get(&me)
        .bearer_auth(&full)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(still["display_name"], "Test Athlete");
    assert_eq!(still["status"], "active");
}
