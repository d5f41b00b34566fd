//! Channel history in Redis, for distributed mode: every gateway node and every
//! service that publishes shares one counter and one ring per channel.
//!
//! Two keys per channel, `{prefix}hub:{<channel>}:seq` (the counter) and
//! `{prefix}hub:{<channel>}:ring` (a list of the last events, oldest first; the
//! braces make both keys one cluster slot). One Lua script appends: it starts a
//! new epoch when the counter is missing (see [`super`]), `INCR`s it, pushes the
//! body, trims the list to the capacity and renews both keys' TTL — atomically, so
//! the list's last element always has seq = counter and the elements before it
//! count down by one. Reading is a second script, so the counter and the list it
//! returns belong together.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fred::prelude::{Client, KeysInterface, Value};

use super::{History, HistoryError, Replay};
use crate::redis::{connect, Script};

/// KEYS: seq, ring. ARGV: body, capacity, ttl in ms. Returns the new seq.
const APPEND: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('DEL', KEYS[2])
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return seq
";

/// KEYS: seq, ring. ARGV: since. Returns {} without history, else {head, {bodies…}}
/// with the kept bodies after `since` (at most the whole ring).
const SINCE: &str = r"
local head = redis.call('GET', KEYS[1])
if not head then return {} end
local missing = tonumber(head) - tonumber(ARGV[1])
if missing <= 0 then return {head, {}} end
local kept = redis.call('LLEN', KEYS[2])
if missing > kept then missing = kept end
if missing == 0 then return {head, {}} end
return {head, redis.call('LRANGE', KEYS[2], -missing, -1)}
";

/// Channel history in Redis.
pub struct RedisHistory {
    client: Client,
    prefix: String,
    capacity: usize,
    ttl: Duration,
    append: Script,
    since: Script,
}

impl RedisHistory {
    /// Connects to the Redis at `url`; keys start with `prefix`, rings keep
    /// `capacity` events and expire after `ttl` without an append.
    pub async fn connect(
        url: &str,
        prefix: &str,
        capacity: usize,
        ttl: Duration,
    ) -> Result<RedisHistory, HistoryError> {
        let client = connect(url).await.map_err(backend)?;
        RedisHistory::with_client(client, prefix, capacity, ttl).await
    }

    /// Uses a connected client.
    pub async fn with_client(
        client: Client,
        prefix: &str,
        capacity: usize,
        ttl: Duration,
    ) -> Result<RedisHistory, HistoryError> {
        let append = Script::load(&client, APPEND).await.map_err(backend)?;
        let since = Script::load(&client, SINCE).await.map_err(backend)?;
        Ok(RedisHistory {
            client,
            prefix: prefix.to_owned(),
            capacity: capacity.max(1),
            ttl: ttl.max(Duration::from_millis(1)),
            append,
            since,
        })
    }

    fn keys(&self, channel: &str) -> Vec<String> {
        vec![
            format!("{}hub:{{{channel}}}:seq", self.prefix),
            format!("{}hub:{{{channel}}}:ring", self.prefix),
        ]
    }
}

fn backend(error: fred::error::Error) -> HistoryError {
    HistoryError(error.to_string())
}

fn unexpected(reply: &Value) -> HistoryError {
    HistoryError(format!("unexpected reply from Redis: {reply:?}"))
}

#[async_trait]
impl History for RedisHistory {
    async fn append(&self, channel: &str, body: Bytes) -> Result<u64, HistoryError> {
        let args = vec![
            Value::Bytes(body),
            Value::from(self.capacity as i64),
            Value::from(i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)),
        ];
        let reply = self
            .append
            .run(&self.client, self.keys(channel), args)
            .await
            .map_err(backend)?;
        reply.as_u64().ok_or_else(|| unexpected(&reply))
    }

    async fn since(&self, channel: &str, since: u64) -> Result<Replay, HistoryError> {
        let args = vec![Value::from(since.to_string())];
        let reply = self
            .since
            .run(&self.client, self.keys(channel), args)
            .await
            .map_err(backend)?;
        let mut parts = match reply {
            Value::Array(parts) => parts,
            Value::Null => Vec::new(),
            other => return Err(unexpected(&other)),
        };
        if parts.is_empty() {
            return Ok(Replay::new(0, since, Vec::new()));
        }
        if parts.len() != 2 {
            return Err(HistoryError(format!(
                "unexpected reply from Redis: {} parts",
                parts.len()
            )));
        }
        let bodies = parts.pop().map(Value::into_array).unwrap_or_default();
        let head = parts[0].as_u64().ok_or_else(|| unexpected(&parts[0]))?;
        let kept = bodies
            .into_iter()
            .map(|body| {
                body.into_bytes()
                    .ok_or_else(|| HistoryError("a ring entry is not a string".into()))
            })
            .collect::<Result<Vec<Bytes>, _>>()?;
        Ok(Replay::new(head, since, kept))
    }

    async fn head(&self, channel: &str) -> Result<u64, HistoryError> {
        let key = self.keys(channel).swap_remove(0);
        let head: Option<String> = self.client.get(key).await.map_err(backend)?;
        match head {
            None => Ok(0),
            Some(head) => head
                .parse()
                .map_err(|_| HistoryError(format!("the seq counter holds {head:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use vigor_common::testkit;

    use super::*;
    use crate::history::conformance::{CAPACITY, TTL};

    async fn make() -> Option<Arc<dyn History>> {
        let url = testkit::redis_url()?;
        let prefix = format!("{}:", testkit::unique_name("hub_history"));
        let history = RedisHistory::connect(&url, &prefix, CAPACITY, TTL)
            .await
            .expect("Redis connects");
        Some(Arc::new(history))
    }

    crate::history_conformance!(make().await);
}
