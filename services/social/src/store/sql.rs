//! [`SocialStore`] on SQL: SQLite (all-in-one) and PostgreSQL (distributed),
//! each statement written once through the SQL seam of `vigor_common::db`.

use async_trait::async_trait;
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::db::{Database, TxEvents, UniqueKey};
use vigor_common::{in_owner_tx, in_tx, on_pool, Id};

use super::{AuditEntry, Left, SocialStore, StoreError, StoreResult};
use crate::domain::{
    dm_key, Ban, Channel, ChannelKind, Community, Follow, FollowStatus, MemberStatus, Membership,
    Role, Visibility,
};

/// A community's channel names are unique in it.
const CHANNEL_NAME: UniqueKey = UniqueKey {
    name: "channels_community_name",
    table: "channels",
    columns: &["community_id", "name"],
};

const COMMUNITY_COLUMNS: &str =
    "c.id, c.name, c.description, c.visibility, c.owner_id, c.created_at, \
     (SELECT COUNT(*) FROM community_members m \
      WHERE m.community_id = c.id AND m.status = 'active') AS member_count";
const MEMBER_COLUMNS: &str = "community_id, user_id, role, status, muted_until, since";
const CHANNEL_COLUMNS: &str = "id, kind, community_id, name, created_by, created_at";
const FOLLOW_COLUMNS: &str = "follower_id, followee_id, status, since";
const AUDIT_COLUMNS: &str = "id, community_id, actor_id, action, target_user, detail, at";

/// The social store on the service's SQL database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) db: Database,
}

impl SqlStore {
    /// The store on `db` (migrated with [`crate::MIGRATIONS`]).
    pub fn new(db: Database) -> Self {
        SqlStore { db }
    }

    /// Runs `sql`, a `DELETE` keyed by two ids, and says whether it deleted a row.
    pub(super) async fn delete_pair(&self, sql: &'static str, a: Id, b: Id) -> StoreResult<bool> {
        let done = on_pool!(&self.db, pool => {
            sqlx::query(sql).bind(a).bind(b).execute(pool).await?.rows_affected()
        });
        Ok(done > 0)
    }
}

pub(super) fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(super) fn time(millis: i64) -> StoreResult<Timestamp> {
    chrono::DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt(format!("time {millis} out of range")))
}

pub(super) fn parsed<T>(value: Option<T>, what: &str, text: &str) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("unknown {what} {text:?}")))
}

#[derive(sqlx::FromRow)]
struct CommunityRow {
    id: i64,
    name: String,
    description: String,
    visibility: String,
    owner_id: i64,
    created_at: i64,
    member_count: i64,
}

