//! The CQL schema of the chat store and its prepared statements, one place for
//! every statement text (see the parent module for why the tables are shaped so).

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use vigor_common::config::social::Replication;

/// Every statement of the store, prepared once at open.
pub(super) struct Statements {
    pub(super) insert_message: PreparedStatement,
    pub(super) insert_bucket: PreparedStatement,
    pub(super) claim_send: PreparedStatement,
    pub(super) select_message: PreparedStatement,
    pub(super) select_bounds: PreparedStatement,
    pub(super) older: PreparedStatement,
    pub(super) newer: PreparedStatement,
    pub(super) reactions: PreparedStatement,
    pub(super) edit: PreparedStatement,
    pub(super) delete: PreparedStatement,
    pub(super) add_reaction: PreparedStatement,
    pub(super) remove_reaction: PreparedStatement,
    pub(super) mark_read: PreparedStatement,
    pub(super) select_read: PreparedStatement,
}

/// The columns of a message as [`super::MessageRow`] reads them.
pub(super) const MESSAGE_COLUMNS: &str =
    "id, author_id, body, edited_at, deleted, reply_to, client_msg_id";

/// The keyspace and its tables, each created only when missing.
pub(super) fn schema(ks: &str, replication: &Replication) -> Vec<String> {
    vec![
        format!(
            "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {}",
            replication.cql_map()
        ),
        format!("CREATE TABLE IF NOT EXISTS {ks}.settings (name text PRIMARY KEY, value bigint)"),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.messages (\
             channel_id bigint, bucket bigint, id bigint, author_id bigint, body text, \
             edited_at bigint, deleted boolean, reply_to bigint, client_msg_id text, \
             PRIMARY KEY ((channel_id, bucket), id)) WITH CLUSTERING ORDER BY (id DESC)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.channel_buckets (\
             channel_id bigint, bucket bigint, PRIMARY KEY (channel_id, bucket))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.message_reactions (\
             channel_id bigint, bucket bigint, message_id bigint, emoji text, user_id bigint, \
             PRIMARY KEY ((channel_id, bucket), message_id, emoji, user_id)) \
             WITH CLUSTERING ORDER BY (message_id DESC, emoji ASC, user_id ASC)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.message_sends (\
             channel_id bigint, author_id bigint, client_msg_id text, message_id bigint, \
             body text, reply_to bigint, \
             PRIMARY KEY ((channel_id, author_id, client_msg_id)))"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.read_state (\
             channel_id bigint, member_id bigint, last_read bigint, \
             PRIMARY KEY (channel_id, member_id))"
        ),
    ]
}

impl Statements {
    /// Prepares every statement on `ks`.
    pub(super) async fn prepare(session: &Session, ks: &str) -> anyhow::Result<Self> {
        let p = |cql: String| async move { session.prepare(cql).await };
        Ok(Statements {
            insert_message: p(format!(
                "INSERT INTO {ks}.messages (channel_id, bucket, id, author_id, body, deleted, \
                 reply_to, client_msg_id) VALUES (?, ?, ?, ?, ?, false, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            insert_bucket: p(format!(
                "INSERT INTO {ks}.channel_buckets (channel_id, bucket) VALUES (?, ?)"
            ))
            .await?,
            claim_send: p(format!(
                "INSERT INTO {ks}.message_sends (channel_id, author_id, client_msg_id, \
                 message_id, body, reply_to) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS"
            ))
            .await?,
            select_message: p(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages \
                 WHERE channel_id = ? AND bucket = ? AND id = ?"
            ))
            .await?,
            select_bounds: p(format!(
                "SELECT MIN(bucket), MAX(bucket) FROM {ks}.channel_buckets WHERE channel_id = ?"
            ))
            .await?,
            older: p(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages \
                 WHERE channel_id = ? AND bucket = ? AND id < ? ORDER BY id DESC LIMIT ?"
            ))
            .await?,
            newer: p(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages \
                 WHERE channel_id = ? AND bucket = ? AND id > ? ORDER BY id ASC LIMIT ?"
            ))
            .await?,
            reactions: p(format!(
                "SELECT message_id, emoji FROM {ks}.message_reactions \
                 WHERE channel_id = ? AND bucket = ? AND message_id >= ? AND message_id <= ?"
            ))
            .await?,
            edit: p(format!(
                "UPDATE {ks}.messages SET body = ?, edited_at = ? \
                 WHERE channel_id = ? AND bucket = ? AND id = ?"
            ))
            .await?,
            delete: p(format!(
                "UPDATE {ks}.messages SET deleted = true, body = null \
                 WHERE channel_id = ? AND bucket = ? AND id = ?"
            ))
            .await?,
            add_reaction: p(format!(
                "INSERT INTO {ks}.message_reactions (channel_id, bucket, message_id, emoji, \
                 user_id) VALUES (?, ?, ?, ?, ?)"
            ))
            .await?,
            remove_reaction: p(format!(
                "DELETE FROM {ks}.message_reactions WHERE channel_id = ? AND bucket = ? \
                 AND message_id = ? AND emoji = ? AND user_id = ?"
            ))
            .await?,
            mark_read: p(format!(
                "INSERT INTO {ks}.read_state (channel_id, member_id, last_read) \
                 VALUES (?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?,
            select_read: p(format!(
                "SELECT last_read FROM {ks}.read_state WHERE channel_id = ? AND member_id = ?"
            ))
            .await?,
        })
    }
}
