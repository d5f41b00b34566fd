//! Opaque secrets: authorization codes, refresh tokens and client secrets.
//!
//! Each is 256 random bits, base64url without padding. Only its SHA-256 is stored,
//! so a leaked database does not hand out working tokens. (A fast hash is right
//! here, unlike for passwords: 256 random bits cannot be guessed, however fast the
//! hash.) Comparisons of a presented secret with a stored hash are constant-time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use subtle::ConstantTimeEq;

/// A fresh random secret (43 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a secret: SHA-256, lowercase hex.
pub fn hash(secret: &str) -> String {
    vigor_common::digest::sha256_hex(secret.as_bytes())
}

/// Whether `secret` hashes to `stored`, in constant time.
pub fn matches(secret: &str, stored: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_url_safe() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn only_the_right_secret_matches_its_hash() {
        let secret = generate();
        let stored = hash(&secret);
        assert_eq!(stored.len(), 64);
        assert!(matches(&secret, &stored));
        assert!(!matches(&generate(), &stored));
        assert!(!matches(&secret, ""));
    }
}
