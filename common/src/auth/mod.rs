//! Access tokens: what they claim, and how every component verifies them locally.
//!
//! The auth service is the one place that signs tokens; the gateway and every
//! service verify them here, without calling it: a [`Verifier`] checks the
//! signature against the issuer's public keys (EdDSA only, `kid` required), the
//! issuer, the audience and the expiry (at most 30 s of leeway). The keys come from
//! a [`KeySource`]: the auth service itself in all-in-one mode, or its JWKS URL
//! ([`JwksUrl`]) when it runs as another process. Keys are cached; an unknown `kid`
//! (the issuer rotated its key) re-reads them, at most once per interval, so a
//! flood of forged `kid`s cannot turn into a flood of fetches.
//!
//! Handlers take the caller as a typed value: the [`Caller`] extractor (a user) or
//! [`ClientCaller`] (a service with a client-credentials token). Both find the
//! `Arc<Verifier>` in the request extensions, where the gateway or the service puts
//! it with `axum::Extension`.
//!
//! What a valid token may do is its scopes' business: [`scopes`] defines them
//! and the per-router [`scopes::ScopePolicy`] that enforces them.
//!
//! A token whose session ended (sign-out, revocation, password change,
//! deactivation, …) is refused from the moment the [`revocation`] notice reaches
//! the verifier, not only when it expires.

pub mod caller;
pub mod keys;
pub mod revocation;
pub mod scopes;
pub mod verifier;

use serde::{Deserialize, Serialize};

use crate::id::Id;

pub use caller::{
    authenticate, bearer_token, AuthRejection, Caller, ClientCaller, RecentSignIn, RECENT_SIGN_IN,
};
pub use keys::{Jwk, Jwks, JwksUrl, KeySource, PublicKey, StaticKeys};
pub use revocation::{Revocations, SessionsEnded};
pub use scopes::ScopePolicy;
pub use verifier::{Verifier, VerifierConfig, VerifyError};

/// The JWS algorithm of every Vigor access token.
pub const ALGORITHM: &str = "EdDSA";

/// The `typ` header of access tokens (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";

/// The JWS header of an access token signed with the key `kid`: EdDSA, the
/// `kid`, and `typ: at+jwt` (RFC 9068 §2.1), which verifiers require so that no
/// other JWT signed with the same key passes for an access token. Everything
/// that mints access tokens (the auth service, test issuers) uses it.
pub fn access_token_header(kid: &str) -> jsonwebtoken::Header {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.typ = Some(TOKEN_TYPE.to_owned());
    header
}

/// The claims of a Vigor access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the auth service's public URL.
    pub iss: String,
    /// Subject: a user id (decimal) or, for client credentials, the client id.
    pub sub: String,
    /// Audience: the API.
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Unique token id.
    pub jti: String,
    /// Granted scopes, space-separated.
    #[serde(default)]
    pub scope: String,
    /// The user's roles (empty for client tokens).
    #[serde(default)]
    pub roles: Vec<String>,
    /// The client the token was issued to.
    pub client_id: String,
    /// The sign-in session (refresh family) the token belongs to, for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Id>,
    /// When the user last proved who they are (entered their password), unix
    /// seconds (OpenID Connect's `auth_time`); what a step-up check reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

impl Claims {
    /// The user the token acts for; `None` for a client-credentials token.
    pub fn user_id(&self) -> Option<Id> {
        // Client ids always contain a non-digit, so a decimal subject is a user.
        self.sub.parse().ok()
    }

    /// The scopes, one by one.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}
