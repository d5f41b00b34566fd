//! Local verification of access tokens.
//!
//! What is refused, and why it matters:
//! - any algorithm but EdDSA: `alg: none` would skip the signature, and an HMAC
//!   `alg` would let an attacker "sign" with the public key as the secret;
//! - a token without `kid`, or whose `kid` is not among the issuer's keys (after one
//!   rate-limited re-read of the keys);
//! - a `typ` header other than `at+jwt` (RFC 9068 §4): an ID token or any other
//!   JWT signed with the same keys must not pass for an access token;
//! - a bad signature, the wrong `iss` or `aud`, and an expired token (the leeway is
//!   capped at 30 s).
//!
//! The key cache sits behind a `std::sync::RwLock` that is never held across an
//! `.await`; re-reads are serialised by an async mutex so that concurrent requests
//! carrying a new `kid` cause one fetch, not one each.
//!
//! **Verified tokens are remembered.** A client sends the same access token with
//! every request for up to 15 minutes, and an Ed25519 verification costs tens of
//! microseconds; so a token that verified is kept (the exact token text → its
//! claims and `kid`, in a `moka` cache of at most
//! [`VerifierConfig::verified_capacity`] entries, each evicted when its token
//! expires; when full, the least useful entries go, not all of them). A repeat
//! is answered from there only while the token has not expired (the same rule
//! and leeway as a full check) *and its key is still one of the issuer's* —
//! looked up as for a full check, so a withdrawn key stops its tokens at the
//! same moment with or without this cache. Anything else goes the full way.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moka::sync::Cache;
use moka::Expiry;

use super::keys::{KeySource, PublicKey};
use super::revocation::Revocations;
use super::{Claims, ALGORITHM, TOKEN_TYPE};

/// The most clock skew a verifier tolerates on `exp`.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);

/// How a [`Verifier`] checks tokens.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The only accepted `iss`.
    pub issuer: String,
    /// The only accepted `aud`.
    pub audience: String,
    /// Clock skew tolerated on `exp` (capped at [`MAX_LEEWAY`]).
    pub leeway: Duration,
    /// Keys are re-read at most this often, however many unknown `kid`s arrive.
    pub min_refresh_interval: Duration,
    /// Cached keys older than this are re-read (so withdrawn keys stop verifying).
    pub max_key_age: Duration,
    /// Verified tokens remembered (0: none); see the module documentation.
    pub verified_capacity: usize,
}

impl VerifierConfig {
    /// Checks the issuer and audience of the process configuration
    /// (`auth.issuer`, `auth.audience`), with the default timings.
    pub fn from_config(config: &crate::config::Config) -> Self {
        VerifierConfig::new(config.auth_issuer(), config.auth.audience.clone())
    }

    /// Checks `issuer` and `audience` with the default timings: 30 s leeway, keys
    /// re-read at most every 10 s and at least every 5 minutes.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        VerifierConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: MAX_LEEWAY,
            min_refresh_interval: Duration::from_secs(10),
            max_key_age: Duration::from_secs(300),
            verified_capacity: 10_000,
        }
    }
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a JWT, or its claims are not Vigor's.
    #[error("the token is malformed")]
    Malformed,
    /// `alg` is not EdDSA (`none`, HMAC, …).
    #[error("the token's algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The `typ` header is not `at+jwt` (or is missing).
    #[error("the token is not an access token (typ {0:?})")]
    WrongType(Option<String>),
    /// No `kid` header.
    #[error("the token has no key id")]
    MissingKeyId,
    /// The `kid` is not one of the issuer's keys.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    BadSignature,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// The token's session ended (see [`super::revocation`]).
    #[error("the token's session has ended")]
    Revoked,
    /// `iss` is not the configured issuer.
    #[error("the token was issued by someone else")]
    WrongIssuer,
    /// `aud` is not the configured audience.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// The keys could not be read and none are cached.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    /// When the keys were last read successfully.
    fetched_at: Option<Instant>,
    /// When a read was last attempted (successful or not).
    attempted_at: Option<Instant>,
}

