//! [`SqlStore`]: the gamification store on SQLite or PostgreSQL, each
//! statement written once with `$n` parameters and run through
//! `vigor_common::db`'s `on_pool!` / `in_tx!` / `in_owner_tx!`. Rows are read as
//! tuples and turned into the domain by the plain functions at the bottom, the
//! same for both backends. Instants are stored as Unix milliseconds.

use async_trait::async_trait;
use chrono::DateTime;
use vigor_common::api::Timestamp;
use vigor_common::db::{Database, TxEvents};
use vigor_common::db_replica::Reads;
use vigor_common::Id;
use vigor_common::{in_owner_tx, on_pool};

use super::{
    Applied, Change, Decide, Erased, GamificationStore, LedgerEntry, Participation, SavedSettings,
    ScoreKey, ScoreRow, ScoreWritten, Snapshot, SocialAct, StoreError, StoreResult, Unlock,
};
use crate::domain::challenge::{Challenge, ChallengeMetric};
use crate::domain::{Contribution, SocialCounts};

/// The store on a migrated gamification database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
    reads: Reads,
}

impl SqlStore {
    /// The store on `db` (with its read replica, when `db` is a [`Reads`] that
    /// has one: the rebuild's reads of the score log go to it).
    pub fn new(db: impl Into<Reads>) -> Self {
        let reads = db.into();
        SqlStore {
            db: reads.primary().clone(),
            reads,
        }
    }
}

fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

fn at(ms: i64) -> StoreResult<Timestamp> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("instant {ms}")))
}

type ContributionRow = (Id, Id, String, i64, i64, i64, i64, i64, i64);
const CONTRIBUTION_COLUMNS: &str =
    "workout_id, user_id, sport, started_at, xp, distance_m, duration_s, volume_kg, records";

fn contribution(r: ContributionRow) -> StoreResult<Contribution> {
    Ok(Contribution {
        workout_id: r.0,
        user_id: r.1,
        sport: r.2,
        started_at: at(r.3)?,
        xp: r.4,
        distance_m: r.5,
        duration_s: r.6,
        volume_kg: r.7,
        records: r.8,
    })
}

type ChallengeRow = (
    Id,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<Id>,
    i64,
    Id,
    i64,
);
const CHALLENGE_COLUMNS: &str = "c.id, c.name, c.description, c.metric, c.goal, c.starts_at, c.ends_at, c.community_id, c.points, c.created_by, c.created_at";

fn challenge(r: ChallengeRow) -> StoreResult<Challenge> {
    Ok(Challenge {
        id: r.0,
        name: r.1,
        description: r.2,
        metric: ChallengeMetric::parse(&r.3)
            .ok_or_else(|| StoreError::Corrupt(format!("challenge metric {:?}", r.3)))?,
        goal: r.4,
        starts_at: at(r.5)?,
        ends_at: at(r.6)?,
        community_id: r.7,
        points: r.8,
        created_by: r.9,
        created_at: at(r.10)?,
    })
}

