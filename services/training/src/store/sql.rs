//! [`TrainingStore`] on SQL: SQLite (all-in-one) and PostgreSQL (distributed).
//!
//! Statements are written once with `$n` parameters, which both sqlx drivers
//! accept, and run on whichever pool the [`Database`] holds: the macros below
//! expand the same code once per backend. Only the outbox call differs
//! (`enqueue_sqlite` / `enqueue_postgres`), and how a write of one user's
//! workouts is serialised ([`in_owner_tx!`]): PostgreSQL takes a transaction
//! advisory lock keyed by the owner's id, SQLite opens the transaction with
//! `BEGIN IMMEDIATE` (one writer at a time; the others wait out the busy
//! timeout instead of failing on a stale read snapshot).

use async_trait::async_trait;
use vigor_common::api::Cursor;
use vigor_common::bus::outbox;
use vigor_common::db::{Database, UniqueKey};
use vigor_common::Id;

use super::rows::{
    self, join, millis, ExerciseRow, LinkRow, LoggedSetRow, PlanRow, ScheduleRow, SessionRow,
    SetRow, WorkoutRow, EXERCISE_COLUMNS, LINK_COLUMNS, SET_COLUMNS, WORKOUT_COLUMNS,
};
use super::{
    exercise_name_key, Erased, EventFor, ExerciseQuery, FlagMap, RecordFlags, Reflagged,
    StoreError, StoreResult, TrainingStore,
};
use crate::domain::coaching::CoachLink;
use crate::domain::exercise::Exercise;
use crate::domain::history::{History, LoggedSet, SessionSummary};
use crate::domain::kinds::LinkStatus;
use crate::domain::plan::Plan;
use crate::domain::schedule::{weekday_name, Schedule};
use crate::domain::settings::AthleteSettings;
use crate::domain::units::Bpm;
use crate::domain::workout::Workout;
use vigor_common::api::Timestamp;

