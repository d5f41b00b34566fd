//! The HTTP interface: one module per endpoint group, merged by [`router`].
//!
//! - [`account`]: `POST /v1/auth/signup`, `POST /v1/auth/logout` (problem+json errors);
//! - [`me`]: `PUT /v1/auth/me/password`, `PUT /v1/auth/me/email`, `GET /v1/auth/me/export`;
//! - [`authorize`]: `GET`/`POST /v1/oauth/authorize`, the HTML login page, with
//!   its anti-CSRF token ([`csrf`]);
//! - [`token`]: `POST /v1/oauth/token`, `/revoke`, `/introspect` (RFC 6749 error bodies);
//! - [`wellknown`]: `GET /.well-known/jwks.json` and `/.well-known/oauth-authorization-server`.
//!
//! The OAuth endpoints take `application/x-www-form-urlencoded` bodies, parsed here
//! by [`Form`], which refuses repeated parameters (RFC 6749 §3.2) and treats empty
//! ones as absent (§3.1); clients authenticate with HTTP Basic or form fields
//! ([`authenticate_client`]).

pub mod account;
pub mod authorize;
pub mod csrf;
pub mod me;
pub mod token;
pub mod wellknown;

use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::domain::{secret, Client, ClientKind};
use crate::error::OAuthError;
use crate::service::AuthService;

/// Every route of the service, with its state and verifier applied.
pub fn router(auth: AuthService) -> Router {
    let verifier = auth.verifier();
    Router::new()
        .route("/v1/auth/signup", post(account::signup))
        .route("/v1/auth/logout", post(account::logout))
        .merge(me::router())
        // Any user token: the answer has the same scope, only a newer `auth_time`.
        .route("/v1/auth/reauthenticate", post(me::reauthenticate))
        .route(
            "/v1/oauth/authorize",
            get(authorize::page).post(authorize::submit),
        )
        .route("/v1/oauth/token", post(token::token))
        .route("/v1/oauth/revoke", post(token::revoke))
        .route("/v1/oauth/introspect", post(token::introspect))
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(wellknown::metadata),
        )
        .layer(Extension(verifier))
        .with_state(auth)
}

/// Form parameters (or query parameters of the authorization endpoint).
#[derive(Debug, Clone, Default)]
pub struct Form(HashMap<String, String>);

impl Form {
    /// Parses `application/x-www-form-urlencoded` pairs; a repeated name is an error.
    pub fn parse_pairs(raw: &[u8]) -> Result<Form, String> {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(raw) {
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(format!("parameter {name} is repeated"));
            }
        }
        Ok(Form(params))
    }

    /// Parses a request body, which must be form-encoded.
    pub fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Form, String> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err("the body must be application/x-www-form-urlencoded".to_owned());
        }
        Form::parse_pairs(body)
    }

    /// A parameter; empty values count as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter {name} is required")))
    }
}

/// The client address sign-in limits count: the address the gateway decided
/// ([`vigor_common::client_address`]), an IPv6 client by its /64.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AuthService> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        auth: &AuthService,
    ) -> Result<Self, Self::Rejection> {
        let decided =
            vigor_common::client_address::ClientAddress::from_request_parts(parts, auth).await?;
        Ok(ClientAddress(decided.network()))
    }
}

/// `client_id` and `client_secret` from `Authorization: Basic` (RFC 6749 §2.3.1:
/// each form-urlencoded, then joined by `:` and base64-encoded).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must use the Basic scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((form_decode(id), form_decode(secret))))
}

fn form_decode(component: &str) -> String {
    if component.contains(['&', '=']) {
        return component.to_owned();
    }
    url::form_urlencoded::parse(component.as_bytes())
        .next()
        .map(|(decoded, _)| decoded.into_owned())
        .unwrap_or_default()
}

/// Authenticates the client of a token, revocation or introspection request:
/// confidential clients by their secret (Basic or `client_secret` in the form),
/// public clients by their `client_id` alone.
pub async fn authenticate_client(
    auth: &AuthService,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Client, OAuthError> {
    let basic = basic_credentials(headers)?;
    let (id, presented_secret) = match basic {
        Some((id, secret)) => {
            if form.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if form.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id, Some(secret))
        }
        None => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client authentication is required"))?;
            (id.to_owned(), form.get("client_secret").map(str::to_owned))
        }
    };
    let client = auth
        .client(&id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("unknown client or wrong secret"))?;
    match (client.kind, presented_secret, &client.secret_hash) {
        (ClientKind::Confidential, Some(presented), Some(stored))
            if secret::matches(&presented, stored) =>
        {
            Ok(client)
        }
        (ClientKind::Confidential, _, _) => {
            Err(OAuthError::invalid_client("unknown client or wrong secret"))
        }
        (ClientKind::Public, None, _) => Ok(client),
        (ClientKind::Public, Some(_), _) => {
            Err(OAuthError::invalid_client("a public client has no secret"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_are_absent() {
        assert!(Form::parse_pairs(b"a=1&a=2").is_err());
        let form = Form::parse_pairs(b"a=1&b=&c=x+y%21").unwrap();
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.get("b"), None);
        assert_eq!(form.get("c"), Some("x y!"));
        assert!(form.require("b").is_err());
    }

    #[test]
    fn bodies_must_be_form_encoded() {
        let mut headers = HeaderMap::new();
        assert!(Form::parse_body(&headers, b"a=1").is_err());
        headers.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            Form::parse_body(&headers, b"a=1").unwrap().get("a"),
            Some("1")
        );
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(Form::parse_body(&headers, b"{}").is_err());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20app:s%3Acret");
        headers.insert(
            header::AUTHORIZATION,
            format!("Basic {encoded}").parse().unwrap(),
        );
        assert_eq!(
            basic_credentials(&headers).unwrap(),
            Some(("my app".to_owned(), "s:cret".to_owned()))
        );
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert!(basic_credentials(&headers).is_err());
        headers.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(basic_credentials(&headers).is_err());
    }
}
