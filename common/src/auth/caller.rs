//! The caller of a request, as a typed value for handlers.
//!
//! `Caller` is a user acting through a client; `ClientCaller` is a service acting
//! for itself (client credentials). Both read `Authorization: Bearer …` and verify
//! it with the `Arc<Verifier>` found in the request extensions — once per request:
//! the edge middleware and the scope policy leave the outcome in the extensions
//! for the extractor ([`authenticate`]). A missing or bad
//! token is a 401 problem+json with a `WWW-Authenticate: Bearer` challenge
//! (RFC 6750); a valid token of the wrong kind is a 403.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::verifier::{Verifier, VerifyError};
use super::Claims;
use crate::id::Id;
use crate::problem::Problem;

/// A user calling the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user.
    pub user_id: Id,
    /// The user's roles when the token was issued (`user`, `coach`, `moderator`, `admin`).
    pub roles: Vec<String>,
    /// The scopes the token grants.
    pub scopes: Vec<String>,
    /// The client the user signed in with.
    pub client_id: String,
    /// The sign-in session (refresh family), when the token has one.
    pub session_id: Option<Id>,
    /// The token's id (`jti`).
    pub token_id: String,
    /// When the token expires, unix seconds.
    pub expires_at: i64,
    /// When the user last entered their password, unix seconds, when the token says.
    pub auth_time: Option<i64>,
}

impl Caller {
    /// Whether the caller has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the token grants `scope`, itself or through a scope that implies
    /// it (`api` implies `training:write`, see [`super::scopes`]).
    pub fn has_scope(&self, scope: &str) -> bool {
        super::scopes::covers(&self.scopes, scope)
    }

    /// The caller of verified `claims`; `None` for a client-credentials token.
    pub fn from_claims(claims: &Claims) -> Option<Caller> {
        Some(Caller {
            user_id: claims.user_id()?,
            roles: claims.roles.clone(),
            scopes: claims.scopes().map(str::to_owned).collect(),
            client_id: claims.client_id.clone(),
            session_id: claims.sid,
            token_id: claims.jti.clone(),
            expires_at: claims.exp,
            auth_time: claims.auth_time,
        })
    }
}

/// How recent a sign-in [`RecentSignIn`] asks for.
pub const RECENT_SIGN_IN: std::time::Duration = std::time::Duration::from_secs(300);

/// A user who signed in — or confirmed their password at
/// `POST /v1/auth/reauthenticate` — within [`RECENT_SIGN_IN`]: what destructive
/// account actions (delete, deactivate, export) take instead of [`Caller`], so a
/// stolen or forgotten token alone cannot do them (OWASP ASVS re-authentication).
/// Otherwise 401 with RFC 9470's step-up challenge
/// (`error="insufficient_user_authentication"`, `max_age`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentSignIn(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for RecentSignIn {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let max_age = RECENT_SIGN_IN.as_secs() as i64;
        let now = chrono::Utc::now().timestamp();
        match caller.auth_time {
            Some(at) if now - at <= max_age => Ok(RecentSignIn(caller)),
            _ => Err(AuthRejection::stale_sign_in(max_age)),
        }
    }
}

/// A service calling the API with a client-credentials token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCaller {
    /// The client.
    pub client_id: String,
    /// The scopes the token grants.
    pub scopes: Vec<String>,
}

impl ClientCaller {
    /// Whether the token grants `scope`, itself or through a scope that implies
    /// it (`api` implies `training:write`, see [`super::scopes`]).
    pub fn has_scope(&self, scope: &str) -> bool {
        super::scopes::covers(&self.scopes, scope)
    }
}

/// Why a request was refused authentication: a problem+json response, with a
/// `WWW-Authenticate` challenge for 401s.
#[derive(Debug, Clone)]
pub struct AuthRejection {
    /// The problem.
    pub problem: Problem,
    challenge: Option<HeaderValue>,
}

