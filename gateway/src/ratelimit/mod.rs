//! The per-client rate limit: a token bucket per client, kept in memory (one
//! process) or in Redis (shared by every gateway node), and the middleware that
//! applies it.
//!
//! Each client has a bucket of `burst` tokens refilled at `per_second`; a request
//! takes one. Both backends compute it the same way, as GCRA (the "generic cell rate
//! algorithm"): the bucket is one timestamp, the *theoretical arrival time* (TAT) at
//! which the bucket would be full again, in whole time units, so the arithmetic is
//! exact — a burst of 50 admits exactly 50 — and a bucket that is full is the same as
//! no bucket at all. That last property is what lets idle buckets be dropped (the
//! memory sweep, Redis key TTLs) without changing any decision.
//!
//! The middleware keys clients by the address the gateway decided for the request
//! ([`vigor_common::client_address`]; an IPv6 client by its /64) and answers a
//! denied request with a 429 problem+json carrying `Retry-After`; every limited
//! response carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`
//! (draft-ietf-httpapi-ratelimit-headers). If the limiter itself fails (Redis down),
//! the request is let through — see [`layer`] for why.

pub mod memory;
pub mod redis;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use tower::{Layer, Service};
use vigor_common::client_address::ClientAddress;
use vigor_common::Problem;

pub use memory::MemoryRateLimiter;
pub use redis::RedisRateLimiter;

/// Requests refused by the rate limit, by backend.
pub const REJECTED_TOTAL: &str = "vigor_ratelimit_rejected_total";
/// Rate-limit checks that failed and let the request through, by backend.
pub const ERRORS_TOTAL: &str = "vigor_ratelimit_errors_total";

/// Paths never rate-limited: probes and scrapes must work when a client is throttled.
pub const EXEMPT_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// How often a failing limiter is logged (every failure is counted).
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed (its cost was taken).
    pub allowed: bool,
    /// The bucket size (`burst`).
    pub limit: u32,
    /// Whole tokens left after this check.
    pub remaining: u32,
    /// When denied, how long until the same request would be allowed; zero when
    /// allowed. A cost above `limit` is never allowed; it then says when the bucket
    /// is full.
    pub retry_after: Duration,
    /// How long until the bucket is full again.
    pub reset: Duration,
}

/// Why a check could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The store failed (Redis unreachable, timed out, script error).
    #[error("{backend} rate limiter failed: {message}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// A token-bucket rate limiter: each key has a bucket of `burst` tokens refilled at
/// `per_second`.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes `cost` tokens from `key`'s bucket if it holds that many.
    async fn check(&self, key: &str, cost: u32) -> Result<Decision, RateLimitError>;

    /// A short name of the backend for logs and metric labels (`memory`, `redis`).
    fn backend(&self) -> &'static str;
}

/// GCRA over whole time units (nanoseconds in memory, microseconds in Redis; the
/// Redis Lua script mirrors this).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gcra {
    /// Time units per token (rounded up, so the rate never exceeds `per_second`).
    interval: u64,
    burst: u32,
}

/// What [`Gcra::check`] decided, in time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GcraOutcome {
    pub allowed: bool,
    /// The TAT to store when allowed.
    pub tat: u64,
    pub remaining: u32,
    pub retry_after: u64,
    pub reset: u64,
}

impl Gcra {
    /// `units_per_second`: 1e9 for nanoseconds, 1e6 for microseconds.
    pub(crate) fn new(per_second: u32, burst: u32, units_per_second: u64) -> Gcra {
        let per_second = u64::from(per_second.max(1));
        Gcra {
            interval: units_per_second.div_ceil(per_second),
            burst: burst.max(1),
        }
    }

    pub(crate) fn interval(&self) -> u64 {
        self.interval
    }

    pub(crate) fn burst(&self) -> u32 {
        self.burst
    }

    /// Checks `cost` against a bucket whose TAT is `tat` (`None`: no bucket, i.e. full).
    pub(crate) fn check(&self, tat: Option<u64>, now: u64, cost: u32) -> GcraOutcome {
        let tolerance = u64::from(self.burst).saturating_mul(self.interval);
        let tat = tat.unwrap_or(now).max(now);
        let new_tat = tat.saturating_add(u64::from(cost).saturating_mul(self.interval));
        if new_tat - now <= tolerance {
            GcraOutcome {
                allowed: true,
                tat: new_tat,
                remaining: self.whole_tokens(tolerance - (new_tat - now)),
                retry_after: 0,
                reset: new_tat - now,
            }
        } else {
            let debt = tat - now;
            let retry_after = if cost <= self.burst {
                new_tat - now - tolerance
            } else {
                debt
            };
            GcraOutcome {
                allowed: false,
                tat,
                remaining: self.whole_tokens(tolerance.saturating_sub(debt)),
                retry_after,
                reset: debt,
            }
        }
    }

    fn whole_tokens(&self, units: u64) -> u32 {
        u32::try_from(units / self.interval).unwrap_or(u32::MAX)
    }
}

