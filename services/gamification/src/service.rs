//! [`GamificationService`]: applies what users do to their game and carries
//! the consequences out — the store's transaction first, then the leaderboard
//! store, the `leaderboard.scores_changed` event and the live pushes.
//!
//! The order is the point. A change commits with everything it decides (XP,
//! unlocks, ledger, challenge progress, the score log, the outbox events) in
//! one transaction ([`GamificationStore::apply`]); only then are the new
//! scores submitted to the board store and the unlocks and level-ups pushed on
//! `user:{id}`. The board store is a cache: every entry is submitted as the
//! score log holds it (operator `set`, whatever the board's own), so a write
//! that failed is corrected by the next change of that entry, and
//! [`GamificationService::rebuild`] reloads every instance from the log. Pushes
//! are best effort (a failed one is logged): the unlock itself, its ledger row
//! and its feed event are committed.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use chrono_tz::Tz;
use vigor_common::api::Timestamp;
use vigor_common::bus::outbox::OutboxRelay;
use vigor_common::bus::{Event, EventBus};
use vigor_common::events::{
    AchievementRevoked, AchievementUnlocked, ChallengeCompleted, LevelUp, ScoreChange,
    ScoresChanged, ACHIEVEMENT_REVOKED, ACHIEVEMENT_UNLOCKED, CHALLENGE_COMPLETED, LEVEL_UP,
    SCORES_CHANGED,
};
use vigor_common::live::LivePublisher;
use vigor_common::{Id, IdGenerator};
use vigor_leaderboards::board::Period;
use vigor_leaderboards::{
    BoardDef, BoardStore, BoardWindow, Metric as BoardMetric, Operator, Order, Scope, Score, Seed,
    Seeds, Window,
};

use crate::domain::challenge::ChallengeMetric;
use crate::domain::rules::Rules;
use crate::domain::{level_for, Contribution, PlayerSettings, Totals};
use crate::store::{
    Applied, Change, Erased, GamificationStore, Plan, PlannedCompletion, PlannedRevocation,
    PlannedUnlock, ScoreKey, ScoreRow, ScoreWritten, Snapshot, StoreResult, Unlock,
};

/// The live event of an unlock on `user:{id}`.
pub const LIVE_UNLOCKED: &str = "achievement.unlocked";
/// The live event of an unlock taken back on `user:{id}`.
pub const LIVE_REVOKED: &str = "achievement.revoked";
/// The live event of a level-up on `user:{id}`.
pub const LIVE_LEVEL_UP: &str = "level.up";

/// The gamification service's shared state.
#[derive(Clone)]
pub struct GamificationService {
    /// Storage.
    pub store: Arc<dyn GamificationStore>,
    /// The achievement rules.
    pub rules: Arc<Rules>,
    /// The leaderboard store (shared with the leaderboards service in one process).
    pub boards: Arc<dyn BoardStore>,
    /// Where score changes and live pushes go; `None` (`vigor admin`): nowhere,
    /// the committed changes and outbox events are all there is.
    notify: Option<(Arc<dyn EventBus>, Arc<dyn LivePublisher>)>,
    ids: Arc<IdGenerator>,
    relay: Option<OutboxRelay>,
    default_rest_days: u32,
}

/// What a rebuild of the board store did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// Instances loaded.
    pub instances: u64,
    /// Entries loaded.
    pub entries: u64,
    /// Instances left as they were (already filled, or expired).
    pub skipped: u64,
}

impl GamificationService {
    /// The service over `store` with `rules`, submitting to `boards`.
    pub fn new(
        store: Arc<dyn GamificationStore>,
        rules: Rules,
        boards: Arc<dyn BoardStore>,
        ids: Arc<IdGenerator>,
        default_rest_days: u32,
    ) -> Self {
        GamificationService {
            store,
            rules: Arc::new(rules),
            boards,
            notify: None,
            ids,
            relay: None,
            default_rest_days,
        }
    }

    /// Publishes `leaderboard.scores_changed` on `bus` and pushes unlocks and
    /// level-ups through `live`.
    pub fn with_notifications(
        mut self,
        bus: Arc<dyn EventBus>,
        live: Arc<dyn LivePublisher>,
    ) -> Self {
        self.notify = Some((bus, live));
        self
    }

