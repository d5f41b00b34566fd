//! The per-client rate limit: a token bucket per client, kept in memory (one
//! process) or in Redis (shared by every gateway node), and the middleware that
//! applies it.
//!
//! Each client has a bucket of `burst` tokens refilled at `per_second`; a request
//! takes one. Both backends compute it the same way, with Vigor's one rate-limit
//! algorithm ([`vigor_common::ratelimit::Gcra`]): a bucket that is full is the same
//! as no bucket at all, which lets idle buckets be dropped (the memory sweep, Redis
//! key TTLs) without changing any decision.
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

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
        assert_eq!(ceil_secs(Duration::ZERO), 0);
    }
}
