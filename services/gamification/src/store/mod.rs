//! Storage of the gamification service: the [`GamificationStore`] trait and its
//! SQL implementation ([`SqlStore`], SQLite and PostgreSQL), pinned by one
//! conformance suite (`conformance.rs`) run on both.
//!
//! Every change of a user's game ([`GamificationStore::apply`]) is one
//! transaction serialised with every other change of that user
//! (`in_owner_tx!`): it marks the causing event processed, writes the change
//! (a workout's contribution, a social counter, settings, a challenge joined),
//! reads the user's whole game as it now is ([`Snapshot`]), lets the caller
//! decide what follows ([`Plan`], pure: XP, level, unlocks, completions,
//! scores) and writes that, with the outbox events, in the same transaction.
//! Two events of one user at the same moment therefore see each other, and the
//! unique key of `unlocks` (user, achievement, tier) makes an unlock exactly
//! once even if two processes decided it: only the insert that lands writes the
//! ledger row and the event.
//!
//! A revocation (a deleted or edited workout took an achievement's condition
//! away) deletes the unlock row the same way, only the delete that lands
//! writing the compensating ledger row (the points taken back, the history
//! kept) and the event; earning it again inserts the row again, once.
//!
//! The score log (`scores`) is written in the same transaction: it is the truth
//! the leaderboard store is rebuilt from ([`GamificationStore::score_instances`],
//! [`GamificationStore::scores_of`]).

#[cfg(test)]
mod conformance;
mod sql;

use async_trait::async_trait;
use vigor_common::api::Timestamp;
use vigor_common::bus::Event;
use vigor_common::Id;

use crate::domain::challenge::Challenge;
use crate::domain::{Contribution, SocialCounts};

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

/// A user's saved settings (`None`: unset, the defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedSettings {
    /// IANA time zone name.
    pub time_zone: Option<String>,
    /// Rest days a daily streak survives.
    pub rest_days: Option<u32>,
}

/// An earned achievement tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlock {
    /// The achievement's key.
    pub achievement: String,
    /// The tier.
    pub tier: u32,
    /// Points granted.
    pub points: i64,
    /// When.
    pub unlocked_at: Timestamp,
}

/// A user's part in a challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participation {
    /// The challenge.
    pub challenge: Challenge,
    /// When the user joined.
    pub joined_at: Timestamp,
    /// Progress as last computed.
    pub progress: i64,
    /// When the goal was reached.
    pub completed_at: Option<Timestamp>,
}

/// A user's whole game, as one transaction sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The user.
    pub user_id: Id,
    /// Settings.
    pub settings: SavedSettings,
    /// XP as last stored.
    pub xp: i64,
    /// Level as last stored.
    pub level: u32,
    /// The highest level ever reached (level-ups are announced once per level).
    pub best_level: u32,
    /// Social counters.
    pub social: SocialCounts,
    /// Every workout's contribution, oldest first.
    pub contributions: Vec<Contribution>,
    /// Every unlock.
    pub unlocks: Vec<Unlock>,
    /// Every challenge joined.
    pub challenges: Vec<Participation>,
}

impl Snapshot {
    /// The game of `user` who never played.
    pub fn empty(user: Id) -> Snapshot {
        Snapshot {
            user_id: user,
            settings: SavedSettings::default(),
            xp: 0,
            level: 1,
            best_level: 1,
            social: SocialCounts::default(),
            contributions: Vec::new(),
            unlocks: Vec::new(),
            challenges: Vec::new(),
        }
    }
}

/// One social act that counts for the user (`user.deleted` aside, social's
/// events only ever add).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialAct {
    /// Received kudos.
    KudosReceived,
    /// Gave kudos.
    KudosGiven,
    /// Wrote a comment.
    Commented,
    /// Joined community `.0`.
    Joined(Id),
    /// Is no longer a member of community `.0`.
    Left(Id),
}

/// What [`GamificationStore::apply`] changes before it decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A workout was logged or changed (`Some`) or deleted (its id); other
    /// workouts of the user now hold `records` personal records.
    Workout {
        /// The workout's new contribution.
        upsert: Option<Contribution>,
        /// The deleted workout.
        remove: Option<Id>,
        /// Other workouts whose records moved: (workout, records held now).
        records_moved: Vec<(Id, i64)>,
    },
    /// A social act.
    Social(SocialAct),
    /// New settings.
    Settings(SavedSettings),
    /// Joined the challenge.
    Join(Id),
    /// Nothing changes: the rules are judged again and every board entry
    /// the workouts make is written again (backfill).
    Judge,
}

/// One leaderboard instance (board, scope, period) with what remakes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScoreKey {
    /// The board id.
    pub board: String,
    /// The scope (`global`, `challenge:7`).
    pub scope: String,
    /// The period label.
    pub period: String,
    /// The window name.
    pub window: String,
    /// An instant inside the period.
    pub period_at: Timestamp,
}

/// One entry of the score log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRow {
    /// Whose.
    pub user_id: Id,
    /// The score.
    pub score: i64,
    /// When it was reached.
    pub achieved_at: Timestamp,
}

/// A changed entry of the score log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreWritten {
    /// The instance.
    pub key: ScoreKey,
    /// The score before (`None`: no entry).
    pub old: Option<i64>,
    /// The score now (`None`: the entry went).
    pub new: Option<i64>,
    /// When.
    pub at: Timestamp,
}

/// An unlock to write, with what it grants and announces.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedUnlock {
    /// The unlock.
    pub unlock: Unlock,
    /// Its ledger row's id.
    pub ledger_id: Id,
    /// The badge it grants.
    pub badge: Option<String>,
    /// The `gamification.achievement_unlocked` event.
    pub event: Event,
}

