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
//! is unknown, the first limit applies to the account from anywhere.
//!
//! An attempt is *reserved* before the password is verified: each count is
//! incremented by one atomic statement that returns the new count
//! (`INSERT … ON CONFLICT … DO UPDATE … RETURNING`), and an attempt whose count
//! passes a limit is refused and takes its increments back. Checking the counts
//! first and writing them after the verification would let concurrent guesses
//! all pass the check before any of them is counted (100 parallel guesses verified
//! 84 passwords where the limit is 5); reserving first lets at most the limit's
//! number of attempts verify, however many arrive at once and on however many
//! nodes. A wrong password keeps its reservation: that is the failure count. A
//! successful sign-in clears its own address's count for the account and takes
//! back its reservation of the others; an attempt that could not be checked (the
//! hashing pool is busy, or storage failed) takes back all of them.
//!
//! Every failure looks the same to the client: an unknown email, a wrong password
//! and a deactivated account all answer "invalid credentials", in the same time (a
//! dummy hash is verified when there is no account), so answers never reveal
//! whether an email has an account.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::domain::Email;
use crate::hashing::HashError;
use crate::service::AuthService;
use crate::store::{AccountStatus, Credential};

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

impl From<HashError> for LoginError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy { retry_after } => LoginError::Busy { retry_after },
            HashError::Internal(e) => LoginError::Internal(e),
        }
    }
}

impl From<crate::store::StoreError> for LoginError {
    fn from(error: crate::store::StoreError) -> Self {
        LoginError::Internal(error.into())
    }
}

/// The counts an attempt incremented: each key with the start of its window.
type Reservation = Vec<(String, DateTime<Utc>)>;

impl AuthService {
    /// The active account with `email` and `password`, counting failures.
    pub async fn authenticate_user(
        &self,
        email: &str,
        password: &str,
        address: Option<IpAddr>,
    ) -> Result<Credential, LoginError> {
        let reservation = self.reserve_attempt(email, address).await?;
        match self.check_credentials(email, password).await {
            Ok(Some(credential)) => {
                // The first key is this address's count at the account: cleared.
                let (own, others) = reservation.split_first().expect("at least one key");
                self.store.clear_login_failures(&own.0).await?;
                self.forgive(others).await?;
                Ok(credential)
            }
            // The reservation stays: it is the failure's count.
            Ok(None) => Err(LoginError::InvalidCredentials),
            Err(e) => {
                self.forgive(&reservation).await?;
                Err(e)
            }
        }
    }

    /// Counts the attempt under each of its keys, in order, and refuses it (taking
    /// its counts back) as soon as one passes its limit.
    async fn reserve_attempt(
        &self,
        email: &str,
        address: Option<IpAddr>,
    ) -> Result<Reservation, LoginError> {
        let now = Utc::now();
        let window = self.settings.failed_window;
        let mut reservation = Reservation::new();
        for (key, max) in self.failure_keys(email, address) {
            let failures = self.store.record_login_failure(&key, now, window).await?;
            reservation.push((key, failures.window_start));
            if failures.count > max {
                self.forgive(&reservation).await?;
                let retry_after = seconds_until(failures.window_start + window, now);
                return Err(LoginError::TooManyAttempts { retry_after });
            }
        }
        Ok(reservation)
    }

    /// Takes back the counts of `reserved`.
    async fn forgive(&self, reserved: &[(String, DateTime<Utc>)]) -> Result<(), LoginError> {
        for (key, window_start) in reserved {
            self.store.forgive_login_failure(key, *window_start).await?;
        }
        Ok(())
    }

    /// The failure keys of an attempt with their limits; the first is the one a
    /// success clears.
    fn failure_keys(&self, email: &str, address: Option<IpAddr>) -> Vec<(String, u32)> {
        // An unparsable email still counts against the address and the raw string.
        let account_key = match Email::parse(email) {
            Ok(email) => format!("account:{email}"),
            Err(_) => format!("account:{}", email.trim().to_lowercase()),
        };
        let settings = &self.settings;
        match address {
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
        }
    }

    /// The active account with `email` when `password` is its password.
    async fn check_credentials(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<Credential>, LoginError> {
        let credential = match Email::parse(email) {
            Ok(email) => self.store.credential_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        let matches = self
            .hasher
            .verify(
                password,
                credential.as_ref().map(|c| c.password_hash.as_str()),
            )
            .await?;
        Ok(credential.filter(|c| matches && c.status == AccountStatus::Active))
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

/// Whole seconds from `now` until `at`, at least one (a `Retry-After` value).
pub(crate) fn seconds_until(at: chrono::DateTime<Utc>, now: chrono::DateTime<Utc>) -> u64 {
    u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
}
