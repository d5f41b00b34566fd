//! The feed's storage: items, kudos, comments, and the reports queue, behind
//! [`FeedStore`], on the same SQL database as the rest of the social data (the
//! feed query joins the follow graph, memberships and blocks), pinned by the
//! conformance suite in `conformance.rs`.
//!
//! Who sees an item is one SQL predicate, [`VISIBLE`], used by the feed, by a
//! single item and by everything that acts on an item (kudos, comments): the
//! owner always; anyone when it is public; followers when it is for followers;
//! members of the item's community unless it is private; nobody across a block
//! either way. The feed itself shows only items of the people the viewer follows,
//! of their communities and their own.

use async_trait::async_trait;
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::db::TxEvents;
use vigor_common::{in_tx, on_pool, Id};

use super::sql::{all, lower_bound, millis, parsed, time, SqlStore};
use super::{StoreError, StoreResult};
use crate::feed::{
    Comment, FeedItem, GivenKudos, ItemKind, ItemPrivacy, Kudos, NewItem, Report, ReportStatus,
};

/// Where a feed page resumes: after the item that happened at `occurred_at`
/// with id `id` (the feed is ordered newest first by both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedPosition {
    /// The last item's time, Unix milliseconds.
    pub occurred_at_ms: i64,
    /// The last item's id.
    pub id: Id,
}

/// What applying a source event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was applied before (or is older than what is stored).
    Nothing,
    /// The item was stored or replaced, or removed.
    Done,
}

/// The storage of the feed and the reports queue.
#[async_trait]
pub trait FeedStore: Send + Sync {
    /// Stores `item`, replacing the stored item of its source unless that has a
    /// newer version (keeping its id, kudos and comments); nothing when the
    /// source was removed or its owner's data erased. With `event` (consumer group, event id), once per
    /// event: a source event; without, an item made here (a community post).
    async fn put_item(&self, event: Option<(&str, Id)>, item: &NewItem) -> StoreResult<Applied>;

    /// Applies a source event of `group` once: removes the item of `source_key`
    /// with its kudos and comments, and remembers the source is gone.
    async fn remove_source(
        &self,
        group: &str,
        event_id: Id,
        source_key: &str,
    ) -> StoreResult<Applied>;

    /// Deletes an item with its kudos and comments; whether there was one.
    async fn delete_item(&self, id: Id) -> StoreResult<bool>;

    /// The item `id` if `viewer` may see it.
    async fn item(&self, viewer: Id, id: Id) -> StoreResult<Option<FeedItem>>;

