//! The events the training service emits, through its outbox.
//!
//! | topic | when | data |
//! |---|---|---|
//! | `workout.logged` | a workout was created (logged or imported) | [`WorkoutEvent`] |
//! | `workout.updated` | a workout was changed | [`WorkoutEvent`] |
//! | `workout.deleted` | a workout was deleted | `{"workout_id","user_id","records_moved"}` |
//!
//! A change can move personal records between a user's *other* workouts too: a
//! deleted record holder passes its records to the next best after it, an edit
//! can take a later workout's records away, a back-dated workout can set records
//! that later ones then no longer hold. Each of the three events names those
//! workouts in `records_moved` ([`MovedRecords`]: the workout and the records it
//! holds now, possibly none), in the same transaction as the change, so a
//! consumer that keeps records per workout never goes stale.
//!
//! Consumers (gamification for XP, streaks and records; social for the feed) read
//! the numbers they need from the event and never call back for them; they
//! deduplicate by the event id.
//!
//! Consumed (consumer group [`GROUP`]):
//! - `user.deleted` (from users) — `{"user_id"}`: every piece of the user's
//!   training data is erased ([`crate::TrainingService::erase_user`]): workouts
//!   and their sets and record flags, plans, schedules, custom exercises,
//!   settings, coaching relationships on either side, and the stored answers of
//!   their idempotent requests. Plans a deleted coach assigned stay with their
//!   athletes, no longer marked as assigned. The erasure and the mark that the
//!   event was processed commit together, so a redelivery changes nothing. No
//!   `workout.deleted` events are emitted for it: every service hears
//!   `user.deleted` itself.
//!
//! The consumer subscribes before `build` returns (a group starts with the events
//! published after it exists), then runs as a tracked task until shutdown.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use vigor_common::api::Timestamp;
use vigor_common::bus::{ConsumerOptions, Event, EventBus, Subscription};
use vigor_common::{Id, IdGenerator};

use crate::domain::analysis::records::RecordSet;
use crate::domain::kinds::{Privacy, Sport};
use crate::domain::workout::{Workout, WorkoutSource};
use crate::store::RecordFlags;

/// Topic of a created workout.
pub const WORKOUT_LOGGED: &str = "workout.logged";
/// Topic of a changed workout.
pub const WORKOUT_UPDATED: &str = "workout.updated";
/// Topic of a deleted workout.
pub const WORKOUT_DELETED: &str = "workout.deleted";
/// Topic of an account's deletion (emitted by users).
pub const USER_DELETED: &str = "user.deleted";
/// The consumer group of the training service.
pub const GROUP: &str = "training";

/// The data of `workout.logged` and `workout.updated`.
#[derive(Debug, Clone, Serialize)]
pub struct WorkoutEvent {
    /// The workout.
    pub workout_id: Id,
    /// Its owner.
    pub user_id: Id,
    /// Its sport.
    pub sport: Sport,
    /// Who may see it (social shows only what the owner shares).
    pub privacy: Privacy,
    /// Start.
    pub started_at: Timestamp,
    /// End.
    pub ended_at: Timestamp,
    /// Length in seconds.
    pub duration_s: f64,
    /// Time moving in seconds, when known.
    pub moving_time_s: Option<f64>,
    /// Distance in metres, when known.
    pub distance_m: Option<f64>,
    /// Climb in metres, when known.
    pub elevation_gain_m: Option<f64>,
    /// Volume load in kg (0 without weighted sets).
    pub volume_kg: f64,
    /// Sets done (not counting warm-ups).
    pub working_sets: u32,
    /// Where it came from.
    pub source: WorkoutSource,
    /// The workout's version after the change.
    pub version: i64,
    /// Personal records the workout set (see [`RecordSet`]).
    pub personal_records: Vec<RecordSet>,
    /// Other workouts of the user whose records the change moved.
    pub records_moved: Vec<MovedRecords>,
}

/// The records one of the user's other workouts holds after a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovedRecords {
    /// The workout.
    pub workout_id: Id,
    /// All the personal records it holds now (empty: it lost them all).
    pub personal_records: Vec<RecordSet>,
}

