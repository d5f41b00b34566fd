//! The [`MessageStore`] on the service's SQL database (SQLite or PostgreSQL).
//!
//! One table of messages indexed by `(channel_id, id)`, so a history page is one
//! index range scan whichever way it goes; a unique index on
//! `(channel_id, author_id, client_msg_id)` makes a retried send an
//! `INSERT … ON CONFLICT DO NOTHING` followed by reading the row that won, which
//! stays right when retries race (the database serialises them on the index).
//! Both dialects take the same SQL here (`$n` placeholders, `ON CONFLICT`); only
//! the read-state upsert differs (`MAX` in SQLite, `GREATEST` in PostgreSQL).

use std::collections::{BTreeMap, HashMap};

use vigor_common::api::{Page, Timestamp};
use vigor_common::db::Database;
use vigor_common::{on_pool, Id};

use super::{
    created_at, millis_to_time, time_to_millis, Emoji, HistoryQuery, Message, MessageBody,
    MessageStore, MessageStoreError, NewMessage, Position, ReadState, UNREAD_CAP,
};

const COLUMNS: &str =
    "id, channel_id, author_id, body, edited_at, deleted, reply_to, client_msg_id";

/// Messages in the service's SQL database.
#[derive(Debug, Clone)]
pub struct SqlMessages {
    db: Database,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    channel_id: i64,
    author_id: i64,
    body: String,
    edited_at: Option<i64>,
    deleted: bool,
    reply_to: Option<i64>,
    client_msg_id: Option<String>,
}

impl Row {
    fn into_message(self) -> Message {
        let id = Id::from_i64(self.id);
        Message {
            id,
            channel_id: Id::from_i64(self.channel_id),
            author_id: Id::from_i64(self.author_id),
            body: if self.deleted {
                String::new()
            } else {
                self.body
            },
            created_at: created_at(id),
            edited_at: self.edited_at.map(millis_to_time),
            deleted: self.deleted,
            reply_to: self.reply_to.map(Id::from_i64),
            reactions: BTreeMap::new(),
            client_msg_id: self.client_msg_id,
        }
    }
}

impl SqlMessages {
    /// The store on `db` (migrated with the service's migrations).
    pub fn new(db: Database) -> Self {
        SqlMessages { db }
    }

    async fn find_by_client_id(
        &self,
        message: &NewMessage,
        client_msg_id: &str,
    ) -> Result<Option<Row>, sqlx::Error> {
        let sql = format!(
            "SELECT {COLUMNS} FROM messages \
             WHERE channel_id = $1 AND author_id = $2 AND client_msg_id = $3"
        );
        on_pool!(&self.db, pool => {
            sqlx::query_as::<_, Row>(&sql)
                .bind(message.channel_id.as_i64())
                .bind(message.author_id.as_i64())
                .bind(client_msg_id)
                .fetch_optional(pool)
                .await
        })
    }

    /// Runs `sql` on one reaction's row, bound as `$1` message, `$2` emoji,
    /// `$3` user, `$4` channel: adding and taking back differ only in it.
    async fn write_reaction(
        &self,
        sql: &str,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(sql)
                .bind(id.as_i64())
                .bind(emoji.as_str())
                .bind(user.as_i64())
                .bind(channel.as_i64())
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    /// Adds the reaction counts of `channel` to `messages`.
    async fn with_reactions(
        &self,
        channel: Id,
        mut messages: Vec<Message>,
    ) -> Result<Vec<Message>, MessageStoreError> {
        let (Some(lo), Some(hi)) = (
            messages.iter().map(|m| m.id).min(),
            messages.iter().map(|m| m.id).max(),
        ) else {
            return Ok(messages);
        };
        let sql = "SELECT message_id, emoji, COUNT(*) FROM message_reactions \
                   WHERE channel_id = $1 AND message_id BETWEEN $2 AND $3 \
                   GROUP BY message_id, emoji";
        let counts: Vec<(i64, String, i64)> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql)
                .bind(channel.as_i64())
                .bind(lo.as_i64())
                .bind(hi.as_i64())
                .fetch_all(pool)
                .await
        })?;
        let mut by_message: HashMap<i64, BTreeMap<String, u32>> = HashMap::new();
        for (message, emoji, n) in counts {
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            by_message.entry(message).or_default().insert(emoji, n);
        }
        for message in &mut messages {
            if let Some(reactions) = by_message.remove(&message.id.as_i64()) {
                message.reactions = reactions;
            }
        }
        Ok(messages)
    }
}

