//! Discovery: RFC 8414 metadata, the JWKS, and the OpenAPI document.

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

mod common;

use vigor_common::on_both_backends;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;

async fn metadata_names_every_endpoint_under_the_issuer(app: TestApp) {
    let response = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["issuer"], app.base.as_str());
    for (field, path) in [
        ("authorization_endpoint", "/v1/oauth/authorize"),
        ("token_endpoint", "/v1/oauth/token"),
        ("jwks_uri", "/.well-known/jwks.json"),
        ("revocation_endpoint", "/v1/oauth/revoke"),
        ("introspection_endpoint", "/v1/oauth/introspect"),
    ] {
        assert_eq!(metadata[field], app.url(path).as_str(), "{field}");
        // Each advertised endpoint exists (it answers something other than 404).
        let status = app.http.get(app.url(path)).send().await.unwrap().status();
        assert_ne!(status, StatusCode::NOT_FOUND, "{field}");
    }
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    for grant in [
        "authorization_code",
        "refresh_token",
        "password",
        "client_credentials",
    ] {
        assert!(grants.iter().any(|g| g == grant), "{grant}");
    }
    // Every scope a client may be registered with, not only the web client's.
    let scopes = metadata["scopes_supported"].as_array().unwrap();
    for scope in [
        "api",
        "account",
        "profile:read",
        "training:write",
        "hub.publish",
    ] {
        assert!(scopes.iter().any(|s| s == scope), "{scope}");
    }
}

async fn the_jwks_publishes_one_ed25519_key_at_start(app: TestApp) {
    let response = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert_eq!(keys[0]["alg"], "EdDSA");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0]["kid"].is_string());
    assert!(keys[0].get("d").is_none(), "never the private key");
}

on_both_backends!(
    metadata_names_every_endpoint_under_the_issuer,
    the_jwks_publishes_one_ed25519_key_at_start,
);

#[test]
fn the_openapi_document_describes_every_endpoint() {
    let doc = serde_json::to_value(vigor_auth::openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/auth/signup", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/me/password", "put"),
        ("/v1/auth/me/email", "put"),
        ("/v1/auth/me/export", "get"),
        ("/v1/auth/reauthenticate", "post"),
        ("/v1/oauth/authorize", "get"),
        ("/v1/oauth/authorize", "post"),
        ("/v1/oauth/token", "post"),
        ("/v1/oauth/revoke", "post"),
        ("/v1/oauth/introspect", "post"),
        ("/.well-known/jwks.json", "get"),
        ("/.well-known/oauth-authorization-server", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not documented"
        );
    }
    assert_eq!(paths.len(), 12);
    let spec = vigor_auth::spec();
    for path in paths.keys() {
        assert!(
            spec.prefixes.iter().any(|p| path.starts_with(p)),
            "{path} is outside the service's prefixes"
        );
    }
}
