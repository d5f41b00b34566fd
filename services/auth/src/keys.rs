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

use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngCore;
use ring::signature::{Ed25519KeyPair, KeyPair};
use vigor_common::api::Timestamp;
use vigor_common::auth::{Claims, KeySource, PublicKey, ALGORITHM, TOKEN_TYPE};
use vigor_common::config::MAX_ACCESS_TOKEN_TTL_SECS;

use crate::store::{AuthStore, KeyState, SigningKey, StoreError};

/// How long a retired key stays published: the longest access-token lifetime,
/// the verifiers' largest leeway, and a margin for clock skew between nodes.
pub fn publish_window() -> chrono::Duration {
    chrono::Duration::seconds(MAX_ACCESS_TOKEN_TTL_SECS as i64 + 30 + 60)
}

/// The signing keys of the auth service.
#[derive(Clone)]
pub struct KeyRing {
    store: Arc<dyn AuthStore>,
}

impl KeyRing {
    /// The key ring in `store`.
    pub fn new(store: Arc<dyn AuthStore>) -> Self {
        KeyRing { store }
    }

    /// Makes sure there is an active key (at start): creates one when none is.
    pub async fn ensure_active(&self) -> anyhow::Result<()> {
        self.active().await.map(drop)
    }

    /// The active key, created when there is none.
    async fn active(&self) -> anyhow::Result<SigningKey> {
        if let Some(key) = self.find_active().await? {
            return Ok(key);
        }
        match self.store.insert_signing_key(&generate(Utc::now())?).await {
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
        let next = generate(now)?;
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        header.typ = Some(TOKEN_TYPE.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&key.private_key))
            .context("cannot sign the access token")
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
