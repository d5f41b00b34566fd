//! The Redis Streams event bus, for distributed mode.
//!
//! Each topic is a stream at `{prefix}events:{topic}`; an event is one entry whose
//! field `event` holds the [`Event`] as JSON. Publishing is `XADD … MAXLEN ~ cap`,
//! so a stream never grows past about `max_len` entries (an entry trimmed before a
//! lagging group read it is lost to that group: size the cap for the longest outage
//! you want to survive).
//!
//! A subscription joins its group on every topic (`XGROUP CREATE … $ MKSTREAM`, so a
//! new group starts with events published after it; an existing group is kept) and
//! then loops:
//!
//! - every `redelivery_after / 2` it looks for entries of the group pending longer
//!   than `redelivery_after` (`XPENDING … IDLE`), whoever held them, and takes them
//!   over with `XCLAIM` (which re-checks the idle time, so two members never both
//!   win); `attempt` is Redis's delivery count;
//! - otherwise it reads new entries with `XREADGROUP … BLOCK`, blocking at most
//!   `min(redelivery_after / 2, 1 s)` so claims happen on time.
//!
//! Each subscription uses its own connection, because a blocked `XREADGROUP`
//! holds its connection: sharing one would stall every publish of the process.
//! The connection is closed when the subscription is dropped; what it had received
//! but not acked is redelivered to the group after the timeout, which is also what
//! happens to entries a cancelled `next()` had already read.
//!
//! A subscription dead-letters an entry with one script: `XACK` on the topic's
//! stream and, only when that acked it (it was still pending, so no other member
//! got there first), `XADD` of the event, the attempts, the error and the time to
//! the stream `{prefix}dead:{topic}:{group}` (capped like the topic streams).
//! Acking and recording in one atomic step means an event is dead-lettered once
//! per group however many members hold it, and never acked without its letter.
//! `attempt`, which decides when to give up, is Redis's delivery count, kept in the
//! group's pending list and so shared by every member.
//!
//! An entry that does not decode into an [`Event`] is acked (so the group moves
//! on and it is never redelivered), logged, counted in `vigor_bus_malformed_total`
//! and reported once as [`BusError::Malformed`]; it stays in the stream for
//! inspection until trimmed. A group that disappeared (a flushed Redis) is created
//! again. After a backend error the next call waits a little (backing off up to
//! 5 s), so a consumer that simply retries does not spin while Redis is down.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{
    Builder, Client, ClientLike, Config, ReconnectPolicy, StreamsInterface, Value,
};
use tokio::time::Instant;

use super::{BusError, ConsumerOptions, DeadLetter, Delivery, Event, EventBus, Subscription};

/// Entries a topic's stream keeps, approximately, by default.
pub const DEFAULT_MAX_LEN: u64 = 100_000;
/// A command that takes longer than this fails (a blocked read blocks at most 1 s).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// The stream field holding the event.
const FIELD: &str = "event";
/// Acks an entry (KEYS[1], group ARGV[1], id ARGV[2]) and, only if it was pending,
/// adds its dead letter to KEYS[2]; returns the letter's id, or nil.
const DEAD_LETTER_SCRIPT: &str = r#"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
    'event', ARGV[4], 'topic', ARGV[5], 'group', ARGV[1],
    'attempts', ARGV[6], 'error', ARGV[7], 'dead_at', ARGV[8])
end
return false
"#;

/// A fred client for `url` that reconnects forever with exponential backoff.
///
/// `broadcast_capacity` sizes fred's buffer of pub/sub messages and events.
pub fn redis_client(url: &str, broadcast_capacity: usize) -> Result<Client, fred::error::Error> {
    let config = Config::from_url(url)?;
    let mut builder = Builder::from_config(config);
    builder
        .with_performance_config(|performance| {
            performance.default_command_timeout = COMMAND_TIMEOUT;
            performance.broadcast_channel_capacity = broadcast_capacity;
        })
        .with_connection_config(|connection| {
            connection.connection_timeout = COMMAND_TIMEOUT;
            connection.internal_command_timeout = COMMAND_TIMEOUT;
        })
        // 0 attempts means no limit: 100 ms, 200 ms, … up to 5 s between attempts.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
    builder.build()
}

/// Options of a [`RedisBus`].
#[derive(Debug, Clone)]
pub struct RedisBusOptions {
    /// Entries each topic's stream keeps, approximately (`XADD MAXLEN ~`).
    pub max_len: u64,
    /// Entries a subscription reads or claims per round trip.
    pub batch: u64,
}