/// Runs `$body` with `$pool` bound to the pool of either backend.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body`, a write of `$owner`'s workouts, in a transaction `$tx` of
/// either backend, with `$enqueue` the backend's outbox function; commits when
/// `$body` completes (an early `return` or `?` drops the transaction, which
/// rolls it back). The transaction is serialised with every other write of
/// that owner's workouts (on SQLite, with every write), so what it reads of
/// them stays true until it commits.
macro_rules! in_owner_tx {
    ($db:expr, $owner:expr, $tx:ident, $enqueue:ident => $body:expr) => {
        match $db {
            Database::Sqlite(pool) => {
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let $enqueue = outbox::enqueue_sqlite;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Database::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                // Keyed by the user id itself: a collision with another lock of
                // this database could only make a write wait, never go wrong.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind($owner)
                    .execute(&mut *$tx)
                    .await?;
                let $enqueue = outbox::enqueue_postgres;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Like [`in_owner_tx!`] without the owner's lock, with `$mark` the backend's
/// `mark_processed` (the consumer's deduplication in the same transaction).
macro_rules! in_tx_processed {
    ($db:expr, $tx:ident, $mark:ident => $body:expr) => {
        match $db {
            Database::Sqlite(pool) => {
                let mut $tx = pool.begin().await?;
                let $mark = outbox::mark_processed_sqlite;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Database::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let $mark = outbox::mark_processed_postgres;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// At most one open (pending or accepted) relationship per pair (`1004_coaching.sql`).
const COACH_LINKS_OPEN: UniqueKey = UniqueKey {
    name: "coach_links_open",
    table: "coach_links",
    columns: &["coach_id", "athlete_id"],
};

/// The SQL store of the training service.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
}

impl SqlStore {
    /// A store on a migrated database.
    pub fn new(db: Database) -> Self {
        SqlStore { db }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

const INSERT_EXERCISE: &str = "INSERT INTO exercises (id, owner_id, slug, name, name_search, description, \
     category, primary_muscles, secondary_muscles, equipment, mechanics, unilateral, measurement, source, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// Binds an exercise to [`INSERT_EXERCISE`].
macro_rules! bind_exercise {
    ($sql:expr, $e:expr, $source:expr) => {
        sqlx::query($sql)
            .bind($e.id)
            .bind($e.owner_id)
            .bind(&$e.slug)
            .bind(&$e.name)
            .bind(exercise_name_key(&$e.name))
            .bind(&$e.description)
            .bind($e.category.as_str())
            .bind(join(&$e.primary_muscles))
            .bind(join(&$e.secondary_muscles))
            .bind(join(&$e.equipment))
            .bind($e.mechanics.as_str())
            .bind($e.unilateral)
            .bind($e.measurement.as_str())
            .bind($source)
            .bind(millis($e.created_at))
    };
}

fn source_json(e: &Exercise) -> StoreResult<Option<String>> {
    e.source
        .as_ref()
        .map(|s| serde_json::to_string(s).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// `text` as a LIKE pattern: lower-cased, wildcards escaped, words joined by `%`.
fn like_words(text: &str) -> String {
    let escaped: Vec<String> = text
        .to_lowercase()
        .split_whitespace()
        .map(|w| {
            w.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        })
        .collect();
    format!("%{}%", escaped.join("%"))
}

fn like_slug(slug: &str) -> String {
    format!("%,{slug},%")
}

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

/// Runs the statements erasing `$user` on transaction `$tx`; the [`Erased`] counts.
macro_rules! erase_statements {
    ($tx:ident, $user:expr) => {{
        let user: Id = $user;
        let run = |sql: &'static str| sqlx::query(sql).bind(user);
        run("DELETE FROM workout_sets WHERE workout_id IN (SELECT id FROM workouts WHERE owner_id = $1)")
            .execute(&mut *$tx)
            .await?;
        run("DELETE FROM workout_records WHERE owner_id = $1").execute(&mut *$tx).await?;
        let workouts = run("DELETE FROM workouts WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        let schedules = run("DELETE FROM schedules WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        let plans = run("DELETE FROM plans WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        let exercises = run("DELETE FROM exercises WHERE owner_id = $1").execute(&mut *$tx).await?.rows_affected();
        run("DELETE FROM coach_links WHERE coach_id = $1 OR athlete_id = $1").execute(&mut *$tx).await?;
        run("DELETE FROM athlete_settings WHERE user_id = $1").execute(&mut *$tx).await?;
        // Plans they assigned as a coach stay with their athletes, unattributed.
        run("UPDATE plans SET assigned_by = NULL WHERE assigned_by = $1").execute(&mut *$tx).await?;
        // Stored answers of their idempotent requests hold their data too.
        sqlx::query("DELETE FROM idempotency_keys WHERE scope LIKE $1")
            .bind(format!("{user}:%"))
            .execute(&mut *$tx)
            .await?;
        Erased { workouts, plans, schedules, exercises }
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
/// `$event` makes of them with `$enqueue`; the [`Reflagged`].
macro_rules! reflag_and_enqueue {
    ($tx:ident, $enqueue:ident, $owner:expr, $written:expr, $event:expr) => {{
        let reflagged = reflag!($tx, $owner, $written);
        let json = flags_json(&reflagged.changed)?;
        write_flags!($tx, reflagged.changed, json);
        $enqueue(&mut $tx, &($event)(&reflagged)).await?;
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

#[async_trait]
impl TrainingStore for SqlStore {
    async fn seed_catalogue(&self, exercises: &[Exercise]) -> StoreResult<u64> {
        let sql = format!("{INSERT_EXERCISE} ON CONFLICT (slug) DO NOTHING");
        let mut inserted = 0;
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            for e in exercises {
                let source = source_json(e)?;
                inserted += bind_exercise!(&sql, e, source).execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
        });
        Ok(inserted)
    }

    async fn insert_exercise(&self, exercise: &Exercise) -> StoreResult<()> {
        let source = source_json(exercise)?;
        on_pool!(&self.db, pool => {
            bind_exercise!(INSERT_EXERCISE, exercise, source).execute(pool).await?;
        });
        Ok(())
    }

    async fn exercise(&self, id: Id, viewer: Id) -> StoreResult<Option<Exercise>> {
        let sql = format!(
            "SELECT {EXERCISE_COLUMNS} FROM exercises WHERE id = $1 AND (owner_id IS NULL OR owner_id = $2)"
        );
        let row: Option<ExerciseRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).bind(viewer).fetch_optional(pool).await?
        });
        row.map(Exercise::try_from).transpose()
    }

    async fn search_exercises(&self, query: &ExerciseQuery) -> StoreResult<Vec<Exercise>> {
        let sql = format!(
            "SELECT {EXERCISE_COLUMNS} FROM exercises e \
             WHERE (e.owner_id IS NULL OR e.owner_id = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR e.name_search LIKE $2 ESCAPE '\\') \
             AND (CAST($3 AS TEXT) IS NULL OR e.primary_muscles LIKE $3 OR e.secondary_muscles LIKE $3) \
             AND (CAST($4 AS TEXT) IS NULL OR e.equipment LIKE $4) \
             AND (CAST($5 AS TEXT) IS NULL OR e.name_search > $5 \
                  OR (e.name_search = $5 AND e.id > $6)) \
             ORDER BY e.name_search, e.id LIMIT $7"
        );
        let text = query
            .text
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .map(like_words);
        let muscle = query.muscle.as_deref().map(like_slug);
        let equipment = query.equipment.as_deref().map(like_slug);
        let rows: Vec<ExerciseRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql)
                .bind(query.viewer)
                .bind(&text)
                .bind(&muscle)
                .bind(&equipment)
                .bind(query.after.as_ref().map(|c| &c.key))
                .bind(query.after.as_ref().map(|c| c.id))
                .bind(i64::from(query.limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Exercise::try_from).collect()
    }

    async fn visible_exercise_ids(&self, ids: &[Id], viewer: Id) -> StoreResult<Vec<Id>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            on_pool!(&self.db, pool => {
                let mut q = sqlx::QueryBuilder::new("SELECT id FROM exercises WHERE (owner_id IS NULL OR owner_id = ");
                q.push_bind(viewer).push(") AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                let found: Vec<Id> = q.build_query_scalar().fetch_all(pool).await?;
                out.extend(found);
            });
        }
        out.sort();
        Ok(out)
    }

    async fn insert_workout(
        &self,
        workout: &Workout,
        event: EventFor<'_>,
    ) -> StoreResult<Reflagged> {
        let track = track_json(workout)?;
        let reflagged = in_owner_tx!(&self.db, workout.owner_id, tx, enqueue => {
            bind_workout!(INSERT_WORKOUT, workout, &track).execute(&mut *tx).await?;
            insert_sets!(tx, workout);
            reflag_and_enqueue!(tx, enqueue, workout.owner_id, workout.id, event)
        });
        Ok(reflagged)
    }

    async fn workout(&self, id: Id) -> StoreResult<Option<Workout>> {
        let workout_sql = format!("SELECT {WORKOUT_COLUMNS} FROM workouts WHERE id = $1");
        let sets_sql = format!(
            "SELECT {SET_COLUMNS} FROM workout_sets WHERE workout_id = $1 ORDER BY entry, position"
        );
        let (row, sets): (Option<WorkoutRow>, Vec<SetRow>) = on_pool!(&self.db, pool => {
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

    async fn workouts_of(
        &self,
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
        let (rows, sets): (Vec<WorkoutRow>, Vec<SetRow>) = on_pool!(&self.db, pool => {
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

    async fn update_workout(
        &self,
        workout: &Workout,
        expected_version: i64,
        event: EventFor<'_>,
    ) -> StoreResult<Option<Reflagged>> {
        let track = track_json(workout)?;
        let updated = in_owner_tx!(&self.db, workout.owner_id, tx, enqueue => {
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
                Some(reflag_and_enqueue!(tx, enqueue, workout.owner_id, workout.id, event))
            } else {
                None
            }
        });
        Ok(updated)
    }

    async fn delete_workout(&self, owner: Id, id: Id, event: EventFor<'_>) -> StoreResult<bool> {
        let deleted = in_owner_tx!(&self.db, owner, tx, enqueue => {
            let done = sqlx::query("DELETE FROM workouts WHERE id = $1 AND owner_id = $2")
                .bind(id)
                .bind(owner)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done == 1 {
                sqlx::query("DELETE FROM workout_sets WHERE workout_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM workout_records WHERE workout_id = $1").bind(id).execute(&mut *tx).await?;
                reflag_and_enqueue!(tx, enqueue, owner, id, event);
            }
            done == 1
        });
        Ok(deleted)
    }

    async fn record_flags(&self, ids: &[Id]) -> StoreResult<FlagMap> {
        let mut rows: Vec<(i64, String)> = Vec::new();
        for chunk in ids.chunks(500) {
            on_pool!(&self.db, pool => {
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

    async fn record_flags_of(&self, owner: Id) -> StoreResult<FlagMap> {
        let rows: Vec<(i64, String)> = on_pool!(&self.db, pool => {
            sqlx::query_as(FLAGS_OF).bind(owner).fetch_all(pool).await?
        });
        flag_map(rows)
    }

    async fn logged_sets(&self, owner: Id) -> StoreResult<Vec<LoggedSet>> {
        let rows: Vec<LoggedSetRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(LOGGED_SETS).bind(owner).fetch_all(pool).await?
        });
        rows.into_iter().map(LoggedSet::try_from).collect()
    }

    async fn sets_since(&self, owner: Id, since: Timestamp) -> StoreResult<Vec<LoggedSet>> {
        let sql = "SELECT w.id AS workout_id, w.started_at, s.exercise_id, s.set_type, s.weight_kg, s.reps, s.done \
             FROM workout_sets s JOIN workouts w ON w.id = s.workout_id \
             WHERE w.owner_id = $1 AND w.started_at >= $2 AND s.set_type IS NOT NULL \
             ORDER BY w.started_at, w.id, s.entry, s.position";
        let rows: Vec<LoggedSetRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(owner).bind(millis(since)).fetch_all(pool).await?
        });
        rows.into_iter().map(LoggedSet::try_from).collect()
    }

    async fn sessions(
        &self,
        owner: Id,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<SessionSummary>> {
        let rows: Vec<SessionRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(SESSIONS).bind(owner).bind(millis(from)).bind(millis(to)).fetch_all(pool).await?
        });
        rows.into_iter().map(SessionSummary::try_from).collect()
    }

    async fn insert_plan(&self, plan: &Plan) -> StoreResult<()> {
        let content =
            serde_json::to_string(&plan.content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql =
            "INSERT INTO plans (id, owner_id, name, content, created_at, updated_at, assigned_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_pool!(&self.db, pool => {
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

    async fn plans_assigned(&self, coach: Id, athlete: Id) -> StoreResult<Vec<Plan>> {
        let sql = "SELECT id, owner_id, assigned_by, content, created_at, updated_at FROM plans \
             WHERE assigned_by = $1 AND owner_id = $2 ORDER BY id";
        let rows: Vec<PlanRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(coach).bind(athlete).fetch_all(pool).await?
        });
        rows.into_iter().map(Plan::try_from).collect()
    }

    async fn insert_link(&self, link: &CoachLink) -> StoreResult<bool> {
        let sql =
            format!("INSERT INTO coach_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let result = on_pool!(&self.db, pool => {
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

    async fn link(&self, id: Id) -> StoreResult<Option<CoachLink>> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM coach_links WHERE id = $1");
        let row: Option<LinkRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        row.map(CoachLink::try_from).transpose()
    }

    async fn links_of(&self, user: Id) -> StoreResult<Vec<CoachLink>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM coach_links WHERE coach_id = $1 OR athlete_id = $1 ORDER BY id DESC"
        );
        let rows: Vec<LinkRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(user).fetch_all(pool).await?
        });
        rows.into_iter().map(CoachLink::try_from).collect()
    }

    async fn set_link_status(
        &self,
        id: Id,
        from: LinkStatus,
        to: LinkStatus,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let sql =
            "UPDATE coach_links SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2";
        let done = on_pool!(&self.db, pool => {
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

    async fn coaches(&self, coach: Id, athlete: Id) -> StoreResult<bool> {
        let sql = "SELECT COUNT(*) FROM coach_links WHERE coach_id = $1 AND athlete_id = $2 AND status = 'accepted'";
        let n: i64 = on_pool!(&self.db, pool => {
            sqlx::query_scalar(sql).bind(coach).bind(athlete).fetch_one(pool).await?
        });
        Ok(n > 0)
    }

    async fn plan(&self, id: Id) -> StoreResult<Option<Plan>> {
        let sql = "SELECT id, owner_id, assigned_by, content, created_at, updated_at FROM plans WHERE id = $1";
        let row: Option<PlanRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(id).fetch_optional(pool).await?
        });
        row.map(Plan::try_from).transpose()
    }

    async fn plans_of(&self, owner: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Plan>> {
        let sql = "SELECT id, owner_id, assigned_by, content, created_at, updated_at FROM plans \
             WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3";
        let rows: Vec<PlanRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql)
                .bind(owner)
                .bind(after.map_or(0, Id::as_i64))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Plan::try_from).collect()
    }

    async fn update_plan(&self, plan: &Plan) -> StoreResult<bool> {
        let content =
            serde_json::to_string(&plan.content).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sql = "UPDATE plans SET name = $2, content = $3, updated_at = $4 WHERE id = $1";
        let done = on_pool!(&self.db, pool => {
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

    async fn delete_plan(&self, id: Id) -> StoreResult<bool> {
        let done = on_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM schedules WHERE plan_id = $1").bind(id).execute(&mut *tx).await?;
            let done = sqlx::query("DELETE FROM plans WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
            tx.commit().await?;
            done
        });
        Ok(done == 1)
    }

    async fn settings(&self, user: Id) -> StoreResult<AthleteSettings> {
        let sql = "SELECT max_hr, resting_hr FROM athlete_settings WHERE user_id = $1";
        let row: Option<(Option<i64>, Option<i64>)> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(user).fetch_optional(pool).await?
        });
        let bpm = |what: &str, v: Option<i64>| -> StoreResult<Option<Bpm>> {
            v.map(|n| {
                u16::try_from(n)
                    .ok()
                    .and_then(|n| Bpm::new(n).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("{what} {n} of user {user}")))
            })
            .transpose()
        };
        let (max, resting) = row.unwrap_or((None, None));
        Ok(AthleteSettings {
            max_hr: bpm("max_hr", max)?,
            resting_hr: bpm("resting_hr", resting)?,
        })
    }

    async fn put_settings(
        &self,
        user: Id,
        settings: &AthleteSettings,
        at: Timestamp,
    ) -> StoreResult<()> {
        let sql = "INSERT INTO athlete_settings (user_id, max_hr, resting_hr, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET max_hr = excluded.max_hr, resting_hr = excluded.resting_hr, \
             updated_at = excluded.updated_at";
        let hr = |b: Option<Bpm>| b.map(|b| i64::from(b.get()));
        on_pool!(&self.db, pool => {
            sqlx::query(sql)
                .bind(user)
                .bind(hr(settings.max_hr))
                .bind(hr(settings.resting_hr))
                .bind(millis(at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn insert_schedule(&self, schedule: &Schedule) -> StoreResult<()> {
        let sql = "INSERT INTO schedules (id, owner_id, plan_id, start_date, weekdays, time_zone, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)";
        let weekdays: Vec<String> = schedule
            .weekdays
            .iter()
            .map(|d| weekday_name(*d).to_owned())
            .collect();
        on_pool!(&self.db, pool => {
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

    async fn schedules_of(&self, owner: Id) -> StoreResult<Vec<Schedule>> {
        let sql = "SELECT id, owner_id, plan_id, start_date, weekdays, time_zone, created_at \
             FROM schedules WHERE owner_id = $1 ORDER BY id";
        let rows: Vec<ScheduleRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql).bind(owner).fetch_all(pool).await?
        });
        rows.into_iter().map(Schedule::try_from).collect()
    }

    async fn custom_exercises(&self, owner: Id) -> StoreResult<Vec<Exercise>> {
        let sql =
            format!("SELECT {EXERCISE_COLUMNS} FROM exercises WHERE owner_id = $1 ORDER BY id");
        let rows: Vec<ExerciseRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&sql).bind(owner).fetch_all(pool).await?
        });
        rows.into_iter().map(Exercise::try_from).collect()
    }

    async fn erase_user(&self, group: &str, event_id: Id, user: Id) -> StoreResult<Option<Erased>> {
        let erased = in_tx_processed!(&self.db, tx, mark => {
            if mark(&mut tx, group, event_id).await? {
                Some(erase_statements!(tx, user))
            } else {
                None
            }
        });
        Ok(erased)
    }
}
