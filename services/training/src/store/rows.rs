//! Rows as both backends return them, and their conversion to the domain.
//!
//! Columns use only types SQLite and PostgreSQL share through sqlx (`i64`, `f64`,
//! `bool`, text); enums are their string spellings, times Unix milliseconds, and
//! lists of slugs `,a,b,` strings. A row that does not decode is
//! [`StoreError::Corrupt`], never a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigor_common::api::Timestamp;
use vigor_common::Id;

use super::StoreError;
use crate::domain::coaching::CoachLink;
use crate::domain::exercise::{Exercise, ExerciseSource};
use crate::domain::history::{LoggedSet, SessionSummary};
use crate::domain::plan::{Plan, PlanContent};
use crate::domain::schedule::{parse_weekday, Schedule};
use crate::domain::units::{Bpm, Kilograms, Meters, Reps, Rpe};
use crate::domain::workout::{
    TrackAnalysis, Workout, WorkoutContent, WorkoutExercise, WorkoutSet, WorkoutSource,
};

/// A timestamp as stored.
pub fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A stored timestamp.
pub fn instant(ms: i64) -> Result<Timestamp, StoreError> {
    DateTime::<Utc>::from_timestamp_millis(ms).ok_or_else(|| corrupt(format!("timestamp {ms}")))
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Slugs as stored: `,a,b,` (so `LIKE '%,a,%'` matches exactly one).
pub fn join(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!(",{},", items.join(","))
}

fn split(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, StoreError> {
    s.parse().map_err(|_| corrupt(format!("{what} `{s}`")))
}

/// The exercise columns, in [`ExerciseRow`] order.
pub const EXERCISE_COLUMNS: &str =
    "id, owner_id, slug, name, description, category, primary_muscles, \
     secondary_muscles, equipment, mechanics, unilateral, measurement, source, created_at";

/// A row of `exercises`.
#[derive(Debug, sqlx::FromRow)]
pub struct ExerciseRow {
    id: i64,
    owner_id: Option<i64>,
    slug: Option<String>,
    name: String,
    description: String,
    category: String,
    primary_muscles: String,
    secondary_muscles: String,
    equipment: String,
    mechanics: String,
    unilateral: bool,
    measurement: String,
    source: Option<String>,
    created_at: i64,
}

impl TryFrom<ExerciseRow> for Exercise {
    type Error = StoreError;

    fn try_from(r: ExerciseRow) -> Result<Self, StoreError> {
        let source = match r.source {
            None => None,
            Some(json) => Some(
                serde_json::from_str::<ExerciseSource>(&json)
                    .map_err(|e| corrupt(format!("exercise {} source: {e}", r.id)))?,
            ),
        };
        Ok(Exercise {
            id: Id::from_i64(r.id),
            owner_id: r.owner_id.map(Id::from_i64),
            slug: r.slug,
            name: r.name,
            description: r.description,
            category: parse("category", &r.category)?,
            primary_muscles: split(&r.primary_muscles),
            secondary_muscles: split(&r.secondary_muscles),
            equipment: split(&r.equipment),
            mechanics: parse("mechanics", &r.mechanics)?,
            unilateral: r.unilateral,
            measurement: parse("measurement", &r.measurement)?,
            source,
            created_at: instant(r.created_at)?,
        })
    }
}

/// The workout columns, in [`WorkoutRow`] order.
pub const WORKOUT_COLUMNS: &str =
    "id, owner_id, sport, title, notes, privacy, started_at, ended_at, \
     moving_time_s, distance_m, elevation_gain_m, avg_heart_rate, max_heart_rate, calories, rpe, \
     source, track, version, created_at, updated_at";

/// A row of `workouts`.
#[derive(Debug, sqlx::FromRow)]
pub struct WorkoutRow {
    id: i64,
    owner_id: i64,
    sport: String,
    title: String,
    notes: String,
    privacy: String,
    started_at: i64,
    ended_at: i64,
    moving_time_s: Option<f64>,
    distance_m: Option<f64>,
    elevation_gain_m: Option<f64>,
    avg_heart_rate: Option<i64>,
    max_heart_rate: Option<i64>,
    calories: Option<i64>,
    rpe: Option<f64>,
    source: String,
    track: Option<String>,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

/// The set columns, in [`SetRow`] order.
pub const SET_COLUMNS: &str =
    "workout_id, entry, exercise_id, set_type, weight_kg, reps, rpe, duration_s, distance_m, done";

/// A row of `workout_sets`.
#[derive(Debug, sqlx::FromRow)]
pub struct SetRow {
    /// The workout.
    pub workout_id: i64,
    /// Index of the exercise in the workout.
    pub entry: i64,
    /// The exercise.
    pub exercise_id: i64,
    /// `NULL` for an exercise logged without sets.
    pub set_type: Option<String>,
    /// kg.
    pub weight_kg: Option<f64>,
    /// Reps.
    pub reps: Option<i64>,
    /// RPE.
    pub rpe: Option<f64>,
    /// Seconds.
    pub duration_s: Option<f64>,
    /// Metres.
    pub distance_m: Option<f64>,
    /// Done.
    pub done: bool,
}

/// A stored count that must fit `u16` and pass `f`.
fn count<T, E>(
    what: &str,
    v: Option<i64>,
    f: impl Fn(u16) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    v.map(|n| {
        u16::try_from(n)
            .ok()
            .and_then(|n| f(n).ok())
            .ok_or_else(|| corrupt(format!("{what} {n}")))
    })
    .transpose()
}

fn bpm(what: &str, v: Option<i64>) -> Result<Option<Bpm>, StoreError> {
    count(what, v, Bpm::new)
}

fn unit<T, E>(
    what: &str,
    v: Option<f64>,
    f: impl Fn(f64) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    v.map(|x| f(x).map_err(|_| corrupt(format!("{what} {x}"))))
        .transpose()
}

fn reps(v: Option<i64>) -> Result<Option<Reps>, StoreError> {
    count("reps", v, Reps::new)
}

fn seconds(what: &str, v: Option<f64>) -> Result<Option<Duration>, StoreError> {
    unit(what, v, Duration::try_from_secs_f64)
}

impl WorkoutRow {
    /// The workout's id.
    pub fn id(&self) -> i64 {
        self.id
    }
}

/// Assembles a workout from its row and its set rows (ordered by entry, position).
pub fn workout(row: WorkoutRow, sets: Vec<SetRow>) -> Result<Workout, StoreError> {
    let mut exercises: Vec<WorkoutExercise> = Vec::new();
    let mut last_entry = None;
    for s in sets {
        if last_entry != Some(s.entry) {
            exercises.push(WorkoutExercise {
                exercise_id: Id::from_i64(s.exercise_id),
                sets: Vec::new(),
            });
            last_entry = Some(s.entry);
        }
        let Some(set_type) = s.set_type else { continue };
        let set = WorkoutSet {
            set_type: parse("set type", &set_type)?,
            weight_kg: unit("weight", s.weight_kg, Kilograms::new)?,
            reps: reps(s.reps)?,
            rpe: unit("rpe", s.rpe, Rpe::new)?,
            duration_s: s.duration_s,
            distance_m: unit("distance", s.distance_m, Meters::new)?,
            done: s.done,
        };
        if let Some(e) = exercises.last_mut() {
            e.sets.push(set);
        }
    }
    let track = match &row.track {
        None => None,
        Some(json) => Some(
            serde_json::from_str::<TrackAnalysis>(json)
                .map_err(|e| corrupt(format!("workout {} track: {e}", row.id)))?,
        ),
    };
    let calories = row
        .calories
        .map(|c| u32::try_from(c).map_err(|_| corrupt(format!("calories {c}"))))
        .transpose()?;
    Ok(Workout {
        id: Id::from_i64(row.id),
        owner_id: Id::from_i64(row.owner_id),
        content: WorkoutContent {
            sport: parse("sport", &row.sport)?,
            title: row.title,
            notes: row.notes,
            privacy: parse("privacy", &row.privacy)?,
            started_at: instant(row.started_at)?,
            ended_at: instant(row.ended_at)?,
            moving_time: seconds("moving time", row.moving_time_s)?,
            distance: unit("distance", row.distance_m, Meters::new)?,
            elevation_gain: unit("elevation gain", row.elevation_gain_m, Meters::new)?,
            avg_heart_rate: bpm("avg heart rate", row.avg_heart_rate)?,
            max_heart_rate: bpm("max heart rate", row.max_heart_rate)?,
            calories,
            rpe: unit("rpe", row.rpe, Rpe::new)?,
            exercises,
        },
        source: WorkoutSource::parse(&row.source)
            .ok_or_else(|| corrupt(format!("source {}", row.source)))?,
        track,
        version: row.version,
        created_at: instant(row.created_at)?,
        updated_at: instant(row.updated_at)?,
    })
}

/// A row of the logged-sets query.
#[derive(Debug, sqlx::FromRow)]
pub struct LoggedSetRow {
    workout_id: i64,
    started_at: i64,
    exercise_id: i64,
    set_type: String,
    weight_kg: Option<f64>,
    reps: Option<i64>,
    done: bool,
}

impl TryFrom<LoggedSetRow> for LoggedSet {
    type Error = StoreError;

    fn try_from(r: LoggedSetRow) -> Result<Self, StoreError> {
        Ok(LoggedSet {
            workout_id: Id::from_i64(r.workout_id),
            performed_at: instant(r.started_at)?,
            exercise_id: Id::from_i64(r.exercise_id),
            set_type: parse("set type", &r.set_type)?,
            weight: unit("weight", r.weight_kg, Kilograms::new)?,
            reps: reps(r.reps)?,
            done: r.done,
        })
    }
}

/// A row of the sessions query.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    id: i64,
    sport: String,
    started_at: i64,
    ended_at: i64,
    distance_m: Option<f64>,
    moving_time_s: Option<f64>,
    rpe: Option<f64>,
    avg_heart_rate: Option<i64>,
    track: Option<String>,
    volume_kg: f64,
}

impl TryFrom<SessionRow> for SessionSummary {
    type Error = StoreError;

    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        let best_efforts = match &r.track {
            None => Vec::new(),
            Some(json) => {
                serde_json::from_str::<TrackAnalysis>(json)
                    .map_err(|e| corrupt(format!("workout {} track: {e}", r.id)))?
                    .best_efforts
            }
        };
        Ok(SessionSummary {
            workout_id: Id::from_i64(r.id),
            sport: parse("sport", &r.sport)?,
            started_at: instant(r.started_at)?,
            ended_at: instant(r.ended_at)?,
            distance: unit("distance", r.distance_m, Meters::new)?,
            moving_time_s: r.moving_time_s,
            rpe: unit("rpe", r.rpe, Rpe::new)?,
            avg_heart_rate: bpm("avg heart rate", r.avg_heart_rate)?,
            volume_kg: r.volume_kg,
            best_efforts,
        })
    }
}

/// A row of `plans`.
#[derive(Debug, sqlx::FromRow)]
pub struct PlanRow {
    id: i64,
    owner_id: i64,
    assigned_by: Option<i64>,
    content: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<PlanRow> for Plan {
    type Error = StoreError;

    fn try_from(r: PlanRow) -> Result<Self, StoreError> {
        Ok(Plan {
            id: Id::from_i64(r.id),
            owner_id: Id::from_i64(r.owner_id),
            assigned_by: r.assigned_by.map(Id::from_i64),
            content: serde_json::from_str::<PlanContent>(&r.content)
                .map_err(|e| corrupt(format!("plan {}: {e}", r.id)))?,
            created_at: instant(r.created_at)?,
            updated_at: instant(r.updated_at)?,
        })
    }
}

/// A row of `coach_links`.
#[derive(Debug, sqlx::FromRow)]
pub struct LinkRow {
    id: i64,
    coach_id: i64,
    athlete_id: i64,
    status: String,
    created_at: i64,
    updated_at: i64,
}

/// The coach_links columns, in [`LinkRow`] order.
pub const LINK_COLUMNS: &str = "id, coach_id, athlete_id, status, created_at, updated_at";

impl TryFrom<LinkRow> for CoachLink {
    type Error = StoreError;

    fn try_from(r: LinkRow) -> Result<Self, StoreError> {
        Ok(CoachLink {
            id: Id::from_i64(r.id),
            coach_id: Id::from_i64(r.coach_id),
            athlete_id: Id::from_i64(r.athlete_id),
            status: parse("coaching status", &r.status)?,
            created_at: instant(r.created_at)?,
            updated_at: instant(r.updated_at)?,
        })
    }
}

/// A row of `schedules`.
#[derive(Debug, sqlx::FromRow)]
pub struct ScheduleRow {
    id: i64,
    owner_id: i64,
    plan_id: i64,
    start_date: String,
    weekdays: String,
    time_zone: String,
    created_at: i64,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = StoreError;

    fn try_from(r: ScheduleRow) -> Result<Self, StoreError> {
        let weekdays = split(&r.weekdays)
            .iter()
            .map(|d| parse_weekday(d).ok_or_else(|| corrupt(format!("weekday `{d}`"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule {
            id: Id::from_i64(r.id),
            owner_id: Id::from_i64(r.owner_id),
            plan_id: Id::from_i64(r.plan_id),
            start_date: parse("start date", &r.start_date)?,
            weekdays,
            time_zone: parse("time zone", &r.time_zone)?,
            created_at: instant(r.created_at)?,
        })
    }
}