    /// `viewer`'s feed, newest first, after `after`: their own items, items of
    /// people they follow and of communities they are in, as [`VISIBLE`] allows.
    async fn feed(
        &self,
        viewer: Id,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> StoreResult<Vec<FeedItem>>;

    /// A community's items (posts, community challenges) that are not private,
    /// newest first, without those of people `viewer` blocks or is blocked by.
    async fn community_feed(
        &self,
        community: Id,
        viewer: Id,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> StoreResult<Vec<FeedItem>>;

    /// `user` gives kudos to `item` (once): `true` when given now, and then
    /// `given` goes into the outbox with it.
    async fn give_kudos(
        &self,
        item: Id,
        user: Id,
        at: Timestamp,
        given: &Event,
    ) -> StoreResult<bool>;

    /// Takes kudos back; whether there were any.
    async fn take_kudos(&self, item: Id, user: Id) -> StoreResult<bool>;

    /// Who gave kudos to `item`, by user id after `after`.
    async fn kudos(&self, item: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Kudos>>;

    /// Stores a comment, with `added` in the outbox.
    async fn add_comment(&self, comment: &Comment, added: &Event) -> StoreResult<()>;

    /// A comment.
    async fn comment(&self, id: Id) -> StoreResult<Option<Comment>>;

    /// An item's comments, oldest first, after `after`.
    async fn comments(&self, item: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Comment>>;

    /// Deletes a comment; whether there was one.
    async fn delete_comment(&self, id: Id) -> StoreResult<bool>;

    /// `owner`'s items (as they see them), by id after `after` (the export).
    async fn items_of(
        &self,
        owner: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<FeedItem>>;

    /// The comments `author` wrote, by id after `after` (the export).
    async fn comments_by(
        &self,
        author: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Comment>>;

    /// The kudos `user` gave, by item id after `after` (the export).
    async fn kudos_by(
        &self,
        user: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<GivenKudos>>;

    /// The reports `reporter` made, by id after `after` (the export).
    async fn reports_by(
        &self,
        reporter: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Report>>;

    /// Files `report` unless its reporter reported the message before; returns
    /// the report on file.
    async fn report(&self, report: &Report) -> StoreResult<Report>;

    /// A report.
    async fn report_by_id(&self, id: Id) -> StoreResult<Option<Report>>;

    /// Reports of a community's channels (`None`: of direct and group chats) in
    /// one status, oldest first, after `after`.
    async fn reports(
        &self,
        community: Option<Id>,
        status: ReportStatus,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Report>>;

    /// Resolves every open report of `message` as `status`; how many.
    async fn resolve_reports(
        &self,
        message: Id,
        status: ReportStatus,
        by: Id,
        at: Timestamp,
    ) -> StoreResult<u64>;
}

/// The items `$1` may see (as `f`): see the module docs.
pub const VISIBLE: &str = "(f.owner_id = $1 OR ( \
    NOT EXISTS (SELECT 1 FROM blocks b \
      WHERE (b.blocker_id = $1 AND b.blocked_id = f.owner_id) \
         OR (b.blocker_id = f.owner_id AND b.blocked_id = $1)) \
    AND ( \
      f.privacy = 'public' \
      OR (f.privacy = 'followers' AND EXISTS (SELECT 1 FROM follows fo \
        WHERE fo.follower_id = $1 AND fo.followee_id = f.owner_id AND fo.status = 'active')) \
      OR (f.privacy <> 'private' AND f.community_id IS NOT NULL AND EXISTS ( \
        SELECT 1 FROM community_members m WHERE m.community_id = f.community_id \
          AND m.user_id = $1 AND m.status = 'active')) \
    )))";

/// The columns of a [`FeedRow`] for viewer `$1`.
const ITEM_COLUMNS: &str = "f.id, f.owner_id, f.kind, f.community_id, f.privacy, \
    f.occurred_at, f.data, \
    (SELECT COUNT(*) FROM kudos k WHERE k.item_id = f.id) AS kudos_count, \
    (SELECT COUNT(*) FROM comments c WHERE c.item_id = f.id) AS comment_count, \
    (SELECT COUNT(*) FROM kudos k WHERE k.item_id = f.id AND k.user_id = $1) AS kudoed";

/// Items before the position `($2, $3)`, newest first, at most `$4`.
const BEFORE_POSITION: &str = "(f.occurred_at < $2 OR (f.occurred_at = $2 AND f.id < $3))";
const NEWEST_FIRST: &str = "ORDER BY f.occurred_at DESC, f.id DESC LIMIT $4";

const COMMENT_COLUMNS: &str = "id, item_id, author_id, body, created_at";
const REPORT_COLUMNS: &str = "id, channel_id, message_id, community_id, author_id, reporter_id, \
     reason, status, created_at, resolved_by, resolved_at";

#[derive(sqlx::FromRow)]
struct FeedRow {
    id: i64,
    owner_id: i64,
    kind: String,
    community_id: Option<i64>,
    privacy: String,
    occurred_at: i64,
    data: String,
    kudos_count: i64,
    comment_count: i64,
    kudoed: i64,
}

impl FeedRow {
    fn into_item(self) -> StoreResult<FeedItem> {
        Ok(FeedItem {
            id: Id::from_i64(self.id),
            owner_id: Id::from_i64(self.owner_id),
            kind: parsed(ItemKind::from_stored(&self.kind), "item kind", &self.kind)?,
            community_id: self.community_id.map(Id::from_i64),
            privacy: parsed(
                ItemPrivacy::from_stored(&self.privacy),
                "item privacy",
                &self.privacy,
            )?,
            occurred_at: time(self.occurred_at)?,
            data: serde_json::from_str(&self.data)
                .map_err(|e| StoreError::Corrupt(format!("item data: {e}")))?,
            kudos_count: u64::try_from(self.kudos_count).unwrap_or(0),
            comment_count: u64::try_from(self.comment_count).unwrap_or(0),
            kudoed: self.kudoed > 0,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: i64,
    item_id: i64,
    author_id: i64,
    body: String,
    created_at: i64,
}

impl CommentRow {
    fn into_comment(self) -> StoreResult<Comment> {
        Ok(Comment {
            id: Id::from_i64(self.id),
            item_id: Id::from_i64(self.item_id),
            author_id: Id::from_i64(self.author_id),
            body: self.body,
            created_at: time(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    id: i64,
    channel_id: i64,
    message_id: i64,
    community_id: Option<i64>,
    author_id: i64,
    reporter_id: i64,
    reason: String,
    status: String,
    created_at: i64,
    resolved_by: Option<i64>,
    resolved_at: Option<i64>,
}

impl ReportRow {
    fn into_report(self) -> StoreResult<Report> {
        Ok(Report {
            id: Id::from_i64(self.id),
            channel_id: Id::from_i64(self.channel_id),
            message_id: Id::from_i64(self.message_id),
            community_id: self.community_id.map(Id::from_i64),
            author_id: Id::from_i64(self.author_id),
            reporter_id: Id::from_i64(self.reporter_id),
            reason: self.reason,
            status: parsed(
                ReportStatus::from_stored(&self.status),
                "report status",
                &self.status,
            )?,
            created_at: time(self.created_at)?,
            resolved_by: self.resolved_by.map(Id::from_i64),
            resolved_at: self.resolved_at.map(time).transpose()?,
        })
    }
}

fn position(after: Option<FeedPosition>) -> (i64, i64) {
    after.map_or((i64::MAX, i64::MAX), |p| (p.occurred_at_ms, p.id.as_i64()))
}

impl SqlStore {
    async fn feed_rows(
        &self,
        sql: &str,
        viewer: Id,
        after: Option<FeedPosition>,
        limit: u32,
        community: Option<Id>,
    ) -> StoreResult<Vec<FeedItem>> {
        let (at, id) = position(after);
        let rows: Vec<FeedRow> = on_pool!(&self.db, pool => {
            let mut query = sqlx::query_as(sql)
                .bind(viewer)
                .bind(at)
                .bind(id)
                .bind(i64::from(limit));
            if let Some(community) = community {
                query = query.bind(community);
            }
            query.fetch_all(pool).await?
        });
        all(rows, FeedRow::into_item)
    }

    /// The rows of `sql`, a query of one person's rows by id: `$1` the person,
    /// `$2` the id to resume after, `$3` the limit.
    async fn by_owner<R>(
        &self,
        sql: &str,
        owner: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<R>>
    where
        R: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        let rows = on_pool!(&self.db, pool => {
            sqlx::query_as(sql)
                .bind(owner)
                .bind(lower_bound(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    async fn report_where(&self, sql: &str, id: Id) -> StoreResult<Option<Report>> {
        let row: Option<ReportRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        row.map(ReportRow::into_report).transpose()
    }
}

#[async_trait]
impl FeedStore for SqlStore {
    async fn put_item(&self, event: Option<(&str, Id)>, item: &NewItem) -> StoreResult<Applied> {
        let sql = "INSERT INTO feed_items \
             (id, owner_id, kind, source_key, community_id, privacy, occurred_at, data, version) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
             WHERE NOT EXISTS (SELECT 1 FROM feed_tombstones WHERE source_key = $4) \
             AND NOT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $2) \
             ON CONFLICT (source_key) DO UPDATE SET \
               privacy = excluded.privacy, occurred_at = excluded.occurred_at, \
               data = excluded.data, version = excluded.version, \
               community_id = excluded.community_id \
             WHERE feed_items.version < excluded.version";
        let data = item.data.to_string();
        let applied = in_tx!(&self.db, tx => {
            let first = match event {
                Some((group, id)) => tx.mark_processed(group, id).await?,
                None => true,
            };
            if first {
                sqlx::query(sql)
                    .bind(item.id)
                    .bind(item.owner_id)
                    .bind(item.kind.as_str())
                    .bind(&item.source_key)
                    .bind(item.community_id)
                    .bind(item.privacy.as_str())
                    .bind(millis(item.occurred_at))
                    .bind(&data)
                    .bind(item.version)
                    .execute(&mut *tx)
                    .await?;
                Applied::Done
            } else {
                Applied::Nothing
            }
        });
        Ok(applied)
    }

    async fn remove_source(
        &self,
        group: &str,
        event_id: Id,
        source_key: &str,
    ) -> StoreResult<Applied> {
        let applied = in_tx!(&self.db, tx => {
            if tx.mark_processed(group, event_id).await? {
                sqlx::query(
                    "INSERT INTO feed_tombstones (source_key) VALUES ($1) \
                     ON CONFLICT (source_key) DO NOTHING",
                )
                .bind(source_key)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM feed_items WHERE source_key = $1")
                    .bind(source_key)
                    .execute(&mut *tx)
                    .await?;
                Applied::Done
            } else {
                Applied::Nothing
            }
        });
        Ok(applied)
    }

    async fn delete_item(&self, id: Id) -> StoreResult<bool> {
        let done = on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM feed_items WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    async fn item(&self, viewer: Id, id: Id) -> StoreResult<Option<FeedItem>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM feed_items f WHERE f.id = $2 AND {VISIBLE}");
        let row: Option<FeedRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(viewer).bind(id).fetch_optional(pool).await?
        });
        row.map(FeedRow::into_item).transpose()
    }

    async fn feed(
        &self,
        viewer: Id,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> StoreResult<Vec<FeedItem>> {
        // Fan-out on read (see `crate::service::feed`): the people the viewer
        // follows and the communities they are in, joined at read time.
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM feed_items f \
             WHERE {BEFORE_POSITION} AND ( \
               f.owner_id = $1 \
               OR f.owner_id IN (SELECT followee_id FROM follows \
                                 WHERE follower_id = $1 AND status = 'active') \
               OR f.community_id IN (SELECT community_id FROM community_members \
                                     WHERE user_id = $1 AND status = 'active') \
             ) AND {VISIBLE} {NEWEST_FIRST}"
        );
        self.feed_rows(&sql, viewer, after, limit, None).await
    }

    async fn community_feed(
        &self,
        community: Id,
        viewer: Id,
        after: Option<FeedPosition>,
        limit: u32,
    ) -> StoreResult<Vec<FeedItem>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM feed_items f \
             WHERE f.community_id = $5 AND f.privacy <> 'private' AND {BEFORE_POSITION} \
             AND NOT EXISTS (SELECT 1 FROM blocks b \
               WHERE (b.blocker_id = $1 AND b.blocked_id = f.owner_id) \
                  OR (b.blocker_id = f.owner_id AND b.blocked_id = $1)) \
             {NEWEST_FIRST}"
        );
        self.feed_rows(&sql, viewer, after, limit, Some(community))
            .await
    }

    async fn give_kudos(
        &self,
        item: Id,
        user: Id,
        at: Timestamp,
        given: &Event,
    ) -> StoreResult<bool> {
        let given_now = in_tx!(&self.db, tx => {
            let done = sqlx::query(
                "INSERT INTO kudos (item_id, user_id, at) VALUES ($1, $2, $3) \
                 ON CONFLICT (item_id, user_id) DO NOTHING",
            )
            .bind(item)
            .bind(user)
            .bind(millis(at))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if done {
                tx.enqueue(given).await?;
            }
            done
        });
        Ok(given_now)
    }

    async fn take_kudos(&self, item: Id, user: Id) -> StoreResult<bool> {
        self.delete_pair(
            "DELETE FROM kudos WHERE item_id = $1 AND user_id = $2",
            item,
            user,
        )
        .await
    }

    async fn kudos(&self, item: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Kudos>> {
        let rows: Vec<(i64, i64)> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT user_id, at FROM kudos WHERE item_id = $1 AND user_id > $2 \
                 ORDER BY user_id LIMIT $3",
            )
            .bind(item)
            .bind(lower_bound(after))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(user, at)| {
                Ok(Kudos {
                    user_id: Id::from_i64(user),
                    at: time(at)?,
                })
            })
            .collect()
    }

    async fn add_comment(&self, comment: &Comment, added: &Event) -> StoreResult<()> {
        in_tx!(&self.db, tx => {
            sqlx::query(&format!(
                "INSERT INTO comments ({COMMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(comment.id)
            .bind(comment.item_id)
            .bind(comment.author_id)
            .bind(&comment.body)
            .bind(millis(comment.created_at))
            .execute(&mut *tx)
            .await?;
            tx.enqueue(added).await?;
        });
        Ok(())
    }

    async fn comment(&self, id: Id) -> StoreResult<Option<Comment>> {
        let sql = format!("SELECT {COMMENT_COLUMNS} FROM comments WHERE id = $1");
        let row: Option<CommentRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        row.map(CommentRow::into_comment).transpose()
    }

    async fn comments(&self, item: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Comment>> {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE item_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows: Vec<CommentRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(item)
                .bind(lower_bound(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        all(rows, CommentRow::into_comment)
    }

    async fn delete_comment(&self, id: Id) -> StoreResult<bool> {
        let done = on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM comments WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    async fn items_of(
        &self,
        owner: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<FeedItem>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM feed_items f WHERE f.owner_id = $1 AND f.id > $2 \
             ORDER BY f.id LIMIT $3"
        );
        let rows: Vec<FeedRow> = self.by_owner(&sql, owner, after, limit).await?;
        all(rows, FeedRow::into_item)
    }

    async fn comments_by(
        &self,
        author: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Comment>> {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE author_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows: Vec<CommentRow> = self.by_owner(&sql, author, after, limit).await?;
        all(rows, CommentRow::into_comment)
    }

    async fn kudos_by(
        &self,
        user: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<GivenKudos>> {
        let sql = "SELECT item_id, at FROM kudos WHERE user_id = $1 AND item_id > $2 \
                   ORDER BY item_id LIMIT $3";
        let rows: Vec<(i64, i64)> = self.by_owner(sql, user, after, limit).await?;
        rows.into_iter()
            .map(|(item, at)| {
                Ok(GivenKudos {
                    item_id: Id::from_i64(item),
                    at: time(at)?,
                })
            })
            .collect()
    }

    async fn reports_by(
        &self,
        reporter: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Report>> {
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE reporter_id = $1 AND id > $2 \
             ORDER BY id LIMIT $3"
        );
        let rows: Vec<ReportRow> = self.by_owner(&sql, reporter, after, limit).await?;
        all(rows, ReportRow::into_report)
    }

    async fn report(&self, report: &Report) -> StoreResult<Report> {
        on_pool!(&self.db, pool => {
            sqlx::query(&format!(
                "INSERT INTO reports ({REPORT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL) \
                 ON CONFLICT (message_id, reporter_id) DO NOTHING"
            ))
            .bind(report.id)
            .bind(report.channel_id)
            .bind(report.message_id)
            .bind(report.community_id)
            .bind(report.author_id)
            .bind(report.reporter_id)
            .bind(&report.reason)
            .bind(report.status.as_str())
            .bind(millis(report.created_at))
            .execute(pool)
            .await?;
        });
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE message_id = $1 AND reporter_id = $2"
        );
        let row: ReportRow = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(report.message_id)
                .bind(report.reporter_id)
                .fetch_one(pool)
                .await?
        });
        row.into_report()
    }

    async fn report_by_id(&self, id: Id) -> StoreResult<Option<Report>> {
        self.report_where(
            &format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"),
            id,
        )
        .await
    }

    async fn reports(
        &self,
        community: Option<Id>,
        status: ReportStatus,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Report>> {
        // `community_id = $1` is never true for NULL: the chats' queue asks
        // `IS NULL` instead.
        let place = if community.is_some() {
            "community_id = $1"
        } else {
            "community_id IS NULL AND $1 IS NULL"
        };
        let sql = format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE {place} AND status = $2 AND id > $3 \
             ORDER BY id LIMIT $4"
        );
        let rows: Vec<ReportRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(community)
                .bind(status.as_str())
                .bind(lower_bound(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        all(rows, ReportRow::into_report)
    }

    async fn resolve_reports(
        &self,
        message: Id,
        status: ReportStatus,
        by: Id,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let done = on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE reports SET status = $1, resolved_by = $2, resolved_at = $3 \
                 WHERE message_id = $4 AND status = 'open'",
            )
            .bind(status.as_str())
            .bind(by)
            .bind(millis(at))
            .bind(message)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}
