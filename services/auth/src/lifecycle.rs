//! The credentials after sign-up: email and password changes, the users
//! service's events (roles, deactivation, deletion), and the auth part of an
//! account export.
//!
//! Changing the email or the password needs the current password (checked with
//! the same failure limits as sign-in) and ends every other session: whoever
//! held the old secret loses their refresh tokens; the session that made the
//! change stays signed in.
//!
//! The consumer (group [`crate::events::GROUP`], started by `build` through
//! [`vigor_common::bus::ServiceEvents`]) applies the users service's events with
//! [`AuthService::user_event_handlers`]; each effect is idempotent by nature (set
//! roles, set status, delete), and the consumer skips event ids it already
//! applied. (An older event redelivered after a newer one of the same user can
//! still overwrite it — e.g. two role changes seconds apart with the first one
//! redelivered after a crash; the next change puts it right.)

use std::net::IpAddr;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::auth::SessionsEnded;
use vigor_common::bus::Handlers;
use vigor_common::events::{
    RolesChanged, UserRef, USER_DEACTIVATED, USER_DELETED, USER_REACTIVATED, USER_ROLES_CHANGED,
};
use vigor_common::Id;

use crate::domain::{Email, Password};
use crate::events;
use crate::hashing::HashError;
use crate::login::LoginError;
use crate::service::AuthService;
use crate::store::{AccountStatus, StoreError};

/// Why a credentials change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The account does not exist (any more) or may not sign in.
    #[error("the account is not active")]
    NoAccount,
    /// The current password is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// Too many wrong passwords; try again after this many seconds.
    #[error("too many failed attempts")]
    TooManyAttempts {
        /// Seconds until a new attempt is allowed.
        retry_after: u64,
    },
    /// Another account has this email.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Every password-hashing slot is busy; retry after this many seconds.
    #[error("the server is busy checking passwords")]
    Busy {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Storage or hashing failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<HashError> for ChangeError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy { retry_after } => ChangeError::Busy { retry_after },
            HashError::Internal(e) => ChangeError::Internal(e),
        }
    }
}

impl From<StoreError> for ChangeError {
    fn from(error: StoreError) -> Self {
        ChangeError::Internal(error.into())
    }
}

/// One sign-in session, as an export lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionExport {
    /// The session (refresh family) id.
    pub id: Id,
    /// The client signed in with.
    pub client_id: String,
    /// The granted scope.
    pub scope: String,
    /// When the user signed in.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it was ended, if it was.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

/// What the auth service holds about a user (never the password hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountExport {
    /// The sign-in email.
    pub email: String,
    /// The display name given at sign-up.
    pub display_name: String,
    /// The roles access tokens carry.
    pub roles: Vec<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// When the account was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the credentials last changed.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Every sign-in session still on record, newest first.
    pub sessions: Vec<SessionExport>,
}

impl AuthService {
    /// Checks `current` as the password of active account `user_id`.
    async fn check_password(
        &self,
        user_id: Id,
        current: &str,
        address: Option<IpAddr>,
    ) -> Result<(), ChangeError> {
        let credential = self
            .store
            .credential(user_id)
            .await?
            .filter(|c| c.status == AccountStatus::Active)
            .ok_or(ChangeError::NoAccount)?;
        match self
            .authenticate_user(&credential.email, current, address)
            .await
        {
            Ok(found) if found.user_id == user_id => Ok(()),
            Ok(_) | Err(LoginError::InvalidCredentials) => Err(ChangeError::WrongPassword),
            Err(LoginError::TooManyAttempts { retry_after }) => {
                Err(ChangeError::TooManyAttempts { retry_after })
            }
            Err(LoginError::Busy { retry_after }) => Err(ChangeError::Busy { retry_after }),
            Err(LoginError::Internal(e)) => Err(ChangeError::Internal(e)),
        }
    }

