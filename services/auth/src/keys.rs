//! Token-signing keys: Ed25519 key pairs kept in the auth database.
//!
//! Keys live in the database, not in files, so that they survive restarts and every
//! node of a distributed auth service signs with the same key. Exactly one key is
//! active (a partial unique index guarantees it, even when two nodes start at
//! once); [`KeyRing::rotate`] makes a fresh key active and retires the old one,
//! which stays published in the JWKS until every token it can have signed expired
//! (the longest access-token lifetime plus the verifiers' leeway). Verifiers that
//! see the new `kid` before their cached JWKS has it re-read the JWKS, so rotation
//! needs no downtime and no coordination.
//!
//! The signing key is read from the database for each token, so a rotation made by
//! `vigor admin rotate-keys` in another process takes effect at once.
//!
//! **At rest**, with `auth.key_encryption_key` set, the private halves are sealed
//! with AES-256-GCM ([`KeyCipher`]): a random nonce per seal, the `kid` as
//! associated data (a sealed key moved to another row does not open). A database
//! dump or backup then holds no usable signing key. Keys stored before the
//! setting was made are sealed at the next start ([`KeyRing::ensure_active`]);
//! a sealed key without the setting, or with another key, refuses to sign with a
//! message saying so. To change the encryption key: set the new one and run
//! `vigor admin rotate-keys` (a new key is made and sealed with it; the retired
//! ones are never used to sign again, only their public halves are published).

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::EncodingKey;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use ring::rand::SecureRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use vigor_common::api::Timestamp;
use vigor_common::auth::{Claims, KeySource, PublicKey, ALGORITHM};
use vigor_common::config::MAX_ACCESS_TOKEN_TTL_SECS;

use crate::store::{AuthStore, KeyState, SigningKey, StoreError};

/// How long a retired key stays published: the longest access-token lifetime,
/// the verifiers' largest leeway, and a margin for clock skew between nodes.
pub fn publish_window() -> chrono::Duration {
    chrono::Duration::seconds(MAX_ACCESS_TOKEN_TTL_SECS as i64 + 30 + 60)
}

/// What a sealed private key starts with (a PKCS#8 key starts with 0x30).
const SEALED: &[u8] = b"VGK1";
const NONCE_LEN: usize = 12;

/// Seals and opens private keys with `auth.key_encryption_key`.
pub struct KeyCipher {
    key: LessSafeKey,
}

impl KeyCipher {
    /// A cipher for the 32-byte key `bytes`.
    pub fn new(bytes: &[u8; 32]) -> KeyCipher {
        let unbound =
            UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256-GCM takes any 32-byte key");
        KeyCipher {
            key: LessSafeKey::new(unbound),
        }
    }

    /// The cipher of `auth.key_encryption_key` (already validated by
    /// [`vigor_common::config::Config::validate`]); `None` when unset.
    pub fn from_config(config: &vigor_common::config::Config) -> anyhow::Result<Option<KeyCipher>> {
        let Some(value) = config.auth.key_encryption_key() else {
            return Ok(None);
        };
        let bytes = vigor_common::config::decode_key_encryption_key(value)
            .map_err(|message| anyhow::anyhow!("auth.key_encryption_key {message}"))?;
        Ok(Some(KeyCipher::new(&bytes)))
    }

    /// `private` sealed for the key `kid`: [`SEALED`], a random nonce, the
    /// ciphertext and its tag.
    pub fn seal(&self, kid: &str, private: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| anyhow::anyhow!("no randomness for a nonce"))?;
        let mut sealed = private.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| anyhow::anyhow!("cannot seal the signing key {kid}"))?;
        Ok([SEALED, &nonce, &sealed].concat())
    }

    /// The private key `stored` for `kid` opened, if sealed.
    fn open(&self, kid: &str, stored: &[u8]) -> anyhow::Result<Vec<u8>> {
        let body = &stored[SEALED.len()..];
        if body.len() < NONCE_LEN {
            anyhow::bail!("the sealed signing key {kid} is truncated");
        }
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| anyhow::anyhow!("the sealed signing key {kid} is truncated"))?;
        let mut buffer = sealed.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer)
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot decrypt the signing key {kid}: auth.key_encryption_key is not the \
                     key it was sealed with (rotate with `vigor admin rotate-keys` after changing it)"
                )
            })?;
        Ok(opened.to_vec())
    }
}

fn is_sealed(stored: &[u8]) -> bool {
    stored.starts_with(SEALED)
}

/// The signing keys of the auth service.
#[derive(Clone)]
pub struct KeyRing {
    store: Arc<dyn AuthStore>,
    cipher: Option<Arc<KeyCipher>>,
}

impl KeyRing {
    /// The key ring in `store`, private keys stored as they are.
    pub fn new(store: Arc<dyn AuthStore>) -> Self {
        KeyRing {
            store,
            cipher: None,
        }
    }

