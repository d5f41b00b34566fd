//! `POST /v1/oauth/token`, `/v1/oauth/revoke` (RFC 7009) and
//! `/v1/oauth/introspect` (RFC 7662). Errors are RFC 6749 bodies, and every
//! response carries `Cache-Control: no-store`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{authenticate_client, ClientAddress, Form};
use crate::domain::{ClientKind, GrantType};
use crate::error::{OAuthError, OAuthErrorBody};
use crate::service::AuthService;
use crate::tokens::{Introspection, TokenResponse};

/// The parameters of a token request (form-encoded); which are needed depends on
/// `grant_type`. Clients authenticate with HTTP Basic or `client_id`/`client_secret`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `authorization_code`, `refresh_token`, `password` or `client_credentials`.
    pub grant_type: String,
    /// The client (public clients; confidential ones may use Basic instead).
    pub client_id: Option<String>,
    /// The secret of a confidential client (or use Basic).
    pub client_secret: Option<String>,
    /// `authorization_code`: the code from the redirect.
    pub code: Option<String>,
    /// `authorization_code`: the redirect URI of the authorization request.
    pub redirect_uri: Option<String>,
    /// `authorization_code`: the PKCE verifier.
    pub code_verifier: Option<String>,
    /// `refresh_token`: the refresh token.
    pub refresh_token: Option<String>,
    /// `password`: the email.
    pub username: Option<String>,
    /// `password`: the password.
    pub password: Option<String>,
    /// Space-separated scopes (default: all the client may have; a refresh may narrow).
    pub scope: Option<String>,
}

/// A revocation or introspection request (form-encoded), with client authentication.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenOnlyRequest {
    /// The access or refresh token.
    pub token: String,
    /// `access_token` or `refresh_token` (optional; Vigor tells them apart itself).
    pub token_type_hint: Option<String>,
    /// The client (or use Basic).
    pub client_id: Option<String>,
    /// The secret of a confidential client (or use Basic).
    pub client_secret: Option<String>,
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Issues tokens.
#[utoipa::path(
    post,
    path = "/v1/oauth/token",
    tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens (RFC 6749 §5.1).", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`.", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: client authentication failed.", body = OAuthErrorBody),
        (status = 429, description = "Too many failed sign-ins (password grant); see `Retry-After`.", body = OAuthErrorBody),
    )
)]
pub async fn token(
    State(auth): State<AuthService>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse_body(&headers, &body).map_err(OAuthError::invalid_request)?;
    let client = authenticate_client(&auth, &headers, &form).await?;
    let grant_type = form.require("grant_type")?;
    let grant: GrantType = grant_type.parse().map_err(|_| {
        OAuthError::unsupported_grant_type(format!("grant_type {grant_type:?} is not supported"))
    })?;
    if !client.allows(grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "client {} may not use the {grant} grant",
            client.id
        )));
    }
    let response = match grant {
        GrantType::AuthorizationCode => {
            let code = form.require("code")?;
            let redirect_uri = form.require("redirect_uri")?;
            let verifier = form.require("code_verifier")?;
            auth.exchange_code(&client, code, redirect_uri, verifier)
                .await?
        }
        GrantType::RefreshToken => {
            let refresh_token = form.require("refresh_token")?;
            auth.refresh(&client, refresh_token, form.get("scope"))
                .await?
        }
        GrantType::Password => {
            let username = form.require("username")?;
            let password = form.require("password")?;
            auth.password_grant(&client, username, password, form.get("scope"), address)
                .await?
        }
        GrantType::ClientCredentials => auth.issue_for_client(&client, form.get("scope")).await?,
    };
    Ok(no_store(Json(response).into_response()))
}

/// Revokes a refresh token (its whole session) or the session of an access token.
#[utoipa::path(
    post,
    path = "/v1/oauth/revoke",
    tag = "oauth",
    request_body(content = TokenOnlyRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or the token was unknown (RFC 7009 §2.2)."),
        (status = 400, description = "`invalid_request`.", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`.", body = OAuthErrorBody),
    )
)]
pub async fn revoke(
    State(auth): State<AuthService>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse_body(&headers, &body).map_err(OAuthError::invalid_request)?;
    let client = authenticate_client(&auth, &headers, &form).await?;
    let token = form.require("token")?;
    auth.revoke(&client, token).await?;
    Ok(no_store(().into_response()))
}

/// Tells whether a token is active, and what it grants. Only resource servers may
/// ask: confidential clients registered with the `introspect` scope.
///
/// Any other client that authenticates is refused with 403 `insufficient_scope`
/// (RFC 7662 §2.3: a caller without sufficient privileges gets 403), not with
/// `{"active":false}`: a refusal that looks like an answer would hide a
/// misconfigured resource server, and a 403 tells an unauthorised caller nothing
/// about any token.
#[utoipa::path(
    post,
    path = "/v1/oauth/introspect",
    tag = "oauth",
    request_body(content = TokenOnlyRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The token's state (RFC 7662 §2.2).", body = Introspection),
        (status = 400, description = "`invalid_request`.", body = OAuthErrorBody),
        (status = 401, description = "`invalid_client`: a confidential client must authenticate.", body = OAuthErrorBody),
        (status = 403, description = "`insufficient_scope`: the client is not a resource server (no `introspect` scope).", body = OAuthErrorBody),
    )
)]
pub async fn introspect(
    State(auth): State<AuthService>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let form = Form::parse_body(&headers, &body).map_err(OAuthError::invalid_request)?;
    let client = authenticate_client(&auth, &headers, &form).await?;
    if client.kind != ClientKind::Confidential {
        return Err(OAuthError::invalid_client(
            "introspection is for confidential clients (resource servers)",
        ));
    }
    if !client.may_introspect() {
        return Err(OAuthError::insufficient_scope(
            "introspection is for resource servers: clients registered with the introspect scope",
        ));
    }
    let token = form.require("token")?;
    let introspection = auth.introspect(token).await?;
    Ok(no_store(Json(introspection).into_response()))
}
