//! Coach–athlete links: at most one open link per pair, enforced by the
//! `coach_links_open` unique index and read back as `false`, not an error.

use vigor_common::api::Timestamp;
use vigor_common::db::{Database, UniqueKey};
use vigor_common::{on_pool, Id};

use super::super::rows::{millis, LinkRow, LINK_COLUMNS};
use super::super::StoreResult;
use crate::domain::coaching::CoachLink;
use crate::domain::kinds::LinkStatus;

/// At most one open (pending or accepted) relationship per pair (`1004_coaching.sql`).
const COACH_LINKS_OPEN: UniqueKey = UniqueKey {
    name: "coach_links_open",
    table: "coach_links",
    columns: &["coach_id", "athlete_id"],
};

pub(super) async fn insert_link(db: &Database, link: &CoachLink) -> StoreResult<bool> {
    let sql = format!("INSERT INTO coach_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
    let result = on_pool!(db, pool => {
        sqlx::query(&sql)
            .bind(link.id)
            .bind(link.coach_id)
            .bind(link.athlete_id)
            .bind(link.status.as_str())
            .bind(millis(link.created_at))
            .bind(millis(link.updated_at))
            .execute(pool)
            .await
            .map(|_| ())
    });
    match result {
        Ok(()) => Ok(true),
        Err(e) if COACH_LINKS_OPEN.violated_by(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn link(db: &Database, id: Id) -> StoreResult<Option<CoachLink>> {
    let sql = format!("SELECT {LINK_COLUMNS} FROM coach_links WHERE id = $1");
    let row: Option<LinkRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    row.map(CoachLink::try_from).transpose()
}

pub(super) async fn links_of(db: &Database, user: Id) -> StoreResult<Vec<CoachLink>> {
    let sql = format!(
        "SELECT {LINK_COLUMNS} FROM coach_links WHERE coach_id = $1 OR athlete_id = $1 ORDER BY id DESC"
    );
    let rows: Vec<LinkRow> = on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(user).fetch_all(pool).await?
    });
    rows.into_iter().map(CoachLink::try_from).collect()
}

pub(super) async fn set_link_status(
    db: &Database,
    id: Id,
    from: LinkStatus,
    to: LinkStatus,
    at: Timestamp,
) -> StoreResult<bool> {
    let sql = "UPDATE coach_links SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2";
    let done = on_pool!(db, pool => {
        sqlx::query(sql)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(millis(at))
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

pub(super) async fn coaches(db: &Database, coach: Id, athlete: Id) -> StoreResult<bool> {
    let sql = "SELECT COUNT(*) FROM coach_links WHERE coach_id = $1 AND athlete_id = $2 AND status = 'accepted'";
    let n: i64 = on_pool!(db, pool => {
        sqlx::query_scalar(sql).bind(coach).bind(athlete).fetch_one(pool).await?
    });
    Ok(n > 0)
}
