//! One conformance suite for every `RateLimiter`, run against the in-memory limiter
//! and a real Redis (through the test kit; skipped outside the test script).

// A failing unwrap here is a failing test: clippy.toml's allow-unwrap-in-tests
// covers #[test] functions, not the helpers of a test crate.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use vigor_common::testkit;
use vigor_gateway::ratelimit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};

/// Makes limiters of one backend, each with its own state.
enum Backend {
    Memory,
    Redis(String),
}

impl Backend {
    async fn limiter(&self, per_second: u32, burst: u32) -> Arc<dyn RateLimiter> {
        match self {
            Backend::Memory => Arc::new(MemoryRateLimiter::new(
                per_second,
                burst,
                CancellationToken::new(),
                &TaskTracker::new(),
            )),
            Backend::Redis(url) => {
                let prefix = format!("{}:", testkit::unique_name("vigor_test_ratelimit"));
                Arc::new(
                    RedisRateLimiter::connect(url, &prefix, per_second, burst)
                        .await
                        .expect("the test Redis accepts connections"),
                )
            }
        }
    }
}

macro_rules! conformance {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Memory).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(url) = vigor_common::testkit::redis_url() else { return };
                    super::$name(super::Backend::Redis(url)).await;
                }
            )+
        }
    };
}

conformance!(
    a_burst_is_allowed_then_denied,
    tokens_refill_and_retry_after_is_right,
    keys_are_independent,
    concurrent_checks_never_over_admit,
    costs_take_several_tokens,
);

async fn a_burst_is_allowed_then_denied(backend: Backend) {
    let limiter = backend.limiter(1, 3).await;
    for expected_remaining in [2, 1, 0] {
        let decision = limiter.check("client", 1).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.limit, 3);
        assert_eq!(decision.remaining, expected_remaining);
        assert_eq!(decision.retry_after, Duration::ZERO);
    }
    let denied = limiter.check("client", 1).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    assert!(
        denied.retry_after > Duration::from_millis(900),
        "{denied:?}"
    );
    assert!(denied.retry_after <= Duration::from_secs(1), "{denied:?}");
    assert!(
        denied.reset > Duration::from_millis(2900) && denied.reset <= Duration::from_secs(3),
        "{denied:?}"
    );
}

async fn tokens_refill_and_retry_after_is_right(backend: Backend) {
    // 5 per second: a token every 200 ms.
    let limiter = backend.limiter(5, 2).await;
    let started = Instant::now();
    assert!(limiter.check("client", 1).await.unwrap().allowed);
    assert!(limiter.check("client", 1).await.unwrap().allowed);
    let denied = limiter.check("client", 1).await.unwrap();
    let elapsed = started.elapsed();
    assert!(!denied.allowed);
    // The bucket emptied after `started`, so the next token is due 200 ms after
    // some instant in [started, now].
    assert!(
        denied.retry_after <= Duration::from_millis(200),
        "{denied:?}"
    );
    assert!(
        denied.retry_after + elapsed + Duration::from_millis(2) >= Duration::from_millis(200),
        "{denied:?} after {elapsed:?}"
    );

    tokio::time::sleep(denied.retry_after + Duration::from_millis(20)).await;
    let refilled = limiter.check("client", 1).await.unwrap();
    assert!(refilled.allowed, "{refilled:?}");
    assert_eq!(refilled.remaining, 0);
    assert!(
        !limiter.check("client", 1).await.unwrap().allowed,
        "one token came back, not more"
    );

    // Idle for longer than the whole bucket takes: full again, never more.
    tokio::time::sleep(Duration::from_millis(650)).await;
    let full = limiter.check("client", 1).await.unwrap();
    assert!(full.allowed);
    assert_eq!(full.remaining, 1);
}

async fn keys_are_independent(backend: Backend) {
    let limiter = backend.limiter(1, 1).await;
    assert!(limiter.check("a", 1).await.unwrap().allowed);
    assert!(!limiter.check("a", 1).await.unwrap().allowed);
    assert!(limiter.check("b", 1).await.unwrap().allowed);
    assert!(!limiter.check("b", 1).await.unwrap().allowed);
}

async fn concurrent_checks_never_over_admit(backend: Backend) {
    let limiter = backend.limiter(1, 50).await;
    let checks = (0..200).map(|_| {
        let limiter = limiter.clone();
        tokio::spawn(async move { limiter.check("crowd", 1).await.unwrap().allowed })
    });
    let results = futures::future::join_all(checks).await;
    let admitted = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(admitted, 50);
}

