//! [`TrainingStore`] on SQL: SQLite (all-in-one) and PostgreSQL (distributed),
//! one module per aggregate: [`exercises`], [`workouts`] (with their record
//! flags), [`plans`] (with schedules), [`coaching`], [`followers`], [`settings`]
//! and [`erase`].
//!
//! Statements are written once with `$n` parameters, which both sqlx drivers
//! accept, and run on whichever pool the [`Database`] holds through the seam of
//! [`vigor_common::db`] (`on_pool!`, `in_tx!`, `in_owner_tx!`). A write of one
//! user's workouts, and the erasure of a user, is serialised with every other
//! such write of that user (`in_owner_tx!`: a PostgreSQL advisory lock keyed by
//! the user's id, `BEGIN IMMEDIATE` on SQLite), so what it reads of them stays
//! true until it commits.
//!
//! The reads that tolerate lag — statistics, records and recommendations
//! (`logged_sets`, `sets_since`, `sessions`), the schedule's done sessions and
//! exercise search — go through [`Reads::lagging`]: to the read replica when one
//! is configured and up (`training.database_read_url`). Everything else, and
//! [`TrainingStore::history`] (the record flags a write recomputes right after
//! it), reads the primary.

mod coaching;
mod erase;
mod exercises;
mod followers;
mod plans;
mod settings;
mod workouts;

use async_trait::async_trait;
use vigor_common::api::{Cursor, Timestamp};
use vigor_common::db::Database;
use vigor_common::db_replica::Reads;
use vigor_common::Id;

use super::{Erased, EventFor, ExerciseQuery, FlagMap, Reflagged, StoreResult, TrainingStore};
use crate::domain::coaching::CoachLink;
use crate::domain::exercise::Exercise;
use crate::domain::history::{History, LoggedSet, SessionSummary};
use crate::domain::kinds::LinkStatus;
use crate::domain::plan::Plan;
use crate::domain::schedule::Schedule;
use crate::domain::settings::AthleteSettings;
use crate::domain::workout::Workout;

/// The SQL store of the training service.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
    reads: Reads,
}

impl SqlStore {
    /// A store on a migrated database (with its read replica, when `db` is a
    /// [`Reads`] that has one).
    pub fn new(db: impl Into<Reads>) -> Self {
        let reads = db.into();
        SqlStore {
            db: reads.primary().clone(),
            reads,
        }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.db
    }
}

#[async_trait]
impl TrainingStore for SqlStore {
    async fn seed_catalogue(&self, exercises: &[Exercise]) -> StoreResult<u64> {
        exercises::seed_catalogue(&self.db, exercises).await
    }

    async fn insert_exercise(&self, exercise: &Exercise) -> StoreResult<()> {
        exercises::insert_exercise(&self.db, exercise).await
    }

    async fn exercise(&self, id: Id, viewer: Id) -> StoreResult<Option<Exercise>> {
        exercises::exercise(&self.db, id, viewer).await
    }

    async fn search_exercises(&self, query: &ExerciseQuery) -> StoreResult<Vec<Exercise>> {
        self.reads
            .lagging(|db| async move { exercises::search_exercises(&db, query).await })
            .await
    }

    async fn visible_exercise_ids(&self, ids: &[Id], viewer: Id) -> StoreResult<Vec<Id>> {
        exercises::visible_exercise_ids(&self.db, ids, viewer).await
    }

    async fn insert_workout(
        &self,
        workout: &Workout,
        event: EventFor<'_>,
    ) -> StoreResult<Reflagged> {
        workouts::insert_workout(&self.db, workout, event).await
    }

    async fn workout(&self, id: Id) -> StoreResult<Option<Workout>> {
        workouts::workout(&self.db, id).await
    }

    async fn workouts_of(
        &self,
        owner: Id,
        after: Option<&Cursor<Timestamp>>,
        limit: u32,
    ) -> StoreResult<Vec<Workout>> {
        workouts::workouts_of(&self.db, owner, after, limit).await
    }

    async fn update_workout(
        &self,
        workout: &Workout,
        expected_version: i64,
        event: EventFor<'_>,
    ) -> StoreResult<Option<Reflagged>> {
        workouts::update_workout(&self.db, workout, expected_version, event).await
    }

    async fn delete_workout(&self, owner: Id, id: Id, event: EventFor<'_>) -> StoreResult<bool> {
        workouts::delete_workout(&self.db, owner, id, event).await
    }

