//! Storage of the training service: the [`TrainingStore`] trait and its SQL
//! implementation ([`SqlStore`], SQLite and PostgreSQL).
//!
//! Writes that other services must hear about (a workout logged, changed or
//! deleted) take the event to enqueue, and the store writes it into the outbox in
//! the same transaction as the change: the event exists if and only if the change
//! committed. Behaviour is pinned by one conformance suite (`conformance.rs`) run
//! against both backends.
//!
//! A workout write also moves personal-record flags between the owner's other
//! workouts, and those flags are judged against the owner's whole history. So
//! the store does the judging itself: each write of a user's workouts is one
//! transaction serialised with every other write of that user's workouts, which
//! writes the change, reads the history as it now is, computes the flags
//! ([`Reflagged::judge`], pure), stores those that changed and enqueues the event
//! made from them (the caller's [`EventFor`]). Two writes at the same moment then
//! see each other, and the flags and the events' `records_moved` never go stale.

mod conformance;
mod rows;
mod sql;

use async_trait::async_trait;
use vigor_common::bus::Event;
use vigor_common::Id;

use vigor_common::api::{Cursor, Timestamp};

use crate::domain::analysis::records::RecordSet;
use crate::domain::coaching::CoachLink;
use crate::domain::exercise::Exercise;
use crate::domain::history::{History, LoggedSet, SessionSummary};
use crate::domain::kinds::LinkStatus;
use crate::domain::plan::Plan;
use crate::domain::schedule::Schedule;
use crate::domain::settings::AthleteSettings;
use crate::domain::workout::Workout;

pub use sql::SqlStore;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database error")]
    Backend(#[from] sqlx::Error),
    /// A stored row does not decode into the domain (a bug or a manual edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A search of the exercises a user can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExerciseQuery {
    /// The user searching: sees the catalogue and their own exercises.
    pub viewer: Id,
    /// Words of the name, in order (`bench press` finds "Bench Press Narrow Grip").
    pub text: Option<String>,
    /// A muscle slug, primary or secondary.
    pub muscle: Option<String>,
    /// An equipment slug.
    pub equipment: Option<String>,
    /// Continue after this position (the order is by [`exercise_name_key`], then
    /// id; see [`exercise_position`]).
    pub after: Option<Cursor<String>>,
    /// How many at most.
    pub limit: u32,
}

/// The key exercises are searched and ordered by: the lowercased name.
pub fn exercise_name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Where `e` stands in the order of [`TrainingStore::search_exercises`].
pub fn exercise_position(e: &Exercise) -> Cursor<String> {
    Cursor::new(exercise_name_key(&e.name), e.id)
}

/// Where `w` stands in the order of [`TrainingStore::workouts_of`].
pub fn workout_position(w: &Workout) -> Cursor<Timestamp> {
    Cursor::new(w.content.started_at, w.id)
}

/// The personal records a workout holds, to store.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFlags {
    /// The workout.
    pub workout_id: Id,
    /// Its owner.
    pub owner_id: Id,
    /// The records it set (empty: none).
    pub records: Vec<RecordSet>,
}

/// Stored record flags by workout.
pub type FlagMap = std::collections::HashMap<Id, Vec<RecordSet>>;

/// The record flags of one owner's workouts after a write, judged in the
/// write's transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reflagged {
    /// The records the written workout holds now (none once deleted).
    pub records: Vec<RecordSet>,
    /// The flags that differ from (or were missing in) what was stored: what the
    /// write stores, the written workout's among them when they changed.
    pub changed: Vec<RecordFlags>,
}

impl Reflagged {
    /// The flags of `owner`'s workouts in `history` (their whole history with
    /// the write of workout `written` applied), against the `stored` ones.
    pub fn judge(owner: Id, written: Id, history: &History, stored: &FlagMap) -> Reflagged {
        let mut all = history.flags();
        let changed = all
            .iter()
            .filter(|(id, records)| stored.get(*id) != Some(*records))
            .map(|(id, records)| RecordFlags {
                workout_id: *id,
                owner_id: owner,
                records: records.clone(),
            })
            .collect();
        Reflagged {
            records: all.remove(&written).unwrap_or_default(),
            changed,
        }
    }
}