async fn costs_take_several_tokens(backend: Backend) {
    let limiter = backend.limiter(1, 5).await;
    let first = limiter.check("client", 3).await.unwrap();
    assert!(first.allowed);
    assert_eq!(first.remaining, 2);
    let too_much = limiter.check("client", 3).await.unwrap();
    assert!(!too_much.allowed);
    assert!(
        too_much.retry_after > Duration::from_millis(900)
            && too_much.retry_after <= Duration::from_secs(1)
    );
    assert!(limiter.check("client", 2).await.unwrap().allowed);
    // More than the bucket holds is never allowed, even when it is full.
    assert!(!limiter.check("fresh", 6).await.unwrap().allowed);
}

/// Redis keeps a key only while its bucket is not full: its TTL is the time to
/// refill, and a denied check does not extend it.
#[tokio::test]
async fn redis_keys_expire_when_the_bucket_is_full() {
    use fred::prelude::{ClientLike, KeysInterface};

    let Some(url) = testkit::redis_url() else {
        return;
    };
    let prefix = format!("{}:", testkit::unique_name("vigor_test_ratelimit"));
    let limiter = RedisRateLimiter::connect(&url, &prefix, 10, 2)
        .await
        .unwrap();
    let inspector =
        fred::prelude::Builder::from_config(fred::prelude::Config::from_url(&url).unwrap())
            .build()
            .unwrap();
    inspector.init().await.unwrap();
    let key = format!("{prefix}ratelimit:client");

    limiter.check("client", 1).await.unwrap();
    let ttl: i64 = inspector.pttl(&key).await.unwrap();
    assert!(
        (1..=100).contains(&ttl),
        "one token used: refilled in 100 ms, ttl {ttl}"
    );
    limiter.check("client", 1).await.unwrap();
    let ttl: i64 = inspector.pttl(&key).await.unwrap();
    assert!((100..=200).contains(&ttl), "two tokens used: ttl {ttl}");

    tokio::time::sleep(Duration::from_millis(250)).await;
    let exists: i64 = inspector.exists(&key).await.unwrap();
    assert_eq!(exists, 0, "a full bucket leaves no key behind");
    inspector.quit().await.unwrap();
}

/// A TCP proxy to Redis that can freeze (stop forwarding, keep the connections
/// open: a hung Redis) and be killed (close everything: a Redis that is gone).
struct RedisProxy {
    url: String,
    freeze: CancellationToken,
    kill: CancellationToken,
}

impl RedisProxy {
    async fn start(redis_url: &str) -> RedisProxy {
        let target = url::Url::parse(redis_url).unwrap();
        let target = format!(
            "{}:{}",
            target.host_str().unwrap(),
            target.port().unwrap_or(6379)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let (freeze, kill) = (CancellationToken::new(), CancellationToken::new());
        let (frozen, killed) = (freeze.clone(), kill.clone());
        tokio::spawn(async move {
            loop {
                let (mut client, _) = tokio::select! {
                    _ = killed.cancelled() => return,
                    accepted = listener.accept() => accepted.unwrap(),
                };
                let mut server = tokio::net::TcpStream::connect(&target).await.unwrap();
                let (frozen, killed) = (frozen.clone(), killed.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = frozen.cancelled() => killed.cancelled().await,
                    }
                });
            }
        });
        RedisProxy { url, freeze, kill }
    }
}

/// A hung, a vanished or a closed Redis is an error, quickly — never a hang.
#[tokio::test]
async fn redis_failures_are_errors_not_hangs() {
    let Some(url) = testkit::redis_url() else {
        return;
    };
    let proxy = RedisProxy::start(&url).await;
    let prefix = format!("{}:", testkit::unique_name("vigor_test_ratelimit"));
    let limiter = RedisRateLimiter::connect(&proxy.url, &prefix, 1, 1)
        .await
        .unwrap();
    limiter.ping().await.unwrap();
    assert!(limiter.check("client", 1).await.unwrap().allowed);

    proxy.freeze.cancel();
    let started = Instant::now();
    let error = limiter.check("client", 1).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "hung Redis: {:?}",
        started.elapsed()
    );
    assert!(error.to_string().contains("redis"), "{error}");
    assert!(limiter.ping().await.is_err());

    proxy.kill.cancel();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    assert!(limiter.check("client", 1).await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "vanished Redis: {:?}",
        started.elapsed()
    );

    limiter.close().await;
    let started = Instant::now();
    assert!(limiter.check("client", 1).await.is_err());
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "closed limiter"
    );

    assert!(RedisRateLimiter::connect("redis://127.0.0.1:1", "x:", 1, 1)
        .await
        .is_err());
}