    async fn record_flags(&self, ids: &[Id]) -> StoreResult<FlagMap> {
        workouts::record_flags(&self.db, ids).await
    }

    async fn record_flags_of(&self, owner: Id) -> StoreResult<FlagMap> {
        workouts::record_flags_of(&self.db, owner).await
    }

    async fn logged_sets(&self, owner: Id) -> StoreResult<Vec<LoggedSet>> {
        self.reads
            .lagging(|db| async move { workouts::logged_sets(&db, owner).await })
            .await
    }

    async fn history(&self, owner: Id) -> StoreResult<History> {
        // Flags are recomputed from it right after a write: the primary.
        Ok(History {
            sets: workouts::logged_sets(&self.db, owner).await?,
            sessions: workouts::sessions(&self.db, owner, Timestamp::MIN_UTC, Timestamp::MAX_UTC)
                .await?,
        })
    }

    async fn sets_since(&self, owner: Id, since: Timestamp) -> StoreResult<Vec<LoggedSet>> {
        self.reads
            .lagging(|db| async move { workouts::sets_since(&db, owner, since).await })
            .await
    }

    async fn sessions(
        &self,
        owner: Id,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<Vec<SessionSummary>> {
        self.reads
            .lagging(|db| async move { workouts::sessions(&db, owner, from, to).await })
            .await
    }

    async fn insert_plan(&self, plan: &Plan) -> StoreResult<()> {
        plans::insert_plan(&self.db, plan).await
    }

    async fn plans_assigned(&self, coach: Id, athlete: Id) -> StoreResult<Vec<Plan>> {
        plans::plans_assigned(&self.db, coach, athlete).await
    }

    async fn insert_link(&self, link: &CoachLink) -> StoreResult<bool> {
        coaching::insert_link(&self.db, link).await
    }

    async fn link(&self, id: Id) -> StoreResult<Option<CoachLink>> {
        coaching::link(&self.db, id).await
    }

    async fn links_of(&self, user: Id) -> StoreResult<Vec<CoachLink>> {
        coaching::links_of(&self.db, user).await
    }

    async fn set_link_status(
        &self,
        id: Id,
        from: LinkStatus,
        to: LinkStatus,
        at: Timestamp,
    ) -> StoreResult<bool> {
        coaching::set_link_status(&self.db, id, from, to, at).await
    }

    async fn coaches(&self, coach: Id, athlete: Id) -> StoreResult<bool> {
        coaching::coaches(&self.db, coach, athlete).await
    }

    async fn set_follow(
        &self,
        group: &str,
        event_id: Id,
        owner: Id,
        follower: Id,
        following: bool,
    ) -> StoreResult<bool> {
        followers::set_follow(&self.db, group, event_id, owner, follower, following).await
    }

    async fn follows(&self, follower: Id, owner: Id) -> StoreResult<bool> {
        followers::follows(&self.db, follower, owner).await
    }

    async fn plan(&self, id: Id) -> StoreResult<Option<Plan>> {
        plans::plan(&self.db, id).await
    }

    async fn plans_of(&self, owner: Id, after: Option<Id>, limit: u32) -> StoreResult<Vec<Plan>> {
        plans::plans_of(&self.db, owner, after, limit).await
    }

    async fn update_plan(&self, plan: &Plan) -> StoreResult<bool> {
        plans::update_plan(&self.db, plan).await
    }

    async fn delete_plan(&self, id: Id) -> StoreResult<bool> {
        plans::delete_plan(&self.db, id).await
    }

    async fn settings(&self, user: Id) -> StoreResult<AthleteSettings> {
        settings::settings(&self.db, user).await
    }

    async fn put_settings(
        &self,
        user: Id,
        settings: &AthleteSettings,
        at: Timestamp,
    ) -> StoreResult<()> {
        settings::put_settings(&self.db, user, settings, at).await
    }

    async fn insert_schedule(&self, schedule: &Schedule) -> StoreResult<()> {
        plans::insert_schedule(&self.db, schedule).await
    }

    async fn schedules_of(&self, owner: Id) -> StoreResult<Vec<Schedule>> {
        plans::schedules_of(&self.db, owner).await
    }

    async fn custom_exercises(&self, owner: Id) -> StoreResult<Vec<Exercise>> {
        exercises::custom_exercises(&self.db, owner).await
    }

    async fn erase_user(&self, group: &str, event_id: Id, user: Id) -> StoreResult<Option<Erased>> {
        erase::erase_user(&self.db, group, event_id, user).await
    }
}
