//! The in-process and the proxy wirings answer the same requests the same way.
//!
//! One suite, [`same_answers`], runs against (a) `vigor serve` all-in-one and (b) a
//! gateway process proxying to one process per service target, as
//! `compose/local-cluster` starts them. Then the proxy's failure modes: a stopped
//! service answers 502 and a silent one 504, as problem+json, never a hang.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use support::{cluster, http, sign_up_and_get_token, Vigor};
use vigor_common::config::{env_name, ServiceName};

const PROBLEM_JSON: &str = "application/problem+json";
const ISSUER: &str = "http://vigor.test";

async fn same_answers(base: &str) {
    let client = http();

    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // Unknown routes, at the gateway and under a service's prefix, are problems.
    for path in [
        "/v1/nothing-here",
        "/v1/users/no-such-route",
        "/v1/auth/no-such-route",
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{path}");
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 404);
        assert_eq!(problem["instance"], path);
    }

    // The request id comes back, whichever process answered.
    let response = client
        .get(format!("{base}/v1/training/no-such-route"))
        .header("x-request-id", "wiring-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "wiring-test-1");

    // Every service's routes are in the document, whichever process serves them.
    let doc: serde_json::Value = client
        .get(format!("{base}/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/healthz"].is_object());
    assert!(doc["paths"]["/v1/oauth/token"].is_object());

    // Accounts and tokens: sign-up, a duplicate refused, the password grant, a
    // protected route with and without a valid token.
    let email = format!("wiring-{}@example.org", std::process::id());
    let token = sign_up_and_get_token(base, &email).await;
    let duplicate = client
        .post(format!("{base}/v1/auth/signup"))
        .json(&serde_json::json!({"email": email, "password": "another long password", "display_name": "Dup"}))
        .send()
        .await
        .unwrap();
    assert_eq!(duplicate.status(), 409);
    assert_eq!(duplicate.headers()["content-type"], PROBLEM_JSON);
    // The profile arrives through the event bus (in-process, or Redis Streams between
    // the auth and users processes); the users service accepts auth's token.
    let deadline = Instant::now() + Duration::from_secs(15);
    let profile: serde_json::Value = loop {
        let response = client
            .get(format!("{base}/v1/users/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break response.json().await.unwrap();
        }
        assert_eq!(response.status(), 404, "users refused the token");
        assert!(Instant::now() < deadline, "the profile never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(profile["email"], email.as_str());
    assert_eq!(profile["display_name"], "Test Athlete");

    let forged = format!("{token}x");
    let refused = client
        .post(format!("{base}/v1/auth/logout"))
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().contains_key("www-authenticate"));
    let logout = client
        .post(format!("{base}/v1/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success(), "{}", logout.status());
    // The ended session's access token is refused at once, though unexpired:
    // auth announced it to every process (over Redis between processes).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let status = client
            .get(format!("{base}/v1/users/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            Instant::now() < deadline,
            "the signed-out token still works"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn in_process_wiring() {
    let vigor = Vigor::serve(&[], &[("VIGOR_AUTH_ISSUER", ISSUER)]);
    same_answers(&vigor.url).await;
}

#[tokio::test]
async fn proxy_wiring() {
    let Some(redis) = vigor_common::testkit::redis_url() else {
        return;
    };
    let (_services, gateway) = cluster(&redis, ISSUER);
    same_answers(&gateway.url).await;
}

#[tokio::test]
async fn a_stopped_service_answers_502_problem() {
    // Ports that were just free: nothing listens there.
    let mut env = Vec::new();
    for service in ServiceName::ALL {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        env.push((env_name(&format!("{service}.url")), url));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gateway = Vigor::serve(&["--target", "gateway"], &env);

    let started = Instant::now();
    let response = http()
        .get(format!("{}/v1/users/me", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["service"], "users");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_silent_service_answers_504_problem() {
    // A service that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let mut env: Vec<(String, String)> = ServiceName::ALL
        .into_iter()
        .map(|s| (env_name(&format!("{s}.url")), silent_url.clone()))
        .collect();
    env.push(("VIGOR_PROXY_TIMEOUT_SECS".to_owned(), "1".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let gateway = Vigor::serve(&["--target", "gateway"], &env);

    let started = Instant::now();
    let response = http()
        .get(format!("{}/v1/training/workouts", gateway.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert_eq!(response.headers()["content-type"], PROBLEM_JSON);
    let problem: serde_json::Value = response.json().await.unwrap();
    assert_eq!(problem["service"], "training");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    holder.abort();
}