impl AuthRejection {
    fn missing() -> Self {
        AuthRejection {
            problem: Problem::unauthorized(
                "this endpoint needs an access token: `Authorization: Bearer <token>`",
            ),
            challenge: Some(HeaderValue::from_static("Bearer realm=\"vigor\"")),
        }
    }

    fn invalid(error: &VerifyError) -> Self {
        if *error == VerifyError::KeysUnavailable {
            return AuthRejection {
                problem: Problem::new(axum::http::StatusCode::SERVICE_UNAVAILABLE)
                    .with_detail("access tokens cannot be checked right now")
                    .with_retry_after(5),
                challenge: None,
            };
        }
        // The description is one of VerifyError's fixed messages: no quotes.
        let challenge = format!(
            "Bearer realm=\"vigor\", error=\"invalid_token\", error_description=\"{error}\""
        );
        AuthRejection {
            problem: Problem::unauthorized(error.to_string()),
            challenge: HeaderValue::from_str(&challenge).ok(),
        }
    }

    fn stale_sign_in(max_age: i64) -> Self {
        let challenge = format!(
            "Bearer realm=\"vigor\", error=\"insufficient_user_authentication\", \
             error_description=\"A recent sign-in is required\", max_age={max_age}"
        );
        AuthRejection {
            problem: Problem::typed(
                axum::http::StatusCode::UNAUTHORIZED,
                "insufficient-user-authentication",
                "Recent sign-in required",
            )
            .with_detail(format!(
                "confirm your password with POST /v1/auth/reauthenticate and retry with the \
                 access token it answers (valid for this for {max_age} seconds)"
            )),
            challenge: HeaderValue::from_str(&challenge).ok(),
        }
    }

