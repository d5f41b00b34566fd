//! The [`MessageStore`] on ScyllaDB (or Apache Cassandra) through the `scylla` driver.
//!
//! Tables, in the keyspace `social.cql.keyspace` (created by [`CqlMessages::open`]
//! with `migrate`, which `vigor migrate` and a start with `migrate_on_start` run):
//!
//! - `messages`, partitioned by `(channel_id, bucket)` and clustered by `id DESC`:
//!   a partition is one channel's messages of one time window ([`bucket`]), so it
//!   stops growing when the window ends, and a history page is a slice of one or a
//!   few partitions read newest first;
//! - `channel_buckets`: the buckets a channel has used, so a walk knows the
//!   channel's first and last bucket and stops there instead of going on forever;
//! - `message_reactions`: one row per (message, emoji, user) in the message's
//!   partition key, counted on read;
//! - `message_sends`: the lightweight transaction that makes `client_msg_id`
//!   idempotent (`INSERT … IF NOT EXISTS`; the loser of a race learns the winner);
//! - `read_state`: the last read message per member;
//! - `settings`: the bucket width the keyspace was made with, since messages
//!   written with one width cannot be found with another.
//!
//! No write reads first. The message insert carries the id's time as its write
//! timestamp, so a later edit or delete (written at the server's now) always wins,
//! and a racing retry may repeat the insert harmlessly: the same cells at the same
//! timestamp. Read state is written with the read message's time as its timestamp,
//! so the newest read wins whatever order the writes arrive in (on a tie Cassandra
//! keeps the greater value, the greater id). An edit or delete of an id that was
//! never inserted leaves cells without an author, which reads ignore.
//!
//! Every statement is prepared once at open, with the configured consistency
//! (`social.cql.consistency`, default `LOCAL_QUORUM`).

mod schema;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::Row;
use vigor_common::api::{Page, Timestamp};
use vigor_common::config::social::{self, valid_keyspace, Replication};
use vigor_common::config::SocialConfig;
use vigor_common::Id;

use self::schema::{schema, Statements};
use super::bucket::{self, Bucket, BucketWidth, Direction};
use super::{
    created_at, millis_to_time, time_to_millis, Emoji, HistoryQuery, Message, MessageBody,
    MessageStore, MessageStoreError, NewMessage, Position, ReadState, UNREAD_CAP,
};

/// Where and how the CQL store keeps messages.
#[derive(Debug, Clone)]
pub struct CqlSettings {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    /// The keyspace (letters, digits and `_`, starting with a letter, at most 48).
    pub keyspace: String,
    /// How the keyspace is replicated when `migrate` creates it.
    pub replication: Replication,
    /// Consistency of every read and write.
    pub consistency: Consistency,
    /// The time window of one partition.
    pub bucket_width: BucketWidth,
}

/// Messages in a CQL keyspace.
pub struct CqlMessages {
    session: Session,
    keyspace: String,
    width: BucketWidth,
    statements: Statements,
    /// The `(channel, bucket)` rows of `channel_buckets` this process wrote:
    /// a send into a bucket already recorded skips that write (channel ids are
    /// never reused, so a remembered row cannot have gone away under a live
    /// channel).
    recorded: moka::sync::Cache<(i64, i64), ()>,
}

impl fmt::Debug for CqlMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CqlMessages")
            .field("keyspace", &self.keyspace)
            .field("bucket_width_ms", &self.width.millis())
            .finish_non_exhaustive()
    }
}

/// A `messages` row as read; `author_id` is null for cells an edit or delete of
/// a never-sent id left behind.
type MessageRow = (
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<bool>,
    Option<i64>,
    Option<String>,
);

fn cql(error: impl fmt::Display) -> MessageStoreError {
    MessageStoreError::Cql(error.to_string())
}

/// The write timestamp (microseconds) of things that happened at `id`'s time.
fn write_time(id: Id) -> i64 {
    (id.unix_millis() as i64).saturating_mul(1000)
}

impl CqlSettings {
    /// The settings of `social.cql.*` and `social.chat_bucket_hours`.
    pub fn from_config(config: &SocialConfig) -> anyhow::Result<Self> {
        let bucket_width = BucketWidth::hours(config.chat_bucket_hours)
            .map_err(|e| anyhow::anyhow!("social.chat_bucket_hours: {e}"))?;
        Ok(CqlSettings {
            nodes: config.cql.nodes.clone(),
            keyspace: config.cql.keyspace.clone(),
            replication: config.cql.replication.clone(),
            consistency: consistency(config.cql.consistency),
            bucket_width,
        })
    }
}