type StateRow = (
    Option<String>,
    Option<i64>,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

fn level(v: i64) -> u32 {
    u32::try_from(v.max(1)).unwrap_or(u32::MAX)
}

/// Reads a user's [`Snapshot`] on the executor `$conn` (a pool or `&mut *tx`).
macro_rules! read_snapshot {
    ($conn:expr, $user:expr) => {{
        let user: Id = $user;
        let state: Option<StateRow> = sqlx::query_as(
            "SELECT time_zone, rest_days, xp, level, best_level, kudos_received, kudos_given, \
             comments_written, communities_joined FROM player_state WHERE user_id = $1",
        )
        .bind(user)
        .fetch_optional($conn)
        .await?;
        let rows: Vec<ContributionRow> = sqlx::query_as(&format!(
            "SELECT {CONTRIBUTION_COLUMNS} FROM contributions WHERE user_id = $1 \
             ORDER BY started_at, workout_id"
        ))
        .bind(user)
        .fetch_all($conn)
        .await?;
        let unlocks: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT achievement, tier, points, unlocked_at FROM unlocks WHERE user_id = $1 \
             ORDER BY unlocked_at, achievement, tier",
        )
        .bind(user)
        .fetch_all($conn)
        .await?;
        let joined: Vec<(Id, i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT challenge_id, joined_at, progress, completed_at FROM challenge_participants \
             WHERE user_id = $1 ORDER BY challenge_id",
        )
        .bind(user)
        .fetch_all($conn)
        .await?;
        let joined_challenges: Vec<ChallengeRow> = sqlx::query_as(&format!(
            "SELECT {CHALLENGE_COLUMNS} FROM challenges c \
             JOIN challenge_participants p ON p.challenge_id = c.id WHERE p.user_id = $1"
        ))
        .bind(user)
        .fetch_all($conn)
        .await?;
        let mut snapshot = Snapshot::empty(user);
        if let Some(s) = state {
            snapshot.settings = SavedSettings {
                time_zone: s.0,
                rest_days: s.1.and_then(|d| u32::try_from(d).ok()),
            };
            snapshot.xp = s.2;
            snapshot.level = level(s.3);
            snapshot.best_level = level(s.4);
            snapshot.social = SocialCounts {
                kudos_received: s.5,
                kudos_given: s.6,
                comments_written: s.7,
                communities_joined: s.8,
            };
        }
        snapshot.contributions = rows
            .into_iter()
            .map(contribution)
            .collect::<StoreResult<_>>()?;
        snapshot.unlocks = unlocks
            .into_iter()
            .map(|(achievement, tier, points, unlocked_at)| {
                Ok(Unlock {
                    achievement,
                    tier: u32::try_from(tier)
                        .map_err(|_| StoreError::Corrupt(format!("tier {tier}")))?,
                    points,
                    unlocked_at: at(unlocked_at)?,
                })
            })
            .collect::<StoreResult<_>>()?;
        let mut by_id = std::collections::HashMap::new();
        for row in joined_challenges {
            let c = challenge(row)?;
            by_id.insert(c.id, c);
        }
        // Read outside a transaction, a challenge joined between the two reads
        // is left out until the next read.
        snapshot.challenges = joined
            .into_iter()
            .filter_map(|(id, joined_at, progress, completed_at)| {
                let challenge = by_id.remove(&id)?;
                Some(at(joined_at).and_then(|joined_at| {
                    Ok(Participation {
                        challenge,
                        joined_at,
                        progress,
                        completed_at: completed_at.map(at).transpose()?,
                    })
                }))
            })
            .collect::<StoreResult<_>>()?;
        snapshot
    }};
}

