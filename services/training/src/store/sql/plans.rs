//! Training plans (a user's own and those a coach assigned) and the schedules
//! that put a plan on weekdays.

use vigor_common::db::Database;
use vigor_common::{in_tx, on_pool, Id};

use super::super::rows::{join, millis, PlanRow, ScheduleRow};
use super::super::{StoreError, StoreResult};
use crate::domain::plan::Plan;
use crate::domain::schedule::{weekday_name, Schedule};

pub(super) async fn insert_plan(db: &Database, plan: &Plan) -> StoreResult<()> {
    let content =
        serde_json::to_string(&plan.content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sql =
        "INSERT INTO plans (id, owner_id, name, content, created_at, updated_at, assigned_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)";
    on_pool!(db, pool => {
        sqlx::query(sql)
            .bind(plan.id)
            .bind(plan.owner_id)
            .bind(&plan.content.name)
            .bind(&content)
            .bind(millis(plan.created_at))
            .bind(millis(plan.updated_at))
            .bind(plan.assigned_by)
            .execute(pool)
            .await?;
    });
    Ok(())
}

pub(super) async fn plans_assigned(
    db: &Database,
    coach: Id,
    athlete: Id,
) -> StoreResult<Vec<Plan>> {
    let sql = "SELECT id, owner_id, assigned_by, content, created_at, updated_at FROM plans \
         WHERE assigned_by = $1 AND owner_id = $2 ORDER BY id";
    let rows: Vec<PlanRow> = on_pool!(db, pool => {
        sqlx::query_as(sql).bind(coach).bind(athlete).fetch_all(pool).await?
    });
    rows.into_iter().map(Plan::try_from).collect()
}

pub(super) async fn plan(db: &Database, id: Id) -> StoreResult<Option<Plan>> {
    let sql = "SELECT id, owner_id, assigned_by, content, created_at, updated_at FROM plans WHERE id = $1";
    let row: Option<PlanRow> = on_pool!(db, pool => {
        sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
    });
    row.map(Plan::try_from).transpose()
}

pub(super) async fn plans_of(
    db: &Database,
    owner: Id,
    after: Option<Id>,
    limit: u32,
) -> StoreResult<Vec<Plan>> {
    let sql = "SELECT id, owner_id, assigned_by, content, created_at, updated_at FROM plans \
         WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3";
    let rows: Vec<PlanRow> = on_pool!(db, pool => {
        sqlx::query_as(sql)
            .bind(owner)
            .bind(after.map_or(0, Id::as_i64))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
    });
    rows.into_iter().map(Plan::try_from).collect()
}

pub(super) async fn update_plan(db: &Database, plan: &Plan) -> StoreResult<bool> {
    let content =
        serde_json::to_string(&plan.content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sql = "UPDATE plans SET name = $2, content = $3, updated_at = $4 WHERE id = $1";
    let done = on_pool!(db, pool => {
        sqlx::query(sql)
            .bind(plan.id)
            .bind(&plan.content.name)
            .bind(&content)
            .bind(millis(plan.updated_at))
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(done == 1)
}

pub(super) async fn delete_plan(db: &Database, id: Id) -> StoreResult<bool> {
    let done = in_tx!(db, tx => {
        sqlx::query("DELETE FROM schedules WHERE plan_id = $1").bind(id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM plans WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected()
    });
    Ok(done == 1)
}

pub(super) async fn insert_schedule(db: &Database, schedule: &Schedule) -> StoreResult<()> {
    let sql = "INSERT INTO schedules (id, owner_id, plan_id, start_date, weekdays, time_zone, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let weekdays: Vec<String> = schedule
        .weekdays
        .iter()
        .map(|d| weekday_name(*d).to_owned())
        .collect();
    on_pool!(db, pool => {
        sqlx::query(sql)
            .bind(schedule.id)
            .bind(schedule.owner_id)
            .bind(schedule.plan_id)
            .bind(schedule.start_date.to_string())
            .bind(join(&weekdays))
            .bind(schedule.time_zone.name())
            .bind(millis(schedule.created_at))
            .execute(pool)
            .await?;
    });
    Ok(())
}

pub(super) async fn schedules_of(db: &Database, owner: Id) -> StoreResult<Vec<Schedule>> {
    let sql = "SELECT id, owner_id, plan_id, start_date, weekdays, time_zone, created_at \
         FROM schedules WHERE owner_id = $1 ORDER BY id";
    let rows: Vec<ScheduleRow> = on_pool!(db, pool => {
        sqlx::query_as(sql).bind(owner).fetch_all(pool).await?
    });
    rows.into_iter().map(Schedule::try_from).collect()
}