#[async_trait::async_trait]
impl MessageStore for SqlMessages {
    async fn append(&self, message: NewMessage) -> Result<Message, MessageStoreError> {
        let client_msg_id = message.client_msg_id.as_ref().map(|c| c.as_str());
        let sql = "INSERT INTO messages \
                   (id, channel_id, author_id, body, deleted, reply_to, client_msg_id) \
                   VALUES ($1, $2, $3, $4, FALSE, $5, $6) ON CONFLICT DO NOTHING";
        let inserted = on_pool!(&self.db, pool => {
            sqlx::query(sql)
                .bind(message.id.as_i64())
                .bind(message.channel_id.as_i64())
                .bind(message.author_id.as_i64())
                .bind(message.body.as_str())
                .bind(message.reply_to.map(Id::as_i64))
                .bind(client_msg_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        if inserted == 0 {
            // Only the client id can collide (ids are unique): the send that won.
            let existing = match client_msg_id {
                Some(client) => self.find_by_client_id(&message, client).await?,
                None => None,
            };
            let row = existing.ok_or_else(|| {
                MessageStoreError::Corrupt(format!("message id {} is taken", message.id))
            })?;
            return self
                .get(message.channel_id, Id::from_i64(row.id))
                .await?
                .ok_or_else(|| MessageStoreError::Corrupt("a stored send vanished".into()));
        }
        Ok(Message {
            id: message.id,
            channel_id: message.channel_id,
            author_id: message.author_id,
            body: message.body.as_str().to_owned(),
            created_at: created_at(message.id),
            edited_at: None,
            deleted: false,
            reply_to: message.reply_to,
            reactions: BTreeMap::new(),
            client_msg_id: client_msg_id.map(str::to_owned),
        })
    }

    async fn get(&self, channel: Id, id: Id) -> Result<Option<Message>, MessageStoreError> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND id = $2");
        let row: Option<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(channel.as_i64())
                .bind(id.as_i64())
                .fetch_optional(pool)
                .await
        })?;
        let Some(row) = row else { return Ok(None) };
        Ok(self
            .with_reactions(channel, vec![row.into_message()])
            .await?
            .pop())
    }

    async fn history(
        &self,
        channel: Id,
        query: HistoryQuery,
    ) -> Result<Page<Message>, MessageStoreError> {
        let (condition, order, from) = match query.position {
            Position::Latest => ("id < $2", "DESC", i64::MAX),
            Position::Before(id) => ("id < $2", "DESC", id.as_i64()),
            Position::After(id) => ("id > $2", "ASC", id.as_i64()),
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE channel_id = $1 AND {condition} \
             ORDER BY id {order} LIMIT $3"
        );
        let rows: Vec<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(channel.as_i64())
                .bind(from)
                .bind(i64::from(query.limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        let messages = rows.into_iter().map(Row::into_message).collect();
        Ok(query.page(self.with_reactions(channel, messages).await?))
    }

    async fn edit(
        &self,
        channel: Id,
        id: Id,
        body: &MessageBody,
        at: Timestamp,
    ) -> Result<(), MessageStoreError> {
        let sql = "UPDATE messages SET body = $1, edited_at = $2 \
                   WHERE channel_id = $3 AND id = $4 AND NOT deleted";
        on_pool!(&self.db, pool => {
            sqlx::query(sql)
                .bind(body.as_str())
                .bind(time_to_millis(at))
                .bind(channel.as_i64())
                .bind(id.as_i64())
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    async fn delete(&self, channel: Id, id: Id) -> Result<(), MessageStoreError> {
        let sql = "UPDATE messages SET body = '', deleted = TRUE WHERE channel_id = $1 AND id = $2";
        on_pool!(&self.db, pool => {
            sqlx::query(sql)
                .bind(channel.as_i64())
                .bind(id.as_i64())
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    async fn add_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let sql = "INSERT INTO message_reactions (message_id, emoji, user_id, channel_id) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
        self.write_reaction(sql, channel, id, user, emoji).await
    }

    async fn remove_reaction(
        &self,
        channel: Id,
        id: Id,
        user: Id,
        emoji: &Emoji,
    ) -> Result<(), MessageStoreError> {
        let sql = "DELETE FROM message_reactions \
                   WHERE message_id = $1 AND emoji = $2 AND user_id = $3 AND channel_id = $4";
        self.write_reaction(sql, channel, id, user, emoji).await
    }

    async fn mark_read(
        &self,
        channel: Id,
        member: Id,
        last_read: Id,
    ) -> Result<(), MessageStoreError> {
        let greatest = match self.db {
            Database::Sqlite(_) => "MAX",
            Database::Postgres(_) => "GREATEST",
        };
        let sql = format!(
            "INSERT INTO message_read_state (channel_id, member_id, last_read) VALUES ($1, $2, $3) \
             ON CONFLICT (channel_id, member_id) DO UPDATE \
             SET last_read = {greatest}(message_read_state.last_read, excluded.last_read)"
        );
        on_pool!(&self.db, pool => {
            sqlx::query(&sql)
                .bind(channel.as_i64())
                .bind(member.as_i64())
                .bind(last_read.as_i64())
                .execute(pool)
                .await
                .map(drop)
        })?;
        Ok(())
    }

    async fn read_state(&self, channel: Id, member: Id) -> Result<ReadState, MessageStoreError> {
        let sql =
            "SELECT last_read FROM message_read_state WHERE channel_id = $1 AND member_id = $2";
        let last_read: Option<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(sql)
                .bind(channel.as_i64())
                .bind(member.as_i64())
                .fetch_optional(pool)
                .await
        })?;
        let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM messages \
                   WHERE channel_id = $1 AND id > $2 AND author_id <> $3 AND NOT deleted \
                   LIMIT $4) AS unread";
        let unread: i64 = on_pool!(&self.db, pool => {
            sqlx::query_scalar(sql)
                .bind(channel.as_i64())
                .bind(last_read.unwrap_or(0))
                .bind(member.as_i64())
                .bind(i64::from(UNREAD_CAP))
                .fetch_one(pool)
                .await
        })?;
        Ok(ReadState {
            last_read: last_read.map(Id::from_i64),
            unread: u32::try_from(unread).unwrap_or(UNREAD_CAP),
        })
    }
}
