//! Accounts: sign-up, and the role copy that access tokens carry.
//!
//! **Sign-up says when an email is taken** (409), although sign-in never reveals
//! whether an email has an account. That is a deliberate trade: a first-party app
//! must be able to tell a person "this email has an account — sign in instead",
//! and answering a taken email like a new one would need an email round trip
//! (confirm-by-link) before anyone could use an account, which Vigor does not
//! have. Instead, the answers that reveal an account are limited per client
//! address: sign-ups for a taken email count (`auth.max_taken_signups_per_address`,
//! 10, within `auth.failed_login_window_secs`), and past the limit *every* sign-up
//! from that address is refused with 429 until the window ends. Whether a taken
//! email may be answered 409 is decided by the count's atomic increment (one
//! statement, as for sign-in attempts, [`crate::login`]), so concurrent probes
//! cannot pass the limit together; sign-ups that create accounts are not counted,
//! so a NAT full of people signing up, or the load generator, is never refused. Probing a list of emails thus yields at most a
//! few "taken" answers per address and window, and every probe of a free email
//! creates an account. This is the choice of most consumer platforms; the README's
//! security section says so.

use std::net::IpAddr;

use chrono::Utc;
use vigor_common::Id;

use crate::domain::{DisplayName, Email, Password};
use crate::events;
use crate::hashing::HashError;
use crate::login::seconds_until;
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
    /// Too many sign-ups of taken emails from this client address; retry after
    /// this many seconds.
    #[error("too many sign-ups from this address")]
    TooManyAttempts {
        /// Seconds until the window ends.
        retry_after: u64,
    },
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

impl From<StoreError> for SignupError {
    fn from(error: StoreError) -> Self {
        SignupError::Internal(error.into())
    }
}

impl AuthService {
    /// Creates an account and emits `user.signed_up` in the same transaction;
    /// counts the attempt against the client `address` first.
    pub async fn sign_up(
        &self,
        account: NewAccount,
        address: Option<IpAddr>,
    ) -> Result<Credential, SignupError> {
        let now = Utc::now();
        let window = self.settings.failed_window;
        let max = self.settings.max_taken_signups_per_address;
        let key = address.map(|address| format!("signup-taken:{address}"));
        if let Some(key) = &key {
            let taken = self.store.login_failures(key, now, window).await?;
            if taken.count >= max {
                let retry_after = seconds_until(taken.window_start + window, now);
                return Err(SignupError::TooManyAttempts { retry_after });
            }
        }
        let created = self.create_account(account).await;
        if let (Err(SignupError::EmailTaken), Some(key)) = (&created, &key) {
            // The count decides, atomically, whether this answer may reveal the
            // account: concurrent probes each see their own count.
            let taken = self.store.record_login_failure(key, now, window).await?;
            if taken.count > max {
                let retry_after = seconds_until(taken.window_start + window, now);
                return Err(SignupError::TooManyAttempts { retry_after });
            }
        }
        created
    }

    async fn create_account(&self, account: NewAccount) -> Result<Credential, SignupError> {
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