/// A revocation to write: an earned tier whose condition a workout change
/// took away.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRevocation {
    /// The achievement's key.
    pub achievement: String,
    /// The tier lost.
    pub tier: u32,
    /// The points it granted, taken back.
    pub points: i64,
    /// The compensating ledger row's id.
    pub ledger_id: Id,
    /// When.
    pub at: Timestamp,
    /// The `gamification.achievement_revoked` event.
    pub event: Event,
}

/// A challenge completion to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedCompletion {
    /// The challenge.
    pub challenge_id: Id,
    /// Its reward points.
    pub points: i64,
    /// Its ledger row's id.
    pub ledger_id: Id,
    /// When.
    pub at: Timestamp,
    /// The `gamification.challenge_completed` event.
    pub event: Event,
}

/// What follows from a change, decided from the [`Snapshot`] after it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// XP now.
    pub xp: i64,
    /// Level now.
    pub level: u32,
    /// Highest level ever now.
    pub best_level: u32,
    /// New unlocks.
    pub unlocks: Vec<PlannedUnlock>,
    /// Unlocks taken back.
    pub revocations: Vec<PlannedRevocation>,
    /// Challenge progress now, per challenge joined.
    pub progress: Vec<(Id, i64)>,
    /// New completions.
    pub completions: Vec<PlannedCompletion>,
    /// Score log entries as they are now (written when they differ; `None`:
    /// the user has no entry there, and one left over is deleted).
    pub scores: Vec<(ScoreKey, Option<i64>)>,
    /// Other events to enqueue (`gamification.level_up`).
    pub events: Vec<Event>,
    /// When.
    pub at: Timestamp,
}

/// What an applied change wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Applied {
    /// The unlock events that were written (each exactly once).
    pub unlocked: Vec<Event>,
    /// The revocation events that were written (each once per unlock taken back).
    pub revoked: Vec<Event>,
    /// The completion events written.
    pub completed: Vec<Event>,
    /// The other events written.
    pub events: Vec<Event>,
    /// The score log entries that changed.
    pub scores: Vec<ScoreWritten>,
}

/// Decides the [`Plan`] from the snapshot after a change and, for a workout
/// change, the user's contributions before it; called once, inside the
/// transaction.
pub type Decide<'a> = &'a (dyn Fn(&Snapshot, Option<&[Contribution]>) -> Plan + Send + Sync);

/// A reward in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    /// Its id.
    pub id: Id,
    /// `achievement`, `challenge`, or `revocation` (an achievement's points
    /// taken back, negative).
    pub kind: String,
    /// What earned it: `first_workout:1` (achievement and tier) or the challenge id.
    pub source: String,
    /// Points.
    pub points: i64,
    /// The badge, if any.
    pub badge: Option<String>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// What erasing a user removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Score log entries.
    pub scores: u64,
    /// Workout contributions.
    pub contributions: u64,
    /// Unlocks.
    pub unlocks: u64,
    /// Ledger rows.
    pub ledger: u64,
}

/// The gamification service's storage.
#[async_trait]
pub trait GamificationStore: Send + Sync + 'static {
    /// Applies `change` to `user`'s game and what `decide` makes of it, in one
    /// transaction serialised per user; with `processed` (consumer group, event
    /// id), marks that event processed in it too and answers `None` (nothing
    /// written) when it was processed before.
    async fn apply(
        &self,
        user: Id,
        processed: Option<(&str, Id)>,
        change: &Change,
        decide: Decide<'_>,
    ) -> StoreResult<Option<Applied>>;

    /// `user`'s game (defaults when they never played).
    async fn snapshot(&self, user: Id) -> StoreResult<Snapshot>;

    /// `user`'s ledger, newest first, before id `before`, at most `limit`.
    async fn ledger(
        &self,
        user: Id,
        before: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>>;

    /// Every user with a game, for the backfill.
    async fn players(&self) -> StoreResult<Vec<Id>>;

    /// Stores a new challenge.
    async fn insert_challenge(&self, challenge: &Challenge) -> StoreResult<()>;

    /// The challenge `id`.
    async fn challenge(&self, id: Id) -> StoreResult<Option<Challenge>>;

    /// Challenges that have not ended at `now`, global or of `communities`,
    /// newest first, before id `before`, at most `limit`.
    async fn open_challenges(
        &self,
        now: Timestamp,
        communities: &[Id],
        before: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Challenge>>;

    /// The communities `user` joined (as social announced).
    async fn communities_of(&self, user: Id) -> StoreResult<Vec<Id>>;

    /// Takes `user` out of challenge `id` and its score log entries; `false`
    /// when they were not in it.
    async fn leave(&self, user: Id, id: Id) -> StoreResult<bool>;

    /// Every instance of the score log, for a rebuild: it tolerates a moment's
    /// lag, so a read replica may answer.
    async fn score_instances(&self) -> StoreResult<Vec<ScoreKey>>;

    /// The entries of one instance, read on the primary (a challenge's leave
    /// reloads its board right after its own write).
    async fn scores_of(&self, key: &ScoreKey) -> StoreResult<Vec<ScoreRow>>;

    /// [`scores_of`](Self::scores_of) for a rebuild, which tolerates a moment's
    /// lag: a read replica may answer.
    async fn rebuild_scores_of(&self, key: &ScoreKey) -> StoreResult<Vec<ScoreRow>> {
        self.scores_of(key).await
    }

    /// Erases every piece of `user`'s game, the score log first (in one
    /// transaction).
    async fn erase_user(&self, user: Id) -> StoreResult<Erased>;
}