impl Default for RedisBusOptions {
    fn default() -> Self {
        RedisBusOptions {
            max_len: DEFAULT_MAX_LEN,
            batch: 64,
        }
    }
}

/// Redis Streams bus.
#[derive(Clone)]
pub struct RedisBus {
    shared: Arc<Shared>,
}

struct Shared {
    /// Publishes and pings; subscriptions get their own connections.
    client: Client,
    prefix: String,
    options: RedisBusOptions,
}

impl Drop for Shared {
    fn drop(&mut self) {
        quit_in_background(&self.client);
    }
}

/// Closes `client`'s connection without waiting (fred's connection task runs until QUIT).
fn quit_in_background(client: &Client) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let client = client.clone();
        runtime.spawn(async move {
            let _ = client.quit().await;
        });
    }
}

impl RedisBus {
    /// Connects to the Redis at `url`; stream keys get `prefix` in front.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisBus, BusError> {
        RedisBus::connect_with(url, prefix, RedisBusOptions::default()).await
    }

    /// [`RedisBus::connect`] with options.
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        options: RedisBusOptions,
    ) -> Result<RedisBus, BusError> {
        let client = redis_client(url, 32).map_err(backend)?;
        client.init().await.map_err(backend)?;
        Ok(RedisBus::from_client(client, prefix, options))
    }

    /// A bus on an already connected `client`. Subscriptions open their own
    /// connections with the same configuration.
    pub fn from_client(client: Client, prefix: &str, options: RedisBusOptions) -> RedisBus {
        RedisBus {
            shared: Arc::new(Shared {
                client,
                prefix: prefix.to_owned(),
                options,
            }),
        }
    }

    /// The stream key of `topic`.
    pub fn stream_key(&self, topic: &str) -> String {
        stream_key(&self.shared.prefix, topic)
    }
}

fn stream_key(prefix: &str, topic: &str) -> String {
    format!("{prefix}events:{topic}")
}