    fn wrong_kind(detail: &str) -> Self {
        AuthRejection {
            problem: Problem::forbidden(detail),
            challenge: None,
        }
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let mut response = self.problem.into_response();
        if let Some(challenge) = self.challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What verifying a request's bearer token gave, kept in the request's
/// extensions: the edge middleware, the scope policy and the handler's extractor
/// each need the claims, and the token is verified once for all of them.
///
/// Only code in this process can put it there (a client cannot send extensions),
/// and it is used only while the request still carries the same token.
#[derive(Clone)]
struct Verified {
    token: Box<str>,
    outcome: Result<Claims, VerifyError>,
}

/// Verifies the request's bearer token with the verifier in its extensions, once
/// per request: a second call answers from the first one's outcome.
pub async fn authenticate(parts: &mut Parts) -> Result<Claims, AuthRejection> {
    let token = bearer_token(&parts.headers).ok_or_else(AuthRejection::missing)?;
    if let Some(verified) = parts.extensions.get::<Verified>() {
        if *verified.token == *token {
            return verified
                .outcome
                .clone()
                .map_err(|e| AuthRejection::invalid(&e));
        }
    }
    let Some(verifier) = parts.extensions.get::<Arc<Verifier>>() else {
        return Err(AuthRejection {
            problem: Problem::internal(anyhow::anyhow!(
                "no Arc<Verifier> in the request extensions: the router lacks its Extension layer"
            )),
            challenge: None,
        });
    };
    let outcome = verifier.verify(token).await;
    let verified = Verified {
        token: token.into(),
        outcome: outcome.clone(),
    };
    parts.extensions.insert(verified);
    outcome.map_err(|e| AuthRejection::invalid(&e))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let claims = authenticate(parts).await?;
        Caller::from_claims(&claims).ok_or_else(|| {
            AuthRejection::wrong_kind("this endpoint acts for a user; a client token cannot use it")
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientCaller {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let claims = authenticate(parts).await?;
        if claims.user_id().is_some() || claims.sub != claims.client_id {
            return Err(AuthRejection::wrong_kind(
                "this endpoint is for services; it needs a client-credentials token",
            ));
        }
        Ok(ClientCaller {
            scopes: claims.scopes().map(str::to_owned).collect(),
            client_id: claims.client_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::{Extension, Router};
    use jsonwebtoken::EncodingKey;
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use tower::ServiceExt;

    use super::*;
    use crate::auth::keys::{PublicKey, StaticKeys};
    use crate::auth::verifier::VerifierConfig;

    struct Issuer {
        pkcs8: Vec<u8>,
        verifier: Arc<Verifier>,
    }

    fn issuer() -> Issuer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        let public = PublicKey {
            kid: "k1".into(),
            ed25519: pair.public_key().as_ref().try_into().unwrap(),
        };
        let verifier = Verifier::new(
            VerifierConfig::new("https://vigor.test", "vigor"),
            Arc::new(StaticKeys(vec![public])),
        );
        Issuer {
            pkcs8,
            verifier: Arc::new(verifier),
        }
    }

    fn token(issuer: &Issuer, sub: &str, exp_in: i64) -> String {
        token_signed_in(issuer, sub, exp_in, None)
    }

    /// A token of a sign-in `auth_time` ago-seconds ago (`None`: says nothing).
    fn token_signed_in(issuer: &Issuer, sub: &str, exp_in: i64, ago: Option<i64>) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: "https://vigor.test".into(),
            sub: sub.into(),
            aud: "vigor".into(),
            exp: now + exp_in,
            iat: now,
            jti: "j".into(),
            scope: "api users:read".into(),
            roles: if sub == "reporting" {
                vec![]
            } else {
                vec!["user".into(), "coach".into()]
            },
            client_id: if sub == "reporting" {
                "reporting".into()
            } else {
                "vigor-web".into()
            },
            sid: None,
            auth_time: ago.map(|ago| now - ago),
        };
        let header = crate::auth::access_token_header("k1");
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&issuer.pkcs8)).unwrap()
    }

    /// Parts of a request carrying `token`, with `verifier` in its extensions.
    fn parts_with(token: &str, verifier: &Arc<Verifier>) -> Parts {
        let (mut parts, ()) = axum::http::Request::builder()
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts();
        parts.extensions.insert(verifier.clone());
        parts
    }

    #[tokio::test]
    async fn a_request_is_verified_once_for_all_its_layers() {
        let issuer = issuer();
        let good = token(&issuer, "7", 300);
        let mut parts = parts_with(&good, &issuer.verifier);
        assert!(authenticate(&mut parts).await.is_ok());
        // A verifier that knows no key would refuse the token: the second look at
        // the same request answers from the first verification instead.
        let keyless = Arc::new(Verifier::new(
            VerifierConfig::new("https://vigor.test", "vigor"),
            Arc::new(StaticKeys(vec![])),
        ));
        parts.extensions.insert(keyless.clone());
        assert_eq!(authenticate(&mut parts).await.unwrap().sub, "7");

        // The outcome belongs to its token: another token in the same request is
        // verified afresh (here by the keyless verifier, which refuses it).
        let other = token(&issuer, "8", 300);
        parts.headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {other}")).unwrap(),
        );
        assert!(authenticate(&mut parts).await.is_err());
    }

    fn app(issuer: &Issuer) -> Router {
        Router::new()
            .route(
                "/me",
                get(|caller: Caller| async move {
                    format!(
                        "{} {} {}",
                        caller.user_id,
                        caller.has_role("coach"),
                        caller.has_scope("api") && caller.has_scope("profile:write")
                    )
                }),
            )
            .route(
                "/svc",
                get(|caller: ClientCaller| async move { caller.client_id }),
            )
            .route(
                "/delete-me",
                get(|RecentSignIn(caller): RecentSignIn| async move { caller.user_id.to_string() }),
            )
            .layer(Extension(issuer.verifier.clone()))
    }

    async fn call(
        app: &Router,
        path: &str,
        auth: Option<String>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = Request::get(path);
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_user_token_yields_the_caller() {
        let issuer = issuer();
        let app = app(&issuer);
        let auth = format!("bearer {}", token(&issuer, "42", 60));
        let (status, _, body) = call(&app, "/me", Some(auth)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "42 true true");
    }

    #[tokio::test]
    async fn a_missing_token_is_a_401_with_a_bearer_challenge() {
        let issuer = issuer();
        let (status, headers, body) = call(&app(&issuer), "/me", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer realm=\"vigor\"");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert!(body.contains("\"status\":401"), "{body}");
        let (status, _, _) = call(&app(&issuer), "/me", Some("Basic dXNlcjpwdw==".into())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn an_expired_token_names_the_error_in_the_challenge() {
        let issuer = issuer();
        let auth = format!("Bearer {}", token(&issuer, "42", -120));
        let (status, headers, _) = call(&app(&issuer), "/me", Some(auth)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(challenge.contains("expired"), "{challenge}");
    }

    #[tokio::test]
    async fn tokens_of_the_wrong_kind_are_forbidden() {
        let issuer = issuer();
        let app = app(&issuer);
        let service = format!("Bearer {}", token(&issuer, "reporting", 60));
        let user = format!("Bearer {}", token(&issuer, "42", 60));
        assert_eq!(
            call(&app, "/me", Some(service.clone())).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&app, "/svc", Some(user)).await.0,
            StatusCode::FORBIDDEN
        );
        let (status, _, body) = call(&app, "/svc", Some(service)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "reporting"));
    }

    #[tokio::test]
    async fn the_scope_policy_refuses_what_the_token_does_not_cover() {
        use crate::auth::scopes::{self, ScopePolicy};
        let issuer = issuer();
        let policy = ScopePolicy::new(scopes::PROFILE_READ, scopes::PROFILE_WRITE).except(
            axum::http::Method::GET,
            "/account/{id}",
            scopes::ACCOUNT,
        );
        let app = Router::new()
            .route("/profile/{id}", get(|_: Caller| async { "read" }))
            .route("/account/{id}", get(|_: Caller| async { "account" }))
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::new(policy),
                scopes::enforce,
            ))
            .layer(Extension(issuer.verifier.clone()));
        // The token says "api users:read": api covers profile:read.
        let auth = format!("Bearer {}", token(&issuer, "42", 60));
        let (status, _, body) = call(&app, "/profile/1", Some(auth.clone())).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "read"));
        let (status, headers, body) = call(&app, "/account/1", Some(auth)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"vigor\", error=\"insufficient_scope\", scope=\"account\""
        );
        assert!(body.contains("/insufficient_scope\""), "{body}");
        // No token, or one that does not verify: the handler's 401, not a 403.
        assert_eq!(
            call(&app, "/account/1", None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let expired = format!("Bearer {}", token(&issuer, "42", -120));
        assert_eq!(
            call(&app, "/account/1", Some(expired)).await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn a_router_without_a_verifier_fails_closed() {
        let issuer = issuer();
        let app = Router::new().route("/me", get(|_: Caller| async { "in" }));
        let auth = format!("Bearer {}", token(&issuer, "42", 60));
        assert_eq!(
            call(&app, "/me", Some(auth)).await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[tokio::test]
    async fn destructive_actions_need_a_recent_sign_in() {
        let issuer = issuer();
        let app = app(&issuer);
        let signed_in = |ago| format!("Bearer {}", token_signed_in(&issuer, "42", 60, ago));
        let (status, _, body) = call(&app, "/delete-me", Some(signed_in(Some(10)))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "42"));
        let limit = RECENT_SIGN_IN.as_secs() as i64;
        for stale in [Some(limit + 5), None] {
            let (status, headers, body) = call(&app, "/delete-me", Some(signed_in(stale))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{stale:?}");
            let challenge = headers[header::WWW_AUTHENTICATE].to_str().unwrap();
            assert!(
                challenge.contains("error=\"insufficient_user_authentication\"")
                    && challenge.contains(&format!("max_age={limit}")),
                "{challenge}"
            );
            assert!(body.contains("reauthenticate"), "{body}");
        }
        // The same tokens still do everything else.
        assert_eq!(
            call(&app, "/me", Some(signed_in(None))).await.0,
            StatusCode::OK
        );
    }
}
