//! Storage of the training service: the [`TrainingStore`] trait and its SQL
//! implementation ([`SqlStore`], SQLite and PostgreSQL).
//!
//! Writes that other services must hear about (a workout logged, changed or
//! deleted) take the event to enqueue, and the store writes it into the outbox in
//! the same transaction as the change: the event exists if and only if the change
//! committed. Behaviour is pinned by one conformance suite (`conformance.rs`) run
//! against both backends.

mod conformance;
mod rows;
mod sql;

use async_trait::async_trait;
use vigor_common::bus::Event;
use vigor_common::Id;

use vigor_common::api::Timestamp;

use crate::domain::exercise::Exercise;
use crate::domain::history::{LoggedSet, SessionSummary};
use crate::domain::plan::Plan;
use crate::domain::schedule::Schedule;
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
    /// Continue after this exercise (the order is by name, then id).
    pub after: Option<Id>,
    /// How many at most.
    pub limit: u32,
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

    /// Stores a new workout and enqueues `event`, atomically.
    async fn insert_workout(&self, workout: &Workout, event: &Event) -> StoreResult<()>;

    /// The workout `id`, whoever owns it (access is the caller's decision).
    async fn workout(&self, id: Id) -> StoreResult<Option<Workout>>;

    /// `owner`'s workouts, newest first (by start, then id), after the workout
    /// `after` in that order; at most `limit`.
    async fn workouts_of(
        &self,
        owner: Id,
        after: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Workout>>;

    /// Replaces workout `workout.id` if its stored version is `expected_version`
    /// (the stored version becomes `workout.version`) and enqueues `event`,
    /// atomically; `false` when it changed or vanished meanwhile.
    async fn update_workout(
        &self,
        workout: &Workout,
        expected_version: i64,
        event: &Event,
    ) -> StoreResult<bool>;

    /// Deletes workout `id` and enqueues `event`, atomically; `false` when it is gone.
    async fn delete_workout(&self, id: Id, event: &Event) -> StoreResult<bool>;

    /// Every set `owner` logged with a load and reps, oldest workout first.
    async fn logged_sets(&self, owner: Id) -> StoreResult<Vec<LoggedSet>>;

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

    /// Stores a schedule (its plan must exist).
    async fn insert_schedule(&self, schedule: &Schedule) -> StoreResult<()>;

    /// All of `owner`'s schedules, oldest first.
    async fn schedules_of(&self, owner: Id) -> StoreResult<Vec<Schedule>>;
}
