//! Issuing tokens: the grants of the token endpoint, revocation and introspection.
//!
//! Access tokens are short-lived JWTs (see [`crate::keys`]); refresh tokens are
//! opaque and stored hashed, in families: each use rotates the token, and a second
//! use of a rotated token revokes the family (OAuth 2.0 Security BCP §4.14), since
//! it means the token leaked. Roles and the account status are read again on every
//! refresh, so a role change or a deactivation reaches the next access token.
//!
//! A family also has an absolute lifetime (`auth.refresh_family_max_age_secs`, 90
//! days from sign-in): no refresh token of it expires later, and a refresh after it
//! answers `invalid_grant`, so a stolen session cannot be kept alive forever by
//! rotating it (RFC 9700 §4.14.2).

use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use vigor_common::api::Timestamp;

use vigor_common::auth::{Caller, Claims, SessionsEnded};
use vigor_common::Id;

use crate::domain::pkce::CodeChallenge;
use crate::domain::{secret, Client, GrantType, Scope};
use crate::error::OAuthError;
use crate::lifecycle::ChangeError;
use crate::service::AuthService;
use crate::store::{
    AccountStatus, AuthorizationCode, CodeRedemption, Credential, NewRefreshToken, RefreshFamily,
    RefreshTokenState, Rotation,
};

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// A refresh token, for clients that may refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: String,
}

/// An introspection response (RFC 7662 §2.2); inactive tokens say only `active: false`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Introspection {
    /// Whether the token is currently usable.
    pub active: bool,
    /// Its scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The user id, or the client id for client tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The audience (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The token id (access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A token presented for revocation or introspection, once identified.
enum Presented {
    Access(Claims),
    Refresh(RefreshTokenState),
}

fn invalid_scope(error: crate::domain::scope::ScopeError) -> OAuthError {
    OAuthError::invalid_scope(error.to_string())
}