    /// Wakes `relay` after every committed event.
    pub fn with_relay(mut self, relay: OutboxRelay) -> Self {
        self.relay = Some(relay);
        self
    }

    /// The id generator.
    pub fn ids(&self) -> &IdGenerator {
        &self.ids
    }

    /// `snapshot`'s settings with the defaults filled in.
    pub fn settings_of(&self, snapshot: &Snapshot) -> PlayerSettings {
        PlayerSettings {
            time_zone: snapshot
                .settings
                .time_zone
                .as_deref()
                .and_then(|z| z.parse::<Tz>().ok())
                .unwrap_or(Tz::UTC),
            rest_days: snapshot
                .settings
                .rest_days
                .unwrap_or(self.default_rest_days),
        }
    }

    /// The totals of `snapshot` as of `now`.
    pub fn totals(&self, snapshot: &Snapshot, now: Timestamp) -> Totals {
        self.totals_with(snapshot, &snapshot.contributions, now)
    }

    /// The totals of `snapshot`'s player had they done `contributions`.
    fn totals_with(
        &self,
        snapshot: &Snapshot,
        contributions: &[Contribution],
        now: Timestamp,
    ) -> Totals {
        let settings = self.settings_of(snapshot);
        let today = now.with_timezone(&settings.time_zone).date_naive();
        Totals::of(contributions, snapshot.social, settings, today)
    }

    /// Applies `change` to `user`'s game (once per `processed` event), then
    /// submits the changed scores, announces them and pushes the unlocks and
    /// level-ups; `None` when the event was applied before.
    pub async fn apply(
        &self,
        user: Id,
        processed: Option<(&str, Id)>,
        change: Change,
    ) -> StoreResult<Option<Applied>> {
        let decide = |snapshot: &Snapshot, before: Option<&[Contribution]>| {
            self.plan(snapshot, before, &change, Utc::now())
        };
        let Some(applied) = self.store.apply(user, processed, &change, &decide).await? else {
            return Ok(None);
        };
        if !(applied.unlocked.is_empty()
            && applied.revoked.is_empty()
            && applied.completed.is_empty()
            && applied.events.is_empty())
        {
            if let Some(relay) = &self.relay {
                relay.wake();
            }
        }
        self.submit(user, &applied.scores).await;
        self.push(user, &applied).await;
        Ok(Some(applied))
    }