impl CommunityRow {
    fn into_community(self) -> StoreResult<Community> {
        Ok(Community {
            id: Id::from_i64(self.id),
            name: self.name,
            description: self.description,
            visibility: parsed(
                Visibility::from_stored(&self.visibility),
                "visibility",
                &self.visibility,
            )?,
            owner_id: Id::from_i64(self.owner_id),
            member_count: u64::try_from(self.member_count).unwrap_or(0),
            created_at: time(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    community_id: i64,
    user_id: i64,
    role: String,
    status: String,
    muted_until: Option<i64>,
    since: i64,
}

impl MemberRow {
    fn into_membership(self) -> StoreResult<Membership> {
        Ok(Membership {
            community_id: Id::from_i64(self.community_id),
            user_id: Id::from_i64(self.user_id),
            role: parsed(Role::from_stored(&self.role), "role", &self.role)?,
            status: parsed(
                MemberStatus::from_stored(&self.status),
                "member status",
                &self.status,
            )?,
            muted_until: self.muted_until.map(time).transpose()?,
            since: time(self.since)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChannelRow {
    id: i64,
    kind: String,
    community_id: Option<i64>,
    name: Option<String>,
    created_by: i64,
    created_at: i64,
}

impl ChannelRow {
    fn into_channel(self) -> StoreResult<Channel> {
        Ok(Channel {
            id: Id::from_i64(self.id),
            kind: parsed(
                ChannelKind::from_stored(&self.kind),
                "channel kind",
                &self.kind,
            )?,
            community_id: self.community_id.map(Id::from_i64),
            name: self.name,
            created_by: Id::from_i64(self.created_by),
            created_at: time(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct FollowRow {
    follower_id: i64,
    followee_id: i64,
    status: String,
    since: i64,
}

impl FollowRow {
    fn into_follow(self) -> StoreResult<Follow> {
        Ok(Follow {
            follower_id: Id::from_i64(self.follower_id),
            followee_id: Id::from_i64(self.followee_id),
            status: parsed(
                FollowStatus::from_stored(&self.status),
                "follow status",
                &self.status,
            )?,
            since: time(self.since)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct BanRow {
    community_id: i64,
    user_id: i64,
    until: Option<i64>,
    banned_by: i64,
    reason: String,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    community_id: i64,
    actor_id: i64,
    action: String,
    target_user: Option<i64>,
    detail: String,
    at: i64,
}

/// Deletes a membership in the transaction `conn`; the status it had.
async fn end_membership<C>(
    conn: &mut C,
    community: Id,
    user: Id,
) -> Result<Option<String>, sqlx::Error>
where
    C: MembershipEnd + ?Sized,
{
    conn.end_membership(community, user).await
}

/// `DELETE … RETURNING status` of a membership on either backend's connection.
#[async_trait]
trait MembershipEnd {
    async fn end_membership(
        &mut self,
        community: Id,
        user: Id,
    ) -> Result<Option<String>, sqlx::Error>;
}

const END_MEMBERSHIP: &str =
    "DELETE FROM community_members WHERE community_id = $1 AND user_id = $2 RETURNING status";

#[async_trait]
impl MembershipEnd for sqlx::SqliteConnection {
    async fn end_membership(
        &mut self,
        community: Id,
        user: Id,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(END_MEMBERSHIP)
            .bind(community)
            .bind(user)
            .fetch_optional(self)
            .await
    }
}

#[async_trait]
impl MembershipEnd for sqlx::PgConnection {
    async fn end_membership(
        &mut self,
        community: Id,
        user: Id,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(END_MEMBERSHIP)
            .bind(community)
            .bind(user)
            .fetch_optional(self)
            .await
    }
}

pub(super) fn all<R, T>(rows: Vec<R>, convert: fn(R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(convert).collect()
}

/// `after` as the lower bound of an id-ordered page (`-1`: from the start).
pub(super) fn lower_bound(after: Option<Id>) -> i64 {
    after.map_or(-1, Id::as_i64)
}

#[async_trait]
impl SocialStore for SqlStore {
    async fn create_community(
        &self,
        community: &Community,
        general: &Channel,
    ) -> StoreResult<Membership> {
        let owner = Membership {
            community_id: community.id,
            user_id: community.owner_id,
            role: Role::Owner,
            status: MemberStatus::Active,
            muted_until: None,
            since: community.created_at,
        };
        in_tx!(&self.db, tx => {
            sqlx::query(
                "INSERT INTO communities (id, name, description, visibility, owner_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(community.id)
            .bind(&community.name)
            .bind(&community.description)
            .bind(community.visibility.as_str())
            .bind(community.owner_id)
            .bind(millis(community.created_at))
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "INSERT INTO community_members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, NULL, $5)"
            ))
            .bind(owner.community_id)
            .bind(owner.user_id)
            .bind(owner.role.as_str())
            .bind(owner.status.as_str())
            .bind(millis(owner.since))
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!(
                "INSERT INTO channels ({CHANNEL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
            ))
            .bind(general.id)
            .bind(general.kind.as_str())
            .bind(general.community_id)
            .bind(&general.name)
            .bind(general.created_by)
            .bind(millis(general.created_at))
            .execute(&mut *tx)
            .await?;
        });
        Ok(owner)
    }

    async fn community(&self, id: Id) -> StoreResult<Option<Community>> {
        let sql = format!("SELECT {COMMUNITY_COLUMNS} FROM communities c WHERE c.id = $1");
        let row: Option<CommunityRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        row.map(CommunityRow::into_community).transpose()
    }

    async fn update_community(
        &self,
        id: Id,
        name: &str,
        description: &str,
        visibility: Visibility,
    ) -> StoreResult<()> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE communities SET name = $2, description = $3, visibility = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(name)
            .bind(description)
            .bind(visibility.as_str())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn delete_community(&self, id: Id, left: &Left) -> StoreResult<Vec<Id>> {
        let members: Vec<i64> = in_tx!(&self.db, tx => {
            let members: Vec<i64> = sqlx::query_scalar(
                "SELECT user_id FROM community_members \
                 WHERE community_id = $1 AND status = 'active' ORDER BY user_id",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            // Channels, memberships and bans go with it (ON DELETE CASCADE).
            sqlx::query("DELETE FROM communities WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for &member in &members {
                tx.enqueue(&left(Id::from_i64(member))).await?;
            }
            members
        });
        Ok(members.into_iter().map(Id::from_i64).collect())
    }

    async fn membership(&self, community: Id, user: Id) -> StoreResult<Option<Membership>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM community_members WHERE community_id = $1 AND user_id = $2"
        );
        let row: Option<MemberRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(community).bind(user).fetch_optional(pool).await?
        });
        row.map(MemberRow::into_membership).transpose()
    }

    async fn put_membership(&self, m: &Membership, joined: Option<&Event>) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO community_members ({MEMBER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (community_id, user_id) DO UPDATE SET role = excluded.role, \
             status = excluded.status, muted_until = excluded.muted_until, since = excluded.since"
        );
        in_tx!(&self.db, tx => {
            sqlx::query(&sql)
                .bind(m.community_id)
                .bind(m.user_id)
                .bind(m.role.as_str())
                .bind(m.status.as_str())
                .bind(m.muted_until.map(millis))
                .bind(millis(m.since))
                .execute(&mut *tx)
                .await?;
            if let Some(joined) = joined {
                tx.enqueue(joined).await?;
            }
        });
        Ok(())
    }

    async fn remove_membership(&self, community: Id, user: Id, left: &Left) -> StoreResult<bool> {
        let removed: Option<String> = in_tx!(&self.db, tx => {
            let status = end_membership(&mut *tx, community, user).await?;
            if status.as_deref() == Some("active") {
                tx.enqueue(&left(user)).await?;
            }
            status
        });
        Ok(removed.is_some())
    }

    async fn members(
        &self,
        community: Id,
        status: MemberStatus,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM community_members \
             WHERE community_id = $1 AND status = $2 AND user_id > $3 ORDER BY user_id LIMIT $4"
        );
        let rows: Vec<MemberRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(community)
                .bind(status.as_str())
                .bind(lower_bound(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        all(rows, MemberRow::into_membership)
    }

    async fn memberships_of(&self, user: Id) -> StoreResult<Vec<Membership>> {
        let sql = format!(
            "SELECT {MEMBER_COLUMNS} FROM community_members WHERE user_id = $1 \
             ORDER BY community_id"
        );
        let rows: Vec<MemberRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(user).fetch_all(pool).await?
        });
        all(rows, MemberRow::into_membership)
    }

    async fn ban(&self, ban: &Ban, left: &Left) -> StoreResult<()> {
        in_tx!(&self.db, tx => {
            sqlx::query(
                "INSERT INTO community_bans (community_id, user_id, until, banned_by, reason) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (community_id, user_id) DO UPDATE \
                 SET until = excluded.until, banned_by = excluded.banned_by, reason = excluded.reason",
            )
            .bind(ban.community_id)
            .bind(ban.user_id)
            .bind(ban.until.map(millis))
            .bind(ban.banned_by)
            .bind(&ban.reason)
            .execute(&mut *tx)
            .await?;
            let status = end_membership(&mut *tx, ban.community_id, ban.user_id).await?;
            if status.as_deref() == Some("active") {
                tx.enqueue(&left(ban.user_id)).await?;
            }
        });
        Ok(())
    }

    async fn unban(&self, community: Id, user: Id) -> StoreResult<bool> {
        self.delete_pair(
            "DELETE FROM community_bans WHERE community_id = $1 AND user_id = $2",
            community,
            user,
        )
        .await
    }

    async fn ban_of(&self, community: Id, user: Id) -> StoreResult<Option<Ban>> {
        let row: Option<BanRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT community_id, user_id, until, banned_by, reason FROM community_bans \
                 WHERE community_id = $1 AND user_id = $2",
            )
            .bind(community)
            .bind(user)
            .fetch_optional(pool)
            .await?
        });
        row.map(|r| {
            Ok(Ban {
                community_id: Id::from_i64(r.community_id),
                user_id: Id::from_i64(r.user_id),
                until: r.until.map(time).transpose()?,
                banned_by: Id::from_i64(r.banned_by),
                reason: r.reason,
            })
        })
        .transpose()
    }

    async fn create_channel(&self, channel: &Channel, members: &[Id]) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO channels ({CHANNEL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let result: Result<(), sqlx::Error> = async {
            in_tx!(&self.db, tx => {
                sqlx::query(&sql)
                    .bind(channel.id)
                    .bind(channel.kind.as_str())
                    .bind(channel.community_id)
                    .bind(&channel.name)
                    .bind(channel.created_by)
                    .bind(millis(channel.created_at))
                    .execute(&mut *tx)
                    .await?;
                for member in members {
                    sqlx::query(
                        "INSERT INTO channel_members (channel_id, user_id, since) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(channel.id)
                    .bind(*member)
                    .bind(millis(channel.created_at))
                    .execute(&mut *tx)
                    .await?;
                }
            });
            Ok(())
        }
        .await;
        match result {
            Err(e) if CHANNEL_NAME.violated_by(&e) => Err(StoreError::Taken("the channel name")),
            other => Ok(other?),
        }
    }

    async fn dm_channel(&self, candidate: &Channel, a: Id, b: Id) -> StoreResult<(Channel, bool)> {
        let key = dm_key(a, b);
        let select = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE dm_key = $1");
        let (row, created): (ChannelRow, bool) = in_tx!(&self.db, tx => {
            let inserted = sqlx::query(
                "INSERT INTO channels (id, kind, community_id, name, dm_key, created_by, created_at) \
                 VALUES ($1, 'dm', NULL, NULL, $2, $3, $4) ON CONFLICT (dm_key) DO NOTHING",
            )
            .bind(candidate.id)
            .bind(&key)
            .bind(candidate.created_by)
            .bind(millis(candidate.created_at))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if inserted {
                for member in [a, b] {
                    sqlx::query(
                        "INSERT INTO channel_members (channel_id, user_id, since) VALUES ($1, $2, $3) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(candidate.id)
                    .bind(member)
                    .bind(millis(candidate.created_at))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            let row: ChannelRow = sqlx::query_as(&select).bind(&key).fetch_one(&mut *tx).await?;
            (row, inserted)
        });
        Ok((row.into_channel()?, created))
    }

    async fn channel(&self, id: Id) -> StoreResult<Option<Channel>> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE id = $1");
        let row: Option<ChannelRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        row.map(ChannelRow::into_channel).transpose()
    }

    async fn community_channels(&self, community: Id) -> StoreResult<Vec<Channel>> {
        let sql =
            format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE community_id = $1 ORDER BY id");
        let rows: Vec<ChannelRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(community).fetch_all(pool).await?
        });
        all(rows, ChannelRow::into_channel)
    }

    async fn channel_members(&self, channel: Id) -> StoreResult<Vec<Id>> {
        let ids: Vec<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT user_id FROM channel_members WHERE channel_id = $1 ORDER BY user_id",
            )
            .bind(channel)
            .fetch_all(pool)
            .await?
        });
        Ok(ids.into_iter().map(Id::from_i64).collect())
    }

    async fn add_channel_members(
        &self,
        channel: Id,
        users: &[Id],
        at: Timestamp,
        max: usize,
    ) -> StoreResult<bool> {
        // Serialised per channel, so concurrent adds cannot pass `max` together.
        let added = in_owner_tx!(&self.db, channel, tx => {
            let mut members: Vec<i64> =
                sqlx::query_scalar("SELECT user_id FROM channel_members WHERE channel_id = $1")
                    .bind(channel)
                    .fetch_all(&mut *tx)
                    .await?;
            for user in users {
                if !members.contains(&user.as_i64()) {
                    members.push(user.as_i64());
                }
            }
            if members.len() > max {
                false
            } else {
                for user in users {
                    sqlx::query(
                        "INSERT INTO channel_members (channel_id, user_id, since) \
                         VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(channel)
                    .bind(*user)
                    .bind(millis(at))
                    .execute(&mut *tx)
                    .await?;
                }
                true
            }
        });
        Ok(added)
    }

    async fn remove_channel_member(&self, channel: Id, user: Id) -> StoreResult<bool> {
        self.delete_pair(
            "DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2",
            channel,
            user,
        )
        .await
    }

    async fn channels_of(&self, user: Id) -> StoreResult<Vec<Channel>> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE id IN ( \
                SELECT channel_id FROM channel_members WHERE user_id = $1 \
                UNION \
                SELECT c.id FROM channels c JOIN community_members m \
                  ON m.community_id = c.community_id \
                WHERE m.user_id = $1 AND m.status = 'active') \
             ORDER BY id"
        );
        let rows: Vec<ChannelRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(user).fetch_all(pool).await?
        });
        all(rows, ChannelRow::into_channel)
    }

    async fn follow(&self, follow: &Follow, started: &Event) -> StoreResult<Follow> {
        let select = format!(
            "SELECT {FOLLOW_COLUMNS} FROM follows WHERE follower_id = $1 AND followee_id = $2"
        );
        let row: FollowRow = in_tx!(&self.db, tx => {
            let inserted = sqlx::query(&format!(
                "INSERT INTO follows ({FOLLOW_COLUMNS}) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (follower_id, followee_id) DO NOTHING"
            ))
            .bind(follow.follower_id)
            .bind(follow.followee_id)
            .bind(follow.status.as_str())
            .bind(millis(follow.since))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if inserted && follow.status == FollowStatus::Active {
                tx.enqueue(started).await?;
            }
            sqlx::query_as(&select)
                .bind(follow.follower_id)
                .bind(follow.followee_id)
                .fetch_one(&mut *tx)
                .await?
        });
        row.into_follow()
    }

    async fn unfollow(&self, follower: Id, followee: Id, ended: &Event) -> StoreResult<bool> {
        let status: Option<String> = in_tx!(&self.db, tx => {
            let status: Option<String> = sqlx::query_scalar(
                "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 RETURNING status",
            )
            .bind(follower)
            .bind(followee)
            .fetch_optional(&mut *tx)
            .await?;
            if status.as_deref() == Some(FollowStatus::Active.as_str()) {
                tx.enqueue(ended).await?;
            }
            status
        });
        Ok(status.is_some())
    }

    async fn follow_of(&self, follower: Id, followee: Id) -> StoreResult<Option<Follow>> {
        let sql = format!(
            "SELECT {FOLLOW_COLUMNS} FROM follows WHERE follower_id = $1 AND followee_id = $2"
        );
        let row: Option<FollowRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(follower).bind(followee).fetch_optional(pool).await?
        });
        row.map(FollowRow::into_follow).transpose()
    }

    async fn approve_follow(
        &self,
        follower: Id,
        followee: Id,
        started: &Event,
    ) -> StoreResult<bool> {
        let done = in_tx!(&self.db, tx => {
            let done = sqlx::query(
                "UPDATE follows SET status = 'active' \
                 WHERE follower_id = $1 AND followee_id = $2 AND status = 'pending'",
            )
            .bind(follower)
            .bind(followee)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if done {
                tx.enqueue(started).await?;
            }
            done
        });
        Ok(done)
    }

    async fn followers(
        &self,
        user: Id,
        status: FollowStatus,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Follow>> {
        let sql = format!(
            "SELECT {FOLLOW_COLUMNS} FROM follows \
             WHERE followee_id = $1 AND status = $2 AND follower_id > $3 \
             ORDER BY follower_id LIMIT $4"
        );
        let rows: Vec<FollowRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(user)
                .bind(status.as_str())
                .bind(lower_bound(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        all(rows, FollowRow::into_follow)
    }

    async fn following(&self, user: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Follow>> {
        let sql = format!(
            "SELECT {FOLLOW_COLUMNS} FROM follows \
             WHERE follower_id = $1 AND status = 'active' AND followee_id > $2 \
             ORDER BY followee_id LIMIT $3"
        );
        let rows: Vec<FollowRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(user)
                .bind(lower_bound(after))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        all(rows, FollowRow::into_follow)
    }

    async fn block(
        &self,
        blocker: Id,
        blocked: Id,
        at: Timestamp,
        notices: [&Event; 2],
    ) -> StoreResult<Vec<Follow>> {
        let select = format!(
            "SELECT {FOLLOW_COLUMNS} FROM follows \
             WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1)"
        );
        let ended: Vec<FollowRow> = in_tx!(&self.db, tx => {
            sqlx::query(
                "INSERT INTO blocks (blocker_id, blocked_id, since) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(blocker)
            .bind(blocked)
            .bind(millis(at))
            .execute(&mut *tx)
            .await?;
            let ended: Vec<FollowRow> = sqlx::query_as(&select)
                .bind(blocker)
                .bind(blocked)
                .fetch_all(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM follows WHERE (follower_id = $1 AND followee_id = $2) \
                 OR (follower_id = $2 AND followee_id = $1)",
            )
            .bind(blocker)
            .bind(blocked)
            .execute(&mut *tx)
            .await?;
            for row in &ended {
                if row.status == FollowStatus::Active.as_str() {
                    let event = if row.follower_id == blocker.as_i64() {
                        notices[0]
                    } else {
                        notices[1]
                    };
                    tx.enqueue(event).await?;
                }
            }
            ended
        });
        all(ended, FollowRow::into_follow)
    }

    async fn unblock(&self, blocker: Id, blocked: Id) -> StoreResult<bool> {
        self.delete_pair(
            "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2",
            blocker,
            blocked,
        )
        .await
    }

    async fn blocked_between(&self, a: Id, b: Id) -> StoreResult<bool> {
        let found: Option<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar(
                "SELECT blocker_id FROM blocks WHERE (blocker_id = $1 AND blocked_id = $2) \
                 OR (blocker_id = $2 AND blocked_id = $1) LIMIT 1",
            )
            .bind(a)
            .bind(b)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some())
    }

    async fn blocks_of(&self, user: Id) -> StoreResult<Vec<Id>> {
        let ids: Vec<i64> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT blocked_id FROM blocks WHERE blocker_id = $1 ORDER BY blocked_id")
                .bind(user)
                .fetch_all(pool)
                .await?
        });
        Ok(ids.into_iter().map(Id::from_i64).collect())
    }

    async fn set_profile_visibility(
        &self,
        group: &str,
        event_id: Id,
        user: Id,
        visibility: &str,
    ) -> StoreResult<bool> {
        // The newest event of a user wins, whatever order they arrive in.
        let sql = "INSERT INTO profile_privacy (user_id, visibility, event_id) \
                   VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE \
                   SET visibility = excluded.visibility, event_id = excluded.event_id \
                   WHERE profile_privacy.event_id < excluded.event_id";
        let applied = in_tx!(&self.db, tx => {
            let first = tx.mark_processed(group, event_id).await?;
            if first {
                sqlx::query(sql)
                    .bind(user)
                    .bind(visibility)
                    .bind(event_id)
                    .execute(&mut *tx)
                    .await?;
            }
            first
        });
        Ok(applied)
    }

    async fn profile_visibility(&self, user: Id) -> StoreResult<Option<String>> {
        let found = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT visibility FROM profile_privacy WHERE user_id = $1")
                .bind(user)
                .fetch_optional(pool)
                .await?
        });
        Ok(found)
    }

    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        on_pool!(&self.db, pool => {
            sqlx::query(&sql)
                .bind(entry.id)
                .bind(entry.community_id)
                .bind(entry.actor_id)
                .bind(&entry.action)
                .bind(entry.target_user)
                .bind(&entry.detail)
                .bind(millis(entry.at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn audit_log(
        &self,
        community: Id,
        before: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE community_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT $3"
        );
        let rows: Vec<AuditRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(community)
                .bind(before.map_or(i64::MAX, Id::as_i64))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: Id::from_i64(r.id),
                    community_id: Id::from_i64(r.community_id),
                    actor_id: Id::from_i64(r.actor_id),
                    action: r.action,
                    target_user: r.target_user.map(Id::from_i64),
                    detail: r.detail,
                    at: time(r.at)?,
                })
            })
            .collect()
    }

    async fn erase_user(&self, group: &str, event_id: Id, user: Id) -> StoreResult<bool> {
        let erased = in_tx!(&self.db, tx => {
            let first = tx.mark_processed(group, event_id).await?;
            if first {
                for sql in [
                    "DELETE FROM communities WHERE owner_id = $1",
                    "DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1",
                    "DELETE FROM blocks WHERE blocker_id = $1 OR blocked_id = $1",
                    "DELETE FROM community_members WHERE user_id = $1",
                    "DELETE FROM community_bans WHERE user_id = $1",
                    "DELETE FROM channel_members WHERE user_id = $1",
                    "DELETE FROM feed_items WHERE owner_id = $1",
                    "DELETE FROM kudos WHERE user_id = $1",
                    "DELETE FROM comments WHERE author_id = $1",
                    "DELETE FROM reports WHERE reporter_id = $1 OR author_id = $1",
                    "DELETE FROM profile_privacy WHERE user_id = $1",
                    "INSERT INTO erased_users (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
                ] {
                    sqlx::query(sql).bind(user).execute(&mut *tx).await?;
                }
            }
            first
        });
        Ok(erased)
    }
}
