//! No secret reaches the logs: passwords, client secrets, refresh and access
//! tokens, authorization codes and signing keys stay out of every log line, at
//! the most verbose level, through sign-up, sign-in (right and wrong), refresh,
//! client credentials, revocation and sign-out.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::{http, Vigor};

/// The base64 start of every Ed25519 PKCS#8 private key (RFC 8410), as a signing
/// key would appear if it were ever printed.
const ED25519_PKCS8_BASE64: &str = "MC4CAQAwBQYDK2Vw";

#[tokio::test]
async fn no_secret_appears_in_the_logs() {
    let data = tempfile::tempdir().unwrap();
    let created = support::admin(
        data.path(),
        &[
            "clients",
            "create",
            "reporting",
            "--name",
            "Reporting job",
            "--confidential",
            "--grant",
            "client_credentials",
            "--scope",
            "hub.publish",
        ],
    );
    let client_secret = support::client_secret(&created);

    let vigor = Vigor::serve_in(
        data.path(),
        &[],
        &[("VIGOR_LOG_LEVEL", "trace,hyper=info,h2=info,sqlx=debug")],
    );
    let base = vigor.url.as_str();
    let client = http();
    let password = "a-secret-passphrase-never-logged";
    let email = "secrets@example.org";
    let signup = client
        .post(format!("{base}/v1/auth/signup"))
        .json(&serde_json::json!({"email": email, "password": password, "display_name": "Sec"}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let token = |form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = format!("{base}/v1/oauth/token");
        async move {
            let response = client.post(url).form(&form).send().await.unwrap();
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let wrong = token(vec![
        ("grant_type", "password".into()),
        ("client_id", "vigor-web".into()),
        ("username", email.into()),
        ("password", "a-wrong-guess-never-logged".into()),
    ])
    .await;
    assert_eq!(wrong["error"], "invalid_grant");
    let first = token(vec![
        ("grant_type", "password".into()),
        ("client_id", "vigor-web".into()),
        ("username", email.into()),
        ("password", password.into()),
    ])
    .await;
    let first_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let second = token(vec![
        ("grant_type", "refresh_token".into()),
        ("client_id", "vigor-web".into()),
        ("refresh_token", first_refresh.clone()),
    ])
    .await;
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    let access = second["access_token"].as_str().unwrap().to_owned();
    // A reused refresh token (it revokes the family, and is logged as reuse).
    let reused = token(vec![
        ("grant_type", "refresh_token".into()),
        ("client_id", "vigor-web".into()),
        ("refresh_token", first_refresh.clone()),
    ])
    .await;
    assert_eq!(reused["error"], "invalid_grant");
    let service = client
        .post(format!("{base}/v1/oauth/token"))
        .basic_auth("reporting", Some(&client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "hub.publish"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(service.status(), 200);
    let service: serde_json::Value = service.json().await.unwrap();
    let service_token = service["access_token"].as_str().unwrap().to_owned();
    let wrong_secret = client
        .post(format!("{base}/v1/oauth/token"))
        .basic_auth("reporting", Some("a-wrong-client-secret-never-logged"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_secret.status(), 401);
    client
        .post(format!("{base}/v1/oauth/revoke"))
        .basic_auth("reporting", Some(&client_secret))
        .form(&[("token", second_refresh.as_str())])
        .send()
        .await
        .unwrap();
    client
        .post(format!("{base}/v1/auth/logout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    // Let the last lines arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let logs = vigor.logs();
    assert!(logs.len() > 20, "trace logging is on: {} lines", logs.len());
    let secrets = [
        ("the password", password.to_owned()),
        ("a wrong password", "a-wrong-guess-never-logged".to_owned()),
        ("the client secret", client_secret),
        (
            "a wrong client secret",
            "a-wrong-client-secret-never-logged".to_owned(),
        ),
        ("a refresh token", first_refresh),
        ("a rotated refresh token", second_refresh),
        ("an access token", access),
        ("a client token", service_token),
        ("a signing key", ED25519_PKCS8_BASE64.to_owned()),
        ("a PEM key", "PRIVATE KEY".to_owned()),
    ];
    for line in &logs {
        for (what, secret) in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "{what} is in the logs: {line}"
            );
        }
    }
}