impl AuthService {
    /// Signs an access token.
    async fn access_token(
        &self,
        sub: String,
        client_id: &str,
        scope: &Scope,
        roles: Vec<String>,
        sid: Option<Id>,
        auth_time: Option<i64>,
    ) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            sub,
            aud: self.settings.audience.clone(),
            exp: now + self.settings.access_ttl.num_seconds(),
            iat: now,
            jti: self.ids.next_id().to_string(),
            scope: scope.to_string(),
            roles,
            client_id: client_id.to_owned(),
            sid,
            auth_time,
        };
        self.keys.sign(&claims).await
    }

    /// A new refresh token of a family that started at `family_start`: it
    /// expires after the refresh lifetime or with the family, whichever is first.
    fn new_refresh_token(&self, family_start: Timestamp) -> (String, NewRefreshToken) {
        let token = secret::generate();
        let now = Utc::now();
        let stored = NewRefreshToken {
            token_hash: secret::hash(&token),
            created_at: now,
            expires_at: (now + self.settings.refresh_ttl).min(self.family_end(family_start)),
        };
        (token, stored)
    }

    /// When a family that started at `family_start` ends, however often rotated.
    fn family_end(&self, family_start: Timestamp) -> Timestamp {
        family_start + self.settings.refresh_max_age
    }

    /// Tokens for a user who just signed in with `client`: an access token and,
    /// when the client may refresh, a refresh token in a new family (whose id is
    /// returned too).
    pub async fn issue_for_user(
        &self,
        user: &Credential,
        client: &Client,
        scope: Scope,
    ) -> anyhow::Result<(TokenResponse, Option<Id>)> {
        let (refresh_token, family) = if client.allows(GrantType::RefreshToken) {
            let family = RefreshFamily {
                id: self.ids.next_id(),
                user_id: user.user_id,
                client_id: client.id.clone(),
                scope: scope.to_string(),
                created_at: Utc::now(),
                revoked_at: None,
            };
            let (token, stored) = self.new_refresh_token(family.created_at);
            self.store.create_family(&family, &stored).await?;
            (Some(token), Some(family.id))
        } else {
            (None, None)
        };
        let access_token = self
            .access_token(
                user.user_id.to_string(),
                &client.id,
                &scope,
                user.roles.clone(),
                family,
                // The user just proved who they are.
                Some(Utc::now().timestamp()),
            )
            .await?;
        let response = TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_token,
            scope: scope.to_string(),
        };
        Ok((response, family))
    }

    /// Step-up (RFC 9470): after checking `password` as `caller`'s, a new access
    /// token of the caller's session, client and scope whose `auth_time` is now —
    /// what the actions behind [`vigor_common::auth::RecentSignIn`] ask for.
    pub async fn reauthenticate(
        &self,
        caller: &Caller,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<TokenResponse, ChangeError> {
        let user = self
            .check_password(caller.user_id, password, address)
            .await?;
        let scope = Scope::parse(&caller.scopes.join(" "))
            .map_err(|e| ChangeError::Internal(anyhow::anyhow!("a verified token's scope: {e}")))?;
        let access_token = self
            .access_token(
                user.user_id.to_string(),
                &caller.client_id,
                &scope,
                user.roles,
                caller.session_id,
                Some(Utc::now().timestamp()),
            )
            .await?;
        Ok(self.access_only(access_token, &scope))
    }

    /// A token response without a refresh token.
    fn access_only(&self, access_token: String, scope: &Scope) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_token: None,
            scope: scope.to_string(),
        }
    }

    /// The `client_credentials` grant: a token for the client itself, no refresh.
    pub async fn issue_for_client(
        &self,
        client: &Client,
        requested_scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let scope = Scope::grant(requested_scope, &client.scopes).map_err(invalid_scope)?;
        let access_token = self
            .access_token(
                client.id.clone(),
                &client.id,
                &scope,
                Vec::new(),
                None,
                None,
            )
            .await?;
        Ok(self.access_only(access_token, &scope))
    }

    /// The `password` grant.
    pub async fn password_grant(
        &self,
        client: &Client,
        email: &str,
        password: &str,
        requested_scope: Option<&str>,
        address: Option<std::net::IpAddr>,
    ) -> Result<TokenResponse, OAuthError> {
        let scope = Scope::grant(requested_scope, &client.scopes).map_err(invalid_scope)?;
        let user = self
            .authenticate_user(email, password, address)
            .await
            .map_err(|e| match e {
                crate::login::LoginError::InvalidCredentials => {
                    OAuthError::invalid_grant("invalid email or password")
                }
                crate::login::LoginError::TooManyAttempts { retry_after } => {
                    OAuthError::too_many_attempts(retry_after)
                }
                crate::login::LoginError::Busy { retry_after } => OAuthError::busy(retry_after),
                crate::login::LoginError::Internal(e) => OAuthError::server_error(e),
            })?;
        Ok(self.issue_for_user(&user, client, scope).await?.0)
    }

    /// Stores an authorization code for `user` and returns it.
    pub async fn create_code(
        &self,
        client: &Client,
        user_id: Id,
        redirect_uri: &str,
        challenge: &CodeChallenge,
        scope: &Scope,
    ) -> anyhow::Result<String> {
        let code = secret::generate();
        let now = Utc::now();
        self.store
            .insert_code(&AuthorizationCode {
                code_hash: secret::hash(&code),
                client_id: client.id.clone(),
                user_id,
                redirect_uri: redirect_uri.to_owned(),
                code_challenge: challenge.as_str().to_owned(),
                scope: scope.to_string(),
                created_at: now,
                expires_at: now + self.settings.code_ttl,
            })
            .await?;
        Ok(code)
    }

    /// The `authorization_code` grant with PKCE. The code is spent whatever the
    /// outcome, so a wrong verifier cannot be retried; a second use of a spent code
    /// revokes the tokens issued for it (RFC 6749 §4.1.2).
    pub async fn exchange_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, OAuthError> {
        let code_hash = secret::hash(code);
        let issued = match self.store.redeem_code(&code_hash, Utc::now()).await? {
            CodeRedemption::Redeemed(issued) => issued,
            CodeRedemption::Reused { revoked_family } => {
                tracing::warn!(client = %client.id, ?revoked_family, "an authorization code was used twice");
                return Err(OAuthError::invalid_grant(
                    "the authorization code was used already",
                ));
            }
            CodeRedemption::Unknown => {
                return Err(OAuthError::invalid_grant("unknown authorization code"))
            }
        };
        if issued.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if issued.expires_at <= Utc::now() {
            return Err(OAuthError::invalid_grant(
                "the authorization code has expired",
            ));
        }
        if issued.redirect_uri != redirect_uri {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the one of the authorization request",
            ));
        }
        if !CodeChallenge::from_stored(issued.code_challenge.clone()).is_answered_by(code_verifier)
        {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let user = match self.store.credential(issued.user_id).await? {
            Some(user) if user.status == AccountStatus::Active => user,
            _ => return Err(OAuthError::invalid_grant("the account is no longer active")),
        };
        let scope = Scope::parse(&issued.scope).map_err(invalid_scope)?;
        let (response, family) = self.issue_for_user(&user, client, scope).await?;
        if let Some(family) = family {
            self.store.link_code_family(&code_hash, family).await?;
        }
        Ok(response)
    }

    /// The `refresh_token` grant: rotates the token; a rotated token presented
    /// again revokes its family.
    pub async fn refresh(
        &self,
        client: &Client,
        presented: &str,
        requested_scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let token_hash = secret::hash(presented);
        // Checks that must not spend the token: its client and the scope asked for.
        let Some(state) = self.store.refresh_token(&token_hash).await? else {
            return Err(OAuthError::invalid_grant("unknown refresh token"));
        };
        if state.family.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        let granted = Scope::parse(&state.family.scope).map_err(invalid_scope)?;
        let scope = granted.narrow(requested_scope).map_err(invalid_scope)?;
        if self.family_end(state.family.created_at) <= Utc::now() {
            return Err(OAuthError::invalid_grant(
                "the session has reached its maximum lifetime; sign in again",
            ));
        }

        let (token, next) = self.new_refresh_token(state.family.created_at);
        let family = match self
            .store
            .rotate_refresh_token(&token_hash, &next, Utc::now())
            .await?
        {
            Rotation::Rotated(family) => family,
            Rotation::Reused { family_id } => {
                tracing::warn!(client = %client.id, family = %family_id, "a rotated refresh token was reused; its family is revoked");
                return Err(OAuthError::invalid_grant(
                    "the refresh token was used already; the session is revoked",
                ));
            }
            Rotation::Invalid => {
                return Err(OAuthError::invalid_grant(
                    "the refresh token is expired or revoked",
                ));
            }
        };
        let user = match self.store.credential(family.user_id).await? {
            Some(user) if user.status == AccountStatus::Active => user,
            _ => {
                self.store.revoke_family(family.id, Utc::now()).await?;
                return Err(OAuthError::invalid_grant("the account is no longer active"));
            }
        };
        let access_token = self
            .access_token(
                user.user_id.to_string(),
                &client.id,
                &scope,
                user.roles,
                Some(family.id),
                // A refresh proves nothing new: the sign-in was when the family began.
                Some(family.created_at.timestamp()),
            )
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".to_owned(),
            expires_in: self.settings.access_ttl.num_seconds(),
            refresh_token: Some(token),
            scope: scope.to_string(),
        })
    }

    /// What `token` is: a valid access token of ours, or a stored refresh token.
    async fn identify(&self, token: &str) -> anyhow::Result<Option<Presented>> {
        if token.split('.').count() == 3 {
            return Ok(self
                .verifier
                .verify(token)
                .await
                .ok()
                .map(Presented::Access));
        }
        Ok(self
            .store
            .refresh_token(&secret::hash(token))
            .await?
            .map(Presented::Refresh))
    }

    /// Revocation (RFC 7009) by `client`: a refresh token revokes its family, and
    /// so does an access token that belongs to one (access tokens themselves stay
    /// valid until they expire, minutes later, for verifiers that do not ask us).
    /// Unknown tokens and tokens of other clients are ignored.
    pub async fn revoke(&self, client: &Client, token: &str) -> anyhow::Result<()> {
        let family = match self.identify(token).await? {
            Some(Presented::Refresh(state)) if state.family.client_id == client.id => {
                Some((state.family.user_id, state.family.id))
            }
            Some(Presented::Access(claims)) if claims.client_id == client.id => {
                claims.user_id().zip(claims.sid)
            }
            _ => None,
        };
        if let Some((user, family)) = family {
            self.end_session(user, family).await?;
        }
        Ok(())
    }

    /// Ends the session (refresh family) `session` of `user`, and announces it so
    /// that its access tokens stop at once everywhere; `false` when it was not
    /// theirs or had ended already.
    pub async fn end_session(&self, user: Id, session: Id) -> anyhow::Result<bool> {
        match self.store.family(session).await? {
            Some(family) if family.user_id == user => {
                let ended = self.store.revoke_family(session, Utc::now()).await?;
                self.announce_ended(SessionsEnded::session(user, session))
                    .await;
                Ok(ended)
            }
            _ => Ok(false),
        }
    }

    /// Ends every session of `user` (sign-out everywhere) and announces it; how
    /// many were still open.
    pub async fn end_all_sessions(&self, user: Id) -> anyhow::Result<u64> {
        let ended = self.store.revoke_user_families(user, Utc::now()).await?;
        self.announce_ended(SessionsEnded::all(user, None)).await;
        Ok(ended)
    }

    /// Introspection (RFC 7662).
    pub async fn introspect(&self, token: &str) -> anyhow::Result<Introspection> {
        let now = Utc::now();
        Ok(match self.identify(token).await? {
            Some(Presented::Access(claims)) => {
                // An access token of a revoked session is reported inactive.
                let session_alive = match claims.sid {
                    Some(sid) => self
                        .store
                        .family(sid)
                        .await?
                        .is_some_and(|f| f.revoked_at.is_none()),
                    None => true,
                };
                if !session_alive {
                    return Ok(Introspection::default());
                }
                Introspection {
                    active: true,
                    scope: Some(claims.scope),
                    client_id: Some(claims.client_id),
                    token_type: Some("Bearer".to_owned()),
                    exp: Some(claims.exp),
                    iat: Some(claims.iat),
                    sub: Some(claims.sub),
                    aud: Some(claims.aud),
                    iss: Some(claims.iss),
                    jti: Some(claims.jti),
                }
            }
            Some(Presented::Refresh(state)) if state.is_active(now) => Introspection {
                active: true,
                scope: Some(state.family.scope.clone()),
                client_id: Some(state.family.client_id.clone()),
                token_type: Some("refresh_token".to_owned()),
                exp: Some(state.expires_at.timestamp()),
                iat: Some(state.created_at.timestamp()),
                sub: Some(state.family.user_id.to_string()),
                aud: None,
                iss: Some(self.settings.issuer.clone()),
                jti: None,
            },
            _ => Introspection::default(),
        })
    }
}
