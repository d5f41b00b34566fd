//! Checking a user's password, with brute-force limits.
//!
//! Failed sign-ins are counted, in the database so that every node of the service
//! sees the same counts, under three keys: the account (the normalised email,
//! whether or not an account has it) *from one client address* — a few guesses
//! (`max_failed_logins_per_account`, 5) lock that address out of that account, and
//! no one else: a stranger who knows an email cannot lock its owner out —; the
//! account from all addresses (`max_failed_logins_per_account_total`, 100: a
//! guess spread over many addresses); and the client address (50, whatever the
//! accounts: one address spraying guesses). Past any limit, sign-in is refused for
//! the rest of the window without checking the password. When the client address
//! is unknown, the first limit applies to the account from anywhere. A successful
//! sign-in clears its own address's count for the account; the other counts run
//! out with the window. Every failure looks the same
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
        let settings = &self.settings;
        // The key a success clears first; then the others, with their limits.
        let keys: Vec<(String, u32)> = match address {
            Some(address) => vec![
                (
                    account_from_key(&account_key, address),
                    settings.max_failed_per_account,
                ),
                (account_key, settings.max_failed_per_account_total),
                (
                    format!("address:{address}"),
                    settings.max_failed_per_address,
                ),
            ],
            None => vec![(account_key, settings.max_failed_per_account)],
        };

        let mut limited: Vec<(LoginFailures, u32)> = Vec::new();
        for (key, max) in &keys {
            let failures = self
                .store
                .login_failures(key, now, window)
                .await
                .map_err(anyhow::Error::from)?;
            limited.push((failures, *max));
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
                    .clear_login_failures(&keys[0].0)
                    .await
                    .map_err(anyhow::Error::from)?;
                Ok(credential)
            }
            _ => {
                for (key, _) in &keys {
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

/// The failure key of `account_key` (`account:{email}`) from `address`.
fn account_from_key(account_key: &str, address: IpAddr) -> String {
    format!("{}{address}", per_address_prefix(account_key))
}

/// What every per-address failure key of `account_key` starts with. A space
/// cannot occur in a normalised email, so no other account's keys share it
/// (erasing an account finds them all by it).
pub(crate) fn per_address_prefix(account_key: &str) -> String {
    format!("{account_key} from ")
}

fn seconds_until(at: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}
