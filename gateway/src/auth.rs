//! Access tokens at the gateway.
//!
//! Every request gets the process's [`Verifier`] in its extensions, so any handler
//! can take a `Caller` and have its token checked locally against the published
//! keys. At the edge (all-in-one and `--target gateway`), a request that carries a
//! bearer token which does not verify — forged, expired, `alg: none`, the wrong
//! audience — is refused with 401 right here, before it reaches (or is proxied to)
//! a service. Requests without a token pass: a public endpoint needs none, and
//! every protected one refuses them itself, since authorization is checked in the
//! service that owns the data.
//!
//! The OAuth endpoints are the exception ([`TOKEN_BLIND`]): they never take a
//! bearer token (they authenticate the client, RFC 6749 §2.3, or the person on the
//! login page) and answer every error in OAuth's own format (§5.2), which is what
//! their clients read; a stray bearer token there gets that answer from them, not
//! a problem+json from the edge.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vigor_common::auth::{authenticate, bearer_token, Verifier};

/// Path prefixes whose routes never read a bearer token, so a stale one is let
/// through to them.
pub const TOKEN_BLIND: &[&str] = &["/v1/oauth/"];

/// Middleware for the edge: refuses requests whose bearer token does not verify.
pub async fn reject_invalid_tokens(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if bearer_token(request.headers()).is_none()
        || TOKEN_BLIND.iter().any(|prefix| path.starts_with(prefix))
    {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Err(rejection) = authenticate(&mut parts).await {
        return rejection.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The extension every request carries.
pub fn extension(verifier: Arc<Verifier>) -> axum::Extension<Arc<Verifier>> {
    axum::Extension(verifier)
}