    /// Seals new private keys with `cipher` and opens sealed ones.
    pub fn with_cipher(mut self, cipher: Option<KeyCipher>) -> Self {
        self.cipher = cipher.map(Arc::new);
        self
    }

    /// Makes sure there is an active key (at start): creates one when none is;
    /// with a cipher, seals the keys stored unsealed.
    pub async fn ensure_active(&self) -> anyhow::Result<()> {
        if let Some(cipher) = &self.cipher {
            let keys = self
                .store
                .signing_keys()
                .await
                .context("cannot read the signing keys")?;
            for key in keys.iter().filter(|k| !is_sealed(&k.private_key)) {
                let sealed = cipher.seal(&key.kid, &key.private_key)?;
                // Another node may have sealed it meanwhile: then nothing changes.
                if self
                    .store
                    .replace_private_key(&key.kid, &key.private_key, &sealed)
                    .await
                    .context("cannot store a sealed signing key")?
                {
                    tracing::info!(kid = %key.kid, "sealed a signing key with auth.key_encryption_key");
                }
            }
        }
        self.active().await.map(drop)
    }

    /// The active key, created when there is none.
    async fn active(&self) -> anyhow::Result<SigningKey> {
        if let Some(key) = self.find_active().await? {
            return Ok(key);
        }
        match self
            .store
            .insert_signing_key(&self.generate(Utc::now())?)
            .await
        {
            // Another node made one first: use theirs.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e).context("cannot store a new signing key"),
        }
        self.find_active()
            .await?
            .context("no active signing key even after creating one")
    }

    async fn find_active(&self) -> anyhow::Result<Option<SigningKey>> {
        let keys = self
            .store
            .signing_keys()
            .await
            .context("cannot read the signing keys")?;
        Ok(keys.into_iter().find(|k| k.state == KeyState::Active))
    }

    /// Makes a new key sign from now on; the old one keeps verifying for
    /// [`publish_window`]. Forgets keys retired longer ago. Returns the new `kid`.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let now = Utc::now();
        let next = self.generate(now)?;
        self.store
            .rotate_signing_key(&next, now)
            .await
            .context("cannot rotate the signing key")?;
        let forgotten = self
            .store
            .delete_retired_keys(now - publish_window())
            .await
            .context("cannot delete old signing keys")?;
        tracing::info!(kid = %next.kid, forgotten, "rotated the token signing key");
        Ok(next.kid)
    }

    /// Signs `claims` with the active key.
    pub async fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let key = self.active().await?;
        let private = self.private_key(&key)?;
        let header = vigor_common::auth::access_token_header(&key.kid);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&private))
            .context("cannot sign the access token")
    }

    /// The PKCS#8 private key of `key`, opened when sealed.
    fn private_key(&self, key: &SigningKey) -> anyhow::Result<Vec<u8>> {
        if !is_sealed(&key.private_key) {
            return Ok(key.private_key.clone());
        }
        match &self.cipher {
            Some(cipher) => cipher.open(&key.kid, &key.private_key),
            None => anyhow::bail!(
                "the signing key {} is encrypted: set auth.key_encryption_key to the key it was \
                 sealed with",
                key.kid
            ),
        }
    }

    /// A fresh key pair, active, its private half sealed when there is a cipher.
    fn generate(&self, now: Timestamp) -> anyhow::Result<SigningKey> {
        let mut key = generate(now)?;
        if let Some(cipher) = &self.cipher {
            key.private_key = cipher.seal(&key.kid, &key.private_key)?;
        }
        Ok(key)
    }

    /// The public keys that verify tokens issued until now: the active key and
    /// keys retired within [`publish_window`].
    pub async fn published(&self) -> anyhow::Result<Vec<PublicKey>> {
        let now = Utc::now();
        let keys = self
            .store
            .signing_keys()
            .await
            .context("cannot read the signing keys")?;
        Ok(keys
            .into_iter()
            .filter(|k| k.algorithm == ALGORITHM)
            .filter(|k| match (k.state, k.retired_at) {
                (KeyState::Active, _) => true,
                (KeyState::Retired, Some(at)) => now - at < publish_window(),
                (KeyState::Retired, None) => false,
            })
            .filter_map(|k| {
                let ed25519: [u8; 32] = k.public_key.as_slice().try_into().ok()?;
                Some(PublicKey {
                    kid: k.kid,
                    ed25519,
                })
            })
            .collect())
    }
}

/// Verifiers in this process read the keys straight from the key ring.
#[async_trait]
impl KeySource for KeyRing {
    async fn public_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
        self.published().await
    }
}

