//! [`UserStore`] on SQL: SQLite (all-in-one) and PostgreSQL (distributed).
//!
//! The statements are written once with `$n` parameters, which both sqlx drivers
//! accept, and run on whichever pool the [`Database`] holds (`on_pool!` of
//! [`vigor_common::db`]); writes that carry events run in a transaction with the
//! outbox inserts (`in_tx!`, [`TxEvents`]).
//! Rows are read into [`ProfileRow`] and converted here, so a malformed row is a
//! [`StoreError::Corrupt`], never a panic. Writes return the new row with
//! `RETURNING`, which both backends support.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vigor_common::api::{Cursor, Timestamp};
use vigor_common::bus::Event;
use vigor_common::db::{Database, TxEvents};
use vigor_common::db_replica::Reads;
use vigor_common::{in_tx, on_pool, Id};

use super::{Profile, StoreError, StoreResult, UserStore};
use crate::domain::{name_key, Patch, ProfileChanges, Roles, Status};

/// The SQL store of the users service.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
    reads: Reads,
}

impl SqlStore {
    /// A store on a migrated database (with its read replica, when `db` is a
    /// [`Reads`] that has one: people search goes to it).
    pub fn new(db: impl Into<Reads>) -> Self {
        let reads = db.into();
        SqlStore {
            db: reads.primary().clone(),
            reads,
        }
    }
}

const COLUMNS: &str = "user_id, email, display_name, avatar_url, bio, units, time_zone, \
     birth_year, height_cm, weight_kg, profile_visibility, activity_privacy, roles, status, \
     created_at, updated_at";

/// A `profiles` row as stored.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    user_id: Id,
    email: String,
    display_name: String,
    avatar_url: Option<String>,
    bio: Option<String>,
    units: String,
    time_zone: String,
    birth_year: Option<i32>,
    height_cm: Option<f64>,
    weight_kg: Option<f64>,
    profile_visibility: String,
    activity_privacy: String,
    roles: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

fn instant(ms: i64) -> StoreResult<Timestamp> {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("instant {ms}")))
}

impl TryFrom<ProfileRow> for Profile {
    type Error = StoreError;

    fn try_from(row: ProfileRow) -> StoreResult<Profile> {
        Ok(Profile {
            user_id: row.user_id,
            email: row.email,
            display_name: row.display_name,
            avatar_url: row.avatar_url,
            bio: row.bio,
            units: row.units.parse()?,
            time_zone: row.time_zone,
            birth_year: row.birth_year,
            height_cm: row.height_cm,
            weight_kg: row.weight_kg,
            profile_visibility: row.profile_visibility.parse()?,
            activity_privacy: row.activity_privacy.parse()?,
            roles: Roles::parse(row.roles.split(' ').filter(|r| !r.is_empty()))?,
            status: row.status.parse()?,
            created_at: instant(row.created_at)?,
            updated_at: instant(row.updated_at)?,
        })
    }
}

fn convert(row: Option<ProfileRow>) -> StoreResult<Option<Profile>> {
    row.map(Profile::try_from).transpose()
}

/// `(set?, value)` of a nullable patch, for `CASE WHEN $set THEN $value ELSE col END`.
fn patch<T: Clone>(patch: &Patch<T>) -> (bool, Option<T>) {
    match patch {
        Patch::Keep => (false, None),
        Patch::Clear => (true, None),
        Patch::Set(value) => (true, Some(value.clone())),
    }
}