/// Verifies access tokens against the issuer's keys. Share it as `Arc<Verifier>`.
pub struct Verifier {
    config: VerifierConfig,
    validation: Validation,
    source: Arc<dyn KeySource>,
    cache: RwLock<KeyCache>,
    refresh: tokio::sync::Mutex<()>,
    /// Tokens that verified: their claims and the `kid` that signed them.
    verified: Cache<Box<str>, (Claims, String)>,
    /// Sessions that ended: their tokens are refused however they verify.
    revocations: Revocations,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier reading keys from `source`.
    pub fn new(mut config: VerifierConfig, source: Arc<dyn KeySource>) -> Verifier {
        config.leeway = config.leeway.min(MAX_LEEWAY);
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = config.leeway.as_secs();
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let verified = Cache::builder()
            .max_capacity(config.verified_capacity as u64)
            .expire_after(UntilExpired {
                leeway: config.leeway,
            })
            .build();
        Verifier {
            config,
            validation,
            source,
            cache: RwLock::new(KeyCache::default()),
            refresh: tokio::sync::Mutex::new(()),
            verified,
            revocations: Revocations::new(),
        }
    }

    /// The ended sessions this verifier refuses; feed it with
    /// [`super::revocation::listen`].
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let claims = self.verify_signed(token).await?;
        if self.revocations.refuses(&claims) {
            return Err(VerifyError::Revoked);
        }
        Ok(claims)
    }

    /// Every check but revocation, remembering tokens that pass.
    async fn verify_signed(&self, token: &str) -> Result<Claims, VerifyError> {
        if let Some((claims, kid)) = self.remembered(token) {
            if self.key(&kid).await.is_ok() {
                return Ok(claims);
            }
            // The key was withdrawn: the full check says so.
            self.forget(token);
        }
        let (claims, kid) = self.verify_fully(token).await?;
        self.remember(token, &claims, kid);
        Ok(claims)
    }

    /// A remembered token's claims and `kid`, unless it has expired since.
    fn remembered(&self, token: &str) -> Option<(Claims, String)> {
        if self.config.verified_capacity == 0 {
            return None;
        }
        let (claims, kid) = self.verified.get(token)?;
        if is_expired(&claims, self.validation.leeway) {
            self.forget(token);
            return None;
        }
        Some((claims, kid))
    }

    fn remember(&self, token: &str, claims: &Claims, kid: String) {
        if self.config.verified_capacity == 0 {
            return;
        }
        self.verified.insert(token.into(), (claims.clone(), kid));
    }

    fn forget(&self, token: &str) {
        self.verified.invalidate(token);
    }

    /// Every check: header, key, signature, issuer, audience, expiry. Returns
    /// the claims and the `kid` that signed them.
    async fn verify_fully(&self, token: &str) -> Result<(Claims, String), VerifyError> {
        let Header { alg, kid, typ } = header(token)?;
        if alg != ALGORITHM {
            return Err(VerifyError::UnsupportedAlgorithm(alg));
        }
        if !typ.as_deref().is_some_and(is_access_token_type) {
            return Err(VerifyError::WrongType(typ));
        }
        let kid = kid.ok_or(VerifyError::MissingKeyId)?;
        let key = self.key(&kid).await?;
        jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map(|data| (data.claims, kid))
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidIssuer => VerifyError::WrongIssuer,
                ErrorKind::InvalidAudience => VerifyError::WrongAudience,
                ErrorKind::InvalidSignature => VerifyError::BadSignature,
                ErrorKind::InvalidAlgorithm => VerifyError::UnsupportedAlgorithm(String::new()),
                _ => VerifyError::Malformed,
            })
    }

    /// Reads the keys now (at start, to fail early on a wrong JWKS URL).
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let _single_flight = self.refresh.lock().await;
        self.fetch().await
    }

    /// The decoding key for `kid`, re-reading the keys when it is unknown or the
    /// cache is old, at most once per `min_refresh_interval`.
    async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        let (cached, stale) = self.lookup(kid);
        if let (Some(key), false) = (&cached, stale) {
            return Ok(key.clone());
        }
        let _single_flight = self.refresh.lock().await;
        // Another request may have re-read the keys while this one waited.
        let (cached, stale) = self.lookup(kid);
        if let (Some(key), false) = (&cached, stale) {
            return Ok(key.clone());
        }
        if self.may_fetch() {
            if let Err(error) = self.fetch().await {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "cannot read the token signing keys"
                );
            }
        }
        let (fresh, _) = self.lookup(kid);
        match fresh {
            Some(key) => Ok(key),
            None if self.has_never_fetched() => Err(VerifyError::KeysUnavailable),
            None => Err(VerifyError::UnknownKey),
        }
    }

    /// The cached key and whether the cache is older than `max_key_age`.
    fn lookup(&self, kid: &str) -> (Option<DecodingKey>, bool) {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stale = cache
            .fetched_at
            .is_none_or(|at| at.elapsed() >= self.config.max_key_age);
        (cache.keys.get(kid).cloned(), stale)
    }

    fn may_fetch(&self) -> bool {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .attempted_at
            .is_none_or(|at| at.elapsed() >= self.config.min_refresh_interval)
    }

    fn has_never_fetched(&self) -> bool {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.fetched_at.is_none()
    }

    async fn fetch(&self) -> anyhow::Result<()> {
        self.cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .attempted_at = Some(Instant::now());
        let keys = self.source.public_keys().await?;
        let keys: HashMap<String, DecodingKey> = keys
            .iter()
            .map(|PublicKey { kid, ed25519 }| (kid.clone(), DecodingKey::from_ed_der(ed25519)))
            .collect();
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.keys = keys;
        cache.fetched_at = Some(Instant::now());
        Ok(())
    }
}