/// The driver's name for a configured consistency.
fn consistency(configured: social::Consistency) -> Consistency {
    use social::Consistency as C;
    match configured {
        C::Any => Consistency::Any,
        C::One => Consistency::One,
        C::Two => Consistency::Two,
        C::Three => Consistency::Three,
        C::Quorum => Consistency::Quorum,
        C::All => Consistency::All,
        C::LocalQuorum => Consistency::LocalQuorum,
        C::EachQuorum => Consistency::EachQuorum,
        C::LocalOne => Consistency::LocalOne,
    }
}

impl CqlMessages {
    /// Connects to the cluster; with `migrate`, first creates the keyspace and
    /// tables when missing (idempotent). Fails when the keyspace was made with
    /// another bucket width.
    pub async fn open(settings: CqlSettings, migrate: bool) -> anyhow::Result<Self> {
        use anyhow::Context;
        anyhow::ensure!(
            valid_keyspace(&settings.keyspace),
            "social.cql.keyspace {:?}: use 1-48 letters, digits and `_`, starting with a letter",
            settings.keyspace
        );
        anyhow::ensure!(!settings.nodes.is_empty(), "social.cql.nodes is empty");
        let profile = ExecutionProfile::builder()
            .consistency(settings.consistency)
            .build()
            .into_handle();
        let session = SessionBuilder::new()
            .known_nodes(&settings.nodes)
            .default_execution_profile_handle(profile)
            .build()
            .await
            .with_context(|| format!("cannot connect to CQL nodes {:?}", settings.nodes))?;
        let ks = &settings.keyspace;
        if migrate {
            for statement in schema(ks, &settings.replication) {
                session
                    .query_unpaged(statement, ())
                    .await
                    .with_context(|| format!("creating the chat keyspace {ks}"))?;
            }
            let width = i64::try_from(settings.bucket_width.millis()).unwrap_or(i64::MAX);
            session
                .query_unpaged(
                    format!(
                        "INSERT INTO {ks}.settings (name, value) VALUES ('bucket_ms', ?) IF NOT EXISTS"
                    ),
                    (width,),
                )
                .await
                .context("recording the chat bucket width")?;
        }
        let stored: Option<(Option<i64>,)> = session
            .query_unpaged(
                format!("SELECT value FROM {ks}.settings WHERE name = 'bucket_ms'"),
                (),
            )
            .await
            .with_context(|| format!("the chat keyspace {ks} (run `vigor migrate`)"))?
            .into_rows_result()?
            .maybe_first_row()?;
        let wanted = settings.bucket_width.millis();
        match stored.and_then(|(v,)| v) {
            Some(ms) if u64::try_from(ms).ok() == Some(wanted) => {}
            Some(ms) => anyhow::bail!(
                "the chat keyspace {ks} was made with buckets of {ms} ms, not {wanted} ms: \
                 social.chat_bucket_hours cannot change once messages are stored"
            ),
            None => {
                anyhow::bail!("the chat keyspace {ks} has no bucket width (run `vigor migrate`)")
            }
        }
        let statements = Statements::prepare(&session, ks)
            .await
            .with_context(|| format!("preparing the chat statements on {ks}"))?;
        Ok(CqlMessages {
            session,
            keyspace: settings.keyspace.clone(),
            width: settings.bucket_width,
            statements,
            recorded: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(std::time::Duration::from_secs(600))
                .build(),
        })
    }

    /// Drops the whole keyspace: a test's own, once it passed, so that a test
    /// node does not fill its heap with the tables of every test run.
    #[cfg(test)]
    pub(crate) async fn drop_keyspace(self) {
        let drop = format!("DROP KEYSPACE IF EXISTS {}", self.keyspace);
        self.session
            .query_unpaged(drop, ())
            .await
            .expect("the test keyspace drops");
    }