    /// What follows from the game in `snapshot` (after a change; `before`:
    /// the contributions before a workout change) at `now`.
    ///
    /// An earned tier is taken back when a workout change moved its metric
    /// from at least its threshold to below it (a deleted first workout, a
    /// shortened run): only a workout change does that, and only that change,
    /// so a threshold raised in the rules file later never takes an unlock
    /// away. Social counters never fall, so their achievements stay.
    fn plan(
        &self,
        snapshot: &Snapshot,
        before: Option<&[Contribution]>,
        change: &Change,
        now: Timestamp,
    ) -> Plan {
        let user = snapshot.user_id;
        let totals = self.totals(snapshot, now);
        let level = level_for(totals.xp);
        let mut plan = Plan {
            xp: totals.xp,
            level,
            best_level: snapshot.best_level.max(level),
            at: now,
            ..Plan::default()
        };
        if level > snapshot.best_level {
            let data = LevelUp {
                user_id: user,
                level,
                xp: totals.xp,
                at: now,
            };
            plan.events.push(LEVEL_UP.event(&self.ids, &data));
        }
        if let Some(before) = before {
            let then = self.totals_with(snapshot, before, now);
            plan.revocations = self.revocations(snapshot, &then, &totals, now);
        }
        let earned: HashSet<(&str, u32)> = snapshot
            .unlocks
            .iter()
            .map(|u| (u.achievement.as_str(), u.tier))
            .collect();
        for a in &self.rules.achievements {
            let value = totals.get(a.metric);
            for t in a.tiers.iter().filter(|t| value >= t.threshold) {
                if earned.contains(&(a.key.as_str(), t.tier)) {
                    continue;
                }
                let data = AchievementUnlocked {
                    user_id: user,
                    achievement: a.key.clone(),
                    name: a.name.clone(),
                    tier: t.tier,
                    points: t.points,
                    unlocked_at: now,
                };
                plan.unlocks.push(PlannedUnlock {
                    unlock: Unlock {
                        achievement: a.key.clone(),
                        tier: t.tier,
                        points: t.points,
                        unlocked_at: now,
                    },
                    ledger_id: self.ids.next_id(),
                    badge: t.badge.clone(),
                    event: ACHIEVEMENT_UNLOCKED.event(&self.ids, &data),
                });
            }
        }
        let joined = match change {
            Change::Join(id) => Some(*id),
            _ => None,
        };
        for p in &snapshot.challenges {
            let c = &p.challenge;
            let progress = c.progress(&snapshot.contributions);
            plan.progress.push((c.id, progress));
            if progress >= c.goal && p.completed_at.is_none() {
                let data = ChallengeCompleted {
                    user_id: user,
                    challenge_id: c.id,
                    name: c.name.clone(),
                    community_id: c.community_id,
                    completed_at: now,
                };
                plan.completions.push(PlannedCompletion {
                    challenge_id: c.id,
                    points: c.points,
                    ledger_id: self.ids.next_id(),
                    at: now,
                    event: CHALLENGE_COMPLETED.event(&self.ids, &data),
                });
            }
            if progress != p.progress || joined == Some(c.id) {
                let def = challenge_board(c.metric);
                if let Ok(w) = def.window_at(Window::AllTime, Scope::Challenge(c.id), c.starts_at) {
                    plan.scores
                        .push((score_key(&w, c.starts_at), Some(progress)));
                }
            }
        }
        let touched: Vec<Timestamp> = match change {
            Change::Workout { upsert, remove, .. } => {
                let id = upsert.as_ref().map(|c| c.workout_id).or(*remove);
                let previous = before
                    .unwrap_or_default()
                    .iter()
                    .find(|c| Some(c.workout_id) == id);
                previous
                    .map(|c| c.started_at)
                    .into_iter()
                    .chain(upsert.as_ref().map(|c| c.started_at))
                    .collect()
            }
            // The backfill writes every entry the workouts make, so boards
            // added later get the workouts logged before them.
            Change::Judge => snapshot
                .contributions
                .iter()
                .map(|c| c.started_at)
                .collect(),
            _ => Vec::new(),
        };
        plan.scores
            .extend(global_scores(&snapshot.contributions, &touched));
        plan
    }

    /// The earned tiers of `snapshot` whose metric fell from at least their
    /// threshold (`then`) to below it (`now_totals`).
    fn revocations(
        &self,
        snapshot: &Snapshot,
        then: &Totals,
        now_totals: &Totals,
        now: Timestamp,
    ) -> Vec<PlannedRevocation> {
        let mut out = Vec::new();
        for u in &snapshot.unlocks {
            let Some(a) = self.rules.get(&u.achievement) else {
                continue;
            };
            let Some(t) = a.tiers.iter().find(|t| t.tier == u.tier) else {
                continue;
            };
            if then.get(a.metric) < t.threshold || now_totals.get(a.metric) >= t.threshold {
                continue;
            }
            let data = AchievementRevoked {
                user_id: snapshot.user_id,
                achievement: a.key.clone(),
                name: a.name.clone(),
                tier: u.tier,
                points: u.points,
                revoked_at: now,
            };
            out.push(PlannedRevocation {
                achievement: a.key.clone(),
                tier: u.tier,
                points: u.points,
                ledger_id: self.ids.next_id(),
                at: now,
                event: ACHIEVEMENT_REVOKED.event(&self.ids, &data),
            });
        }
        out
    }