/// Evicts a remembered token once it has expired by the rule of the full check
/// (which [`Verifier::remembered`] applies again on every read: eviction runs
/// lazily, and a second of difference must not let a token through).
struct UntilExpired {
    leeway: Duration,
}

impl Expiry<Box<str>, (Claims, String)> for UntilExpired {
    fn expire_after_create(
        &self,
        _token: &Box<str>,
        (claims, _): &(Claims, String),
        _created_at: Instant,
    ) -> Option<Duration> {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = u64::try_from(claims.exp).unwrap_or(0);
        Some(Duration::from_secs(exp.saturating_sub(now)) + self.leeway)
    }
}

/// Whether `claims` expired, by the rule of the full check: `exp` more than
/// `leeway` seconds ago.
fn is_expired(claims: &Claims, leeway: u64) -> bool {
    let now = jsonwebtoken::get_current_timestamp();
    u64::try_from(claims.exp).map_or(true, |exp| exp < now.saturating_sub(leeway))
}

/// Whether `typ` names an access token: `at+jwt`, or its full media type
/// `application/at+jwt`, compared without case (RFC 7515 §4.1.9).
fn is_access_token_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    let typ = typ.strip_prefix("application/").unwrap_or(&typ);
    typ == TOKEN_TYPE
}

/// What a token's header says, read without trusting anything else.
#[derive(serde::Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
}

/// The header of a token.
fn header(token: &str) -> Result<Header, VerifyError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed);
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| VerifyError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| VerifyError::Malformed)
}