/// A fresh Ed25519 key pair, active, with a `kid` that sorts by creation day.
fn generate(now: Timestamp) -> anyhow::Result<SigningKey> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("cannot generate an Ed25519 key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("a freshly generated Ed25519 key does not parse"))?;
    let mut suffix = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut suffix);
    Ok(SigningKey {
        kid: format!(
            "{}-{}",
            now.format("%Y%m%d"),
            URL_SAFE_NO_PAD.encode(suffix)
        ),
        algorithm: ALGORITHM.to_owned(),
        private_key: pkcs8.as_ref().to_vec(),
        public_key: pair.public_key().as_ref().to_vec(),
        state: KeyState::Active,
        created_at: now,
        retired_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqlStore;

    async fn store() -> (vigor_common::testkit::TestDatabase, Arc<dyn AuthStore>) {
        let db = vigor_common::testkit::sqlite(Some(&crate::MIGRATIONS)).await;
        let store = Arc::new(SqlStore::new(db.database.clone()));
        (db, store)
    }

    fn claims() -> Claims {
        let now = Utc::now().timestamp();
        Claims {
            iss: "https://vigor.test".into(),
            sub: "7".into(),
            aud: "vigor".into(),
            exp: now + 600,
            iat: now,
            jti: "j1".into(),
            scope: "api".into(),
            roles: Vec::new(),
            client_id: "vigor-web".into(),
            sid: None,
        }
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_key_and_kid() {
        let cipher = KeyCipher::new(&[3; 32]);
        let sealed = cipher.seal("k1", b"private key bytes").unwrap();
        assert!(is_sealed(&sealed));
        assert!(
            !sealed.windows(7).any(|w| w == b"private"),
            "not in the clear"
        );
        assert_eq!(cipher.open("k1", &sealed).unwrap(), b"private key bytes");
        // Another kid (a row swap), another key, a flipped bit, a truncation.
        assert!(cipher.open("k2", &sealed).is_err());
        assert!(KeyCipher::new(&[4; 32]).open("k1", &sealed).is_err());
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(cipher.open("k1", &flipped).is_err());
        assert!(cipher.open("k1", &sealed[..10]).is_err());
        // Two seals of one key differ (fresh nonces).
        assert_ne!(sealed, cipher.seal("k1", b"private key bytes").unwrap());
    }

    #[tokio::test]
    async fn with_a_cipher_keys_are_stored_sealed_and_still_sign() {
        let (_db, store) = store().await;
        let ring = KeyRing::new(store.clone()).with_cipher(Some(KeyCipher::new(&[5; 32])));
        ring.ensure_active().await.unwrap();
        let stored = store.signing_keys().await.unwrap();
        assert_eq!(stored.len(), 1);
        assert!(is_sealed(&stored[0].private_key));
        let token = ring.sign(&claims()).await.unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
            Some(stored[0].kid.as_str())
        );
        // A rotation seals the new key too.
        ring.rotate().await.unwrap();
        let keys = store.signing_keys().await.unwrap();
        assert!(keys.iter().all(|k| is_sealed(&k.private_key)));
        ring.sign(&claims()).await.unwrap();
    }

    #[tokio::test]
    async fn keys_stored_unsealed_are_sealed_at_start_and_keep_their_kid() {
        let (_db, store) = store().await;
        let plain = KeyRing::new(store.clone());
        plain.ensure_active().await.unwrap();
        let before = store.signing_keys().await.unwrap();
        assert!(!is_sealed(&before[0].private_key));
        let old_token = plain.sign(&claims()).await.unwrap();

        let sealed = KeyRing::new(store.clone()).with_cipher(Some(KeyCipher::new(&[6; 32])));
        sealed.ensure_active().await.unwrap();
        let after = store.signing_keys().await.unwrap();
        assert_eq!(after.len(), 1, "sealed in place, not replaced");
        assert_eq!(after[0].kid, before[0].kid);
        assert_eq!(after[0].public_key, before[0].public_key);
        assert!(is_sealed(&after[0].private_key));
        // The same key signs: same kid, and the signature verifies with the
        // unchanged public key.
        let new_token = sealed.sign(&claims()).await.unwrap();
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid;
        assert_eq!(kid(&new_token), kid(&old_token));
        let public = jsonwebtoken::DecodingKey::from_ed_der(&after[0].public_key);
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_audience(&["vigor"]);
        jsonwebtoken::decode::<Claims>(&new_token, &public, &validation).unwrap();
        // A second start changes nothing.
        sealed.ensure_active().await.unwrap();
        assert_eq!(store.signing_keys().await.unwrap(), after);
    }

    #[tokio::test]
    async fn a_sealed_key_without_its_cipher_refuses_to_sign_and_says_why() {
        let (_db, store) = store().await;
        KeyRing::new(store.clone())
            .with_cipher(Some(KeyCipher::new(&[7; 32])))
            .ensure_active()
            .await
            .unwrap();
        let missing = KeyRing::new(store.clone())
            .sign(&claims())
            .await
            .unwrap_err();
        assert!(
            format!("{missing:#}").contains("set auth.key_encryption_key"),
            "{missing:#}"
        );
        let wrong = KeyRing::new(store.clone())
            .with_cipher(Some(KeyCipher::new(&[8; 32])))
            .sign(&claims())
            .await
            .unwrap_err();
        assert!(format!("{wrong:#}").contains("rotate-keys"), "{wrong:#}");
    }
}