/// Makes the event a workout write enqueues, from the flags it writes; called
/// inside the write's transaction, at most once.
pub type EventFor<'a> = &'a (dyn Fn(&Reflagged) -> Event + Send + Sync);

/// What erasing a user removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Workouts (with their sets and record flags).
    pub workouts: u64,
    /// Plans.
    pub plans: u64,
    /// Schedules.
    pub schedules: u64,
    /// Custom exercises.
    pub exercises: u64,
}

/// The training service's storage.
#[async_trait]
pub trait TrainingStore: Send + Sync + 'static {
    /// Inserts catalogue exercises whose slug is not stored yet; how many were new.
    async fn seed_catalogue(&self, exercises: &[Exercise]) -> StoreResult<u64>;

    /// Stores a user's custom exercise.
    async fn insert_exercise(&self, exercise: &Exercise) -> StoreResult<()>;

    /// The exercise `id` if `viewer` may see it (catalogue, or their own).
    async fn exercise(&self, id: Id, viewer: Id) -> StoreResult<Option<Exercise>>;

    /// Exercises matching `query`, ordered by name then id.
    async fn search_exercises(&self, query: &ExerciseQuery) -> StoreResult<Vec<Exercise>>;

    /// Which of `ids` exist and are visible to `viewer`.
    async fn visible_exercise_ids(&self, ids: &[Id], viewer: Id) -> StoreResult<Vec<Id>>;

    /// Stores a new workout, rejudges its owner's record flags, stores those
    /// that changed and enqueues `event` made from them, atomically and
    /// serialised with every other write of the owner's workouts; the flags.
    async fn insert_workout(
        &self,
        workout: &Workout,
        event: EventFor<'_>,
    ) -> StoreResult<Reflagged>;

    /// The workout `id`, whoever owns it (access is the caller's decision).
    async fn workout(&self, id: Id) -> StoreResult<Option<Workout>>;

    /// `owner`'s workouts, newest first (by start, then id), after the position
    /// `after` in that order (see [`workout_position`]; the workout it was made
    /// from may have changed or gone since); at most `limit`.
    async fn workouts_of(
        &self,
        owner: Id,
        after: Option<&Cursor<Timestamp>>,
        limit: u32,
    ) -> StoreResult<Vec<Workout>>;

    /// Replaces workout `workout.id` if its stored version is `expected_version`
    /// (the stored version becomes `workout.version`), rejudges its owner's
    /// record flags, stores those that changed and enqueues `event` made from
    /// them, atomically and serialised with every other write of the owner's
    /// workouts; the flags, or `None` (and nothing written) when it changed or
    /// vanished meanwhile.
    async fn update_workout(
        &self,
        workout: &Workout,
        expected_version: i64,
        event: EventFor<'_>,
    ) -> StoreResult<Option<Reflagged>>;

    /// Deletes `owner`'s workout `id` with its flags, rejudges the owner's
    /// other flags (its records pass to the next best after it), stores those
    /// that changed and enqueues `event` made from them, atomically and
    /// serialised with every other write of the owner's workouts; `false` (and
    /// nothing written) when it is gone (or not `owner`'s).
    async fn delete_workout(&self, owner: Id, id: Id, event: EventFor<'_>) -> StoreResult<bool>;

    /// The stored record flags of the workouts `ids` (absent: not stored yet).
    async fn record_flags(&self, ids: &[Id]) -> StoreResult<FlagMap>;

    /// The stored record flags of all of `owner`'s workouts.
    async fn record_flags_of(&self, owner: Id) -> StoreResult<FlagMap>;

    /// Every set `owner` logged with a load and reps, oldest workout first.
    async fn logged_sets(&self, owner: Id) -> StoreResult<Vec<LoggedSet>>;

    /// `owner`'s whole history, as records are judged against it.
    async fn history(&self, owner: Id) -> StoreResult<History> {
        Ok(History {
            sets: self.logged_sets(owner).await?,
            sessions: self
                .sessions(owner, Timestamp::MIN_UTC, Timestamp::MAX_UTC)
                .await?,
        })
    }

    /// Every set of `owner`'s workouts started at or after `since`, with or
    /// without a load (bodyweight reps, timed holds), oldest workout first.
    async fn sets_since(&self, owner: Id, since: Timestamp) -> StoreResult<Vec<LoggedSet>>;

    /// Summaries of `owner`'s workouts started in `[from, to)`, oldest first.
    async fn sessions(
        &self,
        owner: Id,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<SessionSummary>>;

    /// Stores a new plan.
    async fn insert_plan(&self, plan: &Plan) -> StoreResult<()>;

    /// The plan `id`, whoever owns it (access is the caller's decision).
    async fn plan(&self, id: Id) -> StoreResult<Option<Plan>>;

    /// `owner`'s plans after id `after`, oldest first, at most `limit`.
    async fn plans_of(&self, owner: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Plan>>;

    /// Replaces the content of plan `plan.id` (and its `updated_at`); `false` when
    /// it is gone.
    async fn update_plan(&self, plan: &Plan) -> StoreResult<bool>;

    /// Deletes plan `id` and its schedules, atomically; `false` when it is gone.
    /// Workouts are not tied to plans and keep all their data.
    async fn delete_plan(&self, id: Id) -> StoreResult<bool>;

    /// The plans `coach` assigned to `athlete`, oldest first.
    async fn plans_assigned(&self, coach: Id, athlete: Id) -> StoreResult<Vec<Plan>>;

    /// Stores a new coaching relationship; `false` (nothing stored) when the pair
    /// already has an open (pending or accepted) one. Any other conflict (a
    /// taken id) is an error.
    async fn insert_link(&self, link: &CoachLink) -> StoreResult<bool>;

    /// The relationship `id`.
    async fn link(&self, id: Id) -> StoreResult<Option<CoachLink>>;

    /// Every relationship `user` is in, as coach or athlete, newest first.
    async fn links_of(&self, user: Id) -> StoreResult<Vec<CoachLink>>;

    /// Moves relationship `id` from status `from` to `to` at `at`; `false` when
    /// it is not in `from` (any more).
    async fn set_link_status(
        &self,
        id: Id,
        from: LinkStatus,
        to: LinkStatus,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Whether `coach` coaches `athlete` (an accepted relationship).
    async fn coaches(&self, coach: Id, athlete: Id) -> StoreResult<bool>;

    /// Records, as consumer group `group` handling event `event_id`, that
    /// `follower` follows `owner` now (`following`) or no longer does; an event
    /// older than the pair's last one changes nothing. `false` when the event was
    /// processed before.
    async fn set_follow(
        &self,
        group: &str,
        event_id: Id,
        owner: Id,
        follower: Id,
        following: bool,
    ) -> StoreResult<bool>;

    /// Whether `follower` follows `owner`.
    async fn follows(&self, follower: Id, owner: Id) -> StoreResult<bool>;

    /// `user`'s settings (all unset when never saved).
    async fn settings(&self, user: Id) -> StoreResult<AthleteSettings>;

    /// Saves `user`'s settings.
    async fn put_settings(
        &self,
        user: Id,
        settings: &AthleteSettings,
        at: Timestamp,
    ) -> StoreResult<()>;

    /// Stores a schedule (its plan must exist).
    async fn insert_schedule(&self, schedule: &Schedule) -> StoreResult<()>;

    /// All of `owner`'s schedules, oldest first.
    async fn schedules_of(&self, owner: Id) -> StoreResult<Vec<Schedule>>;

    /// `owner`'s custom exercises, oldest first.
    async fn custom_exercises(&self, owner: Id) -> StoreResult<Vec<Exercise>>;

    /// Erases every piece of `user`'s training data and records that consumer
    /// group `group` processed event `event_id`, atomically; `None` (and nothing
    /// erased) when that event was processed before.
    async fn erase_user(&self, group: &str, event_id: Id, user: Id) -> StoreResult<Option<Erased>>;
}