    /// The first and last bucket `channel` has used; `None` before its first message.
    async fn bounds(&self, channel: Id) -> Result<Option<(Bucket, Bucket)>, MessageStoreError> {
        let row: Option<(Option<i64>, Option<i64>)> = self
            .session
            .execute_unpaged(&self.statements.select_bounds, (channel.as_i64(),))
            .await
            .map_err(cql)?
            .into_rows_result()
            .map_err(cql)?
            .maybe_first_row()
            .map_err(cql)?;
        Ok(match row {
            Some((Some(first), Some(last))) => Some((Bucket(first), Bucket(last))),
            _ => None,
        })
    }

    /// Up to `need` messages of `channel` beyond `from` (exclusive) in
    /// `direction`, walking its buckets, in walk order; `keep` picks which count.
    async fn scan(
        &self,
        channel: Id,
        direction: Direction,
        from: i64,
        need: usize,
        keep: impl Fn(&Message) -> bool,
    ) -> Result<Vec<Message>, MessageStoreError> {
        let mut found = Vec::new();
        let Some((first, last)) = self.bounds(channel).await? else {
            return Ok(found);
        };
        let statement = match direction {
            Direction::Older => &self.statements.older,
            Direction::Newer => &self.statements.newer,
        };
        let start = self.width.bucket_of(Id::from_i64(from.max(0)));
        let mut bound = from;
        for b in bucket::walk(start, direction, first, last) {
            // Rows without an author are skipped, so a bucket may take more
            // than one query to fill the page.
            loop {
                let want = need - found.len();
                let result = self
                    .session
                    .execute_unpaged(
                        statement,
                        (
                            channel.as_i64(),
                            b.0,
                            bound,
                            i32::try_from(want).unwrap_or(i32::MAX),
                        ),
                    )
                    .await
                    .map_err(cql)?
                    .into_rows_result()
                    .map_err(cql)?;
                let mut read = 0;
                for row in result.rows::<MessageRow>().map_err(cql)? {
                    let row = row.map_err(cql)?;
                    read += 1;
                    bound = row.0;
                    if let Some(message) = to_message(channel, row) {
                        if keep(&message) {
                            found.push(message);
                        }
                    }
                }
                if found.len() >= need {
                    return Ok(found);
                }
                if read < want {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Adds the reaction counts to `messages` (all of `channel`).
    async fn with_reactions(
        &self,
        channel: Id,
        mut messages: Vec<Message>,
    ) -> Result<Vec<Message>, MessageStoreError> {
        // One range read per bucket the messages lie in.
        let mut ranges: BTreeMap<Bucket, (i64, i64)> = BTreeMap::new();
        for m in &messages {
            let id = m.id.as_i64();
            let range = ranges.entry(self.width.bucket_of(m.id)).or_insert((id, id));
            range.0 = range.0.min(id);
            range.1 = range.1.max(id);
        }
        let mut counts: HashMap<i64, BTreeMap<String, u32>> = HashMap::new();
        for (b, (lo, hi)) in ranges {
            let result = self
                .session
                .execute_unpaged(&self.statements.reactions, (channel.as_i64(), b.0, lo, hi))
                .await
                .map_err(cql)?
                .into_rows_result()
                .map_err(cql)?;
            for row in result.rows::<(i64, String)>().map_err(cql)? {
                let (message, emoji) = row.map_err(cql)?;
                *counts.entry(message).or_default().entry(emoji).or_default() += 1;
            }
        }
        for m in &mut messages {
            if let Some(c) = counts.remove(&m.id.as_i64()) {
                m.reactions = c;
            }
        }
        Ok(messages)
    }

    /// Runs a statement on one reaction's row (its key: channel, bucket,
    /// message, emoji, user): adding and taking back differ only in it.
    async fn write_reaction(
        &self,
        statement: &PreparedStatement,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let key = (
            channel.as_i64(),
            self.width.bucket_of(id).0,
            id.as_i64(),
            emoji.as_str(),
            user.as_i64(),
        );
        self.session
            .execute_unpaged(statement, key)
            .await
            .map_err(cql)?;
        Ok(())
    }

    async fn write_message(
        &self,
        message: &NewMessage,
        id: Id,
        body: &str,
        reply_to: Option<i64>,
    ) -> Result<(), MessageStoreError> {
        let channel = message.channel_id.as_i64();
        let b = self.width.bucket_of(id).0;
        let client = message.client_msg_id.as_ref().map(|c| c.as_str());
        let insert = self.session.execute_unpaged(
            &self.statements.insert_message,
            (
                channel,
                b,
                id.as_i64(),
                message.author_id.as_i64(),
                body,
                reply_to,
                client,
                write_time(id),
            ),
        );
        if self.recorded.contains_key(&(channel, b)) {
            insert.await.map_err(cql)?;
            return Ok(());
        }
        let bucket = self
            .session
            .execute_unpaged(&self.statements.insert_bucket, (channel, b));
        let (inserted, recorded) = futures::join!(insert, bucket);
        inserted.map_err(cql)?;
        recorded.map_err(cql)?;
        self.recorded.insert((channel, b), ());
        Ok(())
    }
}

fn to_message(channel: Id, row: MessageRow) -> Option<Message> {
    let (id, author, body, edited_at, deleted, reply_to, client_msg_id) = row;
    let id = Id::from_i64(id);
    let deleted = deleted.unwrap_or(false);
    Some(Message {
        id,
        channel_id: channel,
        author_id: Id::from_i64(author?),
        body: if deleted {
            String::new()
        } else {
            body.unwrap_or_default()
        },
        created_at: created_at(id),
        edited_at: edited_at.map(millis_to_time),
        deleted,
        reply_to: reply_to.map(Id::from_i64),
        reactions: BTreeMap::new(),
        client_msg_id,
    })
}

#[async_trait::async_trait]
impl MessageStore for CqlMessages {
    async fn append(&self, message: NewMessage) -> Result<Message, MessageStoreError> {
        let Some(client) = &message.client_msg_id else {
            self.write_message(
                &message,
                message.id,
                message.body.as_str(),
                message.reply_to.map(Id::as_i64),
            )
            .await?;
            return Ok(fresh(&message));
        };
        let claim = self
            .session
            .execute_unpaged(
                &self.statements.claim_send,
                (
                    message.channel_id.as_i64(),
                    message.author_id.as_i64(),
                    client.as_str(),
                    message.id.as_i64(),
                    message.body.as_str(),
                    message.reply_to.map(Id::as_i64),
                ),
            )
            .await
            .map_err(cql)?
            .into_rows_result()
            .map_err(cql)?;
        let column = |name: &str| claim.column_specs().get_by_name(name).map(|(i, _)| i);
        let (Some(applied), Some(id_at), Some(body_at), Some(reply_at)) = (
            column("[applied]"),
            column("message_id"),
            column("body"),
            column("reply_to"),
        ) else {
            // Applied: the result holds only `[applied]`.
            self.write_message(
                &message,
                message.id,
                message.body.as_str(),
                message.reply_to.map(Id::as_i64),
            )
            .await?;
            return Ok(fresh(&message));
        };
        let row: Row = claim
            .maybe_first_row()
            .map_err(cql)?
            .ok_or_else(|| MessageStoreError::Corrupt("an empty LWT result".into()))?;
        let value = |i: usize| row.columns.get(i).and_then(Option::as_ref);
        if value(applied).and_then(|v| v.as_boolean()) == Some(true) {
            self.write_message(
                &message,
                message.id,
                message.body.as_str(),
                message.reply_to.map(Id::as_i64),
            )
            .await?;
            return Ok(fresh(&message));
        }
        // Another send with this client id won: (re)write its message exactly as
        // it is written (same cells, same timestamp: harmless if it is already
        // there, and never over a later edit or delete), then read it.
        let id = value(id_at)
            .and_then(|v| v.as_bigint())
            .map(Id::from_i64)
            .ok_or_else(|| MessageStoreError::Corrupt("a send without a message id".into()))?;
        let body = value(body_at)
            .and_then(|v| v.as_text())
            .cloned()
            .unwrap_or_default();
        let reply_to = value(reply_at).and_then(|v| v.as_bigint());
        self.write_message(&message, id, &body, reply_to).await?;
        self.get(message.channel_id, id)
            .await?
            .ok_or_else(|| MessageStoreError::Corrupt(format!("the sent message {id} is missing")))
    }

    async fn get(&self, channel: Id, id: Id) -> Result<Option<Message>, MessageStoreError> {
        let row: Option<MessageRow> = self
            .session
            .execute_unpaged(
                &self.statements.select_message,
                (channel.as_i64(), self.width.bucket_of(id).0, id.as_i64()),
            )
            .await
            .map_err(cql)?
            .into_rows_result()
            .map_err(cql)?
            .maybe_first_row()
            .map_err(cql)?;
        let Some(message) = row.and_then(|r| to_message(channel, r)) else {
            return Ok(None);
        };
        Ok(self.with_reactions(channel, vec![message]).await?.pop())
    }

    async fn history(
        &self,
        channel: Id,
        query: HistoryQuery,
    ) -> Result<Page<Message>, MessageStoreError> {
        let (direction, from) = match query.position {
            Position::Latest => (Direction::Older, i64::MAX),
            Position::Before(id) => (Direction::Older, id.as_i64()),
            Position::After(id) => (Direction::Newer, id.as_i64()),
        };
        let need = query.limit as usize + 1;
        let rows = self.scan(channel, direction, from, need, |_| true).await?;
        Ok(query.page(self.with_reactions(channel, rows).await?))
    }

    async fn edit(
        &self,
        channel: Id,
        id: Id,
        body: &MessageBody,
        at: Timestamp,
    ) -> Result<(), MessageStoreError> {
        self.session
            .execute_unpaged(
                &self.statements.edit,
                (
                    body.as_str(),
                    time_to_millis(at),
                    channel.as_i64(),
                    self.width.bucket_of(id).0,
                    id.as_i64(),
                ),
            )
            .await
            .map_err(cql)?;
        Ok(())
    }

    async fn delete(&self, channel: Id, id: Id) -> Result<(), MessageStoreError> {
        self.session
            .execute_unpaged(
                &self.statements.delete,
                (channel.as_i64(), self.width.bucket_of(id).0, id.as_i64()),
            )
            .await
            .map_err(cql)?;
        Ok(())
    }

    async fn add_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let statement = &self.statements.add_reaction;
        self.write_reaction(statement, channel, id, user, emoji)
            .await
    }

    async fn remove_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let statement = &self.statements.remove_reaction;
        self.write_reaction(statement, channel, id, user, emoji)
            .await
    }

    async fn mark_read(
        &self,
        channel: Id,
        member: Id,
        last_read: Id,
    ) -> Result<(), MessageStoreError> {
        self.session
            .execute_unpaged(
                &self.statements.mark_read,
                (
                    channel.as_i64(),
                    member.as_i64(),
                    last_read.as_i64(),
                    write_time(last_read),
                ),
            )
            .await
            .map_err(cql)?;
        Ok(())
    }

    async fn read_state(&self, channel: Id, member: Id) -> Result<ReadState, MessageStoreError> {
        let row: Option<(Option<i64>,)> = self
            .session
            .execute_unpaged(
                &self.statements.select_read,
                (channel.as_i64(), member.as_i64()),
            )
            .await
            .map_err(cql)?
            .into_rows_result()
            .map_err(cql)?
            .maybe_first_row()
            .map_err(cql)?;
        let last_read = row.and_then(|(v,)| v);
        let unread = self
            .scan(
                channel,
                Direction::Newer,
                last_read.unwrap_or(0),
                UNREAD_CAP as usize,
                |m| m.author_id != member && !m.deleted,
            )
            .await?
            .len();
        Ok(ReadState {
            last_read: last_read.map(Id::from_i64),
            unread: u32::try_from(unread).unwrap_or(UNREAD_CAP),
        })
    }

    async fn ping(&self) -> Result<(), MessageStoreError> {
        self.session
            .query_unpaged("SELECT release_version FROM system.local", ())
            .await
            .map_err(cql)?;
        Ok(())
    }
}

/// The message `message` stores when it is new.
fn fresh(message: &NewMessage) -> Message {
    Message {
        id: message.id,
        channel_id: message.channel_id,
        author_id: message.author_id,
        body: message.body.as_str().to_owned(),
        created_at: created_at(message.id),
        edited_at: None,
        deleted: false,
        reply_to: message.reply_to,
        reactions: BTreeMap::new(),
        client_msg_id: message
            .client_msg_id
            .as_ref()
            .map(|c| c.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_come_from_the_config() {
        let mut config = SocialConfig {
            chat_bucket_hours: 6,
            ..SocialConfig::default()
        };
        let settings = CqlSettings::from_config(&config).unwrap();
        assert_eq!(settings.consistency, Consistency::LocalQuorum);
        assert_eq!(settings.bucket_width.millis(), 6 * 3_600_000);
        assert_eq!(settings.replication, Replication::Simple(1));
        config.chat_bucket_hours = 0;
        assert!(CqlSettings::from_config(&config).is_err());
    }
}
