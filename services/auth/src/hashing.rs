//! Password hashing with bounded CPU and memory: argon2id on a small pool.
//!
//! argon2id costs tens of milliseconds of CPU and 19 MiB of memory per hash *on
//! purpose*. Run unbounded, a burst of sign-ins (or of guesses) would start as many
//! hashes as there are requests: every core busy for seconds and one fresh 19 MiB
//! block per request, a memory peak that grows with the attack. So every hash and
//! every verification takes one of a few *slots* (`auth.hash_concurrency`, by
//! default one per core) and runs on the blocking pool with the memory block that
//! slot keeps: at most one block per slot is ever allocated, and it is reused by
//! the next hash instead of being freed and allocated again. A request that finds
//! every slot busy waits at most `auth.hash_queue_wait_ms`; then it is refused with
//! [`HashError::Busy`] (503 with `Retry-After`), which costs the server nothing.
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=…`) with the parameters in them, so the
//! parameters can change later and old hashes still verify. A sign-in for an
//! unknown email verifies against a dummy hash, so the answer takes as long as for
//! a known one (timing does not reveal accounts).

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::domain::Password;

/// What a refused (busy) request is told to wait, in seconds.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The largest argon2 memory cost a stored hash may ask for, in KiB (256 MiB):
/// a corrupt row must not make a slot allocate without bound.
const MAX_M_COST_KIB: u32 = 256 * 1024;

/// Why hashing or verifying did not happen.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every slot stayed busy for the whole queue wait: retry after this many seconds.
    #[error("every password-hashing slot is busy; try again shortly")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// argon2 failed, or a stored hash is malformed.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The answer of a problem+json endpoint whose request found every hashing slot
/// busy: 503 with `Retry-After`.
pub fn busy_problem(retry_after: u64) -> vigor_common::Problem {
    vigor_common::Problem::new(axum::http::StatusCode::SERVICE_UNAVAILABLE)
        .with_detail("the server is busy checking passwords; try again shortly")
        .with_retry_after(retry_after)
}

/// Hashes and verifies passwords with argon2id on a bounded pool. Cheap to clone:
/// clones share the pool.
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Pool>,
}

struct Pool {
    params: Params,
    slots: Arc<Semaphore>,
    concurrency: usize,
    max_wait: Duration,
    /// The memory blocks of idle slots (at most one per slot ever exists).
    memory: Mutex<Vec<Vec<Block>>>,
    /// How many memory blocks were ever allocated.
    allocated: AtomicUsize,
    dummy: OnceLock<String>,
    verifications: AtomicU64,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("m_cost", &self.inner.params.m_cost())
            .field("t_cost", &self.inner.params.t_cost())
            .field("concurrency", &self.inner.concurrency)
            .field("max_wait", &self.inner.max_wait)
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        PasswordHasher::recommended()
    }
}

/// The number of cores this process may use (the default pool size).
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// How long a request waits for a slot unless configured.
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_millis(1000);

impl PasswordHasher {
    /// OWASP's recommended argon2id parameters (19 MiB, 2 passes, 1 lane), one
    /// slot per core.
    pub fn recommended() -> Self {
        PasswordHasher::with_params(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST, 1)
    }

    /// Explicit parameters: memory in KiB, passes, lanes (falls back to the
    /// recommended ones when the combination is invalid); one slot per core.
    pub fn with_params(m_cost_kib: u32, t_cost: u32, lanes: u32) -> Self {
        let params = Params::new(m_cost_kib, t_cost, lanes, None).unwrap_or_default();
        PasswordHasher::new(params, available_cores(), DEFAULT_QUEUE_WAIT)
    }

    /// The same parameters on a pool of `concurrency` slots (at least one), where
    /// a request waits at most `max_wait` for a slot.
    pub fn with_pool(&self, concurrency: usize, max_wait: Duration) -> Self {
        PasswordHasher::new(self.inner.params.clone(), concurrency, max_wait)
    }

    fn new(params: Params, concurrency: usize, max_wait: Duration) -> Self {
        let concurrency = concurrency.max(1);
        PasswordHasher {
            inner: Arc::new(Pool {
                params,
                slots: Arc::new(Semaphore::new(concurrency)),
                concurrency,
                max_wait,
                memory: Mutex::new(Vec::with_capacity(concurrency)),
                allocated: AtomicUsize::new(0),
                dummy: OnceLock::new(),
                verifications: AtomicU64::new(0),
            }),
        }
    }

    /// How many passwords were verified (dummy verifications included).
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// How many argon2 memory blocks were ever allocated (at most the pool size).
    pub fn memory_blocks_allocated(&self) -> usize {
        self.inner.allocated.load(Ordering::Relaxed)
    }

    /// The pool size.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// The PHC string (`$argon2id$v=19$m=…`) of `password`, with a fresh salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.clone();
        self.run(move |pool, memory| pool.hash(password.expose(), memory))
            .await
    }

    /// Whether `password` matches `phc`; `phc: None` (no such account) verifies
    /// against a dummy hash and answers `false`, taking the same time.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, HashError> {
        let password = password.to_owned();
        let phc = phc.map(str::to_owned);
        self.run(move |pool, memory| {
            pool.verifications.fetch_add(1, Ordering::Relaxed);
            match phc {
                Some(phc) => pool.verify(&password, &phc, memory),
                None => {
                    let dummy = pool.dummy_hash(memory)?;
                    pool.verify(&password, &dummy, memory).map(|_| false)
                }
            }
        })
        .await
    }

    /// Runs `job` on the blocking pool with a slot and its memory block, waiting
    /// at most `max_wait` for the slot. The slot is held until the job ends, even
    /// when the caller stops waiting for it.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Pool, &mut Vec<Block>) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let acquire = self.inner.slots.clone().acquire_owned();
        let permit = match tokio::time::timeout(self.inner.max_wait, acquire).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(anyhow::anyhow!("the hashing pool is closed").into()),
            Err(_) => {
                return Err(HashError::Busy {
                    retry_after: BUSY_RETRY_AFTER_SECS,
                })
            }
        };
        let pool = self.inner.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            let mut memory = pool.take_memory();
            let result = job(&pool, &mut memory);
            pool.give_back(memory);
            result
        })
        .await
        .context("the hashing task failed")?;
        Ok(result?)
    }
}

impl Pool {
    fn take_memory(&self) -> Vec<Block> {
        let idle = self.memory.lock().map(|mut idle| idle.pop());
        match idle {
            Ok(Some(memory)) => memory,
            _ => {
                self.allocated.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            }
        }
    }

    fn give_back(&self, memory: Vec<Block>) {
        if let Ok(mut idle) = self.memory.lock() {
            idle.push(memory);
        }
    }

    /// The first `params.block_count()` blocks of `memory`, grown when needed
    /// (once per slot, to the largest cost it met).
    fn blocks<'m>(params: &Params, memory: &'m mut Vec<Block>) -> &'m mut [Block] {
        let needed = params.block_count();
        if memory.len() < needed {
            memory.resize(needed, Block::default());
        }
        &mut memory[..needed]
    }

    fn hash(&self, password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let salt_string =
            SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                &mut out,
                Pool::blocks(&self.params, memory),
            )
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params)
                .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?,
            salt: Some(salt_string.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
        };
        Ok(phc.to_string())
    }

    fn dummy_hash(&self, memory: &mut Vec<Block>) -> anyhow::Result<String> {
        if let Some(hash) = self.dummy.get() {
            return Ok(hash.clone());
        }
        let hash = self.hash("not a password anyone has: dummy", memory)?;
        Ok(self.dummy.get_or_init(|| hash).clone())
    }

    /// Recomputes the hash of `password` with the algorithm, version, parameters
    /// and salt of `phc` (not `self`'s), and compares in constant time.
    fn verify(&self, password: &str, phc: &str, memory: &mut Vec<Block>) -> anyhow::Result<bool> {
        let malformed = |e: &dyn fmt::Display| anyhow::anyhow!("stored hash is malformed: {e}");
        let parsed = PasswordHash::new(phc).map_err(|e| malformed(&e))?;
        let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| malformed(&e))?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|e| malformed(&e))?
            .unwrap_or_default();
        let params = Params::try_from(&parsed).map_err(|e| malformed(&e))?;
        if params.m_cost() > MAX_M_COST_KIB {
            return Err(malformed(&format_args!("m_cost {} KiB", params.m_cost())));
        }
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(malformed(&"no salt or no hash"));
        };
        let mut salt_buffer = [0u8; 64];
        let salt = salt
            .decode_b64(&mut salt_buffer)
            .map_err(|e| malformed(&e))?;
        let mut out = vec![0u8; expected.len()];
        Argon2::new(algorithm, version, params.clone())
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                Pool::blocks(&params, memory),
            )
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
        Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::with_params(8 * 1024, 1, 1)
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = cheap();
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
        assert_eq!(hasher.verifications(), 3);
        // A second hash of the same password has its own salt.
        assert_ne!(hasher.hash(&password).await.unwrap(), hash);
    }

    #[tokio::test]
    async fn hashes_of_the_argon2_crate_verify_and_ours_verify_there() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = cheap();
        let params = Params::new(4 * 1024, 2, 1, None).unwrap();
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(hasher
            .verify("correct horse battery staple", Some(&theirs))
            .await
            .unwrap());
        let ours = hasher
            .hash(&Password::parse("correct horse battery staple").unwrap())
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery staple", &parsed)
            .is_ok());
    }

    #[tokio::test]
    async fn malformed_stored_hashes_are_errors_not_mismatches() {
        let hasher = cheap();
        for phc in [
            "not a hash",
            "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        ] {
            assert!(matches!(
                hasher.verify("x", Some(phc)).await,
                Err(HashError::Internal(_))
            ));
        }
    }

    /// `n` hashes started at once on `hasher`; their outcomes.
    async fn hash_at_once(hasher: &PasswordHasher, n: usize) -> Vec<Result<String, HashError>> {
        let password = Password::parse("correct horse battery staple").unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..n {
            let hasher = hasher.clone();
            let password = password.clone();
            tasks.spawn(async move { hasher.hash(&password).await });
        }
        tasks.join_all().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrency_and_memory_are_bounded_by_the_pool() {
        let hasher = cheap().with_pool(2, Duration::from_secs(60));
        for done in hash_at_once(&hasher, 24).await {
            done.unwrap();
        }
        // Two slots: two memory blocks in all, reused by the other 22 hashes.
        assert_eq!(hasher.memory_blocks_allocated(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_saturated_pool_refuses_instead_of_queueing_forever() {
        // One slot, no waiting, and hashes slow enough to overlap.
        let hasher = PasswordHasher::with_params(32 * 1024, 4, 1).with_pool(1, Duration::ZERO);
        let (mut done, mut busy) = (0, 0);
        for result in hash_at_once(&hasher, 8).await {
            match result {
                Ok(_) => done += 1,
                Err(HashError::Busy { retry_after }) => {
                    assert_eq!(retry_after, BUSY_RETRY_AFTER_SECS);
                    busy += 1;
                }
                Err(e) => panic!("{e:#}"),
            }
        }
        assert!(done >= 1 && busy >= 1, "done {done}, busy {busy}");
        assert_eq!(hasher.memory_blocks_allocated(), 1);
    }
}
