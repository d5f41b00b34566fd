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
//! returns belong together. [`History::append_once`] runs the same append script
//! with a third key, `{prefix}hub:{<channel>}:key:<key>` (same slot), holding
//! `<seq>:<fingerprint>` for [`KEY_RETENTION`]: the script answers from it when it
//! exists, so a key appends once, atomically.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fred::prelude::{Client, KeysInterface, Value};

use super::{Appended, History, HistoryError, Replay, KEY_RETENTION};
use crate::redis::{connect, Script};

/// KEYS: seq, ring[, key]. ARGV: body, capacity, ttl in ms[, fingerprint, key
/// ttl in ms]. Returns {seq, 1} after appending; with a key already used,
/// {its seq, 0} for the same fingerprint and {0, -1} for another. The seq travels
/// as the counter's own string: Lua's numbers would print it rounded.
const APPEND: &str = r"
if KEYS[3] then
  local used = redis.call('GET', KEYS[3])
  if used then
    local colon = string.find(used, ':', 1, true)
    if string.sub(used, colon + 1) == ARGV[4] then
      return {string.sub(used, 1, colon - 1), 0}
    end
    return {'0', -1}
  end
end
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
local head = redis.call('GET', KEYS[1])
if KEYS[3] then
  redis.call('SET', KEYS[3], head .. ':' .. ARGV[4], 'PX', ARGV[5])
end
return {head, 1}
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

    /// Runs the append script; `once` is the key and fingerprint of `append_once`.
    async fn run_append(
        &self,
        channel: &str,
        body: Bytes,
        once: Option<(&str, &str)>,
    ) -> Result<Appended, HistoryError> {
        let mut keys = self.keys(channel);
        let mut args = vec![
            Value::Bytes(body),
            Value::from(self.capacity as i64),
            Value::from(millis(self.ttl)),
        ];
        if let Some((key, fingerprint)) = once {
            keys.push(format!("{}hub:{{{channel}}}:key:{key}", self.prefix));
            args.push(Value::from(fingerprint));
            args.push(Value::from(millis(KEY_RETENTION)));
        }
        let reply = self
            .append
            .run(&self.client, keys, args)
            .await
            .map_err(backend)?;
        let parts = match &reply {
            Value::Array(parts) if parts.len() == 2 => parts,
            _ => return Err(unexpected(&reply)),
        };
        let seq = parts[0]
            .as_str()
            .and_then(|seq| seq.parse::<u64>().ok())
            .ok_or_else(|| unexpected(&reply))?;
        match parts[1].as_i64() {
            Some(1) => Ok(Appended::New(seq)),
            Some(0) => Ok(Appended::Repeat(seq)),
            Some(-1) => Ok(Appended::Mismatch),
            _ => Err(unexpected(&reply)),
        }
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
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
        match self.run_append(channel, body, None).await? {
            Appended::New(seq) => Ok(seq),
            other => Err(HistoryError(format!(
                "an append without a key answered {other:?}"
            ))),
        }
    }

    async fn append_once(
        &self,
        channel: &str,
        key: &str,
        fingerprint: &str,
        body: Bytes,
    ) -> Result<Appended, HistoryError> {
        self.run_append(channel, body, Some((key, fingerprint)))
            .await
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