#[cfg(test)]
impl Verifier {
    /// The tokens remembered now, once the cache's pending evictions have run.
    fn remembered_tokens(&self) -> Vec<Box<str>> {
        self.verified.run_pending_tasks();
        self.verified
            .iter()
            .map(|(token, _)| (*token).clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;
    use crate::auth::keys::StaticKeys;
    use crate::auth::TOKEN_TYPE;

    const ISSUER: &str = "https://vigor.test";
    const AUDIENCE: &str = "vigor";

    struct TestKey {
        kid: String,
        pkcs8: Vec<u8>,
        public: PublicKey,
    }

    fn test_key(kid: &str) -> TestKey {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).unwrap();
        let ed25519: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
        TestKey {
            kid: kid.to_owned(),
            pkcs8,
            public: PublicKey {
                kid: kid.to_owned(),
                ed25519,
            },
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn claims() -> Claims {
        Claims {
            iss: ISSUER.into(),
            sub: "139611232583749632".into(),
            aud: AUDIENCE.into(),
            exp: now() + 600,
            iat: now(),
            jti: "j1".into(),
            scope: "api offline_access".into(),
            roles: vec!["user".into()],
            client_id: "vigor-web".into(),
            sid: None,
            auth_time: None,
        }
    }

    fn sign(key: &TestKey, claims: &Claims) -> String {
        sign_with(&crate::auth::access_token_header(&key.kid), key, claims)
    }

    fn sign_with(header: &Header, key: &TestKey, claims: &Claims) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_ed_der(&key.pkcs8)).unwrap()
    }

    /// A key source that counts its reads and can be changed between them.
    struct CountingSource {
        keys: RwLock<Vec<PublicKey>>,
        reads: AtomicUsize,
    }

    #[async_trait]
    impl KeySource for CountingSource {
        async fn public_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.keys.read().unwrap().clone())
        }
    }

    fn verifier(keys: Vec<PublicKey>) -> Verifier {
        verifier_with(keys, |_| {})
    }

    /// A verifier of `keys` whose default configuration `adjust` changes.
    fn verifier_with(keys: Vec<PublicKey>, adjust: impl FnOnce(&mut VerifierConfig)) -> Verifier {
        let mut config = VerifierConfig::new(ISSUER, AUDIENCE);
        adjust(&mut config);
        Verifier::new(config, Arc::new(StaticKeys(keys)))
    }

    fn b64(json: serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap())
    }

    #[tokio::test]
    async fn a_good_token_verifies_and_yields_its_claims() {
        let key = test_key("k1");
        let claims = claims();
        let got = verifier(vec![key.public.clone()])
            .verify(&sign(&key, &claims))
            .await
            .unwrap();
        assert_eq!(got, claims);
        assert_eq!(got.user_id().unwrap().as_i64(), 139_611_232_583_749_632);
        assert_eq!(
            got.scopes().collect::<Vec<_>>(),
            vec!["api", "offline_access"]
        );
    }

    #[tokio::test]
    async fn a_token_of_an_ended_session_is_refused_even_when_remembered() {
        let key = test_key("k1");
        let mut claims = claims();
        claims.sid = Some(crate::Id::from_i64(42));
        let token = sign(&key, &claims);
        let verifier = verifier(vec![key.public.clone()]);
        verifier.verify(&token).await.unwrap();
        let user = claims.user_id().unwrap();
        verifier
            .revocations()
            .record(&super::super::SessionsEnded::session(
                user,
                crate::Id::from_i64(43),
            ));
        assert!(
            verifier.verify(&token).await.is_ok(),
            "another session ended"
        );
        verifier
            .revocations()
            .record(&super::super::SessionsEnded::session(
                user,
                crate::Id::from_i64(42),
            ));
        assert_eq!(verifier.verify(&token).await, Err(VerifyError::Revoked));
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let key = test_key("k1");
        let payload = b64(serde_json::to_value(claims()).unwrap());
        let unsigned = format!(
            "{}.{payload}.",
            b64(serde_json::json!({"alg": "none", "kid": "k1"}))
        );
        let err = verifier(vec![key.public])
            .verify(&unsigned)
            .await
            .unwrap_err();
        assert_eq!(err, VerifyError::UnsupportedAlgorithm("none".into()));
    }

    #[tokio::test]
    async fn hmac_tokens_signed_with_the_public_key_are_refused() {
        // The classic confusion attack: HS256 with the public key as the secret.
        let key = test_key("k1");
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let forged = jsonwebtoken::encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(&key.public.ed25519),
        )
        .unwrap();
        let err = verifier(vec![key.public])
            .verify(&forged)
            .await
            .unwrap_err();
        assert_eq!(err, VerifyError::UnsupportedAlgorithm("HS256".into()));
    }

    #[tokio::test]
    async fn a_token_signed_by_another_key_with_a_known_kid_is_refused() {
        let key = test_key("k1");
        let impostor = test_key("k1");
        let token = sign(&impostor, &claims());
        let err = verifier(vec![key.public]).verify(&token).await.unwrap_err();
        assert_eq!(err, VerifyError::BadSignature);
    }

    #[tokio::test]
    async fn a_tampered_payload_is_refused() {
        let key = test_key("k1");
        let token = sign(&key, &claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut admin = claims();
        admin.roles = vec!["admin".into()];
        parts[1] = b64(serde_json::to_value(admin).unwrap());
        let err = verifier(vec![key.public])
            .verify(&parts.join("."))
            .await
            .unwrap_err();
        assert_eq!(err, VerifyError::BadSignature);
    }

    #[tokio::test]
    async fn the_wrong_issuer_or_audience_is_refused() {
        let key = test_key("k1");
        let v = verifier(vec![key.public.clone()]);
        let mut other_iss = claims();
        other_iss.iss = "https://evil.test".into();
        assert_eq!(
            v.verify(&sign(&key, &other_iss)).await.unwrap_err(),
            VerifyError::WrongIssuer
        );
        let mut other_aud = claims();
        other_aud.aud = "another-api".into();
        assert_eq!(
            v.verify(&sign(&key, &other_aud)).await.unwrap_err(),
            VerifyError::WrongAudience
        );
    }

    #[tokio::test]
    async fn expiry_is_enforced_with_at_most_thirty_seconds_of_leeway() {
        let key = test_key("k1");
        let v = verifier_with(vec![key.public.clone()], |c| {
            c.leeway = Duration::from_secs(3600);
        });
        assert_eq!(v.config().leeway, MAX_LEEWAY);
        let mut within = claims();
        within.exp = now() - 10;
        assert!(v.verify(&sign(&key, &within)).await.is_ok());
        let mut expired = claims();
        expired.exp = now() - 45;
        assert_eq!(
            v.verify(&sign(&key, &expired)).await.unwrap_err(),
            VerifyError::Expired
        );
    }

    #[tokio::test]
    async fn tokens_without_kid_or_with_an_unknown_kid_are_refused() {
        let key = test_key("k1");
        let v = verifier(vec![key.public.clone()]);
        let mut header = crate::auth::access_token_header(&key.kid);
        header.kid = None;
        let no_kid = sign_with(&header, &key, &claims());
        assert_eq!(
            v.verify(&no_kid).await.unwrap_err(),
            VerifyError::MissingKeyId
        );
        let stranger = test_key("k9");
        assert_eq!(
            v.verify(&sign(&stranger, &claims())).await.unwrap_err(),
            VerifyError::UnknownKey
        );
    }

    #[tokio::test]
    async fn tokens_signed_with_the_right_key_but_not_typed_at_jwt_are_refused() {
        let key = test_key("k1");
        let v = verifier(vec![key.public.clone()]);
        for typ in [Some("JWT"), Some("id_token+jwt"), None] {
            let mut header = crate::auth::access_token_header(&key.kid);
            header.typ = typ.map(str::to_owned);
            assert_eq!(
                v.verify(&sign_with(&header, &key, &claims()))
                    .await
                    .unwrap_err(),
                VerifyError::WrongType(typ.map(str::to_owned)),
                "{typ:?}"
            );
        }
        // The full media type, in any case, names the same type.
        for typ in ["application/at+jwt", "AT+JWT", TOKEN_TYPE] {
            let mut header = crate::auth::access_token_header(&key.kid);
            header.typ = Some(typ.to_owned());
            assert!(v.verify(&sign_with(&header, &key, &claims())).await.is_ok());
        }
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let v = verifier(vec![test_key("k1").public]);
        for token in ["", "abc", "a.b", "a.b.c.d", "!!.??.**"] {
            assert_eq!(
                v.verify(token).await.unwrap_err(),
                VerifyError::Malformed,
                "{token:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_unknown_kid_rereads_the_keys_once_per_interval() {
        let old = test_key("old");
        let new = test_key("new");
        let source = Arc::new(CountingSource {
            keys: RwLock::new(vec![old.public.clone()]),
            reads: AtomicUsize::new(0),
        });
        let mut config = VerifierConfig::new(ISSUER, AUDIENCE);
        config.min_refresh_interval = Duration::from_millis(300);
        let v = Verifier::new(config, source.clone());

        assert!(v.verify(&sign(&old, &claims())).await.is_ok());
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
        assert!(v.verify(&sign(&old, &claims())).await.is_ok());
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            1,
            "known keys are cached"
        );

        // The issuer rotates; within the interval, unknown kids do not cause reads.
        source.keys.write().unwrap().push(new.public.clone());
        let forged = sign(&test_key("forged"), &claims());
        assert_eq!(
            v.verify(&forged).await.unwrap_err(),
            VerifyError::UnknownKey
        );
        assert_eq!(
            v.verify(&sign(&new, &claims())).await.unwrap_err(),
            VerifyError::UnknownKey
        );
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);

        // After it, one read picks up the new key.
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(v.verify(&sign(&new, &claims())).await.is_ok());
        assert_eq!(source.reads.load(Ordering::SeqCst), 2);
        assert!(v.verify(&sign(&old, &claims())).await.is_ok());
    }

    #[tokio::test]
    async fn concurrent_requests_with_a_new_kid_share_one_read() {
        let key = test_key("k1");
        let source = Arc::new(CountingSource {
            keys: RwLock::new(vec![key.public.clone()]),
            reads: AtomicUsize::new(0),
        });
        let v = Arc::new(Verifier::new(
            VerifierConfig::new(ISSUER, AUDIENCE),
            source.clone(),
        ));
        let token = sign(&key, &claims());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let v = Arc::clone(&v);
                let token = token.clone();
                tokio::spawn(async move { v.verify(&token).await })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap().is_ok());
        }
        assert_eq!(source.reads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unreachable_keys_are_reported_as_such() {
        struct Down;
        #[async_trait]
        impl KeySource for Down {
            async fn public_keys(&self) -> anyhow::Result<Vec<PublicKey>> {
                anyhow::bail!("connection refused")
            }
        }
        let v = Verifier::new(VerifierConfig::new(ISSUER, AUDIENCE), Arc::new(Down));
        let token = sign(&test_key("k1"), &claims());
        assert_eq!(
            v.verify(&token).await.unwrap_err(),
            VerifyError::KeysUnavailable
        );
    }

    #[tokio::test]
    async fn a_remembered_token_still_expires_on_time() {
        let key = test_key("k1");
        let v = verifier(vec![key.public.clone()]);
        // Expired 29 s ago: within the 30 s leeway, for about a second more.
        let mut nearly = claims();
        nearly.exp = now() - 29;
        let token = sign(&key, &nearly);
        assert_eq!(v.verify(&token).await.unwrap(), nearly);
        assert_eq!(v.remembered_tokens().len(), 1, "remembered");
        assert_eq!(v.verify(&token).await.unwrap(), nearly, "from memory");
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Expired);
        assert!(v.remembered_tokens().is_empty(), "forgotten once expired");
    }

    #[tokio::test]
    async fn a_remembered_token_stops_with_its_withdrawn_key() {
        let key = test_key("k1");
        let source = Arc::new(CountingSource {
            keys: RwLock::new(vec![key.public.clone()]),
            reads: AtomicUsize::new(0),
        });
        let mut config = VerifierConfig::new(ISSUER, AUDIENCE);
        // Keys are re-read on every check, as the auth service's own verifier does.
        config.max_key_age = Duration::ZERO;
        config.min_refresh_interval = Duration::ZERO;
        let v = Verifier::new(config, source.clone());
        let token = sign(&key, &claims());
        assert!(v.verify(&token).await.is_ok());
        assert!(v.verify(&token).await.is_ok());
        // The issuer withdraws the key: the remembered token is refused at once.
        source.keys.write().unwrap().clear();
        assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::UnknownKey);
        assert!(v.remembered_tokens().is_empty());
    }

    #[tokio::test]
    async fn memory_is_bounded_and_only_successes_are_remembered() {
        let key = test_key("k1");
        let v = verifier_with(vec![key.public.clone()], |c| c.verified_capacity = 3);
        let mut tokens = Vec::new();
        for n in 0..5 {
            let mut c = claims();
            c.jti = format!("j{n}");
            tokens.push(sign(&key, &c));
        }
        for token in &tokens {
            assert!(v.verify(token).await.is_ok());
            assert!(v.remembered_tokens().len() <= 3);
        }
        // Refused tokens are never kept: a forged one, an expired one.
        let forged = sign(&test_key("k1"), &claims());
        assert_eq!(
            v.verify(&forged).await.unwrap_err(),
            VerifyError::BadSignature
        );
        let mut expired = claims();
        expired.exp = now() - 120;
        assert!(v.verify(&sign(&key, &expired)).await.is_err());
        {
            let verified = v.remembered_tokens();
            assert!(!verified.iter().any(|t| **t == *forged));
            assert!(verified
                .iter()
                .all(|t| tokens.iter().any(|k| k.as_str() == &**t)));
        }

        // None at all with a capacity of 0.
        let v = verifier_with(vec![key.public], |c| c.verified_capacity = 0);
        assert!(v.verify(&tokens[0]).await.is_ok());
        assert!(v.remembered_tokens().is_empty());
    }
}