/// The stream of the dead letters of `topic` in `group`.
fn dead_key(prefix: &str, topic: &str, group: &str) -> String {
    format!("{prefix}dead:{topic}:{group}")
}

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn backend(error: fred::error::Error) -> BusError {
    BusError::Backend(error.to_string())
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let json = serde_json::to_string(event).map_err(|e| {
            BusError::Malformed(format!("event {} does not serialize: {e}", event.id))
        })?;
        let max_len = i64::try_from(self.shared.options.max_len).unwrap_or(i64::MAX);
        self.shared
            .client
            .xadd::<Value, _, _, _, _>(
                self.stream_key(&event.name),
                false,
                ("MAXLEN", "~", max_len),
                "*",
                (FIELD, json),
            )
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn subscribe(
        &self,
        topics: &[&str],
        group: &str,
        consumer: &str,
        options: ConsumerOptions,
    ) -> Result<Box<dyn Subscription>, BusError> {
        if topics.is_empty() {
            return Err(BusError::Backend(
                "a subscription needs at least one topic".to_owned(),
            ));
        }
        let client = self.shared.client.clone_new();
        client.init().await.map_err(backend)?;
        let claim_every =
            (options.redelivery_after / 2).clamp(Duration::from_millis(10), Duration::from_secs(5));
        let subscription = RedisSubscription {
            client,
            topics: topics
                .iter()
                .map(|topic| TopicStream {
                    topic: (*topic).to_owned(),
                    key: self.stream_key(topic),
                })
                .collect(),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            prefix: self.shared.prefix.clone(),
            max_len: self.shared.options.max_len,
            options,
            claim_every,
            block: claim_every.min(Duration::from_secs(1)),
            batch: self.shared.options.batch.max(1),
            next_claim: Instant::now(),
            ready: VecDeque::new(),
            backoff: None,
        };
        // On error the subscription is dropped, which closes its connection.
        subscription.create_groups().await?;
        Ok(Box::new(subscription))
    }

    async fn ping(&self) -> Result<(), BusError> {
        self.shared
            .client
            .ping::<String>(None)
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, BusError> {
        let client = &self.shared.client;
        let pattern = format!("{}dead:*", glob_escape(&self.shared.prefix));
        let mut keys = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let reply: Value = client
                .custom(
                    fred::cmd!("SCAN"),
                    vec![
                        cursor.clone(),
                        "MATCH".into(),
                        pattern.clone(),
                        "COUNT".into(),
                        "1000".into(),
                    ],
                )
                .await
                .map_err(backend)?;
            let mut parts = reply.into_array().into_iter();
            cursor = parts
                .next()
                .and_then(Value::into_string)
                .ok_or_else(|| BusError::Backend("SCAN answered without a cursor".to_owned()))?;
            keys.extend(
                parts
                    .next()
                    .map(Value::into_array)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(Value::into_string),
            );
            if cursor == "0" {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let mut letters = Vec::new();
        for key in keys {
            let entries: Value = client.xrange(&key, "-", "+", None).await.map_err(backend)?;
            for entry in entries.into_array().into_iter().filter_map(Entry::parse) {
                match entry.dead_letter() {
                    Ok(letter) => letters.push(letter),
                    Err(why) => {
                        tracing::warn!(stream = %key, id = %entry.id, %why, "unreadable dead letter skipped")
                    }
                }
            }
        }
        Ok(letters)
    }

    async fn remove_dead_letter(&self, letter: &DeadLetter) -> Result<bool, BusError> {
        let key = dead_key(&self.shared.prefix, &letter.topic, &letter.group);
        let removed: u64 = self
            .shared
            .client
            .xdel(key, letter.entry.as_str())
            .await
            .map_err(backend)?;
        Ok(removed > 0)
    }
}

struct TopicStream {
    topic: String,
    key: String,
}

/// A member of a group on the Redis bus, with its own connection.
struct RedisSubscription {
    client: Client,
    topics: Vec<TopicStream>,
    group: String,
    consumer: String,
    /// The bus's key prefix, for the dead-letter streams.
    prefix: String,
    /// Entries a dead-letter stream keeps, approximately.
    max_len: u64,
    options: ConsumerOptions,
    claim_every: Duration,
    block: Duration,
    batch: u64,
    next_claim: Instant,
    /// Read or claimed, not yet returned by `next`.
    ready: VecDeque<Result<Delivery, BusError>>,
    /// Wait before the next command, after a backend error.
    backoff: Option<Duration>,
}

impl Drop for RedisSubscription {
    fn drop(&mut self) {
        quit_in_background(&self.client);
    }
}

impl RedisSubscription {
    async fn create_groups(&self) -> Result<(), BusError> {
        for stream in &self.topics {
            let created = self
                .client
                .xgroup_create::<Value, _, _, _>(&stream.key, &self.group, "$", true)
                .await;
            match created {
                Ok(_) => {}
                Err(error) if error.details().starts_with("BUSYGROUP") => {}
                Err(error) => return Err(backend(error)),
            }
        }
        Ok(())
    }

    /// Reads or claims more entries into `ready`.
    async fn fill(&mut self) -> Result<(), fred::error::Error> {
        if Instant::now() >= self.next_claim {
            self.claim().await?;
            self.next_claim = Instant::now() + self.claim_every;
            if !self.ready.is_empty() {
                return Ok(());
            }
        }
        self.read_new().await
    }

    /// Takes over entries of the group pending longer than `redelivery_after`.
    async fn claim(&mut self) -> Result<(), fred::error::Error> {
        let min_idle = u64::try_from(self.options.redelivery_after.as_millis()).unwrap_or(u64::MAX);
        for index in 0..self.topics.len() {
            let key = self.topics[index].key.clone();
            let pending: Value = self
                .client
                .xpending(&key, &self.group, (min_idle, "-", "+", self.batch))
                .await?;
            // id -> delivery count so far
            let counts: HashMap<String, u64> = pending
                .into_array()
                .into_iter()
                .filter_map(|row| {
                    let mut row = row.into_array().into_iter();
                    let id = row.next()?.into_string()?;
                    let count = row.nth(2)?.as_u64()?;
                    Some((id, count))
                })
                .collect();
            if counts.is_empty() {
                continue;
            }
            let ids: Vec<String> = counts.keys().cloned().collect();
            let claimed: Value = self
                .client
                .xclaim(
                    &key,
                    &self.group,
                    &self.consumer,
                    min_idle,
                    ids,
                    None,
                    None,
                    None,
                    false,
                    false,
                )
                .await?;
            let mut entries: Vec<Entry> = claimed
                .into_array()
                .into_iter()
                .filter_map(Entry::parse)
                .collect();
            entries.sort_by(|a, b| compare_ids(&a.id, &b.id));
            for entry in entries {
                // XCLAIM counted this delivery too.
                let attempt = counts
                    .get(&entry.id)
                    .map_or(1, |count| count.saturating_add(1));
                self.accept(index, entry, u32::try_from(attempt).unwrap_or(u32::MAX))
                    .await;
            }
        }
        Ok(())
    }

    /// Reads entries no member of the group has seen, waiting up to `block`.
    async fn read_new(&mut self) -> Result<(), fred::error::Error> {
        let keys: Vec<String> = self.topics.iter().map(|s| s.key.clone()).collect();
        let ids: Vec<&str> = vec![">"; keys.len()];
        let block = u64::try_from(self.block.as_millis()).unwrap_or(1_000);
        let response: Value = self
            .client
            .xreadgroup(
                &self.group,
                &self.consumer,
                Some(self.batch),
                Some(block),
                false,
                keys,
                ids,
            )
            .await?;
        for (key, entries) in streams(response) {
            let Some(index) = self.topics.iter().position(|s| s.key == key) else {
                continue;
            };
            for entry in entries.into_array().into_iter().filter_map(Entry::parse) {
                self.accept(index, entry, 1).await;
            }
        }
        Ok(())
    }

    /// Turns an entry into a delivery, or acks and reports it when malformed.
    async fn accept(&mut self, index: usize, entry: Entry, attempt: u32) {
        let stream = &self.topics[index];
        let receipt = format!("{}@{}", entry.id, stream.topic);
        match entry.event() {
            Ok(event) => self.ready.push_back(Ok(Delivery {
                event,
                attempt,
                receipt,
            })),
            Err(why) => {
                tracing::warn!(stream = %stream.key, id = %entry.id, %why, "malformed event on the bus: acked and skipped");
                metrics::counter!("vigor_bus_malformed_total", "topic" => stream.topic.clone())
                    .increment(1);
                let acked = self
                    .client
                    .xack::<Value, _, _, _>(&stream.key, &self.group, entry.id.as_str())
                    .await;
                if let Err(error) = acked {
                    // It stays pending and comes back after the timeout.
                    tracing::warn!(%error, "could not ack a malformed event");
                }
                self.ready.push_back(Err(BusError::Malformed(format!(
                    "{} entry {}: {why}",
                    stream.key, entry.id
                ))));
            }
        }
    }
}

#[async_trait]
impl Subscription for RedisSubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        loop {
            if let Some(ready) = self.ready.pop_front() {
                return ready;
            }
            if let Some(wait) = self.backoff {
                tokio::time::sleep(wait).await;
            }
            match self.fill().await {
                Ok(()) => self.backoff = None,
                Err(error) if group_vanished(&error) => {
                    // The stream or group vanished (a flushed Redis): join again.
                    tracing::warn!(group = %self.group, "consumer group missing on Redis: creating it again");
                    self.create_groups().await?;
                }
                Err(error) => {
                    self.backoff = Some(
                        self.backoff
                            .map_or(BACKOFF_MIN, |b| (b * 2).min(BACKOFF_MAX)),
                    );
                    return Err(backend(error));
                }
            }
        }
    }

    async fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let (id, key, _) = self.receipt(delivery)?;
        self.client
            .xack::<Value, _, _, _>(key, &self.group, id)
            .await
            .map(drop)
            .map_err(backend)
    }

    async fn dead_letter(&mut self, delivery: &Delivery, error: &str) -> Result<bool, BusError> {
        let (id, key, topic) = self.receipt(delivery)?;
        let event = serde_json::to_string(&delivery.event).map_err(|e| {
            BusError::Malformed(format!(
                "event {} does not serialize: {e}",
                delivery.event.id
            ))
        })?;
        let dead = dead_key(&self.prefix, topic, &self.group);
        let args: Vec<String> = vec![
            DEAD_LETTER_SCRIPT.to_owned(),
            "2".to_owned(),
            key,
            dead,
            self.group.clone(),
            id.to_owned(),
            self.max_len.to_string(),
            event,
            topic.to_owned(),
            delivery.attempt.to_string(),
            error.to_owned(),
            chrono::Utc::now().to_rfc3339(),
        ];
        let added: Value = self
            .client
            .custom(fred::cmd!("EVAL"), args)
            .await
            .map_err(backend)?;
        Ok(!added.is_null())
    }

    fn group(&self) -> &str {
        &self.group
    }

    fn options(&self) -> &ConsumerOptions {
        &self.options
    }
}

