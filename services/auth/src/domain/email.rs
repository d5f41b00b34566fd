//! Email addresses, normalised so that one person has one account.
//!
//! Normalisation trims surrounding whitespace and lowercases the whole address.
//! The local part is case-sensitive in theory, but no mail provider people use
//! treats `Ann@x` and `ann@x` as different people, and two accounts that differ only
//! in case would be a support problem and a phishing vector.

use std::fmt;

/// A normalised, syntactically plausible email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(&'static str);

impl Email {
    /// Normalises and checks `raw`.
    pub fn parse(raw: &str) -> Result<Email, InvalidEmail> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(InvalidEmail("is required"));
        }
        if email.len() > 254 {
            return Err(InvalidEmail("is longer than 254 characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail("must not contain spaces"));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(InvalidEmail("is not an email address"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(InvalidEmail("is not an email address"));
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidEmail("is not an email address"));
        }
        Ok(Email(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ann.Lee+Runs@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "ann.lee+runs@example.org");
    }

    #[test]
    fn implausible_addresses_are_refused() {
        for bad in [
            "",
            "ann",
            "@example.org",
            "ann@",
            "ann@localhost",
            "ann@exa mple.org",
            "ann@@example.org",
            "ann@-example.org",
            "ann@example..org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.org", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
    }
}