/// Inserts a ledger row on `$conn`.
macro_rules! insert_ledger {
    ($conn:expr, $id:expr, $user:expr, $kind:expr, $source:expr, $points:expr, $badge:expr, $at:expr) => {
        sqlx::query(
            "INSERT INTO ledger (id, user_id, kind, source, points, badge, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($id)
        .bind($user)
        .bind($kind)
        .bind($source)
        .bind($points)
        .bind($badge)
        .bind(ms($at))
        .execute($conn)
        .await?
    };
}

#[async_trait]
impl GamificationStore for SqlStore {
    async fn apply(
        &self,
        user: Id,
        processed: Option<(&str, Id)>,
        change: &Change,
        decide: Decide<'_>,
    ) -> StoreResult<Option<Applied>> {
        in_owner_tx!(&self.db, user, tx => {
            if let Some((group, event)) = processed {
                if !tx.mark_processed(group, event).await? {
                    return Ok(None);
                }
            }
            let erased: Option<i64> =
                sqlx::query_scalar("SELECT user_id FROM erased_users WHERE user_id = $1")
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
            if erased.is_some() {
                return Ok(None);
            }
            let now = ms(chrono::Utc::now());
            sqlx::query(
                "INSERT INTO player_state (user_id, updated_at) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(user)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let mut before = None;
            match change {
                Change::Workout { upsert, remove, records_moved } => {
                    let rows: Vec<ContributionRow> = sqlx::query_as(&format!(
                        "SELECT {CONTRIBUTION_COLUMNS} FROM contributions WHERE user_id = $1 \
                         ORDER BY started_at, workout_id"
                    ))
                    .bind(user)
                    .fetch_all(&mut *tx)
                    .await?;
                    before = Some(
                        rows.into_iter()
                            .map(contribution)
                            .collect::<StoreResult<Vec<_>>>()?,
                    );
                    if let Some(c) = upsert {
                        sqlx::query(&format!(
                            "INSERT INTO contributions ({CONTRIBUTION_COLUMNS}) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                             ON CONFLICT (workout_id) DO UPDATE SET sport = excluded.sport, \
                             started_at = excluded.started_at, xp = excluded.xp, \
                             distance_m = excluded.distance_m, duration_s = excluded.duration_s, \
                             volume_kg = excluded.volume_kg, records = excluded.records \
                             WHERE contributions.user_id = excluded.user_id"
                        ))
                        .bind(c.workout_id)
                        .bind(user)
                        .bind(&c.sport)
                        .bind(ms(c.started_at))
                        .bind(c.xp)
                        .bind(c.distance_m)
                        .bind(c.duration_s)
                        .bind(c.volume_kg)
                        .bind(c.records)
                        .execute(&mut *tx)
                        .await?;
                    }
                    if let Some(id) = remove {
                        sqlx::query("DELETE FROM contributions WHERE workout_id = $1 AND user_id = $2")
                            .bind(*id)
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                    }
                    for (id, records) in records_moved {
                        sqlx::query("UPDATE contributions SET records = $1 WHERE workout_id = $2 AND user_id = $3")
                            .bind(*records)
                            .bind(*id)
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Change::Social(act) => {
                    let column = match act {
                        SocialAct::KudosReceived => Some("kudos_received"),
                        SocialAct::KudosGiven => Some("kudos_given"),
                        SocialAct::Commented => Some("comments_written"),
                        SocialAct::Joined(community) => {
                            let added = sqlx::query(
                                "INSERT INTO memberships (community_id, user_id) VALUES ($1, $2) \
                                 ON CONFLICT (community_id, user_id) DO NOTHING",
                            )
                            .bind(*community)
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                            (added.rows_affected() == 1).then_some("communities_joined")
                        }
                        SocialAct::Left(community) => {
                            sqlx::query(
                                "DELETE FROM memberships WHERE community_id = $1 AND user_id = $2",
                            )
                            .bind(*community)
                            .bind(user)
                            .execute(&mut *tx)
                            .await?;
                            None
                        }
                    };
                    if let Some(column) = column {
                        sqlx::query(&format!(
                            "UPDATE player_state SET {column} = {column} + 1 WHERE user_id = $1"
                        ))
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                Change::Settings(s) => {
                    sqlx::query("UPDATE player_state SET time_zone = $1, rest_days = $2 WHERE user_id = $3")
                        .bind(s.time_zone.as_deref())
                        .bind(s.rest_days.map(i64::from))
                        .bind(user)
                        .execute(&mut *tx)
                        .await?;
                }
                Change::Join(challenge) => {
                    sqlx::query(
                        "INSERT INTO challenge_participants (challenge_id, user_id, joined_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (challenge_id, user_id) DO NOTHING",
                    )
                    .bind(*challenge)
                    .bind(user)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Change::Judge => {}
            }
            let snapshot = read_snapshot!(&mut *tx, user);
            let plan = decide(&snapshot, before.as_deref());
            sqlx::query(
                "UPDATE player_state SET xp = $1, level = $2, best_level = $3, updated_at = $4 \
                 WHERE user_id = $5",
            )
            .bind(plan.xp)
            .bind(i64::from(plan.level))
            .bind(i64::from(plan.best_level))
            .bind(ms(plan.at))
            .bind(user)
            .execute(&mut *tx)
            .await?;
            let mut applied = Applied::default();
            for r in &plan.revocations {
                let deleted = sqlx::query(
                    "DELETE FROM unlocks WHERE user_id = $1 AND achievement = $2 AND tier = $3",
                )
                .bind(user)
                .bind(&r.achievement)
                .bind(i64::from(r.tier))
                .execute(&mut *tx)
                .await?;
                if deleted.rows_affected() == 1 {
                    let source = format!("{}:{}", r.achievement, r.tier);
                    insert_ledger!(&mut *tx, r.ledger_id, user, "revocation", source, -r.points, None::<&str>, r.at);
                    tx.enqueue(&r.event).await?;
                    applied.revoked.push(r.event.clone());
                }
            }
            for u in &plan.unlocks {
                let inserted = sqlx::query(
                    "INSERT INTO unlocks (user_id, achievement, tier, points, unlocked_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (user_id, achievement, tier) DO NOTHING",
                )
                .bind(user)
                .bind(&u.unlock.achievement)
                .bind(i64::from(u.unlock.tier))
                .bind(u.unlock.points)
                .bind(ms(u.unlock.unlocked_at))
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 1 {
                    let source = format!("{}:{}", u.unlock.achievement, u.unlock.tier);
                    insert_ledger!(&mut *tx, u.ledger_id, user, "achievement", source, u.unlock.points, u.badge.as_deref(), u.unlock.unlocked_at);
                    tx.enqueue(&u.event).await?;
                    applied.unlocked.push(u.event.clone());
                }
            }
            for (challenge, progress) in &plan.progress {
                sqlx::query("UPDATE challenge_participants SET progress = $1 WHERE challenge_id = $2 AND user_id = $3")
                    .bind(*progress)
                    .bind(*challenge)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
            }
            for c in &plan.completions {
                let done = sqlx::query(
                    "UPDATE challenge_participants SET completed_at = $1 \
                     WHERE challenge_id = $2 AND user_id = $3 AND completed_at IS NULL",
                )
                .bind(ms(c.at))
                .bind(c.challenge_id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    insert_ledger!(&mut *tx, c.ledger_id, user, "challenge", c.challenge_id.to_string(), c.points, None::<&str>, c.at);
                    tx.enqueue(&c.event).await?;
                    applied.completed.push(c.event.clone());
                }
            }
            for (key, score) in &plan.scores {
                let old: Option<(i64,)> = sqlx::query_as(
                    "SELECT score FROM scores WHERE board = $1 AND scope = $2 AND period = $3 AND user_id = $4",
                )
                .bind(&key.board)
                .bind(&key.scope)
                .bind(&key.period)
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
                let old = old.map(|o| o.0);
                if old == *score {
                    continue;
                }
                let Some(score) = score else {
                    sqlx::query(
                        "DELETE FROM scores WHERE board = $1 AND scope = $2 AND period = $3 AND user_id = $4",
                    )
                    .bind(&key.board)
                    .bind(&key.scope)
                    .bind(&key.period)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                    applied.scores.push(ScoreWritten {
                        key: key.clone(),
                        old,
                        new: None,
                        at: plan.at,
                    });
                    continue;
                };
                sqlx::query(
                    "INSERT INTO scores (board, scope, period, user_id, win, period_at, score, achieved_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (board, scope, period, user_id) DO UPDATE SET \
                     score = excluded.score, achieved_at = excluded.achieved_at",
                )
                .bind(&key.board)
                .bind(&key.scope)
                .bind(&key.period)
                .bind(user)
                .bind(&key.window)
                .bind(ms(key.period_at))
                .bind(*score)
                .bind(ms(plan.at))
                .execute(&mut *tx)
                .await?;
                applied.scores.push(ScoreWritten {
                    key: key.clone(),
                    old,
                    new: Some(*score),
                    at: plan.at,
                });
            }
            tx.enqueue_all(&plan.events).await?;
            applied.events = plan.events.clone();
            Ok(Some(applied))
        })
    }

    async fn snapshot(&self, user: Id) -> StoreResult<Snapshot> {
        Ok(on_pool!(&self.db, pool => read_snapshot!(pool, user)))
    }

    async fn ledger(
        &self,
        user: Id,
        before: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<LedgerEntry>> {
        let rows: Vec<(Id, String, String, i64, Option<String>, i64)> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT id, kind, source, points, badge, at FROM ledger \
                 WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
            )
            .bind(user)
            .bind(before.map_or(i64::MAX, Id::as_i64))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(LedgerEntry {
                    id: r.0,
                    kind: r.1,
                    source: r.2,
                    points: r.3,
                    badge: r.4,
                    at: at(r.5)?,
                })
            })
            .collect()
    }

    async fn players(&self) -> StoreResult<Vec<Id>> {
        let rows: Vec<(Id,)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT user_id FROM player_state ORDER BY user_id")
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn insert_challenge(&self, c: &Challenge) -> StoreResult<()> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO challenges (id, name, description, metric, goal, starts_at, ends_at, \
                 community_id, points, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(c.id)
            .bind(&c.name)
            .bind(&c.description)
            .bind(c.metric.as_str())
            .bind(c.goal)
            .bind(ms(c.starts_at))
            .bind(ms(c.ends_at))
            .bind(c.community_id)
            .bind(c.points)
            .bind(c.created_by)
            .bind(ms(c.created_at))
            .execute(pool)
            .await
            .map(drop)?
        });
        Ok(())
    }

    async fn challenge(&self, id: Id) -> StoreResult<Option<Challenge>> {
        let row: Option<ChallengeRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!("SELECT {CHALLENGE_COLUMNS} FROM challenges c WHERE c.id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(challenge).transpose()
    }

    async fn open_challenges(
        &self,
        now: Timestamp,
        communities: &[Id],
        before: Option<Id>,
        limit: u32,
    ) -> StoreResult<Vec<Challenge>> {
        // Community ids are 64-bit integers: written into the statement as
        // numbers, they cannot inject anything.
        let mine: Vec<String> = communities.iter().map(|c| c.as_i64().to_string()).collect();
        let scope = if mine.is_empty() {
            "c.community_id IS NULL".to_owned()
        } else {
            format!(
                "(c.community_id IS NULL OR c.community_id IN ({}))",
                mine.join(", ")
            )
        };
        let rows: Vec<ChallengeRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(&format!(
                "SELECT {CHALLENGE_COLUMNS} FROM challenges c \
                 WHERE c.ends_at > $1 AND c.id < $2 AND {scope} ORDER BY c.id DESC LIMIT $3"
            ))
            .bind(ms(now))
            .bind(before.map_or(i64::MAX, Id::as_i64))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(challenge).collect()
    }

    async fn communities_of(&self, user: Id) -> StoreResult<Vec<Id>> {
        let rows: Vec<(Id,)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT community_id FROM memberships WHERE user_id = $1 ORDER BY community_id")
                .bind(user)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn leave(&self, user: Id, id: Id) -> StoreResult<bool> {
        in_owner_tx!(&self.db, user, tx => {
            let left = sqlx::query("DELETE FROM challenge_participants WHERE challenge_id = $1 AND user_id = $2")
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM scores WHERE scope = $1 AND user_id = $2")
                .bind(format!("challenge:{id}"))
                .bind(user)
                .execute(&mut *tx)
                .await?;
            Ok(left.rows_affected() == 1)
        })
    }

    async fn score_instances(&self) -> StoreResult<Vec<ScoreKey>> {
        self.reads
            .lagging(|db| async move { score_instances(&db).await })
            .await
    }

    async fn scores_of(&self, key: &ScoreKey) -> StoreResult<Vec<ScoreRow>> {
        scores_of(&self.db, key).await
    }

    async fn rebuild_scores_of(&self, key: &ScoreKey) -> StoreResult<Vec<ScoreRow>> {
        self.reads
            .lagging(|db| async move { scores_of(&db, key).await })
            .await
    }

    async fn erase_user(&self, user: Id) -> StoreResult<Erased> {
        // The score log first: nothing is submitted for the user once it is gone.
        const ERASE: [&str; 8] = [
            "DELETE FROM scores WHERE user_id = $1",
            "DELETE FROM contributions WHERE user_id = $1",
            "DELETE FROM unlocks WHERE user_id = $1",
            "DELETE FROM ledger WHERE user_id = $1",
            "DELETE FROM challenge_participants WHERE user_id = $1",
            "DELETE FROM memberships WHERE user_id = $1",
            "DELETE FROM player_state WHERE user_id = $1",
            // Last: from now on, no event of the user starts a game again.
            "INSERT INTO erased_users (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING",
        ];
        // Under the user's lock, like every change of theirs: no event of the
        // user is half applied around the erasure.
        in_owner_tx!(&self.db, user, tx => {
            let mut counts = [0u64; ERASE.len()];
            for (sql, count) in ERASE.iter().zip(&mut counts) {
                *count = sqlx::query(sql).bind(user).execute(&mut *tx).await?.rows_affected();
            }
            let erased = Erased {
                scores: counts[0],
                contributions: counts[1],
                unlocks: counts[2],
                ledger: counts[3],
            };
            Ok(erased)
        })
    }
}

/// Every instance of the score log, on `db` (the primary or a replica).
async fn score_instances(db: &Database) -> StoreResult<Vec<ScoreKey>> {
    let rows: Vec<(String, String, String, String, i64)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT board, scope, period, MIN(win), MIN(period_at) FROM scores \
             GROUP BY board, scope, period ORDER BY board, scope, period",
        )
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|r| {
            Ok(ScoreKey {
                board: r.0,
                scope: r.1,
                period: r.2,
                window: r.3,
                period_at: at(r.4)?,
            })
        })
        .collect()
}

/// The score log's entries of one instance, on `db` (the primary or a replica).
async fn scores_of(db: &Database, key: &ScoreKey) -> StoreResult<Vec<ScoreRow>> {
    let rows: Vec<(Id, i64, i64)> = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT user_id, score, achieved_at FROM scores \
             WHERE board = $1 AND scope = $2 AND period = $3 ORDER BY user_id",
        )
        .bind(&key.board)
        .bind(&key.scope)
        .bind(&key.period)
        .fetch_all(pool)
        .await?
    });
    rows.into_iter()
        .map(|r| {
            Ok(ScoreRow {
                user_id: r.0,
                score: r.1,
                achieved_at: at(r.2)?,
            })
        })
        .collect()
}