    /// Submits the changed score log entries to the board store (as the log
    /// holds them) and announces those whose entry changed.
    async fn submit(&self, user: Id, scores: &[ScoreWritten]) {
        let mut changes = Vec::new();
        for s in scores {
            let Some(mut window) = board_window(&s.key) else {
                tracing::warn!(board = %s.key.board, "a score of an unknown board");
                continue;
            };
            window.operator = Operator::Set;
            let written = match s.new {
                Some(new) => {
                    let score = match Score::new(new) {
                        Ok(score) => score,
                        Err(e) => {
                            tracing::warn!(%user, error = %e, "a score out of the board's range");
                            continue;
                        }
                    };
                    self.boards
                        .submit(&window, user, score, s.at)
                        .await
                        .map(|sub| sub.changed.then_some((sub.old, Some(sub.new))))
                }
                // No entry any more: a deleted workout took the last of it.
                None => self
                    .boards
                    .remove(&window, user)
                    .await
                    .map(|old| old.map(|old| (Some(old), None))),
            };
            match written {
                Ok(Some((old, new))) => changes.push(ScoreChange {
                    board: s.key.board.clone(),
                    window: s.key.window.clone(),
                    scope: s.key.scope.clone(),
                    period: s.key.period.clone(),
                    old,
                    new,
                    at: s.at,
                }),
                Ok(None) => {}
                // The score log holds it: the next change or a rebuild restores it.
                Err(e) => {
                    tracing::warn!(%user, instance = %window.name(), error = %e, "board store write failed")
                }
            }
        }
        let Some((bus, _)) = &self.notify else { return };
        if changes.is_empty() {
            return;
        }
        let event = SCORES_CHANGED.event(
            &self.ids,
            &ScoresChanged {
                user_id: user,
                changes,
            },
        );
        if let Err(e) = bus.publish(&event).await {
            tracing::warn!(%user, error = %e, "scores_changed not published");
        }
    }

    /// Pushes the revocations, unlocks and level-ups of `applied` on
    /// `user:{id}`, once per event id.
    async fn push(&self, user: Id, applied: &Applied) {
        let Some((_, live)) = &self.notify else {
            return;
        };
        let channel = format!("user:{user}");
        let level_ups = applied.events.iter().filter(|e| LEVEL_UP.is(e));
        let pushes = applied
            .revoked
            .iter()
            .map(|e| (LIVE_REVOKED, e))
            .chain(applied.unlocked.iter().map(|e| (LIVE_UNLOCKED, e)))
            .chain(level_ups.map(|e| (LIVE_LEVEL_UP, e)));
        for (name, event) in pushes {
            if let Err(e) = live
                .publish_once(&channel, name, &event.data, &event.id.to_string())
                .await
            {
                tracing::warn!(%user, event = name, error = %e, "live push failed");
            }
        }
    }

    /// Reloads the board store from the score log: every instance, or with
    /// `only_empty` only those the store holds no entry of (a new or flushed
    /// store; what the start does). Instances whose period ended more than
    /// `grace` ago are left out: the store would expire them at once.
    pub async fn rebuild(
        &self,
        only_empty: bool,
        grace: std::time::Duration,
    ) -> anyhow::Result<Rebuilt> {
        let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
        let mut report = Rebuilt::default();
        let now = Utc::now();
        for key in self.store.score_instances().await? {
            let Some(window) = board_window(&key) else {
                report.skipped += 1;
                continue;
            };
            let expired = window.expires_at(grace).is_some_and(|end| end <= now);
            if expired || (only_empty && self.boards.count(&window).await? > 0) {
                report.skipped += 1;
                continue;
            }
            let rows = self.store.rebuild_scores_of(&key).await?;
            report.entries += self.reload(rows, &window).await?;
            report.instances += 1;
        }
        Ok(report)
    }

    /// Judges every player against the rules again (rules added since apply to
    /// those who already qualify); how many unlocks that made.
    pub async fn backfill(&self) -> StoreResult<usize> {
        let mut unlocked = 0;
        for user in self.store.players().await? {
            if let Some(applied) = self.apply(user, None, Change::Judge).await? {
                unlocked += applied.unlocked.len();
            }
        }
        Ok(unlocked)
    }

    /// Erases `user`'s game: the score log and everything else in one
    /// transaction, then their board entries. Applying it again changes
    /// nothing, so a failed board removal is retried with the event.
    pub async fn erase_user(&self, user: Id) -> anyhow::Result<(Erased, u64)> {
        let erased = self.store.erase_user(user).await?;
        let removed = self.boards.remove_user(user).await?;
        Ok((erased, removed))
    }

    /// Takes `user` out of challenge `id`: the participation and its score log
    /// entry go, and the challenge board is reloaded from the log without them
    /// (the board store removes entries only by reloading an instance).
    pub async fn leave(
        &self,
        user: Id,
        id: Id,
        metric: ChallengeMetric,
        starts_at: Timestamp,
    ) -> anyhow::Result<bool> {
        if !self.store.leave(user, id).await? {
            return Ok(false);
        }
        let def = challenge_board(metric);
        let window = def.window_at(Window::AllTime, Scope::Challenge(id), starts_at)?;
        let rows = self.store.scores_of(&score_key(&window, starts_at)).await?;
        self.reload(rows, &window).await?;
        Ok(true)
    }

