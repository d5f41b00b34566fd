//! `GET /.well-known/jwks.json` (the public keys) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414 metadata), which is all
//! a standard OAuth client library needs to find every other endpoint.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use vigor_common::auth::{scopes, Jwks};
use vigor_common::Problem;

use crate::domain::GrantType;
use crate::service::AuthService;

/// RFC 8414 authorization server metadata.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServerMetadata {
    /// The issuer (`iss` of tokens).
    pub issuer: String,
    /// Where users sign in.
    pub authorization_endpoint: String,
    /// Where clients get tokens.
    pub token_endpoint: String,
    /// The public keys.
    pub jwks_uri: String,
    /// RFC 7009 revocation.
    pub revocation_endpoint: String,
    /// RFC 7662 introspection.
    pub introspection_endpoint: String,
    /// Every scope Vigor knows (`vigor_common::auth::scopes`).
    pub scopes_supported: Vec<String>,
    /// `code`.
    pub response_types_supported: Vec<String>,
    /// `query`.
    pub response_modes_supported: Vec<String>,
    /// The grants.
    pub grant_types_supported: Vec<String>,
    /// How clients authenticate at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// How clients authenticate at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// How clients authenticate at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// `S256` only.
    pub code_challenge_methods_supported: Vec<String>,
    /// The authorization response carries `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The keys that verify access tokens.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "oauth",
    responses((status = 200, description = "The JWK set (Ed25519 keys, `kid`, `alg: EdDSA`).", body = Jwks))
)]
pub async fn jwks(State(auth): State<AuthService>) -> Result<Response, Problem> {
    let keys = auth.keys.published().await?;
    let mut response = Json(Jwks::from_keys(&keys)).into_response();
    // Verifiers cache the keys themselves and re-read them on an unknown kid; a
    // shared cache in between must not hide a rotation from them.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Where everything is (RFC 8414).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "oauth",
    responses((status = 200, description = "Authorization server metadata.", body = ServerMetadata))
)]
pub async fn metadata(State(auth): State<AuthService>) -> Json<ServerMetadata> {
    let settings = auth.settings();
    let client_auth = ["client_secret_basic", "client_secret_post", "none"];
    Json(ServerMetadata {
        issuer: settings.issuer.clone(),
        authorization_endpoint: settings.endpoint("/v1/oauth/authorize"),
        token_endpoint: settings.endpoint("/v1/oauth/token"),
        jwks_uri: settings.endpoint("/.well-known/jwks.json"),
        revocation_endpoint: settings.endpoint("/v1/oauth/revoke"),
        introspection_endpoint: settings.endpoint("/v1/oauth/introspect"),
        scopes_supported: scopes::names().map(str::to_owned).collect(),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        grant_types_supported: GrantType::ALL
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        token_endpoint_auth_methods_supported: strings(&client_auth),
        revocation_endpoint_auth_methods_supported: strings(&client_auth),
        introspection_endpoint_auth_methods_supported: strings(&[
            "client_secret_basic",
            "client_secret_post",
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
        authorization_response_iss_parameter_supported: true,
    })
}
