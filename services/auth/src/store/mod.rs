//! Storage of the auth service: one trait, [`AuthStore`], and its SQL backend.
//!
//! The trait is the seam between the OAuth logic and the database. Its one
//! implementation, [`SqlStore`], speaks both dialects: the schema keeps instants as
//! unix milliseconds and lists as space-separated text, so nearly every statement
//! is the same on SQLite and PostgreSQL, and the one conformance suite
//! (`conformance.rs`) runs against each.
//!
//! The operations that must be atomic under concurrency are single statements or
//! short transactions that write first (an SQLite transaction that reads before it
//! writes can fail to upgrade its lock): redeeming a code, rotating a refresh token
//! (a second use of a rotated token revokes the family), rotating signing keys.

#[cfg(test)]
mod conformance;
mod lifecycle;
#[cfg(test)]
mod lifecycle_conformance;
mod rows;
mod sql;

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::Id;

use crate::domain::Client;

pub use lifecycle::AccountStore;
pub use sql::SqlStore;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (the message names it).
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// A row that the code cannot have written.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Backend(#[from] sqlx::Error),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    /// May sign in.
    Active,
    /// Deactivated: sign-in is refused.
    Disabled,
}

impl AccountStatus {
    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        }
    }

    fn parse(raw: &str) -> StoreResult<Self> {
        match raw {
            "active" => Ok(AccountStatus::Active),
            "disabled" => Ok(AccountStatus::Disabled),
            other => Err(StoreError::Corrupt(format!("account status {other:?}"))),
        }
    }
}

/// A user's sign-in credentials.
#[derive(Clone, PartialEq)]
pub struct Credential {
    /// The user.
    pub user_id: Id,
    /// Normalised email, unique.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Display name given at sign-up.
    pub display_name: String,
    /// Copy of the user's roles, for access tokens.
    pub roles: Vec<String>,
    /// Whether sign-in is allowed.
    pub status: AccountStatus,
    /// When the account was made.
    pub created_at: Timestamp,
    /// When the credentials last changed.
    pub updated_at: Timestamp,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("roles", &self.roles)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who signed in.
    pub user_id: Id,
    /// The redirect URI of the authorization request.
    pub redirect_uri: String,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// The granted scope, space-separated.
    pub scope: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops being redeemable.
    pub expires_at: Timestamp,
}

/// What presenting a code did.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// First use: the code is now spent (the caller still checks expiry and bindings).
    Redeemed(AuthorizationCode),
    /// The code was used before; the family issued for it (if any) is now revoked.
    Reused {
        /// The family that was revoked.
        revoked_family: Option<Id>,
    },
    /// No such code.
    Unknown,
}

/// A refresh family: every refresh token descending from one sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshFamily {
    /// Its id (also the `sid` claim of access tokens issued in it).
    pub id: Id,
    /// The user.
    pub user_id: Id,
    /// The client.
    pub client_id: String,
    /// The scope granted at sign-in, space-separated.
    pub scope: String,
    /// When the user signed in.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// A refresh token to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRefreshToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum Rotation {
    /// The token was current: it is now rotated and the new token stored.
    Rotated(RefreshFamily),
    /// The token had been rotated already: its whole family is now revoked.
    Reused {
        /// The revoked family.
        family_id: Id,
    },
    /// Unknown, expired, or of a revoked family.
    Invalid,
}

/// A stored refresh token and its family, for introspection and revocation.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshTokenState {
    /// Its family.
    pub family: RefreshFamily,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Whether it was exchanged already.
    pub rotated: bool,
}

impl RefreshTokenState {
    /// Whether the token can still be used at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        !self.rotated && self.family.revoked_at.is_none() && self.expires_at > now
    }
}

/// Whether a signing key signs new tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Signs new tokens (at most one).
    Active,
    /// Only verifies tokens it signed before.
    Retired,
}

impl KeyState {
    fn as_str(self) -> &'static str {
        match self {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        }
    }

    fn parse(raw: &str) -> StoreResult<Self> {
        match raw {
            "active" => Ok(KeyState::Active),
            "retired" => Ok(KeyState::Retired),
            other => Err(StoreError::Corrupt(format!("key state {other:?}"))),
        }
    }
}

/// A token-signing key pair.
#[derive(Clone, PartialEq)]
pub struct SigningKey {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm (`EdDSA`).
    pub algorithm: String,
    /// PKCS#8 DER of the private key.
    pub private_key: Vec<u8>,
    /// The raw public key.
    pub public_key: Vec<u8>,
    /// Active or retired.
    pub state: KeyState,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stopped signing.
    pub retired_at: Option<Timestamp>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

/// Failed sign-ins of one subject in the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    /// How many.
    pub count: u32,
    /// When the window started.
    pub window_start: Timestamp,
}

