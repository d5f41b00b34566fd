//! [`AuthService`]: the state every handler and admin command shares.

use std::sync::Arc;
use std::time::Duration;

use vigor_common::auth::{revocation, KeySource, SessionsEnded, Verifier, VerifierConfig};
use vigor_common::broker::Broker;
use vigor_common::bus::outbox::OutboxRelay;
use vigor_common::config::Config;
use vigor_common::db::Database;
use vigor_common::IdGenerator;

use crate::domain::client::WEB_CLIENT_ID;
use crate::domain::Client;
use crate::hashing::{available_cores, PasswordHasher};
use crate::keys::{KeyCipher, KeyRing};
use crate::settings::Settings;
use crate::store::{AuthStore, SqlStore, StoreResult};

/// The auth service's state: storage, keys, settings. Cheap to clone.
#[derive(Clone)]
pub struct AuthService {
    pub(crate) store: Arc<dyn AuthStore>,
    pub(crate) keys: KeyRing,
    pub(crate) settings: Arc<Settings>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) ids: Arc<IdGenerator>,
    pub(crate) verifier: Arc<Verifier>,
    relay: Option<OutboxRelay>,
    /// Where ended sessions are announced to every process.
    broker: Option<Arc<dyn Broker>>,
}

impl AuthService {
    /// The service on a migrated auth database; fails on an undecodable
    /// `auth.key_encryption_key` (never silently store keys unsealed).
    pub fn new(
        db: Database,
        config: &Config,
        ids: Arc<IdGenerator>,
    ) -> anyhow::Result<AuthService> {
        let store: Arc<dyn AuthStore> = Arc::new(SqlStore::new(db));
        let settings = Settings::from_config(config);
        let cipher = KeyCipher::from_config(config)?;
        let keys = KeyRing::new(store.clone()).with_cipher(cipher);
        let mut verifier_config = VerifierConfig::new(&settings.issuer, &settings.audience);
        // The keys are a query away: re-read them for any unknown kid, so a key
        // rotated by another process verifies here at once.
        verifier_config.min_refresh_interval = Duration::ZERO;
        let verifier = Arc::new(Verifier::new(verifier_config, Arc::new(keys.clone())));
        Ok(AuthService {
            store,
            keys,
            settings: Arc::new(settings),
            hasher: PasswordHasher::recommended().with_pool(
                config
                    .auth
                    .hash_concurrency
                    .map_or_else(available_cores, |n| n as usize),
                Duration::from_millis(config.auth.hash_queue_wait_ms),
            ),
            ids,
            verifier,
            relay: None,
            broker: None,
        })
    }

    /// The password hasher (its verification count is what tests read).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Uses `hasher` for new password hashes (tests use cheaper parameters).
    pub fn with_hasher(mut self, hasher: PasswordHasher) -> AuthService {
        self.hasher = hasher;
        self
    }

    /// Wakes `relay` after writing events to the outbox.
    pub fn with_relay(mut self, relay: OutboxRelay) -> AuthService {
        self.relay = Some(relay);
        self
    }

    /// Announces ended sessions on `broker`, so that every process's verifier
    /// refuses their access tokens and every hub closes their WebSockets at once.
    pub fn with_broker(mut self, broker: Arc<dyn Broker>) -> AuthService {
        self.broker = Some(broker);
        self
    }

    /// Tells every process that `notice`'s sessions ended. Best effort: their
    /// refresh tokens are revoked in the database already, and a process that
    /// misses the notice refuses the access tokens when they expire.
    pub(crate) async fn announce_ended(&self, notice: SessionsEnded) {
        let Some(broker) = &self.broker else { return };
        if let Err(error) = revocation::announce(broker.as_ref(), &notice).await {
            tracing::warn!(
                %error,
                user_id = %notice.user_id,
                "ended sessions could not be announced: their access tokens run out on their own"
            );
        }
    }

    /// The signing keys (also a [`KeySource`] for verifiers in this process).
    pub fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    /// The public keys, for a verifier in the same process (all-in-one mode).
    pub fn key_source(&self) -> Arc<dyn KeySource> {
        Arc::new(self.keys.clone())
    }

    /// A verifier of this service's own tokens.
    pub fn verifier(&self) -> Arc<Verifier> {
        self.verifier.clone()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The client `id`: the built-in web client or a registered one.
    pub async fn client(&self, id: &str) -> StoreResult<Option<Client>> {
        if id == WEB_CLIENT_ID {
            return Ok(Some(self.settings.web_client.clone()));
        }
        self.store.client(id).await
    }

    pub(crate) fn events_written(&self) {
        if let Some(relay) = &self.relay {
            relay.wake();
        }
    }
}
