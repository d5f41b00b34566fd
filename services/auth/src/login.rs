//! Checking a user's password, with brute-force limits.
//!
//! Failed sign-ins are counted per account (the normalised email, whether or not an
//! account has it) and per client address, in the database so that every node of
//! the service sees the same counts. Past either limit, sign-in is refused for the
//! rest of the window without checking the password. Every failure looks the same
//! to the client: an unknown email, a wrong password and a deactivated account all
//! answer "invalid credentials", in the same time (a dummy hash is verified when
//! there is no account), so answers never reveal whether an email has an account.

use std::net::IpAddr;

use chrono::Utc;

use crate::domain::Email;
use crate::service::AuthService;
use crate::store::{AccountStatus, Credential, LoginFailures};

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email, wrong password or deactivated account (never said which).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many failures for this account or address; retry after this many seconds.
    #[error("too many failed sign-in attempts")]
    TooManyAttempts {
        /// Seconds until the window ends.
        retry_after: u64,
    },
    /// Storage or hashing failed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AuthService {
    /// The active account with `email` and `password`, counting failures.
    pub async fn authenticate_user(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<Credential, LoginError> {
        let now = Utc::now();
        let window = self.settings.failed_window;
        // An unparsable email still counts against the address and the raw string.
        let account_key = match Email::parse(email) {
            Ok(email) => format!("account:{email}"),
            Err(_) => format!("account:{}", email.trim().to_lowercase()),
        };
        let address_key = address.map(|a| format!("address:{a}"));

        let mut limited: Vec<(LoginFailures, u32)> = Vec::new();
        let account = self
            .store
            .login_failures(&account_key, now, window)
            .await
            .map_err(anyhow::Error::from)?;
        limited.push((account, self.settings.max_failed_per_account));
        if let Some(key) = &address_key {
            let failures = self
                .store
                .login_failures(key, now, window)
                .await
                .map_err(anyhow::Error::from)?;
            limited.push((failures, self.settings.max_failed_per_address));
        }
        if let Some(retry_after) = limited
            .iter()
            .filter(|(failures, max)| failures.count >= *max)
            .map(|(failures, _)| seconds_until(failures.window_start + window, now))
            .max()
        {
            return Err(LoginError::TooManyAttempts { retry_after });
        }

        let credential = match Email::parse(email) {
            Ok(email) => self
                .store
                .credential_by_email(email.as_str())
                .await
                .map_err(anyhow::Error::from)?,
            Err(_) => None,
        };
        let matches = self
            .hasher
            .verify(
                password,
                credential.as_ref().map(|c| c.password_hash.as_str()),
            )
            .await?;
        match credential {
            Some(credential) if matches && credential.status == AccountStatus::Active => {
                self.store
                    .clear_login_failures(&account_key)
                    .await
                    .map_err(anyhow::Error::from)?;
                Ok(credential)
            }
            _ => {
                self.store
                    .record_login_failure(&account_key, now, window)
                    .await
                    .map_err(anyhow::Error::from)?;
                if let Some(key) = &address_key {
                    self.store
                        .record_login_failure(key, now, window)
                        .await
                        .map_err(anyhow::Error::from)?;
                }
                Err(LoginError::InvalidCredentials)
            }
        }
    }
}

fn seconds_until(at: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}