impl RedisSubscription {
    /// The entry id, stream key and topic of a receipt this subscription issued.
    fn receipt<'d>(&self, delivery: &'d Delivery) -> Result<(&'d str, String, &'d str), BusError> {
        let (id, topic) = delivery
            .receipt
            .split_once('@')
            .filter(|(id, _)| is_entry_id(id))
            .ok_or_else(|| {
                BusError::Malformed(format!(
                    "receipt {:?} is not from this bus",
                    delivery.receipt
                ))
            })?;
        let key = self
            .topics
            .iter()
            .find(|s| s.topic == topic)
            .map(|s| s.key.clone())
            .ok_or_else(|| {
                BusError::Malformed(format!(
                    "receipt {:?} is for another subscription",
                    delivery.receipt
                ))
            })?;
        Ok((id, key, topic))
    }
}

/// Whether `error` says the stream or the group is gone (a flushed Redis): NOGROUP,
/// or UNBLOCKED for a read that was blocked when the stream was deleted.
fn group_vanished(error: &fred::error::Error) -> bool {
    let details = error.details();
    details.starts_with("NOGROUP") || details.starts_with("UNBLOCKED")
}

/// One stream entry as Redis returned it.
struct Entry {
    id: String,
    fields: Value,
}

impl Entry {
    /// `[id, [field, value, …]]`; `None` for a deleted entry (`nil`).
    fn parse(value: Value) -> Option<Entry> {
        let mut parts = value.into_array().into_iter();
        let id = parts.next()?.into_string()?;
        let fields = parts.next().unwrap_or(Value::Null);
        Some(Entry { id, fields })
    }

