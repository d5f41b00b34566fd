//! Presence in Redis, for distributed mode.
//!
//! Per scope, a sorted set `{prefix}hub:{<scope>}:present` of users scored by the
//! latest expiry (unix ms) of their sessions, and per user a sorted set
//! `{prefix}hub:{<scope>}:present:<user>` of sessions scored by expiry. Each
//! operation is one Lua script (atomic): join drops expired sessions, tells whether
//! none was left (first session), and adds the new one; leave removes the session
//! and, when it was the last, the user. Time comes from Redis (`TIME`), so nodes
//! need not agree on the clock.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Client, Value};
use futures::{stream, StreamExt, TryStreamExt};
use vigor_common::Id;

use super::{Members, PresenceEntry, PresenceError, PresenceStore};
use crate::redis::{connect, Script};

/// Renewals in flight at once during a refresh.
const REFRESH_CONCURRENCY: usize = 64;

/// KEYS: users, sessions. ARGV: user, session, ttl ms. Returns 1 for a first session.
const JOIN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local first = redis.call('ZCARD', KEYS[2]) == 0
redis.call('ZADD', KEYS[2], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
if first then return 1 end
return 0
";

/// KEYS: users, sessions. ARGV: user, session. Returns 1 when the user's last session left.
const LEAVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local removed = redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if removed == 1 and redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
";

/// KEYS: users. ARGV: limit. Returns {total, {users…}}.
const MEMBERS: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local total = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[1])
if limit == 0 then return {total, {}} end
return {total, redis.call('ZRANGE', KEYS[1], 0, limit - 1)}
";

/// KEYS: users, sessions. ARGV: user, session, ttl ms. Renews a session that is
/// still recorded (XX: one that left is not brought back).
const REFRESH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZADD', KEYS[2], 'XX', 'CH', now + ttl, ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[1], 'GT', now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 0
";

/// Presence in Redis.
pub struct RedisPresence {
    client: Client,
    prefix: String,
    ttl_ms: i64,
    join: Script,
    leave: Script,
    members: Script,
    refresh: Script,
}

impl RedisPresence {
    /// Connects to the Redis at `url`; keys start with `prefix`; entries expire
    /// after `ttl` without a refresh.
    pub async fn connect(
        url: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<RedisPresence, PresenceError> {
        let client = connect(url).await.map_err(backend)?;
        RedisPresence::with_client(client, prefix, ttl).await
    }

    /// Uses a connected client.
    pub async fn with_client(
        client: Client,
        prefix: &str,
        ttl: Duration,
    ) -> Result<RedisPresence, PresenceError> {
        Ok(RedisPresence {
            join: Script::load(&client, JOIN).await.map_err(backend)?,
            leave: Script::load(&client, LEAVE).await.map_err(backend)?,
            members: Script::load(&client, MEMBERS).await.map_err(backend)?,
            refresh: Script::load(&client, REFRESH).await.map_err(backend)?,
            client,
            prefix: prefix.to_owned(),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1),
        })
    }

    fn users_key(&self, scope: &str) -> String {
        format!("{}hub:{{{scope}}}:present", self.prefix)
    }

    fn keys(&self, scope: &str, user: Id) -> Vec<String> {
        let users = self.users_key(scope);
        let sessions = format!("{users}:{user}");
        vec![users, sessions]
    }
}

fn backend(error: fred::error::Error) -> PresenceError {
    PresenceError(error.to_string())
}

fn flag(reply: Value) -> Result<bool, PresenceError> {
    match reply.as_u64() {
        Some(n) => Ok(n == 1),
        None => Err(PresenceError(format!(
            "unexpected reply from Redis: {reply:?}"
        ))),
    }
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn join(&self, scope: &str, user: Id, session: Id) -> Result<bool, PresenceError> {
        let args = vec![
            Value::from(user.to_string()),
            Value::from(session.to_string()),
            Value::from(self.ttl_ms),
        ];
        flag(
            self.join
                .run(&self.client, self.keys(scope, user), args)
                .await
                .map_err(backend)?,
        )
    }

    async fn leave(&self, scope: &str, user: Id, session: Id) -> Result<bool, PresenceError> {
        let args = vec![
            Value::from(user.to_string()),
            Value::from(session.to_string()),
        ];
        flag(
            self.leave
                .run(&self.client, self.keys(scope, user), args)
                .await
                .map_err(backend)?,
        )
    }

    async fn members(&self, scope: &str, limit: usize) -> Result<Members, PresenceError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let reply = self
            .members
            .run(
                &self.client,
                vec![self.users_key(scope)],
                vec![Value::from(limit)],
            )
            .await
            .map_err(backend)?;
        let unexpected =
            || PresenceError("unexpected reply from Redis to the members script".into());
        let mut parts = match reply {
            Value::Array(parts) if parts.len() == 2 => parts,
            _ => return Err(unexpected()),
        };
        let users = parts.pop().map(Value::into_array).unwrap_or_default();
        let total = parts[0].as_u64().ok_or_else(unexpected)?;
        let users = users
            .into_iter()
            .map(|user| {
                user.as_str()
                    .and_then(|s| s.parse::<Id>().ok())
                    .ok_or_else(unexpected)
            })
            .collect::<Result<Vec<Id>, _>>()?;
        Ok(Members {
            users,
            total: usize::try_from(total).unwrap_or(usize::MAX),
        })
    }

    async fn refresh(&self, entries: &[PresenceEntry]) -> Result<(), PresenceError> {
        let calls: Vec<_> = entries
            .iter()
            .map(|entry| {
                let keys = self.keys(&entry.scope, entry.user);
                let args = vec![
                    Value::from(entry.user.to_string()),
                    Value::from(entry.session.to_string()),
                    Value::from(self.ttl_ms),
                ];
                (keys, args)
            })
            .collect();
        stream::iter(calls)
            .map(|(keys, args)| async move {
                self.refresh
                    .run(&self.client, keys, args)
                    .await
                    .map(drop)
                    .map_err(backend)
            })
            .buffer_unordered(REFRESH_CONCURRENCY)
            .try_collect::<()>()
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vigor_common::testkit;

    use super::*;
    use crate::presence::conformance::TTL;

    async fn make() -> Option<Arc<dyn PresenceStore>> {
        let url = testkit::redis_url()?;
        let prefix = format!("{}:", testkit::unique_name("hub_presence"));
        let store = RedisPresence::connect(&url, &prefix, TTL)
            .await
            .expect("Redis connects");
        Some(Arc::new(store))
    }

    crate::presence_conformance!(make().await, expires: true);
}
