//! Accounts: sign-up, and the role copy that access tokens carry.

use chrono::Utc;
use vigor_common::Id;

use crate::domain::{DisplayName, Email, Password};
use crate::events;
use crate::hashing::HashError;
use crate::service::AuthService;
use crate::store::{AccountStatus, Credential, StoreError};

/// The role every new account has.
pub const DEFAULT_ROLE: &str = "user";

/// A sign-up, validated.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The email, normalised.
    pub email: Email,
    /// The password, policy-checked.
    pub password: Password,
    /// The display name.
    pub display_name: DisplayName,
}

/// Why a sign-up failed.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// An account with this email exists.
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

impl AuthService {
    /// Creates an account and emits `user.signed_up` in the same transaction.
    pub async fn sign_up(&self, account: NewAccount) -> Result<Credential, SignupError> {
        // A cheap check first, so a duplicate costs no hashing; the unique index
        // still decides when two sign-ups race.
        let existing = self
            .store
            .credential_by_email(account.email.as_str())
            .await
            .map_err(anyhow::Error::from)?;
        if existing.is_some() {
            return Err(SignupError::EmailTaken);
        }
        let password_hash = self
            .hasher
            .hash(&account.password)
            .await
            .map_err(|e| match e {
                HashError::Busy { retry_after } => SignupError::Busy { retry_after },
                HashError::Internal(e) => SignupError::Internal(e),
            })?;
        let now = Utc::now();
        let credential = Credential {
            user_id: self.ids.next_id(),
            email: account.email.as_str().to_owned(),
            password_hash,
            display_name: account.display_name.as_str().to_owned(),
            roles: vec![DEFAULT_ROLE.to_owned()],
            status: AccountStatus::Active,
            created_at: now,
            updated_at: now,
        };
        let event = events::user_signed_up(&self.ids, &credential);
        match self.store.insert_credential(&credential, &[event]).await {
            Ok(()) => {
                self.events_written();
                tracing::info!(user_id = %credential.user_id, "account created");
                Ok(credential)
            }
            Err(StoreError::Conflict(_)) => Err(SignupError::EmailTaken),
            Err(e) => Err(SignupError::Internal(e.into())),
        }
    }

    /// Replaces the roles that the user's next access tokens carry.
    pub async fn set_roles(&self, user_id: Id, roles: &[String]) -> anyhow::Result<bool> {
        Ok(self.store.set_roles(user_id, roles, Utc::now()).await?)
    }
}
