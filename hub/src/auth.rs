//! Who is on the other end of a session.
//!
//! The hub only needs "this token belongs to user U until T", so authentication is
//! one small trait, [`Authenticator`]. The real implementation is the shared
//! access-token [`Verifier`] (EdDSA JWTs checked locally against the issuer's
//! keys); only user tokens open sessions — a client-credentials token has no user
//! to push to — and only with the `social:read` scope (which `api` includes): the
//! live channels carry chats, communities, presence and leaderboards, so a token
//! meant only for, say, the training log opens none.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use vigor_common::auth::{scopes, Caller, Claims, Verifier, VerifyError};
use vigor_common::Id;

use crate::protocol::ErrorCode;

/// A bound on token expiry times, far beyond any real token (about 100 years).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The user a session acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: Id,
    /// The user's roles when the token was issued.
    pub roles: Vec<String>,
    /// When the token stops being valid.
    pub expires_at: SystemTime,
    /// The token's sign-in session and issue time, for ended-session notices.
    pub token: TokenOrigin,
    /// The token itself, sent on when the hub asks a service for this user (chat
    /// membership, `chat.send`); a renewed session carries its fresh token.
    pub bearer: BearerToken,
}

/// The text of the access token a session authenticated with.
///
/// The hub calls services on the user's behalf with it, so that the service
/// decides with the user's own identity and scopes. It is a credential: its
/// `Debug` shows nothing of it, and it is never logged.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    /// Wraps the token text.
    pub fn new(token: &str) -> BearerToken {
        BearerToken(Arc::from(token))
    }

    /// The token text, for an `Authorization: Bearer` header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether there is no token (a principal made without one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Where a token comes from: what a [`vigor_common::auth::SessionsEnded`] notice
/// is matched against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenOrigin {
    /// The sign-in session (refresh family).
    pub session: Option<Id>,
    /// Issued at, unix seconds.
    pub issued_at: i64,
}

impl Principal {
    /// Whether the principal has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The expiry in unix seconds (as sent to clients).
    pub fn expires_at_unix(&self) -> u64 {
        self.expires_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Malformed, badly signed, for another issuer or audience, or not a user's token.
    #[error("the token is not valid: {0}")]
    Invalid(String),
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// Tokens cannot be checked right now (the issuer's keys are unreachable).
    #[error("tokens cannot be checked right now")]
    Unavailable,
    /// A valid token whose scopes do not cover the live channels.
    #[error("the token lacks the {:?} scope", scopes::SOCIAL_READ)]
    InsufficientScope,
}

impl AuthError {
    /// The `error` frame code for it.
    pub fn code(&self) -> ErrorCode {
        match self {
            AuthError::Invalid(_) => ErrorCode::InvalidToken,
            AuthError::Expired => ErrorCode::TokenExpired,
            AuthError::Unavailable => ErrorCode::Unavailable,
            AuthError::InsufficientScope => ErrorCode::Forbidden,
        }
    }
}

/// Turns an access token into the user it belongs to.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Verifies `token`.
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError>;
}

#[async_trait]
impl Authenticator for Verifier {
    async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self.verify(token).await.map_err(|error| match error {
            VerifyError::Expired => AuthError::Expired,
            VerifyError::KeysUnavailable => AuthError::Unavailable,
            other => AuthError::Invalid(other.to_string()),
        })?;
        Ok(Principal {
            bearer: BearerToken::new(token),
            ..principal(&claims)?
        })
    }
}

/// The user verified `claims` act for, when they may open a session.
fn principal(claims: &Claims) -> Result<Principal, AuthError> {
    let caller = Caller::from_claims(claims)
        .ok_or_else(|| AuthError::Invalid("a client-credentials token has no user".into()))?;
    if !scopes::covers(&caller.scopes, scopes::SOCIAL_READ) {
        return Err(AuthError::InsufficientScope);
    }
    // A far-future `exp` saturates instead of overflowing the clock type.
    let expires_at = u64::try_from(caller.expires_at).unwrap_or(0);
    let expires_at = UNIX_EPOCH
        .checked_add(Duration::from_secs(expires_at))
        .unwrap_or(UNIX_EPOCH + MAX_TOKEN_LIFETIME);
    Ok(Principal {
        user_id: caller.user_id,
        roles: caller.roles,
        expires_at,
        token: TokenOrigin {
            session: claims.sid,
            issued_at: claims.iat,
        },
        bearer: BearerToken::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(scope: &str) -> Claims {
        Claims {
            iss: "https://vigor.test".into(),
            sub: "42".into(),
            aud: "vigor".into(),
            exp: 4_000_000_000,
            iat: 1_700_000_000,
            jti: "j".into(),
            scope: scope.into(),
            roles: vec!["user".into()],
            client_id: "app".into(),
            sid: None,
            auth_time: None,
        }
    }

    #[test]
    fn a_session_needs_a_scope_that_covers_the_live_channels() {
        assert!(principal(&claims("api")).is_ok());
        assert!(principal(&claims("social:read")).is_ok());
        for narrow in [
            "profile:read",
            "training:read training:write",
            "account",
            "",
        ] {
            let refused = principal(&claims(narrow));
            assert_eq!(refused, Err(AuthError::InsufficientScope), "{narrow}");
            assert_eq!(AuthError::InsufficientScope.code(), ErrorCode::Forbidden);
        }
    }

    #[test]
    fn the_bearer_token_never_shows_in_debug_output() {
        let principal = Principal {
            bearer: BearerToken::new("eyJ.secret.sig"),
            ..principal(&claims("api")).unwrap()
        };
        let shown = format!("{principal:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(principal.bearer.expose(), "eyJ.secret.sig");
    }
}