impl MovedRecords {
    /// The flags a change writes, other than those of `changed` itself.
    pub fn others(flags: &[RecordFlags], changed: Id) -> Vec<MovedRecords> {
        flags
            .iter()
            .filter(|f| f.workout_id != changed)
            .map(|f| MovedRecords {
                workout_id: f.workout_id,
                personal_records: f.records.clone(),
            })
            .collect()
    }
}

impl WorkoutEvent {
    /// The event data of `w`, which set `records`; the change moved `moved`.
    pub fn of(w: &Workout, records: &[RecordSet], moved: Vec<MovedRecords>) -> Self {
        let c = &w.content;
        WorkoutEvent {
            workout_id: w.id,
            user_id: w.owner_id,
            sport: c.sport,
            privacy: c.privacy,
            started_at: c.started_at,
            ended_at: c.ended_at,
            duration_s: c.duration().as_secs_f64(),
            moving_time_s: c.moving_time.map(|d| d.as_secs_f64()),
            distance_m: c.distance.map(|d| d.get()),
            elevation_gain_m: c.elevation_gain.map(|d| d.get()),
            volume_kg: c.volume().get(),
            working_sets: c
                .exercises
                .iter()
                .flat_map(|e| &e.sets)
                .filter(|s| s.done && s.set_type != crate::domain::kinds::SetType::WarmUp)
                .count() as u32,
            source: w.source,
            version: w.version,
            personal_records: records.to_vec(),
            records_moved: moved,
        }
    }
}

fn event(ids: &IdGenerator, name: &str, data: serde_json::Value) -> Event {
    Event {
        id: ids.next_id(),
        name: name.to_owned(),
        occurred_at: Utc::now(),
        data,
    }
}

/// `topic` ([`WORKOUT_LOGGED`] or [`WORKOUT_UPDATED`]) for `w`, which now holds
/// `records`; the change writes `flags`.
pub fn written(
    ids: &IdGenerator,
    topic: &str,
    w: &Workout,
    records: &[RecordSet],
    flags: &[RecordFlags],
) -> Event {
    let data = WorkoutEvent::of(w, records, MovedRecords::others(flags, w.id));
    event(ids, topic, to_value(&data))
}

/// `workout.deleted` for `w`; the deletion writes `flags`.
pub fn deleted(ids: &IdGenerator, w: &Workout, flags: &[RecordFlags]) -> Event {
    let moved = serde_json::to_value(MovedRecords::others(flags, w.id))
        .expect("records are plain data and always serialize");
    event(
        ids,
        WORKOUT_DELETED,
        serde_json::json!({"workout_id": w.id, "user_id": w.owner_id, "records_moved": moved}),
    )
}

fn to_value(data: &WorkoutEvent) -> serde_json::Value {
    serde_json::to_value(data).expect("workout events are plain data and always serialize")
}

/// The data of `user.deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    /// The user.
    pub user_id: Id,
}

/// Applies one consumed event; `Err` leaves it unacked, so it comes again.
pub async fn apply(service: &crate::TrainingService, event: &Event) -> anyhow::Result<()> {
    match event.name.as_str() {
        USER_DELETED => {
            let user = match serde_json::from_value::<UserRef>(event.data.clone()) {
                Ok(data) => data.user_id,
                Err(error) => {
                    // Retrying cannot fix it: log and drop.
                    tracing::error!(event = %event.id, topic = %event.name, %error, "malformed event");
                    return Ok(());
                }
            };
            match service.erase_user(event.id, user).await? {
                Some(erased) => tracing::info!(%user, ?erased, "training data erased"),
                None => tracing::debug!(event = %event.id, "user.deleted already applied"),
            }
            Ok(())
        }
        other => {
            tracing::debug!(topic = other, "ignoring an event of another topic");
            Ok(())
        }
    }
}

/// Joins the consumer group; call before serving, so no deletion is missed.
pub async fn subscribe(
    bus: &dyn EventBus,
    consumer: &str,
) -> anyhow::Result<Box<dyn Subscription>> {
    Ok(bus
        .subscribe(&[USER_DELETED], GROUP, consumer, ConsumerOptions::default())
        .await?)
}