/// The auth service's storage (with the credentials' lifecycle, [`AccountStore`]).
#[async_trait]
pub trait AuthStore: AccountStore + Send + Sync + 'static {
    /// Stores new credentials and, in the same transaction, `events` in the outbox;
    /// [`StoreError::Conflict`] (and nothing stored) when the email is taken.
    async fn insert_credential(&self, credential: &Credential, events: &[Event])
        -> StoreResult<()>;
    /// The credentials for a normalised email.
    async fn credential_by_email(&self, email: &str) -> StoreResult<Option<Credential>>;
    /// The credentials of a user.
    async fn credential(&self, user_id: Id) -> StoreResult<Option<Credential>>;
    /// Replaces a user's roles; `false` when there is no such user.
    async fn set_roles(&self, user_id: Id, roles: &[String], now: Timestamp) -> StoreResult<bool>;

    /// Registers a client; [`StoreError::Conflict`] when the id is taken.
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    /// A registered client.
    async fn client(&self, id: &str) -> StoreResult<Option<Client>>;
    /// Every registered client, by id.
    async fn clients(&self) -> StoreResult<Vec<Client>>;
    /// Removes a client with its codes and refresh families; `false` when unknown.
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;

    /// Stores an authorization code.
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Spends a code (at most once, even under concurrent requests).
    async fn redeem_code(&self, code_hash: &str, now: Timestamp) -> StoreResult<CodeRedemption>;
    /// Records the refresh family a redeemed code was exchanged for.
    async fn link_code_family(&self, code_hash: &str, family_id: Id) -> StoreResult<()>;
    /// Deletes codes that expired before `before`; how many.
    async fn delete_expired_codes(&self, before: Timestamp) -> StoreResult<u64>;

    /// Starts a refresh family with its first token.
    async fn create_family(
        &self,
        family: &RefreshFamily,
        token: &NewRefreshToken,
    ) -> StoreResult<()>;
    /// Exchanges the token hashed `token_hash` for `next` (see [`Rotation`]).
    async fn rotate_refresh_token(
        &self,
        token_hash: &str,
        next: &NewRefreshToken,
        now: Timestamp,
    ) -> StoreResult<Rotation>;
    /// A refresh token with its family.
    async fn refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshTokenState>>;
    /// A refresh family.
    async fn family(&self, id: Id) -> StoreResult<Option<RefreshFamily>>;
    /// Revokes a family; `false` when unknown or revoked already.
    async fn revoke_family(&self, id: Id, now: Timestamp) -> StoreResult<bool>;
    /// Revokes every family of a user; how many were active.
    async fn revoke_user_families(&self, user_id: Id, now: Timestamp) -> StoreResult<u64>;
    /// Deletes refresh tokens that expired before `before`; how many.
    async fn delete_expired_refresh_tokens(&self, before: Timestamp) -> StoreResult<u64>;

    /// Every signing key, newest first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Stores a key; [`StoreError::Conflict`] when it is active and another active
    /// key exists, or when its kid is taken.
    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    /// Retires the active key and makes `next` (state active) the signing key, atomically.
    async fn rotate_signing_key(&self, next: &SigningKey, now: Timestamp) -> StoreResult<()>;
    /// Deletes keys retired before `before`; how many.
    async fn delete_retired_keys(&self, before: Timestamp) -> StoreResult<u64>;
    /// Replaces the stored private key of `kid` if it still is `current` (the
    /// same key, sealed or unsealed); false when it changed or is gone.
    async fn replace_private_key(
        &self,
        kid: &str,
        current: &[u8],
        replacement: &[u8],
    ) -> StoreResult<bool>;

    /// Counts a failed (or reserves an attempted) sign-in of `subject` in one
    /// atomic statement; the failures in the current window, this one included
    /// (a window older than `window` starts over). Concurrent calls each see a
    /// different count.
    async fn record_login_failure(
        &self,
        subject: &str,
        now: Timestamp,
        window: chrono::Duration,
    ) -> StoreResult<LoginFailures>;
    /// The failures of `subject` in the current window.
    async fn login_failures(
        &self,
        subject: &str,
        now: Timestamp,
        window: chrono::Duration,
    ) -> StoreResult<LoginFailures>;
    /// Takes back one attempt of `subject` counted by
    /// [`AuthStore::record_login_failure`] in the window that started at
    /// `window_start` (a refused or successful attempt); nothing when that
    /// window has ended or the count is zero.
    async fn forgive_login_failure(
        &self,
        subject: &str,
        window_start: Timestamp,
    ) -> StoreResult<()>;
    /// Forgets the failures of `subject` (after a successful sign-in).
    async fn clear_login_failures(&self, subject: &str) -> StoreResult<()>;
    /// Deletes failure counts whose window started before `before`; how many.
    async fn delete_stale_login_failures(&self, before: Timestamp) -> StoreResult<u64>;
}

/// Unix milliseconds of an instant (the stored form).
pub(crate) fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// The instant of stored unix milliseconds.
pub(crate) fn instant(ms: i64) -> StoreResult<Timestamp> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {ms}")))
}

/// A space-separated list, as stored.
pub(crate) fn join(items: &[String]) -> String {
    items.join(" ")
}

/// The items of a stored space-separated list.
pub(crate) fn split(stored: &str) -> Vec<String> {
    stored
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
