//! Passwords: the sign-up policy (hashing is in [`crate::hashing`]).
//!
//! The policy is NIST SP 800-63B's: a minimum length and a check against a list
//! of passwords people actually use (`data/common-passwords.txt`, Django's list of
//! 20,000, see `data/README.md`), no composition rules.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

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
}