    /// Replaces the password of `user_id` after checking the current one, and
    /// ends every session but `keep`; how many sessions ended.
    pub async fn change_password(
        &self,
        user_id: Id,
        keep: Option<Id>,
        current: &str,
        new: Password,
        address: Option<IpAddr>,
    ) -> Result<u64, ChangeError> {
        self.check_password(user_id, current, address).await?;
        let hash = self.hasher.hash(&new).await?;
        let now = Utc::now();
        if !self.store.set_password_hash(user_id, &hash, now).await? {
            return Err(ChangeError::NoAccount);
        }
        let ended = self.store.revoke_other_families(user_id, keep, now).await?;
        self.announce_ended(SessionsEnded::all(user_id, keep)).await;
        tracing::info!(%user_id, ended, "password changed");
        Ok(ended)
    }

    /// Changes the sign-in email of `user_id` after checking the password,
    /// emits `user.email_changed`, and ends every session but `keep`.
    pub async fn change_email(
        &self,
        user_id: Id,
        keep: Option<Id>,
        current: &str,
        email: Email,
        address: Option<IpAddr>,
    ) -> Result<u64, ChangeError> {
        self.check_password(user_id, current, address).await?;
        let event = events::email_changed(&self.ids, user_id, email.as_str());
        let now = Utc::now();
        match self
            .store
            .set_email(user_id, email.as_str(), &[event], now)
            .await
        {
            Ok(true) => self.events_written(),
            Ok(false) => return Err(ChangeError::NoAccount),
            Err(StoreError::Conflict(_)) => return Err(ChangeError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        let ended = self.store.revoke_other_families(user_id, keep, now).await?;
        self.announce_ended(SessionsEnded::all(user_id, keep)).await;
        tracing::info!(%user_id, ended, "email changed");
        Ok(ended)
    }

    /// What the auth service holds about `user_id`; `None` when nothing.
    pub async fn export_account(&self, user_id: Id) -> anyhow::Result<Option<AccountExport>> {
        let Some(credential) = self.store.credential(user_id).await? else {
            return Ok(None);
        };
        let sessions = self
            .store
            .user_families(user_id)
            .await?
            .into_iter()
            .map(|f| SessionExport {
                id: f.id,
                client_id: f.client_id,
                scope: f.scope,
                created_at: f.created_at,
                revoked_at: f.revoked_at,
            })
            .collect();
        Ok(Some(AccountExport {
            email: credential.email,
            display_name: credential.display_name,
            roles: credential.roles,
            status: credential.status.as_str().to_owned(),
            created_at: credential.created_at,
            updated_at: credential.updated_at,
            sessions,
        }))
    }

    /// The handlers of the users service's events, for the consumer loop.
    pub fn user_event_handlers(&self) -> Handlers {
        let (roles, deactivated, reactivated, deleted) =
            (self.clone(), self.clone(), self.clone(), self.clone());
        Handlers::new()
            .on(USER_ROLES_CHANGED, move |_, data: RolesChanged| {
                let auth = roles.clone();
                async move {
                    let RolesChanged { user_id, roles } = data;
                    auth.store.set_roles(user_id, &roles, Utc::now()).await?;
                    tracing::info!(%user_id, ?roles, "roles copied for the next access tokens");
                    Ok(())
                }
            })
            .on(USER_DEACTIVATED, move |_, UserRef { user_id }| {
                let auth = deactivated.clone();
                async move {
                    let now = Utc::now();
                    auth.store
                        .set_status(user_id, AccountStatus::Disabled, now)
                        .await?;
                    let ended = auth.store.revoke_user_families(user_id, now).await?;
                    auth.announce_ended(SessionsEnded::all(user_id, None)).await;
                    tracing::info!(%user_id, ended, "account disabled");
                    Ok(())
                }
            })
            .on(USER_REACTIVATED, move |_, UserRef { user_id }| {
                let auth = reactivated.clone();
                async move {
                    auth.store
                        .set_status(user_id, AccountStatus::Active, Utc::now())
                        .await?;
                    tracing::info!(%user_id, "account enabled");
                    Ok(())
                }
            })
            .on(USER_DELETED, move |_, UserRef { user_id }| {
                let auth = deleted.clone();
                async move {
                    let erased = auth.store.delete_account(user_id).await?;
                    auth.announce_ended(SessionsEnded::all(user_id, None)).await;
                    tracing::info!(%user_id, erased, "credentials erased");
                    Ok(())
                }
            })
    }
}