/// The rate-limit middleware, keyed by client address, exempting
/// [`EXEMPT_PATHS`].
///
/// If the limiter fails, the request is let through (fail open), with a warning
/// (at most one per 10 s) and a count in `vigor_ratelimit_errors_total`. The limit
/// protects capacity against abusive clients; it guards no data. Failing closed
/// would turn a Redis outage into an outage of the whole API, including every
/// request that does not need Redis at all — a far worse outcome than a few
/// minutes without per-client limits.
pub fn layer(limiter: Arc<dyn RateLimiter>) -> RateLimitLayer {
    // Rejections and failures are counted from the first request on.
    vigor_common::telemetry::metrics();
    RateLimitLayer {
        shared: Arc::new(Shared {
            limiter,
            last_warning: Mutex::new(None),
        }),
    }
}

struct Shared {
    limiter: Arc<dyn RateLimiter>,
    last_warning: Mutex<Option<Instant>>,
}

impl Shared {
    fn should_warn(&self) -> bool {
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match *last {
            Some(at) if now.duration_since(at) < WARN_EVERY => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }
}

/// The layer made by [`layer`].
#[derive(Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service made by [`RateLimitLayer`].
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Service<Request> for RateLimit<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The clone is not ready; the instance `poll_ready` was called on is.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            if EXEMPT_PATHS.contains(&request.uri().path()) {
                return inner.call(request).await;
            }
            let key = match request.extensions().get::<ClientAddress>() {
                Some(address) => address.limit_key(),
                None => ClientAddress(
                    request
                        .extensions()
                        .get::<ConnectInfo<SocketAddr>>()
                        .map(|c| c.0.ip()),
                )
                .limit_key(),
            };
            let backend = shared.limiter.backend();
            match shared.limiter.check(&key, 1).await {
                Ok(decision) if decision.allowed => {
                    let mut response = inner.call(request).await?;
                    set_headers(response.headers_mut(), &decision);
                    Ok(response)
                }
                Ok(decision) => {
                    metrics::counter!(REJECTED_TOTAL, "backend" => backend).increment(1);
                    tracing::debug!(client = %key, "rate limited");
                    Ok(denied(&decision, request.uri().path()))
                }
                Err(error) => {
                    metrics::counter!(ERRORS_TOTAL, "backend" => backend).increment(1);
                    if shared.should_warn() {
                        tracing::warn!(%error, "rate limiter failed; letting requests through");
                    }
                    inner.call(request).await
                }
            }
        })
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

fn set_headers(headers: &mut HeaderMap, decision: &Decision) {
    let values = [
        ("ratelimit-limit", u64::from(decision.limit)),
        ("ratelimit-remaining", u64::from(decision.remaining)),
        ("ratelimit-reset", ceil_secs(decision.reset)),
    ];
    for (name, value) in values {
        headers
            .entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from(value));
    }
}

fn denied(decision: &Decision, path: &str) -> Response {
    let seconds = ceil_secs(decision.retry_after).max(1);
    let mut response = Problem::typed(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
    )
    .with_detail(format!(
        "this client may send {} requests in a burst; retry in {seconds} s",
        decision.limit
    ))
    .with_instance(path)
    .with_retry_after(seconds)
    .into_response();
    set_headers(response.headers_mut(), decision);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn gcra_admits_exactly_the_burst_then_refills() {
        let gcra = Gcra::new(10, 3, SECOND);
        let mut tat = None;
        for expected_remaining in [2, 1, 0] {
            let outcome = gcra.check(tat, 0, 1);
            assert!(outcome.allowed);
            assert_eq!(outcome.remaining, expected_remaining);
            tat = Some(outcome.tat);
        }
        let denied = gcra.check(tat, 0, 1);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, SECOND / 10);
        assert_eq!(denied.reset, 3 * SECOND / 10);
        assert_eq!(denied.tat, tat.unwrap(), "a denial takes nothing");

        // 40 ms later: still 60 ms to wait.
        let later = gcra.check(tat, 40_000_000, 1);
        assert!(!later.allowed);
        assert_eq!(later.retry_after, 60_000_000);
        // After one interval, one token.
        let refilled = gcra.check(tat, SECOND / 10, 1);
        assert!(refilled.allowed);
        assert_eq!(refilled.remaining, 0);
        // Long idle: full again, never more than the burst.
        let idle = gcra.check(tat, 100 * SECOND, 1);
        assert_eq!(idle.remaining, 2);
    }

    #[test]
    fn gcra_costs_and_oversized_requests() {
        let gcra = Gcra::new(1, 5, SECOND);
        let first = gcra.check(None, 0, 3);
        assert!(first.allowed && first.remaining == 2);
        let second = gcra.check(Some(first.tat), 0, 3);
        assert!(!second.allowed);
        assert_eq!(second.retry_after, SECOND);
        let third = gcra.check(Some(first.tat), 0, 2);
        assert!(third.allowed && third.remaining == 0);
        // More than the bucket holds: never allowed; told when the bucket is full.
        let huge = gcra.check(None, 0, 6);
        assert!(!huge.allowed);
        assert_eq!(huge.retry_after, 0);
    }

    #[test]
    fn the_interval_rounds_up() {
        assert_eq!(Gcra::new(3, 1, 1_000_000).interval(), 333_334);
        assert_eq!(Gcra::new(50, 1, 1_000_000).interval(), 20_000);
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
    }
}