/// The exclusive upper bound of keys starting with `prefix` (keys compare bytewise:
/// SQLite's BINARY collation, `COLLATE "C"` on PostgreSQL).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}{}", char::MAX)
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_from_signup(
        &self,
        group: &str,
        event_id: Id,
        p: &Profile,
    ) -> StoreResult<bool> {
        let sql = format!(
            "INSERT INTO profiles ({COLUMNS}, name_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
             ON CONFLICT (user_id) DO NOTHING"
        );
        macro_rules! insert {
            () => {
                sqlx::query(&sql)
                    .bind(p.user_id)
                    .bind(&p.email)
                    .bind(&p.display_name)
                    .bind(&p.avatar_url)
                    .bind(&p.bio)
                    .bind(p.units.as_str())
                    .bind(&p.time_zone)
                    .bind(p.birth_year)
                    .bind(p.height_cm)
                    .bind(p.weight_kg)
                    .bind(p.profile_visibility.as_str())
                    .bind(p.activity_privacy.as_str())
                    .bind(p.roles.to_strings().join(" "))
                    .bind(p.status.as_str())
                    .bind(p.created_at.timestamp_millis())
                    .bind(p.updated_at.timestamp_millis())
                    .bind(name_key(&p.display_name))
            };
        }
        // The event is marked processed in the same transaction as the insert:
        // a redelivery after a crash either finds both or neither.
        let created = in_tx!(&self.db, tx => {
            let first = tx.mark_processed(group, event_id).await?;
            first && insert!().execute(&mut *tx).await?.rows_affected() == 1
        });
        Ok(created)
    }

    async fn set_email(&self, user_id: Id, email: &str, now: Timestamp) -> StoreResult<bool> {
        let sql = "UPDATE profiles SET email = $2, updated_at = $3 WHERE user_id = $1";
        let done = on_pool!(&self.db, pool => sqlx::query(sql)
            .bind(user_id)
            .bind(email)
            .bind(now.timestamp_millis())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    async fn profile(&self, user_id: Id) -> StoreResult<Option<Profile>> {
        let sql = format!("SELECT {COLUMNS} FROM profiles WHERE user_id = $1");
        let row: Option<ProfileRow> = on_pool!(&self.db, pool => sqlx::query_as(&sql)
            .bind(user_id)
            .fetch_optional(pool)
            .await)?;
        convert(row)
    }

    async fn update_profile(
        &self,
        user_id: Id,
        c: &ProfileChanges,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<Option<Profile>> {
        // One statement: absent fields keep their column (COALESCE for required
        // fields, a flag for nullable ones, where `null` means "clear").
        let sql = format!(
            "UPDATE profiles SET \
               display_name = COALESCE($2, display_name), \
               name_key = COALESCE($3, name_key), \
               avatar_url = CASE WHEN $4 THEN $5 ELSE avatar_url END, \
               bio = CASE WHEN $6 THEN $7 ELSE bio END, \
               units = COALESCE($8, units), \
               time_zone = COALESCE($9, time_zone), \
               birth_year = CASE WHEN $10 THEN $11 ELSE birth_year END, \
               height_cm = CASE WHEN $12 THEN $13 ELSE height_cm END, \
               weight_kg = CASE WHEN $14 THEN $15 ELSE weight_kg END, \
               profile_visibility = COALESCE($16, profile_visibility), \
               activity_privacy = COALESCE($17, activity_privacy), \
               updated_at = $18 \
             WHERE user_id = $1 RETURNING {COLUMNS}"
        );
        let name = c.display_name.as_ref().map(|n| n.as_str().to_owned());
        let key = name.as_deref().map(name_key);
        let avatar = patch(&c.avatar_url);
        let bio = patch(&c.bio);
        let birth_year = patch(&c.birth_year);
        let height = patch(&c.height_cm);
        let weight = patch(&c.weight_kg);
        let row: Option<ProfileRow> = in_tx!(&self.db, tx => {
            let out = sqlx::query_as(&sql)
            .bind(user_id)
            .bind(&name)
            .bind(&key)
            .bind(avatar.0)
            .bind(&avatar.1)
            .bind(bio.0)
            .bind(&bio.1)
            .bind(c.units.map(|u| u.as_str()))
            .bind(c.time_zone.as_ref().map(|t| t.as_str()))
            .bind(birth_year.0)
            .bind(birth_year.1)
            .bind(height.0)
            .bind(height.1)
            .bind(weight.0)
            .bind(weight.1)
            .bind(c.profile_visibility.map(|p| p.as_str()))
            .bind(c.activity_privacy.map(|p| p.as_str()))
            .bind(now.timestamp_millis())
            .fetch_optional(&mut *tx)
            .await?;
            if out.is_some() {
                tx.enqueue_all(events).await?;
            }
            out
        });
        convert(row)
    }

    async fn set_roles(
        &self,
        user_id: Id,
        roles: &Roles,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<Option<Profile>> {
        let sql = format!(
            "UPDATE profiles SET roles = $2, updated_at = $3 WHERE user_id = $1 \
             RETURNING {COLUMNS}"
        );
        let stored = roles.to_strings().join(" ");
        let row: Option<ProfileRow> = in_tx!(&self.db, tx => {
            let out = sqlx::query_as(&sql)
            .bind(user_id)
            .bind(&stored)
            .bind(now.timestamp_millis())
            .fetch_optional(&mut *tx)
            .await?;
            if out.is_some() {
                tx.enqueue_all(events).await?;
            }
            out
        });
        convert(row)
    }

    async fn set_status(
        &self,
        user_id: Id,
        status: Status,
        events: &[Event],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let sql = "UPDATE profiles SET status = $2, updated_at = $3 \
                   WHERE user_id = $1 AND status <> $2 RETURNING user_id";
        let changed: Option<Id> = in_tx!(&self.db, tx => {
            let out = sqlx::query_scalar(sql)
            .bind(user_id)
            .bind(status.as_str())
            .bind(now.timestamp_millis())
            .fetch_optional(&mut *tx)
            .await?;
            if out.is_some() {
                tx.enqueue_all(events).await?;
            }
            out
        });
        Ok(changed.is_some())
    }

    async fn search(
        &self,
        prefix: &str,
        after: Option<&Cursor<String>>,
        limit: u32,
    ) -> StoreResult<Vec<Profile>> {
        let end = prefix_end(prefix);
        let limit = i64::from(limit);
        // People search tolerates a moment's lag: the read replica may answer.
        let rows = self
            .reads
            .lagging(|db| {
                let end = &end;
                async move { search_rows(&db, prefix, end, after, limit).await }
            })
            .await?;
        rows.into_iter().map(Profile::try_from).collect()
    }

    async fn delete(&self, user_id: Id, events: &[Event]) -> StoreResult<bool> {
        let sql = "DELETE FROM profiles WHERE user_id = $1 RETURNING user_id";
        let deleted: Option<Id> = in_tx!(&self.db, tx => {
            let out = sqlx::query_scalar(sql)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            if out.is_some() {
                tx.enqueue_all(events).await?;
            }
            out
        });
        Ok(deleted.is_some())
    }
}

/// A page of people search on `db` (the primary or a replica).
async fn search_rows(
    db: &Database,
    prefix: &str,
    end: &str,
    after: Option<&Cursor<String>>,
    limit: i64,
) -> StoreResult<Vec<ProfileRow>> {
    let rows: Vec<ProfileRow> = match after {
        None => {
            let sql = format!(
                "SELECT {COLUMNS} FROM profiles \
                 WHERE status = 'active' AND name_key >= $1 AND name_key < $2 \
                 ORDER BY name_key, user_id LIMIT $3"
            );
            on_pool!(db, pool => sqlx::query_as(&sql)
                .bind(prefix)
                .bind(end)
                .bind(limit)
                .fetch_all(pool)
                .await)?
        }
        Some(after) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM profiles \
                 WHERE status = 'active' AND name_key >= $1 AND name_key < $2 \
                   AND (name_key > $3 OR (name_key = $3 AND user_id > $4)) \
                 ORDER BY name_key, user_id LIMIT $5"
            );
            on_pool!(db, pool => sqlx::query_as(&sql)
                .bind(prefix)
                .bind(end)
                .bind(&after.key)
                .bind(after.id)
                .bind(limit)
                .fetch_all(pool)
                .await)?
        }
    };
    Ok(rows)
}
