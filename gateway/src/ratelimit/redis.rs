//! The Redis rate limiter, for distributed mode: every gateway node shares each
//! client's bucket, so a client spreading requests over nodes gets the same limit.
//!
//! One check is one Lua script, run atomically by Redis, so concurrent checks of a
//! key from any number of nodes never over-admit. The script reads the clock with
//! Redis `TIME`, not the caller's clock: the nodes' clocks may disagree, the
//! server's is one. It is the GCRA of the parent module in whole microseconds: the
//! key holds the bucket's theoretical arrival time and expires when that time has
//! passed — when the bucket is full, which is the same as no key — so Redis holds
//! only clients active within the last `burst / per_second` seconds.
//!
//! Each check fails fast (no waiting for a reconnect, a short timeout): the
//! middleware lets the request through when the limiter fails, and a slow Redis
//! must not make every request slow.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Builder, ClientLike, Config, LuaInterface, Options, ReconnectPolicy};
use fred::types::Value;

use vigor_common::ratelimit::Gcra;

use super::{Decision, RateLimitError, RateLimiter};

/// How long one check may take before it fails.
const CHECK_TIMEOUT: Duration = Duration::from_millis(500);

const MICROS_PER_SECOND: u64 = 1_000_000;

/// KEYS[1]: the bucket. ARGV: interval (µs per token), burst, cost.
/// Returns {allowed, remaining, retry_after_us, reset_us}. Mirrors `Gcra::check`.
const SCRIPT: &str = r#"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tolerance = burst * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cost * interval
if new_tat - now <= tolerance then
  local ttl_ms = math.ceil((new_tat - now) / 1000)
  if ttl_ms > 0 then
    redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', string.format('%.0f', ttl_ms))
  end
  return {1, math.floor((tolerance - (new_tat - now)) / interval), 0, new_tat - now}
end
local debt = tat - now
local retry = debt
if cost <= burst then retry = new_tat - now - tolerance end
return {0, math.floor((tolerance - debt) / interval), retry, debt}
"#;

/// Token buckets in Redis.
pub struct RedisRateLimiter {
    client: fred::prelude::Client,
    prefix: String,
    gcra: Gcra,
    /// SHA1 of [`SCRIPT`], as `SCRIPT LOAD` answered.
    sha: String,
    /// Set by [`RedisRateLimiter::close`]: a closed client's commands would wait forever.
    closed: AtomicBool,
}

impl RedisRateLimiter {
    /// Connects to the Redis at `url`; keys are `{prefix}ratelimit:{client}`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        per_second: u32,
        burst: u32,
    ) -> anyhow::Result<Self> {
        let config = Config::from_url(url)?;
        let client = Builder::from_config(config)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build()?;
        client.init().await?;
        let sha: String = client.script_load(SCRIPT).await?;
        Ok(RedisRateLimiter {
            client,
            prefix: format!("{prefix}ratelimit:"),
            gcra: Gcra::new(per_second, burst, MICROS_PER_SECOND),
            sha,
            closed: AtomicBool::new(false),
        })
    }

    /// Whether Redis answers, for readiness.
    pub async fn ping(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !self.closed.load(Ordering::SeqCst),
            "the rate limiter is closed"
        );
        let _: Value = self.client.with_options(&self.options()).ping(None).await?;
        Ok(())
    }

    /// Fail fast rather than wait for a reconnect, and within [`CHECK_TIMEOUT`].
    fn options(&self) -> Options {
        Options {
            fail_fast: true,
            timeout: Some(CHECK_TIMEOUT),
            ..Options::default()
        }
    }

    /// Closes the connection; later checks fail.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        if let Err(error) = self.client.quit().await {
            tracing::debug!(%error, "closing the rate limiter's Redis connection");
        }
    }

    async fn run(&self, key: &str, cost: u32) -> Result<Vec<i64>, fred::error::Error> {
        let client = self.client.with_options(&self.options());
        let key = format!("{}{key}", self.prefix);
        let args = vec![
            Value::from(i64::try_from(self.gcra.interval()).unwrap_or(i64::MAX)),
            Value::from(i64::from(self.gcra.burst())),
            Value::from(i64::from(cost)),
        ];
        match client
            .evalsha(self.sha.as_str(), key.as_str(), args.clone())
            .await
        {
            // Redis restarted or its script cache was flushed: load it again.
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                let _: String = client.script_load(SCRIPT).await?;
                client.evalsha(self.sha.as_str(), key.as_str(), args).await
            }
            result => result,
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, cost: u32) -> Result<Decision, RateLimitError> {
        let failed = |message: String| RateLimitError::Backend {
            backend: "redis",
            message,
        };
        if self.closed.load(Ordering::SeqCst) {
            return Err(failed("the rate limiter is closed".to_owned()));
        }
        // fred applies the timeout too; this one also covers the script reload.
        let reply = tokio::time::timeout(2 * CHECK_TIMEOUT, self.run(key, cost))
            .await
            .map_err(|_| failed(format!("no answer within {:?}", 2 * CHECK_TIMEOUT)))?
            .map_err(|e| failed(e.to_string()))?;
        let [allowed, remaining, retry_after, reset] = reply[..] else {
            return Err(failed(format!("unexpected script reply {reply:?}")));
        };
        let micros = |v: i64| Duration::from_micros(u64::try_from(v).unwrap_or(0));
        Ok(Decision {
            allowed: allowed == 1,
            limit: self.gcra.burst(),
            remaining: u32::try_from(remaining).unwrap_or(0),
            retry_after: micros(retry_after),
            reset: micros(reset),
        })
    }

    fn backend(&self) -> &'static str {
        "redis"
    }
}