    fn event(&self) -> Result<Event, String> {
        let json = field(&self.fields, FIELD).ok_or_else(|| format!("no `{FIELD}` field"))?;
        serde_json::from_str(&json).map_err(|e| format!("field `{FIELD}` is not an event: {e}"))
    }

    /// The entry of a dead-letter stream, as [`DEAD_LETTER_SCRIPT`] wrote it.
    fn dead_letter(&self) -> Result<DeadLetter, String> {
        let text =
            |name: &str| field(&self.fields, name).ok_or_else(|| format!("no `{name}` field"));
        let attempts = text("attempts")?;
        let dead_at = text("dead_at")?;
        Ok(DeadLetter {
            topic: text("topic")?,
            group: text("group")?,
            entry: self.id.clone(),
            event: self.event()?,
            attempts: attempts
                .parse()
                .map_err(|_| format!("attempts {attempts:?} is not a count"))?,
            error: text("error")?,
            dead_at: chrono::DateTime::parse_from_rfc3339(&dead_at)
                .map_err(|e| format!("dead_at {dead_at:?}: {e}"))?
                .with_timezone(&chrono::Utc),
        })
    }
}

/// The value of `name` in an entry's fields (a flat array, or a map in RESP3).
fn field(fields: &Value, name: &str) -> Option<String> {
    match fields {
        Value::Array(items) => items
            .chunks(2)
            .find(|pair| pair.first().and_then(Value::as_str).as_deref() == Some(name))
            .and_then(|pair| pair.get(1))
            .and_then(|v| v.as_str().map(|s| s.into_owned())),
        Value::Map(map) => map
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .and_then(|(_, v)| v.as_str().map(|s| s.into_owned())),
        _ => None,
    }
}

/// The `(stream key, entries)` pairs of an XREADGROUP reply (RESP2 array or RESP3 map).
fn streams(response: Value) -> Vec<(String, Value)> {
    match response {
        Value::Map(map) => map
            .inner()
            .into_iter()
            .filter_map(|(key, entries)| Some((key.into_string()?, entries)))
            .collect(),
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| {
                let mut parts = item.into_array().into_iter();
                let key = parts.next()?.into_string()?;
                Some((key, parts.next()?))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether `id` looks like a stream entry id (`ms-seq`).
fn is_entry_id(id: &str) -> bool {
    id.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().all(|b| b.is_ascii_digit())
            && seq.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Orders entry ids numerically (`ms-seq`), so claimed entries go out oldest first.
fn compare_ids(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(id: &str) -> (u64, u64) {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
    }
    parts(a).cmp(&parts(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_are_recognised_and_ordered_numerically() {
        assert!(is_entry_id("1700000000000-0"));
        assert!(!is_entry_id("1700000000000"));
        assert!(!is_entry_id("a-1"));
        assert!(!is_entry_id("-1"));
        assert_eq!(compare_ids("9-0", "10-0"), std::cmp::Ordering::Less);
        assert_eq!(compare_ids("10-2", "10-10"), std::cmp::Ordering::Less);
    }

    #[test]
    fn fields_are_read_from_resp2_arrays() {
        let fields = Value::Array(vec![
            Value::from("other"),
            Value::from("x"),
            Value::from(FIELD),
            Value::from("{}"),
        ]);
        assert_eq!(field(&fields, FIELD).as_deref(), Some("{}"));
        assert_eq!(field(&fields, "missing"), None);
    }
}
