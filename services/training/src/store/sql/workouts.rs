//! Workouts and their sets, and the personal-record flags every write of a
//! user's workouts rejudges in the same serialised transaction (`in_owner_tx!`),
//! with the event made of them enqueued there too.

use vigor_common::api::{Cursor, Timestamp};
use vigor_common::db::{Database, TxEvents};
use vigor_common::{in_owner_tx, on_pool, Id};

use super::super::rows::{
    self, millis, LoggedSetRow, SessionRow, SetRow, WorkoutRow, SET_COLUMNS, WORKOUT_COLUMNS,
};
use super::super::{EventFor, FlagMap, RecordFlags, Reflagged, StoreError, StoreResult};
use crate::domain::history::{History, LoggedSet, SessionSummary};
use crate::domain::workout::Workout;

const INSERT_WORKOUT: &str = "INSERT INTO workouts (id, owner_id, sport, title, notes, privacy, started_at, \
     ended_at, moving_time_s, distance_m, elevation_gain_m, avg_heart_rate, max_heart_rate, calories, rpe, \
     source, track, version, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";

const UPDATE_WORKOUT: &str = "UPDATE workouts SET owner_id = $2, sport = $3, title = $4, notes = $5, \
     privacy = $6, started_at = $7, ended_at = $8, moving_time_s = $9, distance_m = $10, \
     elevation_gain_m = $11, avg_heart_rate = $12, max_heart_rate = $13, calories = $14, rpe = $15, \
     source = $16, track = $17, version = $18, created_at = $19, updated_at = $20 \
     WHERE id = $1 AND version = $21";

/// Binds a workout's 20 columns, in [`INSERT_WORKOUT`] / [`UPDATE_WORKOUT`] order.
macro_rules! bind_workout {
    ($sql:expr, $w:expr, $track:expr) => {{
        let c = &$w.content;
        sqlx::query($sql)
            .bind($w.id)
            .bind($w.owner_id)
            .bind(c.sport.as_str())
            .bind(&c.title)
            .bind(&c.notes)
            .bind(c.privacy.as_str())
            .bind(millis(c.started_at))
            .bind(millis(c.ended_at))
            .bind(c.moving_time.map(|d| d.as_secs_f64()))
            .bind(c.distance.map(|d| d.get()))
            .bind(c.elevation_gain.map(|d| d.get()))
            .bind(c.avg_heart_rate.map(|h| i64::from(h.get())))
            .bind(c.max_heart_rate.map(|h| i64::from(h.get())))
            .bind(c.calories.map(i64::from))
            .bind(c.rpe.map(|r| r.get()))
            .bind($w.source.as_str())
            .bind($track)
            .bind($w.version)
            .bind(millis($w.created_at))
            .bind(millis($w.updated_at))
    }};
}

fn track_json(w: &Workout) -> StoreResult<Option<String>> {
    w.track
        .as_ref()
        .map(|t| serde_json::to_string(t).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// One row of `workout_sets` to insert.
struct NewSet {
    entry: i64,
    position: i64,
    exercise_id: Id,
    set_type: Option<&'static str>,
    weight_kg: Option<f64>,
    reps: Option<i64>,
    rpe: Option<f64>,
    duration_s: Option<f64>,
    distance_m: Option<f64>,
    done: bool,
}

/// The set rows of a workout; an exercise without sets is one row without a set type.
fn set_rows(w: &Workout) -> Vec<NewSet> {
    let mut out = Vec::new();
    for (entry, e) in w.content.exercises.iter().enumerate() {
        if e.sets.is_empty() {
            out.push(NewSet {
                entry: entry as i64,
                position: 0,
                exercise_id: e.exercise_id,
                set_type: None,
                weight_kg: None,
                reps: None,
                rpe: None,
                duration_s: None,
                distance_m: None,
                done: false,
            });
        }
        for (position, s) in e.sets.iter().enumerate() {
            out.push(NewSet {
                entry: entry as i64,
                position: position as i64,
                exercise_id: e.exercise_id,
                set_type: Some(s.set_type.as_str()),
                weight_kg: s.weight_kg.map(|k| k.get()),
                reps: s.reps.map(|r| i64::from(r.get())),
                rpe: s.rpe.map(|r| r.get()),
                duration_s: s.duration_s,
                distance_m: s.distance_m.map(|d| d.get()),
                done: s.done,
            });
        }
    }
    out
}

/// Rows per multi-row INSERT: 10 columns × 500 stays under SQLite's 32,766 parameters.
const SET_CHUNK: usize = 500;

/// Inserts the set rows of `$w` on transaction `$tx`.
macro_rules! insert_sets {
    ($tx:ident, $w:expr) => {{
        let rows = set_rows($w);
        for chunk in rows.chunks(SET_CHUNK) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO workout_sets (workout_id, entry, position, exercise_id, set_type, weight_kg, \
                 reps, rpe, duration_s, distance_m, done) ",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_bind($w.id)
                    .push_bind(s.entry)
                    .push_bind(s.position)
                    .push_bind(s.exercise_id)
                    .push_bind(s.set_type)
                    .push_bind(s.weight_kg)
                    .push_bind(s.reps)
                    .push_bind(s.rpe)
                    .push_bind(s.duration_s)
                    .push_bind(s.distance_m)
                    .push_bind(s.done);
            });
            q.build().execute(&mut *$tx).await?;
        }
    }};
}