    /// Replaces the board store's instance `window` with `rows`, the score
    /// log's entries of it; how many.
    async fn reload(&self, rows: Vec<ScoreRow>, window: &BoardWindow) -> anyhow::Result<u64> {
        let seeds = rows
            .iter()
            .map(|r| {
                Ok(Seed {
                    user: r.user_id,
                    score: Score::new(r.score)?,
                    achieved_at: r.achieved_at,
                })
            })
            .collect::<Result<Vec<_>, vigor_leaderboards::StoreError>>()?;
        let entries = seeds.len() as u64;
        self.boards.load(window, Seeds::new(seeds)?).await?;
        Ok(entries)
    }
}

/// The board of challenges counting `metric`.
pub fn challenge_board(metric: ChallengeMetric) -> BoardDef {
    BoardDef::challenge(match metric {
        ChallengeMetric::DistanceM => BoardMetric::Distance,
        ChallengeMetric::Workouts => BoardMetric::Workouts,
        ChallengeMetric::Xp => BoardMetric::Xp,
    })
}

/// The score log key of `window`, remade from `period_at`.
fn score_key(window: &BoardWindow, period_at: Timestamp) -> ScoreKey {
    ScoreKey {
        board: window.board.to_string(),
        scope: window.scope.to_string(),
        period: window.period.label.clone(),
        window: window.window.as_str().to_owned(),
        period_at,
    }
}

/// The board instance a score log key names, if its board is known.
pub fn board_window(key: &ScoreKey) -> Option<BoardWindow> {
    let def = BoardDef::known(&key.board)?;
    let window: Window = key.window.parse().ok()?;
    let scope: Scope = key.scope.parse().ok()?;
    let w = def.window_at(window, scope, key.period_at).ok()?;
    (w.period.label == key.period).then_some(w)
}

/// A built-in board's score of one contribution, if it counts there.
fn metric_of(def: &BoardDef, c: &Contribution) -> Option<i64> {
    match def.metric {
        BoardMetric::Xp => Some(c.xp),
        BoardMetric::Distance => Some(c.distance_m),
        BoardMetric::Workouts => Some(1),
        // The one built-in board of durations is `fastest_5k`.
        BoardMetric::Duration => c.five_k_s(),
    }
}

/// A built-in board's entry for `contributions` (those of one period): the
/// sum on `incr` boards, none when it is 0 (no workout there, or none that
/// counts); the best on `best` boards, none without a workout that counts.
fn entry_of<'a>(
    def: &BoardDef,
    contributions: impl Iterator<Item = &'a Contribution>,
) -> Option<i64> {
    let values = contributions.filter_map(|c| metric_of(def, c));
    match (def.operator, def.order) {
        (Operator::Best, Order::Ascending) => values.min(),
        (Operator::Best, Order::Descending) => values.max(),
        (Operator::Incr | Operator::Set, _) => Some(values.sum::<i64>()).filter(|&sum| sum != 0),
    }
}

/// The user's entries, as they are now, in every instance of the built-in
/// boards that holds one of the `touched` instants ([`entry_of`] the
/// contributions whose start falls in the instance's period; `None`: no entry).
fn global_scores(
    contributions: &[Contribution],
    touched: &[Timestamp],
) -> Vec<(ScoreKey, Option<i64>)> {
    let mut out: Vec<(ScoreKey, Option<i64>)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for def in BoardDef::builtins() {
        for &instant in touched {
            let Ok(windows) = def.windows_at(Scope::Global, instant) else {
                continue;
            };
            for w in windows {
                if !seen.insert(w.name()) {
                    continue;
                }
                let key = score_key(&w, instant);
                let in_period = |c: &&Contribution| {
                    w.window
                        .period_at(c.started_at, def.time_zone)
                        .is_ok_and(|p: Period| p.label == w.period.label)
                };
                out.push((key, entry_of(&def, contributions.iter().filter(in_period))));
            }
        }
    }
    out
}

/// Decodes one of the service's own events (for pushes and tests).
pub fn unlocked_of(event: &Event) -> Option<AchievementUnlocked> {
    ACHIEVEMENT_UNLOCKED.decode(event).ok()
}
