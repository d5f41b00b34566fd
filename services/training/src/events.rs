//! The events the training service emits, through its outbox. Topics and
//! payloads are the shared contracts of [`vigor_common::events`].
//!
//! | topic | when | data |
//! |---|---|---|
//! | `workout.logged` | a workout was created (logged or imported) | [`WorkoutWritten`] |
//! | `workout.updated` | a workout was changed | [`WorkoutWritten`] |
//! | `workout.deleted` | a workout was deleted | [`WorkoutDeleted`] |
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
//! Consumed (consumer group [`GROUP`], [`handlers`]):
//! - `user.deleted` (from users): every piece of the user's
//!   training data is erased ([`crate::TrainingService::erase_user`]): workouts
//!   and their sets and record flags, plans, schedules, custom exercises,
//!   settings, coaching relationships on either side, and the stored answers of
//!   their idempotent requests. Plans a deleted coach assigned stay with their
//!   athletes, no longer marked as assigned. The erasure and the mark that the
//!   event was processed commit together, so a redelivery changes nothing. No
//!   `workout.deleted` events are emitted for it: every service hears
//!   `user.deleted` itself.
//!
//! - `social.follow_started` / `social.follow_ended` (from social): who follows
//!   whom, for the `followers` privacy of workouts; the newest event of a pair
//!   wins, whatever order they arrive in, and each is applied once.
//!
//! `build` joins the group before serving (a group starts with the events
//! published after it exists); the loop runs as a tracked task until shutdown.

use vigor_common::bus::{Event, Handlers};
use vigor_common::events::{
    FollowChanged, MovedRecords, Topic, UserRef, WorkoutDeleted, WorkoutWritten, FOLLOW_ENDED,
    FOLLOW_STARTED, USER_DELETED, WORKOUT_DELETED,
};
use vigor_common::{Id, IdGenerator};

use crate::domain::analysis::records::RecordSet;
use crate::domain::kinds::SetType;
use crate::domain::workout::Workout;
use crate::store::RecordFlags;

pub use vigor_common::events::{WORKOUT_LOGGED, WORKOUT_UPDATED};

/// The consumer group of the training service.
pub const GROUP: &str = "training";

/// The flags a change writes, other than those of `changed` itself.
pub fn moved_records(flags: &[RecordFlags], changed: Id) -> Vec<MovedRecords> {
    flags
        .iter()
        .filter(|f| f.workout_id != changed)
        .map(|f| MovedRecords {
            workout_id: f.workout_id,
            personal_records: f.records.clone(),
        })
        .collect()
}

/// The event data of `w`, which holds `records`; the change moved `moved`.
pub fn workout_written(
    w: &Workout,
    records: &[RecordSet],
    moved: Vec<MovedRecords>,
) -> WorkoutWritten {
    let c = &w.content;
    WorkoutWritten {
        workout_id: w.id,
        user_id: w.owner_id,
        sport: c.sport.as_str().to_owned(),
        privacy: c.privacy.as_str().to_owned(),
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
            .filter(|s| s.done && s.set_type != SetType::WarmUp)
            .count() as u32,
        source: w.source.as_str().to_owned(),
        version: w.version,
        personal_records: records.to_vec(),
        records_moved: moved,
    }
}

/// `topic` ([`WORKOUT_LOGGED`] or [`WORKOUT_UPDATED`]) for `w`, which now holds
/// `records`; the change writes `flags`.
pub fn written(
    ids: &IdGenerator,
    topic: Topic<WorkoutWritten>,
    w: &Workout,
    records: &[RecordSet],
    flags: &[RecordFlags],
) -> Event {
    topic.event(
        ids,
        &workout_written(w, records, moved_records(flags, w.id)),
    )
}

/// `workout.deleted` for `w`; the deletion writes `flags`.
pub fn deleted(ids: &IdGenerator, w: &Workout, flags: &[RecordFlags]) -> Event {
    let data = WorkoutDeleted {
        workout_id: w.id,
        user_id: w.owner_id,
        records_moved: moved_records(flags, w.id),
    };
    WORKOUT_DELETED.event(ids, &data)
}

/// The handlers of the events the service consumes.
pub fn handlers(service: crate::TrainingService) -> Handlers {
    let erasing = service.clone();
    let starting = service.clone();
    Handlers::new()
        .on(USER_DELETED, move |event, UserRef { user_id: user }| {
            let service = erasing.clone();
            async move {
                match service.erase_user(event, user).await? {
                    Some(erased) => tracing::info!(%user, ?erased, "training data erased"),
                    None => tracing::debug!(%event, "user.deleted already applied"),
                }
                Ok(())
            }
        })
        .on(FOLLOW_STARTED, move |event, change: FollowChanged| {
            let service = starting.clone();
            async move {
                service.set_follow(event, change, true).await?;
                Ok(())
            }
        })
        .on(FOLLOW_ENDED, move |event, change: FollowChanged| {
            let service = service.clone();
            async move {
                service.set_follow(event, change, false).await?;
                Ok(())
            }
        })
}

#[cfg(test)]
mod tests {
    use crate::domain::kinds::{Privacy, Sport};
    use crate::domain::workout::WorkoutSource;

    /// The contract carries sports, privacy and sources as names: they must be
    /// the names the API and the database use.
    #[test]
    fn the_contract_spells_kinds_as_the_api_does() {
        for sport in Sport::ALL {
            assert_eq!(serde_json::to_value(sport).unwrap(), sport.as_str());
        }
        for privacy in Privacy::ALL {
            assert_eq!(serde_json::to_value(privacy).unwrap(), privacy.as_str());
        }
        for source in [
            WorkoutSource::Manual,
            WorkoutSource::Gpx,
            WorkoutSource::Fit,
        ] {
            assert_eq!(serde_json::to_value(source).unwrap(), source.as_str());
        }
    }
}