/// The flags as stored: a JSON array.
fn flags_json(flags: &[RecordFlags]) -> StoreResult<Vec<String>> {
    flags
        .iter()
        .map(|f| serde_json::to_string(&f.records).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

/// Replaces the stored flags of each workout of `$flags` (JSON in `$json`) on
/// transaction `$tx`.
macro_rules! write_flags {
    ($tx:ident, $flags:expr, $json:expr) => {{
        for (f, json) in $flags.iter().zip($json.iter()) {
            sqlx::query("DELETE FROM workout_records WHERE workout_id = $1")
                .bind(f.workout_id)
                .execute(&mut *$tx)
                .await?;
            sqlx::query(
                "INSERT INTO workout_records (workout_id, owner_id, records) VALUES ($1, $2, $3)",
            )
            .bind(f.workout_id)
            .bind(f.owner_id)
            .bind(json)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Every set an owner (`$1`) logged with a load and reps, oldest workout first.
const LOGGED_SETS: &str = "SELECT w.id AS workout_id, w.started_at, s.exercise_id, s.set_type, s.weight_kg, s.reps, s.done \
     FROM workout_sets s JOIN workouts w ON w.id = s.workout_id \
     WHERE w.owner_id = $1 AND s.set_type IS NOT NULL AND s.weight_kg IS NOT NULL AND s.reps IS NOT NULL \
     ORDER BY w.started_at, w.id, s.entry, s.position";

/// Summaries of an owner's (`$1`) workouts started in `[$2, $3)`, oldest first;
/// volume as in `strength::volume`: done sets that are not warm-ups.
const SESSIONS: &str =
    "SELECT w.id, w.sport, w.started_at, w.ended_at, w.distance_m, w.moving_time_s, w.rpe, \
     w.avg_heart_rate, w.track, \
     COALESCE((SELECT SUM(s.weight_kg * s.reps) FROM workout_sets s \
         WHERE s.workout_id = w.id AND s.done AND s.set_type <> 'warm_up' \
         AND s.weight_kg IS NOT NULL AND s.reps IS NOT NULL), 0.0) AS volume_kg \
     FROM workouts w WHERE w.owner_id = $1 AND w.started_at >= $2 AND w.started_at < $3 \
     ORDER BY w.started_at, w.id";

/// The stored flags of an owner's (`$1`) workouts.
const FLAGS_OF: &str = "SELECT workout_id, records FROM workout_records WHERE owner_id = $1";

/// The flags after a write of `$owner`'s workout `$written`, judged on
/// transaction `$tx` from the owner's whole history and stored flags as the
/// write left them; a [`Reflagged`].
macro_rules! reflag {
    ($tx:ident, $owner:expr, $written:expr) => {{
        let owner: Id = $owner;
        let sets: Vec<LoggedSetRow> = sqlx::query_as(LOGGED_SETS)
            .bind(owner)
            .fetch_all(&mut *$tx)
            .await?;
        let sessions: Vec<SessionRow> = sqlx::query_as(SESSIONS)
            .bind(owner)
            .bind(millis(Timestamp::MIN_UTC))
            .bind(millis(Timestamp::MAX_UTC))
            .fetch_all(&mut *$tx)
            .await?;
        let stored: Vec<(i64, String)> = sqlx::query_as(FLAGS_OF)
            .bind(owner)
            .fetch_all(&mut *$tx)
            .await?;
        let history = History {
            sets: sets
                .into_iter()
                .map(LoggedSet::try_from)
                .collect::<StoreResult<_>>()?,
            sessions: sessions
                .into_iter()
                .map(SessionSummary::try_from)
                .collect::<StoreResult<_>>()?,
        };
        Reflagged::judge(owner, $written, &history, &flag_map(stored)?)
    }};
}

/// Rejudges `$owner`'s flags after the write of workout `$written` on
/// transaction `$tx`, stores those that changed and enqueues the event
/// `$event` makes of them; the [`Reflagged`].
macro_rules! reflag_and_enqueue {
    ($tx:ident, $owner:expr, $written:expr, $event:expr) => {{
        let reflagged = reflag!($tx, $owner, $written);
        let json = flags_json(&reflagged.changed)?;
        write_flags!($tx, reflagged.changed, json);
        $tx.enqueue(&($event)(&reflagged)).await?;
        reflagged
    }};
}

fn flag_map(rows: Vec<(i64, String)>) -> StoreResult<FlagMap> {
    rows.into_iter()
        .map(|(id, json)| {
            serde_json::from_str(&json)
                .map(|records| (Id::from_i64(id), records))
                .map_err(|e| StoreError::Corrupt(format!("records of workout {id}: {e}")))
        })
        .collect()
}

pub(super) async fn insert_workout(
    db: &Database,
    workout: &Workout,
    event: EventFor<'_>,
) -> StoreResult<Reflagged> {
    let track = track_json(workout)?;
    let reflagged = in_owner_tx!(db, workout.owner_id, tx => {
        bind_workout!(INSERT_WORKOUT, workout, &track).execute(&mut *tx).await?;
        insert_sets!(tx, workout);
        reflag_and_enqueue!(tx, workout.owner_id, workout.id, event)
    });
    Ok(reflagged)
}

pub(super) async fn workout(db: &Database, id: Id) -> StoreResult<Option<Workout>> {
    let workout_sql = format!("SELECT {WORKOUT_COLUMNS} FROM workouts WHERE id = $1");
    let sets_sql = format!(
        "SELECT {SET_COLUMNS} FROM workout_sets WHERE workout_id = $1 ORDER BY entry, position"
    );
    let (row, sets): (Option<WorkoutRow>, Vec<SetRow>) = on_pool!(db, pool => {
        let row = sqlx::query_as(&workout_sql).bind(id).fetch_optional(pool).await?;
        let sets = if row.is_some() {
            sqlx::query_as(&sets_sql).bind(id).fetch_all(pool).await?
        } else {
            Vec::new()
        };
        (row, sets)
    });
    row.map(|r| rows::workout(r, sets)).transpose()
}

pub(super) async fn workouts_of(
    db: &Database,
    owner: Id,
    after: Option<&Cursor<Timestamp>>,
    limit: u32,
) -> StoreResult<Vec<Workout>> {
    let sql = format!(
        "SELECT {WORKOUT_COLUMNS} FROM workouts w WHERE w.owner_id = $1 \
         AND (CAST($2 AS BIGINT) IS NULL OR w.started_at < $2 \
              OR (w.started_at = $2 AND w.id < $3)) \
         ORDER BY w.started_at DESC, w.id DESC LIMIT $4"
    );
    let (rows, sets): (Vec<WorkoutRow>, Vec<SetRow>) = on_pool!(db, pool => {
        let rows: Vec<WorkoutRow> = sqlx::query_as(&sql)
            .bind(owner)
            .bind(after.map(|c| millis(c.key)))
            .bind(after.map(|c| c.id))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
        let mut sets = Vec::new();
        if !rows.is_empty() {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {SET_COLUMNS} FROM workout_sets WHERE workout_id IN ("));
            let mut list = q.separated(", ");
            for r in &rows {
                list.push_bind(r.id());
            }
            q.push(") ORDER BY workout_id, entry, position");
            sets = q.build_query_as().fetch_all(pool).await?;
        }
        (rows, sets)
    });
    let mut by_workout: std::collections::HashMap<i64, Vec<SetRow>> =
        std::collections::HashMap::new();
    for s in sets {
        by_workout.entry(s.workout_id).or_default().push(s);
    }
    rows.into_iter()
        .map(|r| {
            let sets = by_workout.remove(&r.id()).unwrap_or_default();
            rows::workout(r, sets)
        })
        .collect()
}

pub(super) async fn update_workout(
    db: &Database,
    workout: &Workout,
    expected_version: i64,
    event: EventFor<'_>,
) -> StoreResult<Option<Reflagged>> {
    let track = track_json(workout)?;
    let updated = in_owner_tx!(db, workout.owner_id, tx => {
        let done = bind_workout!(UPDATE_WORKOUT, workout, &track)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 1 {
            sqlx::query("DELETE FROM workout_sets WHERE workout_id = $1")
                .bind(workout.id)
                .execute(&mut *tx)
                .await?;
            insert_sets!(tx, workout);
            Some(reflag_and_enqueue!(tx, workout.owner_id, workout.id, event))
        } else {
            None
        }
    });
    Ok(updated)
}

pub(super) async fn delete_workout(
    db: &Database,
    owner: Id,
    id: Id,
    event: EventFor<'_>,
) -> StoreResult<bool> {
    let deleted = in_owner_tx!(db, owner, tx => {
        let done = sqlx::query("DELETE FROM workouts WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done == 1 {
            sqlx::query("DELETE FROM workout_sets WHERE workout_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM workout_records WHERE workout_id = $1").bind(id).execute(&mut *tx).await?;
            reflag_and_enqueue!(tx, owner, id, event);
        }
        done == 1
    });
    Ok(deleted)
}

pub(super) async fn record_flags(db: &Database, ids: &[Id]) -> StoreResult<FlagMap> {
    let mut rows: Vec<(i64, String)> = Vec::new();
    for chunk in ids.chunks(500) {
        on_pool!(db, pool => {
            let mut q = sqlx::QueryBuilder::new("SELECT workout_id, records FROM workout_records WHERE workout_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            let found: Vec<(i64, String)> = q.build_query_as().fetch_all(pool).await?;
            rows.extend(found);
        });
    }
    flag_map(rows)
}

pub(super) async fn record_flags_of(db: &Database, owner: Id) -> StoreResult<FlagMap> {
    let rows: Vec<(i64, String)> = on_pool!(db, pool => {
        sqlx::query_as(FLAGS_OF).bind(owner).fetch_all(pool).await?
    });
    flag_map(rows)
}

pub(super) async fn logged_sets(db: &Database, owner: Id) -> StoreResult<Vec<LoggedSet>> {
    let rows: Vec<LoggedSetRow> = on_pool!(db, pool => {
        sqlx::query_as(LOGGED_SETS).bind(owner).fetch_all(pool).await?
    });
    rows.into_iter().map(LoggedSet::try_from).collect()
}

pub(super) async fn sets_since(
    db: &Database,
    owner: Id,
    since: Timestamp,
) -> StoreResult<Vec<LoggedSet>> {
    let sql = "SELECT w.id AS workout_id, w.started_at, s.exercise_id, s.set_type, s.weight_kg, s.reps, s.done \
         FROM workout_sets s JOIN workouts w ON w.id = s.workout_id \
         WHERE w.owner_id = $1 AND w.started_at >= $2 AND s.set_type IS NOT NULL \
         ORDER BY w.started_at, w.id, s.entry, s.position";
    let rows: Vec<LoggedSetRow> = on_pool!(db, pool => {
        sqlx::query_as(sql).bind(owner).bind(millis(since)).fetch_all(pool).await?
    });
    rows.into_iter().map(LoggedSet::try_from).collect()
}

pub(super) async fn sessions(
    db: &Database,
    owner: Id,
    from: Timestamp,
    to: Timestamp,
) -> StoreResult<Vec<SessionSummary>> {
    let rows: Vec<SessionRow> = on_pool!(db, pool => {
        sqlx::query_as(SESSIONS).bind(owner).bind(millis(from)).bind(millis(to)).fetch_all(pool).await?
    });
    rows.into_iter().map(SessionSummary::try_from).collect()
}
