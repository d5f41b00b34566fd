//! Passwords: the sign-up policy and argon2id hashing.
//!
//! The policy is NIST SP 800-63B's: a minimum length and a check against a list
//! of passwords people actually use (`data/common-passwords.txt`, Django's list of
//! 20,000, see `data/README.md`), no composition rules.
//!
//! Hashing is argon2id with the parameters recorded in each PHC string, so the
//! parameters can change later and old hashes still verify. Hashing costs tens of
//! milliseconds of CPU on purpose, so it runs on the blocking pool, never on the
//! async workers. A sign-in for an unknown email verifies against a dummy hash, so
//! the answer takes as long as for a known one (timing does not reveal accounts).

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, OnceLock};

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted, in characters (bounds the hashing work).
pub const MAX_PASSWORD_CHARS: usize = 256;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../data/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
});

/// Whether `password` is on the common-password list (compared in lowercase).
pub fn is_common(password: &str) -> bool {
    COMMON_PASSWORDS.contains(password.to_lowercase().as_str())
}

/// A password that satisfies the sign-up policy.
#[derive(Clone)]
pub struct Password(String);

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Shorter than [`MIN_PASSWORD_CHARS`].
    #[error("must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    /// Longer than [`MAX_PASSWORD_CHARS`].
    #[error("must be at most {MAX_PASSWORD_CHARS} characters long")]
    TooLong,
    /// On the common-password list.
    #[error("is too common: it appears in lists of passwords attackers try first")]
    Common,
}

impl Password {
    /// Checks `raw` against the policy.
    pub fn parse(raw: &str) -> Result<Password, WeakPassword> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(WeakPassword::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(WeakPassword::TooLong);
        }
        if is_common(raw) {
            return Err(WeakPassword::Common);
        }
        Ok(Password(raw.to_owned()))
    }

    /// The password itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: trimmed, 1–64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// Why a display name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDisplayName(&'static str);

impl DisplayName {
    /// The longest display name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Trims and checks `raw`.
    pub fn parse(raw: &str) -> Result<DisplayName, InvalidDisplayName> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(InvalidDisplayName("is required"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(InvalidDisplayName("must be at most 64 characters long"));
        }
        if name.chars().any(char::is_control) {
            return Err(InvalidDisplayName("must not contain control characters"));
        }
        Ok(DisplayName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hashes and verifies passwords with argon2id. Cheap to clone.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    dummy: Arc<OnceLock<String>>,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher::recommended()
    }
}

impl PasswordHasher {
    /// OWASP's recommended argon2id parameters: 19 MiB, 2 passes, 1 lane.
    pub fn recommended() -> Self {
        PasswordHasher::with_params(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, 1)
    }

    /// Explicit parameters: memory in KiB, passes, lanes (falls back to the
    /// recommended ones when the combination is invalid).
    pub fn with_params(m_cost_kib: u32, t_cost: u32, lanes: u32) -> Self {
        let params = Params::new(m_cost_kib, t_cost, lanes, None).unwrap_or_default();
        PasswordHasher {
            params,
            dummy: Arc::new(OnceLock::new()),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password`, with a fresh salt.
    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let hasher = self.clone();
        let password = password.clone();
        tokio::task::spawn_blocking(move || hasher.hash_blocking(password.expose()))
            .await
            .context("the hashing task failed")?
    }

    fn hash_blocking(&self, password: &str) -> anyhow::Result<String> {
        use argon2::password_hash::PasswordHasher as _;
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        let hash = self
            .argon2()
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches `phc`; `phc: None` (no such account) verifies
    /// against a dummy hash and answers `false`, taking the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> anyhow::Result<bool> {
        let hasher = self.clone();
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        tokio::task::spawn_blocking(move || match phc {
            Some(phc) => hasher.verify_blocking(&password, &phc),
            None => {
                let dummy = hasher.dummy_hash()?;
                hasher.verify_blocking(&password, &dummy).map(|_| false)
            }
        })
        .await
        .context("the hashing task failed")?
    }

    fn dummy_hash(&self) -> anyhow::Result<String> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash_blocking("not a password anyone has: dummy")?;
        Ok(self.dummy.get_or_init(|| hash).clone())
    }

    fn verify_blocking(&self, password: &str, phc: &str) -> anyhow::Result<bool> {
        let parsed = PasswordHash::new(phc)
            .map_err(|e| anyhow::anyhow!("stored hash is not a PHC string: {e}"))?;
        // The parameters come from the PHC string, not from `self`.
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(anyhow::anyhow!("argon2: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_common_passwords_are_refused() {
        assert_eq!(
            Password::parse("abc12345!").unwrap_err(),
            WeakPassword::TooShort
        );
        assert_eq!(
            Password::parse(&"x".repeat(257)).unwrap_err(),
            WeakPassword::TooLong
        );
        // Both on the shipped list; the check ignores case.
        assert_eq!(
            Password::parse("1234567890").unwrap_err(),
            WeakPassword::Common
        );
        assert_eq!(
            Password::parse("PASSWORD123").unwrap_err(),
            WeakPassword::Common
        );
        assert!(Password::parse("correct horse battery staple").is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // Nine characters, eighteen bytes.
        assert_eq!(
            Password::parse("ééééééééé").unwrap_err(),
            WeakPassword::TooShort
        );
    }

    #[test]
    fn the_shipped_list_is_loaded() {
        assert!(
            COMMON_PASSWORDS.len() > 19_000,
            "{}",
            COMMON_PASSWORDS.len()
        );
        assert!(is_common("qwerty"));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ann ").unwrap().as_str(), "Ann");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"a".repeat(65)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = PasswordHasher::with_params(8 * 1024, 1, 1);
        let password = Password::parse("correct horse battery staple").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"), "{hash}");
        assert!(hasher
            .verify("correct horse battery staple", Some(&hash))
            .await
            .unwrap());
        assert!(!hasher
            .verify("correct horse battery stapler", Some(&hash))
            .await
            .unwrap());
        assert!(!hasher
            .verify("correct horse battery staple", None)
            .await
            .unwrap());
        // A second hash of the same password has its own salt.
        assert_ne!(hasher.hash(&password).await.unwrap(), hash);
    }
}
